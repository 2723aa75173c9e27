//! A [`SessionStore`] on PostgreSQL, through [sqlx](https://docs.rs/sqlx).
//!
//! ```no_run
//! # async fn run() -> Result<(), session_core::Error> {
//! use session_core::SessionManager;
//! use session_store_postgres::PostgresStore;
//!
//! let store = PostgresStore::connect("postgres://app@localhost/app").await?;
//! store.migrate().await?; // CREATE TABLE IF NOT EXISTS: safe on every start
//! let sessions = SessionManager::new(store);
//! # Ok(()) }
//! ```
//!
//! # What to expect
//!
//! - **Table** `public.sessions` by default ([`PostgresStore::with_table`]):
//!   `id text primary key, data text not null, expires_at timestamptz not
//!   null, version bigint not null`, and an index on `expires_at`.
//!   [`PostgresStore::migrate`] creates them if missing; it keeps no
//!   migration history, so it never touches the application's own
//!   `_sqlx_migrations`.
//! - **Data** is the session map as serde_json writes it, in a `text`
//!   column. Not `jsonb`: `jsonb` refuses the escape `\u0000`, so a session
//!   holding U+0000 anywhere (a key or a value) could never be saved. The
//!   text never holds a NUL byte (serde_json escapes every control
//!   character), PostgreSQL does not parse it on the way in, and it comes
//!   back byte for byte; cast it (`data::json`) to query it by hand.
//!   Tables made by earlier versions, with a `jsonb` column, are converted
//!   by [`PostgresStore::migrate`].
//! - **Atomicity**: `create` is one `INSERT .. ON CONFLICT` that only
//!   replaces an expired row (rows affected checked: a live ID is a
//!   conflict); `save` is one `UPDATE .. WHERE id = $1 AND expires_at >
//!   now() AND version = $2` (never revives a deleted or expired session;
//!   concurrent saves of one version have one winner).
//! - **Expiry** is decided by the database's clock, `now()` (the start of
//!   each statement's transaction; every operation is its own), with the
//!   one rule of every store: a row is live if and only if `now() <
//!   expires_at`. Every statement says so the same way: `expires_at >
//!   now()` to load, save or touch, `expires_at <= now()` for the expired
//!   rows that `create` may replace and [`SessionStore::clear_expired`]
//!   removes. So at exactly `expires_at` a row is gone for all of them,
//!   one microsecond before it is live for all of them. `clear_expired`
//!   works in batches ([`PostgresStore::with_clear_batch`], default 10,000
//!   rows), so a million expired rows never lock the table in one
//!   statement.
//! - **Crash**: every operation is one statement, so a crash leaves each
//!   session as it was before or after a write, never in between.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::sync::Arc;

use session_core::{
    Capabilities, Error, Record, SessionData, SessionId, SessionStore, async_trait,
    time::OffsetDateTime,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};

/// Sessions in a PostgreSQL table.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: Arc<str>,
    table: Arc<str>,
    batch: i64,
}

/// What one [`PostgresStore::clear_expired_in_batches`] run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    /// Rows removed.
    pub removed: u64,
    /// `DELETE` statements run, the last one removing fewer than a batch.
    pub batches: u64,
}

/// Whether the server refused for a reason that passes (SQLSTATE class 08
/// connection exception, 53 insufficient resources such as
/// `too_many_connections`, 57P0x shutting down or starting up).
fn server_unavailable(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    db.code().is_some_and(|code| {
        code.starts_with("08") || code.starts_with("53") || code.starts_with("57P0")
    })
}

fn map_error(error: sqlx::Error) -> Error {
    if server_unavailable(&error) {
        return Error::unavailable(error);
    }
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => Error::unavailable(error),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => Error::corrupt(error),
        other => Error::backend(other),
    }
}

/// A plain SQL identifier: a letter or `_`, then letters, digits or `_`,
/// at most 63 bytes. Anything else is refused rather than quoted.
fn identifier(name: &str) -> Result<Arc<str>, Error> {
    let mut bytes = name.bytes();
    let valid = name.len() <= 63
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(name.into())
    } else {
        Err(Error::backend(format!(
            "{name:?} is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes)"
        )))
    }
}

impl PostgresStore {
    /// Connects a pool to `url`.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] if the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(map_error)?;
        Ok(Self::new(pool))
    }

    /// A store on an existing pool, table `public.sessions`.
    pub fn new(pool: PgPool) -> Self {
        PostgresStore {
            pool,
            schema: "public".into(),
            table: "sessions".into(),
            batch: 10_000,
        }
    }

    /// Uses `schema.table`. Default: `public.sessions`.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if a name is not a plain SQL identifier.
    pub fn with_table(mut self, schema: &str, table: &str) -> Result<Self, Error> {
        self.schema = identifier(schema)?;
        self.table = identifier(table)?;
        Ok(self)
    }

    /// How many rows one `clear_expired` statement removes at most.
    /// Default: 10,000.
    #[must_use]
    pub fn with_clear_batch(mut self, rows: u32) -> Self {
        self.batch = i64::from(rows.max(1));
        self
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn qualified(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.table)
    }

    fn sql(&self, template: &str) -> AssertSqlSafe<String> {
        // Safe: the names passed identifier() and are quoted.
        AssertSqlSafe(template.replace("{t}", &self.qualified()))
    }

    /// Creates the schema, the table and the index if they are missing,
    /// and converts a `data` column of type `jsonb` (made by earlier
    /// versions) to `text`, keeping every row.
    ///
    /// Safe to run on every start, by several processes at once: the
    /// statements run in one transaction under an advisory lock on the
    /// table's name (plain `CREATE .. IF NOT EXISTS` statements racing each
    /// other can fail with a unique violation in the catalog).
    ///
    /// The conversion rewrites the table once, holding an exclusive lock
    /// on it meanwhile, so sessions wait for it; on a large table run it
    /// at a quiet time. Run `migrate()` before serving: a connection that
    /// already loaded sessions from the `jsonb` table keeps a prepared
    /// statement PostgreSQL refuses after the conversion ("cached plan must
    /// not change result type", a backend error), and processes still
    /// running an earlier version fail that way, then read every session as
    /// corrupt (empty), until they are upgraded too.
    ///
    /// # Errors
    ///
    /// The database's.
    pub async fn migrate(&self) -> Result<(), Error> {
        let statements = [
            format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema),
            self.sql(
                "CREATE TABLE IF NOT EXISTS {t} (id text PRIMARY KEY, data text NOT NULL, \
                 expires_at timestamptz NOT NULL, version bigint NOT NULL DEFAULT 0)",
            )
            .0,
            format!(
                "CREATE INDEX IF NOT EXISTS \"{}_expires_at\" ON {} (expires_at)",
                self.table,
                self.qualified()
            ),
        ];
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("session-store-postgres {}", self.qualified()))
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        for statement in statements {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        let data_type: Option<String> = sqlx::query_scalar(
            "SELECT t.typname::text FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1) AND a.attname = 'data' AND NOT a.attisdropped",
        )
        .bind(self.qualified())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_error)?;
        if matches!(data_type.as_deref(), Some("jsonb" | "json")) {
            sqlx::query(self.sql("ALTER TABLE {t} ALTER COLUMN data TYPE text USING data::text"))
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        tx.commit().await.map_err(map_error)
    }

    /// Removes expired rows, a batch per statement; says how many and in how
    /// many statements.
    ///
    /// # Errors
    ///
    /// The database's; rows removed by earlier batches stay removed.
    pub async fn clear_expired_in_batches(&self) -> Result<Cleared, Error> {
        let statement = self.sql(
            "DELETE FROM {t} WHERE id IN \
             (SELECT id FROM {t} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)",
        );
        let mut cleared = Cleared {
            removed: 0,
            batches: 0,
        };
        loop {
            let removed = sqlx::query(AssertSqlSafe(statement.0.clone()))
                .bind(self.batch)
                .execute(&self.pool)
                .await
                .map_err(map_error)?
                .rows_affected();
            cleared.removed += removed;
            cleared.batches += 1;
            if removed < u64::try_from(self.batch).unwrap_or(u64::MAX) {
                return Ok(cleared);
            }
        }
    }
}

fn version(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The `data` column as stored: the map as serde_json writes it.
fn encode(data: &SessionData) -> Result<String, Error> {
    Ok(serde_json::to_string(data)?)
}

/// The `data` column could not be read as text: the table's shape, not a
/// session's content, is wrong.
#[derive(Debug)]
struct DataColumnNotText(sqlx::Error);

impl std::fmt::Display for DataColumnNotText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the data column could not be read as text; a table made by an earlier \
             version has a jsonb column: run PostgresStore::migrate() to convert it",
        )
    }
}

impl std::error::Error for DataColumnNotText {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        let inserted = sqlx::query(self.sql(
            "INSERT INTO {t} AS s (id, data, expires_at, version) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at, \
             version = EXCLUDED.version WHERE s.expires_at <= now()",
        ))
        .bind(record.id.as_str())
        .bind(encode(&record.data)?)
        .bind(record.expires_at)
        .bind(version(record.version))
        .execute(&self.pool)
        .await
        .map_err(map_error)?
        .rows_affected();
        if inserted == 1 {
            Ok(())
        } else {
            Err(Error::id_taken())
        }
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let row =
            sqlx::query(self.sql(
                "SELECT data, expires_at, version FROM {t} WHERE id = $1 AND expires_at > now()",
            ))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        let Some(row) = row else { return Ok(None) };
        // A text column always decodes to a String (the connection is
        // UTF-8), so a failure here is the column's type.
        let data: String = row
            .try_get("data")
            .map_err(|e| Error::backend(DataColumnNotText(e)))?;
        let data: SessionData = serde_json::from_str(&data).map_err(Error::corrupt)?;
        let expires_at: OffsetDateTime = row.try_get("expires_at").map_err(map_error)?;
        let stored_version: i64 = row.try_get("version").map_err(map_error)?;
        Ok(Some(
            Record::new(id.clone(), data, expires_at)
                .with_version(u64::try_from(stored_version).unwrap_or(0)),
        ))
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        let updated = sqlx::query(self.sql(
            "UPDATE {t} SET data = $2, expires_at = $3, version = version + 1 \
             WHERE id = $1 AND expires_at > now() AND version = $4",
        ))
        .bind(record.id.as_str())
        .bind(encode(&record.data)?)
        .bind(record.expires_at)
        .bind(version(record.version))
        .execute(&self.pool)
        .await
        .map_err(map_error)?
        .rows_affected();
        if updated == 1 {
            return Ok(());
        }
        // Nothing written: gone (never revived), or another version.
        let live = sqlx::query(self.sql("SELECT 1 FROM {t} WHERE id = $1 AND expires_at > now()"))
            .bind(record.id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        Err(if live.is_some() {
            Error::version_changed()
        } else {
            Error::NotFound
        })
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        sqlx::query(self.sql("DELETE FROM {t} WHERE id = $1"))
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let updated = sqlx::query(
            self.sql("UPDATE {t} SET expires_at = $2 WHERE id = $1 AND expires_at > now()"),
        )
        .bind(id.as_str())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_error)?
        .rows_affected();
        if updated == 1 {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        Ok(self.clear_expired_in_batches().await?.removed)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
}
