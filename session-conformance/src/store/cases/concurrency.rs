//! ST-CON: isolation between sessions, tasks and namespaces (§7, §9).

use serde_json::json;

use super::{LIVE, case, map, must_be_gone, must_load, record, same_data};
use crate::store::{StoreCase, StoreCtx};
use crate::{CaseResult, Failure, ensure};

pub(super) const CASES: &[StoreCase] = &[
    case!(
        "ST-CON-001",
        parallel_sessions_never_bleed,
        Must,
        "§7",
        Nothing,
        "32 tasks each creating, saving and loading their own session MUST each see only their own data."
    ),
    case!(
        "ST-CON-002",
        namespaces_are_isolated,
        Must,
        "§9",
        Nothing,
        "A store made for one namespace MUST NOT see, overwrite or delete the records of another."
    ),
    case!(
        "ST-CON-003",
        save_racing_delete_never_revives,
        Must,
        "§7",
        Nothing,
        "When a save races a delete of the same record, the record MUST end up deleted."
    ),
];

async fn parallel_sessions_never_bleed(ctx: StoreCtx) -> CaseResult {
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = ctx.shared_store();
            let mut mine = record(&ctx, json!({"owner": i, "step": 1}), LIVE);
            tokio::spawn(async move {
                store.create(&mine).await?;
                mine.data = map(json!({"owner": i, "step": 2, "payload": "x".repeat(i * 100)}));
                store.save(&mine).await?;
                let loaded = store.load(&mine.id).await?;
                Ok::<_, session_core::Error>((mine, loaded))
            })
        })
        .collect();
    for task in tasks {
        let (mine, loaded) = task
            .await
            .map_err(|e| Failure::new(format!("a task panicked: {e}")))??;
        let loaded = loaded.ok_or_else(|| Failure::new("a task's own session did not load"))?;
        same_data(&loaded, &mine, "a task's own session")?;
    }
    Ok(())
}

async fn namespaces_are_isolated(ctx: StoreCtx) -> CaseResult {
    let other = ctx.other_namespace().await?;
    let mine = record(&ctx, json!({"namespace": "mine"}), LIVE);
    ctx.store().create(&mine).await?;
    let loaded = other.load(&mine.id).await?;
    ensure!(
        loaded.is_none(),
        "another namespace loaded this namespace's record"
    );
    let mut theirs = record(&ctx, json!({"namespace": "theirs"}), LIVE);
    theirs.id = mine.id.clone();
    other.create(&theirs).await.map_err(|e| {
        Failure::new(format!(
            "create of the same ID in another namespace failed: {e} (kind {:?})",
            e.kind()
        ))
    })?;
    other.delete(&mine.id).await?;
    same_data(
        &must_load(
            &ctx,
            &mine.id,
            "after the other namespace wrote and deleted",
        )
        .await?,
        &mine,
        "this namespace's record",
    )
}

async fn save_racing_delete_never_revives(ctx: StoreCtx) -> CaseResult {
    for round in 0..20 {
        let original = record(&ctx, json!({"round": round}), LIVE);
        ctx.store().create(&original).await?;
        let mut next = original.clone();
        next.data = map(json!({"round": round, "saved": true}));
        let (saver, deleter) = (ctx.shared_store(), ctx.shared_store());
        let id = original.id.clone();
        let save = tokio::spawn(async move { saver.save(&next).await });
        let delete = tokio::spawn(async move { deleter.delete(&id).await });
        let saved = save
            .await
            .map_err(|e| Failure::new(format!("the save task panicked: {e}")))?;
        delete
            .await
            .map_err(|e| Failure::new(format!("the delete task panicked: {e}")))??;
        if let Err(error) = saved {
            ensure!(
                error.kind() == session_core::ErrorKind::NotFound,
                "round {round}: a save that lost to a delete failed with kind {:?}, not NotFound",
                error.kind()
            );
        }
        must_be_gone(
            &ctx,
            &original.id,
            &format!("round {round}, after save and delete raced"),
        )
        .await?;
    }
    Ok(())
}
