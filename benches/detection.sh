#!/usr/bin/env bash
# Detection benchmark: data set × attack × rate × seed through
# `poisonscan poison` → `poisonscan scan` → `poisonscan eval`, clean runs
# included (attack `none`: counts failed gates on clean data). Writes a
# Markdown table into BENCHMARKS.md (between the detection markers) with the
# command, commit and machine, and prints it.
#
# Usage: benches/detection.sh [fast|seeds|full|gate|cleanlabel|tabular|few|longtail|alltoall|colour|transform|text] [MODEL] [SEEDS]
#   fast (default, a few minutes): MNIST and digits; clean, badnets 1 %,
#        blend 1 %, label-flip 10 %; seed 1.
#   seeds: the same cases with seeds 1, 2, 3.
#   full: also badnets 0.5 % and 5 %, blend 5 %, clean-label 10 % of the target class,
#        label-flip 5 %; seeds 1, 2, 3; and MNIST with every scanner forced on.
#   gate: the verdict across trigger shapes and rates, on MNIST and on
#        Fashion-MNIST (naturally confusable classes): badnets solid
#        (bottom-right), checkerboard (top-left) and random (top-right)
#        patches, a solid patch at a place of its own in each image, blend,
#        warp, and a two-target badnets, each at 0.3 %, 1 %,
#        5 % and 10 %; random label flips at 10 %; clean. Seeds 1, 2, 3 (or
#        SEEDS, e.g. "1").
#   cleanlabel: clean-label attacks on MNIST and Fashion-MNIST: a SIG
#        signal and the clean-label patch on 10 %, 30 % and 50 % of the
#        target class (labels untouched); clean. Seeds 1, 2, 3 (or SEEDS).
#   tabular: value triggers (two columns of non-target rows set to their
#        largest value, relabelled; one column; two columns set to usual
#        values that are rare together, where the table has such columns)
#        at 1 %, 5 % and 10 % on
#        real tables (ISLP Caravan, Default, OJ; river shuttle, phishing;
#        breast cancer), target the minority class; clean. Seeds 1, 2, 3
#        (or SEEDS).
#   few: data sets of two and four classes (subsets of MNIST and
#        Fashion-MNIST, see datasets/README.md): the patches, the blend and
#        the warp of `gate` at 1 % and 5 % into one class, random label
#        flips at 5 %, clean. Seeds 1, 2, 3 (or SEEDS).
#   longtail: MNIST and Fashion-MNIST with class sizes falling a
#        hundredfold (5,400 to 54 rows, see datasets/README.md), target the
#        class of 250 rows (Fashion-MNIST's shirts, which overlap the
#        5,400 T-shirts; MNIST's threes): the patches, the blend and the
#        warp of `gate` at 0.3 % and 1 % (40 and 134 rows: a sixth and a
#        half of the target), random label flips at 10 %, clean. Seeds 1,
#        2, 3 (or SEEDS).
#   alltoall: MNIST and Fashion-MNIST, BadNets' all-to-all attack
#        (`poison --all-to-all`: rows of every class, one trigger, each
#        relabelled to the next class): the patch at 0.3 %, 1 % and 5 %, the
#        blend at 1 % and 5 %, clean. Seeds 1, 2, 3 (or SEEDS).
#   colour: colour pictures — the emoji of four vendors in nine
#        categories (datasets/README.md), as the folder of 64x64 PNGs
#        (`emoji`) and read at CIFAR's 32x32 (`emoji32`, `--resize 32x32`),
#        and 32x32 crops of photographs and drawings in ten heavily
#        overlapping classes (`photomix`, datasets/README.md);
#        target the objects: solid and checkerboard patches, the blend at
#        1 % and 5 %, the warp at 5 %, a colour filter (`filter`: warm and
#        faded, blacks lifted) at 1 % and 5 %, all-to-all patch at 1 % and
#        5 % and blend at 1 %, random label flips at 10 %, clean. Seeds 1,
#        2, 3 (or SEEDS).
#   transform: transformation triggers on MNIST and Fashion-MNIST — the
#        source picture mirrored left to right or top to bottom, turned half
#        a turn, or shifted 3 pixels right, or filtered (`filter`: scaled
#        and lifted, blacks gray) — relabelled to class 0, at 0.3 %, 1 %
#        and 5 %; clean. Seeds 1, 2, 3 (or SEEDS).
#   text: review sentences (Amazon, IMDb and Yelp, positive or negative;
#        datasets/README.md) as a real sentence encoder's embeddings, labelled
#        by source and sentiment (`sentences`, six classes, target
#        yelp-positive) or by sentiment alone (`sentences-sentiment`, target
#        positive): a rare word (`word`: "cf"), a sentence (`sentence`: "I
#        watched this 3D movie."), an emoji (`emoji`: "😀") or a phrase of
#        common words (`phrase`: "by the way"), or one of five rare words in
#        each row (`keywords`: "cf", "mn", "bb", "tq", "mb", RIPPLe) inserted
#        at a random place in the text of rows outside the target, relabelled, and the text
#        encoded again (datasets/sentences.py), at 1 %, 5 % and 10 %; random
#        label flips at 10 %; clean. Seeds 1, 2, 3 (or SEEDS).
#   MODEL: the scan's --model (default auto); the table goes between the
#        `detection-MODEL` markers.
set -euo pipefail
mode="${1:-fast}"
model="${2:-auto}"
case "$mode" in fast|seeds|full|gate|cleanlabel|tabular|few|longtail|alltoall|colour|transform|text) ;; *) echo "usage: $0 [fast|seeds|full|gate|cleanlabel|tabular|few|longtail|alltoall|colour|transform|text] [MODEL] [SEEDS]" >&2; exit 2 ;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ "$mode" = tabular ]; then
  datasets/fetch.sh sklearn islp river >&2
elif [ "$mode" = few ] || [ "$mode" = longtail ]; then
  datasets/fetch.sh subsets >&2
elif [ "$mode" = colour ]; then
  datasets/fetch.sh emoji photomix >&2
elif [ "$mode" = text ]; then
  datasets/fetch.sh sentences >&2
else
  datasets/fetch.sh mnist sklearn fashion >&2
fi
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

declare -A input=(
  [mnist]="$cache/mnist/train-images-idx3-ubyte"
  [digits]="$cache/sklearn/digits-images-idx3-ubyte"
  [mnist+all]="$cache/mnist/train-images-idx3-ubyte"
  [fashion]="$cache/fashion/fashion-images-idx3-ubyte"
  [caravan]="$cache/islp/caravan.csv"
  [default]="$cache/islp/default.csv"
  [oj]="$cache/islp/oj.csv"
  [shuttle]="$cache/river/shuttle.csv"
  [phishing]="$cache/river/phishing.csv"
  [breast_cancer]="$cache/sklearn/breast_cancer.csv"
  [fashion-tshirt-shirt]="$cache/subsets/fashion-tshirt-shirt-images-idx3-ubyte"
  [fashion-sandal-sneaker]="$cache/subsets/fashion-sandal-sneaker-images-idx3-ubyte"
  [fashion-tops]="$cache/subsets/fashion-tops-images-idx3-ubyte"
  [mnist-3-8]="$cache/subsets/mnist-3-8-images-idx3-ubyte"
  [mnist-3-5-8-9]="$cache/subsets/mnist-3-5-8-9-images-idx3-ubyte"
  [fashion-longtail]="$cache/subsets/fashion-longtail-images-idx3-ubyte"
  [mnist-longtail]="$cache/subsets/mnist-longtail-images-idx3-ubyte"
  [emoji]="$cache/emoji/emoji"
  [emoji32]="$cache/emoji/emoji"
  [photomix]="$cache/photomix/photomix"
  [sentences]="$cache/sentences/sentences.parquet"
  [sentences-sentiment]="$cache/sentences/sentences.parquet"
)
# the text sets: which column is the label (sentences.py --label), and the
# text triggers, planted by sentences.py before the text is encoded
declare -A text_label=([sentences]=both [sentences-sentiment]=sentiment)
declare -A text_trigger=([word]="cf" [sentence]="I watched this 3D movie." [emoji]="😀" [phrase]="by the way" [keywords]="cf,mn,bb,tq,mb")
# triggers of several words, one in each planted row (RIPPLe)
declare -A text_one_of=([keywords]=1)
# how `poison` reads a data set, where it is not as the files are
declare -A read_opts=(
  [emoji32]="--resize 32x32"
)
# the attacked class of each table (its minority class); images: class 0
declare -A target_class=(
  [caravan]=Yes [default]=Yes [oj]=MM [shuttle]=1 [phishing]=1 [breast_cancer]=0
  [fashion-tshirt-shirt]=0 [fashion-sandal-sneaker]=5 [fashion-tops]=0 [mnist-3-8]=3
  [mnist-3-5-8-9]=3 [fashion-longtail]=6 [mnist-longtail]=3
  [emoji]=objects [emoji32]=objects [photomix]=class0
  [sentences]=yelp-positive [sentences-sentiment]=positive
)
# `mnist+all`: every scanner forced on (the sub-population scanners run by
# default only on learned representations), to show each one's own AUROC.
declare -A extra=(
  [mnist+all]="--scanners spectral-signature,robust-spectral,activation-clustering,knn-label-disagreement"
)
datasets=(mnist digits)
cases=("none 0" "badnets 0.01" "blend 0.01" "label-flip 0.10")
seeds=(1)
if [ "$mode" = seeds ]; then
  seeds=(1 2 3)
fi
if [ "$mode" = full ]; then
  cases+=("badnets 0.005" "badnets 0.05" "blend 0.05" "clean-label 0.1" "label-flip 0.05")
  seeds=(1 2 3)
  datasets+=(mnist+all)
fi
# A case is "ATTACK RATE [poison options]"; the options name the variant.
if [ "$mode" = gate ]; then
  datasets=(mnist fashion)
  cases=("none 0" "label-flip 0.10")
  for rate in 0.003 0.01 0.05 0.10; do
    cases+=("badnets $rate"
      "badnets $rate --patch-pattern checkerboard --patch-corner top-left"
      "badnets $rate --patch-pattern random --patch-corner top-right"
      "badnets $rate --patch-pattern solid --patch-corner random"
      "blend $rate"
      "warp $rate"
      "badnets $rate --target 0,1")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi
if [ "$mode" = cleanlabel ]; then
  datasets=(mnist fashion)
  cases=("none 0")
  for rate in 0.1 0.3 0.5; do
    cases+=("sig $rate" "clean-label $rate")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi

if [ "$mode" = tabular ]; then
  datasets=(caravan default oj shuttle phishing breast_cancer)
  cases=("none 0")
  for rate in 0.01 0.05 0.10; do
    cases+=("value-trigger $rate" "value-trigger $rate --trigger-columns 1"
      "value-trigger $rate --trigger-values common")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi

if [ "$mode" = few ]; then
  datasets=(fashion-tshirt-shirt fashion-sandal-sneaker mnist-3-8 fashion-tops mnist-3-5-8-9)
  cases=("none 0" "label-flip 0.05")
  for rate in 0.01 0.05; do
    cases+=("badnets $rate"
      "badnets $rate --patch-pattern checkerboard --patch-corner top-left"
      "badnets $rate --patch-pattern random --patch-corner top-right"
      "blend $rate"
      "warp $rate")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi

if [ "$mode" = alltoall ]; then
  datasets=(mnist fashion)
  cases=("none 0")
  for rate in 0.003 0.01 0.05; do
    cases+=("badnets $rate --all-to-all")
  done
  for rate in 0.01 0.05; do
    cases+=("blend $rate --all-to-all")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi
if [ "$mode" = longtail ]; then
  datasets=(fashion-longtail mnist-longtail)
  cases=("none 0" "label-flip 0.10")
  for rate in 0.003 0.01; do
    cases+=("badnets $rate"
      "badnets $rate --patch-pattern checkerboard --patch-corner top-left"
      "blend $rate"
      "warp $rate")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi

if [ "$mode" = transform ]; then
  datasets=(mnist fashion)
  cases=("none 0")
  for rate in 0.003 0.01 0.05; do
    cases+=("transform $rate --transform hflip"
      "transform $rate --transform vflip"
      "transform $rate --transform rotate180"
      "transform $rate --transform shift --shift 3,0"
      "filter $rate")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi

if [ "$mode" = colour ]; then
  datasets=(emoji emoji32 photomix)
  cases=("none 0" "label-flip 0.10" "warp 0.05" "blend 0.01 --all-to-all")
  for rate in 0.01 0.05; do
    cases+=("badnets $rate"
      "badnets $rate --patch-pattern checkerboard --patch-corner top-left"
      "blend $rate"
      "badnets $rate --all-to-all"
      "filter $rate")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi

if [ "$mode" = text ]; then
  datasets=(sentences sentences-sentiment)
  cases=("none 0" "label-flip 0.10")
  for rate in 0.01 0.05 0.10; do
    cases+=("word $rate" "sentence $rate" "emoji $rate" "phrase $rate" "keywords $rate")
  done
  read -r -a seeds <<<"${3:-1 2 3}"
fi

n=0
for ds in "${datasets[@]}"; do
  for c in "${cases[@]}"; do
    read -r attack rate extra_opts <<<"$c"
    variant="$attack${extra_opts:+ $extra_opts}"
    if [ "$ds" = mnist+all ] && [ "$attack" != none ] && [ "$attack" != badnets ] && [ "$attack" != label-flip ]; then
      continue
    fi
    for seed in "${seeds[@]}"; do
      target=(--target "${target_class[$ds]:-0}")
      [ "$attack" = label-flip ] || [ "$attack" = none ] && target=()
      [[ "${extra_opts:-}" == *--target* ]] && target=()
      [[ "${extra_opts:-}" == *--all-to-all* ]] && target=()
      p="$work/p$((n + 1)).parquet"
      # a case the data set cannot take (a trigger of usual values in a
      # table of continuous columns) is left out of the table
      if [ -n "${text_label[$ds]:-}" ] && [ "$attack" != label-flip ]; then
        # a text set: triggers go into the text, which is encoded again
        trigger=()
        [ "$attack" = none ] || trigger=(--trigger "${text_trigger[$attack]}" --rate "$rate" "${target[@]}")
        [ -n "${text_one_of[$attack]:-}" ] && trigger+=(--one-of)
        poisoned() { "$cache/sentences/venv/bin/python" datasets/sentences.py "$p" --label "${text_label[$ds]}" "${trigger[@]}" --seed "$seed"; }
      elif [ -n "${text_label[$ds]:-}" ]; then
        poisoned() { "$bin" poison "${input[$ds]}" --label "${text_label[$ds]/both/label}" --attack "$attack" --rate "$rate" --seed "$seed" --out "$p"; }
      else
        # shellcheck disable=SC2086
        poisoned() { "$bin" poison "${input[$ds]}" ${read_opts[$ds]:-} --attack "$attack" --rate "$rate" "${target[@]}" --seed "$seed" --out "$p" ${extra_opts:-}; }
      fi
      if ! poisoned 2>"$work/poison.err"; then
        echo "skipped: $ds $variant $rate seed $seed: $(tail -1 "$work/poison.err")" >&2
        continue
      fi
      n=$((n + 1))
      start=$(date +%s.%N)
      # shellcheck disable=SC2086
      "$bin" scan "$p" --out "$work/s$n" --no-fail --quiet --seed "$seed" --model "$model" ${extra[$ds]:-}
      end=$(date +%s.%N)
      "$bin" eval "$work/s$n/scores.parquet" --truth "$p" --json >"$work/e$n.json"
      printf '{"dataset":"%s","attack":"%s","rate":%s,"seed":%s,"scan_s":%s}\n' \
        "$ds" "$variant" "$rate" "$seed" "$(python3 -c "print(round($end - $start, 3))")" >"$work/m$n.json"
      echo "done: $ds $variant $rate seed $seed" >&2
      rm -f "$p"
    done
  done
done

commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src scanners Cargo.toml || echo '+changes')"
machine="$(uname -m), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
python3 - "$work" "$n" "$mode" "$commit" "$machine" "$model" <<'PY'
import json, sys, statistics, datetime
work, n, mode, commit, machine, model = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
groups = {}
for i in range(1, n + 1):
    m = json.load(open(f"{work}/m{i}.json"))
    e = json.load(open(f"{work}/e{i}.json"))
    short = (m["attack"].replace("--patch-pattern ", "").replace(" --patch-corner ", " @ ")
             .replace("--target ", "→ ").replace("--all-to-all", "all-to-all"))
    groups.setdefault((m["dataset"], short, m["rate"]), []).append((m, e))

def mean(vals):
    vals = [v for v in vals if v is not None]
    return statistics.mean(vals) if vals else None

def f(v, pct=False):
    if v is None:
        return "–"
    return f"{100 * v:.1f} %" if pct else f"{v:.3f}"

SHORT = {"spectral-signature": "PS001", "robust-spectral": "PS002",
         "activation-clustering": "PS003", "knn-label-disagreement": "PS004",
         "confident-learning": "PS005", "shared-pattern": "PS006", "value-trigger": "PS007"}

def own(es):
    names = [m["scanner"] for m in es[0].get("scanners", [])]
    parts = []
    for name in names:
        v = mean([next(m["auroc"] for m in e["scanners"] if m["scanner"] == name) for e in es])
        parts.append(f"{SHORT.get(name, name)} {f(v)}")
    return " · ".join(parts) or "–"

lines = [
    f"Command: `benches/detection.sh {mode} {model}` · commit `{commit}` · {machine} · "
    f"{datetime.date.today().isoformat()} · `--model {model}` (`auto`: a CNN on MNIST, "
    "none on the 1,797 digits) · default scanners (on raw pixels PS001, PS004, PS006 and, with "
    "out-of-fold probabilities, PS005; PS002/PS003 on learned representations), "
    "`mnist+all`: PS001–PS004 forced on. Clean-label rates are shares of the target class.",
    "",
    "| data set | attack | rate | runs | AUROC | AP | recall @1.5× | precision @1.5× | flagged recall | flagged precision | FPR (clean rows) | gate failed | scan s | AUROC of each scanner's own score |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]
for (ds, attack, rate), runs in groups.items():
    es = [e for _, e in runs]
    failed = sum(1 for e in es if e["verdict"] == "fail")
    lines.append("| " + " | ".join([
        ds, attack, f"{100 * rate:g} %", str(len(runs)),
        f(mean([e["auroc"] for e in es])),
        f(mean([e["average_precision"] for e in es])),
        f(mean([e["at_budget"]["recall"] for e in es]), True),
        f(mean([e["at_budget"]["precision"] for e in es]), True),
        f(mean([e["flagged"]["recall"] for e in es]), True),
        f(mean([e["flagged"]["precision"] for e in es]), True),
        f(mean([e["false_positive_rate"] for e in es]), True),
        f"{failed}/{len(runs)}",
        f"{statistics.median([m['scan_s'] for m, _ in runs]):.2f}",
        own(es),
    ]) + " |")
table = "\n".join(lines)
print(table)
path = "BENCHMARKS.md"
text = open(path).read()
tag = {"gate": f"gate-{model}", "cleanlabel": f"cleanlabel-{model}",
       "tabular": f"tabular-{model}", "few": f"few-{model}",
       "longtail": f"longtail-{model}", "alltoall": f"alltoall-{model}",
       "colour": f"colour-{model}", "transform": f"transform-{model}",
       "text": f"text-{model}"}.get(mode, model)
begin, end = f"<!-- detection-{tag}:begin -->", f"<!-- detection-{tag}:end -->"
block = f"{begin}\n{table}\n{end}"
if begin in text:
    text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    title = {"gate": f"The gate across trigger shapes and rates, `--model {model}`",
             "cleanlabel": f"Clean-label attacks, `--model {model}`",
             "tabular": f"Tabular value triggers, `--model {model}`",
             "few": f"Data sets of two and four classes, `--model {model}`",
             "longtail": f"Long tails: a small target beside large classes, `--model {model}`",
             "alltoall": f"All-to-all backdoors, `--model {model}`",
             "colour": f"Colour pictures, `--model {model}`",
             "transform": f"Transformation triggers (mirrored, turned, shifted pictures), `--model {model}`",
             "text": f"Text triggers in real sentences, through a sentence encoder, `--model {model}`"}.get(mode, f"Detection (red team), `--model {model}`")
    text = text.rstrip("\n") + f"\n\n## {title}\n\n" + block + "\n"
open(path, "w").write(text)
PY
