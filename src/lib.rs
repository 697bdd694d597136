pub use polars;
pub use arrow;
pub use parquet;
