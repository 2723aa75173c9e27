//! Django-grade sessions for [actix-web](https://docs.rs/actix-web) 4: a
//! [`SessionMiddleware`] that runs `session-core`'s request lifecycle around
//! every service, and a [`Session`] extractor for handlers.
//!
//! ```
//! use actix_web::{App, web};
//! use session_actix::{Session, SessionError, SessionMiddleware};
//! use session_core::{MemoryStore, SessionManager};
//!
//! async fn visits(session: Session) -> Result<String, SessionError> {
//!     let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
//!     session.insert("visits", visits).await?;
//!     Ok(format!("{visits} visits"))
//! }
//!
//! // One manager for the whole server: `HttpServer` calls the app factory
//! // once per worker thread, and the clones share the store.
//! let sessions = SessionManager::new(MemoryStore::new());
//! let app = move || {
//!     App::new()
//!         .wrap(SessionMiddleware::new(sessions.clone()))
//!         .route("/", web::get().to(visits))
//! };
//! # let _ = app;
//! ```
//!
//! What the adapter does, and nothing more:
//! - before the service, [`SessionManager::load`] reads every `Cookie`
//!   header field (no I/O) and the handle goes into the request's
//!   extensions;
//! - after it, [`SessionManager::finish`] runs with the response status and
//!   the adapter appends the raw `Set-Cookie` and `Vary: Cookie` headers
//!   (actix-web's cookie support is bypassed; the crate does not need its
//!   `cookies` feature). A handler or extractor that fails is already a
//!   response by then (actix-web renders its `ResponseError`), so its
//!   session is saved or not according to that response's status; an
//!   error from a middleware inside this one is finished with the status of
//!   the response it will become, and passed on with the session headers
//!   added to that response;
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
//!
//! actix-web runs each worker on its own single-threaded runtime, so the
//! middleware's future is not `Send`; the [`session_core::Session`] handle
//! it holds across the handler is (`Send + Sync`), and a handler may pass
//! it to `tokio::spawn` or `actix_web::rt::spawn` alike.
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
use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, COOKIE, HeaderMap, HeaderValue, SET_COOKIE, VARY};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use session_core::{Config, Outcome, SessionManager};

pub use session_core;

/// Runs the session lifecycle around a service: pass it to `App::wrap`
/// (or `Scope::wrap`, `Resource::wrap`).
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    sessions: SessionManager,
}

impl SessionMiddleware {
    /// A middleware over `sessions` (its store and settings).
    ///
    /// `HttpServer` builds the app once per worker thread: give every
    /// worker a clone of one manager, so they share its store.
    pub fn new(sessions: SessionManager) -> Self {
        SessionMiddleware { sessions }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, inner: S) -> Self::Future {
        ready(Ok(SessionService {
            inner,
            sessions: self.sessions.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around yours.
#[derive(Debug)]
pub struct SessionService<S> {
    inner: S,
    sessions: SessionManager,
}

/// The future of [`SessionService::call`]: not `Send`, as actix-web's
/// services are not.
type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(inner);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let session = self.sessions.load(req.headers().get_all(COOKIE));
        req.extensions_mut().insert(Session(session.clone()));
        // Called now, not inside the async block: the router matches the
        // path here, and the request must not be borrowed or cloned while
        // it does (actix-web needs sole ownership to record the match).
        let response = self.inner.call(req);
        let sessions = self.sessions.clone();
        Box::pin(async move {
            match response.await {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    match sessions.finish(&session, status).await {
                        Ok(outcome) => {
                            add_headers(response.headers_mut(), outcome, sessions.config());
                            Ok(response.map_into_left_body())
                        }
                        Err(error) => {
                            let (req, _) = response.into_parts();
                            let answer = HttpResponse::from_error(SessionError(error));
                            Ok(ServiceResponse::new(req, answer).map_into_right_body())
                        }
                    }
                }
                // Only a middleware inside this one gets here (actix-web
                // renders handler and extractor errors as responses): the
                // client will get `error_response()`, so finish with its
                // status and carry the headers along with the error.
                Err(error) => {
                    // The status the client will see: `error_response()`
                    // may differ from `status_code()` when only the former
                    // is overridden.
                    let status = error.error_response().status().as_u16();
                    match sessions.finish(&session, status).await {
                        Ok(outcome) => Err(WithSessionHeaders {
                            error,
                            outcome,
                            config: sessions.config().clone(),
                        }
                        .into()),
                        Err(error) => Err(SessionError(error).into()),
                    }
                }
            }
        })
    }
}

/// Appends what `outcome` asks for, beside the application's own headers.
fn add_headers(headers: &mut HeaderMap, outcome: Outcome, config: &Config) {
    if let Some(cookie) = outcome.set_cookie {
        append_set_cookie(headers, cookie, config);
    }
    if outcome.vary_cookie {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}

/// Appends `cookie` as a `Set-Cookie` header, or logs an error when it
/// cannot be a header value. The store has already been written by then, so
/// the response still goes out; the browser keeps its previous cookie.
fn append_set_cookie(headers: &mut HeaderMap, cookie: String, config: &Config) {
    match HeaderValue::try_from(cookie) {
        Ok(value) => headers.append(SET_COOKIE, value),
        Err(_) => session_core::lifecycle::log_unsendable_cookie(config),
    }
}

/// An error of an inner middleware whose session was finished: it answers
/// as that error does, with the session's headers added.
struct WithSessionHeaders {
    error: actix_web::Error,
    outcome: Outcome,
    config: Config,
}

impl fmt::Debug for WithSessionHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The outcome holds the session cookie: never print it.
        f.debug_struct("WithSessionHeaders")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for WithSessionHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for WithSessionHeaders {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.error.error_response();
        add_headers(response.headers_mut(), self.outcome.clone(), &self.config);
        response
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

impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Session>().cloned().ok_or_else(|| {
            tracing::error!("the Session extractor was used on a route without SessionMiddleware");
            actix_web::error::ErrorInternalServerError(
                "session unavailable: SessionMiddleware is not installed on this route",
            )
        }))
    }
}

/// A session error as an actix-web response: 400 when the session was
/// deleted by a concurrent request, 503 when the store is unavailable, 413
/// when the session grew past its limit, 500 otherwise, with a short plain
/// message that names no internals (no host, no query); the error's kind
/// and whole cause chain go to a `tracing` error. Handlers return
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
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log_response();
        HttpResponse::build(self.status_code())
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(self.0.public_message())
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

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_handle_and_the_middleware_may_cross_threads() {
        assert_send_sync::<Session>();
        assert_send_sync::<SessionMiddleware>();
        assert_send_sync::<SessionError>();
    }

    #[test]
    fn a_cookie_that_cannot_be_a_header_is_logged_not_dropped_silently() {
        let (config, cookie) = unsendable_cookie();
        let mut headers = HeaderMap::new();
        let log = logged(|| append_set_cookie(&mut headers, cookie, &config));
        assert!(headers.get(SET_COOKIE).is_none());
        assert_unsendable_cookie_logged(&log);
    }

    #[test]
    fn a_valid_cookie_is_appended_beside_the_apps_own() {
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
        let log = logged(|| append_set_cookie(&mut headers, valid_cookie(), &Config::default()));
        let values: Vec<_> = headers.get_all(SET_COOKIE).collect();
        assert_eq!(values.len(), 2, "{values:?}");
        assert_eq!(values[0], "theme=dark");
        assert_eq!(values[1], valid_cookie().as_str());
        assert!(log.is_empty(), "{log}");
    }

    #[test]
    fn vary_cookie_is_added_beside_the_apps_own_vary() {
        let mut headers = HeaderMap::new();
        headers.append(VARY, HeaderValue::from_static("Accept-Language"));
        let mut outcome = Outcome::default();
        outcome.vary_cookie = true;
        add_headers(&mut headers, outcome, &Config::default());
        let values: Vec<_> = headers.get_all(VARY).collect();
        assert_eq!(values, ["Accept-Language", "Cookie"]);
        assert!(headers.get(SET_COOKIE).is_none());
    }

    #[test]
    fn a_store_error_logs_its_kind_and_cause_chain_and_answers_without_them() {
        let error = SessionError(pool_timed_out());
        let mut response = None;
        let log = logged(|| response = Some(error.error_response()));
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "text/plain; charset=utf-8"
        );
        assert_store_error_logged(&log);
        let body = actix_web::rt::System::new()
            .block_on(actix_web::body::to_bytes(response.into_body()))
            .unwrap();
        assert_eq!(body, "session store unavailable; try again later");
    }
}
