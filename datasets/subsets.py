"""Writes class subsets of an MNIST-style IDX pair (standard library only):
the rows of the named classes, in their original order, as a new IDX pair.
Data sets of two to six classes — cats or dogs, defect or not — are common,
and the class tests that calibrate a class on the data set's other classes
have few of them there; these subsets put that case in the benchmarks.
A class may be capped at its first N rows (`CLASS:N`), which makes class
sizes that fall off a long tail, as many training sets have.

Usage: python3 subsets.py IMAGES LABELS OUT_PREFIX CLASSES
  CLASSES: comma-separated labels, each optionally capped, e.g. 0,6 or
  0:5400,1:3237,2:54; writes OUT_PREFIX-images-idx3-ubyte and
  OUT_PREFIX-labels-idx1-ubyte.
"""

import os
import struct
import sys


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    dims = struct.unpack(">" + "I" * data[3], data[4 : 4 + 4 * data[3]])
    return dims, data[4 + 4 * data[3] :]


def write_idx(path, dims, body):
    with open(path + ".tmp", "wb") as f:
        f.write(bytes([0, 0, 0x08, len(dims)]))
        f.write(struct.pack(">" + "I" * len(dims), *dims))
        f.write(body)
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    images, labels, prefix, classes = sys.argv[1:]
    cap = {}
    for token in classes.split(","):
        c, _, most = token.partition(":")
        cap[int(c)] = int(most) if most else None
    keep = set(cap)
    (n, *shape), pixels = read_idx(images)
    (m,), ys = read_idx(labels)
    if n != m:
        sys.exit(f"{images}: {n} images but {labels}: {m} labels")
    size = 1
    for s in shape:
        size *= s
    taken = {c: 0 for c in keep}
    rows = []
    for i in range(n):
        c = ys[i]
        if c in keep and (cap[c] is None or taken[c] < cap[c]):
            taken[c] += 1
            rows.append(i)
    missing = keep - {ys[i] for i in rows}
    if missing:
        sys.exit(f"{labels}: no rows of class {sorted(missing)}")
    write_idx(
        f"{prefix}-images-idx3-ubyte",
        [len(rows), *shape],
        b"".join(pixels[i * size : (i + 1) * size] for i in rows),
    )
    write_idx(f"{prefix}-labels-idx1-ubyte", [len(rows)], bytes(ys[i] for i in rows))
    print(f"{prefix}: {len(rows)} rows of classes {sorted(keep)}")


if __name__ == "__main__":
    main()
