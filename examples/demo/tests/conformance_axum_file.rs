//! session-tower (axum) over the file store passes the kit's HTTP suite, so
//! the lifecycle's features (absolute timeout, throttled renewal, …) hold
//! over files too.

mod common;

session_conformance::http_suite!(
    "axum-file",
    |spec: session_conformance::ServerSpec| async move {
        let store = common::file(&spec).map_err(std::io::Error::other)?;
        common::start("axum", store, spec).await
    },
    teardown = common::remove_file_dir,
    store_capabilities = session_core::Capabilities::ALL,
);
