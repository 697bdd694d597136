//! The page model and its template. Every `{{ value }}` is HTML-escaped by
//! `askama`; only the SVG charts are inserted as they are (`|safe`), and
//! they carry no text from the data.

use askama::Template;

/// One input file in the banner.
#[derive(Debug, Clone)]
pub struct FileRow {
    /// Path as read.
    pub path: String,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Rows it gave.
    pub rows: u64,
}

/// One scanner's class test in the class table.
#[derive(Debug, Clone)]
pub struct TestCell {
    /// The test's p-value (`—`: no class test).
    pub p: String,
    /// Whether it failed the class.
    pub failed: bool,
    /// The words of the rows' text behind the test (text-trigger's
    /// strongest word in the class), and what its rows showed, in a
    /// sentence.
    pub words: Option<(String, String)>,
}

/// One class in the class table.
#[derive(Debug, Clone)]
pub struct ClassRow {
    /// Class label (with its name when the file gives one).
    pub label: String,
    /// Rows scanned.
    pub rows: u64,
    /// Rows flagged.
    pub flagged: u64,
    /// Highest class-level suspicion.
    pub class_score: String,
    /// Per scanner, in the table's column order.
    pub tests: Vec<TestCell>,
    /// `pass`, `fail` or `skipped`.
    pub verdict: String,
    /// Whether the class failed.
    pub failed: bool,
}

/// A failed class's score distribution.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The class.
    pub label: String,
    /// Its rows.
    pub rows: usize,
    /// The chart, inline SVG.
    pub svg: String,
}

/// A row with another label near a shown row.
#[derive(Debug, Clone)]
pub struct NeighbourView {
    /// Input row.
    pub row: u64,
    /// Its label.
    pub label: String,
    /// Thumbnail (images).
    pub thumb: Option<String>,
    /// What the row is, in words (its caption column), cut short.
    pub caption: Option<String>,
}

/// One row as the page shows it.
#[derive(Debug, Clone)]
pub struct RowView {
    /// Input row (0-based, as in `scores.parquet`).
    pub row: u64,
    /// Id or path.
    pub id: Option<String>,
    /// Label.
    pub label: String,
    /// Suspected source label, when another.
    pub suspected: Option<String>,
    /// Fused score.
    pub score: String,
    /// Scanners behind the score.
    pub reasons: String,
    /// Thumbnail (images).
    pub thumb: Option<String>,
    /// What the row is, in words (its caption column), cut short.
    pub caption: Option<String>,
    /// Feature values (tabular), in the group's column order.
    pub values: Vec<String>,
    /// Nearest rows with another label.
    pub neighbours: Vec<NeighbourView>,
}

/// A group's trigger, made visible.
#[derive(Debug, Clone)]
pub struct TriggerView {
    /// Heat map of (members − their nearest clean look-alikes), per pixel.
    pub heat: String,
    /// The largest |difference| (full colour).
    pub peak: String,
    /// Mean image of the members read.
    pub members_mean: String,
    /// Mean image of the look-alikes.
    pub reference_mean: String,
    /// Members read.
    pub members: usize,
    /// Look-alikes read.
    pub reference: usize,
    /// The values behind the heat map, per pixel, row-major.
    pub map: Vec<f32>,
    /// Map height.
    pub height: usize,
    /// Map width.
    pub width: usize,
}

/// A group of flagged rows.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// Their label.
    pub class: String,
    /// Suspected source label, when another.
    pub source: Option<String>,
    /// Rows in the group.
    pub size: usize,
    /// Scanners that fired, with how many of the rows each named.
    pub fired: Vec<(String, usize)>,
    /// The trigger map (images).
    pub trigger: Option<TriggerView>,
    /// Feature columns shown (tabular): those that set the group apart most.
    pub columns: Vec<String>,
    /// The look-alikes' mean of those columns.
    pub reference_values: Vec<String>,
    /// Rows shown.
    pub rows: Vec<RowView>,
    /// Rows not shown.
    pub more: usize,
}

/// The whole page.
#[derive(Debug, Clone, Template)]
#[template(
    ext = "html",
    source = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>poisonscan report: {{ verdict }} — {{ dataset }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px 40px; color: #1d1d1f; }
h1, h2, h3 { margin: 1.2em 0 .4em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.banner { padding: 12px 18px; border-radius: 6px; margin-top: 16px; }
.banner.pass { background: #e4f6e4; border: 1px solid #6c6; }
.banner.fail { background: #fde8e8; border: 1px solid #d55; }
.banner .big { font-size: 22px; font-weight: 700; }
tr.failed td { background: #fff4f4; } td.hit { color: #b00; font-weight: 700; }
.gallery { display: flex; flex-wrap: wrap; gap: 8px; }
figure.cell { margin: 0; width: 132px; font-size: 11px; border: 1px solid #e3e3e3; padding: 4px; }
figure.cell img { width: 64px; height: 64px; image-rendering: pixelated; display: block; }
figure.cell .nb img { width: 28px; height: 28px; display: inline-block; margin-right: 2px; }
.trigger img { width: 128px; height: 128px; image-rendering: pixelated; border: 1px solid #ccc; }
.trigger figure { display: inline-block; margin: 0 12px 0 0; font-size: 12px; }
.muted { color: #666; } code { font-size: 12px; word-break: break-all; }
</style>
</head>
<body>
<section id="banner" class="banner {% if passed %}pass{% else %}fail{% endif %}">
<div class="big" id="verdict">{% if passed %}PASS — no poisoning suspected{% else %}FAIL — poisoning suspected in {{ failed_classes }} class(es){% endif %}</div>
<div>Data set: <b id="dataset">{{ dataset }}</b> · features: {{ features }}</div>
<div>Rows: <span id="rows-input">{{ rows_input }}</span> read, <span id="rows-scanned">{{ rows_scanned }}</span> scanned, <b id="rows-flagged">{{ rows_flagged }}</b> flagged</div>
<div>Policy: threshold {{ threshold }}, removal budget {{ budget }}, at least {{ min_flagged }} planted rows to fail a class, seed {{ seed }}</div>
<div>poisonscan {{ version }} · scan written <span id="ran-at">{{ ran_at }}</span></div>
<table id="files"><tr><th class="l">input</th><th class="l">SHA-256</th><th>rows</th></tr>
{% for f in files %}<tr><td class="l">{{ f.path }}</td><td class="l"><code>{{ f.sha256 }}</code></td><td>{{ f.rows }}</td></tr>
{% endfor %}</table>
{% if export_href.is_some() %}<p><a id="export" download="flagged.csv" href="{{ export_href.as_deref().unwrap_or_default() }}">Download the {{ rows_flagged }} flagged rows (CSV, the columns of the scores file)</a></p>{% endif %}
</section>
{% for w in warnings %}<p class="muted">Note: {{ w }}</p>
{% endfor %}
{% if passed %}<p id="passed">Every class passed its tests; no row was flagged as evidence of poisoning. The highest-scoring rows are listed below so the threshold can be judged.</p>{% endif %}

<h2>Classes</h2>
<table id="classes">
<tr><th class="l">class</th><th>rows</th><th>flagged</th><th>class score</th>{% for s in scanners %}<th>{{ s }}<br><span class="muted">class p</span></th>{% endfor %}<th class="l">verdict</th></tr>
{% for c in classes %}<tr class="{% if c.failed %}failed{% endif %}"><td class="l">{{ c.label }}</td><td>{{ c.rows }}</td><td>{{ c.flagged }}</td><td>{{ c.class_score }}</td>{% for t in c.tests %}<td{% if t.failed %} class="hit"{% endif %}{% if let Some((_, w)) = t.words %} title="{{ w }}"{% endif %}>{{ t.p }}{% if let Some((word, _)) = t.words %}{% if t.failed %}<br>“{{ word }}”{% endif %}{% endif %}</td>{% endfor %}<td class="l">{{ c.verdict }}</td></tr>
{% endfor %}</table>
<p class="muted">A red p-value is the class test that failed the class.</p>

{% if !charts.is_empty() %}<h2>Score distributions</h2>
<p class="muted">Fused score of each failed class (red) against the rows of the classes that passed (grey), as shares of their rows; the blue line is the threshold.</p>
{% for ch in charts %}<figure class="chart"><figcaption>class <b>{{ ch.label }}</b> ({{ ch.rows }} rows)</figcaption>{{ ch.svg|safe }}</figure>
{% endfor %}{% endif %}

{% if !groups.is_empty() %}<h2>Flagged groups</h2>
<p class="muted">Flagged rows grouped by their label and the class the evidence says they come from, largest first.</p>
{% for g in groups %}<section class="group">
<h3>{{ g.size }} row(s) labelled <b>{{ g.class }}</b>{% if let Some(s) = g.source %} that look like <b>{{ s }}</b>{% endif %}</h3>
<p>Scanners that fired: {% for (name, count) in g.fired %}{{ name }} ({{ count }}){% if !loop.last %}, {% endif %}{% endfor %}{% if g.fired.is_empty() %}none by their own score (flagged by the class test){% endif %}</p>
{% if let Some(t) = g.trigger %}<div class="trigger">
<figure><img class="heat" alt="trigger heat map" src="{{ t.heat }}"><figcaption>trigger: members − look-alikes<br>(red +, blue −; full colour = {{ t.peak }})</figcaption></figure>
<figure><img alt="mean of the group" src="{{ t.members_mean }}"><figcaption>mean of {{ t.members }} member(s)</figcaption></figure>
<figure><img alt="mean of the look-alikes" src="{{ t.reference_mean }}"><figcaption>mean of {{ t.reference }} unflagged look-alike(s)</figcaption></figure>
</div>{% endif %}
{% if !g.columns.is_empty() %}<table class="rows"><tr><th>row</th><th class="l">id</th><th class="l">label</th><th class="l">suspected</th><th>score</th>{% if let Some(c) = caption_column %}<th class="l caption">{{ c }}</th>{% endif %}{% for c in g.columns %}<th>{{ c }}</th>{% endfor %}<th class="l">nearest other-label rows</th></tr>
<tr><td></td><td class="l muted" colspan="{% if caption_column.is_some() %}5{% else %}4{% endif %}">mean of the unflagged look-alikes</td>{% for v in g.reference_values %}<td class="muted">{{ v }}</td>{% endfor %}<td></td></tr>
{% for r in g.rows %}<tr class="row"><td>{{ r.row }}</td><td class="l">{{ r.id.as_deref().unwrap_or_default() }}</td><td class="l">{{ r.label }}</td><td class="l">{{ r.suspected.as_deref().unwrap_or_default() }}</td><td>{{ r.score }}</td>{% if caption_column.is_some() %}<td class="l caption">{{ r.caption.as_deref().unwrap_or_default() }}</td>{% endif %}{% for v in r.values %}<td>{{ v }}</td>{% endfor %}<td class="l">{% for nb in r.neighbours %}<span{% if let Some(t) = nb.caption %} title="{{ t }}"{% endif %}>{{ nb.row }} ({{ nb.label }})</span>{% if !loop.last %}, {% endif %}{% endfor %}</td></tr>
{% endfor %}</table>
{% else %}<div class="gallery">
{% for r in g.rows %}<figure class="cell row">{% if let Some(src) = r.thumb %}<img class="thumb" alt="row {{ r.row }}" src="{{ src }}">{% endif %}<figcaption>row {{ r.row }}{% if let Some(id) = r.id %}<br><code>{{ id }}</code>{% endif %}<br>label {{ r.label }}{% if let Some(s) = r.suspected %} · looks like {{ s }}{% endif %}<br>score {{ r.score }}{% if let Some(t) = r.caption %}<br>{{ t }}{% endif %}</figcaption>
{% if !r.neighbours.is_empty() %}<div class="nb">nearest other labels:<br>{% for nb in r.neighbours %}{% if let Some(src) = nb.thumb %}<img alt="row {{ nb.row }}" title="row {{ nb.row }}, label {{ nb.label }}" src="{{ src }}">{% else %}{{ nb.row }} ({{ nb.label }}) {% endif %}{% endfor %}</div>{% endif %}</figure>
{% endfor %}</div>{% endif %}
{% if g.more > 0 %}<p class="muted">… and {{ g.more }} more row(s) of this group (all are in the CSV and in the scores file).</p>{% endif %}
</section>
{% endfor %}{% if hidden_groups > 0 %}<p class="muted">{{ hidden_groups }} smaller group(s) with {{ hidden_group_rows }} row(s) are not shown; they are in the CSV.</p>{% endif %}{% endif %}

{% if thumbnails_omitted > 0 %}<p class="muted" id="thumbnails-omitted">{{ thumbnails_omitted }} row(s) are shown without a thumbnail to keep this page under about 10 MB; lower --report-max-rows to see them all.</p>{% endif %}
<h2>Near misses</h2>
<p class="muted">The highest-scoring rows that were not flagged.</p>
{% if near_misses.is_empty() %}<p>None: no unflagged row was scored.</p>{% else %}{% if images %}<div class="gallery" id="near-misses">
{% for r in near_misses %}<figure class="cell near">{% if let Some(src) = r.thumb %}<img class="thumb" alt="row {{ r.row }}" src="{{ src }}">{% endif %}<figcaption>row {{ r.row }}{% if let Some(id) = r.id %}<br><code>{{ id }}</code>{% endif %}<br>label {{ r.label }}{% if let Some(s) = r.suspected %} · looks like {{ s }}{% endif %}<br>score {{ r.score }}</figcaption></figure>
{% endfor %}</div>{% else %}<table id="near-misses"><tr><th>row</th><th class="l">id</th><th class="l">label</th><th class="l">suspected</th><th>score</th>{% if let Some(c) = caption_column %}<th class="l caption">{{ c }}</th>{% endif %}<th class="l">reasons</th></tr>
{% for r in near_misses %}<tr class="near"><td>{{ r.row }}</td><td class="l">{{ r.id.as_deref().unwrap_or_default() }}</td><td class="l">{{ r.label }}</td><td class="l">{{ r.suspected.as_deref().unwrap_or_default() }}</td><td>{{ r.score }}</td>{% if caption_column.is_some() %}<td class="l caption">{{ r.caption.as_deref().unwrap_or_default() }}</td>{% endif %}<td class="l">{{ r.reasons }}</td></tr>
{% endfor %}</table>{% endif %}{% endif %}
</body>
</html>
"##
)]
pub struct Report {
    /// The data set passed.
    pub passed: bool,
    /// `pass` or `fail`.
    pub verdict: String,
    /// The inputs, in words.
    pub dataset: String,
    /// Rows read.
    pub rows_input: u64,
    /// Rows scanned.
    pub rows_scanned: u64,
    /// Rows flagged.
    pub rows_flagged: usize,
    /// Classes that failed.
    pub failed_classes: u64,
    /// The threshold.
    pub threshold: String,
    /// The removal budget (`—`: none).
    pub budget: String,
    /// Least planted rows to fail a class.
    pub min_flagged: String,
    /// The seed.
    pub seed: String,
    /// poisonscan's version.
    pub version: String,
    /// When the scan wrote its results (RFC 3339, UTC).
    pub ran_at: String,
    /// The input files.
    pub files: Vec<FileRow>,
    /// The features, in words.
    pub features: String,
    /// The scan's warnings.
    pub warnings: Vec<String>,
    /// The scanners that ran, in column order.
    pub scanners: Vec<String>,
    /// Classes, failed first.
    pub classes: Vec<ClassRow>,
    /// Score distributions of the failed classes.
    pub charts: Vec<Chart>,
    /// Flagged groups, largest first.
    pub groups: Vec<GroupView>,
    /// Groups not shown.
    pub hidden_groups: usize,
    /// Their rows.
    pub hidden_group_rows: usize,
    /// The rows are images.
    pub images: bool,
    /// The caption column shown beside the rows, when the data has one.
    pub caption_column: Option<String>,
    /// The highest-scoring unflagged rows.
    pub near_misses: Vec<RowView>,
    /// The flagged rows as a CSV `data:` URI (none when nothing is flagged).
    pub export_href: Option<String>,
    /// Rows shown without a thumbnail, to keep the page small.
    pub thumbnails_omitted: usize,
}
