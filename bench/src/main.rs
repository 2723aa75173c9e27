//! The benchmark runner of issue 11: our stores and core's request path
//! against the raw clients doing the same work and against the peers
//! (tower-sessions' stores through their own trait), measured in one run,
//! side by side, and printed as a Markdown table.
//!
//! ```text
//! cargo run -p session-bench --release -- all --rounds 7 --seconds-per-round 1
//! ```
//!
//! Each point runs its sides in interleaved rounds (A B, B A, A B, …), each
//! round a fixed time slice with 1 or 32 tokio tasks sharing one store or
//! client on the multi-thread runtime, and reports medians. Subcommands:
//! `all` (default), `redis`, `postgres`, `memory`, `lifecycle`, `http`
//! (each adapter over HTTP, not in `all`); flags
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

mod by_hand;
mod driver;
mod http;
mod peers;
mod postgres;
mod redis;
mod report;
mod scale;
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

const USAGE: &str = "usage: session-bench [all|redis|postgres|memory|lifecycle|http] \
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
            // Not part of `all`: about 30 minutes at the default settings
            // (11 with `--rounds 5`).
            "http" => what = Some(vec!["http"]),
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

/// One row of a point: the side at index `ours` of the point's sides over
/// the side at index `baseline`, or alone (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair {
    ours: usize,
    baseline: Option<usize>,
}

impl Pair {
    const fn over(ours: usize, baseline: usize) -> Self {
        Pair {
            ours,
            baseline: Some(baseline),
        }
    }
}

/// A row's label and its two sides' rounds, before the load and the
/// concurrency are added.
#[derive(Debug, PartialEq)]
struct Selected {
    label: String,
    ours: Vec<f64>,
    baseline: Option<Vec<f64>>,
}

/// The rows `pairs` ask for out of one interleaved run: `rounds` holds
/// each side's rounds in schedule order, so round `r` of any two sides ran
/// in the same round `r` and [`stats::round_ratios`] pairs them by
/// position. A pair naming a side the point does not have, or sides that
/// ran different numbers of rounds (which would pair the wrong rounds), is
/// an error.
fn select(
    names: &[&str],
    rounds: &[Vec<f64>],
    pairs: &[Pair],
) -> Result<Vec<Selected>, BenchError> {
    let side = |index: usize| -> Result<(&str, &Vec<f64>), BenchError> {
        match (names.get(index), rounds.get(index)) {
            (Some(name), Some(rounds)) => Ok((name, rounds)),
            _ => Err(format!(
                "a row asks for side {index} of a point with {} sides",
                names.len()
            )
            .into()),
        }
    };
    pairs
        .iter()
        .map(|pair| {
            let (name, ours) = side(pair.ours)?;
            let Some(index) = pair.baseline else {
                return Ok(Selected {
                    label: name.to_owned(),
                    ours: ours.clone(),
                    baseline: None,
                });
            };
            let (base_name, baseline) = side(index)?;
            if ours.len() != baseline.len() {
                return Err(format!(
                    "{name} ran {} rounds and {base_name} {}: their ratios would pair different rounds",
                    ours.len(),
                    baseline.len()
                )
                .into());
            }
            Ok(Selected {
                label: format!("{name} ÷ {base_name}"),
                ours: ours.clone(),
                baseline: Some(baseline.clone()),
            })
        })
        .collect()
}

/// Runs `sides` interleaved at every concurrency and reports the rows
/// `pairs` ask for, each ratio from rounds that ran side by side.
async fn compare(
    what: &str,
    sides: &[&dyn Side],
    pairs: &[Pair],
    args: &Args,
    cores: usize,
) -> Result<Vec<Row>, BenchError> {
    let names: Vec<&str> = sides.iter().map(|side| side.name()).collect();
    let mut rows = Vec::new();
    for workers in CONCURRENCY {
        let load = report::load_average();
        eprintln!("{what}, c={workers}: {} rounds …", args.rounds);
        let rounds = interleave(sides, workers, args.rounds, args.length).await?;
        for row in select(&names, &rounds, pairs)? {
            rows.push(Row::new(
                &row.label,
                workers,
                row.ours,
                row.baseline,
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
                let peer = Named::new("tower-sessions MemoryStore", peers::memory().await?);
                rows.extend(
                    compare(
                        "memory store round trip",
                        &[&ours, &peer],
                        &[Pair::over(0, 1)],
                        args,
                        cores,
                    )
                    .await?,
                );
            }
            "lifecycle" => {
                let store = Arc::new(MemoryStore::new());
                let bare = RoundTrip::seed(Arc::clone(&store), &records).await?;
                let manager = Arc::new(SessionManager::new(Arc::clone(&store)));
                let ours = Named::new(
                    "core lifecycle over MemoryStore",
                    Lifecycle::new(manager, &records).await?,
                );
                let by_hand = Named::new(
                    "the same change by hand on the bare MemoryStore (load, copy + insert, save)",
                    by_hand::ByHand::new(Arc::clone(&store), &records),
                );
                let bare = Named::new("bare MemoryStore round trip", bare);
                rows.extend(
                    compare(
                        "core lifecycle over MemoryStore",
                        &[&ours, &bare, &by_hand],
                        &[Pair::over(0, 1), Pair::over(0, 2)],
                        args,
                        cores,
                    )
                    .await?,
                );
            }
            "redis" => {
                let store = redis::store(&records).await?;
                let manager = Arc::new(SessionManager::new(store.store().clone()));
                let lifecycle = Lifecycle::new(manager, &records).await?;
                let raw = redis::RawFred::seed(&records, redis::Codec::None).await?;
                let json = redis::RawFred::seed(&records, redis::Codec::Json).await?;
                let peer = peers::redis().await?;
                let ours = Named::new("RedisStore", store);
                let base = Named::new("raw fred GET + SET PXAT", raw);
                let peer = Named::new("tower-sessions-redis-store", peer);
                let lifecycle = Named::new("core lifecycle over RedisStore", lifecycle);
                let json = Named::new("raw fred GET + decode + encode + SET PXAT", json);
                // Rows 5 and 6 split the store's ratio: the record's JSON
                // round trip on the client, then everything else (the
                // versioned save script, the health check, the options).
                let result = compare(
                    "Redis",
                    &[&ours, &base, &peer, &lifecycle, &json],
                    &[
                        Pair::over(0, 1),
                        Pair::over(2, 1),
                        Pair::over(0, 2),
                        Pair::over(3, 0),
                        Pair::over(4, 1),
                        Pair::over(0, 4),
                    ],
                    args,
                    cores,
                )
                .await;
                let cleaned = ours
                    .workload()
                    .clean()
                    .await
                    .and(base.workload().clean().await)
                    .and(json.workload().clean().await)
                    .and(peer.workload().clean().await);
                rows.extend(result?);
                cleaned?;
            }
            "postgres" => {
                let store = postgres::store(&records).await?;
                let connections = store.store().options().max_connections();
                let manager = Arc::new(SessionManager::new(store.store().clone()));
                let lifecycle = Lifecycle::new(manager, &records).await?;
                let jsonb =
                    postgres::RawSqlx::seed(postgres::Column::Jsonb, connections, &records).await?;
                let text =
                    postgres::RawSqlx::seed(postgres::Column::Text, connections, &records).await?;
                let peer = peers::postgres(connections).await?;
                let peer_raw = peers::PeerRawSqlx::seed(connections).await?;
                let ours = Named::new("PostgresStore", store);
                let jsonb = Named::new("raw sqlx SELECT + UPSERT (jsonb)", jsonb);
                let text = Named::new(
                    "raw sqlx SELECT + UPSERT (text, the store's column type)",
                    text,
                );
                let peer = Named::new("tower-sessions-sqlx-store", peer);
                let peer_raw = Named::new(
                    "raw sqlx 0.8 SELECT + UPSERT (bytea, the peer's table)",
                    peer_raw,
                );
                let lifecycle = Named::new("core lifecycle over PostgresStore", lifecycle);
                let result = compare(
                    "PostgreSQL",
                    &[&ours, &jsonb, &text, &peer, &peer_raw, &lifecycle],
                    &[
                        Pair::over(0, 1),
                        Pair::over(0, 2),
                        Pair::over(3, 4),
                        Pair::over(0, 3),
                        Pair::over(5, 0),
                    ],
                    args,
                    cores,
                )
                .await;
                let cleaned = postgres::clean(ours.workload().store().pool())
                    .await
                    .and(peers::clean_postgres(peer_raw.workload().pool()).await);
                rows.extend(result?);
                cleaned?;
            }
            "http" => rows.extend(http::run(args, cores).await?),
            other => return Err(format!("no benchmark named {other}").into()),
        }
    }
    Ok(rows)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // Not part of `all` (it takes a quarter of an hour); its own flags.
    if argv.iter().any(|a| a == "scale") {
        return scale::main(&argv).await;
    }
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

    #[test]
    fn select_pairs_any_two_sides_round_by_round() {
        let names = ["ours", "raw", "peer"];
        let rounds = vec![
            vec![50.0, 60.0, 70.0],
            vec![100.0, 120.0, 140.0],
            vec![25.0, 30.0, 35.0],
        ];
        let pairs = [
            Pair::over(0, 1),
            Pair::over(2, 1),
            Pair::over(0, 2),
            Pair {
                ours: 1,
                baseline: None,
            },
        ];
        let rows = select(&names, &rounds, &pairs).unwrap();
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["ours ÷ raw", "peer ÷ raw", "ours ÷ peer", "raw"]);
        assert_eq!(rows[1].ours, rounds[2]);
        assert_eq!(rows[1].baseline.as_ref(), Some(&rounds[1]));
        assert_eq!(rows[3].baseline, None);
        // Each ratio comes from one round of both sides, never across rounds.
        let ratios = stats::round_ratios(&rows[2].ours, rows[2].baseline.as_ref().unwrap());
        assert_eq!(ratios, vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn select_refuses_a_missing_side_and_unpaired_rounds() {
        let names = ["ours", "raw"];
        let rounds = vec![vec![1.0, 2.0], vec![1.0, 2.0]];
        let err = select(&names, &rounds, &[Pair::over(0, 2)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a row asks for side 2 of a point with 2 sides"
        );
        let short = vec![vec![1.0, 2.0], vec![1.0]];
        let err = select(&names, &short, &[Pair::over(0, 1)]).unwrap_err();
        assert!(
            err.to_string().contains("ours ran 2 rounds and raw 1"),
            "{err}"
        );
        assert_eq!(select(&names, &rounds, &[]).unwrap(), vec![]);
    }
}
