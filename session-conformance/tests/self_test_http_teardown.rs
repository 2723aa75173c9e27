//! `HttpSuite::teardown` runs after the reachability check and after every
//! case, passed or not, with the very spec the factory got.

mod common;

use std::sync::{Arc, Mutex};

use session_conformance::{HttpSuite, ServerSpec, Status};

#[derive(Debug, Default)]
struct Log {
    started: Vec<String>,
    torn_down: Vec<String>,
}

fn suite(log: &Arc<Mutex<Log>>, flaw: Option<common::Flaw>, up: bool) -> HttpSuite {
    let started = Arc::clone(log);
    let torn_down = Arc::clone(log);
    HttpSuite::new("self-test-http-teardown", move |spec: ServerSpec| {
        started.lock().unwrap().started.push(spec.namespace.clone());
        async move {
            if !up {
                return Err(std::io::Error::other("address in use"));
            }
            common::start(spec, flaw).await
        }
    })
    .teardown(move |spec: ServerSpec| {
        let log = Arc::clone(&torn_down);
        async move {
            log.lock().unwrap().torn_down.push(spec.namespace);
        }
    })
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_and_the_reachability_check_are_torn_down() {
    let log = Arc::new(Mutex::new(Log::default()));
    // A broken server, so that failed cases are torn down too.
    let rows = suite(&log, Some(common::Flaw::NoVary), true)
        .run_requiring(true)
        .await;
    assert!(rows.iter().any(|r| r.status == Status::Failed));
    assert!(rows.iter().any(|r| r.status == Status::Passed));
    let log = log.lock().unwrap();
    let ran = rows.iter().filter(|r| r.status != Status::Ignored).count();
    assert_eq!(
        log.torn_down.len(),
        ran + 1,
        "one teardown per case that ran plus one for the reachability check"
    );
    assert_eq!(
        sorted(log.torn_down.clone()),
        sorted(log.started.clone()),
        "each teardown gets the spec of a server the factory started"
    );
}

#[tokio::test]
async fn the_reachability_check_is_torn_down_when_the_server_cannot_start() {
    let log = Arc::new(Mutex::new(Log::default()));
    let rows = suite(&log, None, false).run_requiring(false).await;
    assert!(rows.iter().all(|r| r.status == Status::Unavailable));
    let log = log.lock().unwrap();
    assert_eq!(log.started.len(), 1);
    assert_eq!(log.torn_down, log.started);
}
