//! poisonscan: find poisoned or backdoored samples in a training data set
//! before anyone trains on it.
//!
//! The work runs in stages, one module each:
//! [`ingest`] reads files (or an Arrow `RecordBatch`) into a [`Dataset`];
//! [`models`] trains a small network on it (Burn) for a learned
//! representation and out-of-fold class probabilities;
//! [`pipeline`] runs the scanners of [`poisonscan_scanners`] over it;
//! [`fuse`] calibrates and combines their scores into one suspicion per row and
//! a verdict per class and data set; [`report`] writes the scores file,
//! `summary.json` and the terminal summary. [`redteam`] plants known attacks
//! for testing and for the built-in demo.

pub mod eval;
pub mod fuse;
pub mod ingest;
pub mod models;
pub mod pipeline;
pub mod redteam;
pub mod report;
pub mod settings;
pub mod shard;

pub use ingest::{
    from_record_batch, from_record_batches, Dataset, IngestError, IngestOptions, TableOptions,
};
pub use pipeline::{scan_dataset, ScanReport};
pub use poisonscan_scanners as scanners;
pub use settings::{ScanSettings, SettingsError};
