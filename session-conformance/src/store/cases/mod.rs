//! The store cases, one file per area. Each case checks one sentence of
//! the `SessionStore` contract (`# Contract` in session-core's `store.rs`)
//! or of the design, and its failure says which, with the values seen.

use std::sync::Arc;

use serde_json::Value;
use session_core::{Error, ErrorKind, Record, SessionData, SessionId};
use time::Duration;

use super::{StoreCase, StoreCtx};
use crate::{CaseResult, Failure};

mod concurrency;
mod create;
mod data;
mod delete;
mod expiry;
mod load;
mod optional;
mod save;

/// Declares a case whose body is the `async fn` of the same name as its
/// title.
macro_rules! case {
    ($id:literal, $title:ident, $level:ident, $section:literal, [$($need:ident),*], [$($clause:literal),+], $req:literal $(, $slow:ident)?) => {
        $crate::store::StoreCase {
            info: $crate::CaseInfo {
                id: $id,
                title: stringify!($title),
                requirement: $req,
                level: $crate::Level::$level,
                section: $section,
                clauses: &[$($clause),+],
                needs: &[$($crate::Need::$need),*],
                slow: case!(@slow $($slow)?),
            },
            run: |ctx| Box::pin($title(ctx)),
        }
    };
    (@slow) => { false };
    (@slow slow) => { true };
}
pub(crate) use case;

/// Every store case, in catalogue order.
pub(super) static ALL: std::sync::LazyLock<Vec<StoreCase>> = std::sync::LazyLock::new(|| {
    [
        data::CASES,
        create::CASES,
        load::CASES,
        save::CASES,
        delete::CASES,
        expiry::CASES,
        optional::CASES,
        concurrency::CASES,
    ]
    .into_iter()
    .flat_map(|area| area.iter().copied())
    .collect()
});

// --- helpers shared by the areas ---------------------------------------------

/// A data map from a JSON object literal.
pub(super) fn map(value: Value) -> Arc<SessionData> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::default(),
    }
}

/// A fresh record with `data`, expiring `ttl` after the case's "now".
pub(super) fn record(ctx: &StoreCtx, data: Value, ttl: Duration) -> Record {
    Record::new(SessionId::generate(), map(data), ctx.now() + ttl)
}

/// A day: "live" in every case.
pub(super) const LIVE: Duration = Duration::days(1);

/// Loads `id`, failing the case if it is absent.
pub(super) async fn must_load(
    ctx: &StoreCtx,
    id: &SessionId,
    why: &str,
) -> Result<Record, Failure> {
    ctx.store()
        .load(id)
        .await?
        .ok_or_else(|| Failure::new(format!("{why}: load returned None for a live record")))
}

/// Fails unless `id` is absent.
pub(super) async fn must_be_gone(ctx: &StoreCtx, id: &SessionId, why: &str) -> CaseResult {
    let loaded = ctx.store().load(id).await?;
    crate::ensure!(
        loaded.is_none(),
        "{why}: load returned a record ({:?}) that must not be loadable",
        loaded.map(|r| r.data)
    );
    Ok(())
}

/// Fails unless `result` is an error of `kind`.
pub(super) fn must_fail<T: std::fmt::Debug>(
    result: Result<T, Error>,
    kind: ErrorKind,
    why: &str,
) -> CaseResult {
    match result {
        Err(error) if error.kind() == kind => Ok(()),
        Err(error) => Err(Failure::new(format!(
            "{why}: expected an error of kind {kind:?}, got kind {:?} ({error})",
            error.kind()
        ))),
        Ok(value) => Err(Failure::new(format!(
            "{why}: expected an error of kind {kind:?}, got Ok({value:?})"
        ))),
    }
}

/// Fails unless two expiries agree to the millisecond (stores keep at
/// least millisecond precision).
pub(super) fn same_expiry(found: &Record, expected: &Record, why: &str) -> CaseResult {
    let drift = (found.expires_at - expected.expires_at).abs();
    crate::ensure!(
        drift < Duration::milliseconds(1),
        "{why}: expires_at changed by {drift} (expected {}, found {})",
        expected.expires_at,
        found.expires_at
    );
    Ok(())
}

/// Fails unless the loaded data equals `expected`.
pub(super) fn same_data(found: &Record, expected: &Record, why: &str) -> CaseResult {
    if found.data == expected.data {
        return Ok(());
    }
    let text = |d: &SessionData| {
        let t = serde_json::to_string(d).unwrap_or_default();
        if t.chars().count() > 300 {
            t.chars().take(300).chain(std::iter::once('…')).collect()
        } else {
            t
        }
    };
    Err(Failure::new(format!(
        "{why}: data differs\n  expected: {}\n     found: {}",
        text(&expected.data),
        text(&found.data)
    )))
}

/// Fails unless `expected.id` loads with exactly `expected`'s data.
pub(super) async fn loads_back(ctx: &StoreCtx, expected: &Record, why: &str) -> CaseResult {
    let loaded = must_load(ctx, &expected.id, why).await?;
    same_data(&loaded, expected, why)
}

/// How many rounds a race case runs. Each round places the competing
/// operations at another moment (see [`stagger`]), so that a store with a
/// check-then-act window fails in practically every run; the kit's
/// self-test measures that rate for its racy broken stores.
pub(super) const RACE_ROUNDS: usize = 64;

/// Delays task `task` of round `round` by a number of scheduler yields (0
/// to 7) such that, over 64 rounds, tasks 0 and 1 meet at every one of the
/// 64 pairs of delays: whichever await point a check-then-act window of up
/// to 7 yields opens at, some round puts the competing operation inside it.
pub(super) async fn stagger(round: usize, task: usize) {
    let yields = match task {
        0 => round % 8,
        _ => (round / 8 + task - 1) % 8,
    };
    for _ in 0..yields {
        tokio::task::yield_now().await;
    }
}

/// Runs `n` tasks made by `make` that start together (behind a barrier)
/// and are staggered by [`stagger`]; returns their results in task order.
pub(super) async fn together<T, F, Fut>(round: usize, n: usize, make: F) -> Result<Vec<T>, Failure>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let work = make(i);
            tokio::spawn(async move {
                barrier.wait().await;
                stagger(round, i).await;
                work.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(
            task.await
                .map_err(|e| Failure::new(format!("a racing task panicked: {e}")))?,
        );
    }
    Ok(results)
}

/// Races `n` writers of `fresh()`'s record (each with `{"writer": i}` as
/// data) through `write`, for [`RACE_ROUNDS`] rounds, and checks in each
/// that exactly one wins, the others fail with kind Conflict, and the
/// stored data is the winner's.
pub(super) async fn race_one_winner<P, PFut, F, Fut>(
    ctx: &StoreCtx,
    n: usize,
    what: &str,
    prepare: P,
    write: F,
) -> CaseResult
where
    P: Fn() -> PFut,
    PFut: std::future::Future<Output = Result<Record, Failure>>,
    F: Fn(Arc<dyn session_core::SessionStore>, Record) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    for round in 0..RACE_ROUNDS {
        let record = prepare().await?;
        let results = together(round, n, |i| {
            let mut candidate = record.clone();
            candidate.data = map(serde_json::json!({"writer": i}));
            write(ctx.shared_store(), candidate)
        })
        .await?;
        let mut winners = Vec::new();
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(()) => winners.push(i),
                Err(error) if error.kind() == ErrorKind::Conflict => {}
                Err(error) => return Err(error.into()),
            }
        }
        crate::ensure_eq!(
            winners.len(),
            1,
            "round {round}: number of concurrent {what}s that succeeded (winners {winners:?})"
        );
        let loaded = must_load(ctx, &record.id, "after the race").await?;
        crate::ensure_eq!(
            loaded.data.get("writer"),
            Some(&serde_json::json!(winners.first())),
            "round {round}: the stored record is the winner's"
        );
    }
    Ok(())
}
