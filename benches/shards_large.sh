#!/usr/bin/env bash
# Large sharded-scan benchmark: 1,000,000 synthetic 512-dimensional float32
# embeddings in 100 Gaussian classes, 5,000 rows (0.5 %) of other classes
# relabelled to class 0. Scans the whole file, then SHARDS random shards one
# after another (`scan --shard-out`) and merges them; prints wall seconds and
# peak memory of each step and the detection of both. Needs ~10 GB of disk
# and ~5 GB of memory; about 15 minutes on 2 cores.
#
# Usage: benches/shards_large.sh [SHARDS]
set -euo pipefail
shards="${1:-8}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source benches/common.sh
bin="$(bench_bin)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
py="$(bench_python "$work" numpy pyarrow)"
cd "$work"
"$py" - "$shards" <<'PY'
import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
k = int(sys.argv[1])
rng = np.random.default_rng(3)
n, d, c = 1_000_000, 512, 100
centres = rng.normal(0, 1.0, (c, d)).astype(np.float32)
labels = rng.integers(0, c, n)
x = centres[labels] + rng.normal(0, 1.0, (n, d)).astype(np.float32)
truth = np.zeros(n, bool)
idx = rng.choice(np.where(labels != 0)[0], 5000, replace=False)
labels[idx] = 0
truth[idx] = True
def table(rows):
    emb = pa.FixedSizeListArray.from_arrays(pa.array(x[rows].ravel()), d)
    return pa.table({"rid": pa.array(rows), "label": pa.array(labels[rows]),
                     "is_poisoned": pa.array(truth[rows]), "emb": emb})
pq.write_table(table(np.arange(n)), "whole.parquet")
shard = np.random.default_rng(0).integers(0, k, n)
for s in range(k):
    pq.write_table(table(np.where(shard == s)[0]), f"shard{s}.parquet")
PY
t() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
echo "| step | seconds | peak RSS MB |"
echo "|---|---|---|"
read -r s m < <(t "$bin" scan whole.parquet --embedding emb --id rid --quiet --no-fail --out whole)
echo "| whole scan | $s | $((m / 1024)) |"
total=0
for s in $(seq 0 $((shards - 1))); do
  read -r secs mem < <(t "$bin" scan "shard$s.parquet" --embedding emb --id rid --quiet --shard-out "part$s.parquet")
  echo "| shard $s scan | $secs | $((mem / 1024)) |"
done
read -r s m < <(t "$bin" merge part*.parquet --out merged --quiet --no-fail)
echo "| merge | $s | $((m / 1024)) |"
"$py" - <<'PY'
import json, numpy as np, pyarrow.parquet as pq
t = pq.read_table("whole.parquet", columns=["rid", "is_poisoned"])
truth = np.zeros(t.num_rows, bool)
truth[np.array(t.column("rid").to_pylist())] = t.column("is_poisoned").to_pylist()
for d in ("whole", "merged"):
    sc = pq.read_table(f"{d}/scores.parquet", columns=["id", "score", "flagged"])
    y = truth[np.array([int(v) for v in sc.column("id").to_pylist()])]
    s = np.nan_to_num(np.array(sc.column("score").to_pylist(), float), nan=-1.0)
    f = np.array(sc.column("flagged").to_pylist())
    order = np.argsort(s, kind="mergesort"); r = np.empty(len(s)); r[order] = np.arange(1, len(s) + 1)
    _, inv, cnt = np.unique(s, return_inverse=True, return_counts=True); r = (np.bincount(inv, weights=r) / cnt)[inv]
    n1 = y.sum(); auroc = (r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1))
    v = json.load(open(f"{d}/summary.json"))
    print(f"{d}: verdict {v['verdict']}, AUROC {auroc:.4f}, flagged {f.sum()}, precision {(f & y).sum() / max(f.sum(), 1):.3f}, recall {(f & y).sum() / n1:.3f}")
PY
