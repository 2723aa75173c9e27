//! How long a store waits, and how many connections it opens.

use std::time::Duration;

use crate::error::PgError;

/// Timeouts and pool size of a [`PostgresStore`](crate::PostgresStore).
///
/// Every store call is bounded: at most `acquire_timeout` to get a
/// connection (opening one included, whose TCP connection itself gets at
/// most `connect_timeout`), then at most `statement_timeout` for its
/// statements: one per call, or two for a `save` that finds nothing to
/// update, both within the one deadline. A call answers within
/// `acquire_timeout + statement_timeout` (10 s with the defaults), whatever
/// the server does. ([`clear_expired_in_batches`] gives each batch a
/// statement timeout of its own.)
/// A connection the server refuses fails at once, whatever the timeouts.
///
/// | setting | default | bounds |
/// |---|---|---|
/// | [`connect_timeout`](Self::with_connect_timeout) | 3 s | opening one TCP connection to the server |
/// | [`acquire_timeout`](Self::with_acquire_timeout) | 5 s | getting a connection from the pool, opening one (TCP, TLS, authentication) included |
/// | [`statement_timeout`](Self::with_statement_timeout) | 5 s | the statements of one call, from sending the first to the last row of the last |
/// | [`max_connections`](Self::with_max_connections) | 10 | connections the pool keeps open at most |
///
/// ```
/// use std::time::Duration;
/// use session_store_postgres::PostgresOptions;
///
/// let options = PostgresOptions::default();
/// assert_eq!(options.connect_timeout(), Duration::from_secs(3));
/// assert_eq!(options.acquire_timeout(), Duration::from_secs(5));
/// assert_eq!(options.statement_timeout(), Duration::from_secs(5));
/// assert_eq!(options.max_connections(), 10);
///
/// let tight = PostgresOptions::default()
///     .with_acquire_timeout(Duration::from_secs(1))
///     .with_statement_timeout(Duration::from_millis(500));
/// assert_eq!(tight.statement_timeout(), Duration::from_millis(500));
/// ```
///
/// [`clear_expired_in_batches`]: crate::PostgresStore::clear_expired_in_batches
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    connect_timeout: Duration,
    acquire_timeout: Duration,
    statement_timeout: Duration,
    max_connections: u32,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl PostgresOptions {
    /// Default of [`with_connect_timeout`](Self::with_connect_timeout): 3 s.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
    /// Default of [`with_acquire_timeout`](Self::with_acquire_timeout): 5 s.
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default of [`with_statement_timeout`](Self::with_statement_timeout): 5 s.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default of [`with_max_connections`](Self::with_max_connections): 10.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

    /// The defaults: see the table above.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long opening one TCP connection to the server may take (a host
    /// that drops packets, a firewall). A connection the server refuses
    /// fails at once instead. Default: 3 s.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a call waits for a connection from the pool, opening one
    /// included (TCP, TLS, authentication): a server that accepts but does
    /// not answer, or a pool whose connections all stay busy, fails the
    /// call after this. Default: 5 s.
    #[must_use]
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long the statements of one call may take. The store gives up
    /// after this (and closes the connection, whose state it no longer
    /// knows); the connections the store opens also carry nine tenths of
    /// it as PostgreSQL's `statement_timeout`, so that the server itself
    /// cancels a slow statement first and the connection stays usable. A
    /// store built on a pool of yours ([`PostgresStore::from_pool`]) keeps
    /// the client-side deadline only. Default: 5 s.
    ///
    /// [`PostgresStore::from_pool`]: crate::PostgresStore::from_pool
    #[must_use]
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// How many connections the pool keeps open at most. Default: 10.
    #[must_use]
    pub fn with_max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections;
        self
    }

    /// See [`with_connect_timeout`](Self::with_connect_timeout).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// See [`with_acquire_timeout`](Self::with_acquire_timeout).
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// See [`with_statement_timeout`](Self::with_statement_timeout).
    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// See [`with_max_connections`](Self::with_max_connections).
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// The server-side `statement_timeout`, in whole milliseconds: nine
    /// tenths of the client's deadline, at least 1 ms.
    pub(crate) fn server_statement_timeout_ms(&self) -> u128 {
        (self.statement_timeout.as_millis() * 9 / 10).max(1)
    }

    /// Refuses settings that would fail every call.
    pub(crate) fn check(&self) -> Result<(), PgError> {
        for (setting, value) in [
            ("connect_timeout", self.connect_timeout),
            ("acquire_timeout", self.acquire_timeout),
            ("statement_timeout", self.statement_timeout),
        ] {
            if value < Duration::from_millis(1) {
                return Err(PgError::ZeroTimeout { setting });
            }
        }
        if self.max_connections == 0 {
            return Err(PgError::ZeroConnections);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let options = PostgresOptions::new();
        assert_eq!(options.connect_timeout(), Duration::from_secs(3));
        assert_eq!(options.acquire_timeout(), Duration::from_secs(5));
        assert_eq!(options.statement_timeout(), Duration::from_secs(5));
        assert_eq!(options.max_connections(), 10);
        assert_eq!(options.server_statement_timeout_ms(), 4_500);
        assert!(options.check().is_ok());
    }

    #[test]
    fn settings_that_fail_every_call_are_refused() {
        let zero = Duration::ZERO;
        for (options, needle) in [
            (
                PostgresOptions::new().with_connect_timeout(zero),
                "connect_timeout",
            ),
            (
                PostgresOptions::new().with_acquire_timeout(zero),
                "acquire_timeout",
            ),
            (
                PostgresOptions::new().with_statement_timeout(Duration::from_micros(999)),
                "statement_timeout",
            ),
            (
                PostgresOptions::new().with_max_connections(0),
                "max_connections",
            ),
        ] {
            let message = options
                .check()
                .map(|()| String::new())
                .unwrap_or_else(|e| e.to_string());
            assert!(message.contains(needle), "{options:?}: {message:?}");
        }
        assert_eq!(
            PostgresOptions::new()
                .with_statement_timeout(Duration::from_millis(1))
                .server_statement_timeout_ms(),
            1
        );
    }
}
