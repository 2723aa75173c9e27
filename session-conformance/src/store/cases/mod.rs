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
mod load;
mod optional;
mod save;

/// Declares a case whose body is the `async fn` of the same name as its
/// title.
macro_rules! case {
    ($id:literal, $title:ident, $level:ident, $section:literal, $needs:ident, $req:literal $(, $slow:ident)?) => {
        $crate::store::StoreCase {
            info: $crate::CaseInfo {
                id: $id,
                title: stringify!($title),
                requirement: $req,
                level: $crate::Level::$level,
                section: $section,
                needs: $crate::Need::$needs,
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

/// Races `n` writers of `record` (each with `{"writer": i}` as data)
/// through `write`, and checks that exactly one wins, the others fail with
/// kind Conflict, and the stored data is the winner's.
pub(super) async fn race_one_winner<F, Fut>(
    ctx: &StoreCtx,
    record: &Record,
    n: usize,
    what: &str,
    write: F,
) -> CaseResult
where
    F: Fn(Arc<dyn session_core::SessionStore>, Record) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let mut candidate = record.clone();
            candidate.data = map(serde_json::json!({"writer": i}));
            let attempt = write(ctx.shared_store(), candidate);
            tokio::spawn(async move { (i, attempt.await) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, result) = task
            .await
            .map_err(|e| Failure::new(format!("a {what} task panicked: {e}")))?;
        match result {
            Ok(()) => winners.push(i),
            Err(error) if error.kind() == ErrorKind::Conflict => {}
            Err(error) => return Err(error.into()),
        }
    }
    crate::ensure_eq!(
        winners.len(),
        1,
        "number of concurrent {what}s that succeeded (winners {winners:?})"
    );
    let loaded = must_load(ctx, &record.id, "after the race").await?;
    crate::ensure_eq!(
        loaded.data.get("writer"),
        Some(&serde_json::json!(winners.first())),
        "the stored record is the winner's"
    );
    Ok(())
}
