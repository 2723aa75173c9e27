//! A visit counter on 127.0.0.1:3000: `cargo run -p session-poem --example poem_quickstart`.

use poem::{EndpointExt, Route, Server, get, handler, listener::TcpListener};
use session_core::{MemoryStore, SessionManager};
use session_poem::{Session, SessionError, SessionMiddleware};

#[handler]
async fn index(session: Session) -> Result<String, SessionError> {
    let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", visits).await?;
    Ok(format!("{visits} visits"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let sessions = SessionManager::new(MemoryStore::new());
    let app = Route::new()
        .at("/", get(index))
        .with(SessionMiddleware::new(sessions));
    Server::new(TcpListener::bind("127.0.0.1:3000"))
        .run(app)
        .await
}
