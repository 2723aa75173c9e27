//! A store that is down answers 503 with a body that names no internals,
//! both when a handler's session call fails and when `finish` does.
#![cfg(feature = "axum")]

#[path = "../../support/down.rs"]
mod down;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use down::{COOKIE, Down, UNAVAILABLE_BODY};
use session_core::SessionManager;
use session_tower::{Session, SessionError, SessionLayer};
use tower::ServiceExt;

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(format!("{:?}", session.get::<u32>("n").await?))
}

async fn write(session: Session) -> Result<String, SessionError> {
    session.insert("n", 1).await?;
    Ok("written".to_owned())
}

fn app() -> Router {
    Router::new()
        .route("/read", get(read))
        .route("/write", post(write))
        .layer(SessionLayer::new(SessionManager::new(Down)))
}

async fn text(response: Response) -> String {
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn a_failed_read_answers_503_without_internals() {
    let request = Request::get("/read")
        .header("Cookie", COOKIE)
        .body(Body::empty())
        .unwrap();
    let response = app().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(text(response).await, UNAVAILABLE_BODY);
}

#[tokio::test]
async fn a_failed_save_in_finish_answers_503_without_internals() {
    // No cookie: the handler's insert needs no I/O, `finish`'s create fails.
    let request = Request::post("/write").body(Body::empty()).unwrap();
    let response = app().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(text(response).await, UNAVAILABLE_BODY);
}
