//! The background task under Tokio's paused clock: one rule per test.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::time::Instant;

use super::*;
use crate::test_log::Capture;
use crate::{Clock, ErrorKind, ManualClock, MemoryStore, Record, SessionData, SessionId};

const MINUTE: Duration = Duration::from_secs(60);

/// A store whose `clear_expired` answers from a script (then `Ok(0)`) and
/// records when it was called; with `hang`, it never answers.
#[derive(Debug, Clone, Default)]
struct Scripted {
    answers: Arc<Mutex<VecDeque<Result<u64, Error>>>>,
    calls: Arc<Mutex<Vec<Instant>>>,
    hang: bool,
}

impl Scripted {
    fn answering(answers: impl IntoIterator<Item = Result<u64, Error>>) -> Self {
        Scripted {
            answers: Arc::new(Mutex::new(answers.into_iter().collect())),
            ..Scripted::default()
        }
    }

    /// Seconds since `start` of every call so far.
    fn calls_since(&self, start: Instant) -> Vec<f64> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|at| at.duration_since(start).as_secs_f64())
            .collect()
    }

    fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

#[async_trait]
impl SessionStore for Scripted {
    async fn create(&self, _: &Record) -> Result<(), Error> {
        Ok(())
    }
    async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
        Ok(None)
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        Err(Error::NotFound)
    }
    async fn delete(&self, _: &SessionId) -> Result<(), Error> {
        Ok(())
    }
    async fn clear_expired(&self) -> Result<u64, Error> {
        self.calls.lock().unwrap().push(Instant::now());
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(0))
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_clear_expired(true)
    }
}

// ---- the schedule ----

#[tokio::test(start_paused = true)]
async fn runs_once_per_interval_after_the_first_interval() {
    let store = Scripted::default();
    let start = Instant::now();
    let handle = ClearExpired::new(store.clone())
        .every(MINUTE)
        .jitter(0.0)
        .spawn();
    tokio::time::sleep(Duration::from_secs(3 * 60 + 30)).await;
    assert_eq!(store.calls_since(start), [60.0, 120.0, 180.0]);
    assert_eq!(handle.runs(), 3);
}

#[tokio::test(start_paused = true)]
async fn first_run_now_runs_at_spawn_then_on_the_interval() {
    let store = Scripted::default();
    let start = Instant::now();
    let _handle = ClearExpired::new(store.clone())
        .every(MINUTE)
        .jitter(0.0)
        .first_run_now(true)
        .spawn();
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert_eq!(store.calls_since(start), [0.0, 60.0]);
}

#[tokio::test(start_paused = true)]
async fn jittered_waits_stay_within_the_fraction_and_vary() {
    let store = Scripted::default();
    let start = Instant::now();
    let _handle = ClearExpired::new(store.clone())
        .every(Duration::from_secs(100))
        .jitter(0.25)
        .first_run_now(true)
        .spawn();
    tokio::time::sleep(Duration::from_secs(100 * 125)).await;
    let calls = store.calls_since(start);
    assert!(calls.len() >= 100, "only {} runs", calls.len());
    let gaps: Vec<f64> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    for gap in &gaps {
        assert!(
            (75.0..=125.0).contains(gap),
            "a wait of {gap} s is outside 100 s ± 25 %: {gaps:?}"
        );
    }
    let first = gaps[0];
    assert!(
        gaps.iter().any(|gap| (gap - first).abs() > 1.0),
        "every wait was {first} s: no jitter applied"
    );
}

#[test]
fn jitter_spans_exactly_the_fraction() {
    let every = Duration::from_secs(100);
    assert_eq!(jittered(every, 0.25, 0), Duration::from_secs(75));
    let top = jittered(every, 0.25, u64::MAX);
    assert!(
        top <= Duration::from_secs(125) && top > Duration::from_secs_f64(124.999),
        "{top:?}"
    );
    assert_eq!(jittered(every, 0.25, 1 << 63), every, "the middle is exact");
    assert_eq!(jittered(every, 0.0, u64::MAX), every, "no jitter");
    assert_eq!(
        jittered(Duration::MAX, 1.0, u64::MAX),
        Duration::MAX,
        "no overflow"
    );
}

#[test]
fn jitter_is_clamped_and_nan_means_none() {
    assert_eq!(clamp_jitter(2.0), 1.0);
    assert_eq!(clamp_jitter(-0.5), 0.0);
    assert_eq!(clamp_jitter(f64::NAN), 0.0);
    assert_eq!(clamp_jitter(0.3), 0.3);
    let job = ClearExpired::new(Scripted::default());
    assert_eq!((job.every, job.jitter), (DEFAULT_EVERY, DEFAULT_JITTER));
    assert!(!job.first_run_now, "default: first run after one interval");
    assert_eq!(job.every(Duration::ZERO).every, MIN_EVERY);
}

// ---- failures and reporting ----

#[tokio::test(start_paused = true)]
async fn errors_are_logged_and_never_stop_the_task() {
    let capture = Capture::default();
    let _guard = capture.install();
    let store = Scripted::answering([
        Err(Error::unavailable("connection refused by db.internal:5432")),
        Err(Error::backend("permission denied for table sessions")),
        Ok(3),
    ]);
    let handle = ClearExpired::new(store.clone())
        .every(MINUTE)
        .jitter(0.0)
        .spawn();
    tokio::time::sleep(Duration::from_secs(4 * 60 + 30)).await;

    assert_eq!(store.call_count(), 4, "the task stopped after an error");
    assert_eq!(
        (handle.runs(), handle.failures(), handle.removed()),
        (4, 2, 3)
    );
    let warnings = capture.at(TARGET, tracing::Level::WARN);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("kind=Unavailable")
            && warnings[0]
                .contains("session store unavailable: connection refused by db.internal:5432"),
        "the warning lacks the kind or the cause: {}",
        warnings[0]
    );
    assert!(
        warnings[1].contains("kind=Backend")
            && warnings[1].contains("permission denied for table sessions"),
        "{}",
        warnings[1]
    );
}

#[tokio::test(start_paused = true)]
async fn each_run_reports_its_count_and_time_at_info() {
    let capture = Capture::default();
    let _guard = capture.install();
    let store = Scripted::answering([Ok(7), Ok(0)]);
    let _handle = ClearExpired::new(store.clone())
        .every(MINUTE)
        .jitter(0.0)
        .spawn();
    tokio::time::sleep(Duration::from_secs(150)).await;
    let infos = capture.at(TARGET, tracing::Level::INFO);
    assert_eq!(infos.len(), 2, "{infos:?}");
    assert!(
        infos[0].contains("removed=7") && infos[0].contains("elapsed_ms=0"),
        "{}",
        infos[0]
    );
    assert!(infos[1].contains("removed=0"), "{}", infos[1]);
    assert!(
        infos[0].contains("cleared expired sessions"),
        "{}",
        infos[0]
    );
}

#[tokio::test(start_paused = true)]
async fn run_once_reports_like_a_background_run() {
    let capture = Capture::default();
    let _guard = capture.install();
    let job = ClearExpired::new(Scripted::answering([
        Ok(5),
        Err(Error::unavailable("down")),
    ]));
    assert_eq!(job.run_once().await.unwrap(), 5);
    assert_eq!(
        job.run_once().await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(capture.at(TARGET, tracing::Level::INFO).len(), 1);
    assert_eq!(capture.at(TARGET, tracing::Level::WARN).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_store_without_clear_expired_is_said_to_need_none() {
    let capture = Capture::default();
    let _guard = capture.install();
    #[derive(Debug)]
    struct Native;
    #[async_trait]
    impl SessionStore for Native {
        async fn create(&self, _: &Record) -> Result<(), Error> {
            Ok(())
        }
        async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
            Ok(None)
        }
        async fn save(&self, _: &Record) -> Result<(), Error> {
            Err(Error::NotFound)
        }
        async fn delete(&self, _: &SessionId) -> Result<(), Error> {
            Ok(())
        }
    }
    let handle = ClearExpired::new(Native).every(MINUTE).spawn();
    let infos = capture.at(TARGET, tracing::Level::INFO);
    assert!(
        infos
            .iter()
            .any(|line| line.contains("expires records by itself")),
        "{infos:?}"
    );
    handle.stop().await;
}

// ---- stopping ----

#[tokio::test(start_paused = true)]
async fn cancel_stops_a_run_in_progress_at_once() {
    let store = Scripted {
        hang: true,
        ..Scripted::default()
    };
    let handle = ClearExpired::new(store.clone())
        .every(MINUTE)
        .first_run_now(true)
        .spawn();
    tokio::task::yield_now().await;
    assert_eq!(store.call_count(), 1, "the first run has started");
    assert!(!handle.is_finished());

    handle.cancel();
    let stopped = tokio::time::timeout(Duration::from_millis(1), handle.stop()).await;
    assert!(stopped.is_ok(), "stop did not return within 1 ms of cancel");
    tokio::time::sleep(10 * MINUTE).await;
    assert_eq!(store.call_count(), 1, "a run started after cancel");
}

#[tokio::test(start_paused = true)]
async fn stop_ends_a_waiting_task() {
    let store = Scripted::default();
    let handle = ClearExpired::new(store.clone())
        .every(MINUTE)
        .jitter(0.0)
        .spawn();
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert_eq!(store.call_count(), 1);
    let stopped = tokio::time::timeout(Duration::from_millis(1), handle.stop()).await;
    assert!(stopped.is_ok(), "stop did not return at once");
    tokio::time::sleep(10 * MINUTE).await;
    assert_eq!(store.call_count(), 1, "runs went on after stop");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_stops_the_task() {
    let store = Scripted::default();
    let handle = ClearExpired::new(store.clone())
        .every(MINUTE)
        .jitter(0.0)
        .spawn();
    tokio::time::sleep(Duration::from_secs(90)).await;
    drop(handle);
    tokio::time::sleep(10 * MINUTE).await;
    assert_eq!(
        store.call_count(),
        1,
        "runs went on after the handle was dropped"
    );
}

// ---- with a real store ----

fn data() -> SessionData {
    let mut data = SessionData::new();
    data.insert("user".into(), serde_json::json!(42));
    data
}

#[tokio::test(start_paused = true)]
async fn removes_expired_memory_records_and_keeps_live_ones() {
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let memory = MemoryStore::with_clock(clock.clone());
    let now = clock.now();
    let live = Record::new(
        SessionId::generate(),
        data(),
        now + time::Duration::hours(1),
    );
    memory.create(&live).await.unwrap();
    for minutes in [1, 5] {
        let soon = Record::new(
            SessionId::generate(),
            data(),
            now + time::Duration::minutes(minutes),
        );
        memory.create(&soon).await.unwrap();
    }
    clock.advance(time::Duration::minutes(10));
    assert_eq!(memory.len(), 3);

    let sessions = SessionManager::new(memory.clone());
    let handle = ClearExpired::for_manager(&sessions)
        .every(MINUTE)
        .jitter(0.0)
        .spawn();
    tokio::time::sleep(Duration::from_secs(90)).await;

    assert_eq!((handle.runs(), handle.removed()), (1, 2));
    assert_eq!(memory.len(), 1, "an expired record is still stored");
    assert_eq!(
        memory.load(&live.id).await.unwrap().map(|r| r.data),
        Some(live.data.clone()),
        "the live session was lost"
    );
    handle.stop().await;
}

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = assert_send_sync::<ClearExpired>();
const _: () = assert_send_sync::<ClearExpiredHandle>();
