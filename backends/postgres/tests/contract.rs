//! The expiry rule checked against a real PostgreSQL down to the exact
//! instant, which the kit cannot do for a store on the database's clock:
//! every statement decides by `live ⇔ now() < expires_at`. (Control
//! characters, U+0000 included, and deep values are the kit's ST-RT cases,
//! run by `tests/conformance.rs`.)

mod common;

use common::{connect, drop_schema, exec, fresh_schema, url};
use session_core::time::{Duration, OffsetDateTime};
use session_core::{ErrorKind, Record, SessionData, SessionId, SessionStore};
use session_store_postgres::PostgresStore;
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

async fn store(name: &str) -> (PostgresStore, String) {
    let schema = fresh_schema(name);
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    store.migrate().await.unwrap();
    (store, schema)
}

/// 2001-01-01 00:00 UTC: in the past, so a statement that asked the real
/// clock instead of `now()` would see the "-1 ms" records as expired.
fn expires() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(978_307_200).unwrap()
}

const MS: Duration = Duration::milliseconds(1);

/// A store whose `now()` is a one-row table the test sets: the schema
/// holds a function `now()` and the connections search it before
/// `pg_catalog`, so every unqualified `now()` the store's statements call
/// reads the test's clock.
struct Clocked {
    store: PostgresStore,
    schema: String,
}

impl Clocked {
    async fn new() -> Self {
        let schema = fresh_schema("clock");
        let setup = connect().await;
        exec(
            setup.pool(),
            &[
                format!("CREATE SCHEMA \"{schema}\""),
                format!("CREATE TABLE \"{schema}\".clock (at timestamptz NOT NULL)"),
                format!("INSERT INTO \"{schema}\".clock VALUES ('epoch')"),
                format!(
                    "CREATE FUNCTION \"{schema}\".now() RETURNS timestamptz \
                     LANGUAGE sql STABLE AS 'SELECT at FROM \"{schema}\".clock'"
                ),
            ],
        )
        .await;
        let options: PgConnectOptions = url().parse().unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.options([("search_path", format!("{schema},pg_catalog"))]))
            .await
            .unwrap();
        let store = PostgresStore::new(pool)
            .with_table(&schema, "sessions")
            .unwrap();
        store.migrate().await.unwrap();
        Clocked { store, schema }
    }

    async fn set(&self, now: OffsetDateTime) {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE \"{}\".clock SET at = $1",
            self.schema
        )))
        .bind(now)
        .execute(self.store.pool())
        .await
        .unwrap();
        let seen: OffsetDateTime = sqlx::query_scalar("SELECT now()")
            .fetch_one(self.store.pool())
            .await
            .unwrap();
        assert_eq!(
            seen, now,
            "the store's connections do not see the test clock"
        );
    }

    async fn put(&self, expires_at: OffsetDateTime) -> SessionId {
        let id = SessionId::generate();
        self.store
            .create(&Record::new(id.clone(), SessionData::new(), expires_at))
            .await
            .unwrap();
        id
    }
}

#[tokio::test]
async fn every_statement_agrees_on_expiry_at_the_exact_instant() {
    let clocked = Clocked::new().await;
    let store = &clocked.store;
    clocked.set(expires() - MS).await;
    let load = clocked.put(expires()).await;
    let save = clocked.put(expires()).await;
    let touch = clocked.put(expires()).await;
    let taken = clocked.put(expires()).await;
    let cleared = clocked.put(expires()).await;
    let later = clocked.put(expires() + MS).await;
    let empty = || SessionData::new();

    // One millisecond before: live for every statement.
    assert!(store.load(&load).await.unwrap().is_some(), "load at -1 ms");
    store
        .save(&Record::new(save.clone(), empty(), expires()))
        .await
        .expect("save at -1 ms");
    store
        .touch(&touch, expires())
        .await
        .expect("touch at -1 ms");
    let err = store
        .create(&Record::new(taken.clone(), empty(), expires() + MS))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "create over a live ID at -1 ms"
    );
    assert_eq!(
        store.clear_expired().await.unwrap(),
        0,
        "clear_expired at -1 ms"
    );

    // At exactly expires_at: gone for every statement.
    clocked.set(expires()).await;
    assert!(store.load(&load).await.unwrap().is_none(), "load at 0 ms");
    let err = store
        .save(&Record::new(save.clone(), empty(), expires() + MS).with_version(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "save at 0 ms");
    let err = store.touch(&touch, expires() + MS).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "touch at 0 ms");
    store
        .create(&Record::new(taken.clone(), empty(), expires() + MS))
        .await
        .expect("create at 0 ms: an ID whose record expires now is free");
    assert_eq!(
        store.clear_expired().await.unwrap(),
        4,
        "clear_expired at 0 ms removes the four records that expire now"
    );
    for id in [&load, &save, &touch, &cleared] {
        let left: Option<i32> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT 1 FROM \"{}\".sessions WHERE id = $1",
            clocked.schema
        )))
        .bind(id.as_str())
        .fetch_optional(store.pool())
        .await
        .unwrap();
        assert_eq!(left, None, "an expired row survived clear_expired");
    }
    assert!(store.load(&later).await.unwrap().is_some(), "a live record");
    assert!(
        store.load(&taken).await.unwrap().is_some(),
        "the re-created record"
    );
    drop_schema(store.pool(), &clocked.schema).await;
}

#[tokio::test]
async fn a_record_is_live_until_expires_at_then_gone_for_every_operation() {
    let (store, schema) = store("sleep").await;
    let expires = OffsetDateTime::now_utc() + Duration::milliseconds(300);
    let ids: Vec<SessionId> = (0..3).map(|_| SessionId::generate()).collect();
    for id in &ids {
        store
            .create(&Record::new(id.clone(), SessionData::new(), expires))
            .await
            .unwrap();
        assert!(
            store.load(id).await.unwrap().is_some(),
            "live before its expiry"
        );
    }
    let live = SessionId::generate();
    store
        .create(&Record::new(
            live.clone(),
            SessionData::new(),
            expires + Duration::hours(1),
        ))
        .await
        .unwrap();
    assert_eq!(store.clear_expired().await.unwrap(), 0, "before the expiry");

    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        store.load(&ids[0]).await.unwrap().is_none(),
        "load after expiry"
    );
    let later = expires + Duration::hours(1);
    let err = store
        .save(&Record::new(ids[1].clone(), SessionData::new(), later))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "save after expiry");
    let err = store.touch(&ids[2], later).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "touch after expiry");
    assert_eq!(store.clear_expired().await.unwrap(), 3, "after the expiry");
    assert!(store.load(&live).await.unwrap().is_some());
    drop_schema(store.pool(), &schema).await;
}
