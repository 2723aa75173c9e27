//! With `HashedIds`, the store's keys and values hold no usable session ID.

use serde_json::json;
use session_core::{HashedIds, Record, SessionData, SessionId, SessionStore, time};
use session_store_redis::RedisStore;

mod common;

/// Every key under `prefix` with its value.
async fn namespace(store: &RedisStore, prefix: &str) -> Vec<(String, String)> {
    let keys: Vec<String> = common::raw(store, "KEYS", vec![format!("{prefix}*")]).await;
    let mut found = Vec::new();
    for key in keys {
        let value: Option<String> = common::raw(store, "GET", vec![key.clone()]).await;
        found.push((key, value.unwrap_or_default()));
    }
    found
}

async fn write_a_session(store: &dyn SessionStore, id: &SessionId) {
    let mut data = SessionData::new();
    data.insert("cart".into(), json!(["apple", "pear"]));
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    store
        .create(&Record::new(id.clone(), data.clone(), expires))
        .await
        .unwrap();
    data.insert("visits".into(), json!(2));
    store
        .save(&Record::new(id.clone(), data, expires))
        .await
        .unwrap();
    store
        .touch(id, expires + time::Duration::hours(1))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_raw_id_appears_in_no_key_and_no_value() {
    let prefix = format!("hashed_{}:", &SessionId::generate().as_str()[..12]);
    let redis = common::store(&prefix).await;
    let store = HashedIds::keyed(redis.clone(), [42u8; 32]).unwrap();
    let id = SessionId::generate();
    write_a_session(&store, &id).await;

    let found = namespace(&redis, &prefix).await;
    let stored = store.stored_id(&id).unwrap();
    assert_eq!(
        found.iter().map(|(key, _)| key.clone()).collect::<Vec<_>>(),
        vec![redis.key(&stored)],
        "the namespace holds other keys than the hashed one"
    );
    for (key, value) in &found {
        assert!(
            !key.contains(id.as_str()) && !value.contains(id.as_str()),
            "{key} holds the raw session ID"
        );
    }
    assert!(found[0].1.contains("\"visits\":2"), "{found:?}");
    assert_eq!(
        store.load(&id).await.unwrap().unwrap().data["visits"],
        json!(2)
    );
    store.delete(&id).await.unwrap();
    assert!(namespace(&redis, &prefix).await.is_empty());
}

/// The control: the same scan finds the raw ID when the store is used
/// without `HashedIds`, so the test above cannot pass by looking nowhere.
#[tokio::test]
async fn without_hashing_the_scan_finds_the_raw_id() {
    let prefix = format!("unhashed_{}:", &SessionId::generate().as_str()[..12]);
    let redis = common::store(&prefix).await;
    let id = SessionId::generate();
    write_a_session(&redis, &id).await;
    let found = namespace(&redis, &prefix).await;
    assert!(
        found.iter().any(|(key, _)| key.contains(id.as_str())),
        "{found:?}"
    );
    redis.delete(&id).await.unwrap();
}
