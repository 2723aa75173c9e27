//! `migrate()` on every start, by every replica at once.

mod common;

use common::{connect, drop_schema, exec, fresh_schema};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_safe_to_run_again_and_concurrently() {
    let schema = fresh_schema("migrate");
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    // Eight replicas starting at once, then a restart.
    let replicas: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    let mut failures = Vec::new();
    for replica in replicas {
        if let Err(e) = replica.await.unwrap() {
            failures.push(format!("{e:?}"));
        }
    }
    let again = store.migrate().await;
    drop_schema(store.pool(), &schema).await;
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "concurrent migrations failed"
    );
    again.expect("a second migrate() failed");
}

/// Earlier versions made the `data` column `jsonb`, which refuses U+0000:
/// `migrate()` turns it into `text` and keeps every record.
#[tokio::test]
async fn migrate_upgrades_a_jsonb_data_column_and_keeps_the_records() {
    use session_core::time::{Duration, OffsetDateTime};
    use session_core::{Record, SessionData, SessionId, SessionStore};

    let schema = fresh_schema("upgrade");
    let store = connect().await.with_table(&schema, "sessions").unwrap();
    let old = SessionId::generate();
    // The shape and a row exactly as the jsonb version wrote them.
    exec(
        store.pool(),
        &[
            format!("CREATE SCHEMA \"{schema}\""),
            format!(
                "CREATE TABLE \"{schema}\".\"sessions\" (id text PRIMARY KEY, data jsonb NOT NULL, \
             expires_at timestamptz NOT NULL, version bigint NOT NULL DEFAULT 0)"
            ),
            format!(
                "CREATE INDEX \"sessions_expires_at\" ON \"{schema}\".\"sessions\" (expires_at)"
            ),
            format!(
                "INSERT INTO \"{schema}\".\"sessions\" VALUES ('{old}', \
             '{{\"cart\": [\"apple\", {{\"qty\": 2}}], \"price\": 1.5, \
             \"big\": 18446744073709551615, \"ctl\": \"a\\u0001b\\u007f\", \"é\": null}}'::jsonb, \
             now() + interval '1 hour', 3)"
            ),
        ],
    )
    .await;

    // Not migrated yet: the table's shape is wrong, not the session. On
    // its own pool: a connection that ran the load keeps its prepared
    // statement, whose result type the conversion changes (PostgreSQL
    // then refuses it: "cached plan must not change result type").
    let early = connect().await.with_table(&schema, "sessions").unwrap();
    let stale = early.load(&old).await.map(|_| ()).unwrap_err().kind();
    early.pool().close().await;
    let first = store.migrate().await;
    let again = store.migrate().await;
    let column: String = sqlx::query_scalar(
        "SELECT data_type FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'sessions' AND column_name = 'data'",
    )
    .bind(&schema)
    .fetch_one(store.pool())
    .await
    .unwrap();
    let loaded = store.load(&old).await;
    // A record the new shape must take.
    let new = Record::new(
        SessionId::generate(),
        SessionData::from_iter([("nul".to_owned(), serde_json::json!("\u{0}"))]),
        OffsetDateTime::now_utc() + Duration::hours(1),
    );
    let created = store.create(&new).await;
    let reloaded = store.load(&new.id).await;
    drop_schema(store.pool(), &schema).await;

    assert_eq!(
        stale,
        session_core::ErrorKind::Backend,
        "a jsonb column read before migrate() is a schema mismatch, not corrupt data"
    );
    first.expect("migrate() over the jsonb table failed");
    again.expect("migrate() over the upgraded table failed");
    assert_eq!(column, "text");
    let loaded = loaded
        .expect("the record written before the upgrade did not load")
        .expect("the record written before the upgrade is gone");
    assert_eq!(
        serde_json::Value::Object((*loaded.data).clone()),
        serde_json::json!({
            "cart": ["apple", {"qty": 2}],
            "price": 1.5,
            "big": 18_446_744_073_709_551_615_u64,
            "ctl": "a\u{1}b\u{7f}",
            "é": null,
        })
    );
    assert_eq!(loaded.version, 3);
    created.expect("create after the upgrade failed");
    assert_eq!(reloaded.unwrap().unwrap().data, new.data);
}
