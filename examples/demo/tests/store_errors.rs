//! Every adapter answers a store failure the same way: 503 when the store
//! is unreachable, 400 when the session was deleted by a concurrent request,
//! and routes that never touch the session keep answering 200.

use std::net::SocketAddr;
use std::time::Duration;

use session_core::{
    Error, Record, SessionData, SessionId, SessionManager, SessionStore, async_trait,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const COOKIE: &str = "sessionid=abcdefghijklmnopqrstuvwxyz012345";

/// Fails every call as a store whose server is down would.
#[derive(Debug)]
struct Down;

#[async_trait]
impl SessionStore for Down {
    async fn create(&self, _: &Record) -> Result<(), Error> {
        Err(Error::unavailable("connection refused"))
    }
    async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
        Err(Error::unavailable("connection refused"))
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        Err(Error::unavailable("connection refused"))
    }
    async fn delete(&self, _: &SessionId) -> Result<(), Error> {
        Err(Error::unavailable("connection refused"))
    }
}

/// Every session exists until it is saved: then it is gone, as after a
/// logout in a concurrent request.
#[derive(Debug)]
struct LoggedOutMeanwhile;

#[async_trait]
impl SessionStore for LoggedOutMeanwhile {
    async fn create(&self, _: &Record) -> Result<(), Error> {
        Ok(())
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        Ok(Some(Record::new(id.clone(), SessionData::new(), expires)))
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        Err(Error::NotFound)
    }
    async fn delete(&self, _: &SessionId) -> Result<(), Error> {
        Ok(())
    }
}

async fn start(framework: &str, store: impl SessionStore) -> SocketAddr {
    let sessions = SessionManager::new(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    match framework {
        "poem" => drop(tokio::spawn(session_demo::serve::poem(sessions, listener))),
        "warp" => drop(tokio::spawn(session_demo::serve::warp(sessions, listener))),
        _ => {
            drop(listener);
            drop(tokio::spawn(session_demo::serve::rocket(sessions, addr)));
        }
    }
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return addr;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{framework} did not start on {addr}");
}

/// Sends one request and returns the status code.
async fn status(addr: SocketAddr, method: &str, target: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nCookie: {COOKIE}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_where_the_session_is_used() {
    for framework in ["poem", "warp", "rocket"] {
        let addr = start(framework, Down).await;
        assert_eq!(
            status(addr, "GET", "/probe/noop").await,
            200,
            "{framework}: a route without the session"
        );
        assert_eq!(
            status(addr, "GET", "/probe/get?k=a").await,
            503,
            "{framework}: a read"
        );
        assert_eq!(
            status(addr, "POST", "/probe/set?k=a&v=1").await,
            503,
            "{framework}: a write"
        );
        assert_eq!(status(addr, "GET", "/").await, 503, "{framework}: the page");
    }
}

#[tokio::test]
async fn a_session_deleted_meanwhile_answers_400() {
    for framework in ["poem", "warp", "rocket"] {
        let addr = start(framework, LoggedOutMeanwhile).await;
        assert_eq!(
            status(addr, "POST", "/probe/set?k=a&v=1").await,
            400,
            "{framework}: session interrupted"
        );
        assert_eq!(
            status(addr, "GET", "/probe/get?k=a").await,
            200,
            "{framework}: a read saves nothing"
        );
    }
}
