//! The peers: tower-sessions' stores (memory, tower-sessions-redis-store,
//! tower-sessions-sqlx-store's `PostgresStore`), each through its own
//! `SessionStore` trait doing the round trip ours do, and the peer
//! PostgreSQL store's own raw baseline (sqlx 0.8 on a table of its shape).
//!
//! The peers keep what they keep: a MessagePack record (rmp-serde) of the
//! same session data as ours, in Redis under the bare session ID (the store
//! has no key prefix; every key expires with its session, an hour after the
//! run) and in PostgreSQL as `bytea` in a schema of its own,
//! `session_bench_peer`, dropped before and after the run.

use std::collections::HashMap;

use fred::prelude::{ClientLike, Config, Pool};
use fred::types::Builder;
use session_core::time::{Duration as TimeDuration, OffsetDateTime};
use session_store_redis::RedisOptions;
use sqlx08::postgres::{PgPool, PgPoolOptions};
use tower_sessions_core::SessionStore;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_memory_store::MemoryStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::PostgresStore;

use crate::driver::{BenchError, Workload, pick};
use crate::workloads::{SESSIONS, session_data};

/// The schema every peer table lives in; not ours, so dropping it never
/// touches what the other points measure.
const SCHEMA: &str = "session_bench_peer";

/// [`SESSIONS`] records of [`session_data`] as tower-sessions keeps them,
/// live for an hour.
fn records() -> Vec<Record> {
    let data: HashMap<String, serde_json::Value> = session_data().into_iter().collect();
    let expiry_date = OffsetDateTime::now_utc() + TimeDuration::hours(1);
    (0..SESSIONS)
        .map(|_| Record {
            id: Id::default(),
            data: data.clone(),
            expiry_date,
        })
        .collect()
}

/// One round trip through the peer's own trait: `load` an existing
/// session, `save` it back as loaded (what tower-sessions does for a
/// request that changed its session).
#[derive(Debug)]
pub(crate) struct PeerRoundTrip<S> {
    store: S,
    ids: Vec<Id>,
}

impl<S: SessionStore> PeerRoundTrip<S> {
    /// Creates [`SESSIONS`] sessions in `store`; `create` may change an ID
    /// it finds taken, so the IDs are read back from the records.
    async fn seed(store: S) -> Result<Self, BenchError> {
        let mut ids = Vec::with_capacity(SESSIONS);
        for mut record in records() {
            store.create(&mut record).await?;
            ids.push(record.id);
        }
        Ok(PeerRoundTrip { store, ids })
    }

    /// Deletes what [`PeerRoundTrip::seed`] created.
    pub(crate) async fn clean(&self) -> Result<(), BenchError> {
        for id in &self.ids {
            self.store.delete(id).await?;
        }
        Ok(())
    }
}

impl<S: SessionStore> Workload for PeerRoundTrip<S> {
    async fn op(&self, worker: usize, workers: usize, n: u64) -> Result<(), BenchError> {
        let id = pick(&self.ids, worker, workers, n).ok_or("no peer sessions were seeded")?;
        let record = self.store.load(id).await?.ok_or(
            "a seeded peer session is gone from its store (expired? deleted by someone else?)",
        )?;
        self.store.save(&record).await?;
        Ok(())
    }
}

/// tower-sessions' `MemoryStore`, seeded.
pub(crate) async fn memory() -> Result<PeerRoundTrip<MemoryStore>, BenchError> {
    PeerRoundTrip::seed(MemoryStore::default()).await
}

/// tower-sessions-redis-store on the server ours uses, over a fred pool as
/// large as our store's default.
pub(crate) async fn redis() -> Result<PeerRoundTrip<RedisStore<Pool>>, BenchError> {
    let url = crate::redis::url();
    let config =
        Config::from_url(&url).map_err(|e| crate::redis::unreachable(&url, &e.to_string()))?;
    let pool = Builder::from_config(config).build_pool(RedisOptions::default().pool_size())?;
    pool.init()
        .await
        .map_err(|e| crate::redis::unreachable(&url, &e.to_string()))?;
    PeerRoundTrip::seed(RedisStore::new(pool)).await
}

async fn connect(connections: u32) -> Result<PgPool, BenchError> {
    let url = crate::postgres::url();
    PgPoolOptions::new()
        .max_connections(connections)
        .connect(&url)
        .await
        .map_err(|e| crate::postgres::unreachable(&url, &e.to_string()))
}

/// Drops the peer schema and whatever an earlier run left in it.
pub(crate) async fn clean_postgres(pool: &PgPool) -> Result<(), BenchError> {
    sqlx08::query("DROP SCHEMA IF EXISTS session_bench_peer CASCADE")
        .execute(pool)
        .await?;
    Ok(())
}

/// The peer's `PostgresStore` on `session_bench_peer.store`, made by its
/// own `migrate()`, on a pool of `connections` (our store's default).
pub(crate) async fn postgres(connections: u32) -> Result<PeerRoundTrip<PostgresStore>, BenchError> {
    let pool = connect(connections).await?;
    clean_postgres(&pool).await?;
    let store = PostgresStore::new(pool)
        .with_schema_name(SCHEMA)?
        .with_table_name("store")?;
    store.migrate().await?;
    PeerRoundTrip::seed(store).await
}

/// What an application on sqlx 0.8 would write by hand for the peer's
/// table: the `SELECT` and the `INSERT … ON CONFLICT` the peer sends, with
/// the same binds, moving the `bytea` as it is (no MessagePack decoding,
/// as the raw baselines of ours move the JSON text as it is).
#[derive(Debug)]
pub(crate) struct PeerRawSqlx {
    pool: PgPool,
    ids: Vec<String>,
    expiry_date: OffsetDateTime,
}

const RAW_SELECT: &str =
    r#"SELECT data FROM "session_bench_peer"."raw" WHERE id = $1 AND expiry_date > $2"#;
const RAW_UPSERT: &str = r#"INSERT INTO "session_bench_peer"."raw" (id, data, expiry_date) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date"#;

impl PeerRawSqlx {
    /// A pool of `connections` and `session_bench_peer.raw`, made and
    /// filled by the peer store itself, so the rows are the ones it would
    /// read. Run after [`postgres`], which drops the schema first.
    pub(crate) async fn seed(connections: u32) -> Result<Self, BenchError> {
        let pool = connect(connections).await?;
        let filler = PostgresStore::new(pool.clone())
            .with_schema_name(SCHEMA)?
            .with_table_name("raw")?;
        filler.migrate().await?;
        let seeded = PeerRoundTrip::seed(filler).await?;
        let expiry_date = OffsetDateTime::now_utc() + TimeDuration::hours(1);
        Ok(PeerRawSqlx {
            pool,
            ids: seeded.ids.iter().map(ToString::to_string).collect(),
            expiry_date,
        })
    }

    /// The pool, to drop the peer schema with at the end.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl Workload for PeerRawSqlx {
    async fn op(&self, worker: usize, workers: usize, n: u64) -> Result<(), BenchError> {
        let id = pick(&self.ids, worker, workers, n).ok_or("no peer rows were seeded")?;
        let row: Option<(Vec<u8>,)> = sqlx08::query_as(RAW_SELECT)
            .bind(id)
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&self.pool)
            .await?;
        let (data,) = row.ok_or("a seeded peer row is gone (expired? deleted by someone else?)")?;
        if data.len() < 512 {
            return Err("a seeded peer row came back without its data".into());
        }
        sqlx08::query(RAW_UPSERT)
            .bind(id)
            .bind(data)
            .bind(self.expiry_date)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_peer_memory_store_round_trips_the_same_data_as_ours() {
        let peer = memory().await.unwrap();
        assert_eq!(peer.ids.len(), SESSIONS);
        peer.op(0, 1, 0).await.unwrap();
        let record = peer.store.load(&peer.ids[0]).await.unwrap().unwrap();
        let ours: HashMap<String, serde_json::Value> = session_data().into_iter().collect();
        assert_eq!(record.data, ours);
        peer.clean().await.unwrap();
        assert!(peer.store.load(&peer.ids[0]).await.unwrap().is_none());
    }
}
