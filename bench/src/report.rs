//! What a run prints: the machine, the versions, the command, and one
//! Markdown row per point.

use std::fmt::Write as _;

use session_core::time::OffsetDateTime;
use session_core::time::format_description::well_known::Rfc3339;

use crate::Args;
use crate::stats;

/// One point: a workload at one concurrency, against a baseline or alone.
#[derive(Debug)]
pub(crate) struct Row {
    what: String,
    ours: Vec<f64>,
    baseline: Option<Vec<f64>>,
    disturbed: Option<String>,
}

impl Row {
    /// A row from each side's rounds; `load` is the 1-minute load average
    /// when the point started.
    pub(crate) fn new(
        what: &str,
        workers: usize,
        ours: Vec<f64>,
        baseline: Option<Vec<f64>>,
        load: f64,
        cores: usize,
    ) -> Self {
        let mut sides: Vec<(&str, &[f64])> = vec![("ours", &ours)];
        if let Some(baseline) = &baseline {
            sides.push(("baseline", baseline));
        }
        let disturbed = stats::disturbed(&sides, load, cores);
        Row {
            what: format!("{what}, c={workers}"),
            ours,
            baseline,
            disturbed,
        }
    }
}

/// The 1-minute load average, or 0 where `/proc/loadavg` cannot be read.
pub(crate) fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn first_line(path: &str, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(prefix))
                .map(|l| l.split_once(':').map_or(l, |(_, v)| v).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The machine, versions, settings and command of this run.
pub(crate) fn header(argv: &[String], args: &Args, cores: usize) -> String {
    let kernel = first_line("/proc/version", "Linux");
    let cpu = first_line("/proc/cpuinfo", "model name");
    let started = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "unknown".to_owned());
    let mut out = String::new();
    let _ = writeln!(out, "- started: {started}");
    let _ = writeln!(
        out,
        "- machine: {cores} cores ({cpu}); load average {:.2} at start",
        load_average()
    );
    let _ = writeln!(out, "- kernel: {kernel}");
    let _ = writeln!(
        out,
        "- versions: session-core, session-store-redis, session-store-postgres {} (this workspace); \
         fred 10 and sqlx 0.9 as declared in the workspace Cargo.toml; peers: tower-sessions-core and \
         tower-sessions-memory-store 0.14, tower-sessions-redis-store 0.16 (fred 10), \
         tower-sessions-sqlx-store 0.15 (sqlx 0.8), as declared in bench/Cargo.toml",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "- settings: {} rounds of {:.2} s per side and point, interleaved (A B, B A, …) after one warm-up slice; \
         {} sessions of about 1 KiB of JSON; tasks share one store or client",
        args.rounds,
        args.length.as_secs_f64(),
        crate::workloads::SESSIONS
    );
    let _ = writeln!(
        out,
        "- command: `cargo run -p session-bench --release -- {}`",
        argv.join(" ")
    );
    out
}

fn ops(values: &[f64]) -> String {
    stats::median(values).map_or_else(|| "–".to_owned(), |v| format!("{v:.0}"))
}

/// The Markdown table of `rows`: medians of each side's rounds, the median
/// of the per-round ratios, their range, and why a point is disturbed.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| what | ours ops/s | baseline ops/s | ratio | spread (min–max ratio) | disturbed? |\n\
         |---|--:|--:|--:|--:|---|\n",
    );
    for row in rows {
        let (baseline, ratio, spread) = match &row.baseline {
            Some(baseline) => {
                let ratios = stats::round_ratios(&row.ours, baseline);
                let ratio =
                    stats::median(&ratios).map_or_else(|| "–".to_owned(), |r| format!("{r:.2} ×"));
                let spread = stats::min_max(&ratios)
                    .map_or_else(|| "–".to_owned(), |(lo, hi)| format!("{lo:.2}–{hi:.2}"));
                (ops(baseline), ratio, spread)
            }
            None => ("–".to_owned(), "–".to_owned(), "–".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {baseline} | {ratio} | {spread} | {} |",
            row.what,
            ops(&row.ours),
            row.disturbed.as_deref().unwrap_or("no")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_shows_medians_the_paired_ratio_and_its_range() {
        let row = Row::new(
            "x",
            32,
            vec![50.0, 60.0, 55.0],
            Some(vec![100.0, 100.0, 100.0]),
            0.1,
            2,
        );
        let table = table(&[row]);
        let line = table.lines().nth(2).unwrap();
        assert_eq!(
            line,
            "| x, c=32 | 55 | 100 | 0.55 × | 0.50–0.60 | ours spread 18 % |"
        );
    }
}
