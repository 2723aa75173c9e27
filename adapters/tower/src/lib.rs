//! Django-grade sessions for [tower](https://docs.rs/tower): a
//! [`SessionLayer`] that runs `session-core`'s request lifecycle around any
//! `Service<http::Request<B>>`, so it serves [axum](https://docs.rs/axum),
//! [hyper](https://docs.rs/hyper) and [tonic](https://docs.rs/tonic) alike,
//! and (feature `axum`) a [`Session`] extractor for axum handlers.
//!
//! Any tower service reads the handle from the request's extensions:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), std::convert::Infallible> {
//! use bytes::Bytes;
//! use http::{Request, Response, header::SET_COOKIE};
//! use http_body_util::Full;
//! use session_core::{MemoryStore, SessionManager};
//! use session_tower::SessionLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let sessions = SessionManager::new(MemoryStore::new());
//! let app = ServiceBuilder::new()
//!     .layer(SessionLayer::new(sessions))
//!     .service(service_fn(|req: Request<()>| async move {
//!         let session = req.extensions().get::<session_core::Session>().cloned();
//!         let visits: u64 = match session {
//!             Some(session) => {
//!                 let visits = session.get("visits").await.ok().flatten().unwrap_or(0) + 1;
//!                 session.insert("visits", visits).await.ok();
//!                 visits
//!             }
//!             None => 0,
//!         };
//!         let body = Full::new(Bytes::from(format!("{visits} visits")));
//!         Ok::<_, std::convert::Infallible>(Response::new(body))
//!     }));
//!
//! let response = app.oneshot(Request::new(())).await?;
//! assert!(response.headers()[SET_COOKIE].to_str().unwrap().starts_with("sessionid="));
//! # Ok(()) }
//! ```
//!
//! An axum app adds the layer to its router and takes [`Session`] in its
//! handlers (`examples/axum_quickstart.rs`); a hyper server wraps the
//! service with `hyper_util::service::TowerToHyperService`; a tonic server
//! takes it in `Server::builder().layer(..)`.
//!
//! What the adapter does, and nothing more:
//! - before the inner service, [`SessionManager::load`](session_core::SessionManager::load) reads every
//!   `Cookie` header field (no I/O) and the [`session_core::Session`]
//!   handle goes into the request's extensions;
//! - after it, [`SessionManager::finish`](session_core::SessionManager::finish) runs with the response status and
//!   the adapter appends the raw `Set-Cookie` and `Vary: Cookie` headers,
//!   beside every `Set-Cookie` and `Vary` the application set. A handler
//!   error that the framework turns into a response (every axum error) is
//!   finished with that response's status; an inner service that fails
//!   with no response at all is finished as a 500 (nothing is saved) and
//!   its error passes through;
//! - a store error in `finish` replaces the response with a short plain
//!   answer, [`Error::public_message`](session_core::Error::public_message),
//!   that names no internals (503 when the store is unavailable, 400 when
//!   the session was deleted by a concurrent request, 413 when it grew past
//!   its limit, 500 otherwise); the `tracing` error beside it carries the
//!   error's kind and its whole cause chain;
//! - a `Set-Cookie` value that cannot be a header (a cookie name, path or
//!   domain with a byte a header cannot carry, which `Config::validate`
//!   should make impossible) is never dropped silently: the response goes
//!   out without it and a `tracing` error says which settings to check. The
//!   cookie's value is never logged.
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | on | [`Session`] (an axum extractor) and [`SessionError`] (an axum response) |
//!
//! Without `axum` the crate depends only on `http`, `http-body` and tower's
//! two trait crates: hyper and tonic users set `default-features = false`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod body;
#[cfg(feature = "axum")]
mod extract;
mod layer;

pub use body::SessionBody;
#[cfg(feature = "axum")]
pub use extract::{MissingSessionLayer, Session, SessionError};
pub use layer::{ResponseFuture, SessionLayer, SessionService};
pub use session_core;

#[cfg(test)]
#[path = "../../support/logs.rs"]
mod test_support;
