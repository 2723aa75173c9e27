//! The absolute timeout and the throttled renewal through the whole
//! lifecycle, on a `MemoryStore` with a manual clock: one rule per test.

use super::*;
use crate::expiry::{CREATED_KEY, EXPIRY_KEY};

const TIMEOUT: Duration = Duration::hours(8);

fn with_timeout() -> Harness {
    harness_with(Config::default().with_absolute_timeout(TIMEOUT))
}

/// When the stored record of `cookie` says its session was created.
async fn created_of(h: &Harness, cookie: &str) -> Option<Value> {
    h.stored(cookie).await?.data.get(CREATED_KEY).cloned()
}

fn stamp(at: OffsetDateTime) -> Value {
    json!(crate::record::unix_ms(at))
}

/// Puts a record straight into the store (as an earlier deployment, or a
/// store that keeps records past their timeout, would have left it);
/// returns its cookie pair.
async fn planted(h: &Harness, data: Value, expires_at: OffsetDateTime) -> String {
    let Value::Object(map) = data else {
        panic!("an object")
    };
    let id = SessionId::generate();
    h.store
        .inner
        .create(&Record::new(id.clone(), map, expires_at))
        .await
        .unwrap();
    format!("sessionid={id}")
}

fn max_age_of(set_cookie: &str) -> i64 {
    let (_, rest) = set_cookie.split_once("Max-Age=").expect("a Max-Age");
    rest.split(';').next().unwrap().parse().unwrap()
}

// --- absolute timeout ------------------------------------------------------

#[tokio::test]
async fn a_new_session_is_stamped_and_its_record_and_cookie_end_at_the_timeout() {
    let h = with_timeout();
    let start = h.clock.now();
    let outcome = h
        .request(None, 200, |s| async move { s.insert("a", 1).await })
        .await
        .unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    let cookie = pair(&set_cookie);
    assert_eq!(max_age_of(&set_cookie), TIMEOUT.whole_seconds());
    let record = h.stored(&cookie).await.unwrap();
    assert_eq!(record.data.get(CREATED_KEY), Some(&stamp(start)));
    assert_eq!(record.expires_at, start + TIMEOUT);
    // Seven hours later a write still holds both at the same limit.
    h.clock.advance(Duration::hours(7));
    let outcome = h
        .request(
            Some(&cookie),
            200,
            |s| async move { s.insert("b", 2).await },
        )
        .await
        .unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    assert_eq!(pair(&set_cookie), cookie);
    assert_eq!(max_age_of(&set_cookie), 3_600);
    assert!(
        set_cookie.contains("Expires=Tue, 01 Jan 2030 08:00:00 GMT"),
        "{set_cookie}"
    );
    assert_eq!(h.stored(&cookie).await.unwrap().expires_at, start + TIMEOUT);
    assert_eq!(created_of(&h, &cookie).await, Some(stamp(start)));
}

#[tokio::test]
async fn without_the_setting_nothing_is_stamped() {
    let h = harness();
    let cookie = h.existing().await;
    assert_eq!(created_of(&h, &cookie).await, None);
}

#[tokio::test]
async fn a_second_before_the_timeout_the_session_lives() {
    let h = with_timeout();
    let start = h.clock.now();
    // The record outlives the timeout in the store: core must still judge.
    let cookie = planted(
        &h,
        json!({"a": 1, CREATED_KEY: stamp(start)}),
        start + Duration::days(14),
    )
    .await;
    h.clock.set(start + TIMEOUT - Duration::SECOND);
    let session = h.sessions.load([cookie.as_str()]);
    assert_eq!(session.get::<i32>("a").await.unwrap(), Some(1));
    assert_eq!(session.id().await.unwrap(), Some(id_of(&cookie)));
}

#[tokio::test]
async fn at_creation_plus_timeout_the_session_is_over_and_its_record_deleted() {
    let h = with_timeout();
    let start = h.clock.now();
    let cookie = planted(
        &h,
        json!({"a": 1, CREATED_KEY: stamp(start)}),
        start + Duration::days(14),
    )
    .await;
    h.clock.set(start + TIMEOUT);
    h.store.reset_calls();
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            assert_eq!(s.get::<i32>("a").await?, None);
            assert_eq!(s.id().await?, None, "the ID is not adopted");
            Ok(())
        })
        .await
        .unwrap();
    assert!(is_removal(&outcome.set_cookie.unwrap()));
    assert_eq!(h.store.calls(), ["load", "delete"]);
    assert_eq!(h.stored(&cookie).await, None);
}

#[tokio::test]
async fn a_write_after_the_timeout_starts_a_new_session_under_a_fresh_id() {
    let h = with_timeout();
    let start = h.clock.now();
    let cookie = planted(
        &h,
        json!({"a": 1, CREATED_KEY: stamp(start - Duration::days(1))}),
        start + Duration::days(14),
    )
    .await;
    let outcome = h
        .request(
            Some(&cookie),
            200,
            |s| async move { s.insert("b", 2).await },
        )
        .await
        .unwrap();
    let fresh = pair(&outcome.set_cookie.unwrap());
    assert_ne!(fresh, cookie);
    let record = h.stored(&fresh).await.unwrap();
    assert_eq!(record.data.get("a"), None, "the old data is gone");
    assert_eq!(record.data.get(CREATED_KEY), Some(&stamp(start)));
    assert_eq!(h.stored(&cookie).await, None, "the old record is deleted");
}

#[tokio::test]
async fn an_untouched_request_after_the_timeout_removes_the_cookie_with_save_every_request() {
    let h = harness_with(
        Config::default()
            .with_absolute_timeout(TIMEOUT)
            .with_save_every_request(true),
    );
    let cookie = h.existing().await;
    h.clock.advance(TIMEOUT);
    // The store dropped the record itself: its expiry was held at the limit.
    assert_eq!(h.stored(&cookie).await, None);
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    assert!(is_removal(&outcome.set_cookie.unwrap()));
}

#[tokio::test]
async fn rotation_and_login_keep_the_creation_time() {
    let h = with_timeout();
    let start = h.clock.now();
    let cookie = h.existing().await;
    h.clock.advance(Duration::hours(1));
    let outcome = h
        .request(Some(&cookie), 200, |s| async move { s.cycle_id().await })
        .await
        .unwrap();
    let rotated = pair(&outcome.set_cookie.unwrap());
    assert_ne!(rotated, cookie);
    assert_eq!(created_of(&h, &rotated).await, Some(stamp(start)));
    assert_eq!(
        h.stored(&rotated).await.unwrap().expires_at,
        start + TIMEOUT
    );
    h.clock.advance(Duration::hours(1));
    let outcome = h
        .request(
            Some(&rotated),
            200,
            |s| async move { s.login("ada", "h").await },
        )
        .await
        .unwrap();
    let logged_in = pair(&outcome.set_cookie.unwrap());
    assert_eq!(created_of(&h, &logged_in).await, Some(stamp(start)));
}

#[tokio::test]
async fn flush_starts_a_new_session_with_a_new_creation_time() {
    let h = with_timeout();
    let cookie = h.existing().await;
    h.clock.advance(Duration::hours(3));
    let later = h.clock.now();
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.flush().await?;
            s.insert("b", 2).await
        })
        .await
        .unwrap();
    let fresh = pair(&outcome.set_cookie.unwrap());
    assert_eq!(created_of(&h, &fresh).await, Some(stamp(later)));
    assert_eq!(h.stored(&fresh).await.unwrap().expires_at, later + TIMEOUT);
}

#[tokio::test]
async fn clear_keeps_the_creation_time() {
    let h = with_timeout();
    let start = h.clock.now();
    let cookie = h.existing().await;
    h.clock.advance(Duration::hours(1));
    h.request(Some(&cookie), 200, |s| async move { s.clear().await })
        .await
        .unwrap();
    let record = h.stored(&cookie).await.unwrap();
    assert_eq!(record.data.get("a"), None);
    assert_eq!(record.data.get(CREATED_KEY), Some(&stamp(start)));
}

#[tokio::test]
async fn a_versioned_merge_keeps_the_creation_time() {
    let h = with_timeout();
    let start = h.clock.now();
    let cookie = h.existing().await;
    h.clock.advance(Duration::hours(1));
    let first = h.sessions.load([cookie.as_str()]);
    let second = h.sessions.load([cookie.as_str()]);
    first.insert("x", 1).await.unwrap();
    second.insert("y", 2).await.unwrap();
    h.sessions.finish(&first, 200).await.unwrap();
    let outcome = h.sessions.finish(&second, 200).await.unwrap();
    let record = h.stored(&cookie).await.unwrap();
    assert_eq!(record.data.get("x"), Some(&json!(1)), "the merge happened");
    assert_eq!(record.data.get("y"), Some(&json!(2)));
    assert_eq!(record.data.get(CREATED_KEY), Some(&stamp(start)));
    assert_eq!(record.expires_at, start + TIMEOUT);
    assert_eq!(max_age_of(&outcome.set_cookie.unwrap()), 7 * 3_600);
}

#[tokio::test]
async fn a_session_from_before_the_setting_counts_from_its_next_write() {
    let h = with_timeout();
    let start = h.clock.now();
    let cookie = planted(&h, json!({"a": 1}), start + Duration::days(14)).await;
    // Readable while unstamped, whatever its age.
    let session = h.sessions.load([cookie.as_str()]);
    assert_eq!(session.get::<i32>("a").await.unwrap(), Some(1));
    h.clock.advance(Duration::hours(1));
    let later = h.clock.now();
    h.request(
        Some(&cookie),
        200,
        |s| async move { s.insert("b", 2).await },
    )
    .await
    .unwrap();
    assert_eq!(created_of(&h, &cookie).await, Some(stamp(later)));
    assert_eq!(h.stored(&cookie).await.unwrap().expires_at, later + TIMEOUT);
}

#[tokio::test]
async fn the_creation_time_is_listed_and_reserved_like_the_expiry() {
    let h = with_timeout();
    let cookie = h.existing().await;
    let session = h.sessions.load([cookie.as_str()]);
    session.set_expiry(Expiry::Seconds(600)).await.unwrap();
    let keys = session.keys().await.unwrap();
    assert!(keys.iter().any(|k| k == EXPIRY_KEY), "{keys:?}");
    assert!(keys.iter().any(|k| k == CREATED_KEY), "{keys:?}");
    assert_eq!(
        session.insert(CREATED_KEY, 0).await.unwrap_err().kind(),
        ErrorKind::ReservedKey
    );
    assert_eq!(
        session.remove(CREATED_KEY).await.unwrap_err().kind(),
        ErrorKind::ReservedKey
    );
}

// --- throttled renewal -----------------------------------------------------

const INTERVAL: Duration = Duration::hours(1);

fn throttled() -> Config {
    Config::default()
        .with_save_every_request(true)
        .with_renewal_interval(INTERVAL)
}

#[tokio::test]
async fn an_unchanged_session_is_renewed_at_most_once_per_interval() {
    let h = harness_with(throttled());
    let cookie = h.existing().await;
    let created = h.clock.now();
    h.clock.advance(INTERVAL - Duration::SECOND);
    h.store.reset_calls();
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None, "no renewal inside the interval");
    assert_eq!(h.store.calls(), ["load"], "and no write");
    assert_eq!(
        h.stored(&cookie).await.unwrap().expires_at,
        created + Duration::days(14),
        "the record keeps the expiry the cookie has"
    );
    h.clock.advance(Duration::SECOND);
    h.store.reset_calls();
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.get::<i32>("a").await.map(drop)
        })
        .await
        .unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    assert_eq!(pair(&set_cookie), cookie);
    assert_eq!(max_age_of(&set_cookie), 1_209_600);
    assert_eq!(h.store.calls(), ["load", "touch"]);
    let renewed = h.clock.now();
    assert_eq!(
        h.stored(&cookie).await.unwrap().expires_at,
        renewed + Duration::days(14)
    );
    // The interval counts again from this renewal.
    h.clock.advance(Duration::minutes(59));
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
}

#[tokio::test]
async fn a_changed_session_is_written_whatever_the_interval() {
    let h = harness_with(throttled());
    let cookie = h.existing().await;
    h.clock.advance(Duration::minutes(1));
    h.store.reset_calls();
    let outcome = h
        .request(
            Some(&cookie),
            200,
            |s| async move { s.insert("b", 2).await },
        )
        .await
        .unwrap();
    assert_eq!(pair(&outcome.set_cookie.unwrap()), cookie);
    assert_eq!(h.store.calls(), ["load", "save"]);
}

#[tokio::test]
async fn a_custom_lifetime_sets_when_the_last_renewal_was() {
    let h = harness_with(throttled());
    let cookie = h.existing().await;
    h.request(Some(&cookie), 200, |s| async move {
        s.set_expiry(Expiry::Seconds(7_200)).await
    })
    .await
    .unwrap();
    h.clock.advance(Duration::minutes(30));
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
    h.clock.advance(Duration::minutes(30));
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(max_age_of(&outcome.set_cookie.unwrap()), 7_200);
}

#[tokio::test]
async fn a_fixed_expiry_date_is_not_renewed_under_an_interval() {
    let h = harness_with(throttled());
    let cookie = h.existing().await;
    let at = h.clock.now() + Duration::days(2);
    h.request(Some(&cookie), 200, |s| async move {
        s.set_expiry(Expiry::At(at)).await
    })
    .await
    .unwrap();
    h.clock.advance(Duration::days(1));
    h.store.reset_calls();
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert_eq!(h.store.calls(), ["load"]);
}

/// The spy, declaring no cheap `touch`.
#[derive(Debug, Clone)]
struct NoTouch(Spy);

#[async_trait]
impl SessionStore for NoTouch {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        self.0.create(record).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        self.0.load(id).await
    }
    async fn save(&self, record: &Record) -> Result<(), Error> {
        self.0.save(record).await
    }
    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.0.delete(id).await
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities().with_touch(false)
    }
}

#[tokio::test]
async fn a_due_renewal_saves_where_the_store_cannot_touch() {
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 0:00 UTC));
    let spy = Spy::with_clock(clock.clone());
    let sessions = SessionManager::new(NoTouch(spy.clone()))
        .with_config(throttled())
        .unwrap()
        .with_clock(clock.clone());
    let first = sessions.load(None::<&str>);
    first.insert("a", 1).await.unwrap();
    let cookie = pair(
        &sessions
            .finish(&first, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap(),
    );
    for (advance, writes) in [(Duration::minutes(30), false), (INTERVAL, true)] {
        clock.advance(advance);
        spy.reset_calls();
        let session = sessions.load([cookie.as_str()]);
        let outcome = sessions.finish(&session, 200).await.unwrap();
        assert_eq!(outcome.set_cookie.is_some(), writes);
        let expected: &[&str] = if writes { &["load", "save"] } else { &["load"] };
        assert_eq!(spy.calls(), expected);
    }
}

#[tokio::test]
async fn the_throttle_and_the_timeout_together_never_renew_past_the_limit() {
    let h = harness_with(throttled().with_absolute_timeout(TIMEOUT));
    let cookie = h.existing().await;
    h.clock.advance(Duration::hours(7));
    h.store.reset_calls();
    // Due by the interval, but the record is already held at the limit.
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert_eq!(h.store.calls(), ["load"]);
}
