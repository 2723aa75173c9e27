//! `CachedStore` with its Redis cache killed: every operation goes on
//! through PostgreSQL, which holds the right data; once Redis is back
//! (empty, on the same port) the cache serves again.
//!
//! The Redis is a throwaway `redis-server` of the test's own, on a free
//! port; PostgreSQL is the shared test server (`tests/common`).

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use session_core::time::{self, OffsetDateTime};
use session_core::{CachedStore, Record, SessionData, SessionId, SessionStore};
use session_store_postgres::PostgresStore;
use session_store_redis::{RedisOptions, RedisStore};

/// Far below every deadline involved: what "at once" means here.
const AT_ONCE: Duration = Duration::from_millis(500);

/// A `redis-server` of its own on a free port, persistence off; killed when
/// dropped.
struct Redis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free local port");
        let mut redis = Redis {
            port,
            dir: tempfile::tempdir().expect("a temporary directory for redis-server"),
            child: None,
        };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kills it (SIGKILL) and waits until the port refuses connections.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&self.addr(), Duration::from_millis(100)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "port {} still answers after kill",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts it (again, empty) on the same port and waits until it answers
    /// PING.
    fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start `redis-server` ({e}): install it \
                     (Debian: `apt-get install redis-server`) so this test can run a throwaway one"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) =
                TcpStream::connect_timeout(&self.addr(), Duration::from_millis(100))
            {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut reply = [0u8; 16];
                if stream.write_all(b"PING\r\n").is_ok()
                    && let Ok(n) = stream.read(&mut reply)
                    && reply[..n].starts_with(b"+PONG")
                {
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn record(n: i64) -> Record {
    Record::new(
        SessionId::generate(),
        SessionData::from_iter([("n".to_owned(), serde_json::json!(n))]),
        // Whole milliseconds: what both stores keep exactly.
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp() + 3600)
            .expect("an hour from now"),
    )
}

fn with_n(record: &Record, n: i64) -> Record {
    let mut changed = record.clone();
    std::sync::Arc::make_mut(&mut changed.data).insert("n".to_owned(), serde_json::json!(n));
    changed
}

/// `call`'s outcome, after checking it came at once.
async fn at_once<T>(what: &str, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let outcome = call.await;
    let took = started.elapsed();
    assert!(took < AT_ONCE, "{what} with the cache down took {took:?}");
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_goes_on_through_postgres_while_redis_is_down() {
    let redis = Redis::start();
    let cache = RedisStore::connect_with(
        &redis.url(),
        RedisOptions::default()
            .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(200)),
    )
    .await
    .unwrap_or_else(|e| panic!("the throwaway Redis: {}", e.report()))
    .with_prefix("cached:");
    let schema = common::fresh_schema("cached_down");
    let db = common::connect()
        .await
        .with_table(&schema, "sessions")
        .unwrap();
    db.migrate().await.unwrap();
    let store = CachedStore::new(cache.clone(), db.clone());

    // In a task of its own, so that the schema is dropped even if it fails.
    let outcome = tokio::spawn(run(redis, cache, db, store)).await;
    common::drop_schema(&common::admin().await, &schema).await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn run(
    mut redis: Redis,
    cache: RedisStore,
    db: PostgresStore,
    store: CachedStore<RedisStore, PostgresStore>,
) {
    // Before the outage: both stores hold what is written.
    let kept = record(1);
    store.create(&kept).await.unwrap();
    assert_eq!(cache.load(&kept.id).await.unwrap(), Some(kept.clone()));
    let gone = record(2);
    store.create(&gone).await.unwrap();

    redis.kill();
    assert!(
        cache.load(&kept.id).await.is_err(),
        "the cache still answers after the kill"
    );

    let fresh = record(3);
    at_once("create", store.create(&fresh)).await.unwrap();
    assert_eq!(db.load(&fresh.id).await.unwrap(), Some(fresh.clone()));
    assert_eq!(
        at_once("load", store.load(&fresh.id)).await.unwrap(),
        Some(fresh.clone())
    );
    assert_eq!(
        at_once("load", store.load(&kept.id)).await.unwrap(),
        Some(kept.clone())
    );

    let saved = with_n(&kept, 10);
    at_once("save", store.save(&saved)).await.unwrap();
    assert_eq!(
        db.load(&kept.id).await.unwrap(),
        Some(saved.clone().with_version(1))
    );

    let later = fresh.expires_at + time::Duration::hours(2);
    at_once("touch", store.touch(&fresh.id, later))
        .await
        .unwrap();
    assert_eq!(db.load(&fresh.id).await.unwrap().unwrap().expires_at, later);

    at_once("delete", store.delete(&gone.id)).await.unwrap();
    assert_eq!(db.load(&gone.id).await.unwrap(), None);
    assert_eq!(at_once("load", store.load(&gone.id)).await.unwrap(), None);

    // Back, empty, on the same port: wait for the client to reconnect.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.load(&kept.id).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the cache did not reconnect within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Reads fill the cache again, with PostgreSQL's records.
    let expected = saved.with_version(1);
    assert_eq!(store.load(&kept.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(cache.load(&kept.id).await.unwrap(), Some(expected.clone()));
    let touched = Record {
        expires_at: later,
        ..fresh.clone()
    };
    assert_eq!(store.load(&fresh.id).await.unwrap(), Some(touched.clone()));
    assert_eq!(cache.load(&fresh.id).await.unwrap(), Some(touched));
    assert_eq!(store.load(&gone.id).await.unwrap(), None);
    assert_eq!(cache.load(&gone.id).await.unwrap(), None);

    // Writes reach both stores again.
    let again = with_n(&expected, 20);
    store.save(&again).await.unwrap();
    assert_eq!(
        cache.load(&kept.id).await.unwrap(),
        Some(again.clone().with_version(2))
    );
    assert_eq!(
        db.load(&kept.id).await.unwrap(),
        Some(again.with_version(2))
    );
    let newest = record(4);
    store.create(&newest).await.unwrap();
    assert_eq!(cache.load(&newest.id).await.unwrap(), Some(newest.clone()));
    store.delete(&kept.id).await.unwrap();
    assert_eq!(cache.load(&kept.id).await.unwrap(), None);
    assert_eq!(db.load(&kept.id).await.unwrap(), None);
}
