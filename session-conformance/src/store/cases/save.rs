//! ST-SAV: save updates, never revives (§4, §7).

use serde_json::json;
use session_core::{ErrorKind, Record};
use time::Duration;

use super::{
    LIVE, case, loads_back, map, must_be_gone, must_fail, must_load, record, same_data, same_expiry,
};
use crate::CaseResult;
use crate::store::{StoreCase, StoreCtx};

pub(super) const CASES: &[StoreCase] = &[
    case!(
        "ST-SAV-001",
        save_updates_data_and_expiry,
        Must,
        "§7",
        [],
        ["store.save.replace"],
        "save of a live record MUST replace its data and expiry."
    ),
    case!(
        "ST-SAV-002",
        save_of_unknown_is_not_found,
        Must,
        "§7",
        [],
        ["store.save.live-only"],
        "save of an ID never created MUST fail with kind NotFound and create nothing."
    ),
    case!(
        "ST-SAV-003",
        save_never_revives_a_deleted_record,
        Must,
        "§7",
        [],
        ["store.save.live-only"],
        "save after delete MUST fail with kind NotFound and the record MUST stay gone."
    ),
    case!(
        "ST-SAV-004",
        save_never_revives_an_expired_record,
        Must,
        "§7",
        [],
        ["store.save.live-only"],
        "save of a record that has expired MUST fail with kind NotFound and the record MUST stay gone."
    ),
    case!(
        "ST-SAV-005",
        save_keeps_the_expiry_it_is_given,
        Must,
        "§4",
        [],
        ["store.save.replace"],
        "save MUST store the expiry it is given, both later and earlier than the previous one."
    ),
    case!(
        "ST-SAV-006",
        save_with_a_past_expiry_ends_the_record,
        Must,
        "§4",
        [],
        ["store.save.replace"],
        "After a save whose expiry lies in the past, load MUST return None."
    ),
    case!(
        "ST-SAV-007",
        save_leaves_other_records_alone,
        Must,
        "§7",
        [],
        ["store.isolation"],
        "save MUST change only the record with its ID."
    ),
];

fn updated(original: &Record, ctx: &StoreCtx, ttl: Duration) -> Record {
    let mut next = original.clone();
    next.data = map(json!({"step": 2, "added": true}));
    next.expires_at = ctx.now() + ttl;
    next
}

async fn save_updates_data_and_expiry(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"step": 1}), Duration::hours(1));
    ctx.store().create(&original).await?;
    let next = updated(&original, &ctx, Duration::hours(5));
    ctx.store().save(&next).await?;
    let loaded = must_load(&ctx, &original.id, "after save").await?;
    same_data(&loaded, &next, "after save")?;
    same_expiry(&loaded, &next, "after save")
}

async fn save_of_unknown_is_not_found(ctx: StoreCtx) -> CaseResult {
    let ghost = record(&ctx, json!({"a": 1}), LIVE);
    must_fail(
        ctx.store().save(&ghost).await,
        ErrorKind::NotFound,
        "save of an unknown ID",
    )?;
    must_be_gone(&ctx, &ghost.id, "after a save of an unknown ID").await
}

async fn save_never_revives_a_deleted_record(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"a": 1}), LIVE);
    ctx.store().create(&original).await?;
    ctx.store().delete(&original.id).await?;
    let next = updated(&original, &ctx, LIVE);
    must_fail(
        ctx.store().save(&next).await,
        ErrorKind::NotFound,
        "save after delete",
    )?;
    must_be_gone(&ctx, &original.id, "after a save that followed a delete").await
}

async fn save_never_revives_an_expired_record(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"a": 1}), -Duration::minutes(1));
    ctx.store().create(&original).await?;
    let next = updated(&original, &ctx, LIVE);
    must_fail(
        ctx.store().save(&next).await,
        ErrorKind::NotFound,
        "save of an expired record",
    )?;
    must_be_gone(&ctx, &original.id, "after a save of an expired record").await
}

async fn save_keeps_the_expiry_it_is_given(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"a": 1}), Duration::hours(1));
    ctx.store().create(&original).await?;
    for ttl in [Duration::days(10), Duration::minutes(5)] {
        // A versioned store expects the version it last stored.
        let current = must_load(&ctx, &original.id, "before save").await?;
        let next = updated(&current, &ctx, ttl);
        ctx.store().save(&next).await?;
        let loaded = must_load(
            &ctx,
            &original.id,
            &format!("after a save with a {ttl} expiry"),
        )
        .await?;
        same_expiry(&loaded, &next, &format!("after a save with a {ttl} expiry"))?;
    }
    Ok(())
}

async fn save_with_a_past_expiry_ends_the_record(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"a": 1}), LIVE);
    ctx.store().create(&original).await?;
    let next = updated(&original, &ctx, -Duration::seconds(30));
    ctx.store().save(&next).await?;
    must_be_gone(&ctx, &original.id, "after a save with an expiry 30 s ago").await
}

async fn save_leaves_other_records_alone(ctx: StoreCtx) -> CaseResult {
    let mine = record(&ctx, json!({"who": "me"}), LIVE);
    let other = record(&ctx, json!({"who": "other"}), LIVE);
    ctx.store().create(&mine).await?;
    ctx.store().create(&other).await?;
    ctx.store().save(&updated(&mine, &ctx, LIVE)).await?;
    loads_back(&ctx, &other, "the other record").await
}
