//! Django-grade HTTP sessions for any Rust web framework.
//!
//! `session-core` holds the whole semantics of Django's session framework
//! (a dict-like session per visitor, expiry rules, flush, ID rotation on
//! login, strict IDs, lazy loading, no save on 5xx) behind a sans-I/O
//! request lifecycle, so framework adapters and storage backends stay thin:
//!
//! - [`SessionManager::load`] turns the request's `Cookie` headers into a
//!   [`Session`] handle without any I/O;
//! - the handler reads and writes the [`Session`] (the first access loads it);
//! - [`SessionManager::finish`] does every store write and returns at most
//!   one complete `Set-Cookie` value, plus whether to add `Vary: Cookie`.
//!
//! Backends implement [`SessionStore`] and prove it with the
//! `session-conformance` kit; [`MemoryStore`] is the embedded one.
//!
//! # Engines: a store, or signed cookies
//!
//! A [`SessionManager`] keeps sessions with one of two engines; adapters
//! cannot tell them apart (same `load`, `finish` and [`Outcome`]):
//!
//! - **a store** ([`SessionManager::new`]): the cookie carries only a
//!   random ID, the data lives on the server in a [`SessionStore`];
//!   flush and logout delete the record, so a copied cookie stops working;
//! - **signed cookies** ([`SessionManager::signed_cookies`], Django's
//!   `signed_cookies` engine): the whole session travels in the cookie,
//!   signed with HMAC-SHA256 or encrypted with AES-256-GCM
//!   ([`SignedCookies`]). No server state, so no store to run, but a
//!   logout cannot revoke a copied cookie (it replays until its expiry),
//!   signed data is readable by the client, the cookie is capped at
//!   4 KiB and sent with every request, and a leaked key forges sessions.
//!   The [`signed`] module says exactly what changes.
//!
//! # Example
//!
//! A whole request, as an adapter would drive it:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), session_core::Error> {
//! use session_core::{Expiry, MemoryStore, SessionManager};
//!
//! let sessions = SessionManager::new(MemoryStore::new());
//!
//! // First request: no cookie yet.
//! let session = sessions.load(Vec::<&str>::new());
//! let visits: u32 = session.get("visits").await?.unwrap_or(0);
//! session.insert("visits", visits + 1).await?;
//! session.set_expiry(Expiry::Seconds(3600)).await?;
//! let outcome = sessions.finish(&session, 200).await?;
//! let set_cookie = outcome.set_cookie.expect("a new session sets its cookie");
//! assert!(set_cookie.contains("Max-Age=3600"));
//!
//! // Second request: the browser sends the cookie back.
//! let cookie = set_cookie.split(';').next().unwrap_or_default();
//! let session = sessions.load([cookie]);
//! assert_eq!(session.get::<u32>("visits").await?, Some(1));
//! let outcome = sessions.finish(&session, 200).await?;
//! assert_eq!(outcome.set_cookie, None); // read-only: nothing to send
//! assert!(outcome.vary_cookie);
//! # Ok(()) }
//! ```
//!
//! # Defaults
//!
//! | setting | default |
//! |---|---|
//! | cookie name | `sessionid` |
//! | cookie age | 1,209,600 s (two weeks) |
//! | path / domain | `/` / none |
//! | `Secure` / `HttpOnly` / `SameSite` | off (turn on behind HTTPS) / on / `Lax` |
//! | expire at browser close | no |
//! | save every request | no |
//! | absolute timeout ([`Config::with_absolute_timeout`]) | none |
//! | renewal interval ([`Config::with_renewal_interval`]) | none: with save every request, every request renews |
//!
//! See [`Config`] for each one; [`Config::production`] is the starting point
//! behind HTTPS, and [`SessionManager::with_config`] refuses settings that
//! would silently break sessions ([`Config::validate`]).
//!
//! # When things fail
//!
//! | what fails | what the visitor gets |
//! |---|---|
//! | the store, on a request that uses the session | the error: 503 when unreachable ([`Error::http_status`]) |
//! | the store, on a renewal only `save_every_request` asked for | the response, without a session cookie (logged) |
//! | the delete of a logout, at the call and again at `finish` | an error response; never a deletion cookie over a live record |
//! | the delete of the old record after a rotation | the new cookie (logged), unless the old record held a login |
//! | a stored record that cannot be decoded | an empty session; one warning on [`SUSPICIOUS_SESSION_TARGET`]; the record is kept |
//! | a session larger than [`Config::max_session_size`] | 413, nothing written |
//! | a signed-cookie session whose `Set-Cookie` would pass 4096 bytes | 413, the browser's cookie unchanged |
//! | a signed cookie that is tampered, truncated, sealed with an unlisted key or expired | an empty session; one warning on [`SUSPICIOUS_SESSION_TARGET`] |
//! | an expiry no store can hold (past 9999, overflow) | [`Error::ExpiryOutOfRange`] from `set_expiry` |
//!
//! Every store failure is logged with its kind and cause chain
//! ([`Error::report`]); no log line carries a session ID.
//!
//! # Modules
//!
//! | module | holds |
//! |---|---|
//! | [`id`] | [`SessionId`]: generation and validation |
//! | [`session`] | the [`Session`] handle and its dict methods |
//! | [`expiry`] | [`Expiry`] and Django's expiry arithmetic |
//! | [`lifecycle`] | [`SessionManager`]: `load` and `finish` |
//! | [`signed`] | [`SignedCookies`], [`SecretKey`]: the signed-cookie engine |
//! | [`store`] | the [`SessionStore`] contract and [`Capabilities`] |
//! | [`record`] | [`Record`], what a store keeps |
//! | [`memory`] | [`MemoryStore`] |
//! | [`cached`] | [`CachedStore`]: a cache in front of a database (Django's `cached_db`) |
//! | [`hashed`] | [`HashedIds`]: session IDs hashed at rest, so a leaked store holds no usable cookie |
//! | [`housekeeping`] | [`ClearExpired`]: Django's `clearsessions` as a background task |
//! | [`config`] | [`Config`] |
//! | [`clock`] | [`Clock`], [`SystemClock`], [`ManualClock`] |
//! | [`error`] | [`Error`] and [`ErrorKind`] |
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod cached;
pub mod clock;
pub mod config;
mod cookie;
pub mod error;
pub mod expiry;
pub mod hashed;
pub mod housekeeping;
pub mod id;
pub mod lifecycle;
pub mod memory;
pub mod record;
pub mod session;
pub mod signed;
mod state;
pub mod store;
#[cfg(test)]
mod test_log;

pub use async_trait::async_trait;
pub use cached::CachedStore;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, ConfigError, SameSite};
pub use error::{BoxError, Error, ErrorKind};
pub use expiry::Expiry;
pub use hashed::HashedIds;
pub use housekeeping::{ClearExpired, ClearExpiredHandle};
pub use id::{InvalidSessionId, SessionId};
pub use lifecycle::{Outcome, SessionManager};
pub use memory::MemoryStore;
pub use record::{Record, SessionData};
pub use session::{SUSPICIOUS_SESSION_TARGET, Session};
pub use signed::{SecretKey, SecretKeyError, SignedCookies};
pub use store::{Capabilities, SessionStore};
pub use time;
