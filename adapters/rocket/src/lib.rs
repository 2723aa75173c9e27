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
//!   unavailable) or 500, with a `tracing` error;
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
use rocket::http::{Header, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::response::{self, Responder};
use rocket::{Build, Ignite, Request, Response, Rocket, Sentinel};
use session_core::SessionManager;

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
                    res.adjoin_raw_header("Set-Cookie", cookie);
                }
                if outcome.vary_cookie {
                    res.adjoin_raw_header("Vary", "Cookie");
                }
            }
            Err(error) => {
                let status = SessionError(error).status();
                let body = status.reason().unwrap_or("session error");
                tracing::error!(status = status.code, "the session could not be saved");
                *res = Response::build()
                    .status(status)
                    .header(Header::new("Content-Type", "text/plain; charset=utf-8"))
                    .sized_body(body.len(), Cursor::new(body))
                    .finalize();
            }
        }
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
/// concurrent request, 503 when the store is unavailable, 500 otherwise,
/// with a short plain message and a `tracing` error. Handlers return
/// `Result<_, SessionError>` so `?` works on every session call.
#[derive(Debug)]
pub struct SessionError(pub session_core::Error);

impl SessionError {
    fn status(&self) -> Status {
        Status::from_code(self.0.http_status()).unwrap_or(Status::InternalServerError)
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
        tracing::error!(error = %self.0, kind = ?self.0.kind(), "session error");
        let body = self.0.to_string();
        Response::build()
            .status(self.status())
            .header(Header::new("Content-Type", "text/plain; charset=utf-8"))
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}
