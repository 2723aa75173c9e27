//! Django-grade sessions for [Rocket](https://rocket.rs): a [`Session`]
//! request guard and the [`SessionFairing`] that finishes every request.
//!
//! ```
//! use rocket::{get, routes};
//! use session_core::{MemoryStore, SessionManager};
//! use session_rocket::{Session, SessionError, SessionFairing};
//!
//! #[get("/")]
//! async fn visits(session: Session) -> Result<String, SessionError> {
//!     let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
//!     session.insert("visits", visits).await?;
//!     Ok(format!("{visits} visits"))
//! }
//!
//! let sessions = SessionManager::new(MemoryStore::new());
//! let app = rocket::build()
//!     .attach(SessionFairing::new(sessions))
//!     .mount("/", routes![visits]);
//! # let _ = app;
//! ```
//!
//! How it maps onto Rocket:
//! - the guard loads the handle once per request into Rocket's
//!   request-local cache (no I/O: the store is read on first use), so a
//!   route that never asks for a [`Session`] costs nothing;
//! - the fairing's `on_response`, which also runs for catcher responses,
//!   calls `finish` with the final status and appends the raw `Set-Cookie`
//!   and `Vary: Cookie` headers. It bypasses Rocket's `CookieJar`, whose
//!   changes made in a response fairing are lost;
//! - a store error in `finish` turns the response into a short plain 400
//!   (the session was deleted by a concurrent request), 503 (the store is
//!   unavailable), 413 (the session grew past its limit) or 500, whose body
//!   ([`Error::public_message`](session_core::Error::public_message)) names
//!   no internals, with a `tracing` error that carries the error's kind and
//!   its whole cause chain;
//! - a `Set-Cookie` value that cannot be a header (a cookie name, path or
//!   domain with a byte a header cannot carry, which `Config::validate`
//!   should make impossible) is never dropped silently, and never reaches
//!   Rocket (which would fail the whole response and close the connection):
//!   the response goes out without it and a `tracing` error says which
//!   settings to check. The cookie's value is never logged;
//! - the guard is a [`Sentinel`]: launching an app that uses it without
//!   attaching [`SessionFairing`] fails with a message that says so.
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
use std::io::Cursor;
use std::ops::Deref;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::hyper::HeaderValue;
use rocket::http::{Header, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::response::{self, Responder};
use rocket::{Build, Ignite, Request, Response, Rocket, Sentinel};
use session_core::{Config, SessionManager};

pub use session_core;

/// Attaches sessions to a Rocket app: manages the [`SessionManager`] and
/// finishes every request's session.
#[derive(Debug, Clone)]
pub struct SessionFairing {
    manager: SessionManager,
}

impl SessionFairing {
    /// A fairing over `manager` (its store and settings).
    pub fn new(manager: SessionManager) -> Self {
        SessionFairing { manager }
    }
}

/// The handle of this request, once the guard or the fairing loaded it.
struct Cached(Option<session_core::Session>);

/// Proof, in managed state, that the fairing is attached.
struct Attached(SessionManager);

#[rocket::async_trait]
impl Fairing for SessionFairing {
    fn info(&self) -> Info {
        Info {
            name: "session-rocket",
            kind: Kind::Ignite | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        Ok(rocket.manage(Attached(self.manager.clone())))
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let session = match &req.local_cache(|| Cached(None)).0 {
            Some(session) => session.clone(),
            // The handler never asked for it: finish decides whether that
            // needs any I/O (only with save_every_request).
            None => self.manager.load(req.headers().get("Cookie")),
        };
        match self.manager.finish(&session, res.status().code).await {
            Ok(outcome) => {
                if let Some(cookie) = outcome.set_cookie {
                    adjoin_set_cookie(res, cookie, self.manager.config());
                }
                if outcome.vary_cookie {
                    res.adjoin_raw_header("Vary", "Cookie");
                }
            }
            Err(error) => *res = SessionError(error).response(),
        }
    }
}

/// Adjoins `cookie` as a `Set-Cookie` header, or logs an error when it
/// cannot be a header value. Rocket does not check raw headers: one that
/// hyper refuses fails the whole response and closes the connection. The
/// store has already been written by then, so the response still goes out;
/// the browser keeps its previous cookie.
fn adjoin_set_cookie(res: &mut Response<'_>, cookie: String, config: &Config) {
    if HeaderValue::try_from(cookie.as_str()).is_ok() {
        res.adjoin_raw_header("Set-Cookie", cookie);
    } else {
        session_core::lifecycle::log_unsendable_cookie(config);
    }
}

/// The visitor's session, as a request guard. Derefs to
/// [`session_core::Session`], whose methods hold Django's semantics.
#[derive(Debug, Clone)]
pub struct Session(pub session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = &'static str;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(Attached(manager)) = req.rocket().state::<Attached>() else {
            tracing::error!("the Session guard was used without SessionFairing");
            return Outcome::Error((
                Status::InternalServerError,
                "SessionFairing is not attached",
            ));
        };
        let cached = req
            .local_cache_async(async { Cached(Some(manager.load(req.headers().get("Cookie")))) })
            .await;
        match &cached.0 {
            Some(session) => Outcome::Success(Session(session.clone())),
            None => Outcome::Error((Status::InternalServerError, "session unavailable")),
        }
    }
}

impl Sentinel for Session {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        if rocket.state::<Attached>().is_none() {
            tracing::error!("a route uses the Session guard but SessionFairing is not attached");
            eprintln!(
                "session-rocket: a route uses the Session guard, but SessionFairing is not attached"
            );
            return true;
        }
        false
    }
}

/// A session error as a response: 400 when the session was deleted by a
/// concurrent request, 503 when the store is unavailable, 413 when the
/// session grew past its limit, 500 otherwise, with a short plain message
/// that names no internals (no host, no query); the error's kind and whole
/// cause chain go to a `tracing` error. Handlers return
/// `Result<_, SessionError>` so `?` works on every session call.
#[derive(Debug)]
pub struct SessionError(pub session_core::Error);

impl SessionError {
    fn status(&self) -> Status {
        Status::from_code(self.0.http_status()).unwrap_or(Status::InternalServerError)
    }

    /// Logs the error and builds its short plain response.
    fn response(&self) -> Response<'static> {
        let status = self.status();
        self.0.log_response();
        let body = self.0.public_message();
        Response::build()
            .status(status)
            .header(Header::new("Content-Type", "text/plain; charset=utf-8"))
            .sized_body(body.len(), Cursor::new(body))
            .finalize()
    }
}

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

impl<'r> Responder<'r, 'static> for SessionError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(self.response())
    }
}

#[cfg(test)]
#[path = "../../support/logs.rs"]
mod test_support;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{
        assert_store_error_logged, assert_unsendable_cookie_logged, logged, pool_timed_out,
        unsendable_cookie, valid_cookie,
    };

    #[test]
    fn a_cookie_that_cannot_be_a_header_is_logged_not_dropped_silently() {
        let (config, cookie) = unsendable_cookie();
        let mut response = Response::new();
        let log = logged(|| adjoin_set_cookie(&mut response, cookie, &config));
        assert_eq!(response.headers().get("Set-Cookie").count(), 0);
        assert_unsendable_cookie_logged(&log);
    }

    #[test]
    fn a_valid_cookie_is_adjoined_beside_the_apps_own() {
        let mut response = Response::new();
        response.adjoin_raw_header("Set-Cookie", "theme=dark");
        let log = logged(|| adjoin_set_cookie(&mut response, valid_cookie(), &Config::default()));
        let values: Vec<_> = response.headers().get("Set-Cookie").collect();
        assert_eq!(values, ["theme=dark", valid_cookie().as_str()]);
        assert!(log.is_empty(), "{log}");
    }

    #[test]
    fn a_store_error_logs_its_kind_and_cause_chain_and_answers_without_them() {
        let error = SessionError(pool_timed_out());
        let mut response = None;
        let log = logged(|| response = Some(error.response()));
        let mut response = response.unwrap();
        assert_eq!(response.status(), Status::ServiceUnavailable);
        assert_store_error_logged(&log);
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(response.body_mut().to_string())
            .unwrap();
        assert_eq!(body, "session store unavailable; try again later");
    }
}
