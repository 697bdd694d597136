//! Weka's ARFF files (`*.arff`), as OpenML and Weka ship tabular data sets:
//! a header of `@attribute NAME TYPE` lines, then `@data` rows — dense
//! (comma-separated values, `?` missing, quoted with `'` or `"`) or sparse
//! (`{index value, …}`, the values left out 0, or a nominal attribute's
//! first value). Compressed as a table may be (gzip, zstd, bzip2, xz, zip).
//!
//! Numeric attributes (`numeric`, `real`, `integer`) become number columns,
//! nominal ones (`{a, b, c}`) and strings text columns (read as categories
//! or labels like a CSV file's text); dates are left out with a note
//! (instants, not features). The label is the `--label` attribute; without
//! one named so, the last nominal attribute, as Weka takes the class (its
//! name is then the label column, with a note). Relational attributes are
//! an error.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};

use super::IngestError;

fn arff_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "ARFF",
        message: message.into(),
    }
}

/// Whether a file is an ARFF file: by its name, or by its first line that
/// is not a comment (`@relation …`).
pub(super) fn is_arff(path: &Path, head: &str) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let named = [
        ".arff",
        ".arff.gz",
        ".arff.zst",
        ".arff.bz2",
        ".arff.xz",
        ".arff.zip",
    ]
    .iter()
    .any(|e| name.ends_with(e));
    named
        || head
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('%'))
            .is_some_and(|l| keyword(l, "@relation").is_some())
}

/// An attribute's type.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Numeric,
    /// Its declared values, in order.
    Nominal(Vec<String>),
    Text,
    Date,
}

/// An attribute's values read so far.
enum Column {
    Numbers(Vec<Option<f64>>),
    /// Nominal values and strings.
    Text(Vec<Option<String>>),
    /// Left out.
    Dates,
}

/// The rest of `line` after `word` (case-insensitive) and the whitespace
/// after it, when the line begins with it.
fn keyword<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let head = line.get(..word.len())?;
    let rest = &line[word.len()..];
    (head.eq_ignore_ascii_case(word) && (rest.is_empty() || rest.starts_with(char::is_whitespace)))
        .then(|| rest.trim_start())
}

/// The first token of `s` — quoted with `'` or `"` (backslash escapes
/// kept as the character after them), or up to whitespace, a comma or
/// `{` — and the rest after it; `None` for an unclosed quote.
fn token(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, q @ ('\'' | '"'))) => {
            let mut out = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                if escaped {
                    out.push(match c {
                        'n' => '\n',
                        't' => '\t',
                        c => c,
                    });
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    return Some((out, &s[i + 1..]));
                } else {
                    out.push(c);
                }
            }
            None
        }
        _ => {
            let end = s
                .find(|c: char| c.is_whitespace() || c == ',' || c == '{')
                .unwrap_or(s.len());
            Some((s[..end].to_string(), &s[end..]))
        }
    }
}

/// The values of a comma-separated list (`a, 'b c', ?`): each unquoted
/// and trimmed; a bare `?` is `None` (missing).
fn values(s: &str) -> Result<Vec<Option<String>>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    if rest.is_empty() {
        return Ok(out);
    }
    loop {
        let quoted = rest.starts_with(['\'', '"']);
        let (value, after) = if quoted {
            token(rest).ok_or("a quote is not closed")?
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            (rest[..end].trim().to_string(), &rest[end..])
        };
        out.push((quoted || value != "?").then_some(value));
        let after = after.trim_start();
        match after.strip_prefix(',') {
            Some(next) => rest = next.trim_start(),
            None if after.is_empty() => return Ok(out),
            None => return Err(format!("unexpected `{after}` after a value")),
        }
    }
}

/// One attribute line's name and type (after `@attribute`).
fn attribute(rest: &str) -> Result<(String, Kind), String> {
    let (name, rest) = token(rest).ok_or("its name's quote is not closed")?;
    let spec = rest.trim();
    let kind = if let Some(inner) = spec.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or("its nominal values do not end with `}`")?;
        Kind::Nominal(values(inner)?.into_iter().flatten().collect())
    } else {
        let word = spec
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match word.as_str() {
            "numeric" | "real" | "integer" => Kind::Numeric,
            "string" => Kind::Text,
            "date" => Kind::Date,
            "relational" => {
                return Err(
                    "a relational attribute (multi-instance data), which is not read".into(),
                )
            }
            _ => return Err(format!("an unknown type `{spec}`")),
        }
    };
    Ok((name, kind))
}

/// A data row's values, one per attribute: dense, or sparse
/// (`{index value, …}`); an instance weight after it (`, {0.5}`) is
/// ignored.
fn row(line: &str, kinds: &[Kind]) -> Result<Vec<Option<String>>, String> {
    if let Some(inner) = line.strip_prefix('{') {
        let end = inner
            .rfind('}')
            .ok_or("a sparse row does not end with `}`")?;
        // the values left out: 0, or a nominal attribute's first value
        let mut out: Vec<Option<String>> = kinds
            .iter()
            .map(|k| match k {
                Kind::Nominal(v) => v.first().cloned(),
                _ => Some("0".into()),
            })
            .collect();
        for entry in values(&inner[..end])?.into_iter().flatten() {
            let (index, value) = entry
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("a sparse entry `{entry}` is not `index value`"))?;
            let i: usize = index
                .parse()
                .ok()
                .filter(|&i| i < kinds.len())
                .ok_or_else(|| format!("a sparse entry's index `{index}` is not an attribute"))?;
            let value = value.trim();
            out[i] = if value == "?" {
                None
            } else {
                Some(token(value).map_or(value.to_string(), |(v, _)| v))
            };
        }
        return Ok(out);
    }
    let mut line = line.trim_end();
    // a weighted instance: `…, {0.5}`
    if line.ends_with('}') {
        if let Some(open) = line.rfind('{') {
            if line[..open].trim_end().ends_with(',') {
                line = line[..open].trim_end().trim_end_matches(',');
            }
        }
    }
    let v = values(line)?;
    if v.len() != kinds.len() {
        return Err(format!(
            "{} values where the header declares {} attributes",
            v.len(),
            kinds.len()
        ));
    }
    Ok(v)
}

/// Reads an ARFF file into a table (see the module docs); `label` is the
/// label column asked for.
pub(super) fn read(
    path: &Path,
    label: &str,
    notes: &mut Vec<String>,
) -> Result<RecordBatch, IngestError> {
    let at = |n: usize, e: String| arff_error(path, format!("line {}: {e}", n + 1));
    let mut attributes: Vec<(String, Kind)> = Vec::new();
    // each attribute's values, numbers parsed as the rows come
    let mut columns: Vec<Column> = Vec::new();
    let mut kinds: Vec<Kind> = Vec::new();
    let mut in_data = false;
    let mut rows = 0usize;
    for (n, line) in super::text_lines(path)?.enumerate() {
        let line = line.map_err(|e| arff_error(path, format!("it cannot be read as text: {e}")))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('%') {
            continue;
        }
        if in_data {
            let values = row(line, &kinds).map_err(|e| at(n, e))?;
            rows += 1;
            for ((column, value), (name, kind)) in columns.iter_mut().zip(values).zip(&attributes) {
                let bad = |what: &str| {
                    at(
                        n,
                        format!(
                            "attribute `{name}`, data row {rows}: `{}` {what}",
                            value.as_deref().unwrap_or("")
                        ),
                    )
                };
                match (column, kind) {
                    (Column::Numbers(v), _) => v.push(match &value {
                        None => None,
                        Some(s) => Some(s.parse::<f64>().map_err(|_| bad("is not a number"))?),
                    }),
                    (Column::Text(v), Kind::Nominal(declared)) => {
                        if value.as_ref().is_some_and(|s| !declared.contains(s)) {
                            return Err(bad("is not one of its declared values"));
                        }
                        v.push(value);
                    }
                    (Column::Text(v), _) => v.push(value),
                    (Column::Dates, _) => {}
                }
            }
        } else if let Some(rest) = keyword(line, "@attribute") {
            attributes.push(attribute(rest).map_err(|e| at(n, e))?);
        } else if keyword(line, "@data").is_some() {
            if attributes.is_empty() {
                return Err(at(n, "`@data` before any `@attribute`".into()));
            }
            kinds = attributes.iter().map(|(_, k)| k.clone()).collect();
            columns = kinds
                .iter()
                .map(|k| match k {
                    Kind::Numeric => Column::Numbers(Vec::new()),
                    Kind::Nominal(_) | Kind::Text => Column::Text(Vec::new()),
                    Kind::Date => Column::Dates,
                })
                .collect();
            in_data = true;
        } else if keyword(line, "@relation").is_none() {
            return Err(at(
                n,
                format!("`{line}` is not an ARFF header line (`@relation`, `@attribute`, `@data`)"),
            ));
        }
    }
    if !in_data {
        return Err(arff_error(path, "no `@data` section"));
    }
    // the label: as asked, else Weka's class, the last nominal attribute
    let named = attributes.iter().any(|(n, _)| n == label);
    let class = if named || label != "label" {
        None
    } else {
        attributes
            .iter()
            .rposition(|(_, k)| matches!(k, Kind::Nominal(_)))
    };
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let mut dates = Vec::new();
    for (i, ((name, _), column)) in attributes.iter().zip(columns).enumerate() {
        let name = if Some(i) == class {
            notes.push(format!(
                "{}: its class is the last nominal attribute, `{name}`, as Weka takes it (--label \
                 NAME for another)",
                path.display()
            ));
            label.to_string()
        } else {
            name.clone()
        };
        let array: ArrayRef = match column {
            Column::Dates => {
                dates.push(format!("`{name}`"));
                continue;
            }
            Column::Numbers(v) => Arc::new(Float64Array::from(v)),
            Column::Text(v) => Arc::new(StringArray::from(v)),
        };
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    }
    if !dates.is_empty() {
        notes.push(format!(
            "{}: left out the date attribute(s) {} (instants, not features)",
            path.display(),
            dates.join(", ")
        ));
    }
    if fields.is_empty() {
        return Err(arff_error(
            path,
            "it holds dates only, which are not features",
        ));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| arff_error(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    fn read_text(text: &str, label: &str) -> Result<(RecordBatch, Vec<String>), IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.arff");
        std::fs::write(&path, text).unwrap();
        let mut notes = Vec::new();
        read(&path, label, &mut notes).map(|b| (b, notes))
    }

    const IRIS: &str = "% the iris data\n\
        @RELATION iris\n\n\
        @ATTRIBUTE sepallength\tREAL\n\
        @ATTRIBUTE 'petal width' numeric\n\
        @attribute when date \"yyyy-MM-dd\"\n\
        @ATTRIBUTE class {Iris-setosa,'Iris versicolor'}\n\
        @DATA\n\
        5.1, 0.2, \"2001-04-03\", Iris-setosa\n\
        % a comment among the rows\n\
        4.9,?,?,'Iris versicolor'\n\
        {0 6.3, 3 'Iris versicolor'}\n\
        7.0,1.4,\"2001-04-03\",Iris-setosa,{2}\n";

    #[test]
    fn an_arff_file_is_a_table_with_weka_s_class() {
        let (b, notes) = read_text(IRIS, "label").unwrap();
        let names: Vec<&str> = b
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["sepallength", "petal width", "label"]);
        assert!(notes.iter().any(|n| n.contains("`class`")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("`when`")), "{notes:?}");
        let width = b.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
        // missing, and a sparse row's value left out: 0
        assert!(width.is_null(1));
        assert_eq!(width.value(2), 0.0);
        let class = b.column(2).as_any().downcast_ref::<StringArray>().unwrap();
        let class: Vec<&str> = (0..4).map(|i| class.value(i)).collect();
        assert_eq!(
            class,
            [
                "Iris-setosa",
                "Iris versicolor",
                "Iris versicolor",
                "Iris-setosa"
            ]
        );
        // a label named: the class keeps its name
        let (b, _) = read_text(IRIS, "sepallength").unwrap();
        assert_eq!(b.schema_ref().field(2).name(), "class");
    }

    #[test]
    fn bad_arff_files_are_errors_naming_the_line() {
        let e = |text: &str| read_text(text, "label").unwrap_err().to_string();
        let head = "@relation r\n@attribute a numeric\n@attribute c {x,y}\n@data\n";
        assert!(e(&format!("{head}1,x,3\n")).contains("line 5: 3 values"));
        assert!(e(&format!("{head}one,x\n")).contains("`one` is not a number"));
        assert!(e(&format!("{head}1,z\n")).contains("`z` is not one of its declared"));
        assert!(e(&format!("{head}1,'x\n")).contains("quote is not closed"));
        assert!(e("@relation r\n@attribute a relational\n@data\n").contains("relational"));
        assert!(e("@relation r\n@attribute a numeric\n").contains("no `@data`"));
        assert!(e("@relation r\nhello\n").contains("not an ARFF header line"));
    }
}
