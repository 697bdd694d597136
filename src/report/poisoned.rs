//! The red-team file written by `poisonscan poison`: the (possibly changed)
//! features and labels with the ground truth, one row per input row (per
//! kept row, when `--drop-invalid` left rows out: the copy is a data set of
//! its own, numbered from 0, so that a scan of it lines up with it).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::compute::nullif;
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::scores::{kept, plain, row_and_id};
use super::{AtomicFile, ReportError};
use crate::ingest::{
    Dataset, FeatureSource, GROUND_TRUTH_COLUMNS, META_FEATURES, META_FEATURE_COLUMNS,
    META_IMAGE_SHAPE, META_LOSSY,
};
use crate::redteam::{Planted, Shape};

/// Labels from class ids, typed like the input's labels: integers when the
/// input's were integers, strings otherwise.
fn labels_array(ds: &Dataset, codes: &[u32]) -> ArrayRef {
    if ds.labels.data_type().is_integer() {
        Arc::new(Int64Array::from_iter_values(codes.iter().map(|&c| {
            ds.class_names[c as usize]
                .parse::<i64>()
                .expect("integer class names")
        })))
    } else {
        Arc::new(StringArray::from_iter_values(
            codes.iter().map(|&c| ds.class_names[c as usize].as_str()),
        ))
    }
}

/// Builds the red-team table. `features`, `text` (the text column, by
/// name, when the data set has one) and `codes` are the attacked copies of
/// the data set's features, text and class ids; `extra` holds further
/// schema metadata (the attack plan).
pub fn poisoned_batch(
    ds: &Dataset,
    features: Vec<f32>,
    text: Option<(String, Vec<Option<String>>)>,
    codes: &[u32],
    planted: &Planted,
    shape: Option<Shape>,
    extra: Vec<(String, String)>,
) -> RecordBatch {
    let dim = ds.n_features;
    // A table keeps its columns, so that the copy is read as the table was
    // (a list column of continuous values would be taken for an
    // embedding): numbers as numbers, a categorical column as its values'
    // text; images and vectors go in one list column.
    let table = match &ds.feature_source {
        FeatureSource::Columns { .. } if shape.is_none() => Some(table_columns(ds)),
        _ => None,
    };
    let column = if shape.is_some() {
        "pixels"
    } else {
        "features"
    };
    let mut feature_fields = Vec::new();
    let mut feature_columns: Vec<ArrayRef> = Vec::new();
    let value = |j: usize| features.iter().skip(j).step_by(dim.max(1)).copied();
    match &table {
        Some(names) => {
            for (name, column) in names {
                match column {
                    TableColumn::Number(j) => {
                        feature_fields.push(Field::new(name, DataType::Float32, false));
                        feature_columns.push(Arc::new(Float32Array::from_iter_values(value(*j))));
                    }
                    TableColumn::Category(values) => {
                        // each row's value: the one whose indicator is set
                        let n = features.len().checked_div(dim).unwrap_or(0);
                        let mut text: Vec<Option<&str>> = vec![None; n];
                        for (j, v) in values {
                            for (i, x) in value(*j).enumerate() {
                                if x == 1.0 {
                                    text[i] = v.as_deref();
                                }
                            }
                        }
                        let array: arrow::array::DictionaryArray<arrow::datatypes::Int32Type> =
                            text.into_iter().collect();
                        feature_fields.push(Field::new(name, array.data_type().clone(), true));
                        feature_columns.push(Arc::new(array));
                    }
                }
            }
        }
        None => {
            let values = FixedSizeListArray::new(
                Arc::new(Field::new("item", DataType::Float32, false)),
                dim as i32,
                Arc::new(Float32Array::from(features)),
                None,
            );
            feature_fields.push(Field::new(column, values.data_type().clone(), false));
            feature_columns.push(Arc::new(values));
        }
    }
    // rows left out as invalid are left out of the copy too
    let original = kept(ds, plain(&ds.labels));
    let not_poisoned = BooleanArray::from(planted.poisoned.iter().map(|p| !p).collect::<Vec<_>>());
    let source = nullif(&original, &not_poisoned).expect("same length");
    let (mut fields, mut columns) = row_and_id(ds, true);
    let labels = labels_array(ds, codes);
    fields.push(Field::new("label", labels.data_type().clone(), false));
    columns.push(labels);
    fields.push(Field::new(
        "original_label",
        original.data_type().clone(),
        false,
    ));
    columns.push(original);
    fields.push(Field::new("is_poisoned", DataType::Boolean, false));
    columns.push(Arc::new(BooleanArray::from(planted.poisoned.clone())));
    fields.push(Field::new(
        "poison_source_label",
        source.data_type().clone(),
        true,
    ));
    columns.push(source);
    fields.extend(feature_fields);
    columns.extend(feature_columns);
    // the text column, which a scan of the copy reads as the input's
    if let Some((name, rows)) = text.filter(|(n, _)| fields.iter().all(|f| f.name() != n)) {
        fields.push(Field::new(name, DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from(rows)));
    }
    let mut metadata: std::collections::HashMap<String, String> = extra.into_iter().collect();
    match &table {
        Some(names) => metadata.insert(
            META_FEATURE_COLUMNS.into(),
            serde_json::to_string(&names.iter().map(|(n, _)| n).collect::<Vec<_>>())
                .expect("names serialise"),
        ),
        None => metadata.insert(META_FEATURES.into(), column.into()),
    };
    if let Some(s) = shape {
        metadata.insert(
            META_IMAGE_SHAPE.into(),
            format!("{}x{}x{}", s.height, s.width, s.channels),
        );
        if ds.lossy {
            metadata.insert(META_LOSSY.into(), "true".into());
        }
    }
    let schema = Schema::new(fields).with_metadata(metadata);
    RecordBatch::try_new(Arc::new(schema), columns).expect("columns match the schema")
}

/// A column of the red-team copy of a table.
enum TableColumn {
    /// A numeric feature, by its place.
    Number(usize),
    /// A categorical column: the places of its values' indicators, with
    /// each value's text (`None` for the indicator of a missing value).
    Category(Vec<(usize, Option<String>)>),
}

/// The columns a table's copy is written with, named as the table named
/// them: its numeric features, then its categorical columns. A name the
/// copy's own columns take (`row`, `label`, the ground truth; `id` when
/// there is one) gets a `_` until it is free.
fn table_columns(ds: &Dataset) -> Vec<(String, TableColumn)> {
    let FeatureSource::Columns {
        columns,
        categorical,
    } = &ds.feature_source
    else {
        return Vec::new();
    };
    let groups = ds.feature_source.category_indicators();
    let mut out: Vec<(String, TableColumn)> = (0..columns.len())
        .filter(|j| !groups.iter().any(|g| g.contains(j)))
        .map(|j| (columns[j].clone(), TableColumn::Number(j)))
        .collect();
    for (name, group) in categorical.iter().zip(&groups) {
        let values = group
            .iter()
            .map(|&j| {
                let value = &columns[j][name.len() + 1..];
                (j, (value != "(null)").then(|| value.to_string()))
            })
            .collect();
        out.push((name.clone(), TableColumn::Category(values)));
    }
    let mut used: Vec<String> = ["row", "label"]
        .iter()
        .chain(&GROUND_TRUTH_COLUMNS)
        .chain(ds.ids.as_ref().map(|_| &"id"))
        .map(|s| s.to_string())
        .collect();
    for (name, _) in &mut out {
        while used.contains(name) {
            name.push('_');
        }
        used.push(name.clone());
    }
    out
}

/// Writes a batch as zstd-compressed Parquet, atomically.
pub fn write_parquet(path: &std::path::Path, batch: &RecordBatch) -> Result<(), ReportError> {
    let encode = |e: &dyn std::fmt::Display| ReportError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| ReportError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
    }
    let mut file = AtomicFile::new(path)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(16_384))
        .build();
    let mut w =
        ArrowWriter::try_new(&mut file, batch.schema(), Some(props)).map_err(|e| encode(&e))?;
    w.write(batch).map_err(|e| encode(&e))?;
    w.close().map_err(|e| encode(&e))?;
    file.commit()
}
