//! Opens the store a `--store` flag names.

use std::sync::Arc;

use session_core::{MemoryStore, SessionStore};

use crate::cli::StoreChoice;

/// Connects to (or creates) the store.
pub async fn open(choice: &StoreChoice) -> Result<Arc<dyn SessionStore>, String> {
    match choice {
        StoreChoice::Memory => Ok(Arc::new(MemoryStore::new())),
        other => Err(format!(
            "the {} store is not available in this build yet",
            describe(other)
        )),
    }
}

/// A human name for the store, without credentials.
pub fn describe(choice: &StoreChoice) -> String {
    match choice {
        StoreChoice::Memory => "memory".to_owned(),
        StoreChoice::File(Some(dir)) => format!("files in {}", dir.display()),
        StoreChoice::File(None) => "files in the default directory".to_owned(),
        StoreChoice::Redis(_) => "redis".to_owned(),
        StoreChoice::Postgres(_) => "postgres".to_owned(),
    }
}
