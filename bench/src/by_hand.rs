//! The request core's lifecycle serves, done by hand on the bare store:
//! the fairer baseline for the lifecycle's own cost.
//!
//! The bare round trip (`workloads::RoundTrip`) saves the record as
//! loaded, so its data is never copied: it shares the store's map. A
//! request that changes a key cannot do that: the store holds the old
//! map until the save, so the change goes into a copy. This workload pays
//! exactly that: load, read the counter, write it + 1 into a copy of the
//! data (`Arc::make_mut`), save with a new expiry. What core adds on top
//! (cookie parsing and rendering, the plan, locking, the clock) is the
//! difference between the two.

use std::sync::Arc;

use session_core::time::{Duration, OffsetDateTime};
use session_core::{Record, SessionId, SessionStore};

use crate::driver::{BenchError, Workload, pick};

/// See the module docs.
#[derive(Debug)]
pub(crate) struct ByHand<S> {
    store: S,
    ids: Vec<SessionId>,
}

impl<S: SessionStore> ByHand<S> {
    /// Over `records`, which must already be in `store`.
    pub(crate) fn new(store: S, records: &[Record]) -> Self {
        ByHand {
            store,
            ids: records.iter().map(|r| r.id.clone()).collect(),
        }
    }
}

impl<S: SessionStore> Workload for ByHand<S> {
    async fn op(&self, worker: usize, workers: usize, n: u64) -> Result<(), BenchError> {
        let id = pick(&self.ids, worker, workers, n).ok_or("no sessions were seeded")?;
        let mut record = self
            .store
            .load(id)
            .await?
            .ok_or("a seeded session is gone from the store")?;
        let visits = record
            .data
            .get("visits")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        Arc::make_mut(&mut record.data).insert("visits".to_owned(), (visits + 1).into());
        // A sliding expiry, as core's default renews it on every write.
        record.expires_at = OffsetDateTime::now_utc() + Duration::weeks(2);
        self.store.save(&record).await?;
        Ok(())
    }
}
