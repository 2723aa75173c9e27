//! What the store cannot decode is `Corrupt`, whatever form it takes, and
//! is left in place; writes over it follow the documented policy; nothing
//! panics. Each value is planted under a session key with raw commands, as
//! another program sharing the prefix (or an attacker with Redis access)
//! would.

use fred::prelude::Value;
use session_core::time::{Duration, OffsetDateTime};
use session_core::{ErrorKind, Record, SessionData, SessionId, SessionStore};
use session_store_redis::RedisStore;

mod common;
use common::raw;

async fn store() -> RedisStore {
    common::fresh_store("corrupt").await
}

/// How one bad value gets under a key.
#[derive(Debug, Clone, Copy)]
enum Plant {
    /// `SET key value`.
    String(&'static [u8]),
    /// A key of another type, by the command that makes it.
    Typed(&'static str, &'static [&'static str]),
}

/// Every form of undecodable value the policy names, and then some.
/// The flag: whether the value still begins with the record head
/// (`{"exp":<ms>,"ver":<n>,"data":`) that the save and touch scripts read.
const CASES: &[(&str, Plant, bool)] = &[
    ("a list", Plant::Typed("RPUSH", &["a", "b"]), false),
    ("a set", Plant::Typed("SADD", &["a"]), false),
    (
        "a hash",
        Plant::Typed("HSET", &["exp", "1", "ver", "0", "data", "{}"]),
        false,
    ),
    ("a sorted set", Plant::Typed("ZADD", &["1", "a"]), false),
    ("a stream", Plant::Typed("XADD", &["*", "f", "v"]), false),
    ("an empty string", Plant::String(b""), false),
    ("not JSON", Plant::String(b"\x00\xffgarbage"), false),
    (
        "invalid UTF-8 in a string",
        Plant::String(b"{\"exp\":1,\"ver\":0,\"data\":{\"k\":\"\xff\"}}"),
        true,
    ),
    (
        "truncated",
        Plant::String(br#"{"exp":4102444800000,"ver":0,"data":{"a":"#),
        true,
    ),
    ("a JSON array", Plant::String(b"[1,2,3]"), false),
    ("a JSON string", Plant::String(br#""session""#), false),
    (
        "missing version",
        Plant::String(br#"{"exp":4102444800000,"data":{}}"#),
        false,
    ),
    (
        "missing expiry",
        Plant::String(br#"{"ver":0,"data":{}}"#),
        false,
    ),
    (
        "missing data",
        Plant::String(br#"{"exp":4102444800000,"ver":0}"#),
        false,
    ),
    (
        "fields reordered",
        Plant::String(br#"{"ver":0,"exp":4102444800000,"data":{}}"#),
        false,
    ),
    (
        "whitespace in the head",
        Plant::String(br#"{"exp": 4102444800000, "ver": 0, "data": {}}"#),
        false,
    ),
    (
        "expiry as a string",
        Plant::String(br#"{"exp":"4102444800000","ver":0,"data":{}}"#),
        false,
    ),
    (
        "expiry as a float",
        Plant::String(br#"{"exp":4102444800000.5,"ver":0,"data":{}}"#),
        false,
    ),
    (
        "negative expiry",
        Plant::String(br#"{"exp":-1,"ver":0,"data":{}}"#),
        true,
    ),
    (
        "expiry long before 1970",
        Plant::String(br#"{"exp":-62135596800000,"ver":0,"data":{}}"#),
        true,
    ),
    (
        "expiry past year 9999",
        Plant::String(br#"{"exp":253402300800000,"ver":0,"data":{}}"#),
        true,
    ),
    (
        "expiry past i64",
        Plant::String(br#"{"exp":99999999999999999999,"ver":0,"data":{}}"#),
        true,
    ),
    (
        "negative version",
        Plant::String(br#"{"exp":4102444800000,"ver":-1,"data":{}}"#),
        false,
    ),
    (
        "fractional version",
        Plant::String(br#"{"exp":4102444800000,"ver":1.5,"data":{}}"#),
        false,
    ),
    (
        "version past u64",
        Plant::String(br#"{"exp":4102444800000,"ver":18446744073709551616,"data":{}}"#),
        true,
    ),
    (
        "version as a string",
        Plant::String(br#"{"exp":4102444800000,"ver":"1","data":{}}"#),
        false,
    ),
    (
        "data an array",
        Plant::String(br#"{"exp":4102444800000,"ver":0,"data":[1]}"#),
        true,
    ),
    (
        "data null",
        Plant::String(br#"{"exp":4102444800000,"ver":0,"data":null}"#),
        true,
    ),
    (
        "data a string",
        Plant::String(br#"{"exp":4102444800000,"ver":0,"data":"x"}"#),
        true,
    ),
    (
        "a duplicate field",
        Plant::String(br#"{"exp":4102444800000,"ver":0,"data":{},"ver":1}"#),
        true,
    ),
    (
        "trailing garbage",
        Plant::String(br#"{"exp":4102444800000,"ver":0,"data":{}}xyz"#),
        true,
    ),
];

async fn plant(store: &RedisStore, id: &SessionId, how: Plant) {
    let key = store.key(id);
    match how {
        Plant::String(bytes) => {
            let _: () = raw(store, "SET", vec![Value::from(key), Value::from(bytes)]).await;
        }
        Plant::Typed(command, args) => {
            let mut all = vec![key];
            all.extend(args.iter().map(|a| (*a).to_owned()));
            let _: Value = raw(store, command, all).await;
        }
    }
}

/// The key's type and a dump of its value, to prove nothing touched it.
async fn snapshot(store: &RedisStore, id: &SessionId) -> (String, Option<Vec<u8>>, i64) {
    let key = store.key(id);
    let kind: String = raw(store, "TYPE", vec![key.clone()]).await;
    let dump: Option<Vec<u8>> = raw(store, "DUMP", vec![key.clone()]).await;
    let pttl: i64 = raw(store, "PTTL", vec![key]).await;
    (kind, dump, pttl)
}

#[tokio::test]
async fn every_undecodable_value_loads_as_corrupt_and_stays() {
    let store = store().await;
    let mut wrong = Vec::new();
    for (name, how, _) in CASES {
        let id = SessionId::generate();
        plant(&store, &id, *how).await;
        let before = snapshot(&store, &id).await;
        match store.load(&id).await {
            Err(e) if e.kind() == ErrorKind::Corrupt => {}
            other => wrong.push(format!(
                "{name}: load gave {:?}",
                other.map_err(|e| e.report())
            )),
        }
        assert_eq!(
            snapshot(&store, &id).await,
            before,
            "{name}: load changed or deleted the key"
        );
        store.delete(&id).await.unwrap();
    }
    assert!(wrong.is_empty(), "not Corrupt:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_wrong_type_says_what_is_wrong() {
    let store = store().await;
    let id = SessionId::generate();
    plant(&store, &id, Plant::Typed("RPUSH", &["x"])).await;
    let err = store.load(&id).await.unwrap_err();
    let text = err.report();
    assert!(
        text.contains("WRONGTYPE") && text.contains("prefix"),
        "the message should name WRONGTYPE and the shared prefix to check: {text}"
    );
    store.delete(&id).await.unwrap();
}

fn record(id: &SessionId) -> Record {
    let mut data = SessionData::new();
    data.insert("user".into(), "mallory".into());
    Record::new(
        id.clone(),
        data,
        OffsetDateTime::now_utc() + Duration::hours(1),
    )
}

/// The documented choice for writes over a key that holds no session
/// record the scripts can read (another type, a value without the record
/// head): `create` is a conflict, `save` and `touch` are `NotFound`, and
/// none of them changes the key; `delete` removes it, and the ID is free.
#[tokio::test]
async fn writes_over_a_key_without_a_record_head_change_nothing() {
    let store = store().await;
    let mut wrong = Vec::new();
    for (name, how, _) in CASES.iter().filter(|(_, _, headed)| !headed) {
        let id = SessionId::generate();
        plant(&store, &id, *how).await;
        let before = snapshot(&store, &id).await;
        let record = record(&id);
        match store.create(&record).await {
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            other => wrong.push(format!("{name}: create gave {other:?}")),
        }
        for version in [0, 1] {
            match store.save(&record.clone().with_version(version)).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                other => wrong.push(format!("{name}: save v{version} gave {other:?}")),
            }
        }
        match store.touch(&id, record.expires_at).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            other => wrong.push(format!("{name}: touch gave {other:?}")),
        }
        let after = snapshot(&store, &id).await;
        if after != before {
            wrong.push(format!(
                "{name}: a write changed the key: {before:?} -> {after:?}"
            ));
        }
        store.delete(&id).await.unwrap();
        let exists: i64 = raw(&store, "EXISTS", vec![store.key(&id)]).await;
        if exists != 0 {
            wrong.push(format!("{name}: delete left the key"));
        }
        store.create(&record).await.unwrap();
        assert!(store.load(&id).await.unwrap().is_some(), "{name}");
        store.delete(&id).await.unwrap();
    }
    assert!(wrong.is_empty(), "policy broken:\n{}", wrong.join("\n"));
}

/// A value that keeps the record head but is corrupt further on: `create`
/// is a conflict and leaves it; the scripts read only the head, so a
/// `save` of the version in the head replaces the whole value with a good
/// record (an explicit write), `touch` rewrites only the head's expiry;
/// nothing panics and nothing else is possible.
#[tokio::test]
async fn writes_over_a_corrupt_value_with_a_record_head_replace_it_or_refuse() {
    let store = store().await;
    let mut wrong = Vec::new();
    for (name, how, _) in CASES.iter().filter(|(_, _, headed)| *headed) {
        let id = SessionId::generate();
        plant(&store, &id, *how).await;
        let before = snapshot(&store, &id).await;
        let record = record(&id);
        match store.create(&record).await {
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            other => wrong.push(format!("{name}: create gave {other:?}")),
        }
        if snapshot(&store, &id).await != before {
            wrong.push(format!("{name}: create changed the key"));
        }
        match store.touch(&id, record.expires_at).await {
            Ok(()) => {}
            other => wrong.push(format!("{name}: touch gave {other:?}")),
        }
        match store.load(&id).await {
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => wrong.push(format!("{name}: touch lost the key")),
        }
        match store.save(&record.clone().with_version(0)).await {
            Ok(()) => {
                let loaded = store.load(&id).await.unwrap().unwrap();
                if loaded.data != record.data
                    || loaded.version != 1
                    || loaded.expires_at_unix_ms() != record.expires_at_unix_ms()
                {
                    wrong.push(format!("{name}: save left {loaded:?}"));
                }
            }
            // The head carries another version.
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            other => wrong.push(format!("{name}: save gave {other:?}")),
        }
        store.delete(&id).await.unwrap();
    }
    assert!(wrong.is_empty(), "policy broken:\n{}", wrong.join("\n"));
}
