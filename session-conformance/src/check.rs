//! How a case says it failed.

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
/// source chain ([`session_core::Error::report`]).
impl From<session_core::Error> for Failure {
    fn from(error: session_core::Error) -> Self {
        Failure::new(format!(
            "unexpected error (kind {:?}): {}",
            error.kind(),
            error.report()
        ))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose `Display` includes its source, as `thiserror`'s
    /// `#[error("...: {source}")]` does.
    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "cannot connect to 127.0.0.1:1: {}", self.0)
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chains_say_each_cause_once() {
        let refused = std::io::Error::other("connection refused");
        assert_eq!(
            session_core::error::report(&Wrapper(refused)),
            "cannot connect to 127.0.0.1:1: connection refused"
        );
        let error = session_core::Error::backend(std::io::Error::other("disk full"));
        assert_eq!(session_core::error::report(&error), error.report());
    }
}
