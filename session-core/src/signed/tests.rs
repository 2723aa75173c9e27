use serde_json::json;
use time::Duration;
use time::macros::datetime;

use super::*;
use crate::{Config, ErrorKind, Expiry, ManualClock, SessionManager};

const NOW: OffsetDateTime = datetime!(2030-06-15 12:00 UTC);

fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes(&[byte; 64]).unwrap()
}

fn manager(cookies: SignedCookies) -> (SessionManager, ManualClock) {
    let clock = ManualClock::new(NOW);
    (
        SessionManager::signed_cookies(cookies).with_clock(clock.clone()),
        clock,
    )
}

fn signed(byte: u8) -> SessionManager {
    manager(SignedCookies::new(key(byte))).0
}

fn encrypted(byte: u8) -> SessionManager {
    manager(SignedCookies::new(key(byte)).with_encryption(true)).0
}

/// The `name=value` pair of a `Set-Cookie` value.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The value of a `Set-Cookie` value.
fn value(set_cookie: &str) -> String {
    pair(set_cookie).split_once('=').unwrap().1.to_owned()
}

/// Issues a session holding `{"a": 1, "secret": "hunter2-marker"}`;
/// returns the whole `Set-Cookie`.
async fn issue(sessions: &SessionManager) -> String {
    let session = sessions.load(Vec::<&str>::new());
    session.insert("a", 1).await.unwrap();
    session.insert("secret", "hunter2-marker").await.unwrap();
    let outcome = sessions.finish(&session, 200).await.unwrap();
    outcome.set_cookie.expect("a new session sets its cookie")
}

/// The data a request carrying `cookie_value` sees.
async fn seen(sessions: &SessionManager, cookie_value: &str) -> serde_json::Value {
    let header = format!("sessionid={cookie_value}");
    let session = sessions.load([header.as_str()]);
    let data = session.data().await.unwrap();
    serde_json::Value::Object((*data).clone())
}

fn both() -> [SessionManager; 2] {
    [signed(1), encrypted(1)]
}

#[tokio::test]
async fn a_session_round_trips_through_its_cookie() {
    for sessions in both() {
        let set_cookie = issue(&sessions).await;
        assert!(
            set_cookie.contains("; HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600; Expires="),
            "{set_cookie}"
        );
        assert_eq!(
            seen(&sessions, &value(&set_cookie)).await,
            json!({"a": 1, "secret": "hunter2-marker"})
        );
    }
}

#[tokio::test]
async fn a_flipped_byte_anywhere_gives_an_empty_session() {
    for sessions in both() {
        let original = value(&issue(&sessions).await);
        for at in 0..original.len() {
            let mut bytes = original.clone().into_bytes();
            // Another byte of the same (base64) alphabet, so only the
            // signature stops it, not the parser.
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered == original {
                continue;
            }
            assert_eq!(
                seen(&sessions, &tampered).await,
                json!({}),
                "byte {at} of {} flipped",
                original.len()
            );
        }
    }
}

#[tokio::test]
async fn a_truncated_or_extended_cookie_gives_an_empty_session() {
    for sessions in both() {
        let original = value(&issue(&sessions).await);
        for len in 0..original.len() {
            assert_eq!(
                seen(&sessions, &original[..len]).await,
                json!({}),
                "truncated to {len}"
            );
        }
        assert_eq!(seen(&sessions, &format!("{original}A")).await, json!({}));
    }
}

#[tokio::test]
async fn a_cookie_sealed_with_another_key_gives_an_empty_session() {
    let forged = value(&issue(&signed(2)).await);
    assert_eq!(seen(&signed(1), &forged).await, json!({}));
    let forged = value(&issue(&encrypted(2)).await);
    assert_eq!(seen(&encrypted(1), &forged).await, json!({}));
}

#[tokio::test]
async fn signed_and_encrypted_cookies_are_not_interchangeable() {
    let signed_value = value(&issue(&signed(1)).await);
    assert_eq!(seen(&encrypted(1), &signed_value).await, json!({}));
    let encrypted_value = value(&issue(&encrypted(1)).await);
    assert_eq!(seen(&signed(1), &encrypted_value).await, json!({}));
}

#[tokio::test]
async fn a_previous_key_is_accepted_and_the_next_write_uses_the_new_key() {
    for encrypt in [false, true] {
        let (old, _) = manager(SignedCookies::new(key(1)).with_encryption(encrypt));
        let issued_under_old = value(&issue(&old).await);
        let (rotated, _) = manager(
            SignedCookies::new(key(2))
                .with_previous_keys([key(1)])
                .with_encryption(encrypt),
        );
        assert_eq!(
            seen(&rotated, &issued_under_old).await["a"],
            json!(1),
            "encrypt: {encrypt}"
        );

        let header = format!("sessionid={issued_under_old}");
        let session = rotated.load([header.as_str()]);
        session.insert("b", 2).await.unwrap();
        let resealed = value(
            &rotated
                .finish(&session, 200)
                .await
                .unwrap()
                .set_cookie
                .unwrap(),
        );
        let (new_only, _) = manager(SignedCookies::new(key(2)).with_encryption(encrypt));
        assert_eq!(seen(&new_only, &resealed).await["b"], json!(2));
        assert_eq!(
            seen(&old, &resealed).await,
            json!({}),
            "sealed with the new key"
        );
    }
}

#[tokio::test]
async fn a_removed_key_is_refused() {
    let issued_under_old = value(&issue(&signed(1)).await);
    let (dropped, _) = manager(SignedCookies::new(key(2)).with_previous_keys([key(3)]));
    assert_eq!(seen(&dropped, &issued_under_old).await, json!({}));
}

#[tokio::test]
async fn an_expired_cookie_replayed_gives_an_empty_session() {
    for encrypt in [false, true] {
        let (sessions, clock) = manager(SignedCookies::new(key(1)).with_encryption(encrypt));
        let default_age = value(&issue(&sessions).await);

        let session = sessions.load(Vec::<&str>::new());
        session.insert("a", 1).await.unwrap();
        session.set_expiry(Expiry::Seconds(60)).await.unwrap();
        let one_minute = value(
            &sessions
                .finish(&session, 200)
                .await
                .unwrap()
                .set_cookie
                .unwrap(),
        );

        let session = sessions.load(Vec::<&str>::new());
        session.insert("a", 1).await.unwrap();
        session.set_expiry(Expiry::BrowserClose).await.unwrap();
        let set_cookie = sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap();
        assert!(!set_cookie.contains("Max-Age"), "{set_cookie}");
        let browser_close = value(&set_cookie);

        clock.advance(Duration::seconds(59));
        assert_eq!(seen(&sessions, &one_minute).await["a"], json!(1));
        clock.advance(Duration::seconds(1));
        assert_eq!(
            seen(&sessions, &one_minute).await,
            json!({}),
            "at its expiry"
        );

        clock.set(NOW + Duration::seconds(1_209_599));
        assert_eq!(seen(&sessions, &default_age).await["a"], json!(1));
        assert_eq!(seen(&sessions, &browser_close).await["a"], json!(1));
        clock.advance(Duration::seconds(1));
        assert_eq!(seen(&sessions, &default_age).await, json!({}));
        assert_eq!(
            seen(&sessions, &browser_close).await,
            json!({}),
            "a browser-close session still expires on the server after cookie_age"
        );
    }
}

#[tokio::test]
async fn an_encrypted_payload_is_not_readable_and_a_signed_one_is() {
    let decoded = |value: &str| -> Vec<String> {
        // Every way the value could be read: as is, and each base64
        // decoding of every suffix (the signed form is digest + payload).
        let mut texts = vec![value.to_owned()];
        for start in 0..value.len() {
            for engine in [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::STANDARD_NO_PAD,
            ] {
                if let Ok(bytes) = engine.decode(&value[start..]) {
                    texts.push(String::from_utf8_lossy(&bytes).into_owned());
                }
            }
            if let Ok(bytes) = URL_SAFE_NO_PAD.decode(&value[start..]) {
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        texts
    };
    let private = value(&issue(&encrypted(1)).await);
    assert!(
        decoded(&private).iter().all(|t| !t.contains("hunter2")),
        "the encrypted cookie reveals its data"
    );
    let public = value(&issue(&signed(1)).await);
    assert!(
        decoded(&public)
            .iter()
            .any(|t| t.contains("hunter2-marker")),
        "a signed cookie is readable by the client (documented); the test must see it"
    );
}

#[tokio::test]
async fn a_cookie_past_4096_bytes_is_too_large_and_nothing_is_sent() {
    for sessions in both() {
        let issued = value(&issue(&sessions).await);
        let header = format!("sessionid={issued}");
        let session = sessions.load([header.as_str()]);
        session.insert("big", "x".repeat(4000)).await.unwrap();
        let error = sessions.finish(&session, 200).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TooLarge, "{error}");
        assert_eq!(error.http_status(), 413);
        let Error::TooLarge { size, limit } = error else {
            unreachable!()
        };
        assert!(size > 4096 && limit == 4096, "{size} / {limit}");
        // The browser's cookie still holds the session as it was.
        assert_eq!(seen(&sessions, &issued).await["a"], json!(1));

        // Just under the limit still fits.
        let session = sessions.load(Vec::<&str>::new());
        session.insert("big", "x".repeat(2000)).await.unwrap();
        let set_cookie = sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap();
        assert!(set_cookie.len() <= 4096);
    }
}

#[tokio::test]
async fn cycle_id_changes_the_value_and_keeps_the_data() {
    for sessions in both() {
        let before = value(&issue(&sessions).await);
        let header = format!("sessionid={before}");
        let session = sessions.load([header.as_str()]);
        let old_id = session.id().await.unwrap().unwrap();
        session.cycle_id().await.unwrap();
        let after = value(
            &sessions
                .finish(&session, 200)
                .await
                .unwrap()
                .set_cookie
                .unwrap(),
        );
        assert_ne!(after, before);
        let header = format!("sessionid={after}");
        let next = sessions.load([header.as_str()]);
        assert_ne!(next.id().await.unwrap().unwrap(), old_id, "the nominal ID");
        assert_eq!(
            seen(&sessions, &after).await,
            json!({"a": 1, "secret": "hunter2-marker"})
        );
    }
}

#[tokio::test]
async fn a_write_keeps_the_nominal_id_and_renews_the_cookie() {
    let (sessions, clock) = manager(SignedCookies::new(key(1)));
    let first = value(&issue(&sessions).await);
    let header = format!("sessionid={first}");
    let session = sessions.load([header.as_str()]);
    let id = session.id().await.unwrap();
    session.insert("b", 2).await.unwrap();
    clock.advance(Duration::days(10));
    let second = value(
        &sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap(),
    );
    let header = format!("sessionid={second}");
    assert_eq!(sessions.load([header.as_str()]).id().await.unwrap(), id);
    // Renewed: alive past the first cookie's expiry.
    clock.advance(Duration::days(7));
    assert_eq!(seen(&sessions, &first).await, json!({}));
    assert_eq!(seen(&sessions, &second).await["b"], json!(2));
}

#[tokio::test]
async fn flush_and_logout_send_the_removal_cookie() {
    for sessions in both() {
        let issued = value(&issue(&sessions).await);
        let header = format!("sessionid={issued}");
        let session = sessions.load([header.as_str()]);
        session.flush().await.unwrap();
        let removal = sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap();
        assert!(
            removal.starts_with("sessionid=; ")
                && removal.contains("Max-Age=0")
                && removal.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
            "{removal}"
        );

        let session = sessions.load([header.as_str()]);
        session.login("ada", "h").await.unwrap();
        session.logout().await.unwrap();
        let removal = sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap();
        assert!(removal.starts_with("sessionid=; "), "{removal}");
        // The documented limit: the copied cookie still replays.
        assert_eq!(seen(&sessions, &issued).await["a"], json!(1));
    }
}

#[tokio::test]
async fn a_refused_cookie_on_a_read_is_removed_and_a_write_issues_a_fresh_one() {
    let sessions = signed(1);
    let session = sessions.load(["sessionid=garbage"]);
    assert_eq!(session.get::<i32>("a").await.unwrap(), None);
    let removal = sessions
        .finish(&session, 200)
        .await
        .unwrap()
        .set_cookie
        .unwrap();
    assert!(removal.starts_with("sessionid=; "), "{removal}");

    let session = sessions.load(["sessionid=garbage"]);
    session.insert("a", 1).await.unwrap();
    let fresh = sessions
        .finish(&session, 200)
        .await
        .unwrap()
        .set_cookie
        .unwrap();
    assert_ne!(value(&fresh), "garbage");
    assert_eq!(seen(&sessions, &value(&fresh)).await["a"], json!(1));
}

#[tokio::test]
async fn the_first_cookie_that_verifies_wins() {
    let sessions = signed(1);
    let good = value(&issue(&sessions).await);
    let header = format!("sessionid=bogus; sessionid={good}; sessionid=other");
    let session = sessions.load([header.as_str()]);
    assert_eq!(session.get::<i32>("a").await.unwrap(), Some(1));
}

#[tokio::test]
async fn save_every_request_renews_an_untouched_session() {
    let (sessions, _) = manager(SignedCookies::new(key(1)));
    let sessions = sessions
        .with_config(Config::default().with_save_every_request(true))
        .unwrap();
    let issued = value(&issue(&sessions).await);
    let header = format!("sessionid={issued}");
    let session = sessions.load([header.as_str()]);
    let renewed = sessions.finish(&session, 200).await.unwrap().set_cookie;
    let renewed = renewed.expect("an untouched session is renewed");
    assert_eq!(seen(&sessions, &value(&renewed)).await["a"], json!(1));
}

#[tokio::test]
async fn a_5xx_sends_nothing_and_a_past_expiry_removes_the_cookie() {
    let sessions = signed(1);
    let issued = value(&issue(&sessions).await);
    let header = format!("sessionid={issued}");
    let session = sessions.load([header.as_str()]);
    session.insert("b", 2).await.unwrap();
    assert_eq!(
        sessions.finish(&session, 500).await.unwrap().set_cookie,
        None
    );

    let session = sessions.load([header.as_str()]);
    session
        .set_expiry(Expiry::At(datetime!(2000-01-01 0:00 UTC)))
        .await
        .unwrap();
    let removal = sessions
        .finish(&session, 200)
        .await
        .unwrap()
        .set_cookie
        .unwrap();
    assert!(removal.starts_with("sessionid=; "), "{removal}");
}

#[tokio::test]
async fn the_store_holds_no_record_and_refuses_writes() {
    let sessions = signed(1);
    let store = sessions.store();
    let record = Record::new(SessionId::generate(), SessionData::new(), NOW);
    assert_eq!(
        store.create(&record).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        store.save(&record).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(store.load(&record.id).await.unwrap(), None);
    store.delete(&record.id).await.unwrap();
    assert_eq!(sessions.clear_expired().await.unwrap(), 0);
}

#[test]
fn keys_need_64_bytes_and_never_show_in_debug() {
    let error = SecretKey::from_bytes(&[0u8; 32]).unwrap_err();
    assert_eq!(error.len, 32);
    assert!(error.to_string().contains("at least 64 bytes"), "{error}");
    assert!(SecretKey::from_bytes(&[0u8; 64]).is_ok());

    let generated = SecretKey::generate();
    assert_eq!(generated.bytes().len(), 64);
    assert_ne!(generated.bytes(), SecretKey::generate().bytes());
    let cookies = SignedCookies::new(key(0xab)).with_previous_keys([generated]);
    let debug = format!("{:?}", SessionManager::signed_cookies(cookies));
    assert!(
        debug.contains("SignedCookies { keys: 2, encrypt: false }"),
        "{debug}"
    );
    assert!(
        !debug.to_ascii_lowercase().contains("ab, ab") && !debug.contains("171"),
        "{debug}"
    );
}

/// A value the application signed for another purpose with the same key
/// (another signed cookie, whose MAC covers only its value) must never
/// pass as a session: the engine seals with a key derived for sessions.
#[tokio::test]
async fn a_value_signed_with_the_raw_key_elsewhere_is_refused() {
    let sessions = signed(1);
    // A payload the client chose, signed by some other part of the app
    // under the very same key.
    let forged = serde_json::to_vec(&json!({
        "id": SessionId::generate().as_str(),
        "iat": crate::record::unix_ms(NOW),
        "exp": crate::record::unix_ms(NOW + Duration::days(1)),
        "data": {"_auth_user_id": "1"},
    }))
    .unwrap();
    let mut jar = CookieJar::new();
    jar.signed_mut(&Key::from(&[1u8; 64]))
        .add(Cookie::new("sessionid", URL_SAFE_NO_PAD.encode(&forged)));
    let foreign = jar.get("sessionid").unwrap().value().to_owned();
    assert_eq!(seen(&sessions, &foreign).await, json!({}));

    // The same payload sealed by the engine is accepted, so the refusal
    // above is the key separation, not a malformed payload.
    let sealed = SignedCookies::new(key(1))
        .seal("sessionid", forged)
        .unwrap();
    assert_eq!(
        seen(&sessions, &sealed).await,
        json!({"_auth_user_id": "1"})
    );
}
