//! The workloads every comparison shares: the session everybody stores,
//! a store round trip through the `SessionStore` trait, and core's request
//! path.

use std::sync::Arc;

use session_core::time::{Duration as TimeDuration, OffsetDateTime};
use session_core::{Record, SessionData, SessionId, SessionManager, SessionStore};

use crate::driver::{BenchError, Workload, pick};

/// Sessions created before a run; a multiple of the largest concurrency,
/// so every task gets the same number of its own (see [`pick`]).
pub(crate) const SESSIONS: usize = 1024;

/// About 1 KiB of JSON: a counter and short strings, the shape of a
/// typical logged-in session (user, CSRF token, flash messages).
pub(crate) fn session_data() -> SessionData {
    let mut data = SessionData::new();
    data.insert("visits".to_owned(), serde_json::json!(0));
    let mut i = 0;
    while serde_json::to_vec(&data).map_or(0, |v| v.len()) < 1024 {
        data.insert(format!("k{i:03}"), serde_json::json!("x".repeat(56)));
        i += 1;
    }
    data
}

/// [`SESSIONS`] version-0 records of [`session_data`], live for an hour
/// (so whatever a crashed run leaves behind in Redis goes away by itself).
pub(crate) fn records() -> Result<Vec<Record>, BenchError> {
    let data = Arc::new(session_data());
    let expires_at = OffsetDateTime::now_utc() + TimeDuration::hours(1);
    (0..SESSIONS)
        .map(|_| {
            let id = SessionId::try_generate()?;
            Ok(Record::new(id, Arc::clone(&data), expires_at))
        })
        .collect()
}

/// One store round trip: `load` an existing session, `save` it back as
/// loaded (a versioned store checks and bumps the version).
#[derive(Debug)]
pub(crate) struct RoundTrip<S> {
    store: S,
    ids: Vec<SessionId>,
}

impl<S: SessionStore> RoundTrip<S> {
    /// Creates `records` in `store`.
    pub(crate) async fn seed(store: S, records: &[Record]) -> Result<Self, BenchError> {
        for record in records {
            store.create(record).await?;
        }
        Ok(RoundTrip {
            store,
            ids: records.iter().map(|r| r.id.clone()).collect(),
        })
    }

    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// Deletes what [`RoundTrip::seed`] created.
    pub(crate) async fn clean(&self) -> Result<(), BenchError> {
        for id in &self.ids {
            self.store.delete(id).await?;
        }
        Ok(())
    }
}

impl<S: SessionStore> Workload for RoundTrip<S> {
    async fn op(&self, worker: usize, workers: usize, n: u64) -> Result<(), BenchError> {
        let id = pick(&self.ids, worker, workers, n).ok_or("no sessions were seeded")?;
        let record =
            self.store.load(id).await?.ok_or(
                "a seeded session is gone from the store (expired? deleted by someone else?)",
            )?;
        self.store.save(&record).await?;
        Ok(())
    }
}

/// Core's request path over a store: `load` with the cookie, read the
/// counter, write it back incremented, `finish` (which saves).
#[derive(Debug)]
pub(crate) struct Lifecycle {
    manager: Arc<SessionManager>,
    cookies: Vec<String>,
}

impl Lifecycle {
    /// Requests carrying the cookies of `records`, which must already be
    /// in the manager's store. Checks one request sees its session, so a
    /// wrong cookie name cannot turn the run into a benchmark of empty
    /// sessions.
    pub(crate) async fn new(
        manager: Arc<SessionManager>,
        records: &[Record],
    ) -> Result<Self, BenchError> {
        let name = manager.config().cookie_name().to_owned();
        let cookies: Vec<String> = records
            .iter()
            .map(|r| format!("{name}={}", r.id.as_str()))
            .collect();
        let first = cookies.first().ok_or("no sessions were seeded")?;
        let session = manager.load([first.as_str()]);
        if session.get::<u64>("visits").await?.is_none() {
            return Err("a request with a seeded session's cookie saw no session".into());
        }
        Ok(Lifecycle { manager, cookies })
    }
}

impl Workload for Lifecycle {
    async fn op(&self, worker: usize, workers: usize, n: u64) -> Result<(), BenchError> {
        let cookie = pick(&self.cookies, worker, workers, n).ok_or("no sessions were seeded")?;
        let session = self.manager.load([cookie.as_str()]);
        let visits: u64 = session.get("visits").await?.unwrap_or(0);
        session.insert("visits", visits + 1).await?;
        self.manager.finish(&session, 200).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_about_one_kib_of_json() {
        let len = serde_json::to_vec(&session_data()).unwrap().len();
        assert!((1024..1100).contains(&len), "{len} bytes");
    }
}
