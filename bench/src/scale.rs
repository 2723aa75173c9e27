//! `scale` (issue 11): whether `load` stays as fast with 1,000,000 stored
//! sessions as with 10,000 (Redis, PostgreSQL, files; target within
//! 1.2 ×), and what `clear_expired` costs over 1,000,000 expired
//! PostgreSQL rows and 100,000 expired files while requests on live
//! sessions go on.
//!
//! ```text
//! cargo run -p session-bench --release -- scale [--sessions N] [--rounds R] [--seconds-per-round S] [--quick]
//! ```
//!
//! Both sizes of a store exist side by side in namespaces of their own
//! (Redis databases 14 and 15, two PostgreSQL tables, two directories), so
//! their loads run in interleaved rounds like every other point instead of
//! one size before the other (which would compare two moments of a shared
//! 2-core machine). Each namespace is filled fast: 1,024 sessions through
//! the store's own `create`, then copies of the first one's stored bytes
//! under fresh IDs, checked by loading a sample back through the store.
//! Everything lives under `session_bench_scale` (key prefix, schema,
//! directory under the temp dir) and is removed at the start (a crashed
//! run) and at the end. Not part of `all`: it takes a quarter of an hour.

mod measure;
mod seed;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use session_core::time::{Duration as TimeDuration, OffsetDateTime};
use session_core::{ClearExpired, Record, SessionId, SessionStore};

use crate::driver::BenchError;
use crate::report;
use crate::scale::measure::{Access, Loads, RoundStat, Slice, Stop};
use crate::scale::seed::Bulk;
use crate::stats;
use crate::workloads::{RoundTrip, session_data};

/// Sessions each namespace gets through the store's own `create`: the
/// working set of the hot loads, and the live sessions of the
/// clear_expired point. A multiple of 32, so every task owns as many.
const HOT: usize = 1_024;

/// The largest size, unless `--sessions` says otherwise.
const LARGE: usize = 1_000_000;
const LARGE_QUICK: usize = 20_000;

/// Redis databases of the two sizes.
const REDIS_DBS: [u8; 2] = [14, 15];

/// Concurrent request tasks beside clear_expired: fewer than the
/// PostgreSQL store's 10 connections, so requests wait on the database
/// and not on the pool.
const CLEAR_WORKERS: usize = 8;

/// Expired rows are spread over this many seconds before the template's
/// expiry, as a table cleared once a day would hold them.
const EXPIRED_SPREAD_SECS: u32 = 86_400;

const USAGE: &str = "usage: session-bench scale [--sessions N] [--rounds N] \
                     [--seconds-per-round S] [--quick]";

/// What the scale point does, from the command line.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    small: usize,
    large: usize,
    expired_rows: usize,
    expired_files: usize,
    rounds: usize,
    length: Duration,
    args: crate::Args,
}

/// Reads `scale`'s own flag, `--sessions N` (the larger size; the smaller
/// is a hundredth of it, at least [`HOT`]), and leaves the shared ones
/// (`--rounds`, `--seconds-per-round`, `--quick`) to the main parser.
fn plan(argv: &[String]) -> Result<Plan, String> {
    let mut sessions = None;
    let mut rest = Vec::new();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "scale" => {}
            "--sessions" => {
                sessions = Some(
                    it.next()
                        .and_then(|v| v.replace('_', "").parse::<usize>().ok())
                        .filter(|n| *n >= 2 * HOT)
                        .ok_or(format!(
                            "--sessions takes a whole number of at least {}",
                            2 * HOT
                        ))?,
                );
            }
            other => rest.push(other.to_owned()),
        }
    }
    let args = crate::parse(&rest)?;
    let quick = rest.iter().any(|a| a == "--quick");
    let large = sessions.unwrap_or(if quick { LARGE_QUICK } else { LARGE });
    Ok(Plan {
        small: (large / 100).max(HOT),
        large,
        expired_rows: large,
        expired_files: (large / 10).max(HOT),
        rounds: args.rounds,
        length: args.length,
        args,
    })
}

/// `n` the way the table names a size: `10k`, `1M`, `1,024`.
fn short(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        thousands(n)
    }
}

/// `n` with a comma every three digits.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One seeded namespace, for the seeding table.
#[derive(Debug)]
struct SeedRow {
    store: &'static str,
    namespace: String,
    what: String,
    filled: seed::Filled,
}

/// The loads of one store at one access pattern and concurrency.
#[derive(Debug)]
struct LoadRow {
    store: &'static str,
    access: Access,
    workers: usize,
    small: Vec<RoundStat>,
    large: Vec<RoundStat>,
    load: f64,
}

/// A clear_expired point: the three request phases and the clear.
#[derive(Debug)]
struct ClearRow {
    store: &'static str,
    expired: usize,
    live: usize,
    /// clear_expired with no requests beside it.
    alone: Duration,
    alone_removed: u64,
    took: Duration,
    removed: u64,
    before: Slice,
    during: Slice,
    after: Slice,
    left: u64,
    live_loaded: usize,
    load: f64,
}

#[derive(Debug, Default)]
struct Report {
    seeds: Vec<SeedRow>,
    loads: Vec<LoadRow>,
    clears: Vec<ClearRow>,
}

/// Runs `scale` with the command line after the program name.
pub(crate) async fn main(argv: &[String]) -> ExitCode {
    let plan = match plan(argv) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("session-bench: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let header = header(argv, &plan, cores);
    let started = std::time::Instant::now();
    let mut out = Report::default();
    let result = run(&plan, &mut out).await;
    let cleaned = clean_all().await;
    // What was measured is printed even when a later step failed.
    println!("{header}");
    println!("{}", render(&plan, &out, cores));
    println!("- total time: {:.0} s", started.elapsed().as_secs_f64());
    match result.and(cleaned) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("session-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn header(argv: &[String], plan: &Plan, cores: usize) -> String {
    let mut out = report::header(argv, &plan.args, cores);
    let _ = writeln!(
        out,
        "- scale: {} vs {} stored sessions per store, each about 1 KiB of JSON (the same \
         session), side by side in namespaces of their own; {} of each written through the \
         store's `create`, the rest copies of the first one's stored bytes under fresh IDs \
         (checked by loading {} back through the store); loads of existing sessions, \
         interleaved rounds of the two sizes",
        short(plan.small),
        short(plan.large),
        thousands(HOT),
        256,
    );
    let _ = writeln!(
        out,
        "- clear_expired: {} expired PostgreSQL rows (expiries spread over a day) and {} \
         expired files, each beside {} live sessions; {CLEAR_WORKERS} tasks doing \
         load + save on the live ones before, during and after one \
         `ClearExpired::run_once` (core's housekeeping, as an application runs it); \
         before that, one run with no requests over as many expired sessions",
        thousands(plan.expired_rows),
        thousands(plan.expired_files),
        thousands(HOT),
    );
    out
}

/// Removes everything any run left: the Redis keys, the schema, the
/// directory.
async fn clean_all() -> Result<(), BenchError> {
    let mut result = Ok(());
    for db in REDIS_DBS {
        let cleaned = match seed::redis(db).await {
            Ok(space) => space.clean().await,
            Err(e) => Err(e),
        };
        result = result.and(cleaned);
    }
    let cleaned = match seed::postgres("small").await {
        Ok(space) => space.drop_schema().await,
        Err(e) => Err(e),
    };
    result = result.and(cleaned);
    result.and(seed::remove_root().await)
}

async fn run(plan: &Plan, out: &mut Report) -> Result<(), BenchError> {
    eprintln!("scale: removing what an earlier run left …");
    clean_all().await?;

    let redis = [
        seed::redis(REDIS_DBS[0]).await?,
        seed::redis(REDIS_DBS[1]).await?,
    ];
    let result = loads("RedisStore", &redis, plan, out).await;
    let cleaned = redis[0].clean().await.and(redis[1].clean().await);
    result?;
    cleaned?;

    let pg = [
        seed::postgres("small").await?,
        seed::postgres("large").await?,
    ];
    pg[0].drop_schema().await?;
    for space in &pg {
        space.store().migrate().await?;
    }
    let result = loads("PostgresStore", &pg, plan, out).await;
    let cleaned = pg[0].clean().await.and(pg[1].clean().await);
    result?;
    cleaned?;

    let files = [seed::file("small")?, seed::file("large")?];
    let result = loads("FileStore", &files, plan, out).await;
    let cleaned = files[0].clean().await.and(files[1].clean().await);
    result?;
    cleaned?;

    let pg = seed::postgres("clear").await?;
    pg.store().migrate().await?;
    let result = clear("PostgresStore", &pg, plan.expired_rows, plan, out).await;
    let verified = match &result {
        Ok(()) => pg.expired_and_live().await.map(Some),
        Err(_) => Ok(None),
    };
    let cleaned = pg.clean().await;
    result?;
    if let Some((expired, live)) = verified? {
        eprintln!("scale: PostgreSQL after clear_expired: {expired} expired rows, {live} live");
    }
    cleaned?;

    let files = seed::file("clear")?;
    let result = clear("FileStore", &files, plan.expired_files, plan, out).await;
    let cleaned = files.clean().await;
    result?;
    cleaned
}

/// Seeds both sizes of one store, then measures loads at every access
/// pattern and concurrency.
async fn loads<B: Bulk>(
    store: &'static str,
    spaces: &[B; 2],
    plan: &Plan,
    out: &mut Report,
) -> Result<(), BenchError> {
    let data = Arc::new(session_data());
    let expires_at = OffsetDateTime::now_utc() + TimeDuration::hours(3);
    let [small_space, large_space] = spaces;
    let mut filled = Vec::new();
    for (space, count) in [(small_space, plan.small), (large_space, plan.large)] {
        eprintln!("scale: {store}: seeding {} sessions …", thousands(count));
        let f = seed::fill(space, 0, count, HOT, 0, &data, expires_at).await?;
        eprintln!(
            "scale: {store}: {} sessions in {:.1} s",
            thousands(count),
            f.elapsed.as_secs_f64()
        );
        out.seeds.push(SeedRow {
            store,
            namespace: space.name().to_owned(),
            what: "live".to_owned(),
            filled: f.clone(),
        });
        filled.push(f);
    }
    let [small, large] = [0, 1].map(|i| filled.get(i).cloned());
    let (Some(small), Some(large)) = (small, large) else {
        return Err("a namespace was not seeded".into());
    };
    for access in [Access::Uniform, Access::Hot] {
        for workers in [1, 32] {
            let a = Arc::new(Loads::new(
                small_space.store().clone(),
                Arc::clone(&small.ids),
                HOT,
                access,
                small.keys,
            ));
            let b = Arc::new(Loads::new(
                large_space.store().clone(),
                Arc::clone(&large.ids),
                HOT,
                access,
                large.keys,
            ));
            let load = report::load_average();
            eprintln!(
                "scale: {store}, {}, c={workers}: {} rounds …",
                access.name(),
                plan.rounds
            );
            let [small_rounds, large_rounds] =
                measure::interleave(&a, &b, workers, plan.rounds, plan.length).await?;
            out.loads.push(LoadRow {
                store,
                access,
                workers,
                small: small_rounds,
                large: large_rounds,
                load,
            });
        }
    }
    Ok(())
}

/// `expired` expired sessions and [`HOT`] live ones in `space`; requests
/// on the live ones before, during and after one clear_expired run.
async fn clear<B: Bulk>(
    store: &'static str,
    space: &B,
    expired: usize,
    plan: &Plan,
    out: &mut Report,
) -> Result<(), BenchError> {
    let data = Arc::new(session_data());
    eprintln!(
        "scale: {store}: seeding {} expired sessions …",
        thousands(expired)
    );
    let past = OffsetDateTime::now_utc() - TimeDuration::hours(1);
    let filled = seed::fill(space, 0, expired, 1, EXPIRED_SPREAD_SECS, &data, past).await?;
    out.seeds.push(SeedRow {
        store,
        namespace: space.name().to_owned(),
        what: "expired".to_owned(),
        filled,
    });
    let future = OffsetDateTime::now_utc() + TimeDuration::hours(3);
    let live = (0..HOT)
        .map(|_| {
            Ok(Record::new(
                SessionId::try_generate()?,
                Arc::clone(&data),
                future,
            ))
        })
        .collect::<Result<Vec<_>, BenchError>>()?;
    let requests = Arc::new(RoundTrip::seed(space.store().clone(), &live).await?);
    space.settle().await?;

    // Once alone, to tell what requests cost the clear from what the
    // clear costs requests; then the expired sessions again.
    eprintln!("scale: {store}: clear_expired alone …");
    let started = std::time::Instant::now();
    let alone_removed = ClearExpired::new(space.store().clone()).run_once().await?;
    let alone = started.elapsed();
    eprintln!(
        "scale: {store}: clear_expired alone removed {alone_removed} in {:.1} s; seeding again …",
        alone.as_secs_f64()
    );
    let live_count = u64::try_from(live.len()).unwrap_or(u64::MAX);
    let past = OffsetDateTime::now_utc() - TimeDuration::hours(1);
    let filled = seed::fill(
        space,
        live_count,
        expired,
        1,
        EXPIRED_SPREAD_SECS,
        &data,
        past,
    )
    .await?;
    out.seeds.push(SeedRow {
        store,
        namespace: space.name().to_owned(),
        what: "expired, again".to_owned(),
        filled,
    });
    let phase = (plan.length * 5).max(Duration::from_secs(1));
    let load = report::load_average();

    eprintln!("scale: {store}: requests without clear_expired …");
    let before = measure::timed(Arc::clone(&requests), CLEAR_WORKERS, Stop::After(phase)).await?;
    eprintln!("scale: {store}: clear_expired with requests …");
    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn(measure::timed(
        Arc::clone(&requests),
        CLEAR_WORKERS,
        Stop::When(Arc::clone(&stop)),
    ));
    let started = std::time::Instant::now();
    let removed = ClearExpired::new(space.store().clone()).run_once().await;
    let took = started.elapsed();
    stop.store(true, Ordering::Release);
    let during = during.await??;
    let removed = removed?;
    eprintln!(
        "scale: {store}: clear_expired removed {removed} in {:.1} s",
        took.as_secs_f64()
    );
    let after = measure::timed(Arc::clone(&requests), CLEAR_WORKERS, Stop::After(phase)).await?;

    let left = space.stored().await?;
    let mut live_loaded = 0;
    for record in &live {
        if space.store().load(&record.id).await?.is_some() {
            live_loaded += 1;
        }
    }
    out.clears.push(ClearRow {
        store,
        expired,
        live: live.len(),
        alone,
        alone_removed,
        took,
        removed,
        before,
        during,
        after,
        left,
        live_loaded,
        load,
    });
    Ok(())
}

/// Microseconds, whole.
fn us(ns: f64) -> String {
    if ns.is_finite() {
        format!("{:.0}", ns / 1_000.0)
    } else {
        "–".to_owned()
    }
}

/// Milliseconds, two decimals.
fn ms(ns: Option<u64>) -> String {
    #[allow(clippy::cast_precision_loss)] // nanoseconds far below 2^52
    ns.map_or_else(
        || "–".to_owned(),
        |v| format!("{:.2}", v as f64 / 1_000_000.0),
    )
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |r| format!("{r:.2} ×"))
}

/// The target of issue 11: the large size within this factor of the
/// small one.
const TARGET: f64 = 1.2;

/// Per-round paired ratios large ÷ small of `metric`, their median.
fn paired(small: &[RoundStat], large: &[RoundStat], metric: fn(&RoundStat) -> f64) -> Option<f64> {
    let s: Vec<f64> = small.iter().map(metric).collect();
    let l: Vec<f64> = large.iter().map(metric).collect();
    stats::median(&stats::round_ratios(&l, &s))
}

fn median_of(rounds: &[RoundStat], metric: fn(&RoundStat) -> f64) -> f64 {
    let values: Vec<f64> = rounds.iter().map(metric).collect();
    stats::median(&values).unwrap_or(f64::NAN)
}

/// Whether a row meets the target: `load` at the large size no slower
/// than [`TARGET`] × the small size, at the median and the 99th
/// percentile, and no fewer than 1 / [`TARGET`] × the loads per second.
fn verdict(p50: Option<f64>, p99: Option<f64>, ops: Option<f64>) -> &'static str {
    match (p50, p99, ops) {
        (Some(p50), Some(p99), Some(ops)) => {
            if p50 <= TARGET && p99 <= TARGET && ops >= 1.0 / TARGET {
                "yes"
            } else {
                "**no**"
            }
        }
        _ => "–",
    }
}

fn render(plan: &Plan, out: &Report, cores: usize) -> String {
    let (s, l) = (short(plan.small), short(plan.large));
    let mut text = String::new();
    let _ = writeln!(text, "### Seeding\n");
    let _ = writeln!(
        text,
        "| store | namespace | sessions seeded | through `create` | copied | time | afterwards |\n\
         |---|---|--:|--:|--:|--:|---|"
    );
    for row in &out.seeds {
        let f = &row.filled;
        let _ = writeln!(
            text,
            "| {} | {} | {} {} | {} | {} | {:.1} s | holds {}: {} |",
            row.store,
            row.namespace,
            thousands(f.ids.len()),
            row.what,
            thousands(f.created),
            thousands(f.ids.len().saturating_sub(f.created)),
            f.elapsed.as_secs_f64(),
            thousands(usize::try_from(f.stored).unwrap_or(usize::MAX)),
            f.footprint,
        );
    }

    let _ = writeln!(
        text,
        "\n### `load` of existing sessions, {s} vs {l} stored (latency in µs; medians of {} \
         interleaved rounds of {:.2} s; ratios are {l} ÷ {s}, the median of the per-round ratios)\n",
        plan.rounds,
        plan.length.as_secs_f64()
    );
    let _ = writeln!(
        text,
        "| store | which sessions | c | {s} loads/s | {s} p50 | {s} p99 | {l} loads/s | {l} p50 | \
         {l} p99 | p50 ratio | p99 ratio | loads/s ratio | within {TARGET} ×? | disturbed? |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|"
    );
    for row in &out.loads {
        let p50 = paired(&row.small, &row.large, |r| r.p50);
        let p99 = paired(&row.small, &row.large, |r| r.p99);
        let ops = paired(&row.small, &row.large, |r| r.ops);
        let small_ops: Vec<f64> = row.small.iter().map(|r| r.ops).collect();
        let large_ops: Vec<f64> = row.large.iter().map(|r| r.ops).collect();
        let disturbed = stats::disturbed(
            &[(s.as_str(), &small_ops), (l.as_str(), &large_ops)],
            row.load,
            cores,
        );
        let _ = writeln!(
            text,
            "| {} | {} | {} | {:.0} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            row.store,
            row.access.name(),
            row.workers,
            median_of(&row.small, |r| r.ops),
            us(median_of(&row.small, |r| r.p50)),
            us(median_of(&row.small, |r| r.p99)),
            median_of(&row.large, |r| r.ops),
            us(median_of(&row.large, |r| r.p50)),
            us(median_of(&row.large, |r| r.p99)),
            ratio(p50),
            ratio(p99),
            ratio(ops),
            verdict(p50, p99, ops),
            disturbed.as_deref().unwrap_or("no"),
        );
    }

    let _ = writeln!(
        text,
        "\n### `clear_expired` with requests on live sessions ({CLEAR_WORKERS} tasks, load + \
         save each; latency in ms)\n"
    );
    let _ = writeln!(
        text,
        "| store | phase | took | removed | requests | failed | requests/s | p50 | p99 | max |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for row in &out.clears {
        let _ = writeln!(
            text,
            "| {} | clear_expired alone | {:.1} s | {} | – | – | – | – | – | – |",
            row.store,
            row.alone.as_secs_f64(),
            thousands(usize::try_from(row.alone_removed).unwrap_or(usize::MAX)),
        );
        let phases = [
            ("before", &row.before, row.before.elapsed, String::new()),
            (
                "during clear_expired",
                &row.during,
                row.took,
                thousands(usize::try_from(row.removed).unwrap_or(usize::MAX)),
            ),
            ("after", &row.after, row.after.elapsed, String::new()),
        ];
        for (phase, slice, took, removed) in phases {
            let _ = writeln!(
                text,
                "| {} | {phase} | {:.1} s | {removed} | {} | {} | {:.0} | {} | {} | {} |",
                row.store,
                took.as_secs_f64(),
                slice.ok,
                slice.errors,
                slice.ops_per_sec(),
                ms(slice.quantile(0.5)),
                ms(slice.quantile(0.99)),
                ms(slice.max()),
            );
        }
    }
    let _ = writeln!(text);
    for row in &out.clears {
        #[allow(clippy::cast_precision_loss)] // nanoseconds far below 2^52
        let p99 = |s: &Slice| s.quantile(0.99).map(|v| v as f64);
        let baseline = match (p99(&row.before), p99(&row.after)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let slowdown = match (p99(&row.during), baseline) {
            (Some(d), Some(b)) if b > 0.0 => Some(d / b),
            _ => None,
        };
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let rate = row.removed as f64 / row.took.as_secs_f64().max(1e-9);
        let first_error = [&row.before, &row.during, &row.after]
            .iter()
            .find_map(|s| s.first_error.clone());
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let alone_rate = row.alone_removed as f64 / row.alone.as_secs_f64().max(1e-9);
        let _ = writeln!(
            text,
            "- {}: clear_expired removed {} of {} expired in {:.1} s ({rate:.0}/s) beside \
             requests, {:.1} s ({alone_rate:.0}/s) alone; request p99 during it {} the larger \
             of before and after{}; afterwards the store holds {} (expected {}), and {} of {} \
             live sessions load{}; load average {:.2} at the start",
            row.store,
            thousands(usize::try_from(row.removed).unwrap_or(usize::MAX)),
            thousands(row.expired),
            row.took.as_secs_f64(),
            row.alone.as_secs_f64(),
            ratio(slowdown),
            first_error.map_or_else(String::new, |e| format!(" (a request failed: {e})")),
            thousands(usize::try_from(row.left).unwrap_or(usize::MAX)),
            thousands(row.live),
            thousands(row.live_loaded),
            thousands(row.live),
            if row.left == u64::try_from(row.live).unwrap_or(0) && row.live_loaded == row.live {
                ": verified"
            } else {
                ": **not as expected**"
            },
            row.load,
        );
    }
    let _ = writeln!(
        text,
        "\nRedis has no clear_expired point: it expires keys natively (the store's \
         clear_expired returns 0)."
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn sizes_follow_the_issue_and_quick_and_sessions_shrink_them() {
        let plan = plan(&argv("scale")).unwrap();
        assert_eq!((plan.small, plan.large), (10_000, 1_000_000));
        assert_eq!(
            (plan.expired_rows, plan.expired_files),
            (1_000_000, 100_000)
        );
        assert_eq!((plan.rounds, plan.length), (15, Duration::from_secs(1)));
        let plan = plan_of("scale --quick");
        assert_eq!((plan.small, plan.large), (HOT, 20_000));
        assert_eq!(plan.expired_files, 2_000);
        assert_eq!(plan.rounds, 3);
        let plan = plan_of("scale --sessions 200_000 --rounds 5");
        assert_eq!((plan.small, plan.large, plan.rounds), (2_000, 200_000, 5));
    }

    fn plan_of(s: &str) -> Plan {
        plan(&argv(s)).unwrap()
    }

    #[test]
    fn bad_sizes_are_refused_with_a_reason() {
        assert_eq!(
            plan(&argv("scale --sessions 10")).unwrap_err(),
            "--sessions takes a whole number of at least 2048"
        );
        assert!(plan(&argv("scale --sessions")).is_err());
        assert!(plan(&argv("scale --sessions many")).is_err());
        assert_eq!(
            plan(&argv("scale --bogus")).unwrap_err(),
            "unknown argument `--bogus`"
        );
    }

    #[test]
    fn sizes_are_named_short() {
        assert_eq!(short(10_000), "10k");
        assert_eq!(short(1_000_000), "1M");
        assert_eq!(short(20_000), "20k");
        assert_eq!(short(1_024), "1,024");
        assert_eq!(short(2_500_000), "2500k");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
    }

    fn round(ops: f64, p50: f64, p99: f64) -> RoundStat {
        RoundStat { ops, p50, p99 }
    }

    #[test]
    fn ratios_pair_rounds_and_the_verdict_needs_every_metric() {
        let small = [round(1000.0, 100.0, 200.0), round(900.0, 110.0, 220.0)];
        let large = [round(900.0, 110.0, 300.0), round(810.0, 121.0, 330.0)];
        let p50 = paired(&small, &large, |r| r.p50).unwrap();
        assert!((p50 - 1.1).abs() < 1e-9, "{p50}");
        let p99 = paired(&small, &large, |r| r.p99).unwrap();
        assert!((p99 - 1.5).abs() < 1e-9, "{p99}");
        let ops = paired(&small, &large, |r| r.ops).unwrap();
        assert!((ops - 0.9).abs() < 1e-9, "{ops}");
        assert_eq!(verdict(Some(p50), Some(p99), Some(ops)), "**no**");
        assert_eq!(verdict(Some(1.1), Some(1.19), Some(0.9)), "yes");
        assert_eq!(verdict(Some(1.1), Some(1.1), Some(0.8)), "**no**");
        assert_eq!(verdict(None, Some(1.0), Some(1.0)), "–");
        assert_eq!(median_of(&small, |r| r.ops), 950.0);
    }

    #[test]
    fn latencies_print_in_their_units() {
        assert_eq!(us(142_400.0), "142");
        assert_eq!(us(f64::NAN), "–");
        assert_eq!(ms(Some(1_234_000)), "1.23");
        assert_eq!(ms(None), "–");
    }
}
