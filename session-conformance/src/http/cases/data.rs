//! HX-DAT: whatever the session accepts over HTTP, it gives back (§3).

use serde_json::{Value, json};
use session_core::Config;

use super::{case, data, no_5xx, ok, with_session};
use crate::http::{HttpCase, HttpCtx};
use crate::{CaseResult, ensure, ensure_eq};

pub(super) const CASES: &[HttpCase] = &[
    case!(
        "HX-DAT-001",
        deep_values_round_trip_or_are_refused,
        Must,
        "§3",
        Config::default,
        [],
        ["adapter.core-decides"],
        "A value nested 50 to 1,000 levels deep MUST either be answered 2xx and read back unchanged, or be refused with a 4xx; either way the session keeps its other data and stays readable."
    ),
    case!(
        "HX-DAT-002",
        control_characters_round_trip,
        Must,
        "§3",
        Config::default,
        [],
        ["adapter.core-decides"],
        "Strings holding U+0000, the other C0 controls and U+007F, as values and as keys, MUST be saved and read back unchanged."
    ),
];

fn nested(depth: usize) -> Value {
    let mut value = json!("leaf");
    for _ in 0..depth {
        value = json!([value]);
    }
    value
}

async fn deep_values_round_trip_or_are_refused(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    for depth in [50usize, 99, 100, 101, 127, 128, 200, 1000] {
        let why = format!("a value nested {depth} deep");
        let answer = client
            .post(&format!("/probe/set?k=deep&v=leaf&nest={depth}"))
            .await?;
        no_5xx(&answer, &why)?;
        let accepted = (200..300).contains(&answer.status);
        ensure!(
            accepted || (400..500).contains(&answer.status),
            "{why}: answered {}, neither 2xx nor 4xx",
            answer.status
        );
        let read = client.get("/probe/get?k=deep").await?;
        ok(&read, &format!("{why}: the next read"))?;
        if accepted {
            ensure!(
                read.json.get("value") == Some(&nested(depth)),
                "{why}: accepted with {}, but read back as something else (the session lost it)",
                answer.status
            );
        }
        let all = data(&mut client).await?;
        ensure_eq!(
            all.get("a"),
            Some(&json!(1)),
            "{why}: the session's other data afterwards"
        );
        // Start the next depth from a clean key.
        ok(&client.post("/probe/remove?k=deep").await?, "removing it")?;
    }
    Ok(())
}

async fn control_characters_round_trip(ctx: HttpCtx) -> CaseResult {
    let mut client = with_session(&ctx).await?;
    let controls: String = (0u8..0x20).chain([0x7f]).map(char::from).collect();
    let value = format!("a{controls}z");
    let key = "k\u{0}\u{1}\u{1f}\u{7f}";
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("k", key)
        .append_pair("v", &Value::String(value.clone()).to_string())
        .finish();
    let answer = client.post(&format!("/probe/set?{query}")).await?;
    ok(&answer, "a write of control characters")?;
    let all = data(&mut client).await?;
    let expected = Value::String(value);
    ensure_eq!(
        all.get(key),
        Some(&expected),
        "the value under a key with control characters, read back"
    );
    ensure_eq!(all.get("a"), Some(&json!(1)), "the session's other data");
    // And through a save of the whole session once more.
    ok(
        &client.post("/probe/set?k=b&v=2").await?,
        "a later write of the same session",
    )?;
    let again = data(&mut client).await?;
    ensure_eq!(
        again.get(key),
        Some(&expected),
        "the control characters after a later save"
    );
    Ok(())
}
