//! The expiry rule checked against a real Redis, which the kit cannot do
//! for a store on the server's clock: a key is gone from exactly its
//! record's `expires_at` on. (Control characters and deep values through
//! the Lua scripts are the kit's ST-RT cases, run by `tests/conformance.rs`.)

use session_core::time::{Duration, OffsetDateTime};
use session_core::{ErrorKind, Record, SessionData, SessionId, SessionStore};
use session_store_redis::RedisStore;

mod common;
use common::raw;

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap()
}

async fn pexpiretime(store: &RedisStore, id: &SessionId) -> i64 {
    raw(store, "PEXPIRETIME", vec![store.key(id)]).await
}

/// Redis drops a key once its clock is strictly past the key's deadline
/// (`now > deadline`), so the deadline must be the last live millisecond.
#[tokio::test]
async fn the_key_deadline_is_the_last_millisecond_before_expires_at() {
    let store = common::fresh_store("deadline").await;
    let id = SessionId::generate();
    let at = |s: i64| {
        OffsetDateTime::now_utc().replace_millisecond(0).unwrap()
            + Duration::seconds(s)
            + Duration::milliseconds(123)
    };

    let created = at(600);
    store
        .create(&Record::new(id.clone(), SessionData::new(), created))
        .await
        .unwrap();
    assert_eq!(
        pexpiretime(&store, &id).await,
        unix_ms(created) - 1,
        "after create"
    );

    let saved = at(3600);
    store
        .save(&Record::new(id.clone(), SessionData::new(), saved))
        .await
        .unwrap();
    assert_eq!(
        pexpiretime(&store, &id).await,
        unix_ms(saved) - 1,
        "after save"
    );

    let touched = at(60);
    store.touch(&id, touched).await.unwrap();
    assert_eq!(
        pexpiretime(&store, &id).await,
        unix_ms(touched) - 1,
        "after touch"
    );
    let loaded = store.load(&id).await.unwrap().unwrap();
    assert_eq!(
        loaded.expires_at, touched,
        "touch must store the record's own expiry in the document, not the key's deadline"
    );
    assert_eq!(loaded.version, 1, "touch keeps the version");
    store.delete(&id).await.unwrap();
}

/// The Redis server's clock, in milliseconds.
async fn server_ms(store: &RedisStore) -> i64 {
    let time: Vec<String> = raw(store, "TIME", Vec::<String>::new()).await;
    let [seconds, micros] = time.as_slice() else {
        panic!("TIME answered {time:?}")
    };
    seconds.parse::<i64>().unwrap() * 1000 + micros.parse::<i64>().unwrap() / 1000
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Load,
    Save,
    Touch,
}

/// Whether `op` found the record live.
async fn live(
    store: &RedisStore,
    op: Op,
    id: &SessionId,
    expires: OffsetDateTime,
    version: &mut u64,
) -> bool {
    let outcome = match op {
        Op::Load => return store.load(id).await.unwrap().is_some(),
        Op::Save => store
            .save(&Record::new(id.clone(), SessionData::new(), expires).with_version(*version))
            .await
            .map(|()| *version += 1),
        Op::Touch => store.touch(id, expires).await,
    };
    match outcome {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => panic!("{op:?} failed: {e}"),
    }
}

/// Polls load, save and touch across the deadline, each call bracketed by
/// the server's clock: an operation that ran after the server read
/// `expires_at` must find nothing, one that ran before the server read
/// `expires_at` must find the record. Sound whatever the scheduling (Redis
/// decides with a time no earlier than any reply it sent before the
/// command, no later than any reply after it). Runs are repeated, with
/// fresh records, until every operation has been seen at the exact
/// millisecond on both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_save_and_touch_agree_with_expires_at_to_the_millisecond() {
    let store = common::fresh_store("boundary").await;
    let ops = [Op::Load, Op::Save, Op::Touch];
    // Per operation: seen live at expires_at - 1, seen gone at expires_at.
    let mut seen = [[false; 2]; 3];
    for _attempt in 0..30 {
        let start = server_ms(&store).await;
        let expires_ms = start + 100;
        let expires =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_ms) * 1_000_000).unwrap();
        let ids: Vec<SessionId> = ops.iter().map(|_| SessionId::generate()).collect();
        for id in &ids {
            store
                .create(&Record::new(id.clone(), SessionData::new(), expires))
                .await
                .unwrap();
        }
        let mut versions = [0u64; 3];
        tokio::time::sleep(std::time::Duration::from_millis(90)).await;
        loop {
            let now = server_ms(&store).await;
            if now > expires_ms + 3 {
                break;
            }
            for (i, op) in ops.iter().enumerate() {
                let before = server_ms(&store).await;
                let found = live(&store, *op, &ids[i], expires, &mut versions[i]).await;
                let after = server_ms(&store).await;
                if before >= expires_ms {
                    assert!(
                        !found,
                        "{op:?} found the record {} ms after its expiry",
                        before - expires_ms
                    );
                    seen[i][1] |= before == expires_ms;
                }
                if after < expires_ms {
                    assert!(
                        found,
                        "{op:?} lost the record {} ms before its expiry",
                        expires_ms - after
                    );
                    seen[i][0] |= after == expires_ms - 1;
                }
            }
        }
        for id in &ids {
            store.delete(id).await.unwrap();
        }
        if seen.iter().all(|s| s[0] && s[1]) {
            return;
        }
    }
    panic!(
        "[live at -1 ms, gone at 0 ms] observed per operation: {seen:?}; \
         never both for all of load, save, touch in 30 runs (machine too busy?)"
    );
}

#[tokio::test]
async fn a_record_is_live_until_expires_at_then_gone_for_every_operation() {
    let store = common::fresh_store("sleep").await;
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
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        store.load(&ids[0]).await.unwrap().is_none(),
        "load after expiry"
    );
    let err = store
        .save(&Record::new(
            ids[1].clone(),
            SessionData::new(),
            expires + Duration::hours(1),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "save after expiry");
    let err = store
        .touch(&ids[2], expires + Duration::hours(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "touch after expiry");
    assert_eq!(
        store.clear_expired().await.unwrap(),
        0,
        "Redis expires natively"
    );
}
