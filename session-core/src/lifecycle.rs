//! The request lifecycle, sans I/O on the way in: `load` before the handler,
//! `finish` after it. Adapters only move bytes between the framework and
//! these two calls.

pub(crate) mod plan;

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::cookie::Incoming;
use crate::session::Shared;
use crate::signed::{Engine, SignedCookies};
use crate::state::State;
use crate::{
    Clock, Config, ConfigError, Error, ErrorKind, Record, Session, SessionId, SessionStore,
    SystemClock,
};
use plan::{Action, Plan, Write};

/// How many fresh IDs `finish` tries when `create` reports a taken one.
/// With 165-bit IDs a second collision means a broken store or RNG.
const CREATE_ATTEMPTS: usize = 4;

/// What `finish` asks the adapter to add to the response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// A complete `Set-Cookie` header value, to append as is (bypassing the
    /// framework's cookie jar). It holds only visible ASCII and spaces, which
    /// every header can carry: the ID is `[a-z0-9]` and
    /// [`Config::validate`] refuses a name, path or domain that is not
    /// header-safe.
    pub set_cookie: Option<String>,
    /// Whether to add `Cookie` to the response's `Vary` header: the answer
    /// depended on the session.
    pub vary_cookie: bool,
}

#[cfg(feature = "http")]
impl Outcome {
    /// Appends what the outcome asks for to a response's headers, for
    /// adapters on the `http` crate's types (Poem, Warp, tower/axum,
    /// hyper): the `Set-Cookie`, and `Vary: Cookie`, each as a field of its
    /// own, so the application's cookies and `Vary` values stay as they
    /// were.
    ///
    /// A cookie that cannot be a header value is left out and logged with
    /// [`log_unsendable_cookie`]: the store has already been written, so the
    /// response still goes out and the browser keeps its previous cookie.
    /// [`Config::validate`] makes this impossible for the cookies core
    /// renders.
    pub fn apply_to(self, headers: &mut http::HeaderMap, config: &Config) {
        use http::header::{SET_COOKIE, VARY};
        if let Some(cookie) = self.set_cookie {
            match http::HeaderValue::try_from(cookie) {
                Ok(value) => {
                    headers.append(SET_COOKIE, value);
                }
                Err(_) => log_unsendable_cookie(config),
            }
        }
        if self.vary_cookie {
            headers.append(VARY, http::HeaderValue::from_static("Cookie"));
        }
    }
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
///     .with_config(Config::default().with_cookie_name("sid"))?;
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
            .field("engine", &self.shared.engine)
            .field("config", &self.shared.config)
            .field("clock", &self.shared.clock)
            .finish()
    }
}

impl SessionManager {
    /// A manager over `store` with the default [`Config`] and the system
    /// clock.
    pub fn new(store: impl SessionStore) -> Self {
        Self::from_parts(
            Engine::Store(Arc::new(store)),
            Config::default(),
            Arc::new(SystemClock),
        )
    }

    /// A manager that keeps each session in its cookie, signed (or
    /// encrypted) with `cookies`' keys, instead of in a store: Django's
    /// `signed_cookies` engine. The default [`Config`] and the system
    /// clock; [`with_config`](Self::with_config) and
    /// [`with_clock`](Self::with_clock) work as for a store.
    ///
    /// Read what this engine cannot do (revoke a copied cookie, hide the
    /// data unless encrypted, hold more than 4 KiB) in the
    /// [`signed`](crate::signed) module before choosing it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::Error> {
    /// use session_core::{SecretKey, SessionManager, SignedCookies};
    ///
    /// let sessions = SessionManager::signed_cookies(SignedCookies::new(SecretKey::generate()));
    /// let session = sessions.load(Vec::<&str>::new());
    /// session.insert("cart", ["apple"]).await?;
    /// let cookie = sessions.finish(&session, 200).await?.set_cookie.unwrap();
    ///
    /// let pair = cookie.split(';').next().unwrap_or_default();
    /// let session = sessions.load([pair]);
    /// assert_eq!(session.get::<Vec<String>>("cart").await?, Some(vec!["apple".into()]));
    /// # Ok(()) }
    /// ```
    pub fn signed_cookies(cookies: SignedCookies) -> Self {
        Self::from_parts(
            Engine::Cookie(Arc::new(cookies)),
            Config::default(),
            Arc::new(SystemClock),
        )
    }

    fn from_parts(engine: Engine, config: Config, clock: Arc<dyn Clock>) -> Self {
        SessionManager {
            shared: Arc::new(Shared::new(engine, config, clock)),
        }
    }

    /// The same manager with `config`, once [`Config::validate`] accepts it.
    ///
    /// ```
    /// use session_core::{Config, MemoryStore, SessionManager};
    ///
    /// let sessions = SessionManager::new(MemoryStore::new()).with_config(Config::production())?;
    /// assert!(SessionManager::new(MemoryStore::new())
    ///     .with_config(Config::default().with_cookie_name("bad name"))
    ///     .is_err());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] that says what to change.
    pub fn with_config(self, config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::from_parts(
            self.shared.engine.clone(),
            config,
            Arc::clone(&self.shared.clock),
        ))
    }

    /// The same manager reading time from `clock` (tests).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        Self::from_parts(
            self.shared.engine.clone(),
            self.shared.config.clone(),
            Arc::new(clock),
        )
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The store. For a manager made with
    /// [`signed_cookies`](Self::signed_cookies) there is none: this is a
    /// store that holds no record (its `load` finds nothing, its `delete`
    /// and `clear_expired` do nothing) and answers
    /// [`Error::Unsupported`] to every write.
    pub fn store(&self) -> &dyn SessionStore {
        self.shared.store()
    }

    /// Removes expired records (Django's `clearsessions`); see
    /// [`SessionStore::clear_expired`].
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn clear_expired(&self) -> Result<u64, Error> {
        self.shared.store().clear_expired().await
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
        let name = self.shared.config.cookie_name();
        let incoming = match self.shared.engine {
            Engine::Store(_) => Incoming::parse(name, cookie_header_values),
            Engine::Cookie(_) => Incoming::parse_keeping_values(name, cookie_header_values),
        };
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
    ///   deletes the record and the cookie instead. With
    ///   [`Config::renewal_interval`], an unchanged session is renewed only
    ///   once that interval has passed since its last renewal; with
    ///   [`Config::absolute_timeout`], a new session is stamped with its
    ///   creation time, and neither the record's expiry nor the cookie's
    ///   reaches past creation plus the timeout;
    /// - a record the cookie named that was past its absolute timeout is
    ///   deleted (best effort: core never adopts it again);
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
    /// # Failure policy
    ///
    /// - **A renewal nobody asked for never breaks a response.** When only
    ///   `save_every_request` asked for the write (the handler changed
    ///   nothing), a store failure is logged and the response goes out as
    ///   if sessions were off: no cookie, no error.
    /// - **A logout that did not happen is an error.** Deletes that a
    ///   [`flush`](Session::flush) could not do are retried first, whatever
    ///   the status; if they fail again, so does `finish`, and no deletion
    ///   cookie is sent while the record lives on.
    /// - **A rotation whose old record could not be deleted** still sends
    ///   the new cookie (the new record exists) when the old record held no
    ///   login, with a warning. If it held one (a `cycle_id` of a logged-in
    ///   session), the delete is retried once and then `finish` fails, so
    ///   the client keeps its old, still valid cookie rather than leave a
    ///   known authenticated ID alive.
    /// - Every store failure is logged with its kind and cause chain.
    ///
    /// Calling it again for the same session does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Interrupted`] if the record was deleted meanwhile (answer
    /// 400); [`Error::TooLarge`] if the data exceeds
    /// [`Config::max_session_size`] (413); a store error (answer
    /// [`Error::http_status`]). On error the client's cookie is left as it
    /// was.
    pub async fn finish(&self, session: &Session, status: u16) -> Result<Outcome, Error> {
        let mut state = session.lock().await;
        if !state.begin_finish() {
            return Ok(Outcome::default());
        }
        let shared = &*self.shared;
        let incoming = &session.inner.incoming;
        if plan::needs_load(
            &state,
            &shared.config,
            status,
            shared.engine.names_session(incoming),
        ) && let Err(error) = session.ensure_loaded(&mut state).await
        {
            renewal_failed(&error);
            return Ok(Outcome {
                set_cookie: None,
                vary_cookie: state.is_accessed(),
            });
        }
        let now = shared.clock.now();
        let plan = plan::plan(
            &state,
            &shared.config,
            status,
            now,
            incoming.present,
            shared.store().capabilities().touch,
        );
        match &shared.engine {
            Engine::Store(_) => execute(shared, &mut state, plan, now).await,
            Engine::Cookie(cookies) => cookies.execute(shared, &mut state, plan, now),
        }
    }
}

/// Logs, at `error`, that an adapter could not turn
/// [`Outcome::set_cookie`] into a header, naming the settings of `config`
/// to check (never the cookie's value). [`Config::validate`] makes this
/// impossible for the cookies core renders; adapters call it rather than
/// drop the header silently.
pub fn log_unsendable_cookie(config: &Config) {
    tracing::error!(
        cookie_name = ?config.cookie_name(),
        cookie_path = ?config.cookie_path(),
        cookie_domain = ?config.cookie_domain(),
        "the session cookie cannot be sent: its Set-Cookie value holds a byte an HTTP \
         header cannot carry, so the response goes out without it; check the session \
         cookie's name, path and domain settings"
    );
}

/// Carries `plan` out under the failure policy of [`SessionManager::finish`].
async fn execute(
    shared: &Shared,
    state: &mut State,
    plan: Plan,
    now: OffsetDateTime,
) -> Result<Outcome, Error> {
    let store = shared.store();
    let mut outcome = Outcome {
        set_cookie: None,
        vary_cookie: plan.vary,
    };
    if let Some(id) = &plan.delete_timed_out {
        // Best effort: core never adopts this record again, and its stored
        // expiry ends at the timeout (unless it predates the setting).
        if let Err(error) = store.delete(id).await {
            error.log_store_failure("delete (absolute timeout)");
        }
        state.timed_out_done();
    }
    if !plan.retry_deletes.is_empty() {
        for id in &plan.retry_deletes {
            store.delete(id).await.inspect_err(|error| {
                error.log_store_failure("delete (retrying a failed logout)");
            })?;
        }
        state.deletes_done();
    }
    match plan.action {
        Action::Nothing => {}
        Action::RemoveCookie => {
            outcome.set_cookie = Some(shared.cookies.removal());
        }
        Action::End {
            delete,
            remove_cookie,
        } => {
            for id in &delete {
                store
                    .delete(id)
                    .await
                    .inspect_err(|error| error.log_store_failure("delete (expired)"))?;
            }
            state.ended();
            if remove_cookie {
                outcome.set_cookie = Some(shared.cookies.removal());
            }
        }
        Action::Write {
            write,
            expires_at,
            custom,
            renewal,
            stamp_created,
        } => {
            if stamp_created {
                state.stamp_created(now);
            }
            let planned = Arc::clone(state.data());
            match write_session(shared, state, write, expires_at, now).await {
                Ok(id) => {
                    // A merge replaced the data, whose custom expiry may
                    // differ: the cookie follows what was stored.
                    let custom = if Arc::ptr_eq(&planned, state.data()) {
                        custom
                    } else {
                        state.custom_expiry()
                    };
                    let max_age =
                        plan::cookie_max_age(&shared.config, custom, state.created_at(), now);
                    outcome.set_cookie = Some(shared.cookies.session(&id, max_age, now));
                }
                Err(error) if renewal => renewal_failed(&error),
                Err(error) => return Err(error),
            }
        }
    }
    Ok(outcome)
}

/// The policy for a write only `save_every_request` asked for.
pub(crate) fn renewal_failed(error: &Error) {
    tracing::warn!(
        kind = ?error.kind(),
        error = %error.report(),
        "could not renew an unchanged session (save_every_request); the response goes out \
         without a session cookie"
    );
}

/// Performs the write; returns the ID the cookie must carry.
async fn write_session(
    shared: &Shared,
    state: &mut State,
    write: Write,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<SessionId, Error> {
    let store = shared.store();
    match write {
        Write::Touch { id } => {
            store
                .touch(&id, expires_at)
                .await
                .map_err(|e| logged("touch", interrupted_if_gone(e)))?;
            state.touched();
            Ok(id)
        }
        Write::Save { id } => {
            save(shared, state, &id, expires_at, now).await?;
            Ok(id)
        }
        Write::Create { id, rotate_from } => {
            check_size(&shared.config, state)?;
            let id = id.map_or_else(SessionId::try_generate, Ok)?;
            let record = Record::new(id, Arc::clone(state.data()), expires_at);
            let id = create(store, record).await?;
            let old_held_auth = state.base_holds_auth();
            state.created(id.clone());
            if let Some(old) = rotate_from {
                // The new record exists: only now may the old one go.
                delete_rotated(store, &old, &id, old_held_auth).await?;
                state.rotation_done();
            }
            Ok(id)
        }
    }
}

/// Deletes the record a rotation replaced. A failure is logged and
/// tolerated when the old record held no login; otherwise the delete is
/// retried once, and if that fails too the new record is dropped (best
/// effort) and the error returned, so the client keeps its old cookie.
async fn delete_rotated(
    store: &dyn SessionStore,
    old: &SessionId,
    new: &SessionId,
    old_held_auth: bool,
) -> Result<(), Error> {
    let Err(error) = store.delete(old).await else {
        return Ok(());
    };
    error.log_store_failure("delete (rotation)");
    if !old_held_auth {
        tracing::warn!(
            "the session ID was rotated but the old record could not be deleted; it holds no \
             login and expires on its own, so the new cookie is sent"
        );
        return Ok(());
    }
    let Err(error) = store.delete(old).await else {
        return Ok(());
    };
    error.log_store_failure("delete (rotation, retried)");
    if let Err(cleanup) = store.delete(new).await {
        cleanup.log_store_failure("delete (abandoned rotation)");
    }
    Err(error)
}

/// Refuses data larger than [`Config::max_session_size`] before any store
/// sees it.
pub(crate) fn check_size(config: &Config, state: &State) -> Result<(), Error> {
    let Some(limit) = config.max_session_size() else {
        return Ok(());
    };
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, &**state.data())?;
    if counter.0 > limit {
        return Err(Error::TooLarge {
            size: counter.0,
            limit,
        });
    }
    Ok(())
}

/// Counts what serde_json writes, without keeping it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
            Err(error) => return Err(logged("create", error)),
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
    let store = shared.store();
    // Real time, not the session clock: a manual clock never moves.
    let deadline = std::time::Instant::now() + shared.config.conflict_window();
    let mut rounds: u32 = 0;
    loop {
        check_size(&shared.config, state)?;
        let record = Record::new(id.clone(), Arc::clone(state.data()), expires_at)
            .with_version(state.version());
        let error = match store.save(&record).await {
            Ok(()) => {
                state.saved();
                return Ok(());
            }
            Err(error) if error.kind() == ErrorKind::Conflict => error,
            Err(error) => return Err(logged("save", interrupted_if_gone(error))),
        };
        let Some(theirs) = store.load(id).await.map_err(|e| logged("load", e))? else {
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
            state.yield_to(theirs);
            return Ok(());
        }
        state.merge_into(theirs);
        // The merged data may carry another request's custom expiry.
        expires_at = plan::expires_at(
            &shared.config,
            state.custom_expiry(),
            state.created_at(),
            now,
        );
    }
}

/// Logs `error` if it is a store failure (not a race or a gone record,
/// which are normal traffic) and hands it on.
fn logged(operation: &'static str, error: Error) -> Error {
    if !matches!(
        error.kind(),
        ErrorKind::Interrupted | ErrorKind::NotFound | ErrorKind::Conflict
    ) {
        error.log_store_failure(operation);
    }
    error
}

fn interrupted_if_gone(error: Error) -> Error {
    match error.kind() {
        ErrorKind::NotFound => Error::Interrupted,
        _ => error,
    }
}

#[cfg(test)]
mod tests;
