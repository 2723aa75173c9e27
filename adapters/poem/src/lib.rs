//! Django-grade sessions for [Poem](https://docs.rs/poem): a
//! [`SessionMiddleware`] that runs `session-core`'s request lifecycle around
//! every endpoint, and a [`Session`] extractor for handlers.
//!
//! ```
//! use poem::{Route, get, handler, EndpointExt};
//! use session_core::{MemoryStore, SessionManager};
//! use session_poem::{Session, SessionError, SessionMiddleware};
//!
//! #[handler]
//! async fn visits(session: Session) -> Result<String, SessionError> {
//!     let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
//!     session.insert("visits", visits).await?;
//!     Ok(format!("{visits} visits"))
//! }
//!
//! let sessions = SessionManager::new(MemoryStore::new());
//! let app = Route::new().at("/", get(visits)).with(SessionMiddleware::new(sessions));
//! # let _ = app;
//! ```
//!
//! What the adapter does, and nothing more:
//! - before the endpoint, [`SessionManager::load`] reads every `Cookie`
//!   header field (no I/O) and the handle goes into the request's
//!   extensions;
//! - after it, [`SessionManager::finish`] runs with the response status and
//!   the adapter appends the raw `Set-Cookie` and `Vary: Cookie` headers
//!   (Poem's cookie jar is bypassed; it is not needed). The endpoint is
//!   called through `get_response`, so an endpoint that returns an error
//!   still has its session saved or deleted according to its status;
//! - a store error in `finish` replaces the response with a short plain
//!   answer, [`Error::public_message`](session_core::Error::public_message),
//!   that names no internals (503 when the store is unavailable, 400 when
//!   the session was deleted by a concurrent request, 413 when it grew past
//!   its limit, 500 otherwise); the `tracing` error beside it carries the
//!   error's kind and its whole cause chain;
//! - a `Set-Cookie` value that cannot be a header (a cookie name, path or
//!   domain with a byte a header cannot carry, which `Config::validate`
//!   should make impossible) is never dropped silently: the response goes
//!   out without it and a `tracing` error says which settings to check. The
//!   cookie's value is never logged.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::fmt;
use std::ops::Deref;

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::http::header::COOKIE;
use poem::{Endpoint, FromRequest, Middleware, Request, RequestBody, Response};
use session_core::SessionManager;

pub use session_core;

/// Runs the session lifecycle around an endpoint.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    sessions: SessionManager,
}

impl SessionMiddleware {
    /// A middleware over `sessions` (its store and settings).
    pub fn new(sessions: SessionManager) -> Self {
        SessionMiddleware { sessions }
    }
}

impl<E: Endpoint> Middleware<E> for SessionMiddleware {
    type Output = SessionEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SessionEndpoint {
            inner,
            sessions: self.sessions.clone(),
        }
    }
}

/// The endpoint [`SessionMiddleware`] wraps around yours.
#[derive(Debug)]
pub struct SessionEndpoint<E> {
    inner: E,
    sessions: SessionManager,
}

impl<E: Endpoint> Endpoint for SessionEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let session = self.sessions.load(req.headers().get_all(COOKIE));
        req.extensions_mut().insert(Session(session.clone()));
        // get_response turns an endpoint error into its response, so the
        // session is finished (saved, or not on 5xx) in every case.
        let mut response = self.inner.get_response(req).await;
        match self
            .sessions
            .finish(&session, response.status().as_u16())
            .await
        {
            Ok(outcome) => {
                outcome.apply_to(response.headers_mut(), self.sessions.config());
                Ok(response)
            }
            Err(error) => Ok(SessionError(error).as_response()),
        }
    }
}

/// The visitor's session, extracted in a handler. Derefs to
/// [`session_core::Session`], whose methods hold Django's semantics.
///
/// Extracting it without [`SessionMiddleware`] fails with a 500 and a
/// message that says so.
#[derive(Debug, Clone)]
pub struct Session(pub session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'a> FromRequest<'a> for Session {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        req.extensions().get::<Session>().cloned().ok_or_else(|| {
            tracing::error!("the Session extractor was used on a route without SessionMiddleware");
            poem::Error::from_string(
                "session unavailable: SessionMiddleware is not installed on this route",
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        })
    }
}

/// A session error as a Poem response: 400 when the session was deleted by
/// a concurrent request, 503 when the store is unavailable, 413 when the
/// session grew past its limit, 500 otherwise, with a short plain message
/// that names no internals (no host, no query); the error's kind and whole
/// cause chain go to a `tracing` error. Handlers return
/// `Result<_, SessionError>` so `?` works on every session call.
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

impl ResponseError for SessionError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn as_response(&self) -> Response {
        let status = self.status();
        self.0.log_response();
        Response::builder()
            .status(status)
            .content_type("text/plain; charset=utf-8")
            .body(self.0.public_message())
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
        let log = logged(|| response = Some(error.as_response()));
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_store_error_logged(&log);
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(response.into_body().into_string())
            .unwrap();
        assert_eq!(body, "session store unavailable; try again later");
    }
}
