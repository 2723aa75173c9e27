//! The HTTP suite: certifies an adapter (or any server, in any language)
//! that mounts the probe routes of DESIGN.md §10, over real HTTP on
//! loopback, against §5, §6 and §8.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use session_core::{BoxError, Capabilities, Config, SessionId};

use crate::report::{CaseReport, Declared};
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
type Teardown = dyn Fn(ServerSpec) -> BoxFuture<'static, ()> + Send + Sync;

/// A server under test: how to start one for a [`ServerSpec`].
#[derive(Clone)]
pub struct HttpSuite {
    name: String,
    factory: Arc<Factory>,
    hint: Option<String>,
    teardown: Option<Arc<Teardown>>,
    store_capabilities: Capabilities,
    non_utf8_headers: bool,
    server_side_state: bool,
    id_cookie: bool,
    version: Option<String>,
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
            teardown: None,
            store_capabilities: Capabilities::NONE,
            non_utf8_headers: true,
            server_side_state: true,
            id_cookie: true,
            version: None,
        }
    }

    /// The capabilities of the store behind the server. Cases that need one
    /// it lacks (every key of concurrent writes landing needs versioned
    /// saves) are ignored, never passed. Default: none.
    #[must_use]
    pub fn store_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.store_capabilities = capabilities;
        self
    }

    /// Whether the framework hands the adapter `Cookie` fields that are not
    /// valid UTF-8. Say `false` only for a framework that drops such a field
    /// before any adapter code runs (Rocket 0.5 does); the case that needs
    /// them is then ignored with that reason in the certificate.
    /// Default: `true`.
    #[must_use]
    pub fn non_utf8_headers(mut self, yes: bool) -> Self {
        self.non_utf8_headers = yes;
        self
    }

    /// Whether the server keeps session state it can revoke, so that a
    /// flushed, logged-out, rotated-away or expired cookie stops working
    /// even when a copy of it is replayed. Say `false` for a signed-cookie
    /// engine (the session lives in the cookie); the cases that need
    /// revocation are then ignored with that reason in the certificate.
    /// Default: `true`.
    #[must_use]
    pub fn server_side_state(mut self, yes: bool) -> Self {
        self.server_side_state = yes;
        self
    }

    /// Whether the session cookie's value is the session ID (32 characters
    /// of `[a-z0-9]`, kept by later writes). Say `false` for a signed-cookie
    /// engine, whose value carries the session and changes with every
    /// write; the cases that check the ID itself are then ignored with that
    /// reason, and the others accept any value the server issued.
    /// Default: `true`.
    #[must_use]
    pub fn id_cookie(mut self, yes: bool) -> Self {
        self.id_cookie = yes;
        self
    }

    /// What to tell the user when no server can be started.
    #[must_use]
    pub fn unavailable_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Runs after every case, passed or not, and after the reachability
    /// check, with the spec the factory was given: stop the server, drop
    /// what [`ServerSpec::namespace`] left behind (a schema, keys, a
    /// directory).
    #[must_use]
    pub fn teardown<F, Fut>(mut self, teardown: F) -> Self
    where
        F: Fn(ServerSpec) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let teardown = Arc::new(teardown);
        self.teardown = Some(Arc::new(move |spec| Box::pin(teardown(spec))));
        self
    }

    /// The version of the adapter under test, recorded in the report beside
    /// the suite's name (`implementation_version = env!("CARGO_PKG_VERSION")`
    /// in [`http_suite!`](crate::http_suite)).
    #[must_use]
    pub fn implementation_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
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

    /// A spec with `config` and a fresh namespace.
    fn spec(config: Config) -> ServerSpec {
        ServerSpec {
            config,
            namespace: namespace(),
        }
    }

    async fn start(&self, spec: &ServerSpec) -> Result<SocketAddr, Failure> {
        (self.factory)(spec.clone()).await.map_err(|e| {
            Failure::new(format!(
                "the server factory failed: {}",
                session_core::error::report(&*e)
            ))
        })
    }

    async fn tear_down(&self, spec: ServerSpec) {
        if let Some(teardown) = &self.teardown {
            teardown(spec).await;
        }
    }

    /// Whether a server starts and answers at all: a factory error or a
    /// connection that fails makes it unreachable. A server that answers,
    /// whatever the status, is reachable, and the cases say what is wrong
    /// with it.
    async fn reachability(&self) -> Result<(), String> {
        let spec = Self::spec(Config::default());
        let result = match self.start(&spec).await {
            Ok(addr) => Client::new(addr, spec.config.cookie_name())
                .get("/probe/noop")
                .await
                .map(drop)
                .map_err(|failure| failure.message().to_owned()),
            Err(failure) => Err(failure.message().to_owned()),
        };
        self.tear_down(spec).await;
        result
    }

    async fn run_case(self: Arc<Self>, case: HttpCase) -> CaseResult {
        let spec = Self::spec((case.config)());
        let result = match self.start(&spec).await {
            Ok(addr) => {
                let config = spec.config.clone();
                let id_cookie = self.id_cookie;
                (case.run)(HttpCtx {
                    addr,
                    config,
                    id_cookie,
                })
                .await
            }
            Err(failure) => Err(failure),
        };
        self.tear_down(spec).await;
        result
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

    fn declared(&self) -> Declared {
        Declared {
            version: self.version.clone(),
            capabilities: Some(self.store_capabilities.into()),
            manual_clock: None,
            non_utf8_headers: Some(self.non_utf8_headers),
            server_side_state: Some(self.server_side_state),
            id_cookie: Some(self.id_cookie),
        }
    }

    fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    fn skip(&self, case: &HttpCase) -> Option<String> {
        crate::case::Abilities {
            capabilities: self.store_capabilities,
            manual_clock: false,
            non_utf8_headers: self.non_utf8_headers,
            server_side_state: self.server_side_state,
            id_cookie: self.id_cookie,
        }
        .skip(case.info.needs, &self.name)
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
    /// The suite declared that the cookie value is the session ID.
    id_cookie: bool,
}

impl HttpCtx {
    /// A client with an empty jar.
    pub(crate) fn client(&self) -> Client {
        Client::new(self.addr, self.config.cookie_name())
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// See [`HttpSuite::id_cookie`].
    pub(crate) fn id_cookie(&self) -> bool {
        self.id_cookie
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
