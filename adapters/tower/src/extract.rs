//! axum's side (feature `axum`): the [`Session`] extractor and the
//! [`SessionError`] response.

use std::fmt;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header::CONTENT_TYPE};

/// The visitor's session, extracted in an axum handler. Derefs to
/// [`session_core::Session`], whose methods hold Django's semantics.
///
/// ```
/// use axum::{Router, routing::get};
/// use session_core::{MemoryStore, SessionManager};
/// use session_tower::{Session, SessionError, SessionLayer};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
///     session.insert("visits", visits).await?;
///     Ok(format!("{visits} visits"))
/// }
///
/// let sessions = SessionManager::new(MemoryStore::new());
/// let app: Router = Router::new().route("/", get(visits)).layer(SessionLayer::new(sessions));
/// # let _ = app;
/// ```
///
/// Extracting it without [`SessionLayer`](crate::SessionLayer) fails with
/// [`MissingSessionLayer`]: a 500 and a message that says so.
#[derive(Debug, Clone)]
pub struct Session(pub session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<session_core::Session>()
            .cloned()
            .map(Session)
            .ok_or(MissingSessionLayer)
    }
}

/// The rejection of [`Session`] on a route that [`SessionLayer`] does not
/// wrap: a developer's mistake, answered 500 with a message that names the
/// fix, and logged at `error`.
///
/// [`SessionLayer`]: crate::SessionLayer
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingSessionLayer;

impl MissingSessionLayer {
    const MESSAGE: &'static str = "session unavailable: SessionLayer is not installed on this route; \
         add `.layer(SessionLayer::new(sessions))` to the router";
}

impl fmt::Display for MissingSessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl std::error::Error for MissingSessionLayer {}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!(
            "the Session extractor was used on a route without SessionLayer: add \
             `.layer(SessionLayer::new(sessions))` to the router (a layer added with \
             `route_layer` or before `.route(..)` does not cover later routes)"
        );
        plain(StatusCode::INTERNAL_SERVER_ERROR, Self::MESSAGE)
    }
}

/// A session error as an axum response: 400 when the session was deleted
/// by a concurrent request, 503 when the store is unavailable, 413 when the
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

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        self.0.log_response();
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        plain(status, self.0.public_message())
    }
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    let mut response = Response::new(axum::body::Body::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::test_support::{assert_store_error_logged, logged, pool_timed_out};

    async fn text(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_store_error_logs_its_kind_and_cause_chain_and_answers_without_them() {
        let mut response = None;
        let log = logged(|| response = Some(SessionError(pool_timed_out()).into_response()));
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_store_error_logged(&log);
        assert_eq!(
            text(response).await,
            "session store unavailable; try again later"
        );
    }

    #[tokio::test]
    async fn an_interrupted_session_answers_400() {
        let response = SessionError(session_core::Error::Interrupted).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(text(response).await.contains("reload the page"));
    }

    #[tokio::test]
    async fn a_missing_layer_answers_500_naming_the_fix() {
        let mut response = None;
        let log = logged(|| response = Some(MissingSessionLayer.into_response()));
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            log.contains("ERROR") && log.contains("SessionLayer"),
            "{log}"
        );
        let body = text(response).await;
        assert!(body.contains("SessionLayer::new(sessions)"), "{body}");
    }
}
