//! HX-FLS, HX-CYC, HX-AUT: flush, rotation, login and logout (§6).

use serde_json::json;
use session_core::Config;

use super::{attributes, case, custom, data, issued, ok, replaying, sets_nothing, with_session};
use crate::http::client::is_removal;
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, ensure, ensure_eq};

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-FLS-001",
        flush_sends_a_deletion_cookie,
        Must,
        "§6",
        Config::default,
        [],
        ["adapter.set-cookie"],
        "flush MUST answer one Set-Cookie with an empty value, Max-Age=0 and an Expires in the past."
    ),
    case!(
        "HX-FLS-002",
        deletion_cookie_repeats_the_attributes,
        Must,
        "§6",
        custom,
        [],
        ["adapter.set-cookie"],
        "The deletion cookie MUST carry the configured name, Path, Domain, Secure, HttpOnly and SameSite."
    ),
    case!(
        "HX-FLS-003",
        replay_after_flush_is_empty,
        Must,
        "§6",
        Config::default,
        [ServerSideState],
        ["adapter.core-decides"],
        "After flush, a request replaying the old cookie MUST see an empty session (the record is deleted)."
    ),
    case!(
        "HX-FLS-004",
        flush_without_a_cookie_sets_nothing,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.nothing-else"],
        "flush by a visitor without a cookie MUST NOT set a cookie."
    ),
    case!(
        "HX-CYC-001",
        cycle_gives_a_new_id_with_the_same_data,
        Must,
        "§6",
        Config::default,
        [IdCookie],
        ["adapter.core-decides"],
        "cycle MUST set a new, well-formed ID under which the same data is found."
    ),
    case!(
        "HX-CYC-002",
        cycle_kills_the_old_id,
        Must,
        "§6",
        Config::default,
        [ServerSideState],
        ["adapter.core-decides"],
        "After cycle, a request replaying the old ID MUST see an empty session."
    ),
    case!(
        "HX-AUT-001",
        login_keeps_anonymous_data_and_rotates,
        Must,
        "§6",
        Config::default,
        [ServerSideState],
        ["adapter.core-decides"],
        "login MUST rotate the ID and keep the anonymous data; the old ID MUST see an empty session."
    ),
    case!(
        "HX-AUT-002",
        login_as_another_user_flushes,
        Must,
        "§6",
        Config::default,
        [],
        ["adapter.core-decides"],
        "login as another user MUST start from an empty session under a new ID."
    ),
    case!(
        "HX-AUT-003",
        login_with_another_hash_flushes,
        Must,
        "§6",
        Config::default,
        [],
        ["adapter.core-decides"],
        "login as the same user with a different auth hash MUST start from an empty session."
    ),
    case!(
        "HX-AUT-004",
        logout_flushes,
        Must,
        "§6",
        Config::default,
        [ServerSideState],
        ["adapter.core-decides", "adapter.set-cookie"],
        "logout MUST delete the cookie and the record: the old cookie sees no user and no data."
    ),
    case!(
        "HX-AUT-005",
        login_records_the_user,
        Must,
        "§6",
        Config::default,
        [],
        ["adapter.core-decides"],
        "After login, the session MUST report the user in the next request."
    ),
];

async fn flush_sends_a_deletion_cookie(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let answer = client.post("/probe/flush").await?;
    ok(&answer, "POST /probe/flush")?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "flush")?;
    ensure_eq!(cookie.value(), "", "the deletion cookie's value");
    ensure!(
        is_removal(&cookie),
        "the deletion cookie does not expire the cookie: {cookie}"
    );
    ensure!(
        cookie.max_age().is_some_and(|a| a.is_zero()),
        "the deletion cookie has no Max-Age=0: {cookie}"
    );
    Ok(())
}

async fn deletion_cookie_repeats_the_attributes(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let answer = client.post("/probe/flush").await?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "flush")?;
    ensure!(
        is_removal(&cookie),
        "the deletion cookie does not expire the cookie: {cookie}"
    );
    attributes(&cookie, ctx.config(), "the deletion cookie")
}

async fn replay_after_flush_is_empty(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let old = issued(&client)?;
    ok(&client.post("/probe/flush").await?, "POST /probe/flush")?;
    ensure_eq!(
        client.session_cookie(),
        None,
        "the jar after the deletion cookie"
    );
    let mut replay = replaying(&ctx, &old);
    let answer = replay.get("/probe/all").await?;
    ensure_eq!(
        answer.json.get("data"),
        Some(&json!({})),
        "the data seen through the flushed cookie"
    );
    ensure_eq!(
        answer.json.get("key"),
        Some(&json!(null)),
        "the key seen through the flushed cookie"
    );
    Ok(())
}

async fn flush_without_a_cookie_sets_nothing(ctx: HttpCtx) -> CaseResult {
    let answer = ctx.client().post("/probe/flush").await?;
    ok(&answer, "POST /probe/flush")?;
    sets_nothing(&answer, "flush without a cookie")
}

async fn cycle_gives_a_new_id_with_the_same_data(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let old = issued(&client)?;
    let answer = client.post("/probe/cycle").await?;
    ok(&answer, "POST /probe/cycle")?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "cycle")?;
    super::well_formed(cookie.value(), "cycle")?;
    ensure!(cookie.value() != old, "cycle kept the ID {old}");
    ensure_eq!(
        data(&mut client).await?.get("a"),
        Some(&json!(1)),
        "the data under the new ID"
    );
    Ok(())
}

async fn cycle_kills_the_old_id(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let old = issued(&client)?;
    ok(&client.post("/probe/cycle").await?, "POST /probe/cycle")?;
    ensure_eq!(
        data(&mut replaying(&ctx, &old)).await?,
        json!({}),
        "the data seen through the old ID"
    );
    Ok(())
}

async fn login_keeps_anonymous_data_and_rotates(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let anonymous = issued(&client)?;
    ok(
        &client.post("/probe/login?user=ada&hash=h1").await?,
        "POST /probe/login",
    )?;
    let logged_in = issued(&client)?;
    ensure!(
        logged_in != anonymous,
        "login kept the anonymous ID (session fixation)"
    );
    ensure_eq!(
        data(&mut client).await?.get("a"),
        Some(&json!(1)),
        "the anonymous data after login"
    );
    ensure_eq!(
        data(&mut replaying(&ctx, &anonymous)).await?,
        json!({}),
        "the data seen through the anonymous ID"
    );
    Ok(())
}

async fn second_login(ctx: &HttpCtx, user: &str, hash: &str) -> CaseResult {
    let mut client = with_session(ctx).await?;
    ok(
        &client.post("/probe/login?user=ada&hash=h1").await?,
        "the first login",
    )?;
    let first = issued(&client)?;
    ok(
        &client
            .post(&format!("/probe/login?user={user}&hash={hash}"))
            .await?,
        "the second login",
    )?;
    let second = issued(&client)?;
    ensure!(second != first, "the second login kept the first user's ID");
    let seen = data(&mut client).await?;
    ensure_eq!(
        seen.get("a"),
        None,
        "the first user's data after the second login"
    );
    let answer = client.get("/probe/user").await?;
    ensure_eq!(
        answer.json.get("user"),
        Some(&json!(user)),
        "the user after the second login"
    );
    Ok(())
}

async fn login_as_another_user_flushes(ctx: HttpCtx) -> CaseResult {
    second_login(&ctx, "bob", "h1").await
}

async fn login_with_another_hash_flushes(ctx: HttpCtx) -> CaseResult {
    second_login(&ctx, "ada", "h2").await
}

async fn logout_flushes(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    ok(
        &client.post("/probe/login?user=ada").await?,
        "POST /probe/login",
    )?;
    let logged_in = issued(&client)?;
    let answer = client.post("/probe/logout").await?;
    ok(&answer, "POST /probe/logout")?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), "logout")?;
    ensure!(
        is_removal(&cookie),
        "logout did not delete the cookie: {cookie}"
    );
    let mut replay = replaying(&ctx, &logged_in);
    let answer = replay.get("/probe/user").await?;
    ensure_eq!(
        answer.json.get("user"),
        Some(&json!(null)),
        "the user seen through the logged-out cookie"
    );
    ensure_eq!(
        data(&mut replay).await?,
        json!({}),
        "the data seen through the logged-out cookie"
    );
    Ok(())
}

async fn login_records_the_user(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    ok(
        &client.post("/probe/login?user=grace").await?,
        "POST /probe/login",
    )?;
    let answer = client.get("/probe/user").await?;
    ensure_eq!(
        answer.json.get("user"),
        Some(&json!("grace")),
        "the user after login"
    );
    Ok(())
}
