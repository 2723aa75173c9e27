//! The request lifecycle, sans I/O on the way in: `load` before the handler,
//! `finish` after it. Adapters only move bytes between the framework and
//! these two calls.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::cookie::{self, Incoming};
use crate::expiry::{self, EXPIRY_KEY};
use crate::session::State;
use crate::{
    Clock, Config, Error, ErrorKind, Expiry, Record, Session, SessionData, SessionId, SessionStore,
    SystemClock,
};

/// How many fresh IDs `finish` tries when `create` reports a taken one.
/// With 165-bit IDs a second collision means a broken store or RNG.
const CREATE_ATTEMPTS: usize = 4;

pub(crate) struct Shared {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
}

/// What `finish` asks the adapter to add to the response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// A complete `Set-Cookie` header value, to append as is (bypassing the
    /// framework's cookie jar).
    pub set_cookie: Option<String>,
    /// Whether to add `Cookie` to the response's `Vary` header: the answer
    /// depended on the session.
    pub vary_cookie: bool,
}

/// The entry point: holds the store, the settings and the clock, and runs
/// the two halves of every request.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_core::Error> {
/// use session_core::{Config, MemoryStore, SessionManager};
///
/// let sessions = SessionManager::new(MemoryStore::new())
///     .with_config(Config::default().with_cookie_name("sid"));
///
/// // Before the handler: no I/O.
/// let session = sessions.load(Vec::<&str>::new());
/// // The handler.
/// session.insert("cart", ["apple"]).await?;
/// // After it: the store write and the header.
/// let outcome = sessions.finish(&session, 200).await?;
/// let cookie = outcome.set_cookie.unwrap();
/// assert!(cookie.starts_with("sid="));
/// assert!(cookie.contains("; HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600; Expires="));
/// assert!(outcome.vary_cookie);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionManager {
    shared: Arc<Shared>,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("store", &self.shared.store)
            .field("config", &self.shared.config)
            .field("clock", &self.shared.clock)
            .finish()
    }
}

impl SessionManager {
    /// A manager over `store` with the default [`Config`] and the system
    /// clock.
    pub fn new(store: impl SessionStore) -> Self {
        Self::from_parts(Arc::new(store), Config::default(), Arc::new(SystemClock))
    }

    fn from_parts(store: Arc<dyn SessionStore>, config: Config, clock: Arc<dyn Clock>) -> Self {
        SessionManager {
            shared: Arc::new(Shared {
                store,
                config,
                clock,
            }),
        }
    }

    /// The same manager with `config`.
    #[must_use]
    pub fn with_config(self, config: Config) -> Self {
        Self::from_parts(
            Arc::clone(&self.shared.store),
            config,
            Arc::clone(&self.shared.clock),
        )
    }

    /// The same manager reading time from `clock` (tests).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        Self::from_parts(
            Arc::clone(&self.shared.store),
            self.shared.config.clone(),
            Arc::new(clock),
        )
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The store.
    pub fn store(&self) -> &dyn SessionStore {
        &*self.shared.store
    }

    /// Removes expired records (Django's `clearsessions`); see
    /// [`SessionStore::clear_expired`].
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn clear_expired(&self) -> Result<u64, Error> {
        self.shared.store.clear_expired().await
    }

    /// Starts a request: finds the session cookie in the request's `Cookie`
    /// header values (pass every field; HTTP/2 sends one per cookie) and
    /// returns the handle. No I/O: the store is read on first use.
    ///
    /// A cookie value that is not a well-formed ID is ignored here, before
    /// any store sees it.
    pub fn load<I, H>(&self, cookie_header_values: I) -> Session
    where
        I: IntoIterator<Item = H>,
        H: AsRef<[u8]>,
    {
        let incoming = Incoming::parse(self.shared.config.cookie_name(), cookie_header_values);
        Session::new(Arc::clone(&self.shared), incoming)
    }

    /// Ends a request: performs every store write and says what to add to
    /// the response, after Django's `SessionMiddleware`:
    ///
    /// - `status >= 500`: nothing is saved and no cookie is set (a pending
    ///   rotation is dropped, so the old session stays valid);
    /// - the session was accessed: `Vary: Cookie`;
    /// - no ID and no data (flushed, or an unknown cookie that resolved to
    ///   nothing) and the request carried the cookie: a deletion cookie;
    /// - modified, or `save_every_request`, and not empty: create or save,
    ///   then a `Set-Cookie` with the ID and the computed `Max-Age`/`Expires`
    ///   (none for a browser-close session). An expiry already in the past
    ///   deletes the record and the cookie instead;
    /// - nothing else writes. A session never used writes nothing and
    ///   touches no store.
    ///
    /// Concurrent requests of one visitor are normal traffic: on a store
    /// with versioned saves, a save that lost the race is merged key by key
    /// into the winner's data and retried for up to
    /// [`Config::conflict_window`], then the other writers' data stands;
    /// neither is an error. The cookie's `Max-Age`/`Expires` and the
    /// record's expiry come from the data as finally stored.
    ///
    /// Calling it again for the same session does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Interrupted`] if the record was deleted meanwhile (answer
    /// 400); any store error (answer [`Error::http_status`]). On error the
    /// client's cookie is left as it was.
    pub async fn finish(&self, session: &Session, status: u16) -> Result<Outcome, Error> {
        let mut state = session.lock().await;
        if state.finished {
            return Ok(Outcome::default());
        }
        state.finished = true;
        let mut outcome = Outcome {
            set_cookie: None,
            vary_cookie: state.accessed,
        };
        if status >= 500 {
            return Ok(outcome);
        }
        let shared = &self.shared;
        let incoming = &session.inner.incoming;
        if !state.loaded {
            if !(shared.config.save_every_request() && incoming.id.is_some()) {
                return Ok(outcome);
            }
            session.ensure_loaded(&mut state).await?;
        }

        if state.is_empty() {
            if incoming.present {
                outcome.set_cookie = Some(cookie::render_removal(&shared.config));
                outcome.vary_cookie = true;
            }
            return Ok(outcome);
        }
        if !(state.modified || shared.config.save_every_request()) {
            return Ok(outcome);
        }

        let now = shared.clock.now();
        let mut custom = Expiry::from_stored(state.data.get(EXPIRY_KEY));
        let expires_at = expiry::expiry_date(custom, now, shared.config.cookie_age());
        if expires_at <= now {
            // Set to expire in the past: the session is over already.
            let current = state.key.take().filter(|_| state.in_store);
            for id in state.rotate_from.take().into_iter().chain(current) {
                shared.store.delete(&id).await?;
            }
            if incoming.present {
                outcome.set_cookie = Some(cookie::render_removal(&shared.config));
            }
            return Ok(outcome);
        }

        let before = Arc::clone(&state.data);
        let id = write(shared, &mut state, expires_at, now).await?;
        if !Arc::ptr_eq(&before, &state.data) {
            // Merged with another request's data, whose custom expiry may
            // differ: the cookie follows what was stored.
            custom = Expiry::from_stored(state.data.get(EXPIRY_KEY));
        }
        let max_age =
            (!expiry::expire_at_browser_close(custom, shared.config.expire_at_browser_close()))
                .then(|| expiry::expiry_age(custom, now, shared.config.cookie_age()));
        outcome.set_cookie = Some(cookie::render_session(&shared.config, &id, max_age, now));
        Ok(outcome)
    }
}

/// When a session holding `data` expires if saved at `now`.
fn expiry_of(shared: &Shared, data: &SessionData, now: OffsetDateTime) -> OffsetDateTime {
    let custom = Expiry::from_stored(data.get(EXPIRY_KEY));
    expiry::expiry_date(custom, now, shared.config.cookie_age())
}

/// Creates or saves the record; returns the ID the cookie must carry.
async fn write(
    shared: &Shared,
    state: &mut State,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<SessionId, Error> {
    let store = &*shared.store;
    let id = match (&state.key, state.in_store) {
        (Some(id), true) => {
            let id = id.clone();
            if !state.modified && store.capabilities().touch {
                store
                    .touch(&id, expires_at)
                    .await
                    .map_err(interrupted_if_gone)?;
            } else {
                save(shared, state, &id, expires_at, now).await?;
            }
            id
        }
        (pending, _) => {
            let record = Record::new(
                pending.clone().map_or_else(SessionId::try_generate, Ok)?,
                Arc::clone(&state.data),
                expires_at,
            );
            let id = create(store, record).await?;
            // The new record exists: only now may the old one go.
            if let Some(old) = state.rotate_from.take() {
                store.delete(&old).await?;
            }
            state.key = Some(id.clone());
            state.in_store = true;
            state.version = 0;
            id
        }
    };
    state.base = Arc::clone(&state.data);
    state.modified = false;
    Ok(id)
}

/// `create`, retrying with a fresh ID while the store reports the ID taken.
async fn create(store: &dyn SessionStore, mut record: Record) -> Result<SessionId, Error> {
    let mut attempt = 1;
    loop {
        match store.create(&record).await {
            Ok(()) => return Ok(record.id),
            Err(error) if error.kind() == ErrorKind::Conflict && attempt < CREATE_ATTEMPTS => {
                tracing::warn!(
                    attempt,
                    "session ID already taken; retrying with a fresh one"
                );
                record.id = SessionId::try_generate()?;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// `save`; after losing a versioned race, merges this request's changes
/// into the concurrent writer's data and tries again, for as long as
/// [`Config::conflict_window`] lasts (each round some writer wins, so this
/// ends). Past the window the other writers' data stands: this request's
/// changes are dropped with a warning, never turned into an error.
async fn save(
    shared: &Shared,
    state: &mut State,
    id: &SessionId,
    mut expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let store = &*shared.store;
    // Real time, not the session clock: a manual clock never moves.
    let deadline = std::time::Instant::now() + shared.config.conflict_window();
    let mut rounds: u32 = 0;
    loop {
        let record = Record::new(id.clone(), Arc::clone(&state.data), expires_at)
            .with_version(state.version);
        let error = match store.save(&record).await {
            Ok(()) => {
                state.version = state.version.wrapping_add(1);
                return Ok(());
            }
            Err(error) if error.kind() == ErrorKind::Conflict => error,
            Err(error) => return Err(interrupted_if_gone(error)),
        };
        let Some(theirs) = store.load(id).await? else {
            // Deleted meanwhile (a logout): never revive it.
            return Err(Error::Interrupted);
        };
        rounds += 1;
        if std::time::Instant::now() >= deadline {
            tracing::warn!(
                rounds,
                %error,
                "concurrent requests kept winning the versioned save of this session; \
                 this request's session changes are dropped (last writer wins)"
            );
            state.data = theirs.data;
            state.version = theirs.version;
            return Ok(());
        }
        state.data = Arc::new(merge(&state.base, &state.data, &theirs.data));
        state.base = theirs.data;
        state.version = theirs.version;
        // The merged data may carry another request's custom expiry.
        expires_at = expiry_of(shared, &state.data, now);
    }
}

/// Replays the changes from `base` to `mine` onto `theirs`: keys this
/// request removed are removed, keys it set or changed are set, everything
/// else is the concurrent writer's.
fn merge(base: &SessionData, mine: &SessionData, theirs: &SessionData) -> SessionData {
    let mut merged = theirs.clone();
    for key in base.keys().filter(|k| !mine.contains_key(*k)) {
        merged.remove(key);
    }
    for (key, value) in mine.iter().filter(|(k, v)| base.get(*k) != Some(*v)) {
        merged.insert(key.clone(), value.clone());
    }
    merged
}

fn interrupted_if_gone(error: Error) -> Error {
    match error.kind() {
        ErrorKind::NotFound => Error::Interrupted,
        _ => error,
    }
}

#[cfg(test)]
mod tests;
