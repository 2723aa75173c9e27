//! ST-CON: isolation between sessions, tasks and namespaces (§7, §9).

use serde_json::json;

use super::{LIVE, RACE_ROUNDS, case, map, must_be_gone, must_load, record, same_data, together};
use crate::store::{StoreCase, StoreCtx};
use crate::{CaseResult, Failure, ensure};

pub(super) const CASES: &[StoreCase] = &[
    case!(
        "ST-CON-001",
        parallel_sessions_never_bleed,
        Must,
        "§7",
        [],
        ["store.isolation"],
        "32 tasks each creating, saving and loading their own session MUST each see only their own data."
    ),
    case!(
        "ST-CON-002",
        namespaces_are_isolated,
        Must,
        "§9",
        [],
        ["store.isolation"],
        "A store made for one namespace MUST NOT see, overwrite or delete the records of another."
    ),
    case!(
        "ST-CON-003",
        save_racing_delete_never_revives,
        Must,
        "§7",
        [],
        ["store.save.live-only", "store.delete.gone"],
        "When a save races a delete of the same record (started together, staggered differently in each of 64 rounds), the record MUST end up deleted, and a save that lost MUST fail with kind NotFound."
    ),
    case!(
        "ST-CON-004",
        loads_racing_writes_see_their_own_record,
        Must,
        "§7",
        [],
        ["store.isolation", "store.load.pure"],
        "Loads of one session racing creates, saves and deletes of other sessions MUST each return exactly that session's record."
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
    for round in 0..RACE_ROUNDS {
        let original = record(&ctx, json!({"round": round}), LIVE);
        ctx.store().create(&original).await?;
        let mut next = original.clone();
        next.data = map(json!({"round": round, "saved": true}));
        let id = original.id.clone();
        let (saved, deleted) = {
            let results = together(round, 2, |i| {
                let store = ctx.shared_store();
                let (next, id) = (next.clone(), id.clone());
                async move {
                    if i == 0 {
                        store.save(&next).await
                    } else {
                        store.delete(&id).await
                    }
                }
            })
            .await?;
            let mut results = results.into_iter();
            (results.next(), results.next())
        };
        if let Some(Err(error)) = deleted {
            return Err(error.into());
        }
        if let Some(Err(error)) = saved {
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

async fn loads_racing_writes_see_their_own_record(ctx: StoreCtx) -> CaseResult {
    const SESSIONS: usize = 4;
    for round in 0..RACE_ROUNDS / 4 {
        let mut mine = Vec::new();
        for i in 0..SESSIONS {
            let r = record(&ctx, json!({"owner": i, "round": round}), LIVE);
            ctx.store().create(&r).await?;
            mine.push(r);
        }
        let results = together(round, SESSIONS * 2, |task| {
            let store = ctx.shared_store();
            let own = mine.get(task % SESSIONS).cloned();
            let other = record(&ctx, json!({"other": task}), LIVE);
            async move {
                let Some(own) = own else {
                    return Ok::<_, session_core::Error>(None);
                };
                if task < SESSIONS {
                    // A reader of its own session.
                    let mut seen = Vec::new();
                    for _ in 0..4 {
                        seen.push(store.load(&own.id).await?);
                    }
                    Ok(Some((own, seen)))
                } else {
                    // A writer of sessions nobody reads.
                    store.create(&other).await?;
                    let mut changed = other.clone();
                    changed.data = map(json!({"other": task, "saved": true}));
                    store.save(&changed).await?;
                    store.delete(&other.id).await?;
                    Ok(None)
                }
            }
        })
        .await?;
        for result in results {
            let Some((own, seen)) = result.map_err(Failure::from)? else {
                continue;
            };
            for loaded in seen {
                let loaded = loaded.ok_or_else(|| {
                    Failure::new(format!(
                        "round {round}: a live session did not load while other sessions were written"
                    ))
                })?;
                ensure!(
                    loaded.id == own.id,
                    "round {round}: load returned a record under another ID"
                );
                same_data(
                    &loaded,
                    &own,
                    &format!("round {round}: a session loaded during writes to others"),
                )?;
            }
        }
    }
    Ok(())
}
