//! What the adapters' unit tests share: a log capture, the cookies and the
//! store error they feed their header and error code, and the assertions on
//! what gets logged. Dev-only: each adapter's `lib.rs` includes this file
//! with `#[cfg(test)] #[path]`; no crate ships it.
// The cookie helpers serve the adapters with a header step of their own
// (actix, rocket); those on the `http` crate use core's `Outcome::apply_to`,
// tested in core.
#![allow(dead_code)]

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use session_core::Config;

/// A session ID the tests put in cookies; no log may hold it.
pub(crate) const ID: &str = "abcdefghijklmnopqrstuvwxyz012345";

/// Runs `f` with a subscriber that records every event at every level;
/// returns what it wrote.
pub(crate) fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer(Arc::default());
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

/// Settings with a cookie domain holding a newline, and the `Set-Cookie`
/// value they render: a value no header can carry.
pub(crate) fn unsendable_cookie() -> (Config, String) {
    let config = Config::default().with_cookie_domain(Some("exa\nmple.com".to_owned()));
    (
        config,
        format!("sessionid={ID}; Domain=exa\nmple.com; Path=/"),
    )
}

/// A `Set-Cookie` value any header can carry.
pub(crate) fn valid_cookie() -> String {
    format!("sessionid={ID}; Path=/")
}

/// Asserts that `log` holds the error for [`unsendable_cookie`]: at
/// `ERROR`, saying which settings to check, naming the domain, never the
/// session ID.
#[track_caller]
pub(crate) fn assert_unsendable_cookie_logged(log: &str) {
    assert!(log.contains("ERROR"), "{log}");
    assert!(
        log.contains("check the session cookie's name, path and domain settings"),
        "{log}"
    );
    assert!(
        log.contains(r#"cookie_domain=Some("exa\nmple.com")"#),
        "{log}"
    );
    assert!(!log.contains(ID), "the log holds the session ID: {log}");
}

/// An `Unavailable` error whose cause (a pool error) does not print its own
/// cause, a refused connection that names the host.
pub(crate) fn pool_timed_out() -> session_core::Error {
    #[derive(Debug)]
    struct PoolTimedOut(io::Error);
    impl fmt::Display for PoolTimedOut {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("pool timed out after 5 s")
        }
    }
    impl std::error::Error for PoolTimedOut {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    session_core::Error::unavailable(PoolTimedOut(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        "connection refused by db.internal:5432",
    )))
}

/// Asserts that `log` holds the error response for [`pool_timed_out`]: its
/// kind, its status and its whole cause chain.
#[track_caller]
pub(crate) fn assert_store_error_logged(log: &str) {
    assert!(log.contains("kind=Unavailable"), "{log}");
    assert!(log.contains("status=503"), "{log}");
    assert!(
        log.contains(
            "session store unavailable: pool timed out after 5 s: \
             connection refused by db.internal:5432"
        ),
        "{log}"
    );
}
