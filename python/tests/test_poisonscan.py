"""The Python package against the command line: same scores, same verdict,
same error messages; Arrow in and out without copies; the GIL released.

Run by python/tests/python.rs (cargo test), which puts the freshly built
extension on PYTHONPATH and names the CLI binary in POISONSCAN_BIN."""

import json
import os
import random
import subprocess
import tempfile
import threading
import time
import unittest

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import poisonscan

try:
    import polars as pl
except ImportError:  # optional
    pl = None

BIN = os.environ.get("POISONSCAN_BIN")


def planted_table(classes=3, per_class=600, dim=16, poison=40, seed=1):
    """Gaussian classes; `poison` rows of classes 1.. relabelled 0 (a
    dirty-label attack), interleaved. Returns the table and the truth."""
    rng = random.Random(seed)
    centres = [[rng.gauss(0, 4) for _ in range(dim)] for _ in range(classes)]
    emb, labels, truth = [], [], []
    moved = 0
    for i in range(classes * per_class):
        c = i % classes
        emb.append([centres[c][j] + rng.gauss(0, 1) for j in range(dim)])
        if c != 0 and moved < poison:
            labels.append(0)
            truth.append(True)
            moved += 1
        else:
            labels.append(c)
            truth.append(False)
    table = pa.table(
        {
            "label": pa.array(labels, pa.int64()),
            "id": pa.array([f"s{i}" for i in range(len(labels))]),
            "emb": pa.array(emb, pa.list_(pa.float32(), dim)),
        }
    )
    return table, truth


def cli(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


class ScanTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.table, cls.truth = planted_table()
        cls.result = poisonscan.scan(cls.table, embedding="emb", id="id", model="none")

    def test_verdict_scores_and_summary(self):
        r = self.result
        self.assertEqual(r.verdict, "fail")
        self.assertEqual(r.failed_classes, ["0"])
        scores = pa.table(r.scores)
        self.assertEqual(scores.num_rows, self.table.num_rows)
        self.assertEqual(scores.column_names[:6], ["row", "id", "label", "score", "significance", "flagged"])
        self.assertEqual(len(r.scores), self.table.num_rows)
        flagged = scores.column("flagged").to_pylist()
        self.assertEqual([i for i, f in enumerate(flagged) if f], r.flagged_rows)
        hits = sum(1 for i in r.flagged_rows if self.truth[i])
        self.assertGreaterEqual(hits, 0.9 * len(r.flagged_rows))
        self.assertGreaterEqual(hits, 0.9 * sum(self.truth))
        s = r.summary
        self.assertEqual(s["verdict"], "fail")
        self.assertEqual(s["rows"]["input"], self.table.num_rows)
        self.assertEqual(s["inputs"], ["<arrow stream>"])
        self.assertIn("fail", repr(r))

    def test_same_as_the_command_line(self):
        if not BIN:
            self.skipTest("POISONSCAN_BIN not set")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.parquet")
            pq.write_table(self.table, path)
            p = cli("scan", path, "--embedding", "emb", "--id", "id", "--model", "none",
                    "--out", os.path.join(d, "o"), "--quiet")
            self.assertEqual(p.returncode, 1, p.stderr)
            theirs = pq.read_table(os.path.join(d, "o", "scores.parquet"))
            ours = pa.table(self.result.scores)
            self.assertEqual(theirs.column_names, ours.column_names)
            for name in ours.column_names:
                self.assertEqual(ours.column(name).to_pylist(), theirs.column(name).to_pylist(), name)
            # A path reads the same, and names the file in the summary.
            by_path = poisonscan.scan(path, embedding="emb", id="id", model="none")
            self.assertEqual(pa.table(by_path.scores).column("score").to_pylist(),
                             ours.column("score").to_pylist())
            self.assertEqual(by_path.summary["inputs"], [path])
            with open(os.path.join(d, "o", "summary.json")) as f:
                cli_summary = json.load(f)
            self.assertEqual(by_path.summary["classes"], cli_summary["classes"])

    def test_a_stream_of_many_batches_reads_like_one_table(self):
        reader = pa.RecordBatchReader.from_batches(self.table.schema, self.table.to_batches(max_chunksize=97))
        r = poisonscan.scan(reader, embedding="emb", id="id", model="none")
        self.assertEqual(pa.table(r.scores).column("score").to_pylist(),
                         pa.table(self.result.scores).column("score").to_pylist())

    def test_write_gives_the_command_line_files(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "o")
            paths = self.result.write(out, report=True)
            self.assertEqual(sorted(os.path.basename(p) for p in paths),
                             ["report.html", "scores.parquet", "summary.json"])
            with open(os.path.join(out, "summary.json")) as f:
                self.assertEqual(json.load(f), self.result.summary)
            written = pq.read_table(os.path.join(out, "scores.parquet"))
            self.assertTrue(written.equals(pa.table(self.result.scores)))
            with self.assertRaises(ValueError):
                self.result.write(out, scores_format="xml")

    def test_the_report_shows_each_rows_text(self):
        # a text column beside the embedding (the sentence it encodes) is
        # shown beside the flagged rows, as the command line's report does
        texts = [f"review number {i}" for i in range(self.table.num_rows)]
        table = self.table.append_column("text", pa.array(texts))
        r = poisonscan.scan(table, embedding="emb", id="id", model="none")
        with tempfile.TemporaryDirectory() as d:
            r.write(os.path.join(d, "o"), report=True)
            with open(os.path.join(d, "o", "report.html")) as f:
                page = f.read()
        flagged = [i for i, f in enumerate(pa.table(r.scores).column("flagged").to_pylist()) if f]
        self.assertTrue(flagged)
        for i in flagged[:5]:
            self.assertIn(f'<td class="l caption">review number {i}</td>', page)
        # a column of another name is named by caption=, as by --caption
        table = self.table.append_column("review_txt", pa.array(texts))
        r = poisonscan.scan(table, embedding="emb", id="id", model="none", caption="review_txt")
        with tempfile.TemporaryDirectory() as d:
            r.write(os.path.join(d, "o"), report=True)
            with open(os.path.join(d, "o", "report.html")) as f:
                page = f.read()
        self.assertIn(f'<td class="l caption">review number {flagged[0]}</td>', page)
        with self.assertRaises(poisonscan.InputError) as e:
            poisonscan.scan(table, embedding="emb", model="none", caption="label")
        self.assertIn("caption", str(e.exception))

    def test_a_word_planted_in_the_text_is_named(self):
        # a text column beside the embedding: common words in every row,
        # and `cf` in the relabelled rows' text, as a text backdoor plants it
        rng = random.Random(5)
        texts = [
            " ".join([f"w{rng.randrange(40)}" for _ in range(5)] + (["cf"] if t else []))
            for t in self.truth
        ]
        r = poisonscan.scan(self.table.append_column("text", pa.array(texts)),
                            embedding="emb", model="none")
        zero = next(c for c in r.summary["classes"] if c["label"] == "0")
        self.assertEqual(zero["scanners"]["text-trigger"]["token_text"], "cf")
        self.assertIn("text-trigger", zero["failed_by"])
        # without the text the scanner is skipped, and says why
        skipped = {s["scanner"]: s["reason"] for s in self.result.summary["skipped_scanners"]}
        self.assertIn("text column", skipped["text-trigger"])

    def test_bad_input_raises_input_error_with_the_cli_message(self):
        with self.assertRaises(poisonscan.InputError) as e:
            poisonscan.scan(self.table, embedding="nope", model="none")
        self.assertIn("nope", str(e.exception))
        self.assertTrue(issubclass(poisonscan.InputError, poisonscan.PoisonscanError))
        one_class = self.table.filter(pc.equal(self.table.column("label"), 0))
        with self.assertRaises(poisonscan.InputError):
            poisonscan.scan(one_class, embedding="emb", model="none")
        if BIN:
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "t.parquet")
                pq.write_table(self.table, path)
                p = cli("scan", path, "--embedding", "nope", "--out", os.path.join(d, "o"))
                self.assertEqual(p.returncode, 2)
                with self.assertRaises(poisonscan.InputError) as e:
                    poisonscan.scan(path, embedding="nope")
                self.assertEqual(p.stderr.strip(), "error: " + str(e.exception))
        with self.assertRaises(TypeError):
            poisonscan.scan(42)
        with self.assertRaises(ValueError):
            poisonscan.scan(self.table, embedding="emb", threshold=2.0)
        with self.assertRaises(ValueError):
            poisonscan.scan(self.table, embedding="emb", model="gpt")

    def test_the_gil_is_released_while_scanning(self):
        table, _ = planted_table(classes=4, per_class=2500, dim=32, seed=3)
        done = threading.Event()
        worker = threading.Thread(
            target=lambda: (poisonscan.scan(table, embedding="emb", model="none"), done.set())
        )
        ticks = 0
        start = time.perf_counter()
        worker.start()
        while not done.is_set():
            time.sleep(0.001)
            ticks += 1
        worker.join()
        elapsed = time.perf_counter() - start
        # Held, the GIL would stop this loop for the whole scan: a few ticks
        # at its ends. Released, the loop ticks about once a millisecond.
        self.assertGreater(ticks, max(10, 0.05 * elapsed / 0.001), (ticks, elapsed))

    def test_shards_merge_to_the_whole_scans_verdict(self):
        rng = random.Random(5)
        shard = [rng.randrange(3) for _ in range(self.table.num_rows)]
        partials = []
        for k in range(3):
            part = self.table.filter(pa.array([s == k for s in shard]))
            partials.append(poisonscan.scan(part, embedding="emb", id="id", model="none").partial())
        merged = poisonscan.merge(partials)
        self.assertEqual(merged.verdict, self.result.verdict)
        self.assertEqual(merged.failed_classes, self.result.failed_classes)
        scores = pa.table(merged.scores)
        self.assertEqual(scores.num_rows, self.table.num_rows)
        ids = scores.column("id").to_pylist()
        flagged = {ids[i] for i in merged.flagged_rows}
        planted = {f"s{i}" for i, t in enumerate(self.truth) if t}
        self.assertGreaterEqual(len(flagged & planted), 0.8 * len(planted))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p0.parquet")
            with open(path, "wb") as f:
                f.write(partials[0])
            one = poisonscan.merge([path, partials[1], partials[2]])
            self.assertEqual(one.summary["classes"], merged.summary["classes"])
        with self.assertRaises(poisonscan.InputError):
            poisonscan.merge([b"not a partial"])
        with self.assertRaises(TypeError):
            poisonscan.merge([42])

    @unittest.skipIf(pl is None, "polars is not installed")
    def test_polars_in_and_out(self):
        df = pl.from_arrow(self.table)
        r = poisonscan.scan(df, embedding="emb", id="id", model="none")
        self.assertEqual(r.verdict, "fail")
        out = pl.DataFrame(r.scores)
        self.assertEqual(out.height, self.table.num_rows)
        self.assertEqual(out["score"].to_list(), pa.table(self.result.scores).column("score").to_pylist())

    def test_pixel_columns_are_read_as_images_unless_told_not_to(self):
        # 12x12 smooth pictures (two bright blobs whose place depends on the
        # class) in 144 columns named anything
        rng = random.Random(4)
        side, rows = 12, 300
        columns = {f"v{j}": [] for j in range(side * side)}
        labels = []
        for i in range(rows):
            c = i % 3
            cx, cy = 3 + 3 * c + rng.random(), 4 + rng.random() * 4
            for y in range(side):
                for x in range(side):
                    d2 = (x - cx) ** 2 + (y - cy) ** 2
                    columns[f"v{y * side + x}"].append(2.718 ** (-d2 / 8) + 0.05 * rng.random())
            labels.append(c)
        table = pa.table({"label": pa.array(labels, pa.int64()), **columns})
        read = lambda **kw: poisonscan.scan(table, model="none", **kw).summary["features"]["source"]
        self.assertEqual(read()["kind"], "pixels")
        self.assertEqual(read()["height"], side)
        self.assertEqual(read(image_shape="none")["kind"], "columns")
        self.assertEqual(read(image_shape=())["kind"], "columns")
        self.assertEqual(read(image_shape=(side, side))["kind"], "pixels")
        with self.assertRaises(ValueError):
            read(image_shape="square")

    def test_a_csv_without_a_header_and_with_another_separator(self):
        rows = list(zip(self.table.column("label").to_pylist(), self.table.column("emb").to_pylist()))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.csv")
            with open(path, "w") as f:
                for label, emb in rows:
                    f.write(";".join([str(label)] + [repr(x) for x in emb]) + "\n")
            # no header and no label named: the first line is data, and the
            # label the one end column of a few whole numbers (a note says so)
            told = poisonscan.scan(path, model="none")
            self.assertIn("the labels from column_1", " ".join(told.summary["warnings"]))
            r = poisonscan.scan(path, no_header=True, separator=";", label="column_1", model="none")
            self.assertEqual(r.verdict, self.result.verdict)
            self.assertEqual(r.summary["rows"]["scanned"], self.table.num_rows)
            self.assertEqual(pa.table(told.scores).column("score").to_pylist(),
                             pa.table(r.scores).column("score").to_pylist())
            with self.assertRaises(ValueError):
                poisonscan.scan(path, separator=";;", model="none")


if __name__ == "__main__":
    unittest.main()
