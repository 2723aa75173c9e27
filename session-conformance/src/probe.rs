//! The probe routes (DESIGN.md §10), framework-agnostic: an adapter's test
//! app and the demo route every request under `/probe/` to [`respond`] and
//! send back what it answers, with the status it answers (so `finish` sees
//! that status too).
//!
//! | route | effect | answer |
//! |---|---|---|
//! | GET `/probe/noop` | does not touch the session | `{}` |
//! | GET `/probe/get?k=K` | read | `{"value": V or null}` |
//! | POST `/probe/set?k=K&v=V[&status=N][&nest=D]` | insert (V wrapped in D arrays), answer with status N | `{"ok": true}` |
//! | POST `/probe/remove?k=K` | remove | `{"value": old or null}` |
//! | POST `/probe/incr?k=K` | read, add 1, write | `{"value": n}` |
//! | GET `/probe/all` | read everything | `{"key": id or null, "data": {...}}` |
//! | POST `/probe/flush` | flush | `{"ok": true}` |
//! | POST `/probe/cycle` | rotate the ID | `{"ok": true}` |
//! | POST `/probe/expiry?secs=N` / `?at=RFC3339` / `?browser_close=1` / `?reset=1` | set_expiry | as GET |
//! | GET `/probe/expiry` | read expiry | `{"age": s, "date": RFC3339, "browser_close": bool}` |
//! | POST `/probe/login?user=U[&hash=H]` | login | `{"ok": true}` |
//! | POST `/probe/logout` | logout | `{"ok": true}` |
//! | GET `/probe/user` | current user | `{"user": U or null}` |
//!
//! `v` is parsed as JSON, else taken as a string. `status` is 200 to 599.
//! `nest=D` (0 to 1,000) wraps the value in D arrays, to send values deeper
//! than a query string's JSON parser would read.
//!
//! Every route also takes `hold_ms=N` (0 to 5,000): the handler waits that
//! long after doing its work, before answering, so a test can let another
//! request of the same visitor land in between.
//!
//! Every route also takes `app_headers=1`: the handler then sets headers of
//! its own, as applications do — `Vary: Accept-Language` and
//! `Set-Cookie: theme=dark; Path=/` — returned in [`ProbeResponse::headers`];
//! the adapter must keep them beside its own.
//!
//! Unknown routes answer 404, a wrong method 405, a missing or bad parameter,
//! a reserved key or a value the session refuses 400, and a session error its
//! [`Error::http_status`](session_core::Error::http_status) with
//! `{"error": message}`.

use std::borrow::Cow;

use serde_json::{Value, json};
use session_core::{Error, ErrorKind, Expiry, Session};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What a probe route answers: a status and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResponse {
    /// The HTTP status to answer with.
    pub status: u16,
    /// The JSON body (`Content-Type: application/json`).
    pub body: String,
    /// Headers the handler sets itself (`app_headers=1`), to append to the
    /// response as they are, before the session adapter adds its own.
    pub headers: Vec<(&'static str, &'static str)>,
}

/// The headers a probe handler sets with `app_headers=1`.
pub const APP_HEADERS: [(&str, &str); 2] = [
    ("vary", "Accept-Language"),
    ("set-cookie", "theme=dark; Path=/"),
];

impl ProbeResponse {
    fn json(status: u16, body: Value) -> Self {
        ProbeResponse {
            status,
            body: body.to_string(),
            headers: Vec::new(),
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Self::json(status, json!({ "error": message }))
    }
}

/// Answers one probe request. `path` is the request path (`/probe/...`),
/// `query` the raw query string, if any.
pub async fn respond(
    session: &Session,
    method: &str,
    path: &str,
    query: Option<&str>,
) -> ProbeResponse {
    let params = Params::parse(query.unwrap_or(""));
    let hold = match params.get("hold_ms").map(str::parse::<u64>) {
        None => None,
        Some(Ok(ms)) if ms <= 5_000 => Some(std::time::Duration::from_millis(ms)),
        Some(_) => return ProbeResponse::error(400, "hold_ms must be a number from 0 to 5000"),
    };
    let mut response = match route(session, method, path, &params).await {
        Ok(response) => response,
        // A reserved key, a value or an expiry the session refuses is the
        // client's mistake here, not the app's.
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::ReservedKey | ErrorKind::Value | ErrorKind::ExpiryOutOfRange
            ) =>
        {
            ProbeResponse::error(400, &error.to_string())
        }
        Err(error) => {
            tracing::error!(
                error = %error.report(),
                kind = ?error.kind(),
                "session error on a probe route"
            );
            // The details (hosts, paths) are for the log, not the client.
            ProbeResponse::error(error.http_status(), error.public_message())
        }
    };
    if params.get("app_headers").is_some_and(|v| v == "1") {
        response.headers.extend(APP_HEADERS);
    }
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    response
}

/// The query's pairs, decoded; borrowed from the query unless escaped.
struct Params<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Params<'a> {
    fn parse(query: &'a str) -> Self {
        Params(form_urlencoded::parse(query.as_bytes()).collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

fn ok() -> Result<ProbeResponse, Error> {
    Ok(ProbeResponse::json(200, json!({"ok": true})))
}

fn bad(message: &str) -> Result<ProbeResponse, Error> {
    Ok(ProbeResponse::error(400, message))
}

async fn route(
    session: &Session,
    method: &str,
    path: &str,
    params: &Params<'_>,
) -> Result<ProbeResponse, Error> {
    let Some(name) = path.strip_prefix("/probe/") else {
        return Ok(ProbeResponse::error(404, "not a probe route"));
    };
    let expected = match name {
        "noop" | "get" | "all" | "user" => "GET",
        "set" | "remove" | "incr" | "flush" | "cycle" | "login" | "logout" => "POST",
        // POST sets the expiry, then reads it as GET does.
        "expiry" if method == "POST" => "POST",
        "expiry" => "GET",
        _ => return Ok(ProbeResponse::error(404, "unknown probe route")),
    };
    if method != expected {
        return Ok(ProbeResponse::error(
            405,
            "wrong method for this probe route",
        ));
    }
    let key = params.get("k");
    match name {
        "noop" => Ok(ProbeResponse::json(200, json!({}))),
        "get" => {
            let Some(key) = key else {
                return bad("missing k");
            };
            let value = session.get_value(key).await?;
            Ok(ProbeResponse::json(200, json!({ "value": value })))
        }
        "set" => {
            let Some(key) = key else {
                return bad("missing k");
            };
            let raw = params.get("v").unwrap_or("");
            let mut value = serde_json::from_str::<Value>(raw)
                .unwrap_or_else(|_| Value::String(raw.to_owned()));
            let status = match params.get("status").map(str::parse::<u16>) {
                None => 200,
                Some(Ok(status)) if (200..=599).contains(&status) => status,
                Some(_) => return bad("status must be a number from 200 to 599"),
            };
            match params.get("nest").map(str::parse::<u32>) {
                None => {}
                Some(Ok(depth)) if depth <= 1_000 => {
                    for _ in 0..depth {
                        value = Value::Array(vec![value]);
                    }
                }
                Some(_) => return bad("nest must be a number from 0 to 1000"),
            }
            session.insert(key, value).await?;
            Ok(ProbeResponse::json(status, json!({"ok": true})))
        }
        "remove" => {
            let Some(key) = key else {
                return bad("missing k");
            };
            let old = session.remove(key).await?;
            Ok(ProbeResponse::json(200, json!({ "value": old })))
        }
        "incr" => {
            let Some(key) = key else {
                return bad("missing k");
            };
            let n = session
                .get::<i64>(key)
                .await?
                .unwrap_or(0)
                .saturating_add(1);
            session.insert(key, n).await?;
            Ok(ProbeResponse::json(200, json!({ "value": n })))
        }
        "all" => {
            let id = session.id().await?;
            let data = session.data().await?;
            Ok(ProbeResponse::json(
                200,
                json!({ "key": id.as_ref().map(|id| id.as_str()), "data": &*data }),
            ))
        }
        "flush" => session.flush().await.and_then(|()| ok()),
        "cycle" => session.cycle_id().await.and_then(|()| ok()),
        "login" => {
            let Some(user) = params.get("user").filter(|u| !u.is_empty()) else {
                return bad("missing user");
            };
            session
                .login(user, params.get("hash").unwrap_or(""))
                .await?;
            ok()
        }
        "logout" => session.logout().await.and_then(|()| ok()),
        "user" => Ok(ProbeResponse::json(
            200,
            json!({ "user": session.user_id().await? }),
        )),
        // "expiry", the only route left.
        _ => {
            if method == "POST" {
                let expiry = if let Some(secs) = params.get("secs") {
                    match secs.parse::<i64>() {
                        Ok(secs) => Expiry::Seconds(secs),
                        Err(_) => return bad("secs must be an integer"),
                    }
                } else if let Some(at) = params.get("at") {
                    match OffsetDateTime::parse(at, &Rfc3339) {
                        Ok(at) => Expiry::At(at),
                        Err(_) => return bad("at must be an RFC 3339 date"),
                    }
                } else if params.get("browser_close").is_some() {
                    Expiry::BrowserClose
                } else if params.get("reset").is_some() {
                    Expiry::Default
                } else {
                    return bad("give secs, at, browser_close or reset");
                };
                session.set_expiry(expiry).await?;
            }
            let age = session.expiry_age().await?;
            let date = session
                .expiry_date()
                .await?
                .format(&Rfc3339)
                .unwrap_or_default();
            let browser_close = session.expire_at_browser_close().await?;
            Ok(ProbeResponse::json(
                200,
                json!({ "age": age, "date": date, "browser_close": browser_close }),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::{MemoryStore, SessionManager};

    async fn call(session: &Session, method: &str, path: &str, query: &str) -> (u16, Value) {
        let r = respond(session, method, path, Some(query)).await;
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    #[tokio::test]
    async fn routes_answer_as_the_table_says() {
        let sessions = SessionManager::new(MemoryStore::new());
        let s = sessions.load(None::<&str>);
        assert_eq!(call(&s, "GET", "/probe/noop", "").await, (200, json!({})));
        assert!(!s.is_accessed().await, "noop must not touch the session");
        assert_eq!(
            call(&s, "POST", "/probe/set", "k=a&v=%7B%22x%22%3A1%7D").await,
            (200, json!({"ok": true}))
        );
        assert_eq!(
            call(&s, "GET", "/probe/get", "k=a").await,
            (200, json!({"value": {"x": 1}}))
        );
        assert_eq!(
            call(&s, "POST", "/probe/set", "k=b&v=not%20json&status=500").await,
            (500, json!({"ok": true}))
        );
        assert_eq!(
            call(&s, "GET", "/probe/get", "k=b").await,
            (200, json!({"value": "not json"}))
        );
        assert_eq!(
            call(&s, "POST", "/probe/incr", "k=n").await,
            (200, json!({"value": 1}))
        );
        assert_eq!(
            call(&s, "POST", "/probe/remove", "k=n").await,
            (200, json!({"value": 1}))
        );
        assert_eq!(
            call(&s, "POST", "/probe/login", "user=ada").await,
            (200, json!({"ok": true}))
        );
        assert_eq!(
            call(&s, "GET", "/probe/user", "").await,
            (200, json!({"user": "ada"}))
        );
        let (status, expiry) = call(&s, "POST", "/probe/expiry", "secs=60").await;
        assert_eq!(
            (status, &expiry["age"], &expiry["browser_close"]),
            (200, &json!(60), &json!(false))
        );
        let (_, expiry) = call(&s, "POST", "/probe/expiry", "browser_close=1").await;
        assert_eq!(expiry["browser_close"], json!(true));
        let (_, all) = call(&s, "GET", "/probe/all", "").await;
        assert_eq!(all["key"], Value::Null, "no record before finish");
        assert_eq!(all["data"]["a"], json!({"x": 1}));
    }

    #[tokio::test]
    async fn bad_requests_get_4xx() {
        let sessions = SessionManager::new(MemoryStore::new());
        let s = sessions.load(None::<&str>);
        assert_eq!(call(&s, "GET", "/probe/nope", "").await.0, 404);
        assert_eq!(call(&s, "GET", "/probe/set", "k=a").await.0, 405);
        assert_eq!(call(&s, "PUT", "/probe/expiry", "secs=60").await.0, 405);
        assert_eq!(call(&s, "POST", "/probe/set", "v=1").await.0, 400);
        assert_eq!(
            call(&s, "POST", "/probe/set", "k=a&status=abc").await.0,
            400
        );
        for below_200 in ["0", "100", "101", "199"] {
            assert_eq!(
                call(&s, "POST", "/probe/set", &format!("k=a&status={below_200}"))
                    .await
                    .0,
                400,
                "an informational status cannot end a probe request"
            );
        }
        assert_eq!(
            call(&s, "POST", "/probe/expiry", "secs=9223372036854775807")
                .await
                .0,
            400,
            "an expiry no store can hold is the client's mistake"
        );
        assert_eq!(
            call(&s, "POST", "/probe/expiry", "at=yesterday").await.0,
            400
        );
        assert_eq!(
            call(&s, "POST", "/probe/set", "k=_session_expiry&v=1")
                .await
                .0,
            400
        );
    }
}
