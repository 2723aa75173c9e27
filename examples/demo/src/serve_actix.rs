//! The demo app in actix-web: a catch-all default service that hands the
//! request to [`app::dispatch`], behind `session-actix`.
//!
//! actix-web does not run on the caller's tokio runtime: `HttpServer` wants
//! an actix `System` (one single-threaded runtime per worker thread, with
//! futures that are not `Send`), so it cannot simply be `tokio::spawn`ed
//! like the other frameworks. [`actix`] therefore gives it a dedicated
//! thread that owns a `System` and runs the server on the listener the
//! caller bound (taken over as a std listener, so the port never changes
//! hands), and waits for that thread without blocking its own runtime.
//! This works from any tokio runtime flavour, and from `#[tokio::main]`.
//!
//! Stopping: dropping the future [`actix`] returns (a task aborted, the
//! runtime shut down) stops the server at once, without waiting for its
//! connections, so a test's app does not outlive it. The server installs
//! no signal handlers: it is a library call, the process decides how to end.

use std::io;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use session_actix::{Session, SessionMiddleware};
use session_core::SessionManager;

use crate::app::{self, Reply};

/// Serves with actix-web until the process ends, or until the returned
/// future is dropped.
///
/// # Errors
///
/// When the listener cannot be handed to actix-web, the server thread
/// cannot be started, or the server stops with an error.
pub async fn actix(sessions: SessionManager, listener: tokio::net::TcpListener) -> io::Result<()> {
    let listener = listener.into_std()?;
    let (started, handle) = tokio::sync::oneshot::channel::<ServerHandle>();
    let (finished, result) = tokio::sync::oneshot::channel::<io::Result<()>>();
    std::thread::Builder::new()
        .name("actix-demo-system".to_owned())
        .spawn(move || {
            let served = actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(SessionMiddleware::new(sessions.clone()))
                        .default_service(web::to(handle_request))
                })
                .disable_signals()
                .listen(listener)?
                .run();
                // The receiver is gone only when the caller was dropped
                // already: nobody is left to stop the server, so stop it now.
                if started.send(server.handle()).is_err() {
                    drop(server.handle().stop(false));
                }
                server.await
            });
            // Nobody waits for the result when the caller was dropped.
            let _ = finished.send(served);
        })?;
    let _stop = match handle.await {
        Ok(handle) => StopOnDrop(handle),
        // The thread ended before it had a server: its result says why.
        Err(_) => return thread_result(result.await),
    };
    thread_result(result.await)
}

fn thread_result(
    result: Result<io::Result<()>, tokio::sync::oneshot::error::RecvError>,
) -> io::Result<()> {
    result.unwrap_or_else(|_| {
        Err(io::Error::other(
            "the actix-web server thread ended without a result (it panicked; see its output)",
        ))
    })
}

/// Stops the actix-web server when the future serving it is dropped.
struct StopOnDrop(ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // `stop` sends its command at once; the future it returns only
        // waits for the completion, which nobody here needs.
        drop(self.0.stop(false));
    }
}

async fn handle_request(req: HttpRequest, session: Session, body: web::Payload) -> HttpResponse {
    let path = req.path();
    let length = req.headers().get(CONTENT_LENGTH).map(|v| v.as_bytes());
    let reply = match app::read_body(length, body, path).await {
        Ok(body) => {
            app::dispatch(
                &session,
                req.method().as_str(),
                path,
                req.uri().query(),
                &body,
            )
            .await
        }
        Err(refused) => refused,
    };
    response(reply)
}

fn response(reply: Reply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.content_type(reply.content_type);
    if let Some(location) = reply.location {
        response.insert_header(("Location", location));
    }
    for (name, value) in reply.headers {
        response.append_header((name, value));
    }
    response.body(reply.body)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use session_core::MemoryStore;

    use super::*;

    async fn accepts(addr: std::net::SocketAddr) -> bool {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    }

    async fn answers(addr: std::net::SocketAddr) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
            return false;
        };
        let request = b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n";
        let mut answer = Vec::new();
        stream.write_all(request).await.is_ok()
            && stream.read_to_end(&mut answer).await.is_ok()
            && answer.starts_with(b"HTTP/1.1 200")
    }

    #[tokio::test]
    async fn dropping_the_serving_future_stops_the_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sessions = SessionManager::new(MemoryStore::new());
        let task = tokio::spawn(actix(sessions, listener));
        // The kernel accepts connections on the bound socket before the
        // server runs: wait for an HTTP answer, so that the drop below
        // meets a running server.
        let started = Instant::now();
        while !answers(addr).await {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "never answered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        let stopped = Instant::now();
        while accepts(addr).await {
            assert!(
                stopped.elapsed() < Duration::from_secs(10),
                "the actix-web server still accepts connections 10 s after its future was dropped"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
