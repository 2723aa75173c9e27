//! The benchmark runner of issue 11: our stores and core's request path
//! against the raw clients doing the same work, measured in one run, side
//! by side, and printed as a Markdown table.
//!
//! ```text
//! cargo run -p session-bench --release -- all --rounds 7 --seconds-per-round 1
//! ```
//!
//! Each point runs its sides in interleaved rounds (A B, B A, A B, …), each
//! round a fixed time slice with 1 or 32 tokio tasks sharing one store or
//! client on the multi-thread runtime, and reports medians. Subcommands:
//! `all` (default), `redis`, `postgres`, `memory`, `lifecycle`; flags
//! `--rounds N` (default 15), `--seconds-per-round S` (default 1),
//! `--quick` (3 rounds of 0.2 s, a smoke check). Redis and PostgreSQL come
//! from `SESSION_TEST_REDIS_URL` and `SESSION_TEST_POSTGRES_URL` (default
//! the local servers the tests use). `docs/BENCHMARKS.md` holds a run.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod driver;
mod postgres;
mod redis;
mod report;
mod stats;
mod workloads;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use session_core::{MemoryStore, SessionManager};

use crate::driver::{BenchError, Named, Side, interleave};
use crate::report::Row;
use crate::workloads::{Lifecycle, RoundTrip};

const CONCURRENCY: [usize; 2] = [1, 32];

const USAGE: &str = "usage: session-bench [all|redis|postgres|memory|lifecycle] \
                     [--rounds N] [--seconds-per-round S] [--quick]";

/// What to run, from the command line.
#[derive(Debug, Clone, PartialEq)]
struct Args {
    what: Vec<&'static str>,
    rounds: usize,
    length: Duration,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut what = None;
    let mut rounds = 15;
    let mut seconds = 1.0_f64;
    let mut quick = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "all" => what = Some(vec!["memory", "lifecycle", "redis", "postgres"]),
            "redis" => what = Some(vec!["redis"]),
            "postgres" => what = Some(vec!["postgres"]),
            "memory" => what = Some(vec!["memory"]),
            "lifecycle" => what = Some(vec!["lifecycle"]),
            "--quick" => quick = true,
            "--rounds" => {
                rounds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or("--rounds takes a whole number of at least 1")?;
            }
            "--seconds-per-round" => {
                seconds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                    .ok_or("--seconds-per-round takes a number of seconds above 0")?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if quick {
        rounds = 3;
        seconds = 0.2;
    }
    Ok(Args {
        what: what.unwrap_or_else(|| vec!["memory", "lifecycle", "redis", "postgres"]),
        rounds,
        length: Duration::from_secs_f64(seconds),
    })
}

/// Runs `sides` at every concurrency and turns each into rows: the first
/// side is ours, each other one a baseline.
async fn compare(
    what: &str,
    sides: &[&dyn Side],
    args: &Args,
    cores: usize,
) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for workers in CONCURRENCY {
        let load = report::load_average();
        eprintln!("{what}, c={workers}: {} rounds …", args.rounds);
        let rounds = interleave(sides, workers, args.rounds, args.length).await?;
        let mut rounds = rounds.into_iter();
        let ours = rounds.next().unwrap_or_default();
        let mut baselines = sides.iter().skip(1).zip(rounds).peekable();
        if baselines.peek().is_none() {
            rows.push(Row::new(what, workers, ours.clone(), None, load, cores));
        }
        for (side, baseline) in baselines {
            let label = format!("{what} ÷ {}", side.name());
            rows.push(Row::new(
                &label,
                workers,
                ours.clone(),
                Some(baseline),
                load,
                cores,
            ));
        }
    }
    Ok(rows)
}

async fn run(args: &Args, cores: usize) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for what in &args.what {
        let records = workloads::records()?;
        match *what {
            "memory" => {
                let ours = Named::new(
                    "MemoryStore",
                    RoundTrip::seed(MemoryStore::new(), &records).await?,
                );
                rows.extend(compare("memory store round trip", &[&ours], args, cores).await?);
            }
            "lifecycle" => {
                let store = Arc::new(MemoryStore::new());
                let bare = RoundTrip::seed(Arc::clone(&store), &records).await?;
                let manager = Arc::new(SessionManager::new(store));
                let ours = Named::new("lifecycle", Lifecycle::new(manager, &records).await?);
                let bare = Named::new("bare MemoryStore round trip", bare);
                rows.extend(
                    compare(
                        "core lifecycle over MemoryStore",
                        &[&ours, &bare],
                        args,
                        cores,
                    )
                    .await?,
                );
            }
            "redis" => {
                let store = redis::store(&records).await?;
                let raw = redis::RawFred::seed(&records).await?;
                let ours = Named::new("RedisStore", store);
                let base = Named::new("raw fred GET + SET PXAT", raw);
                let result = compare("RedisStore", &[&ours, &base], args, cores).await;
                let cleaned = ours
                    .workload()
                    .clean()
                    .await
                    .and(base.workload().clean().await);
                rows.extend(result?);
                cleaned?;
            }
            "postgres" => {
                let store = postgres::store(&records).await?;
                let connections = store.store().options().max_connections();
                let jsonb =
                    postgres::RawSqlx::seed(postgres::Column::Jsonb, connections, &records).await?;
                let text =
                    postgres::RawSqlx::seed(postgres::Column::Text, connections, &records).await?;
                let ours = Named::new("PostgresStore", store);
                let jsonb = Named::new("raw sqlx SELECT + UPSERT (jsonb)", jsonb);
                let text = Named::new(
                    "raw sqlx SELECT + UPSERT (text, the store's column type)",
                    text,
                );
                let result = compare("PostgresStore", &[&ours, &jsonb, &text], args, cores).await;
                let cleaned = postgres::clean(ours.workload().store().pool()).await;
                rows.extend(result?);
                cleaned?;
            }
            other => return Err(format!("no benchmark named {other}").into()),
        }
    }
    Ok(rows)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("session-bench: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let header = report::header(&argv, &args, cores);
    match run(&args, cores).await {
        Ok(rows) => {
            println!("{header}");
            println!("{}", report::table(&rows));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("session-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn defaults_and_flags() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.what, vec!["memory", "lifecycle", "redis", "postgres"]);
        assert_eq!((args.rounds, args.length), (15, Duration::from_secs(1)));
        let args = parse(&argv("redis --rounds 7 --seconds-per-round 0.5")).unwrap();
        assert_eq!(args.what, vec!["redis"]);
        assert_eq!((args.rounds, args.length), (7, Duration::from_millis(500)));
        let args = parse(&argv("lifecycle --quick")).unwrap();
        assert_eq!((args.rounds, args.length), (3, Duration::from_millis(200)));
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        assert_eq!(
            parse(&argv("--rounds 0")).unwrap_err(),
            "--rounds takes a whole number of at least 1"
        );
        assert!(parse(&argv("--seconds-per-round -1")).is_err());
        assert!(parse(&argv("--seconds-per-round")).is_err());
        assert_eq!(
            parse(&argv("mongo")).unwrap_err(),
            "unknown argument `mongo`"
        );
    }
}
