//! The load generator: one visitor per task, each with its own kept-alive
//! HTTP/1.1 connection (hyper's client connection, no pool) and its own
//! cookie jar, checking every answer so that a broken cookie path cannot
//! be measured as fast empty sessions.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{COOKIE, HOST, HeaderValue, SET_COOKIE};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::sync::Mutex;

use super::{Route, UNTOUCHED};
use crate::driver::{BenchError, Workload};

/// A connection idle this long may have been closed by the server's
/// keep-alive timeout (5 s in actix-web and rocket) just as a request went
/// out: such a request is sent once more on a new connection. A failure on
/// a connection used more recently than this is an error.
const IDLE_RETRY: Duration = Duration::from_secs(1);

/// The cookies a server set, sent back on every request, as a browser
/// would (without the attributes a loopback client has no use for: path,
/// domain, `Secure`, expiry dates).
#[derive(Debug, Default)]
pub(crate) struct Jar {
    pairs: Vec<(String, String)>,
    /// The `Cookie` header the pairs make, built when they change rather
    /// than on every request.
    header: Option<HeaderValue>,
}

impl Jar {
    /// Applies one `Set-Cookie` value: stores or replaces the cookie, or
    /// removes it when the value is empty or `Max-Age` is zero or less
    /// (how every server here deletes a cookie). A value without `=`
    /// before its first `;` is not a cookie and changes nothing.
    pub(crate) fn store(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return;
        }
        let expired = parts.any(|attribute| {
            attribute.split_once('=').is_some_and(|(key, age)| {
                key.trim().eq_ignore_ascii_case("max-age")
                    && age.trim().parse::<i64>().is_ok_and(|age| age <= 0)
            })
        });
        self.pairs.retain(|(kept, _)| kept != name);
        if !value.is_empty() && !expired {
            self.pairs.push((name.to_owned(), value.to_owned()));
        }
        let joined = self
            .pairs
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        self.header = (!joined.is_empty())
            .then(|| HeaderValue::try_from(joined).ok())
            .flatten();
    }

    /// The `Cookie` header to send, if any cookie is kept.
    pub(crate) fn header(&self) -> Option<&HeaderValue> {
        self.header.as_ref()
    }
}

/// What one task keeps from one request to the next.
#[derive(Debug, Default)]
struct Visitor {
    connection: Option<SendRequest<Empty<Bytes>>>,
    jar: Jar,
    /// The counter the last answer said; `None` before the first request,
    /// which creates the session.
    counter: Option<u64>,
    last_answer: Option<Instant>,
}

/// Requests to one route of one server, one visitor per task.
#[derive(Debug)]
pub(crate) struct Visitors {
    server: &'static str,
    addr: SocketAddr,
    host: HeaderValue,
    route: Route,
    /// Whether the answers come from a session: then a counter must start
    /// at 1 and go up by one per request of the visitor, and a read must
    /// say the counter the visitor left.
    sessions: bool,
    visitors: Vec<Mutex<Visitor>>,
}

impl Visitors {
    /// Up to `tasks` visitors of `route` on the server `server` at `addr`.
    pub(crate) fn new(
        server: &'static str,
        addr: SocketAddr,
        route: Route,
        sessions: bool,
        tasks: usize,
    ) -> Result<Self, BenchError> {
        Ok(Visitors {
            server,
            addr,
            host: HeaderValue::try_from(addr.to_string())?,
            route,
            sessions,
            visitors: (0..tasks).map(|_| Mutex::default()).collect(),
        })
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, BenchError> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("cannot connect to {} at {}: {e}", self.server, self.addr))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("no HTTP/1.1 handshake with {}: {e}", self.server))?;
        // A connection that fails shows on the next request's sender.
        tokio::spawn(async move { drop(connection.await) });
        Ok(sender)
    }

    async fn send(
        &self,
        sender: &mut SendRequest<Empty<Bytes>>,
        cookie: Option<&HeaderValue>,
        path: &'static str,
    ) -> Result<hyper::Response<hyper::body::Incoming>, hyper::Error> {
        let mut request = Request::new(Empty::new());
        *request.uri_mut() = Uri::from_static(path);
        request.headers_mut().insert(HOST, self.host.clone());
        if let Some(cookie) = cookie {
            request.headers_mut().insert(COOKIE, cookie.clone());
        }
        sender.ready().await?;
        sender.send_request(request).await
    }

    /// Sends `GET path` as the visitor (on a new connection when it has
    /// none, or once more on a new one when its idle connection turned
    /// out closed) and returns the body of a 200 answer after keeping its
    /// cookies.
    async fn request(
        &self,
        visitor: &mut Visitor,
        path: &'static str,
    ) -> Result<Bytes, BenchError> {
        let idle = visitor
            .last_answer
            .is_some_and(|last| last.elapsed() >= IDLE_RETRY);
        let sender = match &mut visitor.connection {
            Some(sender) if !sender.is_closed() => sender,
            connection => connection.insert(self.connect().await?),
        };
        let response = match self.send(sender, visitor.jar.header(), path).await {
            Ok(response) => response,
            Err(e) if idle => {
                let sender = visitor.connection.insert(self.connect().await?);
                self.send(sender, visitor.jar.header(), path)
                    .await
                    .map_err(|again| {
                        format!(
                            "{} did not answer GET {path} ({e}, then on a new connection: {again})",
                            self.server
                        )
                    })?
            }
            Err(e) => return Err(format!("{} did not answer GET {path}: {e}", self.server).into()),
        };
        for value in response.headers().get_all(SET_COOKIE) {
            if let Ok(value) = value.to_str() {
                visitor.jar.store(value);
            }
        }
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{} broke off its answer to GET {path}: {e}", self.server))?
            .to_bytes();
        visitor.last_answer = Some(Instant::now());
        if status != StatusCode::OK {
            return Err(format!(
                "{} answered GET {path} with {status}: {}",
                self.server,
                String::from_utf8_lossy(body.get(..200).unwrap_or(&body))
            )
            .into());
        }
        Ok(body)
    }
}

/// The number an answer holds.
fn number(server: &str, path: &str, body: &[u8]) -> Result<u64, BenchError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| {
            format!(
                "{server} answered GET {path} with {:?}, not a number",
                String::from_utf8_lossy(body.get(..64).unwrap_or(body))
            )
            .into()
        })
}

/// Whether the counter a session route answered is the one expected after
/// `before` (the visitor's previous counter, `None` before its first
/// request): the first request creates the session at 1, a counter route
/// adds one, a read repeats it. `Err` says what went wrong.
pub(crate) fn check_counter(route: Route, before: Option<u64>, now: u64) -> Result<(), String> {
    let expected = match (before, route) {
        (None, _) => 1,
        (Some(before), Route::Counter | Route::Big) => before + 1,
        (Some(before), Route::Read) => before,
        (Some(_), Route::Untouched) => return Ok(()),
    };
    if now == expected {
        return Ok(());
    }
    Err(match before {
        None => format!(
            "the first request of a new visitor said {now}, not 1: it did not start a new session"
        ),
        Some(before) => format!(
            "the counter went from {before} to {now}, not {expected}: the session did not come back \
             with the cookie (check that the server sets one and the client's jar keeps it)"
        ),
    })
}

impl Workload for Visitors {
    async fn op(&self, worker: usize, workers: usize, _: u64) -> Result<(), BenchError> {
        let slot = self.visitors.get(worker).ok_or_else(|| {
            format!(
                "{workers} tasks, but only {} visitors were made",
                self.visitors.len()
            )
        })?;
        let mut visitor = slot.lock().await;
        // The first request of a visitor creates its session (read-only
        // and untouched routes need one to have something to skip).
        let path = match visitor.counter {
            None => self.route.first_path(),
            Some(_) => self.route.path(),
        };
        let body = self.request(&mut visitor, path).await?;
        if visitor.counter.is_some() && self.route == Route::Untouched {
            if body != UNTOUCHED.as_bytes() {
                return Err(format!(
                    "{} answered GET {path} with something else than {UNTOUCHED:?}",
                    self.server
                )
                .into());
            }
            return Ok(());
        }
        let now = number(self.server, path, &body)?;
        if self.sessions {
            check_counter(self.route, visitor.counter, now)
                .map_err(|why| format!("{}, GET {path}: {why}", self.server))?;
        }
        visitor.counter = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(jar: &Jar) -> Option<&str> {
        jar.header().map(|h| h.to_str().unwrap())
    }

    #[test]
    fn the_jar_keeps_each_cookie_once_with_its_latest_value() {
        let mut jar = Jar::default();
        assert_eq!(header(&jar), None);
        jar.store("sessionid=abc; Path=/; HttpOnly; SameSite=Lax");
        assert_eq!(header(&jar), Some("sessionid=abc"));
        jar.store("poem-session=x-y_z; Secure; Max-Age=1209600");
        assert_eq!(header(&jar), Some("sessionid=abc; poem-session=x-y_z"));
        jar.store("sessionid=def; Path=/");
        assert_eq!(header(&jar), Some("poem-session=x-y_z; sessionid=def"));
    }

    #[test]
    fn the_jar_drops_a_cookie_the_server_deletes() {
        let mut jar = Jar::default();
        jar.store("id=abc");
        jar.store("id=; Max-Age=0; Path=/");
        assert_eq!(header(&jar), None);
        jar.store("id=abc");
        jar.store("id=abc; max-age=-1");
        assert_eq!(header(&jar), None);
        jar.store("id=abc");
        jar.store("id=xyz; Max-Age=0");
        assert_eq!(header(&jar), None);
    }

    #[test]
    fn the_jar_ignores_what_is_not_a_cookie() {
        let mut jar = Jar::default();
        jar.store("id=abc");
        jar.store("garbage");
        jar.store("=value; Path=/");
        jar.store("");
        assert_eq!(header(&jar), Some("id=abc"));
        // A value may hold `=`; only the first one splits.
        jar.store("b=x=y; Max-Age=5");
        assert_eq!(header(&jar), Some("id=abc; b=x=y"));
    }

    #[test]
    fn counters_start_at_one_and_go_up_by_one() {
        assert_eq!(check_counter(Route::Counter, None, 1), Ok(()));
        assert_eq!(check_counter(Route::Counter, Some(4), 5), Ok(()));
        assert_eq!(check_counter(Route::Big, Some(1), 2), Ok(()));
        let lost = check_counter(Route::Counter, Some(4), 1).unwrap_err();
        assert!(
            lost.starts_with("the counter went from 4 to 1, not 5"),
            "{lost}"
        );
        let shared = check_counter(Route::Big, None, 7).unwrap_err();
        assert!(shared.contains("said 7, not 1"), "{shared}");
    }

    #[test]
    fn a_read_repeats_the_counter_and_untouched_is_not_counted() {
        assert_eq!(check_counter(Route::Read, None, 1), Ok(()));
        assert_eq!(check_counter(Route::Read, Some(1), 1), Ok(()));
        assert!(check_counter(Route::Read, Some(1), 2).is_err());
        assert_eq!(check_counter(Route::Untouched, Some(3), 0), Ok(()));
    }
}
