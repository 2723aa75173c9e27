//! Bounded time against servers broken on purpose, each a throwaway
//! `redis-server` (or a silent listener) of the test's own: a refused
//! connection fails at once, an unanswered one within the configured
//! deadline, and the same store works again once the server is back.

use std::time::{Duration, Instant};

use session_core::time::{self, OffsetDateTime};
use session_core::{Error, ErrorKind, Record, SessionData, SessionId, SessionStore};
use session_store_redis::{RedisOptions, RedisStore};

mod common;

/// Far below every deadline involved: what "at once" means here.
const AT_ONCE: Duration = Duration::from_millis(250);

fn record() -> Record {
    let mut data = SessionData::new();
    data.insert("n".into(), 1.into());
    Record::new(
        SessionId::generate(),
        data,
        OffsetDateTime::now_utc() + time::Duration::hours(1),
    )
}

/// Every operation of the store on `record`, each with how long it took.
async fn every_operation(
    store: &RedisStore,
    record: &Record,
) -> Vec<(&'static str, Result<(), Error>, Duration)> {
    let mut seen = Vec::new();
    let start = Instant::now();
    let r = store.load(&record.id).await.map(drop);
    seen.push(("load", r, start.elapsed()));
    let start = Instant::now();
    let r = store.create(&record.clone()).await;
    seen.push(("create", r, start.elapsed()));
    let start = Instant::now();
    let r = store.save(record).await;
    seen.push(("save", r, start.elapsed()));
    let start = Instant::now();
    let r = store.touch(&record.id, record.expires_at).await;
    seen.push(("touch", r, start.elapsed()));
    let start = Instant::now();
    let r = store.delete(&record.id).await;
    seen.push(("delete", r, start.elapsed()));
    seen
}

#[tokio::test]
async fn connect_to_a_refused_port_fails_at_once() {
    let port = common::free_port();
    let start = Instant::now();
    let err = RedisStore::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{}", err.report());
    assert!(took < AT_ONCE, "a refused connect took {took:?}");
}

/// The default connect timeout is 2 s: a server that accepts and never
/// answers fails `connect` within it (fred alone waits 10 s for the
/// handshake's PING).
#[tokio::test]
async fn connect_to_a_silent_server_fails_within_the_default_connect_timeout() {
    let silent = common::Silent::start();
    let start = Instant::now();
    let err = RedisStore::connect(&silent.url()).await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{}", err.report());
    assert!(
        took >= RedisOptions::DEFAULT_CONNECT_TIMEOUT - Duration::from_millis(100)
            && took < RedisOptions::DEFAULT_CONNECT_TIMEOUT + Duration::from_millis(500),
        "connect to a silent server took {took:?}, the default deadline is {:?}",
        RedisOptions::DEFAULT_CONNECT_TIMEOUT
    );
}

#[tokio::test]
async fn connect_to_a_silent_server_fails_within_the_configured_connect_timeout() {
    let silent = common::Silent::start();
    for deadline in [Duration::from_millis(300), Duration::from_millis(800)] {
        let start = Instant::now();
        let err = RedisStore::connect_with(
            &silent.url(),
            RedisOptions::default().with_connect_timeout(deadline),
        )
        .await
        .unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{}", err.report());
        assert!(
            took >= deadline - Duration::from_millis(50)
                && took < deadline + Duration::from_millis(400),
            "connect with a {deadline:?} deadline took {took:?}"
        );
    }
}

/// The outage the issue measured: with the server gone, every operation
/// waited the full 5 s deadline although the port refused connections at
/// once. Now each fails at once, and after the restart on the same port
/// the same store works again, within the longest reconnect backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_every_operation_at_once_and_the_same_store_recovers() {
    let mut server = common::Throwaway::start(&[]);
    let backoff_max = Duration::from_millis(500);
    let store = RedisStore::connect_with(
        &server.url(),
        RedisOptions::default().with_reconnect_backoff(Duration::from_millis(50), backoff_max),
    )
    .await
    .unwrap()
    .with_prefix("outage:");
    let before = record();
    store.create(&before).await.unwrap();

    server.kill();
    // Every operation, again and again for 600 ms from the kill: through
    // the moment the connections drop, fred's first reconnection delay
    // (when its state still says `Connected`) and the refused attempts.
    let down = Instant::now();
    let mut rounds = 0;
    while down.elapsed() < Duration::from_millis(600) {
        rounds += 1;
        for (op, result, took) in every_operation(&store, &record()).await {
            let err = result.expect_err(op);
            let text = err.report();
            assert_eq!(
                err.kind(),
                ErrorKind::Unavailable,
                "{op} {:?} after the kill: {text}",
                down.elapsed()
            );
            assert!(
                took < AT_ONCE,
                "{op} took {took:?}, {:?} after the kill: {text}",
                down.elapsed()
            );
            assert!(
                text.contains(&format!("127.0.0.1:{}", server.port())),
                "the message should name the server: {text}"
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("{rounds} rounds of 5 operations while Redis was down");

    server.restart();
    let back = Instant::now();
    let fresh = record();
    loop {
        match store.create(&fresh).await {
            Ok(()) => break,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Unavailable, "{}", e.report());
                assert!(
                    back.elapsed() < backoff_max + Duration::from_secs(2),
                    "the store still fails {:?} after Redis came back: {}",
                    back.elapsed(),
                    e.report()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let recovered = back.elapsed();
    assert!(store.load(&fresh.id).await.unwrap().is_some());
    // Persistence is off on this server: what was written before is gone
    // (documented: what Redis persists is what survives).
    assert!(store.load(&before.id).await.unwrap().is_none());
    // Every pooled connection is back, not just one.
    for _ in 0..8 {
        store.load(&fresh.id).await.unwrap();
    }
    eprintln!("recovered {recovered:?} after the restart");
}

/// A server that stops answering (SIGSTOP: the kernel still accepts and
/// buffers) fails each command within the command timeout, and the same
/// store works once it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_fails_commands_within_the_command_timeout_then_recovers() {
    let server = common::Throwaway::start(&[]);
    let deadline = Duration::from_millis(400);
    let store = RedisStore::connect_with(
        &server.url(),
        RedisOptions::default().with_command_timeout(deadline),
    )
    .await
    .unwrap()
    .with_prefix("frozen:");
    let kept = record();
    store.create(&kept).await.unwrap();

    server.signal("STOP");
    for (op, result, took) in every_operation(&store, &record()).await {
        let err = result.expect_err(op);
        let text = err.report();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{op}: {text}");
        assert!(
            text.contains("command timeout") && text.contains("400 ms"),
            "{op}: the message should name the command timeout: {text}"
        );
        assert!(
            took >= deadline - Duration::from_millis(50)
                && took < deadline + Duration::from_millis(300),
            "{op} took {took:?} with a {deadline:?} command timeout"
        );
    }
    server.signal("CONT");
    let loaded = store.load(&kept.id).await.unwrap();
    assert!(
        loaded.is_some(),
        "the record written before the freeze is there"
    );
}

#[tokio::test]
async fn options_without_a_bound_are_refused_with_a_message() {
    let err = RedisStore::connect_with(
        "redis://127.0.0.1:6379",
        RedisOptions::default().with_command_timeout(Duration::ZERO),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(err.report().contains("timeout of zero"), "{}", err.report());
}
