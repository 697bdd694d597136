"""Writes the same images in every container poisonscan reads, for
benches/packaging.sh: from a `poisonscan poison` Parquet file (pixels in
[0, 1], label, is_poisoned) to an IDX pair, a PNG folder, Parquet
FixedSizeList<uint8> without image metadata, Parquet list<float32> in [0, 1],
a Hugging Face `datasets`-style image column (struct<bytes, path> of PNGs,
ClassLabel names in the `huggingface` metadata), a gzip CSV with one
column per pixel, an HDF5 file as h5py writes a split (`train/x` chunked
and deflated, `train/y`), Avro records (an `array<int>` of pixels, deflate),
an ARFF file (class last, nominal), LIBSVM rows, ten WebDataset shards
(`key.png` + `key.cls`), a pickled pandas frame (one column per pixel), a
`joblib.dump` of (X, y), an ORC file (a list<int16> column: ORC has no
unsigned bytes), R's `.rds`
(pyreadr), Stata's `.dta` (pandas, release 118), SPSS's `.sav` and SAS's
`.xpt` (pyreadstat), a SAS data set `.sas7bdat` (ReadStat's `readstat`
command, where installed), a folder of DICOM files (pydicom: 8-bit
MONOCHROME2, Explicit VR Little Endian, as a scanner exports pictures),
class folders of PGM and of 32-bit float TIFF files, Kaggle's layout
(`labels.csv` of ids beside `train/<id>.png`), an image list
(`images/00001.png 3` a line), class folders of `.npy` arrays, Tiny
ImageNet's validation split (`val/images/` and `val/val_annotations.txt`)
and EMNIST's MATLAB struct; plus the ground truth for each row order.

Usage: python3 packaging_convert.py POISONED.parquet SIDE OUTDIR
"""
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys

import tarfile

import fastavro
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.io
from PIL import Image

src, side, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
t = pq.read_table(src)
feat = [c for c in t.column_names if c not in ("label", "is_poisoned", "original_label", "poison_source_label", "row", "id")][0]
flat = np.asarray(t.column(feat).combine_chunks().flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
n = t.num_rows
px = np.clip(np.rint(flat.reshape(n, side * side) * 255.0), 0, 255).astype(np.uint8)
labels = np.asarray(t.column("label").to_pylist(), dtype=np.int64)
poisoned = np.asarray(t.column("is_poisoned").to_pylist(), dtype=bool)

def idx(path, arr):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, arr.ndim]))
        for d in arr.shape:
            f.write(struct.pack(">I", d))
        f.write(arr.astype(np.uint8).tobytes())



def folder_truth(kind, ext):
    """The truth of a class folder of `LABEL/00001.EXT` files: its rows come
    in path order, and its truth is keyed by path."""
    named = [f"{labels[i]}/{i:05d}.{ext}" for i in range(n)]
    order = sorted(range(n), key=lambda i: named[i])
    pq.write_table(pa.table({
        "id": pa.array([named[i] for i in order]),
        "label": pa.array([str(labels[i]) for i in order]),
        "is_poisoned": pa.array([bool(poisoned[i]) for i in order]),
    }), f"{out}/truth-{kind}.parquet")


idx(f"{out}/train-images-idx3-ubyte", px.reshape(n, side, side))
idx(f"{out}/train-labels-idx1-ubyte", labels.astype(np.uint8))

pngs = []
for i in range(n):
    b = io.BytesIO()
    Image.fromarray(px[i].reshape(side, side), mode="L").save(b, format="PNG")
    pngs.append(b.getvalue())
ids = [f"{labels[i]}/{i:05d}.png" for i in range(n)]
for i in range(n):
    d = f"{out}/png/{labels[i]}"
    os.makedirs(d, exist_ok=True)
    with open(f"{out}/png/{ids[i]}", "wb") as f:
        f.write(pngs[i])

# the same pictures as Netpbm (PGM: GTSRB's and face sets' format) and as
# 32-bit float TIFFs in [0, 1] (tifffile's and scientific cameras' kind),
# in class folders; as Kaggle keeps them (labels.csv of ids beside
# train/<id>.png); and as an image list (`images/00001.png 3` a line)
for kind in ("pgm", "tiff"):
    for i in range(n):
        d = f"{out}/{kind}/{labels[i]}"
        os.makedirs(d, exist_ok=True)
        picture = px[i].reshape(side, side)
        if kind == "pgm":
            Image.fromarray(picture, mode="L").save(f"{d}/{i:05d}.pgm")
        else:
            Image.fromarray((picture / 255.0).astype(np.float32), mode="F").save(f"{d}/{i:05d}.tif")
os.makedirs(f"{out}/kaggle/train", exist_ok=True)
os.makedirs(f"{out}/list/images", exist_ok=True)
kaggle_ids = [f"{(i + 1) * 2654435761 % 2**32:08x}" for i in range(n)]
with open(f"{out}/kaggle/labels.csv", "w") as f, open(f"{out}/list/train.txt", "w") as g:
    f.write("id,label\n")
    for i in range(n):
        with open(f"{out}/kaggle/train/{kaggle_ids[i]}.png", "wb") as p:
            p.write(pngs[i])
        with open(f"{out}/list/images/{i:05d}.png", "wb") as p:
            p.write(pngs[i])
        f.write(f"{kaggle_ids[i]},{labels[i]}\n")
        g.write(f"images/{i:05d}.png {labels[i]}\n")

# an array a picture in class folders (`npy/<label>/00001.npy`, as
# feature pipelines save samples); Tiny ImageNet's validation split (the
# pictures in `val/images/`, their classes in `val/val_annotations.txt`
# beside: picture, class, box between tabs, no header — its classes
# WordNet ids); and EMNIST's MATLAB layout (a struct `dataset` of `train`
# and `test`, each `images` n × 784 and `labels` n × 1)
os.makedirs(f"{out}/tin/val/images", exist_ok=True)
with open(f"{out}/tin/val/val_annotations.txt", "w") as f:
    for i in range(n):
        d = f"{out}/npy/{labels[i]}"
        os.makedirs(d, exist_ok=True)
        np.save(f"{d}/{i:05d}.npy", px[i].reshape(side, side))
        with open(f"{out}/tin/val/images/val_{i}.png", "wb") as p:
            p.write(pngs[i])
        f.write(f"val_{i}.png\tn{labels[i]:08d}\t0\t0\t{side - 1}\t{side - 1}\n")
folder_truth("npy", "npy")
pq.write_table(pa.table({
    "row": pa.array(np.arange(n), pa.uint64()),
    "label": pa.array([f"n{l:08d}" for l in labels]),
    "is_poisoned": pa.array(poisoned),
}), f"{out}/truth-tin.parquet")
scipy.io.savemat(f"{out}/emnist.mat", {"dataset": {
    "train": {"images": px, "labels": labels.reshape(-1, 1).astype(np.float64)},
    "test": {"images": px[:100], "labels": labels[:100].reshape(-1, 1).astype(np.float64)},
}}, do_compression=True)

lab = pa.array(labels, pa.int64())
u8 = pa.FixedSizeListArray.from_arrays(pa.array(px.reshape(-1), pa.uint8()), side * side)
pq.write_table(pa.table({"label": lab, "pixels": u8}), f"{out}/u8.parquet")
f32 = pa.ListArray.from_arrays(
    pa.array(np.arange(0, n * side * side + 1, side * side), pa.int32()),
    pa.array((px.reshape(-1) / 255.0).astype(np.float32)),
)
pq.write_table(pa.table({"label": lab, "pixels": f32}), f"{out}/f32.parquet")
hf = pa.StructArray.from_arrays(
    [pa.array(pngs, pa.binary()), pa.array([f"{i:05d}.png" for i in range(n)])], ["bytes", "path"]
)
classes = sorted(set(labels.tolist()))
meta = {"info": {"features": {"image": {"_type": "Image"},
                              "label": {"names": [str(c) for c in classes], "_type": "ClassLabel"}}}}
table = pa.table({"image": hf, "label": lab}).replace_schema_metadata({"huggingface": json.dumps(meta)})
pq.write_table(table, f"{out}/hf.parquet")
with gzip.open(f"{out}/pixels.csv.gz", "wt", compresslevel=1) as f:
    f.write("label," + ",".join(f"p{j}" for j in range(side * side)) + "\n")
    for i in range(n):
        f.write(f"{labels[i]}," + ",".join(map(str, px[i].tolist())) + "\n")
with h5py.File(f"{out}/images.h5", "w") as f:
    f.create_dataset("train/x", data=px.reshape(n, side, side), chunks=(256, side, side), compression="gzip")
    f.create_dataset("train/y", data=labels)
schema = {"type": "record", "name": "picture", "fields": [
    {"name": "pixels", "type": {"type": "array", "items": "int"}}, {"name": "label", "type": "long"}]}
with open(f"{out}/images.avro", "wb") as f:
    fastavro.writer(f, schema, ({"pixels": px[i].tolist(), "label": int(labels[i])} for i in range(n)),
                    codec="deflate")
with open(f"{out}/images.arff", "w") as f:
    f.write("@relation pictures\n")
    for j in range(side * side):
        f.write(f"@attribute p{j} numeric\n")
    f.write("@attribute class {" + ",".join(str(c) for c in classes) + "}\n@data\n")
    for i in range(n):
        f.write(",".join(map(str, px[i].tolist())) + f",{labels[i]}\n")
with open(f"{out}/images.libsvm", "w") as f:
    for i in range(n):
        # every index written (zeros too), so that no trailing pixel is lost
        f.write(f"{labels[i]} " + " ".join(f"{j + 1}:{v}" for j, v in enumerate(px[i].tolist())) + "\n")
os.makedirs(f"{out}/wds", exist_ok=True)
wds_ids = []
for k, part in enumerate(np.array_split(np.arange(n), 10)):
    shard = f"{out}/wds/train-{k:06d}.tar"
    with tarfile.open(shard, "w") as t:
        for i in part:
            for name, data in ((f"{i:05d}.png", pngs[i]), (f"{i:05d}.cls", str(labels[i]).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    # a shard's rows: its class folders in path order
    for i in sorted(part, key=lambda i: (str(labels[i]), i)):
        wds_ids.append((f"{shard}/{labels[i]}/{i:05d}.png", i))
pq.write_table(pa.table({
    "id": pa.array([w for w, _ in wds_ids]),
    "label": pa.array([str(labels[i]) for _, i in wds_ids]),
    "is_poisoned": pa.array([bool(poisoned[i]) for _, i in wds_ids]),
}), f"{out}/truth-wds.parquet")
# other tools' containers: a frame of one column per pixel, and arrays
import joblib
import pandas as pd
import pyarrow.orc as orc
import pyreadr
import pyreadstat

frame = pd.DataFrame(px, columns=[f"p{j}" for j in range(side * side)])
frame["label"] = labels
frame.to_pickle(f"{out}/frame.pkl")
joblib.dump((px.reshape(n, side, side), labels), f"{out}/arrays.joblib", compress=3)
orc.write_table(pa.table({"pixels": pa.ListArray.from_arrays(
    pa.array(np.arange(0, n * side * side + 1, side * side), pa.int32()),
    pa.array(px.reshape(-1).astype(np.int16), pa.int16())), "label": lab}), f"{out}/images.orc",
    compression="zlib")
wide = frame.astype({f"p{j}": np.int32 for j in range(side * side)})
pyreadr.write_rds(f"{out}/images.rds", wide, compress="gzip")
frame.to_stata(f"{out}/images.dta", write_index=False, version=118)
pyreadstat.write_sav(frame, f"{out}/images.sav", row_compress=True)
pyreadstat.write_xport(frame, f"{out}/images.xpt", file_format_version=5)
# a SAS data set, where ReadStat's command line (Debian's `readstat`) is
# installed: pyreadstat does not write one
if shutil.which("readstat"):
    subprocess.run(["readstat", f"{out}/images.dta", f"{out}/images.sas7bdat"], check=True,
                   stdout=subprocess.DEVNULL)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

for i in range(n):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.Rows = ds.Columns = side
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = px[i].tobytes()
    d = f"{out}/dicom/{labels[i]}"
    os.makedirs(d, exist_ok=True)
    ds.save_as(f"{d}/{i:05d}.dcm", enforce_file_format=True)
folder_truth("dicom", "dcm")
truth = pa.table({"row": pa.array(np.arange(n), pa.uint64()), "label": lab, "is_poisoned": pa.array(poisoned)})
pq.write_table(truth, f"{out}/truth.parquet")
for kind, ext in (("png", "png"), ("pgm", "pgm"), ("tiff", "tif")):
    folder_truth(kind, ext)
print(f"{n} images, {int(poisoned.sum())} poisoned, written to {out}", file=sys.stderr)
