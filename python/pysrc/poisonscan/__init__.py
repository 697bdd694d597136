"""poisonscan: scan a training data set for poisoned or backdoored samples
before anyone trains on it.

    >>> import poisonscan, pyarrow as pa
    >>> result = poisonscan.scan(table, label="label", embedding="emb")
    >>> result.verdict, result.failed_classes
    >>> pa.table(result.scores)          # zero-copy, through __arrow_c_stream__

`data` is anything that exports the Arrow PyCapsule stream interface (a
pyarrow Table or RecordBatchReader, a polars DataFrame, a DuckDB relation) or
a path, glob or list of them as the command line takes them (Parquet, CSV,
Arrow IPC, NDJSON, IDX, NumPy `.npz`, MATLAB `.mat`, HDF5, TFRecord, pickles of arrays or pandas frames, joblib and PyTorch files of tensors, R data files, Stata, SPSS and SAS transport files, Avro, ORC, ARFF, LIBSVM, image folders and their archives). Bad input raises `InputError` with
the command line's message.

Past one machine: scan the shards of a random partition with the same options,
`merge([r.partial() for r in shard_results])`; `poisonscan.spark.scan(df, ...)`
does that on Spark.
"""

from ._native import (
    InputError,
    PoisonscanError,
    ScanResult,
    Scores,
    __version__,
    merge,
    scan,
)

__all__ = [
    "InputError",
    "PoisonscanError",
    "ScanResult",
    "Scores",
    "__version__",
    "merge",
    "scan",
]
