//! Opens the store a `--store` flag names, or sets up the signed-cookie
//! engine.

use std::sync::Arc;

use session_core::{
    CachedStore, MemoryStore, SecretKey, SessionManager, SessionStore, SignedCookies,
};
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
        StoreChoice::Cookie { .. } => Err(
            "signed-cookie sessions keep no server-side records: there is no store to open, \
             and nothing for clear-expired to remove (expired cookies are refused on arrival)"
                .to_owned(),
        ),
    }
}

/// The environment variable holding the signed-cookie keys: hex, 128 digits
/// (64 bytes) each, separated by commas, newest first.
pub const SECRET_KEY_VAR: &str = "SESSION_SECRET_KEY";

/// The session manager for `choice`: over its store, or the signed-cookie
/// engine with the keys of [`SECRET_KEY_VAR`] (a generated one, printed
/// with a warning, when it is unset).
pub async fn manager(choice: &StoreChoice) -> Result<SessionManager, String> {
    let StoreChoice::Cookie { encrypt } = choice else {
        return Ok(SessionManager::new(open(choice).await?));
    };
    let keys = match std::env::var(SECRET_KEY_VAR) {
        Ok(text) => parse_keys(&text)?,
        Err(std::env::VarError::NotPresent) => {
            let key = SecretKey::generate();
            eprintln!(
                "session-demo: warning: {SECRET_KEY_VAR} is not set, so this run signs cookies \
                 with a key generated now: sessions will not survive a restart. To keep them, \
                 start with\n    {SECRET_KEY_VAR}={}",
                to_hex(key.bytes())
            );
            vec![key]
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(format!("{SECRET_KEY_VAR} is not text: give hex digits"));
        }
    };
    let mut keys = keys.into_iter();
    let first = keys
        .next()
        .ok_or_else(|| format!("{SECRET_KEY_VAR} holds no key"))?;
    Ok(SessionManager::signed_cookies(
        SignedCookies::new(first)
            .with_previous_keys(keys)
            .with_encryption(*encrypt),
    ))
}

/// The keys in `text`: comma-separated hex, 128 digits (64 bytes) or more
/// each, newest first. Errors name the key by position, never its digits.
pub fn parse_keys(text: &str) -> Result<Vec<SecretKey>, String> {
    text.split(',')
        .map(str::trim)
        .enumerate()
        .map(|(i, hex)| {
            let n = i + 1;
            let bytes = from_hex(hex).ok_or_else(|| {
                format!(
                    "{SECRET_KEY_VAR}: key {n} is not hex (give 128 hex digits, e.g. the output \
                     of `openssl rand -hex 64`)"
                )
            })?;
            SecretKey::from_bytes(&bytes).map_err(|e| format!("{SECRET_KEY_VAR}: key {n}: {e}"))
        })
        .collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(digits, 16).ok()
        })
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
        StoreChoice::Cookie { encrypt: false } => "signed cookies (HMAC-SHA256)".to_owned(),
        StoreChoice::Cookie { encrypt: true } => "encrypted cookies (AES-256-GCM)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_comma_separated_newest_first() {
        let one = "ab".repeat(64);
        let two = "CD".repeat(70);
        let keys = parse_keys(&format!("{one}, {two}")).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].bytes(), [0xab; 64]);
        assert_eq!(keys[1].bytes(), [0xcd; 64]);
        assert_eq!(to_hex(keys[0].bytes()), one);
    }

    #[test]
    fn bad_keys_say_what_to_give_without_echoing_them() {
        for (text, hint) in [
            ("zz".repeat(64), "not hex"),
            ("abc".to_owned(), "not hex"),
            ("ab".repeat(32), "at least 64 bytes"),
            (format!("{},", "ab".repeat(64)), "key 2 is not hex"),
        ] {
            let error = parse_keys(&text).err().unwrap();
            assert!(error.contains(hint), "{text}: {error}");
            assert!(!error.contains("abab"), "{error}");
        }
    }
}
