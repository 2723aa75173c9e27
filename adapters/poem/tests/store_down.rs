//! A store that is down answers 503 with a body that names no internals,
//! both when a handler's session call fails and when `finish` does.

use poem::http::StatusCode;
use poem::test::TestClient;
use poem::{EndpointExt, Route, get, handler, post};
use session_core::{Error, Record, SessionId, SessionManager, SessionStore, async_trait};
use session_poem::{Session, SessionError, SessionMiddleware};

const COOKIE: &str = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
const INTERNALS: &str = "db.internal:5432";

fn refused() -> Error {
    Error::unavailable(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        format!("could not connect to {INTERNALS}: connection refused"),
    ))
}

/// Fails every call as a store whose server refuses connections.
#[derive(Debug)]
struct Down;

#[async_trait]
impl SessionStore for Down {
    async fn create(&self, _: &Record) -> Result<(), Error> {
        Err(refused())
    }
    async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
        Err(refused())
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        Err(refused())
    }
    async fn delete(&self, _: &SessionId) -> Result<(), Error> {
        Err(refused())
    }
}

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
    response
        .assert_text("session store unavailable; try again later")
        .await;
}

#[tokio::test]
async fn a_failed_save_in_finish_answers_503_without_internals() {
    // No cookie: the handler's insert needs no I/O, `finish`'s create fails.
    let response = TestClient::new(app()).post("/write").send().await;
    response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.0.headers().get("set-cookie").is_none());
    response
        .assert_text("session store unavailable; try again later")
        .await;
}
