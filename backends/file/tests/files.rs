//! What only a file store can get wrong: torn files and paths.

use std::sync::Arc;

use serde_json::json;
use session_core::{Record, SessionData, SessionId, SessionStore, time};
use session_store_file::FileStore;

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir()
        .join("session-store-file-tests")
        .join(format!("{name}-{}", SessionId::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
    // Separate store handles do not share the in-process locks, like
    // separate processes: only the atomic rename keeps the file whole.
    let writers: Vec<_> = (0..16)
        .map(|writer| {
            let store = FileStore::open(&dir).unwrap();
            let id = id.clone();
            tokio::spawn(async move {
                for round in 0..20 {
                    let mut data = SessionData::new();
                    data.insert("writer".into(), json!(writer));
                    data.insert(
                        "payload".into(),
                        json!("x".repeat(10_000 + writer * 1000 + round)),
                    );
                    let record = Record::new(id.clone(), data, expires);
                    let stored = store.load(&id).await.unwrap().unwrap();
                    let _ = store.save(&record.with_version(stored.version)).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let bytes = std::fs::read(dir.join(format!("session-{id}"))).unwrap();
    let record =
        Record::decode(id.clone(), &bytes).expect("the file parses after 16 concurrent writers");
    let writer = record.data.get("writer").and_then(|w| w.as_u64()).unwrap();
    let payload = record.data.get("payload").and_then(|p| p.as_str()).unwrap();
    assert!(
        payload.len() >= 10_000 + usize::try_from(writer).unwrap() * 1000,
        "a torn payload"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "temporary files left behind: {leftovers:?}"
    );
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
    let inside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(inside, [format!("session-{id}")]);
    let beside: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["inner"], "the store wrote outside its directory");
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_corrupt_file_loads_as_corrupt_and_can_be_replaced() {
    let dir = fresh_dir("corrupt");
    let store = FileStore::open(&dir).unwrap();
    let id = SessionId::generate();
    std::fs::write(
        dir.join(format!("session-{id}")),
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
