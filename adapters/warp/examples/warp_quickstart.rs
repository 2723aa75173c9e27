//! A visit counter on 127.0.0.1:3000: `cargo run -p session-warp --example warp_quickstart`.

use session_core::{MemoryStore, SessionManager};
use session_warp::{Session, SessionError, Sessions};
use warp::Filter;

async fn index(session: Session) -> (Result<String, SessionError>, Session) {
    let visits = async {
        let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
        session.insert("visits", visits).await?;
        Ok(format!("{visits} visits"))
    };
    (visits.await, session)
}

#[tokio::main]
async fn main() {
    let sessions = Sessions::new(SessionManager::new(MemoryStore::new()));
    let app = warp::path::end()
        .and(sessions.load())
        .then(index)
        .then(sessions.finish());
    warp::serve(app).run(([127, 0, 0, 1], 3000)).await;
}
