//! TFRecord files of `tf.train.Example` records (`*.tfrecord`, as
//! TensorFlow Datasets stores `mnist`, `cifar10`, … and as
//! `tf.io.TFRecordWriter` writes them; plain or gzip-compressed): each
//! record's features by name — a `bytes_list` (an encoded image, or text),
//! a `float_list` or an `int64_list` — become one column each, read like a
//! table's (an image column of PNG/JPEG bytes, a `label` column).
//!
//! Framing: each record is its length (8 bytes, little-endian), a checksum
//! of it, the record, and a checksum of that (4 bytes each; not checked:
//! the protobuf decoding fails on damaged bytes, and a cut record is an
//! error). A feature every record holds once (or, for numbers, the same
//! count of values) is a column; one that is missing from some records or
//! varies in length is left out with a note.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{Field, Schema};

use super::IngestError;

fn tf_error(path: &Path, message: impl Into<String>) -> IngestError {
    IngestError::Read {
        path: path.to_path_buf(),
        format: "TFRecord",
        message: message.into(),
    }
}

/// Whether `path` is named as a TFRecord file (`x.tfrecord`,
/// `mnist-train.tfrecord-00000-of-00001`, `x.tfrecords`, `.gz`).
pub(super) fn is_tfrecord(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.contains(".tfrecord")
}

/// One feature's values in one record.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Bytes(Vec<Vec<u8>>),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
}

/// A protobuf reader over one message's bytes.
struct Wire<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Wire<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    fn done(&self) -> bool {
        self.at >= self.data.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.data.get(self.at).ok_or("a record is cut short")?;
            self.at += 1;
            value |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a bad varint in a record".into())
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or("a bad length in a record")?;
        let out = self.data.get(self.at..end).ok_or("a record is cut short")?;
        self.at = end;
        Ok(out)
    }

    /// The next field: its number and payload.
    fn field(&mut self) -> Result<(u64, Payload<'a>), String> {
        let tag = self.varint()?;
        let (number, wire) = (tag >> 3, tag & 7);
        let payload = match wire {
            0 => Payload::Varint(self.varint()?),
            1 => Payload::Bytes(self.bytes(8)?),
            2 => {
                let n = self.varint()? as usize;
                Payload::Bytes(self.bytes(n)?)
            }
            5 => Payload::Bytes(self.bytes(4)?),
            _ => return Err(format!("unknown protobuf wire type {wire}")),
        };
        Ok((number, payload))
    }
}

/// A protobuf field's payload: a varint, or bytes (length-delimited, or a
/// fixed 32 or 64 bits).
enum Payload<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The values of a `Feature` message: a `bytes_list` (field 1), a
/// `float_list` (2) or an `int64_list` (3), whose values are field 1 —
/// numbers packed in one run or one field each.
fn feature(data: &[u8]) -> Result<Option<Values>, String> {
    let mut w = Wire::new(data);
    let mut out = None;
    while !w.done() {
        let (number, Payload::Bytes(list)) = w.field()? else {
            continue;
        };
        let mut l = Wire::new(list);
        let mut values = match number {
            1 => Values::Bytes(Vec::new()),
            2 => Values::Floats(Vec::new()),
            3 => Values::Ints(Vec::new()),
            _ => continue,
        };
        while !l.done() {
            match (l.field()?, &mut values) {
                ((1, Payload::Bytes(v)), Values::Bytes(b)) => b.push(v.to_vec()),
                // packed, or one fixed 32-bit value
                ((1, Payload::Bytes(v)), Values::Floats(f)) => f.extend(
                    v.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))),
                ),
                ((1, Payload::Varint(v)), Values::Ints(i)) => i.push(v as i64),
                ((1, Payload::Bytes(v)), Values::Ints(i)) => {
                    let mut packed = Wire::new(v);
                    while !packed.done() {
                        i.push(packed.varint()? as i64);
                    }
                }
                _ => {}
            }
        }
        out = Some(values);
    }
    Ok(out)
}

/// The features of one `Example` record, by name.
fn example(data: &[u8]) -> Result<Vec<(String, Values)>, String> {
    let mut out = Vec::new();
    let mut w = Wire::new(data);
    while !w.done() {
        let (1, Payload::Bytes(features)) = w.field()? else {
            continue;
        };
        let mut f = Wire::new(features);
        while !f.done() {
            let (1, Payload::Bytes(entry)) = f.field()? else {
                continue;
            };
            let (mut key, mut value) = (None, None);
            let mut e = Wire::new(entry);
            while !e.done() {
                match e.field()? {
                    (1, Payload::Bytes(k)) => key = Some(String::from_utf8_lossy(k).into_owned()),
                    (2, Payload::Bytes(v)) => value = feature(v)?,
                    _ => {}
                }
            }
            if let (Some(k), Some(v)) = (key, value) {
                out.push((k, v));
            }
        }
    }
    Ok(out)
}

/// The records of a TFRecord file's bytes.
fn records(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes
            .get(at..at + 12)
            .ok_or("the file is cut short inside a record's length")?;
        let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes")) as usize;
        let start = at + 12;
        let end = start
            .checked_add(len)
            .filter(|&e| e + 4 <= bytes.len())
            .ok_or_else(|| format!("the file is cut short inside record {}", out.len()))?;
        out.push(&bytes[start..end]);
        at = end + 4;
    }
    Ok(out)
}

/// Reads a TFRecord file of `Example` records as one batch: a column per
/// feature every record holds alike (see the module docs).
pub(super) fn read(path: &Path, notes: &mut Vec<String>) -> Result<RecordBatch, IngestError> {
    let bytes = super::read_unpacked(path, |e| {
        tf_error(path, format!("damaged compressed data: {e}"))
    })?;
    let records = records(&bytes).map_err(|e| tf_error(path, e))?;
    if records.is_empty() {
        return Err(IngestError::Empty(format!(
            "{} has no records",
            path.display()
        )));
    }
    // each feature's values, record by record
    let mut columns: BTreeMap<String, Vec<Option<Values>>> = BTreeMap::new();
    for (i, record) in records.iter().enumerate() {
        let features = example(record)
            .map_err(|e| tf_error(path, format!("record {i} is not a tf.train.Example: {e}")))?;
        for (name, values) in features {
            let column = columns
                .entry(name)
                .or_insert_with(|| vec![None; records.len()]);
            column[i] = Some(values);
        }
    }
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let mut left_out = Vec::new();
    for (name, values) in columns {
        match column(values) {
            Some(array) => {
                fields.push(Field::new(&name, array.data_type().clone(), false));
                arrays.push(array);
            }
            None => left_out.push(format!("`{name}`")),
        }
    }
    if !left_out.is_empty() {
        notes.push(format!(
            "{}: the features {} were left out: some records lack them, or hold them in \
             varying lengths or types",
            path.display(),
            left_out.join(", ")
        ));
    }
    if arrays.is_empty() {
        return Err(tf_error(
            path,
            "no feature every record holds alike: export the examples as Parquet",
        ));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| tf_error(path, e.to_string()))
}

/// One feature's column: every record holds it, of one type — one value of
/// bytes (an image: binary; else text), or numbers, one each (a scalar) or
/// the same count each (a fixed-size list); `None` otherwise.
fn column(values: Vec<Option<Values>>) -> Option<ArrayRef> {
    let values: Vec<Values> = values.into_iter().collect::<Option<_>>()?;
    match &values[0] {
        Values::Bytes(_) => {
            let one: Vec<Vec<u8>> = values
                .into_iter()
                .map(|v| match v {
                    Values::Bytes(mut b) if b.len() == 1 => b.pop(),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            let text = !one.iter().any(|b| super::batch::image_bytes(b))
                && one.iter().all(|b| std::str::from_utf8(b).is_ok());
            Some(if text {
                Arc::new(StringArray::from_iter_values(
                    one.iter().map(|b| String::from_utf8_lossy(b).into_owned()),
                ))
            } else {
                Arc::new(BinaryArray::from_iter_values(one.iter()))
            })
        }
        Values::Floats(_) => {
            let (flat, k) = same_count(values, |v| match v {
                Values::Floats(f) => Some(f),
                _ => None,
            })?;
            list_or_scalar(Arc::new(Float32Array::from(flat)), k)
        }
        Values::Ints(_) => {
            let (flat, k) = same_count(values, |v| match v {
                Values::Ints(i) => Some(i),
                _ => None,
            })?;
            list_or_scalar(Arc::new(Int64Array::from(flat)), k)
        }
    }
}

/// Every record's `numbers`, one after another, and how many each record
/// holds, when they are all of that type and count.
fn same_count<T: Clone>(
    values: Vec<Values>,
    numbers: impl Fn(Values) -> Option<Vec<T>>,
) -> Option<(Vec<T>, usize)> {
    let lists: Vec<Vec<T>> = values.into_iter().map(numbers).collect::<Option<_>>()?;
    let k = lists[0].len();
    lists
        .iter()
        .all(|l| l.len() == k)
        .then(|| (lists.concat(), k))
}

/// `flat` as one value a row (`k` = 1) or a fixed-size list of `k`.
fn list_or_scalar(flat: ArrayRef, k: usize) -> Option<ArrayRef> {
    match k {
        0 => None,
        1 => Some(flat),
        _ => {
            let item = Arc::new(Field::new("item", flat.data_type().clone(), false));
            Some(Arc::new(
                FixedSizeListArray::try_new(item, k as i32, flat, None).ok()?,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn ld(number: u64, payload: &[u8]) -> Vec<u8> {
        [
            varint(number << 3 | 2),
            varint(payload.len() as u64),
            payload.to_vec(),
        ]
        .concat()
    }

    fn record(features: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let entries: Vec<u8> = features
            .iter()
            .flat_map(|(k, v)| ld(1, &[ld(1, k.as_bytes()), ld(2, v)].concat()))
            .collect();
        let example = ld(1, &entries);
        [
            (example.len() as u64).to_le_bytes().to_vec(),
            vec![0; 4],
            example,
            vec![0; 4],
        ]
        .concat()
    }

    fn read_bytes(name: &str, bytes: &[u8]) -> Result<(RecordBatch, Vec<String>), IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut notes = Vec::new();
        read(&path, &mut notes).map(|b| (b, notes))
    }

    #[test]
    fn every_kind_of_feature_becomes_a_column() {
        let floats = |v: &[f32]| {
            ld(
                2,
                &ld(
                    1,
                    &v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<_>>(),
                ),
            )
        };
        let records: Vec<u8> = (0..3u64)
            .flat_map(|i| {
                // ints packed in one record, one field each in the others
                let ints = match i {
                    0 => ld(3, &ld(1, &varint(7))),
                    _ => ld(3, &[varint(1 << 3), varint(i)].concat()),
                };
                let mut features = vec![
                    ("label", ints),
                    ("name", ld(1, &ld(1, format!("row {i}").as_bytes()))),
                    ("image", ld(1, &ld(1, b"\x89PNG not really"))),
                    ("vector", floats(&[i as f32, 0.5])),
                ];
                if i != 1 {
                    features.push(("sometimes", floats(&[1.0])));
                }
                record(&features)
            })
            .collect();
        let (batch, notes) = read_bytes("t.tfrecord", &records).unwrap();
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["image", "label", "name", "vector"]);
        assert_eq!(
            batch.column(0).data_type(),
            &arrow::datatypes::DataType::Binary
        );
        let labels = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(labels.values().to_vec(), [7, 1, 2]);
        assert_eq!(
            batch.column(2).data_type(),
            &arrow::datatypes::DataType::Utf8
        );
        let vector = batch
            .column(3)
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .unwrap();
        assert_eq!(vector.value_length(), 2);
        assert!(notes[0].contains("`sometimes`"), "{notes:?}");
        // gzip-compressed, as TFRecordWriter writes with compression
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &records).unwrap();
        let (again, _) = read_bytes("t.tfrecord.gz", &gz.finish().unwrap()).unwrap();
        assert_eq!(again, batch);
        // cut short: an error naming the record
        let err = read_bytes("cut.tfrecord", &records[..records.len() - 10]).unwrap_err();
        assert!(
            err.to_string().contains("cut short inside record 2"),
            "{err}"
        );
        assert!(is_tfrecord(Path::new(
            "mnist-train.tfrecord-00000-of-00001"
        )));
    }
}
