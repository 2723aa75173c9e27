//! HX-SEC: `Secure` wherever browsers demand it (§8).

use session_core::{Config, SameSite};

use super::{case, ok};
use crate::http::client::is_removal;
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, ensure};

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-SEC-001",
        same_site_none_always_carries_secure,
        Must,
        "§8",
        same_site_none,
        [],
        ["adapter.set-cookie"],
        "With SameSite=None and cookie_secure off, the session cookie and its deletion cookie MUST still carry Secure (browsers reject SameSite=None without it)."
    ),
    case!(
        "HX-SEC-002",
        secure_prefix_always_carries_secure,
        Must,
        "§8",
        secure_prefix,
        [],
        ["adapter.set-cookie"],
        "A cookie named `__Secure-…` MUST carry Secure on the session and the deletion cookie (core refuses such a name without cookie_secure)."
    ),
    case!(
        "HX-SEC-003",
        host_prefix_always_carries_secure,
        Must,
        "§8",
        host_prefix,
        [],
        ["adapter.set-cookie"],
        "A cookie named `__Host-…` MUST carry Secure and Path=/ and no Domain on the session and the deletion cookie (core refuses such a name without cookie_secure, with a Domain or another Path)."
    ),
];

fn same_site_none() -> Config {
    Config::default()
        .with_cookie_same_site(SameSite::None)
        .with_cookie_secure(false)
}

fn secure_prefix() -> Config {
    Config::default()
        .with_cookie_name("__Secure-kit")
        .with_cookie_secure(true)
}

fn host_prefix() -> Config {
    Config::production().with_cookie_name("__Host-kit")
}

/// Writes, then flushes; every session and deletion cookie must carry
/// Secure (and, for `__Host-`, Path=/ and no Domain).
async fn always_secure(ctx: HttpCtx) -> CaseResult {
    let name = ctx.config().cookie_name().to_owned();
    let host = name.starts_with("__Host-");
    let mut client = ctx.client();
    let first = client.post("/probe/set?k=a&v=1").await?;
    ok(&first, "the first write")?;
    let set = first.the_cookie(&name, "the first write")?;
    let flushed = client.post("/probe/flush").await?;
    ok(&flushed, "the flush")?;
    let removal = flushed.the_cookie(&name, "the flush")?;
    ensure!(
        is_removal(&removal),
        "the flush did not remove the cookie: {:?}",
        flushed.set_cookies
    );
    for (cookie, why) in [
        (set, "the session cookie"),
        (removal, "the deletion cookie"),
    ] {
        ensure!(
            cookie.secure() == Some(true),
            "{why} lacks Secure: {cookie}"
        );
        if host {
            ensure!(
                cookie.path() == Some("/") && cookie.domain().is_none(),
                "{why} of a __Host- cookie needs Path=/ and no Domain: {cookie}"
            );
        }
    }
    Ok(())
}

async fn same_site_none_always_carries_secure(ctx: HttpCtx) -> CaseResult {
    always_secure(ctx).await
}

async fn secure_prefix_always_carries_secure(ctx: HttpCtx) -> CaseResult {
    always_secure(ctx).await
}

async fn host_prefix_always_carries_secure(ctx: HttpCtx) -> CaseResult {
    always_secure(ctx).await
}
