//! The servers under test: the same four routes in every framework, with
//! our adapter, without any session layer, and with the peers' session
//! layers (poem's `ServerSession`, axum + tower-sessions).
//!
//! Each handler is what an application would write: ours through the
//! adapter's `Session` extractor and `session-core`'s API, the peers
//! through theirs. The variant without sessions answers the same bodies
//! from one in-memory counter per server (an `AtomicU64`): `/counter` and
//! `/big` add one to it, `/read` reads it, `/untouched` answers the same
//! constant as everywhere. Its numbers are per server, not per visitor,
//! so the client checks them only for being numbers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use session_core::{MemoryStore, SessionManager};

use super::servers::{self, Server};
use super::{Framework, UNTOUCHED, Variant};
use crate::driver::BenchError;

/// The session key of the counter.
const VISITS: &str = "visits";
/// The session key of the ~1 KiB of strings `/big` adds.
const FILLER: &str = "filler";

/// About 1 KiB of JSON strings (the shape of a logged-in session: user,
/// CSRF token, flash messages), which `/big` stores beside its counter.
fn filler() -> &'static serde_json::Value {
    static FILLER: LazyLock<serde_json::Value> = LazyLock::new(|| {
        let mut map = serde_json::Map::new();
        let mut i = 0;
        while serde_json::to_vec(&map).map_or(0, |v| v.len()) < 1000 {
            map.insert(format!("k{i:03}"), serde_json::json!("x".repeat(56)));
            i += 1;
        }
        serde_json::Value::Object(map)
    });
    &FILLER
}

/// Starts `framework` as `variant` with `threads` server threads.
pub(crate) async fn start(
    framework: Framework,
    variant: Variant,
    threads: usize,
) -> Result<Server, BenchError> {
    let name = format!("{}-{}", framework.name(), variant.short());
    let sessions = || SessionManager::new(MemoryStore::new());
    let hits = Arc::new(AtomicU64::new(0));
    match (framework, variant) {
        (Framework::Poem, Variant::Ours) => {
            let app = poem_app::ours(sessions());
            servers::on_own_runtime(&name, threads, move |l| poem_app::serve(l, app))
        }
        (Framework::Poem, Variant::None) => {
            let app = poem_app::none(hits);
            servers::on_own_runtime(&name, threads, move |l| poem_app::serve(l, app))
        }
        (Framework::Poem, Variant::Peer) => {
            let app = poem_app::server_session();
            servers::on_own_runtime(&name, threads, move |l| poem_app::serve(l, app))
        }
        (Framework::Warp, Variant::Ours) => {
            servers::on_own_runtime(&name, threads, move |l| warp_app::ours(l, sessions()))
        }
        (Framework::Warp, Variant::None) => {
            servers::on_own_runtime(&name, threads, move |l| warp_app::none(l, hits))
        }
        (Framework::Rocket, Variant::Ours) => {
            servers::rocket(&name, threads, rocket_app::ours(threads, sessions())).await
        }
        (Framework::Rocket, Variant::None) => {
            servers::rocket(&name, threads, rocket_app::none(threads, hits)).await
        }
        (Framework::Axum, Variant::Ours) => {
            let app = axum_app::ours(sessions());
            servers::on_own_runtime(&name, threads, move |l| axum_app::serve(l, app))
        }
        (Framework::Axum, Variant::None) => {
            let app = axum_app::none(hits);
            servers::on_own_runtime(&name, threads, move |l| axum_app::serve(l, app))
        }
        (Framework::Axum, Variant::Peer) => {
            let app = axum_app::tower_sessions();
            servers::on_own_runtime(&name, threads, move |l| axum_app::serve(l, app))
        }
        (Framework::Actix, Variant::Ours) => {
            let sessions = sessions();
            servers::on_actix_system(&name, move |l| actix_app::ours(l, threads, sessions)).await
        }
        (Framework::Actix, Variant::None) => {
            servers::on_actix_system(&name, move |l| actix_app::none(l, threads, hits)).await
        }
        (framework, Variant::Peer) => Err(format!(
            "no peer session layer is benchmarked for {}",
            framework.name()
        )
        .into()),
    }
}

/// The routes' logic over our session, shared by every adapter.
mod ours {
    use session_core::{Error, Session};

    use super::{FILLER, VISITS, filler};

    pub(super) async fn counter(session: &Session) -> Result<String, Error> {
        let visits: u64 = session.get(VISITS).await?.unwrap_or(0) + 1;
        session.insert(VISITS, visits).await?;
        Ok(visits.to_string())
    }

    pub(super) async fn big(session: &Session) -> Result<String, Error> {
        let visits = match session.get::<u64>(VISITS).await? {
            Some(visits) => visits + 1,
            None => {
                session.insert(FILLER, filler()).await?;
                1
            }
        };
        session.insert(VISITS, visits).await?;
        Ok(visits.to_string())
    }

    pub(super) async fn read(session: &Session) -> Result<String, Error> {
        Ok(session.get::<u64>(VISITS).await?.unwrap_or(0).to_string())
    }
}

fn add_one(hits: &AtomicU64) -> String {
    (hits.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

fn read(hits: &AtomicU64) -> String {
    hits.load(Ordering::Relaxed).to_string()
}

mod poem_app {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use poem::listener::TcpAcceptor;
    use poem::session::{CookieConfig, MemoryStorage, ServerSession};
    use poem::web::Data;
    use poem::{Endpoint, EndpointExt, IntoEndpoint, Route, Server, get, handler};
    use session_core::SessionManager;
    use session_poem::{Session, SessionError, SessionMiddleware};

    use super::{FILLER, UNTOUCHED, VISITS, filler};

    pub(super) async fn serve<E>(listener: tokio::net::TcpListener, app: E) -> std::io::Result<()>
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        Server::new_with_acceptor(TcpAcceptor::from_tokio(listener)?)
            .run(app)
            .await
    }

    #[handler]
    fn untouched() -> &'static str {
        UNTOUCHED
    }

    #[handler]
    async fn counter(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::counter(&session).await?)
    }

    #[handler]
    async fn big(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::big(&session).await?)
    }

    #[handler]
    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::read(&session).await?)
    }

    pub(super) fn ours(sessions: SessionManager) -> impl Endpoint + 'static {
        Route::new()
            .at("/counter", get(counter))
            .at("/big", get(big))
            .at("/read", get(read))
            .at("/untouched", get(untouched))
            .with(SessionMiddleware::new(sessions))
    }

    #[handler]
    fn hits_add(Data(hits): Data<&Arc<AtomicU64>>) -> String {
        super::add_one(hits)
    }

    #[handler]
    fn hits_read(Data(hits): Data<&Arc<AtomicU64>>) -> String {
        super::read(hits)
    }

    pub(super) fn none(hits: Arc<AtomicU64>) -> impl Endpoint + 'static {
        Route::new()
            .at("/counter", get(hits_add))
            .at("/big", get(hits_add))
            .at("/read", get(hits_read))
            .at("/untouched", get(untouched))
            .data(hits)
    }

    #[handler]
    fn peer_counter(session: &poem::session::Session) -> String {
        let visits = session.get::<u64>(VISITS).unwrap_or(0) + 1;
        session.set(VISITS, visits);
        visits.to_string()
    }

    #[handler]
    fn peer_big(session: &poem::session::Session) -> String {
        let visits = match session.get::<u64>(VISITS) {
            Some(visits) => visits + 1,
            None => {
                session.set(FILLER, filler());
                1
            }
        };
        session.set(VISITS, visits);
        visits.to_string()
    }

    #[handler]
    fn peer_read(session: &poem::session::Session) -> String {
        session.get::<u64>(VISITS).unwrap_or(0).to_string()
    }

    /// poem's own server-side sessions with their defaults, in memory.
    pub(super) fn server_session() -> impl Endpoint + 'static {
        Route::new()
            .at("/counter", get(peer_counter))
            .at("/big", get(peer_big))
            .at("/read", get(peer_read))
            .at("/untouched", get(untouched))
            .with(ServerSession::new(
                CookieConfig::default(),
                MemoryStorage::new(),
            ))
    }
}

mod warp_app {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use session_core::SessionManager;
    use session_warp::{Session, SessionError, Sessions};
    use warp::Filter;

    use super::UNTOUCHED;

    pub(super) async fn ours(
        listener: tokio::net::TcpListener,
        sessions: SessionManager,
    ) -> std::io::Result<()> {
        let sessions = Sessions::new(sessions);
        // GET /$path answering the shared route logic `$logic`.
        macro_rules! route {
            ($path:literal, $logic:path) => {
                warp::path!($path)
                    .and(warp::get())
                    .and(sessions.load())
                    .then(|session: Session| async move {
                        let answer = $logic(&session).await.map_err(SessionError);
                        (answer, session)
                    })
                    .then(sessions.finish())
            };
        }
        let counter = route!("counter", super::ours::counter);
        let big = route!("big", super::ours::big);
        let read = route!("read", super::ours::read);
        let untouched = warp::path!("untouched")
            .and(warp::get())
            .and(sessions.load())
            .then(|session: Session| async move { (UNTOUCHED, session) })
            .then(sessions.finish());
        let routes = counter.or(big).or(read).or(untouched);
        warp::serve(routes).incoming(listener).run().await;
        Ok(())
    }

    pub(super) async fn none(
        listener: tokio::net::TcpListener,
        hits: Arc<AtomicU64>,
    ) -> std::io::Result<()> {
        let with_hits = warp::any().map(move || Arc::clone(&hits));
        let counter = warp::path!("counter")
            .and(warp::get())
            .and(with_hits.clone())
            .then(|hits: Arc<AtomicU64>| async move { super::add_one(&hits) });
        let big = warp::path!("big")
            .and(warp::get())
            .and(with_hits.clone())
            .then(|hits: Arc<AtomicU64>| async move { super::add_one(&hits) });
        let read = warp::path!("read")
            .and(warp::get())
            .and(with_hits)
            .then(|hits: Arc<AtomicU64>| async move { super::read(&hits) });
        let untouched = warp::path!("untouched")
            .and(warp::get())
            .then(|| async { UNTOUCHED });
        let routes = counter.or(big).or(read).or(untouched);
        warp::serve(routes).incoming(listener).run().await;
        Ok(())
    }
}

mod rocket_app {
    use std::net::Ipv4Addr;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use rocket::{Build, Rocket, State};
    use session_core::SessionManager;
    use session_rocket::{Session, SessionError, SessionFairing};

    use super::UNTOUCHED;

    /// Rocket's release settings on a loopback port the kernel picks,
    /// silent, and without its Ctrl-C and signal handlers (the bench
    /// process decides how it ends).
    fn config(threads: usize) -> rocket::Config {
        let mut shutdown = rocket::config::Shutdown {
            ctrlc: false,
            ..rocket::config::Shutdown::default()
        };
        #[cfg(unix)]
        shutdown.signals.clear();
        rocket::Config {
            address: Ipv4Addr::LOCALHOST.into(),
            port: 0,
            workers: threads,
            log_level: rocket::config::LogLevel::Off,
            cli_colors: false,
            shutdown,
            ..rocket::Config::release_default()
        }
    }

    #[rocket::get("/untouched")]
    fn untouched() -> &'static str {
        UNTOUCHED
    }

    #[rocket::get("/counter")]
    async fn counter(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::counter(&session).await?)
    }

    #[rocket::get("/big")]
    async fn big(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::big(&session).await?)
    }

    #[rocket::get("/read")]
    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::read(&session).await?)
    }

    pub(super) fn ours(threads: usize, sessions: SessionManager) -> Rocket<Build> {
        rocket::custom(config(threads))
            .attach(SessionFairing::new(sessions))
            .mount("/", rocket::routes![counter, big, read, untouched])
    }

    #[rocket::get("/counter")]
    fn hits_counter(hits: &State<Arc<AtomicU64>>) -> String {
        super::add_one(hits)
    }

    #[rocket::get("/big")]
    fn hits_big(hits: &State<Arc<AtomicU64>>) -> String {
        super::add_one(hits)
    }

    #[rocket::get("/read")]
    fn hits_read(hits: &State<Arc<AtomicU64>>) -> String {
        super::read(hits)
    }

    pub(super) fn none(threads: usize, hits: Arc<AtomicU64>) -> Rocket<Build> {
        rocket::custom(config(threads)).manage(hits).mount(
            "/",
            rocket::routes![hits_counter, hits_big, hits_read, untouched],
        )
    }
}

mod axum_app {
    use std::future::IntoFuture;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use axum::Router;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::get;
    use session_core::SessionManager;
    use session_tower::{Session, SessionError, SessionLayer};
    use tower_sessions::{MemoryStore, SessionManagerLayer};

    use super::{FILLER, UNTOUCHED, VISITS, filler};

    pub(super) async fn serve(
        listener: tokio::net::TcpListener,
        app: Router,
    ) -> std::io::Result<()> {
        axum::serve(listener, app).into_future().await
    }

    async fn untouched() -> &'static str {
        UNTOUCHED
    }

    async fn counter(Session(session): Session) -> Result<String, SessionError> {
        Ok(super::ours::counter(&session).await?)
    }

    async fn big(Session(session): Session) -> Result<String, SessionError> {
        Ok(super::ours::big(&session).await?)
    }

    async fn read(Session(session): Session) -> Result<String, SessionError> {
        Ok(super::ours::read(&session).await?)
    }

    pub(super) fn ours(sessions: SessionManager) -> Router {
        Router::new()
            .route("/counter", get(counter))
            .route("/big", get(big))
            .route("/read", get(read))
            .route("/untouched", get(untouched))
            .layer(SessionLayer::new(sessions))
    }

    async fn hits_add(State(hits): State<Arc<AtomicU64>>) -> String {
        super::add_one(&hits)
    }

    async fn hits_read(State(hits): State<Arc<AtomicU64>>) -> String {
        super::read(&hits)
    }

    pub(super) fn none(hits: Arc<AtomicU64>) -> Router {
        Router::new()
            .route("/counter", get(hits_add))
            .route("/big", get(hits_add))
            .route("/read", get(hits_read))
            .route("/untouched", get(untouched))
            .with_state(hits)
    }

    /// A store error, as tower-sessions' own examples answer it.
    fn failed(_: tower_sessions::session::Error) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    async fn peer_counter(session: tower_sessions::Session) -> Result<String, StatusCode> {
        let visits = session
            .get::<u64>(VISITS)
            .await
            .map_err(failed)?
            .unwrap_or(0)
            + 1;
        session.insert(VISITS, visits).await.map_err(failed)?;
        Ok(visits.to_string())
    }

    async fn peer_big(session: tower_sessions::Session) -> Result<String, StatusCode> {
        let visits = match session.get::<u64>(VISITS).await.map_err(failed)? {
            Some(visits) => visits + 1,
            None => {
                session.insert(FILLER, filler()).await.map_err(failed)?;
                1
            }
        };
        session.insert(VISITS, visits).await.map_err(failed)?;
        Ok(visits.to_string())
    }

    async fn peer_read(session: tower_sessions::Session) -> Result<String, StatusCode> {
        let visits = session.get::<u64>(VISITS).await.map_err(failed)?;
        Ok(visits.unwrap_or(0).to_string())
    }

    /// tower-sessions with its defaults over its `MemoryStore`.
    pub(super) fn tower_sessions() -> Router {
        Router::new()
            .route("/counter", get(peer_counter))
            .route("/big", get(peer_big))
            .route("/read", get(peer_read))
            .route("/untouched", get(untouched))
            .layer(SessionManagerLayer::new(MemoryStore::default()))
    }
}

mod actix_app {
    use std::sync::atomic::AtomicU64;

    use actix_web::dev::Server;
    use actix_web::{App, HttpServer, web};
    use session_actix::{Session, SessionError, SessionMiddleware};
    use session_core::SessionManager;

    use super::UNTOUCHED;

    async fn untouched() -> &'static str {
        UNTOUCHED
    }

    async fn counter(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::counter(&session).await?)
    }

    async fn big(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::big(&session).await?)
    }

    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(super::ours::read(&session).await?)
    }

    /// actix-web's defaults but for the signal handlers (the bench process
    /// decides how it ends) and the worker count (as the other servers).
    pub(super) fn ours(
        listener: std::net::TcpListener,
        threads: usize,
        sessions: SessionManager,
    ) -> std::io::Result<Server> {
        let app = move || {
            App::new()
                .wrap(SessionMiddleware::new(sessions.clone()))
                .route("/counter", web::get().to(counter))
                .route("/big", web::get().to(big))
                .route("/read", web::get().to(read))
                .route("/untouched", web::get().to(untouched))
        };
        Ok(HttpServer::new(app)
            .workers(threads)
            .disable_signals()
            .listen(listener)?
            .run())
    }

    async fn hits_add(hits: web::Data<AtomicU64>) -> String {
        super::add_one(&hits)
    }

    async fn hits_read(hits: web::Data<AtomicU64>) -> String {
        super::read(&hits)
    }

    pub(super) fn none(
        listener: std::net::TcpListener,
        threads: usize,
        hits: std::sync::Arc<AtomicU64>,
    ) -> std::io::Result<Server> {
        let hits = web::Data::from(hits);
        let app = move || {
            App::new()
                .app_data(hits.clone())
                .route("/counter", web::get().to(hits_add))
                .route("/big", web::get().to(hits_add))
                .route("/read", web::get().to(hits_read))
                .route("/untouched", web::get().to(untouched))
        };
        Ok(HttpServer::new(app)
            .workers(threads)
            .disable_signals()
            .listen(listener)?
            .run())
    }
}
