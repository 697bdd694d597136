//! Python pickles as *data*: a reader of the pickle stream that builds the
//! values it describes and never runs anything. A pickle is a program for
//! a stack machine; its `GLOBAL`/`REDUCE`/`BUILD` instructions would import
//! a name and call it — here they only record the name, its arguments and
//! its state ([`Value::Object`]), so reading one is as safe as reading
//! JSON (and as bounded: values copied out of the memo may not exceed 64
//! times the pickle's size). Enough for what pandas's HDFStore keeps in
//! pickles — PyTables's attributes (lists of column names, protocol 0) and
//! the object columns of a `format="fixed"` store (a NumPy object array) —
//! and for data sets pickled as arrays ([`Value::ndarray`]: NumPy's
//! `_reconstruct` and `_frombuffer`; Python 3's bytes in protocols 0–2,
//! `_codecs.encode(text, "latin1")`, rebuilt as the bytes).
//!
//! Protocols 0 to 5. Binary persistent ids (PyTorch's storages) are
//! recorded as `pickle.persistent_id(pid)` objects; not read: text
//! persistent ids, the extension registry and out-of-band buffers
//! (errors). Values are copied, not shared: an object
//! changed after it was memoized (a list filled by `APPENDS`) is seen
//! changed only where it stays on the stack, which is how NumPy and
//! PyTables pickles use them.

use std::fmt;

/// A value of a pickle.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A name a real unpickler would import (`module`, `name`).
    Global(String, String),
    /// What calling `callable(*args)` would give, with the state `BUILD`
    /// would set on it.
    Object {
        callable: Box<Value>,
        args: Box<Value>,
        state: Option<Box<Value>>,
    },
}

/// Why a pickle could not be read.
#[derive(Debug)]
pub(super) struct PickleError(String);

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, PickleError> {
    Err(PickleError(message.into()))
}

/// One item of the machine's stack: a value or a mark.
enum Item {
    Mark,
    Value(Value),
}

struct Machine<'a> {
    data: &'a [u8],
    at: usize,
    stack: Vec<Item>,
    memo: std::collections::HashMap<u64, Value>,
    /// Bytes and items copied out of the memo so far.
    copied: usize,
}

/// Bytes and items a pickle may copy out of its memo, at least (more for a
/// large pickle: 64 times its size).
const COPY_BUDGET: usize = 1 << 24;

impl<'a> Machine<'a> {
    /// The array a joblib `NumpyArrayWrapper` stands for (`joblib.dump`
    /// writes each array's bytes into the stream right after the wrapper's
    /// state — its shape, order and dtype —, after a byte giving the
    /// padding that aligns them in joblib ≥ 1.2), as NumPy's own
    /// `_frombuffer(data, dtype, shape, order)` would pickle it.
    fn joblib_array(&mut self, wrapper: &Value) -> Result<Value, PickleError> {
        let Value::Object {
            state: Some(state), ..
        } = wrapper
        else {
            return err("a joblib array without its state");
        };
        let (Some(shape), Some(dt)) = (state.get("shape"), state.get("dtype")) else {
            return err("a joblib array without its shape and dtype");
        };
        let Some((kind, width, _)) = dtype(dt) else {
            return err("a joblib array of an unknown dtype");
        };
        if kind == "O" {
            return err("a joblib array of Python objects, which poisonscan does not read");
        }
        let dims = shape.sizes();
        let item = if kind == "U" { width * 4 } else { width };
        let bytes = dims
            .as_ref()
            .and_then(|d| d.iter().try_fold(item, |n, &k| n.checked_mul(k)))
            .ok_or_else(|| PickleError("a joblib array of a damaged shape".into()))?;
        if matches!(
            state.get("numpy_array_alignment_bytes"),
            Some(Value::Int(_))
        ) {
            let padding = self.take(1)?[0];
            self.take(usize::from(padding))?;
        }
        let data = self.take(bytes)?.to_vec();
        let order = state
            .get("order")
            .cloned()
            .unwrap_or_else(|| Value::Str("C".into()));
        Ok(Value::frombuffer(data, dt.clone(), shape.clone(), order))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| PickleError("the pickle ends in the middle of a value".into()))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> Result<u64, PickleError> {
        let bytes = self.take(n)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, PickleError> {
        usize::try_from(self.uint(n)?).map_err(|_| PickleError("a length too large".into()))
    }

    /// A protocol-0 argument: the bytes up to the next newline.
    fn line(&mut self) -> Result<&'a [u8], PickleError> {
        let rest = &self.data[self.at..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| PickleError("the pickle ends in the middle of a line".into()))?;
        self.at += end + 1;
        Ok(&rest[..end])
    }

    fn text_line(&mut self) -> Result<&'a str, PickleError> {
        std::str::from_utf8(self.line()?).map_err(|_| PickleError("a line that is not text".into()))
    }

    /// A protocol-0 memo key: a number on its line.
    fn text_key(&mut self) -> Result<u64, PickleError> {
        self.text_line()?
            .parse()
            .map_err(|_| PickleError("a bad memo key".into()))
    }

    fn push(&mut self, v: Value) {
        self.stack.push(Item::Value(v));
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        match self.stack.pop() {
            Some(Item::Value(v)) => Ok(v),
            Some(Item::Mark) => err("a mark where a value was expected"),
            None => err("the pickle's stack runs empty"),
        }
    }

    fn top(&mut self) -> Result<&mut Value, PickleError> {
        match self.stack.last_mut() {
            Some(Item::Value(v)) => Ok(v),
            _ => err("no value on the pickle's stack"),
        }
    }

    /// The values above the last mark, the mark removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let mut values = Vec::new();
        loop {
            match self.stack.pop() {
                Some(Item::Value(v)) => values.push(v),
                Some(Item::Mark) => break,
                None => return err("a mark is missing on the pickle's stack"),
            }
        }
        values.reverse();
        Ok(values)
    }

    fn memo_put(&mut self, key: u64) -> Result<(), PickleError> {
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), PickleError> {
        let v = self
            .memo
            .get(&key)
            .ok_or_else(|| PickleError(format!("memo {key} read before it was written")))?;
        // copies cost what they hold: a pickle that reads one large value
        // back again and again would build far more than its own size
        self.copied += v.size();
        if self.copied > COPY_BUDGET.max(64 * self.data.len()) {
            return err("the pickle copies its values far beyond its own size");
        }
        let v = v.clone();
        self.push(v);
        Ok(())
    }

    fn extend(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        match self.top()? {
            Value::List(list) => {
                list.extend(items);
                Ok(())
            }
            // a set or an object with `extend`: keep the items as state
            Value::Object { state, .. } => {
                let mut held = match state.take().map(|b| *b) {
                    Some(Value::List(l)) => l,
                    _ => Vec::new(),
                };
                held.extend(items);
                *state = Some(Box::new(Value::List(held)));
                Ok(())
            }
            _ => err("items appended to what is not a list"),
        }
    }

    fn set_items(&mut self, pairs: Vec<Value>) -> Result<(), PickleError> {
        if !pairs.len().is_multiple_of(2) {
            return err("a dictionary item without its value");
        }
        let Value::Dict(dict) = self.top()? else {
            return err("items set on what is not a dictionary");
        };
        let mut it = pairs.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            dict.push((k, v));
        }
        Ok(())
    }
}

/// Protocol 0's quoted string (`S'abc'`): the quotes and the common
/// escapes.
fn quoted(text: &[u8]) -> Result<Vec<u8>, PickleError> {
    let inner = match text {
        [q, inner @ .., r] if q == r && (*q == b'\'' || *q == b'"') => inner,
        _ => return err("a quoted string without its quotes"),
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut it = inner.iter().copied();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let hex: Vec<u8> = it.by_ref().take(2).collect();
                let v = std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| PickleError("a bad \\x escape".into()))?;
                out.push(v);
            }
            Some(other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    Ok(out)
}

/// Protocol 0's unicode (`V…`): raw-unicode-escape, `\uXXXX` and
/// `\UXXXXXXXX` escapes, other bytes Latin-1.
fn raw_unicode(text: &[u8]) -> Result<String, PickleError> {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let wide = match (text[i], text.get(i + 1)) {
            (b'\\', Some(b'u')) => Some(4),
            (b'\\', Some(b'U')) => Some(8),
            _ => None,
        };
        if let Some(n) = wide {
            let c = text
                .get(i + 2..i + 2 + n)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .ok_or_else(|| PickleError("a bad \\u escape".into()))?;
            out.push(c);
            i += 2 + n;
        } else {
            out.push(char::from(text[i]));
            i += 1;
        }
    }
    Ok(out)
}

fn utf8(bytes: &[u8]) -> Result<Value, PickleError> {
    String::from_utf8(bytes.to_vec())
        .map(Value::Str)
        .map_err(|_| PickleError("a text value that is not UTF-8".into()))
}

/// Reads one pickle into the value it describes, running nothing.
pub(super) fn read(data: &[u8]) -> Result<Value, PickleError> {
    let mut m = Machine {
        data,
        at: 0,
        stack: Vec::new(),
        memo: std::collections::HashMap::new(),
        copied: 0,
    };
    loop {
        let op = m.take(1)?[0];
        match op {
            b'.' => return m.pop(),
            0x80 => {
                m.take(1)?;
            }
            0x95 => {
                m.take(8)?;
            }
            b'(' => m.stack.push(Item::Mark),
            b'0' => {
                m.stack.pop();
            }
            b'1' => {
                m.pop_mark()?;
            }
            b'2' => {
                let v = m.top()?.clone();
                m.push(v);
            }
            b'N' => m.push(Value::None),
            0x88 => m.push(Value::Bool(true)),
            0x89 => m.push(Value::Bool(false)),
            b'I' => {
                let v = match m.text_line()? {
                    "01" => Value::Bool(true),
                    "00" => Value::Bool(false),
                    t => Value::Int(t.parse().map_err(|_| PickleError("a bad integer".into()))?),
                };
                m.push(v);
            }
            b'L' => {
                let t = m.text_line()?.trim_end_matches('L');
                let v = t
                    .parse()
                    .map_err(|_| PickleError("an integer too large".into()))?;
                m.push(Value::Int(v));
            }
            b'J' => {
                let v = m.uint(4)? as u32 as i32;
                m.push(Value::Int(i64::from(v)));
            }
            b'K' => {
                let v = m.uint(1)?;
                m.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = m.uint(2)?;
                m.push(Value::Int(v as i64));
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a { m.len(1)? } else { m.len(4)? };
                if n > 8 {
                    return err("an integer too large");
                }
                let bytes = m.take(n)?;
                let mut v: i64 = 0;
                for (i, &b) in bytes.iter().enumerate() {
                    v |= i64::from(b) << (8 * i);
                }
                if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                m.push(Value::Int(v));
            }
            b'F' => {
                let v = m
                    .text_line()?
                    .parse()
                    .map_err(|_| PickleError("a bad float".into()))?;
                m.push(Value::Float(v));
            }
            b'G' => {
                let bytes: [u8; 8] = m.take(8)?.try_into().expect("eight bytes");
                m.push(Value::Float(f64::from_be_bytes(bytes)));
            }
            b'S' => {
                let v = quoted(m.line()?)?;
                m.push(Value::Bytes(v));
            }
            b'V' => {
                let v = raw_unicode(m.line()?)?;
                m.push(Value::Str(v));
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    0x8c => m.len(1)?,
                    b'X' => m.len(4)?,
                    _ => m.len(8)?,
                };
                let v = utf8(m.take(n)?)?;
                m.push(v);
            }
            b'T' | b'U' | b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'U' | b'C' => m.len(1)?,
                    b'T' | b'B' => m.len(4)?,
                    _ => m.len(8)?,
                };
                let v = m.take(n)?.to_vec();
                m.push(Value::Bytes(v));
            }
            b']' => m.push(Value::List(Vec::new())),
            b'l' => {
                let v = m.pop_mark()?;
                m.push(Value::List(v));
            }
            b'a' => {
                let v = m.pop()?;
                m.extend(vec![v])?;
            }
            b'e' => {
                let v = m.pop_mark()?;
                m.extend(v)?;
            }
            b')' => m.push(Value::Tuple(Vec::new())),
            b't' => {
                let v = m.pop_mark()?;
                m.push(Value::Tuple(v));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(m.pop()?);
                }
                v.reverse();
                m.push(Value::Tuple(v));
            }
            b'}' => m.push(Value::Dict(Vec::new())),
            b'd' => {
                let pairs = m.pop_mark()?;
                m.push(Value::Dict(Vec::new()));
                m.set_items(pairs)?;
            }
            b's' => {
                let v = m.pop()?;
                let k = m.pop()?;
                m.set_items(vec![k, v])?;
            }
            b'u' => {
                let pairs = m.pop_mark()?;
                m.set_items(pairs)?;
            }
            // sets, as lists
            0x8f => m.push(Value::List(Vec::new())),
            0x90 => {
                let v = m.pop_mark()?;
                m.extend(v)?;
            }
            0x91 => {
                let v = m.pop_mark()?;
                m.push(Value::List(v));
            }
            // the memo: a key in text (protocol 0), in 1 or 4 bytes, or the
            // next free one
            b'p' | b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'p' => m.text_key()?,
                    b'q' => m.uint(1)?,
                    b'r' => m.uint(4)?,
                    _ => m.memo.len() as u64,
                };
                m.memo_put(key)?;
            }
            b'g' | b'h' | b'j' => {
                let key = match op {
                    b'g' => m.text_key()?,
                    b'h' => m.uint(1)?,
                    _ => m.uint(4)?,
                };
                m.memo_get(key)?;
            }
            b'c' => {
                let module = m.text_line()?.to_string();
                let name = m.text_line()?.to_string();
                m.push(Value::Global(module, name));
            }
            0x93 => {
                let name = m.pop()?;
                let module = m.pop()?;
                let (Value::Str(module), Value::Str(name)) = (module, name) else {
                    return err("a global named by what is not text");
                };
                m.push(Value::Global(module, name));
            }
            // REDUCE, NEWOBJ, NEWOBJ_EX (its keyword arguments dropped)
            b'R' | 0x81 | 0x92 => {
                if op == 0x92 {
                    m.pop()?;
                }
                let args = m.pop()?;
                let callable = m.pop()?;
                // a `bytearray` as protocols 0–4 write it (pyarrow's
                // buffers): `bytearray(b"…")`, rebuilt as the bytes
                if let (Value::Global(module, name), Some([bytes @ Value::Bytes(_)])) =
                    (&callable, args.items())
                {
                    if matches!(module.as_str(), "builtins" | "__builtin__") && name == "bytearray"
                    {
                        m.push(bytes.clone());
                        continue;
                    }
                }
                // bytes as protocols 0–2 write them from Python 3:
                // `_codecs.encode(text, "latin1")` (and a `bytearray` of
                // that text), rebuilt as the bytes
                if let (Value::Global(module, name), Some([Value::Str(text), Value::Str(codec)])) =
                    (&callable, args.items())
                {
                    let builds_bytes = (module == "_codecs" && name == "encode")
                        || (matches!(module.as_str(), "builtins" | "__builtin__")
                            && name == "bytearray");
                    if builds_bytes && codec.starts_with("latin") {
                        let bytes: Option<Vec<u8>> = text
                            .chars()
                            .map(|c| u8::try_from(u32::from(c)).ok())
                            .collect();
                        m.push(Value::Bytes(
                            bytes.ok_or_else(|| PickleError("bytes beyond Latin-1".into()))?,
                        ));
                        continue;
                    }
                }
                m.push(Value::Object {
                    callable: Box::new(callable),
                    args: Box::new(args),
                    state: None,
                });
            }
            b'b' => {
                let new = m.pop()?;
                match m.top()? {
                    Value::Object { state, .. } => *state = Some(Box::new(new)),
                    _ => return err("state set on what is not an object"),
                }
                // joblib's array: its data follows in the stream
                if m.top()?.class() == Some(("joblib.numpy_pickle", "NumpyArrayWrapper")) {
                    let wrapper = m.pop()?;
                    let array = m.joblib_array(&wrapper)?;
                    m.push(array);
                }
            }
            // BINPERSID: a persistent id (PyTorch's storages), recorded
            b'Q' => {
                let pid = m.pop()?;
                m.push(Value::Object {
                    callable: Box::new(Value::Global("pickle".into(), "persistent_id".into())),
                    args: Box::new(pid),
                    state: None,
                });
            }
            other => {
                return err(format!(
                    "instruction 0x{other:02x} at byte {} is not read (text persistent ids, \
                     extensions and out-of-band buffers are not)",
                    m.at - 1
                ))
            }
        }
    }
}

impl Value {
    /// Roughly how much the value holds: one per value, plus its bytes.
    fn size(&self) -> usize {
        1 + match self {
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::List(v) | Value::Tuple(v) => v.iter().map(Value::size).sum(),
            Value::Dict(v) => v.iter().map(|(k, x)| k.size() + x.size()).sum(),
            Value::Global(m, n) => m.len() + n.len(),
            Value::Object {
                callable,
                args,
                state,
            } => callable.size() + args.size() + state.as_ref().map_or(0, |s| s.size()),
            _ => 0,
        }
    }

    /// The items of a list or tuple.
    pub(super) fn items(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// A list of text values (PyTables's lists of column names), numbers
    /// written as text (pandas's integer column names).
    pub(super) fn names(&self) -> Option<Vec<String>> {
        self.items()?.iter().map(Value::as_text).collect()
    }

    /// A NumPy array as protocol 5 pickles one, `_frombuffer(data, dtype,
    /// shape, order)`: how arrays kept outside the pickle's own values
    /// (joblib's, PyTorch's) are made readable by [`Value::ndarray`].
    pub(super) fn frombuffer(data: Vec<u8>, dtype: Value, shape: Value, order: Value) -> Value {
        Value::Object {
            callable: Box::new(Value::Global(
                "numpy.core.numeric".into(),
                "_frombuffer".into(),
            )),
            args: Box::new(Value::Tuple(vec![Value::Bytes(data), dtype, shape, order])),
            state: None,
        }
    }

    /// A NumPy dtype as pickled (`numpy.dtype(code)` with the state
    /// `(3, order)`): `code` as `f4`, `order` `<` or `>`.
    pub(super) fn numpy_dtype(code: &str, big: bool) -> Value {
        Value::Object {
            callable: Box::new(Value::Global("numpy".into(), "dtype".into())),
            args: Box::new(Value::Tuple(vec![Value::Str(code.into())])),
            state: Some(Box::new(Value::Tuple(vec![
                Value::Int(3),
                Value::Str(if big { ">" } else { "<" }.into()),
            ]))),
        }
    }

    /// A list or tuple of sizes (a shape, strides) as numbers.
    pub(super) fn sizes(&self) -> Option<Vec<usize>> {
        self.items()?
            .iter()
            .map(|d| match d {
                Value::Int(n) => usize::try_from(*n).ok(),
                _ => None,
            })
            .collect()
    }

    /// The entry of a dict under the text key `key`.
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The module and name of a global, or of the class or function that
    /// made an object (the class `copyreg._reconstructor` makes an object
    /// of in protocols 0 and 1).
    pub(super) fn class(&self) -> Option<(&str, &str)> {
        match self {
            Value::Global(module, name) => Some((module, name)),
            Value::Object { callable, args, .. } => match callable.class() {
                Some(("copyreg" | "copy_reg", "_reconstructor")) => args.items()?.first()?.class(),
                made_by => made_by,
            },
            _ => None,
        }
    }

    /// The value as text: text, UTF-8 bytes, or a number written out.
    pub(super) fn as_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Bytes(b) => String::from_utf8(b.clone()).ok(),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
            _ => None,
        }
    }

    /// The value as a text cell: `None` for Python's `None` and NaN
    /// (pandas's missing values), else [`Value::as_text`] (numbers in a
    /// column of objects written out).
    pub(super) fn text_cell(&self) -> Option<String> {
        match self {
            Value::Float(f) if f.is_nan() => None,
            v => v.as_text(),
        }
    }
}

/// A pickled NumPy array: its shape, NumPy type (`u`, `i`, `f`, `b`, `S`,
/// `U`, `O`) and width, byte order and layout, and its data.
#[derive(Debug)]
pub(super) struct NdArray<'a> {
    pub(super) shape: Vec<usize>,
    pub(super) kind: String,
    pub(super) width: usize,
    pub(super) big: bool,
    pub(super) fortran: bool,
    pub(super) data: NdData<'a>,
}

/// An array's data: raw bytes, or Python objects.
#[derive(Debug)]
pub(super) enum NdData<'a> {
    Bytes(&'a [u8]),
    Items(&'a [Value]),
}

/// Whether `v` is the global `module.name` (NumPy's module moved:
/// `numpy.core.multiarray`, `numpy._core.multiarray`).
fn is_global(v: &Value, module: &str, name: &str) -> bool {
    matches!(v, Value::Global(m, n)
        if n == name && (m == module || m.replace("._core", ".core") == module))
}

/// A pickled NumPy dtype (`numpy.dtype("u1", False, True)` with its state
/// `(3, "<", …)`): its type, width and whether big-endian.
fn dtype(v: &Value) -> Option<(String, usize, bool)> {
    let Value::Object {
        callable,
        args,
        state,
    } = v
    else {
        return None;
    };
    if !is_global(callable, "numpy", "dtype") {
        return None;
    }
    let code = args.items()?.first()?.as_text()?;
    let kind: String = code
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let width: usize = code[kind.len()..].parse().ok()?;
    let order = state
        .as_ref()
        .and_then(|s| s.items()?.get(1)?.as_text())
        .unwrap_or_else(|| "|".into());
    let big = order == ">" || (order == "=" && cfg!(target_endian = "big"));
    Some((kind, width, big))
}

impl Value {
    /// A pickled NumPy array, by either of NumPy's ways: `_reconstruct`
    /// then its state `(version, shape, dtype, fortran, data)` (protocols
    /// 0 to 4, and Python 2's pickles such as CIFAR's batches), or
    /// `_frombuffer(data, dtype, shape, order)` (protocol 5).
    pub(super) fn ndarray(&self) -> Option<NdArray<'_>> {
        let Value::Object {
            callable,
            args,
            state,
        } = self
        else {
            return None;
        };
        fn data_of(v: &Value) -> Option<NdData<'_>> {
            match v {
                Value::Bytes(b) => Some(NdData::Bytes(b)),
                Value::Str(s) => Some(NdData::Bytes(s.as_bytes())),
                Value::List(items) => Some(NdData::Items(items)),
                _ => None,
            }
        }
        let (shape, dt, fortran, data) =
            if is_global(callable, "numpy.core.multiarray", "_reconstruct") {
                let [_, shape, dt, fortran, data] = state.as_ref()?.items()? else {
                    return None;
                };
                let fortran = matches!(fortran, Value::Bool(true) | Value::Int(1));
                (shape, dt, fortran, data)
            } else if is_global(callable, "numpy.core.numeric", "_frombuffer") {
                let [data, dt, shape, order] = args.items()? else {
                    return None;
                };
                (shape, dt, order.as_text().as_deref() == Some("F"), data)
            } else {
                return None;
            };
        let (kind, width, big) = dtype(dt)?;
        Some(NdArray {
            shape: shape.sizes()?,
            kind,
            width,
            big,
            fortran,
            data: data_of(data)?,
        })
    }

    /// Whether the value is an object of a class of `module` (a pandas
    /// frame, a torch tensor).
    pub(super) fn made_by(&self, module: &str) -> bool {
        matches!(self, Value::Object { .. })
            && self
                .class()
                .is_some_and(|(m, _)| m == module || m.starts_with(&format!("{module}.")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protocol_0_list_of_names_is_read() {
        // PyTables's attribute `values_block_0_kind`
        let v = read(b"(lp0\nVf0\np1\naVcaf\\u00e9\np2\naI3\na.").unwrap();
        assert_eq!(
            v.names().unwrap(),
            vec!["f0".to_string(), "caf\u{e9}".into(), "3".into()]
        );
        // `non_index_axes`: [(1, [names])]
        let v = read(b"(lp0\n(I1\n(lp1\nVa\np2\naVb\np3\natp4\na.").unwrap();
        let axis = &v.items().unwrap()[0].items().unwrap()[1];
        assert_eq!(axis.names().unwrap(), vec!["a".to_string(), "b".into()]);
        assert_eq!(read(b"N.").unwrap(), Value::None);
    }

    #[test]
    fn a_numpy_object_array_is_read_without_importing_anything() {
        // pickle.dumps(np.array(["a", None, "b"], dtype=object), 5), as
        // PyTables stores a fixed-format store's object block
        let data: &[u8] = b"\x80\x05\x95\x93\x00\x00\x00\x00\x00\x00\x00\
            \x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\
            \x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94\
            (K\x01K\x03\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02O8\x94\x89\x88\x87\x94R\x94\
            (K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?t\x94b\x89]\x94\
            (\x8c\x01a\x94N\x8c\x01b\x94et\x94b.";
        let v = read(data).unwrap();
        let a = v.ndarray().unwrap();
        assert_eq!((a.shape, a.kind.as_str(), a.fortran), (vec![3], "O", false));
        let NdData::Items(items) = a.data else {
            panic!("{:?}", a.data)
        };
        assert_eq!(
            items,
            &[Value::Str("a".into()), Value::None, Value::Str("b".into())]
        );
    }

    #[test]
    fn damaged_and_unsupported_pickles_are_errors() {
        assert!(read(b"(lp0\nVf0\n").is_err(), "cut short");
        assert!(
            read(b"\x80\x05X\xff\x00\x00\x00ab.").is_err(),
            "length past the end"
        );
        assert!(read(b"a.").is_err(), "empty stack");
        assert!(read(b"Pid\n.").is_err(), "persistent id");
        assert!(read(b"").is_err());
        // a list of 100,000 copies of a 10,000-item list, by memo reads
        let mut bomb = b"\x80\x04(".to_vec();
        for _ in 0..10_000 {
            bomb.extend_from_slice(b"K\x01");
        }
        bomb.extend_from_slice(b"l\x94(");
        bomb.extend(std::iter::repeat_n(&b"h\x00"[..], 100_000).flatten());
        bomb.extend_from_slice(b"l.");
        let e = read(&bomb).unwrap_err().to_string();
        assert!(e.contains("beyond its own size"), "{e}");
    }
}
