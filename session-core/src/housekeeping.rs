//! Django's `clearsessions`, run by the application itself: a background
//! task that calls [`SessionStore::clear_expired`] on an interval.
//!
//! Stores without native expiry (PostgreSQL, files, memory) keep expired
//! records until something removes them. They are never loaded (every
//! store checks the expiry on read), but they take space; Django leaves
//! that to a cron job running `manage.py clearsessions`. [`ClearExpired`]
//! does the same from inside the application, so there is no second
//! process to deploy:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use session_core::{ClearExpired, MemoryStore, SessionManager};
//!
//! let sessions = SessionManager::new(MemoryStore::new());
//! let housekeeping = ClearExpired::for_manager(&sessions)
//!     .every(Duration::from_secs(3600))
//!     .jitter(0.1)
//!     .spawn();
//! // ... serve requests ...
//! housekeeping.stop().await;
//! # }
//! ```
//!
//! - **Schedule:** the first run comes one (jittered) interval after
//!   `spawn` unless [`ClearExpired::first_run_now`] says otherwise; each
//!   next run one jittered interval after the previous one *ended*, so runs
//!   never overlap. Jitter spreads the runs of many instances started
//!   together, so they do not all sweep the database at the same moment.
//! - **Errors never stop it:** a failed run is logged at `warn` with its
//!   kind and cause chain ([`Error::report`]) and the next run comes as
//!   planned.
//! - **Logs:** each run logs at `info` on [`TARGET`] how many records it
//!   removed (`removed`) and how long it took (`elapsed_ms`). No log line
//!   carries a session ID (the call has none).
//! - **Stopping:** [`ClearExpiredHandle::cancel`], dropping the handle, or
//!   [`ClearExpiredHandle::stop`] (which also waits for the task to end).
//!   A run in progress is abandoned at its next `await`; the records it
//!   did not reach yet are expired ones, which the next run (or the next
//!   start of the application) removes.
//!
//! # Redis needs none
//!
//! Redis expires keys natively (the Redis store writes each record with an
//! absolute expiry), so its `clear_expired` is the contract's no-op
//! `Ok(0)` and this task is not needed for it. Running it there is
//! harmless: it logs once at start that the store expires records itself,
//! then each run removes 0.
//!
//! # Several instances
//!
//! Every instance of a load-balanced application may run the task: the
//! stores' `clear_expired` only deletes records that are already expired,
//! so concurrent runs remove each record once between them. One instance
//! (or a cron job with the demo's `clear-expired` command) is enough.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::TryRng;
use rand::rngs::SysRng;
use tokio::task::JoinHandle;

use crate::{Capabilities, Error, SessionManager, SessionStore};

/// The `tracing` target of every event this module logs.
pub const TARGET: &str = "session_core::housekeeping";

/// How often [`ClearExpired`] runs unless [`ClearExpired::every`] says
/// otherwise: one hour (Django's documentation suggests running
/// `clearsessions` daily; hourly keeps a busy table smaller and each run
/// short).
pub const DEFAULT_EVERY: Duration = Duration::from_secs(3600);

/// The jitter unless [`ClearExpired::jitter`] says otherwise: each wait is
/// the interval ± 10 %.
pub const DEFAULT_JITTER: f64 = 0.1;

/// The shortest interval [`ClearExpired::every`] keeps; shorter ones are
/// raised to it, so the task always sleeps between runs.
pub const MIN_EVERY: Duration = Duration::from_millis(1);

/// What the task clears: a store, or the store of a manager.
#[derive(Debug, Clone)]
enum Target {
    Store(Arc<dyn SessionStore>),
    Manager(SessionManager),
}

impl Target {
    async fn clear_expired(&self) -> Result<u64, Error> {
        match self {
            Target::Store(store) => store.clear_expired().await,
            Target::Manager(manager) => manager.clear_expired().await,
        }
    }

    fn capabilities(&self) -> Capabilities {
        match self {
            Target::Store(store) => store.capabilities(),
            Target::Manager(manager) => manager.store().capabilities(),
        }
    }
}

/// A background task that removes expired sessions on an interval, being
/// built: set the interval and jitter, then [`ClearExpired::spawn`] it, or
/// call [`ClearExpired::run_once`] for a single run (a cron job).
///
/// See the [module docs](self) for the schedule, logging and stopping.
#[derive(Debug, Clone)]
#[must_use = "nothing runs until `spawn` or `run_once`"]
pub struct ClearExpired {
    target: Target,
    every: Duration,
    jitter: f64,
    first_run_now: bool,
}

impl ClearExpired {
    /// Clears `store` (pass an `Arc` clone to keep using the store
    /// elsewhere).
    pub fn new(store: impl SessionStore) -> Self {
        Self::with_target(Target::Store(Arc::new(store)))
    }

    /// Clears the store of `manager` (through
    /// [`SessionManager::clear_expired`]).
    pub fn for_manager(manager: &SessionManager) -> Self {
        Self::with_target(Target::Manager(manager.clone()))
    }

    fn with_target(target: Target) -> Self {
        ClearExpired {
            target,
            every: DEFAULT_EVERY,
            jitter: DEFAULT_JITTER,
            first_run_now: false,
        }
    }

    /// The time between the end of one run and the start of the next,
    /// before jitter. Default: [`DEFAULT_EVERY`] (one hour). Values below
    /// [`MIN_EVERY`] are raised to it.
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every.max(MIN_EVERY);
        self
    }

    /// How far each wait may stray from [`ClearExpired::every`], as a
    /// fraction of it: with `0.1` each wait is drawn uniformly from 90 % to
    /// 110 % of the interval. Default: [`DEFAULT_JITTER`] (`0.1`). Clamped
    /// to `0.0..=1.0`; `NaN` counts as `0.0` (no jitter).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = clamp_jitter(fraction);
        self
    }

    /// Whether the first run starts at once instead of one interval after
    /// `spawn`. Default: `false`, so instances restarted together do not
    /// all sweep the store at their start.
    pub fn first_run_now(mut self, yes: bool) -> Self {
        self.first_run_now = yes;
        self
    }

    /// One run, now, logged like the background runs: the number of
    /// records removed.
    ///
    /// # Errors
    ///
    /// The store's (also logged at `warn`).
    pub async fn run_once(&self) -> Result<u64, Error> {
        run_logged(&self.target).await
    }

    /// Starts the background task on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as [`tokio::spawn`] does.
    pub fn spawn(self) -> ClearExpiredHandle {
        if !self.target.capabilities().clear_expired {
            tracing::info!(
                target: TARGET,
                "the session store expires records by itself; clearing expired sessions \
                 in the background is not needed for it (each run will remove 0)"
            );
        }
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(run_forever(self, Arc::clone(&stats)));
        ClearExpiredHandle {
            task: Some(task),
            stats,
        }
    }
}

/// The running task of [`ClearExpired::spawn`]. Dropping it stops the
/// task; so do [`ClearExpiredHandle::cancel`] and
/// [`ClearExpiredHandle::stop`].
#[derive(Debug)]
#[must_use = "dropping the handle stops the task"]
pub struct ClearExpiredHandle {
    /// `Some` until `stop` takes it.
    task: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
}

#[derive(Debug, Default)]
struct Stats {
    runs: AtomicU64,
    failures: AtomicU64,
    removed: AtomicU64,
}

impl ClearExpiredHandle {
    /// Stops the task: it does not start another run, and a run in
    /// progress is abandoned at its next `await`. Returns at once; the task
    /// ends at its next poll. Calling it again does nothing.
    pub fn cancel(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// Stops the task, as [`ClearExpiredHandle::cancel`], and waits until
    /// it has ended (for a graceful shutdown that must not leave it
    /// running).
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // An aborted task ends with a cancellation error; a panic in
            // the store's clear_expired is its own, already reported by
            // the runtime. Either way the task is over.
            let _ = task.await;
        }
    }

    /// Whether the task has ended (cancelled, stopped or panicked).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// How many runs have completed, failed ones included.
    pub fn runs(&self) -> u64 {
        self.stats.runs.load(Ordering::Acquire)
    }

    /// How many runs have failed.
    pub fn failures(&self) -> u64 {
        self.stats.failures.load(Ordering::Acquire)
    }

    /// How many expired records all runs together have removed.
    pub fn removed(&self) -> u64 {
        self.stats.removed.load(Ordering::Acquire)
    }
}

impl Drop for ClearExpiredHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

async fn run_forever(job: ClearExpired, stats: Arc<Stats>) {
    let mut wait = if job.first_run_now {
        Duration::ZERO
    } else {
        next_wait(job.every, job.jitter)
    };
    loop {
        tokio::time::sleep(wait).await;
        match run_logged(&job.target).await {
            Ok(removed) => {
                stats.removed.fetch_add(removed, Ordering::AcqRel);
            }
            Err(_) => {
                stats.failures.fetch_add(1, Ordering::AcqRel);
            }
        }
        stats.runs.fetch_add(1, Ordering::AcqRel);
        wait = next_wait(job.every, job.jitter);
    }
}

async fn run_logged(target: &Target) -> Result<u64, Error> {
    let started = tokio::time::Instant::now();
    let result = target.clear_expired().await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &result {
        Ok(removed) => tracing::info!(
            target: TARGET,
            removed,
            elapsed_ms,
            "cleared expired sessions"
        ),
        Err(error) => tracing::warn!(
            target: TARGET,
            kind = ?error.kind(),
            error = %error.report(),
            elapsed_ms,
            "clearing expired sessions failed; the next run tries again"
        ),
    }
    result
}

fn clamp_jitter(fraction: f64) -> f64 {
    if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    }
}

/// The next wait, from a fresh random number. Jitter needs no secrecy, but
/// the OS source is the one the crate already uses; should it fail, the
/// wait is the plain interval.
fn next_wait(every: Duration, jitter: f64) -> Duration {
    let random = SysRng.try_next_u64().unwrap_or(1 << 63);
    jittered(every, jitter, random)
}

/// `every` scaled by a factor drawn uniformly from `[1 - jitter, 1 +
/// jitter]` by `random` (all of whose values are equally likely; the top
/// end is reached only by rounding).
fn jittered(every: Duration, jitter: f64, random: u64) -> Duration {
    // The top 53 bits as a float in [0, 1): exact, and uniform.
    #[allow(clippy::cast_precision_loss)] // 53 bits fit an f64 exactly
    let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
    let factor = 1.0 + clamp_jitter(jitter) * (2.0 * unit - 1.0);
    Duration::try_from_secs_f64(every.as_secs_f64() * factor).unwrap_or(every)
}

#[cfg(test)]
mod tests;
