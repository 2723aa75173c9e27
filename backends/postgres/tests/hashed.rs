//! With `HashedIds`, the sessions table holds no usable session ID.

mod common;

use common::{connect, drop_schema, fresh_schema};
use serde_json::json;
use session_core::time::{Duration, OffsetDateTime};
use session_core::{HashedIds, Record, SessionData, SessionId, SessionStore};
use session_store_postgres::PostgresStore;
use sqlx::AssertSqlSafe;

/// Every row of the table, each as PostgreSQL's text of the whole row.
async fn rows(store: &PostgresStore, schema: &str) -> Vec<String> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT t::text FROM \"{schema}\".\"sessions\" AS t"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap()
}

async fn write_a_session(store: &dyn SessionStore, id: &SessionId) {
    let mut data = SessionData::new();
    data.insert("cart".into(), json!(["apple", "pear"]));
    let expires = OffsetDateTime::now_utc() + Duration::hours(1);
    store
        .create(&Record::new(id.clone(), data.clone(), expires))
        .await
        .unwrap();
    data.insert("visits".into(), json!(2));
    let stored = store.load(id).await.unwrap().unwrap();
    store
        .save(&Record::new(id.clone(), data, expires).with_version(stored.version))
        .await
        .unwrap();
    store.touch(id, expires + Duration::hours(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_id_appears_in_no_row() {
    let schema = fresh_schema("hashed");
    let pg = connect().await.with_table(&schema, "sessions").unwrap();
    pg.migrate().await.unwrap();
    let store = HashedIds::keyed(pg.clone(), [42u8; 32]).unwrap();
    let id = SessionId::generate();
    write_a_session(&store, &id).await;

    let found = rows(&pg, &schema).await;
    let stored = store.stored_id(&id).unwrap();
    let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT id FROM \"{schema}\".\"sessions\""
    )))
    .fetch_all(pg.pool())
    .await
    .unwrap();
    let loaded = store
        .load(&id)
        .await
        .unwrap()
        .map(|r| r.data["visits"].clone());
    drop_schema(pg.pool(), &schema).await;

    assert_eq!(
        ids,
        vec![stored.to_string()],
        "the row is not keyed by the hash"
    );
    for row in &found {
        assert!(
            !row.contains(id.as_str()),
            "a row holds the raw session ID: {row}"
        );
    }
    assert!(found[0].contains("visits"), "{found:?}");
    assert_eq!(loaded, Some(json!(2)));
}

/// The control: the same scan finds the raw ID when the store is used
/// without `HashedIds`, so the test above cannot pass by looking nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_hashing_the_scan_finds_the_raw_id() {
    let schema = fresh_schema("unhashed");
    let pg = connect().await.with_table(&schema, "sessions").unwrap();
    pg.migrate().await.unwrap();
    let id = SessionId::generate();
    write_a_session(&pg, &id).await;
    let found = rows(&pg, &schema).await;
    drop_schema(pg.pool(), &schema).await;
    assert!(
        found.iter().any(|row| row.contains(id.as_str())),
        "{found:?}"
    );
}
