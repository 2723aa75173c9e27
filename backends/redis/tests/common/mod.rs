//! The Redis every test of this crate uses, with a message that says how to
//! start one when it is missing.

use session_store_redis::RedisStore;

/// A store on `SESSION_TEST_REDIS_URL` (default the local Redis) whose keys
/// start with `prefix`.
pub(crate) async fn store(prefix: impl Into<String>) -> RedisStore {
    let url = std::env::var("SESSION_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    RedisStore::connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Redis at {url} is unreachable ({e}); start it with \
                 `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` \
                 or set SESSION_TEST_REDIS_URL"
            )
        })
        .with_prefix(prefix)
}
