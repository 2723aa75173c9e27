//! An in-process store: the embedded default for tests, examples and the
//! demo.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Capabilities, Clock, Error, Record, SessionId, SessionStore, SystemClock};

/// How many sessions a [`MemoryStore`] holds unless
/// [`MemoryStore::with_max_sessions`] says otherwise.
///
/// Why this number: the demo's memory grows by about 1 KB per new session
/// (measured, the store's bookkeeping included), so 100,000 sessions are
/// about 100 MB, a bound any server can afford. Without it a client that
/// sends no cookie to a route that writes grows the map for the two weeks
/// of the default cookie age (4.2 GB after five minutes of load); with it
/// the map stops at that size. 100,000 is also more concurrent visitors
/// than one process should keep in memory: a site with more belongs on a
/// shared store.
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

/// The most records one hold of the store's lock examines while sweeping:
/// [`SessionStore::clear_expired`] and trimming to a new capacity work in
/// batches of this size and release the lock (and yield to the runtime)
/// between them.
pub const SWEEP_BATCH: usize = 256;

/// How many expired records each `create` removes, at most, from the front
/// of the expiry order before inserting. More than one, so expired records
/// are cleared faster than creates add new ones.
const SWEEP_ON_CREATE: usize = 4;

/// Below this many records `create` sweeps nothing: a small store keeps
/// its expired records for `clear_expired` to count (as the conformance
/// kit expects) until access, eviction or `clear_expired` removes them.
const MIN_SWEEP_AT: usize = 1024;

/// Sessions in a `HashMap` behind a mutex, with an expiry-ordered index;
/// clones share them.
///
/// - **Atomic by construction:** every operation holds the lock for its
///   whole check-and-write, so `create` never overwrites and `save` never
///   revives.
/// - **Bounded:** it holds at most [`DEFAULT_MAX_SESSIONS`] records, or
///   what [`MemoryStore::with_max_sessions`] sets. A `create` on a full
///   store is never refused: it evicts the record soonest to expire (an
///   expired one first, then the live session with the earliest expiry,
///   ties broken by ID). Under a flood of new sessions the oldest visitors
///   are therefore logged out first; that is the price of bounded memory,
///   and a site that cannot pay it needs a persistent store. The limit
///   counts sessions, not bytes: bound the size of each session
///   separately.
/// - **Expiry** is decided by the store's [`Clock`] (the system clock
///   unless [`MemoryStore::with_clock`] says otherwise). Expired records
///   are never returned and are removed: on access, a few at a time by
///   every `create` once the store holds 1,024 records (so expired records
///   do not pile up to the capacity), and all of them by
///   [`SessionStore::clear_expired`].
///   No operation holds the lock for a pass over every record: the expiry
///   index gives the next record to expire in O(log n), and
///   `clear_expired` works in batches of [`SWEEP_BATCH`], releasing the
///   lock between them.
/// - Reads hand out the stored data without copying it.
/// - Supports `touch`, `clear_expired` and versioned saves.
/// - **One process only:** sessions live in this process's memory. They
///   are lost on restart and not shared between processes, so behind a
///   load balancer with several instances (or a pre-forking server) a
///   visitor's session exists only on the instance that created it. Use a
///   shared store (PostgreSQL, Redis) for such deployments.
///
/// ```
/// use session_core::{MemoryStore, SessionManager};
///
/// let sessions = SessionManager::new(MemoryStore::new().with_max_sessions(10_000));
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
    /// Exactly one `(expires_at, id)` per record: the front is the record
    /// soonest to expire.
    by_expiry: BTreeSet<(OffsetDateTime, SessionId)>,
    max_sessions: usize,
    /// Records examined since the lock was last taken, and the most any
    /// single hold examined: the proof that no hold is an O(n) pass.
    #[cfg(test)]
    examined_in_hold: usize,
    #[cfg(test)]
    max_examined_in_hold: usize,
}

impl State {
    fn new(max_sessions: usize) -> Self {
        State {
            records: HashMap::new(),
            by_expiry: BTreeSet::new(),
            max_sessions: max_sessions.max(1),
            #[cfg(test)]
            examined_in_hold: 0,
            #[cfg(test)]
            max_examined_in_hold: 0,
        }
    }

    /// Counts one record looked at under the current hold of the lock.
    #[inline]
    fn examine(&mut self) {
        #[cfg(test)]
        {
            self.examined_in_hold += 1;
            self.max_examined_in_hold = self.max_examined_in_hold.max(self.examined_in_hold);
        }
    }

    /// The live record for `id`; an expired one is removed on the way.
    fn live(&mut self, id: &SessionId, now: OffsetDateTime) -> Option<&mut Record> {
        self.examine();
        if self.records.get(id).is_some_and(|r| r.is_expired_at(now)) {
            self.remove(id);
        }
        self.records.get_mut(id)
    }

    fn insert(&mut self, record: Record) {
        let key = (record.expires_at, record.id.clone());
        // Callers remove a record before replacing it; keep the index exact
        // even if one does not, without a second lookup.
        if let Some(old) = self.records.insert(record.id.clone(), record) {
            self.by_expiry.remove(&(old.expires_at, old.id));
        }
        self.by_expiry.insert(key);
    }

    fn remove(&mut self, id: &SessionId) -> Option<Record> {
        let record = self.records.remove(id)?;
        self.by_expiry
            .remove(&(record.expires_at, record.id.clone()));
        Some(record)
    }

    /// Moves the stored expiry of `id` in the index; the record must be
    /// updated to `to` by the caller.
    fn reindex(&mut self, id: &SessionId, from: OffsetDateTime, to: OffsetDateTime) {
        if from != to {
            let mut key = (from, id.clone());
            self.by_expiry.remove(&key);
            key.0 = to;
            self.by_expiry.insert(key);
        }
    }

    /// Removes the record soonest to expire, whether it has or not.
    fn evict_first(&mut self) -> bool {
        self.examine();
        match self.by_expiry.pop_first() {
            Some((_, id)) => {
                self.records.remove(&id);
                true
            }
            None => false,
        }
    }

    /// Removes up to `limit` expired records from the front of the expiry
    /// order; returns how many it removed.
    fn sweep_front(&mut self, now: OffsetDateTime, limit: usize) -> usize {
        let mut removed = 0;
        while removed < limit {
            self.examine();
            if self.by_expiry.first().is_none_or(|(at, _)| *at > now) {
                break;
            }
            if let Some((_, id)) = self.by_expiry.pop_first() {
                self.records.remove(&id);
            }
            removed += 1;
        }
        removed
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock, holding at most
    /// [`DEFAULT_MAX_SESSIONS`].
    pub fn new() -> Self {
        Self::with_clock(SystemClock)
    }

    /// An empty store that decides expiry by `clock`, holding at most
    /// [`DEFAULT_MAX_SESSIONS`].
    pub fn with_clock(clock: impl Clock) -> Self {
        MemoryStore {
            inner: Arc::new(Inner {
                clock: Arc::new(clock),
                state: Mutex::new(State::new(DEFAULT_MAX_SESSIONS)),
            }),
        }
    }

    /// The same store holding at most `max` sessions (at least one: 0
    /// counts as 1). When full, a `create` evicts the record soonest to
    /// expire; see the type's documentation.
    ///
    /// Meant for construction; the limit is shared with every clone. Set
    /// on a store that already holds more, it evicts the excess in the
    /// same order, in batches of [`SWEEP_BATCH`].
    ///
    /// ```
    /// use session_core::MemoryStore;
    ///
    /// let store = MemoryStore::new().with_max_sessions(50_000);
    /// assert_eq!(store.max_sessions(), 50_000);
    /// ```
    #[must_use]
    pub fn with_max_sessions(self, max: usize) -> Self {
        self.state().max_sessions = max.max(1);
        loop {
            let mut state = self.state();
            let mut evicted = 0;
            while evicted < SWEEP_BATCH && state.records.len() > state.max_sessions {
                state.evict_first();
                evicted += 1;
            }
            if state.records.len() <= state.max_sessions {
                break;
            }
        }
        self
    }

    /// The most sessions the store holds.
    pub fn max_sessions(&self) -> usize {
        self.state().max_sessions
    }

    /// How many records the map holds, expired ones not yet removed
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
        // half-written (map and index are updated without a call that can
        // panic in between), so keep going.
        #[allow(unused_mut)] // mutated only by the test-only counter
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        #[cfg(test)]
        {
            state.examined_in_hold = 0;
        }
        state
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
        if state.records.len() >= MIN_SWEEP_AT {
            state.sweep_front(now, SWEEP_ON_CREATE);
        }
        // The capacity is never exceeded, so this evicts at most one.
        while state.records.len() >= state.max_sessions {
            if !state.evict_first() {
                break;
            }
        }
        state.insert(record.clone());
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
        let from = stored.expires_at;
        *stored = record.clone().with_version(record.version.wrapping_add(1));
        state.reindex(&record.id, from, record.expires_at);
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.state().remove(id);
        Ok(())
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        let now = self.now();
        let mut state = self.state();
        let stored = state.live(id, now).ok_or(Error::NotFound)?;
        let from = std::mem::replace(&mut stored.expires_at, expires_at);
        state.reindex(id, from, expires_at);
        Ok(())
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        let now = self.now();
        let mut total: u64 = 0;
        loop {
            let removed = self.state().sweep_front(now, SWEEP_BATCH);
            total += removed as u64;
            if removed < SWEEP_BATCH {
                return Ok(total);
            }
            // Let the requests waiting for the lock (and other tasks on
            // this thread) in before the next batch.
            YieldNow(false).await;
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
}

/// Returns `Pending` once, after asking to be polled again: hands the
/// thread back to the runtime, whichever runtime it is.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, ManualClock, SessionData};
    use std::collections::BTreeMap;
    use std::task::Waker;
    use time::Duration;
    use time::macros::datetime;

    /// Drives a store future to completion on this thread: the store's
    /// futures only ever wait in [`YieldNow`], which is ready when polled
    /// again.
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    fn record(clock: &ManualClock, ttl: Duration) -> Record {
        Record::new(SessionId::generate(), SessionData::new(), clock.now() + ttl)
    }

    impl MemoryStore {
        /// Panics unless the index holds exactly one entry per record, with
        /// the record's expiry, and the capacity holds.
        fn assert_consistent(&self) {
            let state = self.state();
            assert_eq!(state.by_expiry.len(), state.records.len(), "index size");
            for (id, record) in &state.records {
                assert_eq!(&record.id, id);
                assert!(
                    state.by_expiry.contains(&(record.expires_at, id.clone())),
                    "a record is missing from the expiry index"
                );
            }
            assert!(state.records.len() <= state.max_sessions, "over capacity");
        }

        /// The most records any single hold of the lock examined since the
        /// last call.
        fn take_max_examined(&self) -> usize {
            std::mem::take(&mut self.state().max_examined_in_hold)
        }

        /// Whether a record (live or not) is stored under `id`, without the
        /// side effects of `load`.
        fn holds(&self, id: &SessionId) -> bool {
            self.state().records.contains_key(id)
        }
    }

    #[tokio::test]
    async fn sweeps_expired_records_so_the_map_does_not_grow_forever() {
        const GENERATION: usize = 1024;
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone());
        for _ in 0..10 {
            for _ in 0..GENERATION {
                store
                    .create(&record(&clock, Duration::seconds(1)))
                    .await
                    .unwrap();
            }
            clock.advance(Duration::seconds(2));
        }
        // Ten generations of 1,024 short-lived sessions, never read again:
        // each create removes expired ones faster than it adds one.
        assert!(
            store.len() <= 2 * GENERATION,
            "{} records kept",
            store.len()
        );
        store.assert_consistent();
    }

    #[tokio::test]
    async fn live_records_survive_the_sweep() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone());
        let keep = record(&clock, Duration::days(1));
        store.create(&keep).await.unwrap();
        for _ in 0..3 * 1024 {
            store.create(&record(&clock, Duration::ZERO)).await.unwrap();
        }
        store.clear_expired().await.unwrap();
        assert_eq!(store.len(), 1);
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

    #[test]
    fn the_default_capacity_is_documented_and_bounded() {
        assert_eq!(MemoryStore::new().max_sessions(), DEFAULT_MAX_SESSIONS);
        assert_eq!(MemoryStore::default().max_sessions(), 100_000);
        assert_eq!(MemoryStore::new().with_max_sessions(0).max_sessions(), 1);
    }

    #[tokio::test]
    async fn many_creates_never_exceed_the_capacity_and_are_never_refused() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone()).with_max_sessions(100);
        for i in 0..10_000 {
            // Mixed lifetimes, some already over, never read again: what a
            // client sending no cookie to a route that writes leaves.
            let ttl = Duration::seconds((i * 7919) % 1000 - 100);
            store.create(&record(&clock, ttl)).await.unwrap();
            assert!(
                store.len() <= 100,
                "{} records after {i} creates",
                store.len()
            );
            if i % 997 == 0 {
                store.assert_consistent();
            }
        }
        assert_eq!(store.len(), 100);
        store.assert_consistent();
    }

    #[tokio::test]
    async fn a_full_store_evicts_the_record_soonest_to_expire() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone()).with_max_sessions(3);
        let a = record(&clock, Duration::days(10));
        let b = record(&clock, Duration::days(1));
        let c = record(&clock, Duration::days(5));
        for r in [&a, &b, &c] {
            store.create(r).await.unwrap();
        }
        let d = record(&clock, Duration::days(7));
        store.create(&d).await.unwrap();
        assert!(!store.holds(&b.id), "b expired soonest and should be gone");
        for r in [&a, &c, &d] {
            assert_eq!(store.load(&r.id).await.unwrap().as_ref(), Some(r));
        }

        // touch moves a record to the front of the order...
        store
            .touch(&a.id, clock.now() + Duration::hours(1))
            .await
            .unwrap();
        store
            .create(&record(&clock, Duration::days(3)))
            .await
            .unwrap();
        assert!(!store.holds(&a.id), "a, touched to expire first, survived");
        assert!(store.holds(&c.id) && store.holds(&d.id));

        // ...and so does a save that shortens the expiry.
        let d2 = Record::new(
            d.id.clone(),
            SessionData::new(),
            clock.now() + Duration::minutes(5),
        );
        store.save(&d2).await.unwrap();
        store
            .create(&record(&clock, Duration::days(3)))
            .await
            .unwrap();
        assert!(!store.holds(&d.id), "d, saved to expire first, survived");
        assert!(store.holds(&c.id));
        store.assert_consistent();
    }

    #[tokio::test]
    async fn a_full_store_evicts_expired_records_before_any_live_one() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone()).with_max_sessions(3);
        let a = record(&clock, Duration::days(1));
        let b = record(&clock, Duration::days(2));
        let short = record(&clock, Duration::seconds(1));
        for r in [&a, &b, &short] {
            store.create(r).await.unwrap();
        }
        clock.advance(Duration::seconds(2));
        let c = record(&clock, Duration::hours(1));
        store.create(&c).await.unwrap();
        // c expires before a and b, but the expired record made room.
        for r in [&a, &b, &c] {
            assert_eq!(store.load(&r.id).await.unwrap().as_ref(), Some(r));
        }
        assert_eq!(store.len(), 3);
    }

    #[tokio::test]
    async fn delete_and_expiry_on_access_keep_the_index_exact() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone()).with_max_sessions(2);
        let a = record(&clock, Duration::days(1));
        let b = record(&clock, Duration::seconds(1));
        store.create(&a).await.unwrap();
        store.create(&b).await.unwrap();
        store.delete(&a.id).await.unwrap();
        store.assert_consistent();
        clock.advance(Duration::seconds(1));
        assert_eq!(store.load(&b.id).await.unwrap(), None);
        store.assert_consistent();
        assert!(store.is_empty());
        // A deleted record's stale index entry would be evicted in place of
        // a live one here.
        let c = record(&clock, Duration::days(1));
        let d = record(&clock, Duration::days(2));
        store.create(&c).await.unwrap();
        store.create(&d).await.unwrap();
        assert!(store.holds(&c.id) && store.holds(&d.id));
    }

    #[tokio::test]
    async fn lowering_the_capacity_evicts_the_excess_soonest_first() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone());
        let mut records: Vec<Record> = (1..=1000)
            .map(|i| record(&clock, Duration::minutes(i)))
            .collect();
        for r in &records {
            store.create(r).await.unwrap();
        }
        store.take_max_examined();
        let store = store.with_max_sessions(10);
        assert!(store.take_max_examined() <= SWEEP_BATCH);
        assert_eq!(store.len(), 10);
        store.assert_consistent();
        for r in records.split_off(990) {
            assert!(store.holds(&r.id), "a latest-expiring record was evicted");
        }
    }

    /// Sweeping is bounded per hold of the lock, structurally: every record
    /// the store looks at under one hold is counted.
    #[tokio::test]
    async fn no_lock_hold_examines_more_than_a_batch() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone());
        let expired = 10 * SWEEP_BATCH + 7;
        for _ in 0..expired {
            store
                .create(&record(&clock, Duration::seconds(1)))
                .await
                .unwrap();
        }
        let live: Vec<Record> = (0..100)
            .map(|_| record(&clock, Duration::days(1)))
            .collect();
        for r in &live {
            store.create(r).await.unwrap();
        }
        assert!(store.take_max_examined() <= SWEEP_ON_CREATE + 2);
        clock.advance(Duration::seconds(2));

        // Creates on a store full of expired records each do a bounded bit.
        for _ in 0..50 {
            store
                .create(&record(&clock, Duration::days(1)))
                .await
                .unwrap();
        }
        assert!(store.take_max_examined() <= SWEEP_ON_CREATE + 2);

        let removed = store.clear_expired().await.unwrap() as usize;
        let max = store.take_max_examined();
        assert!(
            max <= SWEEP_BATCH,
            "one hold of the lock examined {max} records"
        );
        assert_eq!(removed, expired - 50 * SWEEP_ON_CREATE);
        assert_eq!(store.len(), 150);
        for r in &live {
            assert!(store.holds(&r.id));
        }
        store.assert_consistent();
    }

    #[test]
    fn clear_expired_releases_the_lock_between_batches() {
        let clock = ManualClock::default();
        let store = MemoryStore::with_clock(clock.clone());
        for _ in 0..3 * SWEEP_BATCH {
            block_on(store.create(&record(&clock, Duration::seconds(1)))).unwrap();
        }
        clock.advance(Duration::seconds(2));
        let mut sweep = store.clear_expired();
        let mut cx = Context::from_waker(Waker::noop());
        let mut pauses = 0;
        let removed = loop {
            match sweep.as_mut().poll(&mut cx) {
                Poll::Ready(removed) => break removed.unwrap(),
                Poll::Pending => {
                    pauses += 1;
                    // Paused between batches: the lock is free for others.
                    assert!(
                        store.inner.state.try_lock().is_ok(),
                        "lock held while paused"
                    );
                }
            }
        };
        assert_eq!(removed as usize, 3 * SWEEP_BATCH);
        assert!(pauses >= 2, "{pauses} pauses for three batches");
    }

    // --- The store against a model: a map of ID to (expiry, version, tag)
    // where a full create evicts the live record with the smallest
    // (expiry, ID). After every operation the results agree, the live
    // records agree and the index is exact.

    const POOL: usize = 6;
    const EPOCH: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    #[derive(Debug, Clone)]
    enum Op {
        Create { id: usize, ttl: i64 },
        Save { id: usize, ttl: i64, stale: bool },
        Touch { id: usize, ttl: i64 },
        Delete { id: usize },
        Load { id: usize },
        Advance { secs: i64 },
        Clear,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let id = 0..POOL;
        let ttl = -2i64..12;
        prop_oneof![
            4 => (id.clone(), ttl.clone()).prop_map(|(id, ttl)| Op::Create { id, ttl }),
            3 => (id.clone(), ttl.clone(), any::<bool>())
                .prop_map(|(id, ttl, stale)| Op::Save { id, ttl, stale }),
            2 => (id.clone(), ttl).prop_map(|(id, ttl)| Op::Touch { id, ttl }),
            1 => id.clone().prop_map(|id| Op::Delete { id }),
            2 => id.prop_map(|id| Op::Load { id }),
            2 => (0i64..4).prop_map(|secs| Op::Advance { secs }),
            1 => Just(Op::Clear),
        ]
    }

    fn pool_id(i: usize) -> SessionId {
        // Index order is ID order: the tie-break the model uses.
        format!("{i:0>32}").parse().unwrap()
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Entry {
        expires: i64,
        version: u64,
        tag: u64,
    }

    fn at(secs: i64) -> OffsetDateTime {
        EPOCH + Duration::seconds(secs)
    }

    fn tagged(id: usize, tag: u64, expires: i64, version: u64) -> Record {
        let mut data = SessionData::new();
        data.insert("tag".into(), tag.into());
        Record::new(pool_id(id), data, at(expires)).with_version(version)
    }

    fn run_model(max: usize, ops: &[Op]) {
        let clock = ManualClock::new(EPOCH);
        let store = MemoryStore::with_clock(clock.clone()).with_max_sessions(max);
        let mut now: i64 = 0;
        let mut model: BTreeMap<usize, Entry> = BTreeMap::new();
        let live = |m: &BTreeMap<usize, Entry>, now: i64, id: usize| {
            m.get(&id).copied().filter(|e| e.expires > now)
        };
        for (tag, op) in ops.iter().enumerate() {
            let tag = tag as u64;
            let kind = |r: Result<(), Error>| r.map_err(|e| e.kind());
            match *op {
                Op::Create { id, ttl } => {
                    let got = kind(block_on(store.create(&tagged(id, tag, now + ttl, 0))));
                    let want = if live(&model, now, id).is_some() {
                        Err(ErrorKind::Conflict)
                    } else {
                        model.remove(&id);
                        let live_ids: Vec<usize> = model
                            .keys()
                            .copied()
                            .filter(|&i| live(&model, now, i).is_some())
                            .collect();
                        if live_ids.len() >= max {
                            let victim = live_ids
                                .iter()
                                .copied()
                                .min_by_key(|&i| (model[&i].expires, i))
                                .unwrap();
                            model.remove(&victim);
                        }
                        model.insert(
                            id,
                            Entry {
                                expires: now + ttl,
                                version: 0,
                                tag,
                            },
                        );
                        Ok(())
                    };
                    assert_eq!(got, want, "{op:?}");
                }
                Op::Save { id, ttl, stale } => {
                    let current = model.get(&id).map_or(0, |e| e.version);
                    let version = current + u64::from(stale);
                    let got = kind(block_on(store.save(&tagged(id, tag, now + ttl, version))));
                    let want = match live(&model, now, id) {
                        None => {
                            model.remove(&id);
                            Err(ErrorKind::NotFound)
                        }
                        Some(_) if stale => Err(ErrorKind::Conflict),
                        Some(e) => {
                            let version = e.version + 1;
                            model.insert(
                                id,
                                Entry {
                                    expires: now + ttl,
                                    version,
                                    tag,
                                },
                            );
                            Ok(())
                        }
                    };
                    assert_eq!(got, want, "{op:?}");
                }
                Op::Touch { id, ttl } => {
                    let got = kind(block_on(store.touch(&pool_id(id), at(now + ttl))));
                    let want = match live(&model, now, id) {
                        None => {
                            model.remove(&id);
                            Err(ErrorKind::NotFound)
                        }
                        Some(e) => {
                            model.insert(
                                id,
                                Entry {
                                    expires: now + ttl,
                                    ..e
                                },
                            );
                            Ok(())
                        }
                    };
                    assert_eq!(got, want, "{op:?}");
                }
                Op::Delete { id } => {
                    block_on(store.delete(&pool_id(id))).unwrap();
                    model.remove(&id);
                }
                Op::Load { id } => {
                    let got = block_on(store.load(&pool_id(id))).unwrap();
                    let want = live(&model, now, id);
                    if want.is_none() {
                        model.remove(&id);
                    }
                    assert_eq!(
                        got,
                        want.map(|e| tagged(id, e.tag, e.expires, e.version)),
                        "{op:?}"
                    );
                }
                Op::Advance { secs } => {
                    now += secs;
                    clock.set(at(now));
                }
                Op::Clear => {
                    let removed = block_on(store.clear_expired()).unwrap() as usize;
                    let expired = model.len()
                        - (0..POOL)
                            .filter(|&i| live(&model, now, i).is_some())
                            .count();
                    assert!(removed <= expired, "cleared {removed} of {expired} expired");
                    model.retain(|_, e| e.expires > now);
                    assert_eq!(store.len(), model.len(), "records left after clear_expired");
                }
            }
            store.assert_consistent();
            // Without load's side effects: the live records agree.
            let state = store.state();
            for i in 0..POOL {
                let got = state
                    .records
                    .get(&pool_id(i))
                    .filter(|r| !r.is_expired_at(at(now)))
                    .cloned();
                let want = live(&model, now, i).map(|e| tagged(i, e.tag, e.expires, e.version));
                assert_eq!(got, want, "record {i} after {op:?}");
            }
            assert!(
                state.records.len() <= model.len(),
                "the store keeps a record the model dropped"
            );
        }
    }

    /// 2,000 runs of up to 80 operations unless `PROPTEST_CASES` says
    /// otherwise; XorShift, because ChaCha dominates a debug build's time.
    fn model_config() -> proptest::prelude::ProptestConfig {
        let mut config = proptest::prelude::ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = 2_000;
        }
        config.rng_algorithm = proptest::test_runner::RngAlgorithm::XorShift;
        config.failure_persistence = None;
        config
    }

    proptest::proptest! {
        #![proptest_config(model_config())]
        #[test]
        fn behaves_like_the_model(
            max in 1usize..=5,
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            run_model(max, &ops);
        }
    }
}
