//! The session handle: a dict-like view of one visitor's data, loaded
//! lazily, with Django's `accessed`/`modified` flags.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::{Mutex, MutexGuard};

use crate::cookie::Incoming;
use crate::expiry::{self, EXPIRY_KEY};
use crate::lifecycle::Shared;
use crate::{Error, Expiry, SessionData, SessionId};

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
    pub(crate) state: Mutex<State>,
}

/// Everything the lifecycle needs to decide what to write at `finish`.
#[derive(Default)]
pub(crate) struct State {
    /// The store has been asked (or there was nothing to ask for).
    pub(crate) loaded: bool,
    /// The session's ID: a loaded record's, one pending creation after a
    /// rotation, or none (no record, unknown cookie, flushed).
    pub(crate) key: Option<SessionId>,
    /// The record behind `key` exists in the store.
    pub(crate) in_store: bool,
    /// A rotation is pending: this record is deleted once the new one
    /// under `key` exists.
    pub(crate) rotate_from: Option<SessionId>,
    pub(crate) data: Arc<SessionData>,
    /// The data as the store last had it, for merging after a lost
    /// versioned save. Shares the map with `data` until the first change.
    pub(crate) base: Arc<SessionData>,
    pub(crate) version: u64,
    pub(crate) accessed: bool,
    pub(crate) modified: bool,
    pub(crate) finished: bool,
}

impl State {
    /// Django's `is_empty()`: no key and no data.
    pub(crate) fn is_empty(&self) -> bool {
        self.key.is_none() && self.data.is_empty()
    }

    fn data_mut(&mut self) -> &mut SessionData {
        Arc::make_mut(&mut self.data)
    }

    fn custom_expiry(&self) -> Expiry {
        Expiry::from_stored(self.data.get(EXPIRY_KEY))
    }

    /// Drops everything; returns the records to delete.
    fn reset(&mut self) -> Vec<SessionId> {
        let mut doomed: Vec<SessionId> = self.rotate_from.take().into_iter().collect();
        let key = self.key.take();
        if self.in_store {
            doomed.extend(key);
        }
        self.in_store = false;
        self.data = Arc::default();
        self.base = Arc::default();
        self.version = 0;
        self.modified = true;
        doomed
    }

    /// Gives the session a new ID; the old record is deleted at `finish`,
    /// after the new one exists.
    fn rotate(&mut self) -> Result<(), Error> {
        if self.key.is_none() {
            return Ok(());
        }
        let new_key = SessionId::try_generate()?;
        if let Some(old) = self.key.replace(new_key)
            && self.in_store
        {
            self.rotate_from = Some(old);
        }
        self.in_store = false;
        self.modified = true;
        Ok(())
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
                shared,
                incoming,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Locks the state without loading or marking anything.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().await
    }

    /// Loads the session from the store if that has not happened yet.
    ///
    /// Strict: an unknown, expired or corrupt record leaves the session
    /// without a key, so a write gets a fresh ID and the client's is never
    /// adopted.
    pub(crate) async fn ensure_loaded(&self, state: &mut State) -> Result<(), Error> {
        if state.loaded {
            return Ok(());
        }
        if let Some(id) = &self.inner.incoming.id {
            let shared = &self.inner.shared;
            match shared.store.load(id).await {
                Ok(Some(record)) if !record.is_expired_at(shared.clock.now()) => {
                    state.key = Some(record.id);
                    state.in_store = true;
                    state.version = record.version;
                    state.base = Arc::clone(&record.data);
                    state.data = record.data;
                }
                Ok(_) => {}
                Err(Error::Corrupt { source }) => {
                    tracing::warn!(error = %source, "discarding a corrupt session record; the visitor starts an empty session");
                    if let Err(error) = shared.store.delete(id).await {
                        tracing::warn!(%error, "could not delete a corrupt session record");
                    }
                }
                Err(error) => return Err(error),
            }
        }
        state.loaded = true;
        Ok(())
    }

    /// Locks, loads and marks accessed: the prologue of every data method.
    async fn access(&self) -> Result<MutexGuard<'_, State>, Error> {
        let mut state = self.lock().await;
        self.ensure_loaded(&mut state).await?;
        state.accessed = true;
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
        match state.data.get(key) {
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
        Ok(self.access().await?.data.get(key).cloned())
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
        state.modified = true;
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
        if !state.data.contains_key(key) {
            return Ok(None);
        }
        state.modified = true;
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
        let Some(value) = state.data.get(key) else {
            return Ok(default);
        };
        let typed = T::deserialize(value)?;
        state.data_mut().remove(key);
        state.modified = true;
        Ok(typed)
    }

    /// Whether `key` is present. Does not modify.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn contains(&self, key: &str) -> Result<bool, Error> {
        Ok(self.access().await?.data.contains_key(key))
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
        if let Some(value) = state.data.get(key) {
            return Ok(T::deserialize(value)?);
        }
        state.data_mut().insert(key.to_owned(), to_value(&default)?);
        state.modified = true;
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
        state.modified = true;
        Ok(())
    }

    /// Removes every key, reserved ones (expiry, login) included, keeping
    /// the ID. See [`flush`](Session::flush) to end the session instead.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn clear(&self) -> Result<(), Error> {
        let mut state = self.access().await?;
        state.data = Arc::default();
        state.modified = true;
        Ok(())
    }

    /// A snapshot of the whole map, shared with the session (no copy).
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn data(&self) -> Result<Arc<SessionData>, Error> {
        Ok(Arc::clone(&self.access().await?.data))
    }

    /// Every key, in order.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        Ok(self.access().await?.data.keys().cloned().collect())
    }

    /// Every value, in key order.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn values(&self) -> Result<Vec<Value>, Error> {
        Ok(self.access().await?.data.values().cloned().collect())
    }

    /// Every pair, in key order.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn items(&self) -> Result<Vec<(String, Value)>, Error> {
        let state = self.access().await?;
        Ok(state
            .data
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
        Ok(self.access().await?.data.len())
    }

    /// Whether the session holds no key.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.access().await?.data.is_empty())
    }

    /// Marks the session modified, so it is saved at the end of the request.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn mark_modified(&self) -> Result<(), Error> {
        self.access().await?.modified = true;
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
        Ok(self.access().await?.key.clone())
    }

    /// Whether a method has read the data during this request.
    pub async fn is_accessed(&self) -> bool {
        self.lock().await.accessed
    }

    /// Whether the data changed during this request.
    pub async fn is_modified(&self) -> bool {
        self.lock().await.modified
    }

    /// Django's `set_expiry`. Stores the value under `_session_expiry`
    /// (marking the session modified), or removes it for
    /// [`Expiry::Default`] (which modifies only if there was one).
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn set_expiry(&self, expiry: Expiry) -> Result<(), Error> {
        let now = self.now();
        let mut state = self.access().await?;
        match expiry.to_stored(now) {
            Some(value) => {
                state.data_mut().insert(EXPIRY_KEY.to_owned(), value);
                state.modified = true;
            }
            None if state.data.contains_key(EXPIRY_KEY) => {
                state.data_mut().remove(EXPIRY_KEY);
                state.modified = true;
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
    /// A store error from the delete. The session is cleared anyway, so
    /// the response still removes the cookie.
    pub async fn flush(&self) -> Result<(), Error> {
        let mut state = self.lock().await;
        self.flush_locked(&mut state).await
    }

    async fn flush_locked(&self, state: &mut State) -> Result<(), Error> {
        let doomed = if state.loaded {
            state.reset()
        } else {
            // Delete what the cookie named without reading it first; the
            // store ignores an unknown ID.
            state.reset();
            self.inner.incoming.id.iter().cloned().collect()
        };
        state.loaded = true;
        state.accessed = true;
        let mut result = Ok(());
        for id in &doomed {
            if let Err(error) = self.inner.shared.store.delete(id).await {
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
        let mut state = self.access().await?;
        state.modified = true;
        state.rotate()
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
        let same_user = match state.data.get(AUTH_USER_ID_KEY) {
            None => true,
            Some(current) => {
                let stored_hash = state
                    .data
                    .get(AUTH_USER_HASH_KEY)
                    .and_then(Value::as_str)
                    .unwrap_or("");
                current.as_str() == Some(user_id)
                    && (auth_hash.is_empty() || constant_time_eq(stored_hash, auth_hash))
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
        state.modified = true;
        Ok(())
    }

    /// Logs out: flushes the session (Django's `logout`).
    ///
    /// # Errors
    ///
    /// As [`flush`](Session::flush).
    pub async fn logout(&self) -> Result<(), Error> {
        self.flush().await
    }

    /// The logged-in user's ID, if any.
    ///
    /// # Errors
    ///
    /// A store error on first access.
    pub async fn user_id(&self) -> Result<Option<String>, Error> {
        let state = self.access().await?;
        Ok(state
            .data
            .get(AUTH_USER_ID_KEY)
            .and_then(Value::as_str)
            .map(str::to_owned))
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("cookie_present", &self.inner.incoming.present)
            .finish_non_exhaustive()
    }
}
