//! SAS data sets (`*.sas7bdat`), as SAS 9 writes them on Windows and Unix
//! (32- or 64-bit layouts, either byte order) and as R's haven, pyreadstat
//! and ReadStat write them. Read as a table with the variables' names.
//!
//! A data set is a header, then pages of a fixed size. Metadata pages hold
//! *subheaders*, each found through a pointer table at the page's start: the
//! row size and count, the columns' names (in text blocks), their places,
//! widths and types, and their formats. Rows are stored after the pointers
//! of data and mixed pages, or — in a compressed data set — one row per
//! subheader, compressed with SAS's run-length (`COMPRESS=CHAR`,
//! `SASYZCRL`) or Ross data compression (`COMPRESS=BINARY`, `SASYZCR2`).
//!
//! Numbers are IEEE doubles of 3 to 8 bytes (a short one keeps the most
//! significant bytes); SAS's missing values (`.`, `.A`–`.Z`, `._`, NaNs)
//! are nulls. Text is UTF-8 where the header's encoding says so, else
//! Latin-1, with its trailing spaces cut. Numeric variables with a date or
//! time format are left out with a note, as in transport files. Rows that
//! SAS marked deleted but kept in its pages are read as rows.

use std::borrow::Cow;
use std::path::Path;

use arrow::record_batch::RecordBatch;

use super::cursor::number;
use super::xport::Var;
use super::IngestError;

type Parse<T> = Result<T, String>;

/// The 32 bytes every SAS data set begins with.
pub(super) const MAGIC: [u8; 32] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc2, 0xea, 0x81, 0x60, 0xb3, 0x14, 0x11, 0xcf, 0xbd, 0x92,
    0x08, 0x00, 0x09, 0xc7, 0x31, 0x8c, 0x18, 0x1f, 0x10, 0x11,
];

/// Whether a file is a SAS data set, by its first bytes.
pub(super) fn is_sas7bdat(head: &[u8]) -> bool {
    head.starts_with(&MAGIC)
}

/// How a data set's rows are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Compression {
    #[default]
    None,
    /// Run-length (`SASYZCRL`).
    Rle,
    /// Ross data compression (`SASYZCR2`).
    Rdc,
}

/// What the subheaders say, gathered page by page.
#[derive(Default)]
struct Meta {
    row_length: usize,
    row_count: usize,
    /// Rows on a mixed page (metadata and rows) at most.
    mix_rows: usize,
    /// Told by the first text block.
    compression: Compression,
    /// The text blocks that names and formats point into.
    texts: Vec<Vec<u8>>,
    /// Text block, place and length of each column's name.
    names: Vec<(usize, usize, usize)>,
    /// Place, width, type of each column.
    attributes: Vec<(usize, usize, u8)>,
    /// Text block, place and length of each column's format's name.
    formats: Vec<(usize, usize, usize)>,
}

/// The layout of the file: word size, byte order, page geometry.
struct Layout {
    wide: bool,
    big: bool,
    utf8: bool,
    header_len: usize,
    page_size: usize,
    pages: usize,
}

impl Layout {
    /// Bytes of an integer field: 8 in the 64-bit layout, else 4.
    fn int(&self) -> usize {
        if self.wide {
            8
        } else {
            4
        }
    }

    /// Where a page's header fields begin.
    fn page_bit(&self) -> usize {
        if self.wide {
            32
        } else {
            16
        }
    }

    /// Bytes of one subheader pointer.
    fn pointer(&self) -> usize {
        if self.wide {
            24
        } else {
            12
        }
    }
}

/// A number of `n` bytes at `at` in `b`, in the file's byte order.
fn uint(b: &[u8], at: usize, n: usize, big: bool) -> Parse<usize> {
    let bytes = at
        .checked_add(n)
        .and_then(|end| b.get(at..end))
        .ok_or("a field lies past its page (a damaged file?)")?;
    usize::try_from(number(bytes, big)).map_err(|_| "a number too large".to_string())
}

/// The header's layout.
fn layout(data: &[u8]) -> Parse<Layout> {
    if data.len() < 288 {
        return Err("the header ends early (cut short?)".into());
    }
    let wide = data[32] == b'3';
    // a 4-byte pad before the dates shifts the fields after them
    let pad = if data[35] == b'3' { 4 } else { 0 };
    let big = data[37] != 1;
    let utf8 = data[70] == 20;
    let header_len = uint(data, 196 + pad, 4, big)?;
    let page_size = uint(data, 200 + pad, 4, big)?;
    let pages = uint(data, 204 + pad, if wide { 8 } else { 4 }, big)?;
    if header_len < 288 || page_size < 64 {
        return Err(format!(
            "a damaged header (header of {header_len} bytes, pages of {page_size})"
        ));
    }
    let needed = pages
        .checked_mul(page_size)
        .and_then(|p| p.checked_add(header_len))
        .ok_or("a damaged header (too many pages)")?;
    if data.len() < needed {
        return Err(format!(
            "the file ends early: {} bytes of the {needed} its {pages} pages need (cut short?)",
            data.len()
        ));
    }
    Ok(Layout {
        wide,
        big,
        utf8,
        header_len,
        page_size,
        pages,
    })
}

/// What a subheader holds, told by its signature (see [`subheader`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subheader {
    RowSize,
    ColumnSize,
    Counts,
    ColumnText,
    ColumnName,
    ColumnAttributes,
    Format,
    ColumnList,
    /// Anything else: in a compressed data set, a row.
    Other,
}

/// A subheader's kind by its first word (`int` bytes as a number). The
/// signature is the word's low 32 bits; 64-bit files of big-endian machines
/// may keep the row and column sizes' in the high ones.
fn subheader(word: u64, int: usize) -> Subheader {
    let kind = signature(word & 0xffff_ffff);
    if kind == Subheader::Other && int == 8 {
        let high = signature(word >> 32);
        if matches!(high, Subheader::RowSize | Subheader::ColumnSize) {
            return high;
        }
    }
    kind
}

fn signature(signature: u64) -> Subheader {
    match signature {
        0xf7f7_f7f7 => Subheader::RowSize,
        0xf6f6_f6f6 => Subheader::ColumnSize,
        0xffff_fc00 => Subheader::Counts,
        0xffff_fffd => Subheader::ColumnText,
        0xffff_ffff => Subheader::ColumnName,
        0xffff_fffc => Subheader::ColumnAttributes,
        0xffff_fbfe => Subheader::Format,
        0xffff_fffe => Subheader::ColumnList,
        _ => Subheader::Other,
    }
}

/// Page types (their high byte).
const META: usize = 0x0000;
const META2: usize = 0x4000;
const DATA: usize = 0x0100;
const MIX: usize = 0x0200;
const AMD: usize = 0x0400;

/// A data set's columns and its rows' bytes (in the file's pages where
/// stored as they are, unpacked where compressed).
struct Table<'a> {
    columns: Vec<Var>,
    rows: Vec<Cow<'a, [u8]>>,
    utf8: bool,
    big: bool,
}

/// Reads a SAS data set's columns and rows.
fn parse(data: &[u8]) -> Parse<Table<'_>> {
    if !is_sas7bdat(data) {
        return Err("not a SAS data set".into());
    }
    let l = layout(data)?;
    let int = l.int();
    let mut meta = Meta::default();
    let mut rows: Vec<Cow<[u8]>> = Vec::new();
    let mut read = 0usize;
    for p in 0..l.pages {
        let start = l.header_len + p * l.page_size;
        let page = &data[start..start + l.page_size];
        let bit = l.page_bit();
        let kind = uint(page, bit, 2, l.big)? & 0xff00;
        let blocks = uint(page, bit + 2, 2, l.big)?;
        let subheaders = uint(page, bit + 4, 2, l.big)?;
        let at_page = |m: String| format!("page {}: {m}", p + 1);
        if matches!(kind, META | META2 | MIX | AMD) {
            for i in 0..subheaders {
                let at = bit + 8 + i * l.pointer();
                let offset = uint(page, at, int, l.big).map_err(at_page)?;
                let length = uint(page, at + int, int, l.big).map_err(at_page)?;
                let packed = uint(page, at + 2 * int, 1, l.big).map_err(at_page)?;
                let kind_byte = uint(page, at + 2 * int + 1, 1, l.big).map_err(at_page)?;
                // empty and truncated subheaders hold nothing
                if length == 0 || packed == 1 {
                    continue;
                }
                let body = offset
                    .checked_add(length)
                    .and_then(|end| page.get(offset..end))
                    .ok_or_else(|| at_page("a subheader lies past the page".into()))?;
                let word = number(
                    body.get(..int)
                        .ok_or_else(|| at_page("a subheader shorter than its signature".into()))?,
                    l.big,
                );
                match subheader(word, int) {
                    Subheader::Other => {
                        // in a compressed data set, a row (compressed or
                        // not) is a subheader of type 1
                        let compressed = meta.compression != Compression::None;
                        let row = compressed && (packed == 4 || packed == 0) && kind_byte == 1;
                        if row && read < meta.row_count {
                            rows.push(unpack_row(body, &meta).map_err(at_page)?);
                            read += 1;
                        }
                    }
                    which => subheader_fields(which, body, &l, &mut meta).map_err(at_page)?,
                }
            }
        }
        // rows after the pointers of data and mixed pages
        let (first, count) = match kind {
            DATA => (bit + 8, blocks),
            MIX => {
                let after = bit + 8 + subheaders * l.pointer();
                (after.div_ceil(8) * 8, meta.mix_rows)
            }
            _ => continue,
        };
        if meta.row_length == 0 {
            return Err(at_page("rows before the row size is known".into()));
        }
        let count = count.min(meta.row_count - read);
        let bytes = count
            .checked_mul(meta.row_length)
            .and_then(|n| n.checked_add(first))
            .and_then(|end| page.get(first..end))
            .ok_or_else(|| at_page(format!("{count} rows do not fit in the page")))?;
        rows.extend(bytes.chunks_exact(meta.row_length).map(Cow::Borrowed));
        read += count;
    }
    if meta.row_length == 0 {
        return Err("no row size subheader (not a data set?)".into());
    }
    if read < meta.row_count {
        return Err(format!(
            "{read} of its {} rows found (cut short?)",
            meta.row_count
        ));
    }
    let columns = columns(&meta, l.utf8)?;
    Ok(Table {
        columns,
        rows,
        utf8: l.utf8,
        big: l.big,
    })
}

/// Reads the fields of a metadata subheader into `meta`.
fn subheader_fields(which: Subheader, body: &[u8], l: &Layout, meta: &mut Meta) -> Parse<()> {
    let int = l.int();
    let big = l.big;
    // entries after a header of two words and 12 bytes
    let entries = |size: usize| body.len().saturating_sub(2 * int + 12) / size;
    match which {
        Subheader::RowSize => {
            meta.row_length = uint(body, 5 * int, int, big)?;
            meta.row_count = uint(body, 6 * int, int, big)?;
            meta.mix_rows = uint(body, 15 * int, int, big)?;
            // a row lies within one page
            if meta.row_length == 0 || meta.row_length > l.page_size {
                return Err(format!(
                    "rows of {} bytes in pages of {} (a damaged file?)",
                    meta.row_length, l.page_size
                ));
            }
        }
        Subheader::ColumnText => {
            // a text block: the rest of the subheader after the signature
            // (its first 2 bytes count all but the last few, which may
            // hold text too)
            let block = &body[int..];
            if meta.texts.is_empty() {
                let has = |lit: &[u8]| block.windows(lit.len()).any(|w| w == lit);
                meta.compression = if has(b"SASYZCRL") {
                    Compression::Rle
                } else if has(b"SASYZCR2") {
                    Compression::Rdc
                } else {
                    Compression::None
                };
            }
            meta.texts.push(block.to_vec());
        }
        Subheader::ColumnName => {
            for i in 0..entries(8) {
                let at = int + 8 * (i + 1);
                meta.names.push((
                    uint(body, at, 2, big)?,
                    uint(body, at + 2, 2, big)?,
                    uint(body, at + 4, 2, big)?,
                ));
            }
        }
        Subheader::ColumnAttributes => {
            for i in 0..entries(int + 8) {
                let at = int + 8 + i * (int + 8);
                meta.attributes.push((
                    uint(body, at, int, big)?,
                    uint(body, at + int, 4, big)?,
                    *body.get(at + int + 6).ok_or("a damaged column attribute")?,
                ));
            }
        }
        Subheader::Format => {
            let at = 3 * int + 22;
            meta.formats.push((
                uint(body, at, 2, big)?,
                uint(body, at + 2, 2, big)?,
                uint(body, at + 4, 2, big)?,
            ));
        }
        Subheader::ColumnSize | Subheader::Counts | Subheader::ColumnList | Subheader::Other => {}
    }
    Ok(())
}

/// The columns the name, attribute and format subheaders describe.
fn columns(meta: &Meta, utf8: bool) -> Parse<Vec<Var>> {
    let text = |(block, at, len): (usize, usize, usize)| -> Parse<String> {
        let bytes = meta
            .texts
            .get(block)
            .and_then(|b| b.get(at..at + len))
            .ok_or("a name past its text block (a damaged file?)")?;
        Ok(super::frame::padded_text(bytes, utf8))
    };
    if meta.attributes.is_empty() {
        return Err("no variables".into());
    }
    if meta.names.len() < meta.attributes.len() {
        return Err(format!(
            "{} names for {} variables (a damaged file?)",
            meta.names.len(),
            meta.attributes.len()
        ));
    }
    let mut out = Vec::with_capacity(meta.attributes.len());
    for (i, &(offset, width, kind)) in meta.attributes.iter().enumerate() {
        let name = text(meta.names[i])?;
        let numeric = kind == 1;
        if offset
            .checked_add(width)
            .is_none_or(|end| end > meta.row_length)
            || (numeric && !(1..=8).contains(&width))
        {
            return Err(format!("variable `{name}` of a damaged place or width"));
        }
        let format = match meta.formats.get(i) {
            Some(&f) => text(f)?,
            None => String::new(),
        };
        out.push(Var {
            name,
            numeric,
            pos: offset,
            len: width,
            format,
        });
    }
    Ok(out)
}

/// A row stored as a subheader of a compressed data set: unpacked where
/// shorter than a row, else as it is.
fn unpack_row<'a>(body: &'a [u8], meta: &Meta) -> Parse<Cow<'a, [u8]>> {
    let n = meta.row_length;
    if body.len() >= n {
        return Ok(Cow::Borrowed(&body[..n]));
    }
    let row = match meta.compression {
        Compression::Rdc => rdc(body, n)?,
        _ => rle(body, n)?,
    };
    if row.len() != n {
        return Err(format!(
            "a compressed row unpacks to {} bytes, not its {n}",
            row.len()
        ));
    }
    Ok(Cow::Owned(row))
}

/// SAS's run-length compression: each control byte's high half says what
/// follows (bytes copied, or one byte, `@`, a space or a NUL repeated), its
/// low half and maybe the next byte how many.
fn rle(input: &[u8], limit: usize) -> Parse<Vec<u8>> {
    let damaged = || "a damaged compressed row".to_string();
    let mut out = Vec::with_capacity(limit);
    let mut i = 0;
    let byte = |i: usize| input.get(i).copied().map(usize::from).ok_or_else(damaged);
    while i < input.len() {
        let (control, low) = (input[i] & 0xf0, usize::from(input[i] & 0x0f));
        i += 1;
        // (bytes to copy, or (count, the byte repeated))
        let (copy, fill) = match control {
            0x00 => {
                let n = byte(i)? + 64 + low * 256;
                i += 1;
                (n, None)
            }
            0x40 => {
                let n = byte(i)? + 18 + low * 256;
                let b = byte(i + 1)?;
                i += 2;
                (0, Some((n, b as u8)))
            }
            0x60 => {
                let n = byte(i)? + 17 + low * 256;
                i += 1;
                (0, Some((n, b' ')))
            }
            0x70 => {
                let n = byte(i)? + 17 + low * 256;
                i += 1;
                (0, Some((n, 0)))
            }
            0x80 => (low + 1, None),
            0x90 => (low + 17, None),
            0xa0 => (low + 33, None),
            0xb0 => (low + 49, None),
            0xc0 => {
                let b = byte(i)?;
                i += 1;
                (0, Some((low + 3, b as u8)))
            }
            0xd0 => (0, Some((low + 2, b'@'))),
            0xe0 => (0, Some((low + 2, b' '))),
            0xf0 => (0, Some((low + 2, 0))),
            _ => {
                return Err(format!(
                    "an unknown control byte {control:#04x} in a compressed row"
                ))
            }
        };
        if copy > 0 {
            out.extend_from_slice(input.get(i..i + copy).ok_or_else(damaged)?);
            i += copy;
        }
        if let Some((n, b)) = fill {
            out.resize(out.len() + n, b);
        }
        if out.len() > limit {
            return Err(damaged());
        }
    }
    Ok(out)
}

/// Ross data compression: 16 control bits, then for each bit a byte copied
/// (0) or a command (1): a byte repeated, or bytes copied from earlier in
/// the row.
fn rdc(input: &[u8], limit: usize) -> Parse<Vec<u8>> {
    let damaged = || "a damaged compressed row".to_string();
    let mut out: Vec<u8> = Vec::with_capacity(limit);
    let byte = |i: usize| input.get(i).copied().ok_or_else(damaged);
    let (mut i, mut bits, mut mask) = (0usize, 0u16, 0u16);
    while i < input.len() {
        mask >>= 1;
        if mask == 0 {
            bits = u16::from_be_bytes([byte(i)?, byte(i + 1)?]);
            i += 2;
            mask = 0x8000;
        }
        if bits & mask == 0 {
            out.push(byte(i)?);
            i += 1;
        } else {
            let command = usize::from(byte(i)? >> 4);
            let low = usize::from(byte(i)? & 0x0f);
            i += 1;
            match command {
                0 => {
                    let b = byte(i)?;
                    i += 1;
                    out.resize(out.len() + low + 3, b);
                }
                1 => {
                    let n = low + (usize::from(byte(i)?) << 4) + 19;
                    let b = byte(i + 1)?;
                    i += 2;
                    out.resize(out.len() + n, b);
                }
                _ => {
                    let back = low + 3 + (usize::from(byte(i)?) << 4);
                    i += 1;
                    let n = if command == 2 {
                        let n = usize::from(byte(i)?) + 16;
                        i += 1;
                        n
                    } else {
                        command
                    };
                    let from = out.len().checked_sub(back).ok_or_else(damaged)?;
                    for k in 0..n {
                        let b = out[from + k];
                        out.push(b);
                    }
                }
            }
        }
        if out.len() > limit {
            return Err(damaged());
        }
    }
    Ok(out)
}

/// A number of `width` bytes as SAS stores it (the most significant bytes
/// of a double); `None` for its missing values (NaNs).
fn double(bytes: &[u8], big: bool) -> Option<f64> {
    let mut w = [0u8; 8];
    if big {
        w[..bytes.len()].copy_from_slice(bytes);
    } else {
        w[8 - bytes.len()..].copy_from_slice(bytes);
    }
    let v = if big {
        f64::from_be_bytes(w)
    } else {
        f64::from_le_bytes(w)
    };
    (!v.is_nan()).then_some(v)
}

/// Reads a SAS data set as a batch (see the module docs).
pub(super) fn read(
    path: &Path,
    bytes: &[u8],
    notes: &mut Vec<String>,
) -> Result<RecordBatch, IngestError> {
    let fail = |m: String| super::frame::read_error(path, "SAS data set", m);
    let Table {
        columns,
        rows,
        utf8,
        big,
    } = parse(bytes).map_err(&fail)?;
    let number = |b: &[u8]| double(b, big);
    let text = |b: &[u8]| super::frame::padded_text(b, utf8);
    super::xport::variables(path, "SAS data set", &columns, &rows, number, text, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_length_rows_unpack() {
        // 2 bytes copied, `x` ×4, 3 spaces, 2 NULs, `z` ×20
        let packed = [0x81, b'a', b'b', 0xc1, b'x', 0xe1, 0xf0, 0x40, 0x02, b'z'];
        let mut want = b"abxxxx   ".to_vec();
        want.extend([0, 0]);
        want.extend([b'z'; 20]);
        assert_eq!(rle(&packed, 64).unwrap(), want);
        // a count past the input, and an unknown control byte
        assert!(rle(&[0x85, b'a'], 64).is_err());
        assert!(rle(&[0x10], 64).is_err());
        // more than a row
        assert!(rle(&[0xef], 8).is_err());
    }

    #[test]
    fn ross_rows_unpack() {
        // control bits 0b0011_1000…: `a`, `b` copied; then `c` ×3 (command
        // 0), `d` ×19 (command 1), and 4 bytes from 5 back (command 4)
        let packed = [
            0x38, 0x00, b'a', b'b', 0x00, b'c', 0x10, 0x00, b'd', 0x42, 0x00,
        ];
        let mut want = b"abccc".to_vec();
        want.extend([b'd'; 19]);
        let from = want.len() - 5;
        let copied: Vec<u8> = want[from..from + 4].to_vec();
        want.extend(copied);
        assert_eq!(rdc(&packed, 64).unwrap(), want);
        // a copy from before the row's start
        assert!(rdc(&[0x80, 0x00, 0x4f, 0x0f], 64).is_err());
    }

    #[test]
    fn short_numbers_keep_their_high_bytes() {
        let x = 1234.5f64;
        let le = x.to_le_bytes();
        let be = x.to_be_bytes();
        assert_eq!(double(&le, false), Some(x));
        assert_eq!(double(&be[..], true), Some(x));
        // 1234.5 needs few mantissa bits: 3 bytes keep it
        assert_eq!(double(&le[5..], false), Some(x));
        assert_eq!(double(&be[..3], true), Some(x));
        // SAS's `.` and `.A`: NaNs
        assert_eq!(double(&[0, 0, 0, 0, 0, 0xfe, 0xff, 0xff], false), None);
        assert_eq!(double(&[0xff, 0xff, 0xbe], true), None);
    }
}
