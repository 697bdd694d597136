#!/usr/bin/env bash
# Packaging benchmark: the same poisoned images (MNIST, BadNets 1 %, 3×3
# patch relabelled to class 0, seed 1) in every container poisonscan reads —
# IDX pair, PNG folder, Parquet FixedSizeList<uint8> without image metadata
# (also with --image-shape 28x28), Parquet list<float32> in [0, 1], a Hugging
# Face image column (struct<bytes, path>), a gzip CSV with one column per
# pixel, HDF5, Avro, ARFF, LIBSVM, ten WebDataset shards, and other tools'
# files: a pickled pandas frame, joblib, ORC, R's .rds, Stata, SPSS, SAS
# transport and (where Debian's `readstat` command is installed) a SAS data
# set; a folder of DICOM files; class folders of PGM and of float TIFF
# files; Kaggle's ids beside train/<id>.png; an image list (no header, no
# options); class folders of .npy arrays; Tiny ImageNet's validation split;
# EMNIST's MATLAB struct — each scanned
# with MODELS (default "none auto"). Prints a Markdown
# table (AUROC, verdict, flagged precision/recall, seconds) and writes it into
# BENCHMARKS.md between the `packaging` markers.
#
# Usage: benches/packaging.sh [MODELS]    e.g. benches/packaging.sh "none"
# Needs pyarrow, numpy, Pillow, h5py, fastavro, pandas, joblib, pyreadr,
# pyreadstat, pydicom and scipy (installed into a temporary venv).
set -euo pipefail
models="${1:-none auto}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
datasets/fetch.sh mnist >&2
source benches/common.sh
bin="$(bench_bin)"
cache="${POISONSCAN_DATA:-$root/datasets/cache}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet pyarrow numpy pillow h5py fastavro pandas joblib pyreadr \
  pyreadstat pydicom scipy >&2
"$bin" poison "$cache/mnist/train-images-idx3-ubyte" --attack badnets --rate 0.01 \
  --target 0 --seed 1 --out "$work/poisoned.parquet" >&2
"$work/venv/bin/python" benches/packaging_convert.py "$work/poisoned.parquet" 28 "$work/c" >&2
c="$work/c"
table="$work/table.md"
{
  echo "| container | model | AUROC | verdict | flagged | precision | recall | seconds |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$table"
run() { # name model truth input [args...]
  local name="$1" model="$2" truth="$3"; shift 3
  local out="$work/out-$name-$model"
  local start end code
  start=$(date +%s.%N)
  set +e
  "$bin" scan "$@" --model "$model" --out "$out" --quiet
  code=$?
  set -e
  end=$(date +%s.%N)
  if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then
    echo "| $name | $model | error (exit $code) | | | | | |" >> "$table"; return
  fi
  "$bin" eval "$out/scores.parquet" --truth "$truth" --json > "$out/eval.json"
  python3 - "$out/eval.json" "$name" "$model" "$code" "$start" "$end" >> "$table" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); name, model, code = sys.argv[2], sys.argv[3], int(sys.argv[4])
secs = float(sys.argv[6]) - float(sys.argv[5])
f = lambda v: "–" if v is None else f"{v:.4f}"
fl = e["flagged"]
print(f"| {name} | {model} | {f(e.get('auroc'))} | {'FAIL' if code == 1 else 'pass'} | {fl['flagged']} | "
      f"{f(fl.get('precision'))} | {f(fl.get('recall'))} | {secs:.0f} |")
PY
}
for model in $models; do
  run idx "$model" "$c/truth.parquet" "$c/train-images-idx3-ubyte"
  run png-folder "$model" "$c/truth-png.parquet" "$c/png"
  run "parquet-u8" "$model" "$c/truth.parquet" "$c/u8.parquet"
  run "parquet-u8+shape" "$model" "$c/truth.parquet" "$c/u8.parquet" --image-shape 28x28
  run "parquet-f32" "$model" "$c/truth.parquet" "$c/f32.parquet"
  run "hf-image" "$model" "$c/truth.parquet" "$c/hf.parquet"
  run "csv.gz" "$model" "$c/truth.parquet" "$c/pixels.csv.gz"
  run "hdf5" "$model" "$c/truth.parquet" "$c/images.h5"
  run "avro" "$model" "$c/truth.parquet" "$c/images.avro"
  run "arff" "$model" "$c/truth.parquet" "$c/images.arff"
  run "libsvm" "$model" "$c/truth.parquet" "$c/images.libsvm"
  run "webdataset-10-shards" "$model" "$c/truth-wds.parquet" "$c/wds"
  run "pandas-pickle" "$model" "$c/truth.parquet" "$c/frame.pkl"
  run "joblib" "$model" "$c/truth.parquet" "$c/arrays.joblib"
  run "orc" "$model" "$c/truth.parquet" "$c/images.orc"
  run "r-rds" "$model" "$c/truth.parquet" "$c/images.rds"
  run "stata-118" "$model" "$c/truth.parquet" "$c/images.dta"
  run "spss-sav" "$model" "$c/truth.parquet" "$c/images.sav"
  run "sas-xpt" "$model" "$c/truth.parquet" "$c/images.xpt"
  if [ -f "$c/images.sas7bdat" ]; then
    run "sas7bdat" "$model" "$c/truth.parquet" "$c/images.sas7bdat"
  fi
  run "dicom-folder" "$model" "$c/truth-dicom.parquet" "$c/dicom"
  run "pgm-folder" "$model" "$c/truth-pgm.parquet" "$c/pgm"
  run "float-tiff-folder" "$model" "$c/truth-tiff.parquet" "$c/tiff"
  run "kaggle-ids-csv" "$model" "$c/truth.parquet" "$c/kaggle/labels.csv"
  run "image-list-txt" "$model" "$c/truth.parquet" "$c/list/train.txt"
  run "npy-class-folders" "$model" "$c/truth-npy.parquet" "$c/npy"
  run "tiny-imagenet-val" "$model" "$c/truth-tin.parquet" "$c/tin/val"
  run "emnist-mat-struct" "$model" "$c/truth.parquet" "$c/emnist.mat"
done
cat "$table"
write_block packaging "Packaging" "benches/packaging.sh \"$models\"" "$table"
