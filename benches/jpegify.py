"""Stores a `poisonscan poison` copy's pictures as JPEG, as a data set of
JPEG files keeps them: the rows of IN (Parquet: the `pixels` column in
[0, 1] and the `poisonscan.image_shape` hint) written to OUT with their
pixels encoded at QUALITY (Pillow, 4:2:0 chroma) in an `image` column of
bytes, every other column (the labels, the ground truth) kept. The patch
is stamped first and saved after, as a poisoner who adds a trigger to a
JPEG collection saves it. With DECODED, the pictures are decoded again
and written as pixels, as a user who decoded the JPEG files before
handing them over keeps them: an `image` column of pyarrow fixed-shape
tensors (`[H, W]` or `[H, W, C]` bytes), nothing saying they were JPEG.

Usage: jpegify.py IN OUT QUALITY [decoded]
"""
import io
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

src, dst, quality = sys.argv[1], sys.argv[2], int(sys.argv[3])
decoded = sys.argv[4:] == ["decoded"]
t = pq.read_table(src)
h, w, c = map(int, t.schema.metadata[b"poisonscan.image_shape"].decode().split("x"))
pixels = t.column("pixels").combine_chunks().flatten().to_numpy().reshape(-1, h, w, c)
encoded = []
for a in pixels:
    a = (a * 255).round().clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a[:, :, 0] if c == 1 else a).save(buf, format="JPEG", quality=quality)
    encoded.append(buf.getvalue())
columns = {n: t.column(n) for n in t.column_names if n != "pixels"}
if decoded:
    back = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in encoded])
    columns["image"] = pa.FixedShapeTensorArray.from_numpy_ndarray(back)
else:
    columns["image"] = pa.array(encoded, pa.binary())
pq.write_table(pa.table(columns), dst)
