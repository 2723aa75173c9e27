//! Bounded time against servers broken on purpose: refused, silent,
//! dropping packets, stopped, hung, slow; and the same store working again
//! once the server is back.

mod common;

use std::time::{Duration, Instant};

use common::{BlackHole, START_HINT, Silent, ThrowawayPg, admin, chain, free_port, url};
use session_core::time::OffsetDateTime;
use session_core::{Error, ErrorKind, Record, SessionData, SessionId, SessionStore};
use session_store_postgres::{PostgresOptions, PostgresStore};
use sqlx::AssertSqlSafe;

fn record() -> Record {
    Record::new(
        SessionId::generate(),
        SessionData::from_iter([("n".to_owned(), serde_json::json!(1))]),
        OffsetDateTime::now_utc() + session_core::time::Duration::hours(1),
    )
}

/// `outcome` is `Unavailable`, and came within `limit`.
fn unavailable_within<T: std::fmt::Debug>(
    what: &str,
    outcome: Result<T, Error>,
    took: Duration,
    limit: Duration,
) -> String {
    eprintln!("{what}: {took:?}");
    let error = match outcome {
        Ok(value) => panic!("{what}: succeeded ({value:?})"),
        Err(error) => error,
    };
    let message = chain(&error);
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{what}: {message}");
    assert!(
        took < limit,
        "{what}: took {took:?}, more than {limit:?}: {message}"
    );
    message
}

#[tokio::test]
async fn a_refused_connection_fails_at_once() {
    let port = free_port();
    let started = Instant::now();
    let outcome =
        PostgresStore::connect(&format!("postgres://postgres@127.0.0.1:{port}/test")).await;
    // The default acquire timeout is 5 s: sqlx's pool alone retries a
    // refused connection for all of it.
    let message = unavailable_within(
        "connect, refused",
        outcome,
        started.elapsed(),
        Duration::from_millis(500),
    );
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_fails_within_the_acquire_timeout() {
    let silent = Silent::start();
    let options = PostgresOptions::default().with_acquire_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let outcome = PostgresStore::connect_with(
        &format!("postgres://postgres@127.0.0.1:{}/test", silent.port()),
        options,
    )
    .await;
    let took = started.elapsed();
    let message = unavailable_within(
        "connect, silent",
        outcome,
        took,
        Duration::from_millis(1_800),
    );
    assert!(
        took >= Duration::from_millis(900),
        "gave up before the deadline: {took:?}"
    );
    assert!(message.contains("acquire timeout"), "{message}");
}

#[tokio::test]
async fn a_server_that_drops_connection_attempts_fails_within_the_connect_timeout() {
    let hole = BlackHole::start();
    let options = PostgresOptions::default()
        .with_connect_timeout(Duration::from_millis(400))
        .with_acquire_timeout(Duration::from_secs(5));
    let started = Instant::now();
    let outcome = PostgresStore::connect_with(
        &format!("postgres://postgres@127.0.0.1:{}/test", hole.port()),
        options,
    )
    .await;
    let took = started.elapsed();
    let message = unavailable_within(
        "connect, black hole",
        outcome,
        took,
        Duration::from_millis(1_500),
    );
    assert!(
        took >= Duration::from_millis(350),
        "gave up before the deadline: {took:?}"
    );
    assert!(message.contains("connect timeout"), "{message}");
}

/// Stop the server (a crash, as clients see it): every operation answers
/// `Unavailable` at once; start it again on the same port: the same store
/// works, and the write acknowledged before the outage is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_store_works_again_after_the_server_restarts() {
    let mut server = ThrowawayPg::start();
    let store = PostgresStore::connect(&server.url())
        .await
        .unwrap_or_else(|e| panic!("the throwaway server: {}", chain(&e)));
    store.migrate().await.unwrap();
    let before = record();
    store.create(&before).await.unwrap();
    // Several connections in the pool, all of which die with the server.
    let loads: Vec<_> = (0..4)
        .map(|_| {
            let (store, id) = (store.clone(), before.id.clone());
            tokio::spawn(async move { store.load(&id).await })
        })
        .collect();
    for load in loads {
        load.await.unwrap().unwrap();
    }
    assert!(store.pool().size() >= 1);

    server.stop();
    let limit = Duration::from_secs(1);
    for round in 0..2 {
        let started = Instant::now();
        let outcome = store.load(&before.id).await;
        unavailable_within(&format!("load {round}"), outcome, started.elapsed(), limit);
        let started = Instant::now();
        let outcome = store.create(&record()).await;
        unavailable_within(
            &format!("create {round}"),
            outcome,
            started.elapsed(),
            limit,
        );
        let started = Instant::now();
        let outcome = store.save(&before).await;
        unavailable_within(&format!("save {round}"), outcome, started.elapsed(), limit);
        let started = Instant::now();
        let outcome = store.touch(&before.id, before.expires_at).await;
        unavailable_within(&format!("touch {round}"), outcome, started.elapsed(), limit);
        let started = Instant::now();
        let outcome = store.delete(&SessionId::generate()).await;
        unavailable_within(
            &format!("delete {round}"),
            outcome,
            started.elapsed(),
            limit,
        );
        let started = Instant::now();
        let outcome = store.clear_expired().await;
        unavailable_within(
            &format!("clear_expired {round}"),
            outcome,
            started.elapsed(),
            limit,
        );
    }

    server.restart();
    let loaded = store
        .load(&before.id)
        .await
        .unwrap_or_else(|e| panic!("load after the restart: {}", chain(&e)))
        .expect("the record acknowledged before the outage is gone");
    assert_eq!(loaded.data, before.data);
    let after = record();
    store
        .create(&after)
        .await
        .expect("create after the restart");
    store.save(&loaded).await.expect("save after the restart");
    assert!(store.load(&after.id).await.unwrap().is_some());
}

/// A server that is stopped (SIGSTOP: the kernel still accepts TCP
/// connections, nothing answers): calls fail within the acquire timeout,
/// and work again once it continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_fails_within_the_deadlines_and_the_store_recovers() {
    let server = ThrowawayPg::start();
    let options = PostgresOptions::default()
        .with_connect_timeout(Duration::from_secs(1))
        .with_acquire_timeout(Duration::from_secs(1))
        .with_statement_timeout(Duration::from_secs(1));
    let store = PostgresStore::connect_with(&server.url(), options)
        .await
        .unwrap_or_else(|e| panic!("the throwaway server: {}", chain(&e)));
    store.migrate().await.unwrap();
    let before = record();
    store.create(&before).await.unwrap();

    server.signal_all("STOP");
    let limit = Duration::from_millis(2_000);
    for round in 0..2 {
        let started = Instant::now();
        let outcome = store.load(&before.id).await;
        let message =
            unavailable_within(&format!("load {round}"), outcome, started.elapsed(), limit);
        assert!(message.contains("timeout"), "{message}");
        let started = Instant::now();
        let outcome = store.create(&record()).await;
        unavailable_within(
            &format!("create {round}"),
            outcome,
            started.elapsed(),
            limit,
        );
    }
    server.signal_all("CONT");
    let loaded = store
        .load(&before.id)
        .await
        .unwrap_or_else(|e| panic!("load after SIGCONT: {}", chain(&e)));
    assert_eq!(loaded.expect("the record").data, before.data);
}

/// A statement blocked by a lock ends within the statement timeout, on a
/// store's own pool (the server cancels it) and on a pool of yours without
/// a server-side timeout (the client gives up and closes the connection);
/// either way the same store works once the lock is gone.
#[tokio::test]
async fn a_blocked_statement_ends_within_the_statement_timeout() {
    let schema = common::fresh_schema("outage_lock");
    let timeout = Duration::from_millis(600);
    let options = PostgresOptions::default().with_statement_timeout(timeout);
    let own = PostgresStore::connect_with(&url(), options.clone())
        .await
        .unwrap_or_else(|e| panic!("{}; {START_HINT}", chain(&e)))
        .with_table(&schema, "sessions")
        .unwrap();
    own.migrate().await.unwrap();
    let plain = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url())
        .await
        .unwrap();
    let yours = PostgresStore::from_pool(plain, options)
        .unwrap()
        .with_table(&schema, "sessions")
        .unwrap();
    let kept = record();
    own.create(&kept).await.unwrap();

    let admin = admin().await;
    let mut lock = admin.begin().await.unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "LOCK TABLE \"{schema}\".sessions IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *lock)
    .await
    .unwrap();
    let mut outcomes = Vec::new();
    for (name, store) in [("own pool", &own), ("your pool", &yours)] {
        let started = Instant::now();
        let outcome = store.load(&kept.id).await;
        outcomes.push((name, outcome, started.elapsed()));
    }
    lock.rollback().await.unwrap();
    let mut after = Vec::new();
    for store in [&own, &yours] {
        after.push(store.load(&kept.id).await.map(|r| r.map(|r| r.data)));
    }
    common::drop_schema(&admin, &schema).await;

    // The store's own connections carry a server-side timeout (9/10 of
    // the deadline): the server cancels; a pool of yours has none: the
    // client gives up at the deadline.
    for ((name, outcome, took), said) in outcomes.into_iter().zip(["cancelled", "within 600ms"]) {
        let message = unavailable_within(name, outcome, took, timeout + Duration::from_millis(500));
        assert!(
            took >= timeout / 2,
            "{name}: ended before any timeout: {took:?}"
        );
        assert!(message.contains(said), "{name}: lacks {said:?}: {message}");
    }
    for loaded in after {
        assert_eq!(loaded.unwrap().unwrap(), kept.data);
    }
}
