//! Errors of the scanners: invalid hyper-parameters and bad input shapes.

use thiserror::Error;

/// A hyper-parameter outside its allowed range.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParamError {
    /// A value outside the allowed range; names the option and the range.
    #[error("option `{option}` is {value}, but it must be {allowed}")]
    OutOfRange {
        /// The option's name as users write it.
        option: &'static str,
        /// The value given.
        value: String,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// An option the scanner does not have.
    #[error("unknown option `{option}`; known: {known}")]
    Unknown {
        /// `scanner.option` as given.
        option: String,
        /// The scanner's options.
        known: String,
    },
    /// A value that does not parse.
    #[error("option `{option}` is `{value}`, but it must be {expected}")]
    BadValue {
        /// `scanner.option`.
        option: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

impl ParamError {
    /// An option that the scanner does not have.
    pub fn unknown(scanner: &str, option: &str, known: &[&str]) -> Self {
        ParamError::Unknown {
            option: format!("{scanner}.{option}"),
            known: known
                .iter()
                .map(|k| format!("{scanner}.{k}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// `Ok` when `ok`, else the out-of-range error naming `option`, the value
/// given and the allowed range.
pub(crate) fn ensure(
    ok: bool,
    option: &'static str,
    value: impl ToString,
    allowed: &'static str,
) -> Result<(), ParamError> {
    if ok {
        Ok(())
    } else {
        Err(ParamError::OutOfRange {
            option,
            value: value.to_string(),
            allowed,
        })
    }
}

/// Parses an option's value, naming the option when it does not parse.
pub(crate) fn parse_value<T: std::str::FromStr>(
    scanner: &str,
    option: &str,
    value: &str,
    expected: &'static str,
) -> Result<T, ParamError> {
    value.trim().parse().map_err(|_| ParamError::BadValue {
        option: format!("{scanner}.{option}"),
        value: value.to_string(),
        expected,
    })
}

/// A scan that could not run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScanError {
    /// Invalid hyper-parameters.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// Features and labels that do not fit together.
    #[error("bad scanner input: {0}")]
    Shape(String),
}
