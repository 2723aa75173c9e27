//! `PostgresStore` against raw sqlx doing the same work on the same
//! server: `SELECT` the data, `INSERT … ON CONFLICT DO UPDATE` it back,
//! from a pool of the same size, on tables of the store's shape in a
//! schema of their own (`session_bench`, dropped at the end).

use session_core::Record;
use session_core::time::OffsetDateTime;
use session_store_postgres::PostgresStore;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::driver::{BenchError, Workload, pick};
use crate::workloads::RoundTrip;

const SCHEMA: &str = "session_bench";

/// `SESSION_TEST_POSTGRES_URL`, default the local server's `test` database.
pub(crate) fn url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The error for a server that did not answer, saying how to start it.
pub(crate) fn unreachable(url: &str, cause: &str) -> BenchError {
    format!(
        "PostgreSQL at {url} is unreachable ({cause}); start it \
         (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) \
         or set SESSION_TEST_POSTGRES_URL"
    )
    .into()
}

/// The store with its default options on `session_bench.store`, made by
/// its own `migrate()` after dropping whatever an earlier run left.
pub(crate) async fn store(records: &[Record]) -> Result<RoundTrip<PostgresStore>, BenchError> {
    let url = url();
    let store = PostgresStore::connect(&url)
        .await
        .map_err(|e| unreachable(&url, &e.report()))?
        .with_table(SCHEMA, "store")?;
    sqlx::query("DROP SCHEMA IF EXISTS session_bench CASCADE")
        .execute(store.pool())
        .await?;
    store.migrate().await?;
    RoundTrip::seed(store, records).await
}

/// Drops the schema every table of the run lives in.
pub(crate) async fn clean(pool: &PgPool) -> Result<(), BenchError> {
    sqlx::query("DROP SCHEMA IF EXISTS session_bench CASCADE")
        .execute(pool)
        .await?;
    Ok(())
}

/// Which column type the hand-written table keeps the data in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Column {
    /// `jsonb`, what issue 11 names as the baseline (and what most
    /// applications would write): the server parses the JSON on the way in.
    Jsonb,
    /// `text`, the store's own column type (it needs to keep `\u0000`).
    Text,
}

/// What an application would write by hand with sqlx.
#[derive(Debug)]
pub(crate) struct RawSqlx {
    pool: PgPool,
    select: &'static str,
    upsert: &'static str,
    ids: Vec<String>,
    data: String,
    expires_at: OffsetDateTime,
}

impl RawSqlx {
    /// A pool of `connections` and a table of the store's shape with the
    /// data in `column`, holding `records`.
    pub(crate) async fn seed(
        column: Column,
        connections: u32,
        records: &[Record],
    ) -> Result<Self, BenchError> {
        let url = url();
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .connect(&url)
            .await
            .map_err(|e| unreachable(&url, &e.to_string()))?;
        // Static statements (the table name is fixed), so sqlx prepares
        // and caches them as an application's queries would be.
        let (create, select, upsert) = match column {
            Column::Jsonb => (
                "CREATE TABLE session_bench.raw_jsonb (id text PRIMARY KEY, data jsonb NOT NULL, \
                 expires_at timestamptz NOT NULL, version bigint NOT NULL DEFAULT 0)",
                // Decoding jsonb needs sqlx's `json` feature, which the
                // workspace does not build; the cast is the same text
                // output jsonb's binary format carries.
                "SELECT data::text FROM session_bench.raw_jsonb WHERE id = $1 AND expires_at > now()",
                "INSERT INTO session_bench.raw_jsonb (id, data, expires_at) VALUES ($1, $2::jsonb, $3) \
                 ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at",
            ),
            Column::Text => (
                "CREATE TABLE session_bench.raw_text (id text PRIMARY KEY, data text NOT NULL, \
                 expires_at timestamptz NOT NULL, version bigint NOT NULL DEFAULT 0)",
                "SELECT data FROM session_bench.raw_text WHERE id = $1 AND expires_at > now()",
                "INSERT INTO session_bench.raw_text (id, data, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at",
            ),
        };
        sqlx::query(create).execute(&pool).await?;
        let first = records.first().ok_or("no sessions to seed")?;
        let data = serde_json::to_string(&*first.data)?;
        let expires_at = first.expires_at;
        let ids: Vec<String> = records.iter().map(|r| r.id.as_str().to_owned()).collect();
        for id in &ids {
            sqlx::query(upsert)
                .bind(id)
                .bind(&data)
                .bind(expires_at)
                .execute(&pool)
                .await?;
        }
        Ok(RawSqlx {
            pool,
            select,
            upsert,
            ids,
            data,
            expires_at,
        })
    }
}

impl Workload for RawSqlx {
    async fn op(&self, worker: usize, workers: usize, n: u64) -> Result<(), BenchError> {
        let id = pick(&self.ids, worker, workers, n).ok_or("no rows were seeded")?;
        let row = sqlx::query(self.select)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or("a seeded row is gone (expired? deleted by someone else?)")?;
        let data: String = row.try_get(0)?;
        if data.len() < self.data.len() / 2 {
            return Err("a seeded row came back without its data".into());
        }
        sqlx::query(self.upsert)
            .bind(id)
            .bind(data)
            .bind(self.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
