//! The kit tests its HTTP suite: each deliberately broken server must fail
//! the named cases, and the reference server must pass them all.

mod common;

use common::Flaw;
use session_conformance::{HttpSuite, ServerSpec, Status};
use session_core::{MemoryStore, SessionStore};

async fn failed(flaw: Option<Flaw>) -> Vec<String> {
    let suite = HttpSuite::new(
        format!("self-test-http-{flaw:?}"),
        move |spec: ServerSpec| common::start(spec, flaw),
    )
    .store_capabilities(MemoryStore::new().capabilities());
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

/// One test per broken server: it must fail each case named. A row marked
/// `#[ignore = "blind spot: ..."]` is a flaw no case catches reliably yet;
/// it stays here, runnable with `--ignored`, until the kit gains the case.
macro_rules! caught {
    ($($(#[$attr:meta])* $test:ident: $flaw:ident => [$($case:literal),+];)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn $test() {
                let failed = failed(Some(Flaw::$flaw)).await;
                for case in [$($case),+] {
                    assert!(failed.iter().any(|f| f.starts_with(case)), "{:?} was not caught by {case}; failed: {failed:#?}", Flaw::$flaw);
                }
            }
        )+

        /// Every flaw has a row: a new `Flaw` without one does not compile.
        #[allow(dead_code)]
        fn every_flaw_has_a_row(flaw: Flaw) {
            match flaw {
                $(Flaw::$flaw => {})+
            }
        }
    };
}

caught! {
    // adapter.core-decides
    adopts_client_ids: AdoptsClientIds => ["HX-BAD-001", "HX-BAD-002"];
    lowercases_the_cookie_value: LowercasesTheCookieValue => ["HX-BAD-008"];
    // adapter.load.every-field
    first_cookie_field_only: FirstCookieFieldOnly => ["HX-HDR-001"];
    skips_non_utf8_cookie_fields: SkipsNonUtf8CookieFields => ["HX-HDR-003"];
    skips_oversized_cookie_fields: SkipsOversizedCookieFields => ["HX-HDR-004"];
    drops_fields_with_malformed_pairs: DropsFieldsWithMalformedPairs => ["HX-HDR-002"];
    cookie_jar_keeps_the_last_duplicate: CookieJarKeepsTheLastDuplicate => ["HX-BAD-009"];
    // adapter.nothing-else
    loads_eagerly: LoadsEagerly => ["HX-NOP-001"];
    always_varies: AlwaysVaries => ["HX-NOP-001"];
    // adapter.concurrent
    shares_handles_across_requests: SharesHandlesAcrossRequests => ["HX-CON-001"];
    // adapter.finish.status
    saves_on_5xx: SavesOn5xx => ["HX-ERR-001", "HX-ERR-002"];
    non_success_is_failure: NonSuccessIsFailure => ["HX-ERR-003", "HX-ERR-004"];
    // adapter.finish.handler-errors
    skips_finish_on_handler_errors: SkipsFinishOnHandlerErrors => ["HX-ERR-003", "HX-VRY-002"];
    drops_the_cookie_on_4xx: DropsTheCookieOn4xx => ["HX-ERR-003"];
    // adapter.finish.every-request
    skips_finish_when_untouched: SkipsFinishWhenUntouched => ["HX-SER-001"];
    // adapter.set-cookie
    no_deletion_cookie_on_flush: NoDeletionCookie => ["HX-FLS-001", "HX-AUT-004"];
    inserts_set_cookie: InsertsSetCookie => ["HX-HDR-006"];
    folds_set_cookies: FoldsSetCookies => ["HX-HDR-006"];
    rerenders_the_cookie: RerendersTheCookie => ["HX-SET-002", "HX-SET-003", "HX-FLS-002", "HX-SEC-001", "HX-SEC-002", "HX-SEC-003"];
    skips_unchanged_cookies: SkipsUnchangedCookies => ["HX-SET-005", "HX-SER-001", "HX-EXP-001"];
    // adapter.vary
    no_vary: NoVary => ["HX-RD-001", "HX-VRY-001"];
    inserts_vary: InsertsVary => ["HX-HDR-005"];
    vary_only_on_2xx: VaryOnlyOn2xx => ["HX-VRY-002"];
    vary_only_with_a_cookie: VaryOnlyWithACookie => ["HX-RD-001", "HX-RD-002"];
    // adapter.errors
    finish_errors_are_500: FinishErrorsAre500 => ["HX-CON-004"];
    ignores_finish_errors: IgnoresFinishErrors => ["HX-CON-004"];
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
