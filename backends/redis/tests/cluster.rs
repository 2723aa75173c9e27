//! The store on a real Redis Cluster of three masters (its own, see
//! `common::cluster`): sessions spread over the masters, each session's
//! keys on one slot, the scripts routed to the right master, and a store
//! built from an explicit fred `Config`. The kit's whole store suite runs
//! against a cluster in `tests/conformance_cluster.rs`.

use std::collections::{BTreeMap, BTreeSet};

use fred::prelude::{ClientLike, Config, ServerConfig, Value};
use fred::types::{ClusterHash, CustomCommand};
use session_core::time::{self, OffsetDateTime};
use session_core::{Record, SessionData, SessionId, SessionStore};
use session_store_redis::{RedisOptions, RedisStore};

mod common;
use common::cluster::{self, Cluster};

/// Enough sessions that all landing on one of three masters is
/// (1/3)^31: never by chance.
const SESSIONS: usize = 32;

/// The slot Redis itself gives `key` (`CLUSTER KEYSLOT`, answered by any
/// node): not fred's hasher, so the check does not trust the client.
async fn slot(store: &RedisStore, key: &str) -> i64 {
    store
        .pool()
        .custom(
            CustomCommand::new_static("CLUSTER KEYSLOT", ClusterHash::Random, false),
            vec![Value::from(key)],
        )
        .await
        .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT {key}: {e}"))
}

fn record(id: &SessionId, n: i64) -> Record {
    let mut data = SessionData::new();
    data.insert("n".into(), n.into());
    Record::new(
        id.clone(),
        data,
        OffsetDateTime::now_utc() + time::Duration::hours(1),
    )
}

#[tokio::test]
async fn sessions_spread_over_the_masters_and_each_keeps_to_one_slot() {
    let cluster = Cluster::start();
    let store = RedisStore::connect(&cluster.url())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {}", cluster.url(), e.report()));
    let masters = cluster::masters(&store).await;
    assert_eq!(
        masters.len(),
        3,
        "the cluster should have three masters: {masters:?}"
    );

    let prefix = format!("spread_{}:", &SessionId::generate().as_str()[..12]);
    let store = store.with_prefix(&prefix);
    let mut ids = BTreeMap::new();
    for n in 0..SESSIONS {
        let id = SessionId::generate();
        let first = record(&id, 0);
        store.create(&first).await.unwrap();
        // save and touch are Lua scripts: each must reach the master that
        // owns the session's slot, wherever that is.
        store
            .save(&record(&id, 1).with_version(first.version))
            .await
            .unwrap();
        store
            .touch(&id, OffsetDateTime::now_utc() + time::Duration::hours(2))
            .await
            .unwrap();
        let loaded = store
            .load(&id)
            .await
            .unwrap()
            .expect("the session just saved");
        assert_eq!(
            loaded.data.get("n"),
            Some(&1.into()),
            "session {n} lost its save"
        );
        ids.insert(store.key(&id), id);
    }

    let pattern = cluster::glob_escape(&prefix) + "*";
    let by_master = cluster::keys_by_master(&store, &pattern).await;
    let mut seen = BTreeSet::new();
    let mut holding = 0;
    for (node, keys) in &by_master {
        if !keys.is_empty() {
            holding += 1;
        }
        for key in keys {
            assert!(seen.insert(key.clone()), "{key} is on two masters");
            let id = ids
                .get(key)
                .unwrap_or_else(|| panic!("{node} holds {key}, which no session wrote"));
            // The hash tag: the slot is the ID's alone, whatever the prefix,
            // so every key of the session (and any other key tagged with
            // its ID) shares it.
            let tag = format!("{{{id}}}");
            assert_eq!(
                slot(&store, key).await,
                slot(&store, id.as_str()).await,
                "{key} is not on the slot of its ID"
            );
            assert_eq!(
                slot(&store, key).await,
                slot(&store, &format!("another-prefix:{tag}:more")).await,
                "{key}: a key with the same hash tag is on another slot"
            );
        }
    }
    assert_eq!(
        seen.len(),
        SESSIONS,
        "every session's key should be on exactly one master: {by_master:?}"
    );
    assert!(
        holding > 1,
        "all {SESSIONS} sessions are on one master, so the cluster is not really used: \
         {by_master:?}"
    );

    assert_eq!(cluster::delete_prefixed(&store, &prefix).await, SESSIONS);
    let left: usize = cluster::keys_by_master(&store, &pattern)
        .await
        .iter()
        .map(|(_, keys)| keys.len())
        .sum();
    assert_eq!(left, 0, "keys left after deleting on every master");
    for id in ids.values() {
        assert!(
            store.load(id).await.unwrap().is_none(),
            "a deleted session loads"
        );
    }
}

#[tokio::test]
async fn an_explicit_fred_config_with_one_seed_node_reaches_every_master() {
    let cluster = Cluster::start();
    let seed = cluster.ports()[0];
    let config = Config {
        server: ServerConfig::new_clustered(vec![("127.0.0.1", seed)]),
        ..Config::default()
    };
    let store = RedisStore::connect_config(config, RedisOptions::default())
        .await
        .unwrap_or_else(|e| panic!("connect_config to seed node {seed}: {}", e.report()))
        .with_prefix(format!("config_{}:", &SessionId::generate().as_str()[..12]));
    // fred learns the other masters from the seed; sessions on their
    // slots work as well as those on the seed's.
    let mut ids = Vec::new();
    for n in 0..SESSIONS {
        let id = SessionId::generate();
        store.create(&record(&id, 0)).await.unwrap();
        store.save(&record(&id, 7)).await.unwrap();
        ids.push((n, id));
    }
    for (n, id) in &ids {
        let loaded = store
            .load(id)
            .await
            .unwrap()
            .expect("the session just saved");
        assert_eq!(loaded.data.get("n"), Some(&7.into()), "session {n}");
        store.delete(id).await.unwrap();
        assert!(
            store.load(id).await.unwrap().is_none(),
            "session {n} after delete"
        );
    }
    let servers = format!("{store:?}");
    assert!(
        servers.contains(&format!("127.0.0.1:{seed}")),
        "the store should name its seed node: {servers}"
    );
    let _ = store.pool().quit().await;
}
