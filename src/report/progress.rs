//! Progress on stderr: a spinner naming the running stage, shown only when
//! stderr is a terminal and `--quiet` is off.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::Progress;

/// A spinner on stderr.
pub struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    /// A spinner, hidden when `quiet` or when stderr is not a terminal.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg} {prefix}")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Spinner {
    fn stage(&self, name: &str) {
        self.bar.set_message(name.to_string());
        self.bar.set_prefix("");
    }

    fn steps(&self, done: u64, total: u64) {
        self.bar.set_prefix(format!("{done}/{total}"));
    }
}
