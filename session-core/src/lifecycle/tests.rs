//! The request lifecycle, one rule per test, against a spy store that
//! counts calls and fails on demand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rstest::rstest;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::{
    Capabilities, Clock, Config, Error, ErrorKind, Expiry, ManualClock, MemoryStore, Outcome,
    Record, SameSite, Session, SessionData, SessionId, SessionManager, SessionStore,
};

mod failure;
#[cfg(feature = "http")]
mod headers;
mod lifetime;

/// A `MemoryStore` that records every call and fails the operations it is
/// told to.
#[derive(Debug, Clone, Default)]
struct Spy {
    inner: MemoryStore,
    calls: Arc<Mutex<Vec<&'static str>>>,
    failing: Arc<Mutex<Vec<&'static str>>>,
    conflicts_left: Arc<AtomicUsize>,
}

impl Spy {
    fn with_clock(clock: ManualClock) -> Self {
        Spy {
            inner: MemoryStore::with_clock(clock),
            ..Spy::default()
        }
    }
    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }
    fn reset_calls(&self) {
        self.calls.lock().unwrap().clear();
    }
    fn fail(&self, op: &'static str) {
        self.failing.lock().unwrap().push(op);
    }
    fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }
    fn enter(&self, op: &'static str) -> Result<(), Error> {
        self.calls.lock().unwrap().push(op);
        if self.failing.lock().unwrap().contains(&op) {
            return Err(Error::unavailable(format!("{op} failed on purpose")));
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for Spy {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        self.enter("create")?;
        if self
            .conflicts_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::id_taken());
        }
        self.inner.create(record).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        self.enter("load")?;
        self.inner.load(id).await
    }
    async fn save(&self, record: &Record) -> Result<(), Error> {
        self.enter("save")?;
        self.inner.save(record).await
    }
    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.enter("delete")?;
        self.inner.delete(id).await
    }
    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        self.enter("touch")?;
        self.inner.touch(id, expires_at).await
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

struct Harness {
    store: Spy,
    clock: ManualClock,
    sessions: SessionManager,
}

fn harness() -> Harness {
    harness_with(Config::default())
}

fn harness_with(config: Config) -> Harness {
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 0:00 UTC));
    let store = Spy::with_clock(clock.clone());
    let sessions = SessionManager::new(store.clone())
        .with_config(config)
        .unwrap()
        .with_clock(clock.clone());
    Harness {
        store,
        clock,
        sessions,
    }
}

/// The `name=value` pair a browser would send back for a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn id_of(set_cookie: &str) -> SessionId {
    pair(set_cookie).split_once('=').unwrap().1.parse().unwrap()
}

fn is_removal(set_cookie: &str) -> bool {
    set_cookie.starts_with("sessionid=;") && set_cookie.contains("Max-Age=0")
}

impl Harness {
    /// Runs one request: `handler` on a session loaded from `cookie`.
    async fn request<F, Fut>(
        &self,
        cookie: Option<&str>,
        status: u16,
        handler: F,
    ) -> Result<Outcome, Error>
    where
        F: FnOnce(Session) -> Fut,
        Fut: Future<Output = Result<(), Error>>,
    {
        let session = self.sessions.load(cookie);
        handler(session.clone()).await?;
        self.sessions.finish(&session, status).await
    }

    /// A session holding `{"a": 1}`; returns its cookie pair.
    async fn existing(&self) -> String {
        let outcome = self
            .request(None, 200, |s| async move { s.insert("a", 1).await })
            .await
            .unwrap();
        pair(&outcome.set_cookie.unwrap())
    }

    async fn stored(&self, cookie: &str) -> Option<Record> {
        let id: SessionId = cookie.split_once('=').unwrap().1.parse().unwrap();
        self.store.inner.load(&id).await.unwrap()
    }
}

#[test]
fn handles_and_managers_are_send_sync_static() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Session>();
    assert_send_sync::<SessionManager>();
    assert_send_sync::<MemoryStore>();
}

// --- §3 laziness ---------------------------------------------------------

#[rstest]
#[case::no_cookie(None)]
#[case::valid_cookie(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"))]
#[case::malformed_cookie(Some("sessionid=../../etc/passwd"))]
#[tokio::test]
async fn untouched_session_makes_no_store_call_and_no_header(#[case] cookie: Option<&str>) {
    let h = harness();
    let outcome = h.request(cookie, 200, |_| async { Ok(()) }).await.unwrap();
    assert_eq!(outcome, Outcome::default());
    assert_eq!(h.store.calls(), Vec::<&str>::new());
}

#[tokio::test]
async fn without_a_cookie_first_access_makes_no_store_call() {
    let h = harness();
    let outcome = h
        .request(
            None,
            200,
            |s| async move { s.get::<Value>("x").await.map(drop) },
        )
        .await
        .unwrap();
    assert_eq!(h.store.calls(), Vec::<&str>::new());
    assert_eq!(outcome.set_cookie, None);
    assert!(outcome.vary_cookie);
}

#[tokio::test]
async fn a_malformed_cookie_never_reaches_the_store() {
    let h = harness();
    let outcome = h
        .request(Some("sessionid=../x"), 200, |s| async move {
            s.get::<Value>("x").await.map(drop)
        })
        .await
        .unwrap();
    assert_eq!(h.store.calls(), Vec::<&str>::new());
    assert!(is_removal(&outcome.set_cookie.unwrap()));
}

#[tokio::test]
async fn the_store_is_read_once_per_request() {
    let h = harness();
    let cookie = h.existing().await;
    h.store.reset_calls();
    h.request(Some(&cookie), 200, |s| async move {
        s.get::<i32>("a").await?;
        s.contains("b").await?;
        s.keys().await?;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(h.store.calls(), ["load"]);
}

// --- §3 dict flags ----------------------------------------------------------

/// One dict operation on a session holding `{"a": 1}`.
#[derive(Debug, Clone, Copy)]
enum Op {
    Get,
    GetMissing,
    ContainsPresent,
    ContainsMissing,
    PopPresent,
    PopMissingWithDefault,
    RemovePresent,
    RemoveMissing,
    SetdefaultPresent,
    SetdefaultMissing,
    InsertSameValue,
    ExtendEmpty,
    Keys,
    Items,
    Len,
    Clear,
    MarkModified,
    SetExpiryDefaultWithoutCustom,
    SetExpirySeconds,
    ExpiryAge,
}

impl Op {
    async fn run(self, s: &Session) -> Result<(), Error> {
        match self {
            Op::Get => s.get::<i32>("a").await.map(drop),
            Op::GetMissing => s.get::<i32>("zz").await.map(drop),
            Op::ContainsPresent => s.contains("a").await.map(|v| assert!(v)),
            Op::ContainsMissing => s.contains("zz").await.map(|v| assert!(!v)),
            Op::PopPresent => s.pop("a", 0).await.map(|v| assert_eq!(v, 1)),
            Op::PopMissingWithDefault => s.pop("zz", 7).await.map(|v| assert_eq!(v, 7)),
            Op::RemovePresent => s.remove("a").await.map(|v| assert_eq!(v, Some(json!(1)))),
            Op::RemoveMissing => s.remove("zz").await.map(|v| assert_eq!(v, None)),
            Op::SetdefaultPresent => s.get_or_insert("a", 9).await.map(|v| assert_eq!(v, 1)),
            Op::SetdefaultMissing => s.get_or_insert("zz", 9).await.map(|v| assert_eq!(v, 9)),
            Op::InsertSameValue => s.insert("a", 1).await,
            Op::ExtendEmpty => s.extend(Vec::<(String, i32)>::new()).await,
            Op::Keys => s.keys().await.map(|v| assert_eq!(v, ["a"])),
            Op::Items => s
                .items()
                .await
                .map(|v| assert_eq!(v, [("a".to_owned(), json!(1))])),
            Op::Len => s.len().await.map(|v| assert_eq!(v, 1)),
            Op::Clear => s.clear().await,
            Op::MarkModified => s.mark_modified().await,
            Op::SetExpiryDefaultWithoutCustom => s.set_expiry(Expiry::Default).await,
            Op::SetExpirySeconds => s.set_expiry(Expiry::Seconds(5)).await,
            Op::ExpiryAge => s.expiry_age().await.map(|v| assert_eq!(v, 1_209_600)),
        }
    }
}

#[rstest]
#[case(Op::Get, false)]
#[case(Op::GetMissing, false)]
#[case(Op::ContainsPresent, false)]
#[case(Op::ContainsMissing, false)]
#[case(Op::PopPresent, true)]
#[case(Op::PopMissingWithDefault, false)]
#[case(Op::RemovePresent, true)]
#[case(Op::RemoveMissing, false)]
#[case(Op::SetdefaultPresent, false)]
#[case(Op::SetdefaultMissing, true)]
#[case(Op::InsertSameValue, true)]
#[case(Op::ExtendEmpty, true)]
#[case(Op::Keys, false)]
#[case(Op::Items, false)]
#[case(Op::Len, false)]
#[case(Op::Clear, true)]
#[case(Op::MarkModified, true)]
#[case(Op::SetExpiryDefaultWithoutCustom, false)]
#[case(Op::SetExpirySeconds, true)]
#[case(Op::ExpiryAge, false)]
#[tokio::test]
async fn dict_operations_follow_djangos_flags(#[case] op: Op, #[case] modifies: bool) {
    let h = harness();
    let cookie = h.existing().await;
    let session = h.sessions.load([cookie.as_str()]);
    assert!(!session.is_accessed().await);
    op.run(&session).await.unwrap();
    assert!(
        session.is_accessed().await,
        "every operation marks accessed"
    );
    assert_eq!(session.is_modified().await, modifies);
}

#[tokio::test]
async fn typed_values_round_trip_through_json() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Cart {
        items: Vec<String>,
        total_cents: u64,
    }
    let h = harness();
    let cart = Cart {
        items: vec!["pomme".into(), "яблоко".into()],
        total_cents: u64::MAX,
    };
    let outcome = h
        .request(None, 200, |s| async move { s.insert("cart", cart).await })
        .await
        .unwrap();
    let cookie = pair(&outcome.set_cookie.unwrap());
    let session = h.sessions.load([cookie.as_str()]);
    let back: Cart = session.get("cart").await.unwrap().unwrap();
    assert_eq!(back.items, ["pomme", "яблоко"]);
    assert_eq!(back.total_cents, u64::MAX);
    assert_eq!(
        session.get::<String>("cart").await.unwrap_err().kind(),
        ErrorKind::Value
    );
}

#[rstest]
#[case("_session_expiry")]
#[case("_session_created")]
#[case("_auth_user_id")]
#[case("_sessionanything")]
#[tokio::test]
async fn reserved_keys_cannot_be_written(#[case] key: &str) {
    let h = harness();
    let session = h.sessions.load(None::<&str>);
    assert_eq!(
        session.insert(key, 1).await.unwrap_err().kind(),
        ErrorKind::ReservedKey
    );
    assert_eq!(
        session.remove(key).await.unwrap_err().kind(),
        ErrorKind::ReservedKey
    );
    assert_eq!(
        session.extend([(key, 1)]).await.unwrap_err().kind(),
        ErrorKind::ReservedKey
    );
    assert!(!session.is_modified().await);
}

#[tokio::test]
async fn a_read_only_request_does_not_copy_the_data() {
    let h = harness();
    let cookie = h.existing().await;
    let id: SessionId = cookie.split_once('=').unwrap().1.parse().unwrap();
    let stored = h.store.inner.load(&id).await.unwrap().unwrap();
    let session = h.sessions.load([cookie.as_str()]);
    session.get::<i32>("a").await.unwrap();
    assert!(Arc::ptr_eq(&session.data().await.unwrap(), &stored.data));
}

// --- §5 finish ----------------------------------------------------------------

#[tokio::test]
async fn first_write_creates_a_record_and_sets_the_cookie() {
    let h = harness();
    let outcome = h
        .request(None, 200, |s| async move { s.insert("a", 1).await })
        .await
        .unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    assert!(outcome.vary_cookie);
    assert_eq!(
        set_cookie.split_once("; ").unwrap().1,
        "HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600; Expires=Tue, 15 Jan 2030 00:00:00 GMT"
    );
    assert_eq!(h.store.calls(), ["create"]);
    let record = h.stored(&pair(&set_cookie)).await.unwrap();
    assert_eq!(record.data.get("a"), Some(&json!(1)));
    assert_eq!(
        record.expires_at,
        h.clock.now() + Duration::seconds(1_209_600)
    );
}

#[tokio::test]
async fn a_read_only_request_sets_nothing_but_varies() {
    let h = harness();
    let cookie = h.existing().await;
    h.store.reset_calls();
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.get::<i32>("a").await.map(drop)
        })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert!(outcome.vary_cookie);
    assert_eq!(h.store.calls(), ["load"]);
}

#[tokio::test]
async fn an_unknown_cookie_on_a_read_gets_a_deletion_cookie() {
    let h = harness();
    let sent = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
    let outcome = h
        .request(Some(sent), 200, |s| async move {
            s.get::<i32>("a").await.map(drop)
        })
        .await
        .unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    assert!(is_removal(&set_cookie), "{set_cookie}");
    assert!(outcome.vary_cookie);
}

#[tokio::test]
async fn an_unknown_cookie_on_a_write_gets_a_fresh_id() {
    let h = harness();
    let sent: SessionId = "abcdefghijklmnopqrstuvwxyz012345".parse().unwrap();
    let cookie = format!("sessionid={sent}");
    let outcome = h
        .request(
            Some(&cookie),
            200,
            |s| async move { s.insert("a", 1).await },
        )
        .await
        .unwrap();
    let issued = id_of(&outcome.set_cookie.unwrap());
    assert_ne!(issued, sent);
    assert_eq!(
        h.store.inner.load(&sent).await.unwrap(),
        None,
        "the client's ID was adopted"
    );
}

#[tokio::test]
async fn an_expired_record_is_never_adopted() {
    let h = harness();
    let cookie = h.existing().await;
    h.clock.advance(Duration::seconds(1_209_600));
    let outcome = h
        .request(
            Some(&cookie),
            200,
            |s| async move { s.insert("b", 2).await },
        )
        .await
        .unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    assert_ne!(pair(&set_cookie), cookie);
    let record = h.stored(&pair(&set_cookie)).await.unwrap();
    assert_eq!(
        record.data.get("a"),
        None,
        "old data leaked into the new session"
    );
}

/// A store that returns whatever it holds, expired or not: core checks the
/// expiry again.
#[derive(Debug)]
struct Forgetful(Record);

#[async_trait]
impl SessionStore for Forgetful {
    async fn create(&self, _: &Record) -> Result<(), Error> {
        Ok(())
    }
    async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
        Ok(Some(self.0.clone()))
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        Ok(())
    }
    async fn delete(&self, _: &SessionId) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test]
async fn core_rechecks_expiry_after_load() {
    let id = SessionId::generate();
    let mut data = SessionData::new();
    data.insert("a".into(), json!(1));
    let expired = Record::new(
        id.clone(),
        data,
        OffsetDateTime::now_utc() - Duration::seconds(1),
    );
    let sessions = SessionManager::new(Forgetful(expired));
    let session = sessions.load([format!("sessionid={id}")]);
    assert_eq!(session.get::<i32>("a").await.unwrap(), None);
    assert_eq!(session.id().await.unwrap(), None);
}

#[rstest]
#[case::first_write(None)]
#[case::existing(Some(()))]
#[tokio::test]
async fn a_5xx_saves_nothing_and_sets_nothing(#[case] existing: Option<()>) {
    let h = harness();
    let cookie = match existing {
        Some(()) => Some(h.existing().await),
        None => None,
    };
    h.store.reset_calls();
    let outcome = h
        .request(
            cookie.as_deref(),
            500,
            |s| async move { s.insert("b", 2).await },
        )
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert!(outcome.vary_cookie);
    let writes: Vec<_> = h
        .store
        .calls()
        .into_iter()
        .filter(|c| *c != "load")
        .collect();
    assert_eq!(writes, Vec::<&str>::new());
    if let Some(cookie) = cookie {
        assert_eq!(h.stored(&cookie).await.unwrap().data.get("b"), None);
    }
}

#[tokio::test]
async fn a_5xx_after_a_rotation_keeps_the_old_session() {
    let h = harness();
    let cookie = h.existing().await;
    let outcome = h
        .request(Some(&cookie), 503, |s| async move { s.cycle_id().await })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert_eq!(
        h.stored(&cookie).await.unwrap().data.get("a"),
        Some(&json!(1))
    );
    assert_eq!(h.store.inner.len(), 1, "a new record was created");
}

#[tokio::test]
async fn save_every_request_renews_an_untouched_session() {
    let h = harness_with(Config::default().with_save_every_request(true));
    let cookie = h.existing().await;
    h.clock.advance(Duration::hours(1));
    h.store.reset_calls();
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    assert_eq!(pair(&set_cookie), cookie);
    assert!(
        set_cookie.contains("Expires=Tue, 15 Jan 2030 01:00:00 GMT"),
        "{set_cookie}"
    );
    assert_eq!(h.store.calls(), ["load", "touch"]);
    assert_eq!(
        h.stored(&cookie).await.unwrap().expires_at,
        h.clock.now() + Duration::seconds(1_209_600)
    );
}

#[tokio::test]
async fn save_every_request_without_a_cookie_does_nothing() {
    let h = harness_with(Config::default().with_save_every_request(true));
    let outcome = h.request(None, 200, |_| async { Ok(()) }).await.unwrap();
    assert_eq!(outcome, Outcome::default());
    assert_eq!(h.store.calls(), Vec::<&str>::new());
}

#[tokio::test]
async fn finishing_twice_writes_once() {
    let h = harness();
    let session = h.sessions.load(None::<&str>);
    session.insert("a", 1).await.unwrap();
    assert!(
        h.sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .is_some()
    );
    assert_eq!(
        h.sessions.finish(&session, 200).await.unwrap(),
        Outcome::default()
    );
    assert_eq!(h.store.calls(), ["create"]);
}

// --- §4 expiry through the lifecycle ---------------------------------------------

#[rstest]
#[case::default_policy(false, Expiry::Default, Some(1_209_600))]
#[case::browser_close_setting(true, Expiry::Default, None)]
#[case::custom_seconds_beats_setting(true, Expiry::Seconds(10), Some(10))]
#[case::custom_browser_close(false, Expiry::BrowserClose, None)]
#[case::custom_at(false, Expiry::At(time::macros::datetime!(2030-01-01 1:00 UTC)), Some(3600))]
#[case::custom_in(false, Expiry::In(Duration::minutes(5)), Some(300))]
#[tokio::test]
async fn the_cookie_carries_the_computed_lifetime(
    #[case] browser_close: bool,
    #[case] expiry: Expiry,
    #[case] max_age: Option<i64>,
) {
    let h = harness_with(Config::default().with_expire_at_browser_close(browser_close));
    let outcome = h
        .request(None, 200, |s| async move {
            s.insert("a", 1).await?;
            s.set_expiry(expiry).await
        })
        .await
        .unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    match max_age {
        Some(age) => {
            assert!(
                set_cookie.contains(&format!("Max-Age={age};")),
                "{set_cookie}"
            );
            assert!(set_cookie.contains("Expires="), "{set_cookie}");
        }
        None => assert!(
            !set_cookie.contains("Max-Age") && !set_cookie.contains("Expires"),
            "{set_cookie}"
        ),
    }
}

#[tokio::test]
async fn a_browser_close_session_still_expires_on_the_server() {
    let h = harness_with(Config::default().with_expire_at_browser_close(true));
    let cookie = h.existing().await;
    assert_eq!(
        h.stored(&cookie).await.unwrap().expires_at,
        h.clock.now() + Duration::seconds(1_209_600)
    );
}

#[tokio::test]
async fn integer_expiry_counts_from_the_last_save() {
    let h = harness();
    let cookie = h.existing().await;
    h.request(Some(&cookie), 200, |s| async move {
        s.set_expiry(Expiry::Seconds(600)).await
    })
    .await
    .unwrap();
    h.clock.advance(Duration::seconds(500));
    h.request(
        Some(&cookie),
        200,
        |s| async move { s.insert("b", 2).await },
    )
    .await
    .unwrap();
    h.clock.advance(Duration::seconds(500));
    let session = h.sessions.load([cookie.as_str()]);
    assert_eq!(
        session.get::<i32>("b").await.unwrap(),
        Some(2),
        "expired 600 s after the first save"
    );
    assert_eq!(session.expiry_age().await.unwrap(), 600);
}

#[tokio::test]
async fn an_expiry_in_the_past_ends_the_session() {
    let h = harness();
    let cookie = h.existing().await;
    let past = h.clock.now() - Duration::seconds(1);
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.set_expiry(Expiry::At(past)).await
        })
        .await
        .unwrap();
    assert!(is_removal(&outcome.set_cookie.unwrap()));
    assert_eq!(h.stored(&cookie).await, None);
}

#[tokio::test]
async fn session_expiry_reads_use_the_managers_clock() {
    let h = harness();
    let session = h.sessions.load(None::<&str>);
    let at = h.clock.now() + Duration::milliseconds(90_500);
    session.set_expiry(Expiry::At(at)).await.unwrap();
    assert_eq!(session.expiry_age().await.unwrap(), 90);
    assert_eq!(session.expiry_date().await.unwrap(), at);
    assert!(!session.expire_at_browser_close().await.unwrap());
    session.set_expiry(Expiry::BrowserClose).await.unwrap();
    assert!(session.expire_at_browser_close().await.unwrap());
    assert_eq!(session.expiry_age().await.unwrap(), 1_209_600);
    session.set_expiry(Expiry::Default).await.unwrap();
    assert_eq!(session.expiry().await.unwrap(), Expiry::Default);
}

// --- §6 flush, rotation, login, logout -----------------------------------------

#[tokio::test]
async fn flush_deletes_the_record_at_once_and_the_cookie() {
    let config = Config::default()
        .with_cookie_secure(true)
        .with_cookie_domain(Some("example.com".to_owned()))
        .with_cookie_path("/app")
        .with_cookie_same_site(SameSite::Strict);
    let h = harness_with(config);
    let cookie = h.existing().await;
    let session = h.sessions.load([cookie.as_str()]);
    session.flush().await.unwrap();
    assert_eq!(
        h.stored(&cookie).await,
        None,
        "flush must delete before the response"
    );
    let outcome = h.sessions.finish(&session, 200).await.unwrap();
    assert_eq!(
        outcome.set_cookie.unwrap(),
        "sessionid=; HttpOnly; SameSite=Strict; Secure; Path=/app; Domain=example.com; \
         Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    );
    assert!(outcome.vary_cookie);
}

#[tokio::test]
async fn flush_does_not_need_to_read_the_session() {
    let h = harness();
    let cookie = h.existing().await;
    h.store.reset_calls();
    h.request(Some(&cookie), 200, |s| async move { s.flush().await })
        .await
        .unwrap();
    assert_eq!(h.store.calls(), ["delete"]);
}

#[tokio::test]
async fn flush_without_a_cookie_sets_nothing() {
    let h = harness();
    let outcome = h
        .request(None, 200, |s| async move { s.flush().await })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
}

#[tokio::test]
async fn flush_then_write_starts_a_new_session() {
    let h = harness();
    let cookie = h.existing().await;
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.flush().await?;
            s.insert("b", 2).await
        })
        .await
        .unwrap();
    let fresh = pair(&outcome.set_cookie.unwrap());
    assert_ne!(fresh, cookie);
    let record = h.stored(&fresh).await.unwrap();
    assert_eq!(record.data.get("a"), None);
    assert_eq!(record.data.get("b"), Some(&json!(2)));
}

#[tokio::test]
async fn cycle_id_moves_the_data_and_kills_the_old_id() {
    let h = harness();
    let cookie = h.existing().await;
    h.store.reset_calls();
    let outcome = h
        .request(Some(&cookie), 200, |s| async move { s.cycle_id().await })
        .await
        .unwrap();
    let rotated = pair(&outcome.set_cookie.unwrap());
    assert_ne!(rotated, cookie);
    assert_eq!(
        h.store.calls(),
        ["load", "create", "delete"],
        "create before delete"
    );
    assert_eq!(
        h.stored(&rotated).await.unwrap().data.get("a"),
        Some(&json!(1))
    );
    assert_eq!(h.stored(&cookie).await, None);
}

#[tokio::test]
async fn rotation_with_a_failing_store_keeps_the_old_record() {
    let h = harness();
    let cookie = h.existing().await;
    h.store.fail("create");
    let err = h
        .request(Some(&cookie), 200, |s| async move { s.cycle_id().await })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    h.store.heal();
    assert_eq!(
        h.stored(&cookie).await.unwrap().data.get("a"),
        Some(&json!(1))
    );
}

#[tokio::test]
async fn login_keeps_anonymous_data_and_rotates() {
    let h = harness();
    let cookie = h.existing().await;
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.login("alice", "h1").await
        })
        .await
        .unwrap();
    let after = pair(&outcome.set_cookie.unwrap());
    assert_ne!(after, cookie, "login must rotate the ID (session fixation)");
    assert_eq!(h.stored(&cookie).await, None);
    let record = h.stored(&after).await.unwrap();
    assert_eq!(record.data.get("a"), Some(&json!(1)));
    assert_eq!(record.data.get("_auth_user_id"), Some(&json!("alice")));
}

#[rstest]
#[case::other_user("bob", "h1")]
#[case::same_user_other_hash("alice", "h2")]
#[tokio::test]
async fn login_over_someone_elses_session_flushes(
    #[case] user: &'static str,
    #[case] hash: &'static str,
) {
    let h = harness();
    let cookie = h.existing().await;
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.login("alice", "h1").await
        })
        .await
        .unwrap();
    let alice = pair(&outcome.set_cookie.unwrap());
    let outcome = h
        .request(
            Some(&alice),
            200,
            |s| async move { s.login(user, hash).await },
        )
        .await
        .unwrap();
    let second = pair(&outcome.set_cookie.unwrap());
    assert_ne!(second, alice);
    assert_eq!(h.stored(&alice).await, None);
    let record = h.stored(&second).await.unwrap();
    assert_eq!(record.data.get("a"), None, "the first user's data leaked");
    assert_eq!(record.data.get("_auth_user_id"), Some(&json!(user)));
}

#[tokio::test]
async fn logout_flushes() {
    let h = harness();
    let cookie = h.existing().await;
    let outcome = h
        .request(
            Some(&cookie),
            200,
            |s| async move { s.login("alice", "").await },
        )
        .await
        .unwrap();
    let alice = pair(&outcome.set_cookie.unwrap());
    let outcome = h
        .request(Some(&alice), 200, |s| async move { s.logout().await })
        .await
        .unwrap();
    assert!(is_removal(&outcome.set_cookie.unwrap()));
    assert_eq!(h.stored(&alice).await, None);
    let session = h.sessions.load([alice.as_str()]);
    assert_eq!(session.user_id().await.unwrap(), None);
}

// --- §7 store contract as seen by core ----------------------------------------------

#[tokio::test]
async fn a_create_conflict_retries_with_a_new_id() {
    let h = harness();
    h.store.conflicts_left.store(2, Ordering::SeqCst);
    let outcome = h
        .request(None, 200, |s| async move { s.insert("a", 1).await })
        .await
        .unwrap();
    assert_eq!(h.store.calls(), ["create", "create", "create"]);
    assert!(
        h.stored(&pair(&outcome.set_cookie.unwrap()))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn create_conflicts_are_bounded() {
    let h = harness();
    h.store.conflicts_left.store(usize::MAX, Ordering::SeqCst);
    let err = h
        .request(None, 200, |s| async move { s.insert("a", 1).await })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(h.store.calls().len(), super::CREATE_ATTEMPTS);
}

#[tokio::test]
async fn a_save_after_a_concurrent_delete_is_interrupted_and_does_not_revive() {
    let h = harness();
    let cookie = h.existing().await;
    let writer = h.sessions.load([cookie.as_str()]);
    writer.insert("b", 2).await.unwrap();
    // A concurrent request logs out.
    h.request(Some(&cookie), 200, |s| async move { s.logout().await })
        .await
        .unwrap();
    let err = h.sessions.finish(&writer, 200).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    assert_eq!(err.http_status(), 400);
    assert_eq!(
        h.stored(&cookie).await,
        None,
        "the deleted session was revived"
    );
}

#[tokio::test]
async fn concurrent_writers_to_different_keys_both_land() {
    let h = harness();
    let cookie = h.existing().await;
    let first = h.sessions.load([cookie.as_str()]);
    let second = h.sessions.load([cookie.as_str()]);
    first.insert("x", "from first").await.unwrap();
    second.insert("y", "from second").await.unwrap();
    second.remove("a").await.unwrap();
    h.sessions.finish(&first, 200).await.unwrap();
    h.sessions.finish(&second, 200).await.unwrap();
    let record = h.stored(&cookie).await.unwrap();
    assert_eq!(record.data.get("x"), Some(&json!("from first")));
    assert_eq!(record.data.get("y"), Some(&json!("from second")));
    assert_eq!(record.data.get("a"), None);
    assert_eq!(
        h.store.calls().iter().filter(|c| **c == "save").count(),
        3,
        "one lost race, one retry"
    );
}

#[tokio::test]
async fn a_store_that_is_down_fails_the_access_not_the_request() {
    let h = harness();
    let cookie = h.existing().await;
    h.store.fail("load");
    let session = h.sessions.load([cookie.as_str()]);
    let err = session.get::<i32>("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.http_status(), 503);
    // A route that does not use the session is unaffected.
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::default());
    h.store.heal();
    assert_eq!(
        session.get::<i32>("a").await.unwrap(),
        Some(1),
        "a later access retries the load"
    );
}

/// Stores a record whose bytes no longer decode.
#[derive(Debug, Default)]
struct Corrupting {
    deleted: Mutex<Vec<SessionId>>,
}

#[async_trait]
impl SessionStore for Corrupting {
    async fn create(&self, _: &Record) -> Result<(), Error> {
        Ok(())
    }
    async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
        Err(Error::corrupt("unexpected end of JSON"))
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        Ok(())
    }
    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.deleted.lock().unwrap().push(id.clone());
        Ok(())
    }
}

#[tokio::test]
async fn corrupt_data_gives_an_empty_session_and_is_never_deleted_on_a_read() {
    let store = Arc::new(Corrupting::default());
    let sessions = SessionManager::new(Arc::clone(&store));
    let id = SessionId::generate();
    let session = sessions.load([format!("sessionid={id}")]);
    assert_eq!(session.len().await.unwrap(), 0);
    assert_eq!(
        session.id().await.unwrap(),
        None,
        "a corrupt record's ID is not adopted"
    );
    assert_eq!(
        *store.deleted.lock().unwrap(),
        [],
        "a read deleted the corrupt record"
    );
    let outcome = sessions.finish(&session, 200).await.unwrap();
    assert!(is_removal(&outcome.set_cookie.unwrap()));
}

#[tokio::test]
async fn duplicate_cookies_pick_the_first_well_formed_id() {
    let h = harness();
    let cookie = h.existing().await;
    let header = format!("sessionid=bogus; {cookie}; sessionid=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    let session = h.sessions.load([header.as_str()]);
    assert_eq!(session.get::<i32>("a").await.unwrap(), Some(1));
}

#[test]
fn clock_is_shared_by_clones() {
    let clock = ManualClock::default();
    let other = clock.clone();
    clock.advance(Duration::seconds(5));
    assert_eq!(clock.now(), other.now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_writers_all_land_without_an_error() {
    let h = harness();
    let cookie = h.existing().await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let sessions = h.sessions.clone();
            let cookie = cookie.clone();
            tokio::spawn(async move {
                let session = sessions.load([cookie.as_str()]);
                session.insert(format!("k{i}"), i).await?;
                sessions.finish(&session, 200).await
            })
        })
        .collect();
    for task in tasks {
        let outcome = task.await.unwrap().expect("a concurrent write is no error");
        assert_eq!(pair(&outcome.set_cookie.unwrap()), cookie);
    }
    let record = h.stored(&cookie).await.unwrap();
    for i in 0..32 {
        assert_eq!(record.data.get(&format!("k{i}")), Some(&json!(i)), "k{i}");
    }
}

#[tokio::test]
async fn after_a_merge_the_cookie_follows_the_merged_expiry() {
    let h = harness();
    let cookie = h.existing().await;
    let first = h.sessions.load([cookie.as_str()]);
    let second = h.sessions.load([cookie.as_str()]);
    first.set_expiry(Expiry::Seconds(60)).await.unwrap();
    second.insert("y", 2).await.unwrap();
    h.sessions.finish(&first, 200).await.unwrap();
    let outcome = h.sessions.finish(&second, 200).await.unwrap();
    let set_cookie = outcome.set_cookie.unwrap();
    assert!(set_cookie.contains("Max-Age=60;"), "{set_cookie}");
    let record = h.stored(&cookie).await.unwrap();
    assert_eq!(record.expires_at, h.clock.now() + Duration::seconds(60));
    assert_eq!(record.data.get("y"), Some(&json!(2)));
}

/// A versioned store whose every save loses the race.
#[derive(Debug, Default)]
struct AlwaysLosing {
    inner: MemoryStore,
    saves: AtomicUsize,
}

#[async_trait]
impl SessionStore for AlwaysLosing {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        self.inner.create(record).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        self.inner.load(id).await
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        Err(Error::version_changed())
    }
    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.inner.delete(id).await
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_versioned(true)
    }
}

#[tokio::test]
async fn past_the_conflict_window_the_other_writer_wins_without_an_error() {
    let store = Arc::new(AlwaysLosing::default());
    let sessions = SessionManager::new(Arc::clone(&store))
        .with_config(Config::default().with_conflict_window(std::time::Duration::from_millis(30)))
        .unwrap();
    let session = sessions.load(None::<&str>);
    session.insert("a", 1).await.unwrap();
    let cookie = pair(
        &sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap(),
    );
    let session = sessions.load([cookie.as_str()]);
    session.insert("b", 2).await.unwrap();
    let started = std::time::Instant::now();
    let outcome = sessions.finish(&session, 200).await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(30));
    assert!(store.saves.load(Ordering::SeqCst) > 1, "it kept merging");
    assert_eq!(pair(&outcome.set_cookie.unwrap()), cookie);
}

#[tokio::test]
async fn a_value_no_store_could_read_back_is_refused_at_insert() {
    let h = harness();
    let cookie = h.existing().await;
    let session = h.sessions.load([cookie.as_str()]);
    let mut deep = json!("leaf");
    for _ in 0..crate::record::MAX_DEPTH {
        deep = json!({ "d": deep });
    }
    session.insert("deepest", &deep).await.unwrap();
    let too_deep = json!([deep]);
    let err = session.insert("too_deep", &too_deep).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Value);
    assert!(err.to_string().contains("JSON"), "{err}");
    let err = session
        .extend([("ok", json!(1)), ("too_deep", too_deep.clone())])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Value);
    assert!(session.get_or_insert("too_deep", too_deep).await.is_err());
    assert_eq!(session.keys().await.unwrap(), ["a", "deepest"]);
    h.sessions.finish(&session, 200).await.unwrap();
    let record = h.stored(&cookie).await.unwrap();
    let blob = record.encode().unwrap();
    let back = Record::decode(record.id.clone(), &blob).unwrap();
    assert_eq!(
        back.data.get("deepest"),
        Some(&deep),
        "the deepest value reads back"
    );
}
