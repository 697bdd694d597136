"""poisonscan.spark on a local Spark: the sharded scan of a DataFrame
reaches the whole scan's verdict. Skipped without pyspark or Java."""

import os
import shutil
import sys
import unittest

import pyarrow as pa

import poisonscan
import poisonscan.spark  # noqa: F401  (imports pyspark lazily)
from test_poisonscan import planted_table

try:
    import pyspark  # noqa: F401
    from pyspark.sql import SparkSession
except ImportError:
    SparkSession = None


@unittest.skipIf(SparkSession is None, "pyspark is not installed")
@unittest.skipIf(shutil.which("java") is None, "no Java for Spark")
class SparkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Executors run this interpreter (with poisonscan on PYTHONPATH).
        os.environ["PYSPARK_PYTHON"] = sys.executable
        cls.spark = (
            SparkSession.builder.master("local[2]")
            .appName("poisonscan-test")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()

    def test_sharded_scan_matches_the_whole_scan(self):
        table, truth = planted_table(classes=3, per_class=900, dim=16, poison=60, seed=4)
        whole = poisonscan.scan(table, embedding="emb", id="id", model="none")
        df = self.spark.createDataFrame(table.to_pandas())
        out = poisonscan.spark.scan(df, shards=3, embedding="emb", id="id", model="none")
        self.assertEqual(out.verdict, whole.verdict)
        self.assertEqual(out.failed_classes, whole.failed_classes)
        self.assertEqual(out.verdict, "fail")
        self.assertEqual(out.scores.count(), table.num_rows)
        flagged = {r.id for r in out.scores.filter("flagged").select("id").collect()}
        planted = {f"s{i}" for i, t in enumerate(truth) if t}
        self.assertGreaterEqual(len(flagged & planted), 0.8 * len(planted))
        self.assertGreaterEqual(len(flagged & planted), 0.9 * len(flagged))
        self.assertEqual(out.summary["rows"]["input"], table.num_rows)


if __name__ == "__main__":
    unittest.main()
