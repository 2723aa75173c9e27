//! A full disk and an unwritable directory, made for real on small tmpfs
//! mounts: a clear error at startup, or `Unavailable` (503) on writes,
//! never a partial or corrupt file and never a leftover temporary file.
//! These tests need root to mount; without it they fail and say so.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use session_core::time::{Duration, OffsetDateTime};
use session_core::{Error, ErrorKind, Record, SessionData, SessionId, SessionStore};
use session_store_file::FileStore;

mod common;
use common::Tmpfs;

fn record(n: usize, payload: usize) -> Record {
    let mut data = SessionData::new();
    data.insert("n".into(), json!(n));
    data.insert("payload".into(), json!("x".repeat(payload)));
    Record::new(
        SessionId::generate(),
        data,
        OffsetDateTime::now_utc() + Duration::hours(1),
    )
}

fn assert_unavailable(result: Result<(), Error>, what: &str, words: &[&str]) {
    let err = result.expect_err(what);
    let text = err.report();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{what}: {text}");
    for w in words {
        assert!(
            text.contains(w),
            "{what}: the message should say {w:?}: {text}"
        );
    }
}

/// No temporary file is left, and every session file on disk decodes to
/// the last state a write acknowledged.
fn assert_intact(dir: &Path, acknowledged: &BTreeMap<String, Record>) {
    let names = common::entries(dir);
    let stray: Vec<_> = names.iter().filter(|n| n.starts_with(".tmp-")).collect();
    assert!(stray.is_empty(), "temporary files left behind: {stray:?}");
    let sessions: Vec<_> = names.iter().filter(|n| n.starts_with("session-")).collect();
    assert_eq!(
        sessions.len(),
        acknowledged.len(),
        "session files on disk: {sessions:?}"
    );
    for record in acknowledged.values() {
        let stored = common::on_disk(dir, &record.id);
        assert_eq!(stored.data, record.data, "a session file changed");
        assert_eq!(
            stored.version, record.version,
            "a session's version changed"
        );
    }
}

#[test]
fn open_refuses_a_path_that_is_not_a_directory() {
    let root = common::fresh_dir("not-a-dir");
    let file = root.join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    for path in [file.clone(), file.join("sessions")] {
        let err = FileStore::open(&path).unwrap_err();
        let text = err.report();
        assert_eq!(err.kind(), ErrorKind::Backend, "{text}");
        assert!(
            text.contains("not a directory") && text.contains(file.to_str().unwrap()),
            "the message should name the path that is not a directory: {text}"
        );
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn open_refuses_a_read_only_filesystem_and_says_so() {
    let fs = Tmpfs::mount("open-ro", "64k", true);
    for dir in [fs.path().to_owned(), fs.path().join("sessions")] {
        let err = FileStore::open(&dir).unwrap_err();
        let text = err.report();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{text}");
        assert!(
            text.contains("read-only") && text.contains(dir.to_str().unwrap()),
            "the message should name the directory and say read-only: {text}"
        );
    }
}

#[test]
fn open_refuses_an_unwritable_directory_and_says_so() {
    let source = common::fresh_dir("unwritable-source");
    let bound = Tmpfs::bind_read_only("unwritable", &source);
    let err = FileStore::open(bound.path()).unwrap_err();
    let text = err.report();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{text}");
    assert!(
        text.contains("startup check") && text.contains("read-only"),
        "{text}"
    );
    assert!(common::entries(&source).is_empty(), "the check left a file");
    drop(bound);
    std::fs::remove_dir_all(source).unwrap();
}

#[test]
fn open_refuses_a_full_disk_and_says_so() {
    let fs = Tmpfs::mount("open-full", "64k", false);
    let dir = fs.path().join("sessions");
    std::fs::create_dir(&dir).unwrap();
    let fillers = fs.fill();
    assert!(!fillers.is_empty());
    let err = FileStore::open(&dir).unwrap_err();
    let text = err.report();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{text}");
    assert!(
        text.contains("full") && text.contains(dir.to_str().unwrap()),
        "the message should name the directory and say the disk is full: {text}"
    );
    assert!(
        common::entries(&dir).is_empty(),
        "the startup check left a file: {:?}",
        common::entries(&dir)
    );
    // With room again, the same directory opens.
    for f in fillers {
        std::fs::remove_file(f).unwrap();
    }
    FileStore::open(&dir).unwrap();
}

#[tokio::test]
async fn a_full_disk_fails_writes_with_unavailable_and_leaves_every_file_whole() {
    let fs = Tmpfs::mount("full", "256k", false);
    let store = FileStore::open(fs.path()).unwrap();
    let mut acknowledged = BTreeMap::new();
    for n in 0..6 {
        let r = record(n, 100);
        store.create(&r).await.unwrap();
        acknowledged.insert(r.id.to_string(), r);
    }
    let ids: Vec<SessionId> = acknowledged.values().map(|r| r.id.clone()).collect();

    // Almost full: 8 KiB left, less than the writes below need, so each
    // fails part-way through its temporary file.
    let mut fillers = fs.fill();
    for f in fillers.drain(fillers.len() - 2..) {
        std::fs::remove_file(f).unwrap();
    }
    let big = 64 * 1024;
    let mut grown = acknowledged[&ids[0].to_string()].clone();
    std::sync::Arc::make_mut(&mut grown.data).insert("payload".into(), json!("y".repeat(big)));
    assert_unavailable(
        store.save(&grown).await,
        "save of 64 KiB with 8 KiB free",
        &["full"],
    );
    assert_unavailable(
        store.create(&record(99, big)).await,
        "create of 64 KiB with 8 KiB free",
        &["full"],
    );
    assert_intact(fs.path(), &acknowledged);

    // Completely full: even a small write has no room.
    fillers.extend(fs.fill());
    let small = acknowledged[&ids[1].to_string()].clone();
    assert_unavailable(store.save(&small).await, "save on a full disk", &["full"]);
    assert_unavailable(
        store.create(&record(100, 10)).await,
        "create on a full disk",
        &["full"],
    );
    assert_unavailable(
        store
            .touch(&ids[2], OffsetDateTime::now_utc() + Duration::hours(2))
            .await,
        "touch on a full disk",
        &["full"],
    );
    // Reads and deletes need no room.
    assert!(store.load(&ids[3]).await.unwrap().is_some());
    store.delete(&ids[4]).await.unwrap();
    acknowledged.remove(&ids[4].to_string());
    assert_intact(fs.path(), &acknowledged);

    // Room again: the same store writes.
    for f in fillers {
        std::fs::remove_file(f).unwrap();
    }
    store.save(&grown).await.unwrap();
    acknowledged.insert(ids[0].to_string(), grown.clone().with_version(1));
    assert_intact(fs.path(), &acknowledged);
}

#[tokio::test]
async fn a_read_only_remount_fails_writes_with_unavailable_and_reads_keep_working() {
    let fs = Tmpfs::mount("remount-ro", "1m", false);
    let store = FileStore::open(fs.path()).unwrap();
    let mut acknowledged = BTreeMap::new();
    for n in 0..4 {
        let r = record(n, 100);
        store.create(&r).await.unwrap();
        acknowledged.insert(r.id.to_string(), r);
    }
    let ids: Vec<SessionId> = acknowledged.values().map(|r| r.id.clone()).collect();
    let mut expired = record(50, 10);
    expired.expires_at = OffsetDateTime::now_utc() - Duration::hours(1);
    store.create(&expired).await.unwrap();
    acknowledged.insert(expired.id.to_string(), expired.clone());

    fs.remount(true);
    let words = &["read-only", fs.path().to_str().unwrap()];
    assert_unavailable(store.create(&record(9, 10)).await, "create", words);
    assert_unavailable(
        store.save(&acknowledged[&ids[0].to_string()]).await,
        "save",
        words,
    );
    assert_unavailable(
        store
            .touch(&ids[1], OffsetDateTime::now_utc() + Duration::hours(2))
            .await,
        "touch",
        words,
    );
    assert_unavailable(store.delete(&ids[2]).await, "delete", words);
    assert_unavailable(
        store.clear_expired().await.map(drop),
        "clear_expired",
        words,
    );
    for id in &ids {
        assert!(
            store.load(id).await.unwrap().is_some(),
            "a live session no longer loads on a read-only filesystem"
        );
    }
    assert!(
        store.load(&expired.id).await.unwrap().is_none(),
        "an expired session loads, or its removal failing failed the load"
    );
    assert_intact(fs.path(), &acknowledged);

    fs.remount(false);
    store
        .save(&acknowledged[&ids[0].to_string()])
        .await
        .unwrap();
    assert_eq!(store.clear_expired().await.unwrap(), 1);
}
