//! HX-EXP, HX-SER: expiry as the cookie and `/probe/expiry` show it (§4).

use serde_json::json;
use session_core::Config;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{case, data, issued, no_5xx, ok, replaying, with_session};
use crate::http::client::Answer;
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, Failure, ensure, ensure_eq};

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-EXP-001",
        expiry_in_seconds,
        Must,
        "§4",
        Config::default,
        [],
        ["adapter.set-cookie", "adapter.core-decides"],
        "set_expiry(300) MUST give the cookie Max-Age=300 and /probe/expiry age 300, not browser-close."
    ),
    case!(
        "HX-EXP-002",
        expiry_at_a_date,
        Must,
        "§4",
        Config::default,
        [],
        ["adapter.set-cookie", "adapter.core-decides"],
        "set_expiry(at) MUST give the cookie a Max-Age of the seconds until that date and /probe/expiry that date."
    ),
    case!(
        "HX-EXP-003",
        expiry_at_browser_close,
        Must,
        "§4",
        Config::default,
        [],
        ["adapter.set-cookie", "adapter.core-decides"],
        "set_expiry(browser close) MUST give a cookie without Max-Age and Expires, and /probe/expiry browser_close true."
    ),
    case!(
        "HX-EXP-004",
        reset_restores_the_default,
        Must,
        "§4",
        Config::default,
        [],
        ["adapter.set-cookie", "adapter.core-decides"],
        "set_expiry(reset) after a custom expiry MUST bring back the cookie age."
    ),
    case!(
        "HX-EXP-005",
        expiry_in_the_past_ends_the_session,
        Must,
        "§4",
        Config::default,
        [ServerSideState],
        ["adapter.core-decides"],
        "After set_expiry(at) with a past date, the next request MUST see an empty session."
    ),
    case!(
        "HX-EXP-006",
        browser_close_setting,
        Must,
        "§4",
        browser_close,
        [],
        ["adapter.set-cookie", "adapter.core-decides"],
        "With expire_at_browser_close, the cookie MUST have no Max-Age and Expires and /probe/expiry MUST say browser_close."
    ),
    case!(
        "HX-EXP-007",
        custom_expiry_beats_the_browser_close_setting,
        Must,
        "§4",
        browser_close,
        [],
        ["adapter.set-cookie", "adapter.core-decides"],
        "With expire_at_browser_close, set_expiry(60) MUST still give the cookie Max-Age=60."
    ),
    case!(
        "HX-SER-001",
        save_every_request_renews_an_untouched_session,
        Must,
        "§4",
        save_every_request,
        [IdCookie],
        ["adapter.finish.every-request"],
        "With save_every_request, a request that does not touch a non-empty session MUST renew its cookie with the same ID."
    ),
    case!(
        "HX-SER-002",
        save_every_request_without_a_session_sets_nothing,
        Must,
        "§4",
        save_every_request,
        [],
        ["adapter.nothing-else"],
        "With save_every_request, a request without a session cookie MUST NOT set one."
    ),
];

fn browser_close() -> Config {
    Config::default().with_expire_at_browser_close(true)
}

fn save_every_request() -> Config {
    Config::default().with_save_every_request(true)
}

fn max_age(answer: &Answer, ctx: &HttpCtx, why: &str) -> Result<Option<i64>, Failure> {
    Ok(answer
        .the_cookie(ctx.config().cookie_name(), why)?
        .max_age()
        .map(|a| a.whole_seconds()))
}

async fn expiry_in_seconds(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let answer = client.post("/probe/expiry?secs=300").await?;
    ok(&answer, "POST /probe/expiry?secs=300")?;
    ensure_eq!(
        max_age(&answer, &ctx, "set_expiry(300)")?,
        Some(300),
        "Max-Age after set_expiry(300)"
    );
    let shown = client.get("/probe/expiry").await?.json;
    ensure_eq!(shown.get("age"), Some(&json!(300)), "/probe/expiry age");
    ensure_eq!(
        shown.get("browser_close"),
        Some(&json!(false)),
        "/probe/expiry browser_close"
    );
    Ok(())
}

async fn expiry_at_a_date(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let at = (OffsetDateTime::now_utc() + Duration::hours(2))
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let text = at
        .format(&Rfc3339)
        .map_err(|e| Failure::new(e.to_string()))?;
    let answer = client
        .post(&format!("/probe/expiry?at={}", text.replace('+', "%2B")))
        .await?;
    ok(&answer, "POST /probe/expiry?at=")?;
    let age = max_age(&answer, &ctx, "set_expiry(at)")?
        .ok_or_else(|| Failure::new("no Max-Age after set_expiry(at)"))?;
    ensure!(
        (7190..=7200).contains(&age),
        "Max-Age after set_expiry(now + 2 h) is {age}, not about 7200"
    );
    let shown = client.get("/probe/expiry").await?.json;
    let date = shown
        .get("date")
        .and_then(|d| d.as_str())
        .unwrap_or_default();
    let date = OffsetDateTime::parse(date, &Rfc3339)
        .map_err(|e| Failure::new(format!("/probe/expiry date {date:?}: {e}")))?;
    ensure_eq!(date, at, "/probe/expiry date");
    Ok(())
}

async fn expiry_at_browser_close(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let answer = client.post("/probe/expiry?browser_close=1").await?;
    ok(&answer, "POST /probe/expiry?browser_close=1")?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "set_expiry(browser close)")?;
    ensure!(
        cookie.max_age().is_none() && cookie.expires().is_none(),
        "a browser-close cookie has a lifetime: {cookie}"
    );
    let shown = client.get("/probe/expiry").await?.json;
    ensure_eq!(
        shown.get("browser_close"),
        Some(&json!(true)),
        "/probe/expiry browser_close"
    );
    ensure_eq!(
        shown.get("age"),
        Some(&json!(1_209_600)),
        "/probe/expiry age (the server still expires it)"
    );
    Ok(())
}

async fn reset_restores_the_default(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    ok(
        &client.post("/probe/expiry?secs=300").await?,
        "POST /probe/expiry?secs=300",
    )?;
    let answer = client.post("/probe/expiry?reset=1").await?;
    ok(&answer, "POST /probe/expiry?reset=1")?;
    ensure_eq!(
        max_age(&answer, &ctx, "set_expiry(reset)")?,
        Some(1_209_600),
        "Max-Age after reset"
    );
    Ok(())
}

async fn expiry_in_the_past_ends_the_session(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let old = issued(&client)?;
    let past = (OffsetDateTime::now_utc() - Duration::hours(1))
        .format(&Rfc3339)
        .map_err(|e| Failure::new(e.to_string()))?;
    let answer = client
        .post(&format!("/probe/expiry?at={}", past.replace('+', "%2B")))
        .await?;
    no_5xx(&answer, "set_expiry(past)")?;
    ensure_eq!(
        data(&mut replaying(&ctx, old)).await?,
        json!({}),
        "the data after an expiry in the past"
    );
    Ok(())
}

async fn browser_close_setting(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let answer = client.post("/probe/set?k=a&v=1").await?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "a write")?;
    ensure!(
        cookie.max_age().is_none() && cookie.expires().is_none(),
        "a browser-close cookie has a lifetime: {cookie}"
    );
    let shown = client.get("/probe/expiry").await?.json;
    ensure_eq!(
        shown.get("browser_close"),
        Some(&json!(true)),
        "/probe/expiry browser_close"
    );
    Ok(())
}

async fn custom_expiry_beats_the_browser_close_setting(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let answer = client.post("/probe/expiry?secs=60").await?;
    ensure_eq!(
        max_age(&answer, &ctx, "set_expiry(60)")?,
        Some(60),
        "Max-Age after set_expiry(60)"
    );
    Ok(())
}

async fn save_every_request_renews_an_untouched_session(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let id = client.session_cookie().map(str::to_owned);
    let answer = client.get("/probe/noop").await?;
    ok(&answer, "GET /probe/noop")?;
    let cookie = answer.the_cookie(
        ctx.config().cookie_name(),
        "an untouched request with save_every_request",
    )?;
    ensure_eq!(
        Some(cookie.value().to_owned()),
        id,
        "the renewed cookie's ID"
    );
    ensure!(
        cookie.max_age().is_some(),
        "the renewed cookie has no Max-Age: {cookie}"
    );
    Ok(())
}

async fn save_every_request_without_a_session_sets_nothing(ctx: HttpCtx) -> CaseResult {
    let answer = ctx.client().get("/probe/noop").await?;
    ok(&answer, "GET /probe/noop")?;
    super::sets_nothing(&answer, "an untouched request without a session")
}
