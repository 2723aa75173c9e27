//! The namespaces of the scale point, filled fast: one record written by
//! the store itself, then copies of exactly what it wrote under other IDs,
//! bypassing the store (a million `create`s through PostgreSQL with fsync
//! would take the better part of an hour); and the cleanup of each.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::bytes::Bytes;
use fred::prelude::{ClientLike, Config, KeysInterface, Value};
use fred::types::{ClusterHash, CustomCommand, Expiration};
use session_core::time::OffsetDateTime;
use session_core::{Record, SessionData, SessionId, SessionStore};
use session_store_file::FileStore;
use session_store_postgres::PostgresStore;
use session_store_redis::{RedisOptions, RedisStore};
use sqlx::AssertSqlSafe;
use tokio::task::JoinSet;

use crate::driver::BenchError;
use crate::scale::measure::{below, mix};

/// The key prefix of every Redis key of the run.
pub(crate) const REDIS_PREFIX: &str = "session_bench_scale:";
/// The PostgreSQL schema every table of the run lives in.
pub(crate) const SCHEMA: &str = "session_bench_scale";
/// The directory (under the OS temp dir) every file of the run lives in.
pub(crate) const DIR: &str = "session_bench_scale";

/// A store's namespace that can be filled with copies of a record the
/// store wrote itself.
pub(crate) trait Bulk {
    /// The store.
    type Store: SessionStore + Clone;

    /// The store on this namespace.
    fn store(&self) -> &Self::Store;

    /// Where this namespace is, for the report.
    fn name(&self) -> &str;

    /// Writes, under each of `ids`, what the store wrote for `template`
    /// (which it holds): the same bytes, only the ID differs. With `spread`
    /// above 0, a store that keeps the expiry in a column of its own
    /// (PostgreSQL) makes the i-th copy expire i mod `spread` seconds
    /// earlier, so an index on it looks like one filled over time; the
    /// others ignore it (the expiry is inside their bytes).
    async fn copy(
        &self,
        template: &SessionId,
        ids: &[SessionId],
        spread: u32,
    ) -> Result<(), BenchError>;

    /// How many records the namespace holds, expired ones not yet removed
    /// included.
    async fn stored(&self) -> Result<u64, BenchError>;

    /// How much space it takes, for the report.
    async fn footprint(&self) -> Result<String, BenchError>;

    /// Brings a freshly bulk-loaded namespace to the steady state of one
    /// that filled over time, so the first measurements do not pay for the
    /// load (PostgreSQL: `VACUUM ANALYZE` and a checkpoint; files: written
    /// back to disk).
    async fn settle(&self) -> Result<(), BenchError>;

    /// Removes everything of the run from the namespace.
    async fn clean(&self) -> Result<(), BenchError>;
}

/// A Redis database of the run, keys under [`REDIS_PREFIX`].
#[derive(Debug)]
pub(crate) struct RedisSpace {
    store: RedisStore,
    name: String,
}

/// Connects the store, with its default options, to database `db` of the
/// server the benchmarks use: each size gets a database of its own, since
/// Redis keeps one hash table per database and the point is its size.
pub(crate) async fn redis(db: u8) -> Result<RedisSpace, BenchError> {
    let url = crate::redis::url();
    let unreachable = |cause: String| -> BenchError {
        format!(
            "Redis at {url} is unreachable or refuses database {db} ({cause}); start it with \
             `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` \
             or set SESSION_TEST_REDIS_URL (a single server with at least 16 databases)"
        )
        .into()
    };
    let mut config = Config::from_url(&url).map_err(|e| unreachable(e.to_string()))?;
    config.database = Some(db);
    let store = RedisStore::connect_config(config, RedisOptions::default())
        .await
        .map_err(|e| unreachable(e.report()))?
        .with_prefix(REDIS_PREFIX);
    Ok(RedisSpace {
        store,
        name: format!("Redis database {db}"),
    })
}

impl RedisSpace {
    async fn command(&self, name: &'static str, args: Vec<Value>) -> Result<Value, BenchError> {
        let command = CustomCommand::new_static(name, ClusterHash::FirstKey, false);
        Ok(self.store.pool().next().custom(command, args).await?)
    }
}

/// SETs one pipeline carries: large enough to hide the round trip, small
/// enough to keep a reply buffer of a few kilobytes.
const PIPELINE: usize = 1_000;

impl Bulk for RedisSpace {
    type Store = RedisStore;

    fn store(&self) -> &RedisStore {
        &self.store
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn copy(
        &self,
        template: &SessionId,
        ids: &[SessionId],
        _spread: u32,
    ) -> Result<(), BenchError> {
        let key = self.store.key(template);
        let bytes: Option<Bytes> = self.store.pool().next().get(key.as_str()).await?;
        let bytes = bytes.ok_or("the template session is missing from Redis")?;
        // The key's deadline as the store set it (it is not the record's
        // expiry: the store keeps the last live millisecond).
        let deadline: i64 = self
            .command("PEXPIRETIME", vec![Value::from(key)])
            .await?
            .convert()?;
        if deadline <= 0 {
            return Err("the template session has no expiry in Redis".into());
        }
        let clients = self.store.pool().clients().to_vec();
        let mut chunks = ids.chunks(PIPELINE);
        loop {
            // One pipeline in flight per pooled connection.
            let mut wave = JoinSet::new();
            for client in &clients {
                let Some(chunk) = chunks.next() else { break };
                let keys: Vec<String> = chunk.iter().map(|id| self.store.key(id)).collect();
                let (client, bytes) = (client.clone(), bytes.clone());
                wave.spawn(async move {
                    let pipeline = client.pipeline();
                    for key in keys {
                        pipeline
                            .set::<(), _, _>(
                                key,
                                bytes.clone(),
                                Some(Expiration::PXAT(deadline)),
                                None,
                                false,
                            )
                            .await?;
                    }
                    let replies: Vec<Value> = pipeline.all().await?;
                    Ok::<usize, BenchError>(replies.len())
                });
            }
            if wave.is_empty() {
                return Ok(());
            }
            while let Some(done) = wave.join_next().await {
                done??;
            }
        }
    }

    async fn stored(&self) -> Result<u64, BenchError> {
        Ok(self.command("DBSIZE", vec![]).await?.convert()?)
    }

    async fn footprint(&self) -> Result<String, BenchError> {
        let info: String = self
            .command("INFO", vec![Value::from("memory")])
            .await?
            .convert()?;
        let used = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory_human:"))
            .unwrap_or("unknown");
        Ok(format!("server uses {} (all databases)", used.trim()))
    }

    async fn settle(&self) -> Result<(), BenchError> {
        Ok(())
    }

    async fn clean(&self) -> Result<(), BenchError> {
        let client = self.store.pool().next();
        let pattern = format!("{REDIS_PREFIX}*");
        let mut cursor = "0".to_owned();
        loop {
            let page: Value = client
                .scan_page(cursor.clone(), pattern.clone(), Some(10_000), None)
                .await?;
            let mut page = page.into_array().into_iter();
            cursor = page
                .next()
                .and_then(|c| c.as_string())
                .ok_or("SCAN answered without a cursor")?;
            let keys: Vec<String> = match page.next() {
                Some(keys) => keys.convert()?,
                None => Vec::new(),
            };
            if !keys.is_empty() {
                let _: i64 = client.unlink(keys).await?;
            }
            if cursor == "0" {
                return Ok(());
            }
        }
    }
}

/// A PostgreSQL table of the run, in schema [`SCHEMA`].
#[derive(Debug)]
pub(crate) struct PgSpace {
    store: PostgresStore,
    /// Seeding, counting, `VACUUM`: statements over a million rows that
    /// may outlast the store's statement timeout (5 s, enforced by the
    /// server on the store's own connections), so on a pool without it.
    bulk: sqlx::PgPool,
    /// `"schema"."table"`: both are constants of this module.
    table: String,
    name: String,
}

/// The store with its default options on `SCHEMA.table` (not migrated
/// yet: the caller drops what an earlier run left first).
pub(crate) async fn postgres(table: &'static str) -> Result<PgSpace, BenchError> {
    let url = crate::postgres::url();
    let store = PostgresStore::connect(&url)
        .await
        .map_err(|e| -> BenchError {
            format!(
                "PostgreSQL at {url} is unreachable ({}); start it \
                 (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) \
                 or set SESSION_TEST_POSTGRES_URL",
                e.report()
            )
            .into()
        })?
        .with_table(SCHEMA, table)?;
    let bulk = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await?;
    Ok(PgSpace {
        store,
        bulk,
        table: format!("\"{SCHEMA}\".\"{table}\""),
        name: format!("table {SCHEMA}.{table}"),
    })
}

impl PgSpace {
    /// Drops the schema of the run (every table of every size).
    pub(crate) async fn drop_schema(&self) -> Result<(), BenchError> {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{SCHEMA}\" CASCADE"
        )))
        .execute(&self.bulk)
        .await?;
        Ok(())
    }

    /// Expired and live rows, by the database's clock (the store's rule).
    pub(crate) async fn expired_and_live(&self) -> Result<(i64, i64), BenchError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT count(*) FILTER (WHERE expires_at <= now()), \
             count(*) FILTER (WHERE expires_at > now()) FROM {}",
            self.table
        )))
        .fetch_one(&self.bulk)
        .await?)
    }
}

/// Rows one `INSERT … SELECT` copies.
const INSERT_CHUNK: usize = 20_000;

impl Bulk for PgSpace {
    type Store = PostgresStore;

    fn store(&self) -> &PostgresStore {
        &self.store
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn copy(
        &self,
        template: &SessionId,
        ids: &[SessionId],
        spread: u32,
    ) -> Result<(), BenchError> {
        // The template's own columns, as the store wrote them; only the ID
        // (and with a spread, the expiry) differs.
        let insert = format!(
            "INSERT INTO {t} (id, data, expires_at, version) \
             SELECT u.id, s.data, s.expires_at - make_interval(secs => \
             CASE WHEN $3 > 0 THEN ((u.n - 1) % $3)::float8 ELSE 0 END), s.version \
             FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n), \
             (SELECT data, expires_at, version FROM {t} WHERE id = $2) s",
            t = self.table
        );
        let insert: Arc<str> = insert.into();
        let mut chunks = ids.chunks(INSERT_CHUNK);
        loop {
            // Two statements at a time: one per core of the test machine.
            let mut wave = JoinSet::new();
            for _ in 0..2 {
                let Some(chunk) = chunks.next() else { break };
                let batch: Vec<String> = chunk.iter().map(|id| id.as_str().to_owned()).collect();
                let expected = u64::try_from(batch.len()).unwrap_or(u64::MAX);
                let (pool, insert) = (self.bulk.clone(), Arc::clone(&insert));
                let template = template.as_str().to_owned();
                wave.spawn(async move {
                    let done = sqlx::query(AssertSqlSafe(insert))
                        .bind(batch)
                        .bind(template)
                        .bind(i64::from(spread))
                        .execute(&pool)
                        .await?;
                    if done.rows_affected() == expected {
                        Ok::<(), BenchError>(())
                    } else {
                        Err(
                            "a bulk insert copied fewer rows than asked: is the template row gone?"
                                .into(),
                        )
                    }
                });
            }
            if wave.is_empty() {
                return Ok(());
            }
            while let Some(done) = wave.join_next().await {
                done??;
            }
        }
    }

    async fn stored(&self) -> Result<u64, BenchError> {
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            self.table
        )))
        .fetch_one(&self.bulk)
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn footprint(&self) -> Result<String, BenchError> {
        let (table, indexes): (String, String) = sqlx::query_as(
            "SELECT pg_size_pretty(pg_table_size(to_regclass($1))), \
             pg_size_pretty(pg_indexes_size(to_regclass($1)))",
        )
        .bind(&self.table)
        .fetch_one(&self.bulk)
        .await?;
        Ok(format!("table {table} + indexes {indexes}"))
    }

    async fn settle(&self) -> Result<(), BenchError> {
        sqlx::raw_sql(AssertSqlSafe(format!("VACUUM (ANALYZE) {}", self.table)))
            .execute(&self.bulk)
            .await?;
        // Writes the loaded pages out now rather than in the middle of a
        // measurement; needs a superuser or pg_checkpoint, else skipped.
        if let Err(e) = sqlx::raw_sql("CHECKPOINT").execute(&self.bulk).await {
            eprintln!("scale: CHECKPOINT refused ({e}); measuring without it");
        }
        Ok(())
    }

    async fn clean(&self) -> Result<(), BenchError> {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS {}",
            self.table
        )))
        .execute(&self.bulk)
        .await?;
        Ok(())
    }
}

/// The directory every file namespace of the run lives under.
pub(crate) fn root() -> PathBuf {
    std::env::temp_dir().join(DIR)
}

/// Removes [`root`] and everything under it.
pub(crate) async fn remove_root() -> Result<(), BenchError> {
    let root = root();
    tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&root) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BenchError::from(format!(
            "could not remove {} ({e}); remove it by hand",
            root.display()
        ))),
        _ => Ok(()),
    })
    .await?
}

/// A directory of the run, under [`root`].
#[derive(Debug)]
pub(crate) struct FileSpace {
    store: FileStore,
    name: String,
}

/// The store in `root()/name`, made by the store itself.
pub(crate) fn file(name: &str) -> Result<FileSpace, BenchError> {
    let dir = root().join(name);
    let store = FileStore::open(&dir)?;
    Ok(FileSpace {
        store,
        name: format!("directory {}", dir.display()),
    })
}

/// The store's file name for `id` (`session-<id>`, its documented layout;
/// the copies are checked by loading them through the store).
fn session_file(dir: &Path, id: &SessionId) -> PathBuf {
    dir.join(format!("session-{id}"))
}

/// Threads writing copies: a few per core, since each write mostly waits
/// on the file system.
const WRITERS: usize = 4;

fn write_copies(dir: &Path, bytes: &[u8], ids: &[SessionId]) -> Result<(), BenchError> {
    let per_thread = ids.len().div_ceil(WRITERS).max(1);
    std::thread::scope(|scope| {
        let writers: Vec<_> = ids
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || -> Result<(), String> {
                    for id in chunk {
                        let path = session_file(dir, id);
                        let mut options = std::fs::File::options();
                        options.write(true).create_new(true);
                        #[cfg(unix)]
                        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                        options
                            .open(&path)
                            .and_then(|mut f| f.write_all(bytes))
                            .map_err(|e| {
                                format!("could not write a copy in {}: {e}", dir.display())
                            })?;
                    }
                    Ok(())
                })
            })
            .collect();
        for writer in writers {
            writer
                .join()
                .map_err(|_| BenchError::from("a file writer thread panicked"))??;
        }
        Ok(())
    })
}

fn session_files(dir: &Path) -> Result<(u64, u64), BenchError> {
    let mut count = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with("session-"))
        {
            count += 1;
            bytes += entry.metadata().map_or(0, |m| m.len());
        }
    }
    Ok((count, bytes))
}

impl Bulk for FileSpace {
    type Store = FileStore;

    fn store(&self) -> &FileStore {
        &self.store
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn copy(
        &self,
        template: &SessionId,
        ids: &[SessionId],
        _spread: u32,
    ) -> Result<(), BenchError> {
        let dir = self.store.dir().to_owned();
        let bytes = std::fs::read(session_file(&dir, template))
            .map_err(|e| format!("the template session file is missing ({e})"))?;
        let ids = ids.to_vec();
        tokio::task::spawn_blocking(move || write_copies(&dir, &bytes, &ids)).await?
    }

    async fn stored(&self) -> Result<u64, BenchError> {
        let dir = self.store.dir().to_owned();
        Ok(tokio::task::spawn_blocking(move || session_files(&dir))
            .await??
            .0)
    }

    async fn footprint(&self) -> Result<String, BenchError> {
        let dir = self.store.dir().to_owned();
        let listing = std::fs::metadata(&dir)?.len();
        let (_, bytes) = tokio::task::spawn_blocking(move || session_files(&dir)).await??;
        #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        Ok(format!(
            "{:.0} MiB of session files in one flat directory (its listing {:.1} MiB)",
            mib(bytes),
            mib(listing)
        ))
    }

    async fn settle(&self) -> Result<(), BenchError> {
        // Writes the copies back now rather than in the middle of a
        // measurement (`sync -f`: that file system only).
        let dir = self.store.dir().to_owned();
        let synced = tokio::task::spawn_blocking(move || {
            std::process::Command::new("sync")
                .arg("-f")
                .arg(&dir)
                .status()
        })
        .await?;
        if !synced.is_ok_and(|s| s.success()) {
            eprintln!("scale: `sync -f` failed; measuring with the copies maybe not on disk yet");
        }
        Ok(())
    }

    async fn clean(&self) -> Result<(), BenchError> {
        let dir = self.store.dir().to_owned();
        tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BenchError::from(format!(
                "could not remove {} ({e}); remove it by hand",
                dir.display()
            ))),
            _ => Ok(()),
        })
        .await?
    }
}

/// What filling a namespace did.
#[derive(Debug, Clone)]
pub(crate) struct Filled {
    /// Every ID stored, those written through the store first.
    pub(crate) ids: Arc<[SessionId]>,
    /// How many were written through the store's `create`.
    pub(crate) created: usize,
    /// How many keys each session's data has.
    pub(crate) keys: usize,
    pub(crate) elapsed: Duration,
    pub(crate) stored: u64,
    pub(crate) footprint: String,
}

/// Sessions loaded back through the store to check the copies.
const CHECKED: usize = 256;

/// Fills `space`, which holds `already` sessions, with `count` more of
/// `data` expiring at `expires_at`: `created` through the store's own
/// `create` (the first is the template), the rest copies of the template.
/// Checks that the namespace then holds exactly `already + count`, and,
/// for live sessions, that a sample of copies loads back through the store
/// equal to the template but for the ID.
pub(crate) async fn fill<B: Bulk>(
    space: &B,
    already: u64,
    count: usize,
    created: usize,
    spread: u32,
    data: &Arc<SessionData>,
    expires_at: OffsetDateTime,
) -> Result<Filled, BenchError> {
    let start = Instant::now();
    let created = created.clamp(1, count.max(1));
    let mut ids = Vec::with_capacity(count);
    for _ in 0..created {
        let id = SessionId::try_generate()?;
        space
            .store()
            .create(&Record::new(id.clone(), Arc::clone(data), expires_at))
            .await?;
        ids.push(id);
    }
    let template = ids.first().cloned().ok_or("no session to copy")?;
    let copies = (created..count)
        .map(|_| SessionId::try_generate())
        .collect::<Result<Vec<_>, _>>()?;
    space.copy(&template, &copies, spread).await?;
    ids.extend(copies);
    space.settle().await?;
    let elapsed = start.elapsed();

    let stored = space.stored().await?;
    if stored != already.saturating_add(u64::try_from(count).unwrap_or(u64::MAX)) {
        return Err(format!(
            "{} holds {stored} sessions after seeding {count} beside {already}: something else \
             writes there, or the copies failed",
            space.name()
        )
        .into());
    }
    let live = expires_at > OffsetDateTime::now_utc();
    if live {
        let expected = space
            .store()
            .load(&template)
            .await?
            .ok_or("the template session does not load")?;
        for i in 0..CHECKED.min(ids.len()) {
            let Some(id) = ids.get(below(mix(i as u64), ids.len())) else {
                continue;
            };
            let back = space
                .store()
                .load(id)
                .await?
                .ok_or("a bulk-written session does not load through the store")?;
            if back.data != expected.data
                || back.expires_at != expected.expires_at
                || back.version != expected.version
            {
                return Err(
                    "a bulk-written session loads back different from the one the store wrote"
                        .into(),
                );
            }
        }
    }
    Ok(Filled {
        ids: ids.into(),
        created,
        keys: data.len(),
        elapsed,
        stored,
        footprint: space.footprint().await?,
    })
}
