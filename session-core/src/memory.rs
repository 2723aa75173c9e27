//! An in-process store: the embedded default for tests, examples and the
//! demo.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Capabilities, Clock, Error, Record, SessionId, SessionStore, SystemClock};

/// Below this many records the store never sweeps on insert.
const MIN_SWEEP_AT: usize = 1024;

/// Sessions in a `HashMap` behind a mutex; clones share the map.
///
/// - Atomic by construction: every operation holds the lock for its whole
///   check-and-write, so `create` never overwrites and `save` never revives.
/// - Expiry is decided by the store's [`Clock`] (the system clock unless
///   [`MemoryStore::with_clock`] says otherwise). Expired records are never
///   returned and are evicted: on access, by [`SessionStore::clear_expired`],
///   and by a sweep whenever the map has doubled since the last one, so the
///   map holds at most about twice the live sessions (amortized O(1) per
///   insert).
/// - Reads hand out the stored data without copying it.
/// - Supports `touch`, `clear_expired` and versioned saves.
/// - Nothing survives a restart; sessions are not shared between processes.
///
/// ```
/// use session_core::{MemoryStore, SessionManager};
///
/// let sessions = SessionManager::new(MemoryStore::new());
/// ```
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    records: HashMap<SessionId, Record>,
    sweep_at: usize,
}

impl State {
    /// The live record for `id`; an expired one is evicted on the way.
    fn live(&mut self, id: &SessionId, now: OffsetDateTime) -> Option<&mut Record> {
        if self.records.get(id).is_some_and(|r| r.is_expired_at(now)) {
            self.records.remove(id);
        }
        self.records.get_mut(id)
    }

    fn sweep(&mut self, now: OffsetDateTime) -> u64 {
        let before = self.records.len();
        self.records.retain(|_, r| !r.is_expired_at(now));
        self.sweep_at = (self.records.len() * 2).max(MIN_SWEEP_AT);
        (before - self.records.len()) as u64
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock)
    }

    /// An empty store that decides expiry by `clock`.
    pub fn with_clock(clock: impl Clock) -> Self {
        MemoryStore {
            inner: Arc::new(Inner {
                clock: Arc::new(clock),
                state: Mutex::new(State {
                    records: HashMap::new(),
                    sweep_at: MIN_SWEEP_AT,
                }),
            }),
        }
    }

    /// How many records the map holds, expired ones not yet evicted
    /// included.
    pub fn len(&self) -> usize {
        self.state().records.len()
    }

    /// Whether the map holds no record at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock cannot leave a record
        // half-written (every write is a single insert), so keep going.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        let now = self.now();
        let mut state = self.state();
        if state.live(&record.id, now).is_some() {
            return Err(Error::id_taken());
        }
        if state.records.len() >= state.sweep_at {
            state.sweep(now);
        }
        state.records.insert(record.id.clone(), record.clone());
        Ok(())
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let now = self.now();
        Ok(self.state().live(id, now).map(|r| r.clone()))
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        let now = self.now();
        let mut state = self.state();
        let stored = state.live(&record.id, now).ok_or(Error::NotFound)?;
        if stored.version != record.version {
            return Err(Error::version_changed());
        }
        *stored = record.clone().with_version(record.version.wrapping_add(1));
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.state().records.remove(id);
        Ok(())
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let now = self.now();
        let mut state = self.state();
        state.live(id, now).ok_or(Error::NotFound)?.expires_at = expires_at;
        Ok(())
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        let now = self.now();
        Ok(self.state().sweep(now))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ManualClock, SessionData};
    use time::Duration;

    fn record(clock: &ManualClock, ttl: Duration) -> Record {
        Record::new(SessionId::generate(), SessionData::new(), clock.now() + ttl)
    }

    #[tokio::test]
    async fn sweeps_expired_records_so_the_map_does_not_grow_forever() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone());
        for _ in 0..10 {
            for _ in 0..MIN_SWEEP_AT {
                store
                    .create(&record(&clock, Duration::seconds(1)))
                    .await
                    .unwrap();
            }
            clock.advance(Duration::seconds(2));
        }
        // Ten generations of 1,024 short-lived sessions, never read again.
        assert!(
            store.len() <= 2 * MIN_SWEEP_AT,
            "{} records kept",
            store.len()
        );
    }

    #[tokio::test]
    async fn live_records_survive_the_sweep() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone());
        let keep = record(&clock, Duration::days(1));
        store.create(&keep).await.unwrap();
        for _ in 0..3 * MIN_SWEEP_AT {
            store.create(&record(&clock, Duration::ZERO)).await.unwrap();
        }
        assert_eq!(store.load(&keep.id).await.unwrap(), Some(keep));
    }

    #[tokio::test]
    async fn load_shares_the_stored_data() {
        let store = MemoryStore::new();
        let clock = ManualClock::default();
        let r = record(&clock, Duration::days(1));
        store.create(&r).await.unwrap();
        let loaded = store.load(&r.id).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&loaded.data, &r.data), "load copied the data");
    }
}
