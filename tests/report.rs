//! `report.html`: rendered by the real binary and read back by parsing the
//! HTML (`scraper`); the trigger map on the arrays behind the picture.

mod common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use base64::Engine;
use common::*;
use poisonscan::pipeline::{scan_dataset, NoProgress};
use poisonscan::report::{self, html, RunInfo};
use poisonscan::settings::ScanOptions;
use scraper::{Html, Selector};

fn page(dir: &Path) -> Html {
    Html::parse_document(&std::fs::read_to_string(dir.join("report.html")).unwrap())
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn texts(doc: &Html, s: &str) -> Vec<String> {
    doc.select(&sel(s))
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Self-contained and script-free: a CSP that forbids scripts and remote
/// loads, no script element, every picture a `data:` PNG, no remote link.
fn check_self_contained(doc: &Html) {
    let csp = doc
        .select(&sel("meta[http-equiv='Content-Security-Policy']"))
        .next()
        .expect("a CSP meta tag")
        .value()
        .attr("content")
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(doc.select(&sel("script")).count(), 0);
    for img in doc.select(&sel("img")) {
        let src = img.value().attr("src").unwrap();
        assert!(src.starts_with("data:image/png;base64,"), "{src:.40}");
    }
    for a in doc.select(&sel("a[href]")) {
        assert!(a.value().attr("href").unwrap().starts_with("data:"));
    }
    let unexpected = doc
        .select(&sel("[onerror], [onload], [onclick], link, iframe, object"))
        .next();
    assert!(
        unexpected.is_none(),
        "unexpected element {:?}",
        unexpected.map(|e| e.value())
    );
}

/// The flagged-rows CSV behind the export link.
fn export_csv(doc: &Html) -> String {
    let href = doc
        .select(&sel("a#export"))
        .next()
        .expect("an export link")
        .value()
        .attr("href")
        .unwrap()
        .to_string();
    let b64 = href.strip_prefix("data:text/csv;base64,").unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn demo_report_shows_verdict_classes_groups_thumbnails_and_rerenders() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "scan",
        "--demo",
        "--out",
        "demo",
        "--report",
        "--report-max-rows",
        "4",
        "--quiet",
    ];
    let o = run(&args, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = dir.path().join("demo");
    let s = summary(&out);
    let doc = page(&out);
    check_self_contained(&doc);

    // Banner.
    assert!(texts(&doc, "#verdict")[0].starts_with("FAIL"));
    let flagged = s["rows"]["flagged"].as_u64().unwrap();
    assert!(flagged > 0);
    assert_eq!(texts(&doc, "#rows-flagged"), vec![flagged.to_string()]);
    assert_eq!(texts(&doc, "#rows-input"), vec!["1797"]);
    let sha = s["files"][0]["sha256"].as_str().unwrap();
    assert!(texts(&doc, "#files code").contains(&sha.to_string()));
    assert!(doc.root_element().html().contains("threshold 0.99"));
    // Planted rows whose score rounds to 1 show their significance, which
    // tells them apart.
    assert!(doc.root_element().html().contains("1 (significance "));

    // Class table: one row per class, the failed ones first.
    let rows: Vec<_> = doc.select(&sel("#classes tr")).skip(1).collect();
    assert_eq!(rows.len(), 10);
    let failed = s["failed_classes"].as_u64().unwrap() as usize;
    assert!(failed >= 1);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.value().classes().any(|c| c == "failed"), i < failed);
    }
    assert!(doc.select(&sel("#classes td.hit")).count() >= failed);
    assert_eq!(doc.select(&sel("figure.chart svg")).count(), failed);

    // Groups: every flagged row in exactly one group; at most 4 thumbnails
    // each; a heat map per group.
    let groups: Vec<_> = doc.select(&sel("section.group")).collect();
    assert!(!groups.is_empty());
    let mut in_groups = 0;
    for g in &groups {
        let title = g.select(&sel("h3")).next().unwrap();
        let size: usize = title
            .text()
            .collect::<String>()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        in_groups += size;
        let thumbs = g.select(&sel("figure.row img.thumb")).count();
        assert_eq!(thumbs, size.min(4));
        assert_eq!(g.select(&sel(".trigger img.heat")).count(), 1);
    }
    assert_eq!(in_groups as u64, flagged);
    assert_eq!(doc.select(&sel("#near-misses figure.near")).count(), 4);

    // The export holds the flagged rows, with the scores file's columns.
    let csv = export_csv(&doc);
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("row,label,score,significance,flagged,rank,reasons"));
    assert_eq!(lines.count() as u64, flagged);

    // `poisonscan report` renders the same page from the outputs (no rescan).
    let first = std::fs::read_to_string(out.join("report.html")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    run_ok(&["report", "demo", "--report-max-rows", "4"], dir.path());
    let again = std::fs::read_to_string(out.join("report.html")).unwrap();
    let strip = |p: &str| {
        let doc = Html::parse_document(p);
        let t = texts(&doc, "#ran-at")[0].clone();
        p.replace(&t, "")
    };
    assert_eq!(strip(&first), strip(&again));
}

#[test]
fn report_command_checks_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_err(&["report", "nothing-here"], dir.path());
    assert!(err.contains("nothing-here"), "{err}");
    let data = relabelled(3, 300, 6, 12, 3);
    write_parquet(&dir.path().join("t.parquet"), &data.columns_batch());
    run_ok(
        &["scan", "t.parquet", "--out", "o", "--no-fail", "--quiet"],
        dir.path(),
    );
    // The input changed since the scan: refused, nothing written.
    let other = relabelled(3, 300, 6, 12, 4);
    write_parquet(&dir.path().join("t.parquet"), &other.columns_batch());
    let err = run_err(&["report", "o"], dir.path());
    assert!(err.contains("changed since the scan"), "{err}");
    assert!(!dir.path().join("o/report.html").exists());
    // The original, moved elsewhere, is accepted with --input.
    write_parquet(&dir.path().join("moved.parquet"), &data.columns_batch());
    run_ok(&["report", "o", "--input", "moved.parquet"], dir.path());
    assert!(dir.path().join("o/report.html").exists());
}

/// Writes `dir/t.parquet` — `front` first, then the columns of `data`'s
/// table that `front` does not replace — scans it with a report into
/// `dir/o` (a planted group: the gate fails) and returns the page.
fn scan_with_columns(dir: &Path, data: &Synthetic, front: Vec<(String, ArrayRef)>) -> Html {
    let batch = data.columns_batch();
    let mut cols = front;
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if !cols.iter().any(|(n, _)| n == f.name()) {
            cols.push((f.name().clone(), c.clone()));
        }
    }
    write_parquet(
        &dir.join("t.parquet"),
        &RecordBatch::try_from_iter(cols).unwrap(),
    );
    scan_t(dir, &["--out", "o", "--report"]);
    page(&dir.join("o"))
}

/// Scans `dir/t.parquet` (ids in `id`) with `options`; the gate fails.
fn scan_t(dir: &Path, options: &[&str]) {
    let args = [&["scan", "t.parquet", "--id", "id", "--quiet"], options].concat();
    let o = run(&args, dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn tabular_data_gets_tables_not_thumbnails_and_hostile_strings_stay_text() {
    let dir = tempfile::tempdir().unwrap();
    let data = relabelled(3, 1000, 12, 40, 42);
    let hostile = "<script>alert(1)</script>";
    let labels: Vec<&str> = data
        .labels
        .iter()
        .map(|&l| match l {
            0 => hostile,
            1 => "b\"><img src=x onerror=alert(2)>",
            _ => "c",
        })
        .collect();
    let ids: Vec<String> = (0..data.labels.len())
        .map(|i| format!("<b>row{i}</b>"))
        .collect();
    // what each row is, in words (a text embedding's sentence): shown beside
    // the rows, as text
    let captions: Vec<String> = (0..data.labels.len())
        .map(|i| format!("<i>review {i}</i> of the row"))
        .collect();
    let doc = scan_with_columns(
        dir.path(),
        &data,
        vec![
            ("label".into(), Arc::new(StringArray::from(labels))),
            ("id".into(), Arc::new(StringArray::from(ids))),
            ("Text".into(), Arc::new(StringArray::from(captions.clone()))),
        ],
    );
    check_self_contained(&doc);
    // The hostile label is text in the class table and the groups.
    assert!(texts(&doc, "#classes td").iter().any(|t| t == hostile));
    assert!(texts(&doc, "section.group h3")[0].contains(hostile));
    assert!(texts(&doc, "section.group td")
        .iter()
        .any(|t| t.starts_with("<b>row") && t.ends_with("</b>")));
    assert_eq!(
        doc.select(&sel("b"))
            .filter(|b| b.text().any(|t| t.starts_with("row")))
            .count(),
        0
    );
    // Tables, not thumbnails; the columns that set the group apart.
    assert_eq!(doc.select(&sel("img")).count(), 0);
    let table = doc.select(&sel("section.group table.rows")).next().unwrap();
    let headers: Vec<String> = table
        .select(&sel("th"))
        .map(|h| h.text().collect())
        .collect();
    assert!(headers.iter().any(|h| h.starts_with('f')), "{headers:?}");
    assert!(table.select(&sel("tr.row")).count() >= 1);
    assert!(doc.select(&sel("table#near-misses tr.near")).count() >= 1);
    // The caption column (`Text`, found by its name) beside each row: the
    // row's own text, cut short, never markup; the neighbours' as titles.
    assert!(headers.iter().any(|h| h == "Text"), "{headers:?}");
    assert!(texts(&doc, "section.group h3")[0].contains(hostile));
    for tr in table.select(&sel("tr.row")) {
        let cells: Vec<String> = tr.select(&sel("td")).map(|c| c.text().collect()).collect();
        let row: usize = cells[0].parse().unwrap();
        let shown: String = tr
            .select(&sel("td.caption"))
            .next()
            .unwrap()
            .text()
            .collect();
        assert_eq!(shown, captions[row], "row {row}");
        assert!(tr.select(&sel("td span[title]")).any(|s| s
            .value()
            .attr("title")
            .unwrap()
            .starts_with("<i>review ")));
    }
    assert_eq!(doc.select(&sel("i")).count(), 0);
    let near: Vec<String> = texts(&doc, "table#near-misses td.caption");
    assert!(near.iter().all(|t| t.starts_with("<i>review ")), "{near:?}");
    assert!(!summary(&dir.path().join("o"))["features"]
        .to_string()
        .contains("Text"));
}

/// A caption longer than the page shows is cut, on a character boundary.
#[test]
fn long_captions_are_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let data = relabelled(3, 1000, 12, 40, 42);
    let long = "é".repeat(1000);
    let doc = scan_with_columns(
        dir.path(),
        &data,
        vec![(
            "caption".into(),
            Arc::new(StringArray::from(vec![long.as_str(); data.labels.len()])) as ArrayRef,
        )],
    );
    let shown = texts(&doc, "section.group td.caption");
    assert!(!shown.is_empty());
    for t in shown {
        assert_eq!(t, format!("{}…", "é".repeat(280)));
    }
    // A scan without --report reads no caption; `report DIR` reads it then.
    scan_t(dir.path(), &["--out", "later"]);
    run_ok(&["report", "later"], dir.path());
    let later = page(&dir.path().join("later"));
    assert_eq!(
        texts(&later, "section.group td.caption"),
        texts(&doc, "section.group td.caption")
    );
    // --caption names another text column; a number or a missing column
    // is an error
    scan_t(
        dir.path(),
        &["--out", "named", "--report", "--caption", "id"],
    );
    let named = texts(&page(&dir.path().join("named")), "section.group td.caption");
    assert!(
        !named.is_empty() && named.iter().all(|t| t.starts_with('s')),
        "{named:?}"
    );
    let e = run_err(
        &["scan", "t.parquet", "--caption", "f0", "--out", "bad"],
        dir.path(),
    );
    assert!(e.contains("a caption column must be text"), "{e}");
    let e = run_err(
        &["scan", "t.parquet", "--caption", "nope", "--out", "bad"],
        dir.path(),
    );
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn a_passing_data_set_gets_a_short_page_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(3, 300, 6, 0, 0.0, 5);
    write_parquet(&dir.path().join("t.parquet"), &data.columns_batch());
    run_ok(
        &["scan", "t.parquet", "--out", "o", "--report", "--quiet"],
        dir.path(),
    );
    let doc = page(&dir.path().join("o"));
    check_self_contained(&doc);
    assert!(texts(&doc, "#verdict")[0].starts_with("PASS"));
    assert_eq!(doc.select(&sel("#passed")).count(), 1);
    assert_eq!(doc.select(&sel("section.group")).count(), 0);
    assert_eq!(doc.select(&sel("a#export")).count(), 0);
    assert_eq!(doc.select(&sel("figure.chart")).count(), 0);
    assert!(doc.select(&sel("#near-misses tr.near")).count() <= 16);
}

/// The trigger heat map of the demo's BadNets patch (2×2, bottom-right
/// corner of 8×8 digits): its hottest pixels lie inside the patch.
#[test]
fn trigger_map_of_the_demo_patch_is_hottest_inside_the_patch() {
    let (ds, truth) = poisonscan::redteam::demo(0);
    let settings = ScanOptions::default().check().unwrap();
    let scan = scan_dataset(&ds, &settings, &NoProgress).unwrap();
    let run = RunInfo {
        inputs: vec!["--demo".into()],
        options: serde_json::json!({}),
    };
    let summary = report::summary_json(&ds, &scan, &settings, &run);
    let scores = html::ScoreTable::from_batch(report::scores_batch(&ds, &scan)).unwrap();
    let page = html::build(
        &summary,
        &scores,
        &ds,
        html::ReportOptions::default(),
        std::time::SystemTime::now(),
    )
    .unwrap();
    let patch = [6 * 8 + 6, 6 * 8 + 7, 7 * 8 + 6, 7 * 8 + 7];
    let mut checked_rows = 0;
    for g in &page.groups {
        let t = g.trigger.as_ref().expect("images get a trigger map");
        assert_eq!((t.height, t.width, t.map.len()), (8, 8, 64));
        if g.size < 5 {
            continue;
        }
        // A patch pixel that the source digits already ink changes little,
        // so: the three hottest pixels lie in the patch, and nothing outside
        // it comes near the hottest.
        let mut order: Vec<usize> = (0..64).collect();
        order.sort_by(|&a, &b| t.map[b].total_cmp(&t.map[a]));
        let outside = (0..64)
            .filter(|p| !patch.contains(p))
            .map(|p| t.map[p].abs())
            .fold(0f32, f32::max);
        assert!(
            order[..3].iter().all(|p| patch.contains(p)) && outside < 0.6 * t.map[order[0]],
            "group {} <- {:?}: hottest pixels {:?}, outside {outside}, map {:?}",
            g.class,
            g.source,
            &order[..4],
            t.map
        );
        checked_rows += g.size;
    }
    // The groups checked hold most of the planted rows.
    let planted = truth.iter().filter(|&&t| t).count();
    assert!(checked_rows * 2 >= planted, "{checked_rows} of {planted}");
    // The whole page renders.
    let html = html::render(&page).unwrap();
    assert!(html.contains("class=\"heat\""));
}

/// A browser on this machine: `$POISONSCAN_CHROMIUM`, else the first of
/// the usual names on the PATH.
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("POISONSCAN_CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
    .find(|p| p.is_file())
}

/// Runs the browser headless on `page` with `extra` arguments, killed after
/// two minutes; returns its stdout.
fn headless(browser: &Path, profile: &Path, extra: &[String], page: &Path) -> String {
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the browser starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(120) {
            child.kill().ok();
            panic!("the browser did not finish in two minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    reader.join().unwrap()
}

/// The demo's report in a real browser: the rendered DOM holds the verdict,
/// the class table, the groups with their pictures and no script, and a
/// screenshot is produced.
#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        println!("skipped: no Chromium on this machine (apt-get install chromium, or set POISONSCAN_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        &["scan", "--demo", "--out", "demo", "--report", "--quiet"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = dir.path().join("demo/report.html").canonicalize().unwrap();
    let dom = headless(
        &browser,
        &dir.path().join("profile-dom"),
        &["--dump-dom".into()],
        &report,
    );
    let doc = Html::parse_document(&dom);
    assert!(texts(&doc, "#verdict")[0].starts_with("FAIL"), "{dom:.500}");
    assert_eq!(doc.select(&sel("#classes tr")).count(), 11);
    assert!(doc.select(&sel("section.group img.heat")).count() >= 1);
    assert!(doc.select(&sel("section.group img.thumb")).count() >= 1);
    assert_eq!(doc.select(&sel("script")).count(), 0);
    let shot = dir.path().join("shot.png");
    headless(
        &browser,
        &dir.path().join("profile-shot"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600".into(),
            "--hide-scrollbars".into(),
        ],
        &report,
    );
    let img = image::open(&shot).expect("a PNG screenshot");
    assert_eq!((img.width(), img.height()), (1200, 1600));
    // Not a blank page: the banner's colour and dark text are both there.
    let rgb = img.to_rgb8();
    let dark = rgb.pixels().filter(|p| p.0.iter().all(|&v| v < 80)).count();
    assert!(dark > 1000, "{dark} dark pixels");
}
