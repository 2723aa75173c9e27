//! How a case says it failed.

use std::error::Error as StdError;
use std::fmt;

/// Why a case failed: which requirement broke, with the values seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    message: String,
}

impl Failure {
    /// A failure with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error a case did not expect: reported with its kind and its whole
/// source chain.
impl From<session_core::Error> for Failure {
    fn from(error: session_core::Error) -> Self {
        Failure::new(format!(
            "unexpected error (kind {:?}): {}",
            error.kind(),
            chain(&error)
        ))
    }
}

/// `error` and its sources, joined by `: `.
pub(crate) fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The result of one case.
pub type CaseResult = Result<(), Failure>;

/// Fails the case with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return ::std::result::Result::Err($crate::Failure::new(format!($($fmt)+)));
        }
    };
}

/// Fails the case unless `left == right`, saying what was compared and
/// both values.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return ::std::result::Result::Err($crate::Failure::new(format!(
                        "{}\n  expected: {:?}\n     found: {:?}",
                        format!($($fmt)+),
                        right,
                        left
                    )));
                }
            }
        }
    };
}
