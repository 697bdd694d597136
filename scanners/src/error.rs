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
