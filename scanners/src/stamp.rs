//! Stamped patch (`PS008`): a block of pixels set to fixed values on rows of
//! other classes given one class's label, found by the values themselves.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::error::{ensure, parse_value, ParamError, ScanError};
use crate::foreign::nearest_rows;
use crate::jpeg::{jpeg_trace, JpegTrace};
use crate::perclass::{best_of_groups_among, unscored};
use crate::rng::SplitMix64;
use crate::stats::ln_upper_normal_p;
use crate::warp::ImageShape;
use crate::{class_gate_level, ClassDiagnostics, MatrixRef, ScanInput, ScanOutput, Scanner};

const DOC: &str = r#"# PS008 stamped-patch

## What it detects
BadNets' trigger as it is planted on photographs: a small block of pixels
(a white square, a checkerboard, a logo) *set* to fixed values in one place
on rows of other classes, which are given the target class's label. The
planted rows hold exactly the same values in that block, and natural
pictures of the other classes do not. And the same stamp planted in every
class (BadNets' all-to-all attack: each class's rows given the next
class's label), where no class holds it alone.

## Why it matters
A patch *replaces* pixels. On MNIST's black corners that is an added shift
that every planted row shares (what `shared-pattern` finds), but where the
pictures under the patch vary (photographs, drawings on varied
backgrounds) each planted row moves by a different amount, and no shared
shift is left. The label tests then find the planted rows only as far as
the pixel view tells the classes apart, and on colour pictures it tells
them apart poorly (CIFAR-10's raw pixels place about a third of the rows
among their own class). Measured before this scanner (`--model none`,
seed 1): a white 3×3 patch on 0.3–10 % of a colour set whose classes mix
crops of 42 photographs and drawings (8,000 32×32 pictures, the pixel view
placing 27 % of a class's rows among it) passed the gate at every rate,
AUROC 0.42–0.72; on the emoji at 32×32, 0.69.

## Method
Only on images (`--image-shape` or as read; the pixels, never a learned
representation).
1. Seeds: every 2×2 block of pixels (every channel) at every place, its
   exact values; a block value that at least `min-rows` rows of a class
   hold, and that rows of other classes hold at most `1 − purity` times as
   often as the class's share of rows predicts (rounded up) — as
   `value-trigger` asks of a table's values.
2. The stamp: from the seed block, the pixels next to it on which at least
   nine in ten of the seed's rows hold one value (every channel), grown
   while they touch; at most 64 pixels (a 64th of larger pictures). A
   stamp is a *filled rectangle*: the grown pixels must fill their
   bounding box, which spans neither the picture's width nor its height
   (a band across the picture is a frame or a letterbox). Where the
   pictures share a background around the patch (black corners, a blank
   border), that growth runs into the background, or the patch's cells
   of the background's value continue it; a seed whose growth gave no
   stamp, and of whose shared pixels at least a quarter are background
   (values the class does not hold *enriched*: at least twice as often
   as other classes' rows, counted on a seeded sample of 4,096 rows),
   then grows again, joining pixels 8-wise, only through enriched
   pixels; the stamp is their bounding box (2×2 at least), every pixel
   of which nine in ten of the seed's rows must share (a checkerboard's
   dark cells on a dark corner). A seed that gave no stamp either way
   grows a third time, going on, where fewer than nine in ten but at
   least half of its rows share the next pixel, with those rows alone:
   natural rows of the class may hold the seed's block too (13 emoji of
   a class with white in the even 2×2 block a white 3×3 in the corner
   was seeded on, beside 38 planted rows: it stopped at the block). Not
   sooner: near values narrowed at once trade rows for area (a 6×6
   checkerboard as JPEG: an 8×6 stamp of 23 rows in place of a 4×6 of
   60). Its rows are the class's rows that hold every one of its values,
   and the purity above is asked of them again.
3. A stamp is *set onto* the picture: the pixels around it do not continue
   it. The `continuation` is, over each pixel of the stamp's edge and its
   neighbour outside the stamp, the share of the stamp's rows in which the
   neighbour holds the edge pixel's value (within 3 % of the pixels' range
   on every channel; for a stamp grown through enriched pixels, only
   those of its edge count); a stamp with a continuation above
   `max-continuation` is a flat part of the pictures (a background, a
   fill that goes on past the block) and is not tested.
4. Landing, as `value-trigger` lands a group: the pictures pooled to at
   most 16×16 cells, the stamp's pixels left out of each cell's mean; the
   `k` nearest of a seeded sample of at most 4,096 rows of the scanned
   classes that do not hold the stamp; each row's share of them labelled
   with the class. Measured for at most 512 of the stamp's rows (`q`), of
   the class's other rows (`q_own`) and of the other classes' rows
   (`q_other`, the share of *their* neighbours labelled with the class).
   Planted rows are other classes' pictures and land as those do; a
   stamp natural to the class (a watermark of the source its pictures came
   from) lands as the class's own rows do.
5. The stamp's `ln` p-value: where it lands at most half-way from the
   other classes' rows to the class's own (`(q − q_other) / (q_own −
   q_other) ≤ 0.5`, with `q_own > q_other`), the one-sided normal test
   of `q` below `q_own` (Welch's standard error of the two means);
   otherwise 0. A trigger is set onto varied pictures, and its rows are
   as varied beside it as the pictures they come from; a family of one
   picture's variants (a vendor's smileys sharing one face, Google's
   family emoji sharing a figure, the same figure in other skin tones)
   holds a stamp and much more, and its rows are alike beside it: a
   class's stamp whose rows' spread beside it (the mean distance between
   two of at most 64 of them in the landing view) is below three quarters
   of the other classes' rows' spread is not significant (`ln` p-value
   0). Measured: planted rows 1.10–1.12 of the other classes' spread;
   Google's family emoji saved as JPEG, 0.49. Class test: the smallest
   over the class's stamps, plus
   `ln` of their number; a class without a stamp has no test (and a data
   set without one leaves fusion's corrections as they were). In a stamp
   significant at the class level each of its rows gets the stamp's `ln`
   p-value (its raw score is one less its share of neighbours with the
   class); the class's other rows get none. `excess_rows`: those rows,
   which fusion flags first in a class that fails (another scanner's group
   there, such as `shared-pattern`'s, may hold only some of them).
6. Stamps across classes (all-to-all). A block value that rows of two
   classes or more hold, none of them alone as step 1 asks, and at most a
   quarter of the pictures (more is a background they share), seeds a
   stamp across classes. It grows as in step 2 with two changes: where at
   least half of its rows, not nine in ten, hold one value at the next
   pixel, it goes on with those rows alone (a white block is held by
   pictures whose white background is there too; they drop out where the
   patch ends and their background goes on); where it runs into a
   background the pictures share (a patch on MNIST's black corners), it
   grows again as in step 2, through values its rows hold at least twice
   as often as the pictures counted do. Its rows are every row that
   holds it; they are landed (step 4) and each row's share of neighbours
   with *its own* label is compared with what the data set's rows
   without the stamp give their classes, from one seeded sample of 2,048
   of them: each class's own rows' share (`q_own`) and other classes'
   rows' share labelled with it (`q_other`), averaged over the stamp's
   rows by their labels. Planted rows are pictures of the class below
   their label and land as those; a mark a source puts on pictures of every class,
   labels kept, lands as each class's own rows do. The `ln` p-value is
   step 5's on these means (one test for the data set). A class is tested
   by it where the stamp lands as other classes' rows do and the class's
   rows of it do too (their mean share at most half-way from `q_other` to
   `q_own` of the class); the class test's correction counts every stamp
   across classes beside the class's own, and a significant one gives
   its evidence to the class's rows holding it.

7. Stamps of near values. Where the pictures' values are not those a
   trigger was set to — decoded from JPEG or lossy WebP, or scaled
   (`near-values auto`, the default), or given as pixels that were
   decoded from JPEG before (arrays of JPEG photographs: told by JPEG's
   trace, below; `always` where it cannot be read) — a patch's
   pixels hold values *near* each other, not the same: JPEG's blocks and
   its halved colour move each by a few levels, most at the patch's edge,
   and no exact block value is held by its rows. Steps 1–3 then run again
   on the pictures halved (each pixel the mean of a 2×2 block, which
   averages much of that noise away; pictures of 16 pixels a side or
   more) with each value binned into eighths of the pixels' range, twice:
   on bins from the range's low end and on bins shifted by half a bin (a
   value near one binning's edge lies mid-bin in the other; the range's
   top value shares the last bin with those just below it), and in
   sixteenths so too. A patch smaller than 5×5 pixels covers no 2×2
   block of the halved pictures: steps 1–3 run on the full pictures too,
   their values binned into quarters two ways (JPEG moves a small
   patch's pixels by a tenth of the range and more, which no halving
   averages away), and the stamps found there that are under 5 pixels on
   a side are kept, and larger ones where the halved search found none
   of the class's at their place (a colour patch whose three channels
   JPEG moves apart: a seed needs nine in ten of its rows to share the
   bin of 12 halved values; a 6×6 yellow patch at quality 90, 39 of 40
   rows found so, none before). Seeds and growth read the bins; a
   stamp's rows are the rows whose values lie within a bin (at most an
   eighth of the range) of its rows' mean at every pixel and channel (a
   value near a bin's edge falls on either side), and whose pictures end
   there: at
   most half of the pairs of an edge pixel and its neighbour outside lie
   within an eighth of the range of each other (a planted near-white
   patch ends where it was set; a near-white sky goes on past it, and
   natural pictures holding such a region would otherwise outnumber the
   planted rows: the photo mix, 223 other-class rows against 75 in the
   class for a 3×3 white patch at quality 90, 1 with this). Its edge
   continues where a neighbour lies within an eighth of it, before
   binning. Stamps across
   classes are not sought so (near values that natural pictures of many
   classes share, a pale band, land across classes too). The stamps
   found are landed and tested (steps 4–5) on the full pictures, their
   place and size doubled, beside the exact ones, and counted in the
   class's correction. Near values find many natural stamps (a stroke, a
   shade; 844 on MNIST saved as JPEG): each is first landed on small
   samples (64 rows of each kind among 1,024 references), and landed in
   full only where its rows land at most three quarters of the way from
   the other classes' rows to the class's own (full MNIST as JPEG: the
   stamped-patch scan 201 s without this, 34 s with it, 14 s without near
   values, when only halved pictures were searched; 35 s with the full
   pictures searched too and a faster landing view).
   JPEG's trace: JPEG keeps each 8×8 block of a picture's luminance as
   its cosine transform, each coefficient rounded to a multiple of its
   frequency's quantisation step; the transform of the decoded blocks
   gives those multiples again, each moved by a fraction of a level,
   where pixels that never went through JPEG give coefficients spread
   evenly (Fan & de Queiroz 2003). On a seeded sample of pictures (64
   to 512, enough for 8,192 blocks), each channel's values are read as
   8-bit levels in whatever scale they were given (bytes, bytes over
   255, or normalised by a mean and a deviation as a model's inputs are:
   at most 256 values, each gap a whole multiple of the least), and the
   blocks on JPEG's grid from the top-left corner that hold no clipped
   value (the least or the highest level of a channel) are transformed
   by their luminance; a frequency is on a lattice where, for some step
   from 2 to 16 levels, the coefficients beyond half a step cluster at
   its multiples (the mean of `cos(2π c / step)` at least 0.1 and five
   standard deviations above 0), and the pictures were decoded from
   JPEG where 8 or more of the 63 frequencies are (`jpeg_trace` in each
   class's values). Pillow's
   JPEG at quality 95 to 50 puts 25 to 63 there, the lossless photo mix,
   emoji, sprites and Fashion-MNIST none; arrays of the photo mix and the
   emoji decoded from JPEG at quality 90 with a 3×3 patch on 1 % now fail
   as their JPEG files do (69 and 56 rows flagged against 69 and 57;
   both passed, 0 flagged; normalised as ImageNet's models take them,
   too). It is not read where the pictures were scaled or cropped off
   JPEG's grid after decoding, where their values are not 8-bit levels
   (16-bit, or levels moved by noise or a blend), or where nearly every
   block holds black or white (MNIST as JPEG).

Summary values per class: `stamps` tested; for the most significant,
`stamp_rows`, `outside_rows` (other classes' rows that hold it), its place
`stamp_x`, `stamp_y` (the top-left pixel), `stamp_width`, `stamp_height`,
`continuation`, `agreement` (`q`), `own_agreement`, `other_agreement`,
`near_values` (1 where it was found on near values, step 7),
`jpeg_trace` (where pictures not known to be lossy show JPEG's trace,
step 7: its frequencies on a lattice, of 63),
and for a stamp across classes `across_classes` (the classes holding it;
`stamp_rows` are the class's rows of it, `outside_rows` the others);
`across_stamps`: the stamps across classes tested in the data set.

Measured (`--model none`; BENCHMARKS.md, "Stamped patches on colour
pictures"): on photomix (`datasets/fetch.sh photomix`: 8,000 crops of
photographs and drawings in ten overlapping classes), a white 3×3 patch
on 1 %, 5 % and 10 % is gated 3/3 with its rows flagged at precision and
recall 100 % (before: passed, AUROC 0.42–0.70); on 0.3 % (24 rows) 2 of
3; black, checkerboard, random-pattern, 2×2 and 5×5 patches and two
targets at 1 %: 100 / 100 %. The emoji at 32×32 and 64×64, a white patch
on 1 % and 5 %: gated, recall 100 %, precision 97–99.5 % (natural
pictures whose corner is white already hold it too). A checkerboard on
the emoji's black top-left corner at 64×64, 1 % (its black cells continue
the background; found by the second growth): gated 3/3, its 76 rows
flagged at precision and recall 100 % (before: 1/3, AUROC 0.68–0.90);
MNIST's white patch on its black corner is found too (600 rows at 1 %,
180 at 0.3 %, each alone enough to gate), as are Fashion-MNIST's
checkerboard at 0.3 % and a 2×2 patch on digits' 8×8 at 5 %.
Clean sets of the corpus: no class fails (natural stamps — a 2×2 block
of Fashion-MNIST's bags, 27 rows; a stroke of digits' zeros, 96 — land
as their class does: agreement 0.95–1.0 against the class's 0.86–0.97).
All-to-all (step 6; `benches/detection.sh colour none` and `alltoall
none`, 3 seeds): a white patch on 1 % and 5 % of the crops, gated 3/3,
flagged recall 93.5–95 % at precision 100 % (passed before, AUROC
0.70–0.79); on the emoji at 32×32 and 64×64, 94.7–97.7 % at 87–99 %;
Fashion-MNIST's and MNIST's patches on 0.3–5 %, 99.7–100 % at
99.9–100 %. Checkerboard and random-pixel patches on 1 % of
the crops: 8 of 10 classes failed, recall 79–85 % at 100 %.
Cost (`--scanners PS008`, 2 cores): full MNIST 2.7–3.7 s, the emoji at
64×64 4–6 s, emoji with skin tones (14,980 × 64×64×3) 8.4 s.

## Options
- `min-rows` (default 20): least rows of a class holding the stamp (5 to
  100,000).
- `purity` (default 0.9): how much rarer than the class's share of rows
  predicts the stamp must be outside the class (above 0.5, at most 1).
- `max-continuation` (default 0.3): largest share of the stamp's rows in
  which its edge continues into the picture (above 0, below 1).
- `k` (default 10): landing neighbours per row (1 to 50).
- `near-values` (default `auto`): look for stamps of near values too
  (step 7) where the pictures are lossy or show JPEG's trace (`auto`),
  `always` or `never`.

## Known false positives
- A mark one source puts on its pictures (a logo, a frame corner, a
  timestamp), where that source gave one class pictures of *other* kinds:
  the rows hold a stamp and look like other classes. It is what a trigger
  is; the report names its place and size. Across classes: a mark on
  pictures of several classes that each look like another class (a
  source whose pictures were all labelled one class off).
- Natural pictures that hold a planted stamp's values (the emoji whose
  corner is white, beside a white patch there) are flagged with the
  planted rows: every row of a significant stamp gets its evidence.
- Near values (step 7) let natural pictures that share a region of near
  colours be taken for a stamp where they also look like another class;
  the edge's continuation, judged within an eighth of the range, keeps a
  region that goes on past the block out, and the rows' spread (step 5)
  keeps out a family of one picture's variants, but not pictures from one
  source that differ more (the same figure drawn in several poses).
- Not found: a patch saved as JPEG after it was stamped where the pictures
  are not known to be lossy and JPEG's trace cannot be read (pixels
  scaled or cropped after they were decoded, grey pictures whose blocks
  hold black or white: set `near-values always`), a patch of near
  values across classes, one whose pixels JPEG moved by more than a quarter of the range (a small
  patch of saturated colour whose colour JPEG halves), one on pictures
  whose region around it holds its values (a white patch on a white
  background: its rows no longer end at its edge), a patch at a place of its own in each picture (each place
  holds too few rows; `knn-label-disagreement`'s contradicted pattern
  looks for those), a patch smaller than 2×2, a blended trigger, a patch
  in every class on more than a quarter of the pictures, a patch whose
  rows the pixel view
  cannot place (`q_own` no higher than `q_other`), fewer than `min-rows`
  planted rows, a patch of the value most pictures hold there (a black
  patch on the emoji's transparent, black corners: invisible on most
  pictures), and a patch larger than three quarters of what its first
  growth reads (the second growth asks that a quarter of it be
  background, so that a group of near-identical pictures, which shares
  its whole picture, is not grown again).

## References
- Gu, Dolan-Gavitt, Garg, "BadNets: identifying vulnerabilities in the
  machine learning model supply chain", 2017.
- Chen, Liu, Li, Lu, Song, "Targeted backdoor attacks on deep learning
  systems using data poisoning", 2017.
"#;

/// Least spread of a near-values stamp's rows beside it, as a share of
/// other classes' rows' spread (see [`spread`]).
const DIVERSE: f64 = 0.75;

/// Rows a spread is measured on at most.
const SPREAD_ROWS: usize = 64;

/// The mean distance between two of (at most [`SPREAD_ROWS`] of) `rows`
/// in the landing view, the stamp's pixels left out: how varied the
/// pictures are beside the stamp.
fn spread(view: &Pooled, p: &Pictures<'_>, s: &Stamp, rows: &[usize]) -> f64 {
    let rows = &rows[..rows.len().min(SPREAD_ROWS)];
    let d = view.dims();
    let v = view.gather(p, rows, s);
    let (mut sum, mut pairs) = (0.0, 0usize);
    for a in 0..rows.len() {
        for b in a + 1..rows.len() {
            let dist: f64 = v[a * d..(a + 1) * d]
                .iter()
                .zip(&v[b * d..(b + 1) * d])
                .map(|(x, y)| ((x - y) as f64).powi(2))
                .sum();
            sum += dist.sqrt();
            pairs += 1;
        }
    }
    sum / pairs.max(1) as f64
}

/// Rows of a stamp, of the class's other rows and of the other classes'
/// rows that are landed at most, for the test.
const SAMPLE: usize = 512;

/// Rows of a significant stamp that are landed for their own scores at most
/// (the rest get the stamp's mean).
const SCORED: usize = 2048;

/// Rows without a stamp across classes that are landed for every class's
/// own and other rows' shares.
const BASE: usize = 2048;

/// Rows without the stamp that rows land among.
const REFERENCES: usize = 4096;

/// Rows the seeds are counted on at most.
const SEED_ROWS: usize = 16_384;

/// Least side of pictures whose seeds are read at every other place.
const STRIDE_FROM: usize = 48;

/// Least rows of a sample that hold a seed.
const MIN_SEED_ROWS: usize = 5;

/// Rows each pixel's values are counted on at most, to tell a background
/// the pictures share from values a class holds alone.
const BACKGROUND_ROWS: usize = 4096;

/// Least share of a seed's rows that hold one value at a pixel for the
/// pixel to join the stamp.
const SHARED: f64 = 0.9;

/// Least share of the shared pixels a seed's first growth read that must be
/// a background (values the class does not hold enriched) for the seed to
/// grow again through the class's values only.
const BACKGROUND: f64 = 0.25;

/// The purity, in [`Allowed`]'s terms, of a value the class holds enriched
/// at a pixel: other classes' rows hold it at most half as often as the
/// class's rows.
const ENRICHED: f64 = 0.5;

/// Largest share of the pictures a block held across classes may be held
/// by: a trigger is planted on a minority of them, and a value most
/// pictures hold there is a background they share.
const ACROSS_SHARE: f64 = 0.25;

/// Cells per side of the landing view at most.
const CELLS: usize = 16;

/// How far from the other classes' rows towards the class's own a stamp's
/// rows may land and still be taken for other classes' rows.
const OWN_LIKE: f64 = 0.5;

/// Largest difference, as a share of the pixels' range, of two values
/// taken for the same where a stamp's edge meets its neighbour.
const SAME: f64 = 0.03;

/// Whether [`StampedPatch`] also looks for stamps of near values (see its
/// docs, step 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearValues {
    /// Where the pictures are lossy ([`ScanInput::lossy`]).
    Auto,
    /// Always (pictures decoded from JPEG before they were given).
    Always,
    /// Never.
    Never,
}

impl std::str::FromStr for NearValues {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            _ => Err(()),
        }
    }
}

/// Validated parameters of [`StampedPatch`].
#[derive(Debug, Clone, PartialEq)]
pub struct StampValidParams {
    min_rows: usize,
    purity: f64,
    max_continuation: f64,
    k: usize,
    near_values: NearValues,
}

/// Parameters of [`StampedPatch`] to adjust and check.
#[derive(Debug, Clone, PartialEq)]
pub struct StampParams(StampValidParams);

impl StampParams {
    /// Least rows of a class holding the stamp.
    pub fn min_rows(mut self, v: usize) -> Self {
        self.0.min_rows = v;
        self
    }
    /// How much rarer than the class's share predicts the stamp must be
    /// outside the class.
    pub fn purity(mut self, v: f64) -> Self {
        self.0.purity = v;
        self
    }
    /// Largest share of the stamp's rows in which its edge continues.
    pub fn max_continuation(mut self, v: f64) -> Self {
        self.0.max_continuation = v;
        self
    }
    /// Landing neighbours per row.
    pub fn k(mut self, v: usize) -> Self {
        self.0.k = v;
        self
    }
    /// Whether stamps of near values are looked for too.
    pub fn near_values(mut self, v: NearValues) -> Self {
        self.0.near_values = v;
        self
    }
    /// Validates every parameter.
    pub fn check(self) -> Result<StampValidParams, ParamError> {
        let p = self.0;
        ensure(
            (5..=100_000).contains(&p.min_rows),
            "stamped-patch.min-rows",
            p.min_rows,
            "an integer from 5 to 100000",
        )?;
        ensure(
            p.purity > 0.5 && p.purity <= 1.0,
            "stamped-patch.purity",
            p.purity,
            "a number above 0.5 and at most 1",
        )?;
        ensure(
            p.max_continuation > 0.0 && p.max_continuation < 1.0,
            "stamped-patch.max-continuation",
            p.max_continuation,
            "a number above 0 and below 1",
        )?;
        ensure(
            (1..=50).contains(&p.k),
            "stamped-patch.k",
            p.k,
            "an integer from 1 to 50",
        )?;
        Ok(p)
    }
}

/// Stamped-patch scanner (`PS008`).
#[derive(Debug, Clone, PartialEq)]
pub struct StampedPatch {
    params: StampValidParams,
}

impl StampedPatch {
    /// The scanner with default settings.
    pub const DEFAULT: StampedPatch = StampedPatch {
        params: StampValidParams {
            min_rows: 20,
            purity: 0.9,
            max_continuation: 0.3,
            k: 10,
            near_values: NearValues::Auto,
        },
    };

    /// The scanner with checked parameters.
    pub fn new(params: StampValidParams) -> Self {
        Self { params }
    }
}

/// A block of fixed values one class's rows hold, or rows of every class
/// (all-to-all).
#[derive(Debug, Clone)]
struct Stamp {
    /// The class whose rows hold it; `None`: rows of several classes, none
    /// of which holds it alone (a trigger planted in every class).
    class: Option<u32>,
    /// Top-left pixel, width and height.
    x: usize,
    y: usize,
    width: usize,
    height: usize,
    /// The values, pixel by pixel (row-major in the block), every channel.
    values: Vec<u32>,
    /// The class's rows that hold it (every class's, across classes), and
    /// other classes' rows that do.
    rows: Vec<usize>,
    outside: Vec<usize>,
    continuation: f64,
    /// Of near values: found on the pictures binned, halved or not (see
    /// [`LOSSY_FROM`]); its place and size are the full pictures'.
    near: bool,
}

impl Stamp {
    /// The features the stamp covers.
    fn features(&self, shape: ImageShape) -> Vec<usize> {
        let (w, ch) = (shape.width, shape.channels);
        (self.y..self.y + self.height)
            .flat_map(|yy| (self.x..self.x + self.width).map(move |xx| (yy * w + xx) * ch))
            .flat_map(|at| at..at + ch)
            .collect()
    }

    /// Whether the stamp and `other` cover a pixel in common.
    fn overlaps(&self, other: &Stamp) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }

    /// Whether pixel `(y, x)` lies under the stamp.
    fn covers(&self, (y, x): (usize, usize)) -> bool {
        (self.y..self.y + self.height).contains(&y) && (self.x..self.x + self.width).contains(&x)
    }

    fn holds(&self, row: &[f32], features: &[usize]) -> bool {
        features
            .iter()
            .zip(&self.values)
            .all(|(&j, &v)| row[j].to_bits() == v)
    }
}

/// A stamp tested for a class: one of the class's, or one across classes
/// with the class's rows of it.
struct Candidate<'a> {
    t: &'a Tested,
    across: Option<&'a Landed>,
}

/// The test of one stamp.
#[derive(Debug, Clone)]
struct Tested {
    stamp: Stamp,
    /// The rows its rows landed among.
    refs: Vec<usize>,
    log_p: f64,
    agreement: f64,
    own: f64,
    other: f64,
    /// Across classes: how each class's rows holding it landed, and each
    /// landed row's share of neighbours with its label.
    classes: Vec<Landed>,
    landed: HashMap<usize, f64>,
}

/// How the rows of one class holding a stamp across classes landed.
#[derive(Debug, Clone)]
struct Landed {
    class: u32,
    /// The class's rows holding it.
    rows: Vec<usize>,
    /// Their mean share of neighbours with the class, the class's other
    /// rows', and other classes' rows' share of neighbours with the class.
    agreement: f64,
    own: f64,
    other: f64,
}

impl Landed {
    /// Whether the rows land at most [`OWN_LIKE`] of the way from other
    /// classes' rows to the class's own.
    fn foreign(&self) -> bool {
        lands_foreign(self.agreement, self.own, self.other)
    }
}

impl Scanner for StampedPatch {
    fn label_agnostic_only(&self) -> bool {
        true
    }
    fn names_its_rows(&self) -> bool {
        true
    }
    fn code(&self) -> &'static str {
        "PS008"
    }
    fn name(&self) -> &'static str {
        "stamped-patch"
    }
    fn summary(&self) -> &'static str {
        "Rows of other classes carrying a block of fixed pixel values only the target class holds (patch triggers on varied pictures)"
    }
    fn doc(&self) -> &'static str {
        DOC
    }

    fn skip_reason(&self, input: &ScanInput<'_>) -> Option<String> {
        let (x, _) = input.label_agnostic();
        match input.image {
            Some(s) if s.len() == x.cols() && s.height >= 4 && s.width >= 4 => None,
            Some(_) => Some("pictures smaller than 4×4 pixels".into()),
            None => Some("not images (a stamp is a block of pixels)".into()),
        }
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = StampParams(self.params.clone());
        for (key, value) in options {
            let name = self.name();
            p = match key.as_str() {
                "min-rows" => p.min_rows(parse_value(name, key, value, "a whole number")?),
                "purity" => p.purity(parse_value(name, key, value, "a number")?),
                "max-continuation" => {
                    p.max_continuation(parse_value(name, key, value, "a number")?)
                }
                "k" => p.k(parse_value(name, key, value, "a whole number")?),
                "near-values" => {
                    p.near_values(parse_value(name, key, value, "auto, always or never")?)
                }
                _ => {
                    return Err(ParamError::unknown(
                        name,
                        key,
                        &["min-rows", "purity", "max-continuation", "k", "near-values"],
                    ))
                }
            };
        }
        Ok(Box::new(StampedPatch::new(p.check()?)))
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        let p = &self.params;
        let (x, _) = input.label_agnostic();
        let n = x.rows();
        let labels = input.labels;
        let class_rows = input.class_rows();
        let scanned: Vec<bool> = class_rows.iter().map(|r| r.len() >= 2).collect();
        let runs = self.skip_reason(input).is_none();
        let level = class_gate_level(input.n_classes);
        let mut tested: Vec<Tested> = Vec::new();
        // where pictures not known to be lossy show JPEG's trace
        let mut decoded: Option<JpegTrace> = None;
        let keys = input.row_keys();
        // the pictures and their landing view, read once for the test and
        // the scores
        let read = input.image.filter(|_| runs).map(|shape| {
            let pictures = Pictures {
                x,
                near: None,
                shape,
                labels,
            };
            (pictures, Pooled::new(shape))
        });
        if let Some((pictures, view)) = &read {
            let sizes: Vec<usize> = class_rows.iter().map(Vec::len).collect();
            let allowed = Allowed::new(&sizes, &scanned, p.purity);
            // a pixel's value the class holds at least twice as often as
            // other classes' rows: not a background they share
            let enriched = Allowed::new(&sizes, &scanned, ENRICHED);
            let (lo, hi) = value_bounds(x);
            let find = |pictures: &Pictures<'_>, (same, near): (f64, f64), salt: u64| {
                let mut rng = SplitMix64::derive(input.seed, 0x57A3 ^ salt);
                let counted = Counted::new(pictures, &scanned, &keys, &mut rng);
                let found = Found {
                    counted: &counted,
                    allowed: &allowed,
                    enriched: &enriched,
                    same,
                    near,
                };
                found.stamps(pictures, p)
            };
            let mut found = find(pictures, (SAME * (hi - lo), 0.0), 0);
            // pictures whose values were not kept exactly (a lossy format,
            // scaling): stamps of values near each other, on the pictures
            // halved and their values binned, two ways (see the docs)
            let (h, w) = (pictures.shape.height, pictures.shape.width);
            let searched = h.min(w) >= LOSSY_FROM && hi > lo;
            // pixels given as arrays that JPEG's blocks left their trace
            // on were decoded from JPEG before they were given: lossy
            if searched && p.near_values == NearValues::Auto && !input.lossy {
                decoded = jpeg_trace(x, pictures.shape, input.seed).filter(JpegTrace::found);
            }
            let near = match p.near_values {
                NearValues::Auto => input.lossy || decoded.is_some(),
                NearValues::Always => true,
                NearValues::Never => false,
            };
            if near && searched {
                let mut near = Vec::new();
                // halved, in eighths and sixteenths; at full size, in
                // quarters (a patch too small to cover a halved block);
                // the halves dropped before the full size is binned
                for (scale, bins_of) in [(2, &LOSSY_BINS[..]), (1, &FULL_BINS[..])] {
                    let halves;
                    let plain = match scale {
                        2 => {
                            halves = halved(pictures);
                            &halves[..]
                        }
                        _ => x.as_slice(),
                    };
                    let shape = ImageShape {
                        height: h / scale,
                        width: w / scale,
                        channels: pictures.shape.channels,
                    };
                    let plain =
                        MatrixRef::new(plain, n, plain.len() / n.max(1)).expect("a picture a row");
                    let binnings = bins_of.iter().flat_map(|&b| [(b, 0.0), (b, 0.5)]);
                    for (grid, (bins, offset)) in binnings.enumerate() {
                        let binned = binned(plain.as_slice(), (lo, hi), bins, offset);
                        let binned = Pictures {
                            x: MatrixRef::new(&binned, n, plain.cols()).expect("as the plain"),
                            near: Some(plain),
                            shape,
                            labels,
                        };
                        let salt = match scale {
                            2 => 0x1055 + grid as u64,
                            _ => 0x1155 + grid as u64,
                        };
                        let same = LOSSY_SAME * (hi - lo);
                        let tolerance = (same, ((hi - lo) / bins).min(same));
                        let mut f = find(&binned, tolerance, salt);
                        // the halved pictures' search finds the larger,
                        // where the values near each other hold in every
                        // channel of a halved block (a patch's colour
                        // that JPEG moves in three channels may not)
                        if scale == 1 {
                            f.retain(|s| {
                                s.width.min(s.height) < HALVED_FINDS
                                    || !near
                                        .iter()
                                        .any(|h: &Stamp| h.class == s.class && h.overlaps(s))
                            });
                        }
                        near.extend(f.into_iter().map(|mut s| {
                            s.near = true;
                            (s.x, s.y, s.width, s.height) =
                                (scale * s.x, scale * s.y, scale * s.width, scale * s.height);
                            s
                        }));
                    }
                }
                // one of a stamp both binnings found
                unique(&mut near, |s| &s.rows);
                // near values find many natural stamps (a stroke, a
                // shade): only those whose rows land as other classes'
                // on a small sample are landed in full
                let screened: Vec<Stamp> = near
                    .into_par_iter()
                    .filter(|s| {
                        let mut rng = stamp_rng(input.seed, 0x5C3E, s, w);
                        lands_foreign_on_a_sample(pictures, view, s, &scanned, &keys, p.k, &mut rng)
                    })
                    .collect();
                found.extend(screened);
            }
            tested = found
                .into_par_iter()
                .map(|s| {
                    let mut rng = stamp_rng(input.seed, 0x57A4, &s, pictures.shape.width);
                    land(pictures, view, s, &scanned, &keys, p.k, &mut rng)
                })
                .collect();
        }
        let (mut raw, mut log_p) = unscored(&class_rows, &scanned, n);
        let across = tested.iter().filter(|t| t.stamp.class.is_none()).count();
        let mut classes = Vec::new();
        for (c, rows) in class_rows.iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            // the class's stamps, and those across classes that land as other
            // classes' rows do, where the class's rows of them do; corrected
            // over the class's stamps and every stamp across classes (each
            // was tested once, for the whole data set)
            let own: Vec<Candidate> = tested
                .iter()
                .filter_map(|t| match t.stamp.class {
                    Some(k) => (k == c as u32).then_some(Candidate { t, across: None }),
                    None if t.log_p < 0.0 => t
                        .classes
                        .iter()
                        .find(|l| l.class == c as u32 && l.foreign())
                        .map(|l| Candidate { t, across: Some(l) }),
                    None => None,
                })
                .collect();
            let class_stamps = own.iter().filter(|s| s.across.is_none()).count();
            let (class_log_p, correction) = best_of_groups_among(
                &own.iter().map(|s| s.t.log_p).collect::<Vec<_>>(),
                class_stamps + across,
            );
            for s in own.iter().filter(|s| s.t.log_p + correction <= level) {
                let (pictures, view) = read.as_ref().expect("stamps are found on images");
                let t = s.t;
                let scores = scores(pictures, view, t, &keys, p.k, input.seed);
                for (&i, &a) in t.stamp.rows.iter().zip(&scores) {
                    if labels[i] as usize == c && t.log_p < log_p[i] {
                        log_p[i] = t.log_p;
                        raw[i] = 1.0 - a;
                    }
                }
            }
            let excess = rows.iter().filter(|&&i| log_p[i] < 0.0).count();
            let mut values = vec![("stamps", own.len() as f64), ("excess_rows", excess as f64)];
            if across > 0 {
                values.push(("across_stamps", across as f64));
            }
            if let Some(t) = decoded {
                values.push(("jpeg_trace", t.frequencies as f64));
            }
            if let Some(b) = own.iter().min_by(|a, b| a.t.log_p.total_cmp(&b.t.log_p)) {
                let s = &b.t.stamp;
                let (rows, outside, agreement, own_agreement, other_agreement) = match b.across {
                    None => (
                        s.rows.len(),
                        s.outside.len(),
                        b.t.agreement,
                        b.t.own,
                        b.t.other,
                    ),
                    Some(l) => (
                        l.rows.len(),
                        s.rows.len() - l.rows.len(),
                        l.agreement,
                        l.own,
                        l.other,
                    ),
                };
                values.extend([
                    ("stamp_rows", rows as f64),
                    ("outside_rows", outside as f64),
                    ("stamp_x", s.x as f64),
                    ("stamp_y", s.y as f64),
                    ("stamp_width", s.width as f64),
                    ("stamp_height", s.height as f64),
                    ("continuation", s.continuation),
                    ("agreement", agreement),
                    ("own_agreement", own_agreement),
                    ("other_agreement", other_agreement),
                ]);
                if b.across.is_some() {
                    values.push(("across_classes", b.t.classes.len() as f64));
                }
                if s.near {
                    values.push(("near_values", 1.0));
                }
            }
            classes.push(ClassDiagnostics {
                class: c as u32,
                values,
                // no stamp, no test: fusion's correction over the data
                // set's tests stays as it was where nothing is stamped
                log_p: (runs && scanned[c] && !own.is_empty()).then_some(class_log_p),
            });
        }
        Ok(ScanOutput::new(raw, log_p, classes))
    }
}

/// What the stamps of one view of the pictures are found with.
struct Found<'a> {
    counted: &'a Counted,
    allowed: &'a Allowed,
    enriched: &'a Allowed,
    /// Largest difference of two values taken for the same where a
    /// stamp's edge meets its neighbour.
    same: f64,
    /// On binned pictures, how far from a stamp's mean values a row's
    /// values before binning may lie for the row to hold it.
    near: f64,
}

impl Found<'_> {
    /// The stamps of pictures `pictures` and their rows (steps 1 to 3 and 6
    /// of the docs).
    fn stamps(&self, pictures: &Pictures<'_>, p: &StampValidParams) -> Vec<Stamp> {
        let seeds = seeds(pictures, self.counted, self.allowed, p.min_rows);
        let mut found: Vec<Stamp> = seeds
            .par_iter()
            .filter_map(|s| {
                match grow(pictures, s, self.same, p.max_continuation, false) {
                    Ok(stamp) => Some(stamp),
                    // into a background the pictures share, or onto one
                    // that continues some of its pixels; last, a class's
                    // seed that natural rows of the class hold too, with
                    // the majority of its rows
                    Err(read) => grow_enriched(
                        pictures,
                        s,
                        read,
                        self.counted,
                        self.enriched,
                        self.same,
                        p.max_continuation,
                    )
                    .or_else(|| {
                        s.class.and_then(|_| {
                            grow(pictures, s, self.same, p.max_continuation, true).ok()
                        })
                    }),
                }
            })
            .collect();
        unique(&mut found, |s| &s.values);
        // the rows of each: every row of the class that holds it
        let scanned = &self.counted.scanned;
        let near = (p.min_rows, self.near, self.same);
        found
            .into_par_iter()
            .filter_map(|s| holders(pictures, s, scanned, self.allowed, near))
            .collect()
    }
}

/// `stamps` sorted by class and place, then by `tail` (their values, or
/// their rows), with one of each kept.
fn unique<T: Ord>(stamps: &mut Vec<Stamp>, tail: for<'s> fn(&'s Stamp) -> &'s [T]) {
    let key = |s: &Stamp| (s.class, s.y, s.x, s.height, s.width);
    stamps.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| tail(a).cmp(tail(b))));
    stamps.dedup_by(|a, b| key(a) == key(b) && tail(a) == tail(b));
}

/// Least side of pictures whose values were not kept exactly that are
/// searched for stamps of near values too (halved, 8 pixels a side).
const LOSSY_FROM: usize = 16;

/// Bins a value's range is cut into for stamps of near values, one search
/// each: eighths find a patch JPEG moved far (a colour's edge, halved in
/// resolution), sixteenths one of a value natural pictures hold near
/// (white on pale backgrounds).
const LOSSY_BINS: [f64; 2] = [8.0, 16.0];

/// Least side of a stamp of near values that the halved pictures' search
/// finds (it covers a 2×2 block of them wherever it lies); the full
/// pictures' search keeps only narrower ones.
const HALVED_FINDS: usize = 5;

/// Bins a value's range is cut into for stamps of near values on the
/// pictures at full size: quarters (JPEG moves a small patch's pixels by
/// a tenth of the range and more; no halving averages it away).
const FULL_BINS: [f64; 1] = [4.0];

/// Largest difference, as a share of the pixels' range, of two values of
/// halved pictures taken for the same where a stamp of near values meets
/// its neighbour: an eighth.
const LOSSY_SAME: f64 = 1.0 / 8.0;

/// The pictures halved: each pixel the mean of a 2×2 block, every channel
/// (a last odd line or column left out).
fn halved(p: &Pictures<'_>) -> Vec<f32> {
    let (h, w, ch) = (p.shape.height / 2, p.shape.width / 2, p.shape.channels);
    let d = h * w * ch;
    let mut out = vec![0f32; p.x.rows() * d];
    out.par_chunks_mut(d.max(1)).enumerate().for_each(|(i, o)| {
        for y in 0..h {
            for x in 0..w {
                for k in 0..ch {
                    let v = p.pixel(i, 2 * y, 2 * x)[k]
                        + p.pixel(i, 2 * y, 2 * x + 1)[k]
                        + p.pixel(i, 2 * y + 1, 2 * x)[k]
                        + p.pixel(i, 2 * y + 1, 2 * x + 1)[k];
                    o[(y * w + x) * ch + k] = v / 4.0;
                }
            }
        }
    });
    out
}

/// Values binned: `bins` bins across `(lo, hi)`, shifted by `offset` of a
/// bin (each value its bin's number). The range's top value lies in the
/// last bin, with the values just below it (a saturated white beside the
/// near-whites JPEG leaves around it).
fn binned(values: &[f32], (lo, hi): (f64, f64), bins: f64, offset: f64) -> Vec<f32> {
    let step = (hi - lo) / bins;
    let last = (bins + offset).ceil() - 1.0;
    values
        .par_iter()
        .map(|&v| ((v as f64 - lo) / step + offset).floor().min(last) as f32)
        .collect()
}

/// The random choices of one step for stamp `s` (pictures `width` pixels
/// wide): seeded by the scan's seed, the step's `salt`, the stamp's class
/// and place.
fn stamp_rng(seed: u64, salt: u64, s: &Stamp, width: usize) -> SplitMix64 {
    let class = s.class.unwrap_or(u32::MAX) as u64;
    SplitMix64::derive(seed, salt ^ (class << 32 | (s.y * width + s.x) as u64))
}

/// The pictures scanned.
#[derive(Clone, Copy)]
struct Pictures<'a> {
    x: MatrixRef<'a>,
    /// The values a stamp's edge is compared with its neighbours on, where
    /// they are not `x`'s (binned pictures: their values before binning).
    near: Option<MatrixRef<'a>>,
    shape: ImageShape,
    labels: &'a [u32],
}

impl Pictures<'_> {
    /// The values of pixel `(y, x)` of row `i`, every channel.
    fn pixel(&self, i: usize, y: usize, x: usize) -> &[f32] {
        let ch = self.shape.channels;
        let at = (y * self.shape.width + x) * ch;
        &self.x.row(i)[at..at + ch]
    }

    /// The values of pixel `(y, x)` of row `i` that a stamp's edge is
    /// compared on (see [`Pictures::near`]).
    fn near_pixel(&self, i: usize, y: usize, x: usize) -> &[f32] {
        let ch = self.shape.channels;
        let at = (y * self.shape.width + x) * ch;
        &self.near.unwrap_or(self.x).row(i)[at..at + ch]
    }

    /// Whether row `i`'s pixels `a` and `b` lie within `same` of each
    /// other in every channel, on the values a stamp's edge is compared on:
    /// whether the picture continues from one to the other.
    fn continues(
        &self,
        i: usize,
        (y, x): (usize, usize),
        (yy, xx): (usize, usize),
        same: f64,
    ) -> bool {
        self.near_pixel(i, y, x)
            .iter()
            .zip(self.near_pixel(i, yy, xx))
            .all(|(a, b)| ((a - b).abs() as f64) <= same)
    }

    fn pixel_key(&self, i: usize, y: usize, x: usize) -> u64 {
        hash(self.pixel(i, y, x).iter().map(|v| v.to_bits()))
    }
}

fn hash(values: impl Iterator<Item = u32>) -> u64 {
    let mut key = 0xCBF2_9CE4_8422_2325u64;
    for v in values {
        key = (key ^ v as u64).wrapping_mul(0x0000_0100_0000_01B3);
    }
    SplitMix64::new(key).next_u64()
}

/// How many rows of other classes may hold a value `m` rows of a class
/// hold: `1 − purity` times as many as the class's share of the scanned
/// rows predicts, rounded up.
struct Allowed {
    ratio: Vec<f64>,
    purity: f64,
}

impl Allowed {
    fn new(sizes: &[usize], scanned: &[bool], purity: f64) -> Self {
        let total: usize = sizes
            .iter()
            .zip(scanned)
            .filter(|(_, &s)| s)
            .map(|(&n, _)| n)
            .sum();
        let ratio = sizes
            .iter()
            .map(|&n| (total - n.min(total)) as f64 / n.max(1) as f64)
            .collect();
        Self { ratio, purity }
    }

    fn get(&self, class: u32, m: usize) -> usize {
        ((1.0 - self.purity) * m as f64 * self.ratio[class as usize]).ceil() as usize
    }
}

/// A seed: the top-left pixel of a 2×2 block, a class (`None`: several),
/// and the class's rows that hold one value of it.
#[derive(Clone)]
struct Seed {
    class: Option<u32>,
    y: usize,
    x: usize,
    rows: Vec<usize>,
}

impl Seed {
    /// The block's four pixels.
    fn pixels(&self) -> [(usize, usize); 4] {
        block(self.y, self.x)
    }
}

/// The four pixels of the 2×2 block whose top-left pixel is `(y, x)`.
fn block(y: usize, x: usize) -> [(usize, usize); 4] {
    [(y, x), (y, x + 1), (y + 1, x), (y + 1, x + 1)]
}

/// The rows seeds are counted on (a seeded sample of at most [`SEED_ROWS`]
/// of the scanned classes' rows), and, read when first asked, the values
/// that at least two rows of a seeded sample of at most [`BACKGROUND_ROWS`]
/// of them hold at each pixel, with their rows by class.
struct Counted {
    /// Whether each class is scanned.
    scanned: Vec<bool>,
    rows: Vec<usize>,
    /// Of all scanned rows.
    share: f64,
    /// The rows each pixel's values are counted on.
    counted: Vec<usize>,
    /// Per line of the pictures (a line is read at once: its pixels lie
    /// together in a row).
    values: Vec<OnceLock<Line>>,
}

/// Per pixel of a line: (value, class, rows), sorted.
type Line = Vec<Vec<(u64, u32, u32)>>;

impl Counted {
    fn new(p: &Pictures<'_>, scanned: &[bool], keys: &[u64], rng: &mut SplitMix64) -> Self {
        let all: Vec<usize> = (0..p.x.rows())
            .filter(|&i| scanned[p.labels[i] as usize])
            .collect();
        // in a large data set, a sample: a stamp on `min_rows` rows keeps a
        // share of them in it, and its rows are counted on every row later
        let share = (SEED_ROWS as f64 / all.len().max(1) as f64).min(1.0);
        let rows = sample(all, SEED_ROWS, keys, rng);
        let counted = sample(rows.clone(), BACKGROUND_ROWS, keys, rng);
        Self {
            scanned: scanned.to_vec(),
            rows,
            share,
            counted,
            values: (0..p.shape.height).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The least rows of the sample that hold a seed, for `min_rows` of
    /// all rows.
    fn min_rows(&self, min_rows: usize) -> usize {
        ((min_rows as f64 * self.share * 0.5).floor() as usize)
            .max(MIN_SEED_ROWS)
            .min(min_rows)
    }

    /// Whether other classes' rows of the sample hold value `key` at pixel
    /// `(y, x)` no more than [`Allowed`] permits for the rows of `class`
    /// that do (at least `m`), both counted on the smaller sample and scaled
    /// to the sample.
    fn enriched(
        &self,
        p: &Pictures<'_>,
        (y, x): (usize, usize),
        (key, m): (u64, usize),
        class: u32,
        allowed: &Allowed,
    ) -> bool {
        let (mut own, mut other) = (0usize, 0usize);
        for e in self.held(p, (y, x), key) {
            if e.1 == class {
                own += e.2 as usize;
            } else {
                other += e.2 as usize;
            }
        }
        let scale = self.rows.len() as f64 / self.counted.len().max(1) as f64;
        let own = ((own as f64 * scale).round() as usize).max(m);
        other as f64 * scale <= allowed.get(class, own) as f64
    }

    /// The share of the rows counted that hold value `key` at pixel
    /// `(y, x)`.
    fn share(&self, p: &Pictures<'_>, (y, x): (usize, usize), key: u64) -> f64 {
        let held: usize = self.held(p, (y, x), key).map(|e| e.2 as usize).sum();
        held as f64 / self.counted.len().max(1) as f64
    }

    /// Of the rows counted, those holding value `key` at pixel `(y, x)`: (value,
    /// class, rows) by class.
    fn held<'s>(
        &'s self,
        p: &Pictures<'_>,
        (y, x): (usize, usize),
        key: u64,
    ) -> impl Iterator<Item = &'s (u64, u32, u32)> {
        let line = self.values[y].get_or_init(|| {
            let w = p.shape.width;
            let mut all: Vec<Vec<(u64, u32)>> = vec![Vec::with_capacity(self.counted.len()); w];
            for &i in &self.counted {
                for (xx, at) in all.iter_mut().enumerate() {
                    at.push((p.pixel_key(i, y, xx), p.labels[i]));
                }
            }
            all.into_iter()
                .map(|mut at| {
                    at.sort_unstable();
                    at.chunk_by(|a, b| a.0 == b.0)
                        .filter(|run| run.len() >= 2)
                        .flat_map(|run| {
                            run.chunk_by(|a, b| a.1 == b.1)
                                .map(|part| (part[0].0, part[0].1, part.len() as u32))
                        })
                        .collect()
                })
                .collect()
        });
        let held = &line[x];
        let from = held.partition_point(|e| e.0 < key);
        held[from..].iter().take_while(move |e| e.0 == key)
    }
}

/// Every 2×2 block value that at least `min_rows` rows of one class hold
/// and other classes' rows hold no more than [`Allowed`] permits.
fn seeds(p: &Pictures<'_>, counted: &Counted, allowed: &Allowed, min_rows: usize) -> Vec<Seed> {
    let (h, w) = (p.shape.height, p.shape.width);
    let rows = &counted.rows;
    let min_rows = counted.min_rows(min_rows);
    // on large pictures every other place: a stamp of 3×3 or more holds a
    // 2×2 block at even coordinates
    let stride = if h.min(w) >= STRIDE_FROM { 2 } else { 1 };
    let (ys, xs) = ((h - 1).div_ceil(stride), (w - 1).div_ceil(stride));
    // a line of blocks at a time, read a row at a time (a row's two lines
    // of pixels lie together; a block read across rows is a cache miss)
    let at_block = |y: usize, x: usize, mut held: Vec<(u64, u32, usize)>| {
        held.sort_unstable();
        let mut found = Vec::new();
        for run in held.chunk_by(|a, b| a.0 == b.0) {
            if run.len() < min_rows {
                continue;
            }
            let before = found.len();
            let mut classes = 0usize;
            for part in run.chunk_by(|a, b| a.1 == b.1) {
                let (m, class) = (part.len(), part[0].1);
                classes += 1;
                if m >= min_rows && run.len() - m <= allowed.get(class, m) {
                    found.push(Seed {
                        class: Some(class),
                        y,
                        x,
                        rows: part.iter().map(|e| e.2).collect(),
                    });
                }
            }
            // no class holds it alone: rows of several classes, a
            // minority of the pictures (a trigger planted in every
            // class; a value most pictures hold is their background);
            // of exact values only (near values of natural pictures of
            // every class, a pale band, land across classes too)
            if found.len() == before
                && p.near.is_none()
                && classes >= 2
                && run.len() as f64 <= ACROSS_SHARE * rows.len() as f64
            {
                found.push(Seed {
                    class: None,
                    y,
                    x,
                    rows: run.iter().map(|e| e.2).collect(),
                });
            }
        }
        found
    };
    let mut out: Vec<Seed> = (0..ys)
        .into_par_iter()
        .flat_map_iter(|line| {
            let y = line * stride;
            let mut held: Vec<Vec<(u64, u32, usize)>> =
                (0..xs).map(|_| Vec::with_capacity(rows.len())).collect();
            for &i in rows {
                for (k, at) in held.iter_mut().enumerate() {
                    let key = hash(
                        block(y, k * stride)
                            .iter()
                            .flat_map(|&(yy, xx)| p.pixel(i, yy, xx).iter().map(|v| v.to_bits())),
                    );
                    at.push((key, p.labels[i], i));
                }
            }
            held.into_iter()
                .enumerate()
                .flat_map(move |(k, held)| at_block(y, k * stride, held))
        })
        .collect();
    // one seed per row set: a stamp larger than 2×2 holds several
    let mut seen: HashSet<(Option<u32>, u64)> = HashSet::new();
    out.retain(|s| seen.insert((s.class, hash(s.rows.iter().map(|&i| i as u32)))));
    out
}

/// The least and the largest of the pixels' values.
fn value_bounds(x: MatrixRef<'_>) -> (f64, f64) {
    let (lo, hi) = (0..x.rows())
        .flat_map(|i| x.row(i).iter())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 0.0);
    }
    (lo as f64, hi as f64)
}

/// The value most of `rows` hold at a pixel, and how many do.
fn mode(p: &Pictures<'_>, rows: &[usize], y: usize, x: usize) -> (u64, usize) {
    let mut keys: Vec<u64> = rows.iter().map(|&i| p.pixel_key(i, y, x)).collect();
    keys.sort_unstable();
    let (mut best, mut count) = (0u64, 0usize);
    for run in keys.chunk_by(|a, b| a == b) {
        if run.len() > count {
            (best, count) = (run[0], run.len());
        }
    }
    (best, count)
}

/// The value at least [`SHARED`] of the seed's rows hold at a pixel, and
/// how many do.
fn shared(p: &Pictures<'_>, seed: &Seed, y: usize, x: usize) -> Option<(u64, usize)> {
    let (best, count) = mode(p, &seed.rows, y, x);
    (count as f64 >= SHARED * seed.rows.len() as f64).then_some((best, count))
}

/// Least share of a seed's rows that hold one value at a pixel for the
/// growth to go on with them alone.
const NARROW: f64 = 0.5;

/// Largest pixels of a stamp: 64, or a 64th of larger pictures.
fn cap(shape: ImageShape) -> usize {
    (shape.height * shape.width / 64).max(64)
}

/// The value the seed's rows share at a pixel, if they do, and how many.
type Held = Option<(u64, usize)>;

/// The stamp a seed grows into, if it is one: a filled rectangle of pixels
/// its rows hold one value at, set onto the pictures (see the docs). If it
/// is none, what the growth read on the way, pixel by pixel.
fn grow(
    p: &Pictures<'_>,
    seed: &Seed,
    same: f64,
    max_continuation: f64,
    narrow: bool,
) -> Result<Stamp, HashMap<(usize, usize), Held>> {
    let (h, w) = (p.shape.height, p.shape.width);
    let cap = cap(p.shape);
    let mut inside: HashMap<(usize, usize), u64> = HashMap::new();
    let mut read: HashMap<(usize, usize), Held> = HashMap::new();
    let mut visited: HashSet<(usize, usize)> = seed.pixels().into_iter().collect();
    let mut queue: VecDeque<(usize, usize)> = seed.pixels().into_iter().collect();
    // a seed holds the block's value where pictures hold it naturally too
    // (a white block where a white background is: other classes' rows
    // across classes; with `narrow`, the class's own within it): where
    // most of its rows, not nine in ten, share a value next to it, it goes
    // on with those rows (a white 3×3 in the emoji's bottom-right corner on
    // 38 rows of a class whose 13 natural rows hold white in the even 2×2
    // block it was seeded on: 39 of 51 hold the stamp, and it stopped at
    // 2×2). A class's seed narrows only where it gave no stamp otherwise:
    // near values narrowed first trade rows for area (a checkerboard as
    // JPEG: a 4×6 stamp of 60 rows lost to an 8×6 of 23)
    let mut seed = Cow::Borrowed(seed);
    while let Some((y, x)) = queue.pop_front() {
        let mut held = shared(p, &seed, y, x);
        // what was read of the seed's own rows
        if let Cow::Borrowed(_) = seed {
            read.insert((y, x), held);
        }
        if held.is_none() && (seed.class.is_none() || narrow) {
            let (value, count) = mode(p, &seed.rows, y, x);
            if count as f64 >= NARROW * seed.rows.len() as f64 && count >= MIN_SEED_ROWS {
                let rows: Vec<usize> = seed
                    .rows
                    .iter()
                    .copied()
                    .filter(|&i| p.pixel_key(i, y, x) == value)
                    .collect();
                seed.to_mut().rows = rows;
                held = Some((value, count));
            }
        }
        let Some((key, _)) = held else {
            continue;
        };
        inside.insert((y, x), key);
        if inside.len() > cap {
            return Err(read);
        }
        for at in neighbours(y, x, h, w) {
            if visited.insert(at) {
                queue.push_back(at);
            }
        }
    }
    // a filled rectangle
    match Bounds::of(inside.keys()) {
        Some(b) if b.area() == inside.len() => {
            stamp_of(p, &seed, &inside, b, |_| true, same, max_continuation).ok_or(read)
        }
        _ => Err(read),
    }
}

/// The stamp a seed grows into where the pictures share a background
/// around it (a patch on black corners, a checkerboard whose dark cells
/// continue a dark border): grown, 8-wise, only through pixels whose shared
/// value is *enriched* in the class (other classes' rows hold it there no
/// more than `enriched`, an [`Allowed`] of purity [`ENRICHED`], permits;
/// across classes, the pictures counted hold it at most half as often as
/// the seed's rows), from those of the seed's block; the stamp is their
/// bounding box, every pixel of it shared, and its edge is judged on the
/// enriched pixels only.
#[allow(clippy::too_many_arguments)]
fn grow_enriched(
    p: &Pictures<'_>,
    seed: &Seed,
    mut read: HashMap<(usize, usize), Held>,
    counted: &Counted,
    allowed: &Allowed,
    same: f64,
    max_continuation: f64,
) -> Option<Stamp> {
    // a value the class holds at a pixel at least twice as often as other
    // classes' rows; across classes, that the seed's rows hold at least
    // twice as often as the pictures do
    let is_enriched = |at: (usize, usize), held: (u64, usize)| match seed.class {
        Some(class) => counted.enriched(p, at, held, class, allowed),
        None => counted.share(p, at, held.0) <= ENRICHED * held.1 as f64 / seed.rows.len() as f64,
    };
    let (h, w) = (p.shape.height, p.shape.width);
    // a background: a share of what the first growth read is not the
    // class's (a group of near-identical pictures holds its whole picture,
    // which is the class's)
    let ran_into: Vec<((usize, usize), (u64, usize))> = read
        .iter()
        .filter_map(|(&at, &held)| held.map(|v| (at, v)))
        .collect();
    let background = ran_into
        .iter()
        .filter(|&&(at, held)| !is_enriched(at, held))
        .count();
    if (background as f64) < BACKGROUND * ran_into.len() as f64 {
        return None;
    }
    let cap = cap(p.shape);
    let block = seed.pixels();
    let mut enriched: HashMap<(usize, usize), u64> = HashMap::new();
    let mut visited: HashSet<(usize, usize)> = block.iter().copied().collect();
    let mut queue: VecDeque<(usize, usize)> = block.iter().copied().collect();
    let mut held = |y: usize, x: usize| -> Held {
        *read.entry((y, x)).or_insert_with(|| shared(p, seed, y, x))
    };
    while let Some((y, x)) = queue.pop_front() {
        let Some((key, m)) = held(y, x) else {
            continue;
        };
        if !is_enriched((y, x), (key, m)) {
            continue;
        }
        enriched.insert((y, x), key);
        if enriched.len() > cap {
            return None;
        }
        for (yy, xx) in neighbours8(y, x, h, w) {
            if visited.insert((yy, xx)) {
                queue.push_back((yy, xx));
            }
        }
    }
    // at least the seed's size, at most the largest stamp
    let b = Bounds::of(enriched.keys())?;
    if b.area() > cap || b.y1 == b.y0 || b.x1 == b.x0 {
        return None;
    }
    // every pixel of the box shared
    let mut inside = enriched.clone();
    for y in b.y0..=b.y1 {
        for x in b.x0..=b.x1 {
            if let Entry::Vacant(e) = inside.entry((y, x)) {
                e.insert(held(y, x)?.0);
            }
        }
    }
    stamp_of(
        p,
        seed,
        &inside,
        b,
        |at| enriched.contains_key(&at),
        same,
        max_continuation,
    )
}

/// The bounding box of pixels.
#[derive(Clone, Copy)]
struct Bounds {
    y0: usize,
    y1: usize,
    x0: usize,
    x1: usize,
}

impl Bounds {
    fn of<'a>(pixels: impl Iterator<Item = &'a (usize, usize)> + Clone) -> Option<Self> {
        Some(Self {
            y0: pixels.clone().map(|a| a.0).min()?,
            y1: pixels.clone().map(|a| a.0).max()?,
            x0: pixels.clone().map(|a| a.1).min()?,
            x1: pixels.map(|a| a.1).max()?,
        })
    }

    fn area(&self) -> usize {
        (self.y1 - self.y0 + 1) * (self.x1 - self.x0 + 1)
    }

    fn contains(&self, (y, x): (usize, usize)) -> bool {
        (self.y0..=self.y1).contains(&y) && (self.x0..=self.x1).contains(&x)
    }
}

/// The stamp of a filled box of shared values: kept where it spans neither
/// the picture's width nor its height (a band across the picture is a frame
/// or a letterbox, not a patch) and where its edge — the `edge` pixels of
/// the box next to a pixel outside — does not continue into the picture.
fn stamp_of(
    p: &Pictures<'_>,
    seed: &Seed,
    inside: &HashMap<(usize, usize), u64>,
    b: Bounds,
    edge: impl Fn((usize, usize)) -> bool,
    same: f64,
    max_continuation: f64,
) -> Option<Stamp> {
    let (h, w) = (p.shape.height, p.shape.width);
    let (height, width) = (b.y1 - b.y0 + 1, b.x1 - b.x0 + 1);
    if height == h || width == w {
        return None;
    }
    // the value of each pixel: that of the first seed row holding the mode
    let mut values = Vec::with_capacity(height * width * p.shape.channels);
    for yy in b.y0..=b.y1 {
        for xx in b.x0..=b.x1 {
            let key = inside[&(yy, xx)];
            let i = *seed.rows.iter().find(|&&i| p.pixel_key(i, yy, xx) == key)?;
            values.extend(p.pixel(i, yy, xx).iter().map(|v| v.to_bits()));
        }
    }
    // the edge: pairs of a stamp pixel and its neighbour outside
    let mut pairs = 0usize;
    // counted whole, so that the sum does not depend on the map's order
    let mut continued = 0usize;
    for &(y, x) in inside.keys().filter(|&&at| edge(at)) {
        for (yy, xx) in neighbours(y, x, h, w) {
            if b.contains((yy, xx)) {
                continue;
            }
            pairs += 1;
            let held = seed
                .rows
                .iter()
                .filter(|&&i| p.continues(i, (y, x), (yy, xx), same))
                .count();
            continued += held;
        }
    }
    if pairs == 0 {
        return None;
    }
    let continuation = continued as f64 / (pairs * seed.rows.len()) as f64;
    (continuation <= max_continuation).then_some(Stamp {
        class: seed.class,
        x: b.x0,
        y: b.y0,
        width,
        height,
        values,
        rows: Vec::new(),
        outside: Vec::new(),
        continuation,
        near: false,
    })
}

/// Largest share of a stamp's edge a row of near values may continue
/// past (see [`holders`]): a half.
const ROW_CONTINUATION: f64 = 0.5;

/// The pairs of a stamp's edge pixel and its neighbour outside it, inside
/// the picture.
fn edge_pairs(s: &Stamp, shape: ImageShape) -> Vec<((usize, usize), (usize, usize))> {
    let (h, w) = (shape.height, shape.width);
    (s.y..s.y + s.height)
        .flat_map(|y| (s.x..s.x + s.width).map(move |x| (y, x)))
        .flat_map(|(y, x)| {
            neighbours(y, x, h, w)
                .filter(|&at| !s.covers(at))
                .map(move |at| ((y, x), at))
        })
        .collect()
}

fn neighbours(y: usize, x: usize, h: usize, w: usize) -> impl Iterator<Item = (usize, usize)> {
    [
        (y.wrapping_sub(1), x),
        (y + 1, x),
        (y, x.wrapping_sub(1)),
        (y, x + 1),
    ]
    .into_iter()
    .filter(move |&(yy, xx)| yy < h && xx < w)
}

/// The eight pixels around a pixel, inside the picture.
fn neighbours8(y: usize, x: usize, h: usize, w: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..9)
        .filter(|&d| d != 4)
        .map(move |d| ((y + d / 3).wrapping_sub(1), (x + d % 3).wrapping_sub(1)))
        .filter(move |&(yy, xx)| yy < h && xx < w)
}

/// The stamp with its rows — every row of its class that holds all its
/// values — where they are at least `min_rows` and other classes' rows
/// holding it stay within [`Allowed`]; a stamp across classes, with every
/// scanned row that holds it, where they are at least `min_rows`, of two
/// classes or more, and at most [`ACROSS_SHARE`] of the scanned rows.
fn holders(
    p: &Pictures<'_>,
    mut s: Stamp,
    scanned: &[bool],
    allowed: &Allowed,
    (min_rows, near, same): (usize, f64, f64),
) -> Option<Stamp> {
    let features = s.features(p.shape);
    // binned pictures: the rows whose values before binning lie within
    // `near` of the mean of those holding the binned values (a value near a
    // bin's edge falls on either side)
    let centre: Option<Vec<f32>> = p.near.map(|plain| {
        let holding: Vec<usize> = (0..p.x.rows())
            .filter(|&i| s.holds(p.x.row(i), &features))
            .collect();
        features
            .iter()
            .map(|&j| {
                let sum: f64 = holding.iter().map(|&i| plain.row(i)[j] as f64).sum();
                (sum / holding.len().max(1) as f64) as f32
            })
            .collect()
    });
    // of near values, a row holds the stamp's edge too: most of the
    // stamp's outside neighbours are not near the pixels they touch (a
    // patch of near-white ends where it was set; a white sky goes on)
    let edge = match p.near {
        Some(_) => edge_pairs(&s, p.shape),
        None => Vec::new(),
    };
    let ends = |i: usize| {
        let continued = edge
            .iter()
            .filter(|&&(a, b)| p.continues(i, a, b, same))
            .count();
        continued as f64 <= ROW_CONTINUATION * edge.len() as f64
    };
    let holds = |i: usize| match (&centre, p.near) {
        (Some(centre), Some(plain)) => {
            let row = plain.row(i);
            features
                .iter()
                .zip(centre)
                .all(|(&j, &c)| ((row[j] - c).abs() as f64) <= near)
                && ends(i)
        }
        _ => s.holds(p.x.row(i), &features),
    };
    let (mut rows, mut outside) = (Vec::new(), Vec::new());
    let mut all = 0usize;
    for i in 0..p.x.rows() {
        let l = p.labels[i];
        if !scanned[l as usize] {
            continue;
        }
        all += 1;
        if holds(i) {
            if s.class.is_none_or(|c| c == l) {
                rows.push(i);
            } else {
                outside.push(i);
            }
        }
    }
    let kept = match s.class {
        Some(c) => rows.len() >= min_rows && outside.len() <= allowed.get(c, rows.len()),
        None => {
            let first = rows.first().map(|&i| p.labels[i]);
            rows.len() >= min_rows
                && rows.len() as f64 <= ACROSS_SHARE * all as f64
                && rows.iter().any(|&i| Some(p.labels[i]) != first)
        }
    };
    kept.then(|| {
        s.rows = rows;
        s.outside = outside;
        s
    })
}

/// The landing view: the pictures pooled to at most [`CELLS`] cells a side,
/// each cell the mean of its pixels that a stamp does not cover.
struct Pooled {
    shape: ImageShape,
    cell: usize,
    cells_y: usize,
    cells_x: usize,
    /// Every row pooled whole, read when a stamp is first landed (a scan
    /// that finds none reads no view): a stamp's view differs only in the
    /// cells it touches.
    whole: OnceLock<Vec<f32>>,
}

impl Pooled {
    fn new(shape: ImageShape) -> Self {
        let cell = shape.height.max(shape.width).div_ceil(CELLS).max(1);
        Self {
            shape,
            cell,
            cells_y: shape.height.div_ceil(cell),
            cells_x: shape.width.div_ceil(cell),
            whole: OnceLock::new(),
        }
    }

    /// Every row of `p` pooled whole. Pooled on the one thread that first
    /// asks, not in parallel: the stamps are landed in parallel, and a
    /// worker pooling on rayon would take another stamp's landing while it
    /// waits, whose first read of this view waits on the worker itself (a
    /// scan that hung so, `--threads 3` on the demo digits).
    fn whole(&self, p: &Pictures<'_>) -> &[f32] {
        self.whole.get_or_init(|| {
            let d = self.dims();
            let mut whole = vec![0f32; p.x.rows() * d];
            for (i, o) in whole.chunks_mut(d.max(1)).enumerate() {
                for cy in 0..self.cells_y {
                    for cx in 0..self.cells_x {
                        self.pool_cell(p.x.row(i), (cy, cx), None, o);
                    }
                }
            }
            whole
        })
    }

    fn dims(&self) -> usize {
        self.cells_y * self.cells_x * self.shape.channels
    }

    /// Cell `(cy, cx)` of a picture into `o` (its row of the view): the
    /// mean of its pixels, those of `stamp` left out, summed line by line,
    /// left to right.
    fn pool_cell(
        &self,
        picture: &[f32],
        (cy, cx): (usize, usize),
        stamp: Option<&Stamp>,
        o: &mut [f32],
    ) {
        let (h, w, ch) = (self.shape.height, self.shape.width, self.shape.channels);
        let covered = |y: usize, x: usize| stamp.is_some_and(|s| s.covers((y, x)));
        let at = (cy * self.cells_x + cx) * ch;
        let acc = &mut o[at..at + ch];
        acc.fill(0.0);
        let mut count = 0usize;
        for y in cy * self.cell..((cy + 1) * self.cell).min(h) {
            for x in cx * self.cell..((cx + 1) * self.cell).min(w) {
                if covered(y, x) {
                    continue;
                }
                let from = (y * w + x) * ch;
                for (a, v) in acc.iter_mut().zip(&picture[from..from + ch]) {
                    *a += v;
                }
                count += 1;
            }
        }
        for a in acc {
            *a = if count > 0 { *a / count as f32 } else { 0.0 };
        }
    }

    /// The rows' pooled values, the stamp's pixels left out: each row's
    /// whole view, with the cells the stamp touches pooled again.
    fn gather(&self, p: &Pictures<'_>, rows: &[usize], s: &Stamp) -> Vec<f32> {
        let d = self.dims();
        let mut out = vec![0f32; rows.len() * d];
        let cells_y = s.y / self.cell..=(s.y + s.height.max(1) - 1) / self.cell;
        let cells_x = s.x / self.cell..=(s.x + s.width.max(1) - 1) / self.cell;
        let whole = self.whole(p);
        for (o, &i) in out.chunks_mut(d.max(1)).zip(rows) {
            o.copy_from_slice(&whole[i * d..(i + 1) * d]);
            for cy in cells_y.clone() {
                for cx in cells_x.clone() {
                    self.pool_cell(p.x.row(i), (cy, cx), Some(s), o);
                }
            }
        }
        out
    }
}

/// A seeded sample of at most `most` of `rows`, in content order.
fn sample(rows: Vec<usize>, most: usize, keys: &[u64], rng: &mut SplitMix64) -> Vec<usize> {
    rng.first_by_content(rows, most, keys)
}

/// The labels of each of `rows`' `k` nearest `refs` (a row that is itself
/// a reference left out), the stamp's pixels left out of the view.
fn neighbour_labels(
    p: &Pictures<'_>,
    view: &Pooled,
    s: &Stamp,
    rows: &[usize],
    refs: &[usize],
    k: usize,
) -> Vec<Vec<u32>> {
    let k = k.min(refs.len().saturating_sub(1)).max(1);
    let d = view.dims();
    let q = view.gather(p, rows, s);
    let r = view.gather(p, refs, s);
    nearest_rows(&q, &r, d, k + 1)
        .iter()
        .zip(rows)
        .map(|(nb, &row)| {
            nb.iter()
                .map(|&j| refs[j as usize])
                .filter(|&j| j != row)
                .take(k)
                .map(|j| p.labels[j])
                .collect()
        })
        .collect()
}

/// The share of `labels` that are `class`.
fn share_of(labels: &[u32], class: u32) -> f64 {
    labels.iter().filter(|&&l| l == class).count() as f64 / labels.len().max(1) as f64
}

/// Each of `rows`' share of its `k` nearest `refs` labelled `class` (a row
/// that is itself a reference left out).
fn shares(
    p: &Pictures<'_>,
    view: &Pooled,
    s: &Stamp,
    rows: &[usize],
    refs: &[usize],
    class: u32,
    k: usize,
) -> Vec<f64> {
    neighbour_labels(p, view, s, rows, refs, k)
        .iter()
        .map(|nb| share_of(nb, class))
        .collect()
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, var)
}

/// Whether rows whose mean share of neighbours with a class is `q` land at
/// most [`OWN_LIKE`] of the way from other classes' rows (`q_other`) to the
/// class's own (`q_own`).
fn lands_foreign(q: f64, q_own: f64, q_other: f64) -> bool {
    q_own > q_other && (q - q_other) / (q_own - q_other) <= OWN_LIKE
}

/// The landing test's `ln` p-value (see the docs, step 5): the one-sided
/// normal test of the stamp's rows' mean share `q` below the class's own
/// rows' `q_own` (each a mean, its variance and its rows), with Welch's
/// standard error, where they land as other classes' rows do; else 0.
fn landing_log_p(
    (q, var_q, n_q): (f64, f64, usize),
    (q_own, var_own, n_own): (f64, f64, usize),
    q_other: f64,
) -> f64 {
    if n_own == 0 || !lands_foreign(q, q_own, q_other) {
        return 0.0;
    }
    let se = (var_q / n_q.max(1) as f64 + var_own / n_own as f64)
        .sqrt()
        .max(1e-3);
    ln_upper_normal_p((q_own - q) / se)
}

/// The scanned rows that do not hold the stamp (as `holders` found them).
fn without(p: &Pictures<'_>, s: &Stamp, scanned: &[bool]) -> Vec<usize> {
    let mut holding = vec![false; p.x.rows()];
    for &i in s.rows.iter().chain(&s.outside) {
        holding[i] = true;
    }
    (0..p.x.rows())
        .filter(|&i| scanned[p.labels[i] as usize] && !holding[i])
        .collect()
}

/// Rows of a stamp of near values, of the class's other rows and of the
/// other classes' rows landed, among as many references as [`SCREEN_REFS`],
/// to screen it.
const SCREEN_ROWS: usize = 64;

/// References rows are landed among to screen a stamp of near values.
const SCREEN_REFS: usize = 1024;

/// How far from the other classes' rows towards the class's own a stamp of
/// near values may land on the screening sample to be landed in full
/// ([`OWN_LIKE`] and a margin for the small sample).
const SCREEN_OWN_LIKE: f64 = 0.75;

/// Whether a class's stamp's rows land as other classes' rows do on small
/// samples (see [`SCREEN_ROWS`]): a cheap first look before [`land`].
fn lands_foreign_on_a_sample(
    p: &Pictures<'_>,
    view: &Pooled,
    s: &Stamp,
    scanned: &[bool],
    keys: &[u64],
    k: usize,
    rng: &mut SplitMix64,
) -> bool {
    let Some(c) = s.class else {
        return true;
    };
    let [refs, stamp_rows, own_rows, other_rows] =
        landing_rows(p, s, c, scanned, keys, rng, (SCREEN_ROWS, SCREEN_REFS));
    let mean = |rows: &[usize]| mean_var(&shares(p, view, s, rows, &refs, c, k)).0;
    let (q, q_own, q_other) = (mean(&stamp_rows), mean(&own_rows), mean(&other_rows));
    q_own > q_other && (q - q_other) / (q_own - q_other) <= SCREEN_OWN_LIKE
}

/// The rows a class `c`'s stamp is landed with: seeded samples of the
/// references (rows without it, at most `refs`), of its rows, of the
/// class's other rows and of the other classes' rows (at most `most`
/// each), drawn in that order.
fn landing_rows(
    p: &Pictures<'_>,
    s: &Stamp,
    c: u32,
    scanned: &[bool],
    keys: &[u64],
    rng: &mut SplitMix64,
    (most, refs): (usize, usize),
) -> [Vec<usize>; 4] {
    let without = without(p, s, scanned);
    let (own_rows, other_rows): (Vec<usize>, Vec<usize>) =
        without.iter().copied().partition(|&i| p.labels[i] == c);
    let refs = sample(without, refs, keys, rng);
    let stamp_rows = sample(s.rows.clone(), most, keys, rng);
    let own_rows = sample(own_rows, most, keys, rng);
    let other_rows = sample(other_rows, most, keys, rng);
    [refs, stamp_rows, own_rows, other_rows]
}

/// The stamp's landing test (see the docs, steps 4 and 5).
fn land(
    p: &Pictures<'_>,
    view: &Pooled,
    s: Stamp,
    scanned: &[bool],
    keys: &[u64],
    k: usize,
    rng: &mut SplitMix64,
) -> Tested {
    let Some(c) = s.class else {
        return land_across(p, view, s, scanned, keys, k, rng);
    };
    let [refs, stamp_rows, own_rows, other_rows] =
        landing_rows(p, &s, c, scanned, keys, rng, (SAMPLE, REFERENCES));
    let (q, var_q) = mean_var(&shares(p, view, &s, &stamp_rows, &refs, c, k));
    let own = shares(p, view, &s, &own_rows, &refs, c, k);
    let (q_own, var_own) = mean_var(&own);
    let (q_other, _) = mean_var(&shares(p, view, &s, &other_rows, &refs, c, k));
    let mut log_p = landing_log_p(
        (q, var_q, stamp_rows.len()),
        (q_own, var_own, own.len()),
        q_other,
    );
    // a family of one picture's variants holds a stamp over more than the
    // stamp, and is alike beside it (see the docs, step 5)
    if log_p < 0.0 {
        let alike = spread(view, p, &s, &stamp_rows) / spread(view, p, &s, &other_rows);
        if alike < DIVERSE {
            log_p = 0.0;
        }
    }
    Tested {
        stamp: s,
        refs,
        log_p,
        agreement: q,
        own: q_own,
        other: q_other,
        classes: Vec::new(),
        landed: HashMap::new(),
    }
}

/// The landing test of a stamp across classes: its rows' shares of
/// neighbours with their own labels, against what the data set's rows
/// without it give their classes — their own rows' shares (`own`) and other
/// classes' rows' (`other`), for each row's class — pooled over the
/// stamp's rows; and how each class's rows of it landed.
fn land_across(
    p: &Pictures<'_>,
    view: &Pooled,
    s: Stamp,
    scanned: &[bool],
    keys: &[u64],
    k: usize,
    rng: &mut SplitMix64,
) -> Tested {
    let n_classes = scanned.len();
    let without = without(p, &s, scanned);
    let refs = sample(without.clone(), REFERENCES, keys, rng);
    // every class's own and other rows' shares, from one sample of rows
    // without it
    let base = sample(without, BASE, keys, rng);
    let mut own = vec![(0.0f64, 0usize); n_classes];
    let mut other = vec![(0.0f64, 0usize); n_classes];
    let base_labels = neighbour_labels(p, view, &s, &base, &refs, k);
    for (&i, nb) in base.iter().zip(&base_labels) {
        for c in 0..n_classes {
            let a = if c as u32 == p.labels[i] {
                &mut own[c]
            } else {
                &mut other[c]
            };
            a.0 += share_of(nb, c as u32);
            a.1 += 1;
        }
    }
    let mean = |a: (f64, usize)| if a.1 == 0 { 0.0 } else { a.0 / a.1 as f64 };
    let own: Vec<f64> = own.into_iter().map(mean).collect();
    let other: Vec<f64> = other.into_iter().map(mean).collect();
    let (_, var_base) = mean_var(
        &base
            .iter()
            .zip(&base_labels)
            .map(|(&i, nb)| share_of(nb, p.labels[i]) - own[p.labels[i] as usize])
            .collect::<Vec<_>>(),
    );
    // its rows: each one's share with its label, and what its class gives
    let rows = sample(s.rows.clone(), SCORED, keys, rng);
    let agreement: Vec<f64> = neighbour_labels(p, view, &s, &rows, &refs, k)
        .iter()
        .zip(&rows)
        .map(|(nb, &i)| share_of(nb, p.labels[i]))
        .collect();
    let by_class = |v: &[f64]| -> f64 {
        rows.iter().map(|&i| v[p.labels[i] as usize]).sum::<f64>() / rows.len().max(1) as f64
    };
    let (q, _) = mean_var(&agreement);
    let (q_own, q_other) = (by_class(&own), by_class(&other));
    let (_, var_q) = mean_var(
        &rows
            .iter()
            .zip(&agreement)
            .map(|(&i, a)| a - own[p.labels[i] as usize])
            .collect::<Vec<_>>(),
    );
    let log_p = landing_log_p(
        (q, var_q, rows.len()),
        (q_own, var_base, base.len()),
        q_other,
    );
    let landed: HashMap<usize, f64> = rows.iter().copied().zip(agreement).collect();
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for &i in &s.rows {
        by_class.entry(p.labels[i]).or_default().push(i);
    }
    let classes = by_class
        .into_iter()
        .map(|(c, rows)| {
            let a: Vec<f64> = rows.iter().filter_map(|i| landed.get(i).copied()).collect();
            Landed {
                class: c,
                rows,
                agreement: if a.is_empty() { q } else { mean_var(&a).0 },
                own: own[c as usize],
                other: other[c as usize],
            }
        })
        .collect();
    Tested {
        stamp: s,
        refs,
        log_p,
        agreement: q,
        own: q_own,
        other: q_other,
        classes,
        landed,
    }
}

/// Each of a significant stamp's rows' share of neighbours with its class
/// (at most [`SCORED`] rows landed; the rest get the stamp's mean).
fn scores(
    p: &Pictures<'_>,
    view: &Pooled,
    t: &Tested,
    keys: &[u64],
    k: usize,
    seed: u64,
) -> Vec<f64> {
    let s = &t.stamp;
    let Some(c) = s.class else {
        // landed when tested
        return s
            .rows
            .iter()
            .map(|i| t.landed.get(i).copied().unwrap_or(t.agreement))
            .collect();
    };
    let mut rng = SplitMix64::derive(seed, 0x5C0E ^ c as u64);
    let landed = sample(s.rows.clone(), SCORED, keys, &mut rng);
    let a = shares(p, view, s, &landed, &t.refs, c, k);
    let of: HashMap<usize, f64> = landed.into_iter().zip(a).collect();
    s.rows
        .iter()
        .map(|i| of.get(i).copied().unwrap_or(t.agreement))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::through_jpeg;

    const SIDE: usize = 12;

    /// Three classes of 300 colour pictures, 12×12: smooth random fields
    /// (an 8-bit value per channel, never white or black) whose tint
    /// follows the class, loosely. `planted` rows of classes 1 and 2 get `stamp` and
    /// class 0's label; `own` rows of class 0 get it and keep their label.
    fn pictures(planted: usize, own: usize, stamp: &dyn Fn(&mut [f32])) -> (Vec<f32>, Vec<u32>) {
        pictures_of(SIDE, planted, own, stamp)
    }

    /// [`pictures`] of `side × side` pixels.
    fn pictures_of(
        side: usize,
        planted: usize,
        own: usize,
        stamp: &dyn Fn(&mut [f32]),
    ) -> (Vec<f32>, Vec<u32>) {
        let d = side * side * 3;
        let mut rng = SplitMix64::new(7);
        let mut x = Vec::with_capacity(900 * d);
        let mut labels = Vec::with_capacity(900);
        for i in 0..900 {
            let c = (i / 300) as u32;
            let base = [0.3 + 0.15 * c as f64, 0.5, 0.7 - 0.15 * c as f64];
            let (gy, gx) = (rng.normal() * 0.04, rng.normal() * 0.04);
            let level = rng.normal() * 0.08;
            let mut row = vec![0f32; d];
            for y in 0..side {
                for xx in 0..side {
                    for ch in 0..3 {
                        let v = base[ch]
                            + level
                            + gy * y as f64 / 4.0
                            + gx * xx as f64 / 4.0
                            + rng.normal() * 0.05;
                        row[(y * side + xx) * 3 + ch] =
                            ((v.clamp(0.05, 0.95) * 255.0).round() / 255.0) as f32;
                    }
                }
            }
            labels.push(c);
            x.extend(row);
        }
        for (n, i) in (300..300 + planted / 2)
            .chain(600..600 + planted - planted / 2)
            .enumerate()
        {
            let _ = n;
            stamp(&mut x[i * d..(i + 1) * d]);
            labels[i] = 0;
        }
        for i in 0..own {
            stamp(&mut x[i * d..(i + 1) * d]);
        }
        (x, labels)
    }

    fn white(row: &mut [f32]) {
        for y in 8..11 {
            for xx in 8..11 {
                row[(y * SIDE + xx) * 3..(y * SIDE + xx + 1) * 3].fill(1.0);
            }
        }
    }

    fn scan(x: &[f32], labels: &[u32]) -> ScanOutput {
        let mut input = ScanInput::new(
            MatrixRef::new(x, labels.len(), SIDE * SIDE * 3).unwrap(),
            labels,
            3,
        );
        input.same_scale = true;
        input.seed = 3;
        input.image = Some(ImageShape {
            height: SIDE,
            width: SIDE,
            channels: 3,
        });
        StampedPatch::DEFAULT.scan(&input).unwrap()
    }

    /// A 6×6 patch of one colour at (2, 2) of 24×24 pictures, its values
    /// moved by a few levels each, as JPEG leaves a patch (seeded by the
    /// row's first value).
    fn near_patch(row: &mut [f32]) {
        let mut rng = SplitMix64::new(row[0].to_bits() as u64);
        for y in 2..8 {
            for xx in 2..8 {
                for (ch, v) in [0.95, 0.85, 0.1].into_iter().enumerate() {
                    let moved = (v + rng.normal() * 0.02) as f32;
                    row[(y * 24 + xx) * 3 + ch] = (moved.clamp(0.0, 1.0) * 255.0).round() / 255.0;
                }
            }
        }
    }

    fn scan_near(x: &[f32], labels: &[u32], lossy: bool) -> ScanOutput {
        let mut input = ScanInput::new(
            MatrixRef::new(x, labels.len(), 24 * 24 * 3).unwrap(),
            labels,
            3,
        );
        input.same_scale = true;
        input.seed = 3;
        input.lossy = lossy;
        input.image = Some(ImageShape {
            height: 24,
            width: 24,
            channels: 3,
        });
        StampedPatch::DEFAULT.scan(&input).unwrap()
    }

    /// A patch whose values are near each other, not the same (a stamp
    /// saved as JPEG): found where the pictures are said to be lossy, its
    /// rows named and its place given on the full pictures; not found from
    /// exact values alone. Unstamped lossy pictures fail nothing.
    #[test]
    fn a_stamp_of_near_values_is_found_where_the_pictures_are_lossy() {
        let (x, labels) = pictures_of(24, 40, 0, &near_patch);
        let level = class_gate_level(3);
        let exact = scan_near(&x, &labels, false);
        assert!(
            exact.classes[0].log_p.is_none_or(|p| p > level),
            "{:?}",
            exact.classes[0]
        );
        let out = scan_near(&x, &labels, true);
        let d = &out.classes[0];
        assert!(d.log_p.unwrap() < level - 5.0, "{d:?}");
        assert_eq!(d.value("near_values"), Some(1.0));
        let flagged: Vec<usize> = (0..900).filter(|&i| out.log_p[i] < 0.0).collect();
        let planted: Vec<usize> = (300..320).chain(600..620).collect();
        assert_eq!(flagged, planted);
        assert_eq!(place(d), [2.0, 2.0, 6.0, 6.0].map(Some));
        let (clean, labels) = pictures_of(24, 0, 0, &|_: &mut [f32]| {});
        let out = scan_near(&clean, &labels, true);
        for c in &out.classes {
            assert!(c.log_p.is_none_or(|p| p > level), "{c:?}");
        }
    }

    /// A patch stamped on pictures that were then saved as JPEG (quality
    /// 90) and given as their decoded pixels, not known to be lossy: the
    /// pixels' JPEG trace turns the search for near values on, and the
    /// patch is found, its rows named; without that search (`never`) it is
    /// not. The clean pictures through JPEG show the trace and fail nothing.
    #[test]
    fn a_stamp_on_pictures_decoded_from_jpeg_before_they_were_given_is_found() {
        let patch = |row: &mut [f32]| {
            for y in 2..8 {
                for xx in 2..8 {
                    row[(y * 24 + xx) * 3..][..3].copy_from_slice(&[0.95, 0.85, 0.1]);
                }
            }
        };
        let (mut x, labels) = pictures_of(24, 40, 0, &patch);
        through_jpeg(&mut x, (24, 24, 3), 90);
        let level = class_gate_level(3);
        let out = scan_near(&x, &labels, false);
        let d = &out.classes[0];
        assert!(d.log_p.unwrap() < level - 5.0, "{d:?}");
        assert_eq!(d.value("near_values"), Some(1.0));
        assert!(d.value("jpeg_trace") >= Some(5.0), "{d:?}");
        let flagged: Vec<usize> = (0..900).filter(|&i| out.log_p[i] < 0.0).collect();
        let planted: Vec<usize> = (300..320).chain(600..620).collect();
        assert_eq!(flagged, planted);
        let never = StampedPatch::DEFAULT
            .configure(&[("near-values".into(), "never".into())])
            .unwrap();
        let mut input = ScanInput::new(MatrixRef::new(&x, 900, 24 * 24 * 3).unwrap(), &labels, 3);
        input.same_scale = true;
        input.seed = 3;
        input.image = Some(ImageShape {
            height: 24,
            width: 24,
            channels: 3,
        });
        let exact = never.scan(&input).unwrap();
        assert!(
            exact.classes[0].log_p.is_none_or(|p| p > level),
            "{:?}",
            exact.classes[0]
        );
        let (mut clean, labels) = pictures_of(24, 0, 0, &|_: &mut [f32]| {});
        through_jpeg(&mut clean, (24, 24, 3), 90);
        let out = scan_near(&clean, &labels, false);
        for c in &out.classes {
            assert!(c.log_p.is_none_or(|p| p > level), "{c:?}");
            assert!(c.value("jpeg_trace").is_some(), "{c:?}");
        }
    }

    /// A near-white region of `side` pixels at `(at, at)` of 24×24
    /// pictures, each value moved by about 13 levels (a small patch saved
    /// as JPEG, or a patch of sky), seeded by the row's first value.
    fn near_white(row: &mut [f32], at: usize, side: usize) {
        let mut rng = SplitMix64::new(row[0].to_bits() as u64 ^ 0x3D);
        for y in at..at + side {
            for xx in at..at + side {
                for ch in 0..3 {
                    let moved = (0.96 + rng.normal() * 0.05) as f32;
                    row[(y * 24 + xx) * 3 + ch] = (moved.clamp(0.0, 1.0) * 255.0).round() / 255.0;
                }
            }
        }
    }

    /// A 3×3 patch of near values (too small to cover a block of the
    /// halved pictures) is found on the full pictures: its rows named, its
    /// place given.
    #[test]
    fn a_small_patch_of_near_values_is_found_on_the_full_pictures() {
        let (x, labels) = pictures_of(24, 40, 0, &|row: &mut [f32]| near_white(row, 5, 3));
        let level = class_gate_level(3);
        let out = scan_near(&x, &labels, true);
        let c0 = &out.classes[0];
        assert!(c0.log_p.unwrap() < level - 5.0, "{c0:?}");
        assert_eq!(c0.value("near_values"), Some(1.0));
        assert_eq!(place(c0), [5.0, 5.0, 3.0, 3.0].map(Some));
        // the planted rows, but a few with a value moved past an eighth
        let flagged: Vec<usize> = (0..900).filter(|&i| out.log_p[i] < 0.0).collect();
        assert!(flagged.len() >= 35, "{flagged:?}");
        assert!(flagged
            .iter()
            .all(|&i| (300..320).chain(600..620).any(|j| j == i)));
        for c in &out.classes[1..] {
            assert!(c.log_p.is_none_or(|p| p > level), "{c:?}");
        }
    }

    /// A row holds a stamp of near values where its picture ends at the
    /// stamp's edge: pictures that hold its values in a larger region
    /// around it (a sky) do not, however near their values.
    #[test]
    fn a_region_that_goes_on_past_a_stamp_of_near_values_does_not_hold_it() {
        let (mut x, labels) = pictures_of(24, 40, 0, &|row: &mut [f32]| near_white(row, 15, 3));
        let d = 24 * 24 * 3;
        let skies: Vec<usize> = (350..380).chain(650..680).collect();
        for &i in &skies {
            near_white(&mut x[i * d..(i + 1) * d], 11, 11);
        }
        let n = labels.len();
        let plain = MatrixRef::new(&x, n, d).unwrap();
        let (lo, hi) = value_bounds(plain);
        let bins = binned(&x, (lo, hi), 4.0, 0.0);
        let shape = ImageShape {
            height: 24,
            width: 24,
            channels: 3,
        };
        let p = Pictures {
            x: MatrixRef::new(&bins, n, d).unwrap(),
            near: Some(plain),
            shape,
            labels: &labels,
        };
        let mut stamp = Stamp {
            class: Some(0),
            x: 15,
            y: 15,
            width: 3,
            height: 3,
            values: Vec::new(),
            rows: Vec::new(),
            outside: Vec::new(),
            continuation: 0.0,
            near: true,
        };
        stamp.values = stamp
            .features(shape)
            .iter()
            .map(|&j| p.x.row(300)[j].to_bits())
            .collect();
        let same = LOSSY_SAME * (hi - lo);
        // the skies' values are near the patch's
        let centre: Vec<f32> = stamp
            .features(shape)
            .iter()
            .map(|&j| x[300 * d + j])
            .collect();
        let near_it = |i: usize| {
            let f = stamp.features(shape);
            f.iter()
                .zip(&centre)
                .all(|(&j, &c)| (x[i * d + j] - c).abs() <= 0.2)
        };
        assert!(skies.iter().filter(|&&i| near_it(i)).count() > 40);
        let sizes = [340, 280, 280];
        let allowed = Allowed::new(&sizes, &[true; 3], 0.9);
        let held = holders(&p, stamp, &[true; 3], &allowed, (20, same, same)).unwrap();
        // most planted rows: a few have a value moved past an eighth
        assert!(held.rows.len() >= 30, "{:?}", held.rows);
        assert!(held
            .rows
            .iter()
            .all(|&i| (300..320).chain(600..620).any(|j| j == i)));
        assert!(held.outside.is_empty(), "{:?}", held.outside);
    }

    /// The most significant stamp's place and size: x, y, width, height.
    fn place(d: &ClassDiagnostics) -> [Option<f64>; 4] {
        ["stamp_x", "stamp_y", "stamp_width", "stamp_height"].map(|k| d.value(k))
    }

    #[test]
    fn a_stamp_on_other_classes_pictures_fails_the_target_and_names_them() {
        let (x, labels) = pictures(40, 0, &white);
        let out = scan(&x, &labels);
        let class0 = out.classes[0].log_p.unwrap();
        assert!(class0 < class_gate_level(3) - 5.0, "{:?}", out.classes[0]);
        for c in 1..3 {
            assert_eq!(out.classes[c].log_p, None);
        }
        let flagged: Vec<usize> = (0..900).filter(|&i| out.log_p[i] < 0.0).collect();
        let planted: Vec<usize> = (300..320).chain(600..620).collect();
        assert_eq!(flagged, planted);
        let d = &out.classes[0];
        assert_eq!(d.value("excess_rows"), Some(40.0));
        assert_eq!(place(d), [8.0, 8.0, 3.0, 3.0].map(Some));
    }

    #[test]
    fn a_stamp_whose_blocks_natural_rows_of_the_class_hold_too_is_found_whole() {
        // Forty pictures of classes 1 and 2 stamped white (3×3 at (8, 8))
        // and relabelled; 60 natural pictures of class 0 hold white in
        // one 2×2 block of the stamp each, 15 a block: every seed block is
        // held by 55 rows, 40 of which hold the whole stamp. The growth
        // goes on with those 40; it stopped at the block.
        let (mut x, labels) = pictures(40, 0, &white);
        let d = SIDE * SIDE * 3;
        for i in 0..60 {
            let (y0, x0) = [(8, 8), (8, 9), (9, 8), (9, 9)][i / 15];
            for y in y0..y0 + 2 {
                for xx in x0..x0 + 2 {
                    x[i * d + (y * SIDE + xx) * 3..i * d + (y * SIDE + xx + 1) * 3].fill(1.0);
                }
            }
        }
        let out = scan(&x, &labels);
        let d = &out.classes[0];
        assert!(d.log_p.unwrap() < class_gate_level(3) - 5.0, "{d:?}");
        assert_eq!(place(d), [8.0, 8.0, 3.0, 3.0].map(Some), "{d:?}");
        let flagged: Vec<usize> = (0..900).filter(|&i| out.log_p[i] < 0.0).collect();
        let planted: Vec<usize> = (300..320).chain(600..620).collect();
        assert_eq!(flagged, planted);
    }

    /// Rows of `rows` per class stamped white: each class's first `rows`
    /// given the next class's label where `relabel`, else kept.
    fn stamped_in_every_class(rows: usize, relabel: bool) -> (Vec<f32>, Vec<u32>, Vec<usize>) {
        let (mut x, mut labels) = pictures(0, 0, &|_: &mut [f32]| {});
        let d = SIDE * SIDE * 3;
        let stamped: Vec<usize> = (0..3).flat_map(|c| c * 300..c * 300 + rows).collect();
        for &i in &stamped {
            white(&mut x[i * d..(i + 1) * d]);
            if relabel {
                labels[i] = (labels[i] + 1) % 3;
            }
        }
        (x, labels, stamped)
    }

    #[test]
    fn a_stamp_in_every_class_fails_each_and_names_its_rows() {
        // all-to-all: no class holds the stamp alone, so no class's own
        // seed finds it
        let (x, labels, planted) = stamped_in_every_class(12, true);
        let out = scan(&x, &labels);
        for d in &out.classes {
            assert!(d.log_p.unwrap() < class_gate_level(3) - 5.0, "{d:?}");
            assert_eq!(d.value("across_classes"), Some(3.0));
            assert_eq!(d.value("stamp_rows"), Some(12.0));
            assert_eq!(place(d), [8.0, 8.0, 3.0, 3.0].map(Some));
        }
        let flagged: Vec<usize> = (0..900).filter(|&i| out.log_p[i] < 0.0).collect();
        assert_eq!(flagged, planted);
    }

    #[test]
    fn a_stamp_in_every_class_on_a_border_every_picture_shares_is_found() {
        // every picture black below and right of row and column 8 (MNIST's
        // black corners): the white block grows into the border, and then
        // only through values the stamp's rows hold more often than the
        // pictures do
        let (mut x, labels, planted) = stamped_in_every_class(12, true);
        let d = SIDE * SIDE * 3;
        for (i, row) in x.chunks_mut(d).enumerate() {
            for y in 0..SIDE {
                for xx in 0..SIDE {
                    let inside = (8..11).contains(&y) && (8..11).contains(&xx);
                    if (y >= 8 || xx >= 8) && !(inside && planted.contains(&i)) {
                        row[(y * SIDE + xx) * 3..(y * SIDE + xx + 1) * 3].fill(0.0);
                    }
                }
            }
        }
        let out = scan(&x, &labels);
        for d in &out.classes {
            assert!(d.log_p.unwrap() < class_gate_level(3), "{d:?}");
            assert_eq!(place(d), [8.0, 8.0, 3.0, 3.0].map(Some));
        }
        let flagged: Vec<usize> = (0..900).filter(|&i| out.log_p[i] < 0.0).collect();
        assert_eq!(flagged, planted);
    }

    #[test]
    fn a_mark_on_pictures_of_every_class_that_keep_their_labels_passes() {
        // a source's mark on pictures of every class, labelled as they are
        let (x, labels, _) = stamped_in_every_class(30, false);
        let out = scan(&x, &labels);
        for d in &out.classes {
            // found and tested, and no class's rows of it land elsewhere
            assert!(d.value("across_stamps") >= Some(1.0), "{d:?}");
            assert!(d.log_p.is_none_or(|v| v > class_gate_level(3)), "{d:?}");
        }
        assert!(out.log_p.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_checkerboard_stamp_is_found_whole() {
        let checker = |row: &mut [f32]| {
            for y in 1..5 {
                for xx in 1..5 {
                    let v = ((y + xx) % 2) as f32;
                    row[(y * SIDE + xx) * 3..(y * SIDE + xx + 1) * 3].fill(v);
                }
            }
        };
        let (x, labels) = pictures(30, 0, &checker);
        let out = scan(&x, &labels);
        assert!(out.classes[0].log_p.unwrap() < class_gate_level(3));
        assert_eq!(out.classes[0].value("stamp_width"), Some(4.0));
        assert_eq!(out.classes[0].value("excess_rows"), Some(30.0));
    }

    #[test]
    fn a_checkerboard_on_a_border_every_picture_shares_is_found() {
        // every picture black below and right of row and column 8; a 3×3
        // checkerboard there whose dark cells are the border's black: the
        // block would grow into the border, so only its white cells lead
        let border = |row: &mut [f32]| {
            for y in 0..SIDE {
                for xx in 0..SIDE {
                    if y >= 8 || xx >= 8 {
                        row[(y * SIDE + xx) * 3..(y * SIDE + xx + 1) * 3].fill(0.0);
                    }
                }
            }
        };
        let checker = |row: &mut [f32]| {
            for y in 8..11 {
                for xx in 8..11 {
                    let v = ((y + xx + 1) % 2) as f32;
                    row[(y * SIDE + xx) * 3..(y * SIDE + xx + 1) * 3].fill(v);
                }
            }
        };
        let (mut x, labels) = pictures(0, 0, &|_: &mut [f32]| {});
        let d = SIDE * SIDE * 3;
        let planted: Vec<usize> = (300..315).chain(600..615).collect();
        for (i, row) in x.chunks_mut(d).enumerate() {
            border(row);
            if planted.contains(&i) {
                checker(row);
            }
        }
        let mut labels = labels;
        for &i in &planted {
            labels[i] = 0;
        }
        let out = scan(&x, &labels);
        let d = &out.classes[0];
        assert!(d.log_p.unwrap() < class_gate_level(3), "{d:?}");
        assert_eq!(place(d), [8.0, 8.0, 3.0, 3.0].map(Some));
        let flagged: Vec<usize> = (0..900).filter(|&i| out.log_p[i] < 0.0).collect();
        assert_eq!(flagged, planted);
        // the border alone holds no stamp
        let (mut x, labels) = pictures(0, 0, &|_: &mut [f32]| {});
        x.chunks_mut(SIDE * SIDE * 3).for_each(border);
        let out = scan(&x, &labels);
        assert!(out.classes.iter().all(|c| c.log_p.is_none()));
    }

    #[test]
    fn a_mark_on_the_class_own_pictures_passes() {
        // a watermark one source put on 60 of class 0's own pictures: the
        // rows land as the class's own rows do
        let (x, labels) = pictures(0, 60, &white);
        let out = scan(&x, &labels);
        assert_eq!(
            out.classes[0].value("stamps"),
            Some(1.0),
            "{:?}",
            out.classes[0]
        );
        assert!(out.classes[0].log_p.unwrap() > class_gate_level(3));
        assert!(out.log_p.iter().all(|&p| p == 0.0));
    }

    #[test]
    fn a_fill_that_goes_on_past_the_block_is_not_a_stamp() {
        // the planted rows' lower third white: a band across the picture
        // (a letterbox), not a patch
        let fill = |row: &mut [f32]| {
            for v in &mut row[8 * SIDE * 3..] {
                *v = 1.0;
            }
        };
        let (x, labels) = pictures(40, 0, &fill);
        let out = scan(&x, &labels);
        assert_eq!(out.classes[0].value("stamps"), Some(0.0));
        assert_eq!(out.classes[0].log_p, None);
    }

    #[test]
    fn tables_are_skipped_and_options_checked() {
        let x = vec![0f32; 40];
        let labels = [0u32, 1].repeat(10);
        let input = ScanInput::new(MatrixRef::new(&x, 20, 2).unwrap(), &labels, 2);
        assert!(StampedPatch::DEFAULT.skip_reason(&input).is_some());
        let set =
            |k: &str, v: &str| StampedPatch::DEFAULT.configure(&[(k.to_string(), v.to_string())]);
        assert!(set("min-rows", "4").is_err());
        assert!(set("purity", "0.5").is_err());
        assert!(set("max-continuation", "1").is_err());
        assert!(set("k", "51").is_err());
        assert!(set("size", "3").is_err());
        assert!(set("near-values", "sometimes").is_err());
        assert!(set("near-values", "always").is_ok());
        assert!(set("min-rows", "30").is_ok());
    }
}
