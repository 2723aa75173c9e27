//! Session IDs: made only by core, validated before any store sees them.

use std::fmt;
use std::str::FromStr;

use rand::TryRng;
use rand::rngs::SysRng;

use crate::Error;

/// Length of every session ID, in characters.
pub const ID_LEN: usize = 32;

const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A well-formed session ID: exactly 32 characters of `[a-z0-9]` (about 165
/// bits of entropy), drawn from the operating system's CSPRNG.
///
/// A value of this type is the only thing a store ever receives as an ID, so
/// no SQL statement, Redis key or file path is built from an unchecked
/// cookie. `Debug` never prints the value (IDs are bearer credentials and
/// must not end up in logs); `Display` and [`SessionId::as_str`] do, for the
/// stores and the cookie.
///
/// ```
/// use session_core::SessionId;
///
/// let id = SessionId::generate();
/// assert_eq!(id.as_str().len(), 32);
/// assert_eq!(format!("{id:?}"), "SessionId(..)");
///
/// assert!("../../etc/passwd".parse::<SessionId>().is_err());
/// assert!("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345".parse::<SessionId>().is_err());
/// ```
// Inline bytes, not a `String`: every request parses one from its cookie,
// and stores and the lifecycle clone them (keys, indexes, records), so a
// heap allocation per copy would be the most common allocation of a
// request. Only ASCII ever gets in (`is_valid`, `ALPHABET`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; ID_LEN]);

/// The error of parsing a [`SessionId`]: the text is not 32 characters of
/// `[a-z0-9]`. It deliberately does not echo the rejected value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a session ID (expected 32 characters of [a-z0-9])")]
pub struct InvalidSessionId;

impl SessionId {
    /// A fresh random ID from the OS CSPRNG.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide randomness (as
    /// `rand::rng()` does). Use [`SessionId::try_generate`] to get an error
    /// instead; the request lifecycle does.
    #[allow(clippy::expect_used)] // documented: only an OS without entropy
    pub fn generate() -> Self {
        Self::try_generate().expect("the OS random number generator failed")
    }

    /// A fresh random ID from the OS CSPRNG, or [`Error::Unavailable`] when
    /// the operating system cannot provide randomness.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] if the OS random source fails.
    pub fn try_generate() -> Result<Self, Error> {
        let mut id = [0u8; ID_LEN];
        let mut len = 0;
        // Rejection sampling keeps every character uniform: 252 is the
        // largest multiple of 36 below 256.
        let mut buf = [0u8; 48];
        while len < ID_LEN {
            SysRng
                .try_fill_bytes(&mut buf)
                .map_err(|e| Error::unavailable(e.to_string()))?;
            for byte in buf {
                if byte < 252
                    && let Some(slot) = id.get_mut(len)
                {
                    *slot = ALPHABET
                        .get(usize::from(byte % 36))
                        .copied()
                        .unwrap_or(b'a');
                    len += 1;
                }
            }
        }
        Ok(SessionId(id))
    }

    /// The ID as text, for building a store key or the cookie value.
    pub fn as_str(&self) -> &str {
        // Always ASCII (see the type), so this never takes the fallback.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Whether `text` is a well-formed ID, without allocating.
    pub fn is_valid(text: &str) -> bool {
        text.len() == ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }
}

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match <[u8; ID_LEN]>::try_from(text.as_bytes()) {
            Ok(bytes) if SessionId::is_valid(text) => Ok(SessionId(bytes)),
            _ => Err(InvalidSessionId),
        }
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_are_well_formed_and_distinct() {
        let ids: HashSet<_> = (0..1000).map(|_| SessionId::generate()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert!(SessionId::is_valid(id.as_str()), "{id}");
        }
    }

    #[test]
    fn generated_ids_use_the_whole_alphabet() {
        let seen: HashSet<char> = (0..200)
            .flat_map(|_| SessionId::generate().as_str().chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), 36, "only {seen:?}");
    }

    #[rstest]
    #[case::empty("")]
    #[case::short("abc123")]
    #[case::long_by_one("abcdefghijklmnopqrstuvwxyz0123456")]
    #[case::uppercase("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345")]
    #[case::path_traversal("../../../../../../../../etc/passw")]
    #[case::non_ascii("abcdefghijklmnopqrstuvwxyz0123é")]
    #[case::space("abcdefghijklmnopqrstuvwxyz01234 ")]
    #[case::overlong(&"a".repeat(4096))]
    fn rejects_malformed(#[case] text: &str) {
        assert_eq!(text.parse::<SessionId>(), Err(InvalidSessionId));
    }

    #[test]
    fn accepts_well_formed_and_round_trips() {
        let text = "abcdefghijklmnopqrstuvwxyz012345";
        let id: SessionId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
    }

    #[test]
    fn debug_does_not_leak_the_value() {
        let id = SessionId::generate();
        assert!(!format!("{id:?}").contains(id.as_str()));
    }
}
