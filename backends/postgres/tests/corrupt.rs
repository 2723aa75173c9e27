//! Rows the store cannot decode, whatever form they take, are
//! `Error::Corrupt` from `load` (never a panic, never a backend error, never
//! `None`), are left in place, and no other operation panics on them.
//!
//! The rows are planted in a table of the layout earlier versions made (no
//! CHECK constraints): `migrate()` now keeps such values out (see
//! `tests/schema.rs`), but tables made before it, and rows written by hand,
//! can still hold them.

mod common;

use common::{admin, connect, drop_schema, exec, fresh_schema, load_in_task};
use session_core::time::{Duration, OffsetDateTime};
use session_core::{Error, ErrorKind, Record, SessionData, SessionId, SessionStore};
use session_store_postgres::PostgresStore;
use sqlx::AssertSqlSafe;

/// One undecodable row: what is wrong, and the SQL values of its columns.
struct Bad {
    what: &'static str,
    data: &'static str,
    expires_at: &'static str,
    version: &'static str,
}

const LIVE: &str = "now() + interval '1 hour'";

const BAD: &[Bad] = &[
    Bad {
        what: "data is a JSON array",
        data: "'[1, 2]'",
        expires_at: LIVE,
        version: "0",
    },
    Bad {
        what: "data is a JSON string",
        data: "'\"x\"'",
        expires_at: LIVE,
        version: "0",
    },
    Bad {
        what: "data is a JSON number",
        data: "'42'",
        expires_at: LIVE,
        version: "0",
    },
    Bad {
        what: "data is JSON null",
        data: "'null'",
        expires_at: LIVE,
        version: "0",
    },
    Bad {
        what: "data is not JSON",
        data: "'{\"a\": '",
        expires_at: LIVE,
        version: "0",
    },
    Bad {
        what: "data is empty",
        data: "''",
        expires_at: LIVE,
        version: "0",
    },
    Bad {
        what: "data is SQL NULL",
        data: "NULL",
        expires_at: LIVE,
        version: "0",
    },
    Bad {
        what: "expires_at is infinity",
        data: "'{}'",
        expires_at: "'infinity'",
        version: "0",
    },
    Bad {
        what: "expires_at is -infinity",
        data: "'{}'",
        expires_at: "'-infinity'",
        version: "0",
    },
    Bad {
        what: "expires_at is in year 10000",
        data: "'{}'",
        expires_at: "'10000-01-01 00:00:00+00'",
        version: "0",
    },
    Bad {
        what: "expires_at is PostgreSQL's largest timestamp",
        data: "'{}'",
        expires_at: "'294276-12-31 23:59:59.999999+00'",
        version: "0",
    },
    Bad {
        what: "version is -1",
        data: "'{}'",
        expires_at: LIVE,
        version: "-1",
    },
    Bad {
        what: "version is i64::MIN",
        data: "'{}'",
        expires_at: LIVE,
        version: "-9223372036854775808",
    },
    Bad {
        what: "version is SQL NULL",
        data: "'{}'",
        expires_at: LIVE,
        version: "NULL",
    },
];

/// A table of the previous layout (text data, no constraints), with its
/// columns nullable so that NULLs can be planted too, and one bad row per
/// entry of [`BAD`].
async fn planted(prefix: &str) -> (PostgresStore, String, Vec<(&'static Bad, SessionId)>) {
    let schema = fresh_schema(prefix);
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    let admin = admin().await;
    exec(
        &admin,
        &[
            format!("CREATE SCHEMA \"{schema}\""),
            format!(
                "CREATE TABLE \"{schema}\".sessions (id text PRIMARY KEY, data text, \
                 expires_at timestamptz NOT NULL, version bigint DEFAULT 0)"
            ),
        ],
    )
    .await;
    let mut rows = Vec::new();
    for bad in BAD {
        let id = SessionId::generate();
        exec(
            &admin,
            &[format!(
                "INSERT INTO \"{schema}\".sessions VALUES ('{id}', {}, {}, {})",
                bad.data, bad.expires_at, bad.version
            )],
        )
        .await;
        rows.push((bad, id));
    }
    (store, schema, rows)
}

/// The row as stored, as text, to check that nothing changed it.
async fn row_text(store: &PostgresStore, schema: &str, id: &SessionId) -> Option<String> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT s::text FROM \"{schema}\".sessions s WHERE id = $1"
    )))
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn every_undecodable_row_is_corrupt_from_load_and_left_in_place() {
    let (store, schema, rows) = planted("corrupt_load").await;
    let mut wrong = Vec::new();
    for (bad, id) in &rows {
        let before = row_text(&store, &schema, id).await;
        let outcome = load_in_task(&store, id).await;
        let after = row_text(&store, &schema, id).await;
        match outcome {
            Err(join) if join.is_panic() => wrong.push(format!("{}: load panicked", bad.what)),
            Err(join) => wrong.push(format!("{}: the task failed: {join}", bad.what)),
            Ok(Ok(record)) => wrong.push(format!(
                "{}: load returned Ok({:?}), not Error::Corrupt",
                bad.what,
                record.map(|r| (r.data, r.expires_at, r.version))
            )),
            Ok(Err(e)) if e.kind() != ErrorKind::Corrupt => wrong.push(format!(
                "{}: load returned {:?} ({}), not Error::Corrupt",
                bad.what,
                e.kind(),
                e.report()
            )),
            Ok(Err(_)) => {}
        }
        if before.is_none() || before != after {
            wrong.push(format!(
                "{}: the row changed: {before:?} -> {after:?}",
                bad.what
            ));
        }
    }
    drop_schema(store.pool(), &schema).await;
    assert!(
        wrong.is_empty(),
        "{} of {} rows:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn corrupt_messages_say_what_is_wrong_with_the_row() {
    let (store, schema, rows) = planted("corrupt_msg").await;
    let mut seen = Vec::new();
    for (bad, id) in &rows {
        let message = match load_in_task(&store, id).await {
            Ok(Err(e)) => format!("{:?}: {}", e.kind(), e.report()),
            Ok(Ok(record)) => format!("Ok({})", record.is_some()),
            Err(join) => format!("load panicked: {join}"),
        };
        seen.push((bad.what, message));
    }
    drop_schema(store.pool(), &schema).await;
    for (what, message) in &seen {
        let column = what.split_whitespace().next().unwrap_or_default();
        assert!(
            message.contains(column) && message.contains("sessions"),
            "{what}: the message does not name the column `{column}` and the table: {message}"
        );
    }
}

/// `save`, `touch`, `create` over the ID, `delete` and `clear_expired` on
/// each bad row: none panics, none is a backend error, and only `delete`,
/// a `create` over an expired ID and `clear_expired` of an expired row
/// remove it.
#[tokio::test]
async fn no_other_operation_panics_on_an_undecodable_row() {
    let (store, schema, rows) = planted("corrupt_ops").await;
    let later = OffsetDateTime::now_utc() + Duration::hours(2);
    let mut wrong = Vec::new();
    fn check(
        wrong: &mut Vec<String>,
        what: &str,
        op: &str,
        outcome: Result<Result<(), Error>, tokio::task::JoinError>,
    ) {
        match outcome {
            Err(join) => wrong.push(format!("{what}: {op} panicked: {join}")),
            Ok(Err(e)) if matches!(e.kind(), ErrorKind::Backend | ErrorKind::Unavailable) => wrong
                .push(format!(
                    "{what}: {op} failed: {:?}: {}",
                    e.kind(),
                    e.report()
                )),
            Ok(_) => {}
        }
    }
    for (bad, id) in &rows {
        let record = Record::new(id.clone(), SessionData::new(), later);
        let (s, r) = (store.clone(), record.clone());
        check(
            &mut wrong,
            bad.what,
            "save",
            tokio::spawn(async move { s.save(&r).await }).await,
        );
        let (s, i) = (store.clone(), id.clone());
        check(
            &mut wrong,
            bad.what,
            "touch",
            tokio::spawn(async move { s.touch(&i, later).await }).await,
        );
        let (s, r) = (store.clone(), record.clone());
        check(
            &mut wrong,
            bad.what,
            "create",
            tokio::spawn(async move { s.create(&r).await }).await,
        );
    }
    let s = store.clone();
    check(
        &mut wrong,
        "every row",
        "clear_expired",
        tokio::spawn(async move { s.clear_expired().await.map(|_| ()) }).await,
    );
    for (bad, id) in &rows {
        let (s, i) = (store.clone(), id.clone());
        check(
            &mut wrong,
            bad.what,
            "delete",
            tokio::spawn(async move { s.delete(&i).await }).await,
        );
        if row_text(&store, &schema, id).await.is_some() {
            wrong.push(format!("{}: delete left the row", bad.what));
        }
    }
    drop_schema(store.pool(), &schema).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
