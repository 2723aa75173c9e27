//! A store that is down answers 503 with a body that names no internals,
//! both when a handler's session call fails and when `finish` does.

#[path = "../../support/down.rs"]
mod down;

use down::{COOKIE, Down, UNAVAILABLE_BODY};
use poem::http::StatusCode;
use poem::test::TestClient;
use poem::{EndpointExt, Route, get, handler, post};
use session_core::SessionManager;
use session_poem::{Session, SessionError, SessionMiddleware};

#[handler]
async fn read(session: Session) -> Result<String, SessionError> {
    Ok(format!("{:?}", session.get::<u32>("n").await?))
}

#[handler]
async fn write(session: Session) -> Result<String, SessionError> {
    session.insert("n", 1).await?;
    Ok("written".to_owned())
}

fn app() -> impl poem::Endpoint {
    Route::new()
        .at("/read", get(read))
        .at("/write", post(write))
        .with(SessionMiddleware::new(SessionManager::new(Down)))
}

#[tokio::test]
async fn a_failed_read_answers_503_without_internals() {
    let response = TestClient::new(app())
        .get("/read")
        .header("Cookie", COOKIE)
        .send()
        .await;
    response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    response.assert_text(UNAVAILABLE_BODY).await;
}

#[tokio::test]
async fn a_failed_save_in_finish_answers_503_without_internals() {
    // No cookie: the handler's insert needs no I/O, `finish`'s create fails.
    let response = TestClient::new(app()).post("/write").send().await;
    response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.0.headers().get("set-cookie").is_none());
    response.assert_text(UNAVAILABLE_BODY).await;
}
