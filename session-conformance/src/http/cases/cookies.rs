//! HX-BAD: cookies the server did not issue, or that were tampered with,
//! never cause a 5xx and are never adopted (§2, §5, §8).

use session_core::{Config, SessionId};

use super::{case, issued, no_5xx, replaying, well_formed, with_session};
use crate::http::client::{Answer, is_removal};
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, ensure, ensure_eq};

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-BAD-001",
        unknown_id_is_not_adopted,
        Must,
        "§2",
        Config::default,
        [],
        ["adapter.core-decides"],
        "A well-formed ID the server never issued MUST NOT be adopted: a write gets a fresh ID."
    ),
    case!(
        "HX-BAD-002",
        malformed_cookie_is_not_adopted,
        Must,
        "§2",
        Config::default,
        [],
        ["adapter.core-decides"],
        "A cookie value that is not a well-formed ID MUST NOT cause a 5xx nor be adopted."
    ),
    case!(
        "HX-BAD-003",
        overlong_cookie_is_harmless,
        Must,
        "§2",
        Config::default,
        [],
        ["adapter.core-decides"],
        "A 4 KiB cookie value MUST NOT cause a 5xx nor be adopted."
    ),
    case!(
        "HX-BAD-004",
        non_ascii_cookie_is_harmless,
        Must,
        "§2",
        Config::default,
        [],
        ["adapter.core-decides"],
        "A cookie value with non-ASCII bytes MUST NOT cause a 5xx nor be adopted."
    ),
    case!(
        "HX-BAD-005",
        duplicated_unknown_cookies_are_not_adopted,
        Must,
        "§8",
        Config::default,
        [],
        ["adapter.load.every-field", "adapter.core-decides"],
        "Several session cookies with unknown IDs, in one or several Cookie fields, MUST NOT cause a 5xx nor be adopted."
    ),
    case!(
        "HX-BAD-006",
        unknown_cookie_on_a_read_is_deleted,
        Must,
        "§5",
        Config::default,
        [],
        ["adapter.core-decides", "adapter.set-cookie"],
        "A read with a cookie that resolves to no session MUST answer a deletion cookie."
    ),
    case!(
        "HX-BAD-007",
        tampered_id_sees_nothing,
        Must,
        "§2",
        Config::default,
        [],
        ["adapter.core-decides"],
        "An issued ID with one character changed MUST see an empty session."
    ),
    case!(
        "HX-BAD-008",
        uppercased_id_sees_nothing,
        Must,
        "§2",
        Config::default,
        [],
        ["adapter.core-decides"],
        "An issued ID in upper case MUST see an empty session (IDs are exact)."
    ),
    case!(
        "HX-BAD-009",
        duplicate_with_the_real_id_keeps_the_session,
        Should,
        "§8",
        Config::default,
        [],
        ["adapter.load.every-field", "adapter.core-decides"],
        "A Cookie header holding the issued ID and a bogus duplicate SHOULD keep the session and MUST NOT cause a 5xx."
    ),
];

/// Writes with exactly these Cookie fields; the new cookie must be a fresh,
/// well-formed ID (any non-empty value when the suite declares that its
/// cookie is not an ID) different from every value sent.
async fn write_is_not_adopted(
    ctx: &HttpCtx,
    fields: &[&[u8]],
    sent: &[&str],
    why: &str,
) -> CaseResult {
    let answer = ctx
        .client()
        .raw("POST", "/probe/set?k=a&v=1", fields.to_vec())
        .await?;
    no_5xx(&answer, why)?;
    let cookie = answer.the_cookie(ctx.config().cookie_name(), why)?;
    // A signed-cookie engine issues its sealed session, not an ID; what
    // this case checks is that the client's value is not taken over.
    if ctx.id_cookie() {
        well_formed(cookie.value(), why)?;
    } else {
        ensure!(
            !cookie.value().is_empty(),
            "{why}: an empty session cookie was issued"
        );
    }
    ensure!(
        !sent.contains(&cookie.value()),
        "{why}: the server adopted the client's value {:?}",
        cookie.value()
    );
    Ok(())
}

async fn unknown_id_is_not_adopted(ctx: HttpCtx) -> CaseResult {
    let unknown = SessionId::generate();
    let field = format!("sessionid={unknown}");
    write_is_not_adopted(
        &ctx,
        &[field.as_bytes()],
        &[unknown.as_str()],
        "a write with an unknown ID",
    )
    .await
}

async fn malformed_cookie_is_not_adopted(ctx: HttpCtx) -> CaseResult {
    for value in [
        "not-an-id",
        "../../etc/passwd",
        "'; DROP TABLE sessions; --",
        "",
        "{prefix}*",
    ] {
        let field = format!("sessionid={value}");
        write_is_not_adopted(
            &ctx,
            &[field.as_bytes()],
            &[value],
            &format!("a write with cookie {value:?}"),
        )
        .await?;
        let read = ctx
            .client()
            .raw("GET", "/probe/all", vec![field.as_bytes()])
            .await?;
        no_5xx(&read, &format!("a read with cookie {value:?}"))?;
    }
    Ok(())
}

async fn overlong_cookie_is_harmless(ctx: HttpCtx) -> CaseResult {
    let value = "a".repeat(4096);
    let field = format!("sessionid={value}");
    let read = ctx
        .client()
        .raw("GET", "/probe/all", vec![field.as_bytes()])
        .await?;
    no_5xx(&read, "a read with a 4 KiB cookie")?;
    write_is_not_adopted(
        &ctx,
        &[field.as_bytes()],
        &[&value],
        "a write with a 4 KiB cookie",
    )
    .await
}

async fn non_ascii_cookie_is_harmless(ctx: HttpCtx) -> CaseResult {
    let utf8 = "sessionid=abcdefghijklmnopqrstuvwxyz01234é".as_bytes();
    let latin1: &[u8] = b"sessionid=abcdefghijklmnopqrstuvwxyz0123\xe9";
    for field in [utf8, latin1] {
        let read = ctx.client().raw("GET", "/probe/all", vec![field]).await?;
        no_5xx(&read, "a read with a non-ASCII cookie")?;
        write_is_not_adopted(&ctx, &[field], &[], "a write with a non-ASCII cookie").await?;
    }
    Ok(())
}

async fn duplicated_unknown_cookies_are_not_adopted(ctx: HttpCtx) -> CaseResult {
    let (one, two) = (SessionId::generate(), SessionId::generate());
    let same_field = format!("sessionid={one}; other=x; sessionid={two}");
    write_is_not_adopted(
        &ctx,
        &[same_field.as_bytes()],
        &[one.as_str(), two.as_str()],
        "two unknown IDs in one field",
    )
    .await?;
    let (first, second) = (format!("sessionid={one}"), format!("sessionid={two}"));
    write_is_not_adopted(
        &ctx,
        &[first.as_bytes(), second.as_bytes()],
        &[one.as_str(), two.as_str()],
        "two unknown IDs in two fields",
    )
    .await
}

fn is_deletion(answer: &Answer, name: &str, why: &str) -> CaseResult {
    let cookie = answer.the_cookie(name, why)?;
    ensure!(
        is_removal(&cookie),
        "{why}: the Set-Cookie does not delete the cookie: {cookie}"
    );
    ensure_eq!(cookie.value(), "", "{why}: the deletion cookie's value");
    Ok(())
}

async fn unknown_cookie_on_a_read_is_deleted(ctx: HttpCtx) -> CaseResult {
    let field = format!("sessionid={}", SessionId::generate());
    let answer = ctx
        .client()
        .raw("GET", "/probe/get?k=a", vec![field.as_bytes()])
        .await?;
    no_5xx(&answer, "a read with an unknown ID")?;
    is_deletion(
        &answer,
        ctx.config().cookie_name(),
        "a read with an unknown ID",
    )
}

async fn sees_nothing(ctx: &HttpCtx, value: String, why: &str) -> CaseResult {
    let answer = replaying(ctx, value).get("/probe/all").await?;
    no_5xx(&answer, why)?;
    ensure_eq!(
        answer.json.get("data"),
        Some(&serde_json::json!({})),
        "{why}: the data seen"
    );
    Ok(())
}

async fn tampered_id_sees_nothing(ctx: HttpCtx) -> CaseResult {
    let id = issued(&with_session(&ctx).await?)?;
    let mut chars: Vec<char> = id.chars().collect();
    if let Some(last) = chars.last_mut() {
        *last = if *last == 'a' { 'b' } else { 'a' };
    }
    sees_nothing(
        &ctx,
        chars.into_iter().collect(),
        "an issued ID with its last character changed",
    )
    .await
}

async fn uppercased_id_sees_nothing(ctx: HttpCtx) -> CaseResult {
    let id = issued(&with_session(&ctx).await?)?;
    sees_nothing(&ctx, id.to_ascii_uppercase(), "an issued ID in upper case").await
}

async fn duplicate_with_the_real_id_keeps_the_session(ctx: HttpCtx) -> CaseResult {
    let id = issued(&with_session(&ctx).await?)?;
    let field = format!("sessionid={id}; sessionid=bogus");
    let answer = ctx
        .client()
        .raw("GET", "/probe/get?k=a", vec![field.as_bytes()])
        .await?;
    no_5xx(&answer, "the real ID with a bogus duplicate")?;
    ensure_eq!(
        answer.json.get("value"),
        Some(&serde_json::json!(1)),
        "the value read through the real ID"
    );
    Ok(())
}
