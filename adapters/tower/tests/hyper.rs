//! The layer without axum: a plain tower service served by hyper over a
//! real socket, and the tower contract (readiness, inner errors).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE, VARY};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use session_core::{MemoryStore, SessionManager};
use session_tower::{SessionLayer, SessionService};
use tower::{Layer, Service, ServiceExt, service_fn};

/// Counts visits; the application sets its own `Set-Cookie` and `Vary`.
async fn visits<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(session) = req.extensions().get::<session_core::Session>().cloned() else {
        let mut response = Response::new(Full::from("no session layer"));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        return Ok(response);
    };
    let visits: u64 = session.get("visits").await.unwrap().unwrap_or(0) + 1;
    session.insert("visits", visits).await.unwrap();
    let mut response = Response::new(Full::from(format!("{visits} visits")));
    let headers = response.headers_mut();
    headers.append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
    headers.append(VARY, HeaderValue::from_static("Accept-Language"));
    Ok(response)
}

/// Serves `visits` behind the layer with hyper on a loopback port.
async fn serve() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = SessionLayer::new(SessionManager::new(MemoryStore::new()))
        .layer(service_fn(visits::<Incoming>));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(app.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}

/// Sends one GET with `cookies` as separate `Cookie` fields; returns the
/// response's head and its body as text.
async fn get(addr: std::net::SocketAddr, cookies: &[&str]) -> (http::response::Parts, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::get("/").header("host", addr.to_string());
    for cookie in cookies {
        request = request.header(COOKIE, *cookie);
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The `name=value` pair of our session cookie among `parts`' `Set-Cookie`.
fn session_cookie(parts: &http::response::Parts) -> String {
    let ours: Vec<_> = parts
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|v| v.starts_with("sessionid="))
        .collect();
    assert_eq!(ours.len(), 1, "one session Set-Cookie: {:?}", parts.headers);
    ours[0].split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn hyper_serves_the_layer_and_the_apps_headers_survive() {
    let addr = serve().await;
    let (first, body) = get(addr, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(body, "1 visits");
    let set_cookies: Vec<_> = first.headers.get_all(SET_COOKIE).iter().collect();
    assert_eq!(set_cookies.len(), 2, "the app's and ours: {set_cookies:?}");
    assert_eq!(set_cookies[0], "theme=dark");
    let vary: Vec<_> = first.headers.get_all(VARY).iter().collect();
    assert_eq!(
        vary,
        ["Accept-Language", "Cookie"],
        "Vary merged, not replaced"
    );

    let cookie = session_cookie(&first);
    let (second, body) = get(addr, &[&cookie]).await;
    assert_eq!(body, "2 visits");
    assert_eq!(session_cookie(&second), cookie, "the same session is kept");
}

#[tokio::test]
async fn every_cookie_field_is_read_not_only_the_first() {
    let addr = serve().await;
    let (first, _) = get(addr, &[]).await;
    let cookie = session_cookie(&first);
    // HTTP/2 style: one field per cookie, ours in the second.
    let (_, body) = get(addr, &["other=1", &cookie]).await;
    assert_eq!(body, "2 visits");
}

/// Ready only when `ready` is set; counts nothing, answers 200.
#[derive(Clone)]
struct Gate {
    ready: Arc<AtomicBool>,
}

impl Service<Request<()>> for Gate {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.ready.load(Ordering::SeqCst) {
            Poll::Ready(Ok(()))
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        assert!(
            self.ready.load(Ordering::SeqCst),
            "called while not ready: readiness was not passed through"
        );
        Box::pin(async { Ok(Response::new(Full::from("ok"))) })
    }
}

#[tokio::test]
async fn readiness_is_the_inner_services() {
    let ready = Arc::new(AtomicBool::new(false));
    let mut service: SessionService<Gate> =
        SessionLayer::new(SessionManager::new(MemoryStore::new())).layer(Gate {
            ready: Arc::clone(&ready),
        });
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    assert!(
        service.poll_ready(&mut cx).is_pending(),
        "ready while the inner service is not"
    );
    ready.store(true, Ordering::SeqCst);
    assert!(matches!(service.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    let response = service.call(Request::new(())).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_inner_service_error_passes_through_and_saves_nothing() {
    let store = MemoryStore::new();
    let failing = SessionLayer::new(SessionManager::new(store.clone())).layer(service_fn(
        |req: Request<()>| async move {
            let session = req.extensions().get::<session_core::Session>().unwrap();
            session.insert("visits", 99_u64).await.unwrap();
            Err::<Response<Full<Bytes>>, _>(std::io::Error::other("connection reset"))
        },
    ));
    let error = failing
        .oneshot(Request::new(()))
        .await
        .expect_err("the inner error is returned as is");
    assert_eq!(error.to_string(), "connection reset");
    assert!(
        store.is_empty(),
        "a request that got no response saved its session: {} records",
        store.len()
    );
}
