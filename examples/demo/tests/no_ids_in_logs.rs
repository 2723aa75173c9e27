//! No session ID ever reaches the logs: with one global `tracing`
//! subscriber recording every event and every span of every target at
//! TRACE, this runs
//!
//! 1. the conformance kit's whole store suite on `MemoryStore`,
//! 2. the kit's whole HTTP suite against the demo app behind session-poem,
//! 3. the hostile requests of `hostile_http.rs` (malformed IDs, attacker
//!    IDs, huge and broken Cookie headers, oversized bodies) against poem,
//!    warp and rocket,
//! 4. every path that logs about a session, against poem, warp and rocket
//!    over a faulty store: an ID collision on create, an undecodable record,
//!    a save, a renewal and a logout that fail, a rotation whose old record
//!    survives,
//!
//! then asserts that the captured text holds none of the IDs it saw and no
//! token that looks like one, that it captured enough to mean something,
//! and that each logging path of step 4 was taken.
//!
//! The kit runs its cases in-process and does not hand out the IDs its
//! cases were issued, so besides the IDs this test sees (the `Set-Cookie`
//! headers of the hostile requests, the attacker's IDs it sends), the text
//! is scanned for any run of 32 or more characters of the ID alphabet
//! `[a-z0-9]` (IDs are exactly 32 such characters; a run is matched whole,
//! so an ID glued to other letters or digits is still caught). A canary ID
//! logged at the end proves that the capture and the scan find one.
//!
//! `NO_IDS_IN_LOGS_DUMP=FILE` keeps the captured text in FILE.
//!
//! `harness = false`: the subscriber is global and the scan must run after
//! everything else, so `main` runs the steps in order.

#[allow(dead_code, unreachable_pub)]
#[path = "hostile_http.rs"]
mod hostile;

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use session_conformance::{HttpSuite, Namespace, ServerSpec, Status, StoreSuite};
use session_core::{
    Capabilities, Config, Error, MemoryStore, Record, SessionId, SessionStore, async_trait,
};
use time::OffsetDateTime;
use tracing_subscriber::fmt::format::FmtSpan;

/// Set it to a file path to keep the captured text there.
const DUMP_ENV: &str = "NO_IDS_IN_LOGS_DUMP";

/// Where the subscriber writes: one buffer for the whole run.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every maximal run of at least 32 characters of `[a-z0-9]`, with its
/// line: what a session ID would look like in the text.
fn id_like_tokens(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in text.lines() {
        for run in line.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit())) {
            if run.len() >= session_core::id::ID_LEN {
                found.push((run.to_owned(), line.to_owned()));
            }
        }
    }
    found
}

/// How many events and span records the text holds: the fmt subscriber
/// starts each with a timestamp and a level.
fn records(text: &str) -> usize {
    text.lines()
        .filter(|line| {
            [" TRACE ", " DEBUG ", "  INFO ", "  WARN ", " ERROR "]
                .iter()
                .any(|level| line.contains(level))
        })
        .count()
}

fn main() -> ExitCode {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_target(true)
        .with_span_events(FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    if let Err(error) = tracing::subscriber::set_global_default(subscriber) {
        eprintln!("no_ids_in_logs: cannot install the capturing subscriber: {error}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("no_ids_in_logs: cannot start a tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let seen = runtime.block_on(run());
    drop(runtime);
    let text = capture.text();
    let problems = check(&text, &seen);
    if let Some(path) = std::env::var_os(DUMP_ENV)
        && let Err(error) = std::fs::write(&path, &text)
    {
        let path = std::path::Path::new(&path).display();
        eprintln!("no_ids_in_logs: cannot write {path}: {error}");
    }

    // The canary: an ID logged now must be found by the same scan.
    let canary = SessionId::generate();
    tracing::info!(target: "no_ids_in_logs", id = %canary, "canary");
    let canary_found = id_like_tokens(&capture.text())
        .iter()
        .any(|(token, _)| token == canary.as_str());

    eprintln!(
        "no_ids_in_logs: {} records, {} bytes captured in {:?}; {} IDs seen in responses",
        records(&text),
        text.len(),
        started.elapsed(),
        seen.len()
    );
    let mut failed = false;
    for problem in &problems {
        eprintln!("no_ids_in_logs: FAILED: {problem}");
        failed = true;
    }
    if !canary_found {
        eprintln!("no_ids_in_logs: FAILED: the canary ID logged at the end was not found");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        eprintln!("no_ids_in_logs: ok");
        ExitCode::SUCCESS
    }
}

/// Runs every step; returns the IDs seen in responses and sent.
async fn run() -> Vec<String> {
    let store_rows = StoreSuite::new("no-ids-memory", |ns: Namespace| async move {
        Ok::<_, std::convert::Infallible>(MemoryStore::with_clock(ns.clock()))
    })
    .capabilities(Capabilities::ALL)
    .manual_clock(true)
    .run_requiring(true)
    .await;
    let http_rows = HttpSuite::new("no-ids-poem-memory", |spec: ServerSpec| async move {
        let store = hostile::common::memory(&spec);
        hostile::common::start("poem", store, spec).await
    })
    .store_capabilities(Capabilities::ALL)
    .run_requiring(true)
    .await;
    for (suite, rows) in [("store", &store_rows), ("http", &http_rows)] {
        let failed: Vec<_> = rows
            .iter()
            .filter(|row| row.status == Status::Failed)
            .map(|row| format!("{}: {}", row.id, row.message.as_deref().unwrap_or("")))
            .collect();
        let passed = rows.iter().filter(|r| r.status == Status::Passed).count();
        eprintln!(
            "no_ids_in_logs: {suite} suite: {passed} of {} cases passed",
            rows.len()
        );
        assert!(failed.is_empty(), "the {suite} suite failed: {failed:#?}");
        assert!(passed > 10, "the {suite} suite ran only {passed} cases");
    }

    let mut seen = vec![hostile::ATTACKER_ID.to_owned()];
    for framework in hostile::FRAMEWORKS {
        let addr = hostile::start(framework).await;
        let (rows, issued) = hostile::run_hostile(framework, addr)
            .await
            .unwrap_or_else(|problems| panic!("{framework}: {problems:#?}"));
        assert!(
            rows.len() > 40,
            "{framework}: only {} hostile cases",
            rows.len()
        );
        seen.extend(issued);
        hostile::check_neighbours(framework).await;
        hostile::check_body_limits(framework).await;
    }
    for framework in hostile::FRAMEWORKS {
        seen.extend(faulty_paths(framework).await);
    }
    seen
}

// ---------------------------------------------------------------------------
// Step 4: the logging paths, over a faulty store
// ---------------------------------------------------------------------------

/// A session key that makes [`Faulty`] fail every later save and touch of
/// the record.
const FAIL_WRITES: &str = "fail_writes";
/// A session key that makes [`Faulty`] fail every delete of the record.
const FAIL_DELETE: &str = "fail_delete";
/// A session key that makes [`Faulty`] report the record undecodable.
const CORRUPT: &str = "corrupt";

/// `MemoryStore`, with faults chosen by what the session holds: every
/// other `create` finds its ID taken, a record holding [`CORRUPT`] cannot
/// be decoded, one holding [`FAIL_WRITES`] or [`FAIL_DELETE`] cannot be
/// saved, touched or deleted. The errors name a host, as real ones do.
#[derive(Debug, Default)]
struct Faulty {
    inner: MemoryStore,
    creates: AtomicUsize,
    fail_writes: Mutex<HashSet<SessionId>>,
    fail_delete: Mutex<HashSet<SessionId>>,
}

fn down() -> Error {
    Error::unavailable(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection reset by sessions.internal:6379",
    ))
}

impl Faulty {
    fn remember(&self, record: &Record) {
        for (key, set) in [
            (FAIL_WRITES, &self.fail_writes),
            (FAIL_DELETE, &self.fail_delete),
        ] {
            if record.data.contains_key(key) {
                set.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(record.id.clone());
            }
        }
    }

    fn fails(&self, set: &Mutex<HashSet<SessionId>>, id: &SessionId) -> bool {
        set.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
    }
}

#[async_trait]
impl SessionStore for Faulty {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        if self
            .creates
            .fetch_add(1, Ordering::SeqCst)
            .is_multiple_of(2)
        {
            return Err(Error::id_taken());
        }
        self.inner.create(record).await?;
        self.remember(record);
        Ok(())
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        match self.inner.load(id).await? {
            Some(record) if record.data.contains_key(CORRUPT) => Err(Error::corrupt(
                io::Error::other("expected value at line 1 column 7"),
            )),
            other => Ok(other),
        }
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        if self.fails(&self.fail_writes, &record.id) {
            return Err(down());
        }
        self.inner.save(record).await?;
        self.remember(record);
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        if self.fails(&self.fail_delete, id) || self.fails(&self.fail_writes, id) {
            return Err(down());
        }
        self.inner.delete(id).await
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        if self.fails(&self.fail_writes, id) {
            return Err(down());
        }
        self.inner.touch(id, expires_at).await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

/// Sends one request with `cookie` (an ID) if any; returns the status and
/// the session ID the answer sets, if it sets one.
async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    cookie: Option<&str>,
) -> (u16, Option<String>) {
    let fields: Vec<Vec<u8>> = cookie
        .map(|id| format!("sessionid={id}").into_bytes())
        .into_iter()
        .collect();
    let answer = hostile::exchange(addr, &hostile::request(method, target, &fields))
        .await
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"));
    let id = answer
        .session_cookie_values()
        .into_iter()
        .find(|v| SessionId::is_valid(v));
    (answer.status, id)
}

/// A new session holding `key`; returns its ID.
async fn session_with(addr: SocketAddr, key: &str) -> String {
    let (status, id) = send(addr, "POST", &format!("/probe/set?k={key}&v=1"), None).await;
    assert_eq!(status, 200, "creating a session holding {key}");
    id.unwrap_or_else(|| panic!("no session cookie for a session holding {key}"))
}

/// Takes every path that logs about a session on `framework`; returns the
/// IDs the answers carried.
async fn faulty_paths(framework: &str) -> Vec<String> {
    let spec = |config: Config| ServerSpec {
        config,
        namespace: "faulty".to_owned(),
    };
    let store = Arc::new(Faulty::default());
    let addr = hostile::common::start(framework, store, spec(Config::default()))
        .await
        .unwrap_or_else(|e| panic!("{framework} did not start: {e}"));
    let mut seen = Vec::new();

    // A collision on create (every other create), then an undecodable record.
    let corrupt = session_with(addr, "x").await;
    let (status, _) = send(
        addr,
        "POST",
        &format!("/probe/set?k={CORRUPT}&v=1"),
        Some(&corrupt),
    )
    .await;
    assert_eq!(status, 200, "{framework}: marking a record corrupt");
    let (status, _) = send(addr, "GET", "/probe/get?k=x", Some(&corrupt)).await;
    assert_eq!(
        status, 200,
        "{framework}: an undecodable record reads as empty"
    );
    seen.push(corrupt);

    // A save that fails in `finish`: the adapter answers the error.
    let doomed = session_with(addr, FAIL_WRITES).await;
    let (status, _) = send(addr, "POST", "/probe/set?k=y&v=2", Some(&doomed)).await;
    assert_eq!(status, 503, "{framework}: a save the store refuses");
    seen.push(doomed);

    // A rotation whose old record cannot be deleted, then a logout whose
    // delete fails.
    let stuck = session_with(addr, FAIL_DELETE).await;
    let (status, rotated) = send(addr, "POST", "/probe/cycle", Some(&stuck)).await;
    assert_eq!(
        status, 200,
        "{framework}: a rotation whose old record survives"
    );
    let rotated = rotated.unwrap_or_else(|| panic!("{framework}: no cookie after the rotation"));
    let (status, _) = send(addr, "POST", "/probe/logout", Some(&rotated)).await;
    assert!(
        status >= 500,
        "{framework}: a logout whose delete failed answered {status}"
    );
    seen.extend([stuck, rotated]);

    // A renewal only save_every_request asked for, which fails.
    let store = Arc::new(Faulty::default());
    let config = Config::default().with_save_every_request(true);
    let addr = hostile::common::start(framework, store, spec(config))
        .await
        .unwrap_or_else(|e| panic!("{framework} did not start: {e}"));
    let renewed = session_with(addr, FAIL_WRITES).await;
    let (status, _) = send(addr, "GET", "/probe/noop", Some(&renewed)).await;
    assert_eq!(
        status, 200,
        "{framework}: a failed renewal never breaks a response"
    );
    seen.push(renewed);
    seen
}

/// The log lines step 4 must have produced: (what, text it holds).
const EXPECTED_PATHS: [(&str, &str); 7] = [
    (
        "an ID collision on create",
        "session ID already taken; retrying",
    ),
    ("an undecodable record", "session_core::suspicious_session"),
    ("a failed store call", "session_core::store"),
    ("a failed renewal", "could not renew an unchanged session"),
    (
        "a rotation whose old record survived",
        "old record could not be deleted",
    ),
    // Every adapter logs its error responses through Error::log_response.
    (
        "a session error answered by an adapter",
        "session_core::error: session error",
    ),
    ("a store error's cause", "sessions.internal:6379"),
];

/// What is wrong with the captured `text`.
fn check(text: &str, seen: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for id in seen {
        if let Some(line) = text.lines().find(|line| line.contains(id.as_str())) {
            problems.push(format!(
                "a session ID seen in a response is in the log: {line}"
            ));
        }
    }
    for (token, line) in id_like_tokens(text) {
        problems.push(format!(
            "a token that looks like a session ID ({} chars) is in the log: {line}",
            token.len()
        ));
    }
    let records = records(text);
    if records < 100 {
        problems.push(format!(
            "only {records} records were captured: the subscriber does not see the run"
        ));
    }
    for (what, needle) in EXPECTED_PATHS {
        if !text.contains(needle) {
            problems.push(format!("no log line for {what} (looked for {needle:?})"));
        }
    }
    problems
}
