//! The kit tests itself: each deliberately broken store must fail at least
//! the named cases, and a correct store must pass every case.
//!
//! Each [`Flaw`] is the smallest realistic change to a correct store (a
//! [`MemoryStore`] behind a wrapper) that breaks one tagged sentence
//! (`store.*`) of the `SessionStore` contract; the `caught!` table names the
//! cases that must fail because of it.
//!
//! # Kill rates of the racy flaws
//!
//! A racy flaw is caught only if the race case happens to interleave the
//! competing tasks inside its window, so each must be killed by its race
//! case in at least 99.9 % of runs. The short form runs with every
//! `cargo test` (`SHORT_RUNS` runs per racy flaw, every one must fail); the
//! long form prints each rate:
//!
//! ```text
//! SESSION_CONFORMANCE_SKIP_SLOW=1 SESSION_CONFORMANCE_KILL_RUNS=1000 \
//!     cargo test -p session-conformance --test self_test kill_rate -- --ignored --nocapture --test-threads=1
//! ```
//!
//! Each run plans only the race case (`StoreSuite::run_only`) against a
//! fresh broken store.
//!
//! Measured with that command at `SESSION_CONFORMANCE_KILL_RUNS=10000`,
//! 2 cores, debug build, the race cases at 64 rounds with every pair of
//! delays (0 to 7 yields) for their first two tasks:
//!
//! | flaw                | race case  | killed                |
//! |---------------------|------------|-----------------------|
//! | `RacyCreate`        | ST-CRE-002 | 10000/10000 (100 %)   |
//! | `RacyVersionedSave` | ST-VER-003 | 10000/10000 (100 %)   |
//! | `NonAtomicSave`     | ST-CON-003 | 10000/10000 (100 %)   |
//! | `SharedReplySlot`   | ST-CON-004 | 10000/10000 (100 %)   |
//!
//! With the earlier staggering (`(round * 7 + task * 3) % 8`, 48 rounds)
//! `NonAtomicSave` was killed in only 11 to 34 % of runs: its two tasks
//! were always 3 (or 5) yields apart, so the delete never landed in the one
//! yield between the save's check and its write. The stagger now walks
//! every pair of delays.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::Value;
use session_conformance::{Namespace, Status, StoreSuite};
use session_core::{
    Capabilities, Clock, Error, ErrorKind, ManualClock, MemoryStore, Record, SessionData,
    SessionId, SessionStore, async_trait,
};
use time::{Duration, OffsetDateTime};

/// Declares [`Flaw`] and [`Flaw::ALL`] from one list, so `ALL` cannot miss
/// a variant.
macro_rules! flaws {
    ($($(#[$doc:meta])* $flaw:ident,)+) => {
        /// One flaw each: the smallest realistic change to a correct store
        /// that breaks one sentence of the store contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Flaw {
            $($(#[$doc])* $flaw,)+
        }

        impl Flaw {
            /// Every flaw, in declaration order.
            const ALL: &[Flaw] = &[$(Flaw::$flaw),+];
        }
    };
}

flaws! {
    /// `store.create.conflict` ("leave the existing record untouched"): create deletes what it finds first.
    OverwritesOnCreate,
    /// `store.save.live-only` ("MUST update only a record that exists"): a save that finds nothing inserts.
    RevivesOnSave,
    /// `store.load.expired` ("MUST NOT return a record that has expired"): its clock is stuck in 2001.
    ReturnsExpired,
    /// `store.delete.gone` ("After it returns, `load` of the ID MUST return `None`"): delete does nothing.
    IgnoresDelete,
    /// `store.data.exact` ("any Unicode in keys and values"): non-ASCII characters become `?`.
    LosesUnicode,
    /// `store.data.exact` ("values of 1 MiB"): strings are cut at 64 Ki characters.
    TruncatesLargeValues,
    /// `store.save.replace` ("MUST replace the whole data and the expiry"): save keeps the stored expiry.
    DropsExpiryOnSave,
    /// `store.isolation` ("only the record with its ID, in its own namespace"): one map for every namespace.
    SharesStateBetweenNamespaces,
    /// `store.create.atomic` ("of concurrent creates of one ID exactly one succeeds"): check, an await point, then an upsert.
    RacyCreate,
    /// `store.clear.removes-and-counts` ("return how many it removed"): it always returns 0.
    MiscountsClearExpired,
    /// `store.touch.moves` ("keep data and version exactly"): touch saves an empty map.
    TouchRewritesData,
    /// `store.save.stale` ("On a version mismatch … MUST return `version_changed`"): save writes over any version.
    IgnoresVersions,
    /// `store.data.exact` ("Whatever … `save` … leave behind", "null at any level"): save drops null members.
    SaveDropsNulls,
    /// `store.data.exact` ("keys beginning with `_`"): save drops them, taking them for its own metadata.
    SaveDropsUnderscoreKeys,
    /// `store.touch.moves` ("keep data … exactly"): touch rewrites the data through an encoder that drops nulls.
    TouchLosesNulls,
    /// `store.data.exact` ("empty … arrays and objects"): create stores `[]` and `{}` as `null`.
    CreateEmptiesToNull,
    /// `store.data.exact` ("null at any level"): create drops nulls nested in arrays and objects.
    CreateDropsNestedNulls,
    /// `store.data.exact` ("U+0000 and the other control characters"): create and save strip C0 controls and U+007F.
    StripsControlCharacters,
    /// `store.data.exact` ("including U+0000"): create and save refuse it with a Backend error, as PostgreSQL `jsonb` does.
    RefusesNul,
    /// `store.data.exact` ("values nested as deep as `MAX_DEPTH`"): load decodes with a nesting limit of 64, deeper is Corrupt.
    CorruptBeyondDepth64,
    /// `store.expiry.boundary` ("at exactly `expires_at` it is gone for `load`"): load still returns it.
    LoadLiveAtExpiry,
    /// `store.expiry.boundary` ("at exactly `expires_at` it is gone for … `save`"): save still writes it.
    SaveLiveAtExpiry,
    /// `store.expiry.boundary` ("at exactly `expires_at` it is gone for … `touch`"): touch still moves it.
    TouchLiveAtExpiry,
    /// `store.expiry.boundary` ("at exactly `expires_at` it is … counted by `clear_expired`"): clear_expired keeps it.
    ClearKeepsDueRecords,
    /// `store.clear.keeps-live` ("MUST NOT remove or count a live record"): it also removes those expiring within 2 s.
    ClearsSoonToExpire,
    /// `store.save.live-only` ("also when racing a delete"), unversioned: check, an await point, then an unconditional write.
    NonAtomicSave,
    /// `store.save.stale` ("of concurrent saves of one version exactly one succeeds"): compare, an await point, then write.
    RacyVersionedSave,
    /// `store.isolation` ("also while other tasks use the store"): every answer passes through one shared reply slot.
    SharedReplySlot,
    /// `store.load.unknown` ("MUST return `Ok(None)` for an unknown ID, never an error"): it returns a Backend error.
    LoadErrsOnUnknown,
    /// `store.delete.idempotent` ("MUST succeed when the record does not exist"): it returns NotFound.
    DeleteUnknownIsNotFound,
    /// `store.create.expiry` ("`expires_at` to at least millisecond precision"): expiries are kept in whole seconds.
    ExpiryInWholeSeconds,
    /// `store.create.expiry` ("and `version` as given"): create stores version 0.
    CreateIgnoresVersion,
    /// `store.save.versioned` ("then store `record.version + 1`"): save keeps the version it was given.
    SaveKeepsVersion,
    /// `store.touch.moves` ("keep data and version exactly"): touch is a save, so the version goes up.
    TouchBumpsVersion,
    /// `store.touch.live-only` ("MUST return NotFound for an unknown … record and create nothing"): touch upserts.
    TouchRevives,
    /// `store.create.conflict` ("MUST return a Conflict error"): the unique violation comes back as Backend.
    ConflictIsBackendError,
    /// `store.isolation` ("Each operation MUST touch only the record with its ID"): save is an UPDATE without WHERE.
    SaveWritesEveryRecord,
    /// `store.isolation` ("Each operation MUST touch only the record with its ID"): delete is a DELETE without WHERE.
    DeleteRemovesEveryRecord,
}

impl Flaw {
    /// What the broken store declares, and what its suite is told.
    fn capabilities(self) -> Capabilities {
        match self {
            // Unversioned, so that only its race with delete can catch it
            // (a versioned store with the same window fails ST-VER-003).
            Flaw::NonAtomicSave => Capabilities::ALL.with_versioned(false),
            _ => Capabilities::ALL,
        }
    }
}

/// The inner store's clock: the case's clock, moved by `by_ns` while a
/// flawed comparison runs (how an off-by-one boundary looks from outside).
#[derive(Debug)]
struct Skewed {
    clock: ManualClock,
    by_ns: Arc<AtomicI64>,
}

impl Clock for Skewed {
    fn now(&self) -> OffsetDateTime {
        self.clock.now() + Duration::nanoseconds(self.by_ns.load(Ordering::SeqCst))
    }
}

/// An answer passed through [`Broken::exchange`].
#[derive(Debug)]
enum Reply {
    Done(Result<(), Error>),
    Loaded(Result<Option<Record>, Error>),
    Counted(Result<u64, Error>),
    /// Another request took the answer first.
    Missing,
}

fn garbled(reply: &Reply) -> Error {
    Error::backend(format!(
        "unexpected reply on the shared connection: {reply:?}"
    ))
}

impl Reply {
    fn done(self) -> Result<(), Error> {
        match self {
            Reply::Done(result) => result,
            other => Err(garbled(&other)),
        }
    }

    fn loaded(self) -> Result<Option<Record>, Error> {
        match self {
            Reply::Loaded(result) => result,
            other => Err(garbled(&other)),
        }
    }

    fn counted(self) -> Result<u64, Error> {
        match self {
            Reply::Counted(result) => result,
            other => Err(garbled(&other)),
        }
    }
}

/// A correct store ([`MemoryStore`]) with one [`Flaw`].
#[derive(Debug)]
struct Broken {
    flaw: Flaw,
    inner: MemoryStore,
    /// Shared with the inner store's [`Skewed`] clock.
    skew: Arc<AtomicI64>,
    /// Every ID ever created, for the flaws that write or delete too much.
    known: Mutex<Vec<SessionId>>,
    /// The one reply slot of [`Flaw::SharedReplySlot`].
    slot: Mutex<Option<Reply>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which write a record goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Create,
    Save,
}

/// `data` with each top-level pair passed through `f`; `None` drops it.
fn map_data(
    data: &SessionData,
    f: impl Fn(&str, &Value) -> Option<(String, Value)>,
) -> SessionData {
    data.iter().filter_map(|(k, v)| f(k, v)).collect()
}

fn map_strings(value: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (f(k), map_strings(v, f))).collect())
        }
        other => other.clone(),
    }
}

/// Drops the null members of every object and, with `in_arrays`, the null
/// elements of every array too.
fn drop_nulls(value: &Value, in_arrays: bool) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|v| !(in_arrays && v.is_null()))
                .map(|v| drop_nulls(v, in_arrays))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), drop_nulls(v, in_arrays)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `data` through an encoder that drops null members, at the top level and
/// in every nested object (array elements stay).
fn without_null_members(data: &SessionData) -> SessionData {
    map_data(data, |k, v| {
        (!v.is_null()).then(|| (k.to_owned(), drop_nulls(v, false)))
    })
}

/// `[]` and `{}`, at any depth, become `null`.
fn empties_to_null(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.is_empty() => Value::Null,
        Value::Object(map) if map.is_empty() => Value::Null,
        Value::Array(items) => Value::Array(items.iter().map(empties_to_null).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), empties_to_null(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// How deeply `value` nests arrays and objects (`[1]` is 1).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn data_has_nul(data: &SessionData) -> bool {
    data.iter().any(|(k, v)| k.contains('\0') || has_nul(v))
}

fn nul_refused() -> Error {
    Error::backend("unsupported Unicode escape sequence: \\u0000 cannot be converted to text")
}

fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

impl Broken {
    fn new(flaw: Flaw, inner: MemoryStore, skew: Arc<AtomicI64>) -> Self {
        Broken {
            flaw,
            inner,
            skew,
            known: Mutex::new(Vec::new()),
            slot: Mutex::new(None),
        }
    }

    /// Runs `op` on the inner store with its clock moved by `by`, i.e. with
    /// the expiry comparison off by `by`.
    async fn skewed<T>(&self, by: Duration, op: impl Future<Output = T>) -> T {
        let nanos = i64::try_from(by.whole_nanoseconds()).unwrap_or(0);
        self.skew.store(nanos, Ordering::SeqCst);
        let out = op.await;
        self.skew.store(0, Ordering::SeqCst);
        out
    }

    /// Stores exactly `record`, whether or not one exists (Redis `SET`,
    /// SQL `INSERT … ON CONFLICT DO UPDATE`).
    async fn put(&self, record: &Record) -> Result<(), Error> {
        loop {
            self.inner.delete(&record.id).await?;
            match self.inner.create(record).await {
                Err(e) if e.kind() == ErrorKind::Conflict => {}
                other => return other,
            }
        }
    }

    /// The live record of `id`, or NotFound.
    async fn stored(&self, id: &SessionId) -> Result<Record, Error> {
        self.inner.load(id).await?.ok_or(Error::NotFound)
    }

    /// [`Flaw::SharedReplySlot`]: every answer goes through one slot, as
    /// through one connection shared without matching replies to
    /// requests. The answer is written, the task waits for the connection
    /// (an await point), then reads whatever the slot holds by then.
    async fn exchange(&self, reply: Reply) -> Reply {
        *lock(&self.slot) = Some(reply);
        tokio::task::yield_now().await;
        lock(&self.slot).take().unwrap_or(Reply::Missing)
    }

    /// What the flawed store actually writes.
    fn written(&self, record: &Record, write: Write) -> Record {
        let strings = |f: &dyn Fn(&str) -> String| {
            map_data(&record.data, |k, v| Some((f(k), map_strings(v, f))))
        };
        let data = match (self.flaw, write) {
            (Flaw::LosesUnicode, _) => strings(&|s| {
                s.chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect()
            }),
            (Flaw::TruncatesLargeValues, _) => strings(&|s| s.chars().take(65_536).collect()),
            (Flaw::StripsControlCharacters, _) => {
                strings(&|s| s.chars().filter(|c| !c.is_ascii_control()).collect())
            }
            (Flaw::SaveDropsNulls, Write::Save) => without_null_members(&record.data),
            (Flaw::SaveDropsUnderscoreKeys, Write::Save) => map_data(&record.data, |k, v| {
                (!k.starts_with('_')).then(|| (k.to_owned(), v.clone()))
            }),
            (Flaw::CreateEmptiesToNull, Write::Create) => map_data(&record.data, |k, v| {
                Some((k.to_owned(), empties_to_null(v)))
            }),
            (Flaw::CreateDropsNestedNulls, Write::Create) => map_data(&record.data, |k, v| {
                Some((k.to_owned(), drop_nulls(v, true)))
            }),
            (Flaw::ExpiryInWholeSeconds, _) => {
                return Record {
                    expires_at: whole_seconds(record.expires_at),
                    ..record.clone()
                };
            }
            (Flaw::CreateIgnoresVersion, Write::Create) => return record.clone().with_version(0),
            _ => return record.clone(),
        };
        Record {
            data: Arc::new(data),
            ..record.clone()
        }
    }
}

/// `UPDATE … SET data, expires_at, version = version + 1 WHERE id = $1` of
/// a live record, whatever its version: a compare-and-set against the
/// stored version, retried until no other write came between (atomic,
/// version ignored).
async fn update_any_version(store: &MemoryStore, record: &Record) -> Result<(), Error> {
    loop {
        let stored = store.load(&record.id).await?.ok_or(Error::NotFound)?;
        match store
            .save(&record.clone().with_version(stored.version))
            .await
        {
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            other => return other,
        }
    }
}

/// One nanosecond: how far off a `<` for `<=` is.
const NANO: Duration = Duration::nanoseconds(1);

#[async_trait]
impl SessionStore for Broken {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        lock(&self.known).push(record.id.clone());
        match self.flaw {
            Flaw::OverwritesOnCreate => {
                self.inner.delete(&record.id).await?;
                self.inner.create(record).await
            }
            Flaw::RacyCreate => {
                // Check, then act: another task slips in at the await point
                // (a round trip to the server).
                if self.inner.load(&record.id).await?.is_some() {
                    return Err(Error::id_taken());
                }
                tokio::task::yield_now().await;
                self.put(record).await
            }
            Flaw::ConflictIsBackendError => self.inner.create(record).await.map_err(|e| {
                if e.kind() == ErrorKind::Conflict {
                    Error::backend(
                        "duplicate key value violates unique constraint \"sessions_pkey\"",
                    )
                } else {
                    e
                }
            }),
            Flaw::RefusesNul if data_has_nul(&record.data) => Err(nul_refused()),
            Flaw::SharedReplySlot => {
                let result = self.inner.create(record).await;
                self.exchange(Reply::Done(result)).await.done()
            }
            _ => {
                self.inner
                    .create(&self.written(record, Write::Create))
                    .await
            }
        }
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        match self.flaw {
            Flaw::LoadLiveAtExpiry => self.skewed(-NANO, self.inner.load(id)).await,
            Flaw::LoadErrsOnUnknown => match self.inner.load(id).await? {
                Some(record) => Ok(Some(record)),
                None => Err(Error::backend("no such key")),
            },
            Flaw::CorruptBeyondDepth64 => match self.inner.load(id).await? {
                // The document is one level deeper than its values.
                Some(record) if record.data.values().any(|v| 1 + depth(v) > 64) => {
                    Err(Error::corrupt("recursion limit exceeded"))
                }
                other => Ok(other),
            },
            Flaw::SharedReplySlot => {
                let result = self.inner.load(id).await;
                self.exchange(Reply::Loaded(result)).await.loaded()
            }
            _ => self.inner.load(id).await,
        }
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        match self.flaw {
            Flaw::RevivesOnSave => match self.inner.save(record).await {
                Err(e) if e.kind() == ErrorKind::NotFound => self.inner.create(record).await,
                other => other,
            },
            Flaw::DropsExpiryOnSave => {
                let stored = self.stored(&record.id).await?;
                self.inner
                    .save(&Record {
                        expires_at: stored.expires_at,
                        ..record.clone()
                    })
                    .await
            }
            Flaw::IgnoresVersions => {
                let stored = self.stored(&record.id).await?;
                self.inner
                    .save(&record.clone().with_version(stored.version))
                    .await
            }
            Flaw::NonAtomicSave => {
                // Check, then an unconditional write (`SET` without `XX`):
                // a delete at the await point is undone.
                self.stored(&record.id).await?;
                tokio::task::yield_now().await;
                self.put(record).await
            }
            Flaw::RacyVersionedSave => {
                // Compare, then write: another save slips in at the await
                // point and both win.
                let stored = self.stored(&record.id).await?;
                if stored.version != record.version {
                    return Err(Error::version_changed());
                }
                tokio::task::yield_now().await;
                update_any_version(&self.inner, record).await
            }
            Flaw::SaveLiveAtExpiry => self.skewed(-NANO, self.inner.save(record)).await,
            Flaw::SaveKeepsVersion => {
                self.inner.save(record).await?;
                self.put(record).await
            }
            Flaw::SaveWritesEveryRecord => {
                self.inner.save(record).await?;
                let known = lock(&self.known).clone();
                for id in known.iter().filter(|id| **id != record.id) {
                    if let Some(other) = self.inner.load(id).await? {
                        self.put(&Record {
                            data: Arc::clone(&record.data),
                            ..other
                        })
                        .await?;
                    }
                }
                Ok(())
            }
            Flaw::RefusesNul if data_has_nul(&record.data) => Err(nul_refused()),
            Flaw::SharedReplySlot => {
                let result = self.inner.save(record).await;
                self.exchange(Reply::Done(result)).await.done()
            }
            _ => self.inner.save(&self.written(record, Write::Save)).await,
        }
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        match self.flaw {
            Flaw::IgnoresDelete => Ok(()),
            Flaw::DeleteUnknownIsNotFound => {
                // "0 rows affected" taken for an error.
                self.stored(id).await?;
                self.inner.delete(id).await
            }
            Flaw::DeleteRemovesEveryRecord => {
                let known = lock(&self.known).clone();
                for any in &known {
                    self.inner.delete(any).await?;
                }
                self.inner.delete(id).await
            }
            Flaw::SharedReplySlot => {
                let result = self.inner.delete(id).await;
                self.exchange(Reply::Done(result)).await.done()
            }
            _ => self.inner.delete(id).await,
        }
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        match self.flaw {
            Flaw::TouchRewritesData => {
                let stored = self.stored(id).await?;
                let emptied = Record::new(id.clone(), SessionData::new(), expires_at)
                    .with_version(stored.version);
                self.inner.save(&emptied).await
            }
            Flaw::TouchLosesNulls => {
                let stored = self.stored(id).await?;
                self.put(&Record {
                    data: Arc::new(without_null_members(&stored.data)),
                    expires_at,
                    ..stored
                })
                .await
            }
            Flaw::TouchLiveAtExpiry => self.skewed(-NANO, self.inner.touch(id, expires_at)).await,
            Flaw::TouchBumpsVersion => {
                let stored = self.stored(id).await?;
                self.inner
                    .save(&Record {
                        expires_at,
                        ..stored
                    })
                    .await
            }
            Flaw::TouchRevives => match self.inner.touch(id, expires_at).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    self.put(&Record::new(id.clone(), SessionData::new(), expires_at))
                        .await
                }
                other => other,
            },
            Flaw::ExpiryInWholeSeconds => self.inner.touch(id, whole_seconds(expires_at)).await,
            Flaw::SharedReplySlot => {
                let result = self.inner.touch(id, expires_at).await;
                self.exchange(Reply::Done(result)).await.done()
            }
            _ => self.inner.touch(id, expires_at).await,
        }
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        match self.flaw {
            Flaw::MiscountsClearExpired => {
                self.inner.clear_expired().await?;
                Ok(0)
            }
            Flaw::ClearKeepsDueRecords => self.skewed(-NANO, self.inner.clear_expired()).await,
            Flaw::ClearsSoonToExpire => {
                self.skewed(Duration::seconds(2), self.inner.clear_expired())
                    .await
            }
            Flaw::SharedReplySlot => {
                let result = self.inner.clear_expired().await;
                self.exchange(Reply::Counted(result)).await.counted()
            }
            _ => self.inner.clear_expired().await,
        }
    }

    fn capabilities(&self) -> Capabilities {
        self.flaw.capabilities()
    }
}

static SHARED: LazyLock<MemoryStore> = LazyLock::new(MemoryStore::new);

fn suite(flaw: Option<Flaw>) -> StoreSuite {
    let name = flaw.map_or("self-test-correct".to_owned(), |f| {
        format!("self-test-{f:?}")
    });
    StoreSuite::new(name, move |ns: Namespace| async move {
        let Some(flaw) = flaw else {
            return Ok::<_, Infallible>(
                Arc::new(MemoryStore::with_clock(ns.clock())) as Arc<dyn SessionStore>
            );
        };
        let skew = Arc::new(AtomicI64::new(0));
        let inner = match flaw {
            Flaw::SharesStateBetweenNamespaces => SHARED.clone(),
            // A clock stuck in 2001: nothing it holds ever expires.
            Flaw::ReturnsExpired => MemoryStore::with_clock(ManualClock::new(
                time::macros::datetime!(2001-01-01 0:00 UTC),
            )),
            _ => MemoryStore::with_clock(Skewed {
                clock: ns.clock(),
                by_ns: Arc::clone(&skew),
            }),
        };
        Ok(Arc::new(Broken::new(flaw, inner, skew)) as Arc<dyn SessionStore>)
    })
    .capabilities(flaw.map_or(Capabilities::ALL, Flaw::capabilities))
    .manual_clock(true)
}

async fn failed_cases(flaw: Flaw) -> Vec<String> {
    let rows = suite(Some(flaw)).run().await;
    assert!(
        rows.len() >= 40,
        "the suite has {} store cases, fewer than 40",
        rows.len()
    );
    let unavailable: Vec<_> = rows
        .iter()
        .filter(|r| r.status == Status::Unavailable)
        .map(|r| &r.id)
        .collect();
    assert!(
        unavailable.is_empty(),
        "{flaw:?}: no case may be unavailable in the self-test (the store answers, wrongly): {unavailable:?}"
    );
    rows.into_iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| r.id)
        .collect()
}

/// A correct store with fewer capabilities: [`MemoryStore`] without touch
/// (the default `Unsupported`) or without versioned saves (an atomic save
/// that ignores the version), for the cases such stores get.
#[derive(Debug)]
struct Lesser {
    inner: MemoryStore,
    capabilities: Capabilities,
}

#[async_trait]
impl SessionStore for Lesser {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        self.inner.create(record).await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        self.inner.load(id).await
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        if self.capabilities.versioned {
            self.inner.save(record).await
        } else {
            update_any_version(&self.inner, record).await
        }
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.inner.delete(id).await
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        if self.capabilities.touch {
            self.inner.touch(id, expires_at).await
        } else {
            Err(Error::Unsupported { operation: "touch" })
        }
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        self.inner.clear_expired().await
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
}

fn lesser_suite(capabilities: Capabilities) -> StoreSuite {
    StoreSuite::new(
        format!("self-test-correct-{capabilities:?}"),
        move |ns: Namespace| async move {
            Ok::<_, Infallible>(Lesser {
                inner: MemoryStore::with_clock(ns.clock()),
                capabilities,
            })
        },
    )
    .capabilities(capabilities)
    .manual_clock(true)
}

/// A correct store fails no case and is never unavailable, with every
/// capability or with fewer (the non-versioned one is what
/// [`Flaw::NonAtomicSave`] breaks), and every case of the catalogue passes
/// in at least one of these configurations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_store_passes_every_case() {
    let mut passed = Vec::new();
    let configurations = [
        ("MemoryStore", suite(None)),
        (
            "without touch",
            lesser_suite(Capabilities::ALL.with_touch(false)),
        ),
        (
            "without versions",
            lesser_suite(Capabilities::ALL.with_versioned(false)),
        ),
        ("with no capability", lesser_suite(Capabilities::NONE)),
    ];
    // Concurrently: each run waits 1.5 s in real time (ST-LOD-005).
    let runs: Vec<_> = configurations
        .into_iter()
        .map(|(what, suite)| (what, tokio::spawn(async move { suite.run().await })))
        .collect();
    for (what, run) in runs {
        let rows = run.await.expect("the run does not panic");
        let bad: Vec<_> = rows
            .iter()
            .filter(|r| !matches!(r.status, Status::Passed | Status::Ignored))
            .collect();
        assert!(
            bad.is_empty(),
            "a correct store {what} did not pass: {bad:#?}"
        );
        passed.extend(
            rows.into_iter()
                .filter(|r| r.status == Status::Passed)
                .map(|r| r.id),
        );
    }
    // Slow cases are ignored when the environment says to skip them.
    let skip_slow =
        std::env::var(session_conformance::SKIP_SLOW_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    let never: Vec<_> = session_conformance::store::catalogue()
        .filter(|case| !(skip_slow && case.slow))
        .filter(|case| !passed.iter().any(|id| id == case.id))
        .map(|case| case.id)
        .collect();
    assert!(
        never.is_empty(),
        "no correct store ran these cases: {never:?}"
    );
}

/// Fails unless `failed` holds every case of `cases` (or, with `any`, at
/// least one of them).
fn check_caught(flaw: Flaw, failed: &[String], cases: &[&str], any: bool) {
    let caught = |case: &&str| failed.iter().any(|f| f == case);
    if any {
        assert!(
            cases.iter().any(caught),
            "{flaw:?} was caught by none of {cases:?}; failed: {failed:?}"
        );
    } else {
        let missed: Vec<_> = cases.iter().filter(|c| !caught(c)).collect();
        assert!(
            missed.is_empty(),
            "{flaw:?} was not caught by {missed:?}; failed: {failed:?}"
        );
    }
}

/// `test: Flaw => [cases]`: the flaw must fail every case listed.
/// `test: Flaw => any [cases]`: it must fail at least one of them.
macro_rules! caught {
    ($($(#[$attr:meta])* $test:ident: $flaw:ident => $($any:ident)? [$($case:literal),+];)+) => {
        /// Every flaw the table names.
        const CAUGHT: &[Flaw] = &[$(Flaw::$flaw),+];
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn $test() {
                let failed = failed_cases(Flaw::$flaw).await;
                check_caught(Flaw::$flaw, &failed, &[$($case),+], caught!(@any $($any)?));
            }
        )+
    };
    (@any) => { false };
    (@any any) => { true };
}

caught! {
    overwrites_on_create: OverwritesOnCreate => ["ST-CRE-001", "ST-CRE-005"];
    revives_on_save: RevivesOnSave => ["ST-SAV-002", "ST-SAV-003", "ST-SAV-004"];
    returns_expired_records: ReturnsExpired => ["ST-LOD-003", "ST-LOD-006"];
    ignores_delete: IgnoresDelete => ["ST-DEL-001", "ST-CRE-004"];
    loses_unicode: LosesUnicode => ["ST-RT-003"];
    truncates_large_values: TruncatesLargeValues => ["ST-RT-008"];
    drops_the_expiry_on_save: DropsExpiryOnSave => ["ST-SAV-005", "ST-SAV-006"];
    shares_state_between_namespaces: SharesStateBetweenNamespaces => ["ST-CON-002"];
    racy_create: RacyCreate => ["ST-CRE-002"];
    miscounts_clear_expired: MiscountsClearExpired => ["ST-CLR-001"];
    touch_rewrites_data: TouchRewritesData => ["ST-TCH-001"];
    ignores_versions: IgnoresVersions => ["ST-VER-002", "ST-VER-003"];
    save_drops_nulls: SaveDropsNulls => ["ST-RT-012"];
    save_drops_underscore_keys: SaveDropsUnderscoreKeys => ["ST-RT-012"];
    touch_loses_nulls: TouchLosesNulls => ["ST-RT-013"];
    create_empties_to_null: CreateEmptiesToNull => ["ST-RT-006", "ST-RT-014"];
    create_drops_nested_nulls: CreateDropsNestedNulls => ["ST-RT-014"];
    strips_control_characters: StripsControlCharacters => ["ST-RT-015", "ST-RT-016"];
    refuses_nul: RefusesNul => ["ST-RT-015", "ST-RT-016"];
    corrupt_beyond_depth_64: CorruptBeyondDepth64 => ["ST-RT-017"];
    load_live_at_expiry: LoadLiveAtExpiry => ["ST-EXP-001"];
    save_live_at_expiry: SaveLiveAtExpiry => ["ST-EXP-002"];
    touch_live_at_expiry: TouchLiveAtExpiry => ["ST-EXP-003"];
    clear_keeps_due_records: ClearKeepsDueRecords => ["ST-EXP-004"];
    clears_soon_to_expire: ClearsSoonToExpire => ["ST-EXP-004", "ST-EXP-005"];
    non_atomic_save: NonAtomicSave => ["ST-CON-003"];
    racy_versioned_save: RacyVersionedSave => ["ST-VER-003"];
    shared_reply_slot: SharedReplySlot => ["ST-CON-004"];
    load_errs_on_unknown: LoadErrsOnUnknown => ["ST-LOD-001"];
    delete_unknown_is_not_found: DeleteUnknownIsNotFound => ["ST-DEL-002"];
    // ST-RT-001 alone misses it when the expiry's sub-second part is under
    // 1 ms (1 run in 1000); the others then catch it.
    expiry_in_whole_seconds: ExpiryInWholeSeconds => any ["ST-RT-001", "ST-SAV-001", "ST-LOD-004", "ST-SAV-005", "ST-TCH-001"];
    create_ignores_version: CreateIgnoresVersion => ["ST-RT-001"];
    save_keeps_version: SaveKeepsVersion => ["ST-VER-001"];
    touch_bumps_version: TouchBumpsVersion => ["ST-TCH-001"];
    touch_revives: TouchRevives => ["ST-TCH-002", "ST-TCH-003"];
    conflict_is_backend_error: ConflictIsBackendError => ["ST-CRE-001"];
    save_writes_every_record: SaveWritesEveryRecord => ["ST-SAV-007"];
    delete_removes_every_record: DeleteRemovesEveryRecord => ["ST-DEL-003"];
}

#[test]
fn every_flaw_is_in_the_caught_table() {
    assert!(Flaw::ALL.len() >= 32, "only {} flaws", Flaw::ALL.len());
    let missing: Vec<_> = Flaw::ALL.iter().filter(|f| !CAUGHT.contains(f)).collect();
    assert!(
        missing.is_empty(),
        "flaws no case is named for: {missing:?}"
    );
    for (i, flaw) in CAUGHT.iter().enumerate() {
        assert!(!CAUGHT[..i].contains(flaw), "{flaw:?} is listed twice");
    }
}

/// Prints every case each flaw fails, to see which cases catch what:
/// `cargo test -p session-conformance --test self_test what_each_flaw_fails -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints a table; run with --nocapture"]
async fn what_each_flaw_fails() {
    for &flaw in Flaw::ALL {
        println!("{flaw:?}: {:?}", failed_cases(flaw).await);
    }
}

// --- kill rates of the racy flaws ---------------------------------------------

/// Runs per racy flaw in the short form; every one must fail the race case.
const SHORT_RUNS: usize = 30;

/// How many runs the long form makes per racy flaw.
const KILL_RUNS_ENV: &str = "SESSION_CONFORMANCE_KILL_RUNS";

/// Whether one run against a fresh store with `flaw` fails `case`.
async fn killed_once(flaw: Flaw, case: &str) -> bool {
    let rows = suite(Some(flaw)).run_only(&[case]).await;
    let row = rows
        .iter()
        .find(|r| r.id == case)
        .unwrap_or_else(|| panic!("no case {case}"));
    row.status == Status::Failed
}

/// How many of `runs` runs fail `case`.
async fn kills(flaw: Flaw, case: &str, runs: usize) -> usize {
    let mut killed = 0;
    for _ in 0..runs {
        if killed_once(flaw, case).await {
            killed += 1;
        }
    }
    killed
}

/// The short form: every one of [`SHORT_RUNS`] runs fails `case`.
async fn killed_every_run(flaw: Flaw, case: &'static str) {
    let killed = kills(flaw, case, SHORT_RUNS).await;
    assert_eq!(
        killed,
        SHORT_RUNS,
        "{flaw:?} survived {case} in {} of {SHORT_RUNS} runs",
        SHORT_RUNS - killed
    );
}

/// The long form: prints the kill rate over `SESSION_CONFORMANCE_KILL_RUNS`
/// runs (default 1000) and fails below 99.9 %.
async fn kill_rate(flaw: Flaw, case: &str) {
    let runs: usize = std::env::var(KILL_RUNS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let started = Instant::now();
    let killed = kills(flaw, case, runs).await;
    let rate = killed as f64 * 100.0 / runs as f64;
    println!(
        "kill rate: {flaw:?} by {case}: {killed}/{runs} runs = {rate:.2} % ({:.1?})",
        started.elapsed()
    );
    assert!(
        killed * 1000 >= runs * 999,
        "{flaw:?} is killed by {case} in only {rate:.2} % of runs"
    );
}

/// `short, long: Flaw => "case"`: the short form runs with every
/// `cargo test`, the long form is ignored.
macro_rules! races {
    ($($(#[$attr:meta])* $short:ident, $long:ident: $flaw:ident => $case:literal;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $short() {
            killed_every_run(Flaw::$flaw, $case).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "long: set SESSION_CONFORMANCE_KILL_RUNS, run with --nocapture --test-threads=1"]
        async fn $long() {
            kill_rate(Flaw::$flaw, $case).await;
        }
    )+};
}

races! {
    racy_create_dies_in_every_run, kill_rate_racy_create: RacyCreate => "ST-CRE-002";
    racy_versioned_save_dies_in_every_run, kill_rate_racy_versioned_save: RacyVersionedSave => "ST-VER-003";
    non_atomic_save_dies_in_every_run, kill_rate_non_atomic_save: NonAtomicSave => "ST-CON-003";
    shared_reply_slot_dies_in_every_run, kill_rate_shared_reply_slot: SharedReplySlot => "ST-CON-004";
}

fn unreachable_suite() -> StoreSuite {
    StoreSuite::new("self-test-unreachable", |_ns: Namespace| async move {
        Err::<MemoryStore, _>("connection refused (127.0.0.1:1)")
    })
    .unavailable_hint("start it with `true`")
}

#[tokio::test]
async fn an_unreachable_backend_is_unavailable_never_passed() {
    let rows = unreachable_suite().run_requiring(false).await;
    assert!(
        rows.iter().all(|r| r.status == Status::Unavailable),
        "{rows:#?}"
    );
    let message = rows[0].message.as_deref().unwrap_or_default();
    assert!(
        message.contains("connection refused") && message.contains("start it with"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreachable_backend_fails_when_required() {
    let rows = unreachable_suite().run_requiring(true).await;
    assert!(rows.iter().all(|r| r.status == Status::Failed), "{rows:#?}");
}

#[tokio::test]
async fn a_missing_capability_is_ignored_never_passed() {
    let rows = StoreSuite::new("self-test-no-capabilities", |ns: Namespace| async move {
        Ok::<_, Infallible>(MemoryStore::with_clock(ns.clock()))
    })
    .run_requiring(true)
    .await;
    for id in ["ST-TCH-001", "ST-CLR-001", "ST-VER-001", "ST-LOD-006"] {
        let row = rows.iter().find(|r| r.id == id).expect("the case exists");
        assert_eq!(row.status, Status::Ignored, "{id}: {row:?}");
    }
    // MemoryStore reports every capability, so the undeclared claim is caught.
    let cap = rows
        .iter()
        .find(|r| r.id == "ST-CAP-001")
        .expect("the case exists");
    assert_eq!(cap.status, Status::Failed);
}
