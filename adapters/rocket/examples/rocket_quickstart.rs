//! A visit counter on 127.0.0.1:3000: `cargo run -p session-rocket --example rocket_quickstart`.

use rocket::{get, launch, routes};
use session_core::{MemoryStore, SessionManager};
use session_rocket::{Session, SessionError, SessionFairing};

#[get("/")]
async fn index(session: Session) -> Result<String, SessionError> {
    let visits: u64 = session.get("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", visits).await?;
    Ok(format!("{visits} visits"))
}

#[launch]
fn rocket() -> _ {
    let sessions = SessionManager::new(MemoryStore::new());
    rocket::build()
        .attach(SessionFairing::new(sessions))
        .mount("/", routes![index])
}
