//! The session handle: a dict-like view of one visitor's data, loaded
//! lazily, with Django's `accessed`/`modified` flags.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::{Mutex, MutexGuard};

use std::collections::HashSet;
use std::hash::BuildHasher;

use crate::cookie::Incoming;
use crate::expiry::{self, EXPIRY_KEY};
use crate::signed::Engine;
use crate::state::State;
use crate::{Clock, Config, Error, Expiry, SessionData, SessionId, SessionStore};

/// The data key holding the logged-in user's ID, as in Django.
pub const AUTH_USER_ID_KEY: &str = "_auth_user_id";
/// The data key holding the logged-in user's auth hash, as in Django.
pub const AUTH_USER_HASH_KEY: &str = "_auth_user_hash";

/// Whether `key` is reserved for core (`_session*`, `_auth*`); the
/// dict methods refuse to write such keys.
pub fn is_reserved_key(key: &str) -> bool {
    key.starts_with("_session") || key.starts_with("_auth")
}

/// One visitor's session, handed to request handlers.
///
/// Cheap to clone (an [`Arc`]), `Send + Sync + 'static`, so every framework
/// can keep it in request state. Nothing is read from the store until the
/// first method that needs the data; a request that never calls one does no
/// store I/O and gets no session header.
///
/// The dict methods follow Django's flags: every call marks the session
/// *accessed* (the response then varies on `Cookie`); only a real change
/// marks it *modified* (the response then saves it and sets the cookie).
/// Reads, [`contains`](Session::contains), and removing or popping a missing
/// key do not modify. Changes inside a value you read and wrote back need no
/// flag; call [`mark_modified`](Session::mark_modified) only if you changed
/// a value through some other path.
///
/// Every method that touches data returns `Result`: the first one loads the
/// session and reports a store failure as [`Error::Unavailable`] or
/// [`Error::Backend`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_core::Error> {
/// use session_core::{MemoryStore, SessionManager};
///
/// let sessions = SessionManager::new(MemoryStore::new());
/// let session = sessions.load(["theme=dark"]);
///
/// let visits: u64 = session.get("visits").await?.unwrap_or(0);
/// session.insert("visits", visits + 1).await?;
/// assert_eq!(session.get::<u64>("visits").await?, Some(1));
/// assert!(session.is_modified().await);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) incoming: Incoming,
    state: Mutex<State>,
}

/// What every session of one [`SessionManager`](crate::SessionManager)
/// shares: the engine (a store, or signed cookies), the settings, the
/// clock, and which corrupt records were already reported.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) config: Config,
    /// The config's `Set-Cookie` values, prepared once.
    pub(crate) cookies: crate::cookie::Renderer,
    pub(crate) clock: Arc<dyn Clock>,
    /// The data of every session until it loads or changes: cloning it
    /// costs a reference count, not an allocation.
    empty: Arc<crate::SessionData>,
    suspicious: SuspiciousRecords,
}

impl Shared {
    pub(crate) fn new(engine: Engine, config: Config, clock: Arc<dyn Clock>) -> Self {
        Shared {
            engine,
            cookies: crate::cookie::Renderer::new(&config),
            config,
            clock,
            empty: Arc::default(),
            suspicious: SuspiciousRecords::default(),
        }
    }

    /// The store the engine writes to (for the cookie engine, one that
    /// holds no records).
    pub(crate) fn store(&self) -> &dyn SessionStore {
        self.engine.store()
    }

    /// A keyed fingerprint of `key` (a record's ID, a rejected cookie's
    /// value), and whether it is reported for the first time.
    pub(crate) fn first_suspicious(&self, key: &str) -> (u64, bool) {
        self.suspicious.first_report(key)
    }
}

/// The `tracing` target of the warning about a session record that cannot
/// be decoded (Django's `django.security.SuspiciousSession` logger): route
/// it to your security log. It carries a fingerprint of the record, never
/// its ID.
pub const SUSPICIOUS_SESSION_TARGET: &str = "session_core::suspicious_session";

/// How many corrupt records are remembered for "warn once"; past it the
/// memory starts over (a record may then be reported again).
const SUSPICIOUS_MEMORY: usize = 4096;

/// Fingerprints of the corrupt records already reported, so a visitor whose
/// record cannot be decoded produces one warning, not one per request.
#[derive(Default)]
struct SuspiciousRecords {
    keys: std::hash::RandomState,
    seen: std::sync::Mutex<HashSet<u64>>,
}

impl SuspiciousRecords {
    /// The record's fingerprint, and whether it is reported for the first
    /// time. The fingerprint is keyed per process: it tells log lines about
    /// one record apart without revealing the ID.
    fn first_report(&self, key: &str) -> (u64, bool) {
        let fingerprint = self.keys.hash_one(key);
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= SUSPICIOUS_MEMORY {
            seen.clear();
        }
        (fingerprint, seen.insert(fingerprint))
    }
}

/// A value as the session stores it, refused if no store could give it
/// back (see [`MAX_DEPTH`](crate::record::MAX_DEPTH)).
fn to_value<T: Serialize>(value: T) -> Result<Value, Error> {
    let value = serde_json::to_value(value)?;
    crate::record::check_depth(&value)?;
    Ok(value)
}

fn check_writable(key: &str) -> Result<(), Error> {
    if is_reserved_key(key) {
        Err(Error::ReservedKey)
    } else {
        Ok(())
    }
}

/// Whether `record` was created `timeout` or longer before `now`. A record
/// without a readable creation stamp predates the setting and is not.
fn timed_out(record: &crate::Record, timeout: time::Duration, now: OffsetDateTime) -> bool {
    expiry::created_from_stored(record.data.get(expiry::CREATED_KEY))
        .is_some_and(|created| expiry::absolute_deadline(created, timeout) <= now)
}

/// Compares auth hashes without leaking, through timing, how much of a
/// guess was right.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, incoming: Incoming) -> Self {
        Session {
            inner: Arc::new(Inner {
                incoming,
                state: Mutex::new(State::with_empty(&shared.empty)),
                shared,
            }),
        }
    }

    /// Locks the state without loading or marking anything.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().await
    }

    /// Loads the session from the store if that has not happened yet.
    ///
    /// Strict: an unknown, expired or corrupt record, or one past its
    /// [absolute timeout](Config::with_absolute_timeout), leaves the
    /// session without a key, so a write gets a fresh ID and the client's
    /// is never adopted (a timed-out record is deleted at `finish`). A corrupt record is reported once, on
    /// [`SUSPICIOUS_SESSION_TARGET`], and left in the store for its expiry
    /// or an explicit write: a read never deletes.
    pub(crate) async fn ensure_loaded(&self, state: &mut State) -> Result<(), Error> {
        if state.is_loaded() {
            return Ok(());
        }
        let shared = &self.inner.shared;
        let loaded = match &shared.engine {
            Engine::Cookie(cookies) => {
                Ok(cookies.open(shared, &self.inner.incoming, shared.clock.now()))
            }
            Engine::Store(store) => match &self.inner.incoming.id {
                Some(id) => store.load(id).await,
                None => Ok(None),
            },
        };
        match loaded {
            Ok(record) => {
                let now = shared.clock.now();
                let record = record.filter(|r| !r.is_expired_at(now));
                match (record, shared.config.absolute_timeout()) {
                    (Some(record), Some(timeout)) if timed_out(&record, timeout, now) => {
                        state.loaded_timed_out(record.id);
                    }
                    (record, _) => state.loaded(record),
                }
            }
            Err(Error::Corrupt { source }) => {
                let id = self
                    .inner
                    .incoming
                    .id
                    .as_ref()
                    .map_or("", SessionId::as_str);
                let (record, first) = shared.suspicious.first_report(id);
                if first {
                    tracing::warn!(
                        target: SUSPICIOUS_SESSION_TARGET,
                        record = format_args!("{record:016x}"),
                        cause = %source,
                        "a session record cannot be decoded; the visitor gets an empty session \
                         and the record is left for its expiry (reported once per record)"
                    );
                }
                state.loaded(None);
            }
            Err(error) => {
                error.log_store_failure("load");
                return Err(error);
            }
        }
        Ok(())
    }

    /// Locks, loads and marks accessed: the prologue of every data method.
    async fn access(&self) -> Result<MutexGuard<'_, State>, Error> {
        let mut state = self.lock().await;
        self.ensure_loaded(&mut state).await?;
        state.mark_accessed();
        Ok(state)
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.shared.clock.now()
    }

    /// The value under `key`, converted to `T`; `None` when absent.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] if the stored value is not a `T`; a store error on
    /// first access.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let state = self.access().await?;
        match state.data().get(key) {
            Some(value) => Ok(Some(T::deserialize(value)?)),
            None => Ok(None),
        }
    }

    /// The raw JSON value under `key`.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, Error> {
        Ok(self.access().await?.data().get(key).cloned())
    }

    /// Sets `key` to `value`. Always marks the session modified, as
    /// Django's `session[key] = value` does.
    ///
    /// # Errors
    ///
    /// [`Error::ReservedKey`] for `_session*`/`_auth*` keys; [`Error::Value`]
    /// if `value` cannot be represented as JSON or nests deeper than
    /// [`MAX_DEPTH`](crate::record::MAX_DEPTH) (then nothing changes); a
    /// store error on first access.
    pub async fn insert<T: Serialize>(
        &self,
        key: impl Into<String>,
        value: T,
    ) -> Result<(), Error> {
        let key = key.into();
        check_writable(&key)?;
        let value = to_value(value)?;
        let mut state = self.access().await?;
        state.data_mut().insert(key, value);
        Ok(())
    }

    /// Removes `key` and returns its value. Modifies only if the key was
    /// there.
    ///
    /// # Errors
    ///
    /// [`Error::ReservedKey`]; a store error on first access.
    pub async fn remove(&self, key: &str) -> Result<Option<Value>, Error> {
        check_writable(key)?;
        let mut state = self.access().await?;
        if !state.data().contains_key(key) {
            return Ok(None);
        }
        Ok(state.data_mut().remove(key))
    }

    /// Django's `pop(key, default)`: removes `key` and returns its value as
    /// `T`, or `default` when the key is missing (which does not modify).
    ///
    /// # Errors
    ///
    /// [`Error::ReservedKey`]; [`Error::Value`] if the stored value is not a
    /// `T` (the key is then left in place); a store error on first access.
    pub async fn pop<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, Error> {
        check_writable(key)?;
        let mut state = self.access().await?;
        let Some(value) = state.data().get(key) else {
            return Ok(default);
        };
        let typed = T::deserialize(value)?;
        state.data_mut().remove(key);
        Ok(typed)
    }

    /// Whether `key` is present. Does not modify.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn contains(&self, key: &str) -> Result<bool, Error> {
        Ok(self.access().await?.data().contains_key(key))
    }

    /// Django's `setdefault(key, default)`: the value under `key`, after
    /// inserting `default` if it was missing (only that insert modifies).
    ///
    /// # Errors
    ///
    /// [`Error::ReservedKey`]; [`Error::Value`]; a store error on first
    /// access.
    pub async fn get_or_insert<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        default: T,
    ) -> Result<T, Error> {
        check_writable(key)?;
        let mut state = self.access().await?;
        if let Some(value) = state.data().get(key) {
            return Ok(T::deserialize(value)?);
        }
        let value = to_value(&default)?;
        state.data_mut().insert(key.to_owned(), value);
        Ok(default)
    }

    /// Django's `update(dict)`: inserts every pair. Modifies, as Django does,
    /// even when `entries` is empty.
    ///
    /// # Errors
    ///
    /// [`Error::ReservedKey`] if any key is reserved (then nothing is
    /// inserted); [`Error::Value`]; a store error on first access.
    pub async fn extend<K, V, I>(&self, entries: I) -> Result<(), Error>
    where
        K: Into<String>,
        V: Serialize,
        I: IntoIterator<Item = (K, V)>,
    {
        let entries = entries
            .into_iter()
            .map(|(k, v)| {
                let k = k.into();
                check_writable(&k)?;
                Ok((k, to_value(v)?))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut state = self.access().await?;
        state.data_mut().extend(entries);
        Ok(())
    }

    /// Removes every key, reserved ones (expiry, login) included, keeping
    /// the ID, and with it the creation time
    /// ([`CREATED_KEY`](crate::expiry::CREATED_KEY)): the session goes on,
    /// so its [absolute timeout](Config::with_absolute_timeout) does not
    /// start over. See [`flush`](Session::flush) to end the session
    /// instead.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn clear(&self) -> Result<(), Error> {
        self.access().await?.clear();
        Ok(())
    }

    /// A snapshot of the whole map, shared with the session (no copy).
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn data(&self) -> Result<Arc<SessionData>, Error> {
        Ok(Arc::clone(self.access().await?.data()))
    }

    /// Every key, in order.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        Ok(self.access().await?.data().keys().cloned().collect())
    }

    /// Every value, in key order.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn values(&self) -> Result<Vec<Value>, Error> {
        Ok(self.access().await?.data().values().cloned().collect())
    }

    /// Every pair, in key order.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn items(&self) -> Result<Vec<(String, Value)>, Error> {
        let state = self.access().await?;
        Ok(state
            .data()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// How many keys the session holds.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn len(&self) -> Result<usize, Error> {
        Ok(self.access().await?.data().len())
    }

    /// Whether the session holds no key.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.access().await?.data().is_empty())
    }

    /// Marks the session modified, so it is saved at the end of the request.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn mark_modified(&self) -> Result<(), Error> {
        self.access().await?.mark_modified();
        Ok(())
    }

    /// The session's ID, once the store confirmed it (after a rotation, the
    /// new one). `None` for a session without a record yet: an ID is
    /// created when the first write is saved.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn id(&self) -> Result<Option<SessionId>, Error> {
        Ok(self.access().await?.key().cloned())
    }

    /// Whether a method has read the data during this request.
    pub async fn is_accessed(&self) -> bool {
        self.lock().await.is_accessed()
    }

    /// Whether the data changed during this request.
    pub async fn is_modified(&self) -> bool {
        self.lock().await.is_modified()
    }

    /// Django's `set_expiry`. Stores the value under `_session_expiry`
    /// (marking the session modified), or removes it for
    /// [`Expiry::Default`] (which modifies only if there was one).
    ///
    /// # Errors
    ///
    /// [`Error::ExpiryOutOfRange`] for an expiry outside the years 1 to
    /// 9999 counted from now (an overflowing [`Expiry::In`] or
    /// [`Expiry::Seconds`] included); nothing changes then. A store error
    /// on first access.
    pub async fn set_expiry(&self, expiry: Expiry) -> Result<(), Error> {
        let stored = expiry.to_stored(self.now())?;
        let mut state = self.access().await?;
        match stored {
            Some(value) => {
                state.data_mut().insert(EXPIRY_KEY.to_owned(), value);
            }
            None if state.data().contains_key(EXPIRY_KEY) => {
                state.data_mut().remove(EXPIRY_KEY);
            }
            None => {}
        }
        Ok(())
    }

    /// The custom expiry, or [`Expiry::Default`] when none is set.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn expiry(&self) -> Result<Expiry, Error> {
        Ok(self.access().await?.custom_expiry())
    }

    /// Django's `get_expiry_age()`: seconds from now until the session
    /// expires if saved now (rounded down; negative for a past `At`).
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn expiry_age(&self) -> Result<i64, Error> {
        let custom = self.expiry().await?;
        Ok(expiry::expiry_age(
            custom,
            self.now(),
            self.inner.shared.config.cookie_age(),
        ))
    }

    /// Django's `get_expiry_date()`: when the session expires if saved now.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn expiry_date(&self) -> Result<OffsetDateTime, Error> {
        let custom = self.expiry().await?;
        Ok(expiry::expiry_date(
            custom,
            self.now(),
            self.inner.shared.config.cookie_age(),
        ))
    }

    /// Django's `get_expire_at_browser_close()`.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn expire_at_browser_close(&self) -> Result<bool, Error> {
        let custom = self.expiry().await?;
        Ok(expiry::expire_at_browser_close(
            custom,
            self.inner.shared.config.expire_at_browser_close(),
        ))
    }

    /// Ends the session: deletes its record now (so a logout holds even if
    /// the response later fails), clears the data and drops the ID. The
    /// response then deletes the cookie.
    ///
    /// Does not need to load the session first.
    ///
    /// # Errors
    ///
    /// A store error from the delete. The session is cleared anyway, and
    /// the delete is retried when the request finishes; if it fails again,
    /// [`SessionManager::finish`](crate::SessionManager::finish) fails too,
    /// so the response never removes the cookie while the record lives on
    /// (a copied cookie would keep working after "logout"). Ignoring this
    /// error cannot make a failed logout look successful.
    pub async fn flush(&self) -> Result<(), Error> {
        let mut state = self.lock().await;
        self.flush_locked(&mut state).await
    }

    async fn flush_locked(&self, state: &mut State) -> Result<(), Error> {
        let was_loaded = state.is_loaded();
        let mut doomed = state.flush();
        if !was_loaded {
            // Delete what the cookie named without reading it first; the
            // store ignores an unknown ID.
            doomed.extend(self.inner.incoming.id.iter().cloned());
        }
        let mut result = Ok(());
        for id in doomed {
            if let Err(error) = self.inner.shared.store().delete(&id).await {
                error.log_store_failure("delete (flush)");
                state.defer_deletes([id]);
                result = Err(error);
            }
        }
        result
    }

    /// Rotates the ID, keeping the data (Django's `cycle_key`). The new
    /// record is created at the end of the request, before the old one is
    /// deleted; a failed save or a 5xx answer leaves the old session valid.
    ///
    /// # Errors
    ///
    /// A store error on first access; [`Error::Unavailable`] if the OS
    /// random source fails.
    pub async fn cycle_id(&self) -> Result<(), Error> {
        self.access().await?.rotate()
    }

    /// Records a login, with Django's defence against session fixation: if
    /// the session belongs to another user, or to this user with another
    /// auth hash, it is flushed first; otherwise the ID is rotated and the
    /// anonymous data kept. Then `_auth_user_id` and `_auth_user_hash` are
    /// stored. An empty `auth_hash` is not compared.
    ///
    /// # Errors
    ///
    /// A store error on first access or from the flush.
    pub async fn login(&self, user_id: &str, auth_hash: &str) -> Result<(), Error> {
        let mut state = self.access().await?;
        let same_user = match state.data().get(AUTH_USER_ID_KEY) {
            None => true,
            Some(current) => {
                current.as_str() == Some(user_id)
                    && (auth_hash.is_empty()
                        || constant_time_eq(stored_hash(state.data()), auth_hash))
            }
        };
        if same_user {
            state.rotate()?;
        } else {
            self.flush_locked(&mut state).await?;
        }
        let data = state.data_mut();
        data.insert(AUTH_USER_ID_KEY.to_owned(), Value::from(user_id));
        data.insert(AUTH_USER_HASH_KEY.to_owned(), Value::from(auth_hash));
        Ok(())
    }

    /// Django's `update_session_auth_hash`: after the user changed their
    /// password, keeps them logged in on this session under a new ID, with
    /// the data kept and `new_hash` stored, so [`verify_auth_hash`] goes on
    /// accepting this session while every other session of the user (which
    /// holds the old hash) is flushed on its next check. Without a
    /// logged-in user it only rotates the ID.
    ///
    /// (Calling [`login`](Session::login) with the new hash instead would
    /// flush the session: the stored hash no longer matches.)
    ///
    /// [`verify_auth_hash`]: Session::verify_auth_hash
    ///
    /// # Errors
    ///
    /// A store error on first access; [`Error::Unavailable`] if the OS
    /// random source fails.
    pub async fn update_auth_hash(&self, new_hash: &str) -> Result<(), Error> {
        let mut state = self.access().await?;
        state.rotate()?;
        if state.data().contains_key(AUTH_USER_ID_KEY) {
            state
                .data_mut()
                .insert(AUTH_USER_HASH_KEY.to_owned(), Value::from(new_hash));
        }
        Ok(())
    }

    /// Django's per-request check in `get_user`: whether this session still
    /// belongs to its logged-in user, given the user's `current` auth hash
    /// (derived from their password, so a password change elsewhere
    /// changes it). A session whose stored hash is missing, empty or
    /// different is flushed ("log out everywhere after a password change")
    /// and the answer is `false`; so is a session without a logged-in user
    /// (which is left alone). The comparison takes the same time however
    /// much of the hash matches.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::Error> {
    /// use session_core::{MemoryStore, SessionManager};
    ///
    /// let sessions = SessionManager::new(MemoryStore::new());
    /// let session = sessions.load(Vec::<&str>::new());
    /// session.login("ada", "hash-1").await?;
    /// assert!(session.verify_auth_hash("hash-1").await?);
    /// assert!(!session.verify_auth_hash("hash-2").await?); // flushed
    /// assert_eq!(session.auth_user_id().await?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A store error on first access or from the flush (see
    /// [`flush`](Session::flush)).
    pub async fn verify_auth_hash(&self, current: &str) -> Result<bool, Error> {
        let mut state = self.access().await?;
        if !state.data().contains_key(AUTH_USER_ID_KEY) {
            return Ok(false);
        }
        let stored = stored_hash(state.data());
        if !stored.is_empty() && constant_time_eq(stored, current) {
            return Ok(true);
        }
        self.flush_locked(&mut state).await?;
        Ok(false)
    }

    /// Logs out: flushes the session (Django's `logout`).
    ///
    /// # Errors
    ///
    /// As [`flush`](Session::flush).
    pub async fn logout(&self) -> Result<(), Error> {
        self.flush().await
    }

    /// The logged-in user's ID (`_auth_user_id`), if any.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn auth_user_id(&self) -> Result<Option<String>, Error> {
        self.stored_str(AUTH_USER_ID_KEY).await
    }

    /// The logged-in user's auth hash (`_auth_user_hash`), if any.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn auth_hash(&self) -> Result<Option<String>, Error> {
        self.stored_str(AUTH_USER_HASH_KEY).await
    }

    /// The logged-in user's ID; the same as
    /// [`auth_user_id`](Session::auth_user_id).
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn user_id(&self) -> Result<Option<String>, Error> {
        self.auth_user_id().await
    }

    async fn stored_str(&self, key: &str) -> Result<Option<String>, Error> {
        let state = self.access().await?;
        Ok(state
            .data()
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned))
    }
}

/// The stored auth hash, or `""`.
fn stored_hash(data: &SessionData) -> &str {
    data.get(AUTH_USER_HASH_KEY)
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("cookie_present", &self.inner.incoming.present)
            .finish_non_exhaustive()
    }
}
