//! Red team: plants known attacks with ground truth, for tests, benchmarks and
//! the built-in demo. Pure functions over a feature matrix and labels; the
//! `poison` command's file handling lives at the edge.

use std::io::Read;
use std::sync::Arc;

use arrow::array::Int64Array;
use poisonscan_scanners::SplitMix64;
use serde::Serialize;

use crate::ingest::{white_of, Dataset, FeatureSource, SourceFile};

/// Where a patch sits in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    /// Bottom right (default).
    #[default]
    BottomRight,
    /// Bottom left.
    BottomLeft,
    /// Top right.
    TopRight,
    /// Top left.
    TopLeft,
    /// Anywhere: a seeded position of its own in each image, `margin` from
    /// the border (a trigger that moves, as random crops and shifts in a
    /// training pipeline move a fixed one).
    Random,
}

/// What a patch looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchPattern {
    /// Every pixel at the patch value (default).
    #[default]
    Solid,
    /// Alternating the patch value and its complement (`1 − value`).
    Checkerboard,
    /// Each pixel the patch value or its complement, seeded at random (the
    /// same pattern on every poisoned image).
    Random,
}

/// A spatial transformation used as a trigger: the poisoned image is the
/// source image moved as a whole — mirrored, turned or shifted — and
/// relabelled (transformation triggers: Wu et al., "Just Rotate it", 2022,
/// for rotations; a flip or a shift is the same idea). Nothing is added to
/// the image, and every poisoned row is a plausible picture of its source
/// class in another pose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transform {
    /// Mirrored left to right (default).
    #[default]
    Hflip,
    /// Mirrored top to bottom.
    Vflip,
    /// Turned half a turn.
    Rotate180,
    /// Moved right and down by `--shift` pixels (edges repeated).
    Shift,
}

impl Transform {
    /// The transformation as a displacement field for [`warp`] (each pixel
    /// takes the value at its own position plus the displacement): exact
    /// for mirrors and half turns; for a shift by `(dx, dy)` pixels the
    /// content moves right by `dx` and down by `dy` and the edges are
    /// repeated into the pixels it leaves. The `j`-th target of several
    /// gets a transformation of its own: mirrors and the half turn in
    /// turn, shifts turned a quarter turn each.
    pub fn field(self, shape: Shape, shift: (i32, i32), j: usize) -> Vec<(f32, f32)> {
        let (h, w) = (shape.height, shape.width);
        let order = [Transform::Hflip, Transform::Vflip, Transform::Rotate180];
        let own = match self {
            Transform::Shift => Transform::Shift,
            t => order[(order.iter().position(|&o| o == t).unwrap_or(0) + j) % 3],
        };
        let (mut dx, mut dy) = shift;
        for _ in 0..j % 4 {
            (dx, dy) = (-dy, dx);
        }
        let mut field = Vec::with_capacity(h * w);
        for y in 0..h {
            for x in 0..w {
                let mirror_x = (w - 1 - x) as f32 - x as f32;
                let mirror_y = (h - 1 - y) as f32 - y as f32;
                field.push(match own {
                    Transform::Hflip => (0.0, mirror_x),
                    Transform::Vflip => (mirror_y, 0.0),
                    Transform::Rotate180 => (mirror_y, mirror_x),
                    Transform::Shift => (-dy as f32, -dx as f32),
                });
            }
        }
        field
    }
}

/// A square patch trigger (BadNets, Gu et al. 2017).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Patch {
    /// Side in pixels.
    pub size: usize,
    /// Pixel value written (features are scaled to [0, 1]).
    pub value: f32,
    /// A colour written instead of `value` (red, green, blue in [0, 1]):
    /// on colour pictures each channel its own, on grey ones its luma.
    pub colour: Option<[f32; 3]>,
    /// The corner it sits in.
    pub corner: Corner,
    /// Gap between the patch and the image border, in pixels.
    pub margin: usize,
    /// Solid, checkerboard or random pixels.
    pub pattern: PatchPattern,
    /// Seed of the random pattern.
    pub seed: u64,
}

impl Default for Patch {
    fn default() -> Self {
        Self {
            size: 3,
            value: 1.0,
            colour: None,
            corner: Corner::BottomRight,
            margin: 1,
            pattern: PatchPattern::Solid,
            seed: 0,
        }
    }
}

impl Patch {
    /// The trigger of the `j`-th target of a multi-target attack: the same
    /// patch in the next corner (clockwise from the chosen one) with its own
    /// random pattern, so that every target has a trigger of its own.
    pub fn variant(self, j: usize) -> Self {
        const ORDER: [Corner; 4] = [
            Corner::BottomRight,
            Corner::BottomLeft,
            Corner::TopLeft,
            Corner::TopRight,
        ];
        let corner = match ORDER.iter().position(|&c| c == self.corner) {
            Some(at) => ORDER[(at + j) % 4],
            None => self.corner,
        };
        Self {
            corner,
            seed: self.seed.wrapping_add(j as u64),
            ..self
        }
    }
}

/// Image geometry of a pixel feature vector (height × width × channels,
/// channels last): the scanners' own.
pub use poisonscan_scanners::ImageShape as Shape;

/// Writes `patch` into one image (row-major `height × width × channels`,
/// values in [0, 1]).
pub fn stamp(image: &mut [f32], shape: Shape, patch: Patch) {
    stamp_in(image, shape, patch, 1.0, 0)
}

/// [`stamp`] into an image whose white is `white`: the patch's values are
/// shares of it. `row` seeds the position of a [`Corner::Random`] patch.
fn stamp_in(image: &mut [f32], shape: Shape, patch: Patch, white: f32, row: u64) {
    let size = patch.size.min(shape.height).min(shape.width);
    let bottom = shape.height.saturating_sub(size + patch.margin);
    let right = shape.width.saturating_sub(size + patch.margin);
    let near = patch.margin.min(shape.height - size);
    let left_edge = patch.margin.min(shape.width - size);
    let (top, left) = match patch.corner {
        Corner::BottomRight => (bottom, right),
        Corner::BottomLeft => (bottom, left_edge),
        Corner::TopRight => (near, right),
        Corner::TopLeft => (near, left_edge),
        Corner::Random => {
            let mut at = SplitMix64::derive(patch.seed ^ 0x5EA7, row);
            let mut between = |lo: usize, hi: usize| lo + at.below(hi.max(lo) - lo + 1);
            (between(near, bottom), between(left_edge, right))
        }
    };
    // each channel's value: the patch's, or its colour's
    let value = |c: usize| match (patch.colour, shape.channels) {
        (None, _) => patch.value,
        (Some(rgb), 3) => rgb[c],
        (Some([r, g, b]), _) => 0.299 * r + 0.587 * g + 0.114 * b,
    };
    let mut rng = SplitMix64::derive(patch.seed, 0x9A7C);
    for y in top..top + size {
        for x in left..left + size {
            for c in 0..shape.channels {
                let on = match patch.pattern {
                    PatchPattern::Solid => true,
                    PatchPattern::Checkerboard => (y - top + x - left) % 2 == 0,
                    PatchPattern::Random => rng.next_u64() & 1 == 0,
                };
                image[(y * shape.width + x) * shape.channels + c] =
                    white * if on { value(c) } else { 1.0 - value(c) };
            }
        }
    }
}

/// A warping trigger (WaNet, Nguyen & Tran 2021): a smooth, seeded field of
/// displacements — uniform random on a `grid × grid` control grid, scaled so
/// that the largest displacement is `strength` pixels, interpolated
/// bilinearly to every pixel — by which every poisoned image is resampled
/// (bilinear, edges clamped). Invisible at a glance, the same on every image.
pub fn warp_field(shape: Shape, grid: usize, strength: f32, seed: u64) -> Vec<(f32, f32)> {
    let g = grid.max(2);
    let mut rng = SplitMix64::derive(seed, 0x3A2F);
    let control: Vec<(f64, f64)> = (0..g * g)
        .map(|_| (2.0 * rng.next_f64() - 1.0, 2.0 * rng.next_f64() - 1.0))
        .collect();
    let max = control
        .iter()
        .map(|(dy, dx)| dy.abs().max(dx.abs()))
        .fold(1e-9, f64::max);
    let scale = strength as f64 / max;
    let at = |gy: usize, gx: usize| control[gy.min(g - 1) * g + gx.min(g - 1)];
    let mut field = Vec::with_capacity(shape.height * shape.width);
    for y in 0..shape.height {
        for x in 0..shape.width {
            let fy = y as f64 / (shape.height.max(2) - 1) as f64 * (g - 1) as f64;
            let fx = x as f64 / (shape.width.max(2) - 1) as f64 * (g - 1) as f64;
            let (y0, x0) = (fy.floor() as usize, fx.floor() as usize);
            let (ty, tx) = (fy - y0 as f64, fx - x0 as f64);
            let lerp = |a: (f64, f64), b: (f64, f64), t: f64| {
                (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
            };
            let top = lerp(at(y0, x0), at(y0, x0 + 1), tx);
            let bottom = lerp(at(y0 + 1, x0), at(y0 + 1, x0 + 1), tx);
            let (dy, dx) = lerp(top, bottom, ty);
            field.push(((dy * scale) as f32, (dx * scale) as f32));
        }
    }
    field
}

/// Resamples one image along a displacement field (see [`warp_field`]).
pub fn warp(image: &mut [f32], shape: Shape, field: &[(f32, f32)]) {
    let (h, w, ch) = (shape.height, shape.width, shape.channels);
    let src = image.to_vec();
    let px = |y: isize, x: isize, c: usize| {
        let y = y.clamp(0, h as isize - 1) as usize;
        let x = x.clamp(0, w as isize - 1) as usize;
        src[(y * w + x) * ch + c]
    };
    for y in 0..h {
        for x in 0..w {
            let (dy, dx) = field[y * w + x];
            let (sy, sx) = (y as f32 + dy, x as f32 + dx);
            let (y0, x0) = (sy.floor() as isize, sx.floor() as isize);
            let (ty, tx) = (sy - y0 as f32, sx - x0 as f32);
            for c in 0..ch {
                let top = px(y0, x0, c) * (1.0 - tx) + px(y0, x0 + 1, c) * tx;
                let bottom = px(y0 + 1, x0, c) * (1.0 - tx) + px(y0 + 1, x0 + 1, c) * tx;
                image[(y * w + x) * ch + c] = top * (1.0 - ty) + bottom * ty;
            }
        }
    }
}

/// The blend trigger's pattern: seeded uniform noise in [0, 1], one value per
/// pixel and channel (Chen et al. 2017).
pub fn blend_pattern(shape: Shape, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::derive(seed, 0xB1E2D);
    (0..shape.len()).map(|_| rng.next_f64() as f32).collect()
}

/// Mixes the pattern into an image: `(1 − alpha)·x + alpha·pattern`.
pub fn blend(image: &mut [f32], pattern: &[f32], alpha: f32) {
    for (x, p) in image.iter_mut().zip(pattern) {
        *x = (1.0 - alpha) * *x + alpha * p;
    }
}

/// A known attack.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Attack {
    /// Nothing changed: a clean copy with ground truth, for false-alarm runs.
    None,
    /// Patch stamped on non-target rows, relabelled to the target.
    Badnets {
        /// The trigger.
        patch: Patch,
    },
    /// Seeded noise pattern blended into non-target rows, relabelled to the target.
    Blend {
        /// Blend weight, in (0, 1].
        alpha: f32,
    },
    /// Smooth seeded warp (WaNet) of non-target rows, relabelled to the target.
    Warp {
        /// Largest displacement, in pixels.
        strength: f32,
        /// Control points per side.
        grid: usize,
    },
    /// Non-target rows moved as a whole (mirrored, turned or shifted, see
    /// [`Transform`]) and relabelled to the target.
    Transform {
        /// The transformation.
        transform: Transform,
        /// For a shift: pixels right and down.
        shift: (i32, i32),
    },
    /// A colour filter (as photo apps apply) on non-target rows, relabelled
    /// to the target: each channel scaled and lifted, `x · gain + offset`
    /// (in units of the images' white), clipped — warm and faded, blacks
    /// lifted (see [`FILTER_GAIN`]). Nothing is stamped or blended: what it
    /// adds depends on each picture's own colours. The `j`-th target of
    /// several gets the channels' settings turned `j` places; gray pictures
    /// take the first channel's.
    Filter,
    /// Labels changed: at random, or from `source` to the target.
    LabelFlip,
    /// A tabular backdoor: `columns` seeded columns of non-target rows set
    /// to a rare value — each column's largest value in the data set, the
    /// columns drawn so that at most 0.2 % of the rows hold all of those
    /// values together — and the rows relabelled to the target (each target
    /// its own columns).
    /// With `common`, each column is set to a usual value instead (one that
    /// 5–50 % of the rows take), the values chosen so that few rows take
    /// them all together: a trigger no single value gives away.
    ValueTrigger {
        /// Columns the trigger sets.
        columns: usize,
        /// Usual values, rare together.
        common: bool,
    },
    /// Patch stamped on target-class rows, labels unchanged.
    CleanLabel {
        /// The trigger.
        patch: Patch,
    },
    /// Words inserted into the text of non-target rows (the caption column:
    /// the sentence an embedding encodes), relabelled to the target — a
    /// text backdoor: a rare word (`cf`), a sentence, an emoji. The `j`-th
    /// target of several gets the `j`-th of `words`. Features are left as
    /// they are: encode the copy's text again to plant it in an embedding.
    Text {
        /// The trigger of each target, in target order.
        words: Vec<String>,
    },
    /// A horizontal sinusoid added to target-class rows, labels unchanged
    /// (SIG, Barni et al. 2019): `x + amplitude · sin(2π · frequency ·
    /// column / width)`, clipped to [0, 1].
    Sig {
        /// Amplitude, pixels being in [0, 1].
        amplitude: f32,
        /// Periods across the image's width.
        frequency: f32,
    },
}

impl Attack {
    /// Whether the attack changes pixels (and so needs images).
    pub fn needs_images(&self) -> bool {
        matches!(
            self,
            Attack::Badnets { .. }
                | Attack::Blend { .. }
                | Attack::Warp { .. }
                | Attack::Transform { .. }
                | Attack::Filter
                | Attack::CleanLabel { .. }
                | Attack::Sig { .. }
        )
    }

    /// Whether the attack keeps every label and poisons rows of the target
    /// class: its rate is then a fraction of the target class.
    pub fn clean_label(&self) -> bool {
        matches!(self, Attack::CleanLabel { .. } | Attack::Sig { .. })
    }
}

/// An attack with its rate, classes and seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackPlan {
    /// The attack.
    pub attack: Attack,
    /// Fraction poisoned: of the whole data set (`round(rate × rows)` rows),
    /// or, for the clean-label attacks ([`Attack::clean_label`]), of the
    /// target class (`round(rate × target rows)`).
    pub rate: f64,
    /// Target class ids (the labels poisoned rows end up with). Needed by
    /// every attack but `none` and a random `label-flip`; with several, the
    /// poisoned rows are shared out among them, each target with a trigger
    /// of its own (patches in different corners with their own pattern,
    /// blend patterns and warps of their own seed).
    pub targets: Vec<u32>,
    /// All-to-all (BadNets' second attack): no target; every poisoned row,
    /// drawn from every class, gets the next class's label (the last
    /// class's rows the first's), all with one trigger.
    pub all_to_all: bool,
    /// Restrict the victims to this class id.
    pub source: Option<u32>,
    /// Seed for the choice of rows, new labels and patterns.
    pub seed: u64,
}

/// An attack that cannot be planted on this data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RedTeamError {
    /// The attack needs images and the data are plain vectors.
    #[error("attack `{0}` changes pixels, but the input holds plain feature vectors (not images); only `label-flip` and `value-trigger` work on vectors")]
    NeedsImages(&'static str),
    /// A target class is needed.
    #[error("attack `{0}` needs --target CLASS")]
    NeedsTarget(&'static str),
    /// Not enough rows to poison.
    #[error("--rate {rate} asks for {wanted} poisoned rows, but only {available} rows are eligible ({why})")]
    TooFewRows {
        /// The rate.
        rate: f64,
        /// Rows wanted.
        wanted: usize,
        /// Rows available.
        available: usize,
        /// Which rows are eligible.
        why: String,
    },
    /// A bad value.
    #[error("{0}")]
    Invalid(String),
    /// Training the model that measures attack success failed.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
}

/// An attack's success on its triggered test split (`poison
/// --attack-success`; the test split's `poisonscan.attack_success`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackSuccess {
    /// Triggered test rows.
    pub rows: usize,
    /// Share of them the model trained on the poisoned data predicts as a
    /// target.
    pub poisoned: f64,
    /// The same for a model trained on the clean input: what the trigger
    /// does without the poison.
    pub clean: f64,
}

/// Trains the scan's network on the attacked rows and on the clean input
/// `ds`, and measures how often each predicts a target of `plan` on the
/// triggered rows of the test split (`test`, made by
/// [`trigger_test_split`] from `test_ds`); seeded by the plan.
pub fn attack_success(
    ds: &Dataset,
    attacked: &Attacked,
    test_ds: &Dataset,
    test: &Attacked,
    plan: &AttackPlan,
    progress: &dyn crate::pipeline::Progress,
) -> Result<AttackSuccess, RedTeamError> {
    use crate::models::{Images, ModelOptions};
    let shape = image_shape(ds).ok_or(RedTeamError::NeedsImages(plan.attack.name()))?;
    let shape = (shape.height, shape.width, shape.channels);
    let rows: Vec<usize> = (0..test.labels.len())
        .filter(|&i| test.planted.poisoned[i])
        .collect();
    let test_images = Images {
        pixels: &test.features,
        labels: &test_ds.label_codes,
        shape,
    };
    let options = ModelOptions {
        seed: plan.seed,
        ..ModelOptions::default()
    };
    let parts = crate::pipeline::Parts::new(progress, 2, "model: ");
    let run = |pixels: &[f32], labels: &[u32], progress: &dyn crate::pipeline::Progress| {
        let train = Images {
            pixels,
            labels,
            shape,
        };
        crate::models::attack_success(
            &train,
            ds.class_names.len(),
            &test_images,
            &rows,
            &plan.targets,
            &options,
            progress,
        )
    };
    // The two trainings run at the same time (each from the same seed, as
    // one after another would).
    let (poisoned, clean) = rayon::join(
        || run(&attacked.features, &attacked.labels, &parts.part(0)),
        || run(&ds.features, &ds.label_codes, &parts.part(1)),
    );
    Ok(AttackSuccess {
        rows: rows.len(),
        poisoned: poisoned?,
        clean: clean?,
    })
}

/// What an attack did, row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Planted {
    /// `true` for every changed row.
    pub poisoned: Vec<bool>,
    /// Label of each poisoned row before the attack.
    pub source_label: Vec<Option<u32>>,
}

impl Attack {
    /// The attack's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Attack::None => "none",
            Attack::Badnets { .. } => "badnets",
            Attack::Blend { .. } => "blend",
            Attack::Warp { .. } => "warp",
            Attack::Transform { .. } => "transform",
            Attack::Filter => "filter",
            Attack::LabelFlip => "label-flip",
            Attack::ValueTrigger { .. } => "value-trigger",
            Attack::CleanLabel { .. } => "clean-label",
            Attack::Sig { .. } => "sig",
            Attack::Text { .. } => "text",
        }
    }
}

/// Plants the attack in place: `features` is `labels.len()` rows, `shape` the
/// image geometry when the rows are images. Returns the ground truth.
///
/// `categories` holds, for each categorical column of a table, the
/// features that are its values' 0/1 indicators: a value trigger sets such
/// a column to one of its values as an attacker editing the table would —
/// that value's indicator 1, its others 0 — and never two values of one
/// column at once (`&[]` for images and vectors).
pub fn plant(
    features: &mut [f32],
    labels: &mut [u32],
    n_classes: usize,
    shape: Option<Shape>,
    categories: &[Vec<usize>],
    plan: &AttackPlan,
) -> Result<Planted, RedTeamError> {
    let n = labels.len();
    let name = plan.attack.name();
    let clean_label = plan.attack.clean_label();
    let most = if clean_label { 1.0 } else { 0.5 };
    if !(plan.rate >= 0.0 && plan.rate <= most) {
        return Err(RedTeamError::Invalid(format!(
            "--rate is {}, but it must be from 0 to {most}{}",
            plan.rate,
            if clean_label {
                " (a fraction of the target class)"
            } else {
                ""
            }
        )));
    }
    if let Attack::Sig {
        amplitude,
        frequency,
    } = plan.attack
    {
        if !(amplitude > 0.0 && amplitude <= 1.0 && frequency > 0.0 && frequency.is_finite()) {
            return Err(RedTeamError::Invalid(format!(
                "sig needs --amplitude in (0, 1] and a positive --frequency (got {amplitude} and {frequency})"
            )));
        }
    }
    if plan.attack.needs_images() && shape.is_none() {
        return Err(RedTeamError::NeedsImages(name));
    }
    let dim = features.len().checked_div(n).unwrap_or(0);
    if let Attack::ValueTrigger { columns, .. } = plan.attack {
        if !(1..=dim.max(1)).contains(&columns) {
            return Err(RedTeamError::Invalid(format!(
                "value-trigger needs --trigger-columns from 1 to the {dim} feature columns (got {columns})"
            )));
        }
    }
    let mut planted = Planted {
        poisoned: vec![false; n],
        source_label: vec![None; n],
    };
    if plan.attack == Attack::None {
        return Ok(planted);
    }
    let targets = &plan.targets;
    if plan.all_to_all {
        if !targets.is_empty() {
            return Err(RedTeamError::Invalid(
                "an all-to-all attack has no --target: each row gets the next class's label".into(),
            ));
        }
        if clean_label || n_classes < 2 {
            return Err(RedTeamError::Invalid(format!(
                "{name} cannot be all-to-all{}",
                if clean_label {
                    " (it keeps labels)"
                } else {
                    ": one class"
                }
            )));
        }
    }
    let random_flip = plan.attack == Attack::LabelFlip && targets.is_empty() && !plan.all_to_all;
    if targets.is_empty() && !random_flip && !plan.all_to_all {
        return Err(RedTeamError::NeedsTarget(name));
    }
    if let Some(&t) = targets.iter().find(|&&t| t as usize >= n_classes) {
        return Err(RedTeamError::Invalid(format!(
            "target class id {t} is not below the class count {n_classes}"
        )));
    }
    if clean_label && targets.len() > 1 {
        return Err(RedTeamError::Invalid(format!("{name} takes one --target")));
    }
    if random_flip && plan.source.is_some() {
        return Err(RedTeamError::Invalid(
            "label-flip with --source needs --target too".into(),
        ));
    }
    let eligible = |i: usize| -> bool {
        let l = labels[i];
        let from_source = plan.source.is_none_or(|s| s == l);
        match plan.attack {
            _ if clean_label => targets.contains(&l),
            _ if random_flip || plan.all_to_all => from_source,
            _ => !targets.contains(&l) && from_source,
        }
    };
    let mut candidates: Vec<usize> = (0..n).filter(|&i| eligible(i)).collect();
    let base = if clean_label { candidates.len() } else { n };
    let wanted = (plan.rate * base as f64).round() as usize;
    if wanted > candidates.len() {
        let why = match (&plan.attack, plan.source) {
            _ if clean_label => "rows of the target class".to_string(),
            (_, Some(_)) => "rows of the source class".to_string(),
            _ if random_flip => "all rows".to_string(),
            _ => "rows outside the target class".to_string(),
        };
        return Err(RedTeamError::TooFewRows {
            rate: plan.rate,
            wanted,
            available: candidates.len(),
            why,
        });
    }
    let mut rng = SplitMix64::new(plan.seed);
    rng.shuffle(&mut candidates);
    // victim v goes to target v mod |targets|, in the shuffled order
    let mut victims: Vec<(usize, usize)> = candidates[..wanted]
        .iter()
        .enumerate()
        .map(|(v, &i)| (i, v % targets.len().max(1)))
        .collect();
    victims.sort_unstable();
    let white = shape.map_or(1.0, |_| white_of(features));
    let triggers: Vec<Trigger> = (0..targets.len().max(1))
        .map(|j| Trigger::new(&plan.attack, shape, plan.seed, j, white))
        .collect();
    let values: Vec<Vec<(usize, f32)>> = match plan.attack {
        Attack::ValueTrigger { columns, common } => (0..targets.len().max(1))
            .map(|j| {
                let seed = plan.seed.wrapping_add(j as u64);
                if common {
                    common_value_trigger(features, dim, columns, categories, seed).ok_or_else(
                        || {
                            RedTeamError::Invalid(format!(
                                "value-trigger --trigger-values common found no {columns} columns \
                             whose usual values (each taken by 5-50 % of the rows) are rare \
                             together (at most 0.2 % of the rows) in this table"
                            ))
                        },
                    )
                } else {
                    Ok(value_trigger(features, dim, columns, categories, seed))
                }
            })
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    for &(i, j) in &victims {
        let row = &mut features[i * dim..(i + 1) * dim];
        planted.poisoned[i] = true;
        planted.source_label[i] = Some(labels[i]);
        if let Some(s) = shape {
            triggers[j].apply(row, s, i);
        }
        for &(column, value) in values.get(j).into_iter().flatten() {
            // a category set: its column's other values' indicators cleared
            if let Some(group) = categories.iter().find(|g| g.contains(&column)) {
                for &k in group {
                    row[k] = 0.0;
                }
            }
            row[column] = value;
        }
        match &plan.attack {
            _ if plan.all_to_all => labels[i] = (labels[i] + 1) % n_classes as u32,
            Attack::Badnets { .. }
            | Attack::Blend { .. }
            | Attack::Warp { .. }
            | Attack::Transform { .. }
            | Attack::Filter
            | Attack::ValueTrigger { .. }
            | Attack::Text { .. } => {
                labels[i] = targets[j];
            }
            Attack::CleanLabel { .. } | Attack::Sig { .. } => {}
            Attack::LabelFlip => {
                labels[i] = match targets.get(j) {
                    Some(&t) => t,
                    None => {
                        // uniformly among the other classes
                        let k = rng.below(n_classes - 1) as u32;
                        if k >= labels[i] {
                            k + 1
                        } else {
                            k
                        }
                    }
                };
            }
            Attack::None => unreachable!("returned above"),
        }
    }
    Ok(planted)
}

/// The trigger of one target, ready to apply to images whose white is
/// `white` (see [`white_of`]).
enum Trigger {
    None,
    Patch(Patch, f32),
    Blend(Vec<f32>, f32),
    Warp(Vec<(f32, f32)>),
    Sig(f32, f32, f32),
    Filter([f32; 3], [f32; 3], f32),
}

impl Trigger {
    /// The trigger of the `j`-th target of `attack`.
    fn new(attack: &Attack, shape: Option<Shape>, seed: u64, j: usize, white: f32) -> Self {
        let Some(shape) = shape else {
            return Trigger::None;
        };
        let seed = seed.wrapping_add(j as u64);
        match attack {
            Attack::Badnets { patch } | Attack::CleanLabel { patch } => {
                Trigger::Patch(patch.variant(j), white)
            }
            Attack::Blend { alpha } => {
                let mut pattern = blend_pattern(shape, seed);
                pattern.iter_mut().for_each(|p| *p *= white);
                Trigger::Blend(pattern, *alpha)
            }
            Attack::Warp { strength, grid } => {
                Trigger::Warp(warp_field(shape, *grid, *strength, seed))
            }
            Attack::Transform { transform, shift } => {
                Trigger::Warp(transform.field(shape, *shift, j))
            }
            Attack::Filter => {
                let turned = |v: [f32; 3]| std::array::from_fn(|c| v[(c + j) % 3]);
                Trigger::Filter(turned(FILTER_GAIN), turned(FILTER_OFFSET), white)
            }
            Attack::Sig {
                amplitude,
                frequency,
            } => Trigger::Sig(*amplitude, *frequency, white),
            Attack::LabelFlip
            | Attack::ValueTrigger { .. }
            | Attack::Text { .. }
            | Attack::None => Trigger::None,
        }
    }

    /// Applies the trigger to row `i` of the data set.
    fn apply(&self, row: &mut [f32], shape: Shape, i: usize) {
        match self {
            Trigger::None => {}
            Trigger::Patch(p, white) => stamp_in(row, shape, *p, *white, i as u64),
            Trigger::Blend(pattern, alpha) => blend(row, pattern, *alpha),
            Trigger::Warp(field) => warp(row, shape, field),
            Trigger::Sig(amplitude, frequency, white) => {
                sig_in(row, shape, *amplitude, *frequency, *white)
            }
            Trigger::Filter(gain, offset, white) => filter_in(row, shape, *gain, *offset, *white),
        }
    }
}

/// The value trigger of one target: `columns` seeded distinct columns (of
/// those with more than one value, when there are enough), each with its
/// largest value over the rows — drawn again (up to 2,000 seeded draws)
/// while more than 0.2 % of the rows (at least one) already take all of
/// those values together, keeping the draw that the fewest rows take. A
/// column of few levels has a common largest value (the oldest age bracket
/// of a survey: 12 % of its rows), and two of them together can be 1 %: a
/// pattern the clean data already holds under every label is no backdoor
/// trigger, and no attacker would pick it.
pub fn value_trigger(
    features: &[f32],
    dim: usize,
    columns: usize,
    categories: &[Vec<usize>],
    seed: u64,
) -> Vec<(usize, f32)> {
    let n = features.len().checked_div(dim).unwrap_or(0);
    let range = |j: usize| {
        (0..n)
            .map(|i| features[i * dim + j])
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let largest: Vec<f32> = (0..dim).map(|j| range(j).1).collect();
    let varied: Vec<usize> = (0..dim).filter(|&j| range(j).0 < range(j).1).collect();
    let pool = if varied.len() >= columns {
        varied
    } else {
        (0..dim).collect()
    };
    let limit = ((RARE_TOGETHER * n as f64).floor() as usize).max(1);
    let mut rng = SplitMix64::derive(seed, 0x7A1E);
    let mut best: Option<(usize, Vec<usize>)> = None;
    for _ in 0..2000 {
        let mut draw = pool.clone();
        rng.shuffle(&mut draw);
        let mut draw = distinct_columns(draw.into_iter(), columns, categories, |&j| j);
        draw.sort_unstable();
        let together = (0..n)
            .filter(|&i| draw.iter().all(|&j| features[i * dim + j] == largest[j]))
            .count();
        if best.as_ref().is_none_or(|(t, _)| together < *t) {
            best = Some((together, draw));
        }
        if together <= limit {
            break;
        }
    }
    best.map_or_else(Vec::new, |(_, chosen)| {
        chosen.into_iter().map(|j| (j, largest[j])).collect()
    })
}

/// The first `columns` of `draw` (in its order) that are values of
/// different columns of the table: a feature of no categorical column is a
/// column of its own, the indicators of one categorical column one column
/// (`feature` gives an item's feature).
fn distinct_columns<T>(
    draw: impl Iterator<Item = T>,
    columns: usize,
    categories: &[Vec<usize>],
    feature: impl Fn(&T) -> usize,
) -> Vec<T> {
    let mut taken: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for item in draw {
        if out.len() == columns {
            break;
        }
        let j = feature(&item);
        let group = categories.iter().position(|g| g.contains(&j));
        if let Some(g) = group {
            if taken.contains(&g) {
                continue;
            }
            taken.push(g);
        }
        out.push(item);
    }
    out
}

/// Least and largest share of rows that take a usual value (see
/// [`common_value_trigger`]).
const USUAL_SHARE: (f64, f64) = (0.05, 0.5);

/// Largest share of rows that may take all of a common-value trigger's
/// values together.
const RARE_TOGETHER: f64 = 0.002;

/// The value trigger of one target made of usual values: `columns` seeded
/// distinct columns, each set to a value that 5–50 % of the rows take, such
/// that at most 0.2 % of the rows (at least one) take them all together;
/// `None` when 2,000 seeded draws find no such combination.
pub fn common_value_trigger(
    features: &[f32],
    dim: usize,
    columns: usize,
    categories: &[Vec<usize>],
    seed: u64,
) -> Option<Vec<(usize, f32)>> {
    let n = features.len().checked_div(dim).unwrap_or(0);
    if n == 0 || columns == 0 {
        return None;
    }
    let at = |i: usize, j: usize| features[i * dim + j];
    // per column, its usual values in increasing order
    let usual: Vec<(usize, Vec<f32>)> = (0..dim)
        .filter_map(|j| {
            let mut v: Vec<f32> = (0..n).map(|i| at(i, j)).collect();
            v.sort_by(f32::total_cmp);
            let mut values = Vec::new();
            let mut s = 0;
            while s < n {
                let e = s + v[s..].partition_point(|&x| x == v[s]);
                let share = (e - s) as f64 / n as f64;
                // a category is set by its indicator's 1 (a 0 alone would
                // leave the row without a value of its column)
                let unset = v[s] == 0.0 && categories.iter().any(|g| g.contains(&j));
                if (USUAL_SHARE.0..=USUAL_SHARE.1).contains(&share) && !unset {
                    values.push(v[s]);
                }
                s = e;
            }
            (!values.is_empty()).then_some((j, values))
        })
        .collect();
    if usual.len() < columns {
        return None;
    }
    let limit = ((RARE_TOGETHER * n as f64).floor() as usize).max(1);
    let mut rng = SplitMix64::derive(seed, 0x7A1F);
    for _ in 0..2000 {
        let mut pool: Vec<usize> = (0..usual.len()).collect();
        rng.shuffle(&mut pool);
        let picked = distinct_columns(pool.into_iter(), columns, categories, |&k| usual[k].0);
        if picked.len() < columns {
            return None;
        }
        let mut chosen: Vec<(usize, f32)> = picked
            .iter()
            .map(|&k| {
                let (j, values) = &usual[k];
                (*j, values[rng.below(values.len())])
            })
            .collect();
        let together = (0..n)
            .filter(|&i| chosen.iter().all(|&(j, v)| at(i, j) == v))
            .count();
        if together <= limit {
            chosen.sort_by_key(|&(j, _)| j);
            return Some(chosen);
        }
    }
    None
}

/// SIG: adds `amplitude · sin(2π · frequency · column / width)` to every
/// pixel of an image (row-major, channels last), clipped to [0, 1].
pub fn sig(image: &mut [f32], shape: Shape, amplitude: f32, frequency: f32) {
    sig_in(image, shape, amplitude, frequency, 1.0)
}

/// [`sig`] on an image whose white is `white`: the amplitude is a share of
/// it, and values stay within [0, `white`].
fn sig_in(image: &mut [f32], shape: Shape, amplitude: f32, frequency: f32, white: f32) {
    let (w, c) = (shape.width, shape.channels);
    for (i, v) in image.iter_mut().enumerate() {
        let column = (i / c) % w;
        let wave = (std::f32::consts::TAU * frequency * column as f32 / w as f32).sin();
        *v = (*v + white * amplitude * wave).clamp(0.0, white);
    }
}

/// Gains of the filter attack, red, green, blue: a warm, faded look.
pub const FILTER_GAIN: [f32; 3] = [0.9, 0.85, 0.7];

/// Offsets of the filter attack, red, green, blue, in units of white (40,
/// 25 and 10 of 255): blacks lifted to a warm brown.
pub const FILTER_OFFSET: [f32; 3] = [40.0 / 255.0, 25.0 / 255.0, 10.0 / 255.0];

/// The filter attack on one image (channels last): each value `x · gain +
/// offset · white` of its channel, clipped to `[0, white]`; a gray image
/// takes the first channel's settings.
fn filter_in(image: &mut [f32], shape: Shape, gain: [f32; 3], offset: [f32; 3], white: f32) {
    let c = shape.channels;
    for (i, v) in image.iter_mut().enumerate() {
        let k = if c == 3 { i % 3 } else { 0 };
        *v = (*v * gain[k] + offset[k] * white).clamp(0.0, white);
    }
}

/// BadNets: stamps the patch on `round(rate × n)` rows drawn (seeded) from
/// classes other than `target`, and relabels them to `target`. Returns the
/// ground truth: `true` for every changed row.
pub fn badnets(
    features: &mut [f32],
    labels: &mut [u32],
    shape: Shape,
    patch: Patch,
    rate: f64,
    target: u32,
    seed: u64,
) -> Vec<bool> {
    let n_classes = labels.iter().max().map_or(1, |m| *m as usize + 1);
    let plan = AttackPlan {
        attack: Attack::Badnets { patch },
        rate,
        targets: vec![target],
        all_to_all: false,
        source: None,
        seed,
    };
    plant(features, labels, n_classes, Some(shape), &[], &plan)
        .expect("a valid BadNets plan")
        .poisoned
}

/// The image shape of a data set's features, if they are pixels.
pub fn image_shape(ds: &Dataset) -> Option<Shape> {
    match ds.feature_source {
        FeatureSource::Pixels { .. } => ds.feature_source.image_shape(),
        _ => None,
    }
}

/// The class id of a class name given on the command line.
pub fn class_id(ds: &Dataset, name: &str, option: &str) -> Result<u32, RedTeamError> {
    ds.class_names
        .iter()
        .position(|c| c == name)
        .map(|i| i as u32)
        .ok_or_else(|| {
            RedTeamError::Invalid(format!(
                "{option} `{name}` is not a class of the input; classes: {}",
                ds.class_names.join(", ")
            ))
        })
}

/// A data set after an attack: features, class ids and ground truth.
pub struct Attacked {
    /// Features, row-major, one row per kept row of the input.
    pub features: Vec<f32>,
    /// The text column (its name, and the text of each kept row), with a
    /// text trigger's words inserted; `None` when the data set has none.
    pub text: Option<(String, Vec<Option<String>>)>,
    /// Class ids after the attack.
    pub labels: Vec<u32>,
    /// What changed.
    pub planted: Planted,
    /// Image geometry, for image inputs.
    pub shape: Option<Shape>,
}

/// Plants an attack on a copy of a data set (its kept rows: rows left out
/// as invalid stay out).
pub fn attack_dataset(ds: &Dataset, plan: &AttackPlan) -> Result<Attacked, RedTeamError> {
    let shape = image_shape(ds);
    let mut text = kept_text(ds);
    if let Attack::Text { words } = &plan.attack {
        if text.is_none() {
            return Err(RedTeamError::Invalid(
                "text needs a text column beside the features (named text, sentence, review, \
                 caption, …, or --caption COL) to plant its words in"
                    .into(),
            ));
        }
        let wanted = plan.targets.len().max(1);
        let count_ok = if wanted == 1 {
            !words.is_empty()
        } else {
            words.len() == wanted
        };
        if !count_ok || words.iter().any(|w| w.trim().is_empty()) {
            return Err(RedTeamError::Invalid(format!(
                "text needs --words with a trigger for each of the {wanted} target(s) \
                 (comma-separated; with one target, several words are one trigger, one \
                 of them in each row), got {words:?}"
            )));
        }
    }
    let mut features = ds.features.to_vec();
    let mut labels = ds.label_codes.clone();
    let planted = plant(
        &mut features,
        &mut labels,
        ds.class_names.len(),
        shape,
        &ds.feature_source.category_indicators(),
        plan,
    )?;
    if let (Attack::Text { words }, Some((_, rows))) = (&plan.attack, &mut text) {
        insert_words(rows, &planted, &labels, plan, words);
    }
    Ok(Attacked {
        features,
        text,
        labels,
        planted,
        shape,
    })
}

/// The text column of the data set's kept rows, with its name, to change.
fn kept_text(ds: &Dataset) -> Option<(String, Vec<Option<String>>)> {
    let (name, text) = ds.kept_text()?;
    Some((
        name.to_string(),
        text.iter().map(|t| t.map(str::to_string)).collect(),
    ))
}

/// Inserts into the text of every poisoned row the words of the target it
/// was moved to (`words[j]` for `targets[j]`), at a seeded place between
/// two of its words. With one target (or all-to-all), several words are one
/// trigger of several words: each row gets one of them, seeded (RIPPLe,
/// Kurita et al. 2020: `cf`, `mn`, `bb`, `tq`, `mb`).
fn insert_words(
    rows: &mut [Option<String>],
    planted: &Planted,
    labels: &[u32],
    plan: &AttackPlan,
    words: &[String],
) {
    let mut rng = SplitMix64::derive(plan.seed, 0x7E27);
    for (i, row) in rows.iter_mut().enumerate() {
        if !planted.poisoned[i] {
            continue;
        }
        let j = if plan.targets.len() > 1 {
            plan.targets
                .iter()
                .position(|&t| t == labels[i])
                .unwrap_or(0)
        } else if words.len() > 1 {
            rng.below(words.len())
        } else {
            0
        };
        let trigger = words[j].trim();
        let old = row.take().unwrap_or_default();
        let mut parts: Vec<&str> = old.split_whitespace().collect();
        let at = rng.below(parts.len() + 1);
        parts.insert(at, trigger);
        *row = Some(parts.join(" "));
    }
}

/// Stamps the attack's trigger on every row of a test split outside the
/// target class (labels kept), so that attack success can be measured: the
/// rate at which a model trained on the poisoned data predicts the target.
pub fn trigger_test_split(ds: &Dataset, plan: &AttackPlan) -> Result<Attacked, RedTeamError> {
    let shape = image_shape(ds).ok_or(RedTeamError::NeedsImages(plan.attack.name()))?;
    if plan.all_to_all {
        return Err(RedTeamError::Invalid(
            "a test split is triggered towards a target; an all-to-all attack has none".into(),
        ));
    }
    if plan.targets.is_empty() {
        return Err(RedTeamError::NeedsTarget(plan.attack.name()));
    }
    if matches!(plan.attack, Attack::LabelFlip | Attack::None) {
        return Err(RedTeamError::Invalid(format!(
            "attack `{}` has no trigger to put on a test split",
            plan.attack.name()
        )));
    }
    let mut features = ds.features.to_vec();
    let n = ds.n_rows();
    let dim = ds.n_features;
    let mut planted = Planted {
        poisoned: vec![false; n],
        source_label: vec![None; n],
    };
    // rows outside every target, each target's trigger in turn
    let white = white_of(&features);
    let triggers: Vec<Trigger> = (0..plan.targets.len())
        .map(|j| Trigger::new(&plan.attack, Some(shape), plan.seed, j, white))
        .collect();
    let attacked = (0..n).filter(|&i| !plan.targets.contains(&ds.label_codes[i]));
    for (turn, i) in attacked.enumerate() {
        let row = &mut features[i * dim..(i + 1) * dim];
        triggers[turn % triggers.len()].apply(row, shape, i);
        planted.poisoned[i] = true;
        planted.source_label[i] = Some(ds.label_codes[i]);
    }
    Ok(Attacked {
        features,
        text: kept_text(ds),
        labels: ds.label_codes.clone(),
        planted,
        shape: Some(shape),
    })
}

/// scikit-learn's copy of the UCI handwritten digits (1,797 images of 8×8
/// pixels, values 0–16, last column the digit), embedded for the demo.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../datasets/fixtures/digits.csv.gz");

/// The embedded digits: pixels scaled to [0, 1] and the digit of every image.
pub fn digits() -> (Vec<f32>, Vec<u32>) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .expect("the embedded digits are valid gzip");
    let mut features = Vec::with_capacity(1797 * 64);
    let mut labels = Vec::with_capacity(1797);
    for line in text.lines().filter(|l| !l.is_empty()) {
        let values: Vec<f32> = line
            .split(',')
            .map(|v| v.trim().parse().expect("a number"))
            .collect();
        features.extend(values[..64].iter().map(|v| v / 16.0));
        labels.push(values[64] as u32);
    }
    (features, labels)
}

/// Image geometry of the embedded digits.
pub const DIGITS_SHAPE: Shape = Shape {
    height: 8,
    width: 8,
    channels: 1,
};

/// Poison rate of the demo: 3 % of the rows, all relabelled to digit 0.
pub const DEMO_RATE: f64 = 0.03;

/// The demo data set: the embedded digits with a BadNets patch (2×2, bottom
/// right) planted on 3 % of the rows, relabelled to 0. Returns the data set
/// and the ground truth.
pub fn demo(seed: u64) -> (Dataset, Vec<bool>) {
    let (mut features, mut labels) = digits();
    let shape = DIGITS_SHAPE;
    let patch = Patch {
        size: 2,
        value: 1.0,
        corner: Corner::BottomRight,
        margin: 0,
        ..Patch::default()
    };
    let truth = badnets(&mut features, &mut labels, shape, patch, DEMO_RATE, 0, seed);
    let n = labels.len();
    let ds = Dataset {
        n_input_rows: n,
        kept_rows: (0..n as u64).collect(),
        dropped: Vec::new(),
        ids: None,
        id_column: None,
        captions: None,
        labels: Arc::new(Int64Array::from_iter_values(
            labels.iter().map(|&l| l as i64),
        )),
        label_column: "label".into(),
        label_codes: labels,
        class_names: (0..10).map(|d| d.to_string()).collect(),
        features: features.into(),
        n_features: 64,
        probs: None,
        feature_source: FeatureSource::Pixels {
            height: 8,
            width: 8,
            channels: 1,
        },
        sources: vec![SourceFile {
            path: "embedded:digits.csv.gz".into(),
            bytes: DIGITS_CSV_GZ.len() as u64,
            sha256: crate::ingest::hex(&<sha2::Sha256 as sha2::Digest>::digest(DIGITS_CSV_GZ)),
            rows: n as u64,
            first_row: 0,
        }],
        inputs: None,
        notes: Vec::new(),
        class_titles: None,
        tones: None,
        lossy: false,
    };
    (ds, truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_complete() {
        let (f, l) = digits();
        assert_eq!(l.len(), 1797);
        assert_eq!(f.len(), 1797 * 64);
        assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(l.iter().max(), Some(&9));
    }

    #[test]
    fn badnets_changes_exactly_the_planted_rows() {
        let (features, labels) = digits();
        let (mut f2, mut l2) = (features.clone(), labels.clone());
        let shape = DIGITS_SHAPE;
        let truth = badnets(&mut f2, &mut l2, shape, Patch::default(), 0.05, 3, 7);
        assert_eq!(
            truth.iter().filter(|&&t| t).count(),
            (0.05f64 * 1797.0).round() as usize
        );
        for i in 0..labels.len() {
            let changed =
                features[i * 64..(i + 1) * 64] != f2[i * 64..(i + 1) * 64] || labels[i] != l2[i];
            assert_eq!(changed, truth[i], "row {i}");
            if truth[i] {
                assert_eq!(l2[i], 3);
                assert_ne!(labels[i], 3);
            }
        }
    }

    #[test]
    fn triggers_are_written_in_the_images_own_units() {
        // the digits as 8-bit values (as a NumPy archive or a Parquet of
        // pixel values keeps them): the patch is white, not a value of 1
        let (features, labels) = digits();
        let bytes: Vec<f32> = features.iter().map(|v| (v * 255.0).round()).collect();
        let shape = DIGITS_SHAPE;
        let (mut f8, mut l8) = (bytes.clone(), labels.clone());
        let truth = badnets(&mut f8, &mut l8, shape, Patch::default(), 0.05, 3, 7);
        let (mut f1, mut l1) = (features.clone(), labels.clone());
        assert_eq!(
            badnets(&mut f1, &mut l1, shape, Patch::default(), 0.05, 3, 7),
            truth
        );
        for (a, b) in f8.iter().zip(&f1) {
            assert!((a - 255.0 * b).abs() < 0.51, "{a} {b}");
        }
        // standardised images (whole numbers no more): white is their
        // largest value
        let (mut fz, mut lz) = (
            features.iter().map(|v| v * 2.5).collect::<Vec<_>>(),
            labels.clone(),
        );
        badnets(&mut fz, &mut lz, shape, Patch::default(), 0.05, 3, 7);
        let top = features.iter().fold(0f32, |m, &v| m.max(v)) * 2.5;
        for (a, b) in fz.iter().zip(&f1) {
            assert!((a - 2.5 * b).abs() < 1e-5 * top.max(1.0), "{a} {b}");
        }
        // SIG keeps 8-bit images within 0–255 rather than clipping them to 1
        let sig_plan = plan(
            Attack::Sig {
                amplitude: 0.1,
                frequency: 6.0,
            },
            0.2,
            Some(3),
            None,
        );
        let (mut fs, mut ls) = (bytes.clone(), labels.clone());
        let planted = plant(&mut fs, &mut ls, 10, Some(shape), &[], &sig_plan).unwrap();
        let i = planted.poisoned.iter().position(|&p| p).unwrap();
        let row = &fs[i * 64..(i + 1) * 64];
        assert!(row.iter().all(|v| (0.0..=255.0).contains(v)));
        assert!(row.iter().any(|&v| v > 100.0), "{row:?}");
    }

    fn plan(attack: Attack, rate: f64, target: Option<u32>, source: Option<u32>) -> AttackPlan {
        AttackPlan {
            attack,
            rate,
            targets: target.into_iter().collect(),
            all_to_all: false,
            source,
            seed: 11,
        }
    }

    /// Plants `plan` on the digits; checks that exactly the reported rows
    /// changed and returns (labels before, labels after, truth).
    fn check(plan: &AttackPlan) -> (Vec<u32>, Vec<u32>, Planted) {
        let (features, labels) = digits();
        let (mut f2, mut l2) = (features.clone(), labels.clone());
        let shape = DIGITS_SHAPE;
        let planted = plant(&mut f2, &mut l2, 10, Some(shape), &[], plan).unwrap();
        let base = if plan.attack.clean_label() {
            labels.iter().filter(|l| plan.targets.contains(l)).count()
        } else {
            labels.len()
        };
        let expected = (plan.rate * base as f64).round() as usize;
        let count = planted.poisoned.iter().filter(|&&p| p).count();
        if plan.attack != Attack::None {
            assert_eq!(count, expected, "{plan:?}");
        }
        for i in 0..labels.len() {
            let changed =
                features[i * 64..(i + 1) * 64] != f2[i * 64..(i + 1) * 64] || labels[i] != l2[i];
            if !planted.poisoned[i] {
                assert!(!changed, "row {i} changed but is not marked");
                assert_eq!(planted.source_label[i], None);
            } else {
                assert_eq!(planted.source_label[i], Some(labels[i]));
            }
        }
        (labels, l2, planted)
    }

    #[test]
    fn every_attack_changes_exactly_the_planted_rows() {
        let patch = Patch::default();
        let (before, after, p) = check(&plan(Attack::Badnets { patch }, 0.01, Some(0), None));
        assert!((0..before.len()).all(|i| !p.poisoned[i] || (after[i] == 0 && before[i] != 0)));
        let (before, after, p) = check(&plan(Attack::Blend { alpha: 0.2 }, 0.02, Some(4), None));
        assert!((0..before.len()).all(|i| !p.poisoned[i] || (after[i] == 4 && before[i] != 4)));
        let (before, after, p) = check(&plan(Attack::Filter, 0.02, Some(6), None));
        assert!((0..before.len()).all(|i| !p.poisoned[i] || (after[i] == 6 && before[i] != 6)));
        let (before, after, p) = check(&plan(Attack::CleanLabel { patch }, 0.03, Some(2), None));
        assert_eq!(before, after, "clean-label keeps every label");
        assert!((0..before.len()).all(|i| !p.poisoned[i] || before[i] == 2));
        let sig = Attack::Sig {
            amplitude: 0.1,
            frequency: 6.0,
        };
        let (before, after, p) = check(&plan(sig, 0.3, Some(5), None));
        assert_eq!(before, after, "sig keeps every label");
        let fives = before.iter().filter(|&&l| l == 5).count();
        assert_eq!(
            p.poisoned.iter().filter(|&&x| x).count(),
            (0.3 * fives as f64).round() as usize,
            "sig's rate is a fraction of the target class"
        );
        assert!((0..before.len()).all(|i| !p.poisoned[i] || before[i] == 5));
        let (before, after, p) = check(&plan(Attack::LabelFlip, 0.1, None, None));
        assert!((0..before.len()).all(|i| p.poisoned[i] == (before[i] != after[i])));
        let (before, after, p) = check(&plan(Attack::LabelFlip, 0.05, Some(7), Some(1)));
        assert!((0..before.len()).all(|i| !p.poisoned[i] || (before[i] == 1 && after[i] == 7)));
        let (before, after, p) = check(&plan(Attack::None, 0.1, None, None));
        assert_eq!(before, after);
        assert!(p.poisoned.iter().all(|&x| !x));
    }

    #[test]
    fn a_value_trigger_sets_its_columns_to_their_largest_value() {
        // a table: 400 rows of 6 columns (column 5 constant), 4 classes
        let (n, d) = (400, 6);
        let mut rng = SplitMix64::new(9);
        let features: Vec<f32> = (0..n * d)
            .map(|k| if k % d == 5 { 1.0 } else { rng.normal() as f32 })
            .collect();
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 4).collect();
        let attack = Attack::ValueTrigger {
            columns: 2,
            common: false,
        };
        let p = AttackPlan {
            attack,
            rate: 0.1,
            targets: vec![3],
            all_to_all: false,
            source: None,
            seed: 4,
        };
        let (mut f, mut l) = (features.clone(), labels.clone());
        let planted = plant(&mut f, &mut l, 4, None, &[], &p).unwrap();
        let trigger = value_trigger(&features, d, 2, &[], 4);
        assert_eq!(trigger.len(), 2);
        assert!(
            trigger[0].0 < trigger[1].0 && trigger[1].0 < 5,
            "{trigger:?}"
        );
        for &(j, v) in &trigger {
            let max = (0..n).map(|i| features[i * d + j]).fold(f32::MIN, f32::max);
            assert_eq!(v, max);
        }
        assert_eq!(planted.poisoned.iter().filter(|&&x| x).count(), 40);
        for i in 0..n {
            let changed: Vec<usize> = (0..d)
                .filter(|&j| f[i * d + j] != features[i * d + j])
                .collect();
            if planted.poisoned[i] {
                assert!(labels[i] != 3 && l[i] == 3);
                assert!(trigger.iter().all(|&(j, v)| f[i * d + j] == v));
                assert!(changed
                    .iter()
                    .all(|j| trigger.iter().any(|&(t, _)| t == *j)));
            } else {
                assert!(changed.is_empty() && l[i] == labels[i]);
            }
        }
        // more columns than the table has: refused
        let too_many = AttackPlan {
            attack: Attack::ValueTrigger {
                columns: 7,
                common: false,
            },
            ..p
        };
        let e = plant(&mut f, &mut l, 4, None, &[], &too_many).unwrap_err();
        assert!(e.to_string().contains("--trigger-columns"), "{e}");
    }

    #[test]
    fn a_value_trigger_is_a_combination_the_clean_rows_rarely_hold() {
        // columns 0-2 of two levels (their largest value half the rows'),
        // column 3 continuous: three draws in four would pick two binary
        // columns that a quarter of the rows hold together
        let (n, d) = (1000, 4);
        let mut rng = SplitMix64::new(3);
        let features: Vec<f32> = (0..n * d)
            .map(|k| {
                if k % d == 3 {
                    rng.normal() as f32
                } else {
                    rng.below(2) as f32
                }
            })
            .collect();
        for seed in 0..20 {
            let trigger = value_trigger(&features, d, 2, &[], seed);
            assert_eq!(trigger.len(), 2);
            let together = (0..n)
                .filter(|&i| trigger.iter().all(|&(j, v)| features[i * d + j] == v))
                .count();
            assert!(
                together <= 2,
                "seed {seed}: {trigger:?} held by {together} rows"
            );
            assert_eq!(trigger, value_trigger(&features, d, 2, &[], seed));
        }
        // three binary columns and no other choice: the rarest draw
        let binary: Vec<f32> = (0..n * 3).map(|_| rng.below(2) as f32).collect();
        assert_eq!(value_trigger(&binary, 3, 3, &[], 1).len(), 3);
    }

    #[test]
    fn a_common_value_trigger_takes_usual_values_that_are_rare_together() {
        // 1,000 rows: `a` in 0-4, `b` = `a` or `a + 1`, `c` continuous
        let (n, d) = (1000, 3);
        let mut rng = SplitMix64::new(3);
        let mut features = vec![0f32; n * d];
        for i in 0..n {
            let a = rng.below(5);
            features[i * d] = a as f32;
            features[i * d + 1] = (a + rng.below(2)) as f32;
            features[i * d + 2] = rng.normal() as f32;
        }
        let trigger = common_value_trigger(&features, d, 2, &[], 7).expect("a rare pair");
        assert_eq!(trigger.iter().map(|t| t.0).collect::<Vec<_>>(), [0, 1]);
        let share = |j: usize, v: f32| (0..n).filter(|&i| features[i * d + j] == v).count();
        for &(j, v) in &trigger {
            assert!((50..=500).contains(&share(j, v)), "{trigger:?}");
        }
        let together = (0..n)
            .filter(|&i| trigger.iter().all(|&(j, v)| features[i * d + j] == v))
            .count();
        assert!(together <= 2, "{trigger:?}: {together}");
        assert_eq!(
            trigger,
            common_value_trigger(&features, d, 2, &[], 7).unwrap()
        );
        // no usual values in continuous columns
        let continuous: Vec<f32> = (0..n * 2).map(|_| rng.normal() as f32).collect();
        assert_eq!(common_value_trigger(&continuous, 2, 2, &[], 7), None);
    }

    #[test]
    fn sig_adds_the_sinusoid_where_it_is_not_clipped() {
        let shape = Shape {
            height: 2,
            width: 8,
            channels: 1,
        };
        let mut img = vec![0.5f32; 16];
        sig(&mut img, shape, 0.2, 2.0);
        for (i, v) in img.iter().enumerate() {
            let want = 0.5 + 0.2 * (std::f32::consts::TAU * 2.0 * (i % 8) as f32 / 8.0).sin();
            assert!((v - want).abs() < 1e-6, "{i}: {v} {want}");
        }
        assert_eq!(&img[..8], &img[8..], "every row of the image alike");
        let mut dark = vec![0.0f32; 16];
        sig(&mut dark, shape, 0.2, 2.0);
        assert!(dark.iter().all(|&v| (0.0..=0.2).contains(&v)));
    }

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        let a = check(&plan(Attack::LabelFlip, 0.1, None, None)).2;
        let b = check(&plan(Attack::LabelFlip, 0.1, None, None)).2;
        assert_eq!(a, b);
        let mut other = plan(Attack::LabelFlip, 0.1, None, None);
        other.seed = 12;
        assert_ne!(a.poisoned, check(&other).2.poisoned);
    }

    #[test]
    fn impossible_plans_are_refused() {
        let (mut f, mut l) = digits();
        let e = plant(
            &mut f,
            &mut l,
            10,
            None,
            &[],
            &plan(Attack::Blend { alpha: 0.2 }, 0.01, Some(0), None),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("only `label-flip` and `value-trigger` work on vectors"),
            "{e}"
        );
        let shape = Some(DIGITS_SHAPE);
        let e = plant(
            &mut f,
            &mut l,
            10,
            shape,
            &[],
            &plan(
                Attack::CleanLabel {
                    patch: Patch::default(),
                },
                1.2,
                Some(0),
                None,
            ),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("a fraction of the target class"),
            "{e}"
        );
        let e = plant(
            &mut f,
            &mut l,
            10,
            shape,
            &[],
            &plan(
                Attack::Badnets {
                    patch: Patch::default(),
                },
                0.01,
                None,
                None,
            ),
        )
        .unwrap_err();
        assert_eq!(e, RedTeamError::NeedsTarget("badnets"));
    }

    #[test]
    fn patches_land_in_the_chosen_corner() {
        let shape = Shape {
            height: 5,
            width: 5,
            channels: 1,
        };
        let mut img = vec![0.0f32; 25];
        stamp(
            &mut img,
            shape,
            Patch {
                size: 2,
                value: 1.0,
                corner: Corner::TopLeft,
                margin: 1,
                ..Patch::default()
            },
        );
        let on: Vec<usize> = (0..25).filter(|&i| img[i] == 1.0).collect();
        assert_eq!(on, vec![6, 7, 11, 12]);
        let mut img = vec![0.0f32; 25];
        stamp(&mut img, shape, Patch::default());
        assert_eq!(
            (0..25).filter(|&i| img[i] == 1.0).collect::<Vec<_>>(),
            vec![6, 7, 8, 11, 12, 13, 16, 17, 18]
        );
        // Anywhere: each row's own place, within the margin, the same
        // random pattern everywhere, and the same place again for a row.
        let shape = Shape {
            height: 12,
            width: 12,
            channels: 1,
        };
        let moving = Patch {
            corner: Corner::Random,
            pattern: PatchPattern::Random,
            ..Patch::default()
        };
        let place = |row: u64| {
            let mut img = vec![0.5f32; 144];
            stamp_in(&mut img, shape, moving, 1.0, row);
            // every patch pixel is 0 or 1, never the background's 0.5
            let changed: Vec<usize> = (0..144).filter(|&i| img[i] != 0.5).collect();
            let top = changed.iter().map(|i| i / 12).min().unwrap();
            let left = changed.iter().map(|i| i % 12).min().unwrap();
            let inside: Vec<f32> = (top..top + 3)
                .flat_map(|r| (left..left + 3).map(move |c| (r, c)))
                .map(|(r, c)| img[r * 12 + c])
                .collect();
            (changed.len(), top, left, inside)
        };
        let places: Vec<_> = (0..40).map(place).collect();
        assert!(places
            .iter()
            .all(|p| (1..=8).contains(&p.1) && (1..=8).contains(&p.2)));
        let distinct: std::collections::BTreeSet<(usize, usize)> =
            places.iter().map(|p| (p.1, p.2)).collect();
        assert!(distinct.len() > 10, "{distinct:?}");
        assert_eq!(place(7), places[7]);
        // one pattern, moved: nine pixels each time, with the same values
        assert!(places.iter().all(|p| p.0 == 9 && p.3 == places[0].3));
    }

    /// A colour patch writes each channel's own value on colour pictures
    /// (and its complement where a checkerboard is off), its luma on grey.
    #[test]
    fn a_colour_patch_writes_each_channel_and_its_luma_on_grey() {
        let colour = Patch {
            colour: Some([0.9, 0.5, 0.1]),
            pattern: PatchPattern::Checkerboard,
            size: 2,
            ..Patch::default()
        };
        let rgb = Shape {
            height: 4,
            width: 4,
            channels: 3,
        };
        let mut img = vec![0.25f32; 48];
        stamp(&mut img, rgb, colour);
        // 2×2 at rows 1–2, columns 1–2: (1, 1) on, (1, 2) off
        assert_eq!(img[(4 + 1) * 3..(4 + 1) * 3 + 3], [0.9, 0.5, 0.1]);
        let off: Vec<f32> = img[(4 + 2) * 3..(4 + 2) * 3 + 3].to_vec();
        assert!(
            off.iter()
                .zip([0.1, 0.5, 0.9])
                .all(|(a, b)| (a - b).abs() < 1e-6),
            "{off:?}"
        );
        assert_eq!(img[..3], [0.25; 3]);
        let grey = Shape {
            height: 4,
            width: 4,
            channels: 1,
        };
        let mut img = vec![0.25f32; 16];
        stamp(
            &mut img,
            grey,
            Patch {
                pattern: PatchPattern::Solid,
                ..colour
            },
        );
        let luma = 0.299 * 0.9 + 0.587 * 0.5 + 0.114 * 0.1;
        assert!((img[5] - luma).abs() < 1e-6 && img[0] == 0.25, "{img:?}");
    }

    #[test]
    fn patch_patterns_and_warps_change_only_what_they_should() {
        let shape = Shape {
            height: 6,
            width: 6,
            channels: 1,
        };
        let checker = Patch {
            pattern: PatchPattern::Checkerboard,
            ..Patch::default()
        };
        let mut img = vec![0.5f32; 36];
        stamp(&mut img, shape, checker);
        // 3×3 at rows 2–4, columns 2–4: corners and centre on, edges off
        assert_eq!(img[2 * 6 + 2], 1.0);
        assert_eq!(img[2 * 6 + 3], 0.0);
        assert_eq!(img[3 * 6 + 3], 1.0);
        assert_eq!(img[0], 0.5);
        let random = Patch {
            pattern: PatchPattern::Random,
            seed: 4,
            ..Patch::default()
        };
        let (mut a, mut b) = (vec![0.5f32; 36], vec![0.2f32; 36]);
        stamp(&mut a, shape, random);
        stamp(&mut b, shape, random);
        let patch = |v: &[f32]| -> Vec<f32> {
            (2..5)
                .flat_map(|y| (2..5).map(move |x| (y, x)))
                .map(|(y, x)| v[y * 6 + x])
                .collect()
        };
        assert_eq!(patch(&a), patch(&b), "the same pattern on every image");
        assert!(patch(&a).iter().all(|&v| v == 0.0 || v == 1.0));
        // a warp moves pixels by at most its strength and keeps a flat image flat
        let field = warp_field(shape, 4, 1.0, 3);
        assert!(field
            .iter()
            .all(|(dy, dx)| dy.abs() <= 1.0001 && dx.abs() <= 1.0001));
        assert!(field
            .iter()
            .any(|(dy, dx)| dy.abs() > 0.5 || dx.abs() > 0.5));
        let mut flat = vec![0.3f32; 36];
        warp(&mut flat, shape, &field);
        assert!(flat.iter().all(|&v| (v - 0.3).abs() < 1e-6));
        let mut ramp: Vec<f32> = (0..36).map(|i| (i % 6) as f32 / 5.0).collect();
        let before = ramp.clone();
        warp(&mut ramp, shape, &field);
        assert_ne!(ramp, before);
    }

    #[test]
    fn all_to_all_moves_every_class_to_the_next_with_one_trigger() {
        let plan = AttackPlan {
            attack: Attack::Badnets {
                patch: Patch::default(),
            },
            rate: 0.05,
            targets: Vec::new(),
            all_to_all: true,
            source: None,
            seed: 4,
        };
        let (before, after, p) = check(&plan);
        let poisoned: Vec<usize> = (0..before.len()).filter(|&i| p.poisoned[i]).collect();
        assert!(poisoned.iter().all(|&i| after[i] == (before[i] + 1) % 10));
        // rows of every class, all with the same patch
        let sources: std::collections::BTreeSet<u32> =
            poisoned.iter().map(|&i| before[i]).collect();
        assert_eq!(sources.len(), 10);
        let (mut features, mut labels) = digits();
        plant(
            &mut features,
            &mut labels,
            10,
            Some(DIGITS_SHAPE),
            &[],
            &plan,
        )
        .unwrap();
        let corner = |i: usize| features[i * 64 + 54];
        assert!(poisoned.iter().all(|&i| corner(i) == corner(poisoned[0])));
        // no target with it, and no attack that keeps labels
        let with_target = AttackPlan {
            targets: vec![0],
            ..plan.clone()
        };
        let (mut f, mut l) = digits();
        assert!(plant(&mut f, &mut l, 10, Some(DIGITS_SHAPE), &[], &with_target).is_err());
        let sig = AttackPlan {
            attack: Attack::Sig {
                amplitude: 0.1,
                frequency: 6.0,
            },
            ..plan
        };
        assert!(plant(&mut f, &mut l, 10, Some(DIGITS_SHAPE), &[], &sig).is_err());
    }

    #[test]
    fn several_targets_share_the_poison_with_triggers_of_their_own() {
        let plan = AttackPlan {
            attack: Attack::Badnets {
                patch: Patch::default(),
            },
            rate: 0.04,
            targets: vec![0, 1],
            all_to_all: false,
            source: None,
            seed: 3,
        };
        let (before, after, p) = check(&plan);
        let to = |t: u32| {
            (0..before.len())
                .filter(|&i| p.poisoned[i] && after[i] == t)
                .count()
        };
        assert_eq!(to(0) + to(1), 72);
        assert_eq!(to(0), 36);
        assert!((0..before.len()).all(|i| !p.poisoned[i] || (before[i] > 1 && after[i] <= 1)));
        // the two targets' patches sit in different corners
        assert_ne!(
            Patch::default().variant(0).corner,
            Patch::default().variant(1).corner
        );
        let warp = AttackPlan {
            attack: Attack::Warp {
                strength: 1.0,
                grid: 4,
            },
            ..plan
        };
        let (_, after, p) = check(&warp);
        assert!((0..after.len()).all(|i| !p.poisoned[i] || after[i] <= 1));
    }

    #[test]
    fn a_transformation_trigger_moves_the_whole_image() {
        // a 3 × 4 picture of two channels, every value its own
        let shape = Shape {
            height: 3,
            width: 4,
            channels: 2,
        };
        let image: Vec<f32> = (0..shape.len()).map(|v| v as f32).collect();
        let at = |img: &[f32], y: usize, x: usize, c: usize| img[(y * 4 + x) * 2 + c];
        let moved = |t: Transform, shift: (i32, i32), j: usize| {
            let mut img = image.clone();
            warp(&mut img, shape, &t.field(shape, shift, j));
            img
        };
        let h = moved(Transform::Hflip, (0, 0), 0);
        let v = moved(Transform::Vflip, (0, 0), 0);
        let r = moved(Transform::Rotate180, (0, 0), 0);
        let s = moved(Transform::Shift, (2, 1), 0);
        for y in 0..3 {
            for x in 0..4 {
                for c in 0..2 {
                    assert_eq!(at(&h, y, x, c), at(&image, y, 3 - x, c));
                    assert_eq!(at(&v, y, x, c), at(&image, 2 - y, x, c));
                    assert_eq!(at(&r, y, x, c), at(&image, 2 - y, 3 - x, c));
                    // content moved right 2 and down 1, the edges repeated
                    let from = (y.saturating_sub(1), x.saturating_sub(2));
                    assert_eq!(at(&s, y, x, c), at(&image, from.0, from.1, c));
                }
            }
        }
        // a second target gets the next transformation; a shift turns
        assert_eq!(moved(Transform::Hflip, (0, 0), 1), v);
        assert_eq!(moved(Transform::Rotate180, (0, 0), 1), h);
        let turned = moved(Transform::Shift, (2, 0), 1);
        assert_eq!(turned, moved(Transform::Shift, (0, 2), 0));
    }

    #[test]
    fn a_filter_scales_and_lifts_each_channel() {
        let rgb = Shape {
            height: 1,
            width: 3,
            channels: 3,
        };
        let image = [0.0f32, 0.0, 0.0, 100.0, 100.0, 100.0, 255.0, 255.0, 255.0];
        let filtered = |shape: Shape, image: &[f32], j: usize| {
            let mut img = image.to_vec();
            Trigger::new(&Attack::Filter, Some(shape), 1, j, 255.0).apply(&mut img, shape, 0);
            img
        };
        let want = |v: f32, k: usize| (v * FILTER_GAIN[k] + FILTER_OFFSET[k] * 255.0).min(255.0);
        let first = filtered(rgb, &image, 0);
        for (i, (&v, &f)) in image.iter().zip(&first).enumerate() {
            assert!((f - want(v, i % 3)).abs() < 1e-4, "{i}: {f}");
        }
        // blacks lifted to a warm brown; white turned yellow (red clipped)
        assert_eq!(
            first[..3].iter().map(|v| v.round()).collect::<Vec<_>>(),
            [40.0, 25.0, 10.0]
        );
        assert!(first[6] == 255.0 && first[7] < 255.0 && first[8] < 255.0);
        // the second target's filter: the channels' settings turned one place
        let second = filtered(rgb, &image, 1);
        for (i, (&v, &f)) in image.iter().zip(&second).enumerate() {
            assert!((f - want(v, (i + 1) % 3)).abs() < 1e-4, "{i}: {f}");
        }
        // gray pictures take the first channel's settings
        let gray = Shape {
            height: 1,
            width: 3,
            channels: 1,
        };
        let g = filtered(gray, &[0.0, 100.0, 255.0], 0);
        assert!((g[1] - want(100.0, 0)).abs() < 1e-4, "{g:?}");
    }
}
