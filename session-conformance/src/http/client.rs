//! The kit's HTTP client: one request per connection over loopback, and a
//! jar that keeps the session cookie exactly as a browser would (set on
//! `Set-Cookie`, dropped on `Max-Age=0` or a past `Expires`).

use std::net::SocketAddr;

use bytes::Bytes;
use cookie::Cookie;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use time::OffsetDateTime;

use crate::Failure;

/// A response as the cases see it.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The status code.
    pub(crate) status: u16,
    /// Every `Set-Cookie` header, raw.
    pub(crate) set_cookies: Vec<String>,
    /// Every `Vary` header value.
    pub(crate) vary: Vec<String>,
    /// The body as JSON (`Null` when it is not JSON).
    pub(crate) json: Value,
}

impl Answer {
    /// Whether a `Vary` header names `Cookie`.
    pub(crate) fn varies_on_cookie(&self) -> bool {
        self.vary
            .iter()
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case("cookie"))
    }

    /// The `Set-Cookie` headers for `name`, parsed.
    pub(crate) fn cookies_named(&self, name: &str) -> Vec<Cookie<'static>> {
        self.set_cookies
            .iter()
            .filter_map(|raw| Cookie::parse(raw.clone()).ok())
            .filter(|c| c.name() == name)
            .collect()
    }

    /// The one `Set-Cookie` for `name`, or a failure that shows them all.
    pub(crate) fn the_cookie(&self, name: &str, why: &str) -> Result<Cookie<'static>, Failure> {
        let mut cookies = self.cookies_named(name);
        match cookies.len() {
            1 => Ok(cookies.remove(0)),
            n => Err(Failure::new(format!(
                "{why}: expected exactly one Set-Cookie for `{name}`, got {n}: {:?}",
                self.set_cookies
            ))),
        }
    }
}

/// Whether a `Set-Cookie` removes the cookie: `Max-Age` of 0 or less, or an
/// `Expires` in the past.
pub(crate) fn is_removal(cookie: &Cookie<'_>) -> bool {
    cookie.max_age().is_some_and(|age| age.whole_seconds() <= 0)
        || cookie
            .expires_datetime()
            .is_some_and(|at| at <= OffsetDateTime::now_utc())
}

/// A client for one server, with a jar for one cookie name.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    addr: SocketAddr,
    cookie_name: String,
    jar: Option<String>,
}

impl Client {
    pub(crate) fn new(addr: SocketAddr, cookie_name: &str) -> Self {
        Client {
            addr,
            cookie_name: cookie_name.to_owned(),
            jar: None,
        }
    }

    /// The session cookie's value in the jar.
    pub(crate) fn session_cookie(&self) -> Option<&str> {
        self.jar.as_deref()
    }

    /// Puts a value in the jar, as a tampering client would.
    pub(crate) fn set_session_cookie(&mut self, value: Option<String>) {
        self.jar = value;
    }

    /// The `Cookie` field that carries the jar's cookie, if any.
    pub(crate) fn cookie_field(&self) -> Option<Vec<u8>> {
        self.jar
            .as_ref()
            .map(|v| format!("{}={v}", self.cookie_name).into_bytes())
    }

    /// Sends a request with the jar's cookie, then updates the jar.
    pub(crate) async fn send(&mut self, method: &str, target: &str) -> Result<Answer, Failure> {
        let header = self.cookie_field();
        let answer = self
            .raw(method, target, header.as_deref().into_iter().collect())
            .await?;
        for cookie in answer.cookies_named(&self.cookie_name) {
            self.jar = (!is_removal(&cookie)).then(|| cookie.value().to_owned());
        }
        Ok(answer)
    }

    /// GET with the jar.
    pub(crate) async fn get(&mut self, target: &str) -> Result<Answer, Failure> {
        self.send("GET", target).await
    }

    /// POST with the jar.
    pub(crate) async fn post(&mut self, target: &str) -> Result<Answer, Failure> {
        self.send("POST", target).await
    }

    /// Sends a request with exactly these `Cookie` header fields (raw
    /// bytes, so tampered and non-ASCII values go out as they are); the jar
    /// is neither used nor updated.
    pub(crate) async fn raw(
        &self,
        method: &str,
        target: &str,
        cookie_fields: Vec<&[u8]>,
    ) -> Result<Answer, Failure> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            Failure::new(format!(
                "{method} {target}: {what}: {e} (server at {})",
                self.addr
            ))
        };
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| fail("cannot connect", &e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail("handshake failed", &e))?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header("host", self.addr.to_string());
        for field in cookie_fields {
            let value =
                http::HeaderValue::from_bytes(field).map_err(|e| fail("bad cookie header", &e))?;
            request = request.header("cookie", value);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| fail("bad request", &e))?;
        let response = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            sender.send_request(request),
        )
        .await
        .map_err(|e| fail("no answer within 10 s", &e))?
        .map_err(|e| fail("request failed", &e))?;
        let status = response.status().as_u16();
        let all = |name| {
            response
                .headers()
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
        };
        let set_cookies = all(http::header::SET_COOKIE);
        let vary = all(http::header::VARY);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| fail("reading the body failed", &e))?
            .to_bytes();
        Ok(Answer {
            status,
            set_cookies,
            vary,
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        })
    }
}
