//! HTTP benchmarks: each adapter's routes against the same framework
//! without a session layer, and the peers (axum + tower-sessions, poem's
//! `ServerSession`) against theirs, over real loopback connections.
//!
//! Every server answers four routes:
//!
//! | route | with a session layer |
//! |---|---|
//! | `/counter` | reads a `u64` counter, writes it + 1, answers it |
//! | `/big` | the same in a session that also holds ~1 KiB of JSON strings (added by the visitor's first request) |
//! | `/read` | reads the counter, writes nothing |
//! | `/untouched` | never touches the session, answers a constant |
//!
//! Our layers run over `session_core::MemoryStore`, the peers over their
//! own in-memory stores, so the numbers measure the layer, not a database.
//! The variants without sessions are described in `apps`.
//!
//! The client ([`client::Visitors`]) runs 1 or 32 tasks, each a visitor
//! with its own kept-alive HTTP/1.1 connection and cookie jar. A visitor's
//! first request creates its session (through `/counter` for the read and
//! untouched routes, so they run with a live session cookie, the common
//! case of a logged-in visitor fetching a page that needs no session);
//! every answer must be 200, and on a session server the counter must
//! start at 1 and go up by one per request (stay put on `/read`), so a
//! cookie that does not come back fails the run instead of measuring empty
//! sessions.
//!
//! Each point runs a framework's variants in interleaved rounds (see
//! [`crate::driver::interleave`]), the variant without sessions in the
//! middle so that each session variant runs next to it in every round,
//! and reports requests per second and the median of the per-round
//! ratios session ÷ without sessions.
//!
//! How `/untouched` measures the cost of a layer a route never uses: the
//! same requests per second ratio at the same connection count; 1 − ratio
//! is the cost, and the row's spread (the range of the per-round ratios)
//! is what this machine can resolve: a ratio whose spread straddles 1.00
//! means no cost the benchmark can see.
//!
//! On a 2-core machine the client and the servers share the cores, so a
//! ratio also carries the client's work (the same on both sides): a layer
//! that costs x % of the server's time shows as less than x %.

mod apps;
mod client;
mod cpu;
mod servers;

use crate::driver::{BenchError, Named, Side, interleave};
use crate::report::{self, Row};
use crate::{Args, CONCURRENCY};

use self::client::Visitors;

/// The body of `/untouched` in every server.
pub(crate) const UNTOUCHED: &str = "ok";

/// The routes every server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Read a counter, write it + 1.
    Counter,
    /// The same in a ~1 KiB session.
    Big,
    /// Read the counter only.
    Read,
    /// Never touch the session.
    Untouched,
}

impl Route {
    const ALL: [Route; 4] = [Route::Counter, Route::Big, Route::Read, Route::Untouched];

    /// The path measured.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Route::Counter => "/counter",
            Route::Big => "/big",
            Route::Read => "/read",
            Route::Untouched => "/untouched",
        }
    }

    /// The path of a visitor's first request, which creates its session.
    pub(crate) fn first_path(self) -> &'static str {
        match self {
            Route::Big => "/big",
            Route::Counter | Route::Read | Route::Untouched => "/counter",
        }
    }

    /// What a row says the route does.
    fn label(self) -> &'static str {
        match self {
            Route::Counter => "/counter (read + write a u64)",
            Route::Big => "/big (counter in a 1 KiB session)",
            Route::Read => "/read (read only)",
            Route::Untouched => {
                "/untouched (never touches the session: cost = 1 − ratio, resolvable to about the spread)"
            }
        }
    }
}

/// The frameworks with an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framework {
    Poem,
    Warp,
    Rocket,
    Axum,
    Actix,
}

impl Framework {
    const ALL: [Framework; 5] = [
        Framework::Poem,
        Framework::Warp,
        Framework::Rocket,
        Framework::Axum,
        Framework::Actix,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Framework::Poem => "poem",
            Framework::Warp => "warp",
            Framework::Rocket => "rocket",
            Framework::Axum => "axum",
            Framework::Actix => "actix-web",
        }
    }

    /// The variants measured, the one without sessions in the middle (see
    /// the module docs).
    fn variants(self) -> &'static [Variant] {
        match self {
            Framework::Poem | Framework::Axum => &[Variant::Ours, Variant::None, Variant::Peer],
            Framework::Warp | Framework::Rocket | Framework::Actix => {
                &[Variant::Ours, Variant::None]
            }
        }
    }

    /// How a row names `variant` of this framework.
    fn side(self, variant: Variant) -> &'static str {
        match (self, variant) {
            (_, Variant::None) => match self {
                Framework::Poem => "poem without sessions",
                Framework::Warp => "warp without sessions",
                Framework::Rocket => "rocket without sessions",
                Framework::Axum => "axum without sessions",
                Framework::Actix => "actix-web without sessions",
            },
            (Framework::Poem, Variant::Ours) => "session-poem",
            (Framework::Warp, Variant::Ours) => "session-warp",
            (Framework::Rocket, Variant::Ours) => "session-rocket",
            (Framework::Axum, Variant::Ours) => "session-tower (axum)",
            (Framework::Actix, Variant::Ours) => "session-actix",
            (Framework::Poem, Variant::Peer) => "poem ServerSession + MemoryStorage",
            (Framework::Axum, Variant::Peer) => "tower-sessions 0.14 + MemoryStore",
            (_, Variant::Peer) => "a peer",
        }
    }
}

/// A server's session layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// Our adapter over `MemoryStore`.
    Ours,
    /// No session layer at all.
    None,
    /// The framework's best-known other session layer, in memory.
    Peer,
}

impl Variant {
    fn short(self) -> &'static str {
        match self {
            Variant::Ours => "ours",
            Variant::None => "none",
            Variant::Peer => "peer",
        }
    }
}

/// Every framework's points: each session variant ÷ the framework without
/// sessions, for every route, at every concurrency.
pub(crate) async fn run(args: &Args, cores: usize) -> Result<Vec<Row>, BenchError> {
    let tasks = CONCURRENCY.into_iter().max().unwrap_or(1);
    let mut rows = Vec::new();
    for framework in Framework::ALL {
        let mut servers = Vec::new();
        for variant in framework.variants() {
            match apps::start(framework, *variant, cores).await {
                Ok(server) => servers.push((*variant, server)),
                Err(e) => {
                    stop_all(servers).await;
                    return Err(e);
                }
            }
        }
        let measured = points(framework, &servers, args, cores, tasks).await;
        stop_all(servers).await;
        rows.extend(measured?);
    }
    Ok(rows)
}

async fn points(
    framework: Framework,
    servers: &[(Variant, servers::Server)],
    args: &Args,
    cores: usize,
    tasks: usize,
) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for route in Route::ALL {
        let sides = servers
            .iter()
            .map(|(variant, server)| {
                let name = framework.side(*variant);
                let visitors =
                    Visitors::new(name, server.addr(), route, *variant != Variant::None, tasks)?;
                Ok((*variant, Named::new(name, visitors)))
            })
            .collect::<Result<Vec<_>, BenchError>>()?;
        let baseline = sides
            .iter()
            .position(|(variant, _)| *variant == Variant::None)
            .ok_or("a framework without its variant without sessions")?;
        for workers in CONCURRENCY {
            // Fresh per point, so each records only this point's rounds.
            let accounted: Vec<cpu::Accounted<'_>> = sides
                .iter()
                .map(|(variant, side)| {
                    let threads = format!("{}-{}", framework.name(), variant.short());
                    cpu::Accounted::new(side as &dyn Side, threads)
                })
                .collect();
            let dyn_sides: Vec<&dyn Side> = accounted.iter().map(|a| a as &dyn Side).collect();
            let what = format!("HTTP {} {}", framework.name(), route.label());
            let load = report::load_average();
            eprintln!("{what}, c={workers}: {} rounds …", args.rounds);
            let rounds = interleave(&dyn_sides, workers, args.rounds, args.length).await?;
            let (Some(base), Some(base_cpu)) = (rounds.get(baseline), accounted.get(baseline))
            else {
                continue;
            };
            let base_cpu = base_cpu.per_cpu_second();
            for (((variant, side), ours), cpu) in sides.iter().zip(&rounds).zip(&accounted) {
                if *variant == Variant::None {
                    continue;
                }
                let versus = format!("{} ÷ {}", side.name(), framework.side(Variant::None));
                rows.push(Row::new(
                    &format!("{what}: {versus}"),
                    workers,
                    ours.clone(),
                    Some(base.clone()),
                    load,
                    cores,
                ));
                // The server's own cost, apart from the client's: requests
                // per second of server CPU (see `cpu`).
                if let (Some(ours), Some(base)) = (cpu.per_cpu_second(), base_cpu.clone()) {
                    rows.push(Row::new(
                        &format!(
                            "HTTP {} {}, server requests per CPU-second: {versus}",
                            framework.name(),
                            route.path()
                        ),
                        workers,
                        ours,
                        Some(base),
                        load,
                        cores,
                    ));
                }
            }
        }
    }
    Ok(rows)
}

/// Stops every server, reporting (not returning) the failures: the run's
/// own result matters more than a server that failed on its way out.
async fn stop_all(servers: Vec<(Variant, servers::Server)>) {
    for (_, server) in servers {
        let addr = server.addr();
        if let Err(e) = server.stop().await {
            eprintln!("session-bench: stopping the server at {addr}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_framework_has_a_baseline_in_the_middle_and_names_its_sides() {
        for framework in Framework::ALL {
            let variants = framework.variants();
            assert_eq!(variants.get(1), Some(&Variant::None), "{framework:?}");
            for variant in variants {
                assert_ne!(framework.side(*variant), "a peer", "{framework:?}");
            }
        }
    }

    #[test]
    fn the_first_request_of_every_route_creates_a_session() {
        for route in Route::ALL {
            assert!(
                matches!(route.first_path(), "/counter" | "/big"),
                "{route:?}"
            );
        }
        assert_eq!(Route::Big.first_path(), Route::Big.path());
    }

    /// Every server starts, keeps a visitor's session on every route (the
    /// client's checks pass) and stops.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_server_answers_every_route_and_stops() {
        use crate::driver::Workload;

        for framework in Framework::ALL {
            for variant in framework.variants() {
                let server = apps::start(framework, *variant, 1).await.unwrap();
                for route in Route::ALL {
                    let name = framework.side(*variant);
                    let sessions = *variant != Variant::None;
                    let visitors = Visitors::new(name, server.addr(), route, sessions, 2).unwrap();
                    for n in 0..4 {
                        for worker in 0..2 {
                            visitors.op(worker, 2, n).await.unwrap_or_else(|e| {
                                panic!("{name} {route:?} request {n} of visitor {worker}: {e}")
                            });
                        }
                    }
                }
                server.stop().await.unwrap();
            }
        }
    }
}
