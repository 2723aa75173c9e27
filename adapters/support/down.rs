//! What the three adapters' `tests/store_down.rs` share: a store that is
//! down, and what its requests send and must get back. Dev-only: each test
//! includes this file with `#[path]`; no crate ships it.

use session_core::{Error, Record, SessionId, SessionStore, async_trait};

/// A session cookie of a well-formed ID, so that a read goes to the store.
pub(crate) const COOKIE: &str = "sessionid=abcdefghijklmnopqrstuvwxyz012345";

/// The whole body of a 503 for a store that is down: no host, no cause.
pub(crate) const UNAVAILABLE_BODY: &str = "session store unavailable; try again later";

fn refused() -> Error {
    Error::unavailable(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "could not connect to db.internal:5432: connection refused",
    ))
}

/// Fails every call as a store whose server refuses connections.
#[derive(Debug)]
pub(crate) struct Down;

#[async_trait]
impl SessionStore for Down {
    async fn create(&self, _: &Record) -> Result<(), Error> {
        Err(refused())
    }
    async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
        Err(refused())
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        Err(refused())
    }
    async fn delete(&self, _: &SessionId) -> Result<(), Error> {
        Err(refused())
    }
}
