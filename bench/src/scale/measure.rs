//! Timed slices that keep every operation's latency, the percentiles of
//! those latencies, and the `load` workload of the scale point.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use session_core::{SessionId, SessionStore};
use tokio::task::JoinSet;

use crate::driver::{BenchError, Workload, pick};
use crate::stats;

/// When the tasks of a slice stop starting operations.
#[derive(Debug, Clone)]
pub(crate) enum Stop {
    /// After this long.
    After(Duration),
    /// Once the flag is set (by whoever runs beside the slice).
    When(Arc<AtomicBool>),
}

/// What one slice saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slice {
    /// Operations that succeeded.
    pub(crate) ok: u64,
    /// Operations that failed, and the first failure's message.
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    /// Wall time from the start to the last task's end.
    pub(crate) elapsed: Duration,
    /// Every successful operation's latency in nanoseconds, sorted.
    pub(crate) latencies: Vec<u64>,
}

impl Slice {
    /// Successful operations per second.
    pub(crate) fn ops_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let ok = self.ok as f64;
        if secs > 0.0 { ok / secs } else { 0.0 }
    }

    /// The `p`-quantile of the latencies (nearest rank), in nanoseconds.
    pub(crate) fn quantile(&self, p: f64) -> Option<u64> {
        quantile(&self.latencies, p)
    }

    /// The slowest operation, in nanoseconds.
    pub(crate) fn max(&self) -> Option<u64> {
        self.latencies.last().copied()
    }

    /// An error when any operation failed: a load benchmark that skipped
    /// failures would measure the wrong thing.
    pub(crate) fn no_errors(self) -> Result<Self, BenchError> {
        match (self.errors, &self.first_error) {
            (0, _) => Ok(self),
            (n, first) => Err(format!(
                "{n} operations failed; the first: {}",
                first.as_deref().unwrap_or("(no message)")
            )
            .into()),
        }
    }
}

/// The nearest-rank `p`-quantile of `sorted` (ascending): the smallest
/// value with at least a fraction `p` of the values at or below it. `None`
/// for no values or a `p` outside `0..=1`.
pub(crate) fn quantile(sorted: &[u64], p: f64) -> Option<u64> {
    if !(0.0..=1.0).contains(&p) || sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )] // lengths far below 2^52; the product is in 0..=len
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

/// Runs `workers` tasks doing `workload`'s operations until `stop`, timing
/// each. Failures are counted, not fatal: the clear_expired point reports
/// whether requests kept being served.
pub(crate) async fn timed<W: Workload>(
    workload: Arc<W>,
    workers: usize,
    stop: Stop,
) -> Result<Slice, BenchError> {
    let start = Instant::now();
    let deadline = match &stop {
        Stop::After(length) => Some(start + *length),
        Stop::When(_) => None,
    };
    let flag = match &stop {
        Stop::When(flag) => Some(Arc::clone(flag)),
        Stop::After(_) => None,
    };
    let mut tasks = JoinSet::new();
    for worker in 0..workers {
        let workload = Arc::clone(&workload);
        let flag = flag.clone();
        tasks.spawn(async move {
            let mut out = Slice::default();
            let mut n = 0_u64;
            loop {
                let now = Instant::now();
                let stopped = deadline.is_some_and(|d| now >= d)
                    || flag.as_ref().is_some_and(|f| f.load(Ordering::Acquire));
                if stopped {
                    break;
                }
                let outcome = workload.op(worker, workers, n).await;
                let took = u64::try_from(now.elapsed().as_nanos()).unwrap_or(u64::MAX);
                match outcome {
                    Ok(()) => {
                        out.ok += 1;
                        out.latencies.push(took);
                    }
                    Err(e) => {
                        out.errors += 1;
                        if out.first_error.is_none() {
                            out.first_error = Some(e.to_string());
                        }
                    }
                }
                n += 1;
            }
            out
        });
    }
    let mut all = Slice::default();
    while let Some(joined) = tasks.join_next().await {
        let part = joined?;
        all.ok += part.ok;
        all.errors += part.errors;
        if all.first_error.is_none() {
            all.first_error = part.first_error;
        }
        all.latencies.extend(part.latencies);
    }
    all.elapsed = start.elapsed();
    all.latencies.sort_unstable();
    Ok(all)
}

/// SplitMix64's output function: a different well-mixed 64-bit value for
/// each input, enough to spread reads uniformly (no secrecy needed).
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `x` mapped onto `0..n` (multiply-shift: unbiased enough for a
/// benchmark's choice of session). 0 for `n == 0`.
pub(crate) fn below(x: u64, n: usize) -> usize {
    #[allow(clippy::cast_possible_truncation)] // the result is below n
    let index = ((u128::from(x) * n as u128) >> 64) as usize;
    index
}

/// Which stored sessions the loads read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Any stored session, uniformly: the page and cache footprint grows
    /// with the store (the hard case).
    Uniform,
    /// The same working set of sessions, whatever the store holds (the
    /// sessions that are in use while most stored ones sit idle).
    Hot,
}

impl Access {
    /// The name a row uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Access::Uniform => "uniform over all",
            Access::Hot => "hot 1,024",
        }
    }
}

/// `load` of an existing session, checked to come back whole.
#[derive(Debug)]
pub(crate) struct Loads<S> {
    store: S,
    /// Every stored ID; the first `hot` ones are the working set.
    ids: Arc<[SessionId]>,
    hot: usize,
    access: Access,
    /// How many keys each stored session's data has.
    keys: usize,
    /// Draws for [`Access::Uniform`]: one sequence across tasks and
    /// rounds, so no round re-reads what an earlier one brought into cache.
    draws: AtomicU64,
}

impl<S: SessionStore> Loads<S> {
    /// Loads of `ids` (whose first `hot` are the working set) from
    /// `store`, each holding data of `keys` keys.
    pub(crate) fn new(
        store: S,
        ids: Arc<[SessionId]>,
        hot: usize,
        access: Access,
        keys: usize,
    ) -> Self {
        Loads {
            store,
            ids,
            hot,
            access,
            keys,
            draws: AtomicU64::new(0),
        }
    }
}

impl<S: SessionStore> Workload for Loads<S> {
    async fn op(&self, worker: usize, workers: usize, n: u64) -> Result<(), BenchError> {
        let id = match self.access {
            Access::Uniform => {
                let draw = mix(self.draws.fetch_add(1, Ordering::Relaxed));
                self.ids.get(below(draw, self.ids.len()))
            }
            Access::Hot => self
                .ids
                .get(..self.hot.min(self.ids.len()))
                .and_then(|hot| pick(hot, worker, workers, n)),
        }
        .ok_or("no sessions were seeded")?;
        let record =
            self.store.load(id).await?.ok_or(
                "a seeded session is gone from the store (expired? deleted by someone else?)",
            )?;
        if record.data.len() != self.keys {
            return Err("a seeded session came back with other data than was stored".into());
        }
        Ok(())
    }
}

/// One round of one side: throughput and latency percentiles (ns).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RoundStat {
    pub(crate) ops: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

impl RoundStat {
    fn of(slice: &Slice) -> Self {
        #[allow(clippy::cast_precision_loss)] // nanoseconds far below 2^52
        let q = |p| slice.quantile(p).map_or(f64::NAN, |v| v as f64);
        RoundStat {
            ops: slice.ops_per_sec(),
            p50: q(0.50),
            p99: q(0.99),
        }
    }
}

/// Runs the two sides in interleaved rounds (A B, B A, …, see
/// [`stats::schedule`]) after one unrecorded warm-up slice each; returns
/// each side's rounds.
pub(crate) async fn interleave<A: Workload, B: Workload>(
    a: &Arc<A>,
    b: &Arc<B>,
    workers: usize,
    rounds: usize,
    length: Duration,
) -> Result<[Vec<RoundStat>; 2], BenchError> {
    let warm_up = (length / 4).max(Duration::from_millis(50));
    timed(Arc::clone(a), workers, Stop::After(warm_up))
        .await?
        .no_errors()?;
    timed(Arc::clone(b), workers, Stop::After(warm_up))
        .await?
        .no_errors()?;
    let mut out = [Vec::with_capacity(rounds), Vec::with_capacity(rounds)];
    for side in stats::schedule(rounds, 2) {
        let slice = if side == 0 {
            timed(Arc::clone(a), workers, Stop::After(length)).await?
        } else {
            timed(Arc::clone(b), workers, Stop::After(length)).await?
        };
        let stat = RoundStat::of(&slice.no_errors()?);
        if let Some(rounds) = out.get_mut(side) {
            rounds.push(stat);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&values, 0.50), Some(50));
        assert_eq!(quantile(&values, 0.99), Some(99));
        assert_eq!(quantile(&values, 1.0), Some(100));
        assert_eq!(quantile(&values, 0.0), Some(1));
        assert_eq!(quantile(&[7], 0.99), Some(7));
        // p99 of 10 values is the largest: 9.9 rounds up to the 10th.
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(quantile(&ten, 0.99), Some(10));
        assert_eq!(quantile(&ten, 0.5), Some(5));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&values, 1.5), None);
        assert_eq!(quantile(&values, f64::NAN), None);
    }

    #[test]
    fn draws_cover_the_range_evenly_and_never_leave_it() {
        let n = 10;
        let mut counts = vec![0_u32; n];
        for i in 0..100_000_u64 {
            counts[below(mix(i), n)] += 1;
        }
        for (bucket, count) in counts.iter().enumerate() {
            assert!(
                (9_000..11_000).contains(count),
                "bucket {bucket} got {count}"
            );
        }
        assert_eq!(below(u64::MAX, 1_000_000), 999_999);
        assert_eq!(below(0, 1_000_000), 0);
        assert_eq!(below(12345, 0), 0);
        assert_ne!(mix(1), mix(2));
    }

    struct Sleepy(AtomicU64);

    impl Workload for Sleepy {
        async fn op(&self, _: usize, _: usize, n: u64) -> Result<(), BenchError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(1)).await;
            if n == 3 {
                return Err("fourth one fails".into());
            }
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slice_times_each_operation_and_counts_failures() {
        let work = Arc::new(Sleepy(AtomicU64::new(0)));
        let slice = timed(Arc::clone(&work), 2, Stop::After(Duration::from_millis(60)))
            .await
            .unwrap();
        assert_eq!(slice.errors, 2, "each task's fourth operation fails");
        assert_eq!(slice.first_error.as_deref(), Some("fourth one fails"));
        assert_eq!(slice.latencies.len() as u64, slice.ok);
        assert!(slice.latencies.windows(2).all(|w| w[0] <= w[1]));
        assert!(slice.quantile(0.5).unwrap() >= 1_000_000, "slept 1 ms");
        assert!(slice.ops_per_sec() > 0.0);
        assert!(slice.no_errors().is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slice_stops_when_its_flag_is_set() {
        let work = Arc::new(Sleepy(AtomicU64::new(0)));
        let flag = Arc::new(AtomicBool::new(false));
        let running = tokio::spawn(timed(Arc::clone(&work), 1, Stop::When(Arc::clone(&flag))));
        tokio::time::sleep(Duration::from_millis(30)).await;
        flag.store(true, Ordering::Release);
        let slice = running.await.unwrap().unwrap();
        assert!(slice.ok >= 3, "{slice:?}");
        assert!(slice.elapsed < Duration::from_secs(5));
    }
}
