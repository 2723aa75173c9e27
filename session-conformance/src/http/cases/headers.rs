//! HX-HDR: every `Cookie` field in, the application's own headers out
//! (§5).

use session_core::Config;

use super::{case, no_5xx, ok, with_session};
use crate::http::client::{Answer, Client};
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, Failure, ensure};

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-HDR-001",
        session_cookie_in_a_later_cookie_field,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.load.every-field"],
        "A session cookie in the second or a later Cookie header field (HTTP/2 sends one field per cookie) MUST be honoured."
    ),
    case!(
        "HX-HDR-002",
        malformed_pairs_do_not_hide_the_session,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.load.every-field"],
        "Malformed pairs beside the session cookie in one Cookie field (no `=`, empty names, stray quotes and semicolons) MUST NOT hide it."
    ),
    case!(
        "HX-HDR-003",
        non_utf8_cookie_does_not_hide_the_session,
        Must,
        "§5",
        Config::default,
        [NonUtf8Headers],
        ["adapter.load.every-field"],
        "A non-UTF-8 byte in another cookie of the same Cookie field MUST NOT hide the session cookie."
    ),
    case!(
        "HX-HDR-004",
        oversized_cookie_does_not_hide_the_session,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.load.every-field"],
        "A 6 KiB value in another cookie of the same Cookie field MUST NOT hide the session cookie."
    ),
    case!(
        "HX-HDR-005",
        application_vary_is_kept,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.vary"],
        "When the handler sets its own Vary (Accept-Language), the response MUST keep it and also vary on Cookie."
    ),
    case!(
        "HX-HDR-006",
        application_set_cookie_is_kept,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.set-cookie"],
        "When the handler sets its own cookie (theme=dark), the response MUST carry it and the session cookie as separate Set-Cookie fields."
    ),
];

/// Reads `a` with exactly these Cookie fields: the session's value 1 must
/// come back.
async fn sees_the_session(ctx: &HttpCtx, fields: &[&[u8]], why: &str) -> CaseResult {
    let answer = ctx
        .client()
        .raw("GET", "/probe/get?k=a", fields.to_vec())
        .await?;
    no_5xx(&answer, why)?;
    ok(&answer, why)?;
    ensure!(
        answer.json.get("value") == Some(&serde_json::json!(1)),
        "{why}: the session was not seen (GET /probe/get?k=a answered {})",
        answer.json
    );
    Ok(())
}

fn pair(ctx: &HttpCtx, client: &Client) -> Result<String, Failure> {
    let value = client
        .session_cookie()
        .ok_or_else(|| Failure::new("the client holds no session cookie"))?;
    Ok(format!("{}={value}", ctx.config().cookie_name()))
}

async fn session_cookie_in_a_later_cookie_field(ctx: HttpCtx) -> CaseResult {
    let client = with_session(&ctx).await?;
    let ours = pair(&ctx, &client)?;
    sees_the_session(
        &ctx,
        &[b"a=1", ours.as_bytes()],
        "the session cookie in the second field",
    )
    .await?;
    sees_the_session(
        &ctx,
        &[b"a=1", b"b=2; c=3", b"d=4", ours.as_bytes(), b"e=5"],
        "the session cookie in the fourth of five fields",
    )
    .await
}

async fn malformed_pairs_do_not_hide_the_session(ctx: HttpCtx) -> CaseResult {
    let client = with_session(&ctx).await?;
    let ours = pair(&ctx, &client)?;
    for field in [
        format!("junk; {ours}"),
        format!("=x; ;; {ours}; =; tail"),
        format!("a=\"unterminated; {ours}"),
        format!("{ours}; novalue; b=\"\"\""),
        format!("a==b==c; {ours};;"),
    ] {
        sees_the_session(&ctx, &[field.as_bytes()], &format!("the field {field:?}")).await?;
    }
    Ok(())
}

async fn non_utf8_cookie_does_not_hide_the_session(ctx: HttpCtx) -> CaseResult {
    let client = with_session(&ctx).await?;
    let ours = pair(&ctx, &client)?;
    let mut before = b"theme=caf\xe9; ".to_vec();
    before.extend_from_slice(ours.as_bytes());
    let mut after = ours.clone().into_bytes();
    after.extend_from_slice(b"; x=\xff\xfe");
    for field in [before, after] {
        sees_the_session(
            &ctx,
            &[&field],
            &format!(
                "the field {:?}",
                String::from_utf8_lossy(&field).into_owned()
            ),
        )
        .await?;
    }
    Ok(())
}

async fn oversized_cookie_does_not_hide_the_session(ctx: HttpCtx) -> CaseResult {
    let client = with_session(&ctx).await?;
    let ours = pair(&ctx, &client)?;
    let big = "x".repeat(6 * 1024);
    let before = format!("big={big}; {ours}");
    let after = format!("{ours}; big={big}");
    sees_the_session(&ctx, &[before.as_bytes()], "a 6 KiB cookie before ours").await?;
    sees_the_session(&ctx, &[after.as_bytes()], "a 6 KiB cookie after ours").await
}

/// Every comma-separated `Vary` value, trimmed and lower-cased.
fn vary_values(answer: &Answer) -> Vec<String> {
    answer
        .vary
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect()
}

async fn application_vary_is_kept(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    for (target, why) in [
        ("/probe/set?k=a&v=1&app_headers=1", "a first write"),
        ("/probe/get?k=a&app_headers=1", "a read"),
    ] {
        let method = if target.contains("set") {
            "POST"
        } else {
            "GET"
        };
        let answer = client.send(method, target).await?;
        ok(&answer, why)?;
        let vary = vary_values(&answer);
        ensure!(
            vary.iter().any(|v| v == "accept-language"),
            "{why}: the handler's Vary: Accept-Language was lost; Vary: {:?}",
            answer.vary
        );
        ensure!(
            vary.iter().any(|v| v == "cookie"),
            "{why}: no Vary: Cookie beside the handler's; Vary: {:?}",
            answer.vary
        );
    }
    Ok(())
}

async fn application_set_cookie_is_kept(ctx: HttpCtx) -> CaseResult {
    let mut client = ctx.client();
    let name = ctx.config().cookie_name().to_owned();
    for (target, why) in [
        ("/probe/set?k=a&v=1&app_headers=1", "a first write"),
        ("/probe/flush?app_headers=1", "a flush"),
    ] {
        let answer = client.post(target).await?;
        ok(&answer, why)?;
        ensure!(
            answer
                .set_cookies
                .iter()
                .any(|c| c.starts_with("theme=dark")),
            "{why}: the handler's Set-Cookie theme=dark was lost; Set-Cookie: {:?}",
            answer.set_cookies
        );
        answer.the_cookie(&name, why)?;
        ensure!(
            answer
                .set_cookies
                .iter()
                .all(|c| !(c.contains("theme=dark") && c.contains(&format!("{name}=")))),
            "{why}: the two cookies were folded into one Set-Cookie field: {:?}",
            answer.set_cookies
        );
    }
    Ok(())
}
