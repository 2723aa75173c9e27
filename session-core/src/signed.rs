//! Signed-cookie sessions (Django's `signed_cookies` engine): the session
//! data lives in the cookie itself, signed so the client cannot change it,
//! or encrypted so it cannot read it either.
//!
//! # How it fits
//!
//! This is an *engine* beside [`SessionStore`], not a store: a
//! [`SessionManager`] made with
//! [`SessionManager::signed_cookies`](crate::SessionManager::signed_cookies)
//! keeps no server-side record. Adapters do not change: the same `load`,
//! the same `finish`, the same [`Outcome`]. `finish` makes
//! the same [plan](crate::SessionManager::finish) as for a store (Django's
//! middleware rules, 5xx, `Vary`, expiry) and carries it out differently:
//!
//! | the plan says | a store engine | this engine |
//! |---|---|---|
//! | create, save, touch | writes the record, sends the ID | seals the current data with a fresh expiry and sends it as the cookie value |
//! | flush, logout, an expiry in the past | deletes the record, removes the cookie | removes the cookie (nothing to delete) |
//! | rotate (`cycle_id`, `login`) | new record, old one deleted | a new nominal ID in the payload, so the cookie value changes |
//! | concurrent writes | versioned merge | none: the browser keeps the last response's cookie |
//!
//! [`SessionManager::store`](crate::SessionManager::store) is then a store
//! that holds no record: `load` finds nothing, `delete` and
//! `clear_expired` do nothing, and every write answers
//! [`Error::Unsupported`].
//!
//! # The cookie
//!
//! The payload is JSON: a nominal random [`SessionId`] (what
//! [`Session::id`](crate::Session::id) reports; rotated by `cycle_id` and
//! `login`), the issue time, the expiry, and the data. The expiry follows
//! the same rules as a store's record: a custom
//! [`set_expiry`](crate::Session::set_expiry), else `cookie_age`; a
//! browser-close session still carries `cookie_age` as its server-side
//! limit (as Django signs with `max_age=SESSION_COOKIE_AGE`).
//!
//! - **Signed** (the default): base64url of the JSON, prefixed with its
//!   HMAC-SHA256 (the `cookie` crate's signed jar).
//! - **Encrypted** ([`SignedCookies::with_encryption`]): the JSON sealed
//!   with AES-256-GCM, the cookie name as associated data (the `cookie`
//!   crate's private jar), base64.
//!
//! It is sealed with the first key of [`SignedCookies`] and accepted under
//! any key listed, so keys rotate without logging everybody out: put the
//! new key first, keep the old one listed for one `cookie_age`, then drop
//! it. Switching between signed and encrypted ends every session.
//!
//! On `load`, a cookie whose signature or tag does not verify under any
//! listed key (tampered, truncated, forged, sealed with a dropped key),
//! that does not decode, or whose expiry has passed (an old cookie
//! replayed past its age) gives an empty session, never an error page,
//! and a warning on [`SUSPICIOUS_SESSION_TARGET`] (once per cookie; it
//! carries a keyed fingerprint, never the value). An expired cookie is
//! ordinary (a browser kept it) and only logged at `debug`.
//!
//! The keys given are never used as they are: the engine seals with
//! HMAC-SHA512(key, a context string of its own), as Django salts its
//! signed-cookie sessions, so a value the application signed for another
//! purpose under the same key can never pass as a session.
//!
//! # Costs and limits
//!
//! Read these before choosing this engine; they are Django's too.
//!
//! - **A logout cannot revoke a copied cookie.** Flush and logout remove
//!   the cookie from *this* browser; anyone who copied it earlier (a
//!   stolen cookie, a shared machine, a backup) can replay it until its
//!   expiry, and will be logged in. The same holds after `cycle_id` and
//!   `login`: the old value stays valid until it expires. Keep `cookie_age`
//!   short, and prefer a store when sessions carry logins that must end.
//!   (Django's verify-the-auth-hash defence still works:
//!   [`Session::verify_auth_hash`](crate::Session::verify_auth_hash)
//!   refuses a replayed session after a password change.)
//! - **The client can read the data unless it is encrypted.** Signing
//!   stops changes, not reading: never put secrets in a signed session, or
//!   turn on [`SignedCookies::with_encryption`].
//! - **The cookie travels with every request.** A browser keeps at most
//!   4096 bytes per cookie; a session whose `Set-Cookie` would exceed that
//!   fails the request with [`Error::TooLarge`] (413) before the response,
//!   never a truncated cookie, and the browser's cookie stays as it was.
//!   Every byte also costs bandwidth on every request.
//! - **A leaked key forges sessions.** Whoever holds a listed key can make
//!   any session, any user's login included. Keep keys out of the source
//!   and the logs (their `Debug` prints nothing), rotate them when in
//!   doubt.
//! - **Concurrent requests:** each response carries the whole session; the
//!   browser keeps the last one it receives, so of two parallel writes one
//!   is lost (a store with versioned saves merges them).
//! - **Replays within the lifetime** see the data as it was when that
//!   cookie was issued (a cart emptied since comes back).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use session_core::{SecretKey, SessionManager, SignedCookies};
//!
//! // In production, read the key from a secret (64 random bytes or more).
//! let key = SecretKey::from_bytes(&[7u8; 64])?;
//! let sessions = SessionManager::signed_cookies(SignedCookies::new(key).with_encryption(true));
//!
//! let session = sessions.load(Vec::<&str>::new());
//! session.insert("theme", "dark").await?;
//! let set_cookie = sessions.finish(&session, 200).await?.set_cookie.unwrap();
//! assert!(!set_cookie.contains("dark")); // encrypted
//!
//! let pair = set_cookie.split(';').next().unwrap_or_default();
//! let session = sessions.load([pair]);
//! assert_eq!(session.get::<String>("theme").await?.as_deref(), Some("dark"));
//!
//! // One byte changed: an empty session, not an error.
//! let tampered = pair.replacen('A', "B", 1).replacen('a', "b", 1);
//! let session = sessions.load([tampered.as_str()]);
//! assert!(session.is_empty().await?);
//! # Ok(()) }
//! ```
//!
//! [`SessionManager`]: crate::SessionManager
//! [`SUSPICIOUS_SESSION_TARGET`]: crate::SUSPICIOUS_SESSION_TARGET

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, CookieJar, Key};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha512;
use time::OffsetDateTime;

use crate::cookie::{Incoming, MAX_COOKIE_BYTES};
use crate::lifecycle::plan::{self, Action, Plan, Write};
use crate::lifecycle::{check_size, renewal_failed};
use crate::session::Shared;
use crate::state::State;
use crate::{
    Error, Outcome, Record, SUSPICIOUS_SESSION_TARGET, SessionData, SessionId, SessionStore,
};

/// How many bytes of key material [`SecretKey::from_bytes`] needs: 32 for
/// HMAC-SHA256 and 32 for AES-256-GCM.
pub const SECRET_KEY_LEN: usize = 64;

/// A key that signs or encrypts session cookies: 64 bytes of key
/// material (the first half signs, the second encrypts).
///
/// `Debug` prints nothing of the key.
///
/// ```
/// use session_core::SecretKey;
///
/// assert!(SecretKey::from_bytes(&[1u8; 63]).is_err());
/// let key = SecretKey::generate();
/// assert_eq!(format!("{key:?}"), "SecretKey(..)");
/// ```
#[derive(Clone)]
pub struct SecretKey {
    /// What the caller gave: [`SecretKey::bytes`] hands it back.
    master: Key,
    /// What the engine signs and encrypts with (see [`KEY_CONTEXT`]).
    engine: Key,
}

/// Domain separation, as Django salts its signed-cookie sessions: the
/// engine never seals with the key it was given, but with
/// HMAC-SHA512(key, this context). A value the application signed for
/// another purpose under the same key (axum-extra's `SignedCookieJar`,
/// actix-web's signed cookies, whose MAC covers the value only) therefore
/// never verifies as a session.
const KEY_CONTEXT: &[u8] = b"session-core/signed-cookie-sessions/v1";

impl SecretKey {
    fn from_master(master: Key) -> Result<Self, SecretKeyError> {
        let error = SecretKeyError {
            len: master.master().len(),
        };
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(master.master())
            .map_err(|_| error.clone())?;
        mac.update(KEY_CONTEXT);
        let engine = Key::try_from(mac.finalize().into_bytes().as_slice()).map_err(|_| error)?;
        Ok(SecretKey { master, engine })
    }

    /// A key from `bytes`: at least [`SECRET_KEY_LEN`] bytes from a
    /// cryptographically secure source; only the first 64 are used.
    ///
    /// # Errors
    ///
    /// [`SecretKeyError`] when `bytes` is shorter than 64 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretKeyError> {
        let master = Key::try_from(bytes).map_err(|_| SecretKeyError { len: bytes.len() })?;
        Self::from_master(master)
    }

    /// A fresh random key from the operating system's CSPRNG. Sessions
    /// sealed with it die with the process unless you keep its
    /// [`bytes`](SecretKey::bytes).
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide randomness.
    pub fn generate() -> Self {
        let master = Key::generate();
        // HMAC takes a key of any length and SHA-512 gives the 64 bytes a
        // `Key` needs, so the derivation cannot fail.
        #[allow(clippy::expect_used)]
        Self::from_master(master).expect("HMAC-SHA512 gives 64 bytes")
    }

    /// The 64 bytes of key material, to store a generated key. Treat them
    /// as a password: never log them.
    pub fn bytes(&self) -> &[u8] {
        self.master.master()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// The error of [`SecretKey::from_bytes`]: the key material is too short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a session secret key needs at least 64 bytes of random data, got {len}; generate one \
     (e.g. `openssl rand -hex 64`, or SecretKey::generate) and keep it secret"
)]
pub struct SecretKeyError {
    /// How many bytes were given.
    pub len: usize,
}

/// The settings of the signed-cookie engine: the keys, and whether the
/// payload is encrypted. Give it to
/// [`SessionManager::signed_cookies`](crate::SessionManager::signed_cookies).
///
/// | setting | default |
/// |---|---|
/// | keys | the one given to [`new`](SignedCookies::new); seals, and is accepted |
/// | previous keys | none ([`with_previous_keys`](SignedCookies::with_previous_keys)) |
/// | encryption | off: signed with HMAC-SHA256, readable by the client |
///
/// `Debug` shows how many keys there are, never the keys.
#[derive(Clone)]
pub struct SignedCookies {
    /// Never empty: the first seals, every one is accepted.
    keys: Vec<SecretKey>,
    encrypt: bool,
}

impl SignedCookies {
    /// Signed (not encrypted) cookies sealed with `key`.
    pub fn new(key: SecretKey) -> Self {
        SignedCookies {
            keys: vec![key],
            encrypt: false,
        }
    }

    /// The same settings also accepting cookies sealed with `keys` (key
    /// rotation): new cookies are sealed with the first key only. Drop an
    /// old key once `cookie_age` has passed since it stopped sealing; a
    /// cookie sealed with a key no longer listed gives an empty session.
    #[must_use]
    pub fn with_previous_keys(mut self, keys: impl IntoIterator<Item = SecretKey>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Whether the payload is encrypted (AES-256-GCM), so the client can
    /// neither read nor change it, or only signed (HMAC-SHA256), so the
    /// client can read it but not change it. Default: `false`.
    ///
    /// # Warning
    ///
    /// Without encryption the data is readable by anyone who sees the
    /// cookie (the visitor, a browser extension, a proxy log).
    #[must_use]
    pub fn with_encryption(mut self, yes: bool) -> Self {
        self.encrypt = yes;
        self
    }

    /// See [`SignedCookies::with_encryption`].
    pub fn encrypted(&self) -> bool {
        self.encrypt
    }

    /// How many keys are accepted (the sealing one included).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The cookie value carrying `payload`, sealed with the first key.
    fn seal(&self, name: &str, payload: Vec<u8>) -> Result<String, Error> {
        let key = &self.first_key().engine;
        let mut jar = CookieJar::new();
        if self.encrypt {
            let plain = String::from_utf8(payload).map_err(Error::backend)?;
            jar.private_mut(key)
                .add(Cookie::new(name.to_owned(), plain));
        } else {
            let encoded = URL_SAFE_NO_PAD.encode(payload);
            jar.signed_mut(key)
                .add(Cookie::new(name.to_owned(), encoded));
        }
        jar.get(name)
            .map(|cookie| cookie.value().to_owned())
            .ok_or_else(|| Error::backend("the cookie jar lost the sealed session cookie"))
    }

    fn first_key(&self) -> &SecretKey {
        // `keys` is never empty: `new` puts one in, nothing takes one out.
        #[allow(clippy::indexing_slicing)]
        &self.keys[0]
    }

    /// The payload of `value` if some listed key verifies it.
    fn unseal(&self, name: &str, value: &str) -> Result<Vec<u8>, Rejection> {
        let jar = CookieJar::new();
        for key in self.keys.iter().map(|k| &k.engine) {
            let cookie = Cookie::new(name.to_owned(), value.to_owned());
            if self.encrypt {
                if let Some(plain) = jar.private(key).decrypt(cookie) {
                    return Ok(plain.value().as_bytes().to_vec());
                }
            } else if let Some(verified) = jar.signed(key).verify(cookie) {
                return URL_SAFE_NO_PAD
                    .decode(verified.value())
                    .map_err(|_| Rejection::Undecodable);
            }
        }
        Err(Rejection::Unverified)
    }

    /// The session the cookie `value` carries, if it verifies, decodes and
    /// has not expired at `now`.
    fn read(&self, name: &str, value: &str, now: OffsetDateTime) -> Result<Record, Rejection> {
        let bytes = self.unseal(name, value)?;
        let payload: Payload =
            serde_json::from_slice(&bytes).map_err(|_| Rejection::Undecodable)?;
        let id: SessionId = payload.id.parse().map_err(|_| Rejection::Undecodable)?;
        let expires_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(payload.exp) * 1_000_000)
                .map_err(|_| Rejection::Undecodable)?;
        if expires_at <= now {
            return Err(Rejection::Expired);
        }
        Ok(Record::new(id, payload.data, expires_at))
    }

    /// The session the request's cookie carries: the first kept value
    /// that verifies, or none. A rejected cookie is reported once, on
    /// [`SUSPICIOUS_SESSION_TARGET`], by a keyed fingerprint.
    pub(crate) fn open(
        &self,
        shared: &Shared,
        incoming: &Incoming,
        now: OffsetDateTime,
    ) -> Option<Record> {
        let name = shared.config.cookie_name();
        let mut rejected = None;
        for value in &incoming.values {
            match self.read(name, value, now) {
                Ok(record) => return Some(record),
                Err(why) => {
                    rejected.get_or_insert((value, why));
                }
            }
        }
        if let Some((value, why)) = rejected {
            if matches!(why, Rejection::Expired) {
                // A browser kept an old cookie: ordinary, not an attack.
                tracing::debug!("a signed session cookie past its expiry was refused");
                return None;
            }
            let (cookie, first) = shared.first_suspicious(value);
            if first {
                tracing::warn!(
                    target: SUSPICIOUS_SESSION_TARGET,
                    cookie = format_args!("{cookie:016x}"),
                    reason = why.as_str(),
                    "a signed session cookie was refused; the visitor gets an empty session \
                     (reported once per cookie)"
                );
            }
        }
        None
    }

    /// Carries out `plan` for this engine: every write seals the data into
    /// the cookie; deletes have nothing to delete.
    pub(crate) fn execute(
        &self,
        shared: &Shared,
        state: &mut State,
        plan: Plan,
        now: OffsetDateTime,
    ) -> Result<Outcome, Error> {
        let config = &shared.config;
        let mut outcome = Outcome {
            set_cookie: None,
            vary_cookie: plan.vary,
        };
        // There is no server record, so no delete can have failed.
        state.deletes_done();
        match plan.action {
            Action::Nothing => {}
            Action::RemoveCookie => outcome.set_cookie = Some(shared.cookies.removal()),
            Action::End { remove_cookie, .. } => {
                state.ended();
                if remove_cookie {
                    outcome.set_cookie = Some(shared.cookies.removal());
                }
            }
            Action::Write {
                write,
                expires_at,
                custom,
                renewal,
                stamp_created,
            } => {
                if stamp_created {
                    state.stamp_created(now);
                }
                let max_age = plan::cookie_max_age(config, custom, state.created_at(), now);
                match self.write(shared, state, write, expires_at, max_age, now) {
                    Ok(cookie) => outcome.set_cookie = Some(cookie),
                    Err(error) if renewal => renewal_failed(&error),
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(outcome)
    }

    /// Seals the current data; returns the whole `Set-Cookie` value.
    fn write(
        &self,
        shared: &Shared,
        state: &mut State,
        write: Write,
        expires_at: OffsetDateTime,
        max_age: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<String, Error> {
        let config = &shared.config;
        check_size(config, state)?;
        let id = match &write {
            Write::Create { id, .. } => id.clone().map_or_else(SessionId::try_generate, Ok)?,
            Write::Save { id } | Write::Touch { id } => id.clone(),
        };
        let payload = serde_json::to_vec(&PayloadRef {
            id: id.as_str(),
            iat: crate::record::unix_ms(now),
            exp: crate::record::unix_ms(expires_at),
            data: state.data(),
        })?;
        let value = self.seal(config.cookie_name(), payload)?;
        let cookie = shared.cookies.value(&value, max_age, now);
        if cookie.len() > MAX_COOKIE_BYTES {
            return Err(Error::TooLarge {
                size: cookie.len(),
                limit: MAX_COOKIE_BYTES,
            });
        }
        match write {
            Write::Create { rotate_from, .. } => {
                state.created(id);
                if rotate_from.is_some() {
                    // Nothing to delete: the old cookie is simply replaced.
                    state.rotation_done();
                }
            }
            Write::Save { .. } => state.saved(),
            Write::Touch { .. } => state.touched(),
        }
        Ok(cookie)
    }
}

impl fmt::Debug for SignedCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedCookies")
            .field("keys", &self.keys.len())
            .field("encrypt", &self.encrypt)
            .finish()
    }
}

/// Why a cookie was refused (logged, never shown to the client).
#[derive(Debug, Clone, Copy)]
enum Rejection {
    Unverified,
    Undecodable,
    Expired,
}

impl Rejection {
    fn as_str(self) -> &'static str {
        match self {
            Rejection::Unverified => {
                "its signature or tag does not verify under any listed key (tampered, \
                 truncated, forged, or sealed with a key no longer listed)"
            }
            Rejection::Undecodable => "it verifies but its payload does not decode",
            Rejection::Expired => "its expiry has passed (an old cookie replayed)",
        }
    }
}

#[derive(Serialize)]
struct PayloadRef<'a> {
    id: &'a str,
    /// Issued at, in Unix milliseconds.
    iat: i64,
    /// Expires at, in Unix milliseconds.
    exp: i64,
    data: &'a SessionData,
}

#[derive(Deserialize)]
struct Payload {
    id: String,
    #[allow(dead_code)] // carried for audits and future checks
    iat: i64,
    exp: i64,
    data: SessionData,
}

/// Where a manager's sessions live.
#[derive(Clone)]
pub(crate) enum Engine {
    /// Server-side records in a [`SessionStore`].
    Store(Arc<dyn SessionStore>),
    /// The whole session in a signed (or encrypted) cookie.
    Cookie(Arc<SignedCookies>),
}

impl Engine {
    /// The store behind the engine; [`NoRecords`] for the cookie engine.
    pub(crate) fn store(&self) -> &dyn SessionStore {
        match self {
            Engine::Store(store) => &**store,
            Engine::Cookie(_) => &NoRecords,
        }
    }

    /// Whether the request's cookie may name a session to load.
    pub(crate) fn names_session(&self, incoming: &Incoming) -> bool {
        match self {
            Engine::Store(_) => incoming.id.is_some(),
            Engine::Cookie(_) => !incoming.values.is_empty(),
        }
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Store(store) => f.debug_tuple("Store").field(store).finish(),
            Engine::Cookie(cookies) => f.debug_tuple("Cookie").field(cookies).finish(),
        }
    }
}

/// The store of a signed-cookie manager: it holds no record. `load` finds
/// nothing, `delete` and `clear_expired` have nothing to do, and every
/// write answers [`Error::Unsupported`].
#[derive(Debug, Clone, Copy)]
struct NoRecords;

#[async_trait]
impl SessionStore for NoRecords {
    async fn create(&self, _: &Record) -> Result<(), Error> {
        Err(Error::Unsupported {
            operation: "create (signed-cookie sessions keep no server record)",
        })
    }
    async fn load(&self, _: &SessionId) -> Result<Option<Record>, Error> {
        Ok(None)
    }
    async fn save(&self, _: &Record) -> Result<(), Error> {
        Err(Error::Unsupported {
            operation: "save (signed-cookie sessions keep no server record)",
        })
    }
    async fn delete(&self, _: &SessionId) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
