//! session-poem over the signed-cookie engine (HMAC-SHA256, the data in
//! the cookie) passes the kit's HTTP suite; the cases that need
//! server-side revocation or an ID as cookie value are ignored, with the
//! reason in the certificate.

mod common;

session_conformance::http_suite!(
    "poem-signed-cookie",
    |spec: session_conformance::ServerSpec| async move {
        common::start_manager("poem", common::signed_cookies(false), spec).await
    },
    store_capabilities = session_core::Capabilities::NONE,
    server_side_state = false,
    id_cookie = false,
);
