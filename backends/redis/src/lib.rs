//! A [`SessionStore`] on Redis, through [fred](https://docs.rs/fred).
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use session_core::SessionManager;
//! use session_store_redis::RedisStore;
//!
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
//! let sessions = SessionManager::new(store);
//! # Ok(()) }
//! ```
//!
//! # What to expect
//!
//! - **Keys**: `{prefix}{{{id}}}`, e.g. `session:{k3…}` (default prefix
//!   `session:`, see [`RedisStore::with_prefix`]). The braces are a hash tag:
//!   in Redis Cluster every key of one session lands on one slot, so the
//!   scripts below stay atomic. The value is one JSON document
//!   ([`Record::encode`]: data, expiry, version).
//! - **Atomicity**: `create` is `SET NX PXAT` (exactly one of concurrent
//!   creates wins; the reply is checked). `save` is one Lua script that
//!   checks the key exists and the stored version matches, then
//!   `SET XX PXAT`: a session deleted by a concurrent logout is never
//!   revived, and concurrent saves of one version have one winner. `touch`
//!   is one script that moves the expiry without touching the data.
//! - **Expiry** is native and follows the one rule of every store: a
//!   record is live if and only if `now < expires_at`, `now` being the
//!   Redis server's clock in milliseconds. Redis counts a key as gone only
//!   once its clock is strictly past the key's `PXAT` deadline, so the
//!   store sets the deadline to the last live millisecond,
//!   `expires_at - 1 ms`: at exactly `expires_at` the key is gone for
//!   `load`, `save` and `touch` alike (the scripts read the key with that
//!   same rule). [`SessionStore::clear_expired`] has nothing to do (it
//!   returns 0). A record whose expiry has already passed gets a deadline
//!   in the past, so it is never loadable. The record's own `expires_at` is
//!   stored exactly in the document; only the key's deadline is shifted.
//!   `expires_at` is kept to the millisecond (sub-millisecond parts are
//!   dropped), and the server's clock decides, so keep it in sync with the
//!   application's.
//! - **Crash**: what Redis persists is what survives; with persistence off
//!   a restart logs everyone out.
//! - **Connection**: `redis://`, `redis-cluster://`, `redis-sentinel://`
//!   URLs; `rediss://` with the `tls` feature. Or bring your own fred
//!   [`Pool`] with [`RedisStore::new`].
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use fred::prelude::{
    ClientLike, Config, Error as FredError, ErrorKind as FredErrorKind, KeysInterface,
    LuaInterface, Pool, ReconnectPolicy,
};
use fred::types::{Builder, Expiration, SetOptions};
use session_core::{
    Capabilities, Error, Record, SessionId, SessionStore, async_trait, time::OffsetDateTime,
};

/// Checks the key exists and holds `ARGV[2]` as its version, then writes
/// `ARGV[1]` with the key deadline `ARGV[3]` (ms, see [`deadline`]). 1
/// written, 0 gone (or not a session document: nothing to update), -1
/// another version.
///
/// The scripts read the version and expiry from the head of the document
/// [`Record::encode`] writes, `{"exp":MS,"ver":N,"data":..}`, instead of
/// decoding up to a mebibyte of JSON inside Redis; a unit test pins that
/// shape.
const SAVE: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local version = string.match(current, '^{"exp":%-?%d+,"ver":(%d+),')
if not version then return 0 end
if version ~= ARGV[2] then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'XX', 'PXAT', ARGV[3])
return 1
"#;

/// Writes the record's expiry `ARGV[1]` (ms) into the stored document and
/// gives the key the deadline `ARGV[2]` (ms, see [`deadline`]). 1 done, 0
/// gone.
///
/// `ARGV[1]` is digits with an optional sign, so it cannot carry a `%`
/// that `gsub` would read as a capture reference.
const TOUCH: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local moved = string.gsub(current, '^{"exp":%-?%d+,', '{"exp":' .. ARGV[1] .. ',', 1)
redis.call('SET', KEYS[1], moved, 'XX', 'PXAT', ARGV[2])
return 1
"#;

/// Sessions in Redis.
#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn map_error(error: FredError) -> Error {
    match error.kind() {
        FredErrorKind::IO
        | FredErrorKind::Timeout
        | FredErrorKind::Canceled
        | FredErrorKind::Cluster => Error::unavailable(error),
        _ => Error::backend(error),
    }
}

/// The `PXAT` deadline of a key whose record expires at `expires_at_ms`.
///
/// Redis keeps a key while its clock is at or before the deadline (it
/// expires keys when `now > deadline`), and a record must be gone from
/// `expires_at` on, so the deadline is the last live millisecond. `PXAT`
/// refuses anything below 1; an expiry at or before 1970-01-01T00:00:00.001
/// has long passed, and 1 ms is just as past.
fn deadline(expires_at_ms: i64) -> i64 {
    expires_at_ms.saturating_sub(1).max(1)
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl RedisStore {
    /// Connects a pool of 4 connections to `url`.
    ///
    /// The pool reconnects by itself when a connection drops (a Redis
    /// restart, a failover), retrying forever with a backoff from 100 ms to
    /// [`RedisStore::TIMEOUT`]; while Redis is away every operation fails
    /// with [`Error::Unavailable`] after at most [`RedisStore::TIMEOUT`]
    /// instead of waiting for it.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] if the server cannot be reached now,
    /// [`Error::Backend`] for a malformed URL.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let config = Config::from_url(url).map_err(Error::backend)?;
        let timeout_ms = u32::try_from(Self::TIMEOUT.as_millis()).unwrap_or(u32::MAX);
        let pool = Builder::from_config(config)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, timeout_ms, 2))
            .with_connection_config(|c| c.connection_timeout = Self::TIMEOUT)
            .with_performance_config(|p| p.default_command_timeout = Self::TIMEOUT)
            .build_pool(4)
            .map_err(Error::backend)?;
        pool.init().await.map_err(map_error)?;
        Ok(Self::new(pool))
    }

    /// How long [`RedisStore::connect`]'s pool waits for a connection or a
    /// reply before the operation fails with [`Error::Unavailable`].
    pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

    /// A store on an initialized fred pool.
    ///
    /// Give the pool a reconnect policy and a `default_command_timeout`
    /// (as [`RedisStore::connect`] does): without a policy fred never
    /// reconnects after Redis restarts, and without a timeout a command
    /// sent while it is away waits indefinitely.
    pub fn new(pool: Pool) -> Self {
        RedisStore {
            pool,
            prefix: "session:".to_owned(),
        }
    }

    /// Keys start with `prefix`. Default: `"session:"`.
    ///
    /// Keep braces out of the prefix: Redis Cluster hashes the first
    /// `{..}` of a key, so a braced prefix would put every session on one
    /// slot (still correct, but one node takes all the traffic).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key of a session: `{prefix}{{{id}}}`.
    pub fn key(&self, id: &SessionId) -> String {
        format!("{}{{{id}}}", self.prefix)
    }

    /// The pool, e.g. to close it.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        let written: Option<String> = self
            .pool
            .set(
                self.key(&record.id),
                record.encode()?,
                Some(Expiration::PXAT(deadline(record.expires_at_unix_ms()))),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(map_error)?;
        match written {
            Some(_) => Ok(()),
            None => Err(Error::id_taken()),
        }
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let stored: Option<Vec<u8>> = self.pool.get(self.key(id)).await.map_err(map_error)?;
        stored
            .map(|bytes| Record::decode(id.clone(), &bytes))
            .transpose()
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        let next = record.clone().with_version(record.version.wrapping_add(1));
        let args = vec![
            String::from_utf8(next.encode()?).map_err(Error::backend)?,
            record.version.to_string(),
            deadline(record.expires_at_unix_ms()).to_string(),
        ];
        let outcome: i64 = self
            .pool
            .eval(SAVE, vec![self.key(&record.id)], args)
            .await
            .map_err(map_error)?;
        match outcome {
            1 => Ok(()),
            0 => Err(Error::NotFound),
            _ => Err(Error::version_changed()),
        }
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        let _: i64 = self.pool.del(self.key(id)).await.map_err(map_error)?;
        Ok(())
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let ms = unix_ms(expires_at);
        let outcome: i64 = self
            .pool
            .eval(
                TOUCH,
                vec![self.key(id)],
                vec![ms.to_string(), deadline(ms).to_string()],
            )
            .await
            .map_err(map_error)?;
        match outcome {
            1 => Ok(()),
            _ => Err(Error::NotFound),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_touch(true).with_versioned(true)
    }
}

#[cfg(test)]
mod tests {
    use session_core::{Record, SessionData, SessionId, time::OffsetDateTime};

    use super::deadline;

    #[test]
    fn the_deadline_is_the_last_live_millisecond_and_always_valid_for_pxat() {
        assert_eq!(deadline(1_893_456_000_123), 1_893_456_000_122);
        assert_eq!(deadline(2), 1);
        for long_ago in [1, 0, -1, -62_135_596_800_000, i64::MIN] {
            assert_eq!(deadline(long_ago), 1, "{long_ago}");
        }
        assert_eq!(deadline(i64::MAX), i64::MAX - 1);
    }

    /// The Lua scripts parse this head; if core changes its blob layout,
    /// they must change with it.
    #[test]
    fn the_scripts_match_the_head_of_the_encoded_record() {
        let mut data = SessionData::new();
        data.insert("exp".into(), 1.into());
        let record = Record::new(
            SessionId::generate(),
            data,
            OffsetDateTime::from_unix_timestamp_nanos(1_893_456_000_123_000_000).unwrap(),
        )
        .with_version(42);
        let blob = String::from_utf8(record.encode().unwrap()).unwrap();
        assert!(
            blob.starts_with(r#"{"exp":1893456000123,"ver":42,"data":{"#),
            "Record::encode changed its layout: {blob}"
        );
    }
}
