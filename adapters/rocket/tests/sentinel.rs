//! Launching an app whose routes use the Session guard without the fairing
//! fails at ignition, not at the first request.

use rocket::{get, routes};
use session_core::{MemoryStore, SessionManager};
use session_rocket::{Session, SessionFairing};

#[get("/")]
async fn index(session: Session) -> String {
    format!("{:?}", session.get::<u32>("n").await.ok().flatten())
}

fn config() -> rocket::Config {
    rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        ..rocket::Config::debug_default()
    }
}

#[rocket::async_test]
async fn a_missing_fairing_aborts_the_launch() {
    let error = rocket::custom(config())
        .mount("/", routes![index])
        .ignite()
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::SentinelAborts(_)),
        "{error:?}"
    );
}

#[rocket::async_test]
async fn with_the_fairing_it_ignites() {
    let sessions = SessionManager::new(MemoryStore::new());
    rocket::custom(config())
        .attach(SessionFairing::new(sessions))
        .mount("/", routes![index])
        .ignite()
        .await
        .expect("ignites with the fairing attached");
}
