//! `HashedIds` over `RedisStore` certified by the conformance kit against a
//! real Redis: session IDs hashed at rest keep every store guarantee. One
//! key prefix per case.

use session_conformance::Namespace;
use session_core::{Capabilities, HashedIds};
use session_store_redis::RedisStore;

fn url() -> String {
    std::env::var("SESSION_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

session_conformance::store_suite!(
    "redis-hashed",
    |ns: Namespace| async move {
        let store = RedisStore::connect(&url())
            .await?
            .with_prefix(format!("{}:", ns.name()));
        HashedIds::keyed(store, *b"a key kept outside the store 32b")
            .map_err(session_core::BoxError::from)
    },
    capabilities = Capabilities::NONE.with_touch(true).with_versioned(true),
    unavailable_hint = "start Redis with `redis-server --daemonize yes --port 6379 --save \"\" --appendonly no`, \
                        or point SESSION_TEST_REDIS_URL at one; scripts/test starts a throwaway one",
);
