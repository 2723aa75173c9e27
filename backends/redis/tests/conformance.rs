//! `RedisStore` certified by the conformance kit against a real Redis: one
//! key prefix per case.

use session_conformance::Namespace;
use session_core::Capabilities;
use session_store_redis::RedisStore;

fn url() -> String {
    std::env::var("SESSION_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

session_conformance::store_suite!(
    "redis",
    |ns: Namespace| async move {
        RedisStore::connect(&url())
            .await
            .map(|s| s.with_prefix(format!("{}:", ns.name())))
    },
    capabilities = Capabilities::NONE.with_touch(true).with_versioned(true),
    unavailable_hint = "start Redis with `redis-server --daemonize yes --port 6379 --save \"\" --appendonly no`, \
                        or point SESSION_TEST_REDIS_URL at one; scripts/test starts a throwaway one",
);
