//! The table's shape: `migrate()` keeps a schema version, adds constraints
//! that keep undecodable values out (to new and to earlier tables), refuses
//! a table that belongs to something else; and a table of the wrong shape
//! is a backend error that says to run `migrate()`, never corrupt data
//! (which would log every visitor out).

mod common;

use common::{
    admin, connect, drop_schema, every_operation, exec, fresh_schema, live_record, load_in_task,
};
use session_core::{ErrorKind, SessionId, SessionStore};
use session_store_postgres::{PostgresStore, SCHEMA_VERSION};
use sqlx::{AssertSqlSafe, PgPool};

/// The table as schema 2 (text data, no constraints, no comment) made it.
fn schema_2(schema: &str) -> Vec<String> {
    vec![
        format!("CREATE SCHEMA \"{schema}\""),
        format!(
            "CREATE TABLE \"{schema}\".sessions (id text PRIMARY KEY, data text NOT NULL, \
             expires_at timestamptz NOT NULL, version bigint NOT NULL DEFAULT 0)"
        ),
        format!("CREATE INDEX sessions_expires_at ON \"{schema}\".sessions (expires_at)"),
    ]
}

async fn comment(pool: &PgPool, schema: &str) -> Option<String> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT obj_description('\"{schema}\".sessions'::regclass, 'pg_class')"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The CHECK constraints of the table: (name, validated), sorted.
async fn checks(pool: &PgPool, schema: &str) -> Vec<(String, bool)> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT conname::text, convalidated FROM pg_constraint \
         WHERE conrelid = '\"{schema}\".sessions'::regclass AND contype = 'c' ORDER BY conname"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The values the store could not read back, each as an INSERT.
fn bad_inserts(schema: &str) -> Vec<(&'static str, String)> {
    [
        ("an infinite expiry", "'infinity'", "0"),
        ("a -infinite expiry", "'-infinity'", "0"),
        ("an expiry in year 10000", "'10000-01-01 00:00:00+00'", "0"),
        (
            "an expiry before year 1",
            "'0001-01-01 00:00:00+00'::timestamptz - interval '1 day'",
            "0",
        ),
        ("a negative version", "now() + interval '1 hour'", "-1"),
    ]
    .into_iter()
    .map(|(what, expires_at, version)| {
        (
            what,
            format!(
                "INSERT INTO \"{schema}\".sessions VALUES ('{}', '{{}}', {expires_at}, {version})",
                SessionId::generate()
            ),
        )
    })
    .collect()
}

/// Which of the bad inserts PostgreSQL accepted.
async fn accepted(pool: &PgPool, schema: &str) -> Vec<&'static str> {
    let mut accepted = Vec::new();
    for (what, insert) in bad_inserts(schema) {
        match sqlx::query(AssertSqlSafe(insert)).execute(pool).await {
            Ok(_) => accepted.push(what),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23514") => {}
            Err(e) => panic!("{what}: not a check violation: {e}"),
        }
    }
    accepted
}

#[tokio::test]
async fn a_new_table_gets_the_constraints_and_the_schema_version() {
    let schema = fresh_schema("schema_new");
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrate() again");
    let pool = store.pool();
    let comment = comment(pool, &schema).await;
    let checks = checks(pool, &schema).await;
    let accepted = accepted(pool, &schema).await;
    drop_schema(pool, &schema).await;
    assert_eq!(SCHEMA_VERSION, 3);
    assert_eq!(comment.as_deref(), Some("session-store-postgres schema 3"));
    assert_eq!(
        checks,
        vec![
            ("session_expires_at_range".to_owned(), true),
            ("session_version_not_negative".to_owned(), true)
        ]
    );
    assert_eq!(
        accepted,
        Vec::<&str>::new(),
        "values the constraints let in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_a_schema_2_table_keeping_its_rows() {
    let schema = fresh_schema("schema_up");
    let pool = admin().await;
    exec(&pool, &schema_2(&schema)).await;
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    let old = live_record();
    store.create(&old).await.expect("schema 2 takes writes");
    // Four replicas upgrading at once, then a restart.
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.migrate().await.map_err(|e| e.report()) })
        })
        .collect();
    let mut first = Ok(());
    for replica in replicas {
        if let Err(e) = replica.await.unwrap() {
            first = Err(e);
        }
    }
    let again = store.migrate().await;
    let comment = comment(&pool, &schema).await;
    let checks = checks(&pool, &schema).await;
    let accepted = accepted(&pool, &schema).await;
    let loaded = store.load(&old.id).await;
    drop_schema(&pool, &schema).await;
    first.expect("concurrent migrate() over a schema 2 table");
    again.expect("migrate() again");
    assert_eq!(comment.as_deref(), Some("session-store-postgres schema 3"));
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(checks.iter().all(|(_, valid)| *valid), "{checks:?}");
    assert_eq!(
        accepted,
        Vec::<&str>::new(),
        "values the constraints let in"
    );
    assert_eq!(loaded.unwrap().unwrap().data, old.data);
}

/// Rows that break the constraints do not stop the upgrade: the
/// constraints guard new writes at once, the rows load as corrupt, and a
/// later `migrate()` validates the constraints once the rows are gone.
#[tokio::test]
async fn migrate_upgrades_a_table_holding_undecodable_rows() {
    let schema = fresh_schema("schema_bad");
    let pool = admin().await;
    exec(&pool, &schema_2(&schema)).await;
    let (infinite, negative) = (SessionId::generate(), SessionId::generate());
    exec(
        &pool,
        &[
            format!(
                "INSERT INTO \"{schema}\".sessions VALUES ('{infinite}', '{{}}', 'infinity', 0)"
            ),
            format!(
                "INSERT INTO \"{schema}\".sessions VALUES ('{negative}', '{{}}', \
                 now() + interval '1 hour', -5)"
            ),
        ],
    )
    .await;
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    let first = store.migrate().await;
    let checks_before = checks(&pool, &schema).await;
    let accepted = accepted(&pool, &schema).await;
    let mut loads = Vec::new();
    for id in [&infinite, &negative] {
        let outcome = load_in_task(&store, id).await;
        loads.push(outcome.map(|r| r.err().map(|e| e.kind())).ok().flatten());
    }
    exec(&pool, &[format!("DELETE FROM \"{schema}\".sessions")]).await;
    let second = store.migrate().await;
    let checks_after = checks(&pool, &schema).await;
    drop_schema(&pool, &schema).await;
    first.expect("migrate() over a table with bad rows");
    second.expect("migrate() once they are gone");
    assert_eq!(
        checks_before,
        vec![
            ("session_expires_at_range".to_owned(), false),
            ("session_version_not_negative".to_owned(), false)
        ],
        "added, not yet validated"
    );
    assert_eq!(
        accepted,
        Vec::<&str>::new(),
        "unvalidated constraints still guard writes"
    );
    assert_eq!(
        loads,
        [Some(ErrorKind::Corrupt), Some(ErrorKind::Corrupt)],
        "the bad rows load as corrupt"
    );
    assert!(
        checks_after.iter().all(|(_, valid)| *valid),
        "{checks_after:?}"
    );
}

/// The comment, the columns and the number of constraints of the table.
async fn fingerprint(pool: &PgPool, schema: &str) -> String {
    let table = format!("'\"{schema}\".sessions'::regclass");
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT coalesce(obj_description({table}, 'pg_class'), '') \
         || (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ') \
         FROM pg_attribute WHERE attrelid = {table} AND attnum > 0) \
         || (SELECT count(*) FROM pg_constraint WHERE conrelid = {table})"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
}

/// An application's own `sessions` table, a view, a table of a newer
/// schema: refused with a message, and left exactly as they were.
#[tokio::test]
async fn migrate_refuses_a_table_that_belongs_to_something_else() {
    let schema = fresh_schema("schema_foreign");
    let pool = admin().await;
    let cases: [(&str, Vec<String>, &[&str]); 6] = [
        (
            "an application's sessions table",
            vec![format!(
                "CREATE TABLE \"{schema}\".sessions (id serial PRIMARY KEY, user_id integer, \
                 payload bytea, created_at timestamptz)"
            )],
            &["belongs to something else", "user_id integer"],
        ),
        (
            "the right columns and one more",
            vec![format!(
                "CREATE TABLE \"{schema}\".sessions (id text PRIMARY KEY, data text NOT NULL, \
                 expires_at timestamptz NOT NULL, version bigint NOT NULL, owner text)"
            )],
            &["belongs to something else", "owner text"],
        ),
        (
            "an integer version",
            vec![format!(
                "CREATE TABLE \"{schema}\".sessions (id text PRIMARY KEY, data text NOT NULL, \
                 expires_at timestamptz NOT NULL, version integer NOT NULL)"
            )],
            &["belongs to something else", "version integer"],
        ),
        (
            "no primary key",
            vec![format!(
                "CREATE TABLE \"{schema}\".sessions (id text NOT NULL, data text NOT NULL, \
                 expires_at timestamptz NOT NULL, version bigint NOT NULL)"
            )],
            &["belongs to something else", "primary key"],
        ),
        (
            "a view",
            vec![format!(
                "CREATE VIEW \"{schema}\".sessions AS SELECT 'x'::text AS id, \
                 '{{}}'::text AS data, now() AS expires_at, 0::bigint AS version"
            )],
            &["belongs to something else", "view"],
        ),
        (
            "a table of a newer schema",
            vec![
                format!(
                    "CREATE TABLE \"{schema}\".sessions (id text PRIMARY KEY, data text NOT NULL, \
                     expires_at timestamptz NOT NULL, version bigint NOT NULL)"
                ),
                format!(
                    "COMMENT ON TABLE \"{schema}\".sessions IS 'session-store-postgres schema 99'"
                ),
            ],
            &["newer", "schema 99", "upgrade"],
        ),
    ];
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    let mut wrong = Vec::new();
    for (what, setup, needles) in cases {
        exec(
            &pool,
            &[
                format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
                format!("CREATE SCHEMA \"{schema}\""),
            ],
        )
        .await;
        exec(&pool, &setup).await;
        let before = fingerprint(&pool, &schema).await;
        let outcome = store.migrate().await;
        let after = fingerprint(&pool, &schema).await;
        match outcome {
            Ok(()) => wrong.push(format!("{what}: migrate() accepted it")),
            Err(e) => {
                let message = e.report();
                if e.kind() != ErrorKind::Backend {
                    wrong.push(format!("{what}: {:?}, not Backend: {message}", e.kind()));
                }
                for needle in needles.iter().chain(&[schema.as_str(), "sessions"]) {
                    if !message.contains(needle) {
                        wrong.push(format!("{what}: the message lacks {needle:?}: {message}"));
                    }
                }
            }
        }
        if before != after {
            wrong.push(format!("{what}: migrate() changed it: {before} -> {after}"));
        }
    }
    drop_schema(&pool, &schema).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A table of the wrong shape, a row in it for the ID the operations use,
/// and the operations that must fail on it (the others do not touch what
/// is wrong): with a backend error naming the table and `migrate`, never
/// `Corrupt` (which core answers with an empty session: every visitor
/// logged out).
struct WrongShape {
    what: &'static str,
    columns: Option<String>,
    row: Option<String>,
    failing: &'static [&'static str],
}

#[tokio::test]
async fn a_table_of_the_wrong_shape_is_a_backend_error_that_says_to_migrate() {
    let schema = fresh_schema("schema_wrong");
    let pool = admin().await;
    let id = SessionId::generate();
    let live = "now() + interval '1 hour'";
    let (data, expires, version) = (
        "data text NOT NULL",
        "expires_at timestamptz NOT NULL",
        "version bigint NOT NULL",
    );
    let all: &[&str] = &["load", "create", "save", "touch", "delete", "clear_expired"];
    let cases = [
        WrongShape {
            what: "no table",
            columns: None,
            row: None,
            failing: all,
        },
        WrongShape {
            what: "an application's sessions table",
            columns: Some(
                "id text PRIMARY KEY, user_id integer, payload bytea, created_at timestamptz"
                    .into(),
            ),
            row: Some(format!("'{id}', 1, '\\x00', now()")),
            failing: &["load", "create", "save", "touch", "clear_expired"],
        },
        WrongShape {
            what: "an integer version column",
            columns: Some(format!(
                "id text PRIMARY KEY, {data}, {expires}, version integer NOT NULL"
            )),
            row: Some(format!("'{id}', '{{}}', {live}, 1")),
            failing: &["load"],
        },
        WrongShape {
            what: "a bytea data column",
            columns: Some(format!(
                "id text PRIMARY KEY, data bytea NOT NULL, {expires}, {version}"
            )),
            row: Some(format!("'{id}', '{{}}', {live}, 1")),
            failing: &["load", "create", "save"],
        },
        WrongShape {
            what: "a text expires_at column",
            columns: Some(format!(
                "id text PRIMARY KEY, {data}, expires_at text NOT NULL, {version}"
            )),
            row: Some(format!("'{id}', '{{}}', 'tomorrow', 1")),
            failing: &["load", "create", "save", "touch", "clear_expired"],
        },
        WrongShape {
            what: "no version column",
            columns: Some(format!("id text PRIMARY KEY, {data}, {expires}")),
            row: Some(format!("'{id}', '{{}}', {live}")),
            failing: &["load", "create", "save"],
        },
    ];
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    let mut wrong = Vec::new();
    for WrongShape {
        what,
        columns,
        row,
        failing,
    } in cases
    {
        exec(
            &pool,
            &[
                format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
                format!("CREATE SCHEMA \"{schema}\""),
            ],
        )
        .await;
        if let Some(columns) = columns {
            exec(
                &pool,
                &[format!("CREATE TABLE \"{schema}\".sessions ({columns})")],
            )
            .await;
        }
        if let Some(row) = row {
            exec(
                &pool,
                &[format!("INSERT INTO \"{schema}\".sessions VALUES ({row})")],
            )
            .await;
        }
        // A fresh pool per shape: prepared statements of another shape
        // are not the point here.
        let store = PostgresStore::new(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with((*store.pool().connect_options()).clone())
                .await
                .unwrap(),
        )
        .with_table(&schema, "sessions")
        .unwrap();
        for (op, (outcome, _)) in every_operation(&store, &id).await {
            let should_fail = failing.contains(&op);
            match outcome {
                Err(e) if e.kind() == ErrorKind::Backend => {
                    let message = e.report();
                    if !should_fail {
                        wrong.push(format!("{what}: {op} failed: {message}"));
                    }
                    for needle in [schema.as_str(), "sessions", "PostgresStore::migrate()"] {
                        if !message.contains(needle) {
                            wrong.push(format!(
                                "{what}: {op}: the message lacks {needle:?}: {message}"
                            ));
                        }
                    }
                }
                Err(e) if should_fail => wrong.push(format!(
                    "{what}: {op} returned {:?}, not Backend: {}",
                    e.kind(),
                    e.report()
                )),
                _ if should_fail => wrong.push(format!("{what}: {op} did not fail")),
                _ => {}
            }
        }
    }
    drop_schema(&pool, &schema).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_column_of_another_type_is_named_in_the_message() {
    let schema = fresh_schema("schema_col");
    let pool = admin().await;
    let id = SessionId::generate();
    exec(
        &pool,
        &[
            format!("CREATE SCHEMA \"{schema}\""),
            format!(
                "CREATE TABLE \"{schema}\".sessions (id text PRIMARY KEY, data text NOT NULL, \
                 expires_at timestamptz NOT NULL, version integer NOT NULL)"
            ),
            format!(
                "INSERT INTO \"{schema}\".sessions VALUES \
                 ('{id}', '{{}}', now() + interval '1 hour', 1)"
            ),
        ],
    )
    .await;
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    let error = store.load(&id).await.unwrap_err();
    drop_schema(&pool, &schema).await;
    let message = error.report();
    assert_eq!(error.kind(), ErrorKind::Backend, "{message}");
    for needle in ["column version", "INT4", "INT8", "PostgresStore::migrate()"] {
        assert!(message.contains(needle), "lacks {needle:?}: {message}");
    }
}
