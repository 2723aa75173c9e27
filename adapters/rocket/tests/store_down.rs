//! A store that is down answers 503 with a body that names no internals,
//! both when a handler's session call fails and when the fairing's
//! `finish` does.

#[path = "../../support/down.rs"]
mod down;

use down::{COOKIE, Down, UNAVAILABLE_BODY};
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;
use rocket::{get, post, routes};
use session_core::SessionManager;
use session_rocket::{Session, SessionError, SessionFairing};

#[get("/read")]
async fn read(session: Session) -> Result<String, SessionError> {
    Ok(format!("{:?}", session.get::<u32>("n").await?))
}

#[post("/write")]
async fn write(session: Session) -> Result<String, SessionError> {
    session.insert("n", 1).await?;
    Ok("written".to_owned())
}

async fn client() -> Client {
    let config = rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        ..rocket::Config::debug_default()
    };
    let app = rocket::custom(config)
        .attach(SessionFairing::new(SessionManager::new(Down)))
        .mount("/", routes![read, write]);
    Client::untracked(app).await.expect("the app ignites")
}

#[rocket::async_test]
async fn a_failed_read_answers_503_without_internals() {
    let client = client().await;
    let response = client
        .get("/read")
        .header(Header::new("Cookie", COOKIE))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
    assert_eq!(
        response.into_string().await.as_deref(),
        Some(UNAVAILABLE_BODY)
    );
}

#[rocket::async_test]
async fn a_failed_save_in_finish_answers_503_without_internals() {
    // No cookie: the handler's insert needs no I/O, `finish`'s create fails.
    let client = client().await;
    let response = client.post("/write").dispatch().await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
    assert_eq!(response.headers().get("Set-Cookie").count(), 0);
    assert_eq!(
        response.into_string().await.as_deref(),
        Some(UNAVAILABLE_BODY)
    );
}
