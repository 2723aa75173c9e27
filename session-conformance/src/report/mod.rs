//! The certificate: a JSON file and a Markdown table per run, under
//! `target/session-conformance/`.
//!
//! - The JSON report carries everything: the kit's version, the date and
//!   time of the run, the implementation's name and version, the declared
//!   capabilities and options, where the run came from, and each case with
//!   its duration and its message.
//! - The Markdown certificate carries the same minus the date and the
//!   durations, so two runs with the same outcome write byte-identical
//!   `.md` files (a README that embeds it only changes when a result does).
//! - A run that the test filter narrowed (a filter string, `--exact`,
//!   `--skip`, `--ignored`) is marked `partial` and written beside the
//!   certificate as `<name>.partial.json` / `.md`, never over it. A full run
//!   removes the partial report of the same name and origin it supersedes.
//! - Each report records its origin (the cargo package and the test binary
//!   that ran it). When `<name>.json` (or, without it, `<name>.partial.json`)
//!   came from another origin, the run is written to
//!   `<name>.<package>.<binary>.json` instead, with a warning: two crates
//!   that both call their suite `memory` never overwrite each other.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::CaseInfo;

mod files;

use files::sanitize;

/// The kit's name, as the reports give it.
const KIT_NAME: &str = "session-conformance";

/// Longest failure message the Markdown shows in full; the JSON always has
/// the whole message.
const MARKDOWN_MESSAGE_LIMIT: usize = 1_000;

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The requirement holds.
    Passed,
    /// The requirement broke (or the implementation was unreachable while
    /// `SESSION_CONFORMANCE_REQUIRE_BACKEND=1`).
    Failed,
    /// Not run: the implementation lacks the capability it needs.
    Ignored,
    /// Not run: the implementation could not be reached.
    Unavailable,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseReport {
    /// The case ID, e.g. `ST-CRE-002`.
    pub id: String,
    /// The case title.
    pub title: String,
    /// `MUST` or `SHOULD`.
    pub level: String,
    /// The design section it checks.
    pub section: String,
    /// How it ended.
    pub status: Status,
    /// How long it took, in milliseconds (in the JSON report only).
    pub duration_ms: u64,
    /// Why it failed or was not run: for a failed case, the message the
    /// test run printed.
    pub message: Option<String>,
}

impl CaseReport {
    pub(crate) fn new(
        info: &CaseInfo,
        status: Status,
        took: Duration,
        message: Option<String>,
    ) -> Self {
        CaseReport {
            id: info.id.to_owned(),
            title: info.title.to_owned(),
            level: info.level.to_string(),
            section: info.section.to_owned(),
            status,
            duration_ms: millis(took),
            message,
        }
    }

    /// The row of a case whose body panicked.
    pub(crate) fn panicked(info: &CaseInfo, took: Duration, panic: &str) -> Self {
        CaseReport::new(
            info,
            Status::Failed,
            took,
            Some(format!("the case panicked: {panic}")),
        )
    }
}

fn millis(took: Duration) -> u64 {
    u64::try_from(took.as_millis()).unwrap_or(u64::MAX)
}

/// The kit that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kit {
    /// `session-conformance`.
    pub name: String,
    /// The kit's crate version.
    pub version: String,
}

/// The implementation under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Implementation {
    /// The suite's name, e.g. `memory` or `poem-redis`.
    pub name: String,
    /// Its version, when the suite declares one
    /// (`implementation_version = "1.2.3"`).
    pub version: Option<String>,
}

/// Where a report came from: which test binary of which package ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The package under test: `CARGO_PKG_NAME`, which cargo sets when it
    /// runs a test binary.
    pub package: Option<String>,
    /// The test binary's name, without the hash cargo appends
    /// (`conformance` for `tests/conformance.rs`).
    pub binary: Option<String>,
}

impl Origin {
    /// The running process's origin.
    pub(crate) fn current() -> Self {
        Origin {
            package: std::env::var("CARGO_PKG_NAME")
                .ok()
                .filter(|name| !name.is_empty()),
            binary: std::env::current_exe()
                .ok()
                .and_then(|exe| binary_name(&exe)),
        }
    }

    /// `<package>.<binary>`, for a file name.
    fn label(&self) -> String {
        let parts: Vec<String> = [&self.package, &self.binary]
            .into_iter()
            .flatten()
            .map(|part| sanitize(part))
            .collect();
        if parts.is_empty() {
            "unknown".to_owned()
        } else {
            parts.join(".")
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.package, &self.binary) {
            (Some(package), Some(binary)) => {
                write!(f, "package `{package}`, test binary `{binary}`")
            }
            (Some(package), None) => write!(f, "package `{package}`"),
            (None, Some(binary)) => write!(f, "test binary `{binary}`"),
            (None, None) => f.write_str("an unknown test binary"),
        }
    }
}

/// The test binary's name: the file stem without cargo's `-<16 hex>`.
fn binary_name(exe: &Path) -> Option<String> {
    let stem = exe.file_stem()?.to_str()?;
    let name = match stem.rsplit_once('-') {
        Some((name, hash))
            if !name.is_empty()
                && hash.len() == 16
                && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            name
        }
        _ => stem,
    };
    Some(name.to_owned())
}

/// The optional abilities a store suite declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredCapabilities {
    /// `touch` is implemented.
    pub touch: bool,
    /// `clear_expired` removes records and counts them.
    pub clear_expired: bool,
    /// `save` compares versions.
    pub versioned: bool,
}

impl From<session_core::Capabilities> for DeclaredCapabilities {
    fn from(capabilities: session_core::Capabilities) -> Self {
        DeclaredCapabilities {
            touch: capabilities.touch,
            clear_expired: capabilities.clear_expired,
            versioned: capabilities.versioned,
        }
    }
}

/// How the run was set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Whether the store runs on the kit's manual clock (`null` for HTTP
    /// suites).
    pub manual_clock: Option<bool>,
    /// Whether the framework hands the adapter `Cookie` fields that are not
    /// UTF-8 (`null` for store suites).
    pub non_utf8_headers: Option<bool>,
    /// Whether the server keeps session state it can revoke (`null` for
    /// store suites; `false` for signed-cookie sessions).
    #[serde(default)]
    pub server_side_state: Option<bool>,
    /// Whether the session cookie's value is the session ID (`null` for
    /// store suites; `false` for signed-cookie sessions).
    #[serde(default)]
    pub id_cookie: Option<bool>,
    /// Whether the slow cases were skipped (`SESSION_CONFORMANCE_SKIP_SLOW`).
    pub skip_slow: bool,
    /// Whether an unreachable implementation fails the run
    /// (`SESSION_CONFORMANCE_REQUIRE_BACKEND`).
    pub require_backend: bool,
}

/// The counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// How many cases the catalogue has.
    pub catalogue: usize,
    /// How many rows the report has (fewer in a partial run).
    pub reported: usize,
    /// Rows that passed.
    pub passed: usize,
    /// Rows that failed.
    pub failed: usize,
    /// Rows ignored for a missing capability or a skipped slow case.
    pub ignored: usize,
    /// Rows not run because the implementation was unreachable.
    pub unavailable: usize,
}

/// What a suite declares about the implementation it tests.
#[derive(Debug, Clone, Default)]
pub(crate) struct Declared {
    pub(crate) version: Option<String>,
    pub(crate) capabilities: Option<DeclaredCapabilities>,
    pub(crate) manual_clock: Option<bool>,
    pub(crate) non_utf8_headers: Option<bool>,
    pub(crate) server_side_state: Option<bool>,
    pub(crate) id_cookie: Option<bool>,
}

/// What the runner knows about a run besides its rows.
#[derive(Debug, Clone)]
pub(crate) struct RunContext {
    pub(crate) declared: Declared,
    pub(crate) skip_slow: bool,
    pub(crate) require_backend: bool,
    /// How many cases the catalogue has: a run with fewer rows is partial.
    pub(crate) catalogue: usize,
    pub(crate) started: OffsetDateTime,
    pub(crate) took: Duration,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The kit that ran the cases.
    pub kit: Kit,
    /// The suite's name (the report's file name).
    pub suite: String,
    /// `store` or `http`.
    pub kind: String,
    /// The implementation under test.
    pub implementation: Implementation,
    /// The package and test binary that ran the suite.
    pub origin: Origin,
    /// When the run started, UTC, RFC 3339 (in the JSON report only).
    pub run_at: String,
    /// How long the whole run took, in milliseconds (in the JSON report
    /// only).
    pub duration_ms: u64,
    /// Whether the test filter left cases of the catalogue out: a partial
    /// report is not a certificate.
    pub partial: bool,
    /// The capabilities a store suite declared, or those an HTTP suite
    /// declared for the store behind its server.
    pub capabilities: Option<DeclaredCapabilities>,
    /// How the run was set up.
    pub options: Options,
    /// The counts.
    pub summary: Summary,
    /// The rows, sorted by case ID.
    pub cases: Vec<CaseReport>,
}

impl Report {
    pub(crate) fn new(
        suite: &str,
        kind: &str,
        run: RunContext,
        origin: Origin,
        mut cases: Vec<CaseReport>,
    ) -> Self {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        let count = |status| cases.iter().filter(|c| c.status == status).count();
        let summary = Summary {
            catalogue: run.catalogue,
            reported: cases.len(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            ignored: count(Status::Ignored),
            unavailable: count(Status::Unavailable),
        };
        let started = run.started.replace_nanosecond(0).unwrap_or(run.started);
        Report {
            kit: Kit {
                name: KIT_NAME.to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            suite: suite.to_owned(),
            kind: kind.to_owned(),
            implementation: Implementation {
                name: suite.to_owned(),
                version: run.declared.version,
            },
            origin,
            run_at: started.format(&Rfc3339).unwrap_or_default(),
            duration_ms: millis(run.took),
            partial: cases.len() < run.catalogue,
            capabilities: run.declared.capabilities,
            options: Options {
                manual_clock: run.declared.manual_clock,
                non_utf8_headers: run.declared.non_utf8_headers,
                server_side_state: run.declared.server_side_state,
                id_cookie: run.declared.id_cookie,
                skip_slow: run.skip_slow,
                require_backend: run.require_backend,
            },
            summary,
            cases,
        }
    }

    /// How many rows have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
    }

    /// The Markdown certificate: a heading, a summary line, the context of
    /// the run and one row per case, with the reason of every row that did
    /// not pass. It holds neither the date nor the durations (they are in
    /// the JSON report), so runs with the same outcome give the same bytes.
    pub fn to_markdown(&self) -> String {
        let version = self
            .implementation
            .version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        let partial = if self.partial {
            format!(
                ", PARTIAL: {} of {} cases selected",
                self.cases.len(),
                self.summary.catalogue
            )
        } else {
            String::new()
        };
        let mut out = format!(
            "### session-conformance: {}{version} ({} cases{partial})\n\n",
            self.implementation.name, self.kind,
        );
        if self.partial {
            out.push_str(
                "> A partial run: the test filter left cases out. This is not a certificate.\n\n",
            );
        }
        let Summary {
            passed,
            failed,
            ignored,
            unavailable,
            ..
        } = self.summary;
        let _ = writeln!(
            out,
            "{passed} passed, {failed} failed, {ignored} ignored, {unavailable} unavailable\n"
        );
        let _ = writeln!(out, "- kit: {} {}", self.kit.name, self.kit.version);
        let _ = writeln!(out, "- run by: {}", self.origin);
        if let Some(caps) = &self.capabilities {
            let declared: Vec<&str> = [
                (caps.touch, "touch"),
                (caps.clear_expired, "clear_expired"),
                (caps.versioned, "versioned"),
            ]
            .into_iter()
            .filter_map(|(has, name)| has.then_some(name))
            .collect();
            let declared = if declared.is_empty() {
                "none".to_owned()
            } else {
                declared.join(", ")
            };
            let whose = if self.kind == "http" {
                " of the store"
            } else {
                ""
            };
            let _ = writeln!(out, "- declared capabilities{whose}: {declared}");
        }
        if let Some(manual) = self.options.manual_clock {
            let _ = writeln!(out, "- manual clock: {}", yes_no(manual));
        }
        if let Some(non_utf8) = self.options.non_utf8_headers {
            let _ = writeln!(
                out,
                "- non-UTF-8 Cookie fields reach the adapter: {}",
                yes_no(non_utf8)
            );
        }
        if let Some(server_side) = self.options.server_side_state {
            let _ = writeln!(
                out,
                "- server-side session state (revocable cookies): {}",
                yes_no(server_side)
            );
        }
        if let Some(id_cookie) = self.options.id_cookie {
            let _ = writeln!(
                out,
                "- the cookie value is the session ID: {}",
                yes_no(id_cookie)
            );
        }
        let _ = writeln!(
            out,
            "- slow cases: {}",
            if self.options.skip_slow {
                "skipped (SESSION_CONFORMANCE_SKIP_SLOW)"
            } else {
                "run"
            }
        );
        let _ = writeln!(
            out,
            "- backend required: {}\n",
            if self.options.require_backend {
                "yes (SESSION_CONFORMANCE_REQUIRE_BACKEND)"
            } else {
                "no"
            }
        );
        out.push_str("| case | title | level | § | status | reason |\n|---|---|---|---|---|---|\n");
        for case in &self.cases {
            let reason = match (case.status, &case.message) {
                (Status::Passed, _) | (_, None) => String::new(),
                (_, Some(message)) => markdown_cell(message),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                case.id,
                case.title,
                case.level,
                case.section,
                status_word(case.status),
                reason
            );
        }
        out
    }
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "yes" } else { "no" }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "FAILED",
        Status::Ignored => "ignored",
        Status::Unavailable => "unavailable",
    }
}

/// A message as one Markdown table cell: lines folded into one (joined by
/// `; `, or by a space after a line ending in punctuation), Markdown
/// punctuation escaped so that nothing ends the cell or turns into
/// formatting, and at most [`MARKDOWN_MESSAGE_LIMIT`] characters.
fn markdown_cell(message: &str) -> String {
    let mut folded = String::with_capacity(message.len());
    for line in message.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !folded.is_empty() {
            let after_punctuation = folded.ends_with([':', ';', ',', '.']);
            folded.push_str(if after_punctuation { " " } else { "; " });
        }
        folded.push_str(line);
    }
    let mut out = String::with_capacity(folded.len() + 16);
    for (index, c) in folded.chars().enumerate() {
        if index == MARKDOWN_MESSAGE_LIMIT {
            out.push_str(" … (cut; the JSON report has the whole message)");
            break;
        }
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\t' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_fold_lines_and_escape_markdown() {
        assert_eq!(
            markdown_cell("save did not keep the expiry\n  expected: Some(1)\n     found: a|b"),
            "save did not keep the expiry; expected: Some(1); found: a\\|b"
        );
        assert_eq!(markdown_cell("why:\nthis"), "why: this");
        assert_eq!(
            markdown_cell("`x` *y* <z> [w]"),
            "\\`x\\` \\*y\\* \\<z\\> \\[w\\]"
        );
        let long = "x".repeat(MARKDOWN_MESSAGE_LIMIT + 10);
        assert!(markdown_cell(&long).ends_with("the JSON report has the whole message)"));
    }

    #[test]
    fn binary_names_lose_the_hash() {
        let name = |p: &str| binary_name(Path::new(p));
        assert_eq!(
            name("/t/debug/deps/conformance-0123456789abcdef").as_deref(),
            Some("conformance")
        );
        assert_eq!(
            name("/t/debug/deps/conformance_http-0123456789abcdef.exe").as_deref(),
            Some("conformance_http")
        );
        assert_eq!(name("/t/debug/my-test").as_deref(), Some("my-test"));
    }
}
