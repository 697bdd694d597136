//! Scan settings: the user's options (command line today, `poisonscan.toml`
//! later) checked once into the settings the pipeline uses. Every problem is
//! reported at once, each naming the option and its allowed range.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use poisonscan_scanners::{find_scanner, Scanner, SCANNERS};
use serde::Serialize;
use thiserror::Error;

/// Options as the user gave them, before checking.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Suspicion at or above which a row counts as evidence and is flagged.
    pub threshold: f64,
    /// Also flag this fraction of rows with the highest scores (removal list).
    pub budget: Option<f64>,
    /// Least number of planted rows a class test must estimate (its
    /// `excess_rows`) to fail a class.
    pub min_flagged: usize,
    /// Also fail a class whose label-noise share (contradicted rows, label
    /// issues) exceeds this rate, poisoning or not.
    pub fail_on_noise: Option<f64>,
    /// Seed for every random choice.
    pub seed: u64,
    /// Scanner codes or names; empty for all.
    pub scanners: Vec<String>,
    /// Per-scanner options: scanner code or name → (option, value) pairs.
    pub scanner_options: BTreeMap<String, Vec<(String, String)>>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            threshold: 0.99,
            budget: None,
            min_flagged: 3,
            fail_on_noise: None,
            seed: 0,
            scanners: Vec::new(),
            scanner_options: BTreeMap::new(),
        }
    }
}

/// Checked settings.
#[derive(Clone, Serialize)]
pub struct ScanSettings {
    /// In (0, 1).
    pub threshold: f64,
    /// In (0, 0.5].
    pub budget: Option<f64>,
    /// At least 1.
    pub min_flagged: usize,
    /// In (0, 1): natural label noise above this share fails a class too.
    pub fail_on_noise: Option<f64>,
    /// Any.
    pub seed: u64,
    /// Scanners to run, configured, in code order.
    #[serde(serialize_with = "scanner_names")]
    pub scanners: Vec<Arc<dyn Scanner>>,
    /// The per-scanner options that were set.
    pub scanner_options: BTreeMap<String, BTreeMap<String, String>>,
    /// Whether the scanners were chosen by the user (not the default set).
    pub scanners_chosen: bool,
}

impl std::fmt::Debug for ScanSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanSettings")
            .field("threshold", &self.threshold)
            .field("budget", &self.budget)
            .field("min_flagged", &self.min_flagged)
            .field("fail_on_noise", &self.fail_on_noise)
            .field("seed", &self.seed)
            .field(
                "scanners",
                &self.scanners.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("scanner_options", &self.scanner_options)
            .finish()
    }
}

fn scanner_names<S: serde::Serializer>(v: &[Arc<dyn Scanner>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.name()))
}

/// Every problem found in the options.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("invalid options:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
pub struct SettingsError(pub Vec<String>);

impl ScanOptions {
    /// Checks every option, reporting all problems together.
    pub fn check(&self) -> Result<ScanSettings, SettingsError> {
        let mut errors = Vec::new();
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            errors.push(format!(
                "--threshold is {}, but it must be above 0 and below 1",
                self.threshold
            ));
        }
        if let Some(b) = self.budget {
            if !(b > 0.0 && b <= 0.5) {
                errors.push(format!(
                    "--budget is {b}, but it must be above 0 and at most 0.5"
                ));
            }
        }
        if self.min_flagged == 0 {
            errors.push("--min-flagged is 0, but it must be at least 1".into());
        }
        if let Some(r) = self.fail_on_noise {
            if !(r > 0.0 && r < 1.0) {
                errors.push(format!(
                    "--fail-on-noise is {r}, but it must be above 0 and below 1"
                ));
            }
        }
        let known = || {
            SCANNERS
                .iter()
                .map(|s| format!("{} ({})", s.name(), s.code()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut chosen: Vec<&'static dyn Scanner> = Vec::new();
        for key in &self.scanners {
            match find_scanner(key) {
                Some(s) if !chosen.iter().any(|t| t.code() == s.code()) => chosen.push(s),
                Some(_) => {}
                None => errors.push(format!(
                    "--scanners: unknown scanner `{key}`; known: {}",
                    known()
                )),
            }
        }
        if self.scanners.is_empty() {
            chosen = SCANNERS.to_vec();
        }
        chosen.sort_by_key(|s| s.code());
        // Options per scanner, keyed by name.
        let mut per_scanner: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (key, options) in &self.scanner_options {
            match find_scanner(key) {
                Some(s) => per_scanner
                    .entry(s.name().to_string())
                    .or_default()
                    .extend(options.iter().cloned()),
                None => errors.push(format!(
                    "options for unknown scanner `{key}`; known: {}",
                    known()
                )),
            }
        }
        let mut scanners: Vec<Arc<dyn Scanner>> = Vec::new();
        for s in chosen {
            match per_scanner.get(s.name()) {
                Some(options) => match s.configure(options) {
                    Ok(configured) => scanners.push(Arc::from(configured)),
                    Err(e) => errors.push(e.to_string()),
                },
                None => scanners.push(Arc::from(s.configure(&[]).expect("defaults are valid"))),
            }
        }
        if !errors.is_empty() {
            return Err(SettingsError(errors));
        }
        Ok(ScanSettings {
            threshold: self.threshold,
            budget: self.budget,
            min_flagged: self.min_flagged,
            fail_on_noise: self.fail_on_noise,
            seed: self.seed,
            scanners,
            scanners_chosen: !self.scanners.is_empty(),
            scanner_options: per_scanner
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        })
    }

    /// Applies a `poisonscan.toml` on top of these options. Top-level keys:
    /// `threshold`, `budget`, `min-flagged`, `fail-on-noise`, `seed`,
    /// `scanners` (a list);
    /// one table per scanner (by name or code) holds its options, e.g.
    /// `[knn-label-disagreement]` / `unanimity-ratio = 3`. Every unknown key is
    /// reported, with the file's name.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), SettingsError> {
        let fail = |msg: String| SettingsError(vec![format!("{}: {msg}", path.display())]);
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| fail(e.to_string()))?;
        let mut errors = Vec::new();
        let number = |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
        for (key, value) in &table {
            let bad = |what: &str| format!("{}: `{key}` must be {what}", path.display());
            match key.as_str() {
                "threshold" => match number(value) {
                    Some(v) => self.threshold = v,
                    None => errors.push(bad("a number")),
                },
                "budget" => match number(value) {
                    Some(v) => self.budget = Some(v),
                    None => errors.push(bad("a number")),
                },
                "fail-on-noise" => match number(value) {
                    Some(v) => self.fail_on_noise = Some(v),
                    None => errors.push(bad("a number")),
                },
                "min-flagged" => match value.as_integer().filter(|&i| i >= 0) {
                    Some(v) => self.min_flagged = v as usize,
                    None => errors.push(bad("a whole number")),
                },
                "seed" => match value.as_integer().filter(|&i| i >= 0) {
                    Some(v) => self.seed = v as u64,
                    None => errors.push(bad("a whole number")),
                },
                "scanners" => match value.as_array() {
                    Some(list) if list.iter().all(|v| v.is_str()) => {
                        self.scanners = list.iter().map(|v| v.as_str().expect("checked").to_string()).collect()
                    }
                    _ => errors.push(bad("a list of scanner names")),
                },
                name if value.is_table() && find_scanner(name).is_some() => {
                    let entry = self.scanner_options.entry(name.to_string()).or_default();
                    for (k, v) in value.as_table().expect("checked") {
                        let text = match v {
                            toml::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        entry.push((k.clone(), text));
                    }
                }
                _ => errors.push(format!(
                    "{}: unknown key `{key}`; known: threshold, budget, min-flagged, fail-on-noise, seed, scanners, and one table per scanner ({})",
                    path.display(),
                    SCANNERS.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
                )),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(SettingsError(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = ScanOptions::default().check().unwrap();
        assert_eq!(s.scanners.len(), SCANNERS.len());
    }

    #[test]
    fn file_options_merge_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poisonscan.toml");
        std::fs::write(&path, "threshold = 0.995\nscanners = [\"PS004\"]\n[knn-label-disagreement]\nunanimity-ratio = 3\nk = 15\n").unwrap();
        let mut o = ScanOptions::default();
        o.merge_file(&path).unwrap();
        let s = o.check().unwrap();
        assert_eq!(s.threshold, 0.995);
        assert_eq!(s.scanners.len(), 1);
        assert_eq!(
            s.scanner_options["knn-label-disagreement"]["unanimity-ratio"],
            "3"
        );
        std::fs::write(
            &path,
            "treshold = 0.9\n[knn-label-disagreement]\nunanimity-ratio = 90\n",
        )
        .unwrap();
        let mut o = ScanOptions::default();
        let e = o.merge_file(&path).unwrap_err();
        assert!(e.to_string().contains("unknown key `treshold`"), "{e}");
        let mut o = ScanOptions::default();
        std::fs::write(&path, "[knn-label-disagreement]\nunanimity-ratio = 90\n").unwrap();
        o.merge_file(&path).unwrap();
        let e = o.check().unwrap_err();
        assert!(
            e.to_string()
                .contains("knn-label-disagreement.unanimity-ratio"),
            "{e}"
        );
    }

    #[test]
    fn all_errors_reported_at_once() {
        let o = ScanOptions {
            threshold: 1.5,
            budget: Some(0.9),
            min_flagged: 0,
            scanners: vec!["nope".into()],
            ..Default::default()
        };
        let e = o.check().unwrap_err();
        assert_eq!(e.0.len(), 4, "{e}");
        assert!(e.to_string().contains("--threshold is 1.5"));
    }
}
