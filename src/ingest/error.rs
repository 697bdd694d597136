//! Errors of ingestion, each naming the file, column and row where it can.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// Where a row came from: the file (when known) and the 0-based row in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowLoc {
    /// Source file, if the data came from files.
    pub file: Option<PathBuf>,
    /// 0-based row within that file (or within the batch).
    pub row: u64,
}

impl fmt::Display for RowLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}, row {}", p.display(), self.row),
            None => write!(f, "row {}", self.row),
        }
    }
}

/// Everything that can go wrong while reading a data set.
#[derive(Debug, Error)]
pub enum IngestError {
    /// No input was given.
    #[error("no input given")]
    NoInput,
    /// A path that does not exist.
    #[error("{}: no such file or directory", .0.display())]
    NotFound(PathBuf),
    /// A glob pattern that matched nothing.
    #[error("`{0}` matches no file")]
    NoMatch(String),
    /// An invalid glob pattern.
    #[error("`{pattern}` is not a valid glob pattern: {message}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// Why it is invalid.
        message: String,
    },
    /// An I/O error on a file.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The format could not be told from the name.
    #[error("{}: cannot tell the format from the name; pass --format parquet|csv|ipc|ndjson|avro|orc|rdata|stata|spss|xport|idx|npz|arff|libsvm|excel|ts|images", .0.display())]
    UnknownFormat(PathBuf),
    /// Inputs of different formats in one scan.
    #[error("inputs mix formats ({first} and {second}); one scan reads one format: convert the files to one format, or scan them separately")]
    MixedFormats {
        /// One format.
        first: String,
        /// Another.
        second: String,
    },
    /// A file the reader could not parse (corrupt, truncated, wrong format).
    #[error("{}: cannot read as {format}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: &'static str,
        /// The reader's message.
        message: String,
    },
    /// Several files whose columns do not fit together.
    #[error("the input files do not have compatible columns: {0}")]
    Incompatible(String),
    /// A column that is not in the data.
    #[error("column `{}` not found{}{}; available columns: {}", shown(.column), source_hint(.file), did_you_mean(.column, .available), listed(.available))]
    MissingColumn {
        /// The column asked for.
        column: String,
        /// The file that lacks it, when known.
        file: Option<PathBuf>,
        /// The columns there are.
        available: Vec<String>,
    },
    /// A column of the wrong type.
    #[error("column `{column}` has type {dtype}, but {expected}")]
    WrongType {
        /// The column.
        column: String,
        /// Its type.
        dtype: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// No feature columns could be found.
    #[error("no feature columns: the data has no numeric column besides the label and id; name them with --features or --embedding")]
    NoFeatures,
    /// A null label.
    #[error("{at}: label column `{column}` is null; every row needs a label: fix the data or pass --drop-invalid to skip such rows")]
    NullLabel {
        /// Where.
        at: RowLoc,
        /// The label column.
        column: String,
    },
    /// A Hugging Face `ClassLabel` of -1: a row without a label.
    #[error("{at}: label column `{column}` is -1, which a Hugging Face ClassLabel uses for a row without a label (as a test split's rows are); every row needs a label: scan the labelled split, or pass --drop-invalid to skip such rows")]
    NoClassLabel {
        /// Where.
        at: RowLoc,
        /// The label column.
        column: String,
    },
    /// A null, NaN or infinite feature value.
    #[error(
        "{at}: {what} in feature {feature}; fix the data or pass --drop-invalid to skip such rows"
    )]
    InvalidFeature {
        /// Where.
        at: RowLoc,
        /// `null`, `NaN` or `infinite value`.
        what: &'static str,
        /// The feature column (and element, for embeddings).
        feature: String,
    },
    /// Embeddings of different lengths.
    #[error(
        "{at}: embedding column `{column}` has {found} values, but earlier rows have {expected}"
    )]
    Ragged {
        /// Where.
        at: RowLoc,
        /// The column.
        column: String,
        /// The length of the first row.
        expected: usize,
        /// The length here.
        found: usize,
    },
    /// Nested lists whose inner lists differ in length.
    #[error(
        "{at}: column `{column}` holds lists of {found} values where its other lists hold {expected} (an array of several dimensions needs one shape)"
    )]
    RaggedInner {
        /// Where.
        at: RowLoc,
        /// The column.
        column: String,
        /// The length of the first inner list.
        expected: usize,
        /// The length here.
        found: usize,
    },
    /// A value of a vector column written as text that is not a vector.
    #[error("{at}: column `{column}` holds `{value}`, not a list of numbers like `[0.1, 0.2]`")]
    NotAVector {
        /// Where.
        at: RowLoc,
        /// The column.
        column: String,
        /// The value (its first 40 characters).
        value: String,
    },
    /// Nothing to scan.
    #[error("the input is empty: {0}")]
    Empty(String),
    /// Fewer than two classes.
    #[error("the data has {count} class(es) ({}); scanning needs at least two", .names.join(", "))]
    TooFewClasses {
        /// How many.
        count: usize,
        /// Their names.
        names: Vec<String>,
    },
    /// Fewer than two classes of two rows or more, or those holding less
    /// than a tenth of the rows (every class of one row is left out of a
    /// scan).
    #[error(
        "only {scannable} of the {count} classes have 2 rows or more{}{}",
        if *.scannable < 2 {
            "; scanning needs at least two such classes".to_string()
        } else {
            format!(
                ", holding {scanned} of the {rows} rows; a scan leaves classes of one row out, \
                 so it would judge almost none of the data (is the label column free text or an id?)"
            )
        },
        if .count == .rows { " (every row has a label of its own: is the label column an id?)" } else { "" }
    )]
    TooFewRows {
        /// Classes with two rows or more.
        scannable: usize,
        /// Classes.
        count: usize,
        /// Rows in classes with two rows or more.
        scanned: usize,
        /// Rows.
        rows: usize,
    },
    /// An image that could not be decoded.
    #[error("{}: cannot decode image: {message}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// Images of different sizes without `--resize`.
    #[error("{}: image is {found}, but {first} is {expected}; pass --resize WxH to scale all images to one size", path.display())]
    ImageSize {
        /// The odd image.
        path: PathBuf,
        /// Its size.
        found: String,
        /// The first image.
        first: PathBuf,
        /// The first image's size.
        expected: String,
    },
    /// A malformed IDX file.
    #[error("{}: not a valid IDX file: {message}", path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A feature matrix that would not fit in memory.
    #[error(
        "{what}: {rows} rows x {dims} features need about {} of memory to scan, but {} is available; \
         scan a sample or a shard at a time, bring a smaller embedding column (--embedding), \
         or scale images down (--resize WxH)",
        gib(*.need), gib(*.available)
    )]
    TooLarge {
        /// The input.
        what: String,
        /// Rows.
        rows: usize,
        /// Features per row.
        dims: usize,
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        available: u64,
    },
    /// An option that does not fit the input.
    #[error("{0}")]
    Option(String),
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The available column that `wanted` most likely means: the same name but
/// for case, surrounding quotes or spaces (a header written `'vote'` or
/// ` Label`).
/// A column name as the user can read it: control characters escaped (a
/// name read from a file with Windows line ends in a script, `f29\r`, shows
/// its carriage return instead of looking like `f29`).
fn shown(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.escape_debug().to_string()
    } else {
        name.to_string()
    }
}

fn did_you_mean(wanted: &str, available: &[String]) -> String {
    let plain = |s: &str| {
        s.trim()
            .trim_matches(|c| c == '\'' || c == '"' || c == '`')
            .trim()
            .to_lowercase()
    };
    if let Some(a) = available.iter().find(|a| plain(a) == plain(wanted)) {
        return format!(" (did you mean `{a}`?)");
    }
    // the default label column, where the table names its label otherwise
    if plain(wanted) == "label" {
        if let Some(a) = available
            .iter()
            .find(|a| LABEL_NAMES.contains(&plain(a).as_str()))
        {
            return format!(" (is the label `{a}`? pass --label {a})");
        }
    }
    // a file without a header read with one: its first row's values as
    // names (a number with a fraction, an image file — `images/0001.jpg 3`;
    // not whole numbers, the names pandas gives an unnamed frame's columns)
    let datum = |a: &String| {
        let a = a.trim();
        (a.contains('.') && a.parse::<f64>().is_ok())
            || super::images::is_image(std::path::Path::new(a))
    };
    if available.iter().any(datum) {
        // numbers and one word: the word may name the label (spectra named
        // by their wavelengths, `400.5,…,species`)
        let words: Vec<&String> = available
            .iter()
            .filter(|a| a.trim().parse::<f64>().is_err() && !datum(a))
            .collect();
        let word = match words.as_slice() {
            [one] if plain(wanted) == "label" => {
                format!("; or, if it names the columns, is the label `{one}`? pass --label {one}")
            }
            _ => String::new(),
        };
        return format!(
            " (the first line looks like data, not column names: pass --no-header, and \
             --label column_N for the label's place, column_1 first to column_{} last{word})",
            available.len()
        );
    }
    // a CSV read with --no-header
    if plain(wanted) == "label" && available.first().is_some_and(|a| a == "column_1") {
        return format!(
            " (a file without a header names its columns by place: pass --label column_1 if \
             the label comes first, --label column_{} if last)",
            available.len()
        );
    }
    String::new()
}

/// The names of `available` columns, the first and last few of a wide table.
pub(super) fn listed(available: &[String]) -> String {
    const HEAD: usize = 16;
    const TAIL: usize = 4;
    if available.len() <= HEAD + TAIL + 4 {
        return available.join(", ");
    }
    format!(
        "{}, … {} ({} in all)",
        available[..HEAD].join(", "),
        available[available.len() - TAIL..].join(", "),
        available.len()
    )
}

/// Names tables commonly give their label column.
const LABEL_NAMES: [&str; 9] = [
    "labels",
    "target",
    "targets",
    "class",
    "classes",
    "y",
    "category",
    "outcome",
    "class_label",
];

fn source_hint(file: &Option<PathBuf>) -> String {
    match file {
        Some(p) => format!(" in {}", p.display()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_column_names_the_one_meant() {
        let available = vec!["'age'".to_string(), "'vote'".to_string(), " Label".into()];
        let e = |column: &str| {
            IngestError::MissingColumn {
                column: column.into(),
                file: None,
                available: available.clone(),
            }
            .to_string()
        };
        assert!(
            e("vote").contains("did you mean `'vote'`?"),
            "{}",
            e("vote")
        );
        assert!(
            e("label").contains("did you mean ` Label`?"),
            "{}",
            e("label")
        );
        assert!(!e("income").contains("did you mean"), "{}", e("income"));
        let e = IngestError::MissingColumn {
            column: "label".into(),
            file: None,
            available: vec!["f0".into(), "Target".into()],
        }
        .to_string();
        assert!(e.contains("pass --label Target"), "{e}");
        // a wide file read without a header: its first and last names
        let available: Vec<String> = (1..=785).map(|i| format!("column_{i}")).collect();
        let e = IngestError::MissingColumn {
            column: "label".into(),
            file: None,
            available,
        }
        .to_string();
        assert!(
            e.contains(
                "pass --label column_1 if the label comes first, --label column_785 if last"
            ),
            "{e}"
        );
        assert!(
            e.ends_with("column_16, … column_782, column_783, column_784, column_785 (785 in all)"),
            "{e}"
        );
    }
}
