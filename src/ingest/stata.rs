//! Stata data files (`*.dta`), as Stata's `save`, pandas's `to_stata` and
//! R's `haven::write_dta` write them: the binary format of releases 113 to
//! 115 (Stata 8 to 12; pandas's default, 114) and the tagged one of
//! releases 117, 118 and 119 (Stata 13 onwards), either byte order, read
//! as a table with the variables' names.
//!
//! Numbers (`byte`, `int`, `long`, `float`, `double`) are number columns,
//! Stata's missing values (`.`, `.a` … `.z`) nulls; fixed-width strings and
//! long strings (`strL`) are text (Latin-1 before release 118, UTF-8 from
//! it). A numeric variable with value labels (how Stata keeps a categorical
//! variable — pandas writes a `category` column so) is read as its labels'
//! text, a value without one written out. Variables with a date or time
//! display format (`%td`, `%tc`, …) are left out with a note.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::StringArray;
use arrow::array::{ArrayRef, Float32Array, Float64Array, Int16Array, Int32Array, Int8Array};
use arrow::record_batch::RecordBatch;

use super::cursor::Cursor;
use super::IngestError;

/// A variable's storage type.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A fixed-width string of this many bytes.
    Str(usize),
    /// A long string: a reference into the file's `strls`.
    StrL,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl Kind {
    /// Bytes a value takes in a row.
    fn width(self) -> usize {
        match self {
            Kind::Str(n) => n,
            Kind::StrL => 8,
            Kind::I8 => 1,
            Kind::I16 => 2,
            Kind::I32 | Kind::F32 => 4,
            Kind::F64 => 8,
        }
    }
}

struct Var {
    name: String,
    kind: Kind,
    format: String,
    labels: String,
}

/// A parsed file: its variables, rows and where they are.
struct Dta<'a> {
    data: &'a [u8],
    release: u32,
    big: bool,
    vars: Vec<Var>,
    rows: usize,
    /// Where the rows begin.
    records: usize,
    /// Long strings by (variable, observation).
    strls: HashMap<(u64, u64), Vec<u8>>,
    /// Value labels: name → value → text.
    value_labels: HashMap<String, HashMap<i32, String>>,
}

type Parse<T> = Result<T, String>;

/// The text of a fixed-width field of `n` bytes.
fn name(c: &mut Cursor<'_>, n: usize, utf8: bool) -> Parse<String> {
    Ok(text(c.take(n)?, utf8))
}

/// Bytes up to the first NUL as text: UTF-8 (release 118 on), else
/// Latin-1.
fn text(bytes: &[u8], utf8: bool) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    super::frame::decode_text(&bytes[..end], utf8)
}

/// Reads the layout of a Stata file.
fn parse(data: &[u8]) -> Parse<Dta<'_>> {
    if data.starts_with(b"<stata_dta>") {
        parse_tagged(data)
    } else {
        parse_binary(data)
    }
}

/// Releases 113–115: a fixed header, then descriptors, labels, expansion
/// fields, the rows and the value labels.
fn parse_binary(data: &[u8]) -> Parse<Dta<'_>> {
    let release = u32::from(*data.first().ok_or("an empty file")?);
    if !(113..=115).contains(&release) {
        return Err(format!("release {release}, which is not a Stata file's"));
    }
    let big = match data.get(1) {
        Some(1) => true,
        Some(2) => false,
        _ => return Err("a byte order that is neither 1 nor 2".into()),
    };
    let mut c = Cursor::new(data, 4, big);
    let k = c.uint(2)? as usize;
    let rows = c.uint(4)? as usize;
    c.take(81 + 18)?; // data label, time stamp
    let types = c.take(k)?.to_vec();
    let names = (0..k)
        .map(|_| name(&mut c, 33, false))
        .collect::<Parse<Vec<_>>>()?;
    c.take(2 * (k + 1))?; // sort order
    let formats = (0..k)
        .map(|_| name(&mut c, 49, false))
        .collect::<Parse<Vec<_>>>()?;
    let labels = (0..k)
        .map(|_| name(&mut c, 33, false))
        .collect::<Parse<Vec<_>>>()?;
    c.take(81 * k)?; // variable labels
                     // expansion fields: (type, length, contents) until a zero type
    loop {
        let kind = c.take(1)?[0];
        let len = c.uint(4)? as usize;
        if kind == 0 && len == 0 {
            break;
        }
        c.take(len)?;
    }
    let kind = |t: u64| match t {
        1..=244 => Some(Kind::Str(t as usize)),
        251 => Some(Kind::I8),
        252 => Some(Kind::I16),
        253 => Some(Kind::I32),
        254 => Some(Kind::F32),
        255 => Some(Kind::F64),
        _ => None,
    };
    let types: Vec<u64> = types.iter().map(|&t| u64::from(t)).collect();
    let vars = variables(&types, kind, names, formats, labels)?;
    let records = c.at;
    let width: usize = vars.iter().map(|v| v.kind.width()).sum();
    c.take(width.checked_mul(rows).ok_or("too many rows")?)?;
    // value labels, to the end of the file
    let mut value_labels = HashMap::new();
    while c.data.len() - c.at >= 4 + 33 + 3 {
        let len = c.uint(4)? as usize;
        let name = name(&mut c, 33, false)?;
        c.take(3)?;
        let table = c.take(len)?;
        value_labels.insert(name, label_table(table, big, false)?);
    }
    Ok(Dta {
        data,
        release,
        big,
        vars,
        rows,
        records,
        strls: HashMap::new(),
        value_labels,
    })
}

/// The variables of a file: each one's type code (read by `kind`), name,
/// display format and value labels' name.
fn variables(
    types: &[u64],
    kind: impl Fn(u64) -> Option<Kind>,
    names: Vec<String>,
    formats: Vec<String>,
    labels: Vec<String>,
) -> Parse<Vec<Var>> {
    types
        .iter()
        .zip(names.into_iter().zip(formats.into_iter().zip(labels)))
        .enumerate()
        .map(|(j, (&t, (name, (format, labels))))| {
            Ok(Var {
                name,
                kind: kind(t).ok_or_else(|| format!("variable {j} of type {t}"))?,
                format,
                labels,
            })
        })
        .collect()
}

/// One value-label table: `n`, the text's length, `n` offsets, `n`
/// values, the text.
fn label_table(table: &[u8], big: bool, utf8: bool) -> Parse<HashMap<i32, String>> {
    let mut t = Cursor::new(table, 0, big);
    let n = t.uint(4)? as usize;
    let text_len = t.uint(4)? as usize;
    if n > table.len() / 8 {
        return Err(format!(
            "a value-label table of {n} entries in {} bytes",
            table.len()
        ));
    }
    let offsets = (0..n).map(|_| t.uint(4)).collect::<Parse<Vec<_>>>()?;
    let values = (0..n).map(|_| t.uint(4)).collect::<Parse<Vec<_>>>()?;
    let txt = t.take(text_len)?;
    let mut out = HashMap::with_capacity(n);
    for (o, v) in offsets.into_iter().zip(values) {
        let o = usize::try_from(o).map_err(|_| "a damaged value label")?;
        let label = txt.get(o..).ok_or("a value label past its table")?;
        out.insert(v as u32 as i32, text(label, utf8));
    }
    Ok(out)
}

/// Releases 117–119: tagged sections, found through the `<map>`.
fn parse_tagged(data: &[u8]) -> Parse<Dta<'_>> {
    let mut c = Cursor::new(data, 0, false);
    c.expect("<stata_dta><header><release>")?;
    let release: u32 = std::str::from_utf8(c.take(3)?)
        .ok()
        .and_then(|r| r.parse().ok())
        .ok_or("a damaged release number")?;
    if !(117..=119).contains(&release) {
        return Err(format!("release {release} (poisonscan reads 113 to 119)"));
    }
    c.expect("</release><byteorder>")?;
    c.big = match c.take(3)? {
        b"MSF" => true,
        b"LSF" => false,
        _ => return Err("a byte order that is neither MSF nor LSF".into()),
    };
    let utf8 = release >= 118;
    c.expect("</byteorder><K>")?;
    let k = c.uint(if release == 119 { 4 } else { 2 })? as usize;
    c.expect("</K><N>")?;
    let rows = c.uint(if release == 117 { 4 } else { 8 })? as usize;
    c.expect("</N><label>")?;
    let label_len = c.uint(if release == 117 { 1 } else { 2 })? as usize;
    c.take(label_len)?;
    c.expect("</label><timestamp>")?;
    let stamp_len = c.uint(1)? as usize;
    c.take(stamp_len)?;
    c.expect("</timestamp></header><map>")?;
    let map = (0..14).map(|_| c.uint(8)).collect::<Parse<Vec<_>>>()?;
    let big = c.big;
    let section = |i: usize, tag: &str| -> Parse<Cursor<'_>> {
        let at = usize::try_from(map[i]).map_err(|_| "a damaged map")?;
        let mut s = Cursor::new(data, at, big);
        s.expect(&format!("<{tag}>"))?;
        Ok(s)
    };
    let name_len = if release == 117 { 33 } else { 129 };
    let mut s = section(2, "variable_types")?;
    let types = (0..k).map(|_| s.uint(2)).collect::<Parse<Vec<_>>>()?;
    let mut s = section(3, "varnames")?;
    let names = (0..k)
        .map(|_| name(&mut s, name_len, utf8))
        .collect::<Parse<Vec<_>>>()?;
    let mut s = section(5, "formats")?;
    let format_len = if release == 117 { 49 } else { 57 };
    let formats = (0..k)
        .map(|_| name(&mut s, format_len, utf8))
        .collect::<Parse<Vec<_>>>()?;
    let mut s = section(6, "value_label_names")?;
    let labels = (0..k)
        .map(|_| name(&mut s, name_len, utf8))
        .collect::<Parse<Vec<_>>>()?;
    let kind = |t: u64| match t {
        1..=2045 => Some(Kind::Str(t as usize)),
        32768 => Some(Kind::StrL),
        65526 => Some(Kind::F64),
        65527 => Some(Kind::F32),
        65528 => Some(Kind::I32),
        65529 => Some(Kind::I16),
        65530 => Some(Kind::I8),
        _ => None,
    };
    let vars = variables(&types, kind, names, formats, labels)?;
    let records = section(9, "data")?.at;
    let width: usize = vars.iter().map(|v| v.kind.width()).sum();
    width
        .checked_mul(rows)
        .and_then(|n| n.checked_add(records))
        .filter(|&e| e <= data.len())
        .ok_or("the rows run past the end of the file (cut short?)")?;
    // long strings: `GSO`, variable, observation, type, length, bytes
    let mut strls = HashMap::new();
    let mut s = section(10, "strls")?;
    while s.data.get(s.at..s.at + 3) == Some(b"GSO") {
        s.take(3)?;
        let v = s.uint(4)?;
        let o = s.uint(if release == 117 { 4 } else { 8 })?;
        s.take(1)?; // binary (129) or text (130)
        let len = s.uint(4)? as usize;
        let mut bytes = s.take(len)?.to_vec();
        if bytes.last() == Some(&0) {
            bytes.pop();
        }
        strls.insert((v, o), bytes);
    }
    let mut value_labels = HashMap::new();
    let mut s = section(11, "value_labels")?;
    while s.data.get(s.at..s.at + 5) == Some(b"<lbl>") {
        s.take(5)?;
        let len = s.uint(4)? as usize;
        let name = name(&mut s, name_len, utf8)?;
        s.take(3)?;
        let table = s.take(len)?;
        value_labels.insert(name, label_table(table, s.big, utf8)?);
        s.expect("</lbl>")?;
    }
    Ok(Dta {
        data,
        release,
        big: c.big,
        vars,
        rows,
        records,
        strls,
        value_labels,
    })
}

/// Whether a display format is a date's or a time's (`%td`, `%tc`, `%d`).
fn is_date(format: &str) -> bool {
    let f = format.trim_start_matches('%').trim_start_matches('-');
    f.starts_with('t') || f.starts_with("d")
}

impl Dta<'_> {
    /// Variable `j`'s values, one slice per row.
    fn cells(&self, j: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let width: usize = self.vars.iter().map(|v| v.kind.width()).sum();
        let start: usize = self.vars[..j].iter().map(|v| v.kind.width()).sum();
        let w = self.vars[j].kind.width();
        (0..self.rows).map(move |r| {
            let at = self.records + r * width + start;
            &self.data[at..at + w]
        })
    }

    /// An unsigned number of up to 8 bytes in the file's byte order.
    fn uint(&self, b: &[u8]) -> u64 {
        super::cursor::number(b, self.big)
    }

    /// A signed one, sign-extended from its width.
    fn int(&self, b: &[u8]) -> i64 {
        let bits = 64 - 8 * b.len() as u32;
        ((self.uint(b) << bits) as i64) >> bits
    }

    fn column(&self, j: usize) -> Parse<ArrayRef> {
        let var = &self.vars[j];
        let utf8 = self.release >= 118;
        // Stata's missing values: every value above the type's largest
        let ints = |max: i64| -> Vec<Option<i64>> {
            self.cells(j)
                .map(|b| Some(self.int(b)).filter(|&v| v <= max))
                .collect()
        };
        let values: ArrayRef = match var.kind {
            Kind::Str(_) => Arc::new(StringArray::from_iter_values(
                self.cells(j).map(|b| text(b, utf8)),
            )),
            Kind::StrL => {
                let v_bytes = match self.release {
                    117 => 4,
                    118 => 2,
                    _ => 3,
                };
                let text: Vec<Option<String>> = self
                    .cells(j)
                    .map(|b| {
                        let (v, o) = b.split_at(v_bytes);
                        let (v, o) = (self.uint(v), self.uint(o));
                        if (v, o) == (0, 0) {
                            Some(String::new())
                        } else {
                            self.strls.get(&(v, o)).map(|s| text(s, utf8))
                        }
                    })
                    .collect();
                Arc::new(StringArray::from(text))
            }
            Kind::I8 => Arc::new(Int8Array::from_iter(
                ints(100).into_iter().map(|v| v.map(|v| v as i8)),
            )),
            Kind::I16 => Arc::new(Int16Array::from_iter(
                ints(32_740).into_iter().map(|v| v.map(|v| v as i16)),
            )),
            Kind::I32 => Arc::new(Int32Array::from_iter(
                ints(2_147_483_620).into_iter().map(|v| v.map(|v| v as i32)),
            )),
            Kind::F32 => Arc::new(Float32Array::from_iter(self.cells(j).map(|b| {
                let bits = self.uint(b) as u32;
                Some(f32::from_bits(bits)).filter(|v| *v <= 1.701e38)
            }))),
            Kind::F64 => Arc::new(Float64Array::from_iter(self.cells(j).map(|b| {
                let bits = self.uint(b);
                Some(f64::from_bits(bits)).filter(|v| *v <= 8.988e307)
            }))),
        };
        let Some(labels) = (!var.labels.is_empty())
            .then(|| self.value_labels.get(&var.labels))
            .flatten()
        else {
            return Ok(values);
        };
        // labelled values as their labels' text
        let numbers = arrow::compute::cast(&values, &arrow::datatypes::DataType::Float64)
            .map_err(|e| e.to_string())?;
        let numbers = numbers
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("numbers");
        let text: StringArray = numbers
            .iter()
            .map(|v| {
                v.map(
                    |v| match labels.get(&(v as i32)).filter(|_| v.fract() == 0.0) {
                        Some(label) => label.clone(),
                        None => v.to_string(),
                    },
                )
            })
            .collect();
        Ok(Arc::new(text))
    }
}

/// Reads a Stata file as a batch (see the module docs).
pub(super) fn read(path: &Path, notes: &mut Vec<String>) -> Result<RecordBatch, IngestError> {
    let fail = |m: String| super::frame::read_error(path, "Stata", m);
    let bytes = super::frame::unpacked(path, "Stata")?;
    let dta = parse(&bytes).map_err(&fail)?;
    let mut columns = Vec::new();
    let mut left_out = Vec::new();
    for (j, var) in dta.vars.iter().enumerate() {
        if is_date(&var.format) && !matches!(var.kind, Kind::Str(_) | Kind::StrL) {
            left_out.push(format!("`{}` ({})", var.name, var.format));
            continue;
        }
        columns.push((var.name.clone(), dta.column(j).map_err(&fail)?));
    }
    super::frame::variables_batch(path, "Stata", columns, &left_out, notes)
}
