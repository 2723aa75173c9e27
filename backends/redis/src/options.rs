//! How long the store waits, and how it reconnects.

use std::time::Duration;

use crate::error::RedisError;

/// How a [`RedisStore`](crate::RedisStore) connects, how long it waits for
/// Redis and how it reconnects; give it to
/// [`RedisStore::connect_with`](crate::RedisStore::connect_with).
///
/// | setting | default | what it bounds |
/// |---|---|---|
/// | [connect timeout](RedisOptions::with_connect_timeout) | 2 s | the whole of `connect`, and each connection's TCP connect, TLS and handshake (AUTH, SELECT, PING), reconnections included |
/// | [command timeout](RedisOptions::with_command_timeout) | 2 s | each command, from sending it to its reply |
/// | [reconnect backoff](RedisOptions::with_reconnect_backoff) | 100 ms doubling to 1 s, forever | the wait between attempts to reconnect a lost connection |
/// | [pool size](RedisOptions::with_pool_size) | 4 | connections, used round robin |
///
/// Whatever the settings, a command sent while the store has no
/// connection fails at once with [`Error::Unavailable`] (fred's per-command
/// `fail_fast`), so a refused or lost server costs a request nothing but
/// the error; only a server that accepts and does not answer makes a
/// request wait, for the command timeout.
///
/// ```
/// use std::time::Duration;
/// use session_store_redis::RedisOptions;
///
/// let options = RedisOptions::default();
/// assert_eq!(options.connect_timeout(), Duration::from_secs(2));
/// assert_eq!(options.command_timeout(), Duration::from_secs(2));
/// assert_eq!(
///     options.reconnect_backoff(),
///     (Duration::from_millis(100), Duration::from_secs(1))
/// );
/// assert_eq!(options.pool_size(), 4);
///
/// let patient = options.with_command_timeout(Duration::from_secs(10));
/// assert_eq!(patient.command_timeout(), Duration::from_secs(10));
/// ```
///
/// [`Error::Unavailable`]: session_core::Error::Unavailable
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    connect_timeout: Duration,
    command_timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    pool_size: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            command_timeout: Self::DEFAULT_COMMAND_TIMEOUT,
            reconnect_min: Self::DEFAULT_RECONNECT_MIN,
            reconnect_max: Self::DEFAULT_RECONNECT_MAX,
            pool_size: Self::DEFAULT_POOL_SIZE,
        }
    }
}

impl RedisOptions {
    /// The default connect timeout: 2 s.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    /// The default command timeout: 2 s.
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
    /// The default first wait before reconnecting: 100 ms.
    pub const DEFAULT_RECONNECT_MIN: Duration = Duration::from_millis(100);
    /// The default longest wait between reconnection attempts: 1 s.
    pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(1);
    /// The default number of connections: 4.
    pub const DEFAULT_POOL_SIZE: usize = 4;

    /// How long `connect` may take in all, and how long each (re)connection
    /// may take to connect, negotiate TLS and finish its handshake (AUTH,
    /// SELECT, PING) before it counts as failed. Default: 2 s.
    ///
    /// A refused connection fails at once, whatever this is; this bounds a
    /// server that accepts and never answers, or a host that drops packets.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a command may wait for its reply before it fails with
    /// [`Error::Unavailable`](session_core::Error::Unavailable). Default: 2 s.
    ///
    /// # Warning
    ///
    /// A command that timed out may still have run on the server (a save
    /// that was applied just after the deadline): the store cannot cancel
    /// a command once it is written.
    #[must_use]
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// How long a lost connection waits before each reconnection attempt:
    /// `min` first, doubling up to `max`, forever (plus up to 100 ms of
    /// jitter). Default: 100 ms to 1 s.
    ///
    /// `max` is also how long the store may keep failing after Redis is
    /// back: commands fail fast until a connection is up again.
    #[must_use]
    pub fn with_reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min;
        self.reconnect_max = max;
        self
    }

    /// How many connections the store keeps. Default: 4.
    #[must_use]
    pub fn with_pool_size(mut self, connections: usize) -> Self {
        self.pool_size = connections;
        self
    }

    /// See [`RedisOptions::with_connect_timeout`].
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// See [`RedisOptions::with_command_timeout`].
    pub fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// `(min, max)`, see [`RedisOptions::with_reconnect_backoff`].
    pub fn reconnect_backoff(&self) -> (Duration, Duration) {
        (self.reconnect_min, self.reconnect_max)
    }

    /// See [`RedisOptions::with_pool_size`].
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// Refuses settings that would leave a wait unbounded or that fred
    /// cannot hold (its reconnect delays are whole milliseconds in a `u32`).
    pub(crate) fn check(&self) -> Result<(), RedisError> {
        let max_ms = Duration::from_millis(u64::from(u32::MAX));
        if self.connect_timeout.is_zero() || self.command_timeout.is_zero() {
            return Err(RedisError::BadOption(
                "a timeout of zero would mean no deadline at all; give a positive duration",
            ));
        }
        if self.connect_timeout > max_ms || self.command_timeout > max_ms {
            return Err(RedisError::BadOption(
                "a timeout must be at most u32::MAX milliseconds (about 49 days)",
            ));
        }
        if self.reconnect_min.is_zero() || self.reconnect_min > self.reconnect_max {
            return Err(RedisError::BadOption(
                "the reconnect backoff needs 0 < min <= max",
            ));
        }
        if self.reconnect_max > max_ms {
            return Err(RedisError::BadOption(
                "the longest reconnect wait must be at most u32::MAX milliseconds",
            ));
        }
        if self.pool_size == 0 {
            return Err(RedisError::BadOption(
                "the pool needs at least 1 connection",
            ));
        }
        Ok(())
    }
}

/// Whole milliseconds, for fred's `u32` delays; [`RedisOptions::check`]
/// keeps them in range.
pub(crate) fn millis_u32(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones_and_valid() {
        let options = RedisOptions::default();
        assert_eq!(options.connect_timeout(), Duration::from_secs(2));
        assert_eq!(options.command_timeout(), Duration::from_secs(2));
        assert_eq!(
            options.reconnect_backoff(),
            (Duration::from_millis(100), Duration::from_secs(1))
        );
        assert_eq!(options.pool_size(), 4);
        assert!(options.check().is_ok());
    }

    #[test]
    fn settings_without_a_bound_are_refused() {
        let zero = Duration::ZERO;
        let second = Duration::from_secs(1);
        for (options, words) in [
            (RedisOptions::default().with_connect_timeout(zero), "zero"),
            (RedisOptions::default().with_command_timeout(zero), "zero"),
            (
                RedisOptions::default().with_command_timeout(Duration::from_secs(u64::MAX)),
                "u32::MAX",
            ),
            (
                RedisOptions::default().with_reconnect_backoff(second * 2, second),
                "min <= max",
            ),
            (
                RedisOptions::default().with_reconnect_backoff(zero, second),
                "0 < min",
            ),
            (RedisOptions::default().with_pool_size(0), "at least 1"),
        ] {
            let err = options.check().unwrap_err().to_string();
            assert!(err.contains(words), "{options:?}: {err}");
        }
    }
}
