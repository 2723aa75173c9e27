//! The kit tests its HTTP suite: each deliberately broken server must fail
//! the named cases, and the reference server must pass them all.

mod common;

use common::Flaw;
use session_conformance::{HttpSuite, ServerSpec, Status};

async fn failed(flaw: Option<Flaw>) -> Vec<String> {
    let suite = HttpSuite::new(
        format!("self-test-http-{flaw:?}"),
        move |spec: ServerSpec| common::start(spec, flaw),
    );
    let rows = suite.run_requiring(true).await;
    assert!(
        rows.len() >= 30,
        "the suite has {} HTTP cases, fewer than 30",
        rows.len()
    );
    rows.into_iter()
        .filter(|r| r.status != Status::Passed)
        .map(|r| format!("{} {:?}", r.id, r.message))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_passes_every_case() {
    let failed = failed(None).await;
    assert!(
        failed.is_empty(),
        "the reference server failed: {failed:#?}"
    );
}

macro_rules! caught {
    ($($test:ident: $flaw:ident => [$($case:literal),+];)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let failed = failed(Some(Flaw::$flaw)).await;
            for case in [$($case),+] {
                assert!(failed.iter().any(|f| f.starts_with(case)), "{:?} was not caught by {case}; failed: {failed:#?}", Flaw::$flaw);
            }
        }
    )+};
}

caught! {
    adopts_client_ids: AdoptsClientIds => ["HX-BAD-001", "HX-BAD-002"];
    no_deletion_cookie_on_flush: NoDeletionCookie => ["HX-FLS-001", "HX-AUT-004"];
    saves_on_5xx: SavesOn5xx => ["HX-ERR-001", "HX-ERR-002"];
    no_vary: NoVary => ["HX-RD-001", "HX-VRY-001"];
}

#[tokio::test]
async fn a_server_that_cannot_start_is_unavailable_never_passed() {
    let suite = HttpSuite::new("self-test-http-down", |_spec: ServerSpec| async {
        Err::<std::net::SocketAddr, _>("address in use")
    });
    let rows = suite.run_requiring(false).await;
    assert!(
        rows.iter().all(|r| r.status == Status::Unavailable),
        "{rows:#?}"
    );
    let rows = suite.run_requiring(true).await;
    assert!(rows.iter().all(|r| r.status == Status::Failed), "{rows:#?}");
}
