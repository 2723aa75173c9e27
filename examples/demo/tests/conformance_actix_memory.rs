//! session-actix over `MemoryStore` passes the kit's HTTP suite.

mod common;

session_conformance::http_suite!(
    "actix-memory",
    |spec: session_conformance::ServerSpec| async move {
        common::start("actix", common::memory(&spec), spec).await
    },
    store_capabilities = session_core::Capabilities::ALL,
);
