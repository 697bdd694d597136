//! The `poisonscan` command line: parses arguments, calls the library, maps
//! the outcome to an exit code (0 pass, 1 poisoning suspected, 2 error).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use poisonscan::fuse::Verdict;
use poisonscan::ingest::{IngestOptions, InputFormat, TableOptions};
use poisonscan::pipeline::{self, Progress};
use poisonscan::report::{self, progress::Spinner, RunInfo, ScoresFormat};
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
  poisonscan scan --demo                          (embedded digits with a planted backdoor)

Exit codes: 0 the data set passes, 1 poisoning suspected (the gate fails), 2 error.";

#[derive(Args)]
struct ScanArgs {
    /// Input files, globs or one image folder
    #[arg(value_name = "INPUT", required_unless_present = "demo")]
    inputs: Vec<String>,
    /// Scan the embedded demo data set (digits with a planted BadNets patch)
    #[arg(long, conflicts_with = "inputs")]
    demo: bool,
    /// Output folder for scores and summary.json
    #[arg(long, short, default_value = "poisonscan-out")]
    out: PathBuf,
    /// Input format, if the names do not tell
    #[arg(long, value_parser = parse_format)]
    format: Option<InputFormat>,
    /// Label column (integers or strings)
    #[arg(long, default_value = "label")]
    label: String,
    /// Id column to carry to the output
    #[arg(long)]
    id: Option<String>,
    /// Embedding column: a list or array of numbers per row
    #[arg(long, conflicts_with = "features")]
    embedding: Option<String>,
    /// Numeric feature columns, comma-separated; globs like 'pix_*' allowed
    /// [default: every numeric column but label and id]
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// Scale every image to WIDTHxHEIGHT
    #[arg(long, value_parser = parse_size, value_name = "WxH")]
    resize: Option<(u32, u32)>,
    /// Skip rows with null, NaN or infinite features (counted in the summary)
    #[arg(long)]
    drop_invalid: bool,
    /// Scanners to run, by code or name, comma-separated [default: all]
    #[arg(long, value_delimiter = ',')]
    scanners: Vec<String>,
    /// Suspicion at or above which a row is evidence of poisoning and flagged
    #[arg(long, default_value_t = 0.99)]
    threshold: f64,
    /// Also flag this fraction of rows with the highest scores (a removal list; does not change the verdict)
    #[arg(long, value_name = "FRACTION")]
    budget: Option<f64>,
    /// Evidence rows that make a class fail
    #[arg(long, default_value_t = 3)]
    min_flagged: usize,
    /// Seed for every random choice
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads [default: all cores]
    #[arg(long)]
    threads: Option<usize>,
    /// Format of the scores file
    #[arg(long, value_enum, default_value_t = ScoresFormat::Parquet)]
    scores_format: ScoresFormat,
    /// Exit 0 whenever the scan completes, even if the gate fails
    #[arg(long)]
    no_fail: bool,
    /// No progress and no summary on the terminal
    #[arg(long, short)]
    quiet: bool,
}

fn parse_format(s: &str) -> Result<InputFormat, String> {
    InputFormat::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = InputFormat::ALL.iter().map(|f| f.name()).collect();
        format!("unknown format `{s}`; expected one of {}", names.join(", "))
    })
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan(args),
        Command::Scanners => list_scanners().map(|_| ExitCode::SUCCESS),
        Command::Explain { code } => explain(&code).map(|_| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn list_scanners() -> Result<()> {
    let mut out = std::io::stdout().lock();
    for s in SCANNERS {
        writeln!(out, "{}  {:<24} {}", s.code(), s.name(), s.summary())?;
    }
    Ok(())
}

fn explain(code: &str) -> Result<()> {
    let Some(s) = find_scanner(code) else {
        bail!("unknown scanner `{code}`; `poisonscan scanners` lists them");
    };
    print!("{}", s.doc());
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
    let settings = ScanOptions {
        threshold: args.threshold,
        budget: args.budget,
        min_flagged: args.min_flagged,
        seed: args.seed,
        scanners: args.scanners.clone(),
    }
    .check()?;
    let ingest_options = IngestOptions {
        format: args.format,
        table: TableOptions {
            label: args.label.clone(),
            id: args.id.clone(),
            embedding: args.embedding.clone(),
            features: args.features.clone(),
            drop_invalid: args.drop_invalid,
        },
        resize: args.resize,
    };
    let spinner = Spinner::new(args.quiet);
    let outcome = if args.demo {
        spinner.stage("read");
        let start = std::time::Instant::now();
        let (ds, _truth) = poisonscan::redteam::demo(args.seed);
        let ingest = start.elapsed().as_secs_f64();
        pipeline::scan_dataset(&ds, &settings, &spinner)
            .map(|mut r| {
                r.timings.insert(0, ("ingest", ingest));
                (ds, r)
            })
            .map_err(anyhow::Error::from)
    } else {
        pipeline::run(&args.inputs, &ingest_options, &settings, &spinner)
            .map_err(anyhow::Error::from)
    };
    let (ds, report) = match outcome {
        Ok(v) => v,
        Err(e) => {
            spinner.finish();
            return Err(e);
        }
    };
    spinner.stage("write");
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
    let written = report::write_scan(&args.out, &ds, &report, &settings, &run, args.scores_format)
        .context("cannot write the results")?;
    spinner.finish();
    if !args.quiet {
        report::print_summary(&mut std::io::stdout().lock(), &ds, &report, Some(&written))?;
    }
    Ok(match (report.fused.verdict, args.no_fail) {
        (Verdict::Fail, false) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}
