//! `import poisonscan`: the scan as a Python library, with Arrow in and
//! out through the Arrow PyCapsule interface (no copy but the one into the
//! feature matrix) and the GIL released while scanning.
//!
//! The package (`python/pysrc/poisonscan`) re-exports this module
//! (`poisonscan._native`); `maturin build` in `python/` makes the wheel.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use arrow::array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use arrow::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_pyarrow::FromPyArrow;
use clap::ValueEnum;
use poisonscan::fuse::Verdict;
use poisonscan::ingest::{AsImages, IngestOptions, TableOptions};
use poisonscan::models::{ModelKind, ModelOptions};
use poisonscan::pipeline::{self, NoProgress, PipelineError};
use poisonscan::report::{self, guard, html::ReportOptions, RunInfo, ScoresFormat};
use poisonscan::settings::{ScanOptions, ScanSettings};
use poisonscan::{Dataset, ScanReport};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

create_exception!(
    poisonscan,
    PoisonscanError,
    PyException,
    "A scan could not run or its results could not be written."
);
create_exception!(
    poisonscan,
    InputError,
    PoisonscanError,
    "Bad input: a missing file or column, a wrong type, invalid features, \
     null labels, one class, no rows (the CLI's exit-2 input errors)."
);

/// The CLI's error message for `e` (the whole cause chain).
fn message(e: impl Into<anyhow::Error>) -> String {
    format!("{:#}", e.into())
}

fn pipeline_error(e: PipelineError) -> PyErr {
    match e {
        PipelineError::Model(_) => PoisonscanError::new_err(message(e)),
        _ => InputError::new_err(message(e)),
    }
}

/// Where the data comes from.
enum Source {
    /// Files, globs or an image folder, as the CLI takes them.
    Paths(Vec<String>),
    /// An Arrow stream, read whole (its buffers are used in place).
    Arrow(SchemaRef, Vec<RecordBatch>),
}

fn source(data: &Bound<'_, PyAny>) -> PyResult<Source> {
    if let Ok(path) = data.extract::<PathBuf>() {
        return Ok(Source::Paths(vec![path.to_string_lossy().into_owned()]));
    }
    if data.hasattr("__arrow_c_stream__")? {
        let reader = RecordBatchStreamReader::from_pyarrow_bound(data)?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| InputError::new_err(format!("the Arrow stream failed: {e}")))?;
        return Ok(Source::Arrow(schema, batches));
    }
    if let Ok(paths) = data.extract::<Vec<PathBuf>>() {
        return Ok(Source::Paths(
            paths
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        ));
    }
    Err(PyTypeError::new_err(format!(
        "data must be a path, a list of paths, or an object with __arrow_c_stream__ \
         (a pyarrow Table or RecordBatchReader, a polars DataFrame, a DuckDB relation); \
         got {}",
        data.get_type().name()?
    )))
}

/// `image_shape`: `None` (infer), `"none"` or `()` (never images), or a
/// shape.
fn shape(v: Option<&Bound<'_, PyAny>>) -> PyResult<AsImages> {
    let Some(v) = v else {
        return Ok(AsImages::Infer);
    };
    if let Ok(word) = v.extract::<String>() {
        return match word.as_str() {
            "none" => Ok(AsImages::Never),
            other => Err(PyValueError::new_err(format!(
                "image_shape must be (height, width), (height, width, 1 or 3) or \"none\", \
                 got {other:?}"
            ))),
        };
    }
    let v: Vec<usize> = v.extract()?;
    match v.as_slice() {
        [] => Ok(AsImages::Never),
        &[h, w] if h > 0 && w > 0 => Ok(AsImages::Shape(h, w, 1)),
        &[h, w, c] if h > 0 && w > 0 && (c == 1 || c == 3) => Ok(AsImages::Shape(h, w, c)),
        other => Err(PyValueError::new_err(format!(
            "image_shape must be (height, width), (height, width, 1 or 3) or \"none\", \
             got {other:?}"
        ))),
    }
}

/// The scores table: one row per input row, exported through the Arrow
/// PyCapsule interface (`pyarrow.table(scores)`, `polars.DataFrame(scores)`)
/// without a copy.
#[pyclass(frozen, module = "poisonscan")]
struct Scores {
    batch: RecordBatch,
}

#[pymethods]
impl Scores {
    /// Exports the table as an Arrow C stream (the requested schema is not
    /// honoured: the table is given as it is).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let reader: Box<dyn RecordBatchReader + Send> = Box::new(RecordBatchIterator::new(
            vec![Ok(self.batch.clone())],
            self.batch.schema(),
        ));
        PyCapsule::new_with_value(py, FFI_ArrowArrayStream::new(reader), c"arrow_array_stream")
    }

    /// The column names.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn __len__(&self) -> usize {
        self.batch.num_rows()
    }

    fn __repr__(&self) -> String {
        format!(
            "<poisonscan.Scores: {} rows, columns {}>",
            self.batch.num_rows(),
            self.column_names().join(", ")
        )
    }
}

/// A finished scan: scores, summary and verdict, and the files the CLI
/// writes on demand.
#[pyclass(frozen, module = "poisonscan")]
struct ScanResult {
    ds: Dataset,
    report: ScanReport,
    settings: ScanSettings,
    run: RunInfo,
    scores: RecordBatch,
    summary: String,
}

#[pymethods]
impl ScanResult {
    /// The scores table (one row per input row; see the README's Outputs).
    #[getter]
    fn scores(&self) -> Scores {
        Scores {
            batch: self.scores.clone(),
        }
    }

    /// `summary.json` as a dict.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (&self.summary,))
    }

    /// `"pass"` or `"fail"`.
    #[getter]
    fn verdict(&self) -> &'static str {
        match self.report.fused.verdict {
            Verdict::Fail => "fail",
            _ => "pass",
        }
    }

    /// Labels of the classes that failed.
    #[getter]
    fn failed_classes(&self) -> Vec<String> {
        self.report
            .fused
            .classes
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .map(|c| self.ds.class_names[c.class as usize].clone())
            .collect()
    }

    /// Input rows (0-based) that were flagged.
    #[getter]
    fn flagged_rows(&self) -> Vec<u64> {
        self.ds
            .kept_rows
            .iter()
            .zip(&self.report.fused.flagged)
            .filter(|(_, &f)| f)
            .map(|(&r, _)| r)
            .collect()
    }

    /// Writes the files the CLI writes into `out_dir`: `scores.<format>`,
    /// `summary.json` and, with `report=True`, `report.html`. Returns their
    /// paths.
    #[pyo3(signature = (out_dir, *, scores_format="parquet", report=false, report_max_rows=64))]
    fn write(
        &self,
        py: Python<'_>,
        out_dir: PathBuf,
        scores_format: &str,
        report: bool,
        report_max_rows: usize,
    ) -> PyResult<Vec<PathBuf>> {
        let format = ScoresFormat::from_str(scores_format, true).map_err(|_| {
            PyValueError::new_err(format!(
                "scores_format must be parquet, csv or json, got {scores_format:?}"
            ))
        })?;
        if report_max_rows == 0 {
            return Err(PyValueError::new_err("report_max_rows must be at least 1"));
        }
        let inputs: Vec<PathBuf> = self.ds.sources.iter().map(|s| s.path.clone()).collect();
        let read = guard::read_paths(&inputs);
        let names = report::output_names(format, report);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        guard::check_output_dir("out_dir", &out_dir, &names, &read)
            .and_then(|_| guard::check_writable_dir("out_dir", &out_dir))
            .map_err(|e| PyValueError::new_err(message(e)))?;
        let html = report.then_some(ReportOptions {
            max_rows: report_max_rows,
        });
        let written = py
            .detach(|| {
                report::write_scan(
                    &out_dir,
                    &self.ds,
                    &self.report,
                    &self.settings,
                    &self.run,
                    format,
                    html,
                )
            })
            .map_err(|e| PoisonscanError::new_err(message(e)))?;
        let mut paths = vec![written.scores, written.summary];
        paths.extend(written.report);
        Ok(paths)
    }

    /// This scan as a shard's partial (Parquet bytes): per-row evidence of
    /// every scanner and per-class statistics, for `poisonscan.merge`. Scan
    /// each shard of a random partition with the same options, and merge.
    fn partial<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        let batch = poisonscan::shard::partial_batch(&self.ds, &self.report, &self.settings);
        let bytes = py.detach(|| poisonscan::shard::partial_bytes(&batch));
        pyo3::types::PyBytes::new(py, &bytes)
    }

    fn __repr__(&self) -> String {
        format!(
            "<poisonscan.ScanResult: {}, {} rows, {} flagged, failed classes {:?}>",
            self.verdict(),
            self.ds.n_input_rows,
            self.report.fused.flagged.iter().filter(|&&f| f).count(),
            self.failed_classes()
        )
    }
}

/// Scans a data set, as `poisonscan scan` does, and returns a ScanResult.
///
/// `data`: an object with `__arrow_c_stream__` (a pyarrow Table or
/// RecordBatchReader, a polars DataFrame, a DuckDB relation; read without
/// copies but the one into the feature matrix) or a path, glob or list of
/// them (Parquet, CSV, Arrow IPC, NDJSON, IDX, NumPy `.npz`, MATLAB `.mat`, HDF5, TFRecord, pickles of arrays or pandas frames, joblib and PyTorch files of tensors, R data files, Stata, SPSS and SAS transport files, Avro, ORC, ARFF, LIBSVM, image folders and their archives).
///
/// The keyword arguments are the command line's options of the same names:
/// `label`, `embedding`, `features` (globs allowed), `id`, `probs`,
/// `image_shape` ((h, w) or (h, w, c); `"none"` never reads the features
/// as images), `resize` ((w, h)), `drop_invalid`, `separator`, `no_header`,
/// `scanners`, `options` ({"SCANNER.OPTION": "VALUE"}, as `--set`), `model`
/// (auto, none, mlp, cnn), `epochs`, `seed`, `threshold`, `budget`,
/// `min_flagged`, `fail_on_noise`, `caption` (the text column that says
/// what each row is: text-trigger reads its words, the report shows it
/// beside each row; else the first column named `text`, `caption`,
/// `sentence`, … as on the command line).
///
/// The GIL is released while scanning. Raises InputError (with the command
/// line's message) on bad input, ValueError on a bad option.
#[pyfunction]
#[pyo3(signature = (
    data, *, label="label".to_string(), embedding=None, features=None, id=None, probs=None,
    image_shape=None, resize=None, drop_invalid=false, separator=None, no_header=false,
    scanners=None, options=None,
    model="auto", epochs=None, seed=0, threshold=None, budget=None, min_flagged=None,
    fail_on_noise=None, caption=None
))]
#[allow(clippy::too_many_arguments)]
fn scan(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    label: String,
    embedding: Option<String>,
    features: Option<Vec<String>>,
    id: Option<String>,
    probs: Option<String>,
    image_shape: Option<Bound<'_, PyAny>>,
    resize: Option<(u32, u32)>,
    drop_invalid: bool,
    separator: Option<String>,
    no_header: bool,
    scanners: Option<Vec<String>>,
    options: Option<BTreeMap<String, String>>,
    model: &str,
    epochs: Option<usize>,
    seed: u64,
    threshold: Option<f64>,
    budget: Option<f64>,
    min_flagged: Option<usize>,
    fail_on_noise: Option<f64>,
    caption: Option<String>,
) -> PyResult<ScanResult> {
    let mut scan_options = ScanOptions {
        seed,
        budget,
        fail_on_noise,
        scanners: scanners.unwrap_or_default(),
        ..ScanOptions::default()
    };
    if let Some(v) = threshold {
        scan_options.threshold = v;
    }
    if let Some(v) = min_flagged {
        scan_options.min_flagged = v;
    }
    for (key, value) in options.unwrap_or_default() {
        let Some((scanner, option)) = key.split_once('.') else {
            return Err(PyValueError::new_err(format!(
                "options key {key:?}: expected \"SCANNER.OPTION\", e.g. \
                 \"knn-label-disagreement.unanimity-ratio\""
            )));
        };
        scan_options
            .scanner_options
            .entry(scanner.trim().to_string())
            .or_default()
            .push((option.trim().to_string(), value));
    }
    let settings = scan_options
        .check()
        .map_err(|e| PyValueError::new_err(message(e)))?;
    let kind = ModelKind::from_str(model, true).map_err(|_| {
        PyValueError::new_err(format!(
            "model must be auto, none, mlp or cnn, got {model:?}"
        ))
    })?;
    let model_options = ModelOptions {
        kind,
        epochs,
        seed: settings.seed,
        ..ModelOptions::default()
    }
    .check()
    .map_err(|e| PyValueError::new_err(message(e)))?;
    let ingest = IngestOptions {
        format: None,
        table: TableOptions {
            label,
            id,
            embedding,
            features: features.unwrap_or_default(),
            probs,
            drop_invalid,
            separator: separator
                .as_deref()
                .map(poisonscan::ingest::separator)
                .transpose()
                .map_err(PyValueError::new_err)?,
            no_header,
            image_shape: shape(image_shape.as_ref())?,
            caption,
        },
        resize,
    };
    let source = source(data)?;
    let inputs = match &source {
        Source::Paths(p) => p.clone(),
        Source::Arrow(..) => vec!["<arrow stream>".to_string()],
    };
    let (ds, report) = py
        .detach(|| match source {
            Source::Paths(paths) => {
                pipeline::run(&paths, &ingest, &model_options, &settings, &NoProgress)
            }
            Source::Arrow(schema, batches) => {
                let start = Instant::now();
                let ds = poisonscan::from_record_batches(&schema, &batches, &ingest.table)?;
                drop(batches);
                let read = start.elapsed().as_secs_f64();
                pipeline::scan_loaded(ds, read, &model_options, &settings, &NoProgress)
            }
        })
        .map_err(pipeline_error)?;
    let run = RunInfo {
        inputs,
        options: serde_json::json!({
            "ingest": ingest,
            "scores_format": "parquet",
            "no_fail": false,
        }),
    };
    Ok(ScanResult::new(ds, report, settings, run))
}

impl ScanResult {
    fn new(ds: Dataset, report: ScanReport, settings: ScanSettings, run: RunInfo) -> Self {
        let scores = report::scores_batch(&ds, &report);
        let summary = report::summary_json(&ds, &report, &settings, &run).to_string();
        ScanResult {
            ds,
            report,
            settings,
            run,
            scores,
            summary,
        }
    }
}

/// Merges shard partials (`ScanResult.partial()` bytes, or paths of files
/// written by `poisonscan scan --shard-out`) into the data set's scan: the
/// rows of every shard, in the order given, with class tests combined over
/// the shards and the calibration over all rows and classes.
#[pyfunction]
fn merge(py: Python<'_>, partials: Vec<Bound<'_, PyAny>>) -> PyResult<ScanResult> {
    let mut read = Vec::with_capacity(partials.len());
    for (k, p) in partials.iter().enumerate() {
        let name = PathBuf::from(format!("partial {k}"));
        let part = if let Ok(bytes) = p.extract::<Vec<u8>>() {
            py.detach(|| poisonscan::shard::partial_from_bytes(&name, bytes))
        } else if let Ok(path) = p.extract::<PathBuf>() {
            py.detach(|| poisonscan::shard::read_partial(&path))
        } else {
            return Err(PyTypeError::new_err(
                "partials must be bytes (ScanResult.partial()) or paths",
            ));
        };
        read.push(part.map_err(|e| InputError::new_err(message(e)))?);
    }
    let merged = py
        .detach(|| poisonscan::shard::merge(&read))
        .map_err(|e| InputError::new_err(message(e)))?;
    let run = RunInfo {
        inputs: vec![format!("<{} partials>", read.len())],
        options: serde_json::json!({"merge": true, "scores_format": "parquet", "no_fail": false}),
    };
    Ok(ScanResult::new(
        merged.ds,
        merged.report,
        merged.settings,
        run,
    ))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_class::<ScanResult>()?;
    m.add_class::<Scores>()?;
    m.add("PoisonscanError", m.py().get_type::<PoisonscanError>())?;
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
