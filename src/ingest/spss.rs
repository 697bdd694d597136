//! SPSS system files (`*.sav`, and `*.zsav`), as SPSS, PSPP, R's haven and
//! pyreadstat write them: uncompressed, bytecode-compressed (SPSS's
//! default) or zlib-compressed (`.zsav`), either byte order, read as a
//! table with the variables' names (their long names where the file keeps
//! them).
//!
//! Numeric variables are numbers, the system-missing value and each
//! variable's user-missing values (discrete or a range) nulls; string
//! variables are text, in the file's character encoding
//! (UTF-8 where it says so, else Windows-1252 read as Latin-1). A variable
//! with value labels (SPSS's categorical) is read as its labels' text, a
//! value without one written out. Variables with a date or time format are
//! left out with a note; strings longer than 255 bytes (SPSS's very long
//! strings, stored in segments of 255) are read whole.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use arrow::record_batch::RecordBatch;

use super::cursor::Cursor;
use super::frame::padded_text as text;
use super::IngestError;

type Parse<T> = Result<T, String>;

/// One variable of the dictionary: its first 8-byte slot of a case, and
/// how many it spans.
struct Var {
    name: String,
    /// 0 numeric, else a string's width in bytes.
    width: usize,
    slot: usize,
    /// The print format's type (SPSS's codes: 5 `F`, 20 `DATE`, …).
    format: u32,
    /// User-missing numbers: discrete values, or a range (low, high) and
    /// perhaps one more value.
    missing: Vec<f64>,
    missing_range: Option<(f64, f64)>,
    /// Value labels: the value's 8 bytes, the label's (decoded once the
    /// file's encoding is known).
    labels: HashMap<[u8; 8], Vec<u8>>,
}

/// SPSS's date and time formats (print format types).
fn is_date(format: u32) -> bool {
    matches!(format, 20..=30 | 38 | 39 | 41)
}

/// Reads an SPSS system file as a batch (see the module docs).
pub(super) fn read(path: &Path, notes: &mut Vec<String>) -> Result<RecordBatch, IngestError> {
    let fail = |m: String| super::frame::read_error(path, "SPSS", m);
    let bytes = super::frame::unpacked(path, "SPSS")?;
    let (columns, left_out) = parse(&bytes).map_err(&fail)?;
    super::frame::variables_batch(path, "SPSS", columns, &left_out, notes)
}

type Columns = (Vec<(String, ArrayRef)>, Vec<String>);

fn parse(data: &[u8]) -> Parse<Columns> {
    let magic = data.get(..4).ok_or("an empty file")?;
    if magic != b"$FL2" && magic != b"$FL3" {
        return Err("not an SPSS system file (no `$FL2` first)".into());
    }
    // the layout code (2 or 3) tells the byte order
    let layout = data.get(64..68).ok_or("the file ends early (cut short?)")?;
    let big = !matches!(layout, [2 | 3, 0, 0, 0]);
    let mut c = Cursor::new(data, 64, big);
    c.i32()?;
    let case_slots = c.i32()?;
    let compression = c.i32()?;
    c.i32()?; // weight variable
    let cases = c.i32()?;
    let bias = {
        let b = c.take(8)?;
        c.double(b)
    };
    c.take(9 + 8 + 64 + 3)?; // date, time, file label, padding
    let mut vars: Vec<Var> = Vec::new();
    let mut slots = 0usize;
    let mut long_names = HashMap::new();
    let mut very_long: HashMap<String, usize> = HashMap::new();
    let mut utf8 = false;
    let mut pending_labels: Vec<([u8; 8], Vec<u8>)> = Vec::new();
    // the slot each variable's index (1-based, in slots) names
    let mut by_slot: HashMap<usize, usize> = HashMap::new();
    loop {
        match c.i32()? {
            2 => {
                let kind = c.i32()?;
                let has_label = c.i32()?;
                let n_missing = c.i32()?;
                let print = c.i32()? as u32;
                c.i32()?; // write format
                let name = text(c.take(8)?, false);
                if has_label == 1 {
                    let len = c.count()?;
                    c.take(len.div_ceil(4) * 4)?;
                }
                let mut missing = Vec::new();
                let mut missing_range = None;
                let n = n_missing.unsigned_abs() as usize;
                if n > 3 {
                    return Err(format!("variable `{name}` with {n} missing values"));
                }
                let values: Vec<f64> = (0..n)
                    .map(|_| c.take(8).map(|b| c.double(b)))
                    .collect::<Parse<_>>()?;
                if n_missing < 0 {
                    missing_range = Some((values[0], values[1]));
                    missing.extend(values.get(2));
                } else {
                    missing = values;
                }
                slots += 1;
                if kind == -1 {
                    continue; // a long string's next 8 bytes
                }
                let width = usize::try_from(kind).map_err(|_| format!("type {kind}"))?;
                by_slot.insert(slots, vars.len());
                vars.push(Var {
                    name,
                    width,
                    slot: slots - 1,
                    format: (print >> 16) & 0xff,
                    missing,
                    missing_range,
                    labels: HashMap::new(),
                });
            }
            3 => {
                let n = c.count()?;
                if n > data.len() / 9 {
                    return Err(format!("{n} value labels"));
                }
                pending_labels.clear();
                for _ in 0..n {
                    let value: [u8; 8] = c.take(8)?.try_into().expect("8 bytes");
                    let len = usize::from(c.take(1)?[0]);
                    // the label and its length byte fill whole 8 bytes
                    let label = c.take((len + 1).div_ceil(8) * 8 - 1)?[..len].to_vec();
                    pending_labels.push((value, label));
                }
                // the variables they label
                if c.i32()? != 4 {
                    return Err("value labels without the variables they label".into());
                }
                let n = c.count()?;
                for _ in 0..n {
                    let index = c.count()?;
                    let var = by_slot
                        .get(&index)
                        .ok_or_else(|| format!("value labels for variable {index}"))?;
                    for (value, label) in &pending_labels {
                        vars[*var].labels.insert(*value, label.clone());
                    }
                }
            }
            6 => {
                let lines = c.count()?;
                c.take(lines.checked_mul(80).ok_or("a damaged document")?)?;
            }
            7 => {
                let subtype = c.i32()?;
                let size = c.count()?;
                let count = c.count()?;
                let body = c.take(size.checked_mul(count).ok_or("a damaged record")?)?;
                match subtype {
                    // machine integer info: its character code (65001 UTF-8)
                    3 if body.len() >= 32 => {
                        let mut b = Cursor::new(body, 28, big);
                        utf8 |= b.i32()? == 65001;
                    }
                    // long variable names: `SHORT=Long\tSHORT2=Long2`
                    13 => {
                        for pair in String::from_utf8_lossy(body).split('\t') {
                            if let Some((short, long)) = pair.split_once('=') {
                                long_names.insert(short.trim().to_string(), long.to_string());
                            }
                        }
                    }
                    // very long strings: `SHORT=00401\0\tSHORT2=…`, each the
                    // first of the segments such a string is stored in
                    14 => {
                        for pair in String::from_utf8_lossy(body).split('\t') {
                            if let Some((short, width)) = pair.split_once('=') {
                                let width = width.trim_end_matches('\0').trim();
                                if let Ok(width) = width.parse::<usize>() {
                                    very_long.insert(short.trim().to_string(), width);
                                }
                            }
                        }
                    }
                    // the character encoding's name
                    20 => utf8 |= String::from_utf8_lossy(body).eq_ignore_ascii_case("UTF-8"),
                    _ => {}
                }
            }
            999 => {
                c.i32()?;
                break;
            }
            other => return Err(format!("a dictionary record of type {other}")),
        }
    }
    if i32::try_from(slots).ok() != Some(case_slots) && case_slots > 0 {
        return Err(format!(
            "{slots} slots of variables where the header says {case_slots}"
        ));
    }
    // the cases' 8-byte slots, decompressed
    let raw: Vec<u8> = match compression {
        0 => c.data[c.at..].to_vec(),
        1 => bytecode(&mut c, bias)?,
        2 => {
            let inflated = zsav(&mut c)?;
            let mut z = Cursor::new(&inflated, 0, big);
            bytecode(&mut z, bias)?
        }
        other => return Err(format!("compression {other}")),
    };
    let case_bytes = slots * 8;
    if case_bytes == 0 {
        return Err("no variables".into());
    }
    let rows = if cases >= 0 {
        let rows = cases as usize;
        if raw.len() < rows * case_bytes {
            return Err(format!(
                "{} cases of {rows} (cut short?)",
                raw.len() / case_bytes
            ));
        }
        rows
    } else if !raw.len().is_multiple_of(case_bytes) {
        // no count to check against: a case cut in two says the file was
        return Err("the data end in the middle of a case (cut short?)".into());
    } else {
        raw.len() / case_bytes
    };
    let mut columns = Vec::new();
    let mut left_out = Vec::new();
    // a very long string's first segment: its segments and its width
    let mut segments: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut at = 0;
    while at < vars.len() {
        let (n, width) = match very_long.get(&vars[at].name) {
            Some(&width) if vars[at].width > 0 => (width.div_ceil(SEGMENT).max(1), width),
            _ => (1, vars[at].width),
        };
        if at + n > vars.len() || vars[at + 1..at + n].iter().any(|v| v.width == 0) {
            return Err(format!(
                "the string `{}` of {n} segments is not followed by them",
                vars[at].name
            ));
        }
        if n > 1 {
            segments.insert(at, (n, width));
        }
        at += n;
    }
    let continued: std::collections::HashSet<usize> = segments
        .iter()
        .flat_map(|(&first, &(n, _))| first + 1..first + n)
        .collect();
    for (v, var) in vars.iter().enumerate() {
        if continued.contains(&v) {
            continue;
        }
        let name = long_names
            .get(&var.name)
            .cloned()
            .unwrap_or_else(|| var.name.clone());
        if var.width == 0 && is_date(var.format) {
            left_out.push(format!("`{name}`"));
            continue;
        }
        let cell = |r: usize| &raw[r * case_bytes + var.slot * 8..];
        let array: ArrayRef = if var.width == 0 {
            let value = |r: usize| -> Option<f64> {
                let v = c.double(&cell(r)[..8]);
                let user = var.missing.contains(&v)
                    || var.missing_range.is_some_and(|(lo, hi)| v >= lo && v <= hi);
                (v != -f64::MAX && !v.is_nan() && !user).then_some(v)
            };
            if var.labels.is_empty() {
                Arc::new(Float64Array::from_iter((0..rows).map(value)))
            } else {
                let labels: HashMap<u64, String> = var
                    .labels
                    .iter()
                    .map(|(k, v)| (c.double(k).to_bits(), text(v, utf8)))
                    .collect();
                Arc::new(StringArray::from_iter((0..rows).map(|r| {
                    value(r).map(|v| match labels.get(&v.to_bits()) {
                        Some(l) => l.clone(),
                        None => v.to_string(),
                    })
                })))
            }
        } else {
            // a string's bytes, in the slots it spans
            let labels: HashMap<String, String> = var
                .labels
                .iter()
                .map(|(k, v)| (text(k, utf8), text(v, utf8)))
                .collect();
            // a very long string's bytes: each segment's but the last's
            // first 255, then the last's, up to its width (the last
            // segments may be unused)
            let (n, width) = segments.get(&v).copied().unwrap_or((1, var.width));
            let parts = &vars[v..v + n];
            let bytes = |r: usize| -> Vec<u8> {
                let mut bytes: Vec<u8> = parts
                    .iter()
                    .enumerate()
                    .flat_map(|(k, part)| {
                        let cell = &raw[r * case_bytes + part.slot * 8..];
                        let used = match k + 1 < n {
                            true => SEGMENT_BYTES.min(part.width),
                            false => part.width,
                        };
                        &cell[..used]
                    })
                    .copied()
                    .collect();
                bytes.truncate(width);
                bytes
            };
            Arc::new(StringArray::from_iter_values((0..rows).map(|r| {
                let s = text(&bytes(r), utf8);
                labels.get(&s).cloned().unwrap_or(s)
            })))
        };
        columns.push((name, array));
    }
    Ok((columns, left_out))
}

/// The bytes of a very long string (over 255) each segment of it but the
/// last counts towards its width: the segments are `width.div_ceil(252)`
/// (PSPP's system file format), the string's bytes the first `width` of
/// theirs.
const SEGMENT: usize = 252;

/// The bytes of a very long string each segment but the last holds.
const SEGMENT_BYTES: usize = 255;

/// Bytecode-compressed cases as their 8-byte slots: blocks of 8 codes, each
/// 0 (padding), 1–251 (the number `code - bias`), 252 (the end), 253 (the
/// next 8 bytes of data), 254 (8 spaces) or 255 (system-missing).
fn bytecode(c: &mut Cursor<'_>, bias: f64) -> Parse<Vec<u8>> {
    let mut out = Vec::new();
    let number = |v: f64, big: bool| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    'blocks: while c.at + 8 <= c.data.len() {
        let codes: [u8; 8] = c.take(8)?.try_into().expect("8 bytes");
        for code in codes {
            match code {
                0 => {}
                1..=251 => out.extend(number(f64::from(code) - bias, c.big)),
                252 => break 'blocks,
                253 => out.extend_from_slice(c.take(8)?),
                254 => out.extend_from_slice(b"        "),
                255 => out.extend(number(-f64::MAX, c.big)),
            }
        }
    }
    Ok(out)
}

/// A `.zsav` file's zlib blocks, inflated: after the dictionary, a header
/// (its own offset, the trailer's offset and length), the blocks, and a
/// trailer listing them.
fn zsav(c: &mut Cursor<'_>) -> Parse<Vec<u8>> {
    use std::io::Read;
    c.i64()?;
    let trailer = usize::try_from(c.i64()?).map_err(|_| "a damaged zlib header")?;
    c.i64()?;
    let mut t = Cursor::new(c.data, trailer, c.big);
    t.take(16)?; // bias, zero
    t.i32()?; // block size
    let blocks = t.count()?;
    let mut out = Vec::new();
    for _ in 0..blocks {
        t.i64()?; // uncompressed offset
        let at = usize::try_from(t.i64()?).map_err(|_| "a damaged zlib block")?;
        t.i32()?;
        let len = t.count()?;
        let block = c
            .data
            .get(at..at.checked_add(len).ok_or("a damaged zlib block")?)
            .ok_or("a zlib block past the end of the file (cut short?)")?;
        flate2::read::ZlibDecoder::new(block)
            .read_to_end(&mut out)
            .map_err(|e| format!("a damaged zlib block: {e}"))?;
    }
    Ok(out)
}
