//! From an arrow-rs [`RecordBatch`] to a [`Dataset`]: column selection, label
//! encoding, feature extraction and validation. Every table format ends here.

use std::collections::{BTreeSet, HashMap};

use arrow::array::{Array, ArrayRef, AsArray, Float32Array, RecordBatch};
use arrow::buffer::ScalarBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Int64Type};
use serde::{Deserialize, Serialize};

use super::{locate, Dataset, DroppedRow, FeatureSource, IngestError, SourceFile};

/// Schema metadata key naming the feature column of a file that poisonscan
/// wrote (the `poison` command), so that `scan FILE` needs no flags.
pub const META_FEATURES: &str = "poisonscan.features";
/// Schema metadata key holding the image shape, `HxWxC`, of such a file.
pub const META_IMAGE_SHAPE: &str = "poisonscan.image_shape";
/// Schema metadata key saying the pixels came from lossy pictures
/// ([`super::Dataset::lossy`]): `true`.
pub const META_LOSSY: &str = "poisonscan.lossy";
/// Schema metadata key listing, as a JSON array, the feature columns of a
/// table poisonscan wrote: a red-team copy of a table keeps its columns, and
/// is read as the table was.
pub const META_FEATURE_COLUMNS: &str = "poisonscan.feature_columns";
/// Ground-truth columns of a red-team file; never taken as features.
pub const GROUND_TRUTH_COLUMNS: [&str; 3] =
    ["original_label", "is_poisoned", "poison_source_label"];

/// Which rows of a label column hold no label: a null, or the -1 that a
/// Hugging Face `ClassLabel` marks a row without a label with (a test
/// split's rows, unlabelled).
pub(crate) struct NoLabel<'a> {
    labels: &'a ArrayRef,
    /// The labels as whole numbers, where the column is a `ClassLabel`.
    minus_one: Option<arrow::array::Int64Array>,
}

impl<'a> NoLabel<'a> {
    /// The label column `column` of a file with the `hints` of its schema.
    pub fn new(labels: &'a ArrayRef, hints: &Hints, column: &str) -> Self {
        let minus_one = match hints.class_names(column) {
            Some(_) => cast(labels, &DataType::Int64)
                .ok()
                .map(|a| a.as_primitive::<Int64Type>().clone()),
            None => None,
        };
        Self { labels, minus_one }
    }

    /// What row `i`'s label is where it is none; `None` for a label.
    pub fn at(&self, i: usize) -> Option<&'static str> {
        match self.labels.is_null(i) {
            true => Some("null"),
            false => self
                .minus_one
                .as_ref()
                .is_some_and(|m| m.is_valid(i) && m.value(i) == -1)
                .then_some("-1, a Hugging Face ClassLabel's mark for no label"),
        }
    }

    /// Whether no row holds a label.
    pub fn all(&self) -> bool {
        (0..self.labels.len()).all(|i| self.at(i).is_some())
    }
}

/// What a file's schema metadata says about its features.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Hints {
    /// The feature column.
    pub features: Option<String>,
    /// The feature columns of a table.
    pub columns: Option<Vec<String>>,
    /// Image height, width, channels.
    pub image_shape: Option<(usize, usize, usize)>,
    /// Class names per integer label column, from a Hugging Face `datasets`
    /// file's `ClassLabel` features (`huggingface` metadata).
    pub class_label_names: Vec<(String, Vec<String>)>,
    /// Pixels of lossy pictures (see [`super::Dataset::lossy`]), as
    /// `poison` writes a red-team copy of them.
    pub lossy: bool,
}

impl Hints {
    /// Reads the hints of an Arrow schema's metadata.
    pub fn from_schema(schema: &arrow::datatypes::Schema) -> Self {
        let meta = schema.metadata();
        let image_shape = meta.get(META_IMAGE_SHAPE).and_then(|s| {
            let v: Vec<usize> = s.split('x').filter_map(|p| p.parse().ok()).collect();
            (v.len() == 3).then(|| (v[0], v[1], v[2]))
        });
        let class_label_names = meta
            .get("huggingface")
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .and_then(|v| v["info"]["features"].as_object().cloned())
            .map(|features| {
                features
                    .iter()
                    .filter(|(_, f)| f["_type"] == "ClassLabel")
                    .filter_map(|(column, f)| {
                        let names = f["names"].as_array()?;
                        let names: Vec<String> = names
                            .iter()
                            .map(|n| n.as_str().map(str::to_string))
                            .collect::<Option<_>>()?;
                        Some((column.clone(), names))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut hints = Self {
            features: meta.get(META_FEATURES).cloned(),
            columns: meta
                .get(META_FEATURE_COLUMNS)
                .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok()),
            image_shape,
            class_label_names,
            lossy: meta.get(META_LOSSY).is_some_and(|v| v == "true"),
        };
        // one column of Arrow's fixed-shape tensors of an image's shape
        // (pyarrow's `FixedShapeTensorArray`): that column, as images
        let tensors: Vec<(&String, (usize, usize, usize))> = schema
            .fields()
            .iter()
            .filter_map(|f| Some((f.name(), tensor_image_shape(f)?)))
            .collect();
        if let ([(column, shape)], None) = (tensors.as_slice(), &hints.image_shape) {
            if hints.features.as_ref().is_none_or(|f| f == *column) {
                hints.features = Some(column.to_string());
                hints.image_shape = Some(*shape);
            }
        }
        hints
    }

    /// The class names a file gives for integer label column `column`.
    pub fn class_names(&self, column: &str) -> Option<&[String]> {
        self.class_label_names
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, n)| n.as_slice())
    }

    /// The options with the hinted feature column filled in, when the user
    /// named no features.
    pub fn apply(&self, opts: &TableOptions) -> TableOptions {
        let mut o = opts.clone();
        if o.embedding.is_none() && o.features.is_empty() {
            o.embedding = self.features.clone();
            if let (None, Some(columns)) = (&o.embedding, &self.columns) {
                o.features = columns.iter().map(|c| glob::Pattern::escape(c)).collect();
            }
        }
        o
    }
}

/// The label column read when none is named (`--label`'s default).
pub const DEFAULT_LABEL: &str = "label";

/// Which columns hold labels, ids and features, and how strict to be.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableOptions {
    /// Label column (integer or string).
    pub label: String,
    /// Optional id column, carried to the output.
    pub id: Option<String>,
    /// A list/array column holding one feature vector per row.
    pub embedding: Option<String>,
    /// A list/array column of out-of-sample class probabilities, one value
    /// per class in the order of the sorted class names.
    pub probs: Option<String>,
    /// Numeric scalar feature columns; glob patterns such as `pix_*` allowed.
    pub features: Vec<String>,
    /// Skip rows with null, NaN or infinite features instead of failing.
    pub drop_invalid: bool,
    /// CSV field separator; told from the header line when not given.
    pub separator: Option<u8>,
    /// The CSV files have no header line: their columns are named
    /// `column_1`, `column_2`, … (polars' names), the label among them.
    #[serde(default)]
    pub no_header: bool,
    /// Whether the feature values are images, and of what shape
    /// (`--image-shape`).
    pub image_shape: AsImages,
    /// The text column that says what each row is — shown beside the rows
    /// in the report, its words read by the text-trigger scanner
    /// (`--caption`); else the first column named as `CAPTION_COLUMNS`
    /// says.
    #[serde(default)]
    pub caption: Option<String>,
}

/// Whether a table's feature values are read as images (`--image-shape`).
/// In JSON (the summary's options): `null` (infer), `"none"`, or
/// `[height, width, channels]`, as the shape was written before `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AsImages {
    /// As the input says (the file's metadata, nested lists of an image's
    /// shape, Kaggle-style `pixel0 …` column names) or, failing that, as
    /// the values' layout shows ([`super::layout::image_layout`]).
    #[default]
    Infer,
    /// Never: the values are scanned as a table or an embedding whatever
    /// they look like (`--image-shape none`).
    Never,
    /// Height, width and channels of the images, row-major, channels last
    /// (`--image-shape HxW[xC]`), for inputs that do not say so themselves.
    Shape(usize, usize, usize),
}

impl Serialize for AsImages {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            AsImages::Infer => s.serialize_none(),
            AsImages::Never => s.serialize_str("none"),
            AsImages::Shape(h, w, c) => (h, w, c).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for AsImages {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Shape(usize, usize, usize),
            Word(String),
        }
        match Option::<Raw>::deserialize(d)? {
            None => Ok(AsImages::Infer),
            Some(Raw::Shape(h, w, c)) => Ok(AsImages::Shape(h, w, c)),
            Some(Raw::Word(w)) if w == "none" => Ok(AsImages::Never),
            Some(Raw::Word(w)) => Err(serde::de::Error::custom(format!(
                "image_shape `{w}`: null, \"none\" or [height, width, channels]"
            ))),
        }
    }
}

impl AsImages {
    /// The shape given, if any.
    pub fn shape(self) -> Option<(usize, usize, usize)> {
        match self {
            AsImages::Shape(h, w, c) => Some((h, w, c)),
            _ => None,
        }
    }
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            label: DEFAULT_LABEL.into(),
            id: None,
            embedding: None,
            probs: None,
            features: Vec::new(),
            drop_invalid: false,
            separator: None,
            no_header: false,
            image_shape: AsImages::Infer,
            caption: None,
        }
    }
}

/// How a column can be used, as far as selection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// A numeric scalar.
    Numeric,
    /// A list or fixed-size list of numbers.
    NumericList,
    /// Encoded images (PNG, JPEG, BMP, GIF, WebP, TIFF): a binary column, or a struct with a
    /// binary `bytes` field (and a `path`), as Hugging Face `datasets` writes
    /// its `Image` feature.
    Image,
    /// Strings.
    Text,
    /// Anything else.
    Other,
}

/// Whether a column name is an index a dataframe library wrote beside the
/// data (pandas' `__index_level_0__` in Parquet; in CSV, the column with an
/// empty name that pandas's `to_csv` and R's `write.csv` write first, which
/// pandas reads back as `Unnamed: 0`): row numbers, never features.
pub(crate) fn is_index_column(name: &str) -> bool {
    (name.starts_with("__index_level_") && name.ends_with("__"))
        || name.starts_with("Unnamed: ")
        || name.is_empty()
}

/// Whether a column's name says it holds identifiers (`id`, `ID`,
/// `customer_id`, `PassengerId`, `userID`) or row numbers (`row`, `index`,
/// `idx`, `rownames`, `row_number`; the `row` column a scan's scores and
/// `poison`'s copies carry): numbers that name a row rather than measure
/// it, never chosen as features unless `--features` names them. Words that
/// merely end in the letters (`fluid`, `PAID`) do not.
pub(crate) fn looks_like_id(name: &str) -> bool {
    let n = name.trim();
    let row_numbers = [
        "id",
        "row",
        "rows",
        "index",
        "idx",
        "rownames",
        "row_number",
        "rownum",
    ];
    if row_numbers.iter().any(|r| n.eq_ignore_ascii_case(r)) {
        return true;
    }
    let lower = n.to_ascii_lowercase();
    if ["_id", "-id", " id", ".id"]
        .iter()
        .any(|s| lower.ends_with(s))
    {
        return true;
    }
    // camelCase: a lowercase letter, then `Id` or `ID`
    let b = n.as_bytes();
    b.len() > 2 && (n.ends_with("Id") || n.ends_with("ID")) && b[b.len() - 3].is_ascii_lowercase()
}

/// The columns a scan needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selection {
    pub label: String,
    pub id: Option<String>,
    pub features: FeatureSelection,
    pub probs: Option<String>,
    /// Text columns read as categories, one indicator feature per value
    /// (after the numeric columns of [`FeatureSelection::Columns`]).
    pub categorical: Vec<String>,
    /// A text column that says what each row is (`text`, `caption`, …),
    /// shown beside its rows in the report; never a feature by this choice.
    pub caption: Option<String>,
    /// What the selection left out that a user should know.
    pub notes: Vec<String>,
}

/// Names of a text column that says what each row is — the sentence a
/// text embedding encodes, a picture's caption — which the report shows
/// beside the flagged rows (compared without case, the first found).
const CAPTION_COLUMNS: &[&str] = &[
    "text",
    "sentence",
    "caption",
    "prompt",
    "review",
    "content",
    "body",
    "title",
    "question",
    "document",
    "comment",
    "description",
    "utterance",
    "message",
    "tweet",
];

/// Most distinct values a text column may hold to be read as categories
/// (one 0/1 indicator feature each). A column with more is free text or an
/// identifier (names, ticket numbers, sentences), which indicators cannot
/// compare: it is left out with a note, or refused when `--features` named it.
pub const MAX_CATEGORIES: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FeatureSelection {
    Embedding(String),
    Columns(Vec<String>),
    Image(String),
}

impl Selection {
    /// Every column to read, label first, without repeats.
    pub fn columns(&self) -> Vec<String> {
        let mut cols = vec![self.label.clone()];
        cols.extend(self.id.clone());
        match &self.features {
            FeatureSelection::Embedding(c) | FeatureSelection::Image(c) => cols.push(c.clone()),
            FeatureSelection::Columns(cs) => cols.extend(cs.iter().cloned()),
        }
        cols.extend(self.categorical.iter().cloned());
        cols.extend(self.probs.clone());
        cols.extend(self.caption.clone());
        let mut seen = BTreeSet::new();
        cols.retain(|c| seen.insert(c.clone()));
        cols
    }
}

/// Resolves the options against a schema of `(name, kind, type name)`.
pub(crate) fn select(
    schema: &[(String, ColumnKind, String)],
    opts: &TableOptions,
    file: Option<&std::path::Path>,
) -> Result<Selection, IngestError> {
    let names: Vec<String> = schema.iter().map(|(n, _, _)| n.clone()).collect();
    let missing = |column: &str| IngestError::MissingColumn {
        column: column.to_string(),
        file: file.map(|p| p.to_path_buf()),
        available: names.clone(),
    };
    let find = |column: &str| schema.iter().find(|(n, _, _)| n == column);
    if find(&opts.label).is_none() {
        return Err(missing(&opts.label));
    }
    if let Some(id) = &opts.id {
        find(id).ok_or_else(|| missing(id))?;
    }
    if opts.embedding.is_some() && !opts.features.is_empty() {
        return Err(IngestError::Option(
            "--embedding and --features both name features; give one of them".into(),
        ));
    }
    let reserved = |n: &str| {
        n == opts.label
            || opts.id.as_deref() == Some(n)
            || opts.probs.as_deref() == Some(n)
            || GROUND_TRUTH_COLUMNS.contains(&n)
    };
    let mut notes = Vec::new();
    let mut categorical = Vec::new();
    let features = if let Some(e) = &opts.embedding {
        let (_, kind, dtype) = find(e).ok_or_else(|| missing(e))?;
        match kind {
            ColumnKind::NumericList => FeatureSelection::Embedding(e.clone()),
            ColumnKind::Image => FeatureSelection::Image(e.clone()),
            _ => {
                return Err(IngestError::WrongType {
                    column: e.clone(),
                    dtype: dtype.clone(),
                    expected:
                        "a feature column must be a list or array of numbers, or encoded images",
                })
            }
        }
    } else if !opts.features.is_empty() {
        let mut cols: Vec<String> = Vec::new();
        for pattern in &opts.features {
            let matcher = glob::Pattern::new(pattern).map_err(|e| IngestError::BadPattern {
                pattern: pattern.clone(),
                message: e.to_string(),
            })?;
            let matched: Vec<&(String, ColumnKind, String)> = schema
                .iter()
                .filter(|(n, _, _)| n == pattern || matcher.matches(n))
                .collect();
            if matched.is_empty() {
                return Err(missing(pattern));
            }
            for (n, kind, dtype) in matched {
                if reserved(n) || cols.contains(n) || categorical.contains(n) {
                    continue;
                }
                match kind {
                    ColumnKind::Numeric => cols.push(n.clone()),
                    ColumnKind::Text => categorical.push(n.clone()),
                    _ => {
                        return Err(IngestError::WrongType {
                            column: n.clone(),
                            dtype: dtype.clone(),
                            expected: "feature columns must be numbers, booleans or categories \
                                       (text with few distinct values)",
                        })
                    }
                }
            }
        }
        FeatureSelection::Columns(cols)
    } else {
        let of_kind = |kind: ColumnKind| -> Vec<String> {
            schema
                .iter()
                .filter(|(n, k, _)| *k == kind && !reserved(n) && !is_index_column(n))
                .map(|(n, _, _)| n.clone())
                .collect()
        };
        let numeric = of_kind(ColumnKind::Numeric);
        let text = of_kind(ColumnKind::Text);
        // A vector or an image per row is what the row *is*; scalar numbers
        // beside one (sizes, timestamps, row ids) are metadata.
        let content: Vec<(String, ColumnKind)> = schema
            .iter()
            .filter(|(n, k, _)| {
                matches!(k, ColumnKind::NumericList | ColumnKind::Image)
                    && !reserved(n)
                    && !is_index_column(n)
            })
            .map(|(n, k, _)| (n.clone(), *k))
            .collect();
        match content.as_slice() {
            [(one, kind)] => {
                if !numeric.is_empty() {
                    notes.push(format!(
                        "scanned `{one}`; the numeric column(s) {} beside it were not used \
                         (name them with --features to scan them instead)",
                        quoted(&numeric)
                    ));
                }
                if *kind == ColumnKind::Image {
                    FeatureSelection::Image(one.clone())
                } else {
                    FeatureSelection::Embedding(one.clone())
                }
            }
            [_, _, ..] => {
                let names: Vec<String> = content.iter().map(|(n, _)| n.clone()).collect();
                return Err(IngestError::Option(format!(
                    "several vector or image columns ({}); choose one with --embedding",
                    quoted(&names)
                )));
            }
            [] if numeric.is_empty() && text.is_empty() => return Err(IngestError::NoFeatures),
            [] => {
                // text columns are read as categories; those with too many
                // distinct values to be categories are dropped in `finish`
                let other: Vec<String> = schema
                    .iter()
                    .filter(|(n, k, _)| {
                        *k == ColumnKind::Other && !reserved(n) && !is_index_column(n)
                    })
                    .map(|(n, _, dtype)| format!("`{n}` ({dtype})"))
                    .collect();
                if !other.is_empty() {
                    notes.push(format!(
                        "the column(s) {} are neither numbers, booleans nor categories and were not \
                         used; save them as numbers (a date as days since a start, say) to scan them",
                        other.join(", ")
                    ));
                }
                categorical = text;
                FeatureSelection::Columns(numeric)
            }
        }
    };
    // a named column of the kind its role needs, or an error that says so
    let of_kind = |column: &Option<String>, want: ColumnKind, expected: &'static str| {
        let Some(c) = column else { return Ok(()) };
        let (_, kind, dtype) = find(c).ok_or_else(|| missing(c))?;
        if *kind == want {
            Ok(())
        } else {
            Err(IngestError::WrongType {
                column: c.clone(),
                dtype: dtype.clone(),
                expected,
            })
        }
    };
    of_kind(
        &opts.probs,
        ColumnKind::NumericList,
        "a probabilities column must be a list or array of numbers",
    )?;
    of_kind(
        &opts.caption,
        ColumnKind::Text,
        "a caption column must be text (what each row is, in words)",
    )?;
    let caption = match &opts.caption {
        Some(c) => Some(c.clone()),
        None => CAPTION_COLUMNS.iter().find_map(|want| {
            schema
                .iter()
                .find(|(n, k, _)| {
                    *k == ColumnKind::Text && !reserved(n) && n.eq_ignore_ascii_case(want)
                })
                .map(|(n, _, _)| n.clone())
        }),
    };
    Ok(Selection {
        label: opts.label.clone(),
        id: opts.id.clone(),
        features,
        probs: opts.probs.clone(),
        categorical,
        caption,
        notes,
    })
}

/// Names (of columns, files, folders), back-quoted, for messages.
pub(crate) fn quoted<S: std::fmt::Display>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A list (or fixed-size list) of numbers, or of such lists: a vector per
/// row, or an array of several dimensions (an image as `h × w [× c]`
/// nested lists, as pandas stores a column of 2-D NumPy arrays).
fn numeric_list(dt: &DataType) -> bool {
    match dt {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => f.data_type().is_numeric() || numeric_list(f.data_type()),
        _ => false,
    }
}

/// Whether a column holds Spark ML vectors (`pyspark.ml.linalg.Vector`, as
/// `VectorAssembler` and Spark ML's models write a `features` column to
/// Parquet): a struct of `type` (0 sparse, 1 dense), `size`, `indices` and
/// `values`.
pub(crate) fn spark_vector(dt: &DataType) -> bool {
    let DataType::Struct(fields) = dt else {
        return false;
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    names == ["type", "size", "indices", "values"]
        && fields[0].data_type().is_integer()
        && fields[1].data_type().is_integer()
        && numeric_list(fields[2].data_type())
        && numeric_list(fields[3].data_type())
}

/// A column of Spark ML vectors (see [`spark_vector`]) as lists of
/// numbers: a dense vector its values, a sparse one its `size` values, 0
/// but at its `indices`.
fn spark_vectors(
    array: &ArrayRef,
    column: &str,
    at: &dyn Fn(usize) -> super::RowLoc,
) -> Result<ArrayRef, IngestError> {
    let wrong = |expected| IngestError::WrongType {
        column: column.to_string(),
        dtype: array.data_type().to_string(),
        expected,
    };
    let vectors = array.as_struct();
    let int = |i: usize| {
        cast(vectors.column(i), &DataType::Int64)
            .map_err(|_| wrong("a Spark ML vector's type and size are whole numbers"))
    };
    let (kind, size) = (int(0)?, int(1)?);
    let (kind, size) = (
        kind.as_primitive::<Int64Type>(),
        size.as_primitive::<Int64Type>(),
    );
    let (indices, index_spans) = list_spans(vectors.column(2)).expect("a list");
    let (values, value_spans) = list_spans(vectors.column(3)).expect("a list");
    let indices = cast(&indices, &DataType::Int64)
        .map_err(|_| wrong("a Spark ML vector's indices are whole numbers"))?;
    let indices = indices.as_primitive::<Int64Type>();
    let values = cast(&values, &DataType::Float32)
        .map_err(|_| wrong("a Spark ML vector's values are numbers"))?;
    let values = values.as_primitive::<Float32Type>();
    let bad = |i: usize, what: &str| IngestError::NotAVector {
        at: at(i),
        column: column.to_string(),
        value: what.to_string(),
    };
    let mut builder = arrow::array::ListBuilder::new(arrow::array::Float32Builder::new());
    for i in 0..vectors.len() {
        if vectors.is_null(i) || kind.is_null(i) {
            builder.append_null();
            continue;
        }
        let (v0, vn) = value_spans[i];
        let row = &values.values()[v0..v0 + vn];
        if kind.value(i) == 1 {
            builder.values().append_slice(row);
            builder.append(true);
            continue;
        }
        let n = (!size.is_null(i))
            .then(|| usize::try_from(size.value(i)).ok())
            .flatten()
            .ok_or_else(|| bad(i, "a sparse vector without its size"))?;
        let (i0, inn) = index_spans[i];
        if inn != vn {
            return Err(bad(
                i,
                "a sparse vector with more indices than values or fewer",
            ));
        }
        let mut dense = vec![0f32; n];
        for (&j, &v) in indices.values()[i0..i0 + inn].iter().zip(row) {
            let slot = usize::try_from(j)
                .ok()
                .and_then(|j| dense.get_mut(j))
                .ok_or_else(|| bad(i, &format!("a sparse vector's index {j} of {n}")))?;
            *slot = v;
        }
        builder.values().append_slice(&dense);
        builder.append(true);
    }
    Ok(std::sync::Arc::new(builder.finish()))
}

/// Every row's `(start, len)` in a list array's values, with the values;
/// `None` for an array that is not a list.
fn list_spans(array: &ArrayRef) -> Option<(ArrayRef, Vec<(usize, usize)>)> {
    fn spans<O: arrow::array::OffsetSizeTrait>(
        l: &arrow::array::GenericListArray<O>,
    ) -> (ArrayRef, Vec<(usize, usize)>) {
        let o = l.value_offsets();
        let rows = o
            .windows(2)
            .map(|w| (w[0].as_usize(), (w[1] - w[0]).as_usize()));
        (l.values().clone(), rows.collect())
    }
    // list views (pyarrow's `list_view`, DuckDB's and Velox's lists): each
    // row its own offset and size
    fn view_spans<O: arrow::array::OffsetSizeTrait>(
        l: &arrow::array::GenericListViewArray<O>,
    ) -> (ArrayRef, Vec<(usize, usize)>) {
        let rows = l
            .value_offsets()
            .iter()
            .zip(l.value_sizes())
            .map(|(o, s)| (o.as_usize(), s.as_usize()));
        (l.values().clone(), rows.collect())
    }
    let n = array.len();
    Some(match array.data_type() {
        DataType::List(_) => spans(array.as_list::<i32>()),
        DataType::LargeList(_) => spans(array.as_list::<i64>()),
        DataType::ListView(_) => view_spans(array.as_list_view::<i32>()),
        DataType::LargeListView(_) => view_spans(array.as_list_view::<i64>()),
        DataType::FixedSizeList(_, _) => {
            let l = array.as_fixed_size_list();
            let s = l.value_length() as usize;
            (
                l.values().clone(),
                (0..n).map(|i| (l.value_offset_at(i), s)).collect(),
            )
        }
        _ => return None,
    })
}

/// The image shape of a field of Arrow's canonical `arrow.fixed_shape_tensor`
/// extension type whose `shape` is an image's ([`image_shape`]) and whose
/// dimensions are stored in that order (no `permutation`, or the identity).
fn tensor_image_shape(field: &arrow::datatypes::Field) -> Option<(usize, usize, usize)> {
    let meta = field.metadata();
    if meta.get("ARROW:extension:name")? != "arrow.fixed_shape_tensor" {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(meta.get("ARROW:extension:metadata")?).ok()?;
    let dims: Vec<usize> = v["shape"]
        .as_array()?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect::<Option<_>>()?;
    if let Some(p) = v.get("permutation").filter(|p| !p.is_null()) {
        let p = p.as_array()?;
        if p.iter()
            .enumerate()
            .any(|(k, d)| d.as_u64() != Some(k as u64))
        {
            return None;
        }
    }
    image_shape(&dims)
}

/// The image a row's array of `dims` (its dimensions, outermost first) is:
/// `h × w` (gray) or `h × w × c` with 1, 3 or 4 channels, sides of 8 or
/// more; `None` for any other shape.
pub(crate) fn image_shape(dims: &[usize]) -> Option<(usize, usize, usize)> {
    match *dims {
        [h, w] if h >= 8 && w >= 8 => Some((h, w, 1)),
        [h, w, c] if h >= 8 && w >= 8 && matches!(c, 1 | 3 | 4) => Some((h, w, c)),
        _ => None,
    }
}

/// The image shape of feature columns that are the pixels of square
/// grayscale images, as Kaggle's MNIST-style CSV files hold them (`label,
/// pixel0, …, pixel783`): 64 or more columns named one prefix that names
/// pixels (`pixel`, `pix`, `px`) and a number, numbered in order from 0 or 1,
/// as many as a square's. (A bare `p1`, `p2`, … may number anything: such
/// columns are judged by their values, [`super::layout::read_as_images`].)
fn pixel_columns(columns: &[String]) -> Option<(usize, usize)> {
    let side = super::layout::square_side(columns.len())?;
    let (prefix, first) = name_number(&columns[0])?;
    if !["pixel", "pix", "px"].contains(&prefix.as_str()) || first > 1 {
        return None;
    }
    for (k, c) in columns.iter().enumerate() {
        if name_number(c)? != (prefix.clone(), first + k) {
            return None;
        }
    }
    Some((side, side))
}

/// A column name's prefix (lower case, trailing `_`, `-`, ` ` dropped) and
/// trailing number: `pixel12` → (`pixel`, 12).
fn name_number(c: &str) -> Option<(String, usize)> {
    let digits = c.len() - c.trim_end_matches(|ch: char| ch.is_ascii_digit()).len();
    let (prefix, number) = c.split_at(c.len() - digits);
    Some((
        prefix
            .trim_end_matches(['_', '-', ' '])
            .to_ascii_lowercase(),
        number.parse().ok()?,
    ))
}

/// The longest run of at least 64 columns named one prefix and numbers
/// counting up by one from 0 or 1 (`p0 … p783` between `label`, `width`
/// and `height`), as positions in `columns`.
fn numbered_run(columns: &[String]) -> Option<std::ops::Range<usize>> {
    let named: Vec<Option<(String, usize)>> = columns.iter().map(|c| name_number(c)).collect();
    let mut best: Option<std::ops::Range<usize>> = None;
    let mut start = 0;
    while start < columns.len() {
        let Some((prefix, first)) = named[start].clone().filter(|(_, k)| *k <= 1) else {
            start += 1;
            continue;
        };
        let mut end = start + 1;
        while named
            .get(end)
            .and_then(Option::as_ref)
            .is_some_and(|(p, k)| *p == prefix && *k == first + (end - start))
        {
            end += 1;
        }
        if end - start >= 64 && best.as_ref().is_none_or(|b| end - start > b.len()) {
            best = Some(start..end);
        }
        start = end;
    }
    best
}

/// The values of columns `run` of `n` rows of `dim` values.
fn columns_of(
    values: &[f32],
    n: usize,
    dim: usize,
    run: std::ops::Range<usize>,
) -> ScalarBuffer<f32> {
    (0..n)
        .flat_map(|i| {
            values[i * dim + run.start..i * dim + run.end]
                .iter()
                .copied()
        })
        .collect::<Vec<f32>>()
        .into()
}

/// Numeric columns `cs` (`n` rows of `dim` values, rewritten channels last
/// where they came one plane per channel) read as images, by their names
/// ([`pixel_columns`]) or by their values ([`super::layout`]), with the
/// note that says so.
fn columns_as_images(
    values: &mut ScalarBuffer<f32>,
    n: usize,
    dim: usize,
    cs: &[String],
) -> Option<(FeatureSource, String)> {
    let what = format!(
        "the {} columns `{}` … `{}`",
        cs.len(),
        cs[0],
        cs[cs.len() - 1]
    );
    match pixel_columns(cs) {
        Some((height, width)) => Some((
            FeatureSource::Pixels {
                height,
                width,
                channels: 1,
            },
            format!(
                "read {what} as {height}x{width} images (--image-shape HxW[xC] sets another \
                 shape, none reads them as columns)"
            ),
        )),
        None => super::layout::read_as_images(values, n, dim, &what),
    }
}

/// Numeric columns `cs` (`n` rows of `dim` values) read as images: all of
/// them, or, when the user did not name them (`named`), the run of
/// numbered ones among them ([`numbered_run`]), the values and `dim` then
/// cut to the run's and the others named in the note as not scanned.
fn table_as_images(
    values: &mut ScalarBuffer<f32>,
    dim: &mut usize,
    n: usize,
    cs: &[String],
    named: bool,
) -> Option<(FeatureSource, String)> {
    if let Some(found) = columns_as_images(values, n, *dim, cs) {
        return Some(found);
    }
    let run = numbered_run(cs).filter(|r| r.len() < cs.len() && !named)?;
    let mut kept = columns_of(values, n, *dim, run.clone());
    let (source, note) = columns_as_images(&mut kept, n, run.len(), &cs[run.clone()])?;
    let others: Vec<String> = cs
        .iter()
        .enumerate()
        .filter(|(j, _)| !run.contains(j))
        .map(|(_, c)| format!("`{c}`"))
        .collect();
    *values = kept;
    *dim = run.len();
    Some((
        source,
        format!(
            "{note}; the other numeric column(s) {} were not scanned (name them in --features \
             to scan every column as a table)",
            others.join(", ")
        ),
    ))
}

/// A note for a table of `dim` numeric columns (`values`) that could hold
/// square pictures — `s²` or `3s²` of them, sides of 8 or more, every value
/// a byte (a whole number in 0–255) or in [0, 1] — but were not read as
/// such: how to say they are.
fn square_hint(values: &[f32], dim: usize) -> Option<String> {
    use super::layout::square_side;
    let shape = match (
        square_side(dim),
        dim.is_multiple_of(3).then(|| square_side(dim / 3)),
    ) {
        (Some(s), _) => format!("{s}x{s}"),
        (None, Some(Some(s))) => format!("{s}x{s}x3"),
        _ => return None,
    };
    // the values last: a pass over the whole table
    let bytes = values
        .iter()
        .all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0);
    if !bytes && !values.iter().all(|v| (0.0..=1.0).contains(v)) {
        return None;
    }
    Some(format!(
        "scanned the {dim} numeric columns as a table: their values do not move together as \
         neighbouring pixels do; if they are {shape} pictures, pass --image-shape {shape} to \
         scan them as images (--image-shape none silences this)"
    ))
}

/// How an arrow type can be used.
pub(crate) fn arrow_kind(dt: &DataType) -> ColumnKind {
    match dt {
        d if d.is_numeric() => ColumnKind::Numeric,
        // 0 and 1
        DataType::Boolean => ColumnKind::Numeric,
        d if numeric_list(d) || spark_vector(d) => ColumnKind::NumericList,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => ColumnKind::Image,
        DataType::Struct(fields)
            if fields.iter().any(|f| {
                f.name() == "bytes"
                    && matches!(
                        f.data_type(),
                        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                    )
            }) =>
        {
            ColumnKind::Image
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnKind::Text,
        // pandas' `category` dtype, polars' `Categorical`
        DataType::Dictionary(_, values)
            if matches!(
                **values,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            ColumnKind::Text
        }
        _ => ColumnKind::Other,
    }
}

/// Builds a [`Dataset`] from a record batch: the public entry point for
/// callers that already hold Arrow data. Rows are reported 0-based within
/// the batch.
pub fn from_record_batch(batch: &RecordBatch, opts: &TableOptions) -> Result<Dataset, IngestError> {
    from_record_batches(batch.schema_ref(), std::slice::from_ref(batch), opts)
}

/// Builds a [`Dataset`] from record batches that share `schema` (an Arrow
/// stream, read whole): the batches are read in place, with no copy but
/// the one into the feature matrix. Rows are reported 0-based across the
/// batches.
pub fn from_record_batches(
    schema: &arrow::datatypes::Schema,
    batches: &[RecordBatch],
    opts: &TableOptions,
) -> Result<Dataset, IngestError> {
    let hints = Hints::from_schema(schema);
    let mut described = describe(schema);
    let notes = text_column_kinds(&mut described, None, |_| {
        let first = batches.first()?;
        Some(first.slice(0, first.num_rows().min(HEAD_ROWS)))
    });
    let mut sel = select(&described, &hints.apply(opts), None)?;
    sel.notes.extend(notes);
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let mut builder = DatasetBuilder::new(sel, opts, rows);
    builder.set_hints(hints);
    for batch in batches {
        builder.push(batch)?;
    }
    builder.finish()
}

/// Tells, from their first values, the text columns that hold what text
/// only carries: vectors written as text (`[0.1, 0.2, …]`, every value of
/// one length: a list column that pandas saved to CSV, as embeddings often
/// are) are a vector column; names of image files (`photos/0001.jpg`), some
/// of them found (beside `table`, the file the column comes from, or from
/// the working directory), an image column: a table of image paths and
/// labels, as Kaggle data sets and Hugging Face's `metadata.csv` keep them.
/// `head` reads the first [`HEAD_ROWS`] rows of the named (text) columns,
/// all at once. Returns notes for the summary: a column of image names none
/// of which is found.
pub(crate) fn text_column_kinds(
    described: &mut [(String, ColumnKind, String)],
    table: Option<&std::path::Path>,
    head: impl FnOnce(&[String]) -> Option<RecordBatch>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let text: Vec<String> = described
        .iter()
        .filter(|(_, kind, _)| *kind == ColumnKind::Text)
        .map(|(name, _, _)| name.clone())
        .collect();
    if text.is_empty() {
        return notes;
    }
    let Some(head) = head(&text) else {
        return notes;
    };
    for (name, kind, _) in described.iter_mut() {
        if *kind != ColumnKind::Text {
            continue;
        }
        let values = head
            .column_by_name(name)
            .map(text_sample)
            .unwrap_or_default();
        // vectors written as text (`[0.1, 0.2, …]`: a list column saved to
        // CSV by pandas, as embeddings often are); most of the first values
        // are, and a row that is not is an error naming it
        let vectors = values
            .iter()
            .filter(|v| text_vector(v).is_some_and(|x| x.len() >= 2))
            .count();
        if !values.is_empty() && 2 * vectors >= values.len() {
            *kind = ColumnKind::NumericList;
            continue;
        }
        // images written as base64 text (bare, or data URIs)
        if !values.is_empty() && values.iter().all(|v| base64_image(v).is_some()) {
            *kind = ColumnKind::Image;
            continue;
        }
        // pictures named by their file names without an extension, in a
        // folder beside the table (Kaggle's `labels.csv` of ids beside
        // `train/<id>.jpg`): some of the first values are found so
        let ids = {
            let distinct: BTreeSet<&str> = values.iter().map(|v| v.trim()).collect();
            distinct.len() == values.len()
                && values
                    .iter()
                    .all(|v| !v.trim().is_empty() && !v.trim().contains(char::is_whitespace))
        };
        if !values.is_empty() && ids && !values.iter().any(|v| is_image_path(v)) {
            // each value's pictures, looked up once
            let matches: Vec<(&str, Vec<std::path::PathBuf>)> = values
                .iter()
                .map(|v| (v.trim(), pictures_by_stem(v.trim(), table)))
                .collect();
            let found: Vec<(&str, &std::path::PathBuf)> = matches
                .iter()
                .filter_map(|(v, p)| match p.as_slice() {
                    [one] => Some((*v, one)),
                    _ => None,
                })
                .collect();
            let twice = matches.iter().map(|(_, p)| p).find(|p| p.len() > 1);
            if let (true, Some(two)) = (2 * found.len() < values.len(), twice) {
                notes.push(format!(
                    "column `{name}` names pictures without their extension, but `{}` is both \
                     `{}` and `{}`: keep one copy of the pictures beside the table, or give \
                     their paths",
                    two[0].file_stem().unwrap_or_default().to_string_lossy(),
                    two[0].display(),
                    two[1].display()
                ));
            }
            if 2 * found.len() >= values.len() {
                *kind = ColumnKind::Image;
                let dir = table
                    .and_then(|t| t.parent())
                    .unwrap_or(std::path::Path::new(""));
                let (value, picture) = found[0];
                let shown = picture
                    .strip_prefix(dir)
                    .or_else(|_| picture.strip_prefix("."))
                    .unwrap_or(picture);
                notes.push(format!(
                    "column `{name}` names pictures without their extension: `{value}` is `{}`, \
                     read as an image column",
                    shown.display()
                ));
            }
            continue;
        }
        if values.is_empty() || !values.iter().all(|v| is_image_path(v)) {
            continue;
        }
        // names of image files that are there (a column of image URLs, or
        // of files kept elsewhere, stays text, with a note)
        if values.iter().any(|v| image_file(v.trim(), table).is_file()) {
            *kind = ColumnKind::Image;
        } else if !values.iter().any(|v| v.contains("://")) {
            notes.push(format!(
                "column `{name}` names image files, but none of its first ones is found \
                 (`{}`, beside the table, below it, above it or from the working directory): \
                 read as text; scan \
                 from the folder its paths start from to scan the images",
                values[0]
            ));
        }
    }
    notes
}

/// The numbers of a vector written as text: `[0.1, -2, 3e-4]` (JSON, or
/// Python's list), `[0.1 -2 3e-4]` (NumPy's), in brackets or parentheses;
/// or bare, separated by spaces, at least [`BARE_VECTOR`] of them (FER-2013's
/// `pixels` column: `70 80 82 …`, 2,304 a row); `None` for anything else.
fn text_vector(value: &str) -> Option<Vec<f32>> {
    let v = value.trim();
    let numbers = |inner: &str, separators: &dyn Fn(char) -> bool| -> Option<Vec<f32>> {
        inner
            .split(separators)
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<f32>().ok())
            .collect()
    };
    match v
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .or_else(|| v.strip_prefix('(').and_then(|v| v.strip_suffix(')')))
    {
        Some(inner) => numbers(inner, &|c: char| c == ',' || c.is_whitespace()),
        None => numbers(v, &char::is_whitespace).filter(|x| x.len() >= BARE_VECTOR),
    }
}

/// Least numbers in a vector written bare, without brackets: fewer, and a
/// text of a few numbers (`3 4`, a size or a date's parts) is not taken for
/// one.
const BARE_VECTOR: usize = 8;

/// A text column of vectors (see [`text_vector`]) as a list column; a value
/// that is not one is an error naming its row.
fn text_vectors(
    array: &ArrayRef,
    column: &str,
    at: &dyn Fn(usize) -> super::RowLoc,
) -> Result<ArrayRef, IngestError> {
    let text = cast(array, &DataType::Utf8).map_err(|e| IngestError::WrongType {
        column: column.to_string(),
        dtype: format!("{} ({e})", array.data_type()),
        expected: "a vector column written as text must hold text",
    })?;
    let text = text.as_string::<i32>();
    let mut builder = arrow::array::ListBuilder::new(arrow::array::Float32Builder::new());
    for (i, value) in text.iter().enumerate() {
        match value {
            None => builder.append_null(),
            Some(v) => {
                let numbers = text_vector(v).ok_or_else(|| IngestError::NotAVector {
                    at: at(i),
                    column: column.to_string(),
                    value: v.chars().take(40).collect(),
                })?;
                builder.values().append_slice(&numbers);
                builder.append(true);
            }
        }
    }
    Ok(std::sync::Arc::new(builder.finish()))
}

/// Rows read to tell what a text column holds (see [`text_column_kinds`]).
pub(crate) const HEAD_ROWS: usize = 32;

/// The non-null values of a text column's first rows (as text; a
/// dictionary of strings too), at most [`HEAD_ROWS`].
pub(crate) fn text_sample(array: &ArrayRef) -> Vec<String> {
    let Ok(text) = cast(array, &DataType::Utf8) else {
        return Vec::new();
    };
    let text = text.as_string::<i32>();
    text.iter()
        .flatten()
        .take(HEAD_ROWS)
        .map(String::from)
        .collect()
}

/// Name, kind and type name of every column of an Arrow schema.
pub(crate) fn describe(schema: &arrow::datatypes::Schema) -> Vec<(String, ColumnKind, String)> {
    schema
        .fields()
        .iter()
        .map(|f| {
            (
                f.name().clone(),
                arrow_kind(f.data_type()),
                f.data_type().to_string(),
            )
        })
        .collect()
}

/// The features of every row of a batch, with the first problem of each bad
/// row (row numbers within the batch).
struct Extracted {
    values: ScalarBuffer<f32>,
    dim: usize,
    invalid: Vec<(usize, &'static str, String)>,
    /// The dimensions of each row's values when they came as nested lists
    /// (`[h, w]` for `h` lists of `w` numbers); empty otherwise.
    shape: Vec<usize>,
    /// Decoded images: each row's tone at its picture's own size, whether
    /// any picture was scaled ([`super::decode::tone_rows`]), and whether
    /// any was lossy ([`super::decode::any_lossy`]).
    tones: Option<(Vec<f32>, bool, bool)>,
}

/// Feature values gathered so far: the first batch's buffer as it is (no
/// copy when the data came in one batch), then an owned copy.
enum Values {
    Shared(ScalarBuffer<f32>),
    Owned(Vec<f32>),
}

/// Builds a [`Dataset`] from record batches pushed one after another, so
/// that a streaming reader holds only one batch beside the feature matrix.
pub(crate) struct DatasetBuilder<'a> {
    opts: &'a TableOptions,
    sel: Selection,
    sources: Vec<SourceFile>,
    labels: Vec<ArrayRef>,
    ids: Vec<ArrayRef>,
    captions: Vec<ArrayRef>,
    values: Values,
    probs: Vec<f32>,
    n_probs: Option<usize>,
    capacity: usize,
    dim: Option<usize>,
    invalid: Vec<(usize, &'static str, String)>,
    /// Rows with no label (a null, or a Hugging Face `ClassLabel`'s -1),
    /// skipped with `--drop-invalid`: each row and what its label is.
    unlabelled: Vec<(usize, &'static str)>,
    rows: usize,
    hints: Hints,
    /// Size and channels every image of an image column is scanned at,
    /// chosen from the first batch.
    image: Option<ImagePlan>,
    /// `--resize`, for image columns.
    resize: Option<(u32, u32)>,
    /// The text columns read as categories, in the selection's order.
    categories: Vec<Categories>,
    notes: Vec<String>,
    /// An image column's rows' tones at their pictures' own sizes, whether
    /// any picture was scaled (see [`Dataset::tones`]), and whether any was
    /// lossy (see [`Dataset::lossy`]).
    tones: (Vec<f32>, bool, bool),
}

/// A text column read as categories: each row's value as a code, in order
/// of first appearance (a null is a value of its own).
struct Categories {
    column: String,
    codes: Vec<u32>,
    index: HashMap<String, u32>,
    /// The code of a null, once one was seen.
    null: Option<u32>,
    /// More than [`MAX_CATEGORIES`] values: free text, not categories (the
    /// codes are no longer kept).
    overflow: bool,
    /// Each row's number while every value so far is one as spreadsheets
    /// write them (see [`formatted_number`]; `NaN` for a null); `None`
    /// once a value is not.
    numbers: Option<Vec<f32>>,
    /// Some value so far carries such formatting (`1,234`, `$5`, `12%`).
    formatting_seen: bool,
}

/// The number a text is, written as spreadsheets format them — `1,234`,
/// `-1,234.5`, `12.5%` (12.5), `$1,200`, `€ 30` — and whether it carries
/// any of that formatting (plain `12` does not); `None` for other text.
fn formatted_number(text: &str) -> Option<(f32, bool)> {
    let t = text.trim();
    let negative = t.starts_with('-');
    let t = t.strip_prefix(['+', '-']).unwrap_or(t).trim_start();
    let (t, currency) = match t.strip_prefix(['$', '€', '£', '¥']) {
        Some(rest) => (rest.trim_start(), true),
        None => (t, false),
    };
    let (t, percent) = match t.strip_suffix('%') {
        Some(rest) => (rest.trim_end(), true),
        None => (t, false),
    };
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    let groups: Vec<&str> = whole.split(',').collect();
    let grouped = groups.len() > 1;
    let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    let whole_ok = digits(groups[0])
        && groups[0].len() <= if grouped { 3 } else { usize::MAX }
        && groups[1..].iter().all(|g| g.len() == 3 && digits(g));
    let fraction_ok = fraction.is_empty() || digits(fraction);
    if !(whole_ok && fraction_ok && !t.ends_with('.')) {
        return None;
    }
    let plain = format!(
        "{}{}.{}",
        if negative { "-" } else { "" },
        groups.concat(),
        if fraction.is_empty() { "0" } else { fraction }
    );
    let value = plain.parse::<f32>().ok()?;
    Some((value, grouped || currency || percent))
}

impl Categories {
    fn new(column: &str) -> Self {
        Self {
            column: column.to_string(),
            codes: Vec::new(),
            index: HashMap::new(),
            null: None,
            overflow: false,
            numbers: Some(Vec::new()),
            formatting_seen: false,
        }
    }

    /// How many values were seen (a null counts as one).
    fn distinct(&self) -> usize {
        self.index.len() + self.null.is_some() as usize
    }

    fn push(&mut self, array: &ArrayRef) -> Result<(), IngestError> {
        if self.overflow && self.numbers.is_none() {
            return Ok(());
        }
        let strings = cast(array, &DataType::Utf8).map_err(|e| IngestError::WrongType {
            column: self.column.clone(),
            dtype: format!("{} ({e})", array.data_type()),
            expected: "a categorical feature column must hold text",
        })?;
        let strings = strings.as_string::<i32>();
        if let Some(numbers) = &mut self.numbers {
            for v in strings.iter() {
                match v.map(formatted_number) {
                    None => numbers.push(f32::NAN),
                    Some(Some((x, formatting))) => {
                        numbers.push(x);
                        self.formatting_seen |= formatting;
                    }
                    Some(None) => {
                        self.numbers = None;
                        break;
                    }
                }
            }
        }
        if self.overflow {
            return Ok(());
        }
        for i in 0..strings.len() {
            let known = if strings.is_valid(i) {
                self.index.get(strings.value(i)).copied()
            } else {
                self.null
            };
            let code = match known {
                Some(c) => c,
                None => {
                    if self.distinct() == MAX_CATEGORIES {
                        self.overflow = true;
                        self.codes = Vec::new();
                        self.index = HashMap::new();
                        return Ok(());
                    }
                    let c = self.distinct() as u32;
                    if strings.is_valid(i) {
                        self.index.insert(strings.value(i).to_string(), c);
                    } else {
                        self.null = Some(c);
                    }
                    c
                }
            };
            self.codes.push(code);
        }
        Ok(())
    }

    /// The values in sorted order (a null last), each with its code.
    fn sorted(&self) -> Vec<(Option<&str>, u32)> {
        let mut values: Vec<(Option<&str>, u32)> = self
            .index
            .iter()
            .map(|(v, &c)| (Some(v.as_str()), c))
            .collect();
        values.sort_unstable();
        values.extend(self.null.map(|c| (None, c)));
        values
    }
}

/// The size and channels of an image column's pixels.
#[derive(Debug, Clone, Copy)]
struct ImagePlan {
    width: u32,
    height: u32,
    channels: usize,
}

impl<'a> DatasetBuilder<'a> {
    /// Uses the first file's schema hints (image shape of its feature column).
    pub fn set_hints(&mut self, hints: Hints) {
        self.hints = hints;
    }

    /// A builder for the selected columns; `capacity` is the expected row count.
    pub fn new(sel: Selection, opts: &'a TableOptions, capacity: usize) -> Self {
        Self {
            opts,
            sources: Vec::new(),
            labels: Vec::new(),
            ids: Vec::new(),
            captions: Vec::new(),
            values: Values::Owned(Vec::new()),
            probs: Vec::new(),
            tones: (Vec::new(), false, false),
            n_probs: None,
            capacity,
            dim: None,
            invalid: Vec::new(),
            unlabelled: Vec::new(),
            rows: 0,
            hints: Hints::default(),
            image: None,
            resize: None,
            categories: sel.categorical.iter().map(|c| Categories::new(c)).collect(),
            notes: Vec::new(),
            sel,
        }
    }

    /// Scales the images of an image column to this size (`--resize`).
    pub fn set_resize(&mut self, resize: Option<(u32, u32)>) {
        self.resize = resize;
    }

    /// Records the file that the next batches come from.
    pub fn add_source(&mut self, source: SourceFile) {
        self.sources.push(source);
    }

    /// Adds a note for the summary.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// The columns chosen.
    pub fn selection(&self) -> &Selection {
        &self.sel
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds the rows of one batch.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let offset = self.rows;
        let sources = &self.sources;
        let at = |row: usize| locate(sources, (offset + row) as u64);
        let column = |name: &str| -> Result<ArrayRef, IngestError> {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| IngestError::MissingColumn {
                    column: name.to_string(),
                    file: sources.last().map(|s| s.path.clone()),
                    available: batch
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect(),
                })
        };
        let labels = column(&self.sel.label)?;
        let no_label = NoLabel::new(&labels, &self.hints, &self.sel.label);
        if let Some(row) = (0..n).find(|&i| no_label.at(i).is_some()) {
            if !self.opts.drop_invalid {
                return Err(match labels.is_null(row) {
                    true => IngestError::NullLabel {
                        at: at(row),
                        column: self.sel.label.clone(),
                    },
                    false => IngestError::NoClassLabel {
                        at: at(row),
                        column: self.sel.label.clone(),
                    },
                });
            }
            self.unlabelled
                .extend((row..n).filter_map(|i| no_label.at(i).map(|what| (i + offset, what))));
        }
        let ids = self.sel.id.as_deref().map(column).transpose()?;
        let caption = self.sel.caption.as_deref().map(column).transpose()?;
        let probs = match &self.sel.probs {
            Some(p) => Some(embedding(&column(p)?, p, self.n_probs, &at)?),
            None => None,
        };
        let extracted = match &self.sel.features {
            FeatureSelection::Embedding(c) => {
                let mut array = column(c)?;
                if spark_vector(array.data_type()) {
                    array = spark_vectors(&array, c, &at)?;
                } else if !numeric_list(array.data_type()) {
                    array = text_vectors(&array, c, &at)?;
                }
                let extracted = embedding(&array, c, self.dim, &at)?;
                // nested lists of an image's shape are an image (unless the
                // file says otherwise)
                if self.hints.image_shape.is_none() {
                    let image = image_shape(&extracted.shape);
                    if image.is_some() {
                        self.hints.image_shape = image;
                        self.hints.features = Some(c.clone());
                    }
                }
                extracted
            }
            FeatureSelection::Columns(cs) => scalar_columns(batch, cs)?,
            FeatureSelection::Image(c) => {
                let (extracted, plan, notes) =
                    images(&column(c)?, c, self.image, self.resize, &at)?;
                if self.image.is_none() {
                    self.notes.extend(notes);
                }
                self.image = Some(plan);
                extracted
            }
        };
        if let Some(p) = probs {
            self.n_probs = Some(p.dim);
            self.invalid
                .extend(p.invalid.into_iter().map(|(r, w, f)| (r + offset, w, f)));
            self.probs.extend_from_slice(&p.values);
        }
        if extracted.dim == 0 && self.categories.is_empty() {
            return Err(IngestError::Empty(
                "the feature vectors have no values".into(),
            ));
        }
        for categories in &mut self.categories {
            categories.push(&column(&categories.column)?)?;
        }
        if self.dim.is_none() {
            let what = sources
                .last()
                .map_or_else(|| "the input".to_string(), |s| s.path.display().to_string());
            super::check_fits(self.capacity.max(n), extracted.dim, &what)?;
        }
        self.dim = Some(extracted.dim);
        self.invalid.extend(
            extracted
                .invalid
                .into_iter()
                .map(|(r, w, f)| (r + offset, w, f)),
        );
        self.values = match std::mem::replace(&mut self.values, Values::Owned(Vec::new())) {
            Values::Owned(v) if v.is_empty() && self.rows == 0 => Values::Shared(extracted.values),
            Values::Owned(mut v) => {
                v.extend_from_slice(&extracted.values);
                Values::Owned(v)
            }
            Values::Shared(first) => {
                let mut v = Vec::with_capacity(self.capacity.max(self.rows + n) * extracted.dim);
                v.extend_from_slice(&first);
                v.extend_from_slice(&extracted.values);
                Values::Owned(v)
            }
        };
        if let Some((tones, scaled, lossy)) = extracted.tones {
            self.tones.0.extend_from_slice(&tones);
            self.tones.1 |= scaled;
            self.tones.2 |= lossy;
        }
        self.labels.push(labels);
        self.ids.extend(ids);
        self.captions.extend(caption);
        self.rows += n;
        Ok(())
    }

    /// Checks what was gathered and builds the data set.
    pub fn finish(mut self) -> Result<Dataset, IngestError> {
        let n = self.rows;
        // One entry per bad row, the earliest problem first.
        self.invalid.sort_by_key(|(row, _, _)| *row);
        self.invalid.dedup_by_key(|(row, _, _)| *row);
        let (Some(dim), true) = (self.dim, n > 0) else {
            return Err(IngestError::Empty("no rows".into()));
        };
        let at = |row: usize| locate(&self.sources, row as u64);
        let mut dropped = Vec::new();
        let mut keep = vec![true; n];
        if let Some((row, what, feature)) = self.invalid.first() {
            if !self.opts.drop_invalid {
                return Err(IngestError::InvalidFeature {
                    at: at(*row),
                    what,
                    feature: feature.clone(),
                });
            }
            for (row, what, feature) in &self.invalid {
                keep[*row] = false;
                dropped.push(DroppedRow {
                    row: *row as u64,
                    reason: format!("{what} in feature {feature}"),
                });
            }
        }
        for &(row, what) in &self.unlabelled {
            if keep[row] {
                keep[row] = false;
                dropped.push(DroppedRow {
                    row: row as u64,
                    reason: format!("no label (`{}` is {what})", self.sel.label),
                });
            }
        }
        dropped.sort_by_key(|d| d.row);
        let kept_rows: Vec<u64> = (0..n).filter(|&i| keep[i]).map(|i| i as u64).collect();
        if kept_rows.is_empty() {
            return Err(IngestError::Empty(nothing_left(&dropped)));
        }
        let lossy = self.tones.2 || self.hints.lossy;
        let tones = match std::mem::take(&mut self.tones) {
            (t, true, _) if kept_rows.len() == n => Some(t),
            (t, true, _) => Some(compact(&t, &kept_rows, t.len() / n)),
            _ => None,
        };
        let values: ScalarBuffer<f32> = match self.values {
            Values::Shared(b) if kept_rows.len() == n => b,
            Values::Owned(v) if kept_rows.len() == n => v.into(),
            Values::Shared(b) => compact(&b, &kept_rows, dim).into(),
            Values::Owned(v) => compact(&v, &kept_rows, dim).into(),
        };
        let (values, dim) = drop_identifiers(
            &mut self.sel,
            &mut self.notes,
            values,
            dim,
            kept_rows.len(),
            !self.opts.features.is_empty(),
        );
        let (mut values, mut dim, indicators) = one_hot(
            &self.categories,
            !self.opts.features.is_empty(),
            &mut self.notes,
            values,
            dim,
            &kept_rows,
        )
        .map_err(|e| match e {
            // what the selection noted of the columns the error names
            // (pictures named twice beside the table)
            IngestError::Option(message) => {
                let said: Vec<&str> = self
                    .sel
                    .notes
                    .iter()
                    .filter(|n| {
                        n.split('`')
                            .nth(1)
                            .is_some_and(|c| message.contains(&format!("`{c}`")))
                    })
                    .map(String::as_str)
                    .collect();
                if said.is_empty() {
                    IngestError::Option(message)
                } else {
                    IngestError::Option(format!("{message}; {}", said.join("; ")))
                }
            }
            e => e,
        })?;
        let labels = concat_same_type(&self.labels, &self.sel.label, &mut self.notes)?;
        let ids = match &self.sel.id {
            Some(id) => Some(concat_same_type(&self.ids, id, &mut self.notes)?),
            None => None,
        };
        let captions = match &self.sel.caption {
            Some(c) => Some((
                c.clone(),
                concat_same_type(&self.captions, c, &mut self.notes)?,
            )),
            None => None,
        };
        // a list of one value a row (`[3]`, `["cat"]`, as a multi-label
        // export writes single labels): that value
        let labels = match single_values(&labels) {
            Some(values) => {
                self.notes.push(format!(
                    "the labels `{}` are lists of one value; each row's class is that value",
                    self.sel.label
                ));
                values
            }
            None => labels,
        };
        let labels = match label_rows(&labels, &self.sel.label)? {
            Some((classes, k)) => {
                self.notes.push(format!(
                    "the labels `{}` are one-hot rows ({k} classes); each row's class is the \
                     position of its 1",
                    self.sel.label
                ));
                std::sync::Arc::new(arrow::array::Int64Array::from(classes)) as ArrayRef
            }
            None => labels,
        };
        let label_values = LabelValues::read(&labels, &self.sel.label)?;
        let (label_codes, class_names) = label_values.encode(&kept_rows);
        // labels that differ only in spaces or case are different classes,
        // and most likely one class typed two ways
        let mut by_plain: HashMap<String, Vec<&str>> = HashMap::new();
        for name in &class_names {
            by_plain
                .entry(name.trim().to_lowercase())
                .or_default()
                .push(name);
        }
        let mut alike: Vec<String> = by_plain
            .values()
            .filter(|v| v.len() > 1)
            .map(|v| {
                v.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            })
            .collect();
        alike.sort();
        if !alike.is_empty() {
            self.notes.push(format!(
                "labels {} differ only in spaces or case, and are scanned as different classes",
                alike.join("; ")
            ));
        }
        let class_titles = match (&label_values, self.hints.class_names(&self.sel.label)) {
            (LabelValues::Int(_), Some(names)) => Some(
                class_names
                    .iter()
                    .map(|v| {
                        v.parse::<usize>()
                            .ok()
                            .and_then(|i| names.get(i))
                            .cloned()
                            .unwrap_or_else(|| v.clone())
                    })
                    .collect(),
            ),
            _ => None,
        };
        super::check_classes(&class_names)?;
        let probs = match (&self.sel.probs, self.n_probs) {
            (Some(column), Some(width)) => {
                if width != class_names.len() {
                    return Err(IngestError::Option(format!(
                        "column `{column}` has {width} probabilities per row, but the labels have {} classes ({}); \
                         give one probability per class, in this order",
                        class_names.len(),
                        class_names.join(", ")
                    )));
                }
                Some(if kept_rows.len() == n {
                    ScalarBuffer::from(self.probs)
                } else {
                    compact(&self.probs, &kept_rows, width).into()
                })
            }
            _ => None,
        };
        if let Some((h, w, c)) = self.opts.image_shape.shape() {
            if h * w * c != dim {
                return Err(IngestError::Option(format!(
                    "--image-shape {h}x{w}x{c} holds {} values, but each row has {dim} features",
                    h * w * c
                )));
            }
        }
        let as_table = |sel: &FeatureSelection| match sel {
            FeatureSelection::Embedding(c) => FeatureSource::Embedding { column: c.clone() },
            FeatureSelection::Columns(cs) => FeatureSource::Columns {
                columns: cs.iter().cloned().chain(indicators.names.clone()).collect(),
                categorical: indicators.columns.clone(),
            },
            FeatureSelection::Image(_) => unreachable!("an image column is read as images"),
        };
        let feature_source = match (&self.sel.features, self.opts.image_shape) {
            (FeatureSelection::Image(_), _) => {
                let plan = self.image.expect("an image column was read");
                FeatureSource::Pixels {
                    height: plan.height as usize,
                    width: plan.width as usize,
                    channels: plan.channels,
                }
            }
            (_, AsImages::Shape(height, width, channels)) => FeatureSource::Pixels {
                height,
                width,
                channels,
            },
            (sel, AsImages::Never) => as_table(sel),
            (FeatureSelection::Embedding(c), AsImages::Infer) => match self.hints.image_shape {
                Some((height, width, channels))
                    if self.hints.features.as_ref() == Some(c)
                        && height * width * channels == dim =>
                {
                    FeatureSource::Pixels {
                        height,
                        width,
                        channels,
                    }
                }
                _ => super::layout::read_as_images(
                    &mut values,
                    kept_rows.len(),
                    dim,
                    &format!("`{c}` ({dim} values a row)"),
                )
                .map(|(source, note)| {
                    self.notes.push(note);
                    source
                })
                .unwrap_or_else(|| as_table(&self.sel.features)),
            },
            (FeatureSelection::Columns(cs), AsImages::Infer) if indicators.names.is_empty() => {
                let named = !self.opts.features.is_empty();
                match table_as_images(&mut values, &mut dim, kept_rows.len(), cs, named) {
                    Some((source, note)) => {
                        self.notes.push(note);
                        source
                    }
                    None => {
                        self.notes.extend(square_hint(&values, dim));
                        as_table(&self.sel.features)
                    }
                }
            }
            (sel, AsImages::Infer) => as_table(sel),
        };
        let mut notes = self.sel.notes.clone();
        notes.append(&mut self.notes);
        Ok(Dataset {
            n_input_rows: n,
            kept_rows,
            dropped,
            ids,
            id_column: self.sel.id,
            captions,
            labels,
            label_column: self.sel.label,
            label_codes,
            class_names,
            features: values,
            n_features: dim,
            probs,
            feature_source,
            sources: self.sources,
            inputs: None,
            notes,
            class_titles,
            tones,
            lossy,
        })
    }
}

/// The indicator features of categorical columns.
#[derive(Default)]
struct Indicators {
    /// One per value, `column=value`.
    names: Vec<String>,
    /// The columns they encode.
    columns: Vec<String>,
}

/// Leaves out the numeric columns named like identifiers whose every
/// row holds its own value (`PassengerId`, `customer_id`): numbers
/// that name a row, which would enter every distance as noise. One
/// whose values repeat (a store's `StoreID`) is a feature, and so is one
/// `--features` named (`explicit`). `values`: `rows × dim`, one column per
/// numeric feature column.
fn drop_identifiers(
    sel: &mut Selection,
    notes: &mut Vec<String>,
    values: ScalarBuffer<f32>,
    dim: usize,
    rows: usize,
    explicit: bool,
) -> (ScalarBuffer<f32>, usize) {
    let FeatureSelection::Columns(cols) = &mut sel.features else {
        return (values, dim);
    };
    if explicit {
        return (values, dim);
    }
    let distinct = |j: usize| {
        let mut v: Vec<f32> = (0..rows).map(|r| values[r * dim + j]).collect();
        v.sort_by(f32::total_cmp);
        rows > 1 && v.windows(2).all(|w| w[0] != w[1])
    };
    let drop: Vec<usize> = (0..cols.len().min(dim))
        .filter(|&j| looks_like_id(&cols[j]) && distinct(j))
        .collect();
    if drop.is_empty() {
        return (values, dim);
    }
    let names: Vec<String> = drop.iter().map(|&j| cols[j].clone()).collect();
    let keep: Vec<usize> = (0..dim).filter(|j| !drop.contains(j)).collect();
    let mut out = Vec::with_capacity(rows * keep.len());
    for r in 0..rows {
        out.extend(keep.iter().map(|&j| values[r * dim + j]));
    }
    *cols = keep.iter().map(|&j| cols[j].clone()).collect();
    notes.push(format!(
        "the column(s) {} were not scanned: named like identifiers, with a value of their \
         own in every row (pass --id COL to carry one into the scores, or name them in \
         --features to scan them)",
        quoted(&names)
    ));
    (out.into(), keep.len())
}

/// Appends to each kept row one 0/1 indicator per value of each
/// categorical column (values in sorted order, so that the features do not
/// depend on the order of the rows); returns the matrix, its width and the
/// indicators. A column of one value adds nothing;
/// one of too many values is left out with a note, or refused when
/// `--features` named it (`explicit`).
fn one_hot(
    categories: &[Categories],
    explicit: bool,
    notes: &mut Vec<String>,
    values: ScalarBuffer<f32>,
    dim: usize,
    kept_rows: &[u64],
) -> Result<(ScalarBuffer<f32>, usize, Indicators), IngestError> {
    if categories.is_empty() {
        return Ok((values, dim, Indicators::default()));
    }
    let mut names = Vec::new();
    let mut columns = Vec::new();
    let mut free = Vec::new();
    // per column: its codes, and each code's indicator
    let mut encoded: Vec<(&[u32], Vec<usize>)> = Vec::new();
    // Numbers written as spreadsheets format them (`1,234`, `$5`, `12%`)
    // are read as the numbers they are, each one feature (before the
    // indicators); with a gap, they stay text, and a note says so.
    let formatted = |c: &Categories, gaps: bool| {
        c.formatting_seen
            && c.numbers
                .as_ref()
                .is_some_and(|v| v.iter().any(|x| x.is_nan()) == gaps)
    };
    // each such column's name and its rows' numbers
    let numbers: Vec<(&String, &[f32])> = categories
        .iter()
        .filter(|c| formatted(c, false))
        .filter_map(|c| Some((&c.column, c.numbers.as_deref()?)))
        .collect();
    let gapped: Vec<String> = categories
        .iter()
        .filter(|c| formatted(c, true))
        .map(|c| c.column.clone())
        .collect();
    if !numbers.is_empty() {
        let read: Vec<String> = numbers.iter().map(|(c, _)| c.to_string()).collect();
        notes.push(format!(
            "column(s) {} hold numbers written with thousands separators, a currency or a \
             percent sign (`1,234`, `$5`, `12%`): read as those numbers",
            quoted(&read)
        ));
        names.extend(read);
    }
    if !gapped.is_empty() {
        notes.push(format!(
            "column(s) {} hold numbers written with thousands separators, a currency or a \
             percent sign (`1,234`, `$5`, `12%`) and gaps, and are read as text: save them as \
             plain numbers to scan them as numbers",
            quoted(&gapped)
        ));
    }
    for cat in categories
        .iter()
        .filter(|c| !numbers.iter().any(|(n, _)| **n == c.column))
    {
        // every row a value of its own: names or identifiers
        if cat.overflow || cat.distinct() == cat.codes.len() {
            if explicit {
                return Err(IngestError::Option(format!(
                    "column `{}` holds more than {MAX_CATEGORIES} distinct values, or one per \
                         row, too many to read as categories (free text or identifiers): add an embedding of it \
                         and pass --embedding COL, or leave it out of --features",
                    cat.column
                )));
            }
            free.push(cat.column.clone());
            continue;
        }
        let sorted = cat.sorted();
        if sorted.len() < 2 {
            continue;
        }
        let mut indicator = vec![0; sorted.len()];
        for (value, code) in sorted {
            indicator[code as usize] = names.len();
            names.push(match value {
                Some(v) => format!("{}={v}", cat.column),
                None => format!("{}=(null)", cat.column),
            });
        }
        encoded.push((&cat.codes, indicator));
        columns.push(cat.column.clone());
    }
    let width = dim + names.len();
    if !free.is_empty() {
        if width == 0 {
            return Err(IngestError::Option(format!(
                "column(s) {} hold text with more than {MAX_CATEGORIES} distinct values or \
                     one per row (free text or identifiers), and poisonscan scans numbers and categories: \
                     add an embedding of the text (e.g. from a sentence encoder) as a list \
                     column and pass --embedding COL, or name numeric columns with --features",
                quoted(&free)
            )));
        }
        notes.push(format!(
            "the text column(s) {} were not scanned: each holds more than {MAX_CATEGORIES} \
                 distinct values, or one per row (free text or identifiers, not categories); to \
                 scan text, add an embedding of it and pass --embedding COL",
            quoted(&free)
        ));
    }
    if width == 0 {
        return Err(IngestError::Empty(
            "the feature vectors have no values (every categorical column holds one value)".into(),
        ));
    }
    super::check_fits(
        kept_rows.len(),
        width,
        "the table with one indicator per category",
    )?;
    let mut out = vec![0f32; kept_rows.len() * width];
    for (r, &row) in kept_rows.iter().enumerate() {
        let dst = &mut out[r * width..(r + 1) * width];
        dst[..dim].copy_from_slice(&values[r * dim..(r + 1) * dim]);
        for (k, (_, number)) in numbers.iter().enumerate() {
            dst[dim + k] = number[row as usize];
        }
        for (codes, indicator) in &encoded {
            dst[dim + indicator[codes[row as usize] as usize]] = 1.0;
        }
    }
    Ok((out.into(), width, Indicators { names, columns }))
}

/// The kept rows (`kept_rows`, by index) of a row-major matrix of `dim`
/// columns.
pub(super) fn compact<R: Copy + TryInto<usize>>(
    values: &[f32],
    kept_rows: &[R],
    dim: usize,
) -> Vec<f32> {
    let mut kept = Vec::with_capacity(kept_rows.len() * dim);
    for &row in kept_rows {
        let row: usize = row.try_into().unwrap_or(usize::MAX);
        kept.extend_from_slice(&values[row * dim..(row + 1) * dim]);
    }
    kept
}

/// Concatenates the per-batch arrays of one column, casting later batches
/// to the first one's type (files may differ, say Int32 and Int64).
/// One column's parts, one per input file, as one array. Parts of different
/// types are cast to one without losing a value (a cast that would turn a
/// value into a null is an error): numbers to 64-bit floats; a mix of
/// numbers and text to text, whole numbers written without a fraction
/// (`1`, not `1.0`), with a note, so that labels `0`/`1` of one file and
/// `no`/`yes` of another are four classes — never `no` read as 0.
fn concat_same_type(
    parts: &[ArrayRef],
    column: &str,
    notes: &mut Vec<String>,
) -> Result<ArrayRef, IngestError> {
    if parts.len() == 1 {
        return Ok(parts[0].clone());
    }
    let incompatible =
        |e: arrow::error::ArrowError| IngestError::Incompatible(format!("column `{column}`: {e}"));
    let strict = arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    let first = parts[0].data_type();
    let numeric = |dt: &DataType| dt.is_integer() || dt.is_floating();
    let target = if parts.iter().all(|p| p.data_type() == first) {
        first.clone()
    } else if parts.iter().all(|p| numeric(p.data_type())) {
        DataType::Float64
    } else {
        if parts.iter().any(|p| numeric(p.data_type())) {
            notes.push(format!(
                "column `{column}` holds numbers in some files and text in others; all of it \
                 was read as text (`1` and `one` are two values)"
            ));
        }
        DataType::Utf8
    };
    let cast_parts: Vec<ArrayRef> = parts
        .iter()
        .map(|p| {
            let dt = p.data_type();
            if dt == &target {
                return Ok(p.clone());
            }
            let whole = dt.is_floating() && target == DataType::Utf8 && {
                let f = arrow::compute::cast_with_options(p, &DataType::Float64, &strict)?;
                f.as_primitive::<arrow::datatypes::Float64Type>()
                    .iter()
                    .flatten()
                    .all(is_whole)
            };
            let p = if whole {
                arrow::compute::cast_with_options(p, &DataType::Int64, &strict)?
            } else {
                p.clone()
            };
            arrow::compute::cast_with_options(&p, &target, &strict)
        })
        .collect::<Result<_, _>>()
        .map_err(incompatible)?;
    let refs: Vec<&dyn Array> = cast_parts.iter().map(|a| a.as_ref()).collect();
    arrow::compute::concat(&refs).map_err(incompatible)
}

/// Whether a float is a whole number an `i64` holds exactly (a label or id
/// written `1.0`).
/// The class of each row of `k ≥ 2` numbers, every row one 1 and zeros (a
/// one-hot label, Keras's `to_categorical`): the position of its 1. `None`
/// for any other rows. `values`: the rows' numbers, row after row.
pub(crate) fn one_hot_rows(values: &ArrayRef, k: usize) -> Option<Vec<i64>> {
    if k < 2 || !(values.data_type().is_numeric() || values.data_type() == &DataType::Boolean) {
        return None;
    }
    let values = cast(values, &DataType::Float64).ok()?;
    let values = values.as_primitive::<arrow::datatypes::Float64Type>();
    if values.null_count() > 0 {
        return None;
    }
    values
        .values()
        .chunks_exact(k)
        .map(|row| {
            let mut hot = None;
            for (j, &v) in row.iter().enumerate() {
                match v {
                    0.0 => {}
                    1.0 if hot.is_none() => hot = Some(j as i64),
                    _ => return None,
                }
            }
            hot
        })
        .collect()
}

/// The values of a list column whose every row is a list of exactly one
/// value, one after another; `None` for any other column.
fn single_values(labels: &ArrayRef) -> Option<ArrayRef> {
    let (values, spans) = list_spans(labels)?;
    let start = spans.first()?.0;
    let one_each = labels.null_count() == 0
        && spans
            .iter()
            .enumerate()
            .all(|(i, &(at, len))| len == 1 && at == start + i);
    one_each.then(|| values.slice(start, spans.len()))
}

/// A label column of number lists: one-hot rows give their classes (and
/// the number of classes); rows of probabilities or anything else numeric
/// are an error that says what to give. `None` for a column of scalars.
fn label_rows(labels: &ArrayRef, column: &str) -> Result<Option<(Vec<i64>, usize)>, IngestError> {
    let Some((values, spans)) = list_spans(labels) else {
        return Ok(None);
    };
    // rows of one length, one after another in the values
    let k = spans.first().map_or(0, |s| s.1);
    let start = spans.first().map_or(0, |s| s.0);
    if spans
        .iter()
        .enumerate()
        .any(|(i, &(at, len))| len != k || at != start + i * k)
    {
        return Ok(None);
    }
    let child = values.slice(start, spans.len() * k);
    let numbers = child.data_type().is_numeric() || child.data_type() == &DataType::Boolean;
    if labels.null_count() > 0 || !numbers {
        return Ok(None);
    }
    if let Some(classes) = one_hot_rows(&child, k) {
        return Ok(Some((classes, k)));
    }
    Err(IngestError::Option(format!(
        "label column `{column}` holds {k} numbers per row, not one-hot rows (a single 1 \
         among zeros): give each row's class as the label (the position of the largest value, \
         for class probabilities; the probabilities themselves can go to --probs)"
    )))
}

fn is_whole(x: f64) -> bool {
    x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15
}

/// Label values, integer or string.
enum LabelValues {
    Int(Vec<i64>),
    Str(Vec<String>),
}

impl LabelValues {
    fn read(labels: &ArrayRef, column: &str) -> Result<Self, IngestError> {
        // a categorical column (pandas `category`, polars `Categorical`,
        // any dictionary) is read by its values: integers, floats or text
        if let DataType::Dictionary(_, values) = labels.data_type() {
            if let Ok(decoded) = cast(labels, values) {
                return Self::read(&decoded, column);
            }
        }
        let dt = labels.data_type();
        let wrong = || IngestError::WrongType {
            column: column.to_string(),
            dtype: dt.to_string(),
            expected: "labels must be integers or strings",
        };
        if dt.is_integer() {
            let a = cast(labels, &DataType::Int64).map_err(|_| wrong())?;
            // unsigned values past i64's range (hashes, 64-bit ids) cast to
            // nulls: read them as their decimal text, never as 0
            if a.null_count() > labels.null_count() {
                return Self::read(&cast(labels, &DataType::Utf8).map_err(|_| wrong())?, column);
            }
            return Ok(Self::Int(a.as_primitive::<Int64Type>().values().to_vec()));
        }
        let decimal = matches!(
            dt,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        );
        if dt.is_floating() || decimal {
            // Whole numbers stored as floats (1.0, as pandas writes an integer
            // column that once held a missing value), or as decimals (a
            // database's NUMERIC), are integer labels.
            let a = cast(labels, &DataType::Float64).map_err(|_| wrong())?;
            let v = a.as_primitive::<arrow::datatypes::Float64Type>().values();
            if let Some(i) = v.iter().position(|&x| !is_whole(x)) {
                return Err(IngestError::Option(format!(
                    "label column `{column}` holds {} (row {i} of the input); labels must be \
                     whole numbers or strings — a regression target is not a class label",
                    v[i]
                )));
            }
            return Ok(Self::Int(v.iter().map(|&x| x as i64).collect()));
        }
        let is_text = matches!(dt, DataType::Boolean)
            || matches!(
                dt,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
            || matches!(dt, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View));
        if !is_text {
            return Err(wrong());
        }
        let a = cast(labels, &DataType::Utf8).map_err(|_| wrong())?;
        let s = a.as_string::<i32>();
        Ok(Self::Str(
            (0..s.len()).map(|i| s.value(i).to_string()).collect(),
        ))
    }

    /// Class ids for the kept rows and the sorted class names.
    fn encode(&self, kept: &[u64]) -> (Vec<u32>, Vec<String>) {
        fn codes<T: Ord + Clone>(v: &[T], kept: &[u64]) -> (Vec<u32>, Vec<T>) {
            let classes: Vec<T> = kept
                .iter()
                .map(|&i| v[i as usize].clone())
                .collect::<BTreeSet<T>>()
                .into_iter()
                .collect();
            let codes = kept
                .iter()
                .map(|&i| {
                    classes
                        .binary_search(&v[i as usize])
                        .expect("class present") as u32
                })
                .collect();
            (codes, classes)
        }
        match self {
            Self::Int(v) => {
                let (c, names) = codes(v, kept);
                (c, names.iter().map(|x| x.to_string()).collect())
            }
            Self::Str(v) => codes(v, kept),
        }
    }
}

/// A numeric column as the 32-bit floats features are computed in, with
/// the 64-bit values it came from when it holds them (so that a value
/// beyond the 32-bit range is not called infinite: [`check_value`]).
fn to_f32<'a>(
    array: &'a ArrayRef,
    column: &str,
) -> Result<(Float32Array, Option<&'a arrow::array::Float64Array>), IngestError> {
    let a = cast(array, &DataType::Float32).map_err(|e| IngestError::WrongType {
        column: column.to_string(),
        dtype: format!("{} ({e})", array.data_type()),
        expected: "features must be numeric",
    })?;
    // the 64-bit values, read only where a value came out infinite
    let wide = array.as_primitive_opt::<arrow::datatypes::Float64Type>();
    Ok((a.as_primitive::<Float32Type>().clone(), wide))
}

/// What is wrong with the value at `i` of a column ([`to_f32`]'s pair),
/// if anything.
fn check_value(
    v: f32,
    wide: Option<&arrow::array::Float64Array>,
    i: usize,
) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v.is_infinite() {
        if wide.is_some_and(|w| w.value(i).is_finite()) {
            Some("value beyond ±3.4e38 (features are 32-bit floats)")
        } else {
            Some("infinite value")
        }
    } else {
        None
    }
}

fn scalar_columns(batch: &RecordBatch, columns: &[String]) -> Result<Extracted, IngestError> {
    let n = batch.num_rows();
    let d = columns.len();
    let mut values = vec![0f32; n * d];
    let mut bad: Vec<Option<(&'static str, String)>> = vec![None; n];
    for (j, name) in columns.iter().enumerate() {
        let (col, wide) = to_f32(
            batch.column_by_name(name).expect("selected column exists"),
            name,
        )?;
        for i in 0..n {
            let v = col.value(i);
            values[i * d + j] = v;
            let problem = if col.is_null(i) {
                Some("null")
            } else {
                check_value(v, wide, i)
            };
            if let (Some(what), None) = (problem, &bad[i]) {
                bad[i] = Some((what, format!("`{name}`")));
            }
        }
    }
    let invalid = bad
        .into_iter()
        .enumerate()
        .filter_map(|(i, b)| b.map(|(w, f)| (i, w, f)))
        .collect();
    Ok(Extracted {
        values: values.into(),
        dim: d,
        invalid,
        shape: Vec::new(),
        tones: None,
    })
}

/// Why `--drop-invalid` left no row: the commonest reasons, with how many
/// rows each (a table whose columns have gaps in different rows, one survey
/// wave's questions null in the other's rows, loses every row), and what to
/// do about it.
fn nothing_left(dropped: &[DroppedRow]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for d in dropped {
        match counts.iter_mut().find(|(r, _)| *r == d.reason) {
            Some((_, c)) => *c += 1,
            None => counts.push((&d.reason, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = counts
        .iter()
        .take(3)
        .map(|(r, c)| format!("{r}: {c} row{}", if *c == 1 { "" } else { "s" }))
        .collect();
    let more = if counts.len() > 3 {
        format!(", and {} more reason(s)", counts.len() - 3)
    } else {
        String::new()
    };
    format!(
        "every row was left out by --drop-invalid ({}{more}); pass --features with columns that have no gaps, or fill the gaps",
        shown.join("; ")
    )
}

/// Where a row of an image column has its encoded bytes.
enum ImageSource<'a> {
    /// In the column (a binary value, or a Hugging Face struct's `bytes`).
    Bytes(&'a [u8]),
    /// In the column as base64 text (the payload of [`base64_image`]).
    Base64(&'a str),
    /// In a file (a column of image paths, or a Hugging Face struct with
    /// only its `path`), read when the image is decoded.
    File(std::path::PathBuf),
    /// Null.
    Null,
}

impl ImageSource<'_> {
    /// The image's width and height, from its header alone (a file's first
    /// bytes, not the whole file).
    fn dimensions(&self) -> Option<(u32, u32)> {
        match self {
            ImageSource::Bytes(b) => super::decode::dimensions(b).ok(),
            ImageSource::Base64(_) => super::decode::dimensions(&self.bytes().ok()??).ok(),
            ImageSource::File(f) => super::decode::file_dimensions(f).ok()?.ok(),
            ImageSource::Null => None,
        }
    }

    /// The encoded bytes (`None` for a null).
    fn bytes(&self) -> Result<Option<std::borrow::Cow<'_, [u8]>>, String> {
        use std::borrow::Cow;
        match self {
            ImageSource::Bytes(b) => Ok(Some(Cow::Borrowed(b))),
            ImageSource::Base64(t) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(t)
                    .map(|b| Some(Cow::Owned(b)))
                    .map_err(|e| format!("its base64 text cannot be decoded: {e}"))
            }
            ImageSource::File(f) => std::fs::read(f)
                .map(|b| Some(Cow::Owned(b)))
                .map_err(|e| format!("{MISSING_FILE}{}: {e}", f.display())),
            ImageSource::Null => Ok(None),
        }
    }
}

/// How the error of an image file that cannot be read begins.
const MISSING_FILE: &str = "cannot read ";

/// The base64 payload of a text value that is an encoded image written as
/// text — bare (`iVBORw0KGgo…`, as JSON exports and CSV files keep PNG or
/// JPEG bytes) or a data URI (`data:image/png;base64,…`) — told from the
/// image format its first bytes decode to; `None` for other text.
fn base64_image(value: &str) -> Option<&str> {
    use base64::Engine;
    let v = value.trim();
    let payload = match v.strip_prefix("data:") {
        Some(rest) => rest.split_once(";base64,")?.1,
        None => v,
    };
    // no image of a format read is shorter (a 1×1 PNG is 67 bytes)
    if payload.len() < 64 {
        return None;
    }
    // 16 characters are 12 whole bytes: every format's mark (WebP's last)
    let head = base64::engine::general_purpose::STANDARD
        .decode(payload.get(..16)?)
        .ok()?;
    image_bytes(&head).then_some(payload)
}

/// Whether bytes begin as an image of a format read (PNG, JPEG, GIF, WebP,
/// BMP, TIFF) does.
pub(super) fn image_bytes(head: &[u8]) -> bool {
    use image::ImageFormat as F;
    matches!(
        image::guess_format(head),
        Ok(F::Png | F::Jpeg | F::Gif | F::WebP | F::Bmp | F::Tiff)
    )
}

/// Whether a text value names an image file (by its extension, as in an
/// image folder).
fn is_image_path(value: &str) -> bool {
    super::images::is_image(std::path::Path::new(value.trim()))
}

/// The file an image path names: an absolute path as it is; a relative one
/// beside the input file (where a table of paths and its images are kept
/// together), else as given (from the working directory), else — a bare
/// file name — the one picture of that name below the input file's folder,
/// else — a path with folders — from one of the [`FOLDERS_ABOVE`] folders
/// above it, else — named in the error — beside the input file.
fn image_file(path: &str, table: Option<&std::path::Path>) -> std::path::PathBuf {
    let given = std::path::PathBuf::from(path);
    if given.is_absolute() {
        return given;
    }
    // an id without its extension (see `text_column_kinds`)
    if !is_image_path(path) {
        if let Some(found) = picture_by_stem(path, table) {
            return found;
        }
    }
    let beside = table.and_then(|f| f.parent().map(|d| d.join(&given)));
    match &beside {
        Some(b) if b.exists() => return beside.unwrap_or(given),
        _ if given.exists() => return given,
        _ => {}
    }
    // a bare file name kept in a folder below the table's (Tiny ImageNet's
    // `val/val_annotations.txt` names `val_0.JPEG`, kept in `val/images/`)
    if let Some(below) = picture_below(path, table) {
        return below;
    }
    // a path from the data set's folder, the table kept in a folder of its
    // own (`data/labels/train.csv` naming `images/0001.jpg`, kept in
    // `data/images/`): from the folders above the table's
    if given.components().count() > 1 {
        // (a table named from the working directory, `train.csv`, has the
        // working directory's folders above it)
        let folder = table.and_then(|t| t.parent()).and_then(|d| match d {
            d if d.as_os_str().is_empty() => std::env::current_dir().ok(),
            d => std::path::absolute(d).ok(),
        });
        let above = folder
            .iter()
            .flat_map(|d| d.ancestors().skip(1).take(FOLDERS_ABOVE))
            .map(|a| a.join(&given))
            .find(|p| p.exists());
        if let Some(found) = above {
            return found;
        }
    }
    beside.unwrap_or(given)
}

/// Folders above a table's own in which the relative paths it names are
/// looked for (see [`image_file`]).
const FOLDERS_ABOVE: usize = 2;

/// Whether `value` (a table's first-line field) names a picture that is
/// there, as [`image_file`] looks for it.
pub(crate) fn names_picture(value: &str, table: &std::path::Path) -> bool {
    is_image_path(value) && image_file(value.trim(), Some(table)).is_file()
}

/// The one picture of the file name `value` in the folder of `table` or a
/// folder below it (see [`pictures_by_stem`]); `None` when there is none or
/// more than one.
fn picture_below(value: &str, table: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    let stem = std::path::Path::new(value).file_stem()?.to_str()?;
    let named = |p: &&std::path::PathBuf| p.file_name().is_some_and(|n| n == value);
    match pictures_by_stem(stem, table)
        .iter()
        .filter(named)
        .collect::<Vec<_>>()[..]
    {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Most folder entries listed looking for pictures by name
/// ([`picture_by_stem`]): a table kept in a large folder costs a bounded
/// walk.
const STEM_ENTRIES: usize = 2_000_000;

/// How long a folder's listing of pictures by name serves names it does
/// not hold ([`pictures_by_stem`]): a long-lived process (the Python
/// package) sees pictures added since.
const STEM_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// The picture a value names by its file name without the extension, in
/// the folder of `table` or a folder below it (two levels: Kaggle's
/// `train/<id>.jpg` beside `labels.csv`); `None` when there is none, or
/// when two pictures have that name. Each folder is listed once, and again
/// when a name is missing from an older listing.
fn picture_by_stem(value: &str, table: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    match pictures_by_stem(value, table).as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// The pictures named `value` without their extension (see
/// [`picture_by_stem`]): none, one, or the first two of several.
fn pictures_by_stem(value: &str, table: Option<&std::path::Path>) -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Instant;
    // per folder: when it was listed, and its pictures by name
    type Stems = HashMap<String, Vec<PathBuf>>;
    type Listings = HashMap<PathBuf, (Instant, Arc<Stems>)>;
    static LISTED: OnceLock<Mutex<Listings>> = OnceLock::new();
    if value.is_empty() || value.contains(['/', '\\']) {
        return Vec::new();
    }
    let Some(dir) = table.and_then(|t| t.parent()).map(|d| d.to_path_buf()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let list = || {
        let mut stems = Stems::new();
        for entry in walkdir::WalkDir::new(&dir)
            .max_depth(3)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
            .flatten()
            .take(STEM_ENTRIES)
        {
            let path = entry.path();
            if entry.file_type().is_file() && super::images::is_image(path) {
                if let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) {
                    let same = stems.entry(stem).or_default();
                    if same.len() < 2 {
                        same.push(entry.into_path());
                    }
                }
            }
        }
        (Instant::now(), Arc::new(stems))
    };
    let mut listed = LISTED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let entry = listed.entry(dir.clone()).or_insert_with(list);
    // a name not found in a listing made a while ago (a long-lived
    // process, pictures added since): listed again
    if !entry.1.contains_key(value) && entry.0.elapsed() > STEM_FRESH {
        *entry = list();
    }
    entry.1.get(value).cloned().unwrap_or_default()
}

/// Where every row of an image column has its encoded bytes: a binary
/// column, a Hugging Face image struct (its `bytes`, or the file its `path`
/// names), or a text column of image paths.
fn image_sources<'a>(
    array: &'a ArrayRef,
    at: &dyn Fn(usize) -> super::RowLoc,
) -> Vec<ImageSource<'a>> {
    let n = array.len();
    fn binary(a: &ArrayRef, i: usize) -> Option<&[u8]> {
        if a.is_null(i) {
            return None;
        }
        Some(match a.data_type() {
            DataType::Binary => a.as_binary::<i32>().value(i),
            DataType::LargeBinary => a.as_binary::<i64>().value(i),
            DataType::BinaryView => a.as_binary_view().value(i),
            _ => return None,
        })
    }
    fn text(a: &ArrayRef, i: usize) -> Option<&str> {
        if a.is_null(i) {
            return None;
        }
        match a.data_type() {
            DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
            DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
            DataType::Utf8View => Some(a.as_string_view().value(i)),
            _ => None,
        }
    }
    let file = |p: &str, i: usize| ImageSource::File(image_file(p.trim(), at(i).file.as_deref()));
    match array.data_type() {
        DataType::Struct(_) => {
            let st = array.as_struct();
            let bytes = st.column_by_name("bytes").expect("checked by arrow_kind");
            let path = st.column_by_name("path");
            (0..n)
                .map(|i| {
                    if st.is_null(i) {
                        return ImageSource::Null;
                    }
                    if let Some(b) = binary(bytes, i) {
                        return ImageSource::Bytes(b);
                    }
                    match path.and_then(|p| text(p, i)) {
                        Some(p) => file(p, i),
                        None => ImageSource::Null,
                    }
                })
                .collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => (0..n)
            .map(|i| match text(array, i) {
                Some(t) => base64_image(t).map_or_else(|| file(t, i), ImageSource::Base64),
                None => ImageSource::Null,
            })
            .collect(),
        _ => (0..n)
            .map(|i| binary(array, i).map_or(ImageSource::Null, ImageSource::Bytes))
            .collect(),
    }
}

/// Decodes an image column: every image scaled to the size `plan` fixed
/// (chosen from this batch when there is none yet), undecodable or missing
/// images reported as invalid rows.
fn images(
    array: &ArrayRef,
    column: &str,
    plan: Option<ImagePlan>,
    resize: Option<(u32, u32)>,
    at: &dyn Fn(usize) -> super::RowLoc,
) -> Result<(Extracted, ImagePlan, Vec<String>), IngestError> {
    use rayon::prelude::*;
    let n = array.len();
    // a column of image paths stored as a dictionary of strings
    let paths;
    let array = match array.data_type() {
        DataType::Dictionary(..) => {
            paths = cast(array, &DataType::Utf8).map_err(|e| IngestError::WrongType {
                column: column.to_string(),
                dtype: format!("{} ({e})", array.data_type()),
                expected: "a column of image paths must hold text",
            })?;
            &paths
        }
        _ => array,
    };
    let sources = image_sources(array, at);
    let mut notes = Vec::new();
    let plan = match plan {
        Some(p) => p,
        None => {
            let sizes: Vec<(u32, u32)> = sources
                .par_iter()
                .filter_map(ImageSource::dimensions)
                .collect();
            if sizes.is_empty() {
                return Err(IngestError::Empty(format!(
                    "no image in column `{column}` of the first batch ({n} rows) could be decoded"
                )));
            }
            let ((width, height), size_notes) = super::decode::plan_size(&sizes, resize);
            notes = size_notes;
            ImagePlan {
                width,
                height,
                channels: 0, // decided below, from the decoded images
            }
        }
    };
    let decoded: Vec<Result<super::decode::Decoded, String>> = sources
        .par_iter()
        .map(|s| match s.bytes() {
            Ok(Some(b)) => super::decode::decode(&b, plan.width, plan.height),
            Ok(None) => Err("null".to_string()),
            Err(e) => Err(e),
        })
        .collect();
    let pixels = plan.width as usize * plan.height as usize;
    let known = (plan.channels != 0).then_some(plan.channels);
    let (values, channels) = super::decode::pixel_rows(&decoded, pixels, known);
    // every batch's tones, since a later batch may hold scaled pictures
    let tones = (
        super::decode::tone_rows(&decoded, channels),
        super::decode::any_scaled(&decoded),
        super::decode::any_lossy(&decoded),
    );
    let plan = ImagePlan { channels, ..plan };
    let dim = pixels * channels;
    let invalid = decoded
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            d.as_ref().err().map(|e| {
                let what = if e == "null" {
                    "null"
                } else if matches!(sources[i], ImageSource::File(_)) && e.starts_with(MISSING_FILE)
                {
                    "missing image file"
                } else {
                    "undecodable image"
                };
                (i, what, format!("`{column}` ({e})"))
            })
        })
        .collect();
    Ok((
        Extracted {
            values: values.into(),
            dim,
            invalid,
            shape: Vec::new(),
            tones: Some(tones),
        },
        plan,
        notes,
    ))
}

fn embedding(
    array: &ArrayRef,
    column: &str,
    expected_dim: Option<usize>,
    at: &dyn Fn(usize) -> super::RowLoc,
) -> Result<Extracted, IngestError> {
    let n = array.len();
    // (start, len) of every row in the flat values.
    let (mut flat, mut spans) = list_spans(array).ok_or_else(|| IngestError::WrongType {
        column: column.to_string(),
        dtype: array.data_type().to_string(),
        expected: "an embedding column must be a list or array of numbers",
    })?;
    // Nested lists (a row of `h` lists of `w` numbers): every inner list of
    // one length, the row's span composed down to the numbers.
    let mut shape = Vec::new();
    while let Some((inner, inner_spans)) = list_spans(&flat) {
        let mut width = None;
        for (i, &(start, len)) in spans.iter().enumerate() {
            if array.is_null(i) {
                continue;
            }
            for &(_, w) in &inner_spans[start..start + len] {
                let expected = *width.get_or_insert(w);
                if w != expected {
                    return Err(IngestError::RaggedInner {
                        at: at(i),
                        column: column.to_string(),
                        expected,
                        found: w,
                    });
                }
            }
        }
        let width = width.unwrap_or(0);
        if shape.is_empty() {
            // the outer length, of the first row that has one
            let outer = (0..n)
                .find(|&i| array.is_valid(i))
                .map_or(0, |i| spans[i].1);
            shape.push(outer);
        }
        spans = spans
            .iter()
            .map(|&(start, len)| match inner_spans.get(start) {
                Some(&(first, _)) if len > 0 => (first, len * width),
                _ => (0, 0),
            })
            .collect();
        shape.push(width);
        flat = inner;
    }
    let (flat, wide) = to_f32(&flat, column)?;
    let dim = match expected_dim {
        Some(d) => d,
        None => (0..n)
            .find(|&i| array.is_valid(i))
            .map(|i| spans[i].1)
            .ok_or_else(|| {
                IngestError::Empty(format!("`{column}` is null in every row of the first batch ({n} rows), so its length is unknown"))
            })?,
    };
    // Rows laid out back to back with no nulls: use the Arrow buffer itself.
    let first = spans.first().map_or(0, |s| s.0);
    let contiguous = array.null_count() == 0
        && spans
            .iter()
            .enumerate()
            .all(|(i, &(start, len))| len == dim && start == first + i * dim);
    if contiguous {
        let values = flat.values().slice(first, n * dim);
        let mut invalid = Vec::new();
        if flat.null_count() > 0 || values.iter().any(|v| !v.is_finite()) {
            for i in 0..n {
                let problem = (0..dim).find_map(|k| {
                    if flat.is_null(first + i * dim + k) {
                        Some(("null", k))
                    } else {
                        check_value(values[i * dim + k], wide, first + i * dim + k).map(|w| (w, k))
                    }
                });
                if let Some((what, k)) = problem {
                    invalid.push((i, what, format!("`{column}`[{k}]")));
                }
            }
        }
        return Ok(Extracted {
            values,
            dim,
            invalid,
            shape,
            tones: None,
        });
    }
    let mut values = vec![0f32; n * dim];
    let mut invalid = Vec::new();
    for (i, &(start, len)) in spans.iter().enumerate() {
        if array.is_null(i) {
            invalid.push((i, "null", format!("`{column}`")));
            continue;
        }
        if len != dim {
            return Err(IngestError::Ragged {
                at: at(i),
                column: column.to_string(),
                expected: dim,
                found: len,
            });
        }
        let row = &mut values[i * dim..(i + 1) * dim];
        row.copy_from_slice(&flat.values()[start..start + len]);
        let problem = (0..len).find_map(|k| {
            if flat.is_null(start + k) {
                Some(("null", k))
            } else {
                check_value(row[k], wide, start + k).map(|w| (w, k))
            }
        });
        if let Some((what, k)) = problem {
            invalid.push((i, what, format!("`{column}`[{k}]")));
        }
    }
    Ok(Extracted {
        values: values.into(),
        dim,
        invalid,
        shape,
        tones: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int32Array, ListArray, StringArray};
    use arrow::datatypes::Float32Type;
    use std::sync::Arc;

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(cols.into_iter().map(|(n, a)| (n.to_string(), a))).unwrap()
    }

    #[test]
    fn numbers_as_spreadsheets_format_them_are_told_from_text() {
        for (text, number, formatting) in [
            ("1,234", true, true),
            ("-1,234.5", true, true),
            ("12.5%", true, true),
            ("$1,200", true, true),
            ("€ 30", true, true),
            ("12", true, false),
            ("0.5", true, false),
            ("12,34", false, false),
            ("1,2345", false, false),
            ("a,b", false, false),
            ("12 kg", false, false),
            ("", false, false),
            ("5.", false, false),
        ] {
            let got = formatted_number(text);
            assert_eq!(
                (got.is_some(), got.is_some_and(|g| g.1)),
                (number, formatting),
                "{text:?}"
            );
        }
        // a table of a label, `x` and `income` written as spreadsheets do
        let with_income = |income: Vec<Option<&str>>| {
            let b = batch(vec![
                (
                    "label",
                    Arc::new(StringArray::from(vec!["a", "b", "a", "b"])) as ArrayRef,
                ),
                ("x", Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5, 3.5]))),
                ("income", Arc::new(StringArray::from(income))),
            ]);
            from_record_batch(&b, &TableOptions::default()).unwrap()
        };
        let noted = |d: &Dataset, what: &str| {
            d.notes
                .iter()
                .any(|n| n.contains("`income`") && n.contains(what))
        };
        let d = with_income(vec![
            Some("1,200"),
            Some("950"),
            Some("12,000"),
            Some("3,100"),
        ]);
        assert!(noted(&d, "read as those numbers"), "{:?}", d.notes);
        // one feature, the numbers, after the numeric columns
        assert_eq!(d.n_features, 2);
        assert_eq!(
            &d.features[..],
            &[0.5, 1200.0, 1.5, 950.0, 2.5, 12000.0, 3.5, 3100.0]
        );
        // with a gap they stay text (categories), and the note says so
        let d = with_income(vec![Some("1,200"), None, Some("12,000"), Some("1,200")]);
        assert!(noted(&d, "gaps"), "{:?}", d.notes);
        assert_eq!(d.n_features, 4);
    }

    #[test]
    fn labels_that_differ_only_in_spaces_or_case_are_noted() {
        let b = batch(vec![
            (
                "label",
                Arc::new(StringArray::from(vec!["cat", "cat ", "Dog", "dog", "eel"])) as ArrayRef,
            ),
            (
                "x",
                Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5, 3.5, 4.5])),
            ),
        ]);
        let d = from_record_batch(&b, &TableOptions::default()).unwrap();
        assert_eq!(d.class_names.len(), 5);
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("`cat` and `cat `") && n.contains("`Dog` and `dog`")),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn identifier_names_are_told_from_words_ending_in_id() {
        for id in [
            "id",
            "ID",
            "Id",
            "customer_id",
            "PassengerId",
            "userID",
            "row-id",
            "Site ID",
            // row numbers: `poison`'s copies and the scores carry `row`
            "row",
            "index",
            "rownames",
        ] {
            assert!(looks_like_id(id), "{id}");
        }
        for word in [
            "fluid",
            "PAID",
            "valid",
            "idle",
            "ids_count",
            "acid",
            "I",
            "d",
            "rowing",
            "price_index",
        ] {
            assert!(!looks_like_id(word), "{word}");
        }
    }

    #[test]
    fn numeric_columns_and_string_labels() {
        let b = batch(vec![
            (
                "label",
                Arc::new(StringArray::from(vec!["cat", "dog", "cat"])) as ArrayRef,
            ),
            ("a", Arc::new(Int32Array::from(vec![1, 2, 3]))),
            ("b", Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5]))),
            ("name", Arc::new(StringArray::from(vec!["x", "y", "z"]))),
        ]);
        let d = from_record_batch(&b, &TableOptions::default()).unwrap();
        assert_eq!(d.n_features, 2);
        assert_eq!(&d.features[..], &[1.0, 0.5, 2.0, 1.5, 3.0, 2.5]);
        assert_eq!(d.class_names, vec!["cat", "dog"]);
        assert_eq!(d.label_codes, vec![0, 1, 0]);
        // a name per row is an identifier, not a category
        assert!(
            d.notes.iter().any(|n| n.contains("`name`")),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn row_identifiers_are_left_out_and_a_shared_id_is_a_feature() {
        let b = batch(vec![
            (
                "label",
                Arc::new(StringArray::from(vec!["a", "b", "a", "b"])) as ArrayRef,
            ),
            ("PassengerId", Arc::new(Int32Array::from(vec![7, 3, 9, 1]))),
            ("StoreID", Arc::new(Int32Array::from(vec![1, 2, 1, 2]))),
            ("x", Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5, 3.5]))),
        ]);
        let d = from_record_batch(&b, &TableOptions::default()).unwrap();
        assert_eq!(d.n_features, 2);
        assert_eq!(&d.features[..], &[1.0, 0.5, 2.0, 1.5, 1.0, 2.5, 2.0, 3.5]);
        let FeatureSource::Columns { columns, .. } = &d.feature_source else {
            panic!("{:?}", d.feature_source)
        };
        assert_eq!(columns, &["StoreID", "x"]);
        assert!(
            d.notes.iter().any(|n| n.contains("`PassengerId`")),
            "{:?}",
            d.notes
        );
        // named in --features, it is scanned
        let named = TableOptions {
            features: vec!["PassengerId".into(), "x".into()],
            ..TableOptions::default()
        };
        assert_eq!(from_record_batch(&b, &named).unwrap().n_features, 2);
    }

    #[test]
    fn booleans_are_numbers_and_text_categories_become_indicators() {
        use arrow::array::{BooleanArray, DictionaryArray};
        use arrow::datatypes::Int8Type;
        let shade: DictionaryArray<Int8Type> =
            vec!["dark", "light", "dark", "dark"].into_iter().collect();
        let b = batch(vec![
            (
                "label",
                Arc::new(StringArray::from(vec!["a", "b", "a", "b"])) as ArrayRef,
            ),
            ("x", Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5, 3.5]))),
            (
                "member",
                Arc::new(BooleanArray::from(vec![true, false, false, true])),
            ),
            (
                "city",
                Arc::new(StringArray::from(vec![
                    Some("Oslo"),
                    Some("Bergen"),
                    None,
                    Some("Oslo"),
                ])),
            ),
            ("shade", Arc::new(shade)),
            // one value: adds nothing
            ("unit", Arc::new(StringArray::from(vec!["kg"; 4]))),
        ]);
        let d = from_record_batch(&b, &TableOptions::default()).unwrap();
        let FeatureSource::Columns {
            columns,
            categorical,
        } = &d.feature_source
        else {
            panic!("{:?}", d.feature_source)
        };
        assert_eq!(
            columns,
            &[
                "x",
                "member",
                "city=Bergen",
                "city=Oslo",
                "city=(null)",
                "shade=dark",
                "shade=light"
            ]
        );
        assert_eq!(categorical, &["city", "shade"]);
        #[rustfmt::skip]
        assert_eq!(&d.features[..], &[
            0.5, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0,
            1.5, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0,
            2.5, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0,
            3.5, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0,
        ]);
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!(
            d.feature_source.describe(),
            "2 numeric columns, 5 indicators of 2 categorical column(s)"
        );
    }

    #[test]
    fn free_text_is_left_out_or_refused() {
        let n = 2 * (MAX_CATEGORIES + 6);
        let text: Vec<String> = (0..n).map(|i| format!("review {}", i / 2)).collect();
        let label: Vec<i32> = (0..n as i32).map(|i| i % 2).collect();
        let b = batch(vec![
            ("label", Arc::new(Int32Array::from(label)) as ArrayRef),
            ("review", Arc::new(StringArray::from(text))),
            (
                "x",
                Arc::new(Float64Array::from(
                    (0..n).map(|i| i as f64).collect::<Vec<_>>(),
                )),
            ),
        ]);
        let d = from_record_batch(&b, &TableOptions::default()).unwrap();
        assert_eq!(d.n_features, 1);
        assert!(
            d.notes.iter().any(|n| n.contains("`review`")),
            "{:?}",
            d.notes
        );
        let only_text = TableOptions {
            features: vec!["review".into()],
            ..TableOptions::default()
        };
        let e = from_record_batch(&b, &only_text).unwrap_err().to_string();
        assert!(
            e.contains("`review`") && e.contains("distinct values"),
            "{e}"
        );
    }

    #[test]
    fn integer_labels_sort_numerically() {
        let b = batch(vec![
            (
                "label",
                Arc::new(Int32Array::from(vec![10, 2, 10, 2])) as ArrayRef,
            ),
            ("x", Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0, 3.0]))),
        ]);
        let d = from_record_batch(&b, &TableOptions::default()).unwrap();
        assert_eq!(d.class_names, vec!["2", "10"]);
        assert_eq!(d.label_codes, vec![1, 0, 1, 0]);
    }

    #[test]
    fn labels_of_different_types_across_files_are_never_read_as_zero() {
        let opts = TableOptions::default();
        let x = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
        let ints = batch(vec![
            (
                "label",
                Arc::new(arrow::array::Int64Array::from(vec![0, 1, 1])) as ArrayRef,
            ),
            ("x", x(vec![0.0, 1.0, 2.0])),
        ]);
        let floats = batch(vec![
            (
                "label",
                Arc::new(Float64Array::from(vec![1.0, 0.0])) as ArrayRef,
            ),
            ("x", x(vec![3.0, 4.0])),
        ]);
        let text = batch(vec![
            (
                "label",
                Arc::new(StringArray::from(vec!["no", "yes"])) as ArrayRef,
            ),
            ("x", x(vec![5.0, 6.0])),
        ]);
        let build = |parts: &[&RecordBatch]| {
            let sel = select(&describe(parts[0].schema_ref()), &opts, None).unwrap();
            let mut builder = DatasetBuilder::new(sel, &opts, 7);
            for b in parts {
                builder.push(b).unwrap();
            }
            builder.finish().unwrap()
        };
        let d = build(&[&ints, &floats, &text]);
        assert_eq!(d.class_names, vec!["0", "1", "no", "yes"]);
        assert_eq!(d.label_codes, vec![0, 1, 1, 1, 0, 2, 3]);
        assert!(
            d.notes.iter().any(|n| n.contains("read as text")),
            "{:?}",
            d.notes
        );
        // Numbers of two types are one numeric label.
        let d = build(&[&floats, &ints]);
        assert_eq!(d.class_names, vec!["0", "1"]);
        assert_eq!(d.label_codes, vec![1, 0, 0, 1, 1]);
        assert!(d.notes.is_empty(), "{:?}", d.notes);
    }

    #[test]
    fn ragged_embedding_names_the_row() {
        let emb = ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
            Some(vec![Some(1.0), Some(2.0)]),
            Some(vec![Some(1.0), Some(2.0), Some(3.0)]),
        ]);
        let b = batch(vec![
            ("label", Arc::new(Int32Array::from(vec![0, 1])) as ArrayRef),
            ("emb", Arc::new(emb)),
        ]);
        let e = from_record_batch(&b, &TableOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 1: embedding column `emb` has 3 values, but earlier rows have 2"
        );
    }

    #[test]
    fn nan_is_an_error_or_dropped() {
        let b = batch(vec![
            (
                "label",
                Arc::new(Int32Array::from(vec![0, 1, 0, 1])) as ArrayRef,
            ),
            (
                "x",
                Arc::new(Float64Array::from(vec![
                    Some(0.0),
                    Some(f64::NAN),
                    None,
                    Some(3.0),
                ])),
            ),
        ]);
        let e = from_record_batch(&b, &TableOptions::default()).unwrap_err();
        assert!(
            e.to_string().starts_with("row 1: NaN in feature `x`"),
            "{e}"
        );
        let opts = TableOptions {
            drop_invalid: true,
            ..Default::default()
        };
        let d = from_record_batch(&b, &opts).unwrap();
        assert_eq!(d.kept_rows, vec![0, 3]);
        assert_eq!(&d.features[..], &[0.0, 3.0]);
        assert_eq!(d.dropped.len(), 2);
        assert_eq!(d.dropped[1].reason, "null in feature `x`");
    }

    #[test]
    fn values_past_the_f32_range_are_named_as_such_not_as_infinite() {
        let b = batch(vec![
            (
                "label",
                Arc::new(Int32Array::from(vec![0, 1, 0])) as ArrayRef,
            ),
            (
                "x",
                Arc::new(Float64Array::from(vec![0.0, f64::INFINITY, 1e300])),
            ),
        ]);
        let e = from_record_batch(&b, &TableOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("row 1: infinite value in feature `x`"),
            "{e}"
        );
        let b = batch(vec![
            (
                "label",
                Arc::new(Int32Array::from(vec![0, 1, 0])) as ArrayRef,
            ),
            ("x", Arc::new(Float64Array::from(vec![0.0, -1e300, 1.0]))),
        ]);
        let e = from_record_batch(&b, &TableOptions::default()).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "row 1: value beyond ±3.4e38 (features are 32-bit floats) in feature `x`"
            ),
            "{e}"
        );
    }

    #[test]
    fn list_views_are_read_as_the_lists_they_hold() {
        use arrow::array::{Float32Array, ListArray, ListViewArray};
        use arrow::buffer::ScalarBuffer;
        let field = Arc::new(arrow::datatypes::Field::new(
            "item",
            DataType::Float32,
            true,
        ));
        let values = Arc::new(Float32Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let list = ListArray::new(
            field.clone(),
            arrow::buffer::OffsetBuffer::new(ScalarBuffer::from(vec![0, 2, 4, 6])),
            values.clone(),
            None,
        );
        // the rows out of order in the values, as views may keep them
        let view = ListViewArray::new(
            field,
            ScalarBuffer::from(vec![4, 0, 2]),
            ScalarBuffer::from(vec![2, 2, 2]),
            values,
            None,
        );
        let labels = || Arc::new(Int32Array::from(vec![0, 1, 1])) as ArrayRef;
        let a = from_record_batch(
            &batch(vec![("label", labels()), ("emb", Arc::new(list))]),
            &TableOptions::default(),
        )
        .unwrap();
        let b = from_record_batch(
            &batch(vec![("label", labels()), ("emb", Arc::new(view))]),
            &TableOptions::default(),
        )
        .unwrap();
        assert_eq!(&a.features[..], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(&b.features[..], &[5.0, 6.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn decimal_labels_and_lists_of_one_label_are_read_as_their_values() {
        use arrow::array::{Decimal128Array, ListArray};
        let x = || Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0, 3.0])) as ArrayRef;
        // a database's NUMERIC(5, 2) holding whole numbers
        let decimal = Decimal128Array::from(vec![300, 700, 300, 700])
            .with_precision_and_scale(5, 2)
            .unwrap();
        let d = from_record_batch(
            &batch(vec![("label", Arc::new(decimal) as ArrayRef), ("x", x())]),
            &TableOptions::default(),
        )
        .unwrap();
        assert_eq!(d.class_names, vec!["3", "7"]);
        assert_eq!(d.label_codes, vec![0, 1, 0, 1]);
        // `[3]` a row, as a multi-label export writes single labels
        let lists = ListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>(
            [3, 7, 3, 7].map(|v| Some(vec![Some(v)])),
        );
        let d = from_record_batch(
            &batch(vec![("label", Arc::new(lists) as ArrayRef), ("x", x())]),
            &TableOptions::default(),
        )
        .unwrap();
        assert_eq!(d.class_names, vec!["3", "7"]);
        assert_eq!(d.label_codes, vec![0, 1, 0, 1]);
        assert!(
            d.notes.iter().any(|n| n.contains("lists of one value")),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn unsigned_labels_past_i64_are_classes_of_their_own() {
        let big = u64::MAX - 1;
        let b = batch(vec![
            (
                "label",
                Arc::new(arrow::array::UInt64Array::from(vec![big, 7, big, 7])) as ArrayRef,
            ),
            ("x", Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0, 3.0]))),
        ]);
        let d = from_record_batch(&b, &TableOptions::default()).unwrap();
        assert_eq!(d.class_names, vec![big.to_string(), "7".to_string()]);
        assert_eq!(d.label_codes, vec![0, 1, 0, 1]);
    }

    #[test]
    fn images_written_as_base64_text_are_told_from_other_text() {
        // a 1x1 PNG, bare and as a data URI
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==";
        assert_eq!(base64_image(png), Some(png));
        assert_eq!(
            base64_image(&format!(" data:image/png;base64,{png}")),
            Some(png)
        );
        // base64 of text, a sentence, a word, a short code: not images
        assert_eq!(base64_image("aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ="), None);
        assert_eq!(base64_image("a photo of a cat on a mat"), None);
        assert_eq!(base64_image("iVBORw0K"), None);
        assert_eq!(
            base64_image("data:text/plain;base64,aGVsbG8gd29ybGQgaGVsbG8="),
            None
        );
    }

    #[test]
    fn the_longest_run_of_numbered_columns_is_found() {
        let mut cs: Vec<String> = vec!["label".into(), "width".into()];
        cs.extend((1..=64).map(|k| format!("pixel_{k}")));
        cs.extend((0..100).map(|k| format!("f{k}")));
        cs.push("height".into());
        assert_eq!(numbered_run(&cs), Some(66..166));
        // a gap ends a run; a run of fewer than 64 is none
        cs.remove(100);
        assert_eq!(numbered_run(&cs), Some(2..66));
        let short: Vec<String> = (0..63).map(|k| format!("p{k}")).collect();
        assert_eq!(numbered_run(&short), None);
    }

    #[test]
    fn a_fixed_shape_tensor_column_of_an_image_shape_is_images() {
        let field = |meta: &str| {
            arrow::datatypes::Field::new("t", DataType::Null, true).with_metadata(
                [
                    ("ARROW:extension:name", "arrow.fixed_shape_tensor"),
                    ("ARROW:extension:metadata", meta),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<String, String>>(),
            )
        };
        let shape = |meta: &str| tensor_image_shape(&field(meta));
        assert_eq!(shape(r#"{"shape":[28,28]}"#), Some((28, 28, 1)));
        assert_eq!(
            shape(r#"{"shape":[32,32,3],"permutation":[0,1,2]}"#),
            Some((32, 32, 3))
        );
        // stored in another order, an embedding, channels first: not read
        // as an image from the metadata
        assert_eq!(shape(r#"{"shape":[28,28],"permutation":[1,0]}"#), None);
        assert_eq!(shape(r#"{"shape":[768]}"#), None);
        assert_eq!(shape(r#"{"shape":[3,32,32]}"#), None);
        let plain = arrow::datatypes::Field::new("t", DataType::Null, true);
        assert_eq!(tensor_image_shape(&plain), None);
        // the file's hints: that column, that shape
        let schema = arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("label", DataType::Int64, false),
            field(r#"{"shape":[14,14]}"#),
        ]);
        let hints = Hints::from_schema(&schema);
        assert_eq!(hints.features.as_deref(), Some("t"));
        assert_eq!(hints.image_shape, Some((14, 14, 1)));
    }

    #[test]
    fn the_image_shape_option_reads_back_as_written() {
        for (value, json) in [
            (AsImages::Infer, "null"),
            (AsImages::Never, "\"none\""),
            (AsImages::Shape(28, 28, 1), "[28,28,1]"),
        ] {
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            assert_eq!(serde_json::from_str::<AsImages>(json).unwrap(), value);
        }
        assert!(serde_json::from_str::<AsImages>("\"square\"").is_err());
    }

    #[test]
    fn feature_globs_and_missing_columns() {
        let b = batch(vec![
            ("label", Arc::new(Int32Array::from(vec![0, 1])) as ArrayRef),
            ("pix_1", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
            ("pix_0", Arc::new(Float64Array::from(vec![3.0, 4.0]))),
            ("other", Arc::new(Float64Array::from(vec![5.0, 6.0]))),
        ]);
        let opts = TableOptions {
            features: vec!["pix_*".into()],
            ..Default::default()
        };
        let d = from_record_batch(&b, &opts).unwrap();
        assert_eq!(d.n_features, 2);
        let opts = TableOptions {
            label: "y".into(),
            ..Default::default()
        };
        let e = from_record_batch(&b, &opts).unwrap_err();
        assert!(e.to_string().starts_with("column `y` not found"), "{e}");
    }
}
