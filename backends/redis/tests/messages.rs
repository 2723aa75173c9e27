//! Error messages that say what to check, one per cause, naming the server
//! and never the password. Tried as a new user would: nothing listening, a
//! server that hangs, an empty or malformed URL, a server with a password
//! and a URL without it or with the wrong one.

use std::time::Duration;

use session_core::{Error, ErrorKind};
use session_store_redis::{RedisOptions, RedisStore};

mod common;

const PASSWORD: &str = "s3cret-Pa55word";
const WRONG: &str = "hunter2-wrong";

/// The whole message a log line would show ([`Error::report`], as core
/// logs it), and the Debug form, which also must not leak the password.
fn shown(err: &Error) -> String {
    format!("{}\n{err:?}", err.report())
}

async fn fails(url: &str) -> Error {
    RedisStore::connect_with(
        url,
        RedisOptions::default().with_connect_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap_err()
}

fn assert_says(err: &Error, kind: ErrorKind, words: &[&str]) {
    let text = shown(err);
    assert_eq!(err.kind(), kind, "{text}");
    for w in words {
        assert!(text.contains(w), "the message should say {w:?}: {text}");
    }
    for secret in [PASSWORD, WRONG] {
        assert!(
            !text.contains(secret),
            "the message shows a password: {text}"
        );
    }
}

#[tokio::test]
async fn refused_names_host_and_port() {
    let port = common::free_port();
    let err = fails(&format!("redis://127.0.0.1:{port}")).await;
    assert_says(
        &err,
        ErrorKind::Unavailable,
        &[&format!("127.0.0.1:{port}"), "refused", "is running"],
    );
}

#[tokio::test]
async fn a_silent_server_is_a_timeout_with_its_deadline() {
    let silent = common::Silent::start();
    let err = fails(&silent.url()).await;
    assert_says(
        &err,
        ErrorKind::Unavailable,
        &[
            &format!("127.0.0.1:{}", silent.port()),
            "connect timeout",
            "500 ms",
        ],
    );
}

#[tokio::test]
async fn an_empty_url_says_it_is_empty() {
    for url in ["", "   "] {
        let err = fails(url).await;
        assert_says(&err, ErrorKind::Backend, &["URL is empty", "redis://"]);
    }
}

#[tokio::test]
async fn a_malformed_url_is_shown_without_its_password() {
    for (url, shown_as) in [
        ("redis://127.0.0.1:notaport", "redis://127.0.0.1:notaport"),
        (
            &format!("redis://user:{PASSWORD}@127.0.0.1:notaport") as &str,
            "redis://user:***@127.0.0.1:notaport",
        ),
        ("not a url", "not a url"),
    ] {
        let err = fails(url).await;
        assert_says(
            &err,
            ErrorKind::Backend,
            &["malformed", shown_as, "expected"],
        );
    }
}

#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn rediss_without_the_tls_feature_is_refused_not_sent_in_clear() {
    let err = fails("rediss://127.0.0.1:6379").await;
    assert_says(&err, ErrorKind::Backend, &["`tls` feature"]);
}

#[tokio::test]
async fn a_missing_password_and_a_wrong_one_say_so_differently() {
    let server = common::Throwaway::start(&["--requirepass", PASSWORD]);
    let host = format!("127.0.0.1:{}", server.port());

    let missing = fails(&server.url()).await;
    assert_says(
        &missing,
        ErrorKind::Backend,
        &[&host, "NOAUTH", "requires a password"],
    );

    let wrong = fails(&format!("redis://:{WRONG}@{host}")).await;
    assert_says(
        &wrong,
        ErrorKind::Backend,
        &[&host, "WRONGPASS", "rejected"],
    );

    let wrong_user = fails(&format!("redis://nobody:{PASSWORD}@{host}")).await;
    assert_says(&wrong_user, ErrorKind::Backend, &[&host, "WRONGPASS"]);

    assert_ne!(missing.report(), wrong.report());

    // The right one works, and so does the store.
    let store = RedisStore::connect(&format!("redis://:{PASSWORD}@{host}"))
        .await
        .unwrap_or_else(|e| panic!("{}", shown(&e)));
    let id = session_core::SessionId::generate();
    assert!(
        session_core::SessionStore::load(&store, &id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!format!("{store:?}").contains(PASSWORD), "{store:?}");
}

#[tokio::test]
async fn a_database_out_of_range_shows_the_servers_reply() {
    let server = common::Throwaway::start(&["--databases", "4"]);
    let err = fails(&format!("{}/9", server.url())).await;
    assert_says(
        &err,
        ErrorKind::Backend,
        &["DB index is out of range", "database number"],
    );
}

#[tokio::test]
async fn every_cause_has_its_own_message() {
    let port = common::free_port();
    let silent = common::Silent::start();
    let server = common::Throwaway::start(&["--requirepass", PASSWORD]);
    let messages = [
        fails(&format!("redis://127.0.0.1:{port}")).await,
        fails(&silent.url()).await,
        fails("").await,
        fails("redis://127.0.0.1:notaport").await,
        fails(&server.url()).await,
        fails(&format!("redis://:{WRONG}@127.0.0.1:{}", server.port())).await,
    ]
    .iter()
    .map(|e| {
        // Without ports and fred's own details in parentheses: only the
        // words the store chose for the cause.
        let mut text = e.report();
        for p in [port, silent.port(), server.port()] {
            text = text.replace(&p.to_string(), "");
        }
        let mut words = String::new();
        let mut depth = 0;
        for c in text.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                c if depth == 0 => words.push(c),
                _ => {}
            }
        }
        words
    })
    .collect::<Vec<_>>();
    for (i, a) in messages.iter().enumerate() {
        for b in messages.iter().skip(i + 1) {
            assert_ne!(a, b, "two causes, one message");
        }
    }
}
