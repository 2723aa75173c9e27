//! The HTTP cases, one file per area. Each starts its own server through
//! the suite's factory, drives it through the probe routes with the kit's
//! own cookie jar, and checks one rule of §5, §6 or §8.

use cookie::{Cookie, SameSite};
use serde_json::Value;
use session_core::{Config, SessionId};

use super::HttpCase;
use super::client::{Answer, Client};
use crate::{CaseResult, Failure, ensure, ensure_eq};

mod auth;
mod basics;
mod concurrency;
mod cookies;
mod data;
mod expiry;
mod headers;
mod lifetime;
mod secure;

/// Declares a case whose body is the `async fn` of the same name as its
/// title, run against a server with the settings `$config()` returns; a
/// trailing `slow` marks a case that waits in real time.
macro_rules! case {
    ($id:literal, $title:ident, $level:ident, $section:literal, $config:expr, [$($need:ident),*], [$($clause:literal),+], $req:literal $(, $slow:ident)?) => {
        $crate::http::HttpCase {
            info: $crate::CaseInfo {
                id: $id,
                title: stringify!($title),
                requirement: $req,
                level: $crate::Level::$level,
                section: $section,
                clauses: &[$($clause),+],
                needs: &[$($crate::Need::$need),*],
                slow: case!(@slow $($slow)?),
            },
            config: $config,
            run: |ctx| Box::pin($title(ctx)),
        }
    };
    (@slow) => { false };
    (@slow slow) => { true };
}
pub(crate) use case;

/// Every HTTP case, in catalogue order.
pub(super) static ALL: std::sync::LazyLock<Vec<HttpCase>> = std::sync::LazyLock::new(|| {
    [
        basics::CASES,
        headers::CASES,
        cookies::CASES,
        secure::CASES,
        data::CASES,
        auth::CASES,
        expiry::CASES,
        lifetime::CASES,
        concurrency::CASES,
    ]
    .into_iter()
    .flat_map(|area| area.iter().copied())
    .collect()
});

/// Settings whose every cookie attribute differs from the default.
pub(super) fn custom() -> Config {
    Config::default()
        .with_cookie_name("kit_sid")
        .with_cookie_age(time::Duration::hours(1))
        .with_cookie_path("/")
        .with_cookie_domain(Some("localhost".to_owned()))
        .with_cookie_secure(true)
        .with_cookie_http_only(false)
        .with_cookie_same_site(session_core::SameSite::Strict)
}

/// Fails unless the request answered below 500 (and so did not crash on
/// what it was sent).
pub(super) fn no_5xx(answer: &Answer, why: &str) -> CaseResult {
    ensure!(
        answer.status < 500,
        "{why}: the server answered {} (a 5xx)",
        answer.status
    );
    Ok(())
}

/// Fails unless the request answered 200.
pub(super) fn ok(answer: &Answer, why: &str) -> CaseResult {
    ensure_eq!(answer.status, 200, "{why}: the status");
    Ok(())
}

/// Fails if the answer sets any cookie.
pub(super) fn sets_nothing(answer: &Answer, why: &str) -> CaseResult {
    ensure!(
        answer.set_cookies.is_empty(),
        "{why}: expected no Set-Cookie, got {:?}",
        answer.set_cookies
    );
    Ok(())
}

/// A client holding a session with `{"a": 1}`.
pub(super) async fn with_session(ctx: &super::HttpCtx) -> Result<Client, Failure> {
    let mut client = ctx.client();
    let answer = client.post("/probe/set?k=a&v=1").await?;
    ok(&answer, "POST /probe/set")?;
    ensure!(
        client.session_cookie().is_some(),
        "the first write set no session cookie: {:?}",
        answer.set_cookies
    );
    Ok(client)
}

/// The session cookie's value in `client`'s jar, or a failure.
pub(super) fn issued(client: &Client) -> Result<String, Failure> {
    client
        .session_cookie()
        .map(str::to_owned)
        .ok_or_else(|| Failure::new("no session cookie is set"))
}

/// A fresh client replaying `value` as its session cookie.
pub(super) fn replaying(ctx: &super::HttpCtx, value: impl Into<String>) -> Client {
    let mut client = ctx.client();
    client.set_session_cookie(Some(value.into()));
    client
}

/// The session's data as `GET /probe/all` shows it.
pub(super) async fn data(client: &mut Client) -> Result<Value, Failure> {
    let answer = client.get("/probe/all").await?;
    ok(&answer, "GET /probe/all")?;
    Ok(answer.json.get("data").cloned().unwrap_or(Value::Null))
}

/// Fails unless `value` is a well-formed session ID.
pub(super) fn well_formed(value: &str, why: &str) -> CaseResult {
    ensure!(
        SessionId::is_valid(value),
        "{why}: the cookie value {value:?} is not 32 characters of [a-z0-9]"
    );
    Ok(())
}

/// Fails unless `cookie` carries the Path, Domain, Secure, HttpOnly and
/// SameSite that `config` asks for.
pub(super) fn attributes(cookie: &Cookie<'_>, config: &Config, why: &str) -> CaseResult {
    ensure_eq!(cookie.path(), Some(config.cookie_path()), "{why}: Path");
    ensure_eq!(
        cookie.domain().map(|d| d.trim_start_matches('.')),
        config.cookie_domain(),
        "{why}: Domain"
    );
    ensure_eq!(
        cookie.secure().unwrap_or(false),
        config.cookie_secure(),
        "{why}: Secure"
    );
    ensure_eq!(
        cookie.http_only().unwrap_or(false),
        config.cookie_http_only(),
        "{why}: HttpOnly"
    );
    let same_site = match config.cookie_same_site() {
        session_core::SameSite::Strict => SameSite::Strict,
        session_core::SameSite::Lax => SameSite::Lax,
        session_core::SameSite::None => SameSite::None,
    };
    ensure_eq!(cookie.same_site(), Some(same_site), "{why}: SameSite");
    Ok(())
}
