//! The certificate a `harness = false` run writes: its context, a Markdown
//! table that only changes when a result does, partial reports for filtered
//! runs, and same-name suites of different test binaries kept apart.
//!
//! The binary is its own subject: run with `SC_CERTIFICATE_CHILD` set, it is
//! a conformance suite (through the macros, as a user writes it); run
//! without, it is a libtest-mimic test driver that runs itself as a child,
//! with arguments and a private `CARGO_TARGET_DIR`, and reads the reports.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

use libtest_mimic::{Arguments, Trial};
use serde_json::Value;
use session_core::{
    Capabilities, Error, MemoryStore, Record, SessionId, SessionStore, async_trait,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const CHILD: &str = "SC_CERTIFICATE_CHILD";

/// `MemoryStore`, declaring only `touch` and versioned saves (so the report
/// can tell the declared capabilities apart); with `broken`, `load` of an
/// unknown ID fails with a message that needs escaping in Markdown.
#[derive(Debug)]
struct Store {
    inner: MemoryStore,
    broken: bool,
    /// `delete` panics.
    panics: bool,
}

/// The failure message of the broken store's `load`.
const BROKEN: &str = "broken | pipe\n  second *line* `code`";

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        self.inner.create(record).await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        match self.inner.load(id).await? {
            None if self.broken => Err(Error::backend(BROKEN)),
            loaded => Ok(loaded),
        }
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        self.inner.save(record).await
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        assert!(!self.panics, "delete panicked on purpose");
        self.inner.delete(id).await
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        self.inner.touch(id, expires_at).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_touch(true).with_versioned(true)
    }
}

mod store_child {
    use super::*;

    session_conformance::store_suite!(
        "cert",
        |ns: session_conformance::Namespace| async move {
            Ok::<_, std::convert::Infallible>(Store {
                inner: MemoryStore::with_clock(ns.clock()),
                broken: std::env::var_os("SC_CERTIFICATE_BROKEN").is_some(),
                panics: std::env::var_os("SC_CERTIFICATE_PANICS").is_some(),
            })
        },
        capabilities = Capabilities::NONE.with_touch(true).with_versioned(true),
        manual_clock = true,
        implementation_version = "1.2.3",
    );

    pub(crate) fn run() -> ExitCode {
        main()
    }
}

mod http_child {
    use std::process::ExitCode;

    session_conformance::http_suite!(
        "cert-http",
        |spec: session_conformance::ServerSpec| super::common::start(spec, None),
        implementation_version = "0.9.0",
        store_capabilities = session_core::Capabilities::NONE.with_versioned(true),
        non_utf8_headers = true,
        teardown = |_spec: session_conformance::ServerSpec| async {},
    );

    pub(crate) fn run() -> ExitCode {
        main()
    }
}

/// One trial per driver test, named after its function (which panics on
/// failure).
macro_rules! trials {
    ($($test:ident),+ $(,)?) => {
        vec![$(Trial::test(stringify!($test), || {
            $test();
            Ok(())
        })),+]
    };
}

fn main() -> ExitCode {
    match std::env::var(CHILD).as_deref() {
        Ok("store") => store_child::run(),
        Ok("http") => http_child::run(),
        _ => {
            let args = Arguments::from_args();
            let trials = trials![
                the_report_carries_its_context,
                an_http_report_carries_its_context,
                failed_rows_show_the_reason,
                a_panicking_case_keeps_its_row,
                the_markdown_is_identical_across_runs,
                filtered_runs_are_partial,
                same_name_suites_do_not_overwrite_each_other,
            ];
            libtest_mimic::run(&args, trials).exit_code()
        }
    }
}

/// A private target directory for one driver test.
fn target(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("certificate")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs this binary as the `kind` suite with `args`, writing its reports
/// under `target`.
fn child(target: &Path, kind: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(args)
        .env(CHILD, kind)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_PKG_NAME", "session-conformance")
        .env("SESSION_CONFORMANCE_SKIP_SLOW", "1")
        .env_remove("SESSION_CONFORMANCE_REQUIRE_BACKEND")
        .env_remove("SC_CERTIFICATE_BROKEN")
        .env_remove("SC_CERTIFICATE_PANICS");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn reports(target: &Path) -> PathBuf {
    target.join("session-conformance")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

/// The files of the report directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn ids(report: &Value) -> Vec<String> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["id"].as_str().unwrap().to_owned())
        .collect()
}

fn the_report_carries_its_context() {
    let target = target("context");
    let out = child(
        &target,
        "store",
        &[],
        &[("SESSION_CONFORMANCE_REQUIRE_BACKEND", "1")],
    );
    assert!(out.status.success(), "{}", text(&out.stdout));
    let report = json(&reports(&target).join("cert.json"));
    assert_eq!(report["kit"]["name"], "session-conformance");
    assert_eq!(report["kit"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["suite"], "cert");
    assert_eq!(report["kind"], "store");
    assert_eq!(
        report["implementation"],
        serde_json::json!({"name": "cert", "version": "1.2.3"})
    );
    assert_eq!(
        report["origin"],
        serde_json::json!({"package": "session-conformance", "binary": "certificate"})
    );
    let run_at = report["run_at"].as_str().unwrap();
    let run_at = OffsetDateTime::parse(run_at, &Rfc3339).unwrap();
    assert!(run_at.offset().is_utc());
    let age = OffsetDateTime::now_utc() - run_at;
    assert!(
        age.whole_seconds() >= 0 && age.whole_minutes() < 10,
        "{run_at}"
    );
    assert!(report["duration_ms"].is_u64());
    assert_eq!(report["partial"], false);
    assert_eq!(
        report["capabilities"],
        serde_json::json!({"touch": true, "clear_expired": false, "versioned": true})
    );
    assert_eq!(
        report["options"],
        serde_json::json!({
            "manual_clock": true,
            "non_utf8_headers": null,
            "server_side_state": null,
            "id_cookie": null,
            "skip_slow": true,
            "require_backend": true
        })
    );
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(report["summary"]["catalogue"], cases.len());
    assert_eq!(report["summary"]["reported"], cases.len());
    assert_eq!(report["summary"]["failed"], 0);
    assert!(cases.iter().all(|case| case["duration_ms"].is_u64()));

    let md = read(&reports(&target).join("cert.md"));
    let heading = md.lines().next().unwrap();
    assert_eq!(heading, "### session-conformance: cert 1.2.3 (store cases)");
    for line in [
        format!("- kit: session-conformance {}", env!("CARGO_PKG_VERSION")),
        "- run by: package `session-conformance`, test binary `certificate`".to_owned(),
        "- declared capabilities: touch, versioned".to_owned(),
        "- manual clock: yes".to_owned(),
        "- slow cases: skipped (SESSION_CONFORMANCE_SKIP_SLOW)".to_owned(),
        "- backend required: yes (SESSION_CONFORMANCE_REQUIRE_BACKEND)".to_owned(),
    ] {
        assert!(md.lines().any(|l| l == line), "no {line:?} in\n{md}");
    }

    // The other settings show as they are.
    let out = child(
        &target,
        "store",
        &[],
        &[("SESSION_CONFORMANCE_SKIP_SLOW", "")],
    );
    assert!(out.status.success(), "{}", text(&out.stdout));
    let report = json(&reports(&target).join("cert.json"));
    assert_eq!(
        report["options"],
        serde_json::json!({
            "manual_clock": true,
            "non_utf8_headers": null,
            "server_side_state": null,
            "id_cookie": null,
            "skip_slow": false,
            "require_backend": false
        })
    );
    let md = read(&reports(&target).join("cert.md"));
    assert!(
        md.contains("\n- slow cases: run\n- backend required: no\n"),
        "{md}"
    );
}

fn an_http_report_carries_its_context() {
    let target = target("http-context");
    let out = child(&target, "http", &[], &[]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let report = json(&reports(&target).join("cert-http.json"));
    assert_eq!(report["kind"], "http");
    assert_eq!(
        report["implementation"],
        serde_json::json!({"name": "cert-http", "version": "0.9.0"})
    );
    assert_eq!(
        report["capabilities"],
        serde_json::json!({"touch": false, "clear_expired": false, "versioned": true})
    );
    assert_eq!(
        report["options"],
        serde_json::json!({
            "manual_clock": null,
            "non_utf8_headers": true,
            "server_side_state": true,
            "id_cookie": true,
            "skip_slow": true,
            "require_backend": false
        })
    );
    let md = read(&reports(&target).join("cert-http.md"));
    assert!(
        md.starts_with("### session-conformance: cert-http 0.9.0 (http cases)\n"),
        "{md}"
    );
    assert!(
        md.contains("\n- declared capabilities of the store: versioned\n"),
        "{md}"
    );
    assert!(!md.contains("manual clock"), "{md}");
}

fn failed_rows_show_the_reason() {
    let target = target("failed");
    let out = child(&target, "store", &[], &[("SC_CERTIFICATE_BROKEN", "1")]);
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    let report = json(&reports(&target).join("cert.json"));
    let row = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|case| case["id"] == "ST-LOD-001")
        .unwrap();
    assert_eq!(row["status"], "failed");
    let message = row["message"].as_str().unwrap();
    assert!(message.contains(BROKEN), "{message}");
    assert_eq!(
        message.matches(BROKEN).count(),
        1,
        "the cause is said once: {message}"
    );
    assert!(
        stdout.contains(message),
        "the report's reason is not the one the test run printed:\n{message}\n---\n{stdout}"
    );

    let md = read(&reports(&target).join("cert.md"));
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ST-")).collect();
    assert_eq!(
        rows.len(),
        report["cases"].as_array().unwrap().len(),
        "one table line per case, whatever the messages hold:\n{md}"
    );
    let line = rows
        .iter()
        .find(|l| l.starts_with("| ST-LOD-001 |"))
        .unwrap();
    assert!(line.contains("| FAILED |"), "{line}");
    assert!(
        line.contains(r"broken \| pipe; second \*line\* \`code\`"),
        "the reason is folded onto the row and escaped: {line}"
    );
    // The cell is one cell: unescaped pipes only separate the 7 columns.
    let separators = line.replace(r"\|", "").matches('|').count();
    assert_eq!(separators, 7, "{line}");
    // Ignored rows say why too.
    assert!(
        rows.iter()
            .any(|l| l.contains("| ignored |") && l.contains("SESSION\\_CONFORMANCE\\_SKIP\\_SLOW")),
        "{md}"
    );
}

fn a_panicking_case_keeps_its_row() {
    let target = target("panic");
    let out = child(&target, "store", &[], &[("SC_CERTIFICATE_PANICS", "1")]);
    assert!(!out.status.success());
    let report = json(&reports(&target).join("cert.json"));
    assert_eq!(report["partial"], false, "every case has its row");
    assert_eq!(
        report["summary"]["reported"],
        report["summary"]["catalogue"]
    );
    let row = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|case| case["id"] == "ST-DEL-001")
        .unwrap();
    assert_eq!(row["status"], "failed");
    let message = row["message"].as_str().unwrap();
    assert!(
        message.contains("the case panicked: delete panicked on purpose"),
        "{message}"
    );
    assert!(text(&out.stdout).contains(message));
}

fn the_markdown_is_identical_across_runs() {
    let target = target("identical");
    let dir = reports(&target);
    let first = child(&target, "store", &[], &[]);
    assert!(first.status.success(), "{}", text(&first.stdout));
    let md = std::fs::read(dir.join("cert.md")).unwrap();
    let report = json(&dir.join("cert.json"));
    // Wait for the clock to move on, so the dates differ.
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let second = child(&target, "store", &[], &[]);
    assert!(second.status.success(), "{}", text(&second.stdout));
    let again = json(&dir.join("cert.json"));
    assert_ne!(report["run_at"], again["run_at"]);
    assert_eq!(
        text(&md),
        read(&dir.join("cert.md")),
        "the Markdown changed between two runs with the same results"
    );
    let md = text(&md);
    assert!(!md.contains(report["run_at"].as_str().unwrap()));
    assert!(
        md.contains("| case | title | level | § | status | reason |\n"),
        "no duration column: {md}"
    );
}

fn filtered_runs_are_partial() {
    let target = target("partial");
    let dir = reports(&target);
    let full = child(&target, "store", &[], &[]);
    assert!(full.status.success(), "{}", text(&full.stdout));
    let certificate = std::fs::read(dir.join("cert.json")).unwrap();
    let report: Value = serde_json::from_slice(&certificate).unwrap();
    let all = ids(&report);
    let first = &report["cases"][0];
    let exact = format!(
        "{}::{}",
        first["id"].as_str().unwrap(),
        first["title"].as_str().unwrap()
    );

    // The arguments, and which cases of the catalogue they keep.
    type Filter<'a> = (&'a [&'a str], fn(&str) -> bool);
    let filters: [Filter<'_>; 3] = [
        (&["ST-CRE"], |id| id.starts_with("ST-CRE")),
        (&["--skip", "ST-CRE"], |id| !id.starts_with("ST-CRE")),
        (&["--exact", "EXACT"], |_| true),
    ];
    for (args, keeps) in filters {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "EXACT" { exact.as_str() } else { a })
            .collect();
        let out = child(&target, "store", &args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stdout));
        assert_eq!(
            std::fs::read(dir.join("cert.json")).unwrap(),
            certificate,
            "{args:?} overwrote the certificate"
        );
        let partial = json(&dir.join("cert.partial.json"));
        assert_eq!(partial["partial"], true, "{args:?}");
        let ran = ids(&partial);
        let expected: Vec<String> = if args[0] == "--exact" {
            vec![first["id"].as_str().unwrap().to_owned()]
        } else {
            all.iter().filter(|id| keeps(id)).cloned().collect()
        };
        assert_eq!(ran, expected, "{args:?}");
        assert_eq!(partial["summary"]["catalogue"], all.len());
        assert_eq!(partial["summary"]["reported"], expected.len());
        let md = read(&dir.join("cert.partial.md"));
        assert!(
            md.lines().next().unwrap().contains(&format!(
                "PARTIAL: {} of {} cases selected",
                expected.len(),
                all.len()
            )),
            "{md}"
        );
        assert!(
            text(&out.stderr).contains("partial report"),
            "{}",
            text(&out.stderr)
        );
    }

    // `--ignored` selects nothing (no case is ignored before it runs):
    // nothing is written.
    let out = child(&target, "store", &["--ignored"], &[]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert_eq!(std::fs::read(dir.join("cert.json")).unwrap(), certificate);

    // `--include-ignored` leaves the set whole: a full run, which replaces
    // the certificate and removes the stale partial report.
    let out = child(&target, "store", &["--include-ignored"], &[]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let report = json(&dir.join("cert.json"));
    assert_eq!(report["partial"], false);
    assert_eq!(ids(&report), all);
    assert_eq!(listing(&dir), ["cert.json", "cert.md"]);
    assert!(
        text(&out.stderr).contains("removed the stale partial report"),
        "{}",
        text(&out.stderr)
    );
}

fn same_name_suites_do_not_overwrite_each_other() {
    let target = target("same-name");
    let dir = reports(&target);
    let as_crate = |package: &str, args: &[&str]| {
        let out = child(&target, "store", args, &[("CARGO_PKG_NAME", package)]);
        assert!(out.status.success(), "{}", text(&out.stdout));
        text(&out.stderr)
    };

    let stderr = as_crate("crate-a", &[]);
    assert!(!stderr.contains("WARNING"), "{stderr}");
    let a = std::fs::read(dir.join("cert.json")).unwrap();
    let report: Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(report["origin"]["package"], "crate-a");

    let stderr = as_crate("crate-b", &[]);
    assert_eq!(
        std::fs::read(dir.join("cert.json")).unwrap(),
        a,
        "crate-b overwrote crate-a's certificate"
    );
    let b = json(&dir.join("cert.crate-b.certificate.json"));
    assert_eq!(b["origin"]["package"], "crate-b");
    assert_eq!(b["suite"], "cert");
    let kept = dir.join("cert.json").display().to_string();
    let written = dir
        .join("cert.crate-b.certificate.json")
        .display()
        .to_string();
    assert!(
        stderr.contains("WARNING") && stderr.contains(&kept) && stderr.contains(&written),
        "the warning names the kept and the written file: {stderr}"
    );
    assert!(
        stderr.contains("crate-a") && stderr.contains("crate-b"),
        "{stderr}"
    );

    // Each keeps its own from then on, partial reports included.
    let stderr = as_crate("crate-a", &[]);
    assert!(!stderr.contains("WARNING"), "{stderr}");
    assert_eq!(json(&dir.join("cert.json"))["origin"]["package"], "crate-a");
    as_crate("crate-a", &["ST-CRE"]);
    as_crate("crate-b", &["ST-CRE"]);
    assert_eq!(
        json(&dir.join("cert.partial.json"))["origin"]["package"],
        "crate-a"
    );
    assert_eq!(
        json(&dir.join("cert.crate-b.certificate.partial.json"))["origin"]["package"],
        "crate-b"
    );
    as_crate("crate-b", &[]);
    assert_eq!(
        listing(&dir),
        [
            "cert.crate-b.certificate.json",
            "cert.crate-b.certificate.md",
            "cert.json",
            "cert.md",
            "cert.partial.json",
            "cert.partial.md",
        ],
        "a full run of crate-b removes only its own partial report"
    );
}
