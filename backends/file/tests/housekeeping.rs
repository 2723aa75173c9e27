//! `session_core::ClearExpired` over `FileStore`: the background task
//! removes expired session files and keeps live ones.

use std::time::Duration;

use serde_json::json;
use session_core::{
    ClearExpired, Clock, ManualClock, Record, SessionData, SessionId, SessionStore, time,
};
use session_store_file::FileStore;

mod common;
use common::{entries, fresh_dir, on_disk};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_task_removes_expired_files_and_keeps_live_ones() {
    let dir = fresh_dir("housekeeping");
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let store = FileStore::open(&dir).unwrap().with_clock(clock.clone());
    let mut data = SessionData::new();
    data.insert("user".into(), json!(42));
    let now = clock.now();
    let live = Record::new(
        SessionId::generate(),
        data.clone(),
        now + time::Duration::hours(1),
    );
    store.create(&live).await.unwrap();
    let mut expired = Vec::new();
    for minutes in [1, 5, 9] {
        let record = Record::new(
            SessionId::generate(),
            data.clone(),
            now + time::Duration::minutes(minutes),
        );
        store.create(&record).await.unwrap();
        expired.push(record.id);
    }
    clock.advance(time::Duration::minutes(10));
    assert_eq!(entries(&dir).len(), 4, "{:?}", entries(&dir));

    let handle = ClearExpired::new(store)
        .every(Duration::from_millis(20))
        .first_run_now(true)
        .spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while handle.runs() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no run completed within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    handle.stop().await;

    assert_eq!(
        entries(&dir),
        vec![format!("session-{}", live.id)],
        "expired files are left, or the live one is gone"
    );
    assert_eq!(on_disk(&dir, &live.id).data, live.data);
    for id in &expired {
        assert!(!dir.join(format!("session-{id}")).exists());
    }
}
