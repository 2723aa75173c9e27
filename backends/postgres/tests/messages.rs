//! Each way of getting the connection wrong gives its own message, naming
//! what to check (host and port, database, user, URL, timeout) and never
//! the password.

mod common;

use std::time::Duration;

use common::{START_HINT, Silent, connect_with, free_port, lock_sessions, url};
use session_core::ErrorKind;
use session_store_postgres::{PostgresOptions, PostgresStore};
use sqlx::postgres::PgConnectOptions;

const PASSWORD: &str = "pw-Zq8x3";

/// The shared server's host and port, e.g. `127.0.0.1:5432`.
fn server() -> (String, u16) {
    let options: PgConnectOptions = url().parse().expect("SESSION_TEST_POSTGRES_URL");
    (options.get_host().to_owned(), options.get_port())
}

struct Case {
    what: &'static str,
    url: String,
    kind: ErrorKind,
    needles: Vec<String>,
}

fn cases(silent_port: u16, refused_port: u16) -> Vec<Case> {
    let (host, port) = server();
    let at = format!("{host}:{port}");
    let database = url()
        .rsplit('/')
        .next()
        .unwrap_or("test")
        .split('?')
        .next()
        .unwrap_or("test")
        .to_owned();
    vec![
        Case {
            what: "wrong user",
            url: format!("postgres://no_such_user_x7:{PASSWORD}@{at}/{database}"),
            kind: ErrorKind::Backend,
            needles: vec![
                at.clone(),
                "no_such_user_x7".into(),
                "user".into(),
                "pg_hba.conf".into(),
            ],
        },
        Case {
            what: "missing database",
            url: format!("postgres://postgres:{PASSWORD}@{at}/no_such_db_x7"),
            kind: ErrorKind::Backend,
            needles: vec![at.clone(), "no_such_db_x7".into(), "createdb".into()],
        },
        Case {
            what: "empty URL",
            url: "  ".into(),
            kind: ErrorKind::Backend,
            needles: vec!["URL is empty".into(), "postgres://".into()],
        },
        Case {
            what: "malformed URL",
            url: format!("postgres://postgres:{PASSWORD}@{host}:54x32/{database}"),
            kind: ErrorKind::Backend,
            needles: vec!["could not be parsed".into(), "invalid port number".into()],
        },
        Case {
            what: "not a postgres URL",
            url: format!("mysql://root:{PASSWORD}@{host}/{database}"),
            kind: ErrorKind::Backend,
            needles: vec!["must start with postgres://".into(), "mysql://".into()],
        },
        Case {
            what: "no scheme",
            url: format!("{host}:{port}/{database}"),
            kind: ErrorKind::Backend,
            needles: vec!["must start with postgres://".into()],
        },
        Case {
            what: "refused connection",
            url: format!("postgres://postgres:{PASSWORD}@127.0.0.1:{refused_port}/{database}"),
            kind: ErrorKind::Unavailable,
            needles: vec![format!("127.0.0.1:{refused_port}"), "refused".into()],
        },
        Case {
            what: "server that never answers",
            url: format!("postgres://postgres:{PASSWORD}@127.0.0.1:{silent_port}/{database}"),
            kind: ErrorKind::Unavailable,
            needles: vec![
                format!("127.0.0.1:{silent_port}"),
                "acquire timeout".into(),
                "300ms".into(),
            ],
        },
    ]
}

#[tokio::test]
async fn each_connection_mistake_says_what_to_check_and_never_the_password() {
    let silent = Silent::start();
    let refused_port = free_port();
    let options = PostgresOptions::default().with_acquire_timeout(Duration::from_millis(300));
    let mut wrong = Vec::new();
    let mut messages: Vec<(&str, String)> = Vec::new();
    for case in cases(silent.port(), refused_port) {
        match PostgresStore::connect_with(&case.url, options.clone()).await {
            Ok(_) => wrong.push(format!("{}: connected", case.what)),
            Err(e) => {
                let message = e.report();
                let debug = format!("{e:?}");
                if e.kind() != case.kind {
                    wrong.push(format!(
                        "{}: {:?}, not {:?}: {message}",
                        case.what,
                        e.kind(),
                        case.kind
                    ));
                }
                for needle in &case.needles {
                    if !message.contains(needle.as_str()) {
                        wrong.push(format!("{}: lacks {needle:?}: {message}", case.what));
                    }
                }
                if message.contains(PASSWORD) || debug.contains(PASSWORD) {
                    wrong.push(format!(
                        "{}: shows the password: {message} / {debug}",
                        case.what
                    ));
                }
                eprintln!("{}: {message}", case.what);
                messages.push((case.what, message));
            }
        }
    }
    for (i, (a, first)) in messages.iter().enumerate() {
        for (b, second) in messages.iter().skip(i + 1) {
            if first == second {
                wrong.push(format!("{a} and {b} print the same message: {first}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n(a server at {} is needed for the first two: {START_HINT})",
        wrong.join("\n"),
        url()
    );
}

/// A statement that runs out of time names the table and the timeout.
#[tokio::test]
async fn a_statement_timeout_names_the_table_and_the_timeout() {
    let schema = common::fresh_schema("msg_timeout");
    let options = PostgresOptions::default().with_statement_timeout(Duration::from_millis(400));
    let store = connect_with(options)
        .await
        .with_table(&schema, "sessions")
        .unwrap();
    store.migrate().await.unwrap();
    let admin = common::admin().await;
    let lock = lock_sessions(&admin, &schema).await;
    let error = session_core::SessionStore::load(&store, &session_core::SessionId::generate())
        .await
        .unwrap_err();
    lock.rollback().await.unwrap();
    common::drop_schema(&admin, &schema).await;
    let message = error.report();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{message}");
    for needle in [schema.as_str(), "sessions", "statement", "timeout", "lock"] {
        assert!(message.contains(needle), "lacks {needle:?}: {message}");
    }
}
