//! Concurrency: 64 visitors × 500 requests each through every adapter
//! (poem, warp, rocket) on Redis and on PostgreSQL, six runs one after the
//! other (so each run's requests/s is its own).
//!
//! Each visitor keeps its own cookie jar and one kept-alive connection and
//! increments its own counter with `POST /probe/incr`. A run passes when:
//!
//! - every response is 200 (zero errors, zero connections without an
//!   answer);
//! - the n-th response of every visitor says exactly n (a lost update, a
//!   session shared with another visitor or a session lost midway would
//!   show as a skipped, repeated or restarted count), and the final read
//!   says 500;
//! - each visitor kept one session cookie from its first response to its
//!   last, the 64 cookies are all different, and the store holds exactly
//!   64 sessions for the run (no visitor got a second one, none shares).
//!
//! The shared servers are used (`SESSION_TEST_REDIS_URL`,
//! `SESSION_TEST_POSTGRES_URL`, or the defaults), with a key prefix (Redis)
//! or a table (PostgreSQL) of the run's own, removed at the end.
//!
//! In debug on two cores the six runs take about 165 s (Redis about
//! 2,000 requests/s, PostgreSQL about 900, each commit waiting for the
//! shared server's fsync).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::servers::{self, App, Client, Latencies};
use session_core::{Config, SessionStore};

const CLIENTS: usize = 64;
const REQUESTS: usize = 500;
const FRAMEWORKS: [&str; 3] = ["poem", "warp", "rocket"];

/// What one visitor saw.
#[derive(Debug, Default)]
struct Visitor {
    errors: Vec<String>,
    latencies: Latencies,
    cookie: Option<String>,
    last: Option<i64>,
}

async fn visitor(addr: std::net::SocketAddr) -> Visitor {
    let mut client = Client::keep_alive(addr).with_timeout(Duration::from_secs(30));
    let mut seen = Visitor::default();
    for n in 1..=REQUESTS {
        let answer = match client.post("/probe/incr?k=n").await {
            Ok(answer) => answer,
            Err(no) => {
                seen.errors
                    .push(format!("request {n}: no answer: {}", no.what));
                continue;
            }
        };
        seen.latencies.push(answer.elapsed);
        if answer.status != 200 {
            seen.errors.push(format!(
                "request {n}: status {}: {}",
                answer.status, answer.body
            ));
            continue;
        }
        let value = answer.value();
        if value != Some(n as i64) {
            seen.errors.push(format!(
                "request {n}: the counter says {value:?}, expected {n}"
            ));
        }
        match (&seen.cookie, client.cookie()) {
            (_, None) => seen
                .errors
                .push(format!("request {n}: no session cookie after a write")),
            (None, Some(now)) => seen.cookie = Some(now.to_owned()),
            (Some(first), Some(now)) if first != now => {
                seen.errors
                    .push(format!("request {n}: the session cookie changed"));
                seen.cookie = Some(now.to_owned());
            }
            _ => {}
        }
    }
    seen.last = match client.get("/probe/get?k=n").await {
        Ok(answer) if answer.status == 200 => answer.value(),
        Ok(answer) => {
            seen.errors.push(format!(
                "final read: status {}: {}",
                answer.status, answer.body
            ));
            None
        }
        Err(no) => {
            seen.errors
                .push(format!("final read: no answer: {}", no.what));
            None
        }
    };
    if seen.last != Some(REQUESTS as i64) {
        seen.errors.push(format!(
            "final read: the counter is {:?}, expected {REQUESTS}",
            seen.last
        ));
    }
    seen
}

enum Backend {
    Redis(session_store_redis::RedisStore, String),
    Postgres(session_store_postgres::PostgresStore, String),
}

impl Backend {
    async fn open(store: &str, framework: &str) -> Backend {
        let run = format!("load_{framework}_{}", std::process::id());
        match store {
            "redis" => {
                let url = common::redis_url();
                let prefix = format!("{run}:");
                // The default command timeout.
                let deadline = Duration::from_secs(2);
                let (store, _) = servers::redis_store(&url, &prefix, deadline)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "no Redis at {url} ({e}): start one (scripts/test does) or set \
                             SESSION_TEST_REDIS_URL"
                        )
                    });
                servers::redis_delete_prefix(&store, &prefix).await;
                Backend::Redis(store, prefix)
            }
            _ => {
                let url = common::postgres_url();
                // The defaults: 5 s to acquire, 5 s per statement.
                let deadline = Duration::from_secs(10);
                let (store, _) = servers::postgres_store(&url, &run, deadline)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "no PostgreSQL at {url} ({e}): start one (scripts/test does) or set \
                             SESSION_TEST_POSTGRES_URL"
                        )
                    });
                sqlx::query(sqlx::AssertSqlSafe(format!("TRUNCATE public.\"{run}\"")))
                    .execute(store.pool())
                    .await
                    .expect("empty the run's table");
                Backend::Postgres(store, run)
            }
        }
    }

    fn store(&self) -> Arc<dyn SessionStore> {
        match self {
            Backend::Redis(store, _) => Arc::new(store.clone()),
            Backend::Postgres(store, _) => Arc::new(store.clone()),
        }
    }

    async fn sessions(&self) -> i64 {
        match self {
            Backend::Redis(store, prefix) => servers::redis_count(store, prefix).await,
            Backend::Postgres(store, table) => servers::postgres_count(store, table).await,
        }
    }

    async fn remove(self) {
        match self {
            Backend::Redis(store, prefix) => {
                servers::redis_delete_prefix(&store, &prefix).await;
            }
            Backend::Postgres(store, table) => servers::postgres_drop(&store, &table).await,
        }
    }
}

/// One run; returns its failures.
async fn run(framework: &'static str, store: &'static str) -> Vec<String> {
    let backend = Backend::open(store, framework).await;
    let app = App::start(framework, backend.store(), Config::default()).await;
    let started = Instant::now();
    let visitors: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(visitor(app.addr)))
        .collect();
    let mut seen = Vec::new();
    for task in visitors {
        seen.push(task.await.expect("visitor task"));
    }
    let elapsed = started.elapsed();
    let mut failures = Vec::new();
    let mut latencies = Latencies::default();
    let mut errors = 0usize;
    let mut cookies = std::collections::HashSet::new();
    let mut exact = 0usize;
    for (i, visitor) in seen.iter().enumerate() {
        latencies.extend(&visitor.latencies);
        errors += visitor.errors.len();
        for error in visitor.errors.iter().take(3) {
            failures.push(format!("{framework}/{store}: visitor {i}: {error}"));
        }
        if visitor.last == Some(REQUESTS as i64) {
            exact += 1;
        }
        if let Some(cookie) = &visitor.cookie
            && !cookies.insert(cookie.clone())
        {
            failures.push(format!(
                "{framework}/{store}: visitor {i} shares its session with another visitor"
            ));
        }
    }
    let sessions = backend.sessions().await;
    if sessions != CLIENTS as i64 {
        failures.push(format!(
            "{framework}/{store}: the store holds {sessions} sessions for {CLIENTS} visitors"
        ));
    }
    // Every increment and the final read of every visitor.
    let requests = CLIENTS * (REQUESTS + 1);
    println!(
        "load {framework:<6} {store:<8}: {CLIENTS} clients x {REQUESTS} requests: \
         {requests} requests in {:.2} s = {:.0} requests/s; errors {errors}; \
         exact counters {exact}/{CLIENTS}; distinct sessions {}; sessions in store {sessions}; \
         latency {}",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        cookies.len(),
        latencies.summary()
    );
    if !app.alive() {
        failures.push(format!("{framework}/{store}: the server task ended"));
    }
    drop(app);
    backend.remove().await;
    failures
}

#[test]
fn sixty_four_clients_times_500_requests_through_each_adapter_on_redis_and_postgres() {
    let runtime = servers::runtime("load");
    let failures = runtime.block_on(async {
        let started = Instant::now();
        let mut failures = Vec::new();
        for store in ["redis", "postgres"] {
            for framework in FRAMEWORKS {
                failures.extend(run(framework, store).await);
            }
        }
        let panics = servers::panics_in("load");
        failures.extend(panics.iter().map(|p| format!("panic in the app: {p}")));
        println!(
            "load: 6 runs in {:.1} s, {} failures, {} panics",
            started.elapsed().as_secs_f64(),
            failures.len(),
            panics.len()
        );
        failures
    });
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
