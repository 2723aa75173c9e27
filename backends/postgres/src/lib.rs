//! A [`SessionStore`](session_core::SessionStore) on PostgreSQL, through
//! [sqlx](https://docs.rs/sqlx).
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use std::time::Duration;
//! use session_core::SessionManager;
//! use session_store_postgres::{PostgresOptions, PostgresStore};
//!
//! let store = PostgresStore::connect("postgres://app@localhost/app").await?;
//! // or, with other timeouts than the defaults below:
//! let options = PostgresOptions::default().with_statement_timeout(Duration::from_secs(2));
//! let store = PostgresStore::connect_with("postgres://app@localhost/app", options).await?;
//! store.migrate().await?; // safe on every start
//! let sessions = SessionManager::new(store);
//! # Ok(()) }
//! ```
//!
//! # Defaults
//!
//! | setting | default | set with |
//! |---|---|---|
//! | table | `public.sessions` | [`PostgresStore::with_table`] |
//! | connect timeout (one TCP connection) | 3 s | [`PostgresOptions::with_connect_timeout`] |
//! | acquire timeout (a connection from the pool, opening one included) | 5 s | [`PostgresOptions::with_acquire_timeout`] |
//! | statement timeout (the statements of one call; the server cancels each at 9/10 of it) | 5 s | [`PostgresOptions::with_statement_timeout`] |
//! | pool size | 10 connections | [`PostgresOptions::with_max_connections`] |
//! | `clear_expired` batch | 10,000 rows a statement | [`PostgresStore::with_clear_batch`] |
//!
//! # What to expect
//!
//! - **Table** `id text primary key, data text not null, expires_at
//!   timestamptz not null, version bigint not null`, an index on
//!   `expires_at`, and CHECK constraints that keep out what the store could
//!   not read back: an expiry that is infinite or outside years 1 to 9999,
//!   a negative version. [`PostgresStore::migrate`] creates it, records its
//!   schema version ([`SCHEMA_VERSION`]) in the table's comment, upgrades
//!   the tables earlier versions made, and refuses a table that belongs to
//!   something else.
//! - **Data** is the session map as serde_json writes it, in a `text`
//!   column. Not `jsonb`: `jsonb` refuses the escape `\u0000`, so a session
//!   holding U+0000 anywhere (a key or a value) could never be saved. The
//!   text never holds a NUL byte (serde_json escapes every control
//!   character), PostgreSQL does not parse it on the way in, and it comes
//!   back byte for byte; cast it (`data::json`) to query it by hand.
//! - **Atomicity**: `create` is one `INSERT .. ON CONFLICT` that only
//!   replaces an expired row (rows affected checked: a live ID is a
//!   conflict); `save` is one `UPDATE .. WHERE id = $1 AND expires_at >
//!   now() AND version = $2` (never revives a deleted or expired session;
//!   concurrent saves of one version have one winner).
//! - **Expiry** is decided by the database's clock, `now()` (the start of
//!   each statement's transaction; every operation is its own), with the
//!   one rule of every store: a row is live if and only if `now() <
//!   expires_at`. Every statement says so the same way: `expires_at >
//!   now()` to load, save or touch, `expires_at <= now()` for the expired
//!   rows that `create` may replace and
//!   [`SessionStore::clear_expired`](session_core::SessionStore::clear_expired)
//!   removes. So at exactly `expires_at` a row is gone for all of them,
//!   one microsecond before it is live for all of them. An expiry written
//!   before year 1 is stored as the first instant of year 1 (expired all
//!   the same). `clear_expired` works in batches, so a million expired rows
//!   never lock the table in one statement.
//! - **Crash**: every operation is one statement, so a crash leaves each
//!   session as it was before or after a write, never in between.
//!
//! # When things go wrong
//!
//! - **Corrupt rows**: a row whose `data` is not a JSON object (or NULL),
//!   whose expiry is infinite, NULL or outside years 1 to 9999, or whose
//!   version is negative or NULL is [`Error::Corrupt`](session_core::Error::Corrupt)
//!   from `load`, which core answers with an empty session, leaving the row
//!   alone. Timestamps are decoded from a number the statement computes,
//!   never by sqlx's timestamp decoding (which panics outside years -9999
//!   to 9999). No operation panics on such a row.
//! - **The wrong table** is not corrupt data: a missing table, a missing
//!   column, a column of another type or a table of another shape is
//!   [`Error::Backend`](session_core::Error::Backend), whose message names
//!   the table and says to run [`PostgresStore::migrate`], so a schema
//!   mistake or a rolling deploy does not log every visitor out.
//! - **Bounded time**: every call gets a connection within the acquire
//!   timeout and runs its statements within the statement timeout, or
//!   fails with [`Error::Unavailable`](session_core::Error::Unavailable). A
//!   connection the server refuses fails at once (sqlx's pool alone would
//!   retry it until the acquire timeout: so whenever the pool opens a
//!   connection, the store also opens a bare TCP connection to the server
//!   and closes it at once without sending a byte, to hear a refusal; a
//!   server with `log_connections` logs it as a connection received). One
//!   that gets no answer fails after the connect or acquire timeout. Once
//!   the server is back the same store works again: dead connections are
//!   noticed by a ping and replaced.
//! - **Messages** say what to check: the host and port for a refused or
//!   silent server, the user for a refused login, the database when it is
//!   missing, the table, the timeout that ran out. None repeats the URL or
//!   the password.
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
mod options;
mod pool;
mod schema;
mod store;

pub use options::PostgresOptions;
pub use schema::SCHEMA_VERSION;
pub use store::{Cleared, PostgresStore};
