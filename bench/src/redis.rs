//! `RedisStore` against raw fred doing the same work on the same server:
//! `GET` the blob, `SET` it back with `PXAT`, from a pool of the same size.

use fred::bytes::Bytes;
use fred::prelude::{ClientLike, Config, KeysInterface, Pool};
use fred::types::{Builder, Expiration};
use session_core::{Record, SessionId};
use session_store_redis::{RedisOptions, RedisStore};

use crate::driver::{BenchError, Workload, pick};
use crate::workloads::RoundTrip;

/// `SESSION_TEST_REDIS_URL`, default the local server (the tests' too).
pub(crate) fn url() -> String {
    std::env::var("SESSION_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The error for a server that did not answer, saying how to start it.
pub(crate) fn unreachable(url: &str, cause: &str) -> BenchError {
    format!(
        "Redis at {url} is unreachable ({cause}); start it with \
         `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` \
         or set SESSION_TEST_REDIS_URL"
    )
    .into()
}

/// The store with its default options, keys under `session_bench:`.
pub(crate) async fn store(records: &[Record]) -> Result<RoundTrip<RedisStore>, BenchError> {
    let url = url();
    let store = RedisStore::connect(&url)
        .await
        .map_err(|e| unreachable(&url, &e.report()))?
        .with_prefix("session_bench:");
    RoundTrip::seed(store, records).await
}

/// What an application would write by hand with fred.
#[derive(Debug)]
pub(crate) struct RawFred {
    pool: Pool,
    /// Each seeded session: its ID (to decode it) and its key.
    sessions: Vec<(SessionId, String)>,
    expires_at_ms: i64,
    codec: Codec,
}

/// What [`RawFred`] does with the blob between `GET` and `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Nothing: the bytes go back as they came.
    None,
    /// [`Record::decode`] then [`Record::encode`], as every store must
    /// (it hands core a decoded record and gets one back): the client-side
    /// share of the store's cost, measured apart from the compare-and-set.
    Json,
}

impl RawFred {
    /// A pool as large as the store's default, and `records` written as
    /// the blobs the store writes (same size), under `session_bench_raw:`
    /// (`session_bench_json:` with [`Codec::Json`]).
    pub(crate) async fn seed(records: &[Record], codec: Codec) -> Result<Self, BenchError> {
        let url = url();
        let config = Config::from_url(&url).map_err(|e| unreachable(&url, &e.to_string()))?;
        let pool = Builder::from_config(config).build_pool(RedisOptions::default().pool_size())?;
        pool.init()
            .await
            .map_err(|e| unreachable(&url, &e.to_string()))?;
        let prefix = match codec {
            Codec::None => "session_bench_raw",
            Codec::Json => "session_bench_json",
        };
        let mut sessions = Vec::with_capacity(records.len());
        let mut expires_at_ms = 0;
        for record in records {
            let key = format!("{prefix}:{{{}}}", record.id.as_str());
            expires_at_ms = record.expires_at_unix_ms();
            pool.set::<(), _, _>(
                key.as_str(),
                record.encode()?,
                Some(Expiration::PXAT(expires_at_ms)),
                None,
                false,
            )
            .await?;
            sessions.push((record.id.clone(), key));
        }
        Ok(RawFred {
            pool,
            sessions,
            expires_at_ms,
            codec,
        })
    }

    /// Deletes the keys [`RawFred::seed`] wrote.
    pub(crate) async fn clean(&self) -> Result<(), BenchError> {
        for (_, key) in &self.sessions {
            self.pool.del::<(), _>(key.as_str()).await?;
        }
        Ok(())
    }
}

impl Workload for RawFred {
    async fn op(&self, worker: usize, workers: usize, n: u64) -> Result<(), BenchError> {
        let (id, key) = pick(&self.sessions, worker, workers, n).ok_or("no keys were seeded")?;
        let blob: Option<Bytes> = self.pool.get(key.as_str()).await?;
        let mut blob =
            blob.ok_or("a seeded key is gone from Redis (expired? deleted by someone else?)")?;
        if self.codec == Codec::Json {
            blob = Record::decode(id.clone(), &blob)?.encode()?.into();
        }
        self.pool
            .set::<(), _, _>(
                key.as_str(),
                blob,
                Some(Expiration::PXAT(self.expires_at_ms)),
                None,
                false,
            )
            .await?;
        Ok(())
    }
}
