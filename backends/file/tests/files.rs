//! What only a file store can get wrong: torn files and paths.

use std::sync::Arc;

use serde_json::json;
use session_core::{Record, SessionData, SessionId, SessionStore, time};
use session_store_file::FileStore;

mod common;
use common::{entries, fresh_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_writers_leave_a_file_that_parses() {
    let dir = fresh_dir("writers");
    let id = SessionId::generate();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    FileStore::open(&dir)
        .unwrap()
        .create(&Record::new(id.clone(), SessionData::new(), expires))
        .await
        .unwrap();
    // One store handle per writer, like one process each: they share
    // nothing but the directory.
    let writers: Vec<_> = (0..16)
        .map(|writer| {
            let store = FileStore::open(&dir).unwrap();
            let id = id.clone();
            tokio::spawn(async move {
                let mut won = 0u64;
                for round in 0..20 {
                    let mut data = SessionData::new();
                    data.insert("writer".into(), json!(writer));
                    data.insert(
                        "payload".into(),
                        json!("x".repeat(10_000 + writer * 1000 + round)),
                    );
                    let record = Record::new(id.clone(), data, expires);
                    let stored = store.load(&id).await.unwrap().unwrap();
                    match store.save(&record.with_version(stored.version)).await {
                        Ok(()) => won += 1,
                        Err(e) => assert_eq!(e.kind(), session_core::ErrorKind::Conflict),
                    }
                }
                won
            })
        })
        .collect();
    let mut saves = 0;
    for writer in writers {
        saves += writer.await.unwrap();
    }
    // Panics unless the file parses after 16 concurrent writers.
    let record = common::on_disk(&dir, &id);
    let writer = record.data.get("writer").and_then(|w| w.as_u64()).unwrap();
    let payload = record.data.get("payload").and_then(|p| p.as_str()).unwrap();
    assert!(
        payload.len() >= 10_000 + usize::try_from(writer).unwrap() * 1000,
        "a torn payload"
    );
    assert_eq!(
        record.version, saves,
        "{saves} saves reported success but the version moved {} times: \
         two versioned saves passed the check at once",
        record.version
    );
    assert_eq!(
        entries(&dir),
        [format!("session-{id}")],
        "temporary files left behind"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_over_an_expired_file_from_separate_handles_have_one_winner() {
    let dir = fresh_dir("expired-create");
    let now = time::OffsetDateTime::now_utc();
    for _ in 0..20 {
        let id = SessionId::generate();
        let expired = Record::new(
            id.clone(),
            SessionData::new(),
            now - time::Duration::hours(1),
        );
        FileStore::open(&dir)
            .unwrap()
            .create(&expired)
            .await
            .unwrap();
        let racers: Vec<_> = (0..8)
            .map(|racer| {
                let store = FileStore::open(&dir).unwrap();
                let mut data = SessionData::new();
                data.insert("racer".into(), json!(racer));
                let record = Record::new(id.clone(), data, now + time::Duration::hours(1));
                tokio::spawn(async move { store.create(&record).await.is_ok() })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            winners += usize::from(racer.await.unwrap());
        }
        assert_eq!(winners, 1, "creates of one expired ID that succeeded");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_traversal_id_never_reaches_the_filesystem() {
    for hostile in [
        "../x",
        "../../etc/passwd",
        "/etc/passwd",
        "..",
        "a/b",
        "session-..\\x",
    ] {
        assert!(
            hostile.parse::<SessionId>().is_err(),
            "{hostile:?} parsed as a session ID"
        );
    }
    // Everything the store writes stays in its directory, named from the ID.
    let root = fresh_dir("paths");
    let dir = root.join("inner");
    let store = Arc::new(FileStore::open(&dir).unwrap());
    let id = SessionId::generate();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    store
        .create(&Record::new(id.clone(), SessionData::new(), expires))
        .await
        .unwrap();
    store
        .save(&Record::new(id.clone(), SessionData::new(), expires))
        .await
        .unwrap();
    assert_eq!(entries(&dir), [format!("session-{id}")]);
    assert_eq!(
        entries(&root),
        ["inner"],
        "the store wrote outside its directory"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_corrupt_file_loads_as_corrupt_and_can_be_replaced() {
    let dir = fresh_dir("corrupt");
    let store = FileStore::open(&dir).unwrap();
    let id = SessionId::generate();
    std::fs::write(
        common::session_file(&dir, &id),
        b"{\"exp\": 17, \"data\": {\"trunc",
    )
    .unwrap();
    let err = store.load(&id).await.unwrap_err();
    assert_eq!(err.kind(), session_core::ErrorKind::Corrupt);
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    store
        .create(&Record::new(id.clone(), SessionData::new(), expires))
        .await
        .unwrap();
    assert!(store.load(&id).await.unwrap().is_some());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn clear_expired_removes_temporary_files_left_by_a_crash() {
    let dir = fresh_dir("crash");
    let store = FileStore::open(&dir).unwrap();
    let old = std::fs::File::create(dir.join(".tmp-crashed")).unwrap();
    old.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    std::fs::write(dir.join(".tmp-in-flight"), b"{").unwrap();
    assert_eq!(
        store.clear_expired().await.unwrap(),
        0,
        "no session expired"
    );
    assert_eq!(
        entries(&dir),
        [".tmp-in-flight"],
        "an hour-old temporary file is a crash leftover; a fresh one may be a write in flight"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
