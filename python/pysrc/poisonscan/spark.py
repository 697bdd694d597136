"""poisonscan on Apache Spark: the scan of a DataFrame too large for one
machine, as shard scans inside ``DataFrame.mapInArrow`` over a random
repartition, merged on the driver.

    from poisonscan import spark as ps
    out = ps.scan(df, label="label", embedding="emb", id="id", shards=64)
    out.verdict, out.failed_classes
    out.scores.write.parquet("scores/")      # a Spark DataFrame
    out.summary                              # summary.json as a dict

Each executor needs ``poisonscan`` installed (the wheel) and holds one shard
in memory. A shard's kNN neighbourhoods come from its own rows (a uniform
random sample of the data): see the README on what a sharded scan
approximates. Give ``id=`` so that the scores can be joined back; without
it, rows are named ``<shard>:<row within the shard>``.
"""

from typing import Any, NamedTuple, Optional

import poisonscan

SHARD_COLUMN = "__poisonscan_shard"


class SparkScan(NamedTuple):
    """The merged scan."""

    scores: Any
    """A Spark DataFrame of scores (the scores table's columns)."""
    summary: dict
    """``summary.json`` as a dict."""
    verdict: str
    """``"pass"`` or ``"fail"``."""
    failed_classes: list
    """Labels of the classes that failed."""
    result: "poisonscan.ScanResult"
    """The merged result (``.write(...)`` gives the CLI's files)."""


def scan(df, *, shards: Optional[int] = None, seed: int = 0, **options) -> SparkScan:
    """Scans a Spark DataFrame in ``shards`` random shards (default: its
    partition count) and merges them. ``options`` are
    :func:`poisonscan.scan`'s keyword arguments (``label``, ``embedding``,
    ``features``, ``id``, ``model``, ``threshold``, ...); every shard is
    scanned with the same ones."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    n = int(shards or df.rdd.getNumPartitions())
    if n < 1:
        raise ValueError("shards must be at least 1")
    options = dict(options, seed=seed)
    keyed = (
        df.withColumn(SHARD_COLUMN, (F.rand(seed) * n).cast("int"))
        .repartition(n, SHARD_COLUMN)
        .drop(SHARD_COLUMN)
    )

    def scan_shard(batches):
        import pyarrow as pa

        import poisonscan as p

        batches = [b for b in batches if b.num_rows > 0]
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        yield pa.RecordBatch.from_pydict(
            {"partial": [p.scan(table, **options).partial()]},
            schema=pa.schema([("partial", pa.binary())]),
        )

    schema = T.StructType([T.StructField("partial", T.BinaryType())])
    partials = [bytes(r.partial) for r in keyed.mapInArrow(scan_shard, schema).collect()]
    if not partials:
        raise poisonscan.InputError("the DataFrame has no rows")
    result = poisonscan.merge(partials)
    scores = _to_spark(df.sparkSession, result.scores)
    return SparkScan(scores, result.summary, result.verdict, result.failed_classes, result)


def _to_spark(spark, scores):
    import pyarrow as pa

    table = pa.table(scores)
    try:  # Spark 4 takes Arrow directly
        return spark.createDataFrame(table)
    except (TypeError, ValueError):
        return spark.createDataFrame(table.to_pandas())
