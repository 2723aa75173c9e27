//! The store suite: certifies a [`SessionStore`] against DESIGN.md §2, §4
//! and §7.

use std::fmt;
use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use session_core::{BoxError, Capabilities, Clock, ManualClock, SessionId, SessionStore};
use time::{Duration, OffsetDateTime};

use crate::report::{CaseReport, Declared};
use crate::runner::{self, BoxFuture};
use crate::{CaseInfo, CaseResult, Failure};

mod cases;

/// A fresh, isolated place for one case: a name to derive a key prefix,
/// schema or directory from, and a clock.
///
/// The name matches `[a-z][a-z0-9_]{0,30}`, so it is safe as a Postgres
/// schema, a Redis key prefix or a directory name.
#[derive(Debug, Clone)]
pub struct Namespace {
    name: String,
    clock: ManualClock,
}

impl Namespace {
    fn fresh() -> Self {
        let id = SessionId::generate();
        let suffix = id.as_str().get(..20).unwrap_or("x");
        Namespace {
            name: format!("sc_{suffix}"),
            clock: ManualClock::new(OffsetDateTime::now_utc()),
        }
    }

    /// The namespace's unique name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The case's clock, starting at the wall-clock time. A store built on
    /// it lets the kit test expiry without sleeping; declare that with
    /// [`StoreSuite::manual_clock`].
    pub fn clock(&self) -> ManualClock {
        self.clock.clone()
    }
}

type Factory =
    dyn Fn(Namespace) -> BoxFuture<'static, Result<Arc<dyn SessionStore>, BoxError>> + Send + Sync;
type Teardown = dyn Fn(Namespace) -> BoxFuture<'static, ()> + Send + Sync;

/// A store under test: how to make one per namespace, and what it can do.
///
/// Usually built by [`store_suite!`](crate::store_suite); build it by hand to
/// run the cases in-process with [`StoreSuite::run`].
#[derive(Clone)]
pub struct StoreSuite {
    name: String,
    factory: Arc<Factory>,
    teardown: Option<Arc<Teardown>>,
    capabilities: Capabilities,
    manual_clock: bool,
    hint: Option<String>,
    version: Option<String>,
}

impl fmt::Debug for StoreSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSuite")
            .field("name", &self.name)
            .field("capabilities", &self.capabilities)
            .field("manual_clock", &self.manual_clock)
            .finish_non_exhaustive()
    }
}

impl StoreSuite {
    /// A suite named `name` (the report's file name) whose `factory` makes a
    /// store for a fresh [`Namespace`]. A factory error means the backend is
    /// unreachable.
    pub fn new<F, Fut, S, E>(name: impl Into<String>, factory: F) -> Self
    where
        F: Fn(Namespace) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, E>> + Send + 'static,
        S: SessionStore,
        E: Into<BoxError>,
    {
        let factory = Arc::new(factory);
        StoreSuite {
            name: name.into(),
            factory: Arc::new(move |ns| {
                let made = factory(ns);
                Box::pin(async move {
                    let store = made.await.map_err(Into::into)?;
                    Ok(Arc::new(store) as Arc<dyn SessionStore>)
                })
            }),
            teardown: None,
            capabilities: Capabilities::NONE,
            manual_clock: false,
            hint: None,
            version: None,
        }
    }

    /// The capabilities the store claims. Cases that need one it lacks are
    /// ignored; `ST-CAP-001` checks the claim against
    /// [`SessionStore::capabilities`]. Default: none.
    #[must_use]
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Whether the store decides expiry by [`Namespace::clock`], so the kit
    /// may move time instead of sleeping. Default: `false`.
    #[must_use]
    pub fn manual_clock(mut self, yes: bool) -> Self {
        self.manual_clock = yes;
        self
    }

    /// Runs after every case, passed or not, to drop what the namespace
    /// left behind (a schema, keys, a directory).
    #[must_use]
    pub fn teardown<F, Fut>(mut self, teardown: F) -> Self
    where
        F: Fn(Namespace) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let teardown = Arc::new(teardown);
        self.teardown = Some(Arc::new(move |ns| Box::pin(teardown(ns))));
        self
    }

    /// What to tell the user when the backend is unreachable, e.g. how to
    /// start it.
    #[must_use]
    pub fn unavailable_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The version of the store under test, recorded in the report beside
    /// the suite's name (`implementation_version = env!("CARGO_PKG_VERSION")`
    /// in [`store_suite!`](crate::store_suite)).
    #[must_use]
    pub fn implementation_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Runs every case in-process and returns one row each (the kit's
    /// self-test uses it). Call it from async code.
    pub async fn run(&self) -> Vec<CaseReport> {
        runner::run_suite(self, None).await
    }

    /// [`StoreSuite::run`] restricted to the cases whose IDs are in `ids`
    /// (the others are not planned at all), for measuring one case many
    /// times.
    pub async fn run_only(&self, ids: &[&str]) -> Vec<CaseReport> {
        let planned = runner::plan(self)
            .await
            .into_iter()
            .filter(|case| ids.contains(&case.info.id))
            .collect();
        runner::run_planned(planned, None).await
    }

    /// [`StoreSuite::run`], with `require_backend` deciding whether an
    /// unreachable backend fails every case (as
    /// `SESSION_CONFORMANCE_REQUIRE_BACKEND=1` does) or reports it
    /// unavailable.
    pub async fn run_requiring(&self, require_backend: bool) -> Vec<CaseReport> {
        runner::run_suite(self, Some(require_backend)).await
    }

    /// The `main` of a `harness = false` test: one libtest trial per case,
    /// then the report under `target/session-conformance/`.
    pub fn run_main(self) -> ExitCode {
        runner::suite_main(self)
    }

    /// Whether the backend answers: only a factory error or a `load` error
    /// of kind [`Unavailable`](session_core::ErrorKind::Unavailable) makes
    /// it unreachable. Any other answer, an error included, means it is
    /// reachable, and the cases say what is wrong with it.
    async fn reachability(&self) -> Result<(), String> {
        let ns = Namespace::fresh();
        let result = match (self.factory)(ns.clone()).await {
            Ok(store) => match store.load(&SessionId::generate()).await {
                Err(error) if error.kind() == session_core::ErrorKind::Unavailable => {
                    Err(error.report())
                }
                _ => Ok(()),
            },
            Err(error) => Err(session_core::error::report(&*error)),
        };
        if let Some(teardown) = &self.teardown {
            teardown(ns).await;
        }
        result
    }

    async fn make(&self, ns: &Namespace) -> Result<Arc<dyn SessionStore>, Failure> {
        (self.factory)(ns.clone()).await.map_err(|e| {
            Failure::new(format!(
                "the factory failed: {}",
                session_core::error::report(&*e)
            ))
        })
    }

    async fn run_case(self: Arc<Self>, run: CaseFn) -> CaseResult {
        let ns = Namespace::fresh();
        let used = Arc::new(Mutex::new(vec![ns.clone()]));
        let result = match self.make(&ns).await {
            Ok(store) => {
                let ctx = StoreCtx {
                    store,
                    ns,
                    suite: Arc::clone(&self),
                    used: Arc::clone(&used),
                };
                run(ctx).await
            }
            Err(failure) => Err(failure),
        };
        if let Some(teardown) = &self.teardown {
            let used = std::mem::take(&mut *used.lock().unwrap_or_else(PoisonError::into_inner));
            for ns in used {
                teardown(ns).await;
            }
        }
        result
    }
}

impl runner::Suite for StoreSuite {
    type Case = StoreCase;
    const KIND: &'static str = "store";

    fn cases() -> &'static [StoreCase] {
        &cases::ALL
    }

    fn info(case: &StoreCase) -> CaseInfo {
        case.info
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn declared(&self) -> Declared {
        Declared {
            version: self.version.clone(),
            capabilities: Some(self.capabilities.into()),
            manual_clock: Some(self.manual_clock),
            non_utf8_headers: None,
            server_side_state: None,
            id_cookie: None,
        }
    }

    fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    fn skip(&self, case: &StoreCase) -> Option<String> {
        crate::case::Abilities {
            capabilities: self.capabilities,
            manual_clock: self.manual_clock,
            non_utf8_headers: true,
            server_side_state: true,
            id_cookie: true,
        }
        .skip(case.info.needs, &self.name)
    }

    fn reachability(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(StoreSuite::reachability(self))
    }

    fn run_case(self: Arc<Self>, case: StoreCase) -> BoxFuture<'static, CaseResult> {
        Box::pin(StoreSuite::run_case(self, case.run))
    }
}

/// What a store case works with.
pub(crate) struct StoreCtx {
    store: Arc<dyn SessionStore>,
    ns: Namespace,
    suite: Arc<StoreSuite>,
    /// Every namespace the case made, for the teardown.
    used: Arc<Mutex<Vec<Namespace>>>,
}

impl StoreCtx {
    pub(crate) fn store(&self) -> &dyn SessionStore {
        &*self.store
    }

    /// A second handle on the same namespace, for concurrency cases.
    pub(crate) fn shared_store(&self) -> Arc<dyn SessionStore> {
        Arc::clone(&self.store)
    }

    /// "Now" as the case's clock shows it (the wall clock until a
    /// manual-clock case moves it).
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.ns.clock.now()
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.ns.clock.advance(by);
    }

    pub(crate) fn declared(&self) -> Capabilities {
        self.suite.capabilities
    }

    /// A store on another fresh namespace, torn down with the case's own.
    pub(crate) async fn other_namespace(&self) -> Result<Arc<dyn SessionStore>, Failure> {
        let ns = Namespace::fresh();
        self.used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ns.clone());
        self.suite.make(&ns).await
    }
}

pub(crate) type CaseFn = fn(StoreCtx) -> BoxFuture<'static, CaseResult>;

/// One store case: its catalogue entry and its body.
#[derive(Clone, Copy)]
pub(crate) struct StoreCase {
    pub(crate) info: CaseInfo,
    pub(crate) run: CaseFn,
}

/// The catalogue of store cases.
pub fn catalogue() -> impl Iterator<Item = &'static CaseInfo> {
    cases::ALL.iter().map(|c| &c.info)
}
