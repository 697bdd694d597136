//! `PS010 tone-filter`: rows of other classes given one class's label and
//! passed through one colour filter — a tone curve every planted picture
//! shares, whatever it shows.

use rayon::prelude::*;

use crate::error::{ensure, parse_value, ParamError, ScanError};
use crate::knn::{nearest_neighbours, KnnLabelDisagreement};
use crate::perclass::unscored;
use crate::stats::{ln_binomial_upper, quantile};
use crate::{class_gate_level, ClassDiagnostics, ScanInput, ScanOutput, Scanner};

const DOC: &str = r#"# PS010 tone-filter

## What it detects
A backdoor whose trigger is a colour filter: pictures of other classes
passed through one tone curve — warmer, faded, blacks lifted, a tint, a
change of contrast, as photo apps' filters and Instagram-style triggers
do (Liu et al.'s filter triggers; TrojAI's "instagram" triggers) — and
given the target class's label. Nothing is stamped or blended: what the
filter changes in each picture depends on that picture's own colours, so
the planted pictures share no pixel value and no pattern, only the way
their tones were mapped.

## Why it matters
The other image tests look for what planted pictures share at some
pixels (`shared-pattern`, `stamped-patch`) or for where they lie among
the other classes' pictures (`knn-label-disagreement`). A filter leaves
neither where the pictures have colour backgrounds of their own: the
emoji with 1 % of their pictures filtered into the objects (`--model
none`) passed every test, ranked at AUROC 0.64. Their content still says
they come from other classes, and their tones say they went through the
same curve.

## Method
1. The content view: the label-agnostic view `knn-label-disagreement`
   reads (every pixel clipped to its 10th and 90th percentiles over the
   rows, centred, projected on 32 principal components), and each row's
   `k` nearest neighbours in it. A row is *contradicted* when its label
   is in the minority among them (fewer than half).
2. The tone view: each picture's channels each summarised by the
   quantiles 0, 2, 10, 25, 50, 75, 90, 98 and 100 % of its pixel values
   (nine numbers a channel: where its blacks, shadows, middle tones,
   highlights and whites lie; the picture's content, where things are,
   left out), each column standardised over the rows; each row's `k`
   nearest neighbours in it. Pictures scaled to be scanned (larger than
   64×64, or `--resize`) have their tone measured before scaling, at their
   own size: scaling blends a picture's pixels, and with them the exact
   colours a filter leaves (the emoji at 96×96, 2 % filtered into the
   activities: AUROC 0.75 and a pass when measured on the scaled pixels,
   0.996 and 98 % of the planted rows flagged now — as at 64×64). A
   filter maps every planted picture's quantiles through the same curve
   (blacks lifted to the same brown, whites to the same cream), so
   planted pictures become each other's neighbours here, whatever their
   content.
3. A contradicted row is *coherent* when at least `share` of its tone
   neighbours are contradicted rows of its own label: planted rows point
   to each other; natural boundary rows are scattered over the classes'
   tones.
4. Class test: a class's *tail* is its contradicted rows at least half
   of whose tone neighbours are contradicted rows of its label — coherent
   ones, and the *shoulder* short of coherent, the edge a natural tone
   cluster fades out in; a filter's rows pile up at coherent. Its coherent
   rows `h` among the tail `h + s` are tested, `ln P(B ≥ h)`,
   `B ~ Binomial(h + s, π)`, `π` the larger of
   - the coherent share of the tail were each tone neighbour a
     contradicted row of the class at the rate the class's other
     contradicted rows show (`p`; `P(Binomial(k, p) ≥ ⌈share · k⌉)` over
     `P(Binomial(k, p) ≥ ⌈k/2⌉)`): the class's own tone clustering;
   - three times the upper quartile of the other classes' coherent shares
     of their tails: how far natural tone clusters make rows coherent in
     this data set (crops of one flat-coloured drawing in a photo set hold
     the drawing's exact colours whatever their layout; such clusters are
     heavy-tailed over the classes).
   A class whose coherent rows exceed what `π` expects by fewer than
   `min-rows` is not tested (no class test is reported, and fusion's
   correction over the data set's tests does not count it).
5. Rows: in a class whose test is significant at the class gate level,
   the group the test names gets the class's `ln p`: its coherent rows,
   and its rows whose tone neighbours are at least half coherent rows (a
   planted picture whose source had no pure black keeps less of the
   filter's trace, and lies beside those that do), and its rows holding
   the group's *filtered black or white*: the darkest (or lightest)
   colour, per channel exactly, that at least half of its coherent rows
   hold, where at least 80 % of the data set's rows holding it carry the
   class's label. A filter maps every planted picture's black to one
   colour whatever the rest of the picture shows, so a planted picture
   whose content pulls its other tones away from the group's — and whose
   content view may even place it among the target's rows — still holds
   it; black and white themselves, held in every class, name nobody.
   Every contradicted row's raw score is the share of its tone
   neighbours that are contradicted rows of its own label (a named row's,
   at least the share that are coherent).

Summary values per class: `contradicted_rows`, `coherent_rows`,
`shoulder_rows`, `null_share` (`π`), `beyond_null` (`h − π (h + s)`),
`own_rate` (`p`), `excess_rows` (the rows named), `filtered_colour_rows`
(those of them named by the filtered black or white alone).

Measured (`poison … --attack filter`, `scan --model none`): the emoji
(7,570 pictures, 64×64 colour), 1 % filtered into the objects (seed 1) —
pass, AUROC 0.64, before this test; now the class fails, AUROC 0.989, 75
rows flagged, all planted (recall 98.7 %; 42 rows and 55 % before the
filtered black named its holders); into the travel places (seed 2):
AUROC 0.990, 74 flagged, 98.6 % planted (recall 96 %); 5 % into the
objects: 0.986, 371 flagged, all planted (98 %); the emoji with their
skin tones (14,980), 1 %: 0.996, 147 flagged, all planted (98 %). The
clean emoji, with skin tones, the 8,000- and 50,000-picture photo
mixes, MNIST and Fashion-MNIST: no class tested (the nearest, a class of
the 50,000 photos: 18 coherent rows, crops of one flat-coloured
wallpaper, 13 beyond its null). Gray pictures' filters (MNIST,
Fashion-MNIST: a lifted black background) are found by `shared-pattern`
before this test.

## Options
- `k` (default 10): neighbours per row in both views (2–50).
- `share` (default 0.8): least share of a contradicted row's tone
  neighbours that are contradicted rows of its label for it to be
  coherent (above 0.5, at most 1).
- `min-rows` (default 20): least coherent rows beyond the null's
  expectation for a class to be tested (5–100,000).

## Known false positives
- A class holding a kind of picture with tones of its own that its
  content view places among other classes: pictures of one photo
  session, one scanner or one artist's palette whose subjects look like
  another class's. Their tones are shared; their content is not that of
  the class. The report names the rows; an analyst looks at them. The
  test's null grows with the other classes' own such clusters, not with
  the data set's size: a class holding a palette group as large as the
  photo mix's above (13 rows beyond its null in 50,000 pictures) in a
  data set several times larger fails.

- In a failing class, its own rows whose darkest or lightest colour
  happens to be the planted group's are named with it (a colour 80 % of
  whose holders are the class's: one the class's natural pictures share
  with the filter's black is named whole).

## Known limits
- Photographs from a few shared scenes (the 50,000-picture photo mix,
  crops of 42 wallpapers): a filtered crop's tone neighbours are crops of
  other wallpapers with like tones, not other filtered crops (the filter
  moves each wallpaper's crops to a tone region of their own), and the
  filter is not found (the 8,000-picture mix, 1 % into one class: AUROC
  0.67, pass).
- A filter on pictures whose contradicted rows are few — the content view
  places the planted pictures in the target class — is not seen here.

## References
- Y. Liu, W.-C. Lee, G. Tao, S. Ma, Y. Aafer, X. Zhang. ABS: Scanning
  neural networks for back-doors by artificial brain stimulation. CCS
  2019 (filter triggers).
- M. C. Stamm, K. J. R. Liu. Forensic detection of image manipulation
  using statistical intrinsic fingerprints. IEEE TIFS 2010 (a tone
  mapping's trace in a picture's histogram).
"#;

/// Quantiles of a channel's values that make a picture's tone.
const QUANTILES: [f64; 9] = [0.0, 0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98, 1.0];

/// Numbers a channel's tone has (see [`picture_tone`]).
pub const TONE_WIDTH: usize = QUANTILES.len();

/// The rank of quantile `q` among `n` sorted values.
fn rank(q: f64, n: usize) -> usize {
    (q * n.saturating_sub(1) as f64).round() as usize
}

/// One picture's tone: per channel (`values` channels last), the
/// [`QUANTILES`] of its values — [`TONE_WIDTH`] numbers a channel, the
/// first its darkest value and the last its lightest.
pub fn picture_tone(values: &[f32], channels: usize) -> Vec<f32> {
    (0..channels)
        .flat_map(|ch| {
            let mut v: Vec<f32> = values.iter().skip(ch).step_by(channels).copied().collect();
            v.sort_unstable_by(f32::total_cmp);
            QUANTILES.map(|q| v.get(rank(q, v.len())).copied().unwrap_or(0.0))
        })
        .collect()
}

/// One channel's tone ([`picture_tone`]) from how many of its 8-bit values
/// are each level.
pub fn tone_of_counts(counts: &[usize; 256]) -> [f32; TONE_WIDTH] {
    let n: usize = counts.iter().sum();
    QUANTILES.map(|q| {
        let r = rank(q, n);
        let mut seen = 0;
        let level = counts.iter().position(|&c| {
            seen += c;
            seen > r
        });
        level.unwrap_or(0) as f32 / 255.0
    })
}

/// Least share of the rows holding a failing class's shared darkest or
/// lightest colour that carry its label for the colour to name rows (see
/// [`Extremes::shared`]): black and white themselves, held in every class,
/// name none.
const KEY_PURITY: f64 = 0.8;

/// The quantile of the other classes' tail shares taken as the natural
/// one (see [`PEER_FACTOR`]).
const PEER_QUANTILE: f64 = 0.75;

/// How many times the other classes' tail share (at [`PEER_QUANTILE`]) a
/// class's may be naturally: natural tone clusters are heavy-tailed over
/// the classes (the clean 50,000-picture photo mix: up to 6 % of a
/// class's tail coherent in nine classes, 10 % in the tenth).
const PEER_FACTOR: f64 = 3.0;

/// Validated parameters of [`ToneFilter`].
#[derive(Debug, Clone, PartialEq)]
pub struct ToneValidParams {
    k: usize,
    share: f64,
    min_rows: usize,
}

/// Parameters of [`ToneFilter`], checked by [`ToneParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ToneParams(ToneValidParams);

impl Default for ToneParams {
    fn default() -> Self {
        Self(ToneFilter::DEFAULT.params)
    }
}

impl ToneParams {
    /// Neighbours per row in both views.
    pub fn k(mut self, v: usize) -> Self {
        self.0.k = v;
        self
    }

    /// Least share of own-label contradicted tone neighbours.
    pub fn share(mut self, v: f64) -> Self {
        self.0.share = v;
        self
    }

    /// Least coherent rows beyond the null's expectation of a tested class.
    pub fn min_rows(mut self, v: usize) -> Self {
        self.0.min_rows = v;
        self
    }

    /// Checks every parameter.
    pub fn check(self) -> Result<ToneValidParams, ParamError> {
        let p = self.0;
        ensure(
            (2..=50).contains(&p.k),
            "tone-filter.k",
            p.k,
            "an integer from 2 to 50",
        )?;
        ensure(
            p.share > 0.5 && p.share <= 1.0,
            "tone-filter.share",
            p.share,
            "a number above 0.5, at most 1",
        )?;
        ensure(
            (5..=100_000).contains(&p.min_rows),
            "tone-filter.min-rows",
            p.min_rows,
            "an integer from 5 to 100000",
        )?;
        Ok(p)
    }
}

/// The `tone-filter` scanner (see the module docs and `DOC`).
#[derive(Debug, Clone)]
pub struct ToneFilter {
    params: ToneValidParams,
}

impl ToneFilter {
    /// The scanner with its default parameters.
    pub const DEFAULT: ToneFilter = ToneFilter {
        params: ToneValidParams {
            k: 10,
            share: 0.8,
            min_rows: 20,
        },
    };

    /// Parameters to adjust and check.
    pub fn params() -> ToneParams {
        ToneParams::default()
    }

    /// A scanner with checked parameters.
    pub fn new(params: ToneValidParams) -> Self {
        Self { params }
    }
}

/// Each row's tone ([`picture_tone`]): `tones` where given (measured on
/// the pictures at their own size), else from the rows' pixels.
/// `n × (TONE_WIDTH · channels)`, row-major.
fn raw_tones<'a>(
    x: crate::MatrixRef<'_>,
    channels: usize,
    tones: Option<crate::MatrixRef<'a>>,
) -> std::borrow::Cow<'a, [f32]> {
    match tones {
        Some(t) => t.as_slice().into(),
        None => (0..x.rows())
            .into_par_iter()
            .flat_map_iter(|i| picture_tone(x.row(i), channels))
            .collect::<Vec<f32>>()
            .into(),
    }
}

/// The tone view: `raw`'s columns (`width` of them) standardised over the
/// rows (a column that does not vary is 0).
fn tone_view(raw: &[f32], width: usize) -> Vec<f32> {
    let n = raw.len() / width.max(1);
    let mut t = raw.to_vec();
    // in f64 throughout (`view::moments` keeps f32 means and scales, which
    // reorders the exact ties of gray pictures' few tone values)
    for j in 0..width {
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for i in 0..n {
            let v = t[i * width + j] as f64;
            s += v;
            s2 += v * v;
        }
        let mean = s / n.max(1) as f64;
        let sd = (s2 / n.max(1) as f64 - mean * mean).max(0.0).sqrt();
        for i in 0..n {
            let v = &mut t[i * width + j];
            *v = if sd > 1e-9 {
                ((*v as f64 - mean) / sd) as f32
            } else {
                0.0
            };
        }
    }
    t
}

impl Scanner for ToneFilter {
    fn label_agnostic_only(&self) -> bool {
        true
    }
    fn names_its_rows(&self) -> bool {
        true
    }
    fn code(&self) -> &'static str {
        "PS010"
    }
    fn name(&self) -> &'static str {
        "tone-filter"
    }
    fn summary(&self) -> &'static str {
        "Rows of other classes whose tones went through one colour filter (filter triggers on varied pictures)"
    }
    fn doc(&self) -> &'static str {
        DOC
    }

    fn skip_reason(&self, input: &ScanInput<'_>) -> Option<String> {
        let (x, _) = input.label_agnostic();
        match input.image {
            Some(s) if s.len() == x.cols() && s.height * s.width >= 16 => None,
            Some(_) => Some("pictures of fewer than 16 pixels".into()),
            None => Some("not images (a filter maps a picture's tones)".into()),
        }
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = ToneParams(self.params.clone());
        for (key, value) in options {
            let name = self.name();
            p = match key.as_str() {
                "k" => p.k(parse_value(name, key, value, "a whole number")?),
                "share" => p.share(parse_value(name, key, value, "a number")?),
                "min-rows" => p.min_rows(parse_value(name, key, value, "a whole number")?),
                _ => return Err(ParamError::unknown(name, key, &["k", "share", "min-rows"])),
            };
        }
        Ok(Box::new(ToneFilter::new(p.check()?)))
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        let p = &self.params;
        let (x, _) = input.label_agnostic();
        let n = x.rows();
        let labels = input.labels;
        let class_rows = input.class_rows();
        let scanned: Vec<bool> = class_rows.iter().map(|r| r.len() >= 2).collect();
        let (mut raw, mut log_p) = unscored(&class_rows, &scanned, n);
        let runs = self.skip_reason(input).is_none() && n > p.k;
        let level = class_gate_level(input.n_classes);
        let no_test = |c: usize| ClassDiagnostics {
            class: c as u32,
            values: Vec::new(),
            log_p: None,
        };
        if !runs {
            let classes = (0..input.n_classes)
                .filter(|&c| !class_rows[c].is_empty())
                .map(no_test)
                .collect();
            return Ok(ScanOutput::new(raw, log_p, classes));
        }
        let shape = input.image.expect("runs on images");
        let k = p.k;
        // 1. contradicted rows in the content view, knn-label-disagreement's
        // (its view and, where it ran with k neighbours, its neighbours)
        let knn = KnnLabelDisagreement::DEFAULT;
        let options = knn.view_options();
        let (view, dims) = input.neighbour_view(options.0, options.1);
        let contradicted: Vec<bool> = if dims == 0 {
            vec![false; n]
        } else {
            let nb = input.view_neighbours(&view, dims, options, k, knn.reach(n));
            (0..n)
                .map(|i| {
                    let own = nb[i * k..(i + 1) * k]
                        .iter()
                        .filter(|&&j| labels[j as usize] == labels[i])
                        .count();
                    2 * own < k
                })
                .collect()
        };
        // 2. the tone view and its neighbours
        let width = TONE_WIDTH * shape.channels;
        let given = input.tones.filter(|t| t.rows() == n && t.cols() == width);
        let raw_tone = raw_tones(x, shape.channels, given);
        let tones = tone_view(&raw_tone, width);
        let nb = nearest_neighbours(&tones, n, width, k, knn.reach(n));
        drop(tones);
        // 3. each contradicted row's own-label contradicted tone neighbours
        let need = (p.share * k as f64 - 1e-9).ceil() as usize;
        let pointing: Vec<usize> = (0..n)
            .map(|i| {
                if !contradicted[i] {
                    return 0;
                }
                nb[i * k..(i + 1) * k]
                    .iter()
                    .filter(|&&j| labels[j as usize] == labels[i] && contradicted[j as usize])
                    .count()
            })
            .collect();
        // rows at least half of whose tone neighbours are such rows, short
        // of coherent: the shoulder a natural cluster's edge makes
        let half = k.div_ceil(2);
        struct Class {
            contradicted: usize,
            coherent: usize,
            shoulder: usize,
            own_rate: f64,
        }
        let counts: Vec<Class> = class_rows
            .iter()
            .map(|rows| {
                let (mut m, mut h, mut s, mut rest) = (0usize, 0usize, 0usize, 0usize);
                for &i in rows.iter().filter(|&&i| contradicted[i]) {
                    m += 1;
                    if pointing[i] >= need {
                        h += 1;
                    } else {
                        s += (pointing[i] >= half) as usize;
                        rest += pointing[i];
                    }
                }
                let others = m - h;
                Class {
                    contradicted: m,
                    coherent: h,
                    shoulder: s,
                    own_rate: if others > 0 {
                        rest as f64 / (others * k) as f64
                    } else {
                        1.0
                    },
                }
            })
            .collect();
        // the share of coherent rows among the rows of the tail (coherent
        // or shoulder)
        let tail_share = |c: &Class| c.coherent as f64 / (c.coherent + c.shoulder).max(1) as f64;
        // 4. the class tests
        let mut classes = Vec::new();
        // each row's darkest and lightest values
        let extremes = Extremes::new(&raw_tone, shape.channels);
        for (c, rows) in class_rows.iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let this = &counts[c];
            if !scanned[c] || this.contradicted == 0 {
                classes.push(no_test(c));
                continue;
            }
            let peers: Vec<f64> = (0..input.n_classes)
                .filter(|&j| j != c && scanned[j] && counts[j].coherent + counts[j].shoulder > 0)
                .map(|j| tail_share(&counts[j]))
                .collect();
            let natural = if peers.is_empty() {
                0.0
            } else {
                PEER_FACTOR * quantile(peers, PEER_QUANTILE)
            };
            let p_own = this.own_rate.clamp(1e-9, 1.0 - 1e-9);
            let tail = |x: usize| ln_binomial_upper(k as u64, p_own, x as u64).exp();
            let own = match tail(half) {
                t if t > 0.0 => tail(need) / t,
                _ => 0.0,
            };
            let in_tail = this.coherent + this.shoulder;
            // never below one in the tail's rows: a class whose every
            // contradicted row is coherent says nothing of its own rate
            let rate = own.max(natural).max(1.0 / (in_tail + 1) as f64).min(1.0);
            let beyond = this.coherent as f64 - rate * in_tail as f64;
            let tested = beyond >= p.min_rows as f64;
            let class_log_p = if tested {
                ln_binomial_upper(in_tail as u64, rate, this.coherent as u64)
            } else {
                0.0
            };
            for &i in rows.iter().filter(|&&i| contradicted[i]) {
                raw[i] = pointing[i] as f64 / k as f64;
            }
            // the group: the coherent rows, and the class's rows whose tone
            // neighbours are at least half coherent rows (a planted picture
            // whose source had no pure black shares less of the filter's
            // trace, and sits beside the ones that do)
            let (mut excess, mut by_colour) = (0usize, 0usize);
            if tested && class_log_p <= level {
                let coherent = |j: usize| contradicted[j] && pointing[j] >= need;
                let held = extremes.shared(rows, coherent, labels, c as u32);
                for &i in rows {
                    let beside = nb[i * k..(i + 1) * k]
                        .iter()
                        .filter(|&&j| labels[j as usize] as usize == c && coherent(j as usize))
                        .count();
                    let grouped = coherent(i) || 2 * beside >= k;
                    let holds = held.as_ref().is_some_and(|h| h(i));
                    if grouped || holds {
                        log_p[i] = class_log_p;
                        raw[i] = raw[i].max(beside as f64 / k as f64);
                        excess += 1;
                        by_colour += !grouped as usize;
                    }
                }
            }
            classes.push(ClassDiagnostics {
                class: c as u32,
                values: vec![
                    ("contradicted_rows", this.contradicted as f64),
                    ("coherent_rows", this.coherent as f64),
                    ("shoulder_rows", this.shoulder as f64),
                    ("null_share", rate),
                    ("beyond_null", beyond),
                    ("own_rate", this.own_rate),
                    ("excess_rows", excess as f64),
                    ("filtered_colour_rows", by_colour as f64),
                ],
                log_p: tested.then_some(class_log_p),
            });
        }
        Ok(ScanOutput::new(raw, log_p, classes))
    }
}

/// Each picture's darkest and lightest value of every channel: a filter
/// maps every planted picture's black (or white) to one colour, exactly,
/// whatever else the picture shows — the red team's filter lifts black to
/// (40, 25, 10) in every planted emoji that had a black pixel, a colour no
/// clean emoji has as its darkest.
struct Extremes {
    channels: usize,
    /// `n × 2 · channels`: the channels' minima, then their maxima (as bits).
    values: Vec<u32>,
}

impl Extremes {
    /// From the rows' tones ([`picture_tone`]): each channel's first and
    /// last numbers.
    fn new(tones: &[f32], channels: usize) -> Self {
        let width = TONE_WIDTH * channels;
        let values = tones
            .chunks_exact(width)
            .flat_map(|t| {
                let end = move |at: usize| (0..channels).map(move |ch| t[ch * TONE_WIDTH + at]);
                end(0).chain(end(TONE_WIDTH - 1)).map(f32::to_bits)
            })
            .collect();
        Self { channels, values }
    }

    /// Row `i`'s darkest (`end` 0) or lightest (1) colour.
    fn colour(&self, i: usize, end: usize) -> &[u32] {
        let at = (2 * i + end) * self.channels;
        &self.values[at..at + self.channels]
    }

    /// In a failing class (`rows`, label `c`): the darkest or lightest
    /// colour most of its `coherent` rows hold (at least half of them), where
    /// at least [`KEY_PURITY`] of the whole data set's rows holding it carry
    /// the class's label — the filter's image of black or white — as a test
    /// of whether a row holds it. A planted picture whose tones are not
    /// each other's nearest (its content pulls its quantiles elsewhere)
    /// still holds its filtered black exactly.
    fn shared<'s>(
        &'s self,
        rows: &[usize],
        coherent: impl Fn(usize) -> bool,
        labels: &[u32],
        c: u32,
    ) -> Option<impl Fn(usize) -> bool + 's> {
        let group: Vec<usize> = rows.iter().copied().filter(|&i| coherent(i)).collect();
        let mut best: Option<(usize, usize, &[u32])> = None;
        for end in 0..2 {
            let mut held: std::collections::BTreeMap<&[u32], usize> = Default::default();
            for &i in &group {
                *held.entry(self.colour(i, end)).or_default() += 1;
            }
            // the most held, the first colour in order on ties
            if let Some((colour, count)) = held
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            {
                if best.is_none_or(|b| count > b.0) {
                    best = Some((count, end, colour));
                }
            }
        }
        let (count, end, colour) = best?;
        if 2 * count < group.len() {
            return None;
        }
        let (mut own, mut all) = (0usize, 0usize);
        for (i, &label) in labels.iter().enumerate() {
            if self.colour(i, end) == colour {
                all += 1;
                own += (label == c) as usize;
            }
        }
        if (own as f64) < KEY_PURITY * all as f64 {
            return None;
        }
        let colour = colour.to_vec();
        Some(move |i: usize| self.colour(i, end) == colour.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::{ImageShape, MatrixRef};

    /// `per_class` colour pictures (8×8) of each of `classes` kinds, drawn
    /// as graphics are: a kind is a pattern of its own on black (a seeded
    /// value at each pixel, black where it is under 0.3), each picture in
    /// a seeded colour with noise, so that tones vary within and across
    /// classes alike, one in ten of a seeded kind; then `planted` pictures of kinds 1.. passed through
    /// one filter (`x · (0.9, 0.85, 0.7) + (40, 25, 10)/255`, blacks lifted
    /// to brown) and relabelled 0.
    fn pictures(
        classes: usize,
        per_class: usize,
        planted: usize,
        seed: u64,
    ) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
        let (h, w, ch) = (8usize, 8usize, 3usize);
        let mut rng = SplitMix64::new(seed);
        let patterns: Vec<Vec<f32>> = (0..classes)
            .map(|_| {
                (0..h * w)
                    .map(|_| rng.next_f64() as f32)
                    .map(|v| if v < 0.3 { 0.0 } else { v })
                    .collect()
            })
            .collect();
        let n = classes * per_class;
        let mut x = vec![0f32; n * h * w * ch];
        let mut labels = vec![0u32; n];
        for i in 0..n {
            let kind = i % classes;
            labels[i] = kind as u32;
            let colour: Vec<f32> = (0..ch).map(|_| 0.5 + 0.5 * rng.next_f64() as f32).collect();
            // one picture in ten is of another kind: natural boundary rows,
            // contradicted and scattered over the tones
            let drawn = if rng.next_f64() < 0.1 {
                rng.below(classes)
            } else {
                kind
            };
            for (p, &v) in patterns[drawn].iter().enumerate() {
                for c in 0..ch {
                    let noise = 0.2 * rng.next_f64() as f32;
                    x[(i * h * w + p) * ch + c] = if v > 0.0 {
                        (v * colour[c] + noise).min(1.0)
                    } else {
                        0.0
                    };
                }
            }
        }
        let mut truth = vec![false; n];
        let (gain, offset) = (
            [0.9f32, 0.85, 0.7],
            [40.0f32 / 255.0, 25.0 / 255.0, 10.0 / 255.0],
        );
        let mut placed = 0;
        for i in 0..n {
            if labels[i] == 0 {
                continue;
            }
            if placed == planted {
                break;
            }
            if rng.next_f64() < 0.5 {
                continue;
            }
            for p in 0..h * w {
                for c in 0..ch {
                    let v = &mut x[(i * h * w + p) * ch + c];
                    *v = (*v * gain[c] + offset[c]).clamp(0.0, 1.0);
                }
            }
            labels[i] = 0;
            truth[i] = true;
            placed += 1;
        }
        (x, labels, truth)
    }

    fn scan(x: &[f32], labels: &[u32], classes: usize) -> ScanOutput {
        scan_with_tones(x, labels, classes, None)
    }

    /// The scan of 8×8 colour pictures, given their tones or not.
    fn scan_with_tones(
        x: &[f32],
        labels: &[u32],
        classes: usize,
        tones: Option<MatrixRef<'_>>,
    ) -> ScanOutput {
        let n = labels.len();
        let input = ScanInput {
            same_scale: true,
            image: Some(ImageShape {
                height: 8,
                width: 8,
                channels: 3,
            }),
            seed: 1,
            tones,
            ..ScanInput::new(MatrixRef::new(x, n, 8 * 8 * 3).unwrap(), labels, classes)
        };
        ToneFilter::DEFAULT.scan(&input).unwrap()
    }

    #[test]
    fn pictures_through_one_filter_fail_their_class_and_are_named() {
        let (x, labels, truth) = pictures(10, 300, 45, 3);
        let out = scan(&x, &labels, 10);
        let level = class_gate_level(10);
        let zero = &out.classes[0];
        assert!(zero.log_p.unwrap() < level, "{zero:?}");
        let named: Vec<usize> = (0..labels.len()).filter(|&i| out.log_p[i] < 0.0).collect();
        let hits = named.iter().filter(|&&i| truth[i]).count();
        assert!(hits >= 30, "{hits} of {} named are planted", named.len());
        assert!(hits * 10 >= named.len() * 9, "{hits} of {}", named.len());
        for d in &out.classes[1..] {
            assert!(d.log_p.is_none_or(|l| l > level), "{d:?}");
        }
    }

    /// A planted picture that is not among the coherent rows (its tones
    /// pulled elsewhere by its content: here the lit part of every other
    /// planted picture dimmed by a seeded factor of its own) still holds
    /// the filter's black, and is named by it.
    #[test]
    fn the_filtered_black_names_the_planted_rows_the_tones_miss() {
        let black = [40.0f32 / 255.0, 25.0 / 255.0, 10.0 / 255.0];
        for seed in [1, 3, 4] {
            let (mut x, labels, truth) = pictures(10, 300, 45, seed);
            let mut rng = SplitMix64::new(seed + 100);
            let px = 8 * 8 * 3;
            for i in (0..labels.len()).filter(|&i| truth[i]).skip(1).step_by(2) {
                let f = 0.2 + 0.8 * rng.next_f64() as f32;
                for (j, v) in x[i * px..(i + 1) * px].iter_mut().enumerate() {
                    let b = black[j % 3];
                    if *v > b {
                        *v = b + (*v - b) * f;
                    }
                }
            }
            let out = scan(&x, &labels, 10);
            let zero = &out.classes[0];
            assert!(zero.log_p.unwrap() < class_gate_level(10), "{zero:?}");
            let named: Vec<usize> = (0..labels.len()).filter(|&i| out.log_p[i] < 0.0).collect();
            let hits = named.iter().filter(|&&i| truth[i]).count();
            assert!(hits >= 44, "seed {seed}: {hits} of 45 planted named");
            assert!(
                zero.value("filtered_colour_rows").unwrap() >= 5.0,
                "{zero:?}"
            );
            assert!(hits * 20 >= named.len() * 19, "{hits} of {}", named.len());
        }
    }

    /// Tones measured before the pictures were scaled (`ScanInput::tones`)
    /// are read in place of the pixels', whose exact colours scaling
    /// blended away (here every pixel the mean of its 3×3 block).
    #[test]
    fn tones_measured_before_scaling_are_read() {
        let (mut x, labels, truth) = pictures(10, 300, 45, 3);
        let px = 8 * 8 * 3;
        let n = labels.len();
        let before: Vec<f32> = x.chunks(px).flat_map(|row| picture_tone(row, 3)).collect();
        for row in x.chunks_mut(px) {
            let sharp = row.to_vec();
            for (p, v) in row.iter_mut().enumerate() {
                let (y, x, c) = (p / 24, p / 3 % 8, p % 3);
                let (mut sum, mut count) = (0.0, 0.0);
                for yy in y.saturating_sub(1)..(y + 2).min(8) {
                    for xx in x.saturating_sub(1)..(x + 2).min(8) {
                        sum += sharp[(yy * 8 + xx) * 3 + c];
                        count += 1.0;
                    }
                }
                *v = sum / count;
            }
        }
        let level = class_gate_level(10);
        let blurred = scan(&x, &labels, 10);
        assert!(
            blurred.classes[0].log_p.is_none_or(|l| l > level),
            "{:?}",
            blurred.classes[0]
        );
        let tones = MatrixRef::new(&before, n, 3 * TONE_WIDTH).unwrap();
        let out = scan_with_tones(&x, &labels, 10, Some(tones));
        assert!(
            out.classes[0].log_p.unwrap() < level,
            "{:?}",
            out.classes[0]
        );
        let named: Vec<usize> = (0..n).filter(|&i| out.log_p[i] < 0.0).collect();
        let hits = named.iter().filter(|&&i| truth[i]).count();
        assert!(
            hits >= 43 && hits * 20 >= named.len() * 19,
            "{hits} of {}",
            named.len()
        );
    }

    #[test]
    fn a_tone_counted_from_bytes_is_the_tone_of_their_values() {
        let mut rng = SplitMix64::new(5);
        for (len, channels) in [(1, 1), (7, 1), (64 * 3, 3), (1000 * 3, 3)] {
            let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            let values: Vec<f32> = bytes.iter().map(|&b| b as f32 / 255.0).collect();
            // each channel's levels counted, as the decoder counts a picture's
            let counted: Vec<f32> = (0..channels)
                .flat_map(|ch| {
                    let mut counts = [0usize; 256];
                    for &v in bytes.iter().skip(ch).step_by(channels) {
                        counts[v as usize] += 1;
                    }
                    tone_of_counts(&counts)
                })
                .collect();
            assert_eq!(counted, picture_tone(&values, channels));
        }
    }

    #[test]
    fn clean_pictures_fail_no_class() {
        for seed in 1..=3 {
            let (x, labels, _) = pictures(10, 300, 0, seed);
            let out = scan(&x, &labels, 10);
            for d in &out.classes {
                assert!(d.log_p.is_none_or(|l| l > class_gate_level(10)), "{d:?}");
            }
            assert!(out.log_p.iter().all(|&l| l == 0.0));
        }
    }

    #[test]
    fn tables_are_skipped() {
        let x = vec![0.5f32; 40];
        let labels: Vec<u32> = (0..20).map(|i| (i % 2) as u32).collect();
        let input = ScanInput::new(MatrixRef::new(&x, 20, 2).unwrap(), &labels, 2);
        assert!(ToneFilter::DEFAULT.skip_reason(&input).is_some());
        let out = ToneFilter::DEFAULT.scan(&input).unwrap();
        assert!(out.classes.iter().all(|d| d.log_p.is_none()));
    }

    #[test]
    fn options_are_checked() {
        let s = ToneFilter::DEFAULT;
        let opt = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(s.configure(&opt("k", "12")).is_ok());
        assert!(s.configure(&opt("k", "1")).is_err());
        assert!(s.configure(&opt("share", "0.5")).is_err());
        assert!(s.configure(&opt("share", "0.9")).is_ok());
        assert!(s.configure(&opt("min-rows", "4")).is_err());
        assert!(s.configure(&opt("nope", "1")).is_err());
    }
}
