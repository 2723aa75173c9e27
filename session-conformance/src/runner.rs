//! Runs planned cases, as libtest trials (`cargo test`) or in-process (the
//! kit's self-test), and records one report row per case.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use time::OffsetDateTime;

use crate::report::{CaseReport, Declared, Origin, Report, RunContext, Status};
use crate::{CaseInfo, CaseResult};

/// A boxed, sendable future.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The environment variable that turns an unreachable backend into a
/// failure instead of a skip. `scripts/test` and CI set it to `1`.
pub const REQUIRE_BACKEND_ENV: &str = "SESSION_CONFORMANCE_REQUIRE_BACKEND";

/// The environment variable that skips the cases that wait in real time.
pub const SKIP_SLOW_ENV: &str = "SESSION_CONFORMANCE_SKIP_SLOW";

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// What to do with one case.
pub(crate) enum Plan {
    /// Run it.
    Run(Box<dyn FnOnce() -> BoxFuture<'static, CaseResult> + Send>),
    /// List it as ignored: the implementation lacks what it needs.
    Ignore(String),
    /// The implementation could not be reached.
    Unavailable(String),
}

pub(crate) struct Planned {
    pub(crate) info: CaseInfo,
    pub(crate) plan: Plan,
}

impl Planned {
    /// Applies the slow-case switch.
    fn adjusted(self, skip_slow: bool) -> Self {
        match self.plan {
            Plan::Run(_) if self.info.slow && skip_slow => Planned {
                info: self.info,
                plan: Plan::Ignore(format!("slow case skipped ({SKIP_SLOW_ENV} is set)")),
            },
            _ => self,
        }
    }

    async fn execute(self, require_backend: bool) -> CaseReport {
        let started = Instant::now();
        let (status, message) = match self.plan {
            Plan::Run(run) => match run().await {
                Ok(()) => (Status::Passed, None),
                Err(failure) => (Status::Failed, Some(failure.message().to_owned())),
            },
            Plan::Ignore(reason) => (Status::Ignored, Some(reason)),
            Plan::Unavailable(reason) if require_backend => (
                Status::Failed,
                Some(format!(
                    "unavailable, and {REQUIRE_BACKEND_ENV}=1 forbids skipping: {reason}"
                )),
            ),
            Plan::Unavailable(reason) => (Status::Unavailable, Some(reason)),
        };
        CaseReport::new(&self.info, status, started.elapsed(), message)
    }
}

/// What the runner needs from a suite (the store suite, the HTTP suite), so
/// planning, reachability reports and the three ways of running live once.
pub(crate) trait Suite: Clone + Send + Sync + 'static {
    /// One case of the catalogue.
    type Case: Copy + Send + Sync + 'static;
    /// `store` or `http`, for the report.
    const KIND: &'static str;
    /// The catalogue.
    fn cases() -> &'static [Self::Case];
    /// A case's catalogue entry.
    fn info(case: &Self::Case) -> CaseInfo;
    /// The suite's name (the report's file name).
    fn name(&self) -> &str;
    /// What the suite declares about the implementation, for the report.
    fn declared(&self) -> Declared;
    /// What to tell the user when the implementation is unreachable.
    fn hint(&self) -> Option<&str>;
    /// Why this implementation cannot run `case`, if it cannot.
    fn skip(&self, case: &Self::Case) -> Option<String>;
    /// Whether the implementation answers at all.
    fn reachability(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Runs one case on a fresh namespace or server.
    fn run_case(self: Arc<Self>, case: Self::Case) -> BoxFuture<'static, CaseResult>;
}

/// Checks once that the implementation answers, then plans every case.
pub(crate) async fn plan<S: Suite>(suite: &S) -> Vec<Planned> {
    let unavailable = suite
        .reachability()
        .await
        .err()
        .map(|error| match suite.hint() {
            Some(hint) => format!("{} is unreachable ({error}). {hint}", suite.name()),
            None => format!("{} is unreachable ({error})", suite.name()),
        });
    let shared = Arc::new(suite.clone());
    S::cases()
        .iter()
        .map(|case| {
            let plan = if let Some(reason) = &unavailable {
                Plan::Unavailable(reason.clone())
            } else if let Some(reason) = shared.skip(case) {
                Plan::Ignore(reason)
            } else {
                let shared = Arc::clone(&shared);
                let case = *case;
                Plan::Run(Box::new(move || shared.run_case(case)))
            };
            Planned {
                info: S::info(case),
                plan,
            }
        })
        .collect()
}

/// Runs a suite in-process; `require` overrides the environment's answer
/// to "is an unreachable implementation a failure?".
pub(crate) async fn run_suite<S: Suite>(suite: &S, require: Option<bool>) -> Vec<CaseReport> {
    run_planned(plan(suite).await, require).await
}

/// Runs already planned cases in-process (see [`run_suite`]).
pub(crate) async fn run_planned(planned: Vec<Planned>, require: Option<bool>) -> Vec<CaseReport> {
    run_all_with(
        planned,
        require.unwrap_or_else(|| env_flag(REQUIRE_BACKEND_ENV)),
    )
    .await
}

/// The `main` of a `harness = false` test for a suite.
pub(crate) fn suite_main<S: Suite>(suite: S) -> ExitCode {
    let name = suite.name().to_owned();
    let declared = suite.declared();
    run_main(&name, S::KIND, declared, move |runtime| {
        runtime.block_on(plan(&suite))
    })
}

/// A multi-threaded runtime shared by every case of a run, so that pools
/// and connections a factory caches stay on one runtime.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Runs every case in-process, a few at a time, and returns the rows in
/// catalogue order; `require` says whether an unreachable implementation
/// fails.
async fn run_all_with(planned: Vec<Planned>, require: bool) -> Vec<CaseReport> {
    let skip_slow = env_flag(SKIP_SLOW_ENV);
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for case in planned {
        let case = case.adjusted(skip_slow);
        let info = case.info;
        let limit = Arc::clone(&limit);
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            case.execute(require).await
        });
        tasks.push((info, started, task));
    }
    let mut rows = Vec::with_capacity(tasks.len());
    for (info, started, task) in tasks {
        match task.await {
            Ok(row) => rows.push(row),
            Err(join_error) => {
                let panic = match join_error.try_into_panic() {
                    Ok(payload) => panic_text(&*payload),
                    Err(join_error) => join_error.to_string(),
                };
                rows.push(CaseReport::panicked(&info, started.elapsed(), &panic));
            }
        }
    }
    rows
}

/// What a panic said, when it said it with a string.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned())
}

/// The `main` of a `harness = false` test: one libtest trial per case, then
/// the report files. A run whose arguments leave cases of the catalogue out
/// (every trial that runs adds its row, so the report has fewer rows than
/// the catalogue) writes a partial report beside the certificate (see
/// [`crate::report`]).
fn run_main(
    suite: &str,
    kind: &'static str,
    declared: Declared,
    build: impl FnOnce(&tokio::runtime::Runtime) -> Vec<Planned>,
) -> ExitCode {
    let args = Arguments::from_args();
    let started_at = OffsetDateTime::now_utc();
    let started = Instant::now();
    let runtime = match runtime() {
        Ok(runtime) => Arc::new(runtime),
        Err(error) => {
            eprintln!("session-conformance: cannot start a tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let planned = build(&runtime);
    let require = env_flag(REQUIRE_BACKEND_ENV);
    let skip_slow = env_flag(SKIP_SLOW_ENV);
    let rows = Arc::new(Mutex::new(Vec::new()));
    let trials: Vec<Trial> = planned
        .into_iter()
        .map(|case| {
            let case = case.adjusted(skip_slow);
            let info = case.info;
            let name = info.test_name();
            let slow = info.slow;
            let runtime = Arc::clone(&runtime);
            let rows = Arc::clone(&rows);
            let trial = Trial::ignorable_test(name, move || {
                let began = Instant::now();
                // A panicking case still gets its row (libtest would catch
                // the panic, but the certificate would lose the case).
                let row = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    runtime.block_on(case.execute(require))
                }))
                .unwrap_or_else(|payload| {
                    CaseReport::panicked(&info, began.elapsed(), &panic_text(&*payload))
                });
                let outcome = match row.status {
                    Status::Passed => Ok(Completion::Completed),
                    Status::Ignored | Status::Unavailable => Ok(Completion::Ignored {
                        reason: row.message.clone(),
                    }),
                    Status::Failed => Err(Failed::from(row.message.clone().unwrap_or_default())),
                };
                rows.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(row);
                outcome
            });
            if slow { trial.with_kind("slow") } else { trial }
        })
        .collect();
    let catalogue = trials.len();
    let conclusion = libtest_mimic::run(&args, trials);
    let rows = std::mem::take(&mut *rows.lock().unwrap_or_else(PoisonError::into_inner));
    if !rows.is_empty() {
        let run = RunContext {
            declared,
            skip_slow,
            require_backend: require,
            catalogue,
            started: started_at,
            took: started.elapsed(),
        };
        let report = Report::new(suite, kind, run, Origin::current(), rows);
        write_report(&report);
        let unavailable = report.summary.unavailable;
        if unavailable > 0 {
            eprintln!(
                "session-conformance: WARNING: {unavailable} cases were not run because the \
                 implementation is unavailable; set {REQUIRE_BACKEND_ENV}=1 to make that a failure"
            );
        }
    }
    conclusion.exit_code()
}

/// Writes the report files and says where, and what it kept or removed.
fn write_report(report: &Report) {
    let written = match report.write() {
        Ok(written) => written,
        Err(error) => {
            eprintln!("session-conformance: could not write the report: {error}");
            return;
        }
    };
    let what = if report.partial {
        "partial report (the test filter left cases out; not a certificate)"
    } else {
        "report"
    };
    eprintln!(
        "session-conformance: {what} written to {} and {}",
        written.json.display(),
        written.md.display()
    );
    if let Some((kept, other)) = &written.kept {
        eprintln!(
            "session-conformance: WARNING: {} holds the report of another suite named {:?} \
             (run by {other}); kept it, and wrote this one (run by {}) to {} instead. \
             Give the suites different names to keep one certificate each.",
            kept.display(),
            report.suite,
            report.origin,
            written.json.display()
        );
    }
    for path in &written.removed {
        eprintln!(
            "session-conformance: removed the stale partial report {}",
            path.display()
        );
    }
}
