//! Runs workloads in time slices with a number of concurrent tasks, and
//! several workloads side by side in interleaved rounds.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::stats;

/// Any failure of a run; the message says what to check.
pub(crate) type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// One kind of operation, run over and over by concurrent tasks.
pub(crate) trait Workload: Send + Sync + 'static {
    /// Runs operation number `n` of task `worker` out of `workers`. A
    /// failure ends the whole run: a benchmark that counts errors as
    /// operations would measure the wrong thing.
    fn op(
        &self,
        worker: usize,
        workers: usize,
        n: u64,
    ) -> impl Future<Output = Result<(), BenchError>> + Send;
}

/// The item task `worker` of `workers` uses for its operation `n`: tasks
/// cycle through disjoint parts of `items` (when `workers` divides its
/// length), so two tasks never write one session at once and a versioned
/// save never meets a conflict it would have to retry.
pub(crate) fn pick<T>(items: &[T], worker: usize, workers: usize, n: u64) -> Option<&T> {
    let per_worker = (items.len() / workers.max(1)).max(1);
    let step = usize::try_from(n % per_worker as u64).ok()?;
    items.get((worker + step * workers) % items.len().max(1))
}

/// A workload with its name in the table, behind dynamic dispatch per
/// slice (not per operation: the loop itself is monomorphized).
pub(crate) trait Side: Send + Sync {
    /// The name a row uses for this side.
    fn name(&self) -> &str;
    /// Runs `workers` tasks for `length` and returns operations per second.
    fn slice(
        &self,
        workers: usize,
        length: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<f64, BenchError>> + Send + '_>>;
}

/// A [`Workload`] and its name.
pub(crate) struct Named<W> {
    name: &'static str,
    workload: Arc<W>,
}

impl<W: Workload> Named<W> {
    pub(crate) fn new(name: &'static str, workload: W) -> Self {
        Named {
            name,
            workload: Arc::new(workload),
        }
    }

    /// The workload, for its setup and cleanup.
    pub(crate) fn workload(&self) -> &W {
        &self.workload
    }
}

impl<W: Workload> Side for Named<W> {
    fn name(&self) -> &str {
        self.name
    }

    fn slice(
        &self,
        workers: usize,
        length: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<f64, BenchError>> + Send + '_>> {
        Box::pin(run_slice(Arc::clone(&self.workload), workers, length))
    }
}

async fn run_slice<W: Workload>(
    workload: Arc<W>,
    workers: usize,
    length: Duration,
) -> Result<f64, BenchError> {
    let start = Instant::now();
    let deadline = start + length;
    let mut tasks = JoinSet::new();
    for worker in 0..workers {
        let workload = Arc::clone(&workload);
        tasks.spawn(async move {
            let mut n = 0_u64;
            while Instant::now() < deadline {
                workload.op(worker, workers, n).await?;
                n += 1;
            }
            Ok::<u64, BenchError>(n)
        });
    }
    let mut total = 0_u64;
    while let Some(joined) = tasks.join_next().await {
        total += joined??;
    }
    // Elapsed includes each task's last operation past the deadline, so
    // the count and the time cover the same work.
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Runs every side for `rounds` rounds of `length` each, in the order of
/// [`stats::schedule`], after one unrecorded warm-up slice per side
/// (connections opened, statements prepared, caches filled). Returns the
/// rounds' operations per second, per side.
pub(crate) async fn interleave(
    sides: &[&dyn Side],
    workers: usize,
    rounds: usize,
    length: Duration,
) -> Result<Vec<Vec<f64>>, BenchError> {
    let warm_up = (length / 4).max(Duration::from_millis(50));
    for side in sides {
        side.slice(workers, warm_up).await?;
    }
    let mut results = vec![Vec::with_capacity(rounds); sides.len()];
    for index in stats::schedule(rounds, sides.len()) {
        let (Some(side), Some(out)) = (sides.get(index), results.get_mut(index)) else {
            continue;
        };
        out.push(side.slice(workers, length).await?);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn pick_gives_each_worker_its_own_items_and_uses_them_all() {
        let items: Vec<usize> = (0..64).collect();
        let mut owner = vec![None; items.len()];
        for worker in 0..32 {
            for n in 0..100 {
                let item = *pick(&items, worker, 32, n).unwrap();
                match owner[item] {
                    None => owner[item] = Some(worker),
                    Some(w) => assert_eq!(w, worker, "item {item} shared by {w} and {worker}"),
                }
            }
        }
        assert!(owner.iter().all(Option::is_some), "unused items: {owner:?}");
        let alone: HashSet<usize> = (0..200).map(|n| *pick(&items, 0, 1, n).unwrap()).collect();
        assert_eq!(alone.len(), 64);
        assert_eq!(pick::<u8>(&[], 0, 1, 0), None);
    }

    struct Count(AtomicU64);

    impl Workload for Count {
        async fn op(&self, _: usize, _: usize, _: u64) -> Result<(), BenchError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn interleave_records_every_round_of_every_side() {
        let a = Named::new("a", Count(AtomicU64::new(0)));
        let b = Named::new("b", Count(AtomicU64::new(0)));
        let rounds = interleave(&[&a, &b], 4, 3, Duration::from_millis(20))
            .await
            .unwrap();
        assert_eq!(rounds.len(), 2);
        for side in &rounds {
            assert_eq!(side.len(), 3);
            assert!(side.iter().all(|r| *r > 0.0), "rounds {side:?}");
        }
        assert!(a.workload.0.load(Ordering::Relaxed) > 0);
    }

    struct Fails;

    impl Workload for Fails {
        async fn op(&self, _: usize, _: usize, _: u64) -> Result<(), BenchError> {
            Err("the store said no".into())
        }
    }

    #[tokio::test]
    async fn a_failing_operation_ends_the_run_with_its_message() {
        let side = Named::new("fails", Fails);
        let err = interleave(&[&side], 2, 1, Duration::from_millis(10))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "the store said no");
    }
}
