//! Scan settings: the user's options (command line today, `poisonscan.toml`
//! later) checked once into the settings the pipeline uses. Every problem is
//! reported at once, each naming the option and its allowed range.

use poisonscan_scanners::{find_scanner, Scanner, SCANNERS};
use serde::Serialize;
use thiserror::Error;

/// Options as the user gave them, before checking.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Suspicion at or above which a row counts as evidence and is flagged.
    pub threshold: f64,
    /// Also flag this fraction of rows with the highest scores (removal list).
    pub budget: Option<f64>,
    /// Rows of a class at or above the threshold that fail the class.
    pub min_flagged: usize,
    /// Seed for every random choice.
    pub seed: u64,
    /// Scanner codes or names; empty for all.
    pub scanners: Vec<String>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            threshold: 0.99,
            budget: None,
            min_flagged: 3,
            seed: 0,
            scanners: Vec::new(),
        }
    }
}

/// Checked settings.
#[derive(Clone, Serialize)]
pub struct ScanSettings {
    /// In (0, 1).
    pub threshold: f64,
    /// In (0, 0.5].
    pub budget: Option<f64>,
    /// At least 1.
    pub min_flagged: usize,
    /// Any.
    pub seed: u64,
    /// Scanners to run, in table order.
    #[serde(serialize_with = "scanner_names")]
    pub scanners: Vec<&'static dyn Scanner>,
}

impl std::fmt::Debug for ScanSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanSettings")
            .field("threshold", &self.threshold)
            .field("budget", &self.budget)
            .field("min_flagged", &self.min_flagged)
            .field("seed", &self.seed)
            .field(
                "scanners",
                &self.scanners.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn scanner_names<S: serde::Serializer>(
    v: &[&'static dyn Scanner],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.name()))
}

/// Every problem found in the options.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("invalid options:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
pub struct SettingsError(pub Vec<String>);

impl ScanOptions {
    /// Checks every option, reporting all problems together.
    pub fn check(&self) -> Result<ScanSettings, SettingsError> {
        let mut errors = Vec::new();
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            errors.push(format!(
                "--threshold is {}, but it must be above 0 and below 1",
                self.threshold
            ));
        }
        if let Some(b) = self.budget {
            if !(b > 0.0 && b <= 0.5) {
                errors.push(format!(
                    "--budget is {b}, but it must be above 0 and at most 0.5"
                ));
            }
        }
        if self.min_flagged == 0 {
            errors.push("--min-flagged is 0, but it must be at least 1".into());
        }
        let mut scanners: Vec<&'static dyn Scanner> = Vec::new();
        for key in &self.scanners {
            match find_scanner(key) {
                Some(s) if !scanners.iter().any(|t| t.code() == s.code()) => scanners.push(s),
                Some(_) => {}
                None => errors.push(format!(
                    "--scanners: unknown scanner `{key}`; known: {}",
                    SCANNERS
                        .iter()
                        .map(|s| format!("{} ({})", s.name(), s.code()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        if self.scanners.is_empty() {
            scanners = SCANNERS.to_vec();
        }
        scanners.sort_by_key(|s| s.code());
        if !errors.is_empty() {
            return Err(SettingsError(errors));
        }
        Ok(ScanSettings {
            threshold: self.threshold,
            budget: self.budget,
            min_flagged: self.min_flagged,
            seed: self.seed,
            scanners,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = ScanOptions::default().check().unwrap();
        assert_eq!(s.scanners.len(), SCANNERS.len());
    }

    #[test]
    fn all_errors_reported_at_once() {
        let o = ScanOptions {
            threshold: 1.5,
            budget: Some(0.9),
            min_flagged: 0,
            scanners: vec!["nope".into()],
            ..Default::default()
        };
        let e = o.check().unwrap_err();
        assert_eq!(e.0.len(), 4, "{e}");
        assert!(e.to_string().contains("--threshold is 1.5"));
    }
}
