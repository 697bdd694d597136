#!/usr/bin/env bash
# Report benchmark: the cost and size of report.html on full MNIST (60,000
# images, fetched by datasets/fetch.sh when missing) with a planted attack. For each case: the scan
# without and with --report (`--model none`), `poisonscan report` (reads the
# input again and re-renders), the page's size, groups and thumbnails.
# Prints a Markdown table and writes it into BENCHMARKS.md between the
# `report` markers.
#
# Usage: benches/report.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source benches/common.sh
bin="$(bench_bin)"
mnist="$(mnist_train)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || [ $? -eq 1 ]; t1=$(date +%s.%N); python3 -c "print(f'{$t1 - $t0:.1f}')"; }
table="$work/table.md"
{
  echo "| case | rows | scan s | scan + --report s | report only s (re-read + render) | page MB | groups | thumbnails |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$table"
for case in "badnets 0.01" "blend 0.01" "badnets 0.1"; do
  set -- $case
  p="$work/$1-$2.parquet"
  "$bin" poison "$mnist" --attack "$1" --rate "$2" --target 0 --seed 1 --out "$p" >/dev/null 2>&1
  plain=$(secs "$bin" scan "$p" --model none --quiet --out "$work/plain")
  with=$(secs "$bin" scan "$p" --model none --quiet --report --out "$work/with")
  rm "$work/with/report.html"
  only=$(secs "$bin" report "$work/with")
  read -r mb groups thumbs < <(python3 - "$work/with/report.html" <<'PY'
import os, re, sys
page = open(sys.argv[1]).read()
print(f"{os.path.getsize(sys.argv[1]) / 1e6:.2f}", page.count('<section class="group">'), page.count('class="thumb"'))
PY
)
  rows=$(python3 -c "import json,sys; print(json.load(open('$work/with/summary.json'))['rows']['input'])")
  echo "| MNIST $1 $(python3 -c "print(f'{$2 * 100:g} %')") | $rows | $plain | $with | $only | $mb | $groups | $thumbs |" | tee -a "$table"
done
write_block report "Analyst report (report.html) on MNIST" "benches/report.sh" "$table"
cat "$table"
