//! Delta Lake tables (Databricks, `delta-rs`, Spark's `format("delta")`): a
//! folder of Parquet files and a transaction log, `_delta_log/`, that says
//! which of them make the table now. An overwrite, a delete or an update
//! writes new files and *removes* old ones in the log only — the old files
//! stay in the folder for time travel — so reading every Parquet file of
//! the folder reads rows the table no longer holds, several times over.
//!
//! The log is replayed as the protocol says: the latest complete checkpoint
//! (`NNN.checkpoint.parquet`, or its parts), then each commit after it
//! (`NNN.json`, one action per line) in order — `add` puts a file in the
//! table, `remove` takes it out. The table's current version is read.
//! Refused with an error that says why: rows deleted inside a file
//! (deletion vectors), column mapping (the files' column names are not the
//! table's), files outside the folder, and a log with gaps.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use super::IngestError;

/// The folder of a table's log.
const LOG: &str = "_delta_log";

fn delta_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "Delta Lake",
        message: message.into(),
    }
}

/// A log file: a commit (`NNN.json`) or a checkpoint part
/// (`NNN.checkpoint.parquet`, `NNN.checkpoint.I.N.parquet`).
enum Entry {
    Commit(u64),
    Checkpoint { version: u64, part: u64, parts: u64 },
}

fn entry(name: &str) -> Option<Entry> {
    let (version, rest) = name.split_once('.')?;
    if version.len() != 20 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let version = version.parse().ok()?;
    match rest.split('.').collect::<Vec<_>>()[..] {
        ["json"] => Some(Entry::Commit(version)),
        ["checkpoint", "parquet"] => Some(Entry::Checkpoint {
            version,
            part: 1,
            parts: 1,
        }),
        ["checkpoint", part, parts, "parquet"] => Some(Entry::Checkpoint {
            version,
            part: part.parse().ok()?,
            parts: parts.parse().ok()?,
        }),
        // a V2 checkpoint (`NNN.checkpoint.UUID.json`) is not used: the
        // commits after the last classic one, or all of them, are replayed
        _ => None,
    }
}

/// The table's files now, as a replay of the log changes them.
#[derive(Default)]
struct Table {
    files: BTreeSet<String>,
}

impl Table {
    /// Applies one `add` or `remove` action; `what` names it for errors.
    fn apply(
        &mut self,
        dir: &Path,
        what: &str,
        action: &serde_json::Value,
    ) -> Result<(), IngestError> {
        if let Some(add) = action.get("add") {
            let path = add
                .get("path")
                .and_then(|p| p.as_str())
                .ok_or_else(|| delta_error(dir, format!("{what}: an `add` without its path")))?;
            if add.get("deletionVector").is_some_and(|d| !d.is_null()) {
                return Err(delta_error(
                    dir,
                    format!(
                        "{what}: rows of `{path}` are deleted by a deletion vector, which \
                         poisonscan does not apply; write the table out without them first \
                         (e.g. DeltaTable(PATH).to_pandas().to_parquet(\"data.parquet\"), or \
                         REORG TABLE … APPLY (PURGE))"
                    ),
                ));
            }
            self.files.insert(path.to_string());
        }
        if let Some(path) = action
            .get("remove")
            .and_then(|r| r.get("path"))
            .and_then(|p| p.as_str())
        {
            self.files.remove(path);
        }
        if let Some(mode) = action
            .get("metaData")
            .and_then(|m| m.get("configuration"))
            .and_then(|c| c.get("delta.columnMapping.mode"))
            .and_then(|m| m.as_str())
        {
            if mode != "none" {
                return Err(delta_error(
                    dir,
                    format!(
                        "{what}: the table maps its columns to other names in its files \
                         (delta.columnMapping.mode = {mode}); write it out as Parquet first \
                         (e.g. spark.read.format(\"delta\").load(PATH).write.parquet(OUT))"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The `add` paths of a checkpoint part.
    fn checkpoint(&mut self, dir: &Path, part: &Path) -> Result<(), IngestError> {
        let bad = |e: &dyn std::fmt::Display| {
            delta_error(dir, format!("{}: cannot read it: {e}", part.display()))
        };
        let file = std::fs::File::open(part).map_err(|e| bad(&e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(&e))?;
        let schema = builder.parquet_schema();
        let roots: Vec<usize> = (0..schema.root_schema().get_fields().len())
            .filter(|&i| ["add", "metaData"].contains(&schema.root_schema().get_fields()[i].name()))
            .collect();
        let mask = ProjectionMask::roots(schema, roots);
        let reader = builder.with_projection(mask).build().map_err(|e| bad(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| bad(&e))?;
            // each row holds one action: back to JSON, as a commit's lines
            let mut buf = Vec::new();
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
            writer.write(&batch).map_err(|e| bad(&e))?;
            writer.finish().map_err(|e| bad(&e))?;
            for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let action: serde_json::Value =
                    serde_json::from_slice(line).map_err(|e| bad(&e))?;
                self.apply(dir, &part.display().to_string(), &action)?;
            }
        }
        Ok(())
    }
}

/// The Parquet files that make the Delta table in `dir` now, in path
/// order, with a note saying how many of the folder's files were left out;
/// `None` where `dir` is not a Delta table (no `_delta_log` folder).
pub(super) fn live_files(dir: &Path) -> Result<Option<(Vec<PathBuf>, String)>, IngestError> {
    let log = dir.join(LOG);
    if !log.is_dir() {
        return Ok(None);
    }
    let io = |error| IngestError::Io {
        path: log.clone(),
        error,
    };
    let mut commits = BTreeSet::new();
    let mut checkpoints: std::collections::BTreeMap<u64, (u64, BTreeSet<u64>)> = Default::default();
    for e in std::fs::read_dir(&log).map_err(io)? {
        let name = e.map_err(io)?.file_name().to_string_lossy().into_owned();
        match entry(&name) {
            Some(Entry::Commit(v)) => {
                commits.insert(v);
            }
            Some(Entry::Checkpoint {
                version,
                part,
                parts,
            }) => {
                let c = checkpoints
                    .entry(version)
                    .or_insert((parts, BTreeSet::new()));
                c.1.insert(part);
            }
            None => {}
        }
    }
    // the latest checkpoint with every part written
    let checkpoint = checkpoints
        .iter()
        .rev()
        .find(|(_, (parts, have))| (1..=*parts).all(|p| have.contains(&p)))
        .map(|(&v, &(parts, _))| (v, parts));
    let Some(&latest) = commits.last().or(checkpoint.as_ref().map(|(v, _)| v)) else {
        return Err(delta_error(dir, "its _delta_log holds no commit"));
    };
    let mut table = Table::default();
    let first = match checkpoint {
        Some((v, parts)) => {
            for p in 1..=parts {
                let name = if parts == 1 {
                    format!("{v:020}.checkpoint.parquet")
                } else {
                    format!("{v:020}.checkpoint.{p:010}.{parts:010}.parquet")
                };
                table.checkpoint(dir, &log.join(name))?;
            }
            v + 1
        }
        None => 0,
    };
    for v in first..=latest {
        if !commits.contains(&v) {
            return Err(delta_error(
                dir,
                format!(
                    "its log misses commit {v} (of {first} to {latest}): the table's files \
                     cannot be told"
                ),
            ));
        }
        let name = format!("{v:020}.json");
        let text = std::fs::read_to_string(log.join(&name)).map_err(|error| IngestError::Io {
            path: log.join(&name),
            error,
        })?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let what = format!("{LOG}/{name}, line {}", i + 1);
            let action: serde_json::Value =
                serde_json::from_str(line).map_err(|e| delta_error(dir, format!("{what}: {e}")))?;
            table.apply(dir, &what, &action)?;
        }
    }
    let mut files = Vec::with_capacity(table.files.len());
    for path in &table.files {
        if path.contains("://") {
            return Err(delta_error(
                dir,
                format!(
                    "its file `{path}` is not in the table's folder; copy the table here first"
                ),
            ));
        }
        let file = dir.join(super::hive::decode(path));
        if !file.is_file() {
            return Err(IngestError::NotFound(file));
        }
        files.push(file);
    }
    files.sort();
    // the folder's table files, older versions included
    let in_folder = super::table_parts(dir).map_or(0, |parts| parts.len());
    let note = format!(
        "{}: a Delta Lake table, read at its version {latest}: the {} file(s) its log holds \
         now{}",
        dir.display(),
        files.len(),
        match in_folder.saturating_sub(files.len()) {
            0 => String::new(),
            old => format!(
                "; {old} other Parquet file(s) in the folder hold older versions or removed rows \
                 and were not read"
            ),
        }
    );
    Ok(Some((files, note)))
}
