//! A [`SessionStore`](session_core::SessionStore) on Redis, through
//! [fred](https://docs.rs/fred).
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use std::time::Duration;
//! use session_core::SessionManager;
//! use session_store_redis::{RedisOptions, RedisStore};
//!
//! // The defaults below:
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
//! // Or choose the deadlines:
//! let store = RedisStore::connect_with(
//!     "redis://127.0.0.1:6379",
//!     RedisOptions::default().with_command_timeout(Duration::from_millis(500)),
//! )
//! .await?;
//! let sessions = SessionManager::new(store);
//! # Ok(()) }
//! ```
//!
//! # Defaults
//!
//! | setting | default | |
//! |---|---|---|
//! | connect timeout | 2 s | [`RedisOptions::with_connect_timeout`]: all of `connect`, and each (re)connection's TCP connect, TLS and handshake |
//! | command timeout | 2 s | [`RedisOptions::with_command_timeout`]: each command, from send to reply |
//! | reconnect backoff | 100 ms doubling to 1 s, forever | [`RedisOptions::with_reconnect_backoff`] |
//! | pool size | 4 connections | [`RedisOptions::with_pool_size`] |
//! | key prefix | `session:` | [`RedisStore::with_prefix`] |
//!
//! # What to expect
//!
//! - **Keys**: `{prefix}{{{id}}}`, e.g. `session:{k3…}`. The braces are a
//!   hash tag: in Redis Cluster every key of one session lands on one slot,
//!   so the scripts below stay atomic. The value is one JSON document
//!   ([`Record::encode`](session_core::Record::encode): data, expiry,
//!   version).
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
//!   same rule). `clear_expired` has nothing to do (it returns 0). A record
//!   whose expiry has already passed gets a deadline in the past, so it is
//!   never loadable. The record's own `expires_at` is stored exactly in the
//!   document; only the key's deadline is shifted. `expires_at` is kept to
//!   the millisecond (sub-millisecond parts are dropped), and the server's
//!   clock decides, so keep it in sync with the application's.
//! - **Crash**: what Redis persists is what survives; with persistence off
//!   a restart logs everyone out (the store itself reconnects, see below).
//! - **Connection**: `redis://`, `redis-cluster://`, `redis-sentinel://`
//!   URLs (see [below](#redis-cluster-and-sentinel)); `rediss://` with the
//!   `tls` feature (without it, such a URL is refused rather than tried in
//!   clear text). Or a fred [`Config`](fred::prelude::Config) with
//!   [`RedisStore::connect_config`], or your own fred
//!   [`Pool`](fred::prelude::Pool) with [`RedisStore::new`].
//!
//! # Redis Cluster and Sentinel
//!
//! The store runs unchanged on each deployment fred connects to; the URL
//! picks it ([`Config::from_url`](fred::prelude::Config::from_url)):
//!
//! | deployment | URL |
//! |---|---|
//! | one server | `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` |
//! | Redis Cluster | `redis-cluster://[[USER]:PASSWORD@]HOST[:PORT][?node=HOST2:PORT2&node=HOST3:PORT3]` |
//! | Sentinel | `redis-sentinel://[[USER]:PASSWORD@]HOST[:PORT][/DB]?sentinelServiceName=NAME[&node=HOST2:PORT2]` |
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use session_store_redis::RedisStore;
//!
//! let cluster = RedisStore::connect(
//!     "redis-cluster://10.0.0.1:6379?node=10.0.0.2:6379&node=10.0.0.3:6379",
//! )
//! .await?;
//! let behind_sentinel = RedisStore::connect(
//!     "redis-sentinel://10.0.0.1:26379?sentinelServiceName=mymaster&node=10.0.0.2:26379",
//! )
//! .await?;
//! # Ok(()) }
//! ```
//!
//! - **Cluster**: one reachable node is enough, fred learns the others
//!   from it (list more with `node=` in case the first is down). The
//!   first node's port defaults to 6379, each `node=` needs its own; a
//!   database number is ignored (a cluster only has database 0). Each session is one key, `{prefix}{{{id}}}`, and every
//!   command and script of the store names that one key in `KEYS`, so it
//!   runs on the master that owns the key's slot; sessions spread over the
//!   masters by ID. The store never sends a multi-key command, `SCAN` or
//!   `KEYS` (to list a prefix's keys on a cluster, `SCAN` each master).
//!   The whole conformance suite passes on a three-master cluster
//!   (`tests/conformance_cluster.rs`).
//! - **Sentinel**: `HOST:PORT` and each `node=` are the *sentinels* (port
//!   26379 when left out), not the Redis servers, and `sentinelServiceName`
//!   (required) is the master's name in the sentinels'
//!   `sentinel monitor NAME ...`; each `node=` needs its port.
//!   fred asks the sentinels for the current master, connects to it, and
//!   follows a failover; the path's database number applies to the master.
//!   The URL's `USER:PASSWORD` is used for the master and the sentinels
//!   alike. Sentinels with credentials of their own take
//!   `&sentinelUsername=U&sentinelPassword=P` with this crate's
//!   `sentinel-auth` feature; with it, the sentinels get only those
//!   (none when left out), and without it those two parameters are ignored.
//! - TLS: `rediss-cluster://` and `rediss-sentinel://`, with the `tls`
//!   feature.
//! - Settings no URL carries (a cluster discovery policy, a credential
//!   provider, a TLS connector): build a fred
//!   [`Config`](fred::prelude::Config) and call
//!   [`RedisStore::connect_config`].
//!
//! # Features
//!
//! | feature | default | |
//! |---|---|---|
//! | `tls` | off | `rediss://` URLs (all three deployments), through fred's rustls support |
//! | `sentinel-auth` | off | separate sentinel credentials (`sentinelUsername`, `sentinelPassword`), through fred's feature of that name |
//!
//! # Failure policy
//!
//! - **Refused or lost server**: a command sent while the store has no
//!   connection fails at once with
//!   [`Error::Unavailable`](session_core::Error::Unavailable) (adapters
//!   answer 503): a request never waits for a server that refuses
//!   connections. The pool keeps reconnecting in the background (backoff
//!   above), and the same store works again once Redis is back, at most
//!   the longest backoff later; nothing needs rebuilding. `connect` itself
//!   fails at once on a refused connection.
//! - **Silent server** (accepts, never answers; a network that drops
//!   packets): `connect` fails with `Unavailable` after the connect
//!   timeout, each command after the command timeout. A command that timed
//!   out may still have been applied by the server.
//! - **Messages** say what to check and name the server as `host:port`:
//!   refused, connect or command timeout, not connected, empty or
//!   malformed URL, `NOAUTH` (a password is needed) and `WRONGPASS` (wrong
//!   credentials) each have their own. No message shows the URL's
//!   password. Credentials, URL and options mistakes are
//!   [`Error::Backend`](session_core::Error::Backend).
//! - **Content that is not a session record** is
//!   [`Error::Corrupt`](session_core::Error::Corrupt) from `load` and is
//!   never deleted by it: a key of another type (list, set, hash, stream…:
//!   `WRONGTYPE`), a value that does not begin with the record head this
//!   store writes (`{"exp":<ms>,"ver":<n>,"data":` — so fields missing,
//!   reordered or of the wrong type), a version that is not an unsigned
//!   64-bit integer, an expiry that is negative or past year 9999, data
//!   that is not a JSON object, or bytes that are not JSON.
//! - **Writes over such a key** never panic and never wedge: `create` is a
//!   conflict (core retries with a fresh ID) and leaves the key alone;
//!   `delete` removes it. `save` and `touch` read only the record head: over
//!   a key without it (another type, a foreign value) they are
//!   [`Error::NotFound`](session_core::Error::NotFound) and write nothing
//!   (there is no session record to update); over a value with the head
//!   but corrupt further on, a `save` of the version in the head replaces
//!   the whole value with its record (an explicit write), and `touch`
//!   rewrites the head's expiry only.
//! - **Cluster**: the pool's health tracking (commands go only to
//!   connections fred has not reported lost) covers centralized and
//!   sentinel URLs; on `redis-cluster://`, fred's own fail-fast check
//!   decides, so a command sent in the first backoff delay after a node
//!   drops may wait for the command timeout.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;
mod health;
mod options;
mod store;

pub use options::RedisOptions;
pub use store::RedisStore;
