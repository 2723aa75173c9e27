//! `migrate()`: the table, its constraints and its schema version; earlier
//! layouts upgraded, a table that belongs to something else refused.

use session_core::Error;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use crate::PostgresStore;
use crate::error::{PgError, Phase};

/// The layout [`PostgresStore::migrate`] makes, recorded in the table's
/// comment as `session-store-postgres schema 3`. Schema 1 had a `jsonb`
/// data column, schema 2 a `text` one; neither had CHECK constraints or a
/// comment.
pub const SCHEMA_VERSION: i64 = 3;

const COMMENT_PREFIX: &str = "session-store-postgres schema ";

/// The CHECK constraints of the table: names (per table in PostgreSQL)
/// and rules.
const CHECKS: [(&str, &str); 2] = [
    (
        "session_expires_at_range",
        "isfinite(expires_at) AND expires_at >= '0001-01-01 00:00:00+00' \
         AND expires_at < '10000-01-01 00:00:00+00'",
    ),
    ("session_version_not_negative", "version >= 0"),
];

/// One column as the catalog describes it.
struct Described {
    name: String,
    sql_type: String,
    not_null: bool,
}

impl PostgresStore {
    /// Makes the table ready, and says clearly when it cannot:
    ///
    /// - creates the schema, the table (with its constraints and its schema
    ///   version in the table's comment) and the index on `expires_at` if
    ///   they are missing;
    /// - upgrades a table made by an earlier version: a `jsonb` data column
    ///   (schema 1) becomes `text`, keeping every row; the CHECK
    ///   constraints are added (schema 2 and earlier had none) and then
    ///   validated. Rows that break them (an infinite expiry, a negative
    ///   version: `load` reports them as corrupt) do not stop the upgrade:
    ///   the constraints then guard every new write, and are validated by a
    ///   later `migrate()` once those rows are gone;
    /// - refuses, with [`Error::Backend`] and changing nothing, a table of
    ///   another shape (say an application's own `sessions` table: other
    ///   columns, other types, no primary key on `id`), a view, or a table
    ///   made by a newer version of this crate.
    ///
    /// Safe to run on every start, by several processes at once: the
    /// statements run in one transaction under an advisory lock on the
    /// table's name. It keeps no migration history, so it never touches
    /// the application's `_sqlx_migrations`, and it owns the table's
    /// comment. It is not bound by the statement timeout (an upgrade
    /// rewrites or scans the table once, holding an exclusive lock on it
    /// meanwhile, so sessions wait for it; on a large table run it at a
    /// quiet time).
    ///
    /// Run `migrate()` before serving: a connection that already loaded
    /// sessions from a `jsonb` table keeps a prepared statement PostgreSQL
    /// refuses after the conversion ("cached plan must not change result
    /// type", a backend error), and processes still running the `jsonb`
    /// version fail that way, then read every session as corrupt (empty),
    /// until they are upgraded too. Processes running the `text` version
    /// (schema 2) keep working beside the constraints: they never write a
    /// value the constraints refuse.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] for a table that is not a session table, or one
    /// of a newer schema; otherwise the database's, each with what to check.
    pub async fn migrate(&self) -> Result<(), Error> {
        Ok(self.migrate_table().await?)
    }

    async fn migrate_table(&self) -> Result<(), PgError> {
        let mut conn = self.acquire().await?;
        let classify = |e| self.context().classify(e, Phase::Statement);
        let mut tx = conn.begin().await.map_err(classify)?;
        for statement in [
            "SET LOCAL statement_timeout = 0".to_owned(),
            "SET LOCAL lock_timeout = 0".to_owned(),
        ] {
            self.run(&mut tx, statement).await?;
        }
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("session-store-postgres {}", self.qualified))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        self.run(
            &mut tx,
            format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema),
        )
        .await?;
        let relation: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT c.relkind::text, obj_description(c.oid, 'pg_class') FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
        )
        .bind(&*self.schema)
        .bind(&*self.table)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        match relation {
            None => self.create_table(&mut tx).await?,
            Some((kind, comment)) => self.upgrade_table(&mut tx, &kind, comment).await?,
        }
        tx.commit().await.map_err(classify)
    }

    async fn run(&self, conn: &mut PgConnection, statement: String) -> Result<(), PgError> {
        sqlx::query(AssertSqlSafe(statement))
            .execute(conn)
            .await
            .map(drop)
            .map_err(|e| self.context().classify(e, Phase::Statement))
    }

    fn index(&self) -> String {
        format!(
            "CREATE INDEX IF NOT EXISTS \"{}_expires_at\" ON {} (expires_at)",
            self.table, self.qualified
        )
    }

    fn comment(&self) -> String {
        format!(
            "COMMENT ON TABLE {} IS '{COMMENT_PREFIX}{SCHEMA_VERSION}'",
            self.qualified
        )
    }

    async fn create_table(&self, conn: &mut PgConnection) -> Result<(), PgError> {
        let checks: Vec<String> = CHECKS
            .iter()
            .map(|(name, rule)| format!(", CONSTRAINT {name} CHECK ({rule})"))
            .collect();
        let create = format!(
            "CREATE TABLE {} (id text PRIMARY KEY, data text NOT NULL, \
             expires_at timestamptz NOT NULL, version bigint NOT NULL DEFAULT 0{})",
            self.qualified,
            checks.concat()
        );
        for statement in [create, self.index(), self.comment()] {
            self.run(conn, statement).await?;
        }
        Ok(())
    }

    async fn upgrade_table(
        &self,
        conn: &mut PgConnection,
        kind: &str,
        comment: Option<String>,
    ) -> Result<(), PgError> {
        let classify = |e| self.context().classify(e, Phase::Statement);
        let foreign = |found: String| PgError::Foreign {
            table: self.qualified.to_string(),
            found,
        };
        if kind != "r" && kind != "p" {
            return Err(foreign(match kind {
                "v" => "a view".to_owned(),
                "m" => "a materialized view".to_owned(),
                "f" => "a foreign table".to_owned(),
                other => format!("a relation of kind {other:?}"),
            }));
        }
        let schema_version = comment
            .as_deref()
            .and_then(|c| c.strip_prefix(COMMENT_PREFIX))
            .and_then(|v| v.trim().parse::<i64>().ok());
        if let Some(found) = schema_version.filter(|v| *v > SCHEMA_VERSION) {
            return Err(PgError::NewerSchema {
                table: self.qualified.to_string(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        let columns: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull \
             FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 \
             AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(&*self.qualified)
        .fetch_all(&mut *conn)
        .await
        .map_err(classify)?;
        let columns: Vec<Described> = columns
            .into_iter()
            .map(|(name, sql_type, not_null)| Described {
                name,
                sql_type,
                not_null,
            })
            .collect();
        let keyed_by_id: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = to_regclass($1) AND i.indisprimary AND i.indnkeyatts = 1 \
             AND a.attname = 'id')",
        )
        .bind(&*self.qualified)
        .fetch_one(&mut *conn)
        .await
        .map_err(classify)?;
        let data_type = shape_of(&columns, keyed_by_id).map_err(foreign)?;

        if data_type != "text" {
            self.run(
                conn,
                format!(
                    "ALTER TABLE {} ALTER COLUMN data TYPE text USING data::text",
                    self.qualified
                ),
            )
            .await?;
        }
        let existing: Vec<(String, bool)> = sqlx::query_as(
            "SELECT conname::text, convalidated FROM pg_constraint \
             WHERE conrelid = to_regclass($1) AND contype = 'c'",
        )
        .bind(&*self.qualified)
        .fetch_all(&mut *conn)
        .await
        .map_err(classify)?;
        for (name, rule) in CHECKS {
            let validated = match existing.iter().find(|(n, _)| n == name) {
                Some((_, validated)) => *validated,
                None => {
                    self.run(
                        conn,
                        format!(
                            "ALTER TABLE {} ADD CONSTRAINT {name} CHECK ({rule}) NOT VALID",
                            self.qualified
                        ),
                    )
                    .await?;
                    false
                }
            };
            if !validated {
                self.validate(conn, name).await?;
            }
        }
        self.run(conn, self.index()).await?;
        if schema_version != Some(SCHEMA_VERSION) {
            self.run(conn, self.comment()).await?;
        }
        Ok(())
    }

    /// Validates a constraint added `NOT VALID`; rows that break it leave
    /// it unvalidated (it still guards every new write).
    async fn validate(&self, conn: &mut PgConnection, name: &str) -> Result<(), PgError> {
        self.run(conn, "SAVEPOINT session_store_validate".to_owned())
            .await?;
        let validated = self
            .run(
                conn,
                format!("ALTER TABLE {} VALIDATE CONSTRAINT {name}", self.qualified),
            )
            .await;
        match validated {
            Ok(()) => {
                self.run(conn, "RELEASE SAVEPOINT session_store_validate".to_owned())
                    .await
            }
            Err(PgError::Rejected { .. }) => {
                self.run(
                    conn,
                    "ROLLBACK TO SAVEPOINT session_store_validate".to_owned(),
                )
                .await
            }
            Err(other) => Err(other),
        }
    }
}

/// The type of the data column when `columns` are those of a session
/// table of any schema (id text primary key, data text/jsonb/json,
/// expires_at timestamptz, version bigint, all NOT NULL, nothing else);
/// otherwise what is different, to say so.
fn shape_of(columns: &[Described], keyed_by_id: bool) -> Result<String, String> {
    let expected: [(&str, &[&str]); 4] = [
        ("id", &["text"]),
        ("data", &["text", "jsonb", "json"]),
        ("expires_at", &["timestamp with time zone"]),
        ("version", &["bigint"]),
    ];
    let listing = || {
        columns
            .iter()
            .map(|c| {
                let null = if c.not_null { "" } else { " null" };
                format!("{} {}{null}", c.name, c.sql_type)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let fits = columns.len() == expected.len()
        && expected.iter().all(|(name, types)| {
            columns
                .iter()
                .any(|c| c.name == *name && c.not_null && types.contains(&c.sql_type.as_str()))
        });
    if !fits {
        return Err(format!(
            "its columns are {}; a session table has exactly id text, data text, \
             expires_at timestamp with time zone, version bigint, all NOT NULL",
            listing()
        ));
    }
    if !keyed_by_id {
        return Err("it has no primary key on id alone".to_owned());
    }
    Ok(columns
        .iter()
        .find(|c| c.name == "data")
        .map(|c| c.sql_type.clone())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(columns: &[(&str, &str, bool)]) -> Vec<Described> {
        columns
            .iter()
            .map(|(name, sql_type, not_null)| Described {
                name: (*name).to_owned(),
                sql_type: (*sql_type).to_owned(),
                not_null: *not_null,
            })
            .collect()
    }

    const OURS: [(&str, &str, bool); 4] = [
        ("id", "text", true),
        ("data", "jsonb", true),
        ("expires_at", "timestamp with time zone", true),
        ("version", "bigint", true),
    ];

    #[test]
    fn every_earlier_layout_is_a_session_table() {
        assert_eq!(shape_of(&described(&OURS), true).as_deref(), Ok("jsonb"));
        let mut text = OURS;
        text[1].1 = "text";
        assert_eq!(shape_of(&described(&text), true).as_deref(), Ok("text"));
    }

    #[test]
    fn any_other_shape_is_not() {
        let mut cases: Vec<Vec<(&str, &str, bool)>> = Vec::new();
        let mut extra = OURS.to_vec();
        extra.push(("user_id", "integer", false));
        cases.push(extra);
        cases.push(OURS[..3].to_vec());
        for (i, (_, sql_type, _)) in [(0, "uuid"), (1, "bytea"), (2, "text"), (3, "integer")]
            .into_iter()
            .map(|(i, t)| (i, (i, t, true)))
        {
            let mut changed = OURS.to_vec();
            changed[i].1 = sql_type;
            cases.push(changed);
        }
        let mut nullable = OURS.to_vec();
        nullable[3].2 = false;
        cases.push(nullable);
        for case in &cases {
            let refused = shape_of(&described(case), true).unwrap_err();
            assert!(refused.contains("its columns are"), "{case:?}: {refused}");
        }
        assert!(
            shape_of(&described(&OURS), false)
                .unwrap_err()
                .contains("primary key")
        );
    }
}
