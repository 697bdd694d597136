//! Bad input: a clear message naming the file, column and row, exit code 2,
//! no output file, and the input left as it was.

mod common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow::datatypes::Float32Type;
use common::*;

/// Runs a scan that must fail; returns stderr.
fn fails(dir: &Path, args: &[&str], inputs: &[&str]) -> String {
    let before: Vec<Vec<u8>> = inputs.iter().map(|i| digest(&dir.join(i))).collect();
    let mut full = vec!["scan"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--out", "out"]);
    let o = run(&full, dir);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2 for {args:?}: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        files_in(&dir.join("out")).is_empty(),
        "output written for {args:?}"
    );
    for (i, d) in inputs.iter().zip(before) {
        assert_eq!(digest(&dir.join(i)), d, "{i} changed");
    }
    err
}

fn table(label: ArrayRef, x: Vec<Option<f64>>) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("label", label),
        ("x", Arc::new(Float64Array::from(x.clone())) as ArrayRef),
        (
            "y",
            Arc::new(Float64Array::from(
                x.iter().map(|v| v.map(|v| v * 2.0)).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn labels(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

#[test]
fn missing_file_glob_and_unknown_format() {
    let dir = tempfile::tempdir().unwrap();
    let e = fails(dir.path(), &["nope.parquet"], &[]);
    assert!(e.contains("nope.parquet: no such file or directory"), "{e}");
    let e = fails(dir.path(), &["data/*.parquet"], &[]);
    assert!(e.contains("`data/*.parquet` matches no file"), "{e}");
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let e = fails(dir.path(), &["notes.txt"], &["notes.txt"]);
    assert!(e.contains("notes.txt: cannot tell the format"), "{e}");
    // a tar archive, told by name or, whatever its name, by its header, is
    // opened as packed images: a damaged one says so, one of no images
    // says to extract the table inside
    std::fs::write(dir.path().join("photos.tar.gz"), [0x1f, 0x8b, 8, 0]).unwrap();
    let e = fails(dir.path(), &["photos.tar.gz"], &["photos.tar.gz"]);
    assert!(
        e.contains("photos.tar.gz: cannot read as a tar archive of images")
            && e.contains("cut short or damaged"),
        "{e}"
    );
    let mut header = vec![0u8; 1024];
    header[..9].copy_from_slice(b"photos/a/");
    header[257..263].copy_from_slice(b"ustar\0");
    std::fs::write(dir.path().join("broken"), &header).unwrap();
    let e = fails(dir.path(), &["broken"], &["broken"]);
    assert!(e.contains("broken: cannot read as a tar archive"), "{e}");
    let mut table = tar::Builder::new(Vec::new());
    let csv = b"label,x\n0,1\n1,2\n";
    let mut h = tar::Header::new_ustar();
    h.set_size(csv.len() as u64);
    h.set_cksum();
    table.append_data(&mut h, "t.csv", &csv[..]).unwrap();
    std::fs::write(dir.path().join("download"), table.into_inner().unwrap()).unwrap();
    let e = fails(dir.path(), &["download"], &["download"]);
    assert!(
        e.contains("download: a tar archive with no") && e.contains("extract it first"),
        "{e}"
    );
    // a pickle cut short names itself; a PyTorch file says how to save it
    std::fs::write(dir.path().join("batch_1"), b"\x80\x04\x95 pickled").unwrap();
    let e = fails(dir.path(), &["batch_1"], &["batch_1"]);
    assert!(
        e.contains("batch_1: cannot read as pickle") && e.contains("ends"),
        "{e}"
    );
    // containers of arrays say how to save them as poisonscan reads them
    for (name, bytes, says) in [
        (
            "model.pt",
            &b"PK\x03\x04"[..],
            "a PyTorch file: not a PyTorch zip",
        ),
        (
            "x.npy",
            &b"\x93NUMPY\x01\x00"[..],
            "one NumPy array, which holds no labels, and no labels file beside it",
        ),
        (
            "array",
            &b"\x93NUMPY\x01\x00"[..],
            "one NumPy array (.npy), which holds no labels",
        ),
    ] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let e = fails(dir.path(), &[name], &[name]);
        assert!(e.contains(says) && e.contains("numpy.savez"), "{e}");
    }
    // a folder holding a `.npy` without its labels file says what the
    // file lacks, as the file given itself does
    let lone = dir.path().join("arrays");
    std::fs::create_dir(&lone).unwrap();
    std::fs::write(lone.join("X_train.npy"), b"\x93NUMPY\x01\x00").unwrap();
    let e = fails(dir.path(), &["arrays"], &["arrays/X_train.npy"]);
    assert!(
        e.contains("X_train.npy") && e.contains("no labels file beside it"),
        "{e}"
    );
    // remote addresses say to copy the data here
    for url in [
        "s3://bucket/train.parquet",
        "hf://datasets/mnist",
        "gs://b/*.parquet",
    ] {
        let e = fails(dir.path(), &[url], &[]);
        assert!(
            e.contains("not a file on this machine") && e.contains("copy it"),
            "{e}"
        );
    }
    // tables that keep old versions of their rows in their data files
    for (name, marker, says) in [
        (
            "ice",
            "metadata/v1.metadata.json",
            "an Apache Iceberg table",
        ),
        ("hudi", ".hoodie/hoodie.properties", "an Apache Hudi table"),
    ] {
        let table = dir.path().join(name);
        std::fs::create_dir_all(table.join(marker).parent().unwrap()).unwrap();
        std::fs::write(table.join(marker), "{}").unwrap();
        std::fs::create_dir_all(table.join("data")).unwrap();
        std::fs::write(table.join("data/a.csv"), b"label,x\n0,1\n1,2\n").unwrap();
        let e = fails(dir.path(), &[name], &[]);
        assert!(e.contains(says) && e.contains("write.parquet"), "{e}");
    }
    // features and labels saved as two tables (scikit-learn splits as
    // `X_train.csv` and `y_train.csv`) that do not hold the same rows, or
    // whose labels file does not say which column the labels are
    let split = dir.path().join("split");
    std::fs::create_dir(&split).unwrap();
    std::fs::write(split.join("X_train.csv"), b"a,b\n1,2\n3,4\n5,6\n").unwrap();
    std::fs::write(split.join("y_train.csv"), b"target\n0\n1\n").unwrap();
    let e = fails(dir.path(), &["split/X_train.csv"], &["split/X_train.csv"]);
    assert!(
        e.contains("split/y_train.csv holds 2 labels and split/X_train.csv holds 3 rows"),
        "{e}"
    );
    std::fs::write(split.join("y_train.csv"), b"p,q,r\n0,1,0\n1,0,0\n0,0,1\n").unwrap();
    let e = fails(dir.path(), &["split/X_train.csv"], &["split/X_train.csv"]);
    assert!(
        e.contains("split/y_train.csv") && e.contains("3 columns") && e.contains("--label"),
        "{e}"
    );
    // a Lance dataset (versions too, in its own format) and a Zarr store
    // (arrays in compressed chunks; given whole or one array of it): what
    // to write them out as
    let lance = dir.path().join("train.lance");
    std::fs::create_dir_all(lance.join("_versions")).unwrap();
    std::fs::create_dir_all(lance.join("data")).unwrap();
    std::fs::write(lance.join("_versions/1.manifest"), b"\0").unwrap();
    std::fs::write(lance.join("data/0.lance"), b"\0").unwrap();
    let e = fails(dir.path(), &["train.lance"], &[]);
    assert!(
        e.contains("a Lance dataset") && e.contains("to_table()"),
        "{e}"
    );
    let zarr = dir.path().join("train.zarr");
    std::fs::create_dir_all(zarr.join("images/c/0")).unwrap();
    std::fs::write(zarr.join("zarr.json"), br#"{"zarr_format": 3}"#).unwrap();
    std::fs::write(zarr.join("images/zarr.json"), br#"{"zarr_format": 3}"#).unwrap();
    std::fs::write(zarr.join("images/c/0/0"), b"\0").unwrap();
    for given in ["train.zarr", "train.zarr/images"] {
        let e = fails(dir.path(), &[given], &[]);
        assert!(
            e.contains("a Zarr store") && e.contains("numpy.savez"),
            "{e}"
        );
    }
    // a damaged ORC file (Hive, Spark), told by its name or its first
    // bytes: an error naming it (ORC files are read: tests/inputs.rs)
    for name in ["part-00000.orc", "table"] {
        std::fs::write(dir.path().join(name), b"ORC\x0a\x06\x08\x03").unwrap();
        let e = fails(dir.path(), &[name], &[name]);
        assert!(e.contains("cannot read as ORC"), "{e}");
    }
}

#[test]
fn corrupt_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.parquet"),
        b"PAR1 this is not parquet at all",
    )
    .unwrap();
    let e = fails(dir.path(), &["broken.parquet"], &["broken.parquet"]);
    assert!(e.contains("broken.parquet: cannot read as parquet"), "{e}");
    std::fs::write(dir.path().join("broken.arrow"), b"ARROW1\0\0garbage").unwrap();
    // a safetensors file cut short
    std::fs::write(
        dir.path().join("broken.safetensors"),
        b"\x40\0\0\0\0\0\0\0{\"x\"",
    )
    .unwrap();
    let e = fails(dir.path(), &["broken.safetensors"], &["broken.safetensors"]);
    assert!(
        e.contains("broken.safetensors: cannot read as safetensors"),
        "{e}"
    );
    let e = fails(dir.path(), &["broken.arrow"], &["broken.arrow"]);
    assert!(e.contains("broken.arrow: cannot read as ipc"), "{e}");
    // HDF5 files (and MATLAB's -v7.3 ones, HDF5 after a header) cut short
    for (name, bytes, says) in [
        (
            "svhn.h5",
            &b"\x89HDF\r\n\x1a\n"[..],
            "svhn.h5: cannot read as HDF5",
        ),
        (
            "train.mat",
            &b"MATLAB 7.3 MAT-file, Platform: GLNXA64"[..],
            "train.mat: cannot read as MATLAB: a MATLAB -v7.3 file, which is HDF5",
        ),
    ] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let e = fails(dir.path(), &[name], &[name]);
        assert!(e.contains(says) && e.contains("cut short"), "{e}");
    }
    // a MATLAB file cut inside its header
    std::fs::write(dir.path().join("cut.mat"), b"MATLAB 5.0 MAT-file, Platf").unwrap();
    let e = fails(dir.path(), &["cut.mat"], &["cut.mat"]);
    assert!(
        e.contains("cut.mat: cannot read as MATLAB") && e.contains("cut short"),
        "{e}"
    );
}

#[test]
fn missing_and_wrongly_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(2, 20, 3, 0, 0.0, 1);
    write_parquet(&dir.path().join("t.parquet"), &data.columns_batch());
    let e = fails(
        dir.path(),
        &["t.parquet", "--label", "target"],
        &["t.parquet"],
    );
    assert!(
        e.contains(
            "column `target` not found in t.parquet; available columns: label, id, f0, f1, f2"
        ),
        "{e}"
    );
    let e = fails(
        dir.path(),
        &["t.parquet", "--features", "f0,id"],
        &["t.parquet"],
    );
    assert!(
        e.contains("column `id` holds") && e.contains("one per row"),
        "{e}"
    );
    let e = fails(
        dir.path(),
        &["t.parquet", "--embedding", "f0"],
        &["t.parquet"],
    );
    assert!(
        e.contains("column `f0`") && e.contains("list or array of numbers"),
        "{e}"
    );
    let e = fails(
        dir.path(),
        &["t.parquet", "--features", "g*"],
        &["t.parquet"],
    );
    assert!(e.contains("column `g*` not found"), "{e}");
    // a name with a carriage return (read in a script from a file with
    // Windows line ends) is shown escaped, not as the name it resembles
    let e = fails(
        dir.path(),
        &["t.parquet", "--label", "label\r"],
        &["t.parquet"],
    );
    assert!(
        e.contains(r"column `label\r` not found") && e.contains("did you mean `label`?"),
        "{e}"
    );
    let e = fails(dir.path(), &["t.parquet", "--label", "f0"], &["t.parquet"]);
    assert!(
        e.contains("label column `f0` holds") && e.contains("whole numbers or strings"),
        "{e}"
    );
}

#[test]
fn ragged_embeddings_name_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let emb = ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
        Some(vec![Some(1.0), Some(2.0)]),
        Some(vec![Some(1.0), Some(2.0)]),
        Some(vec![Some(1.0)]),
        Some(vec![Some(1.0), Some(2.0)]),
    ]);
    let b = RecordBatch::try_from_iter(vec![
        ("label", labels(&[0, 1, 0, 1])),
        ("emb", Arc::new(emb) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&dir.path().join("e.parquet"), &b);
    let e = fails(dir.path(), &["e.parquet"], &["e.parquet"]);
    assert!(
        e.contains(
            "e.parquet, row 2: embedding column `emb` has 1 values, but earlier rows have 2"
        ),
        "{e}"
    );
}

#[test]
fn ragged_nested_lists_name_the_row() {
    // rows of 2 lists: row 2's second list has 3 values where the others have 2
    let inner = arrow::array::ListArray::new(
        Arc::new(arrow::datatypes::Field::new(
            "item",
            arrow::datatypes::DataType::Float64,
            true,
        )),
        arrow::buffer::OffsetBuffer::from_lengths([2, 2, 2, 2, 2, 3, 2, 2]),
        Arc::new(Float64Array::from(vec![0.5; 17])),
        None,
    );
    let outer = ListArray::new(
        Arc::new(arrow::datatypes::Field::new(
            "item",
            inner.data_type().clone(),
            true,
        )),
        arrow::buffer::OffsetBuffer::from_lengths([2, 2, 2, 2]),
        Arc::new(inner),
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let b = RecordBatch::try_from_iter(vec![
        ("label", labels(&[0, 1, 0, 1])),
        ("emb", Arc::new(outer) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&dir.path().join("n.parquet"), &b);
    let e = fails(dir.path(), &["n.parquet"], &["n.parquet"]);
    assert!(
        e.contains(
            "n.parquet, row 2: column `emb` holds lists of 3 values where its other lists hold 2"
        ),
        "{e}"
    );
}

#[test]
fn a_compressed_table_cut_short_says_so() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("label,x,y\n");
    for i in 0..2000 {
        csv += &format!("{},{},{}\n", i % 2, i % 7, (i * 13) % 11);
    }
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(csv.as_bytes()).unwrap();
    let whole = bz.finish().unwrap();
    std::fs::write(dir.path().join("t.csv.bz2"), &whole[..whole.len() / 2]).unwrap();
    let e = fails(dir.path(), &["t.csv.bz2"], &["t.csv.bz2"]);
    assert!(
        e.contains("t.csv.bz2")
            && e.contains("bzip2 data cannot be unpacked (cut short or damaged?)"),
        "{e}"
    );
}

#[test]
fn an_arrow_ipc_stream_cut_short_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let b = RecordBatch::try_from_iter(vec![
        ("label", labels(&[0, 1, 0, 1, 0, 1, 0, 1])),
        (
            "x",
            Arc::new(Float64Array::from(vec![
                0.1, 2.0, 0.3, 2.1, 0.2, 1.9, 0.0, 2.2,
            ])) as ArrayRef,
        ),
    ])
    .unwrap();
    let mut stream = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut stream, &b.schema()).unwrap();
    w.write(&b).unwrap();
    w.finish().unwrap();
    drop(w);
    // inside the record batch's data
    std::fs::write(dir.path().join("t.arrows"), &stream[..stream.len() - 20]).unwrap();
    let e = fails(dir.path(), &["t.arrows"], &["t.arrows"]);
    assert!(
        e.contains("t.arrows")
            && e.contains("Arrow IPC stream cannot be read (cut short or damaged?)"),
        "{e}"
    );
}

#[test]
fn numpy_archives_that_cannot_be_read_say_why() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let npz = |name: &str, members: &[(&str, Vec<u8>)]| {
        let mut w = zip::ZipWriter::new(std::fs::File::create(dir.path().join(name)).unwrap());
        for (member, bytes) in members {
            w.start_file(*member, zip::write::FileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    };
    // three arrays, none named as features or labels are
    npz(
        "anon.npz",
        &[
            ("a.npy", npy("<f8", "(2, 2)", &[0; 32])),
            ("b.npy", npy("<i8", "(2,)", &[0; 16])),
            ("c.npy", npy("<i8", "(2,)", &[0; 16])),
        ],
    );
    let e = fails(dir.path(), &["anon.npz"], &["anon.npz"]);
    assert!(
        e.contains("anon.npz") && e.contains("(a, b, c)") && e.contains("--embedding ARRAY"),
        "{e}"
    );
    // labels of Python objects (pickled strings)
    npz(
        "objects.npz",
        &[
            ("x.npy", npy("<f8", "(2, 2)", &[0; 32])),
            ("y.npy", npy("|O", "(2,)", &[0; 16])),
        ],
    );
    let e = fails(dir.path(), &["objects.npz"], &["objects.npz"]);
    assert!(e.contains("`y.npy`") && e.contains("Python objects"), "{e}");
    // a label per row, not one for each of them
    npz(
        "short.npz",
        &[
            ("x.npy", npy("<f8", "(3, 2)", &[0; 48])),
            ("y.npy", npy("<i8", "(2,)", &[0; 16])),
        ],
    );
    let e = fails(dir.path(), &["short.npz"], &["short.npz"]);
    assert!(e.contains("one value per row"), "{e}");
}

#[test]
fn gaps_that_leave_no_row_name_the_columns_behind_them() {
    // two survey waves in one table: each wave's question is null in the
    // other wave's rows, so --drop-invalid leaves nothing
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("label,age,wave1,wave2\n");
    for i in 0..30 {
        let (w1, w2) = if i < 12 {
            (format!("{}", i % 5), "NA".to_string())
        } else {
            ("NA".to_string(), format!("{}", i % 7))
        };
        csv += &format!("{},{},{w1},{w2}\n", i % 2, 20 + i);
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let e = fails(dir.path(), &["t.csv", "--drop-invalid"], &["t.csv"]);
    assert!(
        e.contains("every row was left out by --drop-invalid")
            && e.contains("null in feature `wave1`: 18 rows")
            && e.contains("null in feature `wave2`: 12 rows")
            && e.contains("--features"),
        "{e}"
    );
}

#[test]
fn nan_features_fail_or_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut x: Vec<Option<f64>> = (0..40).map(|i| Some(i as f64 * 0.37 % 5.0)).collect();
    x[13] = Some(f64::NAN);
    x[21] = Some(f64::INFINITY);
    let l: Vec<i64> = (0..40).map(|i| i % 2).collect();
    // Two files: the message names the second one and the row inside it.
    let b = table(labels(&l), x);
    write_parquet(&dir.path().join("a.parquet"), &b.slice(0, 10));
    write_parquet(&dir.path().join("b.parquet"), &b.slice(10, 30));
    let e = fails(
        dir.path(),
        &["a.parquet", "b.parquet"],
        &["a.parquet", "b.parquet"],
    );
    assert!(
        e.contains("b.parquet, row 3: NaN in feature `x`") && e.contains("--drop-invalid"),
        "{e}"
    );

    let o = run(
        &[
            "scan",
            "a.parquet",
            "b.parquet",
            "--drop-invalid",
            "--out",
            "ok",
        ],
        dir.path(),
    );
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        stderr(&o)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("ok/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["rows"]["dropped_invalid"], 2);
    assert_eq!(summary["dropped"][1]["row"], 21);
    assert_eq!(
        summary["dropped"][1]["reason"],
        "infinite value in feature `x`"
    );
    let scores = read_parquet(&dir.path().join("ok/scores.parquet"));
    assert_eq!(scores.num_rows(), 40);
    let s = scores.column_by_name("score").unwrap();
    assert!(s.is_null(13) && s.is_null(21) && s.is_valid(12));
}

#[test]
fn null_labels_one_class_and_empty_input() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<Option<f64>> = (0..6).map(|i| Some(i as f64)).collect();
    let nl: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(0),
        Some(1),
        Some(0),
        None,
        Some(1),
        Some(0),
    ]));
    write_parquet(&dir.path().join("nl.parquet"), &table(nl, x.clone()));
    let e = fails(dir.path(), &["nl.parquet"], &["nl.parquet"]);
    assert!(
        e.contains("nl.parquet, row 3: label column `label` is null")
            && e.contains("--drop-invalid"),
        "{e}"
    );

    write_parquet(
        &dir.path().join("one.parquet"),
        &table(labels(&[4; 6]), x.clone()),
    );
    let e = fails(dir.path(), &["one.parquet"], &["one.parquet"]);
    assert!(
        e.contains("1 class(es) (4); scanning needs at least two"),
        "{e}"
    );

    // one class of several rows beside classes of one (too small to scan),
    // and a label of its own on every row (an id taken for the label)
    write_parquet(
        &dir.path().join("singles.parquet"),
        &table(labels(&[4, 4, 4, 5, 6, 7]), x.clone()),
    );
    let e = fails(dir.path(), &["singles.parquet"], &["singles.parquet"]);
    assert!(
        e.contains("only 1 of the 4 classes have 2 rows or more") && !e.contains("an id?"),
        "{e}"
    );
    write_parquet(
        &dir.path().join("ids.parquet"),
        &table(labels(&[0, 1, 2, 3, 4, 5]), x.clone()),
    );
    let e = fails(dir.path(), &["ids.parquet"], &["ids.parquet"]);
    assert!(
        e.contains("only 0 of the 6 classes") && e.contains("is the label column an id?"),
        "{e}"
    );
    // free text as the label: a few sentences repeat, the rest are classes
    // of one row, and a scan would judge 4 rows of 60
    let text: Vec<i64> = (0..60)
        .map(|i| if i < 4 { i % 2 } else { 100 + i })
        .collect();
    write_parquet(
        &dir.path().join("text.parquet"),
        &table(
            labels(&text),
            (0..60).map(|v| Some((v * 7 % 13) as f64)).collect(),
        ),
    );
    let e = fails(dir.path(), &["text.parquet"], &["text.parquet"]);
    assert!(
        e.contains("only 2 of the 58 classes have 2 rows or more, holding 4 of the 60 rows")
            && e.contains("is the label column free text or an id?"),
        "{e}"
    );

    write_parquet(
        &dir.path().join("empty.parquet"),
        &table(labels(&[]), vec![]),
    );
    let e = fails(dir.path(), &["empty.parquet"], &["empty.parquet"]);
    assert!(e.contains("the input is empty"), "{e}");

    std::fs::write(dir.path().join("header.csv"), "label,x,y\n").unwrap();
    let e = fails(dir.path(), &["header.csv"], &["header.csv"]);
    assert!(e.contains("empty"), "{e}");

    let b = RecordBatch::try_from_iter(vec![
        ("label", labels(&[0, 1])),
        (
            "name",
            Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&dir.path().join("text.parquet"), &b);
    let e = fails(dir.path(), &["text.parquet"], &["text.parquet"]);
    assert!(
        e.contains("`name` hold text") && e.contains("--embedding"),
        "{e}"
    );
}

#[test]
fn a_class_with_one_row_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut l: Vec<i64> = (0..60).map(|i| i % 2).collect();
    l[59] = 7;
    let x: Vec<Option<f64>> = (0..60).map(|i| Some((i * 7 % 11) as f64)).collect();
    write_parquet(&dir.path().join("t.parquet"), &table(labels(&l), x));
    let o = run(&["scan", "t.parquet", "--out", "out"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("warning: class `7` has 1 row(s)"),
        "{}",
        stdout(&o)
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["classes"][2]["verdict"], "skipped");
    assert_eq!(summary["rows"]["skipped"], 1);
    assert!(read_parquet(&dir.path().join("out/scores.parquet"))
        .column_by_name("score")
        .unwrap()
        .is_null(59));
}

/// Class folders of sound clips (a speech-commands layout) are not read:
/// the error counts them and says what a scanner of features needs; other
/// files get no such advice.
#[test]
fn class_folders_of_sound_say_what_to_scan() {
    let dir = tempfile::tempdir().unwrap();
    for class in ["yes", "no"] {
        let cdir = dir.path().join("clips").join(class);
        std::fs::create_dir_all(&cdir).unwrap();
        for i in 0..3 {
            std::fs::write(cdir.join(format!("{i}.WAV")), b"RIFF\0\0\0\0WAVEfmt ").unwrap();
        }
        let tdir = dir.path().join("notes").join(class);
        std::fs::create_dir_all(&tdir).unwrap();
        std::fs::write(tdir.join("a.txt"), b"text").unwrap();
    }
    let e = fails(dir.path(), &["clips"], &["clips/yes/0.WAV"]);
    assert!(
        e.contains("its class folders hold 6 .wav")
            && e.contains("sound and video are not read")
            && e.contains("--embedding COL"),
        "{e}"
    );
    let e = fails(dir.path(), &["notes"], &["notes/yes/a.txt"]);
    assert!(
        e.contains("holds no") && !e.contains("sound and video"),
        "{e}"
    );
}

#[test]
fn undecodable_image_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for class in ["a", "b"] {
        let cdir = dir.path().join("imgs").join(class);
        std::fs::create_dir_all(&cdir).unwrap();
        for i in 0..3 {
            image::GrayImage::from_pixel(4, 4, image::Luma([i * 40]))
                .save(cdir.join(format!("{i}.png")))
                .unwrap();
        }
    }
    std::fs::write(
        dir.path().join("imgs/b/broken.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .unwrap();
    let e = fails(dir.path(), &["imgs"], &["imgs/b/broken.png"]);
    assert!(e.contains("imgs/b/broken.png: cannot decode image"), "{e}");
}

#[test]
fn invalid_options_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(2, 20, 3, 0, 0.0, 1);
    write_parquet(&dir.path().join("t.parquet"), &data.embedding_batch());
    let e = fails(
        dir.path(),
        &[
            "t.parquet",
            "--threshold",
            "1.5",
            "--budget",
            "0.9",
            "--scanners",
            "magic",
        ],
        &["t.parquet"],
    );
    assert!(
        e.contains("--threshold is 1.5, but it must be above 0 and below 1"),
        "{e}"
    );
    assert!(e.contains("--budget is 0.9"), "{e}");
    assert!(
        e.contains("unknown scanner `magic`; known: spectral-signature (PS001)"),
        "{e}"
    );
    let e = fails(
        dir.path(),
        &["t.parquet", "--resize", "0x5"],
        &["t.parquet"],
    );
    assert!(e.contains("width and height must be whole numbers"), "{e}");
}
