//! The store runs its scripts by hash (`EVALSHA`) and falls back to the
//! body when a server does not know them: a fresh server, and one whose
//! script cache was flushed, still save and touch.

use session_core::time::{Duration, OffsetDateTime};
use session_core::{Record, SessionData, SessionId, SessionStore};
use session_store_redis::RedisStore;

mod common;
use common::{Throwaway, raw};

async fn save_and_touch(store: &RedisStore) {
    let id = SessionId::generate();
    let at = OffsetDateTime::now_utc() + Duration::hours(1);
    let record = Record::new(id.clone(), SessionData::new(), at);
    store.create(&record).await.unwrap();
    let mut changed = record.clone();
    std::sync::Arc::make_mut(&mut changed.data).insert("n".into(), 1.into());
    store.save(&changed).await.unwrap();
    store.touch(&id, at + Duration::hours(1)).await.unwrap();
    let back = store.load(&id).await.unwrap().unwrap();
    assert_eq!(back.data.get("n"), Some(&1.into()));
    assert_eq!(back.version, 1);
    assert_eq!(
        back.expires_at_unix_ms(),
        (record.expires_at_unix_ms()) + 3_600_000
    );
}

#[tokio::test]
async fn a_server_that_does_not_know_the_scripts_learns_them() {
    let server = Throwaway::start(&[]);
    let store = RedisStore::connect(&server.url()).await.unwrap();
    // A new server has an empty script cache: the first calls fall back.
    save_and_touch(&store).await;
    // After a flush (a restart, or an operator) the store goes on.
    let _: String = raw(&store, "SCRIPT", vec!["FLUSH"]).await;
    save_and_touch(&store).await;
    save_and_touch(&store).await;
    // Only the first call of each script after a flush sends its body.
    let stats: String = raw(&store, "INFO", vec!["commandstats"]).await;
    let calls = |command: &str| -> u64 {
        stats
            .lines()
            .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    // Three rounds of save + touch: every call tries EVALSHA (6); the body
    // went only with the four that met an empty cache (rounds 1 and 2).
    assert_eq!(calls("evalsha"), 6, "{stats}");
    assert_eq!(calls("eval"), 4, "{stats}");
}

/// Touch rewrites the expiry digits in place when their count is unchanged
/// and the whole document otherwise: both keep data and version exactly.
#[tokio::test]
async fn touch_keeps_the_record_whether_the_expiry_changes_length_or_not() {
    let at_ms =
        |ms: i64| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
    let store = common::fresh_store("touch_lengths").await;
    let id = SessionId::generate();
    let mut data = SessionData::new();
    data.insert("k".into(), "v".repeat(2048).into());
    let record = Record::new(id.clone(), data, at_ms(1_924_992_000_000)).with_version(41);
    store.create(&record).await.unwrap();
    for at in [
        at_ms(1_959_300_122_123),   // 13 digits, as before: in place
        at_ms(221_845_392_000_000), // 15 digits: rewritten
        at_ms(1_993_518_183_456),   // 13 again: rewritten
        at_ms(2_027_736_244_789),   // in place
    ] {
        store.touch(&id, at).await.unwrap();
        let back = store.load(&id).await.unwrap().unwrap();
        assert_eq!(back.expires_at, at);
        assert_eq!((&back.data, back.version), (&record.data, 41));
        let deadline: i64 = raw(&store, "PEXPIRETIME", vec![store.key(&id)]).await;
        assert_eq!(deadline, back.expires_at_unix_ms() - 1);
    }
    // An expiry in the past ends the record, on either path.
    store
        .touch(&id, OffsetDateTime::now_utc() - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(store.load(&id).await.unwrap(), None);
}
