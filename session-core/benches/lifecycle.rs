//! Throughput of whole requests (load, one read or write, finish) against
//! `MemoryStore`, as the session grows from a few bytes to 1 KiB and
//! 16 KiB. DESIGN.md §3: a read-only request never copies the data, a write
//! copies at most once, so size should cost reads almost nothing.
//!
//! `cargo bench -p session-core --bench lifecycle` prints requests per
//! second and each size's ratio to the tiny session, measured in one run
//! (rounds interleaved, best round kept).

use std::hint::black_box;
use std::time::{Duration, Instant};

use session_core::{MemoryStore, SessionManager};

const REQUESTS: u32 = 20_000;
const ROUNDS: usize = 5;

/// A session of about `bytes` bytes; returns its cookie pair.
async fn seed(sessions: &SessionManager, bytes: usize) -> String {
    let session = sessions.load(None::<&str>);
    session.insert("visits", 0).await.ok();
    for i in 0..bytes / 64 {
        session
            .insert(format!("k{i:03}"), "x".repeat(56))
            .await
            .ok();
    }
    let outcome = sessions
        .finish(&session, 200)
        .await
        .ok()
        .and_then(|o| o.set_cookie)
        .unwrap_or_default();
    outcome.split(';').next().unwrap_or_default().to_owned()
}

async fn read_only(sessions: &SessionManager, cookie: &str) -> Duration {
    let start = Instant::now();
    for _ in 0..REQUESTS {
        let session = sessions.load([cookie]);
        black_box(session.get::<u64>("visits").await.ok());
        black_box(sessions.finish(&session, 200).await.ok());
    }
    start.elapsed()
}

async fn write(sessions: &SessionManager, cookie: &str) -> Duration {
    let start = Instant::now();
    for i in 0..REQUESTS {
        let session = sessions.load([cookie]);
        session.insert("visits", i).await.ok();
        black_box(sessions.finish(&session, 200).await.ok());
    }
    start.elapsed()
}

fn per_second(d: Duration) -> f64 {
    f64::from(REQUESTS) / d.as_secs_f64()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sessions = SessionManager::new(MemoryStore::new());
    let sizes = [("tiny", 0), ("1 KiB", 1024), ("16 KiB", 16 * 1024)];
    let mut cookies = Vec::new();
    for (_, bytes) in sizes {
        cookies.push(seed(&sessions, bytes).await);
    }
    let mut best_read = [Duration::MAX; 3];
    let mut best_write = [Duration::MAX; 3];
    for _ in 0..ROUNDS {
        for (i, cookie) in cookies.iter().enumerate() {
            best_read[i] = best_read[i].min(read_only(&sessions, cookie).await);
            best_write[i] = best_write[i].min(write(&sessions, cookie).await);
        }
    }
    println!("{REQUESTS} requests per round, best of {ROUNDS} rounds, MemoryStore, one thread");
    println!(
        "{:<8} {:>14} {:>10} {:>14} {:>10}",
        "session", "read req/s", "vs tiny", "write req/s", "vs tiny"
    );
    for (i, (name, _)) in sizes.iter().enumerate() {
        println!(
            "{:<8} {:>14.0} {:>9.0}% {:>14.0} {:>9.0}%",
            name,
            per_second(best_read[i]),
            100.0 * per_second(best_read[i]) / per_second(best_read[0]),
            per_second(best_write[i]),
            100.0 * per_second(best_write[i]) / per_second(best_write[0]),
        );
    }
}
