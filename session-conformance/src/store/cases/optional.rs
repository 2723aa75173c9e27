//! ST-TCH, ST-CLR, ST-VER, ST-CAP: the optional abilities (§4, §7).

use serde_json::json;
use session_core::{ErrorKind, SessionId};
use time::Duration;

use super::{
    LIVE, case, loads_back, map, must_be_gone, must_fail, must_load, race_one_winner, record,
    same_data, same_expiry,
};
use crate::store::{StoreCase, StoreCtx};
use crate::{CaseResult, ensure_eq};

pub(super) const CASES: &[StoreCase] = &[
    case!(
        "ST-TCH-001",
        touch_extends_without_changing_data,
        Must,
        "§7",
        [Touch],
        ["store.touch.moves"],
        "touch MUST set the new expiry and keep data and version."
    ),
    case!(
        "ST-TCH-002",
        touch_of_unknown_is_not_found,
        Must,
        "§7",
        [Touch],
        ["store.touch.live-only"],
        "touch of an unknown ID MUST fail with kind NotFound and create nothing."
    ),
    case!(
        "ST-TCH-003",
        touch_never_revives,
        Must,
        "§7",
        [Touch],
        ["store.touch.live-only"],
        "touch of a deleted or expired record MUST fail with kind NotFound and it MUST stay gone."
    ),
    case!(
        "ST-TCH-004",
        touch_into_the_past_ends_the_record,
        Must,
        "§4",
        [Touch],
        ["store.touch.moves"],
        "After touch with an expiry in the past, load MUST return None."
    ),
    case!(
        "ST-CLR-001",
        clear_expired_removes_expired_and_counts,
        Must,
        "§7",
        [ClearExpired],
        ["store.clear.removes-and-counts"],
        "clear_expired MUST remove every expired record, keep every live one, and return how many it removed."
    ),
    case!(
        "ST-CLR-002",
        clear_expired_on_nothing_returns_zero,
        Must,
        "§7",
        [ClearExpired],
        ["store.clear.removes-and-counts", "store.clear.keeps-live"],
        "clear_expired with nothing expired MUST return 0, and a second run right after MUST return 0."
    ),
    case!(
        "ST-CLR-003",
        clear_expired_never_removes_live_records,
        Must,
        "§7",
        [],
        ["store.clear.keeps-live"],
        "clear_expired MUST succeed on every store and MUST NOT remove a live record."
    ),
    case!(
        "ST-VER-001",
        versioned_save_increments_the_version,
        Must,
        "§7",
        [Versioned],
        ["store.save.versioned"],
        "A versioned save of the stored version MUST succeed and store version + 1."
    ),
    case!(
        "ST-VER-002",
        stale_version_is_a_conflict,
        Must,
        "§7",
        [Versioned],
        ["store.save.stale"],
        "A versioned save of a stale version MUST fail with kind Conflict and write nothing."
    ),
    case!(
        "ST-VER-003",
        concurrent_versioned_saves_have_one_winner,
        Must,
        "§7",
        [Versioned],
        ["store.save.stale"],
        "Of 8 concurrent saves of one version, started together and staggered differently in each of 64 rounds, exactly one MUST succeed; the others MUST fail with kind Conflict."
    ),
    case!(
        "ST-CAP-001",
        declared_capabilities_match_the_store,
        Must,
        "§7",
        [],
        ["store.capabilities"],
        "SessionStore::capabilities MUST report exactly the capabilities the suite was told."
    ),
    case!(
        "ST-CAP-002",
        undeclared_touch_is_unsupported,
        Must,
        "§7",
        [NoTouch],
        ["store.touch.unsupported"],
        "A store without the touch capability MUST answer touch with kind Unsupported and change nothing."
    ),
];

async fn touch_extends_without_changing_data(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"cart": ["apple"]}), Duration::hours(1)).with_version(3);
    ctx.store().create(&original).await?;
    let later = ctx.now() + Duration::days(3);
    ctx.store().touch(&original.id, later).await?;
    let loaded = must_load(&ctx, &original.id, "after touch").await?;
    same_data(&loaded, &original, "after touch")?;
    let mut expected = original.clone();
    expected.expires_at = later;
    same_expiry(&loaded, &expected, "after touch")?;
    ensure_eq!(loaded.version, 3, "the version after touch");
    Ok(())
}

async fn touch_of_unknown_is_not_found(ctx: StoreCtx) -> CaseResult {
    let id = SessionId::generate();
    must_fail(
        ctx.store().touch(&id, ctx.now() + LIVE).await,
        ErrorKind::NotFound,
        "touch of an unknown ID",
    )?;
    must_be_gone(&ctx, &id, "after touch of an unknown ID").await
}

async fn touch_never_revives(ctx: StoreCtx) -> CaseResult {
    let deleted = record(&ctx, json!({"a": 1}), LIVE);
    ctx.store().create(&deleted).await?;
    ctx.store().delete(&deleted.id).await?;
    must_fail(
        ctx.store().touch(&deleted.id, ctx.now() + LIVE).await,
        ErrorKind::NotFound,
        "touch after delete",
    )?;
    must_be_gone(&ctx, &deleted.id, "after touch of a deleted record").await?;
    let expired = record(&ctx, json!({"a": 1}), -Duration::minutes(1));
    ctx.store().create(&expired).await?;
    must_fail(
        ctx.store().touch(&expired.id, ctx.now() + LIVE).await,
        ErrorKind::NotFound,
        "touch of an expired record",
    )?;
    must_be_gone(&ctx, &expired.id, "after touch of an expired record").await
}

async fn touch_into_the_past_ends_the_record(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"a": 1}), LIVE);
    ctx.store().create(&original).await?;
    ctx.store()
        .touch(&original.id, ctx.now() - Duration::seconds(30))
        .await?;
    must_be_gone(&ctx, &original.id, "after touch to 30 s ago").await
}

async fn clear_expired_removes_expired_and_counts(ctx: StoreCtx) -> CaseResult {
    let mut expired = Vec::new();
    for i in 0..5 {
        let r = record(&ctx, json!({"expired": i}), -Duration::minutes(i + 1));
        ctx.store().create(&r).await?;
        expired.push(r);
    }
    let mut live = Vec::new();
    for i in 0..3 {
        let r = record(&ctx, json!({"live": i}), LIVE);
        ctx.store().create(&r).await?;
        live.push(r);
    }
    let removed = ctx.store().clear_expired().await?;
    ensure_eq!(
        removed,
        5,
        "the count clear_expired returned for 5 expired and 3 live records"
    );
    for r in &live {
        same_data(
            &must_load(&ctx, &r.id, "a live record after clear_expired").await?,
            r,
            "a live record",
        )?;
    }
    for r in &expired {
        must_be_gone(&ctx, &r.id, "an expired record after clear_expired").await?;
    }
    Ok(())
}

async fn clear_expired_on_nothing_returns_zero(ctx: StoreCtx) -> CaseResult {
    ctx.store()
        .create(&record(&ctx, json!({"a": 1}), LIVE))
        .await?;
    ensure_eq!(
        ctx.store().clear_expired().await?,
        0,
        "clear_expired with nothing expired"
    );
    ensure_eq!(
        ctx.store().clear_expired().await?,
        0,
        "a second clear_expired"
    );
    Ok(())
}

async fn clear_expired_never_removes_live_records(ctx: StoreCtx) -> CaseResult {
    let live = record(&ctx, json!({"a": 1}), LIVE);
    ctx.store().create(&live).await?;
    ctx.store()
        .create(&record(&ctx, json!({"b": 2}), -Duration::minutes(1)))
        .await?;
    ctx.store().clear_expired().await?;
    loads_back(&ctx, &live, "after clear_expired").await
}

async fn versioned_save_increments_the_version(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"n": 0}), LIVE);
    ctx.store().create(&original).await?;
    let mut next = original.clone();
    for step in 1..=3u64 {
        next.data = map(json!({"n": step}));
        ctx.store().save(&next).await?;
        let loaded = must_load(&ctx, &original.id, "after a versioned save").await?;
        ensure_eq!(loaded.version, step, "the version after save number {step}");
        next.version = loaded.version;
    }
    Ok(())
}

async fn stale_version_is_a_conflict(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"n": 0}), LIVE);
    ctx.store().create(&original).await?;
    let mut first = original.clone();
    first.data = map(json!({"n": "first"}));
    ctx.store().save(&first).await?;
    let mut stale = original.clone();
    stale.data = map(json!({"n": "stale"}));
    must_fail(
        ctx.store().save(&stale).await,
        ErrorKind::Conflict,
        "a save of version 0 after version 1 was written",
    )?;
    let loaded = must_load(&ctx, &original.id, "after the stale save").await?;
    same_data(&loaded, &first, "after the stale save")?;
    ensure_eq!(loaded.version, 1, "the version after the stale save");
    Ok(())
}

async fn concurrent_versioned_saves_have_one_winner(ctx: StoreCtx) -> CaseResult {
    race_one_winner(
        &ctx,
        8,
        "versioned save",
        || async {
            let original = record(&ctx, json!({"n": 0}), LIVE);
            ctx.store().create(&original).await?;
            Ok(original)
        },
        |store, candidate| async move { store.save(&candidate).await },
    )
    .await
}

async fn declared_capabilities_match_the_store(ctx: StoreCtx) -> CaseResult {
    ensure_eq!(
        ctx.store().capabilities(),
        ctx.declared(),
        "SessionStore::capabilities() against the suite's declaration"
    );
    Ok(())
}

async fn undeclared_touch_is_unsupported(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"a": 1}), Duration::hours(1));
    ctx.store().create(&original).await?;
    must_fail(
        ctx.store().touch(&original.id, ctx.now() + LIVE).await,
        ErrorKind::Unsupported,
        "touch on a store without the touch capability",
    )?;
    let loaded = must_load(&ctx, &original.id, "after the unsupported touch").await?;
    same_data(&loaded, &original, "after the unsupported touch")?;
    same_expiry(&loaded, &original, "after the unsupported touch")
}
