//! Session IDs hashed at rest: a store wrapper so that a leaked table, Redis
//! dump, backup or session directory holds no cookie anyone can use.
//!
//! # What it protects, and what not
//!
//! A session ID is a bearer credential: whoever has it is logged in as its
//! owner. A store normally keys each record by that ID, so a copy of the
//! store's contents (an SQL dump, an `RDB` file, a backup, a directory
//! listing, a read-only SQL injection) is a list of live cookies.
//! [`HashedIds`] keys each record by a one-way hash of the ID instead: the
//! store holds the hash, the visitor's browser holds the ID, and a hash
//! cannot be turned back into a cookie.
//!
//! - **Protected:** anyone who only *reads* the store's contents cannot
//!   take over a session with what they read.
//! - **Also protected with [`HashedIds::keyed`]**, if the key is kept
//!   outside the store (an environment variable, a secrets manager): an
//!   attacker with the dump cannot even check whether a given cookie value
//!   has a session, offline, without the key. The plain SHA-256 form
//!   ([`HashedIds::new`]) already makes guessing hopeless (an ID carries
//!   about 165 random bits), so the key is defence in depth.
//! - **Not protected:** an attacker who can *write* to the store (plant a
//!   record under the hash of an ID they chose, or edit a victim's data),
//!   or who runs code in the application (and so sees cookies as they
//!   arrive). The session *data* is not encrypted either: a dump still
//!   shows what sessions hold.
//!
//! # Switching it on or off logs everyone out
//!
//! The store finds a record by the hash, so records written before the
//! wrapper was added (keyed by the raw ID) are not found through it, and
//! records written through it are not found without it. Turning it on, off,
//! or changing between the plain and the keyed form orphans every existing
//! session: every visitor is logged out once, and the orphaned records
//! expire on their own (or are removed by
//! [`clear_expired`](crate::SessionStore::clear_expired)). **Rotating the
//! key has the same effect**; there is no key list to try, because that
//! would multiply every lookup. Plan a key change like a forced logout.
//!
//! # The mapping
//!
//! The stored ID is a function of the client's ID only (deterministic, so
//! every request finds its record) and is itself a valid [`SessionId`], so
//! every store accepts it unchanged:
//!
//! 1. `digest` = SHA-256 of the 32 ASCII bytes of the ID, or HMAC-SHA256
//!    of them under the key;
//! 2. read `digest` as a 256-bit big-endian unsigned integer `n`;
//! 3. write `n mod 36^32` in base 36 with the digits `0-9a-z`, zero-padded
//!    to 32 characters, most significant digit first.
//!
//! That keeps log2(36^32) ≈ 165 bits of the digest, as many as the ID
//! itself has. In Python: `n = int.from_bytes(hashlib.sha256(id).digest(),
//! "big") % 36**32`, then its 32 base-36 digits.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use session_core::{HashedIds, MemoryStore, SessionManager};
//!
//! // The key comes from outside the store, for example an environment
//! // variable holding at least 32 random bytes.
//! let key = b"0123456789abcdef0123456789abcdef";
//! let store = HashedIds::keyed(MemoryStore::new(), key)?;
//! let sessions = SessionManager::new(store);
//!
//! let session = sessions.load(Vec::<&str>::new());
//! session.insert("visits", 1).await?;
//! let outcome = sessions.finish(&session, 200).await?;
//! assert!(outcome.set_cookie.is_some());
//! # Ok(()) }
//! ```

use std::fmt;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::id::ID_LEN;
use crate::{Capabilities, Error, Record, SessionId, SessionStore};

/// The shortest key [`HashedIds::keyed`] accepts, in bytes: 256 bits, the
/// size of the HMAC-SHA256 output.
pub const MIN_KEY_LEN: usize = 32;

/// A [`SessionStore`] wrapper that hands the inner store a hash of every
/// session ID instead of the ID (see the [module docs](self) for what this
/// protects and what it costs).
///
/// Every method passes through, with the ID replaced by its hash; `load`
/// gives the record back with the caller's ID. Errors, expiry, versions and
/// [`Capabilities`] are the inner store's.
///
/// `Debug` shows the inner store and which hash is used, never the key.
///
/// ```
/// use session_core::{HashedIds, MemoryStore, SessionId, SessionStore};
///
/// let store = HashedIds::new(MemoryStore::new());
/// let id: SessionId = "abcdefghijklmnopqrstuvwxyz012345".parse()?;
/// let stored = store.stored_id(&id)?;
/// assert_ne!(stored, id);
/// assert_eq!(stored, store.stored_id(&id)?, "deterministic");
/// assert_eq!(stored.as_str().len(), 32);
/// assert!(format!("{store:?}").contains("SHA-256"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct HashedIds<S> {
    inner: S,
    /// The HMAC state right after the key was absorbed; `None` for plain
    /// SHA-256. Cloned per ID, so the key is processed once.
    mac: Option<Hmac<Sha256>>,
}

/// The error of [`HashedIds::keyed`]: the key is shorter than
/// [`MIN_KEY_LEN`]. It does not echo the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the session ID hashing key is {len} bytes long; use at least 32 random bytes \
     (for example the 64 hex digits `openssl rand -hex 32` prints)"
)]
pub struct WeakKey {
    /// The length of the key that was refused.
    pub len: usize,
}

impl<S: SessionStore> HashedIds<S> {
    /// Wraps `store`, keying its records by the plain SHA-256 of each ID.
    ///
    /// Use [`HashedIds::keyed`] when a key can be kept outside the store.
    pub fn new(store: S) -> Self {
        HashedIds {
            inner: store,
            mac: None,
        }
    }

    /// Wraps `store`, keying its records by the HMAC-SHA256 of each ID
    /// under `key`. Keep the key outside the store (where a dump of the
    /// store does not reach it); changing it logs everyone out (see the
    /// [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`WeakKey`] if `key` is shorter than [`MIN_KEY_LEN`] (32) bytes.
    pub fn keyed(store: S, key: impl AsRef<[u8]>) -> Result<Self, WeakKey> {
        let key = key.as_ref();
        if key.len() < MIN_KEY_LEN {
            return Err(WeakKey { len: key.len() });
        }
        // HMAC accepts keys of any length, so this never fails; map it
        // rather than unwrap, to keep the library free of panics.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .map_err(|_| WeakKey { len: key.len() })?;
        Ok(HashedIds {
            inner: store,
            mac: Some(mac),
        })
    }

    /// The inner store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The inner store, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The ID the inner store keeps for `id`, for finding the record of a
    /// known cookie by hand (in a table, a key listing or a directory).
    ///
    /// # Errors
    ///
    /// None in practice: the mapping always yields a well-formed ID. An
    /// error here would be [`Error::Backend`], never a panic.
    pub fn stored_id(&self, id: &SessionId) -> Result<SessionId, Error> {
        let digest: [u8; 32] = match &self.mac {
            Some(mac) => {
                let mut mac = mac.clone();
                mac.update(id.as_str().as_bytes());
                mac.finalize().into_bytes().into()
            }
            None => Sha256::digest(id.as_str().as_bytes()).into(),
        };
        base36(digest).parse().map_err(Error::backend)
    }

    fn stored_record(&self, record: &Record) -> Result<Record, Error> {
        Ok(Record {
            id: self.stored_id(&record.id)?,
            data: record.data.clone(),
            expires_at: record.expires_at,
            version: record.version,
        })
    }
}

/// `digest` read as a big-endian integer, modulo 36^32, as 32 base-36
/// digits (`0-9a-z`), most significant first.
fn base36(mut digest: [u8; 32]) -> String {
    let mut digits = Vec::with_capacity(ID_LEN);
    for _ in 0..ID_LEN {
        // One step of schoolbook long division of the 256-bit number by
        // 36: the quotient replaces it, the remainder is the next digit.
        let mut remainder: u32 = 0;
        for byte in &mut digest {
            let current = (remainder << 8) | u32::from(*byte);
            *byte = u8::try_from(current / 36).unwrap_or(u8::MAX);
            remainder = current % 36;
        }
        digits.push(char::from_digit(remainder, 36).unwrap_or('0'));
    }
    digits.iter().rev().collect()
}

impl<S> fmt::Debug for HashedIds<S>
where
    S: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedIds")
            .field("inner", &self.inner)
            .field(
                "hash",
                &if self.mac.is_some() {
                    "HMAC-SHA256 (key redacted)"
                } else {
                    "SHA-256"
                },
            )
            .finish()
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for HashedIds<S> {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        self.inner.create(&self.stored_record(record)?).await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let loaded = self.inner.load(&self.stored_id(id)?).await?;
        Ok(loaded.map(|record| Record {
            id: id.clone(),
            ..record
        }))
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        self.inner.save(&self.stored_record(record)?).await
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.inner.delete(&self.stored_id(id)?).await
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        self.inner.touch(&self.stored_id(id)?, expires_at).await
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        self.inner.clear_expired().await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{MemoryStore, SessionData};
    use time::macros::datetime;

    const ID: &str = "abcdefghijklmnopqrstuvwxyz012345";
    const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
    const OTHER_KEY: &[u8; 32] = b"fedcba9876543210fedcba9876543210";

    fn id() -> SessionId {
        ID.parse().unwrap()
    }

    fn record(id: SessionId) -> Record {
        let mut data = SessionData::new();
        data.insert("cart".into(), serde_json::json!(["apple"]));
        Record::new(id, data, datetime!(2999-01-01 0:00 UTC)).with_version(2)
    }

    /// Passes every call to a `MemoryStore` and records every ID it was
    /// given.
    #[derive(Debug, Clone, Default)]
    struct Recording {
        inner: MemoryStore,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Recording {
        fn saw(&self, id: &SessionId) {
            self.seen.lock().unwrap().push(id.as_str().to_owned());
        }
    }

    #[async_trait]
    impl SessionStore for Recording {
        async fn create(&self, record: &Record) -> Result<(), Error> {
            self.saw(&record.id);
            self.inner.create(record).await
        }
        async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
            self.saw(id);
            self.inner.load(id).await
        }
        async fn save(&self, record: &Record) -> Result<(), Error> {
            self.saw(&record.id);
            self.inner.save(record).await
        }
        async fn delete(&self, id: &SessionId) -> Result<(), Error> {
            self.saw(id);
            self.inner.delete(id).await
        }
        async fn touch(&self, id: &SessionId, at: OffsetDateTime) -> Result<(), Error> {
            self.saw(id);
            self.inner.touch(id, at).await
        }
        async fn clear_expired(&self) -> Result<u64, Error> {
            self.inner.clear_expired().await
        }
        fn capabilities(&self) -> Capabilities {
            self.inner.capabilities()
        }
    }

    #[tokio::test]
    async fn the_inner_store_never_sees_the_callers_id() {
        for store in [
            HashedIds::new(Recording::default()),
            HashedIds::keyed(Recording::default(), KEY).unwrap(),
        ] {
            let rec = record(id());
            store.create(&rec).await.unwrap();
            let loaded = store.load(&id()).await.unwrap().unwrap();
            store.save(&loaded).await.unwrap();
            store
                .touch(&id(), datetime!(2998-01-01 0:00 UTC))
                .await
                .unwrap();
            store.delete(&id()).await.unwrap();

            let seen = store.inner().seen.lock().unwrap().clone();
            assert_eq!(seen.len(), 5, "every call reached the inner store");
            let stored = store.stored_id(&id()).unwrap();
            for inner_id in &seen {
                assert_ne!(inner_id, ID, "{store:?} passed the raw ID on: {seen:?}");
                assert_eq!(inner_id, stored.as_str(), "{store:?}: {seen:?}");
            }
        }
    }

    #[tokio::test]
    async fn the_record_sits_under_the_hash_and_loads_back_under_the_id() {
        let memory = MemoryStore::new();
        let store = HashedIds::keyed(memory.clone(), KEY).unwrap();
        let rec = record(id());
        store.create(&rec).await.unwrap();

        assert_eq!(
            memory.load(&id()).await.unwrap(),
            None,
            "the inner store holds a record under the raw ID"
        );
        let stored = store.stored_id(&id()).unwrap();
        let inner = memory.load(&stored).await.unwrap().unwrap();
        assert_eq!(inner.id, stored);
        assert_eq!(inner.data, rec.data);

        let loaded = store.load(&id()).await.unwrap().unwrap();
        assert_eq!(loaded, rec, "load gives the caller's ID back");
        assert_eq!(loaded.id, id());
    }

    #[test]
    fn plain_keyed_and_different_keys_give_different_stored_ids() {
        let plain = HashedIds::new(MemoryStore::new()).stored_id(&id()).unwrap();
        let keyed = HashedIds::keyed(MemoryStore::new(), KEY)
            .unwrap()
            .stored_id(&id())
            .unwrap();
        let other = HashedIds::keyed(MemoryStore::new(), OTHER_KEY)
            .unwrap()
            .stored_id(&id())
            .unwrap();
        assert_ne!(plain, keyed);
        assert_ne!(keyed, other);
        assert_ne!(plain, other);
        for stored in [&plain, &keyed, &other] {
            assert!(SessionId::is_valid(stored.as_str()), "{stored}");
        }
    }

    /// Reference values from the documented mapping, computed independently
    /// (Python's hashlib and hmac, `int % 36**32`, base 36), so the mapping
    /// cannot drift without this test noticing: a drift would log every
    /// user out.
    #[test]
    fn the_mapping_matches_its_documentation() {
        let plain = HashedIds::new(MemoryStore::new()).stored_id(&id()).unwrap();
        let keyed = HashedIds::keyed(MemoryStore::new(), KEY)
            .unwrap()
            .stored_id(&id())
            .unwrap();
        assert_eq!(plain.as_str(), PLAIN_VECTOR);
        assert_eq!(keyed.as_str(), KEYED_VECTOR);
    }

    const PLAIN_VECTOR: &str = "c3owwqf6cz9lnst4o7j3omr2ux6wug90";
    const KEYED_VECTOR: &str = "o4c9bxp4p9m2fpvylcawz389o2oaa1zj";

    #[test]
    fn base36_pads_and_reduces() {
        assert_eq!(base36([0; 32]), "0".repeat(32));
        let mut one = [0; 32];
        one[31] = 35;
        assert_eq!(base36(one), format!("{}z", "0".repeat(31)));
        let all = base36([0xff; 32]);
        assert_eq!(all.len(), 32);
        assert!(SessionId::is_valid(&all), "{all}");
    }

    #[test]
    fn distinct_ids_get_distinct_stored_ids() {
        let store = HashedIds::new(MemoryStore::new());
        let stored: std::collections::HashSet<_> = (0..1000)
            .map(|_| store.stored_id(&SessionId::generate()).unwrap())
            .collect();
        assert_eq!(stored.len(), 1000);
    }

    #[test]
    fn short_keys_are_refused_without_echoing_them() {
        let error = HashedIds::keyed(MemoryStore::new(), b"hunter2").unwrap_err();
        assert_eq!(error, WeakKey { len: 7 });
        let message = error.to_string();
        assert!(message.contains("at least 32 random bytes"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(HashedIds::keyed(MemoryStore::new(), [7u8; MIN_KEY_LEN]).is_ok());
    }

    #[test]
    fn debug_never_prints_the_key() {
        let store = HashedIds::keyed(MemoryStore::new(), KEY).unwrap();
        let debug = format!("{store:?}");
        let key_text = std::str::from_utf8(KEY).unwrap();
        assert!(!debug.contains(key_text), "{debug}");
        assert!(!debug.contains(&format!("{:?}", KEY.as_slice())), "{debug}");
        assert!(debug.contains("HMAC-SHA256 (key redacted)"), "{debug}");
    }

    #[test]
    fn capabilities_are_the_inner_stores() {
        #[derive(Debug)]
        struct Plain;
        #[async_trait]
        impl SessionStore for Plain {
            async fn create(&self, _: &Record) -> Result<(), Error> {
                Ok(())
            }
            async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
                Ok(None)
            }
            async fn save(&self, _: &Record) -> Result<(), Error> {
                Ok(())
            }
            async fn delete(&self, _: &SessionId) -> Result<(), Error> {
                Ok(())
            }
        }
        assert_eq!(HashedIds::new(Plain).capabilities(), Capabilities::NONE);
        assert_eq!(
            HashedIds::new(MemoryStore::new()).capabilities(),
            MemoryStore::new().capabilities()
        );
    }

    const fn assert_send_sync<T: Send + Sync>() {}
    const _: () = assert_send_sync::<HashedIds<MemoryStore>>();
}
