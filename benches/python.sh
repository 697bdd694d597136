#!/usr/bin/env bash
# Python package benchmark: the cost of `import poisonscan` against the CLI on
# the same data, and a Spark local[2] scan of it. Data: 60,000 × 128 float32
# embeddings in 10 Gaussian classes, 1 % of rows relabelled to class 0
# (default options: a continuous embedding trains no model). Each timing is
# the median of RUNS runs (default 3). Prints a Markdown table and writes it
# into BENCHMARKS.md between the `python` markers.
#
# Needs the extension built (`cargo build --release` builds it); a Python
# with pyarrow, numpy and pyspark (POISONSCAN_PYTHON, else a venv made here
# from PyPI) and Java for Spark (the Spark row is left out without them).
#
# Usage: benches/python.sh [RUNS]
set -euo pipefail
runs="${1:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source benches/common.sh
bin="$(bench_bin)"
[ -n "${POISONSCAN_BIN:-}" ] || cargo build --release --quiet -p poisonscan-python >&2
native="$root/target/release/lib_native.so"
[ -e "$native" ] || { echo "no $native: build the workspace first" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
py="$(python_with "$work" numpy pyarrow pyspark)"
mkdir -p "$work/site/poisonscan"
cp python/pysrc/poisonscan/* "$work/site/poisonscan/"
cp "$native" "$work/site/poisonscan/_native.abi3.so"
export PYTHONPATH="$work/site" POISONSCAN_BIN_PATH="$bin"
# Spark's Python workers run this Python too (with the package on its path)
export PYSPARK_PYTHON="$py" PYSPARK_DRIVER_PYTHON="$py"
"$py" - "$work" "$runs" <<'PY' | tee "$work/table.md"
import os, statistics, subprocess, sys, time
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
import poisonscan

work, runs = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(7)
n, d, c = 60_000, 128, 10
centres = rng.normal(0, 1.5, (c, d)).astype(np.float32)
labels = rng.integers(0, c, n)
x = centres[labels] + rng.normal(0, 1.0, (n, d)).astype(np.float32)
moved = rng.choice(np.where(labels != 0)[0], n // 100, replace=False)
labels[moved] = 0
path = os.path.join(work, "emb.parquet")
emb = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), d)
table = pa.table({"id": pa.array(np.arange(n)), "label": pa.array(labels), "emb": emb})
pq.write_table(table, path)

def median_time(f):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)

def cli():
    out = os.path.join(work, "cli")
    subprocess.run([os.environ["POISONSCAN_BIN_PATH"], "scan", path, "--embedding", "emb",
                    "--id", "id", "--quiet", "--no-fail", "--out", out], check=True)

def from_path():
    poisonscan.scan(path, embedding="emb", id="id").write(os.path.join(work, "py"))

def from_table():
    poisonscan.scan(pq.read_table(path), embedding="emb", id="id").verdict

rows = [("CLI `scan FILE --out DIR`", median_time(cli))]
rows.append(("Python `scan(path).write(dir)`", median_time(from_path)))
rows.append(("Python `scan(pq.read_table(path))`", median_time(from_table)))
base = rows[0][1]
spark_note = ""
try:
    from pyspark.sql import SparkSession
    from poisonscan import spark as ps
    session = (SparkSession.builder.master("local[2]").appName("poisonscan-bench")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.driver.memory", "4g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    df = session.read.parquet(path)
    df.count()
    def on_spark():
        ps.scan(df, shards=4, embedding="emb", id="id").scores.count()
    rows.append(("Spark local[2], `poisonscan.spark.scan(df, shards=4)`", median_time(on_spark)))
    session.stop()
except Exception as e:  # no pyspark or no Java
    spark_note = f"(Spark left out: {type(e).__name__}: {str(e).splitlines()[0][:120]})"
print(f"60,000 × 128 float32 embeddings, 10 classes, 1 % relabelled; median of {runs} runs.")
print()
print("| how | seconds | vs the CLI |")
print("|---|---|---|")
for name, t in rows:
    print(f"| {name} | {t:.2f} | {100 * (t / base - 1):+.1f} % |")
if spark_note:
    print()
    print(spark_note)
PY
write_block python "Python package and Spark against the CLI" "benches/python.sh $runs" "$work/table.md"
