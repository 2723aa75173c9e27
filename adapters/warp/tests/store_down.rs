//! A store that is down answers 503 with a body that names no internals,
//! both when a handler's session call fails and when `finish` does.

#[path = "../../support/down.rs"]
mod down;

use down::{COOKIE, Down, UNAVAILABLE_BODY};
use session_core::SessionManager;
use session_warp::{Session, SessionError, Sessions};
use warp::Filter;
use warp::http::StatusCode;

async fn read(session: Session) -> (Result<String, SessionError>, Session) {
    let result = async { Ok(format!("{:?}", session.get::<u32>("n").await?)) }.await;
    (result, session)
}

async fn write(session: Session) -> (Result<String, SessionError>, Session) {
    let result = async {
        session.insert("n", 1).await?;
        Ok("written".to_owned())
    }
    .await;
    (result, session)
}

fn app() -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let sessions = Sessions::new(SessionManager::new(Down));
    let read = warp::path!("read")
        .and(warp::get())
        .and(sessions.load())
        .then(read)
        .then(sessions.finish());
    let write = warp::path!("write")
        .and(warp::post())
        .and(sessions.load())
        .then(write)
        .then(sessions.finish());
    read.or(write).unify()
}

#[tokio::test]
async fn a_failed_read_answers_503_without_internals() {
    let response = warp::test::request()
        .method("GET")
        .path("/read")
        .header("Cookie", COOKIE)
        .reply(&app())
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.body(), UNAVAILABLE_BODY);
}

#[tokio::test]
async fn a_failed_save_in_finish_answers_503_without_internals() {
    // No cookie: the handler's insert needs no I/O, `finish`'s create fails.
    let response = warp::test::request()
        .method("POST")
        .path("/write")
        .reply(&app())
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(response.body(), UNAVAILABLE_BODY);
}
