//! A handler that writes the session and then returns an error still gets
//! its session saved (below 500) or dropped (500 and above).
#![cfg(feature = "axum")]

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use session_core::{MemoryStore, SessionManager};
use session_tower::{Session, SessionError, SessionLayer};
use tower::ServiceExt;

async fn write_then_fail(session: Session, Path(status): Path<u16>) -> Result<String, Response> {
    session
        .insert("written", true)
        .await
        .map_err(|e| SessionError(e).into_response())?;
    Err(StatusCode::from_u16(status).unwrap().into_response())
}

fn app() -> Router {
    Router::new()
        .route("/fail/{status}", post(write_then_fail))
        .layer(SessionLayer::new(SessionManager::new(MemoryStore::new())))
}

fn request(path: &str) -> Request<Body> {
    Request::post(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn an_error_below_500_keeps_the_session_write() {
    let response = app().oneshot(request("/fail/409")).await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("the session cookie is set on an error response");
    assert!(cookie.to_str().unwrap().starts_with("sessionid="));
}

#[tokio::test]
async fn an_error_of_500_saves_nothing() {
    let response = app().oneshot(request("/fail/500")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn an_unmatched_route_is_finished_too() {
    // axum's own 404 goes through the layer like any handler's answer.
    let response = app().oneshot(request("/nowhere")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(response.headers().get("vary").is_none());
}

#[tokio::test]
async fn the_extractor_without_the_layer_answers_500_naming_the_fix() {
    let app = Router::new().route("/fail/{status}", post(write_then_fail));
    let response = app.oneshot(request("/fail/409")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("SessionLayer is not installed"), "{body}");
}
