//! HX-ABS, HX-THR: the absolute timeout and the throttled renewal (§4),
//! which core enforces for every store and adapter.

use std::time::Duration as StdDuration;

use serde_json::json;
use session_core::Config;
use time::Duration;

use super::{case, data, issued, ok, replaying, sets_nothing, with_session};
use crate::http::client::{Answer, is_removal};
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, Failure, ensure, ensure_eq};

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-ABS-001",
        absolute_timeout_caps_the_cookie,
        Must,
        "§4",
        one_hour_timeout,
        [],
        ["adapter.set-cookie", "adapter.core-decides"],
        "With an absolute timeout of one hour and the two-week cookie age, a new session's cookie MUST have a Max-Age of at most 3600 s."
    ),
    case!(
        "HX-ABS-002",
        absolute_timeout_ends_an_active_session,
        Must,
        "§4",
        two_second_timeout,
        [],
        ["adapter.core-decides"],
        "With an absolute timeout of 2 s, a session written again after 0.5 s MUST keep its ID (where the cookie is the ID), and just past 2 s after its creation MUST read as empty, with a deletion cookie.",
        slow
    ),
    case!(
        "HX-ABS-003",
        rotation_keeps_the_absolute_timeout,
        Must,
        "§4",
        two_second_timeout,
        [],
        ["adapter.core-decides"],
        "With an absolute timeout of 2 s, the new ID a cycle gives 0.5 s after creation MUST read as empty just past 2 s after the session's creation.",
        slow
    ),
    case!(
        "HX-THR-001",
        renewal_interval_skips_a_recent_renewal,
        Must,
        "§4",
        hourly_renewal,
        [],
        ["adapter.nothing-else"],
        "With save_every_request and a renewal interval of one hour, a request that leaves a just-written session unchanged MUST NOT set a cookie, and the session MUST stay readable."
    ),
    case!(
        "HX-THR-002",
        renewal_interval_still_saves_changes,
        Must,
        "§4",
        hourly_renewal,
        [],
        ["adapter.set-cookie"],
        "With save_every_request and a renewal interval of one hour, a write to a just-written session MUST be saved and renew its cookie, with the same ID where the cookie is the ID."
    ),
];

fn one_hour_timeout() -> Config {
    Config::default().with_absolute_timeout(Duration::hours(1))
}

fn two_second_timeout() -> Config {
    Config::default().with_absolute_timeout(Duration::seconds(2))
}

fn hourly_renewal() -> Config {
    Config::default()
        .with_save_every_request(true)
        .with_renewal_interval(Duration::hours(1))
}

/// The session cookie's `Max-Age` in `answer`, in seconds.
fn max_age(answer: &Answer, ctx: &HttpCtx, why: &str) -> Result<i64, Failure> {
    let cookie = answer.the_cookie(ctx.config().cookie_name(), why)?;
    cookie
        .max_age()
        .map(|a| a.whole_seconds())
        .ok_or_else(|| Failure::new(format!("{why}: the cookie has no Max-Age: {cookie}")))
}

/// Sleeps until `ms` milliseconds after `since`.
async fn until(since: std::time::Instant, ms: u64) {
    let at = since + StdDuration::from_millis(ms);
    tokio::time::sleep_until(at.into()).await;
}

/// Fails unless `client`'s session reads as empty and the answer removes
/// the cookie.
async fn over(client: &mut crate::http::client::Client, ctx: &HttpCtx, why: &str) -> CaseResult {
    let answer = client.get("/probe/all").await?;
    ok(&answer, why)?;
    ensure_eq!(answer.json.get("data"), Some(&json!({})), "{why}: the data");
    let cookie = answer.the_cookie(ctx.config().cookie_name(), why)?;
    ensure!(
        is_removal(&cookie),
        "{why}: expected a deletion cookie, got {cookie}"
    );
    Ok(())
}

async fn absolute_timeout_caps_the_cookie(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let answer = client.post("/probe/set?k=a&v=1").await?;
    ok(&answer, "POST /probe/set")?;
    let age = max_age(&answer, &ctx, "the first write")?;
    ensure!(
        (3_590..=3_600).contains(&age),
        "the first write's Max-Age is {age}, not the one-hour absolute timeout"
    );
    Ok(())
}

async fn absolute_timeout_ends_an_active_session(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    // Taken after the answer, so the server's session is at least this old.
    let created = std::time::Instant::now();
    let first = issued(&client)?;
    until(created, 500).await;
    let answer = client.post("/probe/set?k=b&v=2").await?;
    ok(&answer, "a write 0.5 s after creation")?;
    // An engine whose cookie is not the ID re-seals it on every write.
    if ctx.id_cookie() {
        ensure_eq!(
            client.session_cookie(),
            Some(first.as_str()),
            "the ID after a write inside the timeout"
        );
    }
    let age = max_age(&answer, &ctx, "a write 0.5 s after creation")?;
    ensure!(
        age <= 2,
        "a write 0.5 s after creation has Max-Age {age}, past the 2 s absolute timeout"
    );
    until(created, 2_100).await;
    over(&mut replaying(&ctx, first), &ctx, "2.1 s after creation").await
}

async fn rotation_keeps_the_absolute_timeout(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    // Taken after the answer, so the server's session is at least this old.
    let created = std::time::Instant::now();
    let first = issued(&client)?;
    until(created, 500).await;
    ok(&client.post("/probe/cycle").await?, "POST /probe/cycle")?;
    let rotated = issued(&client)?;
    ensure!(rotated != first, "cycle kept the ID");
    ensure_eq!(
        data(&mut client).await?.get("a"),
        Some(&json!(1)),
        "the data under the new ID"
    );
    until(created, 2_100).await;
    over(
        &mut replaying(&ctx, rotated),
        &ctx,
        "the rotated ID 2.1 s after the session's creation",
    )
    .await
}

async fn renewal_interval_skips_a_recent_renewal(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let answer = client.get("/probe/noop").await?;
    ok(&answer, "GET /probe/noop")?;
    sets_nothing(&answer, "an untouched request inside the renewal interval")?;
    let answer = client.get("/probe/get?k=a").await?;
    ok(&answer, "GET /probe/get")?;
    sets_nothing(&answer, "a read inside the renewal interval")?;
    ensure_eq!(
        answer.json.get("value"),
        Some(&json!(1)),
        "the value read inside the renewal interval"
    );
    Ok(())
}

async fn renewal_interval_still_saves_changes(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let first = issued(&client)?;
    let answer = client.post("/probe/set?k=b&v=2").await?;
    ok(&answer, "a second write")?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "a second write")?;
    if ctx.id_cookie() {
        ensure_eq!(cookie.value(), first.as_str(), "the renewed cookie's ID");
    }
    ensure_eq!(
        data(&mut client).await?,
        json!({"a": 1, "b": 2}),
        "the data after the second write"
    );
    Ok(())
}
