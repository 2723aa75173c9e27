//! Where a report is written: the plain name, the partial name beside it,
//! or a name with its origin when another test binary holds the plain one.

use std::path::{Path, PathBuf};

use super::{Origin, Report};

/// Where a report went.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    /// The JSON report.
    pub(crate) json: PathBuf,
    /// The Markdown certificate.
    pub(crate) md: PathBuf,
    /// A report of another origin that had the plain name, kept as it was.
    pub(crate) kept: Option<(PathBuf, Origin)>,
    /// Stale partial reports this full run replaced.
    pub(crate) removed: Vec<PathBuf>,
}

impl Report {
    /// Writes the JSON report and the Markdown certificate into the report
    /// directory; returns where.
    pub(crate) fn write(&self) -> std::io::Result<Written> {
        self.write_into(&report_dir())
    }

    /// [`Report::write`] into `dir`.
    pub(crate) fn write_into(&self, dir: &Path) -> std::io::Result<Written> {
        std::fs::create_dir_all(dir)?;
        let name = sanitize(&self.suite);
        let (stem, kept) = self.stem(dir, &name);
        let stem = if self.partial {
            format!("{stem}.partial")
        } else {
            stem
        };
        let json = dir.join(format!("{stem}.json"));
        let md = dir.join(format!("{stem}.md"));
        let mut body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        body.push(b'\n');
        std::fs::write(&json, body)?;
        std::fs::write(&md, self.to_markdown())?;
        let mut removed = Vec::new();
        if !self.partial {
            let stale = dir.join(format!("{stem}.partial.json"));
            if holder(&stale, &self.origin) == Holder::Us {
                for path in [stale, dir.join(format!("{stem}.partial.md"))] {
                    if path.exists() {
                        std::fs::remove_file(&path)?;
                        removed.push(path);
                    }
                }
            }
        }
        Ok(Written {
            json,
            md,
            kept,
            removed,
        })
    }

    /// The file stem for this run: the suite's name, unless a report of
    /// another origin holds it (the full report; without one, or for a
    /// partial run, the partial report too); then the name followed by this
    /// run's origin.
    fn stem(&self, dir: &Path, name: &str) -> (String, Option<(PathBuf, Origin)>) {
        let full = dir.join(format!("{name}.json"));
        let partial = dir.join(format!("{name}.partial.json"));
        let other = match holder(&full, &self.origin) {
            Holder::Other(origin) => Some((full, origin)),
            Holder::Us if !self.partial => None,
            Holder::Us | Holder::Nobody => match holder(&partial, &self.origin) {
                Holder::Other(origin) => Some((partial, origin)),
                Holder::Us | Holder::Nobody => None,
            },
        };
        match other {
            Some(kept) => (format!("{name}.{}", self.origin.label()), Some(kept)),
            None => (name.to_owned(), None),
        }
    }
}

/// Who wrote the report at a path.
#[derive(Debug, PartialEq, Eq)]
enum Holder {
    /// Nobody: there is no file.
    Nobody,
    /// This origin, or a report without an origin (an older kit's, or an
    /// unreadable file), which this run may replace.
    Us,
    /// Another origin.
    Other(Origin),
}

fn holder(path: &Path, ours: &Origin) -> Holder {
    let Ok(text) = std::fs::read(path) else {
        return if path.exists() {
            Holder::Us
        } else {
            Holder::Nobody
        };
    };
    let origin = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| value.get("origin").cloned())
        .and_then(|origin| serde_json::from_value::<Origin>(origin).ok());
    match origin {
        Some(origin) if origin != *ours => Holder::Other(origin),
        _ => Holder::Us,
    }
}

pub(super) fn sanitize(name: &str) -> String {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use time::OffsetDateTime;

    use super::*;
    use crate::report::{CaseReport, Declared, RunContext, Status};

    fn report(package: &str, partial: bool) -> Report {
        let run = RunContext {
            declared: Declared::default(),
            skip_slow: false,
            require_backend: false,
            // One row of a catalogue of two is a partial run.
            catalogue: if partial { 2 } else { 1 },
            started: OffsetDateTime::UNIX_EPOCH,
            took: Duration::ZERO,
        };
        let origin = Origin {
            package: Some(package.to_owned()),
            binary: Some("conformance".to_owned()),
        };
        let row = CaseReport {
            id: "ST-XYZ-001".to_owned(),
            title: "title".to_owned(),
            level: "MUST".to_owned(),
            section: "§1".to_owned(),
            status: Status::Passed,
            duration_ms: 0,
            message: None,
        };
        Report::new("s", "store", run, origin, vec![row])
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_partial_run_never_replaces_another_origins_partial_report() {
        let dir = std::env::temp_dir().join(format!("sc-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // An older kit's certificate, without an origin: any run may replace it.
        std::fs::write(dir.join("s.json"), r#"{"suite": "s"}"#).unwrap();
        let b = report("b", true).write_into(&dir).unwrap();
        assert!(b.json.ends_with("s.partial.json") && b.kept.is_none());
        let a = report("a", false).write_into(&dir).unwrap();
        assert!(a.json.ends_with("s.json") && a.kept.is_none());
        // a now holds s.json, b still holds s.partial.json.
        let a = report("a", true).write_into(&dir).unwrap();
        assert!(a.json.ends_with("s.a.conformance.partial.json"), "{a:?}");
        assert!(
            a.kept
                .is_some_and(|(path, _)| path.ends_with("s.partial.json"))
        );
        let a = report("a", false).write_into(&dir).unwrap();
        assert!(a.json.ends_with("s.json"));
        assert!(
            a.removed.is_empty(),
            "b's partial report is not a's to remove"
        );
        assert_eq!(
            listing(&dir),
            [
                "s.a.conformance.partial.json",
                "s.a.conformance.partial.md",
                "s.json",
                "s.md",
                "s.partial.json",
                "s.partial.md"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
