//! ST-DEL: delete removes, idempotently (§6, §7).

use serde_json::json;
use session_core::SessionId;

use super::{LIVE, case, loads_back, must_be_gone, record};
use crate::CaseResult;
use crate::store::{StoreCase, StoreCtx};

pub(super) const CASES: &[StoreCase] = &[
    case!(
        "ST-DEL-001",
        delete_removes_the_record,
        Must,
        "§7",
        [],
        ["store.delete.gone"],
        "After delete returns, load of the ID MUST return None."
    ),
    case!(
        "ST-DEL-002",
        delete_is_idempotent,
        Must,
        "§7",
        [],
        ["store.delete.idempotent"],
        "delete of an unknown ID, and a second delete, MUST succeed."
    ),
    case!(
        "ST-DEL-003",
        delete_leaves_other_records,
        Must,
        "§7",
        [],
        ["store.isolation"],
        "delete MUST remove only the record with its ID."
    ),
];

async fn delete_removes_the_record(ctx: StoreCtx) -> CaseResult {
    let doomed = record(&ctx, json!({"a": 1}), LIVE);
    ctx.store().create(&doomed).await?;
    ctx.store().delete(&doomed.id).await?;
    must_be_gone(&ctx, &doomed.id, "after delete").await
}

async fn delete_is_idempotent(ctx: StoreCtx) -> CaseResult {
    ctx.store().delete(&SessionId::generate()).await?;
    let doomed = record(&ctx, json!({"a": 1}), LIVE);
    ctx.store().create(&doomed).await?;
    ctx.store().delete(&doomed.id).await?;
    ctx.store().delete(&doomed.id).await?;
    must_be_gone(&ctx, &doomed.id, "after two deletes").await
}

async fn delete_leaves_other_records(ctx: StoreCtx) -> CaseResult {
    let doomed = record(&ctx, json!({"a": 1}), LIVE);
    let kept = record(&ctx, json!({"b": 2}), LIVE);
    ctx.store().create(&doomed).await?;
    ctx.store().create(&kept).await?;
    ctx.store().delete(&doomed.id).await?;
    loads_back(&ctx, &kept, "the other record").await
}
