#!/usr/bin/env bash
# Sharded-scan benchmark: full MNIST (fetched by datasets/fetch.sh when missing) with a planted
# attack, scanned whole and as SHARDS random shards (`scan --shard-out`
# each, then `merge`), `--model none`. Prints verdict, failed classes,
# AUROC, flagged precision/recall and seconds for both, as a Markdown table,
# and writes it into BENCHMARKS.md between the `shards` markers.
#
# Usage: benches/shards.sh [SHARDS]
set -euo pipefail
shards="${1:-4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source benches/common.sh
bin="$(bench_bin)"
mnist="$(mnist_train)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
py="$(bench_python "$work" numpy pyarrow)"
now() { date +%s.%N; }
table="$work/table.md"
{
  echo "| case | scan | verdict | failed | AUROC | flagged | precision | recall | seconds |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$table"
for case in "none 0" "badnets 0.01" "blend 0.01" "badnets 0.1"; do
  set -- $case
  d="$work/$1-$2"; mkdir -p "$d"
  "$bin" poison "$mnist" --attack "$1" --rate "$2" --target 0 --seed 1 --out "$d/p.parquet" >/dev/null 2>&1
  "$py" - "$d" "$shards" <<'PY'
import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
d, k = sys.argv[1], int(sys.argv[2])
t = pq.read_table(f"{d}/p.parquet")
t = t.append_column("rid", pa.array(np.arange(t.num_rows)))
pq.write_table(t, f"{d}/whole.parquet")
shard = np.random.default_rng(0).integers(0, k, t.num_rows)
for s in range(k):
    pq.write_table(t.filter(pa.array(shard == s)), f"{d}/shard{s}.parquet")
PY
  t0=$(now)
  "$bin" scan "$d/whole.parquet" --id rid --model none --quiet --no-fail --out "$d/whole"
  t1=$(now)
  for s in $(seq 0 $((shards - 1))); do
    "$bin" scan "$d/shard$s.parquet" --id rid --model none --quiet --shard-out "$d/part$s.parquet"
  done
  "$bin" merge "$d"/part*.parquet --out "$d/merged" --quiet --no-fail
  t2=$(now)
  "$py" - "$d" "$1 $(python3 -c "print(f'{$2 * 100:g} %')")" "$shards" "$t0" "$t1" "$t2" <<'PY' | tee -a "$table"
import sys, json, numpy as np, pyarrow.parquet as pq
d, case, k, t0, t1, t2 = sys.argv[1], sys.argv[2], sys.argv[3], *map(float, sys.argv[4:7])
t = pq.read_table(f"{d}/whole.parquet", columns=["rid", "is_poisoned"])
truth = np.zeros(t.num_rows, bool)
truth[np.array(t.column("rid").to_pylist())] = t.column("is_poisoned").to_pylist()
def ranks(s):
    order = np.argsort(s, kind="mergesort"); r = np.empty(len(s)); r[order] = np.arange(1, len(s) + 1)
    _, inv, cnt = np.unique(s, return_inverse=True, return_counts=True)
    return (np.bincount(inv, weights=r) / cnt)[inv]
for name, label, secs in (("whole", "whole", t1 - t0), ("merged", f"{k} shards + merge", t2 - t1)):
    sc = pq.read_table(f"{d}/{name}/scores.parquet")
    y = truth[np.array([int(x) for x in sc.column("id").to_pylist()])]
    s = np.nan_to_num(np.array(sc.column("score").to_pylist(), float), nan=-1.0)
    f = np.array(sc.column("flagged").to_pylist())
    v = json.load(open(f"{d}/{name}/summary.json"))
    failed = ",".join(c["label"] for c in v["classes"] if c["verdict"] == "fail") or "—"
    if y.any():
        n1 = y.sum(); auroc = f"{(ranks(s)[y].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)):.4f}"
        prec = f"{(f & y).sum() / max(f.sum(), 1) * 100:.1f} %"; rec = f"{(f & y).sum() / n1 * 100:.1f} %"
    else:
        auroc = prec = rec = "—"
    print(f"| MNIST {case} | {label} | {v['verdict']} | {failed} | {auroc} | {f.sum()} | {prec} | {rec} | {secs:.1f} |")
PY
done
write_block shards "Sharded scans (scan --shard-out, merge) on MNIST" "benches/shards.sh $shards" "$table"
cat "$table"
