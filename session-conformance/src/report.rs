//! The certificate: a JSON file and a Markdown table per run, under
//! `target/session-conformance/`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::CaseInfo;

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Why it failed or was not run.
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
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            message,
        }
    }

    pub(crate) fn panicked(message: String) -> Self {
        CaseReport {
            id: "?".to_owned(),
            title: "panicked".to_owned(),
            level: "MUST".to_owned(),
            section: String::new(),
            status: Status::Failed,
            duration_ms: 0,
            message: Some(message),
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The suite's name (the store or adapter under test).
    pub suite: String,
    /// `store` or `http`.
    pub kind: String,
    /// The rows, sorted by case ID.
    pub cases: Vec<CaseReport>,
}

impl Report {
    pub(crate) fn new(suite: &str, kind: &str, mut cases: Vec<CaseReport>) -> Self {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        Report {
            suite: suite.to_owned(),
            kind: kind.to_owned(),
            cases,
        }
    }

    /// How many rows have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.cases.iter().filter(|c| c.status == status).count()
    }

    /// The Markdown certificate: a summary line and one row per case.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "### session-conformance: {} ({} cases)\n\n{} passed, {} failed, {} ignored, {} unavailable\n\n\
             | case | title | level | § | status | ms |\n|---|---|---|---|---|---|\n",
            self.suite,
            self.kind,
            self.count(Status::Passed),
            self.count(Status::Failed),
            self.count(Status::Ignored),
            self.count(Status::Unavailable),
        );
        for case in &self.cases {
            let status = match (case.status, &case.message) {
                (Status::Passed, _) => "passed".to_owned(),
                (status, Some(message)) if status != Status::Failed => {
                    format!("{} ({})", status_word(status), message.replace('|', "\\|"))
                }
                (status, _) => status_word(status).to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                case.id, case.title, case.level, case.section, status, case.duration_ms
            );
        }
        out
    }

    /// Writes `<name>.json` and `<name>.md` into the report directory;
    /// returns where.
    pub(crate) fn write(&self) -> std::io::Result<String> {
        let dir = report_dir();
        std::fs::create_dir_all(&dir)?;
        let base = dir.join(sanitize(&self.suite));
        let json = base.with_extension("json");
        let md = base.with_extension("md");
        std::fs::write(
            &json,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::write(&md, self.to_markdown())?;
        Ok(format!("{} and {}", json.display(), md.display()))
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "FAILED",
        Status::Ignored => "ignored",
        Status::Unavailable => "unavailable",
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `$CARGO_TARGET_DIR/session-conformance`, else the `target` directory that
/// holds the running test binary (`target/<profile>/deps/<bin>`).
fn report_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            exe.ancestors()
                .find(|dir| dir.file_name().is_some_and(|name| name == "target"))
                .map(PathBuf::from)
        });
    target
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("session-conformance")
}
