//! HX-SET, HX-NOP, HX-RD, HX-ERR: what a request writes, by what it did
//! and how it ended (§5, §8).

use serde_json::json;
use session_core::Config;
use time::{Duration, OffsetDateTime};

use super::{attributes, case, custom, data, no_5xx, ok, sets_nothing, well_formed, with_session};
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, ensure, ensure_eq};

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-SET-001",
        first_write_sets_one_cookie,
        Must,
        "§5",
        Config::default,
        [IdCookie],
        ["adapter.set-cookie"],
        "The first write of a visitor without a cookie MUST set exactly one session cookie, whose value is a well-formed ID."
    ),
    case!(
        "HX-SET-002",
        cookie_carries_the_default_attributes,
        Must,
        "§8",
        Config::default,
        [],
        ["adapter.set-cookie"],
        "With default settings the cookie MUST be `sessionid`, Path=/, no Domain, HttpOnly, SameSite=Lax, not Secure, Max-Age=1209600 and a matching Expires."
    ),
    case!(
        "HX-SET-003",
        cookie_carries_configured_attributes,
        Must,
        "§8",
        custom,
        [],
        ["adapter.set-cookie"],
        "The cookie MUST carry the configured name, Path, Domain, Secure, HttpOnly, SameSite and cookie age."
    ),
    case!(
        "HX-SET-004",
        data_round_trips_over_http,
        Must,
        "§3",
        Config::default,
        [],
        ["adapter.load.before"],
        "Values written in one request MUST be read back, as the same JSON, in the next."
    ),
    case!(
        "HX-SET-005",
        later_writes_keep_the_id,
        Must,
        "§5",
        Config::default,
        [IdCookie],
        ["adapter.set-cookie", "adapter.core-decides"],
        "A write to an existing session MUST renew the cookie with the same ID."
    ),
    case!(
        "HX-SET-006",
        counter_counts,
        Must,
        "§3",
        Config::default,
        [],
        ["adapter.load.before", "adapter.core-decides"],
        "Read-modify-write across requests MUST see every previous write (incr three times gives 3)."
    ),
    case!(
        "HX-NOP-001",
        untouched_session_sets_nothing,
        Must,
        "§3",
        Config::default,
        [],
        ["adapter.nothing-else"],
        "A request that never touches the session MUST answer without Set-Cookie and without Vary: Cookie, with or without a cookie."
    ),
    case!(
        "HX-RD-001",
        read_only_sets_nothing_but_varies,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.vary", "adapter.nothing-else"],
        "A request that only reads an existing session MUST NOT set a cookie and MUST send Vary: Cookie."
    ),
    case!(
        "HX-RD-002",
        read_without_a_session_sets_nothing,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.vary", "adapter.nothing-else"],
        "A read by a visitor without a cookie MUST answer null, set no cookie, and send Vary: Cookie."
    ),
    case!(
        "HX-VRY-001",
        writes_vary_on_cookie,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.vary"],
        "A response that wrote the session MUST send Vary: Cookie."
    ),
    case!(
        "HX-ERR-001",
        a_5xx_after_a_first_write_sets_nothing,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.finish.status"],
        "A write answered with 500 MUST NOT set a cookie."
    ),
    case!(
        "HX-ERR-002",
        a_5xx_saves_nothing,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.finish.status"],
        "A write to an existing session answered with 500 MUST NOT be saved."
    ),
    case!(
        "HX-ERR-003",
        a_4xx_still_saves,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.finish.status", "adapter.finish.handler-errors"],
        "A write answered with a 4xx status MUST be saved and its cookie set, as Django does below 500."
    ),
    case!(
        "HX-ERR-004",
        redirects_save_and_set_the_cookie,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.finish.status"],
        "A write answered with 302 or 303 (a login form's usual answer) MUST be saved and its cookie set."
    ),
    case!(
        "HX-VRY-002",
        vary_on_every_status_once_accessed,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.vary", "adapter.finish.status"],
        "A response whose handler accessed the session MUST send Vary: Cookie whatever its status: 2xx, 3xx, 4xx and 5xx."
    ),
];

async fn first_write_sets_one_cookie(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let answer = client.post("/probe/set?k=a&v=1").await?;
    ok(&answer, "POST /probe/set")?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "the first write")?;
    well_formed(cookie.value(), "the first write")
}

fn check_lifetime(cookie: &cookie::Cookie<'_>, age: Duration, why: &str) -> CaseResult {
    ensure_eq!(cookie.max_age(), Some(age), "{why}: Max-Age");
    let expires = cookie
        .expires_datetime()
        .ok_or_else(|| crate::Failure::new(format!("{why}: no Expires")))?;
    let drift = (expires - (OffsetDateTime::now_utc() + age)).abs();
    ensure!(
        drift <= Duration::seconds(5),
        "{why}: Expires is {expires}, {drift} away from now + Max-Age"
    );
    Ok(())
}

async fn cookie_carries_the_default_attributes(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let answer = client.post("/probe/set?k=a&v=1").await?;
    let cookie = answer.the_cookie("sessionid", "the first write")?;
    attributes(&cookie, &Config::default(), "the session cookie")?;
    check_lifetime(&cookie, Duration::seconds(1_209_600), "the session cookie")
}

async fn cookie_carries_configured_attributes(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let answer = client.post("/probe/set?k=a&v=1").await?;
    ensure!(
        answer.cookies_named("sessionid").is_empty(),
        "a cookie named sessionid was set although the name is configured: {:?}",
        answer.set_cookies
    );
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "the first write")?;
    attributes(&cookie, ctx.config(), "the session cookie")?;
    check_lifetime(&cookie, ctx.config().cookie_age(), "the session cookie")
}

async fn data_round_trips_over_http(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let values = [
        ("n", "42", json!(42)),
        ("s", "%22caf%C3%A9%20%F0%9F%A6%80%22", json!("café 🦀")),
        (
            "o",
            "%7B%22cart%22%3A%5B1%2C2%5D%2C%22ok%22%3Atrue%7D",
            json!({"cart": [1, 2], "ok": true}),
        ),
        ("plain", "not%20json", json!("not json")),
    ];
    for (key, raw, _) in &values {
        ok(
            &client.post(&format!("/probe/set?k={key}&v={raw}")).await?,
            "POST /probe/set",
        )?;
    }
    for (key, _, expected) in &values {
        let answer = client.get(&format!("/probe/get?k={key}")).await?;
        ensure_eq!(
            answer.json.get("value"),
            Some(expected),
            "GET /probe/get?k={key}"
        );
    }
    Ok(())
}

async fn later_writes_keep_the_id(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let first = client.session_cookie().map(str::to_owned);
    let answer = client.post("/probe/set?k=b&v=2").await?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "the second write")?;
    ensure_eq!(
        Some(cookie.value().to_owned()),
        first,
        "the ID after a second write"
    );
    Ok(())
}

async fn counter_counts(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    for expected in 1..=3 {
        let answer = client.post("/probe/incr?k=n").await?;
        ensure_eq!(
            answer.json.get("value"),
            Some(&json!(expected)),
            "POST /probe/incr number {expected}"
        );
    }
    Ok(())
}

async fn untouched_session_sets_nothing(ctx: HttpCtx) -> CaseResult {
    let mut fresh = ctx.client();
    let answer = fresh.get("/probe/noop").await?;
    ok(&answer, "GET /probe/noop without a cookie")?;
    sets_nothing(&answer, "GET /probe/noop without a cookie")?;
    ensure!(
        !answer.varies_on_cookie(),
        "GET /probe/noop sent Vary: Cookie without touching the session"
    );
    let mut client = with_session(&ctx).await?;
    let answer = client.get("/probe/noop").await?;
    sets_nothing(&answer, "GET /probe/noop with a session")?;
    ensure!(
        !answer.varies_on_cookie(),
        "GET /probe/noop with a session sent Vary: Cookie"
    );
    Ok(())
}

async fn read_only_sets_nothing_but_varies(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let answer = client.get("/probe/get?k=a").await?;
    ensure_eq!(answer.json.get("value"), Some(&json!(1)), "the value read");
    sets_nothing(&answer, "a read-only request")?;
    ensure!(
        answer.varies_on_cookie(),
        "a read-only request did not send Vary: Cookie ({:?})",
        answer.vary
    );
    Ok(())
}

async fn read_without_a_session_sets_nothing(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let answer = client.get("/probe/get?k=a").await?;
    ensure_eq!(
        answer.json.get("value"),
        Some(&json!(null)),
        "the value read"
    );
    sets_nothing(&answer, "a read without a session")?;
    ensure!(
        answer.varies_on_cookie(),
        "a read without a session did not send Vary: Cookie"
    );
    Ok(())
}

async fn writes_vary_on_cookie(ctx: HttpCtx) -> CaseResult {
    let answer = ctx.client().post("/probe/set?k=a&v=1").await?;
    ensure!(
        answer.varies_on_cookie(),
        "a write did not send Vary: Cookie ({:?})",
        answer.vary
    );
    Ok(())
}

async fn a_5xx_after_a_first_write_sets_nothing(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let answer = client.post("/probe/set?k=a&v=1&status=500").await?;
    ensure_eq!(answer.status, 500, "the status the probe was asked for");
    sets_nothing(&answer, "a write answered with 500")
}

async fn a_5xx_saves_nothing(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let answer = client.post("/probe/set?k=a&v=2&status=503").await?;
    ensure_eq!(answer.status, 503, "the status the probe was asked for");
    sets_nothing(&answer, "a write answered with 503")?;
    ensure_eq!(
        data(&mut client).await?.get("a"),
        Some(&json!(1)),
        "the value after a write answered with 503"
    );
    Ok(())
}

async fn a_4xx_still_saves(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let answer = client.post("/probe/set?k=a&v=7&status=404").await?;
    no_5xx(&answer, "a write answered with 404")?;
    answer.the_cookie(ctx.config().cookie_name(), "a write answered with 404")?;
    ensure_eq!(
        data(&mut client).await?.get("a"),
        Some(&json!(7)),
        "the value after a write answered with 404"
    );
    Ok(())
}

async fn redirects_save_and_set_the_cookie(ctx: HttpCtx) -> CaseResult {
    for status in [302u16, 303] {
        let mut client = ctx.client();
        let why = format!("a first write answered with {status}");
        let answer = client
            .post(&format!("/probe/set?k=a&v={status}&status={status}"))
            .await?;
        ensure_eq!(answer.status, status, "{why}: the status");
        answer.the_cookie(ctx.config().cookie_name(), &why)?;
        let why = format!("a second write answered with {status}");
        let answer = client
            .post(&format!("/probe/set?k=b&v={status}&status={status}"))
            .await?;
        answer.the_cookie(ctx.config().cookie_name(), &why)?;
        let saved = data(&mut client).await?;
        ensure_eq!(
            (saved.get("a"), saved.get("b")),
            (Some(&json!(status)), Some(&json!(status))),
            "the values after writes answered with {status}"
        );
    }
    Ok(())
}

async fn vary_on_every_status_once_accessed(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    for status in [200u16, 201, 302, 303, 400, 404, 500, 503] {
        let answer = client
            .post(&format!("/probe/set?k=s&v={status}&status={status}"))
            .await?;
        ensure_eq!(answer.status, status, "the status the probe was asked for");
        ensure!(
            answer.varies_on_cookie(),
            "a write answered with {status} did not send Vary: Cookie ({:?})",
            answer.vary
        );
    }
    Ok(())
}
