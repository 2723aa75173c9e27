//! session-rocket over `MemoryStore` passes the kit's HTTP suite.

mod common;

session_conformance::http_suite!(
    "rocket-memory",
    |spec: session_conformance::ServerSpec| async move {
        common::start("rocket", common::memory(&spec), spec).await
    }
);
