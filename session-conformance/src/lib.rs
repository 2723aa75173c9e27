//! The conformance kit for Django-grade sessions: certifies any
//! [`SessionStore`](session_core::SessionStore) and any framework adapter,
//! case by case.
//!
//! Every case cites the requirement it checks (a `MUST`/`SHOULD` sentence,
//! the tagged contract sentences it traces to, and a section of the
//! [specification](spec) shipped in this crate), has a stable ID (`ST-<AREA>-<NNN>` for store
//! cases, `HX-<AREA>-<NNN>` for HTTP cases) and becomes one test under
//! `cargo test`, filterable by prefix (`cargo test --test conformance ST-CRE`).
//! A case whose capability the implementation lacks is listed as ignored,
//! never as passed. Each run writes `target/session-conformance/<name>.json`
//! and a Markdown table of the same, to paste into a README.
//!
//! # Certify a store
//!
//! `tests/conformance.rs`, with `[[test]] name = "conformance"`,
//! `harness = false` in `Cargo.toml`:
//!
//! ```no_run
//! use session_core::{Capabilities, MemoryStore};
//!
//! session_conformance::store_suite!(
//!     "memory",
//!     |ns: session_conformance::Namespace| async move {
//!         Ok::<_, std::convert::Infallible>(MemoryStore::with_clock(ns.clock()))
//!     },
//!     capabilities = Capabilities::ALL,
//!     manual_clock = true,
//! );
//! ```
//!
//! The factory gets a fresh [`Namespace`] per case (derive a key prefix,
//! schema or directory from [`Namespace::name`]) so cases run in parallel.
//! Any [`StoreSuite`] builder method can follow as `method = value`
//! (`teardown`, `unavailable_hint`, …). A factory error means the backend is
//! unreachable: its cases are reported `unavailable`, which fails the run
//! when `SESSION_CONFORMANCE_REQUIRE_BACKEND=1`. Only a connection-level
//! failure is unavailable: any other error a store returns fails the case
//! that got it.
//!
//! # Certify an adapter
//!
//! The [adapter guide](adapter_guide) states the adapter contract as
//! numbered sentences, each traced to the HTTP cases that check it, with a
//! whole hyper adapter as the worked example; [`http_suite!`] certifies it.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod adapter_guide {
    #![doc = include_str!("../ADAPTERS.md")]
}
mod case;
mod check;
pub mod http;
pub mod probe;
pub mod report;
mod runner;
pub mod spec {
    #![doc = include_str!("../SPEC.md")]
}
pub mod store;

pub use case::{CaseInfo, Level, Need};
pub use check::{CaseResult, Failure};
pub use http::{HttpSuite, ServerSpec};
pub use report::{CaseReport, Report, Status};
pub use runner::{REQUIRE_BACKEND_ENV, SKIP_SLOW_ENV};
pub use store::{Namespace, StoreSuite};

/// Defines the `main` of a `harness = false` test that certifies a store:
/// `store_suite!(name, factory, method = value, ...)`, where each
/// `method = value` calls that [`StoreSuite`] builder method.
#[macro_export]
macro_rules! store_suite {
    ($name:expr, $factory:expr $(, $method:ident = $value:expr)* $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::StoreSuite::new($name, $factory)$(.$method($value))*.run_main()
        }
    };
}

/// Defines the `main` of a `harness = false` test that certifies an
/// adapter: `http_suite!(name, factory, method = value, ...)`, where the
/// factory starts a server with the probe routes for a [`ServerSpec`] and
/// returns its address, and each `method = value` calls that
/// [`HttpSuite`] builder method.
#[macro_export]
macro_rules! http_suite {
    ($name:expr, $factory:expr $(, $method:ident = $value:expr)* $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::HttpSuite::new($name, $factory)$(.$method($value))*.run_main()
        }
    };
}
