//! ST-EXP: one expiry rule for every operation — a record is live if and
//! only if `now < expires_at` (§4, §7).

use serde_json::json;
use session_core::{ErrorKind, Record};
use time::Duration;

use super::{case, map, must_be_gone, must_fail, must_load, record};
use crate::store::{StoreCase, StoreCtx};
use crate::{CaseResult, ensure_eq};

pub(super) const CASES: &[StoreCase] = &[
    case!(
        "ST-EXP-001",
        load_at_the_expiry_instant,
        Must,
        "§4",
        [ManualClock],
        ["store.expiry.boundary", "store.load.expired"],
        "load MUST return the record one second before its expires_at and MUST return None at exactly expires_at."
    ),
    case!(
        "ST-EXP-002",
        save_at_the_expiry_instant,
        Must,
        "§4",
        [ManualClock],
        ["store.expiry.boundary", "store.save.live-only"],
        "save MUST succeed one second before expires_at and MUST fail with kind NotFound at exactly expires_at, writing nothing."
    ),
    case!(
        "ST-EXP-003",
        touch_at_the_expiry_instant,
        Must,
        "§4",
        [Touch, ManualClock],
        ["store.expiry.boundary", "store.touch.live-only"],
        "touch MUST succeed one second before expires_at and MUST fail with kind NotFound at exactly expires_at, writing nothing."
    ),
    case!(
        "ST-EXP-004",
        clear_expired_at_the_expiry_instant,
        Must,
        "§4",
        [ClearExpired, ManualClock],
        [
            "store.expiry.boundary",
            "store.clear.removes-and-counts",
            "store.clear.keeps-live"
        ],
        "clear_expired MUST remove and count a record at exactly its expires_at, and MUST neither remove nor count one that expires a second later."
    ),
    case!(
        "ST-EXP-005",
        live_until_the_last_second,
        Must,
        "§4",
        [],
        ["store.expiry.boundary", "store.clear.keeps-live"],
        "A record expiring about a second from now MUST be live for load, save and touch, and clear_expired MUST neither remove nor count it."
    ),
];

/// A record expiring a minute from the case's "now", on a whole
/// millisecond (stores keep at least millisecond precision).
fn brief(ctx: &StoreCtx, data: serde_json::Value) -> Record {
    let mut r = record(ctx, data, Duration::minutes(1));
    r.expires_at = r
        .expires_at
        .replace_nanosecond(u32::from(r.expires_at.millisecond()) * 1_000_000)
        .unwrap_or(r.expires_at);
    r
}

/// Moves the case's clock to `at`.
fn set_clock(ctx: &StoreCtx, at: time::OffsetDateTime) {
    ctx.advance(at - ctx.now());
}

async fn load_at_the_expiry_instant(ctx: StoreCtx) -> CaseResult {
    let r = brief(&ctx, json!({"a": 1}));
    ctx.store().create(&r).await?;
    set_clock(&ctx, r.expires_at - Duration::seconds(1));
    must_load(&ctx, &r.id, "one second before expires_at").await?;
    set_clock(&ctx, r.expires_at);
    must_be_gone(&ctx, &r.id, "at exactly expires_at").await
}

async fn save_at_the_expiry_instant(ctx: StoreCtx) -> CaseResult {
    let r = brief(&ctx, json!({"a": 1}));
    ctx.store().create(&r).await?;
    set_clock(&ctx, r.expires_at - Duration::seconds(1));
    let mut next = must_load(&ctx, &r.id, "one second before expires_at").await?;
    next.data = map(json!({"a": 2}));
    ctx.store().save(&next).await?;
    let current = must_load(&ctx, &r.id, "after a save one second before").await?;
    set_clock(&ctx, r.expires_at);
    let mut late = current.clone();
    late.data = map(json!({"a": 3}));
    late.expires_at = r.expires_at + Duration::days(1);
    must_fail(
        ctx.store().save(&late).await,
        ErrorKind::NotFound,
        "save at exactly expires_at",
    )?;
    must_be_gone(&ctx, &r.id, "after a save at exactly expires_at").await
}

async fn touch_at_the_expiry_instant(ctx: StoreCtx) -> CaseResult {
    let r = brief(&ctx, json!({"a": 1}));
    ctx.store().create(&r).await?;
    set_clock(&ctx, r.expires_at - Duration::seconds(1));
    // Touch to the same instant: live now, so it must succeed.
    ctx.store().touch(&r.id, r.expires_at).await?;
    set_clock(&ctx, r.expires_at);
    must_fail(
        ctx.store()
            .touch(&r.id, r.expires_at + Duration::days(1))
            .await,
        ErrorKind::NotFound,
        "touch at exactly expires_at",
    )?;
    must_be_gone(&ctx, &r.id, "after a touch at exactly expires_at").await
}

async fn clear_expired_at_the_expiry_instant(ctx: StoreCtx) -> CaseResult {
    let due = brief(&ctx, json!({"due": true}));
    let mut later = brief(&ctx, json!({"due": false}));
    later.expires_at = due.expires_at + Duration::seconds(1);
    ctx.store().create(&due).await?;
    ctx.store().create(&later).await?;
    set_clock(&ctx, due.expires_at - Duration::seconds(1));
    ensure_eq!(
        ctx.store().clear_expired().await?,
        0,
        "clear_expired one second before the first expiry"
    );
    must_load(
        &ctx,
        &due.id,
        "one second before its expiry, after clear_expired",
    )
    .await?;
    set_clock(&ctx, due.expires_at);
    ensure_eq!(
        ctx.store().clear_expired().await?,
        1,
        "clear_expired at exactly one record's expires_at (the other expires a second later)"
    );
    must_load(&ctx, &later.id, "the record expiring a second later").await?;
    Ok(())
}

async fn live_until_the_last_second(ctx: StoreCtx) -> CaseResult {
    let r = record(&ctx, json!({"a": 1}), Duration::milliseconds(1500));
    ctx.store().create(&r).await?;
    let loaded = must_load(&ctx, &r.id, "about a second before expires_at").await?;
    let mut next = loaded.clone();
    next.data = map(json!({"a": 2}));
    ctx.store().save(&next).await?;
    if ctx.declared().touch {
        ctx.store().touch(&r.id, r.expires_at).await?;
    }
    ensure_eq!(
        ctx.store().clear_expired().await?,
        0,
        "clear_expired with one record about a second from expiry"
    );
    must_load(
        &ctx,
        &r.id,
        "after clear_expired, about a second before expires_at",
    )
    .await?;
    Ok(())
}
