//! SAS transport files (`*.xpt`, XPORT versions 5 and 8), as SAS's
//! `XPORT` engine and `%loc2xpt`, R's haven and pyreadstat write them, and
//! as public health data sets ship (CDC's NHANES, the FDA's submissions):
//! 80-byte records of headers, one 140-byte description per variable, then
//! the observations. Read as a table with the variables' names (version 8's
//! long names too).
//!
//! Numbers are IBM mainframe floating point (2 to 8 bytes), rewritten as
//! IEEE doubles; SAS's missing values (`.`, `.A`–`.Z`, `._`) are nulls.
//! Text is Latin-1 with its trailing spaces cut. Numeric variables with a
//! date or time format (`DATE9.`, `DATETIME20.`, `MMDDYY10.`, …) are left
//! out with a note. Version 8's long labels are skipped. A file of
//! several data sets is read for its first, with a note naming the others.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use arrow::record_batch::RecordBatch;

use super::IngestError;

type Parse<T> = Result<T, String>;

/// A SAS variable (of a transport file or a data set): its name, whether
/// numeric, its length and place in an observation, and its format's name.
pub(super) struct Var {
    pub(super) name: String,
    pub(super) numeric: bool,
    pub(super) len: usize,
    pub(super) pos: usize,
    pub(super) format: String,
}

/// The header records that begin a file and a member, by version.
const LIBRARY: [&[u8]; 2] = [
    b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!",
    b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!",
];

/// Whether a file is a SAS transport file, by its first record.
pub(super) fn is_xport(head: &[u8]) -> bool {
    LIBRARY.iter().any(|l| head.starts_with(l))
}

/// An IBM System/360 floating-point number of 2 to 8 bytes (big-endian,
/// the rest of its 8 bytes zero) as an IEEE double; `None` for SAS's
/// missing values (first byte `.`, `A`–`Z` or `_`, the rest zero).
fn ibm(b: &[u8]) -> Option<f64> {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    if w[1..].iter().all(|&x| x == 0) && (w[0] == b'.' || w[0] == b'_' || w[0].is_ascii_uppercase())
    {
        return None;
    }
    let v = u64::from_be_bytes(w);
    let sign = if v >> 63 == 1 { -1.0 } else { 1.0 };
    let exponent = ((v >> 56) & 0x7f) as i32 - 64;
    let fraction = (v & 0x00ff_ffff_ffff_ffff) as f64 / (1u64 << 56) as f64;
    Some(sign * fraction * 16f64.powi(exponent))
}

/// Whether a SAS format names a date or a time.
fn is_date(format: &str) -> bool {
    let f = format.to_ascii_uppercase();
    [
        "DATE", "DATETIME", "TIME", "MMDDYY", "DDMMYY", "YYMMDD", "YYMON", "MONYY", "WEEKDATE",
        "WORDDATE", "JULIAN", "E8601", "B8601", "IS8601", "DTDATE", "NENGO", "HHMM", "TOD", "YEAR",
        "QTR", "MONTH", "DAY", "WEEKDAY", "MMYY", "YYMM", "YYQ",
    ]
    .iter()
    .any(|d| f.starts_with(d))
}

/// Text of a fixed field: Latin-1, trailing spaces and NULs cut.
fn text(b: &[u8]) -> String {
    super::frame::padded_text(b, false)
}

fn be16(b: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([b[0], b[1]]))
}

/// A transport file's first data set.
struct Member<'a> {
    name: String,
    vars: Vec<Var>,
    /// Each observation's bytes.
    rows: Vec<&'a [u8]>,
    /// The names of the data sets after it.
    others: Vec<String>,
}

/// The first data set of a transport file.
fn parse(data: &[u8]) -> Parse<Member<'_>> {
    let record = |i: usize| -> Parse<&[u8]> {
        data.get(i * 80..i * 80 + 80)
            .ok_or_else(|| "the file ends early (cut short?)".into())
    };
    let v8 = record(0)?.starts_with(LIBRARY[1]);
    if !is_xport(record(0)?) {
        return Err("not a SAS transport file (no library header first)".into());
    }
    // library header + 2 records; member header, descriptor header,
    // 2 records; namestr header
    let member = record(3)?;
    if !member.starts_with(b"HEADER RECORD*******MEMB") {
        return Err("no member header in record 4".into());
    }
    let namestr_len: usize = std::str::from_utf8(&member[74..78])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or("a damaged member header")?;
    if namestr_len != 140 && namestr_len != 136 {
        return Err(format!("descriptions of {namestr_len} bytes"));
    }
    let name = text(&record(5)?[8..16]);
    let names_header = record(7)?;
    if !names_header.starts_with(b"HEADER RECORD*******NAMSTV8")
        && !names_header.starts_with(b"HEADER RECORD*******NAMESTR")
    {
        return Err("no variable descriptions in record 8".into());
    }
    let count: usize = std::str::from_utf8(&names_header[54..58])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or("a damaged variable count")?;
    let start = 8 * 80;
    let bytes = count * namestr_len;
    let names = data
        .get(start..start + bytes)
        .ok_or("the variable descriptions end early (cut short?)")?;
    let mut vars = Vec::with_capacity(count);
    for d in names.chunks_exact(namestr_len) {
        let short = text(&d[8..16]);
        // version 8 keeps a name of up to 32 bytes at byte 88
        let long = if v8 && namestr_len == 140 {
            text(&d[88..120])
        } else {
            String::new()
        };
        let pos = u32::from_be_bytes([d[84], d[85], d[86], d[87]]) as usize;
        vars.push(Var {
            name: if long.is_empty() { short } else { long },
            numeric: be16(&d[0..2]) == 1,
            len: be16(&d[4..6]),
            pos,
            format: text(&d[56..64]),
        });
    }
    // the observations, after the next 80-byte boundary and their header
    let mut at = (start + bytes).div_ceil(80) * 80;
    // version 8's long labels (`LABELV8`: number, name and label lengths;
    // `LABELV9` also a format's and an informat's) come before: skipped
    if let Some(header) = data
        .get(at..at + 80)
        .filter(|r| r.starts_with(b"HEADER RECORD*******LABELV"))
    {
        let lengths = if header[26] == b'9' { 4 } else { 2 };
        let count: usize = std::str::from_utf8(&header[48..80])
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or("a damaged label header")?;
        at += 80;
        for _ in 0..count {
            let head = data
                .get(at..at + 2 + 2 * lengths)
                .ok_or("the labels end early (cut short?)")?;
            let skip: usize = (1..=lengths).map(|k| be16(&head[2 * k..])).sum();
            at += 2 + 2 * lengths + skip;
        }
        at = at.div_ceil(80) * 80;
    }
    let obs_header = data
        .get(at..at + 80)
        .ok_or("no observations header (cut short?)")?;
    if !obs_header.starts_with(b"HEADER RECORD*******OBS") {
        return Err("no observations header".into());
    }
    at += 80;
    let width: usize = vars.iter().map(|v| v.len).sum();
    for v in &vars {
        if v.pos + v.len > width || (v.numeric && !(2..=8).contains(&v.len)) {
            return Err(format!(
                "variable `{}` of a damaged place or length",
                v.name
            ));
        }
    }
    if width == 0 {
        return Err("no variables".into());
    }
    // the member ends at the next member header, or at the file's end
    let rest = &data[at.min(data.len())..];
    let end = rest
        .chunks(80)
        .position(|r| r.starts_with(b"HEADER RECORD*******MEMB"))
        .map_or(rest.len(), |i| i * 80);
    let others: Vec<String> = rest[end..]
        .chunks_exact(80)
        .enumerate()
        .filter(|(_, r)| r.starts_with(b"HEADER RECORD*******MEMB"))
        .filter_map(|(i, _)| rest.get(end + (i + 2) * 80 + 8..end + (i + 2) * 80 + 16))
        .map(text)
        .collect();
    // a transport file is whole 80-byte records, its last padded with
    // spaces: anything else was cut short
    let observations = &rest[..end];
    let partial = &observations[observations.len() - observations.len() % width..];
    if !data.len().is_multiple_of(80) || partial.iter().any(|&b| b != b' ') {
        return Err("the observations end in the middle of a record (cut short?)".into());
    }
    let mut rows: Vec<&[u8]> = observations.chunks_exact(width).collect();
    // the last record is padded with spaces: rows of spaces alone there
    // are padding, not observations
    while rows.last().is_some_and(|r| r.iter().all(|&b| b == b' ')) {
        rows.pop();
    }
    Ok(Member {
        name,
        vars,
        rows,
        others,
    })
}

/// Reads a SAS transport file as a batch (see the module docs), or a SAS
/// data set (see [`super::sas7bdat`]), told by its first bytes.
pub(super) fn read(path: &Path, notes: &mut Vec<String>) -> Result<RecordBatch, IngestError> {
    let fail = |m: String| super::frame::read_error(path, "SAS transport", m);
    let bytes = super::frame::unpacked(path, "SAS transport")?;
    if super::sas7bdat::is_sas7bdat(&bytes) {
        return super::sas7bdat::read(path, &bytes, notes);
    }
    let Member {
        name,
        vars,
        rows,
        others,
    } = parse(&bytes).map_err(&fail)?;
    if !others.is_empty() {
        notes.push(format!(
            "{}: read its first data set, `{name}`; the others ({}) are not read",
            path.display(),
            others.join(", ")
        ));
    }
    variables(path, "SAS transport", &vars, &rows, ibm, text, notes)
}

/// SAS variables as a batch, each cut from every row at its place: numbers
/// by `number`, text by `text`; those with a date or time format left out
/// with a note (transport files and data sets alike).
pub(super) fn variables<R: AsRef<[u8]>>(
    path: &Path,
    format: &'static str,
    vars: &[Var],
    rows: &[R],
    number: impl Fn(&[u8]) -> Option<f64>,
    text: impl Fn(&[u8]) -> String,
    notes: &mut Vec<String>,
) -> Result<RecordBatch, IngestError> {
    let mut columns = Vec::new();
    let mut left_out = Vec::new();
    for v in vars {
        if v.numeric && is_date(&v.format) {
            left_out.push(format!("`{}` ({})", v.name, v.format));
            continue;
        }
        let cells = rows.iter().map(|r| &r.as_ref()[v.pos..v.pos + v.len]);
        let array: ArrayRef = if v.numeric {
            Arc::new(Float64Array::from_iter(cells.map(&number)))
        } else {
            Arc::new(StringArray::from_iter_values(cells.map(&text)))
        };
        columns.push((v.name.clone(), array));
    }
    super::frame::variables_batch(path, format, columns, &left_out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibm_numbers_and_missing_values() {
        // 1.0 = 0x41 10 00 …; -118.625 = 0xC2 76 A0 00 …
        assert_eq!(ibm(&[0x41, 0x10, 0, 0, 0, 0, 0, 0]), Some(1.0));
        assert_eq!(ibm(&[0xC2, 0x76, 0xA0, 0, 0, 0, 0, 0]), Some(-118.625));
        assert_eq!(ibm(&[0, 0, 0, 0, 0, 0, 0, 0]), Some(0.0));
        // a number kept in 3 bytes
        assert_eq!(ibm(&[0x41, 0x10, 0]), Some(1.0));
        assert_eq!(ibm(&[b'.', 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(ibm(&[b'A', 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(ibm(&[b'_', 0, 0, 0]), None);
    }
}
