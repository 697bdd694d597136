//! `--save-embeddings FILE`: the model's activations and out-of-fold
//! probabilities as a Parquet table that `scan` reads back
//! (`--embedding activations --probs probs`).

use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, UInt64Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema};

use crate::ingest::{Dataset, META_FEATURES};
use crate::report::scores::plain;

fn list(values: &[f32], width: usize) -> ArrayRef {
    Arc::new(FixedSizeListArray::new(
        Arc::new(Field::new("item", DataType::Float32, false)),
        width as i32,
        Arc::new(Float32Array::from(values.to_vec())),
        None,
    ))
}

/// One row per scanned row: `row` (its input row), `id` (when there is
/// one), the label column as given, `activations` and `probs` (one value per
/// class, in sorted class order). The schema names `activations` as the
/// feature column.
pub fn embeddings_batch(
    ds: &Dataset,
    activations: &[f32],
    dims: usize,
    probs: &[f32],
) -> RecordBatch {
    let kept = UInt64Array::from(ds.kept_rows.clone());
    let pick = |a: &ArrayRef| take(&plain(a), &kept, None).expect("kept rows are in range");
    let mut fields = vec![Field::new("row", DataType::UInt64, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(kept.clone())];
    if let Some(ids) = &ds.ids {
        let ids = pick(ids);
        fields.push(Field::new(
            ds.id_column.as_deref().unwrap_or("id"),
            ids.data_type().clone(),
            true,
        ));
        columns.push(ids);
    }
    let labels = pick(&ds.labels);
    fields.push(Field::new(
        &ds.label_column,
        labels.data_type().clone(),
        true,
    ));
    columns.push(labels);
    let acts = list(activations, dims);
    fields.push(Field::new("activations", acts.data_type().clone(), false));
    columns.push(acts);
    let p = list(probs, ds.class_names.len());
    fields.push(Field::new("probs", p.data_type().clone(), false));
    columns.push(p);
    let metadata: std::collections::HashMap<String, String> =
        [(META_FEATURES.to_string(), "activations".to_string())]
            .into_iter()
            .collect();
    let schema = Schema::new(fields).with_metadata(metadata);
    RecordBatch::try_new(Arc::new(schema), columns).expect("columns match the schema")
}
