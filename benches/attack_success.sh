#!/usr/bin/env bash
# Attack success of the red team's attacks: does the planted attack work at
# the strength the detection benchmarks use? For each case, `poison
# --test-out --attack-success` trains the scan's network (the CNN) on the
# poisoned rows and on the clean input, and measures the share of the
# triggered test rows each predicts as the target. MNIST's test split is
# its t10k files; Fashion-MNIST is fetched as one 70,000-image file, so its
# triggered "test" rows are its own images (the non-target ones, which the
# clean-label attacks never touched). One seed (SEED, default 1). Prints a
# Markdown table and writes it into BENCHMARKS.md between the
# `attack-success` markers. About two minutes per case on 2 cores.
#
# Usage: benches/attack_success.sh [SEED]
set -euo pipefail
seed="${1:-1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source benches/common.sh
bin="$(bench_bin)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
py="$(python_with "$work" pyarrow)"
fashion="$(cached fashion fashion/fashion-images-idx3-ubyte)"
declare -A input=(
  [mnist]="$(mnist_train)"
  [fashion]="$fashion"
)
declare -A test_input=(
  [mnist]="$(cached mnist mnist/t10k-images-idx3-ubyte)"
  [fashion]="$fashion"
)
cases=("sig 0.1" "sig 0.3" "sig 0.5" "clean-label 0.1" "clean-label 0.3" "clean-label 0.5")
table="$work/table.md"
{
  echo "Seed $seed; \`poison … --target 0 --test-out T --attack-success\`; the CNN the scan trains by default."
  echo
  echo "| data set | attack | rate | triggered test rows | predicted as the target: poisoned model | clean model |"
  echo "|---|---|---|---|---|---|"
} >"$table"
for ds in mnist fashion; do
  ds_cases=("${cases[@]}")
  [ "$ds" = mnist ] && ds_cases+=("badnets 0.01" "blend 0.01" "warp 0.01")
  for c in "${ds_cases[@]}"; do
    read -r attack rate <<<"$c"
    "$bin" poison "${input[$ds]}" --attack "$attack" --rate "$rate" --target 0 --seed "$seed" \
      --out "$work/p.parquet" --test-input "${test_input[$ds]}" --test-out "$work/t.parquet" \
      --attack-success 2>"$work/log" || { cat "$work/log" >&2; exit 2; }
    "$py" - "$work/t.parquet" "$ds" "$attack" "$rate" <<'PY' >>"$table"
import json, sys
import pyarrow.parquet as pq
path, ds, attack, rate = sys.argv[1:5]
s = json.loads(pq.read_schema(path).metadata[b"poisonscan.attack_success"])
unit = "of the class" if attack in ("sig", "clean-label") else "of the data"
print(f"| {ds} | {attack} | {float(rate) * 100:g} % {unit} | {s['rows']:,} | "
      f"{100 * s['poisoned']:.1f} % | {100 * s['clean']:.1f} % |")
PY
    echo "done: $ds $attack $rate" >&2
  done
done
cat "$table"
write_block attack-success "Attack success of the red team's attacks" "benches/attack_success.sh $seed" "$table"
