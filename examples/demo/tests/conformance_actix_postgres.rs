//! session-actix over the postgres store passes the kit's HTTP suite against a
//! real server.

mod common;

session_conformance::http_suite!(
    "actix-postgres",
    |spec: session_conformance::ServerSpec| async move {
        let store = common::postgres(&spec)
            .await
            .map_err(std::io::Error::other)?;
        common::start("actix", store, spec).await
    },
    unavailable_hint =
        "scripts/test starts throwaway PostgreSQL and Redis servers when none is running",
    store_capabilities = session_core::Capabilities::ALL,
);
