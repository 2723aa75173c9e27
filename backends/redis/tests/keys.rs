//! What only Redis can get wrong: the TTL of each key and its name.

use fred::prelude::KeysInterface;
use session_core::{Record, SessionData, SessionId, SessionStore, time};
use session_store_redis::RedisStore;

mod common;

#[tokio::test]
async fn keys_carry_the_ttl_the_record_asked_for_and_the_prefix() {
    let prefix = format!("ttl_{}:", &SessionId::generate().as_str()[..12]);
    let store = common::store(&prefix).await;
    let id = SessionId::generate();
    let now = time::OffsetDateTime::now_utc();
    store
        .create(&Record::new(
            id.clone(),
            SessionData::new(),
            now + time::Duration::seconds(600),
        ))
        .await
        .unwrap();
    let key = format!("{prefix}{{{id}}}");
    assert_eq!(store.key(&id), key);
    let pttl: i64 = store.pool().pttl(&key).await.unwrap();
    assert!(
        (599_000..=601_000).contains(&pttl),
        "PTTL after create is {pttl} ms, not 600 s ± 1 s"
    );

    let record = Record::new(
        id.clone(),
        SessionData::new(),
        now + time::Duration::seconds(3600),
    );
    store.save(&record).await.unwrap();
    let pttl: i64 = store.pool().pttl(&key).await.unwrap();
    assert!(
        (3_599_000..=3_601_000).contains(&pttl),
        "PTTL after save is {pttl} ms, not 3600 s ± 1 s"
    );

    store
        .touch(&id, now + time::Duration::seconds(60))
        .await
        .unwrap();
    let pttl: i64 = store.pool().pttl(&key).await.unwrap();
    assert!(
        (59_000..=61_000).contains(&pttl),
        "PTTL after touch is {pttl} ms, not 60 s ± 1 s"
    );

    let unprefixed: i64 = store
        .pool()
        .exists(format!("session:{{{id}}}"))
        .await
        .unwrap();
    assert_eq!(
        unprefixed, 0,
        "a key was written without the configured prefix"
    );
    store.delete(&id).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let err = RedisStore::connect("redis://127.0.0.1:1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), session_core::ErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn the_pool_reconnects_after_its_connections_are_killed() {
    use fred::prelude::ClientLike;
    use fred::types::{ClusterHash, CustomCommand};

    let store = common::fresh_store("reconnect").await;
    let id = SessionId::generate();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    store
        .create(&Record::new(id.clone(), SessionData::new(), expires))
        .await
        .unwrap();
    // Each connection of the pool kills itself, as a Redis restart or a
    // failover would (only this test's connections, not the server's others).
    for client in store.pool().clients() {
        let own: i64 = client
            .custom(
                CustomCommand::new_static("CLIENT ID", ClusterHash::Random, false),
                Vec::<String>::new(),
            )
            .await
            .unwrap();
        let _: Result<String, _> = client
            .custom(
                CustomCommand::new_static("CLIENT KILL", ClusterHash::Random, false),
                vec![
                    "ID".to_owned(),
                    own.to_string(),
                    "SKIPME".into(),
                    "no".into(),
                ],
            )
            .await;
    }
    // While no connection is up, operations fail at once with
    // `Unavailable` (they never queue behind the reconnection); the pool
    // reconnects by itself and the same store answers again.
    let start = std::time::Instant::now();
    let loaded = loop {
        let attempt = std::time::Instant::now();
        match store.load(&id).await {
            Ok(loaded) => break loaded,
            Err(e) => {
                assert_eq!(e.kind(), session_core::ErrorKind::Unavailable, "{e}");
                assert!(
                    attempt.elapsed() < std::time::Duration::from_millis(250),
                    "a load waited {:?} while reconnecting: {e}",
                    attempt.elapsed()
                );
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(10),
                    "no reconnection within 10 s: {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    assert!(loaded.is_some(), "the session vanished");
    store.delete(&id).await.unwrap();
}
