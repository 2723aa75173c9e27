//! Django's `cached_db` engine: a fast store in front of an authoritative
//! one.
//!
//! [`CachedStore`] combines two [`SessionStore`]s: a *cache* (Redis, a
//! [`MemoryStore`](crate::MemoryStore)) that serves most reads, and a
//! *database* (PostgreSQL) that holds the truth. Several application servers
//! may share both.
//!
//! # The protocol
//!
//! - **load:** the cache first; on a hit that is the answer. On a miss the
//!   database; a record found there fills the cache with
//!   [`create`](SessionStore::create) (insert-if-absent, with the database's
//!   version and expiry), and the database is read again: if the record is
//!   gone or changed meanwhile, the filled entry is deleted. That second
//!   read closes the race with a writer on another server (which changes
//!   the database first and the cache second): either the re-read sees the
//!   change, or the writer's cache step comes after the fill and removes or
//!   replaces it.
//! - **create:** the database (a taken ID is its `Conflict`, passed through
//!   untouched), then the cache.
//! - **save:** the database decides (its versioned compare-and-set, its
//!   `NotFound`). After a success, when both stores are versioned, the cache
//!   gets the same record through its own compare-and-set, so it moves from
//!   version `v` to `v + 1` exactly when the database did; otherwise, or if
//!   that cache save fails for any reason, the cache entry is deleted. After
//!   a failure the entry is deleted too: after a `Conflict` so that core's
//!   merge re-reads the database, not the stale entry that lost.
//! - **touch:** the database, then the entry is deleted (the next load
//!   refills it). Touching the cache instead is not safe: a touch and a
//!   save racing on two servers can reach the two stores in opposite
//!   orders, leaving the cache with an expiry the database does not have.
//! - **delete:** the database, then the cache. If the cache refuses the
//!   delete (twice) while it still answers reads and holds the entry, the
//!   delete fails: that entry would go on serving a logged-out session, so
//!   core keeps the logout pending and sends no deletion cookie. A cache
//!   that cannot be read at all serves nothing, and the delete succeeds.
//! - **clear_expired:** both; the database's count is the answer.
//!
//! Every database change is followed by a cache step that either installs
//! exactly the database's new state (the versioned save, whose version
//! transition is unique) or removes the entry; every fill is checked
//! afterwards. Hence:
//!
//! - a stale cache entry never wins over the database: a save based on it
//!   loses the database's compare-and-set, which removes the entry;
//! - a deleted session is never revived by the cache;
//! - a record the database has expired is never served from the cache:
//!   entries carry the database's expiry, and a write that shortens it
//!   either reaches the cache or removes the entry.
//!
//! Failures of the cache never fail a read or a write, the one exception
//! above aside: the operation goes on through the database and the failure
//! is logged at `warn` (kind and cause chain, never the session ID). A load
//! whose cache read failed is served by the database without filling the
//! cache; an entry the cache reports as corrupt is replaced from the
//! database.
//!
//! With `save_every_request`, every renewal removes the entry (see touch),
//! so set [`Config::with_renewal_interval`](crate::Config::with_renewal_interval)
//! too, or most requests miss the cache.
//!
//! # Costs
//!
//! A hit costs one cache read. A miss costs a cache read, two database
//! reads and a cache write. A create costs a database insert and a cache
//! insert; a save a database write and a cache write (or delete); a touch
//! or delete a database write and a cache delete. Capabilities (versioned
//! saves, `touch`, `clear_expired`) are the database's.
//!
//! # The documented limit
//!
//! When the cache cannot be reached while a session is deleted (a logout),
//! or while a write shortens its expiry, the database forgets or shortens
//! the record but the cache keeps its entry. A cache that lost its data in
//! the outage (a restarted Redis without persistence) serves nothing stale.
//! A cache that comes back *with* its data (a network partition, a Redis
//! that persisted its keys) serves that entry until it expires or the next
//! save of the session removes it. Every such missed delete is logged at
//! `error`. If that matters, run the cache without persistence and flush it
//! after a partition.
//!
//! Expiry of a cache hit is decided by the cache's clock (the application
//! server's for a `MemoryStore`, the Redis server's for Redis), that of a
//! miss by the database's: keep the machines' clocks synchronised.
//!
//! A `create` racing a `delete` of the same ID on another server can leave
//! an entry behind; through core this cannot happen, because a new ID is
//! known to nobody until its `create` returns.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Capabilities, Error, ErrorKind, Record, SessionId, SessionStore};

/// A cache in front of a database, with Django's `cached_db` semantics and
/// the protocol of the [module documentation](crate::cached): the database is the
/// authority, the cache never fails a request and never serves what the
/// database no longer holds.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_core::Error> {
/// use session_core::cached::CachedStore;
/// use session_core::time::{Duration, OffsetDateTime};
/// use session_core::{MemoryStore, Record, SessionData, SessionId, SessionManager, SessionStore};
///
/// let (cache, db) = (MemoryStore::new(), MemoryStore::new());
/// let store = CachedStore::new(cache.clone(), db.clone());
///
/// let record = Record::new(
///     SessionId::generate(),
///     SessionData::new(),
///     OffsetDateTime::now_utc() + Duration::hours(1),
/// );
/// store.create(&record).await?;
/// assert_eq!(db.load(&record.id).await?, Some(record.clone()));
/// assert_eq!(store.load(&record.id).await?, Some(record.clone())); // from the cache
///
/// store.delete(&record.id).await?;
/// assert_eq!(cache.load(&record.id).await?, None);
/// assert_eq!(db.load(&record.id).await?, None);
///
/// // As the store of a manager:
/// let sessions = SessionManager::new(store);
/// # let _ = sessions;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CachedStore<C, D> {
    cache: C,
    db: D,
}

impl<C, D> CachedStore<C, D> {
    /// `cache` in front of `db`, the authority.
    pub fn new(cache: C, db: D) -> Self {
        CachedStore { cache, db }
    }

    /// The cache.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// The database.
    pub fn db(&self) -> &D {
        &self.db
    }
}

impl<C: fmt::Debug, D: fmt::Debug> fmt::Debug for CachedStore<C, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("cache", &self.cache)
            .field("db", &self.db)
            .finish()
    }
}

/// Logs a failed cache call that the operation survives.
fn cache_failed(operation: &'static str, error: &Error) {
    tracing::warn!(
        operation,
        kind = ?error.kind(),
        error = %error.report(),
        "session cache call failed; going on with the database"
    );
}

impl<C: SessionStore, D: SessionStore> CachedStore<C, D> {
    /// Removes the cache entry, best effort.
    async fn invalidate(&self, id: &SessionId) {
        if let Err(error) = self.cache.delete(id).await {
            cache_failed("delete", &error);
        }
    }

    /// Removes an entry that must not be served (a deleted session, a
    /// record that changed): retried once, then, if the cache still answers
    /// reads and holds the entry, the error is returned, since the entry
    /// would be served. A cache that cannot be read serves nothing: that
    /// failure is logged, and tolerated.
    async fn evict(&self, id: &SessionId) -> Result<(), Error> {
        let Err(error) = self.cache.delete(id).await else {
            return Ok(());
        };
        if self.cache.delete(id).await.is_ok() {
            return Ok(());
        }
        match self.cache.load(id).await {
            Ok(None) => Ok(()),
            Ok(Some(_)) => {
                tracing::error!(
                    kind = ?error.kind(),
                    error = %error.report(),
                    "the session cache answers reads but refuses to delete an entry the \
                     database no longer holds as cached; failing the operation so it is not \
                     served"
                );
                Err(error)
            }
            Err(_) => {
                tracing::error!(
                    kind = ?error.kind(),
                    error = %error.report(),
                    "the session cache is unreachable and could not remove an entry; if it \
                     keeps its data across this outage, it serves the old record until it \
                     expires (flush the cache after the outage)"
                );
                Ok(())
            }
        }
    }

    /// Puts `record`, just read from the database, into the cache, then
    /// reads the database again and removes the entry if the record changed
    /// or went away meanwhile.
    async fn fill(&self, record: &Record) {
        match self.cache.create(record).await {
            Ok(()) => {}
            // Another load filled it first; that load checks its own fill.
            Err(error) if error.kind() == ErrorKind::Conflict => return,
            Err(error) => {
                cache_failed("create", &error);
                // A write may have happened despite the error.
                self.invalidate(&record.id).await;
                return;
            }
        }
        match self.db.load(&record.id).await {
            Ok(Some(now)) if now == *record => {}
            // Deleted or changed while the entry went in: it must go.
            Ok(_) => {
                let _ = self.evict(&record.id).await;
            }
            Err(error) => {
                // Unknown whether the fill is still right: drop it.
                tracing::warn!(
                    kind = ?error.kind(),
                    error = %error.report(),
                    "session database re-read after a cache fill failed; dropping the entry"
                );
                self.invalidate(&record.id).await;
            }
        }
    }

    /// Whether a successful database save may be written through to the
    /// cache: only when both compare versions, so that the cache's
    /// `v -> v + 1` step is the database's one.
    fn write_through(&self) -> bool {
        self.db.capabilities().versioned && self.cache.capabilities().versioned
    }
}

#[async_trait]
impl<C: SessionStore, D: SessionStore> SessionStore for CachedStore<C, D> {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        match self.db.create(record).await {
            Ok(()) => {}
            // The ID belongs to a live session: leave its entry alone.
            Err(error) if error.kind() == ErrorKind::Conflict => return Err(error),
            Err(error) => {
                // The insert may have happened; never leave an entry of a
                // previous holder of the ID.
                self.invalidate(&record.id).await;
                return Err(error);
            }
        }
        if let Err(error) = self.cache.create(record).await {
            // A Conflict is an entry the database does not hold (left over
            // by an outage, or an expired one by the cache's clock): it
            // must not survive.
            cache_failed("create", &error);
            self.invalidate(&record.id).await;
        }
        Ok(())
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let fill = match self.cache.load(id).await {
            Ok(Some(record)) => return Ok(Some(record)),
            Ok(None) => true,
            // A bad entry is replaced from the database, not read around
            // on every request until it expires.
            Err(error) if error.kind() == ErrorKind::Corrupt => {
                cache_failed("load", &error);
                self.invalidate(id).await;
                true
            }
            Err(error) => {
                cache_failed("load", &error);
                false
            }
        };
        let record = self.db.load(id).await?;
        if fill && let Some(record) = &record {
            self.fill(record).await;
        }
        Ok(record)
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        if let Err(error) = self.db.save(record).await {
            // Conflict: the entry is stale, and core's merge must re-read
            // the database. NotFound: the database forgot the record. Any
            // other error: the write may have happened anyway.
            self.invalidate(&record.id).await;
            return Err(error);
        }
        if self.write_through() {
            let error = match self.cache.save(record).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            // Not cached (evicted, never filled) or moved on: normal.
            if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::Conflict) {
                tracing::debug!(kind = ?error.kind(), "session cache entry not updated; removing it");
            } else {
                cache_failed("save", &error);
            }
        }
        // The database has the write: an entry the cache refuses to drop
        // is logged at `error` by `evict`, and the save still succeeds.
        let _ = self.evict(&record.id).await;
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        let outcome = self.db.delete(id).await;
        // Also after a failed database delete, which may have happened.
        // A logout the cache would keep serving has not happened: `evict`
        // fails when the cache still holds the entry and answers reads, so
        // core keeps the logout pending and sends no deletion cookie.
        let evicted = self.evict(id).await;
        outcome.and(evicted)
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        match self.db.touch(id, expires_at).await {
            // Changed nothing.
            Err(error) if error.kind() == ErrorKind::Unsupported => Err(error),
            outcome => {
                // Invalidate rather than touch the cache: see the module
                // documentation (a touch and a save racing).
                let _ = self.evict(id).await;
                outcome
            }
        }
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        let removed = self.db.clear_expired().await?;
        if let Err(error) = self.cache.clear_expired().await {
            cache_failed("clear_expired", &error);
        }
        Ok(removed)
    }

    fn capabilities(&self) -> Capabilities {
        self.db.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::{Clock, ManualClock, MemoryStore, SessionData};

    /// A real store that can be switched off: while down, every call fails
    /// with `Unavailable` and reaches nothing, as a cache whose server is
    /// gone does.
    #[derive(Debug, Clone)]
    struct Switchable<S> {
        inner: S,
        down: Arc<AtomicBool>,
        /// Up for everything but deletes (a cache refusing writes).
        refuse_deletes: Arc<AtomicBool>,
        /// Loads report the stored entry as undecodable.
        corrupt_loads: Arc<AtomicBool>,
        capabilities: Option<Capabilities>,
    }

    impl<S: SessionStore> Switchable<S> {
        fn new(inner: S) -> Self {
            Switchable {
                inner,
                down: Arc::default(),
                refuse_deletes: Arc::default(),
                corrupt_loads: Arc::default(),
                capabilities: None,
            }
        }

        /// Reports `capabilities` instead of the inner store's.
        fn reporting(mut self, capabilities: Capabilities) -> Self {
            self.capabilities = Some(capabilities);
            self
        }

        fn set_down(&self, down: bool) {
            self.down.store(down, Ordering::SeqCst);
        }

        fn check(&self) -> Result<(), Error> {
            if self.down.load(Ordering::SeqCst) {
                Err(Error::unavailable(
                    "connection refused (the test took the cache down)",
                ))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl<S: SessionStore> SessionStore for Switchable<S> {
        async fn create(&self, record: &Record) -> Result<(), Error> {
            self.check()?;
            self.inner.create(record).await
        }
        async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
            self.check()?;
            if self.corrupt_loads.load(Ordering::SeqCst) {
                return Err(Error::corrupt("the test planted an undecodable entry"));
            }
            self.inner.load(id).await
        }
        async fn save(&self, record: &Record) -> Result<(), Error> {
            self.check()?;
            self.inner.save(record).await
        }
        async fn delete(&self, id: &SessionId) -> Result<(), Error> {
            self.check()?;
            if self.refuse_deletes.load(Ordering::SeqCst) {
                return Err(Error::unavailable("the test made the cache refuse deletes"));
            }
            self.inner.delete(id).await
        }
        async fn touch(&self, id: &SessionId, at: OffsetDateTime) -> Result<(), Error> {
            self.check()?;
            self.inner.touch(id, at).await
        }
        async fn clear_expired(&self) -> Result<u64, Error> {
            self.check()?;
            self.inner.clear_expired().await
        }
        fn capabilities(&self) -> Capabilities {
            self.capabilities
                .unwrap_or_else(|| self.inner.capabilities())
        }
    }

    /// A real store that yields to the runtime a varying number of times
    /// around every call, so that two servers' operations interleave in
    /// every order.
    #[derive(Debug, Clone)]
    struct Yielding<S>(S, Arc<AtomicUsize>);

    impl<S> Yielding<S> {
        fn new(inner: S) -> Self {
            Yielding(inner, Arc::default())
        }

        /// Yields 0 to 3 times, varying from call to call.
        async fn pause(&self) {
            let n = self.1.fetch_add(1, Ordering::Relaxed);
            // A cheap scramble: consecutive calls get unrelated counts.
            for _ in 0..(n.wrapping_mul(2_654_435_761) >> 7) % 4 {
                tokio::task::yield_now().await;
            }
        }
    }

    #[async_trait]
    impl<S: SessionStore> SessionStore for Yielding<S> {
        async fn create(&self, record: &Record) -> Result<(), Error> {
            self.pause().await;
            let out = self.0.create(record).await;
            self.pause().await;
            out
        }
        async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
            self.pause().await;
            let out = self.0.load(id).await;
            self.pause().await;
            out
        }
        async fn save(&self, record: &Record) -> Result<(), Error> {
            self.pause().await;
            let out = self.0.save(record).await;
            self.pause().await;
            out
        }
        async fn delete(&self, id: &SessionId) -> Result<(), Error> {
            self.pause().await;
            let out = self.0.delete(id).await;
            self.pause().await;
            out
        }
        fn capabilities(&self) -> Capabilities {
            self.0.capabilities()
        }
    }

    /// A real database into which another server's write lands right after
    /// the `n`-th load returns: the interleaving the fill's re-read exists
    /// for, made deterministic.
    #[derive(Clone)]
    struct WriteAfterLoad {
        db: MemoryStore,
        loads: Arc<AtomicUsize>,
        after: usize,
        write: Arc<dyn Fn(MemoryStore, SessionId) + Send + Sync>,
    }

    impl fmt::Debug for WriteAfterLoad {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("WriteAfterLoad")
                .field("db", &self.db)
                .finish()
        }
    }

    #[async_trait]
    impl SessionStore for WriteAfterLoad {
        async fn create(&self, record: &Record) -> Result<(), Error> {
            self.db.create(record).await
        }
        async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
            let out = self.db.load(id).await;
            if self.loads.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
                (self.write)(self.db.clone(), id.clone());
            }
            out
        }
        async fn save(&self, record: &Record) -> Result<(), Error> {
            self.db.save(record).await
        }
        async fn delete(&self, id: &SessionId) -> Result<(), Error> {
            self.db.delete(id).await
        }
        fn capabilities(&self) -> Capabilities {
            self.db.capabilities()
        }
    }

    /// Runs a store future that never waits (MemoryStore's calls) to its end.
    fn now_or_never<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    const START: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    struct Setup {
        clock: ManualClock,
        cache: Switchable<MemoryStore>,
        db: Switchable<MemoryStore>,
        store: CachedStore<Switchable<MemoryStore>, Switchable<MemoryStore>>,
    }

    /// A cache and a database on one manual clock.
    fn setup() -> Setup {
        let clock = ManualClock::new(START);
        let cache = Switchable::new(MemoryStore::with_clock(clock.clone()));
        let db = Switchable::new(MemoryStore::with_clock(clock.clone()));
        let store = CachedStore::new(cache.clone(), db.clone());
        Setup {
            clock,
            cache,
            db,
            store,
        }
    }

    fn record(n: i64, ttl: Duration) -> Record {
        Record::new(
            SessionId::generate(),
            SessionData::from_iter([("n".to_owned(), json!(n))]),
            START + ttl,
        )
    }

    fn with_n(record: &Record, n: i64) -> Record {
        let mut changed = record.clone();
        Arc::make_mut(&mut changed.data).insert("n".to_owned(), json!(n));
        changed
    }

    #[tokio::test]
    async fn a_hit_is_served_by_the_cache() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        // The database down: only the cache can answer.
        s.db.set_down(true);
        assert_eq!(s.store.load(&r.id).await.unwrap(), Some(r));
    }

    #[tokio::test]
    async fn a_miss_fills_the_cache_with_the_database_record() {
        let s = setup();
        let r = record(1, Duration::hours(1)).with_version(7);
        s.db.create(&r).await.unwrap();
        assert_eq!(s.store.load(&r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(
            s.cache.load(&r.id).await.unwrap(),
            Some(r.clone()),
            "the fill carries the database's data, version and expiry"
        );
    }

    #[tokio::test]
    async fn an_unknown_id_is_none_and_fills_nothing() {
        let s = setup();
        let id = SessionId::generate();
        assert_eq!(s.store.load(&id).await.unwrap(), None);
        assert!(s.cache.inner.is_empty());
    }

    #[tokio::test]
    async fn a_fill_racing_a_delete_is_removed_by_the_re_read() {
        let clock = ManualClock::new(START);
        let cache = MemoryStore::with_clock(clock.clone());
        let db = WriteAfterLoad {
            db: MemoryStore::with_clock(clock.clone()),
            loads: Arc::default(),
            after: 1,
            // Another server deletes (database, then its cache delete,
            // which finds nothing yet) between our read and our fill.
            write: Arc::new(|db, id| now_or_never(db.delete(&id)).unwrap()),
        };
        let store = CachedStore::new(cache.clone(), db.clone());
        let r = record(1, Duration::hours(1));
        db.db.create(&r).await.unwrap();
        // The first read saw the record: that is what this load returns.
        assert_eq!(store.load(&r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(
            cache.load(&r.id).await.unwrap(),
            None,
            "the fill of a record deleted meanwhile must not stay in the cache"
        );
        assert_eq!(store.load(&r.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_fill_racing_a_save_is_removed_by_the_re_read() {
        let clock = ManualClock::new(START);
        let cache = MemoryStore::with_clock(clock.clone());
        let r = record(1, Duration::hours(1));
        let newer = with_n(&r, 2);
        let saved = newer.clone();
        let db = WriteAfterLoad {
            db: MemoryStore::with_clock(clock.clone()),
            loads: Arc::default(),
            after: 1,
            write: Arc::new(move |db, _| now_or_never(db.save(&saved)).unwrap()),
        };
        let store = CachedStore::new(cache.clone(), db.clone());
        db.db.create(&r).await.unwrap();
        assert_eq!(store.load(&r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(cache.load(&r.id).await.unwrap(), None, "stale fill kept");
        let loaded = store.load(&r.id).await.unwrap().unwrap();
        assert_eq!((loaded.data, loaded.version), (newer.data, 1));
    }

    #[tokio::test]
    async fn a_cache_that_cannot_be_read_is_bypassed_without_a_fill() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.db.create(&r).await.unwrap();
        s.cache.set_down(true);
        assert_eq!(s.store.load(&r.id).await.unwrap(), Some(r.clone()));
        s.cache.set_down(false);
        assert_eq!(
            s.cache.load(&r.id).await.unwrap(),
            None,
            "filled while down"
        );
    }

    #[tokio::test]
    async fn a_database_error_on_load_is_the_answer() {
        let s = setup();
        s.db.set_down(true);
        let err = s.store.load(&SessionId::generate()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn create_writes_both_stores() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        assert_eq!(s.db.load(&r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(s.cache.load(&r.id).await.unwrap(), Some(r));
    }

    #[tokio::test]
    async fn a_taken_id_is_the_databases_conflict_and_changes_nothing() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        let err = s.store.create(&with_n(&r, 2)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(s.db.load(&r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(s.cache.load(&r.id).await.unwrap(), Some(r));
    }

    #[tokio::test]
    async fn a_leftover_cache_entry_of_a_reused_id_does_not_survive_create() {
        let s = setup();
        let old = record(1, Duration::hours(1));
        // An entry the database does not hold (a delete missed in an outage).
        s.cache.create(&old).await.unwrap();
        let new = with_n(&old, 2);
        s.store.create(&new).await.unwrap();
        assert_eq!(s.store.load(&new.id).await.unwrap(), Some(new));
    }

    #[tokio::test]
    async fn create_goes_on_without_the_cache() {
        let s = setup();
        s.cache.set_down(true);
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        assert_eq!(s.db.load(&r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(s.store.load(&r.id).await.unwrap(), Some(r));
    }

    #[tokio::test]
    async fn save_moves_cache_and_database_to_the_same_next_version() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        let changed = with_n(&r, 2);
        s.store.save(&changed).await.unwrap();
        let expected = changed.clone().with_version(1);
        assert_eq!(s.db.load(&r.id).await.unwrap(), Some(expected.clone()));
        assert_eq!(s.cache.load(&r.id).await.unwrap(), Some(expected));
    }

    #[tokio::test]
    async fn save_through_an_unversioned_cache_removes_the_entry() {
        let clock = ManualClock::new(START);
        let cache = Switchable::new(MemoryStore::with_clock(clock.clone()))
            .reporting(Capabilities::NONE.with_touch(true));
        let db = MemoryStore::with_clock(clock);
        let store = CachedStore::new(cache.clone(), db.clone());
        let r = record(1, Duration::hours(1));
        store.create(&r).await.unwrap();
        store.save(&with_n(&r, 2)).await.unwrap();
        assert_eq!(cache.load(&r.id).await.unwrap(), None, "blind overwrite");
        let loaded = store.load(&r.id).await.unwrap().unwrap();
        assert_eq!((loaded.data["n"].clone(), loaded.version), (json!(2), 1));
    }

    #[tokio::test]
    async fn a_stale_cache_entry_loses_to_the_database() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        // Another server saved version 0 -> 1 in the database; its cache
        // step never arrived, so the cache still holds version 0.
        let theirs = with_n(&r, 2);
        s.db.save(&theirs).await.unwrap();
        let stale = s.store.load(&r.id).await.unwrap().unwrap();
        assert_eq!(stale, r, "the planted stale entry is what the cache serves");
        let err = s.store.save(&with_n(&stale, 3)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(s.cache.load(&r.id).await.unwrap(), None, "stale entry kept");
        // What core's merge re-reads: the database's record.
        assert_eq!(
            s.store.load(&r.id).await.unwrap(),
            Some(theirs.with_version(1))
        );
    }

    #[tokio::test]
    async fn a_stale_entry_is_replaced_through_the_session_manager() {
        // The loop the invalidation prevents: core merges after a Conflict
        // by re-loading; a stale cache would give it the same version again.
        let clock = ManualClock::new(START);
        let cache = MemoryStore::with_clock(clock.clone());
        let db = MemoryStore::with_clock(clock.clone());
        let store = CachedStore::new(cache.clone(), db.clone());
        let sessions = crate::SessionManager::new(store.clone()).with_clock(clock.clone());
        let session = sessions.load(Vec::<&str>::new());
        session.insert("mine", 1).await.unwrap();
        let cookie = sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap();
        let pair = cookie.split(';').next().unwrap().to_owned();
        let id: SessionId = pair.split_once('=').unwrap().1.parse().unwrap();
        // Another server's save reached the database only.
        let mut theirs = db.load(&id).await.unwrap().unwrap();
        Arc::make_mut(&mut theirs.data).insert("theirs".into(), json!(2));
        db.save(&theirs).await.unwrap();

        let session = sessions.load([pair.as_str()]);
        session.insert("again", 3).await.unwrap();
        sessions.finish(&session, 200).await.unwrap();
        let stored = db.load(&id).await.unwrap().unwrap();
        assert_eq!(stored.version, 2);
        for key in ["mine", "theirs", "again"] {
            assert!(stored.data.contains_key(key), "{key} lost: {stored:?}");
        }
        assert_eq!(store.load(&id).await.unwrap(), Some(stored));
    }

    #[tokio::test]
    async fn save_of_a_deleted_record_is_not_found_and_clears_a_survivor() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        s.db.delete(&r.id).await.unwrap(); // the cache delete got lost
        let err = s.store.save(&with_n(&r, 2)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(s.cache.load(&r.id).await.unwrap(), None);
        assert_eq!(s.store.load(&r.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_record_the_database_expired_is_never_served_from_the_cache() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        // The cache's version moves on by itself, so the write-through
        // save below fails with Conflict.
        s.cache.save(&r).await.unwrap();
        let shorter = Record {
            expires_at: START + Duration::seconds(10),
            ..r.clone()
        };
        s.store.save(&shorter).await.unwrap();
        assert_eq!(s.cache.load(&r.id).await.unwrap(), None);
        s.clock.advance(Duration::seconds(20));
        assert_eq!(s.db.load(&r.id).await.unwrap(), None);
        assert_eq!(s.store.load(&r.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn save_goes_on_without_the_cache() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        s.cache.set_down(true);
        s.store.save(&with_n(&r, 2)).await.unwrap();
        assert_eq!(
            s.db.load(&r.id).await.unwrap(),
            Some(with_n(&r, 2).with_version(1))
        );
    }

    #[tokio::test]
    async fn touch_moves_the_database_expiry_and_drops_the_entry() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        let later = START + Duration::hours(5);
        s.store.touch(&r.id, later).await.unwrap();
        assert_eq!(s.cache.load(&r.id).await.unwrap(), None);
        let expected = Record {
            expires_at: later,
            ..r.clone()
        };
        assert_eq!(s.store.load(&r.id).await.unwrap(), Some(expected.clone()));
        assert_eq!(s.cache.load(&r.id).await.unwrap(), Some(expected));
        // A past expiry ends it everywhere.
        s.store.touch(&r.id, START).await.unwrap();
        assert_eq!(s.store.load(&r.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn touch_of_an_unknown_record_is_not_found() {
        let s = setup();
        let err = s
            .store
            .touch(&SessionId::generate(), START + Duration::hours(1))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(s.db.inner.is_empty() && s.cache.inner.is_empty());
    }

    #[tokio::test]
    async fn touch_goes_on_without_the_cache() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        s.cache.set_down(true);
        let later = START + Duration::hours(5);
        s.store.touch(&r.id, later).await.unwrap();
        assert_eq!(s.db.load(&r.id).await.unwrap().unwrap().expires_at, later);
    }

    #[tokio::test]
    async fn touch_on_a_database_without_it_is_unsupported() {
        let clock = ManualClock::new(START);
        let db = Switchable::new(Yielding::new(MemoryStore::with_clock(clock.clone())));
        let store = CachedStore::new(MemoryStore::with_clock(clock), db);
        // Yielding forwards no touch: the trait's default answers.
        let err = store
            .touch(&SessionId::generate(), START)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
    }

    #[tokio::test]
    async fn delete_removes_both() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        s.store.delete(&r.id).await.unwrap();
        s.store.delete(&r.id).await.unwrap();
        assert_eq!(s.db.load(&r.id).await.unwrap(), None);
        assert_eq!(s.cache.load(&r.id).await.unwrap(), None);
        assert_eq!(s.store.load(&r.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn delete_succeeds_when_only_the_cache_fails() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        s.cache.set_down(true);
        s.store.delete(&r.id).await.unwrap();
        assert_eq!(s.db.load(&r.id).await.unwrap(), None);
    }

    /// A cache that answers reads but refuses the delete would keep
    /// serving a logged-out session: the delete fails, so core keeps the
    /// logout pending and sends no deletion cookie.
    #[tokio::test]
    async fn delete_fails_while_the_cache_serves_an_entry_it_cannot_delete() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        s.cache.refuse_deletes.store(true, Ordering::SeqCst);
        let err = s.store.delete(&r.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(s.db.load(&r.id).await.unwrap(), None);
        // Once the cache takes deletes again, the retried logout goes through.
        s.cache.refuse_deletes.store(false, Ordering::SeqCst);
        s.store.delete(&r.id).await.unwrap();
        assert_eq!(s.store.load(&r.id).await.unwrap(), None);
    }

    /// The same through the session manager: the logout is an error, and
    /// no deletion cookie goes out over a session the cache still serves.
    #[tokio::test]
    async fn a_logout_the_cache_would_undo_fails_through_the_manager() {
        let s = setup();
        let sessions = crate::SessionManager::new(s.store.clone()).with_clock(s.clock.clone());
        let session = sessions.load(Vec::<&str>::new());
        session.insert("user", 7).await.unwrap();
        let cookie = sessions
            .finish(&session, 200)
            .await
            .unwrap()
            .set_cookie
            .unwrap();
        let pair = cookie.split(';').next().unwrap().to_owned();
        s.cache.refuse_deletes.store(true, Ordering::SeqCst);
        let session = sessions.load([pair.as_str()]);
        assert!(session.flush().await.is_err());
        assert!(sessions.finish(&session, 200).await.is_err());
        // The visitor, still holding the cookie, is not shown a logout
        // that did not happen: the cache and the database agree later.
        s.cache.refuse_deletes.store(false, Ordering::SeqCst);
        let session = sessions.load([pair.as_str()]);
        session.flush().await.unwrap();
        let outcome = sessions.finish(&session, 200).await.unwrap();
        assert!(outcome.set_cookie.unwrap().contains("Max-Age=0"));
        assert_eq!(s.store.load(&session_id(&pair)).await.unwrap(), None);
    }

    fn session_id(pair: &str) -> SessionId {
        pair.split_once('=').unwrap().1.parse().unwrap()
    }

    /// An entry the cache cannot decode is replaced from the database,
    /// not read around on every request.
    #[tokio::test]
    async fn a_corrupt_cache_entry_is_replaced_from_the_database() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        let newer = with_n(&r, 2).with_version(0);
        // The database moved on, the cache entry is bad.
        s.db.save(&newer).await.unwrap();
        s.cache.corrupt_loads.store(true, Ordering::SeqCst);
        let served = s.store.load(&r.id).await.unwrap().unwrap();
        assert_eq!(served.data.get("n"), Some(&json!(2)));
        s.cache.corrupt_loads.store(false, Ordering::SeqCst);
        let cached = s.cache.load(&r.id).await.unwrap().unwrap();
        assert_eq!(
            cached.data.get("n"),
            Some(&json!(2)),
            "the entry was refilled"
        );
    }

    #[tokio::test]
    async fn delete_fails_when_the_database_fails_and_still_clears_the_cache() {
        let s = setup();
        let r = record(1, Duration::hours(1));
        s.store.create(&r).await.unwrap();
        s.db.set_down(true);
        let err = s.store.delete(&r.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(s.cache.load(&r.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn clear_expired_counts_the_databases_records() {
        let s = setup();
        for ttl in [1, 2, 3600] {
            s.store
                .create(&record(0, Duration::seconds(ttl)))
                .await
                .unwrap();
        }
        s.cache
            .create(&record(0, Duration::seconds(1)))
            .await
            .unwrap();
        s.clock.advance(Duration::seconds(10));
        assert_eq!(s.store.clear_expired().await.unwrap(), 2);
        assert_eq!(s.cache.inner.len(), 1, "the cache was cleared too");
        s.cache.set_down(true);
        assert_eq!(s.store.clear_expired().await.unwrap(), 0);
    }

    #[test]
    fn capabilities_are_the_databases() {
        let unversioned = Capabilities::NONE.with_touch(true);
        let store = CachedStore::new(
            Switchable::new(MemoryStore::new()).reporting(Capabilities::NONE),
            Switchable::new(MemoryStore::new()).reporting(unversioned),
        );
        assert_eq!(store.capabilities(), unversioned);
        let store = CachedStore::new(
            Switchable::new(MemoryStore::new()).reporting(Capabilities::NONE),
            MemoryStore::new(),
        );
        assert_eq!(store.capabilities(), Capabilities::ALL);
    }

    #[test]
    fn debug_names_both_stores() {
        let store = CachedStore::new(MemoryStore::new(), MemoryStore::new());
        let text = format!("{store:?}");
        assert!(
            text.starts_with("CachedStore { cache: MemoryStore"),
            "{text}"
        );
        assert!(text.contains("db: MemoryStore"), "{text}");
    }

    #[test]
    fn it_is_a_store_object() {
        fn assert_store<S: SessionStore + Clone>() {}
        assert_store::<CachedStore<MemoryStore, MemoryStore>>();
        let _: Arc<dyn SessionStore> = Arc::new(CachedStore::new(
            Arc::new(MemoryStore::new()) as Arc<dyn SessionStore>,
            Arc::new(MemoryStore::new()) as Arc<dyn SessionStore>,
        ));
    }

    /// Two application servers sharing one cache and one database: server
    /// A deletes while server B loads (its cache cold, so it reads the
    /// database and fills the cache). Afterwards nobody loads the session.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delete_racing_a_load_on_another_server_is_never_undone() {
        let clock = ManualClock::new(START);
        let cache = MemoryStore::with_clock(clock.clone());
        let db = MemoryStore::with_clock(clock.clone());
        let server_a = CachedStore::new(Yielding::new(cache.clone()), Yielding::new(db.clone()));
        let server_b = CachedStore::new(Yielding::new(cache.clone()), Yielding::new(db.clone()));
        let rounds = 2_000;
        for round in 0..rounds {
            let r = record(round, Duration::hours(1));
            server_a.create(&r).await.unwrap();
            if round % 4 != 0 {
                cache.delete(&r.id).await.unwrap();
            }
            let (a, b) = (server_a.clone(), server_b.clone());
            let (id_a, id_b) = (r.id.clone(), r.id.clone());
            let delete = tokio::spawn(async move {
                for _ in 0..round % 3 {
                    tokio::task::yield_now().await;
                }
                a.delete(&id_a).await
            });
            let load = tokio::spawn(async move {
                for _ in 0..round % 5 {
                    tokio::task::yield_now().await;
                }
                b.load(&id_b).await
            });
            delete.await.unwrap().unwrap();
            let seen = load.await.unwrap().unwrap();
            assert!(seen.is_none() || seen == Some(r.clone()));
            assert_eq!(
                cache.load(&r.id).await.unwrap(),
                None,
                "round {round}: the cache entry outlived the delete"
            );
            assert_eq!(server_a.load(&r.id).await.unwrap(), None, "round {round}");
            assert_eq!(server_b.load(&r.id).await.unwrap(), None, "round {round}");
        }
        assert_eq!(db.len(), 0);
        assert_eq!(clock.now(), START);
    }
}
