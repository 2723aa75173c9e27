//! With `HashedIds`, the session directory holds no usable session ID:
//! neither in a file name nor in a file's content.

use std::path::Path;

use serde_json::json;
use session_core::{HashedIds, Record, SessionData, SessionId, SessionStore, time};
use session_store_file::FileStore;

mod common;
use common::{entries, fresh_dir, on_disk};

/// Every file name and every file's bytes under `dir`, recursively.
fn everything_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            found.push((name, Vec::new()));
            found.extend(everything_in(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            found.push((name, bytes));
        }
    }
    found
}

fn holds(found: &[(String, Vec<u8>)], id: &SessionId) -> Vec<String> {
    let needle = id.as_str().as_bytes();
    found
        .iter()
        .filter(|(name, bytes)| {
            name.contains(id.as_str()) || bytes.windows(needle.len()).any(|w| w == needle)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

async fn write_a_session(store: &dyn SessionStore, id: &SessionId) {
    let mut data = SessionData::new();
    data.insert("cart".into(), json!(["apple", "pear"]));
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    store
        .create(&Record::new(id.clone(), data.clone(), expires))
        .await
        .unwrap();
    data.insert("visits".into(), json!(2));
    store
        .save(&Record::new(id.clone(), data, expires))
        .await
        .unwrap();
    store
        .touch(id, expires + time::Duration::hours(1))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_raw_id_appears_in_no_file_name_and_no_file() {
    let dir = fresh_dir("hashed");
    let store = HashedIds::keyed(FileStore::open(&dir).unwrap(), [42u8; 32]).unwrap();
    let id = SessionId::generate();
    write_a_session(&store, &id).await;

    let found = everything_in(&dir);
    assert_eq!(
        holds(&found, &id),
        Vec::<String>::new(),
        "these entries hold the raw session ID"
    );
    let stored = store.stored_id(&id).unwrap();
    assert!(
        entries(&dir).contains(&format!("session-{stored}")),
        "no file under the hashed ID: {:?}",
        entries(&dir)
    );
    assert_eq!(on_disk(&dir, &stored).data["visits"], json!(2));
    assert_eq!(
        store.load(&id).await.unwrap().unwrap().data["visits"],
        json!(2)
    );
}

/// The control: the same scan finds the raw ID in a directory written
/// without `HashedIds`, so the test above cannot pass by looking nowhere.
#[tokio::test]
async fn without_hashing_the_scan_finds_the_raw_id() {
    let dir = fresh_dir("unhashed");
    let id = SessionId::generate();
    write_a_session(&FileStore::open(&dir).unwrap(), &id).await;
    assert!(!holds(&everything_in(&dir), &id).is_empty());
}
