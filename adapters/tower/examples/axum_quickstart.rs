//! A visit counter on 127.0.0.1:3000: `cargo run -p session-tower --example axum_quickstart`.

use axum::{Router, routing::get};
use session_core::{MemoryStore, SessionManager};
use session_tower::{Session, SessionError, SessionLayer};

async fn index(session: Session) -> Result<String, SessionError> {
    let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", visits).await?;
    Ok(format!("{visits} visits"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let sessions = SessionManager::new(MemoryStore::new());
    let app = Router::new()
        .route("/", get(index))
        .layer(SessionLayer::new(sessions));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await
}
