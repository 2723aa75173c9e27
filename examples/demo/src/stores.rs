//! Opens the store a `--store` flag names.

use std::sync::Arc;

use session_core::{CachedStore, MemoryStore, SessionStore};
use session_store_file::FileStore;
use session_store_postgres::PostgresStore;
use session_store_redis::RedisStore;

use crate::cli::StoreChoice;

/// Connects to (or creates) the store.
pub async fn open(choice: &StoreChoice) -> Result<Arc<dyn SessionStore>, String> {
    match choice {
        StoreChoice::Memory => Ok(Arc::new(MemoryStore::new())),
        StoreChoice::File(dir) => {
            let dir = dir.clone().unwrap_or_else(FileStore::default_dir);
            let store = FileStore::open(&dir)
                .map_err(|e| format!("cannot keep sessions in {}: {e}", dir.display()))?;
            Ok(Arc::new(store))
        }
        StoreChoice::Redis(url) => {
            let store = RedisStore::connect(url)
                .await
                .map_err(|e| format!("cannot reach Redis at {url}: {e}"))?;
            Ok(Arc::new(store))
        }
        StoreChoice::Postgres(url) => {
            let store = PostgresStore::connect(url)
                .await
                .map_err(|e| format!("cannot reach PostgreSQL: {e}"))?;
            store
                .migrate()
                .await
                .map_err(|e| format!("cannot create the sessions table: {e}"))?;
            Ok(Arc::new(store))
        }
        StoreChoice::Cached(cache, db) => {
            // Boxed: an async fn cannot call itself directly.
            let cache = Box::pin(open(cache)).await?;
            let db = Box::pin(open(db)).await?;
            Ok(Arc::new(CachedStore::new(cache, db)))
        }
    }
}

/// A human name for the store, without credentials.
pub fn describe(choice: &StoreChoice) -> String {
    match choice {
        StoreChoice::Memory => "memory".to_owned(),
        StoreChoice::File(Some(dir)) => format!("files in {}", dir.display()),
        StoreChoice::File(None) => format!("files in {}", FileStore::default_dir().display()),
        StoreChoice::Redis(_) => "redis".to_owned(),
        StoreChoice::Postgres(_) => "postgres".to_owned(),
        StoreChoice::Cached(cache, db) => {
            format!("cached ({} in front of {})", describe(cache), describe(db))
        }
    }
}
