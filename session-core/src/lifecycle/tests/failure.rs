//! The failure policy of `finish`, hostile configuration and application
//! input, and Django's authentication rules: one rule per test.

use super::*;
use crate::SUSPICIOUS_SESSION_TARGET;
use crate::test_log::Capture;

// ---- a renewal nobody asked for never breaks a response ----

#[rstest]
#[case::load_fails("load")]
#[case::touch_fails("touch")]
#[tokio::test]
async fn an_untouched_route_with_save_every_request_survives_a_store_failure(
    #[case] failing: &'static str,
) {
    let h = harness_with(Config::default().with_save_every_request(true));
    let cookie = h.existing().await;
    h.store.fail(failing);
    let outcome = h
        .request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .expect("an untouched route must not fail because the renewal failed");
    assert_eq!(
        outcome,
        Outcome::default(),
        "answered as if sessions were off"
    );
}

#[tokio::test]
async fn a_read_only_route_with_save_every_request_survives_a_failed_renewal() {
    let h = harness_with(Config::default().with_save_every_request(true));
    let cookie = h.existing().await;
    h.store.fail("touch");
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.get::<i64>("a").await.map(drop)
        })
        .await
        .unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert!(
        outcome.vary_cookie,
        "the response still depended on the session"
    );
}

#[tokio::test]
async fn a_failed_renewal_is_logged_with_its_cause() {
    let capture = Capture::default();
    let _guard = capture.install();
    let h = harness_with(Config::default().with_save_every_request(true));
    let cookie = h.existing().await;
    h.store.fail("touch");
    h.request(Some(&cookie), 200, |_| async { Ok(()) })
        .await
        .unwrap();
    let text = capture.all_text();
    assert!(text.contains("touch failed on purpose"), "{text}");
    assert!(text.contains("Unavailable"), "the kind is logged: {text}");
}

#[tokio::test]
async fn a_change_that_cannot_be_saved_still_fails_the_request() {
    let h = harness_with(Config::default().with_save_every_request(true));
    let cookie = h.existing().await;
    h.store.fail("save");
    let error = h
        .request(
            Some(&cookie),
            200,
            |s| async move { s.insert("b", 2).await },
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
}

// ---- a logout whose delete failed does not pretend to have worked ----

#[tokio::test]
async fn a_logout_whose_delete_failed_is_retried_at_finish() {
    let h = harness();
    let cookie = h.existing().await;
    let session = h.sessions.load([cookie.as_str()]);
    h.store.fail("delete");
    assert!(session.logout().await.is_err());
    h.store.heal();
    let outcome = h.sessions.finish(&session, 200).await.unwrap();
    assert!(is_removal(&outcome.set_cookie.unwrap()));
    assert_eq!(
        h.stored(&cookie).await,
        None,
        "the retry deleted the record"
    );
}

#[tokio::test]
async fn a_logout_that_keeps_failing_fails_the_response_even_if_the_handler_ignored_it() {
    let h = harness();
    let cookie = h.existing().await;
    h.store.fail("delete");
    let error = h
        .request(Some(&cookie), 200, |s| async move {
            // A careless handler that ignores the error.
            let _ = s.logout().await;
            Ok(())
        })
        .await
        .expect_err("the record survived: the logout must not look successful");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    h.store.heal();
    assert!(
        h.stored(&cookie).await.is_some(),
        "the record is still there, and the client was not told otherwise"
    );
    assert_eq!(
        h.store.calls().iter().filter(|c| **c == "delete").count(),
        2,
        "tried at logout and retried at finish"
    );
}

#[tokio::test]
async fn a_failed_logout_is_retried_even_on_a_5xx() {
    let h = harness();
    let cookie = h.existing().await;
    let session = h.sessions.load([cookie.as_str()]);
    h.store.fail("delete");
    assert!(session.flush().await.is_err());
    h.store.heal();
    let outcome = h.sessions.finish(&session, 500).await.unwrap();
    assert_eq!(outcome.set_cookie, None, "a 5xx sets no cookie");
    assert_eq!(h.stored(&cookie).await, None);
}

// ---- a rotation whose old-record delete failed ----

#[tokio::test]
async fn a_login_whose_old_anonymous_record_survives_still_sends_the_new_cookie() {
    let h = harness();
    let cookie = h.existing().await;
    h.store.fail("delete");
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.login("ada", "hash").await
        })
        .await
        .expect("the new record exists; the old one holds no login");
    let new = pair(&outcome.set_cookie.unwrap());
    assert_ne!(new, cookie);
    h.store.heal();
    let stored = h.stored(&new).await.unwrap();
    assert_eq!(stored.data.get("_auth_user_id"), Some(&json!("ada")));
    let old = h.stored(&cookie).await.unwrap();
    assert_eq!(
        old.data.get("_auth_user_id"),
        None,
        "the old record holds no login"
    );
}

#[tokio::test]
async fn a_rotation_of_a_logged_in_session_that_cannot_delete_the_old_record_fails() {
    let h = harness();
    let login = h
        .request(None, 200, |s| async move { s.login("ada", "hash").await })
        .await
        .unwrap();
    let cookie = pair(&login.set_cookie.unwrap());
    h.store.fail("delete");
    let error = h
        .request(Some(&cookie), 200, |s| async move { s.cycle_id().await })
        .await
        .expect_err("a known authenticated ID would stay alive");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    h.store.heal();
    assert!(
        h.stored(&cookie).await.is_some(),
        "the old cookie still works"
    );
}

// ---- corrupt records ----

#[tokio::test]
async fn a_corrupt_record_is_reported_once_on_the_suspicious_target_without_its_id() {
    let capture = Capture::default();
    let _guard = capture.install();
    let store = Arc::new(Corrupting::default());
    let sessions = SessionManager::new(Arc::clone(&store));
    let id = SessionId::generate();
    for _ in 0..3 {
        let session = sessions.load([format!("sessionid={id}")]);
        assert_eq!(session.len().await.unwrap(), 0);
        sessions.finish(&session, 200).await.unwrap();
    }
    let warnings = capture.on(SUSPICIOUS_SESSION_TARGET);
    assert_eq!(warnings.len(), 1, "once per record: {warnings:?}");
    assert!(
        warnings[0].contains("unexpected end of JSON"),
        "{warnings:?}"
    );
    let other = SessionId::generate();
    let session = sessions.load([format!("sessionid={other}")]);
    session.len().await.unwrap();
    assert_eq!(
        capture.on(SUSPICIOUS_SESSION_TARGET).len(),
        2,
        "another record"
    );
    let text = capture.all_text();
    assert!(!text.contains(id.as_str()) && !text.contains(other.as_str()));
    assert!(store.deleted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_write_over_a_corrupt_record_gets_a_fresh_id_and_leaves_the_record() {
    let store = Arc::new(Corrupting::default());
    let sessions = SessionManager::new(Arc::clone(&store));
    let id = SessionId::generate();
    let session = sessions.load([format!("sessionid={id}")]);
    session.insert("a", 1).await.unwrap();
    let outcome = sessions.finish(&session, 200).await.unwrap();
    assert_ne!(id_of(&outcome.set_cookie.unwrap()), id);
    assert!(store.deleted.lock().unwrap().is_empty());
}

// ---- bounded input ----

#[tokio::test]
async fn a_session_over_the_size_limit_is_refused_before_the_store_is_called() {
    let h = harness_with(Config::default().with_max_session_size(64));
    let cookie = h.existing().await;
    h.store.reset_calls();
    let error = h
        .request(Some(&cookie), 200, |s| async move {
            s.insert("big", "x".repeat(100)).await
        })
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert_eq!(error.http_status(), 413);
    assert!(error.to_string().contains("64"), "{error}");
    assert_eq!(h.store.calls(), ["load"], "no write reached the store");
    assert_eq!(h.stored(&cookie).await.unwrap().data.get("big"), None);
    // A new session too.
    let error = h
        .request(None, 200, |s| async move {
            s.insert("big", "x".repeat(100)).await
        })
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert_eq!(h.store.calls(), ["load"]);
}

#[tokio::test]
async fn a_session_at_the_size_limit_is_saved() {
    // {"a":1} is 7 bytes.
    let h = harness_with(Config::default().with_max_session_size(7));
    let outcome = h
        .request(None, 200, |s| async move { s.insert("a", 1).await })
        .await
        .unwrap();
    assert!(outcome.set_cookie.is_some());
}

#[rstest]
#[case::in_overflows(Expiry::In(Duration::MAX))]
#[case::at_past_the_last_second(Expiry::At(crate::expiry::MAX_EXPIRY + Duration::milliseconds(500)))]
#[case::at_negative_year(Expiry::At(time::macros::datetime!(-0001-06-01 0:00 UTC)))]
#[case::seconds_overflow(Expiry::Seconds(i64::MAX))]
#[tokio::test]
async fn an_unrepresentable_expiry_is_an_error_and_changes_nothing(#[case] expiry: Expiry) {
    let h = harness();
    let cookie = h.existing().await;
    let session = h.sessions.load([cookie.as_str()]);
    session.set_expiry(Expiry::Seconds(60)).await.unwrap();
    let error = session.set_expiry(expiry).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ExpiryOutOfRange);
    assert_eq!(session.expiry().await.unwrap(), Expiry::Seconds(60));
    let outcome = h.sessions.finish(&session, 200).await.unwrap();
    assert!(outcome.set_cookie.unwrap().contains("Max-Age=60"));
}

#[tokio::test]
async fn a_foreign_huge_expiry_is_clamped_to_what_stores_hold() {
    let h = harness();
    let id = SessionId::generate();
    let mut data = SessionData::new();
    data.insert("_session_expiry".into(), json!(i64::MAX));
    h.store
        .inner
        .create(&Record::new(
            id.clone(),
            data,
            h.clock.now() + Duration::days(1),
        ))
        .await
        .unwrap();
    let cookie = format!("sessionid={id}");
    let outcome = h
        .request(
            Some(&cookie),
            200,
            |s| async move { s.insert("a", 1).await },
        )
        .await
        .unwrap();
    assert!(
        outcome
            .set_cookie
            .unwrap()
            .contains("Expires=Fri, 31 Dec 9999")
    );
    assert_eq!(
        h.stored(&cookie).await.unwrap().expires_at,
        crate::expiry::MAX_EXPIRY
    );
}

#[test]
fn an_invalid_config_is_refused_by_the_manager() {
    let error = SessionManager::new(MemoryStore::new())
        .with_config(Config::default().with_cookie_name("__Host-sid"))
        .unwrap_err();
    assert!(error.to_string().contains("with_cookie_secure(true)"));
    assert!(
        SessionManager::new(MemoryStore::new())
            .with_config(Config::production())
            .is_ok()
    );
}

#[test]
fn store_errors_report_their_cause_chain() {
    let error = Error::unavailable(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection refused (127.0.0.1:6390); check that Redis runs there",
    ));
    assert_eq!(
        error.report(),
        "session store unavailable: connection refused (127.0.0.1:6390); check that Redis runs there"
    );
    assert_eq!(
        error.public_message(),
        "session store unavailable; try again later"
    );
}

// ---- Django's authentication rules ----

async fn logged_in(h: &Harness, hash: &str) -> String {
    let hash = hash.to_owned();
    let outcome = h
        .request(None, 200, |s| async move {
            s.insert("cart", ["apple"]).await?;
            s.login("ada", &hash).await
        })
        .await
        .unwrap();
    pair(&outcome.set_cookie.unwrap())
}

#[tokio::test]
async fn update_auth_hash_rotates_keeps_the_data_and_stores_the_new_hash() {
    let h = harness();
    let cookie = logged_in(&h, "old").await;
    let outcome = h
        .request(Some(&cookie), 200, |s| async move {
            s.update_auth_hash("new").await
        })
        .await
        .unwrap();
    let new = pair(&outcome.set_cookie.unwrap());
    assert_ne!(new, cookie, "the ID rotates");
    assert_eq!(h.stored(&cookie).await, None, "the old ID is dead");
    let record = h.stored(&new).await.unwrap();
    assert_eq!(record.data.get("cart"), Some(&json!(["apple"])));
    assert_eq!(record.data.get("_auth_user_id"), Some(&json!("ada")));
    assert_eq!(record.data.get("_auth_user_hash"), Some(&json!("new")));
    let session = h.sessions.load([new.as_str()]);
    assert!(session.verify_auth_hash("new").await.unwrap());
}

#[tokio::test]
async fn verify_auth_hash_accepts_the_current_hash_and_changes_nothing() {
    let h = harness();
    let cookie = logged_in(&h, "hash-1").await;
    let session = h.sessions.load([cookie.as_str()]);
    assert!(session.verify_auth_hash("hash-1").await.unwrap());
    assert!(!session.is_modified().await);
    assert_eq!(
        session.auth_user_id().await.unwrap().as_deref(),
        Some("ada")
    );
    assert_eq!(
        session.auth_hash().await.unwrap().as_deref(),
        Some("hash-1")
    );
}

#[rstest]
#[case::other_hash("hash-2")]
#[case::prefix("hash-")]
#[case::empty("")]
#[tokio::test]
async fn verify_auth_hash_flushes_a_session_whose_hash_changed(#[case] current: &str) {
    let h = harness();
    let cookie = logged_in(&h, "hash-1").await;
    let session = h.sessions.load([cookie.as_str()]);
    assert!(!session.verify_auth_hash(current).await.unwrap());
    assert_eq!(session.auth_user_id().await.unwrap(), None);
    assert_eq!(session.len().await.unwrap(), 0);
    assert_eq!(h.stored(&cookie).await, None, "deleted at once");
    let outcome = h.sessions.finish(&session, 200).await.unwrap();
    assert!(is_removal(&outcome.set_cookie.unwrap()));
}

#[tokio::test]
async fn verify_auth_hash_flushes_a_session_stored_without_a_hash() {
    let h = harness();
    let cookie = logged_in(&h, "").await;
    let session = h.sessions.load([cookie.as_str()]);
    assert!(!session.verify_auth_hash("anything").await.unwrap());
    assert_eq!(h.stored(&cookie).await, None);
}

#[tokio::test]
async fn verify_auth_hash_leaves_an_anonymous_session_alone() {
    let h = harness();
    let cookie = h.existing().await;
    let session = h.sessions.load([cookie.as_str()]);
    assert!(!session.verify_auth_hash("x").await.unwrap());
    assert_eq!(session.get::<i64>("a").await.unwrap(), Some(1));
    assert!(!session.is_modified().await);
    assert!(h.stored(&cookie).await.is_some());
}

#[rstest]
#[case("_auth_user_id")]
#[case("_auth_user_hash")]
#[tokio::test]
async fn the_auth_keys_stay_unwritable_through_the_dict_api(#[case] key: &str) {
    let h = harness();
    let cookie = logged_in(&h, "hash").await;
    let session = h.sessions.load([cookie.as_str()]);
    assert_eq!(
        session.insert(key, "mallory").await.unwrap_err().kind(),
        ErrorKind::ReservedKey
    );
    assert_eq!(
        session.remove(key).await.unwrap_err().kind(),
        ErrorKind::ReservedKey
    );
    assert_eq!(
        session.auth_user_id().await.unwrap().as_deref(),
        Some("ada")
    );
}
