//! `migrate()` on every start, by every replica at once.

use session_store_postgres::PostgresStore;
use sqlx::AssertSqlSafe;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_safe_to_run_again_and_concurrently() {
    let url = std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let store = PostgresStore::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {url} is unreachable ({e}); start it \
             (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) \
             or set SESSION_TEST_POSTGRES_URL"
        )
    });
    let schema = format!(
        "migrate_{}",
        &session_core::SessionId::generate().as_str()[..12]
    );
    let store = store.with_table(&schema, "sessions").unwrap();
    // Eight replicas starting at once, then a restart.
    let replicas: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    let mut failures = Vec::new();
    for replica in replicas {
        if let Err(e) = replica.await.unwrap() {
            failures.push(format!("{e:?}"));
        }
    }
    let again = store.migrate().await;
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "concurrent migrations failed"
    );
    again.expect("a second migrate() failed");
}
