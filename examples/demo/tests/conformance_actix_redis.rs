//! session-actix over the redis store passes the kit's HTTP suite against a
//! real server.

mod common;

session_conformance::http_suite!(
    "actix-redis",
    |spec: session_conformance::ServerSpec| async move {
        let store = common::redis(&spec).await.map_err(std::io::Error::other)?;
        common::start("actix", store, spec).await
    },
    unavailable_hint =
        "scripts/test starts throwaway PostgreSQL and Redis servers when none is running",
    store_capabilities = session_core::Capabilities::NONE
        .with_touch(true)
        .with_versioned(true),
);
