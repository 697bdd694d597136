//! Avro object container files (`*.avro`, or told by their `Obj\x01`
//! header), as Kafka Connect sinks, Hadoop and Spark
//! (`df.write.format("avro")`) write them: read into Arrow by arrow-rs's
//! own reader, then like a Parquet file's batches (records' fields are
//! columns; a `bytes` field of encoded images an image column, a record
//! with `bytes` and `path` fields as Hugging Face keeps images). Blocks
//! compressed with any codec of the specification are read: `deflate`
//! (Hadoop's and fastavro's usual), `snappy` (Spark's default), `zstandard`,
//! `bzip2` and `xz`; another is an error that names it.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::IngestError;

/// The first bytes of an Avro object container file.
pub(super) const MAGIC: &[u8; 4] = b"Obj\x01";

fn avro_error(path: &Path, message: impl Into<String>) -> IngestError {
    super::frame::read_error(path, "Avro", message)
}

/// Reads an Avro object container file: its schema and its records as
/// Arrow batches.
pub(super) fn read(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), IngestError> {
    let file = std::fs::File::open(path).map_err(|error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let reader = arrow_avro::reader::ReaderBuilder::new()
        .with_batch_size(65_536)
        .build(std::io::BufReader::new(file))
        .map_err(|e| avro_error(path, format!("its header cannot be read: {e}")))?;
    let schema = reader.schema();
    // arrow-avro's reader ends quietly at a block cut short, and spins on a
    // block whose records end before its bytes do: every block is checked
    // first
    let sound = blocks(path).map_err(|error| IngestError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    sound.map_err(|e| avro_error(path, e))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| avro_error(path, format!("a block cannot be read: {e}")))?;
    Ok((schema, batches))
}

/// A zigzag-encoded Avro `long` at the start of `b`, and its length.
fn long(b: &[u8]) -> Option<(i64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((((v >> 1) as i64) ^ -((v & 1) as i64), i + 1));
        }
    }
    None
}

/// A length (a `long` that is not negative) at `at` in `b`, moving `at`
/// past it.
fn length(b: &[u8], at: &mut usize) -> Option<usize> {
    let (v, n) = long(b.get(*at..)?)?;
    *at += n;
    usize::try_from(v).ok()
}

/// What an object container file's header says: where it ends, its sync
/// marker, its schema and its codec.
struct Header {
    end: usize,
    sync: Vec<u8>,
    schema: serde_json::Value,
    codec: String,
}

fn header(b: &[u8]) -> Option<Header> {
    let mut at = MAGIC.len();
    let mut meta = HashMap::new();
    loop {
        let (count, n) = long(b.get(at..)?)?;
        at += n;
        if count == 0 {
            break;
        }
        if count < 0 {
            // a block of the map given with its size in bytes
            at += long(b.get(at..)?)?.1;
        }
        // each entry takes two bytes at least
        if count.unsigned_abs() > b.len() as u64 {
            return None;
        }
        for _ in 0..count.unsigned_abs() {
            let mut text = || -> Option<&[u8]> {
                let len = length(b, &mut at)?;
                let bytes = b.get(at..at.checked_add(len)?)?;
                at += len;
                Some(bytes)
            };
            let key = String::from_utf8_lossy(text()?).into_owned();
            meta.insert(key, text()?.to_vec());
        }
    }
    let sync = b.get(at..at + 16)?.to_vec();
    let schema = serde_json::from_slice(meta.get("avro.schema")?).ok()?;
    let codec = meta
        .get("avro.codec")
        .map_or("null".into(), |c| String::from_utf8_lossy(c).into_owned());
    Some(Header {
        end: at + 16,
        sync,
        schema,
        codec,
    })
}

/// How a value of an Avro schema is laid out, enough to step over it.
#[derive(Debug, Clone)]
enum Shape {
    Null,
    Boolean,
    /// `int`, `long`, an enum's index.
    Varint,
    Float,
    Double,
    /// `bytes`, `string`.
    Bytes,
    Fixed(usize),
    Union(Vec<Shape>),
    Array(Box<Shape>),
    Map(Box<Shape>),
    Record(Vec<Shape>),
    /// A named type defined elsewhere (a record may hold itself).
    Named(String),
}

/// The shape of schema `v`; named types (records, enums, fixed) go into
/// `names` by their name and full name.
fn shape(
    v: &serde_json::Value,
    names: &mut HashMap<String, Shape>,
    depth: usize,
) -> Result<Shape, String> {
    use serde_json::Value;
    if depth > 64 {
        return Err("its schema nests too deep".into());
    }
    let primitive = |t: &str| -> Option<Shape> {
        Some(match t {
            "null" => Shape::Null,
            "boolean" => Shape::Boolean,
            "int" | "long" => Shape::Varint,
            "float" => Shape::Float,
            "double" => Shape::Double,
            "bytes" | "string" => Shape::Bytes,
            _ => return None,
        })
    };
    match v {
        Value::String(t) => Ok(primitive(t).unwrap_or_else(|| Shape::Named(t.clone()))),
        Value::Array(branches) => Ok(Shape::Union(
            branches
                .iter()
                .map(|b| shape(b, names, depth + 1))
                .collect::<Result<_, _>>()?,
        )),
        Value::Object(o) => {
            let t = o.get("type").ok_or("a schema without a `type`")?;
            let kind = match t {
                Value::String(t) => t.as_str(),
                // `{"type": {"type": "array", …}}`
                other => return shape(other, names, depth + 1),
            };
            let s = match kind {
                "record" | "error" => {
                    let fields = o
                        .get("fields")
                        .and_then(Value::as_array)
                        .ok_or("a record without `fields`")?;
                    Shape::Record(
                        fields
                            .iter()
                            .map(|f| shape(f.get("type").unwrap_or(&Value::Null), names, depth + 1))
                            .collect::<Result<_, _>>()?,
                    )
                }
                "enum" => Shape::Varint,
                "fixed" => Shape::Fixed(
                    o.get("size")
                        .and_then(Value::as_u64)
                        .ok_or("a fixed type without a `size`")? as usize,
                ),
                "array" => Shape::Array(Box::new(shape(
                    o.get("items").ok_or("an array without `items`")?,
                    names,
                    depth + 1,
                )?)),
                "map" => Shape::Map(Box::new(shape(
                    o.get("values").ok_or("a map without `values`")?,
                    names,
                    depth + 1,
                )?)),
                t => primitive(t).ok_or_else(|| format!("an unknown type `{t}`"))?,
            };
            if let Some(name) = o.get("name").and_then(Value::as_str) {
                let space = o.get("namespace").and_then(Value::as_str);
                if let Some(space) = space.filter(|s| !s.is_empty() && !name.contains('.')) {
                    names.insert(format!("{space}.{name}"), s.clone());
                }
                names.insert(
                    name.rsplit('.').next().unwrap_or(name).to_string(),
                    s.clone(),
                );
                names.insert(name.to_string(), s.clone());
            }
            Ok(s)
        }
        _ => Err(format!("a schema that is not a type: `{v}`")),
    }
}

/// Steps over one value of `s` at `at` in `b`; `None` where the bytes do not
/// hold one.
fn skip(
    s: &Shape,
    names: &HashMap<String, Shape>,
    b: &[u8],
    at: &mut usize,
    depth: usize,
) -> Option<()> {
    if depth > 64 {
        return None;
    }
    fn step(b: &[u8], at: &mut usize, n: usize) -> Option<()> {
        let end = at.checked_add(n)?;
        (end <= b.len()).then(|| *at = end)
    }
    match s {
        Shape::Null => Some(()),
        Shape::Boolean => step(b, at, 1),
        Shape::Varint => {
            let n = long(b.get(*at..)?)?.1;
            step(b, at, n)
        }
        Shape::Float => step(b, at, 4),
        Shape::Double => step(b, at, 8),
        Shape::Bytes => {
            let len = length(b, at)?;
            step(b, at, len)
        }
        Shape::Fixed(n) => step(b, at, *n),
        Shape::Union(branches) => {
            let i = length(b, at)?;
            skip(branches.get(i)?, names, b, at, depth + 1)
        }
        Shape::Array(item) | Shape::Map(item) => loop {
            let (count, n) = long(b.get(*at..)?)?;
            *at += n;
            if count == 0 {
                return Some(());
            }
            if count < 0 {
                length(b, at)?;
            }
            // an item takes a byte at least (but null ones)
            if count.unsigned_abs() > (b.len() - *at) as u64 + 1 {
                return None;
            }
            for _ in 0..count.unsigned_abs() {
                if matches!(s, Shape::Map(_)) {
                    skip(&Shape::Bytes, names, b, at, depth + 1)?;
                }
                skip(item, names, b, at, depth + 1)?;
            }
        },
        Shape::Record(fields) => fields
            .iter()
            .try_for_each(|f| skip(f, names, b, at, depth + 1)),
        Shape::Named(name) => skip(names.get(name)?, names, b, at, depth + 1),
    }
}

/// A block's records decompressed by `codec`.
fn inflate(codec: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut stream: Box<dyn Read + '_> = match codec {
        "null" => return Ok(data.to_vec()),
        // snappy, then the CRC-32 of the uncompressed bytes
        "snappy" => {
            let body = data.get(..data.len().saturating_sub(4)).unwrap_or_default();
            return snap::raw::Decoder::new()
                .decompress_vec(body)
                .map_err(|e| format!("a snappy block is damaged: {e}"));
        }
        "deflate" => Box::new(flate2::read::DeflateDecoder::new(data)),
        "zstandard" => Box::new(
            zstd::stream::read::Decoder::new(data)
                .map_err(|e| format!("a zstandard block is damaged: {e}"))?,
        ),
        "bzip2" => Box::new(bzip2::read::BzDecoder::new(data)),
        "xz" => Box::new(liblzma::read::XzDecoder::new(data)),
        other => {
            return Err(format!(
                "its blocks are compressed with `{other}`, which is not an Avro codec (null, \
                 deflate, snappy, zstandard, bzip2 and xz are)"
            ))
        }
    };
    let mut out = Vec::new();
    stream
        .read_to_end(&mut out)
        .map_err(|e| format!("a {codec} block is damaged: {e}"))?;
    Ok(out)
}

/// Whether every block of an object container file is sound: a count of
/// records that its bytes hold exactly (after decompression), within the
/// file, followed by the file's sync marker.
fn blocks(path: &Path) -> std::io::Result<Result<(), String>> {
    let mut file = std::io::BufReader::new(std::fs::File::open(path)?);
    let len = file.get_ref().metadata()?.len();
    // the header: the schema and codec, rarely over a few kilobytes
    let mut head = Vec::new();
    (&mut file).take(1 << 20).read_to_end(&mut head)?;
    let Some(h) = header(&head) else {
        return Ok(Err(
            "its header cannot be read (cut short or damaged?)".into()
        ));
    };
    let mut names = HashMap::new();
    let record = match shape(&h.schema, &mut names, 0) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("its schema cannot be read: {e}"))),
    };
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(h.end as u64))?;
    let mut at = h.end as u64;
    let mut block = 0usize;
    while at < len {
        let damaged = |what: String| Ok(Err(format!("block {block} {what} (damaged?)")));
        let (Some((count, a)), Some((size, b))) = (read_long(&mut file)?, read_long(&mut file)?)
        else {
            return damaged("has no record count or size".into());
        };
        at += a + b;
        if size < 0 || at + size as u64 + 16 > len {
            return Ok(Err(format!(
                "the file is cut short inside block {block} ({size} bytes promised, {} there)",
                len.saturating_sub(at + 16)
            )));
        }
        let mut data = vec![0u8; size as usize];
        file.read_exact(&mut data)?;
        let mut marker = [0u8; 16];
        file.read_exact(&mut marker)?;
        if marker[..] != h.sync[..] {
            return damaged("does not end with the file's sync marker".into());
        }
        let records = match inflate(&h.codec, &data) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        if count < 0 || count as u64 > records.len() as u64 + 1 {
            return damaged(format!("claims {count} records in {} bytes", records.len()));
        }
        let mut cursor = 0;
        for r in 0..count {
            if skip(&record, &names, &records, &mut cursor, 0).is_none() {
                return damaged(format!("has no whole record {r} where it promises {count}"));
            }
        }
        if cursor != records.len() {
            return damaged(format!(
                "holds {} bytes after its {count} records",
                records.len() - cursor
            ));
        }
        at += size as u64 + 16;
        block += 1;
    }
    Ok(Ok(()))
}

/// A zigzag-encoded Avro `long` read from `r`, and its length; `None` at
/// the end of the file or past 10 bytes.
fn read_long(r: &mut impl Read) -> std::io::Result<Option<(i64, u64)>> {
    let mut bytes = Vec::with_capacity(10);
    let mut byte = [0u8];
    while bytes.len() < 10 {
        if r.read(&mut byte)? == 0 {
            return Ok(None);
        }
        bytes.push(byte[0]);
        if byte[0] & 0x80 == 0 {
            return Ok(long(&bytes).map(|(v, n)| (v, n as u64)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, StringArray};
    use std::sync::Arc;

    /// An object container file of 16 records, one block, not compressed.
    fn file() -> Vec<u8> {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "label",
                Arc::new(Int64Array::from_iter_values(0..16)) as arrow::array::ArrayRef,
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter_values((0..16).map(f64::from))),
            ),
            (
                "note",
                Arc::new(StringArray::from_iter_values(
                    (0..16).map(|i| "ab".repeat(i)),
                )),
            ),
        ])
        .unwrap();
        let mut w =
            arrow_avro::writer::AvroWriter::new(Vec::new(), batch.schema().as_ref().clone())
                .unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        w.into_inner()
    }

    fn check(bytes: &[u8]) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.avro");
        std::fs::write(&path, bytes).unwrap();
        blocks(&path).unwrap()
    }

    #[test]
    fn every_block_is_checked_before_the_reader_meets_it() {
        let good = file();
        assert_eq!(check(&good), Ok(()));
        let end = header(&good).unwrap().end;
        // the block's count (16, zigzag 32) one short: a record's bytes
        // left over, on which arrow-avro's reader spins
        assert_eq!(good[end], 32);
        let mut short = good.clone();
        short[end] = 30;
        let e = check(&short).unwrap_err();
        assert!(
            e.contains("block 0 holds") && e.contains("after its 15 records"),
            "{e}"
        );
        // one more than it holds
        let mut long = good.clone();
        long[end] = 34;
        let e = check(&long).unwrap_err();
        assert!(e.contains("has no whole record 16"), "{e}");
        // cut inside the block, or inside its sync marker
        for cut in [good.len() - 40, good.len() - 3] {
            let e = check(&good[..cut]).unwrap_err();
            assert!(e.contains("cut short inside block 0"), "{e}");
        }
        // a damaged sync marker
        let mut marker = good.clone();
        *marker.last_mut().unwrap() ^= 1;
        let e = check(&marker).unwrap_err();
        assert!(e.contains("sync marker"), "{e}");
    }
}
