#!/usr/bin/env bash
# Photo-folder benchmark: scan time and peak memory of a folder of N RGB
# photos at 224×224 (default 5,000), made from the two real photographs
# scikit-learn ships (sklearn/datasets/images/china.jpg and flower.jpg):
# seeded random crops, scaled to 224×224, flips and colour jitter, one class
# per photograph, JPEG quality 90. Runs `scan` with --model none and the
# default model under /usr/bin/time; prints a Markdown table and writes it
# into BENCHMARKS.md between the `photos` markers.
#
# Usage: benches/photos.sh [N]
set -euo pipefail
n="${1:-5000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source benches/common.sh
bin="$(bench_bin)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
py="$(bench_python "$work" numpy pillow)"
python3 -m pip download --quiet --no-deps --only-binary=:all: scikit-learn==1.9.1 -d "$work/wheel" >&2
"$py" - "$work"/wheel/scikit_learn-*.whl "$work/photos" "$n" <<'PY'
import io, os, sys, zipfile
import numpy as np
from PIL import Image, ImageEnhance
whl, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
z = zipfile.ZipFile(whl)
rng = np.random.default_rng(1)
for name in ("china", "flower"):
    src = Image.open(io.BytesIO(z.read(f"sklearn/datasets/images/{name}.jpg"))).convert("RGB")
    os.makedirs(f"{out}/{name}", exist_ok=True)
    for i in range(n // 2):
        s = int(rng.integers(96, min(src.size)))
        x, y = int(rng.integers(0, src.size[0] - s)), int(rng.integers(0, src.size[1] - s))
        img = src.crop((x, y, x + s, y + s)).resize((224, 224), Image.BILINEAR)
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.7, 1.3)))
        img.save(f"{out}/{name}/{i:05d}.jpg", quality=90)
print(f"{n // 2 * 2} photos in {out}", file=sys.stderr)
PY
size=$(du -sh "$work/photos" | cut -f1)
table="$work/table.md"
{
  echo "| photos | model | exit | seconds | peak memory (MiB) |"
  echo "|---|---|---|---|---|"
} > "$table"
for model in none auto; do
  set +e
  /usr/bin/time -v "$bin" scan "$work/photos" --model "$model" --out "$work/out-$model" --quiet \
    2> "$work/time-$model.txt"
  code=$?
  set -e
  secs=$(grep "Elapsed (wall clock)" "$work/time-$model.txt" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$work/time-$model.txt" | awk '{print int($NF/1024)}')
  echo "| $n × 224×224 RGB JPEG ($size) | $model | $code | $secs | $rss |" >> "$table"
  grep -h '"warnings"' -A3 "$work/out-$model/summary.json" 2>/dev/null | head -4 >&2 || true
done
cat "$table"
write_block photos "Photo folders" "benches/photos.sh $n" "$table"
