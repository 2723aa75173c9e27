//! Starts the demo app (the probe routes behind one framework's adapter)
//! for the conformance kit's HTTP suite.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use session_conformance::ServerSpec;
use session_core::{MemoryStore, SessionManager, SessionStore};
use tokio::task::JoinHandle;

pub mod servers;

/// Serves `framework` over `store` with the spec's settings on a loopback
/// port; returns the address once it accepts connections.
pub async fn start(
    framework: &str,
    store: Arc<dyn SessionStore>,
    spec: ServerSpec,
) -> std::io::Result<SocketAddr> {
    start_manager(framework, SessionManager::new(store), spec).await
}

/// Serves `framework` over `sessions` (any engine: a store or signed
/// cookies) with the spec's settings on a loopback port; returns the
/// address once it accepts connections.
pub async fn start_manager(
    framework: &str,
    sessions: SessionManager,
    spec: ServerSpec,
) -> std::io::Result<SocketAddr> {
    let sessions = sessions
        .with_config(spec.config)
        .map_err(std::io::Error::other)?;
    let (addr, _detached) = spawn(framework, sessions).await?;
    Ok(addr)
}

/// A signed-cookie manager with a fresh random key per server, encrypted
/// or only signed.
pub fn signed_cookies(encrypt: bool) -> SessionManager {
    SessionManager::signed_cookies(
        session_core::SignedCookies::new(session_core::SecretKey::generate())
            .with_encryption(encrypt),
    )
}

/// Spawns the demo's `serve::<framework>` over `sessions` on a loopback
/// port, on the current runtime; returns the address once it accepts
/// connections, and the server's task.
pub async fn spawn(
    framework: &str,
    sessions: SessionManager,
) -> std::io::Result<(SocketAddr, JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = match framework {
        "poem" => tokio::spawn(session_demo::serve::poem(sessions, listener)),
        "warp" => tokio::spawn(session_demo::serve::warp(sessions, listener)),
        "axum" => tokio::spawn(session_demo::serve_axum::axum(sessions, listener)),
        "actix" => tokio::spawn(session_demo::serve_actix::actix(sessions, listener)),
        "rocket" => {
            // Rocket binds by itself: hand it the port just freed.
            drop(listener);
            tokio::spawn(session_demo::serve::rocket(sessions, addr))
        }
        other => return Err(std::io::Error::other(format!("unknown framework {other}"))),
    };
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok((addr, task));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    task.abort();
    Err(std::io::Error::other(format!(
        "{framework} did not start listening on {addr}"
    )))
}

/// The Redis the tests use.
pub fn redis_url() -> String {
    std::env::var("SESSION_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The PostgreSQL the tests use.
pub fn postgres_url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A Redis store whose keys start with the spec's namespace.
pub async fn redis(spec: &ServerSpec) -> Result<Arc<dyn SessionStore>, session_core::Error> {
    let store = session_store_redis::RedisStore::connect(&redis_url()).await?;
    Ok(Arc::new(store.with_prefix(format!("{}:", spec.namespace))))
}

static POSTGRES: tokio::sync::OnceCell<session_store_postgres::PostgresStore> =
    tokio::sync::OnceCell::const_new();

/// One PostgreSQL store (one pool, one table) for every server of the run:
/// session IDs are random, so the HTTP cases never meet each other's rows.
pub async fn postgres(_spec: &ServerSpec) -> Result<Arc<dyn SessionStore>, session_core::Error> {
    let store = POSTGRES
        .get_or_try_init(|| async {
            let store = session_store_postgres::PostgresStore::connect(&postgres_url())
                .await?
                .with_table("session_demo_http", "sessions")?;
            store.migrate().await?;
            Ok::<_, session_core::Error>(store)
        })
        .await?;
    Ok(Arc::new(store.clone()))
}

/// A fresh `MemoryStore` per server.
pub fn memory(_spec: &ServerSpec) -> Arc<dyn SessionStore> {
    Arc::new(MemoryStore::new())
}

/// The directory [`file`] keeps a server's sessions in; [`remove_file_dir`]
/// drops it after the case.
fn file_dir(spec: &ServerSpec) -> std::path::PathBuf {
    std::env::temp_dir()
        .join("session-demo-http")
        .join(&spec.namespace)
}

/// A `FileStore` in a fresh directory per server.
pub fn file(spec: &ServerSpec) -> Result<Arc<dyn SessionStore>, session_core::Error> {
    let dir = file_dir(spec);
    std::fs::create_dir_all(&dir).map_err(|e| {
        session_core::Error::unavailable(format!("cannot create {}: {e}", dir.display()))
    })?;
    Ok(Arc::new(session_store_file::FileStore::open(dir)?))
}

/// Removes what [`file`] left behind.
pub async fn remove_file_dir(spec: ServerSpec) {
    let _ = std::fs::remove_dir_all(file_dir(&spec));
}

/// Redis in front of PostgreSQL (Django's `cached_db`), the Redis keys
/// under the spec's namespace.
pub async fn cached(spec: &ServerSpec) -> Result<Arc<dyn SessionStore>, session_core::Error> {
    let cache = redis(spec).await?;
    let db = postgres(spec).await?;
    Ok(Arc::new(session_core::CachedStore::new(cache, db)))
}
