//! The one error type of the crate, shared by stores, the session handle and
//! the request lifecycle.

use std::error::Error as StdError;

/// A boxed error from a store's own client library.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong with a session.
///
/// Match on [`Error::kind`] rather than on the message text: the kind is the
/// stable contract (the conformance kit asserts kinds, never messages).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The record does not exist (any more): it was never created, it
    /// expired, or it was deleted by a concurrent request.
    #[error("session record not found")]
    NotFound,

    /// `create` found the ID already taken, or a versioned `save` found that
    /// another request wrote the record first.
    #[error("session record conflict: {what}")]
    Conflict {
        /// Which conflict it was: `"id taken"` or `"version changed"`.
        what: &'static str,
    },

    /// Stored content could not be decoded. Core answers it with an empty
    /// session and one warning per record, and never deletes the record on
    /// a read; stores return it from `load`. Only content is corrupt: a
    /// database type or schema mismatch is [`Error::Backend`].
    #[error("stored session data is corrupt: {source}")]
    Corrupt {
        /// Why decoding failed.
        #[source]
        source: BoxError,
    },

    /// The store could not be reached (connection refused, timeout, pool
    /// exhausted, disk full). Adapters answer 503.
    #[error("session store unavailable: {source}")]
    Unavailable {
        /// The client library's error.
        #[source]
        source: BoxError,
    },

    /// Any other failure inside the store (permission, schema mismatch,
    /// protocol error).
    #[error("session store failed: {source}")]
    Backend {
        /// The client library's error.
        #[source]
        source: BoxError,
    },

    /// The store does not implement an optional operation.
    #[error("session store does not support `{operation}`")]
    Unsupported {
        /// The operation's name, e.g. `"touch"`.
        operation: &'static str,
    },

    /// A value could not be converted to or from JSON.
    #[error("session value for key could not be converted to or from JSON")]
    Value {
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// Application code tried to write a key reserved for core
    /// (`_session*`, `_auth*`).
    #[error("session key is reserved for session-core (`_session*`, `_auth*`)")]
    ReservedKey,

    /// The session's serialized data is larger than
    /// [`Config::with_max_session_size`](crate::Config::with_max_session_size)
    /// allows, or (signed-cookie engine) its `Set-Cookie` value would pass
    /// the 4096 bytes a browser keeps. Nothing was written; the stored
    /// session (or the browser's cookie) is as it was.
    #[error(
        "the session serializes to {size} bytes, more than the maximum of {limit} \
         (Config::with_max_session_size, or the 4096 bytes of Set-Cookie a browser keeps for \
         a signed-cookie session); store less in the session"
    )]
    TooLarge {
        /// The serialized size, in bytes (for a signed cookie, the whole
        /// `Set-Cookie` value).
        size: usize,
        /// The maximum, in bytes.
        limit: usize,
    },

    /// An expiry that no store and no cookie can represent: a date outside
    /// the years 1 to 9999, or a duration that overflows from now.
    #[error("session expiry out of range: {what}; expiries must fall within the years 1 to 9999")]
    ExpiryOutOfRange {
        /// What was out of range.
        what: &'static str,
    },

    /// The [`Config`](crate::Config) is invalid; see
    /// [`Config::validate`](crate::Config::validate).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// The session was deleted by a concurrent request (typically a logout)
    /// while this request was using it. Django answers 400
    /// (`SessionInterrupted`); so do the adapters.
    #[error(
        "the session was deleted before the request completed; \
         the user may have logged out in a concurrent request"
    )]
    Interrupted,
}

/// The category of an [`Error`], stable across releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::Conflict`].
    Conflict,
    /// See [`Error::Corrupt`].
    Corrupt,
    /// See [`Error::Unavailable`].
    Unavailable,
    /// See [`Error::Backend`].
    Backend,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::Value`].
    Value,
    /// See [`Error::ReservedKey`].
    ReservedKey,
    /// See [`Error::Interrupted`].
    Interrupted,
    /// See [`Error::TooLarge`].
    TooLarge,
    /// See [`Error::ExpiryOutOfRange`].
    ExpiryOutOfRange,
    /// See [`Error::Config`].
    Config,
}

impl Error {
    /// The error's category.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound => ErrorKind::NotFound,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Backend { .. } => ErrorKind::Backend,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Value { .. } => ErrorKind::Value,
            Error::ReservedKey => ErrorKind::ReservedKey,
            Error::Interrupted => ErrorKind::Interrupted,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::ExpiryOutOfRange { .. } => ErrorKind::ExpiryOutOfRange,
            Error::Config(_) => ErrorKind::Config,
        }
    }

    /// The HTTP status an adapter answers with when this error ends a
    /// request: 400 for [`Error::Interrupted`], 503 for
    /// [`Error::Unavailable`], 413 for [`Error::TooLarge`] (the request
    /// made the session grow past its limit), 500 for everything else.
    ///
    /// ```
    /// use session_core::Error;
    /// assert_eq!(Error::Interrupted.http_status(), 400);
    /// assert_eq!(Error::NotFound.http_status(), 500);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Interrupted => 400,
            Error::Unavailable { .. } => 503,
            Error::TooLarge { .. } => 413,
            _ => 500,
        }
    }

    /// A short message for the HTTP response body when this error ends a
    /// request: it names the failure without the details (host names,
    /// paths, SQL) that [`Display`](std::fmt::Display) gives for the log.
    ///
    /// ```
    /// use session_core::Error;
    /// let error = Error::unavailable("connection refused by 10.0.0.7:6379");
    /// assert_eq!(error.public_message(), "session store unavailable; try again later");
    /// assert!(error.to_string().contains("10.0.0.7:6379"));
    /// ```
    pub fn public_message(&self) -> &'static str {
        match self {
            Error::Interrupted => {
                "the session was ended by another request (a logout?); reload the page"
            }
            Error::Unavailable { .. } => "session store unavailable; try again later",
            Error::TooLarge { .. } => "the session grew too large",
            _ => "session error",
        }
    }

    /// This error and every cause under it, joined with `": "`, for a log
    /// line that says what to check. Causes that repeat their parent's
    /// message are skipped.
    ///
    /// ```
    /// use session_core::Error;
    /// let error = Error::backend(std::io::Error::other("permission denied"));
    /// assert_eq!(error.report(), "session store failed: permission denied");
    /// ```
    pub fn report(&self) -> String {
        report(self)
    }

    /// Logs this error as the cause of an error response, at `error`, with
    /// its kind, status and whole cause chain. Adapters call it where they
    /// turn the error into [`Error::http_status`] and
    /// [`Error::public_message`].
    pub fn log_response(&self) {
        tracing::error!(
            kind = ?self.kind(),
            status = self.http_status(),
            error = %self.report(),
            "session error"
        );
    }

    /// Logs a failed store call at `warn`, on the `session_core::store`
    /// target, with its kind and whole cause chain, so the log says what to
    /// check. Store errors never carry a session ID.
    pub(crate) fn log_store_failure(&self, operation: &'static str) {
        tracing::warn!(
            target: "session_core::store",
            operation,
            kind = ?self.kind(),
            error = %self.report(),
            "session store call failed"
        );
    }

    /// A `Conflict` for an ID that is already taken (`create`).
    pub fn id_taken() -> Self {
        Error::Conflict { what: "id taken" }
    }

    /// A `Conflict` for a versioned save that lost the race.
    pub fn version_changed() -> Self {
        Error::Conflict {
            what: "version changed",
        }
    }

    /// Wraps a client error as [`Error::Unavailable`].
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Error::Unavailable {
            source: source.into(),
        }
    }

    /// Wraps a client error as [`Error::Backend`].
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Error::Backend {
            source: source.into(),
        }
    }

    /// Wraps a decoding error as [`Error::Corrupt`].
    pub fn corrupt(source: impl Into<BoxError>) -> Self {
        Error::Corrupt {
            source: source.into(),
        }
    }
}

/// Any error and every cause under it, joined with `": "`, skipping a cause
/// whose message is already in the text (error types whose `Display`
/// includes their source, as [`Error`]'s variants do, would otherwise say
/// everything twice). [`Error::report`] is this for session errors; it
/// serves as well for the boxed errors of a store's or a kit's own.
///
/// ```
/// let refused = std::io::Error::other("connection refused");
/// assert_eq!(session_core::error::report(&refused), "connection refused");
/// ```
pub fn report(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let message = error.to_string();
        if !out.contains(&message) {
            out.push_str(": ");
            out.push_str(&message);
        }
        cause = error.source();
    }
    out
}

impl From<serde_json::Error> for Error {
    fn from(source: serde_json::Error) -> Self {
        Error::Value { source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_django() {
        assert_eq!(Error::Interrupted.http_status(), 400);
        assert_eq!(Error::unavailable("down").http_status(), 503);
        assert_eq!(Error::backend("boom").http_status(), 500);
        assert_eq!(Error::id_taken().kind(), ErrorKind::Conflict);
    }
}
