//! A visit counter on 127.0.0.1:3000: `cargo run -p session-actix --example actix_quickstart`.

use actix_web::{App, HttpServer, get};
use session_actix::{Session, SessionError, SessionMiddleware};
use session_core::{MemoryStore, SessionManager};

#[get("/")]
async fn index(session: Session) -> Result<String, SessionError> {
    let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", visits).await?;
    Ok(format!("{visits} visits"))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let sessions = SessionManager::new(MemoryStore::new());
    let app = move || {
        App::new()
            .wrap(SessionMiddleware::new(sessions.clone()))
            .service(index)
    };
    HttpServer::new(app).bind("127.0.0.1:3000")?.run().await
}
