#!/usr/bin/env bash
# Patches saved as JPEG: `poisonscan poison` stamps a BadNets patch (or
# nothing, for the false-alarm rows), benches/jpegify.py stores every
# picture as JPEG at the case's quality, and the copy is scanned
# (`--model none`) and evaluated against its ground truth. Prints a
# Markdown table: verdict, fused AUROC, flagged rows, their precision and
# recall, the classes failed; with OLD_BIN, that binary's columns beside.
#
# Usage: benches/jpeg_stamps.sh [OLD_BIN]
#   POISONSCAN_BIN: the binary to measure (default: this tree's, built)
#   JPEG_AS=decoded: the JPEG pictures decoded again and given as pixels
#     (a Parquet column of fixed-shape tensors), nothing saying they were
#     JPEG, as a user who decoded them first hands them over
#   JPEG_CASES=REGEX: only the cases whose line matches
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
datasets/fetch.sh emoji photomix fashion mnist >&2
if [ -n "${POISONSCAN_BIN:-}" ]; then bin="$POISONSCAN_BIN"; else
  cargo build --release --quiet; bin="$root/target/release/poisonscan"; fi
old="${1:-}"
cache="${POISONSCAN_DATA:-$root/datasets/cache}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet numpy==2.4.6 pillow==13.0.0 pyarrow==22.0.0
declare -A input=([emoji]=$cache/emoji/emoji [photomix]=$cache/photomix/photomix
  [mnist]=$cache/mnist/train-images-idx3-ubyte [fashion]=$cache/fashion/fashion-images-idx3-ubyte)
declare -A target=([emoji]=objects [photomix]=class0 [mnist]=0 [fashion]=0)
row() {  # binary, scan folder, truth -> verdict | AUROC | flagged | precision | recall | failed
  "$1" scan "$3" --out "$2" --no-fail --quiet --seed "$4" --model none
  "$bin" eval "$2/scores.parquet" --truth "$3" --json > "$2.json"
  python3 - "$2.json" "$2/summary.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); f = e["flagged"]
failed = [str(c["label"]) for c in json.load(open(sys.argv[2]))["classes"] if c["verdict"] != "pass"]
pct = lambda v: "–" if v is None else f"{100 * v:.1f} %"
auroc = "–" if e.get("auroc") is None else f"{e['auroc']:.4f}"
print(f"{e['verdict']} | {auroc} | {f['flagged']} | {pct(f['precision'])} | {pct(f.get('recall'))} | {', '.join(failed) or '–'}", end="")
PY
}
header="| set | seed | JPEG quality | attack | verdict | AUROC | flagged | precision | recall | failed classes |"
rule="|---|---|---|---|---|---|---|---|---|---|"
[ -n "$old" ] && { header="$header old: verdict | AUROC | flagged | precision | recall | failed |"; rule="$rule---|---|---|---|---|---|"; }
echo "$header"; echo "$rule"
while read -r set seed quality attack rate rest; do
  t=(--target "${target[$set]}"); [ "$attack" = none ] && t=()
  # shellcheck disable=SC2086
  "$bin" poison "${input[$set]}" --attack "$attack" --rate "$rate" "${t[@]}" --seed "$seed" \
    --out "$work/p.parquet" $rest 2>/dev/null
  "$work/venv/bin/python" benches/jpegify.py "$work/p.parquet" "$work/j.parquet" "$quality" ${JPEG_AS:-}
  what="$attack $rate $rest"; [ "$attack" = none ] && what="none (clean)"
  line="| $set | $seed | $quality | $what | $(row "$bin" "$work/new" "$work/j.parquet" "$seed") |"
  [ -n "$old" ] && line="$line $(row "$old" "$work/old" "$work/j.parquet" "$seed") |"
  echo "$line"
done < <(grep -E -- "${JPEG_CASES:-.}" <<'CASES'
emoji 1 90 badnets 0.01 --patch-size 5
emoji 1 75 badnets 0.01 --patch-size 5
emoji 2 90 badnets 0.01 --patch-size 6 --patch-pattern checkerboard --patch-corner top-left
emoji 1 90 badnets 0.01 --patch-size 5 --patch-pattern random --patch-corner top-right
emoji 1 90 badnets 0.05 --patch-size 5
emoji 1 90 badnets 0.01
photomix 1 90 badnets 0.01 --patch-size 5
photomix 2 90 badnets 0.05 --patch-size 5
photomix 1 75 badnets 0.01 --patch-size 5 --patch-value 0
photomix 1 90 badnets 0.01
photomix 2 75 badnets 0.01
photomix 3 90 badnets 0.01 --patch-size 4 --patch-corner top-left
photomix 1 90 badnets 0.003
photomix 2 90 badnets 0.01 --patch-pattern checkerboard
photomix 1 90 badnets 0.01 --patch-pattern random --patch-corner bottom-left
photomix 1 90 badnets 0.01 --patch-value 0
emoji 2 90 badnets 0.01 --patch-pattern random
fashion 1 90 badnets 0.01 --patch-size 5
fashion 1 90 badnets 0.01
mnist 1 90 badnets 0.01 --patch-size 5
emoji 1 90 none 0
photomix 1 90 none 0
fashion 1 90 none 0
mnist 1 90 none 0
emoji 2 75 none 0
photomix 2 75 none 0
photomix 1 90 badnets 0.01 --patch-size 5 --patch-colour 0.95,0.85,0.1
photomix 2 75 badnets 0.01 --patch-size 6 --patch-colour 0.1,0.6,0.9
photomix 3 90 badnets 0.05 --patch-size 4 --patch-colour 0.8,0.1,0.6 --patch-corner top-left
emoji 1 90 badnets 0.01 --patch-size 6 --patch-colour 0.95,0.85,0.1
emoji 2 90 badnets 0.01 --patch-colour 0.8,0.1,0.6
emoji 3 75 badnets 0.01 --patch-size 5 --patch-colour 0.1,0.6,0.9 --patch-corner top-right
CASES
)
