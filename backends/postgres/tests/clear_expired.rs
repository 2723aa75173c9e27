//! `clear_expired` on a big table: exactly the expired rows go, in batches.

mod common;

use common::{connect, drop_schema, fresh_schema};
use session_core::SessionStore;
use session_store_postgres::{Cleared, PostgresStore};
use sqlx::AssertSqlSafe;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clears_100_000_expired_rows_in_batches_and_keeps_1_000_live_ones() {
    let schema = fresh_schema("clear");
    let store = connect()
        .await
        .with_table(&schema, "sessions")
        .unwrap()
        .with_clear_batch(10_000);
    store.migrate().await.unwrap();
    let table = format!("\"{schema}\".\"sessions\"");
    let fill = |count: i32, label: &str, expiry: &str| {
        format!(
            "INSERT INTO {table} (id, data, expires_at, version) \
             SELECT substr(md5('{label}' || i::text), 1, 32), '{{\"n\":1}}', {expiry}, 0 \
             FROM generate_series(1, {count}) AS i"
        )
    };
    sqlx::query(AssertSqlSafe(fill(
        100_000,
        "expired",
        "now() - interval '1 hour'",
    )))
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(AssertSqlSafe(fill(
        1_000,
        "live",
        "now() + interval '1 day'",
    )))
    .execute(store.pool())
    .await
    .unwrap();

    let cleared = store.clear_expired_in_batches().await.unwrap();
    assert_eq!(
        cleared,
        Cleared {
            removed: 100_000,
            batches: 11
        },
        "10 full batches of 10,000, then an empty one"
    );

    let left: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {table} WHERE expires_at > now()"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap();
    let all: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!((left, all), (1_000, 1_000), "exactly the live rows remain");
    assert_eq!(store.clear_expired().await.unwrap(), 0);
    drop_schema(store.pool(), &schema).await;
}

#[tokio::test]
async fn table_names_must_be_plain_identifiers() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    for bad in ["sessions; DROP TABLE users", "a\"b", "1abc", "", "a.b"] {
        assert!(
            PostgresStore::new(pool.clone())
                .with_table("public", bad)
                .is_err(),
            "{bad:?} was accepted"
        );
    }
    assert!(
        PostgresStore::new(pool)
            .with_table("app_1", "user_sessions")
            .is_ok()
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), session_core::ErrorKind::Unavailable, "{err}");
}
