//! ST-LOD: load never returns what is unknown or expired (§4, §7).

use serde_json::json;
use session_core::SessionId;
use time::Duration;

use super::{LIVE, case, loads_back, must_be_gone, must_load, record, same_data, same_expiry};
use crate::store::{StoreCase, StoreCtx};
use crate::{CaseResult, ensure_eq};

pub(super) const CASES: &[StoreCase] = &[
    case!(
        "ST-LOD-001",
        unknown_id_loads_none,
        Must,
        "§7",
        [],
        ["store.load.unknown"],
        "load of an ID never created MUST return None, not an error."
    ),
    case!(
        "ST-LOD-002",
        load_changes_nothing,
        Must,
        "§7",
        [],
        ["store.load.pure"],
        "load MUST NOT change the record: two loads return the same data, expiry and version."
    ),
    case!(
        "ST-LOD-003",
        past_expiry_is_never_loaded,
        Must,
        "§4",
        [],
        ["store.load.expired"],
        "A record created with an expiry in the past MUST NOT be loaded."
    ),
    case!(
        "ST-LOD-004",
        far_future_expiry_loads,
        Must,
        "§4",
        [],
        ["store.create.expiry"],
        "A record expiring in 30 years MUST load, with that expiry."
    ),
    case!(
        "ST-LOD-005",
        expiry_in_real_time,
        Must,
        "§4",
        [],
        ["store.load.expired"],
        "A record MUST stop loading once its expiry passes (1 s, waited in real time).",
        slow
    ),
    case!(
        "ST-LOD-006",
        expiry_by_the_stores_clock,
        Must,
        "§4",
        [ManualClock],
        ["store.load.expired"],
        "A store on the kit's clock MUST stop loading a record once that clock passes its expiry."
    ),
    case!(
        "ST-LOD-007",
        one_expired_record_leaves_others,
        Must,
        "§4",
        [],
        ["store.load.expired", "store.isolation"],
        "An expired record MUST NOT hide or remove a live record of another ID."
    ),
];

async fn unknown_id_loads_none(ctx: StoreCtx) -> CaseResult {
    must_be_gone(&ctx, &SessionId::generate(), "an unknown ID").await
}

async fn load_changes_nothing(ctx: StoreCtx) -> CaseResult {
    let created = record(&ctx, json!({"a": [1, 2]}), LIVE);
    ctx.store().create(&created).await?;
    let first = must_load(&ctx, &created.id, "first load").await?;
    let second = must_load(&ctx, &created.id, "second load").await?;
    same_data(&second, &first, "second load")?;
    same_expiry(&second, &first, "second load")?;
    ensure_eq!(second.version, first.version, "the version after two loads");
    Ok(())
}

async fn past_expiry_is_never_loaded(ctx: StoreCtx) -> CaseResult {
    let expired = record(&ctx, json!({"secret": "stale"}), -Duration::hours(1));
    ctx.store().create(&expired).await?;
    must_be_gone(&ctx, &expired.id, "a record that expired an hour ago").await
}

async fn far_future_expiry_loads(ctx: StoreCtx) -> CaseResult {
    let lasting = record(&ctx, json!({"a": 1}), Duration::days(365 * 30));
    ctx.store().create(&lasting).await?;
    let loaded = must_load(&ctx, &lasting.id, "a record expiring in 30 years").await?;
    same_expiry(&loaded, &lasting, "a record expiring in 30 years")
}

async fn expiry_in_real_time(ctx: StoreCtx) -> CaseResult {
    let brief = record(&ctx, json!({"a": 1}), Duration::seconds(1));
    ctx.store().create(&brief).await?;
    must_load(&ctx, &brief.id, "before its expiry").await?;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // A store on the kit's clock sees the same time pass.
    ctx.advance(Duration::milliseconds(1500));
    must_be_gone(&ctx, &brief.id, "1.5 s after a 1 s expiry").await
}

async fn expiry_by_the_stores_clock(ctx: StoreCtx) -> CaseResult {
    let brief = record(&ctx, json!({"a": 1}), Duration::minutes(10));
    ctx.store().create(&brief).await?;
    ctx.advance(Duration::minutes(9));
    must_load(&ctx, &brief.id, "9 minutes into a 10-minute life").await?;
    ctx.advance(Duration::minutes(2));
    must_be_gone(&ctx, &brief.id, "11 minutes into a 10-minute life").await
}

async fn one_expired_record_leaves_others(ctx: StoreCtx) -> CaseResult {
    let expired = record(&ctx, json!({"a": 1}), -Duration::minutes(5));
    let live = record(&ctx, json!({"b": 2}), LIVE);
    ctx.store().create(&expired).await?;
    ctx.store().create(&live).await?;
    must_be_gone(&ctx, &expired.id, "the expired record").await?;
    loads_back(&ctx, &live, "the live record").await
}
