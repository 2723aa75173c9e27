//! The reference server (plain hyper over session-core) passes every HTTP
//! case through the one-line macro, as an adapter would.

mod common;

session_conformance::http_suite!(
    "reference",
    |spec: session_conformance::ServerSpec| { common::start(spec, None) },
    store_capabilities = session_core::Capabilities::ALL,
);
