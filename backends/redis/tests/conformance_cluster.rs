//! `RedisStore` certified by the conformance kit against a real Redis
//! Cluster: three masters of the test's own (see `common::cluster`),
//! reached through a `redis-cluster://` URL, one key prefix per case. Each
//! case's keys are removed afterwards by scanning every master.

use std::sync::OnceLock;

use fred::prelude::ClientLike;
use session_conformance::Namespace;
use session_core::Capabilities;
use session_store_redis::{RedisOptions, RedisStore};

mod common;

/// The cluster's URL, for the teardown (the factory owns the cluster).
static URL: OnceLock<String> = OnceLock::new();

session_conformance::store_suite!(
    "redis-cluster",
    {
        // Owned by the factory, which the suite drops when the run ends:
        // the nodes are killed then.
        let cluster = common::cluster::Cluster::start();
        URL.get_or_init(|| cluster.url());
        move |ns: Namespace| {
            let url = cluster.url();
            async move {
                RedisStore::connect(&url)
                    .await
                    .map(|s| s.with_prefix(format!("{}:", ns.name())))
            }
        }
    },
    capabilities = Capabilities::NONE.with_touch(true).with_versioned(true),
    teardown = |ns: Namespace| async move {
        let url = URL.get().expect("the factory started the cluster");
        let store = RedisStore::connect_with(url, RedisOptions::default().with_pool_size(1))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "teardown: the cluster at {url} is unreachable: {}",
                    e.report()
                )
            });
        let prefix = format!("{}:", ns.name());
        common::cluster::delete_prefixed(&store, &prefix).await;
        let pattern = common::cluster::glob_escape(&prefix) + "*";
        for (node, keys) in common::cluster::keys_by_master(&store, &pattern).await {
            assert!(keys.is_empty(), "teardown: {node} still holds {keys:?}");
        }
        let _ = store.pool().quit().await;
    },
    unavailable_hint = "the cluster is started by the test itself from redis-server and redis-cli \
                        (Debian/Ubuntu: `apt-get install redis-server redis-tools`)",
);
