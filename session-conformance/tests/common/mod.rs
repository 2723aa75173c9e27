//! A minimal reference server: plain hyper, `session-core`'s lifecycle over
//! `MemoryStore`, the probe routes. With a [`Flaw`] it becomes one of the
//! deliberately broken servers of the self-test.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use session_conformance::ServerSpec;
use session_conformance::probe;
use session_core::{MemoryStore, SessionManager};

/// How a broken server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Writes the client's own cookie value back instead of the issued ID.
    AdoptsClientIds,
    /// Drops the deletion cookie on flush and logout.
    NoDeletionCookie,
    /// Tells `finish` every response was a 200.
    SavesOn5xx,
    /// Never sends `Vary: Cookie`.
    NoVary,
}

/// The first value the client sent for the session cookie, unchecked.
fn sent_value(fields: &[hyper::header::HeaderValue], name: &str) -> Option<String> {
    fields
        .iter()
        .filter_map(|f| f.to_str().ok())
        .flat_map(|f| cookie::Cookie::split_parse(f.to_owned()).flatten())
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

async fn handle(
    sessions: SessionManager,
    flaw: Option<Flaw>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let cookies: Vec<_> = req.headers().get_all("cookie").iter().cloned().collect();
    let session = sessions.load(cookies.iter());
    let path = req.uri().path().to_owned();
    let answer = probe::respond(&session, req.method().as_str(), &path, req.uri().query()).await;
    let status = if flaw == Some(Flaw::SavesOn5xx) {
        200
    } else {
        answer.status
    };
    let mut response = Response::builder()
        .status(answer.status)
        .header("content-type", "application/json");
    match sessions.finish(&session, status).await {
        Ok(outcome) => {
            if let Some(mut cookie) = outcome.set_cookie {
                if flaw == Some(Flaw::AdoptsClientIds)
                    && let Some(sent) = sent_value(&cookies, sessions.config().cookie_name())
                {
                    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
                    cookie = cookie.replacen(
                        &pair,
                        &format!("{}={sent}", sessions.config().cookie_name()),
                        1,
                    );
                }
                let deletion = cookie
                    .split(';')
                    .next()
                    .is_some_and(|pair| pair.ends_with('='));
                if !(deletion && flaw == Some(Flaw::NoDeletionCookie)) {
                    response = response.header("set-cookie", cookie);
                }
            }
            if outcome.vary_cookie && flaw != Some(Flaw::NoVary) {
                response = response.header("vary", "Cookie");
            }
            Ok(response.body(Full::new(Bytes::from(answer.body))).unwrap())
        }
        Err(error) => Ok(Response::builder()
            .status(error.http_status())
            .body(Full::new(Bytes::from(error.to_string())))
            .unwrap()),
    }
}

/// Starts a server for `spec` on a loopback port; returns its address.
pub async fn start(spec: ServerSpec, flaw: Option<Flaw>) -> std::io::Result<SocketAddr> {
    let sessions = SessionManager::new(MemoryStore::new()).with_config(spec.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(sessions.clone(), flaw, req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}
