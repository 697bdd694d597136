"""Converts scikit-learn's bundled data sets (read from its wheel) into files
that poisonscan reads: CSV with a header row (`label` first) for every set, and
MNIST-style IDX files for the 8x8 digits so that they scan as images.

Usage: python3 sklearn_convert.py WHEEL OUT_DIR   (standard library only)
"""

import csv
import gzip
import io
import struct
import sys
import zipfile

PREFIX = "sklearn/datasets/data/"


def read_rows(wheel, name):
    raw = wheel.read(PREFIX + name)
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return list(csv.reader(io.StringIO(raw.decode("utf-8"))))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def with_count_header(rows):
    """wine, breast cancer, iris: first line `n_samples,n_features,names...`,
    then the features and the class id in the last column."""
    n, d = int(rows[0][0]), int(rows[0][1])
    body = [r for r in rows[1:] if r]
    assert len(body) == n, (len(body), n)
    header = ["label"] + [f"f{j}" for j in range(d)]
    return header, [[r[d]] + r[:d] for r in body]


def main(wheel_path, out):
    with zipfile.ZipFile(wheel_path) as wheel:
        digits = [r for r in read_rows(wheel, "digits.csv.gz") if r]
        write_csv(f"{out}/digits.csv", ["label"] + [f"p{j}" for j in range(64)],
                  [[r[64]] + r[:64] for r in digits])
        pixels = bytearray()
        for r in digits:
            pixels.extend(min(255, round(int(v) * 255 / 16)) for v in r[:64])
        with open(f"{out}/digits-images-idx3-ubyte", "wb") as f:
            f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, len(digits), 8, 8) + bytes(pixels))
        with open(f"{out}/digits-labels-idx1-ubyte", "wb") as f:
            f.write(struct.pack(">BBBBI", 0, 0, 8, 1, len(digits)) + bytes(int(r[64]) for r in digits))
        for name, src in [("wine", "wine_data.csv"), ("breast_cancer", "breast_cancer.csv"), ("iris", "iris.csv")]:
            header, rows = with_count_header(read_rows(wheel, src))
            write_csv(f"{out}/{name}.csv", header, rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
