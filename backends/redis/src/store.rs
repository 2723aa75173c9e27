//! The store: keys, scripts and the mapping of every reply.

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{
    Client, ClientLike, Config, Error as FredError, ErrorKind as FredErrorKind, KeysInterface,
    Options, Pool, ReconnectPolicy, Value,
};
use fred::types::{Builder, ClusterHash, CustomCommand, Expiration, SetOptions};
use session_core::{
    Capabilities, Error, Record, SessionId, SessionStore, async_trait, time::OffsetDateTime,
};

use crate::error::{self, RedisError};
use crate::health::Health;
use crate::options::{RedisOptions, millis_u32};

/// Checks the key holds a string that begins with the head
/// [`Record::encode`] writes and whose version is `ARGV[2]`, then writes
/// `ARGV[1]` with the key deadline `ARGV[3]` (ms, see [`deadline`]). 1
/// written; 0 gone, or not a session record (another type, a foreign
/// value: nothing to update, and nothing is written over it); -1 another
/// version.
///
/// The scripts read the version and expiry from the head of the document,
/// `{"exp":MS,"ver":N,"data":..}`, instead of decoding up to a mebibyte of
/// JSON inside Redis; `load` refuses as corrupt any value without that head
/// ([`has_script_head`]), so whatever loads can be saved and touched. A
/// unit test pins the shape. Only the first 64 bytes are read
/// (`GETRANGE`): a decodable record's head is at most 58 (a 16-character
/// expiry, a 20-digit version), so the check costs the same for a session
/// of 100 bytes and one of a mebibyte.
const SAVE_LUA: &str = r#"
local head = redis.pcall('GETRANGE', KEYS[1], 0, 63)
if type(head) ~= 'string' then return 0 end
local version = string.match(head, '^{"exp":%-?%d+,"ver":(%d+),"data":')
if not version then return 0 end
if version ~= ARGV[2] then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'XX', 'PXAT', ARGV[3])
return 1
"#;

/// Writes the record's expiry `ARGV[1]` (ms) into the stored document and
/// gives the key the deadline `ARGV[2]` (ms, see [`deadline`]). 1 done, 0
/// gone or not a session record (left as it is).
///
/// When the new expiry has as many digits as the old one (every expiry
/// between 2001 and 2286), only those bytes are rewritten (`SETRANGE`) and
/// the key's deadline moved (`PEXPIREAT`), whatever the session's size;
/// otherwise the whole document is rewritten. `ARGV[1]` is digits with an
/// optional sign, so it cannot carry a `%` that `gsub` would read as a
/// capture reference.
const TOUCH_LUA: &str = r#"
local head = redis.pcall('GETRANGE', KEYS[1], 0, 63)
if type(head) ~= 'string' then return 0 end
local old = string.match(head, '^{"exp":(%-?%d+),"ver":%d+,"data":')
if not old then return 0 end
if #old == #ARGV[1] then
  redis.call('SETRANGE', KEYS[1], 7, ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
  return 1
end
local current = redis.call('GET', KEYS[1])
local moved = string.gsub(current, '^{"exp":%-?%d+,("ver":%d+,"data":)', '{"exp":' .. ARGV[1] .. ',%1', 1)
redis.call('SET', KEYS[1], moved, 'XX', 'PXAT', ARGV[2])
return 1
"#;

/// A script and its SHA-1, so each call sends `EVALSHA` and 40 bytes
/// instead of the whole body, and Redis does not hash the body per call.
/// A server that does not know it yet (restarted, `SCRIPT FLUSH`, another
/// cluster node) answers `NOSCRIPT`; the call is then repeated with
/// `EVAL`, which caches it there. A test checks each hash against the
/// server's own `SCRIPT LOAD`.
#[derive(Debug, Clone, Copy)]
struct Script {
    body: &'static str,
    sha1: &'static str,
}

const SAVE: Script = Script {
    body: SAVE_LUA,
    sha1: "89b0b779dbad3b4ea81752c38ae374aca930d185",
};

const TOUCH: Script = Script {
    body: TOUCH_LUA,
    sha1: "b141ceb7d0bc7502a8c1bdd74253f156063583ac",
};

/// Sessions in Redis. See the [crate docs](crate) for the key layout, the
/// failure policy and the defaults.
#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    prefix: String,
    /// `host:port` of the server(s), for messages.
    servers: Arc<str>,
    /// Applied to every command: fail fast while disconnected, and the
    /// command timeout.
    command: Options,
    /// Which pooled connections are up.
    health: Arc<Health>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("servers", &self.servers)
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command.timeout)
            .finish_non_exhaustive()
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

/// Whether `bytes` begins as [`Record::encode`] writes and the scripts
/// parse: `{"exp":` optional `-` and digits, `,"ver":` digits, `,"data":`.
fn has_script_head(bytes: &[u8]) -> bool {
    fn digits(bytes: &[u8]) -> Option<&[u8]> {
        let n = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 { None } else { bytes.get(n..) }
    }
    let head = || {
        let rest = bytes.strip_prefix(br#"{"exp":"#)?;
        let rest = digits(rest.strip_prefix(b"-").unwrap_or(rest))?;
        let rest = digits(rest.strip_prefix(br#","ver":"#)?)?;
        rest.strip_prefix(br#","data":"#)
    };
    head().is_some()
}

/// The record in a stored value, or why it is not one
/// ([`Error::Corrupt`]).
fn decode(id: &SessionId, bytes: &[u8]) -> Result<Record, Error> {
    if !has_script_head(bytes) {
        return Err(RedisError::ForeignValue.into_core());
    }
    let record = Record::decode(id.clone(), bytes)?;
    let ms = record.expires_at_unix_ms();
    if ms < 0 {
        return Err(RedisError::NegativeExpiry(ms).into_core());
    }
    Ok(record)
}

impl RedisStore {
    /// Connects to `url` with the default [`RedisOptions`]: connect and
    /// command timeouts of 2 s, reconnection from 100 ms to 1 s, 4
    /// connections.
    ///
    /// # Errors
    ///
    /// As [`RedisStore::connect_with`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects a pool to `url` with `options`, and checks that every
    /// connection is up (handshake and `PING`) before it returns.
    ///
    /// The pool reconnects by itself when a connection drops (a Redis
    /// restart, a failover); meanwhile every operation fails at once with
    /// [`Error::Unavailable`], and the same store works again as soon as a
    /// connection is back.
    ///
    /// # Errors
    ///
    /// Each message says what to check, names the server as `host:port`
    /// and never shows the URL's password:
    ///
    /// - [`Error::Unavailable`]: the connection was refused (at once), or
    ///   the server did not answer within the connect timeout.
    /// - [`Error::Backend`]: an empty or malformed URL, `rediss://` without
    ///   the `tls` feature, invalid options, a missing or wrong password
    ///   (`NOAUTH`, `WRONGPASS`), a password the server does not expect,
    ///   or another error reply during the handshake (such as a database
    ///   number out of range).
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, Error> {
        options.check().map_err(RedisError::into_core)?;
        if url.trim().is_empty() {
            return Err(RedisError::EmptyUrl.into_core());
        }
        let config = Config::from_url(url).map_err(|cause| {
            RedisError::BadUrl {
                url: error::redact(url),
                cause,
            }
            .into_core()
        })?;
        #[cfg(not(feature = "tls"))]
        {
            let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            if scheme.is_some_and(|s| s.starts_with("rediss") || s.starts_with("valkeys")) {
                return Err(RedisError::TlsDisabled.into_core());
            }
        }
        Self::connect_config(config, options).await
    }

    /// Connects a pool built from a fred [`Config`] with `options`, as
    /// [`RedisStore::connect_with`] does with the config a URL describes:
    /// for settings no URL can carry (a cluster discovery policy, a
    /// credential provider, TLS details).
    ///
    /// `options` decide the reconnect policy, the connect and command
    /// timeouts and the pool size, and `fail_fast` is always on (a refused
    /// connection fails `connect` at once, as with a URL); every other
    /// setting of `config` (the servers, credentials, database, TLS) is
    /// used as it is.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_core::Error> {
    /// use fred::prelude::{Config, ServerConfig};
    /// use session_store_redis::{RedisOptions, RedisStore};
    ///
    /// let config = Config {
    ///     server: ServerConfig::new_clustered(vec![
    ///         ("10.0.0.1", 6379),
    ///         ("10.0.0.2", 6379),
    ///         ("10.0.0.3", 6379),
    ///     ]),
    ///     ..Config::default()
    /// };
    /// let store = RedisStore::connect_config(config, RedisOptions::default()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`RedisStore::connect_with`], less the URL's own mistakes.
    pub async fn connect_config(mut config: Config, options: RedisOptions) -> Result<Self, Error> {
        options.check().map_err(RedisError::into_core)?;
        // The failure policy promises a refused first connection fails at
        // once; with fail_fast off fred would retry until the timeout.
        config.fail_fast = true;
        let servers = error::servers(&config);
        let connect_timeout = options.connect_timeout();
        let (min, max) = options.reconnect_backoff();
        let pool = Builder::from_config(config)
            .set_policy(ReconnectPolicy::new_exponential(
                0,
                millis_u32(min),
                millis_u32(max),
                2,
            ))
            .with_connection_config(|c| {
                c.connection_timeout = connect_timeout;
                c.internal_command_timeout = connect_timeout;
            })
            .with_performance_config(|p| p.default_command_timeout = options.command_timeout())
            .build_pool(options.pool_size())
            .map_err(|cause| RedisError::Setup {
                servers: servers.clone(),
                cause,
            })
            .map_err(RedisError::into_core)?;
        // fred bounds each step by the connect timeout; this bounds them
        // all together. Connections still trying after it give up by
        // themselves (fail_fast on the first connection).
        match tokio::time::timeout(connect_timeout, pool.init()).await {
            Ok(Ok(_driver)) => {}
            Ok(Err(cause)) => {
                return Err(RedisError::connect(cause, &servers, connect_timeout).into_core());
            }
            Err(_elapsed) => {
                return Err(RedisError::ConnectTimeout {
                    servers,
                    timeout: connect_timeout,
                    cause: None,
                }
                .into_core());
            }
        }
        Ok(Self::on(pool, servers, Some(options.command_timeout())))
    }

    /// A store on an initialized fred pool.
    ///
    /// Commands fail at once while the pool has no connection (fred's
    /// per-command `fail_fast`) and otherwise wait for the pool's
    /// `default_command_timeout`.
    ///
    /// # Warning
    ///
    /// Give the pool a reconnect policy and a `default_command_timeout`
    /// (as [`RedisStore::connect_with`] does): without a policy fred never
    /// reconnects after Redis restarts, and without a timeout a command
    /// sent to a server that stopped answering waits indefinitely.
    pub fn new(pool: Pool) -> Self {
        let servers = error::servers(&pool.client_config());
        Self::on(pool, servers, None)
    }

    fn on(pool: Pool, servers: String, command_timeout: Option<Duration>) -> Self {
        RedisStore {
            health: Arc::new(Health::watch(&pool)),
            pool,
            prefix: "session:".to_owned(),
            servers: servers.into(),
            command: Options {
                fail_fast: true,
                // A command that meets a dead connection fails instead of
                // waiting in fred's retry queue for the reconnection.
                max_attempts: Some(1),
                timeout: command_timeout,
                ..Options::default()
            },
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

    /// A pooled client whose connection is up, with the store's
    /// per-command options; [`Error::Unavailable`] at once when none is.
    fn client(&self) -> Result<fred::clients::WithOptions<Client>, Error> {
        match self.health.pick(&self.pool) {
            Some(client) => Ok(client.with_options(&self.command)),
            None => Err(RedisError::NotConnected {
                servers: self.servers.to_string(),
                cause: FredError::new(FredErrorKind::Canceled, "no connection of the pool is up"),
            }
            .into_core()),
        }
    }

    fn fail(&self, cause: FredError) -> Error {
        let timeout = self
            .command
            .timeout
            .or_else(|| Some(self.pool.perf_config().default_command_timeout))
            .filter(|t| !t.is_zero());
        RedisError::from_fred(cause, &self.servers, timeout).into_core()
    }

    /// Runs one of the scripts on the key (`EVALSHA`, then `EVAL` if the
    /// server does not know the script yet; routed by the key's hash slot),
    /// with the store's per-command options.
    async fn script(&self, script: Script, key: String, args: Vec<Value>) -> Result<i64, Error> {
        let client = self.client()?;
        let slot = ClusterHash::from(key.as_str());
        let mut all: Vec<Value> = Vec::with_capacity(3 + args.len());
        all.extend([
            Value::from(script.sha1),
            Value::from(1_i64),
            Value::from(key),
        ]);
        all.extend(args);
        let by_hash = CustomCommand::new_static("EVALSHA", slot.clone(), false);
        match client.custom(by_hash, all.clone()).await {
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                if let Some(first) = all.first_mut() {
                    *first = Value::from(script.body);
                }
                let by_body = CustomCommand::new_static("EVAL", slot, false);
                client.custom(by_body, all).await.map_err(|e| self.fail(e))
            }
            other => other.map_err(|e| self.fail(e)),
        }
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    /// `SET NX PXAT`: a key that exists, whatever its type or content, is
    /// [`Error::id_taken`] and stays as it is.
    async fn create(&self, record: &Record) -> Result<(), Error> {
        let written: Option<String> = self
            .client()?
            .set(
                self.key(&record.id),
                record.encode()?,
                Some(Expiration::PXAT(deadline(record.expires_at_unix_ms()))),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(|e| self.fail(e))?;
        match written {
            Some(_) => Ok(()),
            None => Err(Error::id_taken()),
        }
    }

    /// A key of another type, or a value that is not a record this store
    /// wrote, is [`Error::Corrupt`], and is left in place.
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let stored: Option<Vec<u8>> =
            self.client()?
                .get(self.key(id))
                .await
                .map_err(|e| match e.kind() {
                    FredErrorKind::InvalidArgument if e.details().starts_with("WRONGTYPE") => {
                        RedisError::WrongType.into_core()
                    }
                    _ => self.fail(e),
                })?;
        stored.map(|bytes| decode(id, &bytes)).transpose()
    }

    /// A key that does not hold a session record is [`Error::NotFound`]
    /// and is not written.
    async fn save(&self, record: &Record) -> Result<(), Error> {
        let next = record.clone().with_version(record.version.wrapping_add(1));
        let outcome = self
            .script(
                SAVE,
                self.key(&record.id),
                vec![
                    Value::from(next.encode()?.into_boxed_slice()),
                    Value::from(record.version.to_string()),
                    Value::from(deadline(record.expires_at_unix_ms())),
                ],
            )
            .await?;
        match outcome {
            1 => Ok(()),
            0 => Err(Error::NotFound),
            _ => Err(Error::version_changed()),
        }
    }

    /// `DEL`: removes the key whatever it holds.
    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        let _: i64 = self
            .client()?
            .del(self.key(id))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// A key that does not hold a session record is [`Error::NotFound`]
    /// and is not written.
    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let ms = session_core::record::unix_ms(expires_at);
        let outcome = self
            .script(
                TOUCH,
                self.key(id),
                vec![Value::from(ms), Value::from(deadline(ms))],
            )
            .await?;
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
    use session_core::{ErrorKind, Record, SessionData, SessionId, time::OffsetDateTime};

    use super::{SAVE, TOUCH, deadline, decode, has_script_head};

    /// `EVALSHA` finds a script only by the hash the server computes: ask
    /// the server for it (the local one, like every test of this crate).
    #[tokio::test]
    async fn each_scripts_hash_is_the_one_redis_computes() {
        use fred::prelude::{ClientLike, Config};
        let url = std::env::var("SESSION_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let client = fred::prelude::Client::new(Config::from_url(&url).unwrap(), None, None, None);
        client.init().await.unwrap_or_else(|e| {
            panic!(
                "Redis at {url} is unreachable ({e}); start it with `redis-server --daemonize yes \
                 --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` or set \
                 SESSION_TEST_REDIS_URL"
            )
        });
        for script in [SAVE, TOUCH] {
            let sha: String = client
                .custom(
                    fred::types::CustomCommand::new_static(
                        "SCRIPT",
                        fred::types::ClusterHash::Random,
                        false,
                    ),
                    vec!["LOAD", script.body],
                )
                .await
                .unwrap();
            assert_eq!(sha, script.sha1);
        }
    }

    /// Redis Cluster runs a script on the master of its keys' slot and
    /// refuses one that touches a key it was not given: every call of each
    /// script must be on `KEYS[1]`, the session's own key.
    #[test]
    fn the_scripts_touch_only_the_key_they_are_given() {
        for (name, script) in [("SAVE", SAVE.body), ("TOUCH", TOUCH.body)] {
            let calls: Vec<&str> = script.split("redis.call(").skip(1).collect();
            assert!(!calls.is_empty(), "{name} calls nothing");
            for call in calls {
                let key = call.split([',', ')']).nth(1).map(str::trim);
                assert!(
                    key == Some("KEYS[1]"),
                    "{name}: a call on something other than KEYS[1]: redis.call({call}"
                );
            }
            assert!(!script.contains("KEYS[2]"), "{name} uses a second key");
        }
    }

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
        assert!(has_script_head(blob.as_bytes()));
        assert_eq!(decode(&record.id, blob.as_bytes()).unwrap(), record);
    }

    #[test]
    fn only_the_head_the_scripts_parse_is_a_record() {
        for accepted in [
            r#"{"exp":1,"ver":0,"data":{}}"#,
            r#"{"exp":-1,"ver":18446744073709551615,"data":"#,
        ] {
            assert!(has_script_head(accepted.as_bytes()), "{accepted}");
        }
        for refused in [
            "",
            "{",
            r#"{"exp":1,"ver":0}"#,
            r#"{"exp":,"ver":0,"data":{}}"#,
            r#"{"exp":-,"ver":0,"data":{}}"#,
            r#"{"exp":1,"ver":-1,"data":{}}"#,
            r#"{"exp":1,"ver":1.5,"data":{}}"#,
            r#"{"exp":"1","ver":0,"data":{}}"#,
            r#"{"ver":0,"exp":1,"data":{}}"#,
            r#"{"exp":1,"data":{}}"#,
            r#"{"exp": 1,"ver":0,"data":{}}"#,
            r#" {"exp":1,"ver":0,"data":{}}"#,
        ] {
            assert!(!has_script_head(refused.as_bytes()), "{refused}");
        }
    }

    #[test]
    fn a_negative_expiry_is_corrupt() {
        let id = SessionId::generate();
        let err = decode(&id, br#"{"exp":-1,"ver":0,"data":{}}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt);
        assert!(decode(&id, br#"{"exp":0,"ver":0,"data":{}}"#).is_ok());
    }
}
