//! Reachability never hides a broken implementation: only a connection-level
//! failure (a factory error, a store error of kind `Unavailable`, a server
//! that does not answer) makes it unavailable. Anything else means it is
//! reachable, and the cases fail.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use session_conformance::{CaseReport, HttpSuite, Namespace, ServerSpec, Status, StoreSuite};
use session_core::{Error, MemoryStore, Record, SessionId, SessionStore, async_trait};

/// `MemoryStore`, except that `load` of an unknown ID fails instead of
/// answering `None`.
#[derive(Debug)]
struct FailsOnUnknown {
    inner: MemoryStore,
    /// Fail with kind `Unavailable` (a lost connection) instead of `Backend`.
    unavailable: bool,
}

#[async_trait]
impl SessionStore for FailsOnUnknown {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        self.inner.create(record).await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        match self.inner.load(id).await? {
            Some(record) => Ok(Some(record)),
            None if self.unavailable => Err(Error::unavailable("connection reset by peer")),
            None => Err(Error::backend("no such key")),
        }
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        self.inner.save(record).await
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.inner.delete(id).await
    }
}

fn store_suite(unavailable: bool) -> StoreSuite {
    StoreSuite::new(
        "self-test-fails-on-unknown",
        move |ns: Namespace| async move {
            Ok::<_, Infallible>(FailsOnUnknown {
                inner: MemoryStore::with_clock(ns.clock()),
                unavailable,
            })
        },
    )
    .manual_clock(true)
}

fn statuses(rows: &[CaseReport]) -> String {
    rows.iter()
        .map(|r| format!("{} {:?} {:?}\n", r.id, r.status, r.message))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_load_fails_is_reachable_and_fails() {
    let rows = store_suite(false).run_requiring(false).await;
    assert!(
        rows.iter().all(|r| r.status != Status::Unavailable),
        "a Backend error is an answer, not an unreachable backend:\n{}",
        statuses(&rows)
    );
    let lod = rows
        .iter()
        .find(|r| r.id == "ST-LOD-001")
        .expect("the case exists");
    assert_eq!(lod.status, Status::Failed, "{}", statuses(&rows));
    assert!(
        lod.message
            .as_deref()
            .unwrap_or_default()
            .contains("no such key"),
        "{lod:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_load_is_unavailable_is_unavailable() {
    let rows = store_suite(true).run_requiring(false).await;
    assert!(
        rows.iter().all(|r| r.status == Status::Unavailable),
        "{}",
        statuses(&rows)
    );
    let message = rows[0].message.as_deref().unwrap_or_default();
    assert!(message.contains("connection reset by peer"), "{message}");
    let rows = store_suite(true).run_requiring(true).await;
    assert!(rows.iter().all(|r| r.status == Status::Failed));
}

/// A server that answers 500 to everything, probe routes included.
async fn broken_server(_spec: ServerSpec) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    hyper::Response::builder()
                        .status(500)
                        .body(Full::new(Bytes::from_static(b"broken")))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_answers_500_is_reachable_and_fails() {
    let rows = HttpSuite::new("self-test-http-500", broken_server)
        .run_requiring(false)
        .await;
    assert!(
        rows.iter().all(|r| r.status != Status::Unavailable),
        "a server that answers is reachable:\n{}",
        statuses(&rows)
    );
    assert!(
        rows.iter()
            .any(|r| r.id == "HX-SET-001" && r.status == Status::Failed),
        "{}",
        statuses(&rows)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_listen_is_unavailable() {
    let rows = HttpSuite::new("self-test-http-closed", |_spec: ServerSpec| async {
        // An address nothing listens on any more.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        listener.local_addr()
    })
    .run_requiring(false)
    .await;
    assert!(
        rows.iter().all(|r| r.status == Status::Unavailable),
        "{}",
        statuses(&rows)
    );
}
