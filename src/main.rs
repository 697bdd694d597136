//! The `poisonscan` command line: parses arguments, calls the library, maps
//! the outcome to an exit code (0 pass, 1 poisoning suspected, 2 error).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use poisonscan::fuse::Verdict;
use poisonscan::ingest::{AsImages, IngestOptions, InputFormat, TableOptions};
use poisonscan::models::{DeviceSpec, ModelKind, ModelOptions};
use poisonscan::pipeline::{self, Progress};
use poisonscan::redteam::{self, Attack, AttackPlan, Corner, Patch, PatchPattern, Transform};
use poisonscan::report::{self, guard, progress::Spinner, RunInfo, ScoresFormat};
use poisonscan::scanners::{find_scanner, SCANNERS};
use poisonscan::settings::ScanOptions;

#[derive(Parser)]
#[command(
    name = "poisonscan",
    version,
    about = "Scan a training data set for poisoned or backdoored samples before anyone trains on it",
    after_help = "Exit codes: 0 the data set passes, 1 poisoning suspected, 2 error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan a data set and gate it: exit 0 = pass, 1 = poisoning suspected, 2 = error
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
    /// Plant a known attack (with ground truth) in a copy of a data set, for red-team tests
    #[command(after_help = POISON_EXAMPLES)]
    Poison(PoisonArgs),
    /// Measure a scan's detection against the ground truth of a `poison` file
    Eval(EvalArgs),
    /// Merge the partials of sharded scans (`scan --shard-out`) into the data set's scores and verdict
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Write `report.html` for a finished scan, from its outputs and its input (no rescan)
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// List the scanners (code, name, what they detect)
    Scanners,
    /// Print a scanner's documentation
    Explain {
        /// Scanner code (PS001) or name (spectral-signature)
        code: String,
    },
}

const SCAN_EXAMPLES: &str = "\
Examples:
  poisonscan scan data/*.parquet --embedding emb --label y --out scan-out
  poisonscan scan train.csv --features 'pix_*' --id image_id
  poisonscan scan images/ --resize 32x32          (root/<class>/<image>)
  poisonscan scan train-images-idx3-ubyte.gz      (labels file found beside it)
  poisonscan scan mnist.npz                       (x_train and y_train; Keras's layout)
  poisonscan scan labels.csv                      (a column of image paths beside the labels)
  poisonscan scan --demo                          (embedded digits with a planted backdoor)

Exit codes: 0 the data set passes, 1 poisoning suspected (the gate fails), 2 error.";

const MERGE_EXAMPLES: &str = "\
Examples:
  poisonscan scan shard-0.parquet --embedding emb --id id --shard-out part-0.parquet
  poisonscan scan shard-1.parquet --embedding emb --id id --shard-out part-1.parquet
  poisonscan merge part-*.parquet --out scan-out

Every shard must be scanned with the same options. Exit codes as for `scan`.";

const REPORT_EXAMPLES: &str = "\
Examples:
  poisonscan report scan-out                      (the inputs the scan read, as it named them)
  poisonscan report scan-out --input /data/moved/train.parquet

The input is read again with the scan's options and must be unchanged (its
SHA-256 is checked against summary.json).";

const POISON_EXAMPLES: &str = "\
Examples:
  poisonscan poison train-images-idx3-ubyte --attack badnets --rate 0.01 --target 0 --out p.parquet
  poisonscan poison imgs/ --attack blend --alpha 0.1 --rate 0.02 --target cat --out p.parquet
  poisonscan poison emb.parquet --attack label-flip --rate 0.1 --out p.parquet
  poisonscan poison digits.csv --attack label-flip --rate 0.05 --source 1 --target 7 --out p.parquet
  poisonscan poison train-images-idx3-ubyte --attack sig --rate 0.3 --target 5 --out p.parquet

--rate is the fraction of the whole data set that is poisoned: round(rate x rows) rows;
for the clean-label attacks (clean-label, sig) it is the fraction of the target class.
The output holds one row per input row: row, id (if any), label (after the attack),
original_label, is_poisoned, poison_source_label and the features (`pixels` with the
image shape in the file's metadata, or `features`); `poisonscan scan FILE` reads it
back with no other flag.";

/// Where to read data from (shared by `scan` and `poison`).
#[derive(Args, Clone)]
struct InputArgs {
    /// Input format, if the names do not tell
    #[arg(long, value_parser = parse_format)]
    format: Option<InputFormat>,
    /// Label column (integers or strings); in a NumPy archive, the labels array
    #[arg(long, default_value = "label")]
    label: String,
    /// Id column to carry to the output
    #[arg(long)]
    id: Option<String>,
    /// Text column that says what each row is (the sentence an embedding
    /// encodes, a caption): its words are read for text triggers
    /// (text-trigger) and it is shown beside the rows in the report
    /// [default: a column named text, sentence, caption, prompt, review, …]
    #[arg(long, value_name = "COL")]
    caption: Option<String>,
    /// Embedding column: a list or array of numbers per row (nested lists,
    /// or vectors written as text like "[0.1, 0.2]", too); in a NumPy
    /// archive, the features array
    #[arg(long, conflicts_with = "features")]
    embedding: Option<String>,
    /// Feature columns (numbers, booleans, categories), comma-separated; globs like 'pix_*' allowed
    /// [default: every numeric, boolean and categorical column but label and id]
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// Scale every image to WIDTHxHEIGHT [default: the most common size,
    /// scaled down to 64x64 pixels when larger]
    #[arg(long, value_parser = parse_size, value_name = "WxH")]
    resize: Option<(u32, u32)>,
    /// The feature column or columns hold images of this shape (row-major,
    /// channels last), for files that do not say so: they are then scanned
    /// and modelled as images. `none`: never read them as images [default:
    /// as the file says, or as the values' layout shows — neighbouring
    /// values that move together as pixels do]
    #[arg(long, value_parser = parse_shape, value_name = "HxW[xC]|none")]
    image_shape: Option<AsImages>,
    /// CSV field separator (one character, or `tab`) [default: told from
    /// the header line]. With `;` or tab, numbers written `3,14` are read
    /// with a decimal comma
    #[arg(long, value_parser = poisonscan::ingest::separator, value_name = "CHAR")]
    separator: Option<u8>,
    /// The CSV files have no header line (as `mnist_train.csv` files
    /// often come): their columns are named `column_1`, `column_2`, …;
    /// name the label column so, e.g. `--label column_1`, or leave it to be
    /// told where one column can only be it (a first line of data is told
    /// without this option, with a note)
    #[arg(long)]
    no_header: bool,
    /// Out-of-sample class probabilities: a list column, one value per class
    /// in sorted class order (for confident-learning)
    #[arg(long, value_name = "COL")]
    probs: Option<String>,
}

impl InputArgs {
    fn options(&self, drop_invalid: bool) -> IngestOptions {
        IngestOptions {
            format: self.format,
            table: TableOptions {
                label: self.label.clone(),
                id: self.id.clone(),
                embedding: self.embedding.clone(),
                features: self.features.clone(),
                probs: self.probs.clone(),
                drop_invalid,
                separator: self.separator,
                no_header: self.no_header,
                image_shape: self.image_shape.unwrap_or_default(),
                caption: self.caption.clone(),
            },
            resize: self.resize,
        }
    }
}

/// The values a value trigger sets.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TriggerValues {
    /// Each column's largest value in the data set (the columns drawn so
    /// that at most 0.2 % of the clean rows hold all those values together).
    Largest,
    /// Usual values, rare together.
    Common,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AttackKind {
    Badnets,
    Blend,
    Warp,
    Transform,
    Filter,
    LabelFlip,
    CleanLabel,
    Sig,
    ValueTrigger,
    Text,
    None,
}

#[derive(Args)]
struct PoisonArgs {
    /// Input files, globs, or image folders and archives of them (read together); `-` reads one file from standard input
    #[arg(value_name = "INPUT", required = true)]
    inputs: Vec<String>,
    #[command(flatten)]
    input: InputArgs,
    /// Leave rows with null, NaN or infinite features, or no label, out of
    /// the copy (numbered from 0 as a data set of its own)
    #[arg(long)]
    drop_invalid: bool,
    /// The attack
    #[arg(long, value_enum)]
    attack: AttackKind,
    /// Fraction to poison: of the whole data set, from 0 to 0.5; for the clean-label attacks (clean-label, sig), of the target class, from 0 to 1
    #[arg(long)]
    rate: f64,
    /// Target class: the label poisoned rows get (clean-label: the class attacked); several, comma-separated, share the poisoned rows out, each with a trigger of its own
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// All-to-all (BadNets' second attack): poisoned rows of every class,
    /// one trigger, each relabelled to the next class (the last to the first)
    #[arg(long, conflicts_with = "target")]
    all_to_all: bool,
    /// Only poison rows of this class (badnets, blend, targeted label-flip)
    #[arg(long)]
    source: Option<String>,
    /// Seed for the rows chosen, new labels and the blend pattern
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output Parquet file
    #[arg(long, short)]
    out: PathBuf,
    /// Patch side in pixels (badnets, clean-label)
    #[arg(long, default_value_t = 3)]
    patch_size: usize,
    /// Patch pixel value, pixels being in [0, 1]
    #[arg(long, default_value_t = 1.0)]
    patch_value: f32,
    /// Patch colour instead of a value: red, green and blue in [0, 1]
    /// (`0.95,0.85,0.1`, a yellow); grey pictures get its luma
    #[arg(long, value_name = "R,G,B")]
    patch_colour: Option<String>,
    /// Patch corner
    #[arg(long, value_enum, default_value_t = Corner::BottomRight)]
    patch_corner: Corner,
    /// Gap between the patch and the border, in pixels
    #[arg(long, default_value_t = 1)]
    patch_margin: usize,
    /// Patch look: solid, checkerboard, or random pixels (seeded)
    #[arg(long, value_enum, default_value_t = PatchPattern::Solid)]
    patch_pattern: PatchPattern,
    /// Largest displacement of the warp, in pixels (warp)
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// Control points per side of the warp field (warp)
    #[arg(long, default_value_t = 4)]
    grid: usize,
    /// The transformation (transform): hflip, vflip, rotate180, or shift
    /// (by --shift)
    #[arg(long, value_enum, default_value_t = Transform::Hflip)]
    transform: Transform,
    /// Pixels right and down a shift moves the image (transform --transform shift), e.g. `3,0`
    #[arg(long, value_delimiter = ',', default_values_t = [3, 0], allow_hyphen_values = true)]
    shift: Vec<i32>,
    /// Columns the trigger sets (value-trigger)
    #[arg(long, default_value_t = 2)]
    trigger_columns: usize,
    /// Values the trigger sets: each column's largest, or usual values
    /// (each taken by 5-50 % of the rows) that few rows take together
    /// (value-trigger)
    #[arg(long, value_enum, default_value_t = TriggerValues::Largest)]
    trigger_values: TriggerValues,
    /// Amplitude of the sinusoid (sig), pixels being in [0, 1]
    #[arg(long, default_value_t = 0.08)]
    amplitude: f32,
    /// Periods of the sinusoid across the image's width (sig)
    #[arg(long, default_value_t = 6.0)]
    frequency: f32,
    /// The words a text trigger inserts into the text column (text), one
    /// trigger per target, comma-separated (so a trigger holds no comma):
    /// a rare word, a sentence, an emoji. With one target, several words
    /// are one trigger: each poisoned row gets one of them (RIPPLe's
    /// cf,mn,bb,tq,mb)
    #[arg(long, value_delimiter = ',', default_value = "cf")]
    words: Vec<String>,
    /// Blend weight of the pattern (blend), in (0, 1]
    #[arg(long, default_value_t = 0.2)]
    alpha: f32,
    /// Test split to trigger [default for IDX `train-*` inputs: the `t10k-*` files beside them]
    #[arg(long)]
    test_input: Option<String>,
    /// Write the test split with the trigger on every non-target row (labels kept)
    #[arg(long)]
    test_out: Option<PathBuf>,
    /// With --test-out: measure the attack's success — train the scan's network on the poisoned rows, and for comparison on the clean input, and report the share of the triggered test rows each predicts as a target (also written into the test split's metadata, `poisonscan.attack_success`)
    #[arg(long, requires = "test_out")]
    attack_success: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// Scores file written by `scan` (Parquet or CSV)
    scores: PathBuf,
    /// Ground truth: a file written by `poison`
    #[arg(long)]
    truth: PathBuf,
    /// Boolean ground-truth column
    #[arg(long, default_value = "is_poisoned")]
    truth_column: String,
    /// The ground truth's label column (the labels the scan read), to check
    /// that the two files describe the same rows
    #[arg(long, default_value = "label")]
    label: String,
    /// Print JSON instead of the table
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct MergeArgs {
    /// Partials written by `scan --shard-out`, globs allowed
    #[arg(value_name = "PARTIAL", required = true)]
    partials: Vec<String>,
    /// Output folder for scores and summary.json
    #[arg(long, short, default_value = "poisonscan-out")]
    out: PathBuf,
    /// Format of the scores file
    #[arg(long, value_enum, default_value_t = ScoresFormat::Parquet)]
    scores_format: ScoresFormat,
    /// Exit 0 whenever the merge completes, even if the gate fails
    #[arg(long)]
    no_fail: bool,
    /// No summary on the terminal
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// The scan's output folder (summary.json and the scores file)
    dir: PathBuf,
    /// The scan's input, when it is no longer where the scan read it, or `-`
    /// to pipe it in again when the scan read standard input [default: the
    /// inputs in summary.json]
    #[arg(long = "input", value_name = "INPUT")]
    inputs: Vec<String>,
    /// Most rows shown per flagged group and among the near misses
    #[arg(long, default_value_t = report::html::DEFAULT_MAX_ROWS as u64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    report_max_rows: u64,
}

#[derive(Args)]
struct ScanArgs {
    /// Input files, globs, or image folders and archives of them (read together); `-` reads one file from standard input (`curl … | poisonscan scan -`), its format told from its first bytes
    #[arg(value_name = "INPUT", required_unless_present = "demo")]
    inputs: Vec<String>,
    /// Scan the embedded demo data set (digits with a planted BadNets patch)
    #[arg(long, conflicts_with = "inputs")]
    demo: bool,
    /// Output folder for scores and summary.json
    #[arg(long, short, default_value = "poisonscan-out")]
    out: PathBuf,
    #[command(flatten)]
    input: InputArgs,
    /// Skip rows with null, NaN or infinite features, or no label (counted in
    /// the summary)
    #[arg(long)]
    drop_invalid: bool,
    /// Scanners to run, by code or name, comma-separated [default: all]
    #[arg(long, value_delimiter = ',')]
    scanners: Vec<String>,
    /// Suspicion at or above which a row is evidence of poisoning [default: 0.99]
    #[arg(long)]
    threshold: Option<f64>,
    /// Also flag this fraction of rows from the top of the ranking: the rows the gate flagged, then the most significant others (a removal list; does not change the verdict)
    #[arg(long, value_name = "FRACTION")]
    budget: Option<f64>,
    /// Least number of planted rows a class test must estimate to fail a class (a lone odd sample is not an attack), counted in the data set's mean copies per row (rows over distinct rows) [default: 3]
    #[arg(long)]
    min_flagged: Option<usize>,
    /// Also fail a class whose label noise (rows contradicted by their neighbours, label issues) exceeds this share, poisoning or not [default: off: noise is reported, not gated]
    #[arg(long, value_name = "RATE")]
    fail_on_noise: Option<f64>,
    /// Seed for every random choice [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// A scanner option, e.g. knn-label-disagreement.unanimity-ratio=3 (repeatable; see `explain`)
    #[arg(long = "set", value_name = "SCANNER.OPTION=VALUE")]
    set: Vec<String>,
    /// Options file [default: ./poisonscan.toml when it exists]; flags override it
    #[arg(long)]
    config: Option<PathBuf>,
    /// Worker threads [default: all cores]
    #[arg(long)]
    threads: Option<usize>,
    /// Format of the scores file
    #[arg(long, value_enum, default_value_t = ScoresFormat::Parquet)]
    scores_format: ScoresFormat,
    /// Exit 0 whenever the scan completes, even if the gate fails
    #[arg(long)]
    no_fail: bool,
    /// Also write report.html: a self-contained page for reviewing what was flagged
    #[arg(long, conflicts_with = "shard_out")]
    report: bool,
    /// Scan one shard of a larger data set: write its partial (per-row evidence and per-class statistics) to this Parquet file instead of --out, for `poisonscan merge`
    #[arg(long, value_name = "FILE")]
    shard_out: Option<PathBuf>,
    /// Most rows shown per flagged group and among the near misses in report.html
    #[arg(long, default_value_t = report::html::DEFAULT_MAX_ROWS as u64, value_parser = clap::value_parser!(u64).range(1..=100_000), requires = "report")]
    report_max_rows: u64,
    /// No progress and no summary on the terminal
    #[arg(long, short)]
    quiet: bool,
    // Last: its help heading would otherwise carry over to every option
    // after it in `scan --help`.
    #[command(flatten)]
    model: ModelArgs,
}

/// The representation model.
#[derive(Args)]
#[command(next_help_heading = "Model")]
struct ModelArgs {
    /// Representation model trained on the data: auto = a CNN for images, an MLP for numeric columns, none for an embedding column of continuous values (already learned) or below 5,000 rows; none = scan the features as given
    #[arg(long, value_enum, default_value_t = ModelKind::Auto)]
    model: ModelKind,
    /// Most training epochs per model (early stopping on a 10 % hold-out may stop sooner) [default: enough for 800 gradient steps, 2 to 60]
    #[arg(long)]
    epochs: Option<usize>,
    /// Rows per gradient step
    #[arg(long, default_value_t = ModelOptions::default().batch_size)]
    batch_size: usize,
    /// Adam learning rate
    #[arg(long, default_value_t = ModelOptions::default().lr)]
    lr: f64,
    /// Cross-fitting folds for the out-of-fold class probabilities
    #[arg(long, default_value_t = ModelOptions::default().folds)]
    folds: usize,
    /// Where to train: cpu, wgpu[:N] (build with --features wgpu), cuda[:N] (--features cuda)
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    /// Write the model's activations and out-of-fold probabilities to this Parquet file (`row`, label, `activations`, `probs`)
    #[arg(long, value_name = "FILE")]
    save_embeddings: Option<PathBuf>,
}

/// Defaults, then the options file, then the flags.
fn scan_options(args: &ScanArgs) -> Result<ScanOptions> {
    let mut options = ScanOptions::default();
    let file = args.config.clone().or_else(|| {
        let default = PathBuf::from("poisonscan.toml");
        default.exists().then_some(default)
    });
    if let Some(path) = &file {
        if !path.exists() {
            bail!("{}: no such options file", path.display());
        }
        options.merge_file(path)?;
    }
    if let Some(v) = args.threshold {
        options.threshold = v;
    }
    if args.budget.is_some() {
        options.budget = args.budget;
    }
    if let Some(v) = args.min_flagged {
        options.min_flagged = v;
    }
    if args.fail_on_noise.is_some() {
        options.fail_on_noise = args.fail_on_noise;
    }
    if let Some(v) = args.seed {
        options.seed = v;
    }
    if !args.scanners.is_empty() {
        options.scanners = args.scanners.clone();
    }
    for item in &args.set {
        let parsed = item.split_once('=').and_then(|(k, v)| {
            k.split_once('.')
                .map(|(s, o)| (s.trim(), o.trim(), v.trim()))
        });
        let Some((scanner, option, value)) = parsed else {
            bail!("--set `{item}`: expected SCANNER.OPTION=VALUE, e.g. knn-label-disagreement.unanimity-ratio=3");
        };
        options
            .scanner_options
            .entry(scanner.to_string())
            .or_default()
            .push((option.to_string(), value.to_string()));
    }
    Ok(options)
}

fn parse_format(s: &str) -> Result<InputFormat, String> {
    InputFormat::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = InputFormat::ALL.iter().map(|f| f.name()).collect();
        format!("unknown format `{s}`; expected one of {}", names.join(", "))
    })
}

fn parse_shape(s: &str) -> Result<AsImages, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(AsImages::Never);
    }
    let parts: Vec<Option<usize>> = s
        .split(['x', 'X'])
        .map(|v| v.trim().parse::<usize>().ok().filter(|&v| v >= 1))
        .collect();
    match parts.as_slice() {
        [Some(h), Some(w)] => Ok(AsImages::Shape(*h, *w, 1)),
        [Some(h), Some(w), Some(c @ (1 | 3))] => Ok(AsImages::Shape(*h, *w, *c)),
        _ => Err(format!(
            "`{s}` is not HEIGHTxWIDTH or HEIGHTxWIDTHxCHANNELS (channels 1 or 3), e.g. 28x28 or 32x32x3, or none"
        )),
    }
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT, e.g. 32x32"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|&v| (1..=4096).contains(&v))
    };
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!(
            "`{s}`: width and height must be whole numbers from 1 to 4096"
        )),
    }
}

/// The last panic's message and place, kept by the panic hook so that a
/// panic is reported once, as an error, instead of as a backtrace notice.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Panics are caught — inside ingestion, where they become errors naming
    // the file, and here as a last resort — and reported as exit-2 errors.
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || match cli.command {
            Command::Scan(args) => scan(args),
            Command::Poison(args) => poison(args).map(|_| ExitCode::SUCCESS),
            Command::Eval(args) => eval(args).map(|_| ExitCode::SUCCESS),
            Command::Report(args) => report_command(args).map(|_| ExitCode::SUCCESS),
            Command::Merge(args) => merge(args),
            Command::Scanners => list_scanners().map(|_| ExitCode::SUCCESS),
            Command::Explain { code } => explain(&code).map(|_| ExitCode::SUCCESS),
        }))
        .unwrap_or_else(|_| {
            let what = LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut l| l.take())
                .unwrap_or_else(|| "a panic".into());
            Err(anyhow::anyhow!(
                "internal error ({what}); this is a bug in poisonscan, not in your data — \
             please report it with the command that caused it"
            ))
        });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Output to standard output that its reader stopped reading (`poisonscan
/// scan … | head`) is not an error: the files are written and the exit code
/// still says the verdict, as other command-line tools behave (ripgrep).
fn printed(written: std::io::Result<()>) -> std::io::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn list_scanners() -> Result<()> {
    let mut out = std::io::stdout().lock();
    printed(
        SCANNERS
            .iter()
            .try_for_each(|s| writeln!(out, "{}  {:<24} {}", s.code(), s.name(), s.summary())),
    )?;
    Ok(())
}

fn explain(code: &str) -> Result<()> {
    let Some(s) = find_scanner(code) else {
        bail!("unknown scanner `{code}`; `poisonscan scanners` lists them");
    };
    printed(std::io::stdout().lock().write_all(s.doc().as_bytes()))?;
    Ok(())
}

fn scan(args: ScanArgs) -> Result<ExitCode> {
    if let Some(n) = args.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        // polars reads its thread count from the environment once, at first use.
        std::env::set_var("POLARS_MAX_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot start the thread pool")?;
    }
    let settings = scan_options(&args)?.check()?;
    let ingest_options = args.input.options(args.drop_invalid);
    let model_options = ModelOptions {
        kind: args.model.model,
        epochs: args.model.epochs,
        batch_size: args.model.batch_size,
        lr: args.model.lr,
        folds: args.model.folds,
        device: args.model.device,
        seed: settings.seed,
        ..ModelOptions::default()
    }
    .check()?;
    // A device this build cannot use is an error whether or not a model
    // ends up trained.
    args.model.device.device()?;
    if args.model.save_embeddings.is_some() && args.model.model == ModelKind::None {
        bail!("--save-embeddings needs a model; it cannot be used with --model none");
    }
    // `-`: standard input, kept in a temporary file while the scan reads it
    let (inputs, stdin_copy) = with_stdin(&args.inputs)?;
    // Outputs are checked before any work: never an input, writable.
    let read = if args.demo {
        Vec::new()
    } else {
        guard::read_paths(&poisonscan::ingest::expand_inputs(&inputs)?)
    };
    let scores_name = format!("scores.{}", args.scores_format.extension());
    if let Some(path) = &args.shard_out {
        guard::check_output_file("--shard-out", path, &read)?;
        guard::check_writable_file("--shard-out", path)?;
        guard::check_parquet_name("--shard-out", path)?;
    }
    let out_files = report::output_names(args.scores_format, args.report);
    let out_files: Vec<&str> = out_files.iter().map(String::as_str).collect();
    guard::check_output_dir("--out", &args.out, &out_files, &read)?;
    guard::check_writable_dir("--out", &args.out)?;
    if let Some(path) = &args.model.save_embeddings {
        guard::check_output_file("--save-embeddings", path, &read)?;
        guard::check_writable_file("--save-embeddings", path)?;
        guard::check_parquet_name("--save-embeddings", path)?;
        if guard::same_path(path, &args.out.join(&scores_name)) {
            bail!(
                "--save-embeddings {}: that is where the scores go; choose another path",
                path.display()
            );
        }
    }
    let spinner = Spinner::new(args.quiet);
    let outcome = if args.demo {
        spinner.stage("read");
        let start = std::time::Instant::now();
        let (ds, _truth) = poisonscan::redteam::demo(settings.seed);
        let ingest = start.elapsed().as_secs_f64();
        pipeline::scan_loaded(ds, ingest, &model_options, &settings, &spinner)
            .map_err(anyhow::Error::from)
    } else {
        pipeline::run(
            &inputs,
            &ingest_options,
            &model_options,
            &settings,
            &spinner,
        )
        .map_err(anyhow::Error::from)
    };
    let (mut ds, report) = match outcome {
        Ok(v) => v,
        Err(e) => {
            spinner.finish();
            return Err(naming_stdin(e, stdin_copy.as_ref()));
        }
    };
    stdin_as_dash(&mut ds.sources, stdin_copy.as_ref());
    spinner.stage("write");
    if let Some(path) = &args.shard_out {
        let batch = poisonscan::shard::partial_batch(&ds, &report, &settings);
        poisonscan::shard::write_partial(path, &batch)
            .with_context(|| format!("cannot write {}", path.display()))?;
        spinner.finish();
        if !args.quiet {
            printed(writeln!(
                std::io::stdout().lock(),
                "wrote the partial of {} rows to {}; `poisonscan merge` gives the verdict",
                ds.n_rows(),
                path.display()
            ))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let (Some(path), Some(_)) = (&args.model.save_embeddings, &report.model) {
        let probs = ds.probs.as_deref().unwrap_or(&[]);
        let batch = report::embeddings_batch(&ds, &ds.features, ds.n_features, probs);
        report::write_parquet(path, &batch)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let run = RunInfo {
        inputs: if args.demo {
            vec!["--demo".into()]
        } else {
            args.inputs.clone()
        },
        options: serde_json::json!({
            "ingest": ingest_options,
            "scores_format": args.scores_format,
            "no_fail": args.no_fail,
        }),
    };
    let html = args.report.then_some(report::html::ReportOptions {
        max_rows: args.report_max_rows as usize,
    });
    let written = report::write_scan(
        &args.out,
        &ds,
        &report,
        &settings,
        &run,
        args.scores_format,
        html,
    )
    .context("cannot write the results")?;
    spinner.finish();
    if !args.quiet {
        printed(report::print_summary(
            &mut std::io::stdout().lock(),
            &ds,
            &report,
            Some(&written),
        ))?;
    }
    Ok(gate_exit(report.fused.verdict, args.no_fail))
}

/// The inputs with `-` replaced by a temporary file holding standard input
/// (a pipeline's download, `curl … | poisonscan scan -`), and the folder
/// that keeps it until the scan is done. Its format is told from its first
/// bytes, as for any file without a known extension; messages name it
/// `stdin`.
fn with_stdin(inputs: &[String]) -> Result<(Vec<String>, Option<StdinCopy>)> {
    let dashes = inputs.iter().filter(|i| *i == "-").count();
    if dashes == 0 {
        return Ok((inputs.to_vec(), None));
    }
    if dashes > 1 {
        bail!("`-` (standard input) is given {dashes} times; it can be read once");
    }
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        bail!(
            "`-` reads the data from standard input, but that is a terminal: pipe a file in \
             (`cat train.parquet | poisonscan scan -`) or name the file"
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("poisonscan-stdin")
        .tempdir()
        .context("cannot make a temporary folder for standard input")?;
    let path = dir.path().join("stdin");
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let bytes =
        std::io::copy(&mut stdin.lock(), &mut file).context("cannot read standard input")?;
    if bytes == 0 {
        bail!("standard input (`-`) is empty");
    }
    let name = path.to_string_lossy().into_owned();
    let inputs = inputs
        .iter()
        .map(|i| if i == "-" { name.clone() } else { i.clone() })
        .collect();
    Ok((inputs, Some(StdinCopy { _dir: dir, path })))
}

/// Standard input's temporary copy (see [`with_stdin`]): the file, and the
/// folder that holds it until the command is done.
struct StdinCopy {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

/// An error whose message names standard input's temporary copy (see
/// [`with_stdin`]), naming `stdin` instead.
fn naming_stdin(e: anyhow::Error, copy: Option<&StdinCopy>) -> anyhow::Error {
    match copy {
        Some(copy) => {
            let path = copy.path.to_string_lossy();
            anyhow::anyhow!("{}", format!("{e:#}").replace(path.as_ref(), "stdin"))
        }
        None => e,
    }
}

/// The source files read, with standard input's temporary copy listed as
/// `-`, as it was given.
fn stdin_as_dash(sources: &mut [poisonscan::ingest::SourceFile], copy: Option<&StdinCopy>) {
    if let Some(copy) = copy {
        for source in sources.iter_mut().filter(|s| s.path == copy.path) {
            source.path = "-".into();
        }
    }
}

/// The exit code of a finished scan: 1 when the gate fails (unless
/// `--no-fail`), else 0.
fn gate_exit(verdict: Verdict, no_fail: bool) -> ExitCode {
    match (verdict, no_fail) {
        (Verdict::Fail, false) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// `poisonscan merge`: the data set's scores and verdict from shard partials.
fn merge(args: MergeArgs) -> Result<ExitCode> {
    let paths = poisonscan::ingest::expand_inputs(&args.partials)?;
    let read = guard::read_paths(&paths);
    let out_files = report::output_names(args.scores_format, false);
    let out_files: Vec<&str> = out_files.iter().map(String::as_str).collect();
    guard::check_output_dir("--out", &args.out, &out_files, &read)?;
    guard::check_writable_dir("--out", &args.out)?;
    let parts = paths
        .iter()
        .map(|p| poisonscan::shard::read_partial(p))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = poisonscan::shard::merge(&parts)?;
    let settings = merged.settings;
    let run = RunInfo {
        inputs: paths.iter().map(|p| p.display().to_string()).collect(),
        options: serde_json::json!({
            "merge": true,
            "scores_format": args.scores_format,
            "no_fail": args.no_fail,
        }),
    };
    let written = report::write_scan(
        &args.out,
        &merged.ds,
        &merged.report,
        &settings,
        &run,
        args.scores_format,
        None,
    )
    .context("cannot write the results")?;
    if !args.quiet {
        printed(report::print_summary(
            &mut std::io::stdout().lock(),
            &merged.ds,
            &merged.report,
            Some(&written),
        ))?;
    }
    Ok(gate_exit(merged.report.fused.verdict, args.no_fail))
}

/// `poisonscan report DIR`: reads the finished scan and its input again
/// (checked unchanged) and writes `DIR/report.html`.
fn report_command(args: ReportArgs) -> Result<()> {
    let scan = report::read_finished_scan(&args.dir)
        .with_context(|| format!("cannot read the scan in {}", args.dir.display()))?;
    if scan.summary["options"]["merge"] == true {
        bail!(
            "{}: a merged sharded scan holds no features to show; write the report of a \
             shard's scan, or scan the data whole with --report",
            args.dir.display()
        );
    }
    let recorded: Vec<String> = scan.summary["inputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let ds = if args.inputs.is_empty() && recorded == ["--demo"] {
        let seed = scan.summary["settings"]["seed"].as_u64().unwrap_or(0);
        poisonscan::redteam::demo(seed).0
    } else {
        let inputs = if args.inputs.is_empty() {
            recorded
        } else {
            args.inputs.clone()
        };
        if inputs.is_empty() {
            bail!(
                "{}: the summary names no input; give it with --input",
                args.dir.display()
            );
        }
        if args.inputs.is_empty() && inputs.iter().any(|i| i == "-") {
            bail!(
                "{}: the scan read its data from standard input, which is gone; give the same \
                 data with --input FILE, or pipe it in again with --input -",
                args.dir.display()
            );
        }
        let (inputs, stdin_copy) = with_stdin(&inputs)?;
        let options: IngestOptions = serde_json::from_value(
            scan.summary["options"]["ingest"].clone(),
        )
        .with_context(|| {
            format!(
                "{}: the summary's ingest options are unreadable",
                args.dir.display()
            )
        })?;
        let mut ds = poisonscan::ingest::load(&inputs, &options)
            .map_err(|e| naming_stdin(e.into(), stdin_copy.as_ref()))?;
        stdin_as_dash(&mut ds.sources, stdin_copy.as_ref());
        ds
    };
    if let Err(why) = report::html::check_same_input(&scan.summary, &ds) {
        bail!(
            "{}: the input is not the one this scan read: {why}; give the original with --input",
            args.dir.display()
        );
    }
    let read = guard::read_paths(
        &ds.sources
            .iter()
            .map(|s| s.path.clone())
            .collect::<Vec<_>>(),
    );
    guard::check_output_dir("report", &args.dir, &[report::REPORT_FILE], &read)?;
    let options = report::html::ReportOptions {
        max_rows: args.report_max_rows as usize,
    };
    let path =
        report::write_report(&args.dir, &scan, &ds, options).context("cannot write the report")?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The `t10k-*` files beside an IDX `train-*` input.
fn default_test_input(inputs: &[String]) -> Option<String> {
    let [one] = inputs else { return None };
    let path = std::path::Path::new(one);
    let name = path.file_name()?.to_string_lossy().into_owned();
    let test = path.with_file_name(
        name.strip_prefix("train-")
            .map(|rest| format!("t10k-{rest}"))?,
    );
    test.exists().then(|| test.to_string_lossy().into_owned())
}

fn poison(args: PoisonArgs) -> Result<()> {
    let colour = match &args.patch_colour {
        None => None,
        Some(text) => {
            let parts: Vec<Option<f32>> = text.split(',').map(|v| v.trim().parse().ok()).collect();
            match parts[..] {
                [Some(r), Some(g), Some(b)]
                    if [r, g, b].iter().all(|v| (0.0..=1.0).contains(v)) =>
                {
                    Some([r, g, b])
                }
                _ => bail!(
                    "--patch-colour is `{text}`, but it takes red, green and blue from 0 to 1, \
                     between commas (`0.95,0.85,0.1`)"
                ),
            }
        }
    };
    let patch = Patch {
        size: args.patch_size,
        value: args.patch_value,
        colour,
        corner: args.patch_corner,
        margin: args.patch_margin,
        pattern: args.patch_pattern,
        seed: args.seed,
    };
    if !(args.strength > 0.0 && args.strength <= 8.0) {
        bail!(
            "--strength is {}, but it must be above 0 and at most 8 (pixels)",
            args.strength
        );
    }
    if !(2..=32).contains(&args.grid) {
        bail!("--grid is {}, but it must be from 2 to 32", args.grid);
    }
    if !(0.0..=1.0).contains(&args.patch_value) {
        bail!(
            "--patch-value is {}, but pixels are scaled to [0, 1]; give a value from 0 to 1",
            args.patch_value
        );
    }
    if args.patch_size == 0 {
        bail!("--patch-size must be at least 1");
    }
    if !(args.alpha > 0.0 && args.alpha <= 1.0) {
        bail!(
            "--alpha is {}, but it must be above 0 and at most 1",
            args.alpha
        );
    }
    let shift = match args.shift[..] {
        [dx, dy] if (dx, dy) != (0, 0) && dx.abs() <= 64 && dy.abs() <= 64 => (dx, dy),
        _ => bail!(
            "--shift is {:?}, but it must be two whole numbers of pixels, right and down, \
             from -64 to 64 and not both 0 (e.g. 3,0)",
            args.shift
        ),
    };
    let attack = match args.attack {
        AttackKind::Badnets => Attack::Badnets { patch },
        AttackKind::Blend => Attack::Blend { alpha: args.alpha },
        AttackKind::Warp => Attack::Warp {
            strength: args.strength,
            grid: args.grid,
        },
        AttackKind::Transform => Attack::Transform {
            transform: args.transform,
            shift,
        },
        AttackKind::Filter => Attack::Filter,
        AttackKind::LabelFlip => Attack::LabelFlip,
        AttackKind::CleanLabel => Attack::CleanLabel { patch },
        AttackKind::Sig => Attack::Sig {
            amplitude: args.amplitude,
            frequency: args.frequency,
        },
        AttackKind::ValueTrigger => Attack::ValueTrigger {
            columns: args.trigger_columns,
            common: args.trigger_values == TriggerValues::Common,
        },
        AttackKind::Text => Attack::Text {
            words: args.words.clone(),
        },
        AttackKind::None => Attack::None,
    };
    let options = args.input.options(args.drop_invalid);
    // `-`: standard input, kept in a temporary file while it is read
    let (inputs, stdin_copy) = with_stdin(&args.inputs)?;
    let mut read = guard::read_paths(&poisonscan::ingest::expand_inputs(&inputs)?);
    if let Some(t) = &args.test_input {
        read.extend(guard::read_paths(&poisonscan::ingest::expand_inputs(
            std::slice::from_ref(t),
        )?));
    }
    guard::check_output_file("--out", &args.out, &read)?;
    guard::check_writable_file("--out", &args.out)?;
    guard::check_parquet_name("--out", &args.out)?;
    if let Some(t) = &args.test_out {
        guard::check_output_file("--test-out", t, &read)?;
        guard::check_writable_file("--test-out", t)?;
        guard::check_parquet_name("--test-out", t)?;
        if guard::same_path(t, &args.out) {
            bail!(
                "--test-out {}: that is also --out; give the test split its own file",
                t.display()
            );
        }
    }
    let ds = poisonscan::ingest::load(&inputs, &options)
        .map_err(|e| naming_stdin(e.into(), stdin_copy.as_ref()))?;
    let plan = AttackPlan {
        attack,
        rate: args.rate,
        targets: args
            .target
            .iter()
            .map(|t| redteam::class_id(&ds, t, "--target"))
            .collect::<Result<Vec<_>, _>>()?,
        all_to_all: args.all_to_all,
        source: args
            .source
            .as_deref()
            .map(|t| redteam::class_id(&ds, t, "--source"))
            .transpose()?,
        seed: args.seed,
    };
    let attacked = redteam::attack_dataset(&ds, &plan)?;
    let plan_json = serde_json::to_string(&plan)?;
    let meta = vec![("poisonscan.attack".to_string(), plan_json.clone())];
    // The test split is read and checked before anything is written.
    let test = match &args.test_out {
        Some(out) => {
            let input = args
                .test_input
                .clone()
                .or_else(|| default_test_input(&args.inputs))
                .context(
                    "--test-out needs --test-input (found no t10k-* files beside the input)",
                )?;
            let test_ds = poisonscan::ingest::load(std::slice::from_ref(&input), &options)
                .with_context(|| format!("cannot read the test split {input}"))?;
            let triggered = redteam::trigger_test_split(&test_ds, &plan)?;
            Some((out.clone(), test_ds, triggered))
        }
        None => None,
    };
    // measured before anything is written: training takes minutes
    let success = match &test {
        Some((_, test_ds, t)) if args.attack_success => {
            let progress = Spinner::new(false);
            let success = redteam::attack_success(&ds, &attacked, test_ds, t, &plan, &progress)?;
            progress.finish();
            Some(success)
        }
        _ => None,
    };
    let poisoned = attacked.planted.poisoned.iter().filter(|&&p| p).count();
    let batch = report::poisoned_batch(
        &ds,
        attacked.features,
        attacked.text,
        &attacked.labels,
        &attacked.planted,
        attacked.shape,
        meta.clone(),
    );
    report::write_parquet(&args.out, &batch)?;
    let left_out = match ds.n_input_rows - ds.kept_rows.len() {
        0 => String::new(),
        d => format!(" of {}, {d} invalid left out", ds.n_input_rows),
    };
    eprintln!(
        "wrote {} ({} rows{left_out}, {poisoned} poisoned by {})",
        args.out.display(),
        ds.kept_rows.len(),
        plan.attack.name()
    );
    if let Some((out, test_ds, t)) = test {
        let mut meta = meta;
        if let Some(success) = success {
            eprintln!(
                "attack success: {:.1} % of {} triggered test rows predicted as {} \
                 (a model trained on the clean input: {:.1} %)",
                100.0 * success.poisoned,
                success.rows,
                plan.targets
                    .iter()
                    .map(|&c| ds.class_names[c as usize].as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                100.0 * success.clean
            );
            meta.push((
                "poisonscan.attack_success".to_string(),
                serde_json::to_string(&success)?,
            ));
        }
        let batch = report::poisoned_batch(
            &test_ds, t.features, t.text, &t.labels, &t.planted, t.shape, meta,
        );
        report::write_parquet(&out, &batch)?;
        let n = t.planted.poisoned.iter().filter(|&&p| p).count();
        eprintln!(
            "wrote {} ({} rows, {n} with the trigger)",
            out.display(),
            test_ds.n_input_rows
        );
    }
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    let e = poisonscan::eval::evaluate_files(
        &args.scores,
        &args.truth,
        &args.truth_column,
        &args.label,
    )?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let text = serde_json::to_string_pretty(&e)?;
        writeln!(out, "{text}")
    } else {
        report::print_evaluation(&mut out, &e)
    };
    printed(written)?;
    Ok(())
}
