//! Django-grade sessions for [Warp](https://docs.rs/warp).
//!
//! Warp has no per-request hook and a filter cannot insert request
//! extensions, so the adapter has the shape Warp favours: a
//! [`Sessions::load`] filter that extracts the [`Session`], handlers that
//! return `(reply, session)`, and [`Sessions::finish`] that runs
//! `session-core`'s `finish` and appends `Set-Cookie` / `Vary: Cookie`.
//!
//! ```
//! use session_core::{MemoryStore, SessionManager};
//! use session_warp::{Session, SessionError, Sessions};
//! use warp::Filter;
//!
//! async fn visits(session: Session) -> (Result<String, SessionError>, Session) {
//!     let result = async {
//!         let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
//!         session.insert("visits", visits).await?;
//!         Ok(format!("{visits} visits"))
//!     }
//!     .await;
//!     (result, session)
//! }
//!
//! let sessions = Sessions::new(SessionManager::new(MemoryStore::new()));
//! let app = warp::path!("visits")
//!     .and(sessions.load())
//!     .then(visits)
//!     .then(sessions.finish());
//! # let _ = app;
//! ```
//!
//! Rejections skip the `finish` step (Warp does not run later filters for
//! them), so answer application errors with replies, as above:
//! `Result<impl Reply, impl Reply>` is a reply, and [`SessionError`] is one
//! (400 when the session was deleted by a concurrent request, 503 when the
//! store is unavailable, 413 when the session grew past its limit, 500
//! otherwise). Put `load()` after the path and method filters, so that
//! `.or()` alternatives do not each load a session.
//!
//! Errors are answered with a short plain body that names no internals
//! ([`Error::public_message`](session_core::Error::public_message)); the
//! `tracing` error beside it carries the error's kind and its whole cause
//! chain. A `Set-Cookie` value that cannot be a header (a cookie name, path
//! or domain with a byte a header cannot carry, which `Config::validate`
//! should make impossible) is never dropped silently: the response goes out
//! without it and a `tracing` error says which settings to check. The
//! cookie's value is never logged.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use session_core::SessionManager;
use warp::http::header::COOKIE;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

pub use session_core::{self, Session};

/// The session lifecycle as a pair of Warp steps.
#[derive(Debug, Clone)]
pub struct Sessions {
    manager: SessionManager,
}

impl Sessions {
    /// Steps over `manager` (its store and settings).
    pub fn new(manager: SessionManager) -> Self {
        Sessions { manager }
    }

    /// The manager, for `clear_expired` and the like.
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }

    /// Extracts the visitor's [`Session`] from every `Cookie` header field.
    /// No I/O: the store is read on first use.
    pub fn load(&self) -> impl Filter<Extract = (Session,), Error = Infallible> + Clone + use<> {
        let manager = self.manager.clone();
        warp::header::headers_cloned()
            .map(move |headers: HeaderMap| manager.load(headers.get_all(COOKIE)))
    }

    /// The step after a handler that returns `(reply, session)`: saves or
    /// deletes the session according to the reply's status and appends the
    /// headers. Use it with `.then(sessions.finish())`.
    #[allow(clippy::type_complexity)]
    pub fn finish<R>(
        &self,
    ) -> impl Fn((R, Session)) -> Pin<Box<dyn Future<Output = Response> + Send>>
    + Clone
    + Send
    + Sync
    + use<R>
    where
        R: Reply + Send + 'static,
    {
        let manager = self.manager.clone();
        move |(reply, session): (R, Session)| {
            let manager = manager.clone();
            Box::pin(async move { respond(&manager, reply.into_response(), &session).await })
        }
    }
}

/// Runs `finish` for `session` with `response`'s status and appends what it
/// asks for; a store error replaces the response.
pub async fn respond(
    manager: &SessionManager,
    mut response: Response,
    session: &Session,
) -> Response {
    match manager.finish(session, response.status().as_u16()).await {
        Ok(outcome) => {
            outcome.apply_to(response.headers_mut(), manager.config());
            response
        }
        Err(error) => SessionError(error).into_response(),
    }
}

/// A session error as a reply: 400 when the session was deleted by a
/// concurrent request, 503 when the store is unavailable, 413 when the
/// session grew past its limit, 500 otherwise, with a short plain message
/// that names no internals (no host, no query); the error's kind and whole
/// cause chain go to a `tracing` error.
#[derive(Debug)]
pub struct SessionError(pub session_core::Error);

impl From<session_core::Error> for SessionError {
    fn from(error: session_core::Error) -> Self {
        SessionError(error)
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl Reply for SessionError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.0.log_response();
        warp::reply::with_status(self.0.public_message(), status).into_response()
    }
}

#[cfg(test)]
#[path = "../../support/logs.rs"]
mod test_support;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_store_error_logged, logged, pool_timed_out};

    #[test]
    fn a_store_error_logs_its_kind_and_cause_chain_and_answers_without_them() {
        let error = SessionError(pool_timed_out());
        let mut response = None;
        let log = logged(|| response = Some(error.into_response()));
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_store_error_logged(&log);
        // The body is checked over HTTP in tests/store_down.rs.
    }
}
