"""Seeded tables with strongly overlapping classes and no planted label noise,
in the manner of scikit-learn's `make_classification` (standard library only):
each class is a mixture of `clusters` Gaussian clusters placed on the vertices
of a hypercube of side `2 * sep` in `informative` dimensions, each cluster
with its own random covariance; `redundant` features are random linear
combinations of the informative ones and the rest is noise. Classes overlap
more as `sep` shrinks; every label is the class that generated the row.

Usage: python3 overlap_tables.py OUT.csv [--seed S] [--rows N] [--classes K]
           [--features D] [--informative I] [--redundant R] [--clusters C]
           [--sep X] [--weights w0,w1,...]
"""

import argparse
import csv
import itertools
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--informative", type=int, default=6)
    ap.add_argument("--redundant", type=int, default=4)
    ap.add_argument("--clusters", type=int, default=2)
    ap.add_argument("--sep", type=float, default=0.8)
    ap.add_argument("--weights", default="")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    k, inf = a.classes, a.informative
    weights = [float(w) for w in a.weights.split(",")] if a.weights else [1.0] * k
    total = sum(weights)
    vertices = list(itertools.product([-1.0, 1.0], repeat=inf))
    rng.shuffle(vertices)
    n_clusters = k * a.clusters
    assert n_clusters <= len(vertices), "more clusters than hypercube vertices"
    centres = [[a.sep * v for v in vertices[i]] for i in range(n_clusters)]
    # a random linear map per cluster: correlated, elongated clusters
    maps = [[[rng.gauss(0, 1) / inf ** 0.5 for _ in range(inf)] for _ in range(inf)] for _ in range(n_clusters)]
    mix = [[rng.gauss(0, 1) for _ in range(inf)] for _ in range(a.redundant)]
    noise = a.features - inf - a.redundant
    assert noise >= 0, "features < informative + redundant"
    order = list(range(a.features))
    rng.shuffle(order)
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label"] + [f"x{j}" for j in range(a.features)])
        for _ in range(a.rows):
            r, c = rng.random() * total, 0
            while r > weights[c] and c < k - 1:
                r -= weights[c]
                c += 1
            cl = c * a.clusters + rng.randrange(a.clusters)
            z = [rng.gauss(0, 1) for _ in range(inf)]
            x = [centres[cl][i] + sum(maps[cl][i][j] * z[j] for j in range(inf)) for i in range(inf)]
            x += [sum(m[j] * x[j] for j in range(inf)) for m in mix]
            x += [rng.gauss(0, 1) for _ in range(noise)]
            w.writerow([f"c{c}"] + [f"{x[order[j]]:.5f}" for j in range(a.features)])


if __name__ == "__main__":
    main()
