//! The contract every backend implements.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Error, Record, SessionId};

/// Where sessions live: a small async trait whose methods encode the
/// semantics, so a backend cannot get them wrong quietly.
///
/// Each `MUST`/`SHOULD` sentence below is checked by a case of the
/// `session-conformance` kit, which cites it. Stores never invent IDs (core
/// makes them) and never see an unvalidated one: every ID is a
/// [`SessionId`].
///
/// Implement it with `#[async_trait]`:
///
/// ```
/// use session_core::{async_trait, Capabilities, Error, Record, SessionId, SessionStore};
///
/// #[derive(Debug)]
/// struct Nowhere;
///
/// #[async_trait]
/// impl SessionStore for Nowhere {
///     async fn create(&self, _: &Record) -> Result<(), Error> {
///         Err(Error::unavailable("nowhere"))
///     }
///     async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> { Ok(None) }
///     async fn save(&self, _: &Record) -> Result<(), Error> { Err(Error::NotFound) }
///     async fn delete(&self, _: &SessionId) -> Result<(), Error> { Ok(()) }
/// }
/// ```
#[async_trait]
pub trait SessionStore: fmt::Debug + Send + Sync + 'static {
    /// Inserts a new record.
    ///
    /// # Contract
    ///
    /// - MUST insert only if no record with `record.id` exists, atomically
    ///   (two concurrent creates of one ID: exactly one succeeds).
    /// - MUST return a [`Conflict`](Error::Conflict) error
    ///   ([`Error::id_taken`]) when the ID is taken, and leave the existing
    ///   record untouched; core then retries with a fresh ID.
    /// - An ID whose record has expired counts as free.
    /// - MUST store `data` exactly (every JSON value, unicode, large
    ///   payloads), `expires_at` to at least millisecond precision, and
    ///   `version`.
    async fn create(&self, record: &Record) -> Result<(), Error>;

    /// Fetches a record.
    ///
    /// # Contract
    ///
    /// - MUST return `Ok(None)` for an unknown ID.
    /// - MUST NOT return a record whose `expires_at` has passed.
    /// - MUST return [`Error::Corrupt`] (not a panic, not `None`) when the
    ///   stored bytes cannot be decoded.
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error>;

    /// Replaces the data and expiry of an existing record.
    ///
    /// # Contract
    ///
    /// - MUST update only a record that exists and has not expired; otherwise
    ///   it MUST return [`Error::NotFound`] and write nothing (a session
    ///   deleted by a concurrent logout is never revived).
    /// - A store with [`Capabilities::versioned`] MUST write only if the
    ///   stored version equals `record.version`, then store
    ///   `record.version + 1`; on a mismatch it MUST return
    ///   [`Error::version_changed`] and write nothing. Other stores ignore
    ///   the version.
    async fn save(&self, record: &Record) -> Result<(), Error>;

    /// Removes a record.
    ///
    /// # Contract
    ///
    /// - MUST succeed when the record does not exist (idempotent).
    /// - After it returns, `load` of the ID MUST return `None`.
    async fn delete(&self, id: &SessionId) -> Result<(), Error>;

    /// Moves the expiry of an existing record without rewriting its data.
    ///
    /// # Contract
    ///
    /// - With [`Capabilities::touch`]: MUST set `expires_at` and keep data
    ///   and version; MUST return [`Error::NotFound`] for an unknown or
    ///   expired record.
    /// - Without it: return [`Error::Unsupported`] (the default).
    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let _ = (id, expires_at);
        Err(Error::Unsupported { operation: "touch" })
    }

    /// Removes every expired record, for stores without native expiry
    /// (Django's `clearsessions`).
    ///
    /// # Contract
    ///
    /// - With [`Capabilities::clear_expired`]: MUST remove every expired
    ///   record, keep every live one, and return how many it removed.
    /// - A store that expires records natively returns `Ok(0)` (the default).
    async fn clear_expired(&self) -> Result<u64, Error> {
        Ok(0)
    }

    /// What this store can do beyond the required methods.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
}

/// The optional abilities of a [`SessionStore`]. The conformance kit runs a
/// case only when the store declares what it needs, and lists it as ignored
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// `touch` is implemented.
    pub touch: bool,
    /// `clear_expired` removes records and counts them.
    pub clear_expired: bool,
    /// `save` compares versions (compare-and-set).
    pub versioned: bool,
}

impl Capabilities {
    /// No optional ability.
    pub const NONE: Capabilities = Capabilities {
        touch: false,
        clear_expired: false,
        versioned: false,
    };

    /// Every optional ability.
    pub const ALL: Capabilities = Capabilities {
        touch: true,
        clear_expired: true,
        versioned: true,
    };

    /// With or without `touch`.
    #[must_use]
    pub const fn with_touch(mut self, yes: bool) -> Self {
        self.touch = yes;
        self
    }

    /// With or without `clear_expired`.
    #[must_use]
    pub const fn with_clear_expired(mut self, yes: bool) -> Self {
        self.clear_expired = yes;
        self
    }

    /// With or without versioned saves.
    #[must_use]
    pub const fn with_versioned(mut self, yes: bool) -> Self {
        self.versioned = yes;
        self
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        (**self).create(record).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        (**self).load(id).await
    }
    async fn save(&self, record: &Record) -> Result<(), Error> {
        (**self).save(record).await
    }
    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        (**self).delete(id).await
    }
    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        (**self).touch(id, expires_at).await
    }
    async fn clear_expired(&self) -> Result<u64, Error> {
        (**self).clear_expired().await
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
}
