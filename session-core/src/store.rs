//! The contract every backend implements.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Error, Record, SessionId};

/// Where sessions live: a small async trait whose methods encode the
/// semantics, so a backend cannot get them wrong quietly.
///
/// Every normative sentence of this contract carries a tag (such as
/// `store.create.atomic`) and names the `session-conformance` cases that
/// check it; the kit's traceability test fails if a sentence names no case
/// or a case cites a tag that is not here. Stores never invent IDs (core
/// makes them) and never see an unvalidated one: every ID is a
/// [`SessionId`].
///
/// # Contract for every method
///
/// - **`store.expiry.boundary`** — A record MUST count as live if and only
///   if `now < expires_at`, by one clock and one comparison for every
///   operation: at exactly `expires_at` it is gone for `load`, `save` and
///   `touch` and counted by `clear_expired`; a second before, it is live for
///   all of them. *Checked by ST-EXP-001, ST-EXP-002, ST-EXP-003,
///   ST-EXP-004, ST-EXP-005.*
/// - **`store.data.exact`** — Whatever `create`, `save` and `touch` leave
///   behind MUST load back exactly: every JSON value (null at any level,
///   booleans, empty strings, arrays and objects, 64-bit integers, floats),
///   values nested as deep as [`MAX_DEPTH`](crate::record::MAX_DEPTH), any
///   Unicode in keys and values including U+0000 and the other control
///   characters, keys beginning with `_` (core's own included), 1,000 keys
///   and values of 1 MiB. *Checked by ST-RT-001, ST-RT-002, ST-RT-003,
///   ST-RT-004, ST-RT-005, ST-RT-006, ST-RT-007, ST-RT-008, ST-RT-009,
///   ST-RT-012, ST-RT-013, ST-RT-014, ST-RT-015, ST-RT-016, ST-RT-017.*
/// - **`store.isolation`** — Each operation MUST touch only the record with
///   its ID, in its own namespace, also while other tasks use the store at
///   the same time. *Checked by ST-RT-011, ST-LOD-007, ST-SAV-007,
///   ST-DEL-003, ST-CON-001, ST-CON-002, ST-CON-004.*
///
/// Bytes that cannot be decoded are reported as [`Error::Corrupt`] (never a
/// panic, never `None`), which core answers with an empty session and a
/// warning; the kit cannot plant such bytes in an arbitrary store, so each
/// backend's own tests check it.
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
    /// - **`store.create.atomic`** — MUST insert only if no live record
    ///   with `record.id` exists, atomically: of concurrent creates of one
    ///   ID exactly one succeeds. *Checked by ST-CRE-002.*
    /// - **`store.create.conflict`** — MUST return a
    ///   [`Conflict`](Error::Conflict) error ([`Error::id_taken`]) when the
    ///   ID is taken, and leave the existing record untouched (data, expiry
    ///   and version); core then retries with a fresh ID. *Checked by
    ///   ST-CRE-001, ST-CRE-005.*
    /// - **`store.create.deleted-is-free`** — MUST accept an ID again after
    ///   its record was deleted. *Checked by ST-CRE-004.*
    /// - **`store.create.expired-is-free`** — SHOULD accept an ID whose
    ///   record has expired. *Checked by ST-CRE-003.*
    /// - **`store.create.expiry`** — MUST store `expires_at` to at least
    ///   millisecond precision (30 years ahead included) and `version` as
    ///   given. *Checked by ST-RT-001, ST-LOD-004.*
    async fn create(&self, record: &Record) -> Result<(), Error>;

    /// Fetches a record.
    ///
    /// # Contract
    ///
    /// - **`store.load.unknown`** — MUST return `Ok(None)` for an unknown
    ///   ID, never an error. *Checked by ST-LOD-001.*
    /// - **`store.load.expired`** — MUST NOT return a record that has
    ///   expired (see `store.expiry.boundary`), whether it was written with
    ///   a past expiry or its time ran out. *Checked by ST-LOD-003,
    ///   ST-LOD-005, ST-LOD-006, ST-LOD-007, ST-EXP-001.*
    /// - **`store.load.pure`** — MUST NOT change the record: loads return
    ///   the same data, expiry and version, also while other sessions are
    ///   written. *Checked by ST-LOD-002, ST-CON-004.*
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error>;

    /// Replaces the data and expiry of an existing record.
    ///
    /// # Contract
    ///
    /// - **`store.save.live-only`** — MUST update only a record that exists
    ///   and is live; otherwise it MUST return [`Error::NotFound`] and write
    ///   nothing, also when racing a delete (a session deleted by a
    ///   concurrent logout is never revived). *Checked by ST-SAV-002,
    ///   ST-SAV-003, ST-SAV-004, ST-CON-003, ST-EXP-002.*
    /// - **`store.save.replace`** — MUST replace the whole data and the
    ///   expiry with the record's, an earlier expiry and one in the past
    ///   (which ends the record) included. *Checked by ST-RT-010, ST-RT-012,
    ///   ST-RT-016, ST-SAV-001, ST-SAV-005, ST-SAV-006.*
    /// - **`store.save.versioned`** — A store with
    ///   [`Capabilities::versioned`] MUST write only if the stored version
    ///   equals `record.version`, then store `record.version + 1`. Other
    ///   stores ignore the version. *Checked by ST-VER-001.*
    /// - **`store.save.stale`** — On a version mismatch a versioned store
    ///   MUST return [`Error::version_changed`] and write nothing: of
    ///   concurrent saves of one version exactly one succeeds. *Checked by
    ///   ST-VER-002, ST-VER-003.*
    async fn save(&self, record: &Record) -> Result<(), Error>;

    /// Removes a record.
    ///
    /// # Contract
    ///
    /// - **`store.delete.idempotent`** — MUST succeed when the record does
    ///   not exist, and when called twice. *Checked by ST-DEL-002.*
    /// - **`store.delete.gone`** — After it returns, `load` of the ID MUST
    ///   return `None`, also when a save raced it. *Checked by ST-DEL-001,
    ///   ST-CON-003.*
    async fn delete(&self, id: &SessionId) -> Result<(), Error>;

    /// Moves the expiry of an existing record without rewriting its data.
    ///
    /// # Contract
    ///
    /// - **`store.touch.moves`** — With [`Capabilities::touch`], MUST set
    ///   `expires_at` (a past one ends the record) and keep data and
    ///   version exactly. *Checked by ST-TCH-001, ST-TCH-004, ST-RT-013.*
    /// - **`store.touch.live-only`** — With [`Capabilities::touch`], MUST
    ///   return [`Error::NotFound`] for an unknown, deleted or expired
    ///   record and create nothing. *Checked by ST-TCH-002, ST-TCH-003,
    ///   ST-EXP-003.*
    /// - **`store.touch.unsupported`** — Without it, MUST return
    ///   [`Error::Unsupported`] (the default) and change nothing. *Checked
    ///   by ST-CAP-002.*
    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let _ = (id, expires_at);
        Err(Error::Unsupported { operation: "touch" })
    }

    /// Removes every expired record, for stores without native expiry
    /// (Django's `clearsessions`).
    ///
    /// # Contract
    ///
    /// - **`store.clear.removes-and-counts`** — With
    ///   [`Capabilities::clear_expired`], MUST remove every expired record
    ///   and return how many it removed (0 when there were none). *Checked
    ///   by ST-CLR-001, ST-CLR-002, ST-EXP-004.*
    /// - **`store.clear.keeps-live`** — MUST succeed on every store (one
    ///   that expires records natively returns `Ok(0)`, the default) and
    ///   MUST NOT remove or count a live record. *Checked by ST-CLR-002,
    ///   ST-CLR-003, ST-EXP-004, ST-EXP-005.*
    async fn clear_expired(&self) -> Result<u64, Error> {
        Ok(0)
    }

    /// What this store can do beyond the required methods.
    ///
    /// # Contract
    ///
    /// - **`store.capabilities`** — MUST report exactly the abilities the
    ///   store has, and the same ones its conformance run declares.
    ///   *Checked by ST-CAP-001.*
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
