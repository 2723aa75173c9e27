//! A store that is down answers 503 with a body that names no internals,
//! both when a handler's session call fails and when `finish` does.

#[path = "../../support/down.rs"]
mod down;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, SET_COOKIE};
use actix_web::{App, test, web};
use down::{COOKIE, Down, UNAVAILABLE_BODY};
use session_actix::{Session, SessionError, SessionMiddleware};
use session_core::SessionManager;

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(format!("{:?}", session.get::<u32>("n").await?))
}

async fn write(session: Session) -> Result<String, SessionError> {
    session.insert("n", 1).await?;
    Ok("written".to_owned())
}

async fn send(request: test::TestRequest) -> actix_web::dev::ServiceResponse {
    let app = test::init_service(
        App::new()
            .route("/read", web::get().to(read))
            .route("/write", web::post().to(write))
            .wrap(SessionMiddleware::new(SessionManager::new(Down))),
    )
    .await;
    test::call_service(&app, request.to_request())
        .await
        .map_into_boxed_body()
}

#[actix_web::test]
async fn a_failed_read_answers_503_without_internals() {
    let request = test::TestRequest::get()
        .uri("/read")
        .insert_header(("Cookie", COOKIE));
    let response = send(request).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers().get(CONTENT_TYPE).unwrap(),
        "text/plain; charset=utf-8"
    );
    assert_eq!(test::read_body(response).await, UNAVAILABLE_BODY);
}

#[actix_web::test]
async fn a_failed_save_in_finish_answers_503_without_internals() {
    // No cookie: the handler's insert needs no I/O, `finish`'s create fails.
    let response = send(test::TestRequest::post().uri("/write")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert_eq!(test::read_body(response).await, UNAVAILABLE_BODY);
}
