//! R's data files: `saveRDS(df, "t.rds")` and `save(df, file =
//! "t.RData")` (`.rda`), packed as R writes them — gzip (R's default),
//! bzip2, xz or not at all — in each of R's serialization formats (XDR,
//! R's default; native binary; ASCII) and versions 2 and 3. Read by
//! poisonscan's own reader of R's serialization, which builds the values
//! and runs nothing (no package is loaded, no function called).
//!
//! A data frame (`data.frame`, a tibble, a `data.table`) is read as a table
//! with its column names: doubles, integers, logicals and text (`NA`
//! missing: a column with one is read with a null there), factors as their
//! levels' text. Dates, times and list columns are left out with a note.
//! An `.RData` file is read for its one data frame, or the one named
//! `train…` among several (with a note). R's compact sequences and
//! wrapped vectors (ALTREP, R ≥ 3.5: `1:n`, a column after `sort`) are
//! expanded.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, StringArray};
use arrow::record_batch::RecordBatch;

use super::IngestError;

/// An R value: its data and its attributes (`names`, `class`, `levels`).
#[derive(Clone, Debug)]
struct RObj {
    value: RValue,
    attrs: Vec<(String, RObj)>,
}

#[derive(Clone, Debug)]
enum RValue {
    Null,
    Logical(Vec<i32>),
    Integer(Vec<i32>),
    Real(Vec<f64>),
    Str(Vec<Option<String>>),
    List(Vec<RObj>),
    /// A pairlist: tagged values (an `.RData` file's objects, attributes).
    Pairs(Vec<(Option<String>, RObj)>),
    Symbol(String),
    Char(Option<String>),
    /// What a data frame never holds: environments, functions, complex
    /// numbers, raw bytes, S4 objects, named by their kind.
    Other(&'static str),
}

impl RObj {
    fn new(value: RValue) -> Self {
        RObj {
            value,
            attrs: Vec::new(),
        }
    }

    fn attr(&self, name: &str) -> Option<&RObj> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The text of a character vector attribute (`class`, `names`,
    /// `levels`), `NA` as empty.
    fn texts(&self, name: &str) -> Vec<String> {
        match self.attr(name).map(|a| &a.value) {
            Some(RValue::Str(v)) => v.iter().map(|s| s.clone().unwrap_or_default()).collect(),
            _ => Vec::new(),
        }
    }

    fn is_frame(&self) -> bool {
        matches!(self.value, RValue::List(_))
            && self.texts("class").iter().any(|c| c == "data.frame")
    }
}

/// R's serialization formats.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Xdr,
    Binary,
    Ascii,
}

/// How deep values may nest (lists of lists) before the file is refused.
const MAX_DEPTH: usize = 512;

/// A reader of one serialized value.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    format: Format,
    /// Values later ones refer back to (symbols, environments).
    refs: Vec<RObj>,
    /// Whether the writing session's encoding was Latin-1 (version 3's
    /// header says; text not marked UTF-8 is then Latin-1).
    native_latin1: bool,
}

type Read<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or("the file ends in the middle of a value (cut short?)")?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// The next whitespace-separated word (the ASCII format).
    fn word(&mut self) -> Read<&'a str> {
        while self.at < self.data.len() && self.data[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
        let start = self.at;
        while self.at < self.data.len() && !self.data[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
        if start == self.at {
            return Err("the file ends in the middle of a value (cut short?)".into());
        }
        std::str::from_utf8(&self.data[start..self.at]).map_err(|_| "a damaged number".into())
    }

    fn int(&mut self) -> Read<i32> {
        Ok(match self.format {
            Format::Xdr => i32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")),
            Format::Binary => i32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")),
            Format::Ascii => match self.word()? {
                "NA" => i32::MIN,
                w => w
                    .parse()
                    .map_err(|_| format!("`{w}` where an integer belongs"))?,
            },
        })
    }

    fn double(&mut self) -> Read<f64> {
        Ok(match self.format {
            Format::Xdr => f64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")),
            Format::Binary => f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")),
            Format::Ascii => match self.word()? {
                "NA" => R_NA,
                "NaN" => f64::NAN,
                "Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                w => w
                    .parse()
                    .map_err(|_| format!("`{w}` where a number belongs"))?,
            },
        })
    }

    /// `n` ints: read in one slice where binary (a data frame's columns are
    /// most of a file), word by word where ASCII.
    fn ints(&mut self, n: usize) -> Read<Vec<i32>> {
        self.vector(n, Self::int, i32::from_be_bytes, i32::from_le_bytes)
    }

    /// `n` doubles, as [`Reader::ints`].
    fn doubles(&mut self, n: usize) -> Read<Vec<f64>> {
        self.vector(n, Self::double, f64::from_be_bytes, f64::from_le_bytes)
    }

    /// `n` values of `W` bytes: `word` reads one in ASCII; binary values
    /// are taken in one slice and made by `be` (XDR) or `le` (native).
    fn vector<T, const W: usize>(
        &mut self,
        n: usize,
        word: impl Fn(&mut Self) -> Read<T>,
        be: impl Fn([u8; W]) -> T,
        le: impl Fn([u8; W]) -> T,
    ) -> Read<Vec<T>> {
        if self.format == Format::Ascii {
            return (0..n).map(|_| word(self)).collect();
        }
        let big = self.format == Format::Xdr;
        let bytes = self.take(n.checked_mul(W).ok_or("a vector too long")?)?;
        let values = bytes
            .chunks_exact(W)
            .map(|b| b.try_into().expect("W bytes"));
        Ok(if big {
            values.map(be).collect()
        } else {
            values.map(le).collect()
        })
    }

    /// A vector's length: an int, or -1 and two ints for a long vector.
    /// `bytes` is the least each element takes, so that a damaged length
    /// is an error, not an allocation beyond the file.
    fn length(&mut self, bytes: usize) -> Read<usize> {
        let n = self.int()?;
        let n = if n == -1 {
            let (hi, lo) = (self.int()? as u64, self.int()? as u32 as u64);
            usize::try_from((hi << 32) | lo).map_err(|_| "a vector too long")?
        } else {
            usize::try_from(n).map_err(|_| format!("a vector of length {n}"))?
        };
        let room = (self.data.len() - self.at) / bytes.max(1);
        if n > room {
            return Err(format!(
                "a vector of {n} values where the file has room for {room} (cut short or damaged?)"
            ));
        }
        Ok(n)
    }

    /// `n` bytes of text: raw, or escaped in one word (ASCII).
    fn text(&mut self, n: usize) -> Read<Vec<u8>> {
        if self.format != Format::Ascii {
            return Ok(self.take(n)?.to_vec());
        }
        // R writes no word for empty text
        if n == 0 {
            return Ok(Vec::new());
        }
        let word = self.word()?.as_bytes();
        let mut out = Vec::with_capacity(n);
        let mut i = 0;
        while i < word.len() {
            if word[i] != b'\\' {
                out.push(word[i]);
                i += 1;
                continue;
            }
            let c = *word.get(i + 1).ok_or("a damaged escape in text")?;
            i += 2;
            out.push(match c {
                b'n' => b'\n',
                b't' => b'\t',
                b'v' => 0x0b,
                b'b' => 0x08,
                b'r' => b'\r',
                b'f' => 0x0c,
                b'a' => 0x07,
                b'0'..=b'7' => {
                    // up to three octal digits
                    let mut v = u32::from(c - b'0');
                    for _ in 0..2 {
                        match word.get(i) {
                            Some(d @ b'0'..=b'7') => {
                                v = v * 8 + u32::from(d - b'0');
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    u8::try_from(v).map_err(|_| "a damaged escape in text")?
                }
                other => other,
            });
        }
        Ok(out)
    }

    /// R's `InStringVec`: a 0, a length, then that many character items.
    fn string_vec(&mut self, depth: usize) -> Read<()> {
        self.int()?;
        let n = self.length(4)?;
        for _ in 0..n {
            self.item(depth + 1)?;
        }
        Ok(())
    }

    fn item(&mut self, depth: usize) -> Read<RObj> {
        if depth > MAX_DEPTH {
            return Err("values nested too deep".into());
        }
        let flags = self.int()? as u32;
        let kind = flags & 0xff;
        let has_attr = flags & (1 << 9) != 0;
        let mut obj = match kind {
            // NILVALUE, EMPTYENV, BASEENV, GLOBALENV, UNBOUNDVALUE,
            // MISSINGARG, BASENAMESPACE
            254 | 242 | 241 | 253 | 252 | 251 | 247 => return Ok(RObj::new(RValue::Null)),
            // REFSXP: a value read before
            255 => {
                let index = match flags >> 8 {
                    0 => self.int()? as u32,
                    i => i,
                };
                return self
                    .refs
                    .get((index as usize).wrapping_sub(1))
                    .cloned()
                    .ok_or_else(|| format!("a reference to value {index} of {}", self.refs.len()));
            }
            // PERSISTSXP, PACKAGESXP, NAMESPACESXP: names of things
            248..=250 => {
                self.string_vec(depth)?;
                let obj = RObj::new(RValue::Other("a package or namespace"));
                self.refs.push(obj.clone());
                return Ok(obj);
            }
            // SYMSXP
            1 => {
                let name = match self.item(depth + 1)?.value {
                    RValue::Char(c) => c.unwrap_or_default(),
                    _ => return Err("a symbol without its name".into()),
                };
                let obj = RObj::new(RValue::Symbol(name));
                self.refs.push(obj.clone());
                return Ok(obj);
            }
            // ENVSXP: locked, enclosure, frame, hash table, attributes
            4 => {
                self.int()?;
                self.refs.push(RObj::new(RValue::Other("an environment")));
                for _ in 0..4 {
                    self.item(depth + 1)?;
                }
                return Ok(RObj::new(RValue::Other("an environment")));
            }
            // LISTSXP, CLOSXP, PROMSXP, LANGSXP, DOTSXP, ATTRLANGSXP,
            // ATTRLISTSXP: a pairlist, read along its tail
            2 | 3 | 5 | 6 | 17 | 239 | 240 => return self.pairlist(flags, depth),
            // EXTPTRSXP: protected value and tag
            22 => {
                self.refs
                    .push(RObj::new(RValue::Other("an external pointer")));
                self.item(depth + 1)?;
                self.item(depth + 1)?;
                RObj::new(RValue::Other("an external pointer"))
            }
            // WEAKREFSXP
            23 => {
                self.refs.push(RObj::new(RValue::Other("a weak reference")));
                RObj::new(RValue::Other("a weak reference"))
            }
            // SPECIALSXP, BUILTINSXP: a primitive's name
            7 | 8 => {
                let n = self.length(1)?;
                self.text(n)?;
                RObj::new(RValue::Other("a function"))
            }
            // CHARSXP
            9 => {
                let n = self.int()?;
                let text = if n == -1 {
                    None
                } else {
                    let n = usize::try_from(n).map_err(|_| "text of a negative length")?;
                    let bytes = self.text(n)?;
                    // marked Latin-1 (R's `LATIN1_MASK` among its levels),
                    // or unmarked in a Latin-1 session: each byte a char
                    let latin1 = (flags >> 12) & (1 << 2) != 0
                        || (self.native_latin1 && (flags >> 12) & (1 << 3) == 0);
                    let utf8 = !latin1 || std::str::from_utf8(&bytes).is_ok();
                    Some(super::frame::decode_text(&bytes, utf8))
                };
                return Ok(RObj::new(RValue::Char(text)));
            }
            // LGLSXP, INTSXP
            10 | 13 => {
                let n = self.length(if self.format == Format::Ascii { 2 } else { 4 })?;
                let v = self.ints(n)?;
                RObj::new(if kind == 10 {
                    RValue::Logical(v)
                } else {
                    RValue::Integer(v)
                })
            }
            // REALSXP
            14 => {
                let n = self.length(if self.format == Format::Ascii { 2 } else { 8 })?;
                RObj::new(RValue::Real(self.doubles(n)?))
            }
            // CPLXSXP
            15 => {
                let n = self.length(if self.format == Format::Ascii { 4 } else { 16 })?;
                for _ in 0..2 * n {
                    self.double()?;
                }
                RObj::new(RValue::Other("complex numbers"))
            }
            // STRSXP
            16 => {
                let n = self.length(4)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    match self.item(depth + 1)?.value {
                        RValue::Char(c) => v.push(c),
                        _ => return Err("a character vector holding what is not text".into()),
                    }
                }
                RObj::new(RValue::Str(v))
            }
            // VECSXP, EXPRSXP
            19 | 20 => {
                let n = self.length(4)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.item(depth + 1)?);
                }
                RObj::new(RValue::List(v))
            }
            // RAWSXP
            24 => {
                let n = self.length(1)?;
                if self.format == Format::Ascii {
                    for _ in 0..n {
                        self.word()?;
                    }
                } else {
                    self.take(n)?;
                }
                RObj::new(RValue::Other("raw bytes"))
            }
            // S4SXP: its slots are attributes
            25 => RObj::new(RValue::Other("an S4 object")),
            // ALTREP_SXP: a compact or wrapped vector
            238 => {
                let info = self.item(depth + 1)?;
                let state = self.item(depth + 1)?;
                let attrs = self.item(depth + 1)?;
                let mut obj = altrep(&info, state)?;
                obj.attrs = pairs(attrs);
                return Ok(obj);
            }
            21 => {
                return Err(
                    "compiled R code (byte code), which poisonscan does not read: save \
                            only the data, saveRDS(df, \"data.rds\")"
                        .into(),
                )
            }
            other => return Err(format!("an R value of type {other}, which is not one")),
        };
        if has_attr {
            obj.attrs = pairs(self.item(depth + 1)?);
        }
        Ok(obj)
    }

    /// A pairlist whose first cell's flags are `flags`: each cell's
    /// attributes, tag and value, along the tail (read in a loop, not by
    /// recursion: an `.RData` file of many objects is a long pairlist).
    fn pairlist(&mut self, mut flags: u32, depth: usize) -> Read<RObj> {
        let mut cells = Vec::new();
        let mut attrs = Vec::new();
        loop {
            if flags & (1 << 9) != 0 {
                let a = pairs(self.item(depth + 1)?);
                if cells.is_empty() {
                    attrs = a;
                }
            }
            let tag = if flags & (1 << 10) != 0 {
                match self.item(depth + 1)?.value {
                    RValue::Symbol(s) => Some(s),
                    RValue::Char(c) => c,
                    _ => None,
                }
            } else {
                None
            };
            cells.push((tag, self.item(depth + 1)?));
            // the tail: another cell, or its end
            let before = self.at;
            let next = self.int()? as u32;
            match next & 0xff {
                2 | 3 | 5 | 6 | 17 | 239 | 240 => flags = next,
                254 => break,
                _ => {
                    // a tail that is another kind of value: read as one
                    self.at = before;
                    self.item(depth + 1)?;
                    break;
                }
            }
        }
        Ok(RObj {
            value: RValue::Pairs(cells),
            attrs,
        })
    }
}

/// R's `NA_real_`: a NaN whose low word is 1954.
const R_NA: f64 = f64::from_bits(0x7FF0_0000_0000_07A2);

fn is_na_real(v: f64) -> bool {
    v.is_nan() && v.to_bits() & 0xFFFF_FFFF == 1954
}

/// A pairlist's cells as attributes (name, value).
fn pairs(obj: RObj) -> Vec<(String, RObj)> {
    match obj.value {
        RValue::Pairs(cells) => cells
            .into_iter()
            .filter_map(|(tag, v)| Some((tag?, v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The vector an ALTREP value stands for: R's compact sequences
/// (`compact_intseq`, `compact_realseq`: length, start, step), wrapped
/// vectors (`wrap_*`: the vector and its metadata) and deferred strings
/// (`deferred_string`: numbers to be written as text).
fn altrep(info: &RObj, state: RObj) -> Read<RObj> {
    let class = match &info.value {
        RValue::Pairs(cells) => match cells.first().map(|(_, v)| &v.value) {
            Some(RValue::Symbol(s)) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let first = |state: RObj| match state.value {
        RValue::Pairs(mut cells) if !cells.is_empty() => Ok(cells.remove(0).1),
        RValue::List(mut items) if !items.is_empty() => Ok(items.remove(0)),
        _ => Err(format!("an R `{class}` without its vector")),
    };
    let sequence = |state: &RObj| match &state.value {
        RValue::Real(v) if v.len() == 3 => {
            let n = v[0];
            if !(0.0..=1e9).contains(&n) {
                return Err(format!("an R `{class}` of {n} values"));
            }
            Ok((n as usize, v[1], v[2]))
        }
        _ => Err(format!("an R `{class}` without its length, start and step")),
    };
    Ok(match class.as_str() {
        "compact_intseq" => {
            let (n, start, step) = sequence(&state)?;
            RObj::new(RValue::Integer(
                (0..n).map(|i| (start + step * i as f64) as i32).collect(),
            ))
        }
        "compact_realseq" => {
            let (n, start, step) = sequence(&state)?;
            RObj::new(RValue::Real(
                (0..n).map(|i| start + step * i as f64).collect(),
            ))
        }
        c if c.starts_with("wrap_") => first(state)?,
        "deferred_string" => {
            let numbers = first(state)?;
            let text = match numbers.value {
                RValue::Integer(v) => v
                    .into_iter()
                    .map(|i| (i != i32::MIN).then(|| i.to_string()))
                    .collect(),
                RValue::Real(v) => v
                    .into_iter()
                    .map(|x| (!is_na_real(x)).then(|| format!("{x}")))
                    .collect(),
                _ => return Err("an R `deferred_string` without its numbers".into()),
            };
            RObj::new(RValue::Str(text))
        }
        other => {
            return Err(format!(
                "an R value of the ALTREP class `{other}`, which poisonscan does not read"
            ))
        }
    })
}

/// Reads one serialized R value from `data` (an `.rds` file's bytes,
/// unpacked), or the pairlist of named objects of an `.RData` file.
fn unserialize(data: &[u8]) -> Read<RObj> {
    // `.RData`: a line `RDX2`/`RDX3` (or `RDA`, `RDB`) before the stream
    let data = match data.get(..5) {
        Some(b"RDX2\n" | b"RDX3\n" | b"RDA2\n" | b"RDA3\n" | b"RDB2\n" | b"RDB3\n") => &data[5..],
        _ => data,
    };
    let format = match data.get(..2) {
        Some(b"X\n") => Format::Xdr,
        Some(b"B\n") => Format::Binary,
        Some(b"A\n") => Format::Ascii,
        _ => return Err("not R's serialization (no `X`, `B` or `A` line first)".into()),
    };
    let mut r = Reader {
        data,
        at: 2,
        format,
        refs: Vec::new(),
        native_latin1: false,
    };
    let version = r.int()?;
    r.int()?; // the R that wrote it
    r.int()?; // the oldest R that reads it
    match version {
        2 => {}
        3 => {
            let n = r.length(1)?;
            let encoding = String::from_utf8_lossy(&r.text(n)?).to_ascii_lowercase();
            r.native_latin1 = [
                "latin1",
                "iso-8859-1",
                "iso8859-1",
                "cp1252",
                "windows-1252",
            ]
            .contains(&encoding.as_str());
        }
        v => return Err(format!("serialization version {v} (R writes 2 and 3)")),
    }
    r.item(0)
}

/// Reads an R data file's data frame as a batch (see the module docs).
pub(super) fn read(path: &Path, notes: &mut Vec<String>) -> Result<RecordBatch, IngestError> {
    let fail = |m: String| super::frame::read_error(path, "R data", m);
    let bytes = super::frame::unpacked(path, "R data")?;
    let value = unserialize(&bytes).map_err(&fail)?;
    let frame = match value.value {
        RValue::Pairs(objects) => {
            // an `.RData` file: its objects by name
            let names: Vec<String> = objects
                .iter()
                .map(|(n, _)| n.clone().unwrap_or_default())
                .collect();
            let mut frames: Vec<(String, RObj)> = objects
                .into_iter()
                .filter(|(_, v)| v.is_frame())
                .map(|(n, v)| (n.unwrap_or_default(), v))
                .collect();
            match frames.len() {
                0 => {
                    return Err(fail(format!(
                        "it holds no data frame (its objects: {})",
                        names.join(", ")
                    )))
                }
                1 => frames.remove(0).1,
                _ => {
                    let listed: Vec<String> = frames.iter().map(|(n, _)| n.clone()).collect();
                    let train = frames
                        .iter()
                        .position(|(n, _)| n.to_ascii_lowercase().starts_with("train"))
                        .ok_or_else(|| {
                            fail(format!(
                                "it holds several data frames ({}); save the one to scan on \
                                 its own, saveRDS(df, \"data.rds\")",
                                listed.join(", ")
                            ))
                        })?;
                    notes.push(format!(
                        "{}: read the data frame `{}`, the training one of {}",
                        path.display(),
                        frames[train].0,
                        listed.join(", ")
                    ));
                    frames.swap_remove(train).1
                }
            }
        }
        _ if value.is_frame() => value,
        _ => {
            return Err(fail(
                "it holds an R value that is not a data frame: save the data as one, \
                 saveRDS(data.frame(x, label = y), \"data.rds\")"
                    .into(),
            ))
        }
    };
    let mut left_out = Vec::new();
    let columns = frame_columns(&frame, &mut left_out).map_err(&fail)?;
    super::frame::note_left_out(
        notes,
        path,
        "the data frame's column(s)",
        &left_out,
        "dates, times and lists are not features",
    );
    super::frame::frame_batch(columns).map_err(fail)
}

/// A data frame's columns, in order, as Arrow arrays; those left out named
/// with their kind in `left_out`.
fn frame_columns(frame: &RObj, left_out: &mut Vec<String>) -> Read<Vec<(String, ArrayRef)>> {
    let RValue::List(columns) = &frame.value else {
        return Err("a data frame that is not a list of columns".into());
    };
    let names = frame.texts("names");
    if names.len() != columns.len() {
        return Err(format!(
            "a data frame of {} columns and {} names",
            columns.len(),
            names.len()
        ));
    }
    let mut out = Vec::new();
    let mut rows = None;
    for (name, column) in names.into_iter().zip(columns) {
        let class = column.texts("class");
        let is = |c: &str| class.iter().any(|k| k == c);
        let array: ArrayRef = match &column.value {
            _ if ["Date", "POSIXct", "POSIXlt", "difftime", "hms"]
                .iter()
                .any(|c| is(c)) =>
            {
                left_out.push(format!("`{name}` ({})", class.join("/")));
                continue;
            }
            RValue::Integer(codes) if is("factor") => {
                let levels = column.texts("levels");
                let codes: ArrayRef = Arc::new(Int32Array::from_iter(
                    codes.iter().map(|&c| (c != i32::MIN).then(|| c - 1)),
                ));
                super::frame::category_text(&levels, &codes)
                    .map_err(|e| format!("factor `{name}` has {e}"))?
            }
            RValue::Integer(v) => Arc::new(Int32Array::from_iter(
                v.iter().map(|&i| (i != i32::MIN).then_some(i)),
            )),
            RValue::Logical(v) => Arc::new(BooleanArray::from_iter(
                v.iter().map(|&b| (b != i32::MIN).then_some(b != 0)),
            )),
            RValue::Real(v) => Arc::new(Float64Array::from_iter(
                v.iter().map(|&x| (!is_na_real(x)).then_some(x)),
            )),
            RValue::Str(v) => Arc::new(StringArray::from_iter(v.iter().cloned())),
            RValue::List(_) => {
                left_out.push(format!("`{name}` (list)"));
                continue;
            }
            RValue::Other(kind) => {
                left_out.push(format!("`{name}` ({kind})"));
                continue;
            }
            _ => {
                left_out.push(format!("`{name}`"));
                continue;
            }
        };
        match rows {
            Some(n) if n != array.len() => {
                return Err(format!(
                    "column `{name}` has {} rows, the columns before it {n}",
                    array.len()
                ))
            }
            _ => rows = Some(array.len()),
        }
        out.push((name, array));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    /// An XDR stream of `items` (big-endian ints and doubles as given).
    fn xdr(words: &[Word]) -> Vec<u8> {
        let mut out = b"X\n".to_vec();
        for w in words {
            match w {
                Word::I(i) => out.extend(i.to_be_bytes()),
                Word::D(d) => out.extend(d.to_be_bytes()),
                Word::S(s) => out.extend(s.as_bytes()),
            }
        }
        out
    }

    enum Word {
        I(i32),
        D(f64),
        S(&'static str),
    }
    use Word::{D, I, S};

    /// A CHARSXP of UTF-8 text.
    fn chars(s: &'static str) -> [Word; 3] {
        [I(9 | (1 << 15)), I(s.len() as i32), S(s)]
    }

    #[test]
    fn a_data_frame_with_a_factor_and_missing_values_is_read() {
        // data.frame(x = c(1.5, NA), f = factor(c("b", NA), levels = c("a", "b")))
        let mut w = vec![I(2), I(0x040300), I(0x020300)];
        // VECSXP, object, with attributes; 2 columns
        w.extend([I(19 | (1 << 8) | (1 << 9)), I(2)]);
        w.extend([I(14), I(2), D(1.5), D(R_NA)]);
        // INTSXP factor: codes, attributes levels + class
        w.extend([I(13 | (1 << 8) | (1 << 9)), I(2), I(2), I(i32::MIN)]);
        w.extend([I(2 | (1 << 10)), I(1)]);
        w.extend(chars("levels"));
        w.extend([I(16), I(2)]);
        w.extend(chars("a"));
        w.extend(chars("b"));
        w.extend([I(2 | (1 << 10)), I(1)]);
        w.extend(chars("class"));
        w.extend([I(16), I(1)]);
        w.extend(chars("factor"));
        w.push(I(254));
        // the frame's attributes: names, class
        w.extend([I(2 | (1 << 10)), I(1)]);
        w.extend(chars("names"));
        w.extend([I(16), I(2)]);
        w.extend(chars("x"));
        w.extend(chars("f"));
        w.extend([I(2 | (1 << 10)), I(1)]);
        w.extend(chars("class"));
        w.extend([I(16), I(1)]);
        w.extend(chars("data.frame"));
        w.push(I(254));
        let frame = unserialize(&xdr(&w)).unwrap();
        assert!(frame.is_frame());
        let mut left_out = Vec::new();
        let columns = frame_columns(&frame, &mut left_out).unwrap();
        assert_eq!(columns[0].0, "x");
        let x = columns[0]
            .1
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!((x.value(0), x.is_null(1)), (1.5, true));
        let f = columns[1].1.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((f.value(0), f.is_null(1)), ("b", true));
        assert!(left_out.is_empty());
        // cut short anywhere: an error, never a panic
        let bytes = xdr(&w);
        for end in 0..bytes.len() {
            assert!(unserialize(&bytes[..end]).is_err(), "cut at {end}");
        }
    }
}
