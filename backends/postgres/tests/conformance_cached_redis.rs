//! `CachedStore` (a `RedisStore` cache in front of `PostgresStore`)
//! certified by the conformance kit against a real Redis and a real
//! PostgreSQL: one key prefix and one schema per case, the schema dropped
//! afterwards.
//!
//! No manual clock: Redis and PostgreSQL decide expiry by their own clocks,
//! as in both backends' `conformance.rs`.

use session_conformance::Namespace;
use session_core::{CachedStore, Capabilities};
use session_store_postgres::PostgresStore;
use session_store_redis::RedisStore;
use sqlx::{AssertSqlSafe, PgPool};
use tokio::sync::OnceCell;

static POOL: OnceCell<PgPool> = OnceCell::const_new();

fn postgres_url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn redis_url() -> String {
    std::env::var("SESSION_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn pool() -> Result<PgPool, session_core::Error> {
    POOL.get_or_try_init(|| async {
        PostgresStore::connect(&postgres_url())
            .await
            .map(|s| s.pool().clone())
    })
    .await
    .cloned()
}

session_conformance::store_suite!(
    "cached-redis-postgres",
    |ns: Namespace| async move {
        let cache = RedisStore::connect(&redis_url())
            .await?
            .with_prefix(format!("{}:", ns.name()));
        let db = PostgresStore::new(pool().await?).with_table(ns.name(), "sessions")?;
        db.migrate().await?;
        Ok::<_, session_core::Error>(CachedStore::new(cache, db))
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
                        and Redis (`redis-server --daemonize yes --port 6379 --save \"\" --appendonly no`), \
                        or point SESSION_TEST_POSTGRES_URL and SESSION_TEST_REDIS_URL at them; \
                        scripts/test starts throwaway ones",
);
