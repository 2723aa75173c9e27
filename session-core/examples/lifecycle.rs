//! Drives four requests through the full lifecycle against `MemoryStore`
//! and prints the `Set-Cookie` header each one produces:
//! a first write, a read-only request, a rotation and a flush.
//!
//! Run it with `cargo run -p session-core --example lifecycle`.

use session_core::{Error, MemoryStore, Outcome, Session, SessionManager};

/// The `name=value` pair a browser sends back for a `Set-Cookie` header.
fn cookie_pair(outcome: &Outcome) -> Option<String> {
    let header = outcome.set_cookie.as_deref()?;
    header.split(';').next().map(str::to_owned)
}

fn show(step: &str, outcome: &Outcome) {
    println!("{step}");
    match &outcome.set_cookie {
        Some(header) => println!("  Set-Cookie: {header}"),
        None => println!("  (no Set-Cookie)"),
    }
    if outcome.vary_cookie {
        println!("  Vary: Cookie");
    }
}

async fn request(
    sessions: &SessionManager,
    cookie: Option<&str>,
    step: &str,
    f: impl AsyncFnOnce(&Session) -> Result<(), Error>,
) -> Result<Outcome, Error> {
    let session = sessions.load(cookie);
    f(&session).await?;
    let outcome = sessions.finish(&session, 200).await?;
    show(step, &outcome);
    Ok(outcome)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sessions = SessionManager::new(MemoryStore::new());

    let first = request(
        &sessions,
        None,
        "1. first write (cart = [\"apple\"])",
        async |s| s.insert("cart", ["apple"]).await,
    )
    .await?;
    let cookie = cookie_pair(&first);

    request(
        &sessions,
        cookie.as_deref(),
        "2. read-only request",
        async |s| {
            let cart: Option<Vec<String>> = s.get("cart").await?;
            println!("  (handler saw cart = {cart:?})");
            Ok(())
        },
    )
    .await?;

    let rotated = request(
        &sessions,
        cookie.as_deref(),
        "3. rotation (cycle_id)",
        async |s| s.cycle_id().await,
    )
    .await?;
    let cookie = cookie_pair(&rotated);

    request(&sessions, cookie.as_deref(), "4. flush", async |s| {
        s.flush().await
    })
    .await?;
    Ok(())
}
