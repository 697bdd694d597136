"""Builds the photo-mix image set from two Debian wallpaper packages.

Usage: photo_mix.py EXTRACTED_ROOT OUT [PER_CLASS] [SEED]

EXTRACTED_ROOT holds usr/share/wallpapers/<Name>/contents/images/* (KDE
Plasma's wallpapers) and usr/share/backgrounds/* (UKUI's). Every picture
(42: photographs of lakes, boats, leaves, forests, cups, and digital
drawings with flat colours and gradients) is a source; each of ten classes
draws its pictures from the sources with weights of its own (a seeded
Dirichlet(0.4) over the 42), so that every source feeds several classes and
the classes overlap heavily in what they show, as CIFAR-10's classes do in
raw pixels. A picture is a square crop at a seeded place and size (32
pixels to half the source's shorter side, the source first scaled to fit
1024 pixels), scaled to 32x32 (bilinear), mirrored half the time, saved as
PNG: OUT/class<k>/<i>.png.
"""
import glob
import os
import sys

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None

root, out = sys.argv[1], sys.argv[2]
per_class = int(sys.argv[3]) if len(sys.argv) > 3 else 800
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 2
rng = np.random.default_rng(seed)
first = {}
for f in sorted(glob.glob(f"{root}/usr/share/wallpapers/*/contents/images/*")):
    first.setdefault(f.split("/")[-4], f)
files = [first[k] for k in sorted(first)] + sorted(glob.glob(f"{root}/usr/share/backgrounds/*"))
sources = []
for f in files:
    im = Image.open(f).convert("RGB")
    im.thumbnail((1024, 1024))
    sources.append(im)
weights = rng.dirichlet([0.4] * len(sources), size=10)
for c in range(10):
    d = f"{out}/class{c}"
    os.makedirs(d, exist_ok=True)
    for i, k in enumerate(rng.choice(len(sources), size=per_class, p=weights[c])):
        src = sources[k]
        s = int(rng.integers(32, min(src.size) // 2))
        x, y = int(rng.integers(0, src.size[0] - s)), int(rng.integers(0, src.size[1] - s))
        img = src.crop((x, y, x + s, y + s)).resize((32, 32), Image.BILINEAR)
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        img.save(f"{d}/{i:04d}.png")
print(f"photo mix: {len(sources)} sources, {10 * per_class} pictures in {out}", file=sys.stderr)
