//! The demo app of Django-grade sessions: any framework over any store, with
//! a human page at `/` and the conformance kit's probe routes under
//! `/probe`. The binary is `session-demo`; the library lets tests (the
//! browser test, the adapters' conformance runs) start the very same app.
//!
//! Request bodies are limited to [`app::MAX_BODY_BYTES`] (64 KiB) on every
//! route and in every framework: a larger one is answered 413 with a short
//! message, without reading more than the limit (see [`app`]).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use session_core::{MemoryStore, SessionManager};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let sessions = SessionManager::new(MemoryStore::new());
//! session_demo::serve::poem(sessions, listener).await
//! # }
//! ```

pub mod app;
pub mod cli;
pub mod page;
pub mod serve;
pub mod serve_actix;
pub mod serve_axum;
pub mod stores;
