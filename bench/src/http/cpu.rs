//! The servers' own CPU time per request, read from the kernel's
//! per-thread accounting, so a point can say what a session layer costs
//! the server apart from the load generator that shares its cores.
//!
//! Requests per second on a 2-core machine mix the server's work with the
//! client's: the client here uses about as much CPU as the servers do, so
//! a layer that doubled the server's work per request would show as far
//! less than half the throughput. The server threads are named after
//! their variant (`axum-ours-worker`, `axum-none-worker`, …), and
//! `/proc/self/task/*/schedstat` gives each thread's time on a CPU in
//! nanoseconds.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::driver::{BenchError, Side};

/// Nanoseconds on a CPU so far of this process's threads whose name
/// starts with `prefix`, and how many there were. Threads that end while
/// it reads are skipped (their time is then missing from the next read
/// too, so a slice never counts it twice).
pub(crate) fn on_cpu_ns(prefix: &str) -> (u64, usize) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    let mut total = 0_u64;
    let mut threads = 0;
    for task in tasks.flatten() {
        let path = task.path();
        let named = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|comm| comm.trim_end().starts_with(prefix));
        if !named {
            continue;
        }
        if let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .as_deref()
            .and_then(first_number)
        {
            total = total.saturating_add(ns);
            threads += 1;
        }
    }
    (total, threads)
}

/// The first field of a `schedstat` line: time on a CPU, in ns.
fn first_number(line: &str) -> Option<u64> {
    line.split_whitespace().next()?.parse().ok()
}

/// A side whose slices also record the named server threads' CPU time per
/// request: [`Accounted::per_cpu_second`] gives requests per second of
/// server CPU, one value per recorded round.
pub(crate) struct Accounted<'a> {
    side: &'a dyn Side,
    /// Thread-name prefix of the server this side talks to.
    threads: String,
    /// Requests per CPU-second of each slice, the warm-up slice first.
    slices: Mutex<Vec<f64>>,
}

impl<'a> Accounted<'a> {
    pub(crate) fn new(side: &'a dyn Side, threads: String) -> Self {
        Accounted {
            side,
            threads,
            slices: Mutex::new(Vec::new()),
        }
    }

    /// Requests per second of server CPU in each recorded round (the
    /// warm-up slice [`crate::driver::interleave`] runs first is dropped),
    /// or `None` when no server thread carries the name (actix-web names
    /// its worker threads itself).
    pub(crate) fn per_cpu_second(&self) -> Option<Vec<f64>> {
        let slices = self
            .slices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rounds: Vec<f64> = slices.iter().skip(1).copied().collect();
        (!rounds.is_empty() && rounds.iter().all(|r| r.is_finite() && *r > 0.0)).then_some(rounds)
    }
}

impl Side for Accounted<'_> {
    fn name(&self) -> &str {
        self.side.name()
    }

    fn slice(
        &self,
        workers: usize,
        length: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<f64, BenchError>> + Send + '_>> {
        Box::pin(async move {
            let (before, threads) = on_cpu_ns(&self.threads);
            let start = Instant::now();
            let rate = self.side.slice(workers, length).await?;
            let elapsed = start.elapsed().as_secs_f64();
            let (after, _) = on_cpu_ns(&self.threads);
            #[allow(clippy::cast_precision_loss)] // ns far below 2^52
            let cpu_seconds = after.saturating_sub(before) as f64 / 1e9;
            let per_cpu_second = if threads == 0 || cpu_seconds <= 0.0 {
                f64::NAN
            } else {
                rate * elapsed / cpu_seconds
            };
            self.slices
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(per_cpu_second);
            Ok(rate)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_time_on_cpu_of_named_threads_only() {
        // The thread spins until the kernel has charged it 30 ms, so the
        // test does not depend on how busy the machine is.
        let (charged, wait) = std::sync::mpsc::channel();
        let (done, finish) = std::sync::mpsc::channel::<()>();
        let spin = std::thread::Builder::new()
            .name("cpu-test-spin".to_owned())
            .spawn(move || {
                let own = || {
                    std::fs::read_to_string("/proc/thread-self/schedstat")
                        .ok()
                        .as_deref()
                        .and_then(first_number)
                        .unwrap_or(0)
                };
                let mut x = 0_u64;
                while own() < 30_000_000 {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                }
                charged.send(()).unwrap();
                finish.recv().ok();
                x
            })
            .unwrap();
        wait.recv().unwrap();
        let (ns, threads) = on_cpu_ns("cpu-test-spin");
        done.send(()).unwrap();
        spin.join().unwrap();
        assert_eq!(threads, 1);
        assert!(ns >= 30_000_000, "{ns} ns charged, at least 30 ms expected");
        assert_eq!(on_cpu_ns("no-thread-is-named-like-this"), (0, 0));
    }

    #[test]
    fn parses_the_first_schedstat_field() {
        assert_eq!(
            first_number("400953724 526685547 1349\n"),
            Some(400_953_724)
        );
        assert_eq!(first_number(""), None);
    }
}
