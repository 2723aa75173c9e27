//! A store that is down answers 503 with a body that names no internals,
//! both when a handler's session call fails and when `finish` does.

use std::net::SocketAddr;

use session_core::{Error, Record, SessionId, SessionManager, SessionStore, async_trait};
use session_warp::{Session, SessionError, Sessions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warp::Filter;

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

async fn start() -> SocketAddr {
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(read.or(write)).incoming(listener).run());
    addr
}

/// Sends one request; returns the head and the body.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn a_failed_read_answers_503_without_internals() {
    let addr = start().await;
    let (head, body) = send(addr, "GET", "/read", Some(COOKIE)).await;
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert_eq!(body, "session store unavailable; try again later");
}

#[tokio::test]
async fn a_failed_save_in_finish_answers_503_without_internals() {
    // No cookie: the handler's insert needs no I/O, `finish`'s create fails.
    let addr = start().await;
    let (head, body) = send(addr, "POST", "/write", None).await;
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
    assert_eq!(body, "session store unavailable; try again later");
}
