//! `HashedIds` over `PostgresStore` certified by the conformance kit
//! against a real PostgreSQL: session IDs hashed at rest keep every store
//! guarantee. One schema per case, dropped afterwards.

use session_conformance::Namespace;
use session_core::{Capabilities, HashedIds};
use session_store_postgres::PostgresStore;
use sqlx::{AssertSqlSafe, PgPool};
use tokio::sync::OnceCell;

static POOL: OnceCell<PgPool> = OnceCell::const_new();

fn url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn pool() -> Result<PgPool, session_core::Error> {
    POOL.get_or_try_init(|| async {
        PostgresStore::connect(&url())
            .await
            .map(|s| s.pool().clone())
    })
    .await
    .cloned()
}

session_conformance::store_suite!(
    "postgres-hashed",
    |ns: Namespace| async move {
        let store = PostgresStore::new(pool().await?).with_table(ns.name(), "sessions")?;
        store.migrate().await?;
        HashedIds::keyed(store, *b"a key kept outside the store 32b")
            .map_err(session_core::BoxError::from)
    },
    capabilities = Capabilities::ALL,
    teardown = |ns: Namespace| async move {
        if let Ok(pool) = pool().await {
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                ns.name()
            )))
            .execute(&pool)
            .await;
        }
    },
    unavailable_hint = "start PostgreSQL (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) \
                        or point SESSION_TEST_POSTGRES_URL at one; scripts/test starts a throwaway one",
);
