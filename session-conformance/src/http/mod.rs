//! The HTTP suite: certifies an adapter (or any server, in any language)
//! that mounts the probe routes of DESIGN.md §10, over real HTTP on
//! loopback, against §5, §6 and §8.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use session_core::{BoxError, Config, SessionId};

use crate::check::chain;
use crate::report::CaseReport;
use crate::runner::{self, BoxFuture};
use crate::{CaseInfo, CaseResult, Failure};

mod cases;
pub(crate) mod client;

use client::Client;

/// What the kit asks the factory for: a server mounting the probe routes,
/// with these session settings.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// The settings the server's `SessionManager` must use. Cases that check
    /// cookie attributes, browser-close sessions or save-every-request ask
    /// for their own.
    pub config: Config,
    /// A unique name (`[a-z][a-z0-9_]*`) for the store's key prefix, schema
    /// or directory, so servers of parallel cases never share sessions.
    pub namespace: String,
}

type Factory = dyn Fn(ServerSpec) -> BoxFuture<'static, Result<SocketAddr, BoxError>> + Send + Sync;

/// A server under test: how to start one for a [`ServerSpec`].
#[derive(Clone)]
pub struct HttpSuite {
    name: String,
    factory: Arc<Factory>,
    hint: Option<String>,
}

impl fmt::Debug for HttpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSuite")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl HttpSuite {
    /// A suite named `name` (the report's file name) whose `factory` starts
    /// a server for a spec and returns the address it listens on, on
    /// loopback. The server must keep running after the future completes
    /// (spawn it). A factory error means the server cannot be started.
    pub fn new<F, Fut, E>(name: impl Into<String>, factory: F) -> Self
    where
        F: Fn(ServerSpec) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<SocketAddr, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let factory = Arc::new(factory);
        HttpSuite {
            name: name.into(),
            factory: Arc::new(move |spec| {
                let started = factory(spec);
                Box::pin(async move { started.await.map_err(Into::into) })
            }),
            hint: None,
        }
    }

    /// What to tell the user when no server can be started.
    #[must_use]
    pub fn unavailable_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Runs every case in-process; one row each.
    pub async fn run(&self) -> Vec<CaseReport> {
        runner::run_suite(self, None).await
    }

    /// [`HttpSuite::run`] with an explicit answer to "is an unreachable
    /// server a failure?".
    pub async fn run_requiring(&self, require_backend: bool) -> Vec<CaseReport> {
        runner::run_suite(self, Some(require_backend)).await
    }

    /// The `main` of a `harness = false` test: one libtest trial per case,
    /// then the report under `target/session-conformance/`.
    pub fn run_main(self) -> ExitCode {
        runner::suite_main(self)
    }

    async fn start(&self, config: Config) -> Result<(SocketAddr, Config), Failure> {
        let spec = ServerSpec {
            config: config.clone(),
            namespace: namespace(),
        };
        let addr = (self.factory)(spec)
            .await
            .map_err(|e| Failure::new(format!("the server factory failed: {}", chain(&*e))))?;
        Ok((addr, config))
    }

    async fn reachability(&self) -> Result<(), String> {
        let (addr, config) = self
            .start(Config::default())
            .await
            .map_err(|f| f.message().to_owned())?;
        match Client::new(addr, config.cookie_name())
            .get("/probe/noop")
            .await
        {
            Ok(answer) if answer.status == 200 => Ok(()),
            Ok(answer) => Err(format!(
                "GET /probe/noop answered {}, not 200",
                answer.status
            )),
            Err(failure) => Err(failure.message().to_owned()),
        }
    }

    async fn run_case(self: Arc<Self>, case: HttpCase) -> CaseResult {
        let (addr, config) = self.start((case.config)()).await?;
        (case.run)(HttpCtx { addr, config }).await
    }
}

fn namespace() -> String {
    let id = SessionId::generate();
    format!("hx_{}", id.as_str().get(..20).unwrap_or("x"))
}

impl runner::Suite for HttpSuite {
    type Case = HttpCase;
    const KIND: &'static str = "http";

    fn cases() -> &'static [HttpCase] {
        &cases::ALL
    }

    fn info(case: &HttpCase) -> CaseInfo {
        case.info
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    fn skip(&self, _: &HttpCase) -> Option<String> {
        None
    }

    fn reachability(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(HttpSuite::reachability(self))
    }

    fn run_case(self: Arc<Self>, case: HttpCase) -> BoxFuture<'static, CaseResult> {
        Box::pin(HttpSuite::run_case(self, case))
    }
}

/// What an HTTP case works with: a server of its own.
pub(crate) struct HttpCtx {
    addr: SocketAddr,
    config: Config,
}

impl HttpCtx {
    /// A client with an empty jar.
    pub(crate) fn client(&self) -> Client {
        Client::new(self.addr, self.config.cookie_name())
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }
}

pub(crate) type CaseFn = fn(HttpCtx) -> BoxFuture<'static, CaseResult>;

/// One HTTP case: its catalogue entry, the server settings it needs, and
/// its body.
#[derive(Clone, Copy)]
pub(crate) struct HttpCase {
    pub(crate) info: CaseInfo,
    pub(crate) config: fn() -> Config,
    pub(crate) run: CaseFn,
}

/// The catalogue of HTTP cases.
pub fn catalogue() -> impl Iterator<Item = &'static CaseInfo> {
    cases::ALL.iter().map(|c| &c.info)
}
