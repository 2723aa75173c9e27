//! `session_core::ClearExpired` over `PostgresStore`: the background task
//! removes expired rows and keeps live ones.

mod common;

use std::time::Duration;

use common::{connect, drop_schema, fresh_schema, live_record};
use session_core::{ClearExpired, SessionStore};
use sqlx::AssertSqlSafe;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_task_removes_expired_rows_and_keeps_live_ones() {
    let schema = fresh_schema("housekeeping");
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    store.migrate().await.unwrap();
    let table = format!("\"{schema}\".\"sessions\"");
    let live = live_record();
    store.create(&live).await.unwrap();
    // The database's clock decides expiry, so plant rows it sees as expired.
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {table} (id, data, expires_at, version) \
         SELECT substr(md5('expired' || i::text), 1, 32), '{{\"n\":1}}', \
                now() - interval '1 minute', 0 \
         FROM generate_series(1, 25) AS i"
    )))
    .execute(store.pool())
    .await
    .unwrap();

    let handle = ClearExpired::new(store.clone())
        .every(Duration::from_millis(50))
        .first_run_now(true)
        .spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while handle.runs() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no run completed within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let removed = handle.removed();
    let failures = handle.failures();
    handle.stop().await;

    let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!("SELECT id FROM {table}")))
        .fetch_all(store.pool())
        .await
        .unwrap();
    let loaded = store.load(&live.id).await.unwrap().map(|r| r.data);
    drop_schema(store.pool(), &schema).await;

    assert_eq!((removed, failures), (25, 0), "removed, failures");
    assert_eq!(ids, vec![live.id.to_string()], "what is left in the table");
    assert_eq!(loaded, Some(live.data), "the live session was lost");
}
