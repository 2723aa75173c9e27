//! Store-contract rules checked against the file store directly: control
//! characters and deep nesting survive every write path, and one expiry
//! rule (`live ⇔ now < expires_at`) holds for every operation at the exact
//! instant, by a `ManualClock`.

use serde_json::{Value, json};
use session_core::time::{Duration, OffsetDateTime};
use session_core::{ErrorKind, ManualClock, Record, SessionData, SessionId, SessionStore};
use session_store_file::FileStore;

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir()
        .join("session-store-file-tests")
        .join(format!("{name}-{}", SessionId::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// U+0000, every other C0 control and U+007F.
fn controls() -> String {
    (0u8..0x20).chain([0x7f]).map(char::from).collect()
}

/// Control characters in keys and values, alone, inside text, nested.
fn control_data() -> SessionData {
    let all = controls();
    let mut data = SessionData::new();
    for c in all.chars() {
        data.insert(format!("key{c}"), json!(format!("a{c}b")));
        data.insert(c.to_string(), json!(c.to_string()));
    }
    data.insert(all.clone(), json!(all));
    data.insert(
        "nested".into(),
        json!({ all.clone(): [all.clone(), {"\u{0}": "\u{0}\u{0}"}] }),
    );
    data
}

fn nested_arrays(levels: usize) -> Value {
    (0..levels).fold(json!("bottom"), |inner, _| json!([inner]))
}

fn nested_objects(levels: usize) -> Value {
    (0..levels).fold(json!("bottom"), |inner, _| json!({ "k": inner }))
}

/// 100 nested arrays and 100 nested objects: the deepest value core
/// accepts at insert.
fn deep_data() -> SessionData {
    let mut data = SessionData::new();
    data.insert("arrays".into(), nested_arrays(100));
    data.insert("objects".into(), nested_objects(100));
    data
}

async fn load_exactly(store: &FileStore, id: &SessionId, data: &SessionData, step: &str) {
    let loaded = store
        .load(id)
        .await
        .unwrap_or_else(|e| panic!("load after {step} failed ({:?}): {e}", e.kind()))
        .unwrap_or_else(|| panic!("nothing loaded after {step}"));
    assert!(*loaded.data == *data, "the data changed through {step}");
}

/// create → load, save → load, touch → load, each exact.
async fn round_trips(store: &FileStore, data: SessionData) {
    let id = SessionId::generate();
    let expires = OffsetDateTime::now_utc() + Duration::hours(1);
    store
        .create(&Record::new(id.clone(), data.clone(), expires))
        .await
        .unwrap();
    load_exactly(store, &id, &data, "create").await;

    // Saved over a record that held something else.
    let id2 = SessionId::generate();
    let mut before = SessionData::new();
    before.insert("before".into(), json!(1));
    store
        .create(&Record::new(id2.clone(), before, expires))
        .await
        .unwrap();
    store
        .save(&Record::new(id2.clone(), data.clone(), expires))
        .await
        .unwrap();
    load_exactly(store, &id2, &data, "save").await;

    store
        .touch(&id2, expires + Duration::hours(1))
        .await
        .unwrap();
    load_exactly(store, &id2, &data, "touch").await;
}

#[tokio::test]
async fn control_characters_round_trip_in_keys_and_values() {
    let dir = fresh_dir("controls");
    round_trips(&FileStore::open(&dir).unwrap(), control_data()).await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn values_nested_100_levels_deep_round_trip() {
    let dir = fresh_dir("deep");
    round_trips(&FileStore::open(&dir).unwrap(), deep_data()).await;
    std::fs::remove_dir_all(dir).unwrap();
}

const MS: Duration = Duration::milliseconds(1);

/// 2030-01-01 00:00 UTC.
fn expires() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_893_456_000).unwrap()
}

/// A store in a fresh directory whose clock shows `expires() - 1 ms`.
async fn at_the_boundary(name: &str) -> (std::path::PathBuf, FileStore, ManualClock) {
    let dir = fresh_dir(name);
    let clock = ManualClock::new(expires() - MS);
    let store = FileStore::open(&dir).unwrap().with_clock(clock.clone());
    (dir, store, clock)
}

async fn put(store: &FileStore) -> SessionId {
    let id = SessionId::generate();
    store
        .create(&Record::new(id.clone(), SessionData::new(), expires()))
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn load_save_touch_and_create_agree_at_the_exact_expiry() {
    let (dir, store, clock) = at_the_boundary("boundary").await;
    let (load, save, touch, taken) = (
        put(&store).await,
        put(&store).await,
        put(&store).await,
        put(&store).await,
    );

    // One millisecond before: live for everything.
    assert!(store.load(&load).await.unwrap().is_some(), "load at -1 ms");
    store
        .save(&Record::new(save.clone(), SessionData::new(), expires()))
        .await
        .expect("save at -1 ms");
    store
        .touch(&touch, expires())
        .await
        .expect("touch at -1 ms");
    let err = store
        .create(&Record::new(taken.clone(), SessionData::new(), expires()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "create over a live ID");

    // At exactly expires_at: gone for everything.
    clock.set(expires());
    assert!(store.load(&load).await.unwrap().is_none(), "load at 0 ms");
    let err = store
        .save(&Record::new(save.clone(), SessionData::new(), expires()).with_version(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "save at 0 ms");
    let err = store.touch(&touch, expires() + MS).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "touch at 0 ms");
    store
        .create(&Record::new(taken, SessionData::new(), expires() + MS))
        .await
        .expect("an ID whose record expires now is free");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn clear_expired_counts_exactly_what_expired_at_the_exact_expiry() {
    let (dir, store, clock) = at_the_boundary("clear").await;
    let expiring = put(&store).await;
    let later = SessionId::generate();
    store
        .create(&Record::new(
            later.clone(),
            SessionData::new(),
            expires() + MS,
        ))
        .await
        .unwrap();

    assert_eq!(store.clear_expired().await.unwrap(), 0, "at -1 ms");
    assert!(dir.join(format!("session-{expiring}")).exists());

    clock.set(expires());
    assert_eq!(store.clear_expired().await.unwrap(), 1, "at 0 ms");
    assert!(!dir.join(format!("session-{expiring}")).exists());
    assert!(store.load(&later).await.unwrap().is_some());
    std::fs::remove_dir_all(dir).unwrap();
}
