//! session-rocket over `MemoryStore` passes the kit's HTTP suite.

mod common;

session_conformance::http_suite!(
    "rocket-memory",
    |spec: session_conformance::ServerSpec| async move {
        common::start("rocket", common::memory(&spec), spec).await
    },
    store_capabilities = session_core::Capabilities::ALL,
    // Rocket 0.5 drops a header field that is not UTF-8 before any
    // adapter code runs.
    non_utf8_headers = false,
);
