//! session-actix over `CachedStore` (Redis in front of PostgreSQL) passes
//! the kit's HTTP suite against real servers.

mod common;

session_conformance::http_suite!(
    "actix-cached",
    |spec: session_conformance::ServerSpec| async move {
        let store = common::cached(&spec).await.map_err(std::io::Error::other)?;
        common::start("actix", store, spec).await
    },
    unavailable_hint =
        "scripts/test starts throwaway PostgreSQL and Redis servers when none is running",
    store_capabilities = session_core::Capabilities::ALL,
);
