//! Outages of a real store server, with the demo app in front through
//! each adapter (poem, warp, rocket), each with and without
//! `save_every_request`: six apps per store, each with its own store (its
//! own pool), all fed by visitors that keep writing.
//!
//! For Redis and for PostgreSQL, each a throwaway instance on a free port
//! (never the shared servers), one test:
//!
//! 1. **kill**: with traffic flowing the server gets SIGKILL (PostgreSQL:
//!    the postmaster and every backend). While it is down (probed 0.1 s
//!    after the kill and again after a deadline and a half), routes that
//!    use the session answer 503 within the store's deadline (+ [`SLACK`]),
//!    and in fact fail fast (within [`FAIL_FAST`]) since the server's port
//!    refuses connections; `/probe/noop` answers 200, with or without a
//!    session cookie, with and without `save_every_request`.
//! 2. **restart** on the same port: every app serves sessions again
//!    without being restarted, within [`recovery_bound`]. PostgreSQL ran
//!    crash recovery (its log says so) and keeps
//!    every acknowledged write (a value set before the kill reads back,
//!    every visitor's counter goes on from its last acknowledged value in
//!    the same session). Redis runs with persistence off (`--save ''
//!    --appendonly no`), so the kill loses every session: for Redis the
//!    test asserts only that requests succeed again, and prints how many
//!    visitors lost their session.
//! 3. **freeze** (SIGSTOP, then SIGCONT): the server keeps its port open
//!    but answers nothing, the case a deadline exists for. Routes that use
//!    the session answer 503 within the deadline (+ [`SLACK`]), noop routes
//!    200; after the thaw everything succeeds and, this time, no data is
//!    lost on either store.
//!
//! Throughout: every request gets an HTTP answer (no reset or closed
//! connection), no status other than 200 and 503 (and, for Redis around
//! the kill, 400 when a save finds its session gone after the restart),
//! no request waits longer than the deadline + [`SLACK`], every app's
//! server task is still running at the end, and no thread of the app
//! panicked.
//!
//! Each store gets its own deadline of [`DEADLINE`] (Redis: connect and
//! command timeouts; PostgreSQL: half to acquire a connection, half per
//! statement). The two tests run in parallel, each on its own runtime; the
//! whole file takes about 15 s (PostgreSQL's initdb included).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::servers::{self, Answer, App, Client, Latencies, NoAnswer, ms};
use session_core::{Config, SessionStore};

const FRAMEWORKS: [&str; 5] = ["poem", "warp", "rocket", "axum", "actix"];

/// Visitors writing through each app all along.
const WRITERS_PER_APP: usize = 2;

/// The deadline the stores are configured with (connect, command or
/// statement timeouts): short, so that the test is.
const DEADLINE: Duration = Duration::from_millis(1000);

/// What a request may take beyond the store's deadline: the rest of the
/// request's work, and scheduling on a two-core machine running six apps,
/// their visitors and the store server.
const SLACK: Duration = Duration::from_millis(1000);

/// How soon a route that uses the session must answer 503 when the
/// server's port refuses connections ("fail fast when the server says
/// no"): no waiting for a deadline.
const FAIL_FAST: Duration = Duration::from_millis(500);

/// How long a restarted or thawed server may take to serve sessions again
/// through every app: a reconnect backoff that has grown to its ceiling
/// (half the deadline, for Redis), a connection to open (PostgreSQL: up to
/// the deadline, crash recovery included), one deadline for a request that
/// was already waiting, plus [`SLACK`].
fn recovery_bound(deadline: Duration) -> Duration {
    deadline * 2 + SLACK
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Redis,
    Postgres,
}

enum Server {
    Redis(servers::Redis),
    Postgres(servers::Postgres),
}

impl Server {
    async fn start(kind: Kind) -> Server {
        match kind {
            Kind::Redis => Server::Redis(servers::Redis::start().await),
            Kind::Postgres => Server::Postgres(servers::Postgres::start().await),
        }
    }

    fn url(&self) -> String {
        match self {
            Server::Redis(s) => s.url(),
            Server::Postgres(s) => s.url(),
        }
    }

    fn kill(&mut self) {
        match self {
            Server::Redis(s) => s.kill(),
            Server::Postgres(s) => s.kill(),
        }
    }

    async fn restart(&mut self) {
        match self {
            Server::Redis(s) => s.restart().await,
            Server::Postgres(s) => s.restart().await,
        }
    }

    fn freeze(&mut self) {
        match self {
            Server::Redis(s) => s.freeze(),
            Server::Postgres(s) => s.freeze(),
        }
    }

    fn thaw(&mut self) {
        match self {
            Server::Redis(s) => s.thaw(),
            Server::Postgres(s) => s.thaw(),
        }
    }
}

/// A store for app number `n` on the throwaway server, and its deadline.
async fn store(kind: Kind, url: &str, n: usize) -> (Arc<dyn SessionStore>, Duration) {
    match kind {
        Kind::Redis => {
            let (store, deadline) = servers::redis_store(url, &format!("outage{n}:"), DEADLINE)
                .await
                .expect("connect to the throwaway Redis");
            (Arc::new(store), deadline)
        }
        Kind::Postgres => {
            let (store, deadline) = servers::postgres_store(url, "sessions", DEADLINE)
                .await
                .expect("connect to the throwaway PostgreSQL");
            (Arc::new(store), deadline)
        }
    }
}

/// One request of a writer.
#[derive(Debug)]
struct Event {
    sent: Instant,
    done: Instant,
    outcome: Result<Answer, NoAnswer>,
    /// The session cookie after the answer.
    cookie: Option<String>,
}

/// A visitor that keeps incrementing its own counter until told to stop.
async fn writer(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> Vec<Event> {
    let mut client = Client::keep_alive(addr).with_timeout(Duration::from_secs(30));
    let mut events = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        let outcome = client.post("/probe/incr?k=n").await;
        events.push(Event {
            sent,
            done: Instant::now(),
            outcome,
            cookie: client.cookie().map(str::to_owned),
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    events
}

/// A request sent while the server is down or frozen, and what it must
/// answer.
#[derive(Debug, Clone, Copy)]
struct Probe {
    name: &'static str,
    method: &'static str,
    target: &'static str,
    /// Sent with the witness's session cookie, or with none.
    with_cookie: bool,
    /// Uses the session (expects 503) or not (expects 200).
    uses_session: bool,
}

const PROBES: [Probe; 5] = [
    Probe {
        name: "read",
        method: "GET",
        target: "/probe/get?k=before",
        with_cookie: true,
        uses_session: true,
    },
    Probe {
        name: "write",
        method: "POST",
        target: "/probe/incr?k=during",
        with_cookie: true,
        uses_session: true,
    },
    Probe {
        name: "new visitor write",
        method: "POST",
        target: "/probe/set?k=a&v=1",
        with_cookie: false,
        uses_session: true,
    },
    Probe {
        name: "noop, cookie",
        method: "GET",
        target: "/probe/noop",
        with_cookie: true,
        uses_session: false,
    },
    Probe {
        name: "noop, no cookie",
        method: "GET",
        target: "/probe/noop",
        with_cookie: false,
        uses_session: false,
    },
];

struct Target {
    app: App,
    save_every_request: bool,
    /// A visitor with a value set before any fault.
    witness: Client,
}

impl Target {
    fn label(&self) -> String {
        format!(
            "{}{}",
            self.app.framework,
            if self.save_every_request {
                "+save_every_request"
            } else {
                ""
            }
        )
    }
}

/// Sends every probe to every app at once; checks statuses and times.
async fn probe_all(
    targets: &[Target],
    phase: &str,
    deadline: Duration,
    fail_fast: bool,
    failures: &mut Vec<String>,
) -> Latencies {
    let mut tasks = Vec::new();
    for target in targets {
        for probe in PROBES {
            let mut client = if probe.with_cookie {
                target.witness.one_shot_copy()
            } else {
                Client::one_shot(target.app.addr)
            }
            .with_timeout(Duration::from_secs(30));
            let label = target.label();
            let save_every_request = target.save_every_request;
            tasks.push(tokio::spawn(async move {
                let outcome = client.send(probe.method, probe.target).await;
                (label, save_every_request, probe, outcome)
            }));
        }
    }
    let mut latencies = Latencies::default();
    println!("  {phase}: probes");
    for task in tasks {
        let (label, save_every_request, probe, outcome) = task.await.expect("probe task");
        let expected = if probe.uses_session { 503 } else { 200 };
        match outcome {
            Err(no) => {
                println!(
                    "    {label:<28} {:<18} NO ANSWER after {:.0} ms: {}",
                    probe.name,
                    ms(no.elapsed),
                    no.what
                );
                failures.push(format!(
                    "{phase}: {label}: {} got no answer after {:.0} ms: {}",
                    probe.name,
                    ms(no.elapsed),
                    no.what
                ));
            }
            Ok(answer) => {
                latencies.push(answer.elapsed);
                println!(
                    "    {label:<28} {:<18} {} in {:>7.1} ms",
                    probe.name,
                    answer.status,
                    ms(answer.elapsed)
                );
                if answer.status != expected {
                    failures.push(format!(
                        "{phase}: {label}: {} answered {} (expected {expected}) after {:.0} ms: {}",
                        probe.name,
                        answer.status,
                        ms(answer.elapsed),
                        answer.body
                    ));
                }
                if answer.elapsed > deadline + SLACK {
                    failures.push(format!(
                        "{phase}: {label}: {} took {:.0} ms, more than the deadline {:.0} ms \
                         + slack {:.0} ms",
                        probe.name,
                        ms(answer.elapsed),
                        ms(deadline),
                        ms(SLACK)
                    ));
                }
                // Without a store call (no cookie, or a cookie but no
                // renewal) there is nothing to wait for; with a refused
                // port there is nothing to wait for either.
                let store_call = probe.uses_session || (probe.with_cookie && save_every_request);
                let must_be_fast = !store_call || fail_fast;
                if must_be_fast && answer.elapsed > FAIL_FAST {
                    failures.push(format!(
                        "{phase}: {label}: {} took {:.0} ms; {} it must answer within {:.0} ms",
                        probe.name,
                        ms(answer.elapsed),
                        if store_call {
                            "the server refuses connections (fail fast):"
                        } else {
                            "it needs no store call:"
                        },
                        ms(FAIL_FAST)
                    ));
                }
            }
        }
    }
    latencies
}

/// Polls every app with its witness until a session read answers 200;
/// returns the time each took.
async fn recover(
    targets: &[Target],
    phase: &str,
    bound: Duration,
    failures: &mut Vec<String>,
) -> Vec<Duration> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for target in targets {
        let mut client = target
            .witness
            .one_shot_copy()
            .with_timeout(Duration::from_secs(30));
        let label = target.label();
        tasks.push(tokio::spawn(async move {
            loop {
                if let Ok(answer) = client.get("/probe/get?k=after").await
                    && answer.status == 200
                {
                    return (label, Some(started.elapsed()));
                }
                if started.elapsed() > Duration::from_secs(60) {
                    return (label, None);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        let (label, took) = task.await.expect("recovery task");
        match took {
            Some(took) => {
                println!(
                    "  {phase}: {label} serves sessions again after {:.0} ms",
                    ms(took)
                );
                if took > bound {
                    failures.push(format!(
                        "{phase}: {label} served sessions again only after {:.0} ms \
                         (bound {:.0} ms)",
                        ms(took),
                        ms(bound)
                    ));
                }
                times.push(took);
            }
            None => failures.push(format!(
                "{phase}: {label} did not serve sessions again within 60 s"
            )),
        }
    }
    times
}

/// Reads `k` with the witness's cookie.
async fn witness_value(target: &Target, key: &str) -> Result<serde_json::Value, String> {
    let mut client = target.witness.one_shot_copy();
    match client.get(&format!("/probe/get?k={key}")).await {
        Ok(answer) if answer.status == 200 => Ok(answer.json()["value"].clone()),
        Ok(answer) => Err(format!("{} {}", answer.status, answer.body)),
        Err(no) => Err(no.what),
    }
}

/// When each fault began and ended.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    started: Instant,
    deadline: Duration,
    killed: Instant,
    restarted: Instant,
    /// Every app served sessions again (or the recovery bound passed).
    recovered: Instant,
    frozen: Instant,
    thawed: Instant,
    stopped: Instant,
}

impl Timeline {
    /// Whether a request from `sent` to `done` overlapped a fault: from
    /// the kill until every app recovered, from the freeze until the
    /// thaw's recovery bound.
    fn in_fault(&self, sent: Instant, done: Instant) -> bool {
        self.in_kill(sent, done)
            || (sent <= self.thawed + recovery_bound(self.deadline) && done >= self.frozen)
    }

    fn in_kill(&self, sent: Instant, done: Instant) -> bool {
        sent <= self.recovered && done >= self.killed
    }
}

/// The writers' traffic, checked.
#[derive(Debug, Default)]
struct Traffic {
    requests: usize,
    ok: usize,
    unavailable: usize,
    interrupted: usize,
    no_answer: usize,
    all: Latencies,
    during_faults: Latencies,
    lost_sessions: usize,
}

impl Traffic {
    /// Checks one writer's requests.
    fn check(
        &mut self,
        kind: Kind,
        label: &str,
        events: &[Event],
        time: &Timeline,
        failures: &mut Vec<String>,
    ) {
        let deadline = time.deadline;
        let mut last_value: Option<i64> = None;
        let mut last_cookie: Option<&str> = None;
        let mut last_ack: Option<Instant> = None;
        let mut ok_at_end = 0usize;
        for event in events {
            self.requests += 1;
            let answer = match &event.outcome {
                Err(no) => {
                    self.no_answer += 1;
                    failures.push(format!(
                        "traffic: {label}: no answer after {:.0} ms: {}",
                        ms(no.elapsed),
                        no.what
                    ));
                    continue;
                }
                Ok(answer) => answer,
            };
            self.all.push(answer.elapsed);
            let in_fault = time.in_fault(event.sent, event.done);
            if in_fault {
                self.during_faults.push(answer.elapsed);
            }
            if answer.elapsed > deadline + SLACK {
                failures.push(format!(
                    "traffic: {label}: a write took {:.0} ms (deadline {:.0} ms + slack {:.0} ms), \
                     status {}",
                    ms(answer.elapsed),
                    ms(deadline),
                    ms(SLACK),
                    answer.status
                ));
            }
            match answer.status {
                200 => {
                    self.ok += 1;
                    if event.sent + Duration::from_millis(500) >= time.stopped {
                        ok_at_end += 1;
                    }
                    let Some(value) = answer.value() else {
                        failures.push(format!(
                            "traffic: {label}: 200 without a value: {}",
                            answer.body
                        ));
                        continue;
                    };
                    if let Some(last) = last_value
                        && value <= last
                    {
                        // The counter went back: an acknowledged write is
                        // gone. Only Redis (persistence off) may do that,
                        // and only across its restart.
                        let across_restart = last_ack.is_some_and(|at| at < time.restarted)
                            && event.done > time.restarted;
                        if kind == Kind::Redis && across_restart {
                            self.lost_sessions += 1;
                        } else {
                            failures.push(format!(
                                "traffic: {label}: the counter went from {last} back to {value}: \
                                 an acknowledged write was lost"
                            ));
                        }
                    }
                    if kind == Kind::Postgres
                        && let (Some(before), Some(now)) = (last_cookie, event.cookie.as_deref())
                        && before != now
                    {
                        failures.push(format!(
                            "traffic: {label}: the session changed across the outage"
                        ));
                    }
                    last_value = Some(value);
                    last_cookie = event.cookie.as_deref();
                    last_ack = Some(event.done);
                }
                503 => {
                    self.unavailable += 1;
                    if !in_fault {
                        failures.push(format!(
                            "traffic: {label}: 503 outside the outage (sent at {:.2} s, \
                             answered after {:.0} ms): {}",
                            event.sent.duration_since(time.started).as_secs_f64(),
                            ms(answer.elapsed),
                            answer.body
                        ));
                    }
                }
                400 if kind == Kind::Redis && time.in_kill(event.sent, event.done) => {
                    // Loaded before the kill, saved after the restart: the
                    // session is gone (persistence off), and a save never
                    // revives a session.
                    self.interrupted += 1;
                }
                other => failures.push(format!(
                    "traffic: {label}: status {other} (sent at {:.2} s, answered after \
                     {:.0} ms): {}",
                    event.sent.duration_since(time.started).as_secs_f64(),
                    ms(answer.elapsed),
                    answer.body
                )),
            }
        }
        if ok_at_end == 0 {
            failures.push(format!(
                "traffic: {label}: no successful request in the last 500 ms"
            ));
        }
    }
}

/// Starts the six apps (three frameworks, with and without
/// `save_every_request`), each with its own store, and gives each a
/// witness with a value set; returns them and the stores' deadline.
async fn start_apps(kind: Kind, url: &str) -> (Vec<Target>, Duration) {
    let mut targets = Vec::new();
    let mut deadline = Duration::ZERO;
    for framework in FRAMEWORKS {
        for save_every_request in [false, true] {
            let (store, store_deadline) = store(kind, url, targets.len()).await;
            deadline = deadline.max(store_deadline);
            let config = Config::default().with_save_every_request(save_every_request);
            let app = App::start(framework, store, config).await;
            let mut witness = Client::one_shot(app.addr);
            let target = format!("/probe/set?k=before&v={}", 1000 + targets.len());
            let set = witness
                .post(&target)
                .await
                .expect("the witness's first write gets an answer");
            assert_eq!(
                set.status, 200,
                "{framework}: the witness's write: {}",
                set.body
            );
            assert!(witness.cookie().is_some(), "{framework}: no cookie");
            targets.push(Target {
                app,
                save_every_request,
                witness,
            });
        }
    }
    (targets, deadline)
}

/// Reads back each witness's `key`, which must hold `base + i`; for Redis
/// after its kill, `lost` says the value is expected to be gone.
async fn check_witnesses(
    targets: &[Target],
    phase: &str,
    key: &str,
    base: usize,
    lost: bool,
    failures: &mut Vec<String>,
) {
    for (t, target) in targets.iter().enumerate() {
        let expected = serde_json::json!(base + t);
        match witness_value(target, key).await {
            Ok(value) if value == expected => {}
            Ok(value) if lost => println!(
                "  {phase}: {}: the witness's value is gone (Redis, persistence off): \
                 reads {value}",
                target.label()
            ),
            other => failures.push(format!(
                "{phase}: {}: the value acknowledged before the fault reads {other:?}, \
                 expected {expected}",
                target.label()
            )),
        }
    }
}

fn outage(kind: Kind) {
    let name = match kind {
        Kind::Redis => "outage-redis",
        Kind::Postgres => "outage-postgres",
    };
    let since = |start: Instant| start.elapsed().as_secs_f64();
    servers::runtime(name).block_on(async move {
        let started = Instant::now();
        let mut failures: Vec<String> = Vec::new();
        let mut server = Server::start(kind).await;
        println!(
            "{name}: server at {} (up in {:.1} s)",
            server.url(),
            since(started)
        );
        let (targets, deadline) = start_apps(kind, &server.url()).await;
        let bound = recovery_bound(deadline);
        println!(
            "{name}: store deadline {:.0} ms, slack {:.0} ms, fail fast {:.0} ms, \
             recovery bound {:.0} ms",
            ms(deadline),
            ms(SLACK),
            ms(FAIL_FAST),
            ms(bound)
        );

        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for (t, target) in targets.iter().enumerate() {
            for _ in 0..WRITERS_PER_APP {
                let task = tokio::spawn(writer(target.app.addr, stop.clone()));
                writers.push((t, task));
            }
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;

        // 1. Kill. Probe right after, and again once the apps' pools have
        // had a deadline and more to notice: both must fail fast.
        let killed = Instant::now();
        server.kill();
        println!("{name}: SIGKILL at {:.1} s", since(started));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut probes = probe_all(&targets, "down (+0.1 s)", deadline, true, &mut failures).await;
        let second = deadline + Duration::from_millis(500);
        if let Some(rest) = second.checked_sub(killed.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        let late = format!("down (+{:.1} s)", since(killed));
        probes.extend(&probe_all(&targets, &late, deadline, true, &mut failures).await);

        // 2. Restart.
        let restarted = Instant::now();
        server.restart().await;
        println!(
            "{name}: restarted after {:.1} s down (up in {:.0} ms)",
            restarted.duration_since(killed).as_secs_f64(),
            ms(restarted.elapsed())
        );
        let mut recovery = recover(&targets, "restart", bound, &mut failures).await;
        // Until then a writer may still be waiting for its pool.
        let recovered = Instant::now().max(restarted + bound);
        if let Server::Postgres(postgres) = &server {
            // The kill was a crash, not a shutdown: the restart recovered
            // from the WAL.
            let log = postgres.log_text();
            if !log.contains("automatic recovery in progress") {
                failures.push(format!(
                    "restart: PostgreSQL did not run crash recovery; its log:\n{log}"
                ));
            }
        }
        // Acknowledged before the kill, read after the restart.
        let lost = kind == Kind::Redis;
        check_witnesses(&targets, "restart", "before", 1000, lost, &mut failures).await;

        // A value for the freeze to keep, on both stores.
        let mut targets = targets;
        for (t, target) in targets.iter_mut().enumerate() {
            let set = target
                .witness
                .post(&format!("/probe/set?k=thawed&v={}", 2000 + t))
                .await;
            if !set.as_ref().is_ok_and(|answer| answer.status == 200) {
                failures.push(format!(
                    "restart: {}: a write after recovery failed: {set:?}",
                    target.label()
                ));
            }
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;

        // 3. Freeze; thaw after `hold` whatever the probes do, so that a
        // probe waiting for the server shows up as too slow rather than
        // hanging.
        let frozen = Instant::now();
        server.freeze();
        println!("{name}: SIGSTOP at {:.1} s", since(started));
        let hold = deadline + SLACK + Duration::from_secs(1);
        let frozen_probes = probe_all(&targets, "frozen", deadline, false, &mut failures);
        let (frozen_probes, ()) = tokio::join!(frozen_probes, tokio::time::sleep(hold));
        server.thaw();
        let thawed = Instant::now();
        println!(
            "{name}: SIGCONT after {:.1} s frozen",
            thawed.duration_since(frozen).as_secs_f64()
        );
        probes.extend(&frozen_probes);
        recovery.extend(recover(&targets, "thaw", bound, &mut failures).await);
        check_witnesses(&targets, "thaw", "thawed", 2000, false, &mut failures).await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        stop.store(true, Ordering::Relaxed);

        let time = Timeline {
            started,
            deadline,
            killed,
            restarted,
            recovered,
            frozen,
            thawed,
            stopped: Instant::now(),
        };
        let mut traffic = Traffic::default();
        for (t, task) in writers {
            let events = task.await.expect("writer task");
            traffic.check(kind, &targets[t].label(), &events, &time, &mut failures);
        }
        for target in &targets {
            if !target.app.alive() {
                failures.push(format!("{}: the server task ended", target.label()));
            }
        }
        let panics = servers::panics_in(name);
        for panic in &panics {
            failures.push(format!("panic in the app: {panic}"));
        }

        println!(
            "{name}: SUMMARY faults injected: 1 SIGKILL + restart, 1 SIGSTOP + SIGCONT; \
             writers {}, requests {}, 200 {}, 503 {}, 400 {}, no answer {}; \
             latency all {}; during faults {}; probes {} ({}); recovery max {:.0} ms; \
             sessions lost by the kill {}; panics {}; failures {}; total {:.1} s",
            targets.len() * WRITERS_PER_APP,
            traffic.requests,
            traffic.ok,
            traffic.unavailable,
            traffic.interrupted,
            traffic.no_answer,
            traffic.all.summary(),
            traffic.during_faults.summary(),
            probes.count(),
            probes.summary(),
            ms(recovery.iter().copied().max().unwrap_or_default()),
            traffic.lost_sessions,
            panics.len(),
            failures.len(),
            since(started)
        );
        if kind == Kind::Redis {
            println!(
                "{name}: Redis runs with persistence off: the kill lost every session (by \
                 design), so for Redis only the recovery is asserted after the kill"
            );
        }
        drop(targets);
        drop(server);
        assert!(
            failures.is_empty(),
            "{name}: {} failures:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    });
}

#[test]
fn redis_killed_and_frozen_under_traffic() {
    outage(Kind::Redis);
}

#[test]
fn postgres_killed_and_frozen_under_traffic() {
    outage(Kind::Postgres);
}
