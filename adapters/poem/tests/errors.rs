//! A handler that writes the session and then returns an error still gets
//! its session saved (below 500) or dropped (500 and above).

use poem::http::StatusCode;
use poem::test::TestClient;
use poem::{EndpointExt, Route, handler, post};
use session_core::{MemoryStore, SessionManager};
use session_poem::{Session, SessionMiddleware};

#[handler]
async fn write_then_fail(
    session: Session,
    poem::web::Path(status): poem::web::Path<u16>,
) -> poem::Result<String> {
    session
        .insert("written", true)
        .await
        .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::INTERNAL_SERVER_ERROR))?;
    Err(poem::Error::from_status(
        StatusCode::from_u16(status).unwrap(),
    ))
}

fn app() -> impl poem::Endpoint {
    Route::new()
        .at("/fail/:status", post(write_then_fail))
        .with(SessionMiddleware::new(SessionManager::new(
            MemoryStore::new(),
        )))
}

#[tokio::test]
async fn an_error_below_500_keeps_the_session_write() {
    let response = TestClient::new(app()).post("/fail/409").send().await;
    response.assert_status(StatusCode::CONFLICT);
    let cookie = response
        .0
        .headers()
        .get("set-cookie")
        .expect("the session cookie is set on an error response");
    assert!(cookie.to_str().unwrap().starts_with("sessionid="));
}

#[tokio::test]
async fn an_error_of_500_saves_nothing() {
    let response = TestClient::new(app()).post("/fail/500").send().await;
    response.assert_status(StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.0.headers().get("set-cookie").is_none());
}
