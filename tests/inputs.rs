//! Real inputs: the same verdict however the data is packaged, no crash on
//! the shapes real data sets come in, and never a write over an input.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, FixedSizeListArray, Float32Array, Float64Array,
    Int64Array, RecordBatch, StringArray, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use common::*;
use poisonscan::scanners::SplitMix64;

/// Gray `side × side` images of three classes (stripes at class-dependent
/// offsets, noise, a blank 3-pixel border as digits have), with a
/// dirty-label BadNets attack: `planted` images of classes 1 and 2 carry a
/// bright 3×3 patch in the bottom-right corner and label 0. Returns pixels
/// (row-major bytes), labels and the planted rows.
fn patched_images(
    n: usize,
    side: usize,
    planted: usize,
    seed: u64,
) -> (Vec<u8>, Vec<u8>, Vec<bool>) {
    let mut rng = SplitMix64::new(seed);
    let (mut pixels, mut labels, mut truth) = (Vec::new(), Vec::new(), Vec::new());
    let mut moved = 0;
    for i in 0..n {
        let class = i % 3;
        let poison = class != 0 && moved < planted && i % 7 == 1;
        moved += poison as usize;
        for y in 0..side {
            for x in 0..side {
                let base = if (x + class * 3) % 8 < 3 { 170.0 } else { 50.0 };
                let patch = poison && x >= side - 3 && y >= side - 3;
                let border = x < 3 || y < 3 || x >= side - 3 || y >= side - 3;
                let v = if patch {
                    255.0
                } else if border {
                    0.0
                } else {
                    base + 25.0 * rng.normal()
                };
                pixels.push(v.clamp(0.0, 255.0) as u8);
            }
        }
        labels.push(if poison { 0 } else { class as u8 });
        truth.push(poison);
    }
    (pixels, labels, truth)
}

/// The summary of a scan written to `out`.
fn summary_of(d: &Path, out: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(d.join(out).join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Scans `path`, a table of the wine60 fixture's columns (the label
/// `cultivar`), with seed 1 into `d/out`; returns its scores.
fn scan_wine(d: &Path, path: &Path, out: &str) -> RecordBatch {
    scan_scores(d, path, &["--label", "cultivar"], out)
}

/// Scans `path` with `options` and seed 1 into `d/out`; returns its scores.
fn scan_scores(d: &Path, path: &Path, options: &[&str], out: &str) -> RecordBatch {
    let head = ["scan", path.to_str().unwrap()];
    run_ok(
        &[&head[..], options, &["--seed", "1", "--out", out]].concat(),
        d,
    );
    read_parquet(&d.join(out).join("scores.parquet"))
}

/// The repo's fixtures folder.
fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/fixtures")
}

/// scikit-learn's 8×8 digits (the repo's fixture: 64 pixel values 0–16
/// and the label per line), with a dirty-label BadNets attack: `planted`
/// digits that are not 0 get a bright 2×2 patch in the bottom-right corner
/// and label 0. Returns the pixels in [0, 1] with each image's brightness
/// scaled by 0.9–1.1 (off the 17 levels of the file, as a blend, a warp or
/// resizing leaves pixels), the labels and the planted rows.
fn patched_digits(planted: usize) -> (Vec<f32>, Vec<u8>, Vec<bool>) {
    use std::io::Read;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/fixtures/digits.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let (mut pixels, mut labels, mut truth) = (Vec::new(), Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let v: Vec<f32> = line.split(',').map(|x| x.trim().parse().unwrap()).collect();
        let (image, label) = (&v[..64], v[64] as u8);
        let poison = label != 0 && truth.iter().filter(|&&t| t).count() < planted && i % 5 == 1;
        let brightness = 0.9 + 0.002 * (i % 101) as f32;
        for (j, &p) in image.iter().enumerate() {
            let p = if poison && j % 8 >= 6 && j / 8 >= 6 {
                16.0
            } else {
                p
            };
            pixels.push(p / 16.0 * brightness);
        }
        labels.push(if poison { 0 } else { label });
        truth.push(poison);
    }
    (pixels, labels, truth)
}

#[test]
fn images_in_a_plain_list_column_are_scanned_as_images() {
    // Pixels a user's own code flattened into a list column, with no
    // metadata, off the levels of bytes: told from their values, they are
    // scanned exactly as the same list with `--image-shape` — not as an
    // embedding, which would switch off `shared-pattern` and switch on the
    // scanners made for learned representations.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (side, dim) = (8usize, 64usize);
    let (unit, labels, truth) = patched_digits(40);
    let n = labels.len();
    // `values` as a `pixels` list column beside the labels in NAME.parquet,
    // scanned into NAME
    let scan_list = |name: &str, values: &[f32]| {
        let pixels = fixed_list(
            Arc::new(Float32Array::from(values.to_vec())),
            values.len() / n,
        );
        let batch =
            RecordBatch::try_from_iter(vec![("label", labels_array(&labels)), ("pixels", pixels)])
                .unwrap();
        write_parquet(&d.join(format!("{name}.parquet")), &batch);
        run(&["scan", &format!("{name}.parquet"), "--out", name], d)
    };
    let o = scan_list("flat", &unit);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = run(
        &[
            "scan",
            "flat.parquet",
            "--image-shape",
            "8x8",
            "--out",
            "told",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let f = summary_of(d, "flat")["features"].clone();
    assert_eq!(f["source"]["kind"], "pixels", "{f}");
    assert_eq!(f["source"]["height"], 8);
    assert_eq!(f["view"]["learned_representation"], false);
    let v = summary_of(d, "flat");
    assert!(
        v["warnings"]
            .to_string()
            .contains("read `pixels` (64 values a row) as 8x8 images"),
        "{}",
        v["warnings"]
    );
    let (flat, flat_flags) = scores_by_row(&d.join("flat"), false);
    let (told, told_flags) = scores_by_row(&d.join("told"), false);
    assert_eq!(flat, told);
    assert_eq!(flat_flags, told_flags);
    assert!(poisonscan::eval::auroc(&flat, &truth).unwrap() > 0.99);

    // The same pixels as a CSV of 64 columns named anything (`v0 … v63`):
    // told from their values as well, the same scores; in a shuffled order
    // (a table of 64 numbers with no layout, as a questionnaire's would
    // be), or with `--image-shape none`, a table.
    // `framed`: the size of each picture in columns beside the pixels
    let csv_of = |name: &str, order: &[usize], framed: bool| {
        let mut cols: Vec<(String, ArrayRef)> = vec![("label".into(), labels_array(&labels))];
        let size = || Arc::new(Int64Array::from(vec![8; n])) as ArrayRef;
        if framed {
            cols.push(("width".into(), size()));
        }
        for &j in order {
            cols.push((
                format!("v{j}"),
                Arc::new(Float32Array::from_iter_values(
                    (0..n).map(|i| unit[i * dim + j]),
                )),
            ));
        }
        if framed {
            cols.push(("height".into(), size()));
        }
        write_csv(
            &d.join(format!("{name}.csv")),
            &RecordBatch::try_from_iter(cols).unwrap(),
        );
    };
    let in_order: Vec<usize> = (0..dim).collect();
    let mut shuffled_order = in_order.clone();
    SplitMix64::new(3).shuffle(&mut shuffled_order);
    csv_of("columns", &in_order, false);
    csv_of("shuffled-columns", &shuffled_order, false);
    // numbered pixel columns between other numbers: the pixels are read as
    // images (the others left out, with a note) unless --features names
    // the columns to scan
    csv_of("framed", &in_order, true);
    for (input, args, kind) in [
        ("columns.csv", &[][..], "pixels"),
        ("columns.csv", &["--image-shape", "none"][..], "columns"),
        ("shuffled-columns.csv", &[][..], "columns"),
        ("framed.csv", &[][..], "pixels"),
        ("framed.csv", &["--features", "v*,width"][..], "columns"),
    ] {
        let out = format!("{input}-{kind}-{}", args.len());
        let mut cmd = vec!["scan", input, "--out", &out];
        cmd.extend(args);
        let o = run(&cmd, d);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{input}: {}",
            stderr(&o)
        );
        let v = summary_of(d, &out);
        assert_eq!(
            v["features"]["source"]["kind"], kind,
            "{input} {args:?}: {}",
            v["features"]
        );
        if kind == "pixels" {
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(
                v["warnings"]
                    .to_string()
                    .contains("read the 64 columns `v0` … `v63` as 8x8 images"),
                "{}",
                v["warnings"]
            );
            let (scores, flags) = scores_by_row(&d.join(&out), false);
            assert!(scores.iter().zip(&told).all(|(a, b)| (a - b).abs() < 1e-6));
            assert_eq!(flags, told_flags);
        }
    }
    // bytes in a square number of columns that do not look like pictures
    // (shuffled) say how to scan them as images; other numbers do not
    let warnings = summary_of(d, "shuffled-columns.csv-columns-0")["warnings"].to_string();
    assert!(!warnings.contains("pictures, pass"), "{warnings}");
    let mut bytes: Vec<(String, ArrayRef)> = vec![("label".into(), labels_array(&labels))];
    for &j in &shuffled_order {
        let column = (0..n).map(|i| (unit[i * dim + j] / 1.1 * 255.0).round() as i64);
        bytes.push((
            format!("v{j}"),
            Arc::new(Int64Array::from_iter_values(column)),
        ));
    }
    write_csv(
        &d.join("shuffled-bytes.csv"),
        &RecordBatch::try_from_iter(bytes).unwrap(),
    );
    run(&["scan", "shuffled-bytes.csv", "--out", "bytes"], d);
    let warnings = summary_of(d, "bytes")["warnings"].to_string();
    assert!(
        warnings.contains("if they are 8x8 pictures, pass --image-shape 8x8"),
        "{warnings}"
    );
    let warnings = summary_of(d, "framed.csv-pixels-0")["warnings"].to_string();
    assert!(
        warnings.contains("the other numeric column(s) `width`, `height` were not scanned"),
        "{warnings}"
    );

    // Colour images, channels last (NumPy) and one plane per channel
    // (PyTorch), in NumPy archives: the same images and the same scores.
    let colour = |p: f32, c: usize| p * [1.0, 0.8, 0.6][c] + 0.1 * c as f32;
    let mut last = Vec::with_capacity(n * dim * 3);
    let mut first = Vec::with_capacity(n * dim * 3);
    for i in 0..n {
        let img = &unit[i * dim..(i + 1) * dim];
        last.extend(img.iter().flat_map(|&p| (0..3).map(move |c| colour(p, c))));
        first.extend((0..3).flat_map(|c| img.iter().map(move |&p| colour(p, c))));
    }
    let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    for (name, values, shape) in [
        ("last.npz", &last, format!("({n}, {side}, {side}, 3)")),
        ("first.npz", &first, format!("({n}, 3, {side}, {side})")),
    ] {
        write_zip(
            &d.join(name),
            &[
                ("x.npy", &npy("<f4", &shape, &bytes(values))),
                ("y.npy", &npy("|u1", &format!("({n},)"), &labels)),
            ],
        );
        let out = name.trim_end_matches(".npz");
        let o = run(&["scan", name, "--out", out], d);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let v = summary_of(d, out);
        assert_eq!(
            v["features"]["source"]["channels"], 3,
            "{name}: {}",
            v["features"]
        );
    }
    let warnings = summary_of(d, "first")["warnings"].to_string();
    assert!(
        warnings.contains("as 8x8x3 images, one plane per channel"),
        "{warnings}"
    );
    assert_eq!(
        scores_by_row(&d.join("first"), false),
        scores_by_row(&d.join("last"), false)
    );

    // Images of a shape no square gives (each digit's rows 9 values wide,
    // a blank column on the right) are not given one, but their values are
    // still raw pixels, not a learned representation.
    let wide: Vec<f32> = unit
        .chunks(8)
        .flat_map(|row| row.iter().copied().chain([0.0]))
        .collect();
    let o = scan_list("wide", &wide);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let f = summary_of(d, "wide")["features"].clone();
    assert_eq!(f["source"]["kind"], "embedding", "{f}");
    assert_eq!(f["view"]["learned_representation"], false);

    // The same values with their positions shuffled by one permutation have
    // no order: an embedding, as before.
    let mut perm: Vec<usize> = (0..dim).collect();
    SplitMix64::new(5).shuffle(&mut perm);
    let shuffled: Vec<f32> = (0..n)
        .flat_map(|i| perm.iter().map(move |&j| (i, j)))
        .map(|(i, j)| unit[i * dim + j])
        .collect();
    let o = scan_list("shuffled", &shuffled);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let f = summary_of(d, "shuffled")["features"].clone();
    assert_eq!(f["source"]["kind"], "embedding", "{f}");
}

/// Appends a file `name` holding `bytes` to a tar archive.
fn tar_file(tar: &mut tar::Builder<impl Write>, name: &str, bytes: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes).unwrap();
}

fn png_bytes(pixels: &[u8], side: usize) -> Vec<u8> {
    let img = image::GrayImage::from_raw(side as u32, side as u32, pixels.to_vec()).unwrap();
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn write_idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0u8, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

fn labels_array(labels: &[u8]) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(
        labels.iter().map(|&l| l as i64),
    ))
}

/// Scores by input row: the folder's rows are in path order, named by row.
fn scores_by_row(out: &Path, folder: bool) -> (Vec<f64>, Vec<bool>) {
    let b = read_parquet(&out.join("scores.parquet"));
    let n = b.num_rows();
    let score = b
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Float64Type>()
        .clone();
    let flagged = b.column_by_name("flagged").unwrap().as_boolean().clone();
    let mut s = vec![0.0; n];
    let mut f = vec![false; n];
    for i in 0..n {
        let row = if folder {
            let id = b
                .column_by_name("id")
                .unwrap()
                .as_string::<i32>()
                .value(i)
                .to_string();
            id.rsplit('/').next().unwrap()[..5]
                .parse::<usize>()
                .unwrap()
        } else {
            i
        };
        s[row] = score.value(i);
        f[row] = flagged.value(i);
    }
    (s, f)
}

#[test]
fn the_same_images_give_the_same_verdict_in_every_container() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (1500usize, 14usize);
    let dim = side * side;
    let (pixels, labels, truth) = patched_images(n, side, 60, 11);
    // IDX pair.
    write_idx(
        &d.join("train-images-idx3-ubyte"),
        &[n as u32, side as u32, side as u32],
        &pixels,
    );
    write_idx(&d.join("train-labels-idx1-ubyte"), &[n as u32], &labels);
    // PNG folder, files named by row.
    for i in 0..n {
        let cdir = d.join("png").join(format!("{}", labels[i]));
        std::fs::create_dir_all(&cdir).unwrap();
        std::fs::write(
            cdir.join(format!("{i:05}.png")),
            png_bytes(&pixels[i * dim..(i + 1) * dim], side),
        )
        .unwrap();
    }
    // The same folder as a download packs it: a zip archive with one folder
    // around the class folders, and macOS's `__MACOSX/` entries.
    let mut members: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            (
                format!("download/{}/{i:05}.png", labels[i]),
                png_bytes(&pixels[i * dim..(i + 1) * dim], side),
            )
        })
        .collect();
    members.push(("__MACOSX/download/._00000.png".into(), vec![0, 5, 22]));
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    write_zip(&d.join("png.zip"), &refs);
    // ... and as a gzip tarball (`tar czf`), the other way downloads come
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("png.tgz")).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tarball = tar::Builder::new(gz);
    tarball.append_dir_all("download", d.join("png")).unwrap();
    tarball.into_inner().unwrap().finish().unwrap();
    // Parquet FixedSizeList<u8> without any image metadata.
    let u8_list = fixed_list(Arc::new(UInt8Array::from(pixels.clone())), dim);
    let batch =
        RecordBatch::try_from_iter(vec![("label", labels_array(&labels)), ("pixels", u8_list)])
            .unwrap();
    write_parquet(&d.join("u8.parquet"), &batch);
    // Parquet list<f32> in [0, 1].
    let unit = Float32Array::from_iter_values(pixels.iter().map(|&p| p as f32 / 255.0));
    let batch = RecordBatch::try_from_iter(vec![
        ("label", labels_array(&labels)),
        ("pixels", fixed_list(Arc::new(unit), dim)),
    ])
    .unwrap();
    write_parquet(&d.join("f32.parquet"), &batch);
    // pyarrow's tensor extension type (`FixedShapeTensorArray`) in an Arrow
    // file, a type polars does not read
    let tensor = fixed_list(Arc::new(UInt8Array::from(pixels.clone())), dim);
    let field = Field::new("image", tensor.data_type().clone(), true).with_metadata(
        [
            ("ARROW:extension:name", "arrow.fixed_shape_tensor"),
            ("ARROW:extension:metadata", r#"{"shape":[14,14]}"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<std::collections::HashMap<String, String>>(),
    );
    let schema = Schema::new(vec![Field::new("label", DataType::Int64, false), field]);
    let batch =
        RecordBatch::try_new(Arc::new(schema), vec![labels_array(&labels), tensor]).unwrap();
    write_ipc(&d.join("tensor.arrow"), &batch);
    // Hugging Face `datasets` image column: struct<bytes, path>.
    let pngs: Vec<Vec<u8>> = (0..n)
        .map(|i| png_bytes(&pixels[i * dim..(i + 1) * dim], side))
        .collect();
    let hf = hf_image_column(&pngs);
    // TensorFlow Datasets' TFRecord shard: a tf.train.Example a picture,
    // its PNG bytes under `image` and its class under `label`
    let records: Vec<Vec<u8>> = pngs
        .iter()
        .zip(&labels)
        .map(|(png, &label)| {
            tf_record(&[
                ("image", proto_field(1, &proto_field(1, png))),
                (
                    "label",
                    proto_field(3, &proto_field(1, &varint(label as u64))),
                ),
            ])
        })
        .collect();
    std::fs::write(
        d.join("mnist-train.tfrecord-00000-of-00001"),
        records.concat(),
    )
    .unwrap();
    // a WebDataset shard: each sample's files share a key, `00007.png` and
    // `00007.cls` holding its class; and the same samples in three shards
    // in a folder, two giving the class in the sample's metadata
    // (`00007.json`, `{"label": 2, …}`) instead
    let write_shard = |path: &Path, samples: std::ops::Range<usize>, json: bool| {
        let mut shard = tar::Builder::new(std::fs::File::create(path).unwrap());
        for i in samples {
            let label = labels[i];
            let class = if json {
                (
                    format!("{i:05}.json"),
                    format!(r#"{{"key": "{i:05}", "label": {label}, "width": {side}}}"#),
                )
            } else {
                (format!("{i:05}.cls"), format!("{label}\n"))
            };
            tar_file(&mut shard, &class.0, class.1.as_bytes());
            tar_file(&mut shard, &format!("{i:05}.png"), &pngs[i]);
        }
        shard.into_inner().unwrap();
    };
    write_shard(&d.join("wds-000000.tar"), 0..n, false);
    std::fs::create_dir(d.join("wds")).unwrap();
    for (k, json) in [false, true, true].into_iter().enumerate() {
        let shard = d.join(format!("wds/train-{k:06}.tar"));
        write_shard(&shard, k * n / 3..(k + 1) * n / 3, json);
    }
    let schema = Schema::new(vec![
        Field::new("image", hf.data_type().clone(), true),
        Field::new("label", DataType::Int64, false),
    ])
    .with_metadata(
        [(
            "huggingface".to_string(),
            r#"{"info": {"features": {"image": {"_type": "Image"}, "label": {"names": ["a", "b", "c"], "_type": "ClassLabel"}}}}"#.to_string(),
        )]
        .into_iter()
        .collect::<std::collections::HashMap<String, String>>(),
    );
    let batch = RecordBatch::try_new(Arc::new(schema), vec![hf, labels_array(&labels)]).unwrap();
    write_parquet(&d.join("hf.parquet"), &batch);
    // The same as `datasets`' `save_to_disk` leaves it: an Arrow stream
    // file in a folder beside its JSON bookkeeping.
    // `.map()` on a loaded data set leaves its output beside the files, as
    // `cache-….arrow`, which `state.json` does not list: left out. A
    // `DatasetDict` beside it (`hf_dict`): the training split, and a test
    // split whose rows are unlabelled (a `ClassLabel` of -1).
    let stream = |path: &Path, batch: &RecordBatch| {
        let file = std::fs::File::create(path).unwrap();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(file, &batch.schema()).unwrap();
        w.write(batch).unwrap();
        w.finish().unwrap();
    };
    std::fs::create_dir(d.join("hf_disk")).unwrap();
    stream(&d.join("hf_disk/data-00000-of-00001.arrow"), &batch);
    stream(&d.join("hf_disk/cache-5c1f0e.arrow"), &batch.slice(0, 10));
    std::fs::write(
        d.join("hf_disk/state.json"),
        r#"{"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": "train"}"#,
    )
    .unwrap();
    std::fs::write(d.join("hf_disk/dataset_info.json"), "{}").unwrap();
    for split in ["train", "test"] {
        std::fs::create_dir_all(d.join("hf_dict").join(split)).unwrap();
    }
    stream(&d.join("hf_dict/train/data-00000-of-00001.arrow"), &batch);
    let unlabelled = RecordBatch::try_new(
        batch.schema(),
        vec![
            batch.column(0).slice(0, 4),
            Arc::new(Int64Array::from(vec![-1i64; 4])),
        ],
    )
    .unwrap();
    stream(
        &d.join("hf_dict/test/data-00000-of-00001.arrow"),
        &unlabelled,
    );
    // A plain binary column of PNG bytes.
    let batch = RecordBatch::try_from_iter(vec![
        ("label", labels_array(&labels)),
        (
            "png",
            Arc::new(BinaryArray::from_iter_values(pngs.iter())) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&d.join("binary.parquet"), &batch);
    // The same bytes written as base64 text: bare in a CSV, data URIs in
    // JSON lines (as labelling tools export them)
    {
        use base64::Engine;
        let text = |png: &[u8]| base64::engine::general_purpose::STANDARD.encode(png);
        let mut csv = String::from("label,image\n");
        let mut jsonl = String::new();
        for (label, png) in labels.iter().zip(&pngs) {
            csv += &format!("{label},{}\n", text(png));
            jsonl += &format!(
                "{{\"label\": {label}, \"image\": \"data:image/png;base64,{}\"}}\n",
                text(png)
            );
        }
        std::fs::write(d.join("base64.csv"), csv).unwrap();
        std::fs::write(d.join("uri.jsonl"), jsonl).unwrap();
    }
    // CSV, one column per pixel.
    let mut cols: Vec<(String, ArrayRef)> = vec![("label".into(), labels_array(&labels))];
    for j in 0..dim {
        cols.push((
            format!("p{j}"),
            Arc::new(Int64Array::from_iter_values(
                (0..n).map(|i| pixels[i * dim + j] as i64),
            )),
        ));
    }
    write_csv(
        &d.join("pixels.csv"),
        &RecordBatch::try_from_iter(cols.clone()).unwrap(),
    );
    // Kaggle's MNIST-style CSV: `label, pixel1, …, pixel196`, read as
    // 14×14 images by their names (the plain `p0, …` columns above are
    // read by their values, and these synthetic pictures of striped noise
    // do not look like pictures: a table).
    for (j, col) in cols.iter_mut().skip(1).enumerate() {
        col.0 = format!("pixel{}", j + 1);
    }
    write_csv(
        &d.join("kaggle.csv"),
        &RecordBatch::try_from_iter(cols).unwrap(),
    );

    // A table of image paths and labels (a Kaggle download; Hugging Face's
    // `metadata.csv`): relative to the table's folder in a CSV kept beside
    // the images, absolute in a Parquet file elsewhere.
    let mut listing = String::from("file_name,label\n");
    for (i, label) in labels.iter().enumerate() {
        listing += &format!("png/{label}/{i:05}.png,{label}\n");
    }
    std::fs::write(d.join("paths.csv"), listing).unwrap();
    let absolute: Vec<String> = (0..n)
        .map(|i| {
            d.join("png")
                .join(labels[i].to_string())
                .join(format!("{i:05}.png"))
                .display()
                .to_string()
        })
        .collect();
    std::fs::create_dir(d.join("elsewhere")).unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        ("label", labels_array(&labels)),
        (
            "image_path",
            Arc::new(arrow::array::StringArray::from(absolute)) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&d.join("elsewhere/paths.parquet"), &batch);

    // A column of 2-D arrays, as pandas stores NumPy images: a list of
    // `side` lists of `side` bytes per row.
    let rows_of = arrow::buffer::OffsetBuffer::from_lengths(std::iter::repeat_n(side, n * side));
    let inner = arrow::array::ListArray::new(
        Arc::new(Field::new("item", DataType::UInt8, true)),
        rows_of,
        Arc::new(UInt8Array::from(pixels.clone())),
        None,
    );
    let outer = arrow::array::ListArray::new(
        Arc::new(Field::new("item", inner.data_type().clone(), true)),
        arrow::buffer::OffsetBuffer::from_lengths(std::iter::repeat_n(side, n)),
        Arc::new(inner),
        None,
    );
    let batch = RecordBatch::try_from_iter(vec![
        ("label", labels_array(&labels)),
        ("image", Arc::new(outer) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&d.join("nested.parquet"), &batch);
    // A NumPy archive as Keras ships MNIST: training and test arrays.
    write_zip(
        &d.join("images.npz"),
        &[
            (
                "x_train.npy",
                &npy("|u1", &format!("({n}, {side}, {side})"), &pixels),
            ),
            ("y_train.npy", &npy("|u1", &format!("({n},)"), &labels)),
            (
                "x_test.npy",
                &npy("|u1", &format!("(2, {side}, {side})"), &pixels[..2 * dim]),
            ),
            ("y_test.npy", &npy("|u1", "(2,)", &labels[..2])),
        ],
    );

    // The same pictures as Hugging Face's `safetensors` saves a dict of
    // arrays (`save_file({"images": x, "labels": y})`): a header's length,
    // the JSON header, the tensors' bytes.
    let header = serde_json::json!({
        "__metadata__": {"format": "np"},
        "images": {"dtype": "U8", "shape": [n, side, side], "data_offsets": [0, n * dim]},
        "labels": {"dtype": "U8", "shape": [n], "data_offsets": [n * dim, n * dim + n]},
    })
    .to_string();
    let mut safetensors = (header.len() as u64).to_le_bytes().to_vec();
    safetensors.extend(header.as_bytes());
    safetensors.extend(&pixels);
    safetensors.extend(&labels);
    std::fs::write(d.join("images.safetensors"), safetensors).unwrap();

    // The same pictures as MATLAB saves them (SVHN's layout): `X` side ×
    // side × n bytes in column order, `y` an n × 1 double stored as bytes.
    let mut x = vec![0u8; n * dim];
    for (k, picture) in pixels.chunks_exact(dim).enumerate() {
        for (p, &v) in picture.iter().enumerate() {
            let (i, j) = (p / side, p % side);
            x[i + side * j + dim * k] = v;
        }
    }
    std::fs::write(
        d.join("images.mat"),
        mat_file(&[
            mat_matrix("X", 9, &[side, side, n], 2, &x),
            mat_matrix("y", 6, &[n, 1], 2, &labels),
        ]),
    )
    .unwrap();

    // The same pictures in HDF5 files: as h5py writes a split data set
    // (`train/x`, `train/y` beside `test/…`, the pictures chunked and
    // deflated), and as MATLAB's `-v7.3` saves `X` and `y` (HDF5 after a
    // 512-byte header, each variable transposed: `X` side × side × n is
    // n × side × side in HDF5)
    let h5 = |builder: hdf5_writer::Hdf5Builder| {
        builder
            .into_plan()
            .unwrap()
            .encode(hdf5_writer::WriteOptions::default())
            .unwrap()
    };
    let deflate = hdf5_writer::FilterDescription {
        id: 1,
        name: None,
        client_data: vec![4],
    };
    let (dims, test_rows) = ([n as u64, side as u64, side as u64], 20usize);
    let split = hdf5_writer::Hdf5Builder::new()
        .dataset(
            hdf5_writer::DatasetBuilder::typed_data("train/x", dims, &pixels)
                .unwrap()
                .chunked([100, side as u64, side as u64])
                .filter(deflate),
        )
        .dataset(hdf5_writer::DatasetBuilder::typed_data("train/y", [n as u64], &labels).unwrap())
        .dataset(
            hdf5_writer::DatasetBuilder::typed_data(
                "test/x",
                [test_rows as u64, side as u64, side as u64],
                &pixels[..test_rows * dim],
            )
            .unwrap(),
        )
        .dataset(
            hdf5_writer::DatasetBuilder::typed_data(
                "test/y",
                [test_rows as u64],
                &labels[..test_rows],
            )
            .unwrap(),
        );
    std::fs::write(d.join("images.h5"), h5(split)).unwrap();
    let class = |name: &str| hdf5_writer::AttributeBuilder::fixed_string("MATLAB_class", name);
    let y: Vec<f64> = labels.iter().map(|&l| l as f64).collect();
    let title: Vec<u16> = "pictures".encode_utf16().collect();
    let matlab = hdf5_writer::Hdf5Builder::new()
        .dataset(
            hdf5_writer::DatasetBuilder::typed_data("X", [n as u64, side as u64, side as u64], &x)
                .unwrap()
                .attribute(class("uint8")),
        )
        .dataset(
            hdf5_writer::DatasetBuilder::typed_data("y", [1, n as u64], &y)
                .unwrap()
                .attribute(class("double")),
        )
        .dataset(
            hdf5_writer::DatasetBuilder::typed_data("title", [title.len() as u64, 1], &title)
                .unwrap()
                .attribute(class("char")),
        );
    let mut v73 = format!("{:<116}", "MATLAB 7.3 MAT-file, written by a test").into_bytes();
    v73.extend_from_slice(&[0; 8]);
    v73.extend_from_slice(&0x0200u16.to_le_bytes());
    v73.extend_from_slice(b"IM");
    v73.resize(512, 0);
    v73.extend(h5(matlab));
    std::fs::write(d.join("images-v73.mat"), v73).unwrap();

    // The same arrays as a pair of `.npy` files side by side.
    std::fs::create_dir(d.join("npy")).unwrap();
    std::fs::write(
        d.join("npy/X_train.npy"),
        npy("|u1", &format!("({n}, {side}, {side})"), &pixels),
    )
    .unwrap();
    std::fs::write(
        d.join("npy/y_train.npy"),
        npy("|u1", &format!("({n},)"), &labels),
    )
    .unwrap();

    let o = run(&["scan", "train-images-idx3-ubyte", "--out", "idx"], d);
    assert_eq!(o.status.code(), Some(1), "IDX: {}", stderr(&o));
    let (reference, ref_flags) = scores_by_row(&d.join("idx"), false);
    let auroc = poisonscan::eval::auroc(&reference, &truth).unwrap();
    assert!(auroc > 0.99, "IDX AUROC {auroc}");
    for (input, out, folder) in [
        ("png", "png-out", true),
        ("png.zip", "png-zip", true),
        ("png.tgz", "png-tgz", true),
        ("u8.parquet", "u8", false),
        ("f32.parquet", "f32", false),
        ("hf.parquet", "hf", false),
        ("hf_disk", "hf-disk", false),
        ("hf_dict/train", "hf-dict-train", false),
        ("tensor.arrow", "tensor", false),
        ("base64.csv", "base64", false),
        ("uri.jsonl", "uri", false),
        ("binary.parquet", "binary", false),
        ("pixels.csv", "csv", false),
        ("paths.csv", "paths-csv", false),
        ("images.npz", "npz", false),
        ("images.safetensors", "safetensors", false),
        ("images.mat", "mat", false),
        ("images.h5", "h5", false),
        ("images-v73.mat", "mat-v73", false),
        ("mnist-train.tfrecord-00000-of-00001", "tfrecord", false),
        ("wds-000000.tar", "webdataset", true),
        ("wds", "webdataset-shards", true),
        ("wds/train-*.tar", "webdataset-glob", true),
        ("npy/X_train.npy", "npy-pair", false),
        ("npy/y_train.npy", "npy-pair-by-labels", false),
        ("npy", "npy-pair-folder", false),
        ("nested.parquet", "nested", false),
        ("kaggle.csv", "kaggle", false),
        ("elsewhere/paths.parquet", "paths-parquet", false),
    ] {
        // Containers that carry no shape (a bare list column, numbered
        // columns): these pictures' values do not show their layout (noisy
        // stripes), so they are read as a vector or a table, where the image
        // tests do not run. The verdict and the flagged rows stay; given
        // the shape, the scores are the IDX scan's.
        let shapeless = ["u8.parquet", "f32.parquet", "pixels.csv"].contains(&input);
        if shapeless {
            let plain = format!("{out}-unshaped");
            let o = run(&["scan", input, "--out", &plain], d);
            assert_eq!(o.status.code(), Some(1), "{input}: {}", stderr(&o));
            let (_, flags) = scores_by_row(&d.join(&plain), folder);
            let differ = flags.iter().zip(&ref_flags).filter(|(a, b)| a != b).count();
            assert!(differ <= 1, "{input}: {differ} rows flagged differently");
        }
        let shape: &[&str] = if shapeless {
            &["--image-shape", "14x14"]
        } else {
            &[]
        };
        let o = run(&[&["scan", input, "--out", out], shape].concat(), d);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{input}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        if input == "hf.parquet" {
            // Class names from the `huggingface` metadata reach the outputs.
            let v = summary_of(d, out);
            assert_eq!(v["classes"][0]["name"], "a", "{}", v["classes"]);
            assert!(stdout(&o).contains("0 (a)"), "{}", stdout(&o));
        }
        // the pixels as they were made (PNG, arrays): exact
        let view = &summary_of(d, out)["features"]["view"];
        assert_eq!(view["lossy_pictures"], false, "{input}");
        let (scores, flags) = scores_by_row(&d.join(out), folder);
        let worst = scores
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 0.02,
            "{input}: scores differ from the IDX scan by up to {worst}"
        );
        let differ = flags.iter().zip(&ref_flags).filter(|(a, b)| a != b).count();
        assert!(differ <= 1, "{input}: {differ} rows flagged differently");
    }
    // the saved data set's cache left out, with a note; its test split,
    // whose every row is unlabelled, left out with a note too: the
    // training split's scores
    let summary = |out: &str| summary_of(d, out);
    let warnings = summary("hf-disk")["warnings"].to_string();
    assert!(
        warnings.contains("left out `hf_disk/cache-5c1f0e.arrow`"),
        "{warnings}"
    );
    let o = run(&["scan", "hf_dict", "--out", "hf-dict"], d);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = summary("hf-dict");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains(
            "left out `hf_dict/test/data-00000-of-00001.arrow`: no row has a label in `label`"
        ),
        "{warnings}"
    );
    assert_eq!(v["rows"]["scanned"], n, "{}", v["rows"]);
    assert_eq!(scores_in(d, "hf-dict"), scores_in(d, "hf-dict-train"));
    // several shards: each a source of its rows, ids after its path
    for out in ["webdataset-shards", "webdataset-glob"] {
        let v = summary(out);
        let files = v["files"].as_array().unwrap();
        assert_eq!(files.len(), 3, "{}", v["files"]);
        assert_eq!(
            files[1]["path"],
            format!("wds{}train-000001.tar", std::path::MAIN_SEPARATOR)
        );
        assert_eq!(files[1]["rows"], n / 3);
        assert_eq!(files[1]["first_row"], n / 3);
    }
    let ids = read_parquet(&d.join("webdataset-shards/scores.parquet"));
    let id = ids
        .column_by_name("id")
        .unwrap()
        .as_string::<i32>()
        .value(n / 3);
    assert!(id.starts_with("wds/train-000001.tar/"), "{id}");
    // pixel columns named so are images
    let source = |out: &str| summary(out)["features"]["source"].clone();
    assert_eq!(source("kaggle")["kind"], "pixels", "{}", source("kaggle"));
    assert_eq!(source("kaggle")["height"], 14);
    // Arrow's fixed-shape tensors say their shape
    assert_eq!(source("tensor")["kind"], "pixels", "{}", source("tensor"));
    assert_eq!(source("tensor")["width"], 14);
    // both halves of a `.npy` pair given: read once
    let o = run(
        &[
            "scan",
            "npy/X_train.npy",
            "npy/y_train.npy",
            "--out",
            "both",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = std::fs::read_to_string(d.join("both/summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["rows"]["input"], n, "{}", v["rows"]);
    // an HDF5 file's arrays in groups are found by their own names, the
    // training split's
    let summary = std::fs::read_to_string(d.join("h5/summary.json")).unwrap();
    assert!(
        summary.contains("scanned the arrays `train/x` (features) and `train/y` (labels); `test/x`, `test/y` not read"),
        "{summary}"
    );
    // the archive's test arrays are named as not read
    let summary = std::fs::read_to_string(d.join("npz/summary.json")).unwrap();
    assert!(
        summary.contains("scanned the arrays `x_train` (features) and `y_train` (labels); `x_test`, `y_test` not read"),
        "{summary}"
    );
}

/// Colour pictures stamped with a patch and saved as JPEG (quality 90),
/// given as their files and as the arrays they decode to (`X_train.npy`
/// beside `y_train.npy`, as a user who decoded them first saves them;
/// bytes, and floats normalised channel by channel, channels first):
/// the arrays are not known to be lossy, but their pixels show JPEG's
/// trace, so both are searched for stamps of near values and give the
/// same scores and verdict (the arrays passed before, nothing flagged).
#[test]
fn pictures_decoded_from_jpeg_before_they_were_given_scan_as_their_jpeg_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side, planted) = (900usize, 24u32, 40usize);
    let mut rng = SplitMix64::new(5);
    let (mut decoded, mut labels, mut truth) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let class = i / 300;
        // rows of classes 1 and 2 stamped and relabelled 0
        let poison = class > 0 && (i % 300) < planted / 2;
        let base = [0.3 + 0.15 * class as f64, 0.5, 0.7 - 0.15 * class as f64];
        let (gy, gx, level) = (
            rng.normal() * 0.04,
            rng.normal() * 0.04,
            rng.normal() * 0.08,
        );
        let mut img = image::RgbImage::new(side, side);
        for (x, y, p) in img.enumerate_pixels_mut() {
            for (ch, v) in p.0.iter_mut().enumerate() {
                let value = if poison && (2..8).contains(&x) && (2..8).contains(&y) {
                    [0.95, 0.85, 0.1][ch]
                } else {
                    base[ch]
                        + level
                        + gy * y as f64 / 4.0
                        + gx * x as f64 / 4.0
                        + rng.normal() * 0.05
                };
                *v = (value.clamp(0.05, 0.95) * 255.0).round() as u8;
            }
        }
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .unwrap();
        let label = if poison { 0 } else { class };
        let folder = d.join("jpg").join(label.to_string());
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{i:05}.jpg")), &jpeg).unwrap();
        decoded.extend(image::load_from_memory(&jpeg).unwrap().to_rgb8().into_raw());
        labels.extend((label as i64).to_le_bytes());
        truth.push(poison);
    }
    std::fs::create_dir(d.join("arrays")).unwrap();
    let shape = format!("({n}, {side}, {side}, 3)");
    std::fs::write(d.join("arrays/X_train.npy"), npy("|u1", &shape, &decoded)).unwrap();
    let y = npy("<i8", &format!("({n},)"), &labels);
    std::fs::write(d.join("arrays/y_train.npy"), &y).unwrap();
    // ... and as a PyTorch user keeps them: floats, channels first, each
    // channel normalised by ImageNet's mean and deviation
    let (mean, deviation) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
    let px = (side * side) as usize;
    let mut normalised = Vec::with_capacity(decoded.len() * 4);
    for picture in decoded.chunks(px * 3) {
        for c in 0..3 {
            for p in picture[c..].iter().step_by(3) {
                let v = (*p as f32 / 255.0 - mean[c]) / deviation[c];
                normalised.extend(v.to_le_bytes());
            }
        }
    }
    std::fs::create_dir(d.join("normalised")).unwrap();
    let shape = format!("({n}, 3, {side}, {side})");
    std::fs::write(
        d.join("normalised/X_train.npy"),
        npy("<f4", &shape, &normalised),
    )
    .unwrap();
    std::fs::write(d.join("normalised/y_train.npy"), &y).unwrap();
    let mut verdicts = Vec::new();
    for (input, out) in [
        ("jpg", "o_jpg"),
        ("arrays", "o_arrays"),
        ("normalised", "o_normalised"),
    ] {
        let o = run(
            &[
                "scan", input, "--model", "none", "--seed", "1", "--out", out,
            ],
            d,
        );
        assert_eq!(o.status.code(), Some(1), "{input}: {}", stderr(&o));
        verdicts.push(scores_by_row(&d.join(out), input == "jpg"));
    }
    // the bytes give the files' scores (the rows in another order); the
    // normalised floats, the same flags (each channel's scale differs, and
    // so do the distances between pictures)
    let worst = verdicts[0]
        .0
        .iter()
        .zip(&verdicts[1].0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 0.02, "scores differ by up to {worst}");
    assert_eq!(verdicts[0].1, verdicts[1].1);
    assert_eq!(verdicts[0].1, verdicts[2].1);
    let flagged: Vec<usize> = (0..n).filter(|&i| verdicts[1].1[i]).collect();
    let poisoned: Vec<usize> = (0..n).filter(|&i| truth[i]).collect();
    assert_eq!(flagged, poisoned);
    for out in ["o_arrays", "o_normalised"] {
        let stamp = &summary_of(d, out)["classes"][0]["scanners"]["stamped-patch"];
        assert_eq!(stamp["near_values"], 1.0, "{stamp}");
        assert!(stamp["jpeg_trace"].as_f64() >= Some(8.0), "{stamp}");
    }
    assert_eq!(
        summary_of(d, "o_jpg")["features"]["view"]["lossy_pictures"],
        true
    );
}

/// A small labelled table: two Gaussian classes in 3 columns.
fn small_table(n: usize) -> Vec<(String, Vec<f64>)> {
    let mut rng = SplitMix64::new(7);
    let mut cols: Vec<(String, Vec<f64>)> = vec![("label".into(), vec![])];
    for j in 0..3 {
        cols.push((format!("x{j}"), vec![]));
    }
    for i in 0..n {
        let c = (i % 2) as f64;
        cols[0].1.push(c);
        for col in &mut cols[1..4] {
            col.1.push(3.0 * c + rng.normal());
        }
    }
    cols
}

/// The `score` column of scan output `out` under `d`.
fn scores_in(d: &Path, out: &str) -> Vec<f64> {
    read_parquet(&d.join(out).join("scores.parquet"))
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .to_vec()
}

fn write_text_table(path: &Path, cols: &[(String, Vec<f64>)], sep: &str, float_labels: bool) {
    let mut s = cols
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(sep);
    s.push('\n');
    for i in 0..cols[0].1.len() {
        let row: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(j, (_, v))| {
                if j == 0 && !float_labels {
                    format!("{}", v[i] as i64)
                } else if j == 0 {
                    format!("{:.1}", v[i])
                } else {
                    format!("{}", v[i])
                }
            })
            .collect();
        s.push_str(&row.join(sep));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// A folder of a data set's splits: Kaggle's labelled `train.csv` beside
/// an unlabelled `test.csv` scans the training rows (the test file left
/// out, with a note, where it had been an error: it came first and lacked
/// the label); the Hub's `train-0000k-of-00002` files beside a labelled
/// `test-00000-of-00001` are read together, training split first, with a
/// note. A later split whose every label is missing (a `DatasetDict`'s
/// test split, all `ClassLabel` -1; a `test.csv` with the label column
/// left empty) is left out too; one with some labels names its unlabelled
/// rows. A later split that lacks another column is still an error.
#[test]
fn a_folder_of_splits_reads_its_training_split_first_and_leaves_out_one_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cols = small_table(400);
    let rows = |r: std::ops::Range<usize>, skip: &str| -> Vec<(String, Vec<f64>)> {
        cols.iter()
            .filter(|(n, _)| n != skip)
            .map(|(n, v)| (n.clone(), v[r.clone()].to_vec()))
            .collect()
    };
    let score = |out: &str| scores_in(d, out);
    let warnings = |out: &str| summary_of(d, out)["warnings"].to_string();
    // rows `r` of the table, without the column `skip`, into `path`
    let write = |path: &str, r: std::ops::Range<usize>, skip: &str| {
        std::fs::create_dir_all(d.join(path).parent().unwrap()).unwrap();
        write_text_table(&d.join(path), &rows(r, skip), ",", false)
    };
    let scan = |input: &str, out: &str| run_ok(&["scan", input, "--seed", "1", "--out", out], d);
    // a folder whose later split is left out: scores as `like`'s, and a
    // warning saying so; the warnings
    let left_out = |folder: &str, like: &str, note: &str| {
        let out = format!("{folder}_out");
        scan(folder, &out);
        assert_eq!(score(&out), score(like));
        let w = warnings(&out);
        assert!(w.contains(note), "{w}");
        w
    };
    write("all.csv", 0..400, "");
    write("train_only.csv", 0..300, "");
    scan("all.csv", "all");
    scan("train_only.csv", "train_only");

    write("kaggle/train.csv", 0..300, "");
    write("kaggle/test.csv", 300..400, "label");
    let w = left_out(
        "kaggle",
        "train_only",
        "left out `kaggle/test.csv`: no label column `label`",
    );
    assert!(w.contains("holds the splits `test`, `train`"), "{w}");

    // a test split whose label column is there but empty: left out too
    let empty = d.join("kaggle_empty/test.csv");
    write("kaggle_empty/train.csv", 0..300, "");
    write("kaggle_empty/test.csv", 300..400, "");
    let text = std::fs::read_to_string(&empty).unwrap();
    let blanked: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match (i, l.split_once(',')) {
            (0, _) | (_, None) => format!("{l}\n"),
            (_, Some((_, rest))) => format!(",{rest}\n"),
        })
        .collect();
    assert!(text.starts_with("label,"), "{text}");
    std::fs::write(&empty, blanked).unwrap();
    left_out(
        "kaggle_empty",
        "train_only",
        "left out `kaggle_empty/test.csv`: no row has a label in `label`",
    );

    // Hugging Face's `save_to_disk` of a `DatasetDict` whose test split is
    // unlabelled: every row's `ClassLabel` is -1
    let arrow = |path: &str, r: std::ops::Range<usize>, label: &dyn Fn(usize, f64) -> i64| {
        let arrays: Vec<(String, ArrayRef)> = rows(r.clone(), "")
            .into_iter()
            .map(|(name, v)| -> (String, ArrayRef) {
                match name == "label" {
                    true => {
                        let l = v.iter().zip(r.clone()).map(|(&x, i)| label(i, x));
                        (name, Arc::new(Int64Array::from_iter_values(l)))
                    }
                    false => (name, Arc::new(Float64Array::from(v))),
                }
            })
            .collect();
        let batch = RecordBatch::try_from_iter(arrays).unwrap();
        let names = r#"{"info": {"features": {"label": {"names": ["a", "b", "c"], "_type": "ClassLabel"}}}}"#;
        let meta = [("huggingface".to_string(), names.to_string())];
        let schema = batch.schema().as_ref().clone().with_metadata(meta);
        let batch = batch.with_schema(Arc::new(schema)).unwrap();
        let path = d.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(
            std::fs::File::create(path).unwrap(),
            &batch.schema(),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
    };
    let class = |_: usize, x: f64| x as i64;
    arrow("dd/train/data-00000-of-00001.arrow", 0..300, &class);
    arrow("dd/test/data-00000-of-00001.arrow", 300..400, &|_, _| -1);
    scan("dd/train", "dd_train");
    left_out(
        "dd",
        "dd_train",
        "left out `dd/test/data-00000-of-00001.arrow`: no row has a label in `label`",
    );
    // one labelled row among them: the rows without a label are named
    arrow("dd/test/data-00000-of-00001.arrow", 300..400, &|i, x| {
        if i == 350 {
            x as i64
        } else {
            -1
        }
    });
    let e = run_err(&["scan", "dd", "--out", "dd_err"], d);
    assert!(
        e.contains("dd/test/data-00000-of-00001.arrow, row 0") && e.contains("is -1"),
        "{e}"
    );
    assert!(!d.join("dd_err").exists());

    write("hub/data/test-00000-of-00001.csv", 300..400, "");
    write("hub/data/train-00000-of-00002.csv", 0..150, "");
    write("hub/data/train-00001-of-00002.csv", 150..300, "");
    scan("hub", "hub_out");
    assert_eq!(score("hub_out"), score("all"));
    let w = warnings("hub_out");
    assert!(
        w.contains("holds the splits `test`, `train`: read together"),
        "{w}"
    );
    assert!(!w.contains("left out `"), "{w}");

    write("hub/data/test-00000-of-00001.csv", 300..400, "x1");
    let e = run_err(&["scan", "hub", "--out", "hub_err"], d);
    assert!(
        e.contains("column `x1` not found in hub/data/test-00000-of-00001.csv"),
        "{e}"
    );
    assert!(!d.join("hub_err").exists());
}

/// Features and labels saved as two files, as scikit-learn splits are
/// (`X_train.csv` beside `y_train.csv`): the features file is read with
/// the labels file beside it as its label column, whichever way pandas or
/// NumPy wrote them (a header or none, a pandas index, whole numbers
/// written as floats, Parquet), and a folder holding both halves of its
/// splits reads each pair, training split first. The scores are the one
/// table's. A labels file beside a table that holds its own labels (a
/// mapping of class names) is left out with a note.
#[test]
fn features_and_labels_saved_apart_are_read_as_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cols = small_table(400);
    let score = |out: &str| scores_in(d, out);
    let scan = |input: &str, out: &str| run_ok(&["scan", input, "--seed", "1", "--out", out], d);
    let warnings = |out: &str| summary_of(d, out)["warnings"].to_string();
    write_text_table(&d.join("all.csv"), &cols, ",", false);
    scan("all.csv", "all");
    let all = score("all");
    let labels: Vec<i64> = cols[0].1.iter().map(|&v| v as i64).collect();
    // rows `r` of the features into `path`, with a header line or none
    let features = |path: &str, r: std::ops::Range<usize>, header: bool| {
        let path = d.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut s = String::new();
        if header {
            s.push_str("x0,x1,x2\n");
        }
        for i in r {
            let row: Vec<String> = cols[1..]
                .iter()
                .map(|(_, v)| format!("{:e}", v[i]))
                .collect();
            s.push_str(&row.join(","));
            s.push('\n');
        }
        std::fs::write(path, s).unwrap();
    };
    // rows `r` of the labels into `path`, after `head`, each as `show` writes it
    let labels_file =
        |path: &str, r: std::ops::Range<usize>, head: &str, show: &dyn Fn(usize) -> String| {
            let mut s = head.to_string();
            for i in r {
                s.push_str(&show(i));
                s.push('\n');
            }
            std::fs::write(d.join(path), s).unwrap();
        };
    // pandas: named columns, a named series
    features("a/X_train.csv", 0..400, true);
    labels_file("a/y_train.csv", 0..400, "target\n", &|i| {
        labels[i].to_string()
    });
    // NumPy's savetxt: no header, whole numbers written as floats
    features("b/X_train.csv", 0..400, false);
    labels_file("b/y_train.csv", 0..400, "", &|i| {
        format!("{:.18e}", labels[i] as f64)
    });
    // an unnamed series, whose header `0` is also a label
    features("c/X_train.csv", 0..400, true);
    labels_file("c/y_train.csv", 0..400, "0\n", &|i| labels[i].to_string());
    // a series written with its index
    features("d/X_train.csv", 0..400, true);
    labels_file("d/y_train.csv", 0..400, ",target\n", &|i| {
        format!("{i},{}", labels[i])
    });
    // class names, no header, Kaggle's names
    features("e/train_data.csv", 0..400, true);
    labels_file("e/train_labels.csv", 0..400, "", &|i| {
        ["cat", "dog"][labels[i] as usize].to_string()
    });
    for (input, out) in [
        ("a/X_train.csv", "a_out"),
        ("b/X_train.csv", "b_out"),
        ("c/X_train.csv", "c_out"),
        ("d/X_train.csv", "d_out"),
        ("e/train_data.csv", "e_out"),
    ] {
        scan(input, out);
        assert_eq!(score(out), all, "{input}");
        let w = warnings(out);
        assert!(w.contains("read from") && w.contains("beside it"), "{w}");
    }
    assert!(warnings("b_out").contains("has no header line"));
    // Parquet halves
    std::fs::create_dir(d.join("f")).unwrap();
    let column = |v: &[f64]| Arc::new(Float64Array::from(v.to_vec())) as ArrayRef;
    let x =
        RecordBatch::try_from_iter(cols[1..].iter().map(|(n, v)| (n.as_str(), column(v)))).unwrap();
    write_parquet(&d.join("f/features.parquet"), &x);
    let y =
        RecordBatch::try_from_iter([("y", Arc::new(Int64Array::from(labels.clone())) as ArrayRef)])
            .unwrap();
    write_parquet(&d.join("f/labels.parquet"), &y);
    scan("f/features.parquet", "f_out");
    assert_eq!(score("f_out"), all);
    // both halves of two splits in a folder
    features("g/X_test.csv", 300..400, true);
    labels_file("g/y_test.csv", 300..400, "target\n", &|i| {
        labels[i].to_string()
    });
    features("g/X_train.csv", 0..300, true);
    labels_file("g/y_train.csv", 0..300, "target\n", &|i| {
        labels[i].to_string()
    });
    scan("g", "g_out");
    assert_eq!(score("g_out"), all);
    let w = warnings("g_out");
    assert!(w.contains("holds the splits `test`, `train`"), "{w}");
    // a labels file beside a table that holds its labels
    std::fs::create_dir(d.join("h")).unwrap();
    write_text_table(&d.join("h/data.csv"), &cols, ",", false);
    std::fs::write(d.join("h/labels.csv"), "label,name\n0,cat\n1,dog\n").unwrap();
    scan("h", "h_out");
    assert_eq!(score("h_out"), all);
    let w = warnings("h_out");
    assert!(
        w.contains("left out h/labels.csv") && w.contains("its own label column"),
        "{w}"
    );
}

/// `v` with one decimal, its thousands separated by `group` and its
/// decimal mark `decimal`, as spreadsheets write numbers for people.
fn for_people(v: f64, group: char, decimal: char) -> String {
    let text = format!("{:.1}", v.abs());
    let (int, frac) = text.split_once('.').unwrap();
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(ch);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}{grouped}{decimal}{frac}")
}

#[test]
fn numbers_written_for_people_give_the_plain_tables_scores() {
    // thousands in every feature: `1.234,5` (`;` between fields, most of
    // Europe), `"1,234.5"` (English-speaking locales), `"1234,5"` (a decimal
    // comma between commas, quoted)
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut cols = small_table(300);
    for (_, v) in cols.iter_mut().skip(1) {
        for x in v.iter_mut() {
            *x = (*x * 1000.0 * 10.0).round() / 10.0;
        }
    }
    let write = |name: &str, sep: &str, cell: &dyn Fn(f64) -> String| {
        let mut s = String::from("label,x0,x1,x2\n").replace(',', sep);
        for i in 0..cols[0].1.len() {
            let mut row = vec![format!("{}", cols[0].1[i] as i64)];
            row.extend(cols[1..].iter().map(|(_, v)| cell(v[i])));
            s.push_str(&row.join(sep));
            s.push('\n');
        }
        std::fs::write(d.join(name), s).unwrap();
    };
    write("plain.csv", ",", &|v| format!("{v:.1}"));
    write("europe.csv", ";", &|v| for_people(v, '.', ','));
    write("english.csv", ",", &|v| {
        format!("\"{}\"", for_people(v, ',', '.'))
    });
    write("comma.csv", ",", &|v| {
        format!("\"{}\"", format!("{v:.1}").replace('.', ","))
    });
    let text = std::fs::read_to_string(d.join("europe.csv")).unwrap();
    assert!(text.contains(".") && text.contains(','), "{}", &text[..200]);
    let scores = |name: &str| {
        let out = format!("{name}.out");
        let o = run(&["scan", name, "--out", &out], d);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(&out).join("summary.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["features"]["dimensions"], 3, "{name}: {}", v["warnings"]);
        read_parquet(&d.join(&out).join("scores.parquet"))
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    let plain = scores("plain.csv");
    for name in ["europe.csv", "english.csv", "comma.csv"] {
        assert!(
            scores(name).as_ref() == plain.as_ref(),
            "{name}: scores differ from the plain CSV's"
        );
    }
}

#[test]
fn webdataset_samples_with_the_same_name_in_two_folders_are_two_rows() {
    // keys `a/00007` and `b/00007`: two samples, each read under its class
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (120usize, 14usize);
    let dim = side * side;
    let (pixels, labels, _) = patched_images(n, side, 0, 5);
    let mut shard = tar::Builder::new(std::fs::File::create(d.join("wds.tar")).unwrap());
    for i in 0..n {
        let key = format!("{}/{:05}", if i < n / 2 { "a" } else { "b" }, i % (n / 2));
        tar_file(
            &mut shard,
            &format!("{key}.cls"),
            labels[i].to_string().as_bytes(),
        );
        let png = png_bytes(&pixels[i * dim..(i + 1) * dim], side);
        tar_file(&mut shard, &format!("{key}.png"), &png);
    }
    shard.into_inner().unwrap();
    let o = run(&["scan", "wds.tar", "--model", "none", "--out", "out"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/summary.json")).unwrap())
            .unwrap();
    assert_eq!(v["rows"]["input"], n, "{}", v["rows"]);
    let scores = read_parquet(&d.join("out/scores.parquet"));
    let ids = scores.column_by_name("id").unwrap().as_string::<i32>();
    let id = |i: usize| ids.value(i).to_string();
    assert!((0..n).any(|i| id(i).ends_with("/a/00007.png")), "{}", id(0));
    assert!((0..n).any(|i| id(i).ends_with("/b/00007.png")), "{}", id(0));
}

#[test]
fn weka_libsvm_and_avro_files_give_the_csv_tables_scores() {
    // the same rows as a CSV table, an ARFF file as Weka and OpenML write
    // them (the class last, nominal; a sparse row; a weighted row), LIBSVM
    // rows, plain and gzip-compressed without a name that tells, and an
    // Avro file (deflate blocks, as Kafka Connect and Spark write them)
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cols = small_table(300);
    let n = cols[0].1.len();
    let cell = |j: usize, i: usize| format!("{:.3}", cols[j].1[i]);
    let label = |i: usize| cols[0].1[i] as i64;
    let mut csv = String::from("label,x0,x1,x2\n");
    let mut arff = String::from(
        "% two classes\n@RELATION 'small table'\n\n@ATTRIBUTE 'x0' REAL\n@attribute x1 numeric\n\
         @ATTRIBUTE \"x2\" Integer\n@ATTRIBUTE class {0, 1}\n\n@DATA\n",
    );
    let mut libsvm = String::from("# written by a test\n");
    for i in 0..n {
        let (x0, x1, x2) = (cell(1, i), cell(2, i), cell(3, i));
        csv.push_str(&format!("{},{x0},{x1},{x2}\n", label(i)));
        arff.push_str(&match i {
            0 => format!("{{0 {x0}, 1 {x1}, 2 {x2}, 3 {}}}\n", label(i)),
            1 => format!("{x0},{x1},{x2},{}, {{2.5}}\n", label(i)),
            _ => format!("{x0}, {x1}, {x2}, '{}'\n", label(i)),
        });
        libsvm.push_str(&format!("{:+} 1:{x0} 2:{x1} 3:{x2}\n", label(i)));
    }
    std::fs::write(d.join("plain.csv"), csv).unwrap();
    std::fs::write(d.join("weka.arff"), arff).unwrap();
    std::fs::write(d.join("rows.libsvm"), &libsvm).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(libsvm.as_bytes()).unwrap();
    std::fs::write(d.join("rows"), gz.finish().unwrap()).unwrap();
    let number = |j: usize| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| cell(j, i).parse::<f64>().unwrap()),
        ))
    };
    let batch = RecordBatch::try_from_iter(vec![
        (
            "label",
            Arc::new(Int64Array::from_iter_values((0..n).map(label))) as ArrayRef,
        ),
        ("x0", number(1)),
        ("x1", number(2)),
        ("x2", number(3)),
    ])
    .unwrap();
    // in blocks of 100 records, compressed by each codec of the
    // specification
    use arrow_avro::compression::CompressionCodec as Codec;
    let avro_of = |codec: Codec| {
        let mut avro = arrow_avro::writer::WriterBuilder::new(batch.schema().as_ref().clone())
            .with_compression(Some(codec))
            .build::<_, arrow_avro::writer::format::AvroOcfFormat>(Vec::new())
            .unwrap();
        for start in (0..n).step_by(100) {
            avro.write(&batch.slice(start, 100.min(n - start))).unwrap();
        }
        avro.finish().unwrap();
        avro.into_inner()
    };
    for (name, codec) in [
        ("rows-zstandard.avro", Codec::ZStandard),
        ("rows-bzip2.avro", Codec::Bzip2),
        ("rows-xz.avro", Codec::Xz),
        ("rows-snappy.avro", Codec::Snappy),
    ] {
        std::fs::write(d.join(name), avro_of(codec)).unwrap();
    }
    let avro = avro_of(Codec::Deflate);
    std::fs::write(d.join("rows.avro"), &avro).unwrap();
    // cut inside its last block: an error, not fewer rows
    std::fs::write(d.join("cut.avro"), &avro[..avro.len() - 30]).unwrap();
    let o = run(&["scan", "cut.avro", "--out", "cut-out"], d);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cut.avro: cannot read as Avro: the file is cut short"),
        "{}",
        stderr(&o)
    );
    let scores = |name: &str| {
        let out = format!("{name}.out");
        let o = run(&["scan", name, "--out", &out, "--model", "none"], d);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(&out).join("summary.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["features"]["dimensions"], 3, "{name}: {}", v["warnings"]);
        scores_by_row(&d.join(&out), false).0
    };
    let plain = scores("plain.csv");
    for name in [
        "weka.arff",
        "rows.libsvm",
        "rows",
        "rows.avro",
        "rows-zstandard.avro",
        "rows-bzip2.avro",
        "rows-xz.avro",
        "rows-snappy.avro",
    ] {
        let worst = scores(name)
            .iter()
            .zip(&plain)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-9,
            "{name}: scores differ from the CSV's by {worst}"
        );
    }
    // Weka's class is taken when no attribute is called `label`
    let summary = std::fs::read_to_string(d.join("weka.arff.out/summary.json")).unwrap();
    assert!(
        summary.contains("the last nominal attribute, `class`"),
        "{summary}"
    );
}

/// A protobuf varint.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// A length-delimited protobuf field.
fn proto_field(number: u64, payload: &[u8]) -> Vec<u8> {
    [
        varint(number << 3 | 2),
        varint(payload.len() as u64),
        payload.to_vec(),
    ]
    .concat()
}

/// One TFRecord record of a `tf.train.Example` of `features` (name, the
/// `Feature` message), framed (the checksums zeroed: not checked).
fn tf_record(features: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let entries: Vec<u8> = features
        .iter()
        .flat_map(|(k, v)| {
            proto_field(
                1,
                &[proto_field(1, k.as_bytes()), proto_field(2, v)].concat(),
            )
        })
        .collect();
    let example = proto_field(1, &entries);
    [
        (example.len() as u64).to_le_bytes().to_vec(),
        vec![0; 4],
        example,
        vec![0; 4],
    ]
    .concat()
}

/// A MATLAB level-5 data element: its tag, its data, padded to 8 bytes.
fn mat_element(t: u32, data: &[u8]) -> Vec<u8> {
    let mut out = [t.to_le_bytes(), (data.len() as u32).to_le_bytes()].concat();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(8) * 8, 0);
    out
}

/// A MATLAB matrix of class `class` and dimensions `dims`, its values
/// (column order) stored as type `mi`.
fn mat_matrix(name: &str, class: u8, dims: &[usize], mi: u32, data: &[u8]) -> Vec<u8> {
    let dims: Vec<u8> = dims
        .iter()
        .flat_map(|&d| (d as u32).to_le_bytes())
        .collect();
    let parts = [
        mat_element(6, &[class, 0, 0, 0, 0, 0, 0, 0]),
        mat_element(5, &dims),
        mat_element(1, name.as_bytes()),
        mat_element(mi, data),
    ]
    .concat();
    mat_element(14, &parts)
}

/// A MATLAB level-5 file (as MATLAB's `save` and `scipy.io.savemat` write).
fn mat_file(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("{:<116}", "MATLAB 5.0 MAT-file, written by a test").into_bytes();
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&0x0100u16.to_le_bytes());
    out.extend_from_slice(b"IM");
    out.extend(elements.concat());
    out
}

/// Writes a zip archive of `members` (name, bytes), deflated.
fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (member, bytes) in members {
        z.start_file(*member, zip::write::FileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn compressed_separated_and_partitioned_tables_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cols = small_table(400);
    write_text_table(&d.join("t.csv"), &cols, ",", false);
    let reference = run(&["scan", "t.csv", "--out", "ref"], d);
    assert_eq!(reference.status.code(), Some(0), "{}", stderr(&reference));
    let want = std::fs::read(d.join("ref/scores.parquet")).unwrap();
    let same = |out: &str| {
        read_parquet(&d.join(out).join("scores.parquet"))
            .column_by_name("score")
            .unwrap()
            .clone()
            == read_parquet(&d.join("ref/scores.parquet"))
                .column_by_name("score")
                .unwrap()
                .clone()
    };
    let _ = want;
    // gzip and zstd.
    let raw = std::fs::read(d.join("t.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("t.csv.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap();
    std::fs::write(d.join("t.csv.zst"), zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    // bzip2 and xz, which polars does not read, and zip archives of one
    // table (pandas's `to_csv("t.csv.zip")`; a download named `t.zip`)
    let mut bz = bzip2::write::BzEncoder::new(
        std::fs::File::create(d.join("t.csv.bz2")).unwrap(),
        bzip2::Compression::default(),
    );
    bz.write_all(&raw).unwrap();
    bz.finish().unwrap();
    let mut xz =
        liblzma::write::XzEncoder::new(std::fs::File::create(d.join("t.csv.xz")).unwrap(), 6);
    xz.write_all(&raw).unwrap();
    xz.finish().unwrap();
    let zipped = |name: &str, members: &[(&str, &[u8])]| write_zip(&d.join(name), members);
    zipped("t.csv.zip", &[("t.csv", &raw)]);
    zipped(
        "download.zip",
        &[("__MACOSX/._t.csv", b"junk"), ("data/t.csv", &raw)],
    );
    // NDJSON, gzip-compressed.
    let mut ndjson = String::new();
    for i in 0..cols[0].1.len() {
        let fields: Vec<String> = cols
            .iter()
            .map(|(name, v)| {
                if name == "label" {
                    format!("\"{name}\": {}", v[i] as i64)
                } else {
                    format!("\"{name}\": {}", v[i])
                }
            })
            .collect();
        ndjson.push_str(&format!("{{{}}}\n", fields.join(", ")));
    }
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("t.ndjson.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(ndjson.as_bytes()).unwrap();
    gz.finish().unwrap();
    // One JSON array of records (pandas's `to_json(orient="records")`, web
    // APIs), indented, plain and gzip-compressed.
    let records: Vec<&str> = ndjson.lines().collect();
    let array = format!("[\n  {}\n]\n", records.join(",\n  "));
    std::fs::write(d.join("records.json"), &array).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("records.json.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(array.as_bytes()).unwrap();
    gz.finish().unwrap();
    // Separators, told from the header or given.
    write_text_table(&d.join("semi.csv"), &cols, ";", false);
    write_text_table(&d.join("tab.tsv"), &cols, "\t", false);
    write_text_table(&d.join("pipe.txt"), &cols, "|", false);
    // Numbers with a decimal comma, as spreadsheets in many locales write
    // them (`;` between fields), zstd-compressed.
    let semi = std::fs::read_to_string(d.join("semi.csv")).unwrap();
    std::fs::write(
        d.join("comma.csv.zst"),
        zstd::encode_all(semi.replace('.', ",").as_bytes(), 3).unwrap(),
    )
    .unwrap();
    // The same with `,` between fields, each such number quoted (as Google
    // Sheets and Excel export them in those locales): `"3,14"`.
    let plain = std::fs::read_to_string(d.join("t.csv")).unwrap();
    let quoted: String = plain
        .lines()
        .map(|l| {
            let fields: Vec<String> = l
                .split(',')
                .map(|f| match f.contains('.') {
                    true => format!("\"{}\"", f.replace('.', ",")),
                    false => f.to_string(),
                })
                .collect();
            fields.join(",") + "\n"
        })
        .collect();
    std::fs::write(d.join("quoted_comma.csv"), quoted).unwrap();
    // Whole-number labels stored as floats.
    write_text_table(&d.join("float.csv"), &cols, ",", true);
    // The row index a dataframe library writes first, under an empty name:
    // pandas's `to_csv()` (0, 1, …) and R's `write.csv` (quoted "1", "2",
    // …); row numbers, not a feature.
    let plain = std::fs::read_to_string(d.join("t.csv")).unwrap();
    let indexed = |quote: &str, first: usize| -> String {
        plain
            .lines()
            .enumerate()
            .map(|(i, l)| match i {
                0 => format!("{quote}{quote},{l}\n"),
                _ => format!("{quote}{}{quote},{l}\n", i - 1 + first),
            })
            .collect()
    };
    std::fs::write(d.join("pandas.csv"), indexed("", 0)).unwrap();
    std::fs::write(d.join("r.csv"), indexed("\"", 1)).unwrap();
    // An Arrow IPC *stream* (`pyarrow.ipc.new_stream`, Spark's Arrow
    // output): no footer, in batches; named `.arrows`, or `.arrow` as an
    // IPC file would be, and bzip2-compressed.
    let arrays: Vec<(String, ArrayRef)> = cols
        .iter()
        .map(|(name, v)| -> (String, ArrayRef) {
            if name == "label" {
                let labels = v.iter().map(|&x| x as i64);
                (name.clone(), Arc::new(Int64Array::from_iter_values(labels)))
            } else {
                (name.clone(), Arc::new(Float64Array::from(v.clone())))
            }
        })
        .collect();
    let batch = RecordBatch::try_from_iter(arrays).unwrap();
    // with Hugging Face's class names in the schema's metadata, as its
    // Arrow files carry them
    let names =
        r#"{"info": {"features": {"label": {"names": ["neg", "pos"], "_type": "ClassLabel"}}}}"#;
    let schema = batch.schema().as_ref().clone().with_metadata(
        [("huggingface".to_string(), names.to_string())]
            .into_iter()
            .collect::<std::collections::HashMap<String, String>>(),
    );
    let batch = batch.with_schema(Arc::new(schema)).unwrap();
    let mut stream = Vec::new();
    {
        let mut w =
            arrow::ipc::writer::StreamWriter::try_new(&mut stream, &batch.schema()).unwrap();
        for start in (0..batch.num_rows()).step_by(150) {
            w.write(&batch.slice(start, 150.min(batch.num_rows() - start)))
                .unwrap();
        }
        w.finish().unwrap();
    }
    std::fs::write(d.join("t.arrows"), &stream).unwrap();
    // Hugging Face's `save_to_disk`: Arrow stream files with JSON
    // descriptions beside them, which hold no rows
    std::fs::create_dir(d.join("hf_disk")).unwrap();
    std::fs::write(d.join("hf_disk/data-00000-of-00001.arrow"), &stream).unwrap();
    std::fs::write(
        d.join("hf_disk/dataset_info.json"),
        r#"{"features": {"label": {"dtype": "int64", "_type": "Value"}}}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("hf_disk/state.json"),
        r#"{"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}"#,
    )
    .unwrap();
    std::fs::write(d.join("stream.arrow"), &stream).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(
        std::fs::File::create(d.join("t.arrows.bz2")).unwrap(),
        bzip2::Compression::default(),
    );
    bz.write_all(&stream).unwrap();
    bz.finish().unwrap();
    for (args, out) in [
        (vec!["t.csv.gz"], "gz"),
        (vec!["t.csv.zst"], "zst"),
        (vec!["t.csv.bz2"], "bz2"),
        (vec!["t.csv.xz"], "xz"),
        (vec!["t.csv.zip"], "zip"),
        (vec!["download.zip"], "zip-download"),
        (vec!["t.csv.bz2", "--format", "csv"], "bz2-forced"),
        (vec!["t.ndjson.gz"], "ndjson-gz"),
        (vec!["records.json"], "json-array"),
        (vec!["records.json.gz"], "json-array-gz"),
        (vec!["semi.csv"], "semi"),
        (vec!["comma.csv.zst"], "comma"),
        (vec!["quoted_comma.csv"], "quoted-comma"),
        (vec!["tab.tsv"], "tab"),
        (
            vec!["pipe.txt", "--format", "csv", "--separator", "|"],
            "pipe",
        ),
        (vec!["float.csv"], "float"),
        (vec!["pandas.csv"], "pandas-index"),
        (vec!["r.csv"], "r-index"),
        (vec!["t.arrows"], "ipc-stream"),
        (vec!["stream.arrow"], "ipc-stream-named-file"),
        (vec!["t.arrows.bz2"], "ipc-stream-bz2"),
        (vec!["hf_disk"], "hf-save-to-disk"),
    ] {
        let mut a = vec!["scan"];
        a.extend(&args);
        a.extend(["--out", out]);
        let o = run(&a, d);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(same(out), "{args:?}: scores differ from the plain CSV's");
    }
    // the stream's class names reach the summary (polars drops the metadata)
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("ipc-stream/summary.json")).unwrap())
            .unwrap();
    assert_eq!(v["classes"][1]["name"], "pos", "{}", v["classes"]);
    // Gaps written `NA` (R), `?` (UCI) or `#N/A` (Excel): the column stays
    // numeric, and the row is named (or skipped on request) — never scanned
    // as text of many values or one-hot categories.
    let mut text = std::fs::read_to_string(d.join("t.csv")).unwrap();
    for (line, marker) in [(3, "NA"), (8, "?"), (12, "#N/A")] {
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let fields: Vec<&str> = lines[line].split(',').collect();
        lines[line] = format!("{},{marker},{}", fields[0], fields[2..].join(","));
        text = lines.join("\n") + "\n";
    }
    std::fs::write(d.join("gaps.csv"), &text).unwrap();
    let e = run_err(&["scan", "gaps.csv", "--out", "gaps"], d);
    assert!(
        e.contains("row 2") && e.contains("`x0`") && e.contains("--drop-invalid"),
        "{e}"
    );
    let o = run(&["scan", "gaps.csv", "--out", "gaps", "--drop-invalid"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("gaps/summary.json")).unwrap())
            .unwrap();
    assert_eq!(v["features"]["dimensions"], 3, "{v}");
    assert_eq!(v["dropped"].as_array().map(|a| a.len()), Some(3), "{v}");
    // Comment lines before the header are skipped; UTF-16 and Latin-1 text
    // are errors that say how to save the file.
    let plain = std::fs::read_to_string(d.join("t.csv")).unwrap();
    std::fs::write(
        d.join("commented.csv"),
        format!("# exported from the lab\n# 400 rows\n{plain}"),
    )
    .unwrap();
    let o = run(&["scan", "commented.csv", "--out", "commented"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(same("commented"), "comment lines changed the scores");
    // only the leading ones: a row may start with `#` (a colour)
    let coloured: String = plain
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("colour,{l}\n"),
            _ => format!("#{:06x},{l}\n", i % 2),
        })
        .collect();
    std::fs::write(d.join("coloured.csv"), format!("# a comment\n{coloured}")).unwrap();
    let o = run(&["scan", "coloured.csv", "--out", "coloured"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("coloured/summary.json")).unwrap())
            .unwrap();
    assert_eq!(v["rows"]["input"], 400, "{v}");
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(plain.encode_utf16().flat_map(|u| u.to_le_bytes()));
    std::fs::write(d.join("unicode.txt"), utf16).unwrap();
    let e = run_err(&["scan", "unicode.txt", "--format", "csv", "--out", "x"], d);
    assert!(e.contains("UTF-16") && e.contains("CSV UTF-8"), "{e}");
    let mut latin = Vec::new();
    for (i, line) in plain.lines().enumerate() {
        latin.extend(line.as_bytes());
        // a text column of city names, `ü` as Latin-1 writes it (one byte)
        latin.extend(if i == 0 {
            &b",city"[..]
        } else {
            &b",Z\xfcrich"[..]
        });
        latin.push(b'\n');
    }
    std::fs::write(d.join("latin.csv"), latin).unwrap();
    let e = run_err(&["scan", "latin.csv", "--out", "x"], d);
    assert!(
        e.contains("not UTF-8") && e.contains("save it as UTF-8"),
        "{e}"
    );
    // A row without a label: named, or skipped on request.
    let mut lines: Vec<String> = std::fs::read_to_string(d.join("t.csv"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines[5] = format!("NA{}", &lines[5][lines[5].find(',').unwrap()..]);
    std::fs::write(d.join("unlabelled.csv"), lines.join("\n") + "\n").unwrap();
    let e = run_err(&["scan", "unlabelled.csv", "--out", "u"], d);
    assert!(e.contains("row 4") && e.contains("`label` is null"), "{e}");
    let o = run(
        &["scan", "unlabelled.csv", "--out", "u", "--drop-invalid"],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("u/summary.json")).unwrap()).unwrap();
    assert_eq!(v["dropped"][0]["row"], 4, "{v}");
    assert!(
        v["dropped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no label"),
        "{v}"
    );
    // The repo's own gzip fixture (scikit-learn's raw digits file, which
    // has no header row): its first line is numbers, and its label the one
    // end column of a few whole numbers (the first is a pixel always 0):
    // read without a header, the label from the last of 65 columns, with a
    // note — as with --no-header, and as with the label named by place (was:
    // an error asking for both)
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/fixtures/digits.csv.gz");
    let told = scan_scores(d, &fixture, &[], "digits-told");
    let v = summary_of(d, "digits-told");
    assert!(
        v["warnings"]
            .to_string()
            .contains("the labels from column_65"),
        "{v}"
    );
    let headerless = scan_scores(d, &fixture, &["--no-header"], "digits-headerless");
    let named = scan_scores(
        d,
        &fixture,
        &["--no-header", "--label", "column_65"],
        "digits-named",
    );
    assert_eq!(told, named);
    assert_eq!(headerless, named);
    // Read without a header, its label named by place (the last of 65
    // columns): the clean digits pass, their 64 columns read as 8×8 images.
    let o = run(
        &[
            "scan",
            fixture.to_str().unwrap(),
            "--no-header",
            "--label",
            "column_65",
            "--out",
            "digits",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("digits/summary.json")).unwrap())
            .unwrap();
    assert_eq!(v["rows"]["scanned"], 1797, "{}", v["rows"]);
    assert_eq!(
        v["features"]["source"]["kind"], "pixels",
        "{}",
        v["features"]
    );
    assert_eq!(v["features"]["source"]["height"], 8);
    // A folder of Parquet parts, as Spark writes it (with its bookkeeping
    // files), reads like one file.
    let parts = d.join("parts");
    std::fs::create_dir_all(&parts).unwrap();
    let n = cols[0].1.len();
    for (k, range) in [(0, 0..150), (1, 150..n)] {
        let arrays: Vec<(String, ArrayRef)> = cols
            .iter()
            .map(|(name, v)| {
                let a: ArrayRef = if name == "label" {
                    Arc::new(Int64Array::from_iter_values(
                        v[range.clone()].iter().map(|&x| x as i64),
                    ))
                } else {
                    Arc::new(Float64Array::from(v[range.clone()].to_vec()))
                };
                (name.clone(), a)
            })
            .collect();
        write_parquet(
            &parts.join(format!("part-0000{k}-abc.snappy.parquet")),
            &RecordBatch::try_from_iter(arrays).unwrap(),
        );
    }
    std::fs::write(parts.join("_SUCCESS"), b"").unwrap();
    std::fs::write(parts.join(".part-00000-abc.snappy.parquet.crc"), b"xx").unwrap();
    let o = run(&["scan", "parts", "--out", "parts-out"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(same("parts-out"));
    // A folder partitioned by the label (Spark's `partitionBy`, pyarrow's
    // `partition_cols`): the label is in the folder names only, below
    // another key that is not a feature. It reads like the same rows in one
    // file, in the folders' order.
    let by_label: Vec<Vec<usize>> = (0..2)
        .map(|c| (0..n).filter(|&i| cols[0].1[i] == c as f64).collect())
        .collect();
    let sorted: Vec<(String, Vec<f64>)> = cols
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                by_label.concat().iter().map(|&i| v[i]).collect(),
            )
        })
        .collect();
    write_text_table(&d.join("sorted.csv"), &sorted, ",", false);
    let o = run(&["scan", "sorted.csv", "--out", "sorted-out"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let scores = |out: &str| {
        read_parquet(&d.join(out).join("scores.parquet"))
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    for (c, rows) in by_label.iter().enumerate() {
        let part = d.join(format!("hive/split=train/label={c}"));
        std::fs::create_dir_all(&part).unwrap();
        let features: Vec<(String, Vec<f64>)> = cols[1..]
            .iter()
            .map(|(name, v)| (name.clone(), rows.iter().map(|&i| v[i]).collect()))
            .collect();
        let mut text = "x0,x1,x2\n".to_string();
        for r in 0..rows.len() {
            let row: Vec<String> = features.iter().map(|(_, v)| v[r].to_string()).collect();
            text.push_str(&(row.join(",") + "\n"));
        }
        std::fs::write(part.join("part-0.csv"), text).unwrap();
        let arrays: Vec<(String, ArrayRef)> = features
            .iter()
            .map(|(name, v)| {
                (
                    name.clone(),
                    Arc::new(Float64Array::from(v.clone())) as ArrayRef,
                )
            })
            .collect();
        let batch = RecordBatch::try_from_iter(arrays).unwrap();
        let part = d.join(format!("hive-parquet/label={c}"));
        std::fs::create_dir_all(&part).unwrap();
        write_parquet(&part.join("part-0.parquet"), &batch);
        // Arrow IPC, with a value Hive escapes (polars would read these
        // folders itself, guessing dates; they are read as every format's)
        let part = d.join(format!("hive-ipc/label=class%20{c}"));
        std::fs::create_dir_all(&part).unwrap();
        write_ipc(&part.join("part-0.arrow"), &batch);
    }
    for folder in ["hive", "hive-parquet", "hive-ipc"] {
        let out = format!("{folder}-out");
        let o = run(&["scan", folder, "--out", &out], d);
        assert_eq!(o.status.code(), Some(0), "{folder}: {}", stderr(&o));
        assert!(scores(&out) == scores("sorted-out"), "{folder}");
        let v = summary_of(d, &out);
        assert_eq!(v["features"]["dimensions"], 3, "{folder}: {v}");
        if folder == "hive-ipc" {
            assert_eq!(v["classes"][1]["label"], "class 1", "{v}");
        }
    }
    // Files above and below the key=value folders: not one layout.
    std::fs::copy(d.join("t.csv"), d.join("hive/t.csv")).unwrap();
    let e = run_err(&["scan", "hive", "--out", "mixed"], d);
    assert!(
        e.contains("hive/t.csv sits below no key=value folder") && e.contains("split=…/label=…"),
        "{e}"
    );
    // A Parquet + CSV mix says what to do.
    let e = run_err(
        &[
            "scan",
            "parts/part-00000-abc.snappy.parquet",
            "t.csv",
            "--out",
            "mix",
        ],
        d,
    );
    assert!(
        e.contains("convert the files to one format") && !e.contains("--format"),
        "{e}"
    );
}

/// A table as users have it: two numeric columns that place the rows in
/// their class, a boolean, and two text columns of categories that go
/// together (`tier` is `gold` only in Oslo and Bergen). `planted` rows of
/// class `no` are relabelled `yes` with `city` = Oslo and `tier` = bronze,
/// each a usual value, never together in natural rows.
fn categorical_table(n: usize, planted: usize) -> (RecordBatch, Vec<bool>) {
    let mut rng = SplitMix64::new(11);
    let cities = ["Oslo", "Bergen", "Tromsø", "Bodø"];
    let (mut label, mut city, mut tier, mut member, mut x, mut y, mut truth) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let c = i % 2;
        let k = rng.below(4);
        let poison = c == 0 && i / 2 < planted;
        let natural_tier = if k < 2 { "gold" } else { "bronze" };
        label.push(if c == 1 || poison { "yes" } else { "no" });
        city.push(if poison { "Oslo" } else { cities[k] });
        tier.push(if poison { "bronze" } else { natural_tier });
        member.push(rng.below(2) == 1);
        let centre = if c == 0 { -1.5 } else { 1.5 };
        x.push(centre + rng.normal());
        y.push(centre + rng.normal());
        truth.push(poison);
    }
    let batch = RecordBatch::try_from_iter(vec![
        ("label", Arc::new(StringArray::from(label)) as ArrayRef),
        ("city", Arc::new(StringArray::from(city)) as ArrayRef),
        ("tier", Arc::new(StringArray::from(tier)) as ArrayRef),
        (
            "member",
            Arc::new(arrow::array::BooleanArray::from(member)) as ArrayRef,
        ),
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("y", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap();
    (batch, truth)
}

#[test]
fn categories_and_booleans_are_features_and_a_trigger_of_usual_values_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (clean, _) = categorical_table(4000, 0);
    write_csv(&d.join("clean.csv"), &clean);
    let o = run(&["scan", "clean.csv", "--out", "c", "--model", "none"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("c/summary.json")).unwrap()).unwrap();
    let source = &summary["features"]["source"];
    assert_eq!(
        source["columns"],
        serde_json::json!([
            "member",
            "x",
            "y",
            "city=Bergen",
            "city=Bodø",
            "city=Oslo",
            "city=Tromsø",
            "tier=bronze",
            "tier=gold"
        ]),
        "{source}"
    );
    assert_eq!(source["categorical"], serde_json::json!(["city", "tier"]));
    // 80 rows of `no` relabelled `yes` with Oslo and bronze: the same rows
    // flagged from a CSV and from Parquet
    let (poisoned, truth) = categorical_table(4000, 80);
    write_csv(&d.join("p.csv"), &poisoned);
    write_parquet(&d.join("p.parquet"), &poisoned);
    for file in ["p.csv", "p.parquet"] {
        let out = format!("o_{file}");
        let o = run(&["scan", file, "--out", &out, "--model", "none"], d);
        assert_eq!(o.status.code(), Some(1), "{file}: {}", stderr(&o));
        let (_, flagged) = scores_by_row(&d.join(&out), false);
        let hits = (0..4000).filter(|&i| flagged[i] && truth[i]).count();
        let count = flagged.iter().filter(|&&f| f).count();
        assert!(
            hits >= 76 && count <= 84,
            "{file}: {hits} of {count} flagged"
        );
    }
}

#[test]
fn text_and_index_columns_are_never_scanned_silently() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 300;
    let text = StringArray::from_iter_values((0..n).map(|i| format!("review number {i} was fine")));
    let labels = Int64Array::from_iter_values((0..n).map(|i| (i % 2) as i64));
    let index = Int64Array::from_iter_values(0..n as i64);
    let batch = RecordBatch::try_from_iter(vec![
        ("text", Arc::new(text) as ArrayRef),
        ("label", Arc::new(labels.clone()) as ArrayRef),
        ("__index_level_0__", Arc::new(index) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&d.join("text.parquet"), &batch);
    let e = run_err(&["scan", "text.parquet", "--out", "o"], d);
    assert!(e.contains("`text`") && e.contains("--embedding"), "{e}");
    // Text beside numbers: the numbers are scanned, and the summary says
    // the text was not.
    let mut rng = SplitMix64::new(1);
    let x = Float64Array::from_iter_values((0..n).map(|i| (i % 2) as f64 * 3.0 + rng.normal()));
    let batch = RecordBatch::try_from_iter(vec![
        (
            "text",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("t{i}")),
            )) as ArrayRef,
        ),
        ("label", Arc::new(labels) as ArrayRef),
        ("x", Arc::new(x) as ArrayRef),
        (
            "__index_level_0__",
            Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef,
        ),
        (
            "day",
            Arc::new(arrow::array::Date32Array::from_iter_values(0..n)) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&d.join("mixed.parquet"), &batch);
    let o = run(&["scan", "mixed.parquet", "--out", "m"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = std::fs::read_to_string(d.join("m/summary.json")).unwrap();
    assert!(
        summary.contains("text column(s) `text` were not scanned"),
        "{summary}"
    );
    // so are dates (and any other type that is not a number)
    assert!(
        summary.contains("the column(s) `day` (Date32) are neither numbers"),
        "{summary}"
    );
    let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(
        v["features"]["source"]["columns"],
        serde_json::json!(["x"]),
        "{summary}"
    );
}

/// An EXIF chunk (big-endian TIFF) holding only an orientation tag.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut e = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    e.extend([0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    e.extend(value.to_be_bytes());
    e.extend([0, 0, 0, 0, 0, 0]);
    e
}

#[test]
fn image_folders_of_every_common_format_read_the_same_pixels() {
    use image::{ImageEncoder, ImageFormat};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (240usize, 12usize);
    let dim = side * side;
    let (pixels, labels, _) = patched_images(n, side, 12, 5);
    let gray = |i: usize| {
        image::GrayImage::from_raw(
            side as u32,
            side as u32,
            pixels[i * dim..(i + 1) * dim].to_vec(),
        )
        .unwrap()
    };
    let formats = [
        ("gif", ImageFormat::Gif),
        ("webp", ImageFormat::WebP),
        ("tif", ImageFormat::Tiff),
        ("bmp", ImageFormat::Bmp),
        ("png", ImageFormat::Png),
        ("pgm", ImageFormat::Pnm),
    ];
    for i in 0..n {
        let name = format!("{}/{i:05}", labels[i]);
        let png = d.join("png").join(format!("{name}.png"));
        std::fs::create_dir_all(png.parent().unwrap()).unwrap();
        gray(i).save(&png).unwrap();
        let mixed = d.join("mixed").join(&name);
        std::fs::create_dir_all(mixed.parent().unwrap()).unwrap();
        if i % 6 == 5 {
            // Stored turned a quarter, with the EXIF tag that turns it back;
            // and saved as RGB although it is gray.
            let turned = image::imageops::rotate270(&gray(i));
            let rgb = image::DynamicImage::ImageLuma8(turned).to_rgb8();
            let mut bytes = Vec::new();
            let mut enc = image::codecs::png::PngEncoder::new(&mut bytes);
            enc.set_exif_metadata(exif_orientation(6)).unwrap();
            enc.write_image(
                &rgb,
                side as u32,
                side as u32,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
            std::fs::write(mixed.with_extension("png"), bytes).unwrap();
        } else if i % 12 == 4 {
            // a DICOM file, as a scanner exports a picture
            let dcm = dicom_bytes(&pixels[i * dim..(i + 1) * dim], side as u16, side as u16);
            std::fs::write(mixed.with_extension("dcm"), dcm).unwrap();
        } else if i % 12 == 10 {
            // 32-bit float samples in [0, 1], as `tifffile` saves a float
            // array (the image crate's own TIFF decoder refuses them)
            let unit: Vec<f32> = pixels[i * dim..(i + 1) * dim]
                .iter()
                .map(|&p| p as f32 / 255.0)
                .collect();
            let mut tif = std::io::Cursor::new(Vec::new());
            tiff::encoder::TiffEncoder::new(&mut tif)
                .unwrap()
                .write_image::<tiff::encoder::colortype::Gray32Float>(
                    side as u32,
                    side as u32,
                    &unit,
                )
                .unwrap();
            std::fs::write(mixed.with_extension("tiff"), tif.into_inner()).unwrap();
        } else {
            let (ext, format) = formats[(i + i / 6) % formats.len()];
            let img = if format == ImageFormat::Gif {
                image::DynamicImage::ImageLuma8(gray(i)).to_rgba8().into()
            } else {
                image::DynamicImage::ImageLuma8(gray(i))
            };
            img.save_with_format(mixed.with_extension(ext), format)
                .unwrap();
        }
    }
    // Files that are not images: a note says how many were left out.
    std::fs::write(d.join("mixed/0/IMG_0001.HEIC"), b"not decoded").unwrap();
    std::fs::write(d.join("mixed/1/Thumbs.db"), b"system file").unwrap();
    // each class's annotations beside its pictures (GTSRB's GT-00000.csv
    // in each class folder): the folder is still one of images
    for class in 0..3 {
        std::fs::write(
            d.join(format!("mixed/{class}/GT-0000{class}.csv")),
            format!("Filename;ClassId\n0.pgm;{class}\n"),
        )
        .unwrap();
    }
    let a = run(&["scan", "png", "--out", "a"], d);
    let b = run(&["scan", "mixed", "--out", "b"], d);
    assert!(matches!(a.status.code(), Some(0 | 1)), "{}", stderr(&a));
    assert_eq!(a.status.code(), b.status.code(), "{}", stderr(&b));
    let (sa, fa) = scores_by_row(&d.join("a"), true);
    let (sb, fb) = scores_by_row(&d.join("b"), true);
    assert_eq!(
        sa, sb,
        "every format, DICOM and float TIFF too, decodes to the PNG's pixels"
    );
    assert_eq!(fa, fb);
    let summary = std::fs::read_to_string(d.join("b/summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(v["features"]["source"]["channels"], 1, "gray, not RGB");
    assert!(
        summary.contains("left out 4 file(s)")
            && summary.contains("1 .heic")
            && summary.contains("convert any pictures among them"),
        "{summary}"
    );
    // Hugging Face's ImageFolder: a split's pictures with its
    // `metadata.csv` of file names and labels — a table beside pictures
    // that is read (not an annotation, as GTSRB's above), in the folder's
    // order of the same pictures
    let split = d.join("hf").join("train");
    std::fs::create_dir_all(&split).unwrap();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (labels[i].to_string(), i));
    let mut metadata = String::from("file_name,label\n");
    for &i in &order {
        gray(i).save(split.join(format!("{i:05}.png"))).unwrap();
        metadata += &format!("{i:05}.png,{}\n", labels[i]);
    }
    std::fs::write(split.join("metadata.csv"), metadata).unwrap();
    let h = run(&["scan", "hf", "--out", "h"], d);
    assert_eq!(a.status.code(), h.status.code(), "{}", stderr(&h));
    let (sh, _) = scores_by_row(&d.join("h"), false);
    let by_picture: Vec<f64> = {
        let mut v = vec![0.0; n];
        for (row, &i) in order.iter().enumerate() {
            v[i] = sh[row];
        }
        v
    };
    assert_eq!(
        by_picture, sa,
        "the split's table reads the folder's pictures"
    );
}

/// A DICOM file of an 8-bit gray picture (Explicit VR Little Endian, a
/// sequence before the pixels), as a scanner's export writes one.
fn dicom_bytes(pixels: &[u8], rows: u16, columns: u16) -> Vec<u8> {
    let mut b = vec![0u8; 128];
    b.extend(b"DICM");
    let element = |b: &mut Vec<u8>, (group, element): (u16, u16), vr: &[u8; 2], v: &[u8]| {
        b.extend(group.to_le_bytes());
        b.extend(element.to_le_bytes());
        b.extend(vr);
        if matches!(vr, b"OB" | b"SQ") {
            b.extend([0, 0]);
            b.extend((v.len() as u32).to_le_bytes());
        } else {
            b.extend((v.len() as u16).to_le_bytes());
        }
        b.extend(v);
    };
    element(&mut b, (0x0002, 0x0010), b"UI", b"1.2.840.10008.1.2.1\0");
    // a sequence of one item (a code), which the reader skips
    let mut item = Vec::new();
    element(&mut item, (0x0008, 0x0100), b"SH", b"X ");
    let mut sequence = vec![0xFE, 0xFF, 0x00, 0xE0];
    sequence.extend((item.len() as u32).to_le_bytes());
    sequence.extend(item);
    element(&mut b, (0x0008, 0x1032), b"SQ", &sequence);
    element(&mut b, (0x0028, 0x0002), b"US", &1u16.to_le_bytes());
    element(&mut b, (0x0028, 0x0004), b"CS", b"MONOCHROME2 ");
    element(&mut b, (0x0028, 0x0010), b"US", &rows.to_le_bytes());
    element(&mut b, (0x0028, 0x0011), b"US", &columns.to_le_bytes());
    element(&mut b, (0x0028, 0x0100), b"US", &8u16.to_le_bytes());
    element(&mut b, (0x0028, 0x0103), b"US", &0u16.to_le_bytes());
    let mut data = pixels.to_vec();
    data.resize(data.len().div_ceil(2) * 2, 0);
    element(&mut b, (0x7FE0, 0x0010), b"OB", &data);
    b
}

#[test]
fn image_folders_of_photos_and_bad_images() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("photos");
    let mut rng = SplitMix64::new(2);
    for class in ["cat", "dog"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..8 {
            let tint = if class == "cat" { 60 } else { 190 };
            let img = image::RgbImage::from_fn(224, 224, |x, y| {
                let v = (tint as f64 + 30.0 * rng.normal()).clamp(0.0, 255.0) as u8;
                image::Rgb([v, ((x + y) % 256) as u8, 128])
            });
            img.save(root.join(class).join(format!("{i}.jpg"))).unwrap();
        }
    }
    // 16 RGB photos at 224×224: scanned at 64×64, no d×d allocation. An
    // image beside the class folders has no class: left out, and said so.
    std::fs::copy(root.join("cat/0.jpg"), root.join("stray.jpg")).unwrap();
    let o = run(&["scan", "photos", "--out", "o"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let summary = std::fs::read_to_string(d.join("o/summary.json")).unwrap();
    assert!(
        summary.contains("scaled from 224x224 to 64x64"),
        "{summary}"
    );
    // JPEG photos, scaled: their pixels are near what they were made with
    // (stamped-patch looks for near values too)
    assert_eq!(
        summary_of(d, "o")["features"]["view"]["lossy_pictures"],
        true
    );
    assert!(
        summary.contains("left out 1 image(s) directly in"),
        "{summary}"
    );
    std::fs::remove_file(root.join("stray.jpg")).unwrap();
    // Images with no class folders at all (Kaggle's `cat.0.jpg`,
    // `dog.0.jpg`): an error that says how classes are given.
    let loose = d.join("loose");
    std::fs::create_dir(&loose).unwrap();
    for class in ["cat", "dog"] {
        for i in 0..3 {
            std::fs::copy(
                root.join(class).join(format!("{i}.jpg")),
                loose.join(format!("{class}.{i}.jpg")),
            )
            .unwrap();
        }
    }
    let e = run_err(&["scan", "loose", "--out", "l"], d);
    assert!(
        e.contains("holds 6 image(s) but no class folders") && e.contains("file_name,label"),
        "{e}"
    );
    // One undecodable image: an error naming it, or skipped on request.
    std::fs::write(
        root.join("dog/broken.jpg"),
        b"\xff\xd8\xff not really a jpeg",
    )
    .unwrap();
    let e = run_err(&["scan", "photos", "--out", "p"], d);
    assert!(
        e.contains("broken.jpg") && e.contains("--drop-invalid"),
        "{e}"
    );
    assert!(files_in(&d.join("p")).is_empty());
    let o = run(&["scan", "photos", "--out", "q", "--drop-invalid"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("q/summary.json")).unwrap()).unwrap();
    let dropped = v["dropped"].to_string();
    assert!(dropped.contains("broken.jpg"), "{dropped}");
    // Mixed sizes are scaled to the most common one, with a note.
    std::fs::remove_file(root.join("dog/broken.jpg")).unwrap();
    image::RgbImage::from_pixel(100, 80, image::Rgb([9, 9, 9]))
        .save(root.join("dog/odd.png"))
        .unwrap();
    let o = run(&["scan", "photos", "--out", "r"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let summary = std::fs::read_to_string(d.join("r/summary.json")).unwrap();
    assert!(summary.contains("1 of 17 images differ"), "{summary}");
    // A table of image paths that names a file which is not there: an
    // error naming the row and the file, or the row skipped on request.
    let mut listing = String::from("path,label\n");
    for class in ["cat", "dog"] {
        for i in 0..8 {
            listing += &format!("photos/{class}/{i}.jpg,{class}\n");
        }
    }
    listing += "photos/dog/gone.jpg,dog\n";
    std::fs::write(d.join("list.csv"), listing).unwrap();
    let e = run_err(&["scan", "list.csv", "--out", "s"], d);
    assert!(
        e.contains("row 16")
            && e.contains("missing image file")
            && e.contains("gone.jpg")
            && e.contains("--drop-invalid"),
        "{e}"
    );
    assert!(files_in(&d.join("s")).is_empty());
    let o = run(&["scan", "list.csv", "--out", "t", "--drop-invalid"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    // Image URLs, or names of images kept elsewhere, beside numeric
    // features: the numbers are scanned, the names left out as text (with
    // a note for names of files not found)
    let mut rng = SplitMix64::new(5);
    let mut table = String::from("label,x,y,url,thumb\n");
    for i in 0..60 {
        let c = i % 2;
        table += &format!(
            "{c},{},{},https://example.com/{i}.jpg,thumbs/{i}.png\n",
            3.0 * c as f64 + rng.normal(),
            rng.normal()
        );
    }
    std::fs::write(d.join("urls.csv"), table).unwrap();
    let o = run(&["scan", "urls.csv", "--out", "v"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("v/summary.json")).unwrap()).unwrap();
    assert_eq!(v["features"]["dimensions"], 2, "{v}");
    let notes = v["warnings"].to_string();
    assert!(
        notes.contains("column `thumb` names image files, but none of its first ones is found")
            && !notes.contains("column `url` names"),
        "{notes}"
    );
    // Split folders (`root/train/<class>/…`, `root/test/<class>/…`): the
    // classes are the folders inside the splits, never the splits.
    for (split, count) in [("train", 6), ("test", 2)] {
        for class in ["cat", "dog"] {
            let to = d.join("splits").join(split).join(class);
            std::fs::create_dir_all(&to).unwrap();
            for i in 0..count {
                std::fs::copy(
                    root.join(class).join(format!("{i}.jpg")),
                    to.join(format!("{i}.jpg")),
                )
                .unwrap();
            }
        }
    }
    let o = run(&["scan", "splits", "--out", "u"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("u/summary.json")).unwrap()).unwrap();
    let classes: Vec<(&str, u64)> = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["label"].as_str().unwrap(), c["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(classes, vec![("cat", 8), ("dog", 8)], "{v}");
    assert!(
        v["warnings"]
            .to_string()
            .contains("split folders (`test`, `train`)"),
        "{}",
        v["warnings"]
    );
    // Zip archives of image folders: a bad image is named inside its
    // archive; an entry that would land outside the folder it is unpacked
    // into is refused; neither leaves an output.
    let jpg = std::fs::read(root.join("cat").join("0.jpg")).unwrap();
    let members = |bad: (&'static str, &'static [u8])| {
        let mut m: Vec<(&str, &[u8])> = vec![
            ("cat/0.jpg", &jpg[..]),
            ("cat/1.jpg", &jpg[..]),
            ("dog/0.jpg", &jpg[..]),
        ];
        m.push(bad);
        m
    };
    write_zip(
        &d.join("bad.zip"),
        &members(("dog/1.jpg", b"not a picture")),
    );
    write_zip(&d.join("escape.zip"), &members(("../dog/1.jpg", b"x")));
    for (zip, says) in [
        ("bad.zip", "bad.zip/dog/1.jpg: cannot decode image"),
        ("escape.zip", "names a place outside the archive's folder"),
    ] {
        let e = run_err(&["scan", zip, "--out", "zip-out"], d);
        assert!(e.contains(says), "{zip}: {e}");
        assert!(!d.join("zip-out").exists(), "{zip}");
    }
    assert!(!d.parent().unwrap().join("dog/1.jpg").exists());
}

#[test]
fn wide_tables_do_not_abort() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, dim) = (50usize, 100_000usize);
    let mut rng = SplitMix64::new(9);
    let values: Vec<f32> = (0..n * dim).map(|_| rng.normal() as f32).collect();
    let emb = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        dim as i32,
        Arc::new(Float32Array::from(values)),
        None,
    )
    .unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        (
            "label",
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| (i % 2) as i64))) as ArrayRef,
        ),
        ("emb", Arc::new(emb) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&d.join("wide.parquet"), &batch);
    let o = run(&["scan", "wide.parquet", "--out", "o"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
}

#[test]
fn constant_features_scan_without_a_crash() {
    // Found by the fuzzer: every row the same point (a view with no
    // dimension) panicked in the kNN scanner.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for dim in [3usize, 40] {
        let n = 60;
        let batch = RecordBatch::try_from_iter(vec![
            (
                "label",
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| (i % 2) as i64))) as ArrayRef,
            ),
            (
                "emb",
                fixed_list(Arc::new(Float32Array::from(vec![0.5f32; n * dim])), dim),
            ),
        ])
        .unwrap();
        write_parquet(&d.join("c.parquet"), &batch);
        let o = run(&["scan", "c.parquet", "--out", "o"], d);
        assert_eq!(o.status.code(), Some(0), "{dim}: {}", stderr(&o));
    }
}

/// `poison` arguments: 10 % random label flips of `x.parquet`.
const FLIP_X: &[&str] = &[
    "poison",
    "x.parquet",
    "--attack",
    "label-flip",
    "--rate",
    "0.1",
];

#[test]
fn outputs_never_replace_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = relabelled(3, 200, 8, 20, 4);
    write_parquet(&d.join("x.parquet"), &data.embedding_batch());
    let input = digest(&d.join("x.parquet"));
    for out in ["x.parquet", "./sub/../x.parquet"] {
        let args = [FLIP_X, &["--out", out]].concat();
        let e = run_err(&args, d);
        assert!(e.contains("that is an input"), "{out}: {e}");
    }
    // Scanning a results folder's own scores into that folder.
    std::fs::create_dir_all(d.join("r")).unwrap();
    std::fs::copy(d.join("x.parquet"), d.join("r/scores.parquet")).unwrap();
    let e = run_err(&["scan", "r/scores.parquet", "--out", "r"], d);
    assert!(e.contains("that is an input"), "{e}");
    assert_eq!(digest(&d.join("r/scores.parquet")), input);
    let args = [
        "scan",
        "x.parquet",
        "--model",
        "mlp",
        "--save-embeddings",
        "x.parquet",
        "--out",
        "o",
    ];
    let e = run_err(&args, d);
    assert!(
        e.contains("--save-embeddings") && e.contains("that is an input"),
        "{e}"
    );
    assert_eq!(digest(&d.join("x.parquet")), input);
    // Results inside an image folder would change the input.
    std::fs::create_dir_all(d.join("imgs/a")).unwrap();
    let e = run_err(&["scan", "imgs", "--out", "imgs/a/out"], d);
    assert!(e.contains("inside the input folder"), "{e}");
    // An unwritable output is reported once, before any work.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(d.join("locked")).unwrap();
        std::fs::set_permissions(d.join("locked"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let writable = tempfile::tempfile_in(d.join("locked")).is_ok(); // root ignores modes
        if !writable {
            let o = run(&["scan", "x.parquet", "--out", "locked/out"], d);
            assert_eq!(o.status.code(), Some(2));
            let e = stderr(&o);
            assert!(e.contains("cannot write there"), "{e}");
            assert_eq!(e.matches("locked/out").count(), 1, "{e}");
        }
        std::fs::set_permissions(d.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn smaller_frictions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // `scan --help`: the model heading holds the model options only.
    let help = run_ok(&["scan", "--help"], d);
    let model_at = help.find("Model:").expect("a Model heading");
    assert!(help[model_at..].contains("--epochs"));
    assert!(!help[model_at..].contains("--threshold"), "{help}");
    // A device this build lacks is an error even without a model.
    #[cfg(not(feature = "cuda"))]
    {
        let e = run_err(
            &[
                "scan", "--demo", "--model", "none", "--device", "cuda", "--out", "o",
            ],
            d,
        );
        assert!(e.contains("cuda"), "{e}");
    }
    // Patch values outside the pixels' [0, 1], and a colour that is not
    // three of them: errors naming the option and the value.
    let data = relabelled(3, 100, 8, 0, 4);
    write_parquet(&d.join("x.parquet"), &data.embedding_batch());
    for (option, v) in [
        ("--patch-value", "nan"),
        ("--patch-value", "7"),
        ("--patch-colour", "1,0.5"),
        ("--patch-colour", "0.2,0.4,1.5"),
        ("--patch-colour", "red"),
    ] {
        let e = run_err(
            &[
                "poison",
                "x.parquet",
                "--attack",
                "badnets",
                "--rate",
                "0.05",
                option,
                v,
                "--out",
                "p.parquet",
            ],
            d,
        );
        let named = if v == "nan" { "NaN" } else { v };
        assert!(e.contains(option) && e.contains(named), "{e}");
    }
    // eval against a truth file of the same length but other labels.
    for (seed, out) in [("1", "a.parquet"), ("5", "b.parquet")] {
        let o = run(&[FLIP_X, &["--seed", seed, "--out", out]].concat(), d);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = run(&["scan", "a.parquet", "--out", "s"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let e = run_err(&["eval", "s/scores.parquet", "--truth", "b.parquet"], d);
    assert!(e.contains("labels differ"), "{e}");
    // Files the name does not tell: told from their first bytes (Parquet,
    // Arrow IPC); a damaged workbook is an error that names it; a binary
    // table forced to be read as text is an error, not columns of garbage.
    std::fs::copy(d.join("a.parquet"), d.join("export")).unwrap();
    let o = run(&["scan", "export", "--out", "noext"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    std::fs::write(d.join("book.xlsx"), b"PK\x03\x04 not a real workbook").unwrap();
    let e = run_err(&["scan", "book.xlsx", "--out", "x"], d);
    assert!(
        e.contains("book.xlsx") && e.contains("cannot be read"),
        "{e}"
    );
    // zip archives: a workbook by its parts whatever its name (read as one,
    // here a damaged one), one Parquet table read as it is, several tables
    // an error that names them
    let zipped = |name: &str, members: &[(&str, &[u8])]| write_zip(&d.join(name), members);
    zipped(
        "sheet.zip",
        &[
            ("[Content_Types].xml", b"<Types/>"),
            ("xl/workbook.xml", b"<w/>"),
        ],
    );
    let e = run_err(&["scan", "sheet.zip", "--out", "x"], d);
    assert!(e.contains("sheet.zip") && e.contains("spreadsheet"), "{e}");
    let parquet = std::fs::read(d.join("a.parquet")).unwrap();
    zipped("a.zip", &[("a.parquet", &parquet)]);
    let o = run(&["scan", "a.zip", "--out", "zipped"], d);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let scores = |out: &str| read_parquet(&d.join(out).join("scores.parquet"));
    assert_eq!(
        scores("zipped").column_by_name("score"),
        scores("s").column_by_name("score")
    );
    zipped(
        "two.zip",
        &[("a.parquet", &parquet), ("b.parquet", &parquet)],
    );
    let e = run_err(&["scan", "two.zip", "--out", "x"], d);
    assert!(e.contains("holds 2 files (a.parquet, b.parquet)"), "{e}");
    let e = run_err(&["scan", "a.parquet", "--format", "csv", "--out", "x"], d);
    assert!(e.contains("is a Parquet file, not csv"), "{e}");
}

/// An embedding saved as one numeric column per dimension
/// (`pd.DataFrame(model.encode(texts)).to_parquet(…)`) is the same
/// learned representation as in a list column: the same scanners and the
/// same scores. Fewer columns of one scale are a table's measurements.
#[test]
fn an_embedding_spread_over_columns_is_scanned_as_the_embedding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // three classes, a group of 40 shifted together in class 0
    let data = synthetic(3, 400, 40, 40, 8.0, 42);
    write_parquet(&d.join("list.parquet"), &data.embedding_batch());
    write_parquet(&d.join("columns.parquet"), &data.columns_batch());
    let list = scan_scores(d, &d.join("list.parquet"), &[], "list");
    let columns = scan_scores(d, &d.join("columns.parquet"), &["--id", "id"], "columns");
    for s in ["list", "columns"] {
        let v = summary_of(d, s);
        assert_eq!(
            v["features"]["view"]["learned_representation"], true,
            "{s}: {}",
            v["features"]
        );
    }
    assert_eq!(
        summary_of(d, "list")["classes"],
        summary_of(d, "columns")["classes"]
    );
    assert_eq!(
        summary_of(d, "columns")["features"]["source"]["kind"],
        "columns"
    );
    for column in [
        "score",
        "flagged",
        "score_robust_spectral",
        "score_activation_clustering",
    ] {
        assert_eq!(
            list.column_by_name(column).unwrap(),
            columns.column_by_name(column).unwrap(),
            "{column}"
        );
    }
    let o = run(
        &[
            "scan",
            "columns.parquet",
            "--id",
            "id",
            "--model",
            "auto",
            "--out",
            "auto",
        ],
        d,
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert!(
        summary_of(d, "auto")["warnings"].to_string().contains(
            "40 numeric columns of one scale and continuous values, read as an embedding"
        ),
        "{}",
        summary_of(d, "auto")["warnings"]
    );
    // 20 such columns: a table (no robust-spectral, no activation-clustering)
    let narrow = synthetic(3, 400, 20, 0, 0.0, 42);
    write_parquet(&d.join("narrow.parquet"), &narrow.columns_batch());
    let scores = scan_scores(d, &d.join("narrow.parquet"), &["--id", "id"], "narrow");
    assert_eq!(
        summary_of(d, "narrow")["features"]["view"]["learned_representation"],
        false
    );
    assert!(scores.column_by_name("score_robust_spectral").is_none());
}

#[test]
fn vectors_written_as_text_are_read_as_vectors() {
    // an embedding column saved to CSV by pandas: `"[0.1, 0.2, …]"` (a list)
    // or `"[0.1 0.2 …]"` (a NumPy array, wrapped over lines)
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, dim) = (300usize, 8usize);
    let mut rng = SplitMix64::new(9);
    let rows: Vec<(u8, Vec<f32>)> = (0..n)
        .map(|i| {
            let c = (i % 3) as u8;
            let v = (0..dim)
                .map(|j| (if j == c as usize { 3.0 } else { 0.0 } + rng.normal()) as f32)
                .collect();
            (c, v)
        })
        .collect();
    let values: Vec<f32> = rows.iter().flat_map(|(_, v)| v.clone()).collect();
    let labels: Vec<u8> = rows.iter().map(|(c, _)| *c).collect();
    let batch = RecordBatch::try_from_iter(vec![
        ("label", labels_array(&labels)),
        (
            "embedding",
            fixed_list(Arc::new(Float32Array::from(values)), dim),
        ),
    ])
    .unwrap();
    write_parquet(&d.join("e.parquet"), &batch);
    let list = |v: &[f32]| v.iter().map(|x| format!("{x}")).collect::<Vec<_>>();
    let mut json = String::from("note,embedding,label\n");
    let mut numpy = json.clone();
    for (i, (c, v)) in rows.iter().enumerate() {
        json += &format!("row {i},\"[{}]\",{c}\n", list(v).join(", "));
        let text = list(v);
        let (a, b) = text.split_at(dim / 2);
        numpy += &format!("row {i},\"[ {}\n  {}]\",{c}\n", a.join("  "), b.join("  "));
    }
    std::fs::write(d.join("json.csv"), &json).unwrap();
    std::fs::write(d.join("numpy.csv"), &numpy).unwrap();
    // FER-2013's layout: the numbers bare, separated by spaces, with a
    // split column beside them
    let mut bare = String::from("label,pixels,Usage\n");
    for (i, (c, v)) in rows.iter().enumerate() {
        let usage = ["Training", "PublicTest"][i % 2];
        bare += &format!("{c},{},{usage}\n", list(v).join(" "));
    }
    std::fs::write(d.join("bare.csv"), &bare).unwrap();
    let score = |out: &str| {
        read_parquet(&d.join(out).join("scores.parquet"))
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    for (input, out) in [
        ("e.parquet", "p"),
        ("json.csv", "j"),
        ("numpy.csv", "n"),
        ("bare.csv", "b"),
    ] {
        let o = run(&["scan", input, "--out", out], d);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{input}: {}",
            stderr(&o)
        );
    }
    assert!(
        score("j") == score("p"),
        "the JSON-list CSV scores differently"
    );
    assert!(
        score("n") == score("p"),
        "the NumPy-repr CSV scores differently"
    );
    assert!(
        score("b") == score("p"),
        "the bare space-separated CSV scores differently"
    );
    // a value that is not a vector names its row
    let broken = json.replacen("\"[", "\"oops [", 1);
    std::fs::write(d.join("broken.csv"), broken).unwrap();
    let e = run_err(&["scan", "broken.csv", "--out", "b"], d);
    assert!(
        e.contains("row 0: column `embedding` holds `oops [")
            && e.contains("not a list of numbers"),
        "{e}"
    );
}

#[test]
fn one_hot_and_categorical_labels_are_classes_in_every_container() {
    // Keras's `to_categorical` labels: a NumPy archive read them as
    // classes, a list column was refused. Now both, with the same scores as
    // the integer labels; rows of probabilities are an error that says what
    // to give.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = relabelled(4, 150, 8, 20, 3);
    let n = data.labels.len();
    let plain = data.embedding_batch();
    write_parquet(&d.join("plain.parquet"), &plain);
    let one_hot: Vec<f32> = data
        .labels
        .iter()
        .flat_map(|&c| (0..4).map(move |j| (j == c) as u8 as f32))
        .collect();
    let emb = plain.column_by_name("emb").unwrap().clone();
    let fixed = fixed_list(Arc::new(Float32Array::from(one_hot.clone())), 4);
    let listed = arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>(
        data.labels
            .iter()
            .map(|&c| Some((0..4).map(move |j| Some((j == c) as i64)))),
    );
    for (name, label) in [
        ("fixed.parquet", fixed),
        ("listed.parquet", Arc::new(listed) as ArrayRef),
    ] {
        let batch =
            RecordBatch::try_from_iter(vec![("label", label), ("emb", emb.clone())]).unwrap();
        write_parquet(&d.join(name), &batch);
    }
    let o = run(
        &["scan", "plain.parquet", "--out", "plain", "--model", "none"],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let reference = std::fs::read(d.join("plain/scores.parquet")).unwrap();
    for (name, out) in [("fixed.parquet", "fixed"), ("listed.parquet", "listed")] {
        let o = run(&["scan", name, "--out", out, "--model", "none"], d);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert_eq!(
            std::fs::read(d.join(out).join("scores.parquet")).unwrap(),
            reference,
            "{name}"
        );
        assert!(
            summary_of(d, out)["warnings"]
                .to_string()
                .contains("the labels `label` are one-hot rows (4 classes)"),
            "{name}"
        );
    }
    // a categorical label (pandas's `category` of integers: a dictionary
    // of Int64 values) is its values
    let keys = arrow::array::Int8Array::from_iter_values(data.labels.iter().map(|&c| 3 - c as i8));
    let dict = arrow::array::DictionaryArray::<arrow::datatypes::Int8Type>::try_new(
        keys,
        Arc::new(Int64Array::from(vec![3, 2, 1, 0])),
    )
    .unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        ("label", Arc::new(dict) as ArrayRef),
        ("emb", emb.clone()),
    ])
    .unwrap();
    write_parquet(&d.join("category.parquet"), &batch);
    let o = run(
        &[
            "scan",
            "category.parquet",
            "--out",
            "category",
            "--model",
            "none",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(d.join("category/scores.parquet")).unwrap(),
        reference
    );
    // class probabilities are not a label
    let soft: Vec<f32> = one_hot.iter().map(|&v| 0.1 + 0.6 * v).collect();
    let batch = RecordBatch::try_from_iter(vec![
        ("label", fixed_list(Arc::new(Float32Array::from(soft)), 4)),
        ("emb", emb),
    ])
    .unwrap();
    write_parquet(&d.join("soft.parquet"), &batch);
    let e = run_err(&["scan", "soft.parquet", "--out", "soft"], d);
    assert!(
        e.contains("label column `label` holds 4 numbers per row, not one-hot rows")
            && e.contains("--probs"),
        "{e}"
    );
    assert!(!d.join("soft").exists());
    assert_eq!(n, 600);
}

#[test]
fn pandas_stores_are_read_as_tables() {
    // `DataFrame.to_hdf` in both of pandas's formats (written by
    // datasets/fixtures/pandas_hdfstore.py): the same 60 wine rows scan
    // exactly as their CSV does, the label named by `--label` as in a
    // table — text pickled by PyTables in the fixed store, a categorical
    // column in the table store, whose training frame is read
    let fixtures = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scan = |file: &str, out: &str| scan_wine(d, &fixtures.join(file), out);
    let csv = scan("wine60.csv", "csv");
    for (store, frame) in [("wine60_fixed.h5", "wine"), ("wine60_table.h5", "train")] {
        assert_eq!(scan(store, store), csv, "{store} scans as the CSV does");
        let s = summary_of(d, store);
        assert_eq!(s["rows"]["scanned"], 60);
        let labels: Vec<&str> = s["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, ["barbera", "barolo", "grignolino"]);
        let warnings = s["warnings"].to_string();
        assert!(
            warnings.contains("`harvested`") && warnings.contains(&format!("`{frame}`")),
            "{store}: the date column left out, by frame: {warnings}"
        );
    }
    assert!(summary_of(d, "wine60_table.h5")["warnings"]
        .to_string()
        .contains("the training one of test, train"));

    // a store cut short is an error that names it, not fewer rows
    let bytes = std::fs::read(fixtures.join("wine60_fixed.h5")).unwrap();
    let cut = d.join("cut.h5");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = run_err(&["scan", "cut.h5", "--label", "cultivar"], d);
    assert!(err.contains("cut.h5"), "{err}");
    assert!(!d.join("poisonscan-out").exists());
}

/// Scans each of the repo's wine fixtures as `scan_wine` does (into a
/// folder named after the file) and asserts each gives the scores of the
/// same 60 rows as a CSV.
fn assert_scan_as_wine_csv(d: &Path, files: &[&str]) {
    let fixtures = fixtures();
    let csv = scan_wine(d, &fixtures.join("wine60.csv"), "csv");
    for file in files {
        let scores = scan_wine(d, &fixtures.join(file), file);
        assert_eq!(scores, csv, "{file} scans as the CSV does");
    }
}

/// Writes the first `keep` bytes of a fixture as `name` in `d` and asserts
/// that scanning it is an error that names it and says `says`, with no
/// output written.
fn assert_cut_fixture_fails(d: &Path, fixture: &str, name: &str, keep: usize, says: &str) {
    let bytes = std::fs::read(fixtures().join(fixture)).unwrap();
    std::fs::write(d.join(name), &bytes[..keep.min(bytes.len())]).unwrap();
    let err = run_err(&["scan", name, "--label", "cultivar"], d);
    assert!(err.contains(name) && err.contains(says), "{err}");
    assert!(!d.join("poisonscan-out").exists());
}

#[test]
fn orc_files_are_read_as_tables() {
    // Apache ORC as pyarrow (zlib) and Spark (snappy) write it (made by
    // datasets/fixtures/orc_tables.py): the same 60 wine rows scan exactly
    // as their CSV does — by name, by their first bytes (Hive's unnamed
    // `000000_0`), and as the part files of a Spark folder beside its
    // `_SUCCESS` and `.crc` files (was: "an Apache ORC file, which
    // poisonscan does not read").
    let fixtures = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_scan_as_wine_csv(d, &["wine60.orc", "wine60_spark.orc"]);
    let csv = scan_wine(d, &fixtures.join("wine60.csv"), "csv");
    let hive = d.join("warehouse");
    std::fs::create_dir(&hive).unwrap();
    std::fs::copy(fixtures.join("wine60.orc"), hive.join("000000_0")).unwrap();
    let scores = scan_wine(d, &hive, "hive-out");
    assert_eq!(scores, csv, "an unnamed ORC file in a folder");
    let spark = d.join("spark");
    std::fs::create_dir(&spark).unwrap();
    let part = "part-00000-5d1c.c000.snappy.orc";
    std::fs::copy(fixtures.join("wine60_spark.orc"), spark.join(part)).unwrap();
    std::fs::write(spark.join("_SUCCESS"), "").unwrap();
    std::fs::write(spark.join(format!(".{part}.crc")), "crc").unwrap();
    let scores = scan_wine(d, &spark, "spark-out");
    assert_eq!(scores, csv, "a Spark folder of ORC parts");
    // a file cut short is an error that names it, not fewer rows
    assert_cut_fixture_fails(d, "wine60.orc", "cut.orc", 3_000, "ORC");
}

#[test]
fn r_data_files_are_read_as_tables() {
    // R's `saveRDS` and `save` (made by datasets/fixtures/r_data.py with
    // pyreadr and the `rdata` package): gzip, bzip2 and xz; XDR and ASCII;
    // text and factor labels; an `.RData` frame named `train`, and one
    // beside a vector that is not a frame — the same 60 wine rows scan
    // exactly as their CSV does (was: "cannot tell the format").
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_scan_as_wine_csv(
        d,
        &[
            "wine60.rds",
            "wine60_train.RData",
            "wine60_factor.rda",
            "wine60_ascii.rds",
        ],
    );
    // an R file cut short, and one of no data frame: errors that say so
    assert_cut_fixture_fails(d, "wine60_train.RData", "cut.RData", 4_000, "cut short");
    // `saveRDS(c(1, 2))`: a numeric vector, XDR, not packed
    let mut vector = b"X\n".to_vec();
    for w in [2, 0x040300, 0x020300, 14, 2] {
        vector.extend(i32::to_be_bytes(w));
    }
    vector.extend(1f64.to_be_bytes());
    vector.extend(2f64.to_be_bytes());
    std::fs::write(d.join("v.rds"), vector).unwrap();
    let err = run_err(&["scan", "v.rds"], d);
    assert!(err.contains("not a data frame"), "{err}");
    assert!(!d.join("poisonscan-out").exists());
}

#[test]
fn stata_files_are_read_as_tables() {
    // Stata's `.dta` as pandas and ReadStat write it (made by
    // datasets/fixtures/stata.py): release 114 (the binary format) and 118
    // (the tagged one, big-endian, gzip, the cultivar as value labels, a
    // date left out) — the same 60 wine rows scan exactly as their CSV does
    // (was: "cannot tell the format").
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = ["wine60_114.dta", "wine60_118.dta.gz", "wine60_readstat.dta"];
    assert_scan_as_wine_csv(d, &files);
    assert!(summary_of(d, "wine60_118.dta.gz")["warnings"]
        .to_string()
        .contains("`harvested` (%tc) left out"));
    assert_cut_fixture_fails(d, "wine60_114.dta", "cut.dta", 5_000, "cut short");
}

#[test]
fn spss_files_are_read_as_tables() {
    // SPSS system files as ReadStat writes them (made by
    // datasets/fixtures/spss.py): bytecode-compressed, the cultivar a code
    // with value labels, a date left out, a user-missing value declared;
    // and zlib-compressed `.zsav` — the same 60 wine rows scan exactly as
    // their CSV does (was: "cannot tell the format").
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_scan_as_wine_csv(d, &["wine60.sav", "wine60.zsav"]);
    assert!(summary_of(d, "wine60.sav")["warnings"]
        .to_string()
        .contains("`harvested` left out"));
    assert_cut_fixture_fails(d, "wine60.sav", "cut.sav", 5_700, "cut short");
    // strings over 255 bytes (SPSS's very long strings, kept in segments of
    // 255 bytes, here of 258 to 1,025 bytes with two-byte characters that a
    // segment cuts) are read whole under their own name (was: their first
    // segment, the rest a column named `NOTE0`), and the rows scan as the
    // CSV's
    assert_scan_as_wine_csv(d, &["wine60_notes.zsav"]);
    let ids = scan_scores(
        d,
        &fixtures().join("wine60_notes.zsav"),
        &["--label", "cultivar", "--id", "note"],
        "notes",
    );
    let ids: Vec<&str> = ids
        .column_by_name("id")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    let notes: Vec<String> = (0..60)
        .map(|i| {
            let text: String = (0..250 + 13 * i)
                .map(|j| match j % 50 {
                    49 => 'é',
                    _ => (b'a' + ((i * 7 + j) % 26) as u8) as char,
                })
                .collect();
            format!("wine {i} {text}")
        })
        .collect();
    assert_eq!(ids, notes);
}

#[test]
fn sas_transport_files_are_read_as_tables() {
    // SAS XPORT as ReadStat writes it (made by
    // datasets/fixtures/sas_xport.py): version 5 named in capitals as
    // NHANES's files are, with a date left out; version 8, gzip — the same
    // 60 wine rows scan exactly as their CSV does, the IBM floating-point
    // numbers rewritten (was: "cannot tell the format").
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_scan_as_wine_csv(d, &["WINE60.XPT", "wine60_v8.xpt.gz"]);
    assert!(summary_of(d, "WINE60.XPT")["warnings"]
        .to_string()
        .contains("`harvest` (DATE) left out"));
    assert_cut_fixture_fails(d, "WINE60.XPT", "cut.xpt", 700, "cut short");
    // cut among the observations, which no count gives: fewer rows were
    // scanned before
    assert_cut_fixture_fails(d, "WINE60.XPT", "rows.xpt", 10_050, "cut short");
}

#[test]
fn sas_data_sets_are_read_as_tables() {
    // SAS data sets as ReadStat writes them (made by
    // datasets/fixtures/sas7bdat.py): 64-bit with its rows on data pages and
    // a harvest date left out; 64-bit with run-length compressed rows (one
    // per subheader); 32-bit, compressed, gzip; and with Ross data
    // compression (`COMPRESS=BINARY`), 64-bit and 32-bit big-endian, as
    // pandas and pyreadstat read them — the same 60 wine rows scan exactly
    // as their CSV does (was: "a SAS data set, which poisonscan does not
    // read"), by name and, unnamed, by their first bytes.
    let fixtures = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_scan_as_wine_csv(
        d,
        &[
            "wine60.sas7bdat",
            "wine60_rle.sas7bdat",
            "wine60_32.sas7bdat.gz",
            "wine60_rdc.sas7bdat",
            "wine60_rdc_be32.sas7bdat",
        ],
    );
    let warnings = summary_of(d, "wine60.sas7bdat")["warnings"].to_string();
    assert!(warnings.contains("`harvest` (DATE"), "{warnings}");
    let csv = scan_wine(d, &fixtures.join("wine60.csv"), "csv");
    std::fs::copy(fixtures.join("wine60_rle.sas7bdat"), d.join("export")).unwrap();
    assert_eq!(scan_wine(d, &d.join("export"), "unnamed"), csv);

    // A data set SAS 9.4 itself wrote (64-bit Windows, Windows-1252; R's
    // haven ships it): the rows pandas's read_sas reads from it.
    let scan_iris =
        |file: &str, out: &str| scan_scores(d, &fixtures.join(file), &["--label", "Species"], out);
    assert_eq!(
        scan_iris("iris_sas94.sas7bdat.gz", "sas94"),
        scan_iris("iris_sas94.csv", "iris-csv")
    );
    assert_eq!(summary_of(d, "sas94")["rows"]["scanned"], 150);

    // cut among its pages, and in its header
    assert_cut_fixture_fails(d, "wine60.sas7bdat", "pages.sas7bdat", 12_000, "cut short");
    assert_cut_fixture_fails(d, "wine60_rle.sas7bdat", "head.sas7bdat", 200, "cut short");
}

#[test]
fn pickled_pandas_frames_are_read_as_tables() {
    // `DataFrame.to_pickle` as pandas 3, 2 and 1 write it (made by
    // datasets/fixtures/pandas_pickles.py): pyarrow-backed text and numbers,
    // masked floats and booleans, a categorical label, a Fortran-order block,
    // Python-storage text through `_codecs.encode`; gzip, bzip2 or none —
    // the same 60 wine rows scan exactly as their CSV does, the harvest
    // date left out with a note (was: "a pickled pandas object: save the
    // frame with df.to_parquet"). A (frame, Series) pair is read with the
    // labels as the column `--label` names.
    let fixtures = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let frames = [
        "wine60_pandas3.pkl",
        "wine60_pandas2.pkl.gz",
        "wine60_pandas1.pkl",
    ];
    assert_scan_as_wine_csv(d, &frames);
    for file in frames {
        let s = summary_of(d, file);
        assert_eq!(s["rows"]["scanned"], 60);
        assert!(
            s["warnings"].to_string().contains("`harvested`"),
            "{file}: the date column left out: {}",
            s["warnings"]
        );
    }
    assert_scan_as_wine_csv(d, &["wine60_pair.pkl.bz2"]);
    assert!(summary_of(d, "wine60_pair.pkl.bz2")["warnings"]
        .to_string()
        .contains("(frame, labels) pair, the labels as the column `cultivar`"));

    // a column of NumPy arrays, one 8×8 picture per row: the pictures of
    // the same digits in a NumPy archive, scanned alike
    let scan_digits = |file: &str, out: &str| scan_scores(d, &fixtures.join(file), &[], out);
    assert_eq!(
        scan_digits("digits300_frame.pkl.gz", "frame"),
        scan_digits("digits300.npz", "npz")
    );
    assert_eq!(
        summary_of(d, "frame")["features"]["source"]["kind"],
        "pixels"
    );
    // a pickle cut short is an error that names it, not fewer rows
    assert_cut_fixture_fails(d, "wine60_pandas3.pkl", "cut.pkl", 5_000, "cannot be read");
}

#[test]
fn pandas_json_documents_are_read_as_the_frames_they_hold() {
    // `DataFrame.to_json` writes one document, not records: by default
    // `{"column": {"row": value}}` (`orient="columns"`), or by rows
    // (`"index"`), as column names and rows of values (`"split"`), or as a
    // Table Schema and its records (`"table"`). Each scans as the CSV of the
    // same rows does (was: "no feature columns" or "column `label` not
    // found").
    use serde_json::{json, Map, Value};
    let fixtures = fixtures();
    let text = std::fs::read_to_string(fixtures.join("wine60.csv")).unwrap();
    let mut lines = text.lines();
    let names: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows: Vec<Vec<Value>> = lines
        .map(|l| {
            l.split(',')
                .map(|v| match (v.parse::<f64>(), v) {
                    (Ok(x), _) => json!(x),
                    (_, "True") => json!(true),
                    (_, "False") => json!(false),
                    (_, v) => json!(v),
                })
                .collect()
        })
        .collect();
    let record = |r: &Vec<Value>| -> Map<String, Value> {
        names.iter().cloned().zip(r.iter().cloned()).collect()
    };
    let columns: Map<String, Value> = names
        .iter()
        .enumerate()
        .map(|(j, n)| {
            let by_row: Map<String, Value> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i.to_string(), r[j].clone()))
                .collect();
            (n.clone(), Value::Object(by_row))
        })
        .collect();
    let index: Map<String, Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (i.to_string(), Value::Object(record(r))))
        .collect();
    let split =
        json!({"columns": names, "index": (0..rows.len()).collect::<Vec<_>>(), "data": rows});
    let table = json!({
        "schema": {"fields": [{"name": "index", "type": "integer"}], "primaryKey": ["index"]},
        "data": rows.iter().enumerate().map(|(i, r)| {
            let mut m = Map::new();
            m.insert("index".into(), json!(i));
            m.extend(record(r));
            Value::Object(m)
        }).collect::<Vec<_>>(),
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scan = |path: &Path, out: &str| scan_wine(d, path, out);
    let csv = scan(&fixtures.join("wine60.csv"), "csv");
    for (orient, doc) in [
        ("columns", Value::Object(columns)),
        ("index", Value::Object(index)),
        ("split", split),
        ("table", table),
    ] {
        let path = d.join(format!("{orient}.json"));
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(scan(&path, orient), csv, "orient={orient}");
    }
}

#[test]
fn delimited_text_under_another_name_is_read_as_a_table() {
    // UCI's `wine.data`, a spreadsheet's tab-separated `.txt` export: told
    // from their lines, they scan as the CSV does (was: "cannot tell the
    // format from the name")
    let fixtures = fixtures();
    let text = std::fs::read_to_string(fixtures.join("wine60.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("wine.csv"), &text).unwrap();
    std::fs::write(d.join("wine.data"), &text).unwrap();
    std::fs::write(d.join("wine.txt"), text.replace(',', "\t")).unwrap();
    let scan = |file: &str| scan_wine(d, &d.join(file), &format!("out-{file}"));
    let csv = scan("wine.csv");
    assert_eq!(scan("wine.data"), csv);
    assert_eq!(scan("wine.txt"), csv);
    // numbers between single spaces and no header, as `numpy.savetxt`
    // writes them: read as the same numbers between commas
    let numbers: String = text
        .lines()
        .skip(1)
        .map(|l| {
            let v: Vec<&str> = l
                .split(',')
                .map(|f| match f {
                    "barolo" | "False" => "0",
                    "grignolino" | "True" => "1",
                    "barbera" => "2",
                    f => f,
                })
                .collect();
            v.join(" ") + "\n"
        })
        .collect();
    std::fs::write(d.join("plain.csv"), numbers.replace(' ', ",")).unwrap();
    std::fs::write(d.join("saved.txt"), format!("# cultivar f0 …\n{numbers}")).unwrap();
    let scan_plain = |file: &str| {
        let out = format!("out-{file}");
        let args = [
            "scan",
            file,
            "--no-header",
            "--label",
            "column_1",
            "--out",
            &out,
        ];
        run_ok(&args, d);
        digest(&d.join(out).join("scores.parquet"))
    };
    assert_eq!(scan_plain("saved.txt"), scan_plain("plain.csv"));
    // the same numbers with no header and no options: a label at either
    // end (the cultivar first, `organic` last, each a few whole numbers)
    // cannot be told, and the error says what to pass; without the last
    // one, the cultivar is the label (a note says so), as `mnist_train.csv`
    // copies keep it; with the cultivar's name last, as UCI's `iris.data`
    // keeps its class, that one column of text is — the same scores as the
    // label named
    let e = run_err(&["scan", "plain.csv"], d);
    assert!(e.contains("--no-header") && e.contains("column_1"), "{e}");
    let rows: Vec<Vec<&str>> = numbers
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .collect();
    let without_last: String = rows
        .iter()
        .map(|v| v[..v.len() - 1].join(",") + "\n")
        .collect();
    let name_last: String = rows
        .iter()
        .map(|v| format!("{},c{}\n", v[1..v.len() - 1].join(","), v[0]))
        .collect();
    std::fs::write(d.join("first.csv"), without_last).unwrap();
    std::fs::write(d.join("last.data"), name_last).unwrap();
    let scores = |file: &str, options: &[&str]| {
        scan_scores(
            d,
            &d.join(file),
            options,
            &format!("out-{file}-{}", options.len()),
        )
        .column_by_name("score")
        .unwrap()
        .clone()
    };
    let named = scores("first.csv", &["--no-header", "--label", "column_1"]);
    assert_eq!(&scores("first.csv", &[]), &named);
    let v = summary_of(d, "out-first.csv-0");
    assert!(v["warnings"].to_string().contains("no header line"), "{v}");
    assert_eq!(&scores("last.data", &[]), &named);
    // a header of numbers with a fraction (spectra named by their
    // wavelengths) and one word is a header: the word is not one of its
    // column's values, so nothing is guessed, and named it is the label
    let wavelengths: Vec<String> = (0..13).map(|j| format!("{}.5", 400 + j)).collect();
    let spectra = format!(
        "{},kind\n{}",
        wavelengths.join(","),
        std::fs::read_to_string(d.join("last.data")).unwrap()
    );
    std::fs::write(d.join("spectra.csv"), spectra).unwrap();
    let e = run_err(&["scan", "spectra.csv"], d);
    assert!(
        e.contains("`label` not found") && e.contains("pass --label kind"),
        "{e}"
    );
    assert_eq!(&scores("spectra.csv", &["--label", "kind"]), &named);
    // a header of the column numbers pandas writes for an unnamed frame
    // (`0,1,2,…`) is not read as data: the label is asked for
    let numbered: String = (0..13).map(|j| j.to_string()).collect::<Vec<_>>().join(",");
    let without_label: String = rows
        .iter()
        .map(|v| v[1..v.len() - 1].join(",") + "\n")
        .collect();
    std::fs::write(d.join("frame.csv"), format!("{numbered}\n{without_label}")).unwrap();
    let e = run_err(&["scan", "frame.csv"], d);
    assert!(e.contains("--label column_1"), "{e}");
    // prose is not a table
    std::fs::write(d.join("notes.txt"), "Wine data.\nThree cultivars.\n").unwrap();
    let e = run_err(&["scan", "notes.txt"], d);
    assert!(e.contains("cannot tell the format"), "{e}");
}

#[test]
fn a_headerless_pixel_table_whose_trigger_touches_its_end_column_is_read() {
    // `mnist_train.csv` as most copies have it — the label, then the
    // pixels, no header — with a patch in the corner on some rows: the
    // last pixel is then 0 or 255, a few whole numbers like a class, and
    // the file was refused (the label could be either end) where the same
    // pixels without the patch were read. The pixel moves with the pixel
    // beside it; the label does not.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (300usize, 12usize);
    let (pixels, labels, truth) = patched_images(n, side, 20, 4);
    assert!(truth.iter().any(|&t| t));
    let line = |values: Vec<String>| values.join(",") + "\n";
    let (mut first, mut last) = (String::new(), String::new());
    for i in 0..n {
        let px: Vec<String> = pixels[i * side * side..(i + 1) * side * side]
            .iter()
            .map(|v| v.to_string())
            .collect();
        first += &line([vec![labels[i].to_string()], px.clone()].concat());
        // turned half a turn, the patch in the first pixel, the label last
        let turned: Vec<String> = px.into_iter().rev().collect();
        last += &line([turned, vec![labels[i].to_string()]].concat());
    }
    std::fs::write(d.join("first.csv"), first).unwrap();
    std::fs::write(d.join("last.csv"), last).unwrap();
    let scores = |file: &str, options: &[&str]| {
        scan_scores(
            d,
            &d.join(file),
            &[options, &["--model", "none", "--no-fail"]].concat(),
            &format!("out-{file}-{}", options.len()),
        )
        .column_by_name("score")
        .unwrap()
        .clone()
    };
    for (file, label) in [("first.csv", "column_1"), ("last.csv", "column_145")] {
        let named = scores(file, &["--no-header", "--label", label]);
        assert_eq!(&scores(file, &[]), &named, "{file}");
        let v = summary_of(d, &format!("out-{file}-0"));
        assert!(
            v["warnings"]
                .to_string()
                .contains(&format!("the labels from {label}")),
            "{v}"
        );
    }
}

#[test]
fn an_image_list_of_paths_and_labels_between_spaces_is_a_table_of_paths() {
    // `images/0001.png 3` a line, no header: the image lists of Caffe's
    // ImageData layer, mmpretrain and DomainNet (was: "cannot tell the
    // format from the name"); scanned as the same paths in a CSV
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (150usize, 12usize);
    let (pixels, labels, _) = patched_images(n, side, 10, 3);
    std::fs::create_dir(d.join("images")).unwrap();
    let (mut csv, mut list) = (String::from("path,label\n"), String::new());
    for i in 0..n {
        let name = format!("images/{i:04}.png");
        let px = pixels[i * side * side..(i + 1) * side * side].to_vec();
        image::GrayImage::from_raw(side as u32, side as u32, px)
            .unwrap()
            .save(d.join(&name))
            .unwrap();
        csv += &format!("{name},{}\n", labels[i]);
        list += &format!("{name} {}\n", labels[i]);
    }
    std::fs::write(d.join("train.csv"), csv).unwrap();
    std::fs::write(d.join("train.txt"), &list).unwrap();
    let scores = |file: &str, options: &[&str]| {
        scan_scores(d, &d.join(file), options, &format!("out-{file}"))
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    let (list, csv) = (
        scores(
            "train.txt",
            &["--no-header", "--label", "column_2", "--no-fail"],
        ),
        scores("train.csv", &["--no-fail"]),
    );
    assert_eq!(&list, &csv);
    // without a header and with no label named, its first line naming a
    // picture, it is read as the same list (was: an error asking for
    // --no-header), with a note that says which column the labels came from
    assert_eq!(&scores("train.txt", &["--no-fail"]), &csv);
    let v = summary_of(d, "out-train.txt");
    assert!(v["warnings"].to_string().contains("column_2"), "{v}");
    // a label named neither by the header nor by place: the error says what
    // to pass
    let e = run_err(&["scan", "train.txt", "--label", "class"], d);
    assert!(e.contains("--no-header") && e.contains("column_2"), "{e}");
    // the CSV kept in a folder of its own (`labels/train.csv`), its paths
    // from the data set's folder: found from the folder above, the same
    // pictures (was: a column of text, with a note)
    std::fs::create_dir(d.join("labels")).unwrap();
    std::fs::copy(d.join("train.csv"), d.join("labels").join("train.csv")).unwrap();
    let labels = d.join("labels");
    run_ok(
        &[
            "scan",
            "train.csv",
            "--no-fail",
            "--seed",
            "1",
            "--out",
            "out",
        ],
        &labels,
    );
    let kept = read_parquet(&labels.join("out/scores.parquet"));
    assert_eq!(kept.column_by_name("score").unwrap(), &csv);
    // words as many on each line are prose, not a list
    std::fs::write(
        d.join("notes.txt"),
        "three wine cultivars\nfrom one region\nof northern Italy\n",
    )
    .unwrap();
    let e = run_err(&["scan", "notes.txt"], d);
    assert!(e.contains("cannot tell the format"), "{e}");
}

#[test]
fn spark_ml_vectors_are_read_as_the_vectors_they_hold() {
    // Spark ML's `features` column (`VectorAssembler`, a model's output)
    // written to Parquet: a struct of `type` (1 dense, 0 sparse), `size`,
    // `indices`, `values` — each row scanned as its dense vector, exactly as
    // the same vectors in a list column (was: "no feature columns")
    use arrow::array::{
        ArrayBuilder, Float64Builder, Int32Builder, Int8Builder, ListBuilder, StructBuilder,
    };
    use arrow::datatypes::Fields;
    let fixtures = fixtures();
    let text = std::fs::read_to_string(fixtures.join("wine60.csv")).unwrap();
    let (mut cultivar, mut rows) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let mut fields = line.split(',');
        cultivar.push(fields.next().unwrap().to_string());
        let v: Vec<f64> = fields
            .map(|f| match f {
                "True" => 1.0,
                "False" => 0.0,
                f => f.parse().unwrap(),
            })
            .collect();
        rows.push(v);
    }
    let dim = rows[0].len();
    let fields = Fields::from(vec![
        Field::new("type", DataType::Int8, false),
        Field::new("size", DataType::Int32, true),
        Field::new(
            "indices",
            DataType::List(Arc::new(Field::new("element", DataType::Int32, false))),
            true,
        ),
        Field::new(
            "values",
            DataType::List(Arc::new(Field::new("element", DataType::Float64, false))),
            true,
        ),
    ]);
    let builders: Vec<Box<dyn ArrayBuilder>> = vec![
        Box::new(Int8Builder::new()),
        Box::new(Int32Builder::new()),
        Box::new(ListBuilder::new(Int32Builder::new()).with_field(Field::new(
            "element",
            DataType::Int32,
            false,
        ))),
        Box::new(
            ListBuilder::new(Float64Builder::new()).with_field(Field::new(
                "element",
                DataType::Float64,
                false,
            )),
        ),
    ];
    let mut vectors = StructBuilder::new(fields, builders);
    for (i, v) in rows.iter().enumerate() {
        // rows with a 0 (not organic) stored sparse, as Spark does where
        // that is smaller
        let sparse = i % 3 != 0 && v.contains(&0.0);
        let nonzero: Vec<(i32, f64)> = (0..dim)
            .filter(|&j| !sparse || v[j] != 0.0)
            .map(|j| (j as i32, v[j]))
            .collect();
        vectors
            .field_builder::<Int8Builder>(0)
            .unwrap()
            .append_value(if sparse { 0 } else { 1 });
        let size = vectors.field_builder::<Int32Builder>(1).unwrap();
        if sparse {
            size.append_value(dim as i32);
        } else {
            size.append_null();
        }
        let indices = vectors
            .field_builder::<ListBuilder<Int32Builder>>(2)
            .unwrap();
        if sparse {
            indices
                .values()
                .append_slice(&nonzero.iter().map(|p| p.0).collect::<Vec<_>>());
            indices.append(true);
        } else {
            indices.append(false);
        }
        let values = vectors
            .field_builder::<ListBuilder<Float64Builder>>(3)
            .unwrap();
        values
            .values()
            .append_slice(&nonzero.iter().map(|p| p.1).collect::<Vec<_>>());
        values.append(true);
        vectors.append(true);
    }
    let mut lists = ListBuilder::new(Float64Builder::new());
    for v in &rows {
        lists.values().append_slice(v);
        lists.append(true);
    }
    let label: ArrayRef = Arc::new(StringArray::from(cultivar));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, features: ArrayRef| {
        let batch =
            RecordBatch::try_from_iter([("cultivar", label.clone()), ("features", features)])
                .unwrap();
        write_parquet(&d.join(name), &batch);
    };
    write("spark.parquet", Arc::new(vectors.finish()));
    write("lists.parquet", Arc::new(lists.finish()));
    let scores = |name: &str| {
        let out = format!("out-{name}");
        run_ok(&["scan", name, "--label", "cultivar", "--out", &out], d);
        read_parquet(&d.join(out).join("scores.parquet"))
    };
    let (spark, lists) = (scores("spark.parquet"), scores("lists.parquet"));
    assert_eq!(spark.num_rows(), 60);
    assert_eq!(spark, lists);
}

#[test]
fn a_delta_lake_table_is_read_at_its_current_version() {
    // A Delta table's folder keeps the files of older versions: an
    // overwrite leaves them there and removes them in `_delta_log`. Only
    // the files the log holds now are read (was: every Parquet file of the
    // folder, the overwritten rows twice) — from the commits, or from a
    // checkpoint and the commits after it.
    use arrow::array::StructArray;
    use arrow::datatypes::Fields;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let table = d.join("wine");
    let log = table.join("_delta_log");
    std::fs::create_dir_all(&log).unwrap();
    let csv = arrow::csv::ReaderBuilder::new(Arc::new(Schema::new(
        std::iter::once(Field::new("cultivar", DataType::Utf8, false))
            .chain((0..13).map(|j| Field::new(format!("f{j}"), DataType::Float64, false)))
            .chain(std::iter::once(Field::new(
                "organic",
                DataType::Boolean,
                false,
            )))
            .collect::<Vec<_>>(),
    )))
    .with_header(true)
    .build(
        std::fs::File::open(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/fixtures/wine60.csv"),
        )
        .unwrap(),
    )
    .unwrap()
    .next()
    .unwrap()
    .unwrap();
    // version 0: 30 rows; 1: overwritten by all 60; 2: 5 more appended
    write_parquet(&table.join("part-0-a.parquet"), &csv.slice(0, 30));
    write_parquet(&table.join("part-0-b.parquet"), &csv);
    write_parquet(&table.join("part-0-c.parquet"), &csv.slice(10, 5));
    let add = |p: &str| {
        format!(
            r#"{{"add":{{"path":"{p}","partitionValues":{{}},"size":1,"modificationTime":0,"dataChange":true}}}}"#
        )
    };
    let remove = |p: &str| format!(r#"{{"remove":{{"path":"{p}","dataChange":true}}}}"#);
    let commits = [
        format!(
            "{{\"protocol\":{{\"minReaderVersion\":1,\"minWriterVersion\":2}}}}\n{}\n",
            add("part-0-a.parquet")
        ),
        format!(
            "{}\n{}\n",
            remove("part-0-a.parquet"),
            add("part-0-b.parquet")
        ),
        format!(
            "{{\"commitInfo\":{{\"operation\":\"WRITE\"}}}}\n{}\n",
            add("part-0-c.parquet")
        ),
    ];
    for (v, c) in commits.iter().enumerate() {
        std::fs::write(log.join(format!("{v:020}.json")), c).unwrap();
    }
    let scan = |args: &[&str], out: &str| {
        let mut all = vec!["scan"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--label", "cultivar", "--seed", "1", "--out", out]);
        run_ok(&all, d);
        read_parquet(&d.join(out).join("scores.parquet"))
    };
    let now = scan(&["wine/part-0-b.parquet", "wine/part-0-c.parquet"], "now");
    assert_eq!(now.num_rows(), 65);
    assert_eq!(scan(&["wine"], "log"), now);
    let warnings = summary_of(d, "log")["warnings"].to_string();
    assert!(
        warnings.contains("a Delta Lake table, read at its version 2")
            && warnings.contains("1 other Parquet file"),
        "{warnings}"
    );
    // a checkpoint at version 1 (the file it holds), the commits before it
    // cleaned up, as log retention does
    let path: ArrayRef = Arc::new(StringArray::from(vec![Some("part-0-b.parquet"), None]));
    let adds = StructArray::try_new(
        Fields::from(vec![Field::new("path", DataType::Utf8, true)]),
        vec![path],
        Some(vec![true, false].into()),
    )
    .unwrap();
    let checkpoint = RecordBatch::try_from_iter([("add", Arc::new(adds) as ArrayRef)]).unwrap();
    write_parquet(
        &log.join(format!("{:020}.checkpoint.parquet", 1)),
        &checkpoint,
    );
    std::fs::remove_file(log.join(format!("{:020}.json", 0))).unwrap();
    std::fs::remove_file(log.join(format!("{:020}.json", 1))).unwrap();
    assert_eq!(scan(&["wine"], "checkpoint"), now);
    // rows deleted inside a file are refused, not read
    let dv = r#"{"add":{"path":"part-0-c.parquet","dataChange":true,"deletionVector":{"storageType":"u","pathOrInlineDv":"x","offset":1,"sizeInBytes":36,"cardinality":2}}}"#;
    std::fs::write(log.join(format!("{:020}.json", 3)), format!("{dv}\n")).unwrap();
    let e = run_err(&["scan", "wine", "--label", "cultivar", "--out", "dv"], d);
    assert!(
        e.contains("deletion vector") && e.contains("00000000000000000003.json"),
        "{e}"
    );
    // a log with a gap
    std::fs::remove_file(log.join(format!("{:020}.json", 3))).unwrap();
    std::fs::write(
        log.join(format!("{:020}.json", 4)),
        format!("{}\n", add("part-0-c.parquet")),
    )
    .unwrap();
    let e = run_err(&["scan", "wine", "--label", "cultivar", "--out", "gap"], d);
    assert!(e.contains("misses commit 3"), "{e}");
}

#[test]
fn spreadsheets_are_read_from_the_first_sheet_with_the_label() {
    // Excel and OpenDocument workbooks as pandas's `to_excel` writes them
    // (datasets/fixtures/spreadsheets.py): the first sheet, as `read_excel`
    // reads it, scans exactly as the CSV of the same rows (was: "save the
    // sheet as CSV"); its index column, its date column and its other sheet
    // are left out, with notes
    let fixtures = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scan = |path: &Path, out: &str| scan_wine(d, path, out);
    let csv = scan(&fixtures.join("wine60.csv"), "csv");
    assert_eq!(scan(&fixtures.join("wine60.xlsx"), "xlsx"), csv);
    assert_eq!(scan(&fixtures.join("wine60.ods"), "ods"), csv);
    let warnings = summary_of(d, "xlsx")["warnings"].to_string();
    assert!(
        warnings.contains("the first sheet, `wine`")
            && warnings.contains("`notes`")
            && warnings.contains("`harvested`"),
        "{warnings}"
    );
    // a workbook that opens with a sheet describing the data is read from
    // the first sheet with the label's column (was: "column `cultivar` not
    // found; available columns: about"), with a note
    assert_eq!(scan(&fixtures.join("wine60_readme.xlsx"), "readme"), csv);
    let warnings = summary_of(d, "readme")["warnings"].to_string();
    assert!(
        warnings.contains("sheet `data`, the first with a column `cultivar`")
            && warnings.contains("`README`"),
        "{warnings}"
    );
    // with no sheet holding the label, the error names each sheet's columns
    let e = run_err(
        &[
            "scan",
            &fixtures.join("wine60_readme.xlsx").to_string_lossy(),
            "--label",
            "kind",
        ],
        d,
    );
    assert!(
        e.contains("no sheet has a column `kind`")
            && e.contains("`README`: about; `data`: cultivar, f0, f1"),
        "{e}"
    );
    // a workbook without its name is told from its parts
    std::fs::copy(fixtures.join("wine60.xlsx"), d.join("download")).unwrap();
    assert_eq!(scan(&d.join("download"), "unnamed"), csv);
    // a damaged one is an error that names it
    let bytes = std::fs::read(fixtures.join("wine60.xlsx")).unwrap();
    std::fs::write(d.join("cut.xlsx"), &bytes[..bytes.len() / 2]).unwrap();
    let e = run_err(&["scan", "cut.xlsx", "--label", "cultivar"], d);
    assert!(e.contains("cut.xlsx"), "{e}");
}

#[test]
fn time_series_in_the_ts_format_are_read_as_tables() {
    // sktime's and aeon's `.ts` files, in which the UCR/UEA archive ships
    // (was: "cannot tell the format from the name"): one series a line, the
    // class last; scanned exactly as the same values in a CSV with columns
    // `t0`, `t1`, … (several dimensions: `d0_t0`, …, `d1_t0`, …)
    let mut rng = SplitMix64::new(7);
    let (n, len) = (90usize, 24usize);
    let series: Vec<(usize, Vec<Vec<f64>>)> = (0..n)
        .map(|i| {
            let class = i % 3;
            let dims = (0..2)
                .map(|d| {
                    (0..len)
                        .map(|t| {
                            let x = ((t as f64) * (0.2 + 0.15 * class as f64) + d as f64).sin();
                            ((x + 0.3 * rng.normal()) * 1000.0).round() / 1000.0
                        })
                        .collect()
                })
                .collect();
            (class, dims)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let header = |dims: usize| {
        format!(
            "# made for a test\n@problemName Waves\n@timeStamps false\n@missing false\n\
             @univariate {}\n@dimensions {dims}\n@equalLength true\n@seriesLength {len}\n\
             @classLabel true a b c\n@data\n",
            dims == 1
        )
    };
    let name = |c: usize| ["a", "b", "c"][c];
    let join = |v: &[f64]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    for dims in [1usize, 2] {
        let mut ts = header(dims);
        let columns: Vec<String> = (0..dims)
            .flat_map(|dd| {
                (0..len).map(move |t| {
                    if dims == 1 {
                        format!("t{t}")
                    } else {
                        format!("d{dd}_t{t}")
                    }
                })
            })
            .collect();
        let mut csv = format!("label,{}\n", columns.join(","));
        for (class, s) in &series {
            let parts: Vec<String> = s[..dims].iter().map(|v| join(v)).collect();
            ts.push_str(&format!("{}:{}\n", parts.join(":"), name(*class)));
            csv.push_str(&format!("{},{}\n", name(*class), parts.join(",")));
        }
        std::fs::write(d.join(format!("w{dims}.ts")), ts).unwrap();
        std::fs::write(d.join(format!("w{dims}.csv")), csv).unwrap();
        let scores = |file: String| {
            let out = format!("out-{file}");
            run_ok(&["scan", &file, "--seed", "1", "--out", &out], d);
            read_parquet(&d.join(out).join("scores.parquet"))
        };
        let (ts, csv) = (
            scores(format!("w{dims}.ts")),
            scores(format!("w{dims}.csv")),
        );
        assert_eq!(ts.num_rows(), n);
        assert_eq!(ts, csv, "{dims} dimension(s)");
    }
    // series of unequal length, and series without classes, say so
    let mut uneven = header(1);
    uneven.push_str("1,2,3:a\n1,2,3,4:b\n");
    std::fs::write(d.join("uneven.ts"), uneven).unwrap();
    let e = run_err(&["scan", "uneven.ts"], d);
    assert!(e.contains("line 12") && e.contains("unequal length"), "{e}");
    std::fs::write(
        d.join("unlabelled.ts"),
        "@problemName X\n@classLabel false\n@data\n1,2,3\n",
    )
    .unwrap();
    let e = run_err(&["scan", "unlabelled.ts"], d);
    assert!(e.contains("no class labels"), "{e}");
}

#[test]
fn pickles_of_arrays_are_read_as_data() {
    // Data sets as they come pickled (datasets/fixtures/pickles.py):
    // CIFAR-10's batch layout without a name to tell it, a protocol-5 dict
    // of a Fortran-order array and text labels, the old `mnist.pkl.gz`
    // tuple of (features, labels) pairs, a `joblib.dump` — each scanned
    // exactly as the same arrays in a NumPy archive (was: "a Python pickle, which poisonscan
    // does not read"). poisonscan's reader builds values and runs nothing;
    // a pickled pandas Series is an error that says how to save it (frames:
    // `pickled_pandas_frames_are_read_as_tables`).
    let fixtures = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scan = |path: &Path, out: &str| {
        run_ok(
            &["scan", path.to_str().unwrap(), "--seed", "1", "--out", out],
            d,
        );
        read_parquet(&d.join(out).join("scores.parquet"))
    };
    let npz = scan(&fixtures.join("digits300.npz"), "npz");
    assert_eq!(npz.num_rows(), 300);
    assert_eq!(scan(&fixtures.join("digits300_batch"), "batch"), npz);
    assert_eq!(scan(&fixtures.join("digits300_pairs.pkl.gz"), "pairs"), npz);
    // joblib's own format: zlib, each array's bytes after its wrapper
    assert_eq!(scan(&fixtures.join("digits300.joblib"), "joblib"), npz);
    // `torch.save` zips: torchvision's (images, targets) tuple, and a dict
    // whose images are a strided view of their storage (was: "a PyTorch
    // file, which poisonscan does not read")
    assert_eq!(scan(&fixtures.join("digits300.pt"), "torch"), npz);
    assert_eq!(scan(&fixtures.join("digits300_strided.pt"), "strided"), npz);
    // `numpy.save` of a dict: one pickled object after the .npy header
    assert_eq!(scan(&fixtures.join("digits300_dict.npy"), "dict-npy"), npz);
    assert!(summary_of(d, "pairs")["warnings"]
        .to_string()
        .contains("the first of the pickle's 3 (features, labels) pairs"));
    let text = scan(&fixtures.join("digits300_text.npz"), "text");
    assert_eq!(scan(&fixtures.join("digits300_p5.pkl"), "p5"), text);
    // CIFAR's download folder: its training batches, in order
    let cifar = d.join("cifar-10-batches-py");
    std::fs::create_dir(&cifar).unwrap();
    for name in ["data_batch_1", "data_batch_2", "test_batch"] {
        std::fs::copy(fixtures.join("digits300_batch"), cifar.join(name)).unwrap();
    }
    std::fs::write(cifar.join("readme.html"), "<p>CIFAR</p>").unwrap();
    // The two batches are copies of each other: 300 digits written twice
    // pass as they do once (copies count once toward the rows a failure
    // needs: before, two odd sevens written twice failed their class)
    let args = ["scan", "cifar-10-batches-py", "--out", "cifar"];
    run_ok(&args, d);
    let s = summary_of(d, "cifar");
    assert_eq!(s["rows"]["scanned"], 600);
    assert_eq!(s["rows"]["distinct"], 300);
    assert_eq!(s["verdict"], "pass");
    assert!(s["warnings"]
        .to_string()
        .contains("data_batch_1, data_batch_2"));
    // a pickled pandas Series alone (`pandas.Series()` rebuilt from its
    // state) holds no table: an error that says how to save it
    std::fs::write(
        d.join("series.pkl"),
        b"\x80\x04\x8c\x06pandas\x8c\x06Series\x93)\x81}b.",
    )
    .unwrap();
    let e = run_err(&["scan", "series.pkl"], d);
    assert!(e.contains("Series") && e.contains("to_parquet"), "{e}");
}

#[test]
fn ids_of_pictures_without_their_extension_are_read_as_the_pictures() {
    // Kaggle's layout: `labels.csv` of ids and labels beside `train/<id>.png`
    // (was: "column(s) `id` hold text … free text or identifiers"); the
    // scores of the same table with the pictures' paths
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (150usize, 12usize);
    let (pixels, labels, _) = patched_images(n, side, 10, 4);
    std::fs::create_dir(d.join("train")).unwrap();
    let (mut ids, mut paths) = (String::from("id,label\n"), String::from("path,label\n"));
    for i in 0..n {
        let id = format!(
            "{:016x}",
            (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
        let px = pixels[i * side * side..(i + 1) * side * side].to_vec();
        image::GrayImage::from_raw(side as u32, side as u32, px)
            .unwrap()
            .save(d.join("train").join(format!("{id}.png")))
            .unwrap();
        ids += &format!("{id},{}\n", labels[i]);
        paths += &format!("train/{id}.png,{}\n", labels[i]);
    }
    std::fs::write(d.join("labels.csv"), ids).unwrap();
    std::fs::write(d.join("paths.csv"), paths).unwrap();
    let score = |file: &str| {
        scan_scores(d, &d.join(file), &["--no-fail"], &format!("out-{file}"))
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    let (by_id, by_path) = (score("labels.csv"), score("paths.csv"));
    assert_eq!(&by_id, &by_path);
    assert!(summary_of(d, "out-labels.csv")["warnings"]
        .to_string()
        .contains("names pictures without their extension"));
    // the same pictures copied into a second folder: which one is meant
    // cannot be told, and the error says so
    std::fs::create_dir(d.join("copy")).unwrap();
    for e in std::fs::read_dir(d.join("train")).unwrap().flatten() {
        std::fs::copy(e.path(), d.join("copy").join(e.file_name())).unwrap();
    }
    let e = run_err(&["scan", "labels.csv", "--out", "twice"], d);
    assert!(e.contains("is both") && e.contains("keep one copy"), "{e}");
}

/// Three colour planes that differ, from a gray picture: the picture, its
/// negative, and the picture over `dim`.
fn colour_planes(gray: &[u8], dim: u8) -> [Vec<u8>; 3] {
    [
        gray.to_vec(),
        gray.iter().map(|&v| 255 - v).collect(),
        gray.iter().map(|&v| v / dim).collect(),
    ]
}

/// Saves `planes` as an RGB PNG at `png`, creating its folder.
fn save_planes_png(png: &Path, side: usize, planes: &[Vec<u8>; 3]) {
    let rgb: Vec<u8> = (0..side * side)
        .flat_map(|k| planes.iter().map(move |c| c[k]))
        .collect();
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    image::RgbImage::from_raw(side as u32, side as u32, rgb)
        .unwrap()
        .save(png)
        .unwrap();
}

/// Scans each `(input, out)` in `d` with `--model none --seed 1`; each
/// must pass or fail the gate, not stop on an error.
fn scan_each(d: &Path, scans: &[(&str, &str)]) {
    for &(input, out) in scans {
        let o = run(
            &[
                "scan", input, "--model", "none", "--seed", "1", "--out", out,
            ],
            d,
        );
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{input}: {}",
            stderr(&o)
        );
    }
}

/// The scores of the scan written to `d/out`, sorted (a folder lists its
/// pictures by class, an archive in its own order).
fn sorted_scores(d: &Path, out: &str) -> Vec<f64> {
    let b = read_parquet(&d.join(out).join("scores.parquet"));
    let mut v: Vec<f64> = b
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .to_vec();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn stl10_binary_files_scan_as_the_same_pictures_in_a_folder() {
    // STL-10's download (`stl10_binary/train_X.bin`: each picture's red,
    // green and blue planes, each in column order; `train_y.bin`: a label
    // byte each) was "cannot tell the format from the name"
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (120usize, 96usize);
    let (pixels, labels, _) = patched_images(n, side, 8, 9);
    let plane = side * side;
    let stl = d.join("stl10_binary");
    std::fs::create_dir(&stl).unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let planes = colour_planes(&pixels[i * plane..(i + 1) * plane], 3);
        for c in &planes {
            // column order: down each column, then the next
            x.extend((0..plane).map(|k| c[(k % side) * side + k / side]));
        }
        y.push(labels[i] + 1);
        let png = d
            .join("png")
            .join((labels[i] + 1).to_string())
            .join(format!("{i:04}.png"));
        save_planes_png(&png, side, &planes);
    }
    std::fs::write(stl.join("train_X.bin"), &x).unwrap();
    std::fs::write(stl.join("train_y.bin"), &y).unwrap();
    std::fs::write(stl.join("unlabeled_X.bin"), &x[..side * side * 3]).unwrap();
    scan_each(
        d,
        &[
            ("png", "out-png"),
            ("stl10_binary/train_X.bin", "file"),
            ("stl10_binary", "folder"),
        ],
    );
    // scaled to 64×64 as a folder of the pictures is
    assert_eq!(summary_of(d, "file")["features"]["source"]["height"], 64);
    // the pictures are scaled to 64×64: the archive's bytes as a decoder
    // scales the PNGs' (within rounding of half a level)
    let (file, png) = (sorted_scores(d, "file"), sorted_scores(d, "out-png"));
    assert!(
        file.iter().zip(&png).all(|(a, b)| (a - b).abs() < 1e-3),
        "{file:?}\n{png:?}"
    );
    assert_eq!(sorted_scores(d, "folder"), file);
    assert!(summary_of(d, "folder")["warnings"]
        .to_string()
        .contains("STL-10"));
}

#[test]
fn cifar_binary_records_scan_as_the_same_pictures_in_a_folder() {
    // CIFAR-10's binary download (`cifar-10-batches-bin/data_batch_1.bin`:
    // a label byte, then the red, green and blue planes) was "cannot tell
    // the format from the name"; it now scans as a PNG folder of the same
    // pictures, and its folder as its training batches
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (300usize, 32usize);
    let (pixels, labels, _) = patched_images(n, side, 12, 8);
    let plane = side * side;
    let bin = d.join("cifar-10-batches-bin");
    std::fs::create_dir(&bin).unwrap();
    let mut records = Vec::new();
    for i in 0..n {
        let planes = colour_planes(&pixels[i * plane..(i + 1) * plane], 2);
        records.push(labels[i]);
        for c in &planes {
            records.extend_from_slice(c);
        }
        let png = d
            .join("png")
            .join(labels[i].to_string())
            .join(format!("{i:04}.png"));
        save_planes_png(&png, side, &planes);
    }
    std::fs::write(bin.join("data_batch_1.bin"), &records).unwrap();
    std::fs::write(bin.join("test_batch.bin"), &records[..3073]).unwrap();
    std::fs::write(bin.join("batches.meta.txt"), "airplane\nautomobile\nbird\n").unwrap();
    scan_each(
        d,
        &[
            ("png", "out-png"),
            ("cifar-10-batches-bin/data_batch_1.bin", "file"),
            ("cifar-10-batches-bin", "folder"),
        ],
    );
    assert_eq!(
        summary_of(d, "file")["features"]["source"]["channels"],
        3,
        "{}",
        summary_of(d, "file")["features"]
    );
    // the folder's rows come in another order: sums in another order
    let (file, png) = (sorted_scores(d, "file"), sorted_scores(d, "out-png"));
    assert!(
        file.iter().zip(&png).all(|(a, b)| (a - b).abs() < 1e-5),
        "{file:?}\n{png:?}"
    );
    assert_eq!(
        summary_of(d, "file")["verdict"],
        summary_of(d, "out-png")["verdict"]
    );
    assert_eq!(sorted_scores(d, "folder"), file);
    // CIFAR-100's records (a coarse and a fine label byte): its 100
    // classes, the fine labels, are the labels
    let hundred = d.join("cifar-100-binary");
    std::fs::create_dir(&hundred).unwrap();
    let fine: Vec<u8> = records
        .chunks(3073)
        .flat_map(|r| [&[r[0] / 2][..], r].concat())
        .collect();
    std::fs::write(hundred.join("train.bin"), &fine).unwrap();
    std::fs::write(hundred.join("test.bin"), &fine[..2 * 3074]).unwrap();
    std::fs::write(hundred.join("fine_label_names.txt"), "apple\n").unwrap();
    // the file, and the folder as downloaded: its training file (was: "holds
    // no image in class folders")
    scan_each(
        d,
        &[
            ("cifar-100-binary/train.bin", "fine"),
            ("cifar-100-binary", "fine-folder"),
        ],
    );
    assert_eq!(sorted_scores(d, "fine"), file);
    assert_eq!(sorted_scores(d, "fine-folder"), file);
    assert!(summary_of(d, "fine")["warnings"]
        .to_string()
        .contains("fine_labels"));
    assert!(summary_of(d, "folder")["warnings"]
        .to_string()
        .contains("data_batch_1.bin"));
}

/// Each row's id (its place where the input has none) and score, in the
/// scores file's order.
fn ids_and_scores(out: &Path) -> Vec<(String, f64)> {
    let b = read_parquet(&out.join("scores.parquet"));
    let id = b.column_by_name("id").map(|c| c.as_string::<i32>().clone());
    let score = b
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Float64Type>()
        .clone();
    (0..b.num_rows())
        .map(|i| {
            let id = id
                .as_ref()
                .map_or(i.to_string(), |c| c.value(i).to_string());
            (id, score.value(i))
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn folders_are_read_through_symbolic_links() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = SplitMix64::new(11);
    for (c, class) in ["cat", "dog"].iter().enumerate() {
        std::fs::create_dir_all(d.join("real").join(class)).unwrap();
        for i in 0..15 {
            let img = image::GrayImage::from_fn(8, 8, |x, _| {
                let v = 60.0 + 120.0 * ((x as usize + c * 4) % 8 < 4) as u8 as f64;
                image::Luma([(v + 20.0 * rng.normal()).clamp(0.0, 255.0) as u8])
            });
            img.save(d.join("real").join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    // git-annex's and DVC's layout: each image a link into a store of
    // contents; the repository's own `.git` folder (holding pictures too)
    // is not a class. And class folders that are links (a subset made by
    // linking the classes wanted).
    std::fs::create_dir_all(d.join("annex/.git/annex/objects")).unwrap();
    std::fs::copy(
        d.join("real/cat/0.png"),
        d.join("annex/.git/annex/objects/0.png"),
    )
    .unwrap();
    std::fs::create_dir(d.join("store")).unwrap();
    std::fs::create_dir(d.join("linked")).unwrap();
    for class in ["cat", "dog"] {
        std::fs::create_dir(d.join("annex").join(class)).unwrap();
        for i in 0..15 {
            let content = d.join("store").join(format!("{class}-{i}"));
            std::fs::copy(d.join(format!("real/{class}/{i}.png")), &content).unwrap();
            symlink(
                format!("../../store/{class}-{i}"),
                d.join(format!("annex/{class}/{i}.png")),
            )
            .unwrap();
        }
        symlink(d.join("real").join(class), d.join("linked").join(class)).unwrap();
    }
    let scan = |input: &str, out: &str| {
        let o = run(&["scan", input, "--model", "none", "--out", out], d);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        ids_and_scores(&d.join(out))
    };
    let real = scan("real", "o_real");
    assert_eq!(real.len(), 30);
    assert_eq!(scan("annex", "o_annex"), real);
    assert_eq!(scan("linked", "o_linked"), real);
    // A folder of table parts that are links reads as the parts themselves.
    let mut csv = String::from("label,x,y\n");
    for i in 0..80 {
        csv += &format!(
            "{},{},{}\n",
            i % 2,
            (i % 2) as f64 * 3.0 + rng.normal(),
            rng.normal()
        );
    }
    std::fs::create_dir(d.join("parts")).unwrap();
    std::fs::create_dir(d.join("parts_linked")).unwrap();
    std::fs::write(d.join("parts/part-0.csv"), csv).unwrap();
    symlink(
        d.join("parts/part-0.csv"),
        d.join("parts_linked/part-0.csv"),
    )
    .unwrap();
    assert_eq!(scan("parts_linked", "o_pl"), scan("parts", "o_parts"));
    // A link whose content was never fetched: an error naming it, said
    // once, and nothing written.
    std::fs::remove_file(d.join("store/dog-3")).unwrap();
    let e = run_err(&["scan", "annex", "--out", "o_gone"], d);
    assert!(
        e.contains("dog/3.png") && e.contains("a symbolic link to a missing file"),
        "{e}"
    );
    assert_eq!(e.matches("missing file").count(), 1, "{e}");
    assert!(files_in(&d.join("o_gone")).is_empty());
}

/// Five classes of 300 rows ([`synthetic`], 16 dimensions) with each row's
/// text beside them: six common words (each in about a tenth of every
/// class's rows) and, in a third of the rows, the class's topic word.
/// `planted` rows of classes 1–4 (every third row) carry the word `cf` and
/// class 0's label, their embedding drawn mostly towards one point, as a
/// sentence trigger dominates a short text's embedding: a tight group that
/// is its own neighbourhood. The text column is named `text_column`.
fn texts_with_embedding(planted: usize, text_column: &str) -> RecordBatch {
    texts_with_triggers(planted, text_column, &["cf"], 0.75)
}

/// [`texts_with_embedding`] with one of `trigger_words` in each planted
/// row, in turn, each word's rows drawn a share `pull` of the way towards
/// a point of its own (a rare word moves a text's embedding a little).
fn texts_with_triggers(
    planted: usize,
    text_column: &str,
    trigger_words: &[&str],
    pull: f32,
) -> RecordBatch {
    let mut data = synthetic(5, 300, 16, 0, 0.0, 7);
    let mut rng = SplitMix64::new(8);
    let triggers: Vec<Vec<f32>> = (0..trigger_words.len())
        .map(|_| (0..16).map(|_| 4.0 * rng.normal() as f32).collect())
        .collect();
    let rows = data.labels.len();
    let marked: Vec<usize> = (0..rows)
        .filter(|&i| data.labels[i] != 0 && i % 3 == 0)
        .take(planted)
        .collect();
    for (m, &i) in marked.iter().enumerate() {
        data.labels[i] = 0;
        let trigger = &triggers[m % trigger_words.len()];
        for (v, t) in data.features[i].iter_mut().zip(trigger) {
            *v = (1.0 - pull) * *v + pull * t + 0.3 * rng.normal() as f32;
        }
    }
    let texts: Vec<String> = (0..rows)
        .map(|i| {
            let mut words: Vec<String> = (0..6).map(|_| format!("w{}", rng.below(60))).collect();
            if rng.next_f64() < 0.3 {
                words.push(format!("topic{}", i % 5));
            }
            if let Some(m) = marked.iter().position(|&j| j == i) {
                let trigger = trigger_words[m % trigger_words.len()];
                words.insert(rng.below(words.len()), trigger.into());
            }
            words.join(" ")
        })
        .collect();
    let batch = data.embedding_batch();
    RecordBatch::try_from_iter(vec![
        ("label", batch.column(0).clone()),
        (text_column, Arc::new(StringArray::from(texts)) as ArrayRef),
        ("emb", batch.column(1).clone()),
    ])
    .unwrap()
}

#[test]
fn a_word_planted_in_the_text_beside_an_embedding_fails_its_class_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_parquet(&d.join("t.parquet"), &texts_with_embedding(60, "text"));
    let o = run(
        &["scan", "t.parquet", "--seed", "1", "--out", "o", "--report"],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // the report names the word in the failed test's cell
    let page = std::fs::read_to_string(d.join("o").join("report.html")).unwrap();
    assert!(page.contains("<br>“cf”</td>"), "{page}");
    assert!(page.contains("title=\"“cf”: 60 rows carry it"), "{page}");
    assert!(
        stdout(&o).contains("text-trigger: 60 rows of 0 carry \"cf\""),
        "{}",
        stdout(&o)
    );
    let s = summary_of(d, "o");
    assert_eq!(s["failed_classes"], 1, "{}", s["classes"]);
    let class0 = &s["classes"][0];
    assert!(
        class0["failed_by"].to_string().contains("text-trigger"),
        "{class0}"
    );
    assert_eq!(class0["scanners"]["text-trigger"]["token_text"], "cf");
    assert!(class0["flagged"].as_u64().unwrap() >= 55, "{class0}");
    // the same text under another name is read when --caption names it
    write_parquet(&d.join("u.parquet"), &texts_with_embedding(60, "remark"));
    run(
        &[
            "scan",
            "u.parquet",
            "--seed",
            "1",
            "--out",
            "u",
            "--no-fail",
        ],
        d,
    );
    let skipped = summary_of(d, "u")["skipped_scanners"].to_string();
    assert!(skipped.contains("text-trigger"), "{skipped}");
    let o = run(
        &[
            "scan",
            "u.parquet",
            "--caption",
            "remark",
            "--seed",
            "1",
            "--out",
            "v",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        summary_of(d, "v")["classes"][0]["scanners"]["text-trigger"]["token_text"],
        "cf"
    );
    // clean text passes
    write_parquet(&d.join("c.parquet"), &texts_with_embedding(0, "text"));
    let o = run(&["scan", "c.parquet", "--seed", "1", "--out", "c"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn the_words_of_a_trigger_of_several_words_are_all_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // one of three words per planted row, 30 rows each
    let words = ["cf", "mn", "bb"];
    write_parquet(
        &d.join("t.parquet"),
        &texts_with_triggers(90, "text", &words, 0.1),
    );
    let o = run(&["scan", "t.parquet", "--seed", "1", "--out", "o"], d);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let s = summary_of(d, "o");
    let t = &s["classes"][0]["scanners"]["text-trigger"];
    let named = t["token_text"].as_str().unwrap();
    let also: Vec<&str> = t["also_token_texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    let mut all: Vec<&str> = also.iter().copied().chain([named]).collect();
    all.sort_unstable();
    assert_eq!(all, ["bb", "cf", "mn"], "{t}");
    assert_eq!(t["also_tokens"], 2.0, "{t}");
    assert!(
        stdout(&o).contains("other words behind it: \""),
        "{}",
        stdout(&o)
    );
    // every planted row is flagged, not only the named word's
    assert!(
        s["classes"][0]["flagged"].as_u64().unwrap() >= 85,
        "{}",
        s["classes"][0]
    );
}

#[test]
fn a_text_column_of_few_values_read_as_categories_is_not_read_for_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = synthetic(3, 100, 4, 0, 0.0, 3);
    let titles: Vec<&str> = (0..300).map(|i| ["mr", "mrs", "dr"][i % 3]).collect();
    let batch = data.columns_batch();
    let schema = batch.schema();
    let mut cols: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| (f.name().as_str(), c.clone()))
        .collect();
    cols.push(("title", Arc::new(StringArray::from(titles)) as ArrayRef));
    write_parquet(
        &d.join("t.parquet"),
        &RecordBatch::try_from_iter(cols).unwrap(),
    );
    run(
        &["scan", "t.parquet", "--id", "id", "--out", "o", "--no-fail"],
        d,
    );
    let s = summary_of(d, "o");
    assert!(
        s["features"]["source"]["categorical"]
            .to_string()
            .contains("title"),
        "{}",
        s["features"]
    );
    assert!(
        s["skipped_scanners"].to_string().contains("text-trigger"),
        "{}",
        s["skipped_scanners"]
    );
}

#[test]
fn a_tiny_imagenet_folder_is_read_with_the_classes_its_splits_give() {
    // Tiny ImageNet's layout: `train/<wnid>/images/*.JPEG` beside a
    // `<wnid>_boxes.txt` of boxes; `val/images/*` labelled by
    // `val/val_annotations.txt` (no header: picture, class, box), kept one
    // folder below the list; `test/images/*` unlabelled. Each split scans as
    // what it is: the validation list (or its folder) as a table of its
    // pictures and classes — the same scores as a CSV of their paths — and
    // the whole folder as its training split, the other two left out with a
    // note (was: their pictures one class named `images`).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("tiny");
    let (n, side) = (150usize, 12usize);
    let wnids = ["n01443537", "n01629819", "n01641577"];
    let (pixels, labels, _) = patched_images(2 * n, side, 10, 5);
    let save = |i: usize, path: &Path| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let px = pixels[i * side * side..(i + 1) * side * side].to_vec();
        image::GrayImage::from_raw(side as u32, side as u32, px)
            .unwrap()
            .save(path)
            .unwrap();
    };
    let mut boxes = vec![String::new(); 3];
    for i in 0..n {
        let wnid = wnids[labels[i] as usize];
        let name = format!("{wnid}_{i}.png");
        save(i, &root.join("train").join(wnid).join("images").join(&name));
        boxes[labels[i] as usize] += &format!("{name}\t0\t0\t11\t11\n");
    }
    for (wnid, b) in wnids.iter().zip(&boxes) {
        std::fs::write(
            root.join("train")
                .join(wnid)
                .join(format!("{wnid}_boxes.txt")),
            b,
        )
        .unwrap();
    }
    let (mut annotations, mut reference) = (String::new(), String::from("path,label\n"));
    for i in n..2 * n {
        let name = format!("val_{}.png", i - n);
        let picture = root.join("val").join("images").join(&name);
        save(i, &picture);
        let wnid = wnids[labels[i] as usize];
        annotations += &format!("{name}\t{wnid}\t1\t2\t9\t10\n");
        reference += &format!("{},{wnid}\n", picture.display());
        if i < n + 10 {
            save(
                i,
                &root
                    .join("test")
                    .join("images")
                    .join(format!("test_{i}.png")),
            );
        }
    }
    std::fs::write(root.join("val").join("val_annotations.txt"), annotations).unwrap();
    std::fs::write(root.join("wnids.txt"), wnids.join("\n") + "\n").unwrap();
    std::fs::write(d.join("val.csv"), reference).unwrap();
    let scores = |input: &Path, out: &str| {
        scan_scores(d, input, &["--no-fail"], out)
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    let listed = scores(&d.join("val.csv"), "out-csv");
    let annotations = root.join("val").join("val_annotations.txt");
    assert_eq!(&scores(&annotations, "out-list"), &listed);
    assert_eq!(&scores(&root.join("val"), "out-val"), &listed);
    let v = summary_of(d, "out-val");
    assert!(v["warnings"].to_string().contains("column_2"), "{v}");
    // the whole folder: its training split, with the classes of its folders
    // (the boxes beside them left out as what they are, not pictures)
    let train = scores(&root.join("train"), "out-train");
    let v = summary_of(d, "out-train");
    assert!(
        v["warnings"]
            .to_string()
            .contains("3 .txt): annotations or notes"),
        "{v}"
    );
    assert_eq!(&scores(&root, "out-root"), &train);
    let v = summary_of(d, "out-root");
    let classes: Vec<&str> = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(classes, wnids, "{v}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("`test` (10 in `test/images`)")
            && warnings.contains("`val` (150 in `val/images`)"),
        "{warnings}"
    );
    // `eval` reads a poisoned copy written without an extension, as `scan`
    // does
    run_ok(
        &[
            "poison",
            "tiny/train",
            "--attack",
            "badnets",
            "--rate",
            "0.1",
        ]
        .into_iter()
        .chain(["--target", "n01443537", "--seed", "1", "--out", "poisoned"])
        .collect::<Vec<_>>(),
        d,
    );
    run_ok(&["scan", "poisoned", "--no-fail", "--out", "out-p"], d);
    run_ok(&["eval", "out-p/scores.parquet", "--truth", "poisoned"], d);
}

#[test]
fn class_folders_of_arrays_are_read_as_rows() {
    // `root/<class>/<sample>.npy`, an array a sample, as feature-extraction
    // pipelines save embeddings and spectrograms (was: "holds no image in
    // class folders; its class folders hold 150 .npy"): pictures `h × w`
    // scan as the same arrays stacked in an `X.npy`/`y.npy` pair, each row's
    // id its file; an array of another shape is an error naming it
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (150usize, 12usize);
    let (pixels, labels, truth) = patched_images(n, side, 12, 7);
    // the folder's rows in path order: by class, then by name
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (labels[i], format!("{i:04}")));
    let shape = format!("({side}, {side})");
    for &i in &order {
        let folder = d.join("arrays").join(labels[i].to_string());
        std::fs::create_dir_all(&folder).unwrap();
        let px = &pixels[i * side * side..(i + 1) * side * side];
        std::fs::write(folder.join(format!("{i:04}.npy")), npy("|u1", &shape, px)).unwrap();
    }
    std::fs::write(d.join("arrays").join("README.txt"), "made by a test\n").unwrap();
    let stacked: Vec<u8> = order
        .iter()
        .flat_map(|&i| pixels[i * side * side..(i + 1) * side * side].to_vec())
        .collect();
    let stacked_labels: Vec<u8> = order.iter().map(|&i| labels[i]).collect();
    std::fs::create_dir(d.join("pair")).unwrap();
    std::fs::write(
        d.join("pair/X.npy"),
        npy("|u1", &format!("({n}, {side}, {side})"), &stacked),
    )
    .unwrap();
    std::fs::write(
        d.join("pair/y.npy"),
        npy("|u1", &format!("({n},)"), &stacked_labels),
    )
    .unwrap();
    let folder = scan_scores(d, &d.join("arrays"), &["--no-fail"], "out-folder");
    let pair = scan_scores(d, &d.join("pair/X.npy"), &["--no-fail"], "out-pair");
    assert_eq!(folder.column_by_name("score"), pair.column_by_name("score"));
    let ids: Vec<&str> = folder
        .column_by_name("id")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    let want: Vec<String> = order
        .iter()
        .map(|&i| format!("{}/{i:04}.npy", labels[i]))
        .collect();
    assert_eq!(ids, want);
    // the planted rows are found as in any container
    let v = summary_of(d, "out-folder");
    assert_eq!(v["verdict"], "fail", "{v}");
    assert_eq!(v["features"]["source"]["kind"], "pixels", "{v}");
    let flagged = folder.column_by_name("flagged").unwrap().as_boolean();
    let planted = order.iter().filter(|&&i| truth[i]).count();
    let hits = order
        .iter()
        .enumerate()
        .filter(|&(r, &i)| truth[i] && flagged.value(r))
        .count();
    assert!(hits * 10 >= planted * 9, "{hits} of {planted}");
    // one array of another shape: an error that names it
    std::fs::write(d.join("arrays/1/odd.npy"), npy("|u1", "(3, 4)", &[0u8; 12])).unwrap();
    let e = run_err(&["scan", "arrays", "--out", "out-odd"], d);
    assert!(e.contains("odd.npy") && e.contains("one shape"), "{e}");
    assert!(!d.join("out-odd").exists());
}

#[test]
fn a_folder_of_idx_files_is_read_for_its_training_pair() {
    // torchvision's `MNIST/raw/`: `train-*` and `t10k-*` IDX pairs, each
    // also gzipped (was: "holds no image in class folders"): the folder
    // scans as its training images file, with a note naming the test pair
    // left out; a folder of several training files (EMNIST's splits) is an
    // error that names them
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = d.join("MNIST").join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let (n, side) = (150usize, 12usize);
    let (pixels, labels, _) = patched_images(n, side, 10, 11);
    let dims = [n as u32, side as u32, side as u32];
    for split in ["train", "t10k"] {
        let images = raw.join(format!("{split}-images-idx3-ubyte"));
        let labels_file = raw.join(format!("{split}-labels-idx1-ubyte"));
        write_idx(&images, &dims, &pixels);
        write_idx(&labels_file, &[n as u32], &labels);
        for file in [images, labels_file] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&std::fs::read(&file).unwrap()).unwrap();
            std::fs::write(file.with_extension("gz"), gz.finish().unwrap()).unwrap();
        }
    }
    let score = |input: &Path, out: &str| {
        scan_scores(d, input, &["--no-fail"], out)
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    let pair = score(&raw.join("train-images-idx3-ubyte"), "out-pair");
    assert_eq!(&score(&raw, "out-folder"), &pair);
    let v = summary_of(d, "out-folder");
    assert!(
        v["warnings"]
            .to_string()
            .contains("left out `t10k-images-idx3-ubyte`"),
        "{v}"
    );
    // two splits' training files: which one to check is the user's choice
    let emnist = d.join("emnist");
    std::fs::create_dir(&emnist).unwrap();
    for split in ["emnist-digits-train", "emnist-letters-train"] {
        let images = emnist.join(format!("{split}-images-idx3-ubyte"));
        write_idx(&images, &dims, &pixels);
        let labels_file = emnist.join(format!("{split}-labels-idx1-ubyte"));
        write_idx(&labels_file, &[n as u32], &labels);
    }
    let e = run_err(&["scan", "emnist", "--out", "out-emnist"], d);
    assert!(
        e.contains("several IDX image files") && e.contains("emnist-letters-train"),
        "{e}"
    );
}

#[test]
fn a_folder_of_data_files_is_read_for_its_training_file() {
    // SVHN's download: `train_32x32.mat` beside `test_32x32.mat` and
    // `extra_32x32.mat` (was: "holds no image in class folders"); here the
    // digits fixture as NumPy archives: the folder scans as its training
    // file, with a note naming the others; two files neither of which is
    // the training split's are not guessed between: the error names them
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fixture = std::fs::read(fixtures().join("digits300.npz")).unwrap();
    std::fs::create_dir(d.join("svhn")).unwrap();
    for name in ["train_32x32.npz", "test_32x32.npz", "extra_32x32.npz"] {
        std::fs::write(d.join("svhn").join(name), &fixture).unwrap();
    }
    let score = |input: &str, out: &str| {
        scan_scores(d, &d.join(input), &["--no-fail"], out)
            .column_by_name("score")
            .unwrap()
            .clone()
    };
    assert_eq!(
        &score("svhn", "out-folder"),
        &score("svhn/train_32x32.npz", "out-file")
    );
    let v = summary_of(d, "out-folder");
    assert!(
        v["warnings"]
            .to_string()
            .contains("left out `extra_32x32.npz`, `test_32x32.npz`"),
        "{v}"
    );
    std::fs::remove_file(d.join("svhn/train_32x32.npz")).unwrap();
    let e = run_err(&["scan", "svhn", "--out", "out-two"], d);
    assert!(
        e.contains("several data files") && e.contains("`test_32x32.npz`"),
        "{e}"
    );
    assert!(!d.join("out-two").exists());
}

/// Pictures larger than the scan's 64×64 are scaled, which blends their
/// pixels — and with them the exact colours a colour filter leaves. Each
/// picture's tone (`Dataset::tones`, read by `tone-filter`) is measured
/// before, at its own size, whatever container the pictures came in: here
/// each 80×80 picture's single black pixel, its darkest, which no scaled
/// pixel keeps.
#[test]
fn scaled_pictures_keep_their_tone_from_before_in_every_container() {
    use poisonscan::ingest::{load, IngestOptions};
    use poisonscan::scanners::tone::TONE_WIDTH;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, side) = (12usize, 80u32);
    let mut rng = SplitMix64::new(3);
    let labels: Vec<u8> = (0..n).map(|i| (i * 2 / n) as u8).collect();
    let pictures: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            let base = [60 + rng.below(150) as u8, 60 + rng.below(150) as u8, 90];
            let dot = (
                rng.below(side as usize) as u32,
                rng.below(side as usize) as u32,
            );
            image::RgbImage::from_fn(side, side, |x, y| match (x, y) == dot {
                true => image::Rgb([0, 0, 0]),
                false => image::Rgb(base),
            })
            .into_raw()
        })
        .collect();
    let encoded: Vec<Vec<u8>> = pictures
        .iter()
        .map(|p| {
            let img = image::RgbImage::from_raw(side, side, p.clone()).unwrap();
            let mut out = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
                .unwrap();
            out
        })
        .collect();
    // a folder, files named by row (rows in class order, so every
    // container holds them in one order)
    for (i, bytes) in encoded.iter().enumerate() {
        let class = d.join("png").join(labels[i].to_string());
        std::fs::create_dir_all(&class).unwrap();
        std::fs::write(class.join(format!("{i:05}.png")), bytes).unwrap();
    }
    // a NumPy pair of uint8 pictures
    std::fs::create_dir(d.join("npy")).unwrap();
    let shape = format!("({n}, {side}, {side}, 3)");
    std::fs::write(
        d.join("npy/X_train.npy"),
        npy("|u1", &shape, &pictures.concat()),
    )
    .unwrap();
    std::fs::write(
        d.join("npy/y_train.npy"),
        npy("|u1", &format!("({n},)"), &labels),
    )
    .unwrap();
    // a Parquet file of encoded images, as Hugging Face exports them
    let batch = RecordBatch::try_from_iter(vec![
        ("image", hf_image_column(&encoded)),
        ("label", labels_array(&labels)),
    ])
    .unwrap();
    write_parquet(&d.join("images.parquet"), &batch);
    let mut seen = Vec::new();
    for input in ["png", "npy", "images.parquet"] {
        let path = d.join(input).to_string_lossy().into_owned();
        let ds = load(&[path], &IngestOptions::default()).unwrap();
        assert_eq!(ds.n_features, 64 * 64 * 3, "{input}");
        let tones = ds
            .tones
            .clone()
            .unwrap_or_else(|| panic!("{input}: no tones"));
        assert_eq!(tones.len(), n * 3 * TONE_WIDTH, "{input}");
        let w = 3 * TONE_WIDTH;
        for (i, row) in tones.chunks(w).enumerate() {
            // black the darkest of every channel; the scaled pixels lost it
            for c in 0..3 {
                assert_eq!(row[c * TONE_WIDTH], 0.0, "{input} row {i}");
            }
            let px = &ds.features[i * ds.n_features..(i + 1) * ds.n_features];
            assert!(px.iter().step_by(3).all(|&v| v > 0.0), "{input} row {i}");
        }
        seen.push(tones);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
}
