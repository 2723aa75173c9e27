//! A minimal reference server: plain hyper, `session-core`'s lifecycle over
//! `MemoryStore`, the probe routes. With a [`Flaw`] it becomes one of the
//! deliberately broken servers of the self-test.
//!
//! Each flaw is the smallest realistic mistake an adapter author makes, and
//! breaks one sentence of the adapter contract (DESIGN.md §5, §6, §8; the
//! clause tags the HTTP cases cite).

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use session_conformance::ServerSpec;
use session_conformance::probe;
use session_core::{MemoryStore, Outcome, Session, SessionManager};

/// How a broken server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    // --- `adapter.core-decides`: the session cookie is core's to judge.
    /// Writes the client's own cookie value back instead of the issued ID.
    /// Breaks: "only core makes IDs; a value the server did not issue is
    /// never adopted" (`adapter.core-decides`).
    AdoptsClientIds,
    /// Reads the session cookie itself and lower-cases its value before
    /// handing the fields to `load` ("IDs are lower case anyway"), so an
    /// issued ID in upper case opens the session. Breaks: "IDs are exact;
    /// the adapter passes the `Cookie` fields as they came and core decides"
    /// (`adapter.core-decides`).
    LowercasesTheCookieValue,

    // --- `adapter.load.every-field`: every `Cookie` field, pair by pair.
    /// Passes only the first `Cookie` field to `load`
    /// (`headers().get("cookie")`, or warp's `header::<String>("cookie")`).
    /// Breaks: "`load` gets every `Cookie` field (HTTP/2 sends one per
    /// cookie)" (`adapter.load.every-field`).
    FirstCookieFieldOnly,
    /// Converts each `Cookie` field with `to_str()` and skips the fields
    /// that fail. Breaks: "a non-UTF-8 byte in another cookie never hides
    /// ours" (`adapter.load.every-field`).
    SkipsNonUtf8CookieFields,
    /// Drops `Cookie` fields longer than 4 KiB as abuse before `load`.
    /// Breaks: "an oversized value in another cookie never hides ours"
    /// (`adapter.load.every-field`).
    SkipsOversizedCookieFields,
    /// Parses each `Cookie` field strictly and drops a field in which any
    /// pair is malformed. Breaks: "a malformed pair in another cookie never
    /// hides ours" (`adapter.load.every-field`).
    DropsFieldsWithMalformedPairs,
    /// Reads the cookies into a name-to-value map, as framework cookie jars
    /// do (of duplicates the last wins), and passes `load` only the
    /// session's pair. Breaks: "every `Cookie` field, pair by pair, goes to
    /// `load`" (`adapter.load.every-field`): a bogus duplicate after the
    /// real ID hides the session.
    CookieJarKeepsTheLastDuplicate,

    // --- `adapter.nothing-else`: the adapter adds nothing of its own.
    /// Touches the session before the handler runs (eager loading, "to
    /// warm the cache"). Breaks: "a request that never touches its session
    /// emits no header" (`adapter.nothing-else`).
    LoadsEagerly,
    /// Always appends `Vary: Cookie`, whether the outcome asked or not.
    /// Breaks: "`Vary: Cookie` only when the outcome says so"
    /// (`adapter.nothing-else`).
    AlwaysVaries,

    // --- `adapter.concurrent`: one handle per request.
    /// Keeps each cookie's `Session` handle after the request and hands it
    /// to every later request with that cookie (a session cache between
    /// requests) instead of calling `load` for each. Breaks: "every request
    /// gets its own handle from `load`; concurrent requests of one visitor
    /// are normal traffic" (`adapter.concurrent`).
    SharesHandlesAcrossRequests,

    // --- `adapter.finish.status`: `finish` gets the status sent.
    /// Tells `finish` every response was a 200.
    /// Breaks: "`finish` gets the response's status; at 500 and above
    /// nothing is saved" (`adapter.finish.status`).
    SavesOn5xx,
    /// Tells `finish` 500 for any response that is not 2xx ("only commit
    /// on success"). Breaks: "`finish` gets the response's status; below 500
    /// the session is saved, redirects and 4xx included"
    /// (`adapter.finish.status`).
    NonSuccessIsFailure,

    // --- `adapter.finish.handler-errors`: errors are responses too.
    /// Skips `finish` when the handler failed (answered 4xx or 5xx), as a
    /// warp rejection or poem's `ep.call(req).await?` does. Breaks: "`finish`
    /// also runs for handler errors, with the status they answer"
    /// (`adapter.finish.handler-errors`).
    SkipsFinishOnHandlerErrors,
    /// Runs `finish`, but writes its cookie through a path that error
    /// responses discard (Rocket's jar under a catcher), so a 4xx answer
    /// loses the session's `Set-Cookie`. Breaks: "an error response carries
    /// the session's headers like any other"
    /// (`adapter.finish.handler-errors`).
    DropsTheCookieOn4xx,

    // --- `adapter.finish.every-request`.
    /// Skips `finish` when the handler never touched the session ("nothing
    /// to do"). Breaks: "`finish` runs on every request (with
    /// `save_every_request` an untouched session is renewed)"
    /// (`adapter.finish.every-request`).
    SkipsFinishWhenUntouched,

    // --- `adapter.set-cookie`: the outcome's `Set-Cookie`, appended as is.
    /// Drops the deletion cookie on flush and logout.
    /// Breaks: "the outcome's `Set-Cookie` is always sent, deletion cookies
    /// included" (`adapter.set-cookie`).
    NoDeletionCookie,
    /// `insert`s the session's `Set-Cookie` instead of appending it, losing
    /// the application's cookie. Breaks: "`Set-Cookie` is added beside the
    /// application's own" (`adapter.set-cookie`).
    InsertsSetCookie,
    /// Folds the application's and the session's `Set-Cookie` into one
    /// comma-joined field. Breaks: "`Set-Cookie` is added beside the
    /// application's own", as a field of its own (`adapter.set-cookie`).
    FoldsSetCookies,
    /// Re-renders the session cookie through its own cookie builder,
    /// keeping only name, value, Path and Max-Age. Breaks: "the outcome's
    /// `Set-Cookie` is a complete header value, appended as is, bypassing
    /// framework cookie jars" (`adapter.set-cookie`).
    RerendersTheCookie,
    /// Skips the `Set-Cookie` when it carries the ID the client already
    /// sent ("the browser has it"). Breaks: "the outcome's `Set-Cookie` is
    /// always sent" (`adapter.set-cookie`): renewals and new lifetimes are
    /// lost.
    SkipsUnchangedCookies,

    // --- `adapter.vary`: `Cookie` appended to the application's `Vary`.
    /// Never sends `Vary: Cookie`.
    /// Breaks: "`Vary: Cookie` whenever the outcome asks"
    /// (`adapter.vary`).
    NoVary,
    /// `insert`s `Vary: Cookie`, replacing the application's `Vary`.
    /// Breaks: "`Cookie` is appended to any `Vary` the application set"
    /// (`adapter.vary`).
    InsertsVary,
    /// Sends `Vary: Cookie` only on 2xx responses. Breaks: "`Vary: Cookie`
    /// whenever the outcome asks, whatever the status" (`adapter.vary`).
    VaryOnlyOn2xx,
    /// Sends `Vary: Cookie` only together with a `Set-Cookie`. Breaks:
    /// "`Vary: Cookie` whenever the outcome asks", reads included
    /// (`adapter.vary`).
    VaryOnlyWithACookie,

    // --- `adapter.errors`: a `finish` error answers its own status.
    /// Answers 500 for every `finish` error instead of
    /// `Error::http_status` (Interrupted is a 400). Breaks: "a `finish`
    /// error answers `Error::http_status`; a concurrent logout is never a
    /// server error" (`adapter.errors`).
    FinishErrorsAre500,
    /// Logs a `finish` error and sends the handler's response anyway, as if
    /// the session had been saved. Breaks: "a `finish` error ends the
    /// request with an error response (`Error::http_status`)"
    /// (`adapter.errors`).
    IgnoresFinishErrors,
}

/// The bytes of each `;`-separated pair of a `Cookie` field, split at the
/// first `=` into a trimmed name and a value.
fn pairs(field: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    field.split(|&b| b == b';').map(|pair| {
        let pair = pair.trim_ascii();
        match pair.iter().position(|&b| b == b'=') {
            Some(at) => (pair[..at].trim_ascii(), pair[at + 1..].trim_ascii()),
            None => (pair, &pair[pair.len()..]),
        }
    })
}

/// The first value the client sent for the session cookie, unchecked.
fn sent_value(fields: &[HeaderValue], name: &str) -> Option<String> {
    fields
        .iter()
        .filter_map(|f| f.to_str().ok())
        .flat_map(|f| cookie::Cookie::split_parse(f.to_owned()).flatten())
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// The `Cookie` fields the adapter hands to `load`: all of them, as they
/// came, unless a flaw says otherwise.
fn cookie_fields(headers: &HeaderMap, name: &str, flaw: Option<Flaw>) -> Vec<Vec<u8>> {
    let all = headers.get_all(header::COOKIE).iter();
    let raw = |v: &HeaderValue| v.as_bytes().to_vec();
    match flaw {
        Some(Flaw::FirstCookieFieldOnly) => {
            headers.get(header::COOKIE).map(raw).into_iter().collect()
        }
        Some(Flaw::SkipsNonUtf8CookieFields) => all
            .filter_map(|v| v.to_str().ok())
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        Some(Flaw::SkipsOversizedCookieFields) => {
            all.filter(|v| v.len() <= 4096).map(raw).collect()
        }
        Some(Flaw::DropsFieldsWithMalformedPairs) => all
            .filter(|v| {
                cookie::Cookie::split_parse(String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .all(|c| c.is_ok())
            })
            .map(raw)
            .collect(),
        Some(Flaw::CookieJarKeepsTheLastDuplicate) => {
            let mut jar = HashMap::new();
            for field in all {
                for (n, v) in pairs(field.as_bytes()) {
                    jar.insert(n.to_vec(), v.to_vec());
                }
            }
            jar.remove(name.as_bytes())
                .map(|value| [name.as_bytes(), b"=", &value].concat())
                .into_iter()
                .collect()
        }
        Some(Flaw::LowercasesTheCookieValue) => all
            .map(|field| {
                let pairs: Vec<Vec<u8>> = pairs(field.as_bytes())
                    .map(|(n, v)| {
                        let v = if n == name.as_bytes() {
                            v.to_ascii_lowercase()
                        } else {
                            v.to_vec()
                        };
                        [n, b"=", &v].concat()
                    })
                    .collect();
                pairs.join(&b"; "[..])
            })
            .collect(),
        _ => all.map(raw).collect(),
    }
}

/// What one server keeps between requests.
struct Server {
    sessions: SessionManager,
    flaw: Option<Flaw>,
    /// [`Flaw::SharesHandlesAcrossRequests`]: the handle of each cookie.
    handles: Mutex<HashMap<String, Session>>,
}

impl Server {
    fn has(&self, flaw: Flaw) -> bool {
        self.flaw == Some(flaw)
    }

    /// The request's handle; `sent` are its `Cookie` fields.
    fn load(&self, headers: &HeaderMap, sent: &[HeaderValue]) -> Session {
        let name = self.sessions.config().cookie_name();
        let fields = cookie_fields(headers, name, self.flaw);
        if !self.has(Flaw::SharesHandlesAcrossRequests) {
            return self.sessions.load(&fields);
        }
        let Some(value) = sent_value(sent, name) else {
            return self.sessions.load(&fields);
        };
        let mut handles = self.handles.lock().unwrap();
        handles
            .entry(value)
            .or_insert_with(|| self.sessions.load(&fields))
            .clone()
    }

    /// The status the adapter tells `finish`.
    fn finish_status(&self, status: u16) -> u16 {
        match self.flaw {
            Some(Flaw::SavesOn5xx) => 200,
            Some(Flaw::NonSuccessIsFailure) if !(200..300).contains(&status) => 500,
            _ => status,
        }
    }

    /// Adds what `finish` asked for to `headers`, the handler's own already
    /// there.
    fn apply(&self, outcome: Outcome, status: u16, sent: &[HeaderValue], headers: &mut HeaderMap) {
        let name = self.sessions.config().cookie_name();
        let mut set_cookie = outcome.set_cookie.clone();
        if let Some(cookie) = &mut set_cookie {
            let pair = cookie.split(';').next().unwrap_or_default().to_owned();
            let deletion = pair.ends_with('=');
            let sent = sent_value(sent, name);
            if self.has(Flaw::AdoptsClientIds)
                && let Some(sent) = &sent
            {
                *cookie = cookie.replacen(&pair, &format!("{name}={sent}"), 1);
            }
            if self.has(Flaw::RerendersTheCookie) {
                *cookie = rerender(cookie);
            }
            let dropped = match self.flaw {
                Some(Flaw::NoDeletionCookie) => deletion,
                Some(Flaw::SkipsUnchangedCookies) => {
                    sent.is_some_and(|sent| pair == format!("{name}={sent}"))
                }
                Some(Flaw::DropsTheCookieOn4xx) => (400..500).contains(&status),
                _ => false,
            };
            if dropped {
                set_cookie = None;
            }
        }
        if let Some(cookie) = &set_cookie {
            let value = HeaderValue::from_str(cookie).unwrap();
            match self.flaw {
                Some(Flaw::InsertsSetCookie) => {
                    headers.insert(header::SET_COOKIE, value);
                }
                Some(Flaw::FoldsSetCookies) => {
                    let mut all: Vec<String> = headers
                        .get_all(header::SET_COOKIE)
                        .iter()
                        .map(|v| v.to_str().unwrap().to_owned())
                        .collect();
                    all.push(cookie.clone());
                    headers.insert(
                        header::SET_COOKIE,
                        HeaderValue::from_str(&all.join(", ")).unwrap(),
                    );
                }
                _ => {
                    headers.append(header::SET_COOKIE, value);
                }
            }
        }
        let vary = match self.flaw {
            Some(Flaw::NoVary) => false,
            Some(Flaw::AlwaysVaries) => true,
            Some(Flaw::VaryOnlyOn2xx) => outcome.vary_cookie && (200..300).contains(&status),
            Some(Flaw::VaryOnlyWithACookie) => outcome.vary_cookie && set_cookie.is_some(),
            _ => outcome.vary_cookie,
        };
        if vary {
            let cookie = HeaderValue::from_static("Cookie");
            if self.has(Flaw::InsertsVary) {
                headers.insert(header::VARY, cookie);
            } else {
                headers.append(header::VARY, cookie);
            }
        }
    }
}

/// [`Flaw::RerendersTheCookie`]: the adapter's own cookie builder, which
/// knows name, value, Path and Max-Age.
fn rerender(set_cookie: &str) -> String {
    let parsed = cookie::Cookie::parse(set_cookie.to_owned()).unwrap();
    let mut built = cookie::Cookie::build((parsed.name().to_owned(), parsed.value().to_owned()));
    if let Some(path) = parsed.path() {
        built = built.path(path.to_owned());
    }
    if let Some(age) = parsed.max_age() {
        built = built.max_age(age);
    }
    built.build().to_string()
}

async fn handle(
    server: Arc<Server>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let sent: Vec<_> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .cloned()
        .collect();
    let session = server.load(req.headers(), &sent);
    if server.has(Flaw::LoadsEagerly) {
        let _ = session.is_empty().await;
    }
    let path = req.uri().path().to_owned();
    let answer = probe::respond(&session, req.method().as_str(), &path, req.uri().query()).await;
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in &answer.headers {
        headers.append(*name, HeaderValue::from_static(value));
    }
    let skip = match server.flaw {
        Some(Flaw::SkipsFinishWhenUntouched) => !session.is_accessed().await,
        Some(Flaw::SkipsFinishOnHandlerErrors) => answer.status >= 400,
        _ => false,
    };
    if skip {
        return Ok(response);
    }
    match server
        .sessions
        .finish(&session, server.finish_status(answer.status))
        .await
    {
        Ok(outcome) => {
            server.apply(outcome, answer.status, &sent, response.headers_mut());
            Ok(response)
        }
        Err(error) if server.has(Flaw::IgnoresFinishErrors) => {
            eprintln!("finish failed, answering anyway: {error}");
            Ok(response)
        }
        Err(error) => {
            let status = if server.has(Flaw::FinishErrorsAre500) {
                500
            } else {
                error.http_status()
            };
            Ok(Response::builder()
                .status(status)
                .body(Full::new(Bytes::from(error.to_string())))
                .unwrap())
        }
    }
}

/// Starts a server for `spec` on a loopback port; returns its address.
pub async fn start(spec: ServerSpec, flaw: Option<Flaw>) -> std::io::Result<SocketAddr> {
    let server = Arc::new(Server {
        sessions: SessionManager::new(MemoryStore::new())
            .with_config(spec.config)
            .map_err(std::io::Error::other)?,
        flaw,
        handles: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(Arc::clone(&server), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}
