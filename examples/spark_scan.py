"""Scan a Parquet data set too large for one machine on Spark.

    spark-submit examples/spark_scan.py s3://bucket/train/ s3://bucket/scores/

Every executor needs the poisonscan wheel (pip install poisonscan-*.whl)."""

import json
import sys

from pyspark.sql import SparkSession

from poisonscan import spark as ps

spark = SparkSession.builder.appName("poisonscan").getOrCreate()
df = spark.read.parquet(sys.argv[1])
out = ps.scan(df, label="label", embedding="emb", id="id", shards=64, seed=0)
print(out.verdict, out.failed_classes)
out.scores.write.mode("overwrite").parquet(sys.argv[2])
with open("summary.json", "w") as f:
    json.dump(out.summary, f, indent=2)
sys.exit(1 if out.verdict == "fail" else 0)
