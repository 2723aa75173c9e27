//! The store: its constructors, and the [`SessionStore`] operations, each
//! one statement on one connection within bounded time.

use std::sync::Arc;

use session_core::{
    Capabilities, Error, Record, SessionData, SessionId, SessionStore, async_trait,
    time::OffsetDateTime,
};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{AssertSqlSafe, Column, Postgres, Row, TypeInfo};

use crate::error::{PgError, Phase};
use crate::options::PostgresOptions;
use crate::pool::{build_pool, parse_url};

/// Sessions in a PostgreSQL table.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) schema: Arc<str>,
    pub(crate) table: Arc<str>,
    /// `"schema"."table"`, quoted.
    pub(crate) qualified: Arc<str>,
    /// The operations' SQL on that table.
    statements: Statements,
    pub(crate) batch: i64,
    pub(crate) options: PostgresOptions,
}

/// What one [`PostgresStore::clear_expired_in_batches`] run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    /// Rows removed.
    pub removed: u64,
    /// `DELETE` statements run, the last one removing fewer than a batch.
    pub batches: u64,
}

/// A plain SQL identifier: a letter or `_`, then letters, digits or `_`,
/// at most 63 bytes. Anything else is refused rather than quoted.
fn identifier(name: &str) -> Result<Arc<str>, PgError> {
    let mut bytes = name.bytes();
    let valid = name.len() <= 63
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(name.into())
    } else {
        Err(PgError::Identifier {
            name: name.to_owned(),
        })
    }
}

fn qualified(schema: &str, table: &str) -> Arc<str> {
    format!("\"{schema}\".\"{table}\"").into()
}

/// A written expiry before year 1 (which the table's constraint refuses)
/// is stored as the first instant of year 1: expired all the same.
fn expiry(parameter: u8) -> String {
    format!("GREATEST(${parameter}::timestamptz, '0001-01-01 00:00:00+00'::timestamptz)")
}

/// The SQL of each operation on one table, built with the table's name
/// (not on every call). Every statement decides liveness the same way:
/// `expires_at > now()` is live, `expires_at <= now()` expired.
#[derive(Debug, Clone)]
struct Statements {
    /// Inserts, or replaces an expired row of the same ID.
    create: Arc<str>,
    /// Live rows, and rows whose expiry is not a finite instant (to report
    /// them as corrupt rather than as missing). The expiry comes back as
    /// microseconds since 1970, or NULL when it is infinite or outside
    /// years 1 to 9999.
    load: Arc<str>,
    /// Writes a live row of the same version.
    save: Arc<str>,
    /// Whether a live row exists: why a `save` wrote nothing.
    live: Arc<str>,
    delete: Arc<str>,
    touch: Arc<str>,
    /// One batch of expired rows.
    clear: Arc<str>,
}

impl Statements {
    /// `t` is the quoted table name: its parts passed [`identifier`].
    fn on(t: &str) -> Self {
        Statements {
            create: format!(
                "INSERT INTO {t} AS s (id, data, expires_at, version) VALUES ($1, $2, {}, $4) \
                 ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, \
                 expires_at = EXCLUDED.expires_at, version = EXCLUDED.version \
                 WHERE s.expires_at <= now()",
                expiry(3)
            )
            .into(),
            load: format!(
                "SELECT data, version, \
                 CASE WHEN expires_at >= '0001-01-01 00:00:00+00' \
                 AND expires_at < '10000-01-01 00:00:00+00' \
                 THEN (extract(epoch FROM expires_at) * 1000000)::int8 END AS expires_us \
                 FROM {t} WHERE id = $1 AND (expires_at > now() OR NOT isfinite(expires_at))"
            )
            .into(),
            save: format!(
                "UPDATE {t} SET data = $2, expires_at = {}, version = version + 1 \
                 WHERE id = $1 AND expires_at > now() AND version = $4",
                expiry(3)
            )
            .into(),
            live: format!("SELECT 1 FROM {t} WHERE id = $1 AND expires_at > now()").into(),
            delete: format!("DELETE FROM {t} WHERE id = $1").into(),
            touch: format!(
                "UPDATE {t} SET expires_at = {} WHERE id = $1 AND expires_at > now()",
                expiry(2)
            )
            .into(),
            clear: format!(
                "DELETE FROM {t} WHERE id IN \
                 (SELECT id FROM {t} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)"
            )
            .into(),
        }
    }
}

/// `statement`, for sqlx.
fn sql(statement: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    // Safe: built by Statements::on from names that passed identifier().
    AssertSqlSafe(Arc::clone(statement))
}

impl PostgresStore {
    /// Connects to `url` with the default [`PostgresOptions`] (connect
    /// timeout 3 s, acquire timeout 5 s, statement timeout 5 s, 10
    /// connections), table `public.sessions`.
    ///
    /// # Errors
    ///
    /// As [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`)
    /// with `options`, opening one connection to check that the server is
    /// there and lets this user into this database.
    ///
    /// # Errors
    ///
    /// Each message says what to check, and none repeats the password:
    /// - [`Error::Unavailable`] when the server refuses the connection (at
    ///   once), drops it, or does not answer within the timeouts;
    /// - [`Error::Backend`] for an empty or malformed URL, a timeout of
    ///   zero, a user the server does not let in, or a missing database.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, Error> {
        options.check()?;
        let connect = parse_url(url)?;
        let store = Self::assemble(build_pool(connect, &options), options);
        drop(store.acquire().await?);
        Ok(store)
    }

    /// A store on a pool of yours, with the default [`PostgresOptions`]
    /// for the deadlines it keeps itself; table `public.sessions`.
    pub fn new(pool: PgPool) -> Self {
        Self::assemble(pool, PostgresOptions::default())
    }

    /// A store on a pool of yours. The store bounds each checkout by
    /// `options`' acquire timeout and each statement by its statement
    /// timeout (client-side only: the pool's connections are yours, so no
    /// server-side `statement_timeout` is set on them); the pool's own size
    /// and timeouts stay as you built them, and `max_connections` is not
    /// used.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] for a timeout of zero.
    pub fn from_pool(pool: PgPool, options: PostgresOptions) -> Result<Self, Error> {
        options.check()?;
        Ok(Self::assemble(pool, options))
    }

    fn assemble(pool: PgPool, options: PostgresOptions) -> Self {
        let qualified = qualified("public", "sessions");
        PostgresStore {
            pool,
            statements: Statements::on(&qualified),
            qualified,
            schema: "public".into(),
            table: "sessions".into(),
            batch: 10_000,
            options,
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
        self.qualified = qualified(&self.schema, &self.table);
        self.statements = Statements::on(&self.qualified);
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

    /// The timeouts this store keeps.
    pub fn options(&self) -> &PostgresOptions {
        &self.options
    }

    /// Removes expired rows, a batch per statement (each within the
    /// statement timeout); says how many and in how many statements.
    ///
    /// # Errors
    ///
    /// The database's; rows removed by earlier batches stay removed.
    pub async fn clear_expired_in_batches(&self) -> Result<Cleared, Error> {
        let mut cleared = Cleared {
            removed: 0,
            batches: 0,
        };
        let mut conn = self.acquire().await?;
        loop {
            let outcome = self
                .deadline(
                    sqlx::query(sql(&self.statements.clear))
                        .bind(self.batch)
                        .execute(&mut *conn),
                )
                .await;
            let removed = self.settle(&mut conn, outcome)?.rows_affected();
            cleared.removed += removed;
            cleared.batches += 1;
            if removed < u64::try_from(self.batch).unwrap_or(u64::MAX) {
                return Ok(cleared);
            }
        }
    }

    /// One column of a loaded row: a column of another type is the
    /// table's shape ([`PgError::ColumnType`], a backend error); a value
    /// of the right type that does not decode is the row's content.
    fn column<'r, T>(
        &self,
        row: &'r PgRow,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, PgError>
    where
        T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        let column = row
            .try_column(name)
            .map_err(|e| self.context().classify(e, Phase::Statement))?;
        if !<T as sqlx::Type<Postgres>>::compatible(column.type_info()) {
            return Err(PgError::ColumnType {
                table: self.qualified.to_string(),
                column: name,
                found: column.type_info().name().to_owned(),
                expected,
            });
        }
        row.try_get::<Option<T>, _>(name)
            .map_err(|source| PgError::Undecodable {
                table: self.qualified.to_string(),
                column: name,
                source: Box::new(source),
            })
    }

    /// A loaded row as a record; anything undecodable is corrupt.
    fn decode(&self, id: &SessionId, row: &PgRow) -> Result<Record, PgError> {
        let table = || self.qualified.to_string();
        let data: Option<String> = self.column(row, "data", "TEXT")?;
        let version: Option<i64> = self.column(row, "version", "INT8 (bigint)")?;
        // Computed by the statement: NULL unless finite and in years 1 to
        // 9999 (sqlx's own timestamptz decoding panics outside time's range).
        let micros: Option<i64> = self.column(row, "expires_us", "INT8")?;
        let data = data.ok_or(PgError::Null {
            table: table(),
            column: "data",
        })?;
        let data: SessionData = serde_json::from_str(&data).map_err(|source| PgError::Data {
            table: table(),
            source,
        })?;
        let expires_at = micros
            .and_then(|us| OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000).ok())
            .ok_or(PgError::Expiry { table: table() })?;
        let version = version.ok_or(PgError::Null {
            table: table(),
            column: "version",
        })?;
        let version = u64::try_from(version).map_err(|_| PgError::Version {
            table: table(),
            version,
        })?;
        Ok(Record::new(id.clone(), data, expires_at).with_version(version))
    }
}

fn version(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The `data` column as stored: the map as serde_json writes it.
fn encode(data: &SessionData) -> Result<String, Error> {
    Ok(serde_json::to_string(data)?)
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        let data = encode(&record.data)?;
        let mut conn = self.acquire().await?;
        let outcome = self
            .deadline(
                sqlx::query(sql(&self.statements.create))
                    .bind(record.id.as_str())
                    .bind(data)
                    .bind(record.expires_at)
                    .bind(version(record.version))
                    .execute(&mut *conn),
            )
            .await;
        if self.settle(&mut conn, outcome)?.rows_affected() == 1 {
            Ok(())
        } else {
            Err(Error::id_taken())
        }
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let mut conn = self.acquire().await?;
        let outcome = self
            .deadline(
                sqlx::query(sql(&self.statements.load))
                    .bind(id.as_str())
                    .fetch_optional(&mut *conn),
            )
            .await;
        let Some(row) = self.settle(&mut conn, outcome)? else {
            return Ok(None);
        };
        Ok(Some(self.decode(id, &row)?))
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        let data = encode(&record.data)?;
        let mut conn = self.acquire().await?;
        // Both statements within one statement timeout: a call waits at
        // most the acquire timeout plus the statement timeout.
        let outcome = self
            .deadline(async {
                let updated = sqlx::query(sql(&self.statements.save))
                    .bind(record.id.as_str())
                    .bind(data)
                    .bind(record.expires_at)
                    .bind(version(record.version))
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                if updated == 1 {
                    return Ok(None);
                }
                // Nothing written: gone (never revived), or another version.
                sqlx::query(sql(&self.statements.live))
                    .bind(record.id.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .map(|live| Some(live.is_some()))
            })
            .await;
        match self.settle(&mut conn, outcome)? {
            None => Ok(()),
            Some(true) => Err(Error::version_changed()),
            Some(false) => Err(Error::NotFound),
        }
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        let mut conn = self.acquire().await?;
        let outcome = self
            .deadline(
                sqlx::query(sql(&self.statements.delete))
                    .bind(id.as_str())
                    .execute(&mut *conn),
            )
            .await;
        self.settle(&mut conn, outcome)?;
        Ok(())
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let mut conn = self.acquire().await?;
        let outcome = self
            .deadline(
                sqlx::query(sql(&self.statements.touch))
                    .bind(id.as_str())
                    .bind(expires_at)
                    .execute(&mut *conn),
            )
            .await;
        if self.settle(&mut conn, outcome)?.rows_affected() == 1 {
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
