//! Bounded time against servers broken on purpose: refused, silent,
//! dropping packets, stopped, hung, slow; and the same store working again
//! once the server is back.

mod common;

use std::time::Duration;

use common::{
    BlackHole, Silent, ThrowawayPg, admin, connect_with, every_operation, free_port, live_record,
    lock_sessions, timed,
};
use session_core::{Error, ErrorKind, SessionStore};
use session_store_postgres::{PostgresOptions, PostgresStore};

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
    let message = error.report();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{what}: {message}");
    assert!(
        took < limit,
        "{what}: took {took:?}, more than {limit:?}: {message}"
    );
    message
}

/// `connect_with(options)` to a server on `port` that does not answer is
/// `Unavailable`, no sooner than `at_least` and within `limit`, and says
/// `said`.
async fn connecting_gives_up(
    what: &str,
    port: u16,
    options: PostgresOptions,
    (at_least, limit): (Duration, Duration),
    said: &str,
) {
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let (outcome, took) = timed(PostgresStore::connect_with(&url, options)).await;
    let message = unavailable_within(what, outcome, took, limit);
    assert!(
        took >= at_least,
        "{what}: gave up before the deadline: {took:?}"
    );
    assert!(message.contains(said), "{what}: {message}");
}

#[tokio::test]
async fn a_refused_connection_fails_at_once() {
    let port = free_port();
    let (outcome, took) = timed(PostgresStore::connect(&format!(
        "postgres://postgres@127.0.0.1:{port}/test"
    )))
    .await;
    // The default acquire timeout is 5 s: sqlx's pool alone retries a
    // refused connection for all of it.
    let message = unavailable_within(
        "connect, refused",
        outcome,
        took,
        Duration::from_millis(500),
    );
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_fails_within_the_acquire_timeout() {
    let silent = Silent::start();
    connecting_gives_up(
        "connect, silent",
        silent.port(),
        PostgresOptions::default().with_acquire_timeout(Duration::from_secs(1)),
        (Duration::from_millis(900), Duration::from_millis(1_800)),
        "acquire timeout",
    )
    .await;
}

#[tokio::test]
async fn a_server_that_drops_connection_attempts_fails_within_the_connect_timeout() {
    let hole = BlackHole::start();
    connecting_gives_up(
        "connect, black hole",
        hole.port(),
        PostgresOptions::default()
            .with_connect_timeout(Duration::from_millis(400))
            .with_acquire_timeout(Duration::from_secs(5)),
        (Duration::from_millis(350), Duration::from_millis(1_500)),
        "connect timeout",
    )
    .await;
}

/// Stop the server (a crash, as clients see it): every operation answers
/// `Unavailable` at once; start it again on the same port: the same store
/// works, and the write acknowledged before the outage is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_store_works_again_after_the_server_restarts() {
    let mut server = ThrowawayPg::start();
    let store = PostgresStore::connect(&server.url())
        .await
        .unwrap_or_else(|e| panic!("the throwaway server: {}", e.report()));
    store.migrate().await.unwrap();
    let before = live_record();
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
        for (op, (outcome, took)) in every_operation(&store, &before.id).await {
            unavailable_within(&format!("{op} {round}"), outcome, took, limit);
        }
    }

    server.restart();
    let loaded = store
        .load(&before.id)
        .await
        .unwrap_or_else(|e| panic!("load after the restart: {}", e.report()))
        .expect("the record acknowledged before the outage is gone");
    assert_eq!(loaded.data, before.data);
    let after = live_record();
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
        .unwrap_or_else(|e| panic!("the throwaway server: {}", e.report()));
    store.migrate().await.unwrap();
    let before = live_record();
    store.create(&before).await.unwrap();

    server.signal_all("STOP");
    let limit = Duration::from_millis(2_000);
    for round in 0..2 {
        let (outcome, took) = timed(store.load(&before.id)).await;
        let message = unavailable_within(&format!("load {round}"), outcome, took, limit);
        assert!(message.contains("timeout"), "{message}");
        let (outcome, took) = timed(store.create(&live_record())).await;
        unavailable_within(&format!("create {round}"), outcome, took, limit);
    }
    server.signal_all("CONT");
    let loaded = store
        .load(&before.id)
        .await
        .unwrap_or_else(|e| panic!("load after SIGCONT: {}", e.report()));
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
    let own = connect_with(options.clone())
        .await
        .with_table(&schema, "sessions")
        .unwrap();
    own.migrate().await.unwrap();
    let yours = PostgresStore::from_pool(admin().await, options)
        .unwrap()
        .with_table(&schema, "sessions")
        .unwrap();
    let kept = live_record();
    own.create(&kept).await.unwrap();

    let admin = admin().await;
    let lock = lock_sessions(&admin, &schema).await;
    let mut outcomes = Vec::new();
    for (name, store) in [("own pool", &own), ("your pool", &yours)] {
        let (outcome, took) = timed(store.load(&kept.id)).await;
        outcomes.push((name, outcome, took));
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
