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
//! store is unavailable, 500 otherwise). Put `load()` after the path and
//! method filters, so that `.or()` alternatives do not each load a session.
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
use warp::http::header::{COOKIE, SET_COOKIE, VARY};
use warp::http::{HeaderMap, HeaderValue, StatusCode};
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
            if let Some(cookie) = outcome
                .set_cookie
                .and_then(|c| HeaderValue::try_from(c).ok())
            {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            if outcome.vary_cookie {
                response
                    .headers_mut()
                    .append(VARY, HeaderValue::from_static("Cookie"));
            }
            response
        }
        Err(error) => SessionError(error).into_response(),
    }
}

/// A session error as a reply: 400 when the session was deleted by a
/// concurrent request, 503 when the store is unavailable, 500 otherwise,
/// with a short plain message and a `tracing` error.
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
        tracing::error!(error = %self.0, kind = ?self.0.kind(), "session error");
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        warp::reply::with_status(self.0.to_string(), status).into_response()
    }
}
