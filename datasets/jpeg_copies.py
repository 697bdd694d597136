"""Saves an image folder's pictures as JPEG, as most photo collections keep
them: every picture of IN/<class>/<file> to OUT/<class>/<stem>.jpg at
QUALITY (4:2:0 chroma, Pillow's default), its colour kept (a transparent
picture's colour values as they are under the transparency, as
`Image.convert("RGB")` keeps them).

Usage: jpeg_copies.py IN OUT QUALITY

A clean set whose values JPEG moved: where a gate reads exact values, its
natural near-copies of one value must not pass for a stamp.
"""
import os
import sys

from PIL import Image

src, out, quality = sys.argv[1], sys.argv[2], int(sys.argv[3])
n = 0
for cls in sorted(os.listdir(src)):
    if not os.path.isdir(os.path.join(src, cls)):
        continue
    os.makedirs(os.path.join(out, cls), exist_ok=True)
    for name in sorted(os.listdir(os.path.join(src, cls))):
        stem, _ = os.path.splitext(name)
        img = Image.open(os.path.join(src, cls, name)).convert("RGB")
        img.save(os.path.join(out, cls, stem + ".jpg"), quality=quality)
        n += 1
print(f"jpeg copies: {n} pictures of {src} at quality {quality} in {out}", file=sys.stderr)
