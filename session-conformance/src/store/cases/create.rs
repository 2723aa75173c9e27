//! ST-CRE: create inserts only if absent (§2, §7).

use serde_json::json;
use session_core::ErrorKind;
use time::Duration;

use super::{LIVE, case, loads_back, must_fail, must_load, race_one_winner, record};
use crate::CaseResult;
use crate::store::{StoreCase, StoreCtx};

pub(super) const CASES: &[StoreCase] = &[
    case!(
        "ST-CRE-001",
        create_never_overwrites,
        Must,
        "§7",
        [],
        ["store.create.conflict"],
        "create of a taken ID MUST fail with kind Conflict and leave the existing record untouched."
    ),
    case!(
        "ST-CRE-002",
        concurrent_creates_have_one_winner,
        Must,
        "§7",
        [],
        ["store.create.atomic"],
        "Of 8 concurrent creates of one ID, started together and staggered differently in each of 64 rounds, exactly one MUST succeed; the others MUST fail with kind Conflict."
    ),
    case!(
        "ST-CRE-003",
        expired_id_is_free_again,
        Should,
        "§7",
        [],
        ["store.create.expired-is-free"],
        "create of an ID whose record has expired SHOULD succeed and store the new record."
    ),
    case!(
        "ST-CRE-004",
        create_after_delete_succeeds,
        Must,
        "§7",
        [],
        ["store.create.deleted-is-free"],
        "After delete, create of the same ID MUST succeed."
    ),
    case!(
        "ST-CRE-005",
        conflict_keeps_the_original_expiry,
        Must,
        "§7",
        [],
        ["store.create.conflict"],
        "A conflicting create MUST NOT change the existing record's expiry."
    ),
];

async fn create_never_overwrites(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"owner": "first"}), LIVE);
    ctx.store().create(&original).await?;
    let mut intruder = record(&ctx, json!({"owner": "second"}), LIVE);
    intruder.id = original.id.clone();
    must_fail(
        ctx.store().create(&intruder).await,
        ErrorKind::Conflict,
        "second create of one ID",
    )?;
    loads_back(&ctx, &original, "after the conflicting create").await
}

async fn concurrent_creates_have_one_winner(ctx: StoreCtx) -> CaseResult {
    race_one_winner(
        &ctx,
        8,
        "create",
        || async { Ok(record(&ctx, json!({}), LIVE)) },
        |store, candidate| async move { store.create(&candidate).await },
    )
    .await
}

async fn expired_id_is_free_again(ctx: StoreCtx) -> CaseResult {
    let old = record(&ctx, json!({"generation": 1}), -Duration::hours(1));
    ctx.store().create(&old).await?;
    let mut new = record(&ctx, json!({"generation": 2}), LIVE);
    new.id = old.id.clone();
    ctx.store().create(&new).await?;
    loads_back(&ctx, &new, "create over an expired record").await
}

async fn create_after_delete_succeeds(ctx: StoreCtx) -> CaseResult {
    let first = record(&ctx, json!({"n": 1}), LIVE);
    ctx.store().create(&first).await?;
    ctx.store().delete(&first.id).await?;
    let mut again = record(&ctx, json!({"n": 2}), LIVE);
    again.id = first.id.clone();
    ctx.store().create(&again).await?;
    loads_back(&ctx, &again, "create after delete").await
}

async fn conflict_keeps_the_original_expiry(ctx: StoreCtx) -> CaseResult {
    let original = record(&ctx, json!({"a": 1}), Duration::hours(2));
    ctx.store().create(&original).await?;
    let mut intruder = record(&ctx, json!({"a": 1}), Duration::days(365));
    intruder.id = original.id.clone();
    must_fail(
        ctx.store().create(&intruder).await,
        ErrorKind::Conflict,
        "second create of one ID",
    )?;
    let loaded = must_load(&ctx, &original.id, "after the conflicting create").await?;
    super::same_expiry(&loaded, &original, "after the conflicting create")
}
