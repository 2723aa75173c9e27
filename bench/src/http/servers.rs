//! Starting and stopping the servers under test, each on threads of its
//! own: a tokio runtime per server for poem, warp, axum and rocket, an
//! actix `System` with its workers for actix-web. The load generator runs
//! on the bench's runtime, so a server never shares a scheduler with the
//! client that measures it (they still share the machine's cores).
//!
//! Every server listens on a loopback port the kernel picks
//! (`127.0.0.1:0`): the tokio and actix servers on a listener bound here
//! before their thread starts (so the first request can never beat the
//! server to the port, it just waits in the backlog), rocket on the
//! port it binds itself and reports from a liftoff fairing (rocket 0.5
//! takes no listener).

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::driver::BenchError;

/// What the thread of a server returns: why it stopped, when that was
/// not because it was asked to.
type Served = Result<(), String>;

/// How to ask a server to stop.
#[derive(Debug)]
enum Stop {
    /// Ends the `select!` that runs the server on its own runtime; the
    /// runtime is then dropped, which cancels its connection tasks.
    Tokio(oneshot::Sender<()>),
    /// Stops an actix-web server without waiting for its connections.
    Actix(actix_web::dev::ServerHandle),
}

impl Stop {
    fn send(self) {
        match self {
            // A server that is already gone needs no signal.
            Stop::Tokio(stop) => drop(stop.send(())),
            // The command is sent at once; the future only waits for the
            // server to finish, which [`Server::stop`] does by joining.
            Stop::Actix(handle) => drop(handle.stop(false)),
        }
    }
}

/// A running server: its address, and the thread it runs on. Dropping it
/// asks the server to stop without waiting; [`Server::stop`] waits.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Option<Stop>,
    thread: Option<JoinHandle<Served>>,
}

impl Server {
    /// Where the server listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits for its thread.
    ///
    /// # Errors
    ///
    /// When the server had stopped by itself with an error, or its thread
    /// panicked.
    pub(crate) async fn stop(mut self) -> Result<(), BenchError> {
        if let Some(stop) = self.stop.take() {
            stop.send();
        }
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let joined = tokio::task::spawn_blocking(move || thread.join()).await?;
        match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(format!("the server at {} failed: {why}", self.addr).into()),
            Err(_) => Err(format!(
                "the thread of the server at {} panicked (see its output above)",
                self.addr
            )
            .into()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send();
        }
    }
}

fn loopback_listener() -> Result<std::net::TcpListener, BenchError> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot bind a loopback port for a server: {e}"))?;
    // Both tokio and actix-web expect a non-blocking socket.
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn runtime(name: &str, threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(format!("{name}-worker"))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime for {name}: {e}"))
}

/// Runs `serve` on a listener of a loopback port, on a tokio runtime of
/// `threads` workers of its own, until [`Server::stop`].
pub(crate) fn on_own_runtime<F, Fut>(
    name: &str,
    threads: usize,
    serve: F,
) -> Result<Server, BenchError>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<()>>,
{
    let listener = loopback_listener()?;
    let addr = listener.local_addr()?;
    let (thread, stop) = spawn_with_runtime(name, threads, move || async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        serve(listener).await.map_err(|e| e.to_string())
    })?;
    Ok(Server {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Spawns a thread named `name` that runs the future `serve` makes on a
/// tokio runtime of `threads` workers of its own, until the future ends or
/// the returned [`Stop`] is sent.
fn spawn_with_runtime<F, Fut>(
    name: &str,
    threads: usize,
    serve: F,
) -> Result<(JoinHandle<Served>, Stop), BenchError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Served>,
{
    let (stop, stopped) = oneshot::channel();
    let name = name.to_owned();
    let thread = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || -> Served {
            runtime(&name, threads)?.block_on(async move {
                tokio::select! {
                    served = serve() => served,
                    _ = stopped => Ok(()),
                }
            })
        })?;
    Ok((thread, Stop::Tokio(stop)))
}

/// Launches `app` (rocket's settings already in it, port 0) on a tokio
/// runtime of `threads` workers of its own; returns once rocket listens.
pub(crate) async fn rocket(
    name: &str,
    threads: usize,
    app: rocket::Rocket<rocket::Build>,
) -> Result<Server, BenchError> {
    let (port, bound) = oneshot::channel::<u16>();
    let app = app.attach(rocket::fairing::AdHoc::on_liftoff(
        "report the port",
        move |rocket| {
            Box::pin(async move {
                // Nobody waits any more only when the start was abandoned.
                let _ = port.send(rocket.config().port);
            })
        },
    ));
    let (thread, stop) = spawn_with_runtime(name, threads, move || async move {
        app.launch().await.map(drop).map_err(|e| e.to_string())
    })?;
    let mut server = Server {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        stop: Some(stop),
        thread: Some(thread),
    };
    match bound.await {
        Ok(port) => {
            server.addr.set_port(port);
            Ok(server)
        }
        // The thread ended before liftoff: its result says why.
        Err(_) => Err(match server.stop().await {
            Err(why) => why,
            Ok(()) => "rocket stopped before it listened".into(),
        }),
    }
}

/// Runs the actix-web server that `build` makes from a listener of a
/// loopback port, in an actix `System` on a thread of its own (actix-web's
/// futures are not `Send`: it cannot run on a tokio runtime's workers);
/// returns once the server runs.
pub(crate) async fn on_actix_system<F>(name: &str, build: F) -> Result<Server, BenchError>
where
    F: FnOnce(std::net::TcpListener) -> std::io::Result<actix_web::dev::Server> + Send + 'static,
{
    let listener = loopback_listener()?;
    let addr = listener.local_addr()?;
    let (started, handle) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || -> Served {
            actix_web::rt::System::new()
                .block_on(async move {
                    let server = build(listener)?;
                    // The receiver is gone only when the start was
                    // abandoned: nobody would stop the server, so stop it.
                    if started.send(server.handle()).is_err() {
                        drop(server.handle().stop(false));
                    }
                    server.await
                })
                .map_err(|e| e.to_string())
        })?;
    let mut server = Server {
        addr,
        stop: None,
        thread: Some(thread),
    };
    match handle.await {
        Ok(handle) => {
            server.stop = Some(Stop::Actix(handle));
            Ok(server)
        }
        Err(_) => Err(match server.stop().await {
            Err(why) => why,
            Ok(()) => "actix-web stopped before it ran".into(),
        }),
    }
}
