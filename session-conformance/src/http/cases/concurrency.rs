//! HX-CON: concurrent requests of one visitor are normal traffic (§5).

use serde_json::json;
use session_core::Config;

use super::{case, data, ok, with_session};
use crate::http::client::{Answer, Client};
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, Failure, ensure};

/// How many requests of one visitor run at once.
const PARALLEL: usize = 24;

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-CON-001",
        parallel_writes_all_succeed,
        Must,
        "§5",
        Config::default,
        [IdCookie],
        ["adapter.concurrent", "adapter.errors"],
        "24 parallel writes of distinct keys to one session MUST all answer 2xx, each renewing the same session cookie."
    ),
    case!(
        "HX-CON-002",
        parallel_writes_all_land,
        Must,
        "§5",
        Config::default,
        [Versioned],
        ["adapter.concurrent"],
        "On a store with versioned saves, after 24 parallel writes of distinct keys to one session every key MUST be there."
    ),
    case!(
        "HX-CON-003",
        logout_racing_writes_never_revives,
        Must,
        "§6",
        Config::default,
        [ServerSideState],
        ["adapter.concurrent", "adapter.errors"],
        "A logout racing with writes of the same session MUST leave the old cookie seeing an empty session, no request of the race may answer 5xx, and every write answered 2xx MUST carry a session cookie."
    ),
    case!(
        "HX-CON-004",
        a_write_whose_session_was_logged_out_meanwhile_answers_400,
        Must,
        "§6",
        Config::default,
        [ServerSideState],
        ["adapter.errors"],
        "A write whose session a concurrent logout deleted while the handler ran MUST answer 400 (the session was interrupted) without a session cookie, and MUST NOT revive the session."
    ),
];

/// Sends `targets` at once, all with the session cookie of `client`.
async fn at_once(client: &Client, targets: Vec<String>) -> Result<Vec<Answer>, Failure> {
    let tasks: Vec<_> = targets
        .into_iter()
        .map(|target| {
            let client = client.clone();
            tokio::spawn(async move {
                let field = client.cookie_field();
                client
                    .raw("POST", &target, field.iter().map(Vec::as_slice).collect())
                    .await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(
            task.await
                .map_err(|e| Failure::new(format!("a request task panicked: {e}")))??,
        );
    }
    Ok(answers)
}

async fn parallel_writes(ctx: &HttpCtx) -> Result<(Client, Vec<Answer>), Failure> {
    let client = with_session(ctx).await?;
    // Each handler holds after its write, so all of them read the same
    // version and then save at once: the hardest race for `finish`.
    let targets = (0..PARALLEL)
        .map(|i| format!("/probe/set?k=k{i}&v={i}&hold_ms=150"))
        .collect();
    let answers = at_once(&client, targets).await?;
    Ok((client, answers))
}

async fn parallel_writes_all_succeed(ctx: HttpCtx) -> CaseResult {
    let (client, answers) = parallel_writes(&ctx).await?;
    let name = ctx.config().cookie_name();
    for (i, answer) in answers.iter().enumerate() {
        ensure!(
            (200..300).contains(&answer.status),
            "parallel write {i} of {PARALLEL} answered {} ({})",
            answer.status,
            answer.json
        );
        let cookie = answer.the_cookie(name, &format!("parallel write {i}"))?;
        ensure!(
            Some(cookie.value()) == client.session_cookie(),
            "parallel write {i} moved the session to another ID"
        );
    }
    Ok(())
}

async fn parallel_writes_all_land(ctx: HttpCtx) -> CaseResult {
    let (mut client, answers) = parallel_writes(&ctx).await?;
    for (i, answer) in answers.iter().enumerate() {
        ensure!(
            (200..300).contains(&answer.status),
            "parallel write {i} answered {}",
            answer.status
        );
    }
    let all = data(&mut client).await?;
    let missing: Vec<usize> = (0..PARALLEL)
        .filter(|i| all.get(format!("k{i}")) != Some(&json!(i)))
        .collect();
    ensure!(
        missing.is_empty(),
        "after {PARALLEL} parallel writes the keys {missing:?} are missing or wrong: {all}"
    );
    ensure!(
        all.get("a") == Some(&json!(1)),
        "the data from before the race was lost: {all}"
    );
    Ok(())
}

async fn logout_racing_writes_never_revives(ctx: HttpCtx) -> CaseResult {
    for round in 0..3 {
        let client = with_session(&ctx).await?;
        let mut targets: Vec<String> = (0..PARALLEL)
            .map(|i| format!("/probe/set?k=k{i}&v={i}&hold_ms={}", 50 * round))
            .collect();
        // The logout lands early, midway or late among the writes.
        targets.insert(round * PARALLEL / 2, "/probe/logout".to_owned());
        let answers = at_once(&client, targets).await?;
        let name = ctx.config().cookie_name();
        for answer in &answers {
            ensure!(
                answer.status < 500,
                "round {round}: a request racing a logout answered {} ({})",
                answer.status,
                answer.json
            );
            // A write that succeeded always renews or issues a cookie; a 2xx
            // without one hides a failed finish.
            ensure!(
                !(200..300).contains(&answer.status)
                    || answer.json.get("ok").is_none()
                    || !answer.cookies_named(name).is_empty(),
                "round {round}: a write answered {} without a session cookie",
                answer.status
            );
        }
        let mut replay = client.clone();
        let after = data(&mut replay).await?;
        ensure!(
            after.as_object().is_some_and(|m| m.is_empty()),
            "round {round}: after the logout the old cookie still sees data: {after}"
        );
    }
    Ok(())
}

async fn a_write_whose_session_was_logged_out_meanwhile_answers_400(ctx: HttpCtx) -> CaseResult {
    let name = ctx.config().cookie_name().to_owned();
    for hold_ms in [800u64, 1600, 3200] {
        let client = with_session(&ctx).await?;
        let field = client.cookie_field();
        let writer = {
            let client = client.clone();
            let field = field.clone();
            tokio::spawn(async move {
                client
                    .raw(
                        "POST",
                        &format!("/probe/set?k=late&v=1&hold_ms={hold_ms}"),
                        field.iter().map(Vec::as_slice).collect(),
                    )
                    .await
            })
        };
        // The writer reads the session, then holds; log out meanwhile.
        tokio::time::sleep(std::time::Duration::from_millis(hold_ms / 4)).await;
        let logout = client
            .raw(
                "POST",
                "/probe/logout",
                field.iter().map(Vec::as_slice).collect(),
            )
            .await?;
        ok(&logout, "the logout")?;
        let write = writer
            .await
            .map_err(|e| Failure::new(format!("the writer task panicked: {e}")))??;
        let issued: Vec<_> = write
            .cookies_named(&name)
            .into_iter()
            .filter(|c| !crate::http::client::is_removal(c))
            .collect();
        if (200..300).contains(&write.status)
            && issued
                .iter()
                .any(|c| Some(c.value()) != client.session_cookie())
        {
            // The logout landed before the writer read the session (a
            // loaded machine): it rightly started a new one. Hold longer.
            continue;
        }
        ensure!(
            write.status == 400,
            "a write whose session was logged out while it ran answered {}, not 400 ({})",
            write.status,
            write.json
        );
        ensure!(
            issued.is_empty(),
            "the interrupted write set a session cookie: {:?}",
            write.set_cookies
        );
        let mut replay = client.clone();
        let after = data(&mut replay).await?;
        ensure!(
            after.as_object().is_some_and(|m| m.is_empty()),
            "the interrupted write revived the session: {after}"
        );
        return Ok(());
    }
    Err(Failure::new(
        "the logout never landed while the write held the session (3 tries, up to 3.2 s)",
    ))
}
