//! What a store keeps for one session.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Error, SessionId};

/// The data of one session: JSON values by string key.
pub type SessionData = serde_json::Map<String, serde_json::Value>;

/// How deeply a session value may nest arrays and objects: `[1]` nests 1
/// deep, `{"a": [1]}` 2. [`Session::insert`](crate::Session::insert) and the
/// other writers refuse a deeper value with [`Error::Value`], because JSON
/// decoders (serde_json's included) refuse documents nested much deeper:
/// such a value would be accepted, then make the whole session unreadable.
/// Stores MUST round-trip values this deep.
pub const MAX_DEPTH: usize = 100;

/// Fails with [`Error::Value`] when `value` nests deeper than [`MAX_DEPTH`].
///
/// ```
/// use session_core::record::{MAX_DEPTH, check_depth};
/// use serde_json::json;
///
/// let mut value = json!("leaf");
/// for _ in 0..MAX_DEPTH {
///     value = json!([value]);
/// }
/// assert!(check_depth(&value).is_ok());
/// assert!(check_depth(&json!([value])).is_err());
/// ```
///
/// # Errors
///
/// [`Error::Value`] with a message that names the limit.
pub fn check_depth(value: &serde_json::Value) -> Result<(), Error> {
    use serde_json::Value;
    // Iterative, so a hostile value cannot exhaust the stack here.
    let mut pending: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth >= MAX_DEPTH {
            return Err(Error::Value {
                source: <serde_json::Error as serde::ser::Error>::custom(format_args!(
                    "the value nests arrays and objects more than {MAX_DEPTH} levels deep, \
                     which session stores cannot read back; flatten it"
                )),
            });
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

/// `at` as whole milliseconds since the Unix epoch (rounded toward zero),
/// the unit of [`Record::expires_at_unix_ms`], for a store that renews a
/// lifetime without a whole record (`touch`).
///
/// ```
/// use session_core::record::unix_ms;
/// use time::macros::datetime;
/// assert_eq!(unix_ms(datetime!(1970-01-01 0:00:01.5 UTC)), 1_500);
/// ```
pub fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// One stored session: its ID, its data, when it expires and its version.
///
/// The data sits behind an [`Arc`] so a store that keeps records in memory
/// can hand them out without copying, and a request that only reads never
/// copies the map (copy-on-write happens on the first change).
#[derive(Clone, PartialEq)]
pub struct Record {
    /// The session's ID.
    pub id: SessionId,
    /// The session's data.
    pub data: Arc<SessionData>,
    /// The absolute time after which the record MUST NOT be loaded.
    pub expires_at: OffsetDateTime,
    /// The version the writer read (see [`SessionStore::save`]); 0 for a new
    /// record. Stores without versioning keep it as given.
    ///
    /// [`SessionStore::save`]: crate::SessionStore::save
    pub version: u64,
}

impl Record {
    /// A version-0 record.
    pub fn new(
        id: SessionId,
        data: impl Into<Arc<SessionData>>,
        expires_at: OffsetDateTime,
    ) -> Self {
        Record {
            id,
            data: data.into(),
            expires_at,
            version: 0,
        }
    }

    /// The same record with `version`.
    #[must_use]
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Whether the record has expired at `now` (an expiry equal to `now`
    /// counts as expired).
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }

    /// `expires_at` as whole milliseconds since the Unix epoch, the unit of
    /// Redis' `PXAT` and of [`Record::encode`].
    pub fn expires_at_unix_ms(&self) -> i64 {
        unix_ms(self.expires_at)
    }

    /// Serializes data, expiry and version into one JSON document, for
    /// stores that keep a record as a single blob (Redis, files). The ID is
    /// not included: it is the blob's name.
    ///
    /// ```
    /// use session_core::{Record, SessionId, SessionData};
    /// use time::macros::datetime;
    ///
    /// let mut data = SessionData::new();
    /// data.insert("cart".into(), serde_json::json!(["apple"]));
    /// let id = SessionId::generate();
    /// let record = Record::new(id.clone(), data, datetime!(2030-01-01 0:00 UTC)).with_version(3);
    /// let blob = record.encode()?;
    /// assert_eq!(Record::decode(id, &blob)?, record);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Value`] if the data cannot be serialized (it always can:
    /// it is already JSON).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let blob = BlobRef {
            expires_at_ms: self.expires_at_unix_ms(),
            version: self.version,
            data: &self.data,
        };
        Ok(serde_json::to_vec(&blob)?)
    }

    /// Parses what [`Record::encode`] wrote.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if `bytes` is not such a document (truncated, not
    /// JSON, wrong shape, a negative version, an expiry outside the years 1
    /// to 9999).
    pub fn decode(id: SessionId, bytes: &[u8]) -> Result<Self, Error> {
        let blob: Blob = serde_json::from_slice(bytes).map_err(Error::corrupt)?;
        let expires_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(blob.expires_at_ms) * 1_000_000)
                .map_err(Error::corrupt)?;
        if !(crate::expiry::MIN_EXPIRY..=crate::expiry::MAX_EXPIRY).contains(&expires_at) {
            return Err(Error::corrupt(format!(
                "the stored expiry {expires_at} is outside the years 1 to 9999"
            )));
        }
        Ok(Record {
            id,
            data: Arc::new(blob.data),
            expires_at,
            version: blob.version,
        })
    }
}

impl fmt::Debug for Record {
    // Data can hold personal information; the ID is redacted by SessionId.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("keys", &self.data.len())
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .finish()
    }
}

#[derive(Serialize)]
struct BlobRef<'a> {
    #[serde(rename = "exp")]
    expires_at_ms: i64,
    #[serde(rename = "ver")]
    version: u64,
    data: &'a SessionData,
}

#[derive(Deserialize)]
struct Blob {
    #[serde(rename = "exp")]
    expires_at_ms: i64,
    #[serde(rename = "ver", default)]
    version: u64,
    data: SessionData,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use rstest::rstest;
    use time::macros::datetime;

    #[rstest]
    #[case::truncated(br#"{"exp":1,"ver":0,"data":{"#.as_slice())]
    #[case::not_json(b"\x00\xffgarbage".as_slice())]
    #[case::wrong_shape(br#"[1,2,3]"#.as_slice())]
    #[case::data_not_a_map(br#"{"exp":1,"data":[1]}"#.as_slice())]
    #[case::expiry_out_of_range(br#"{"exp":9223372036854775807,"data":{}}"#.as_slice())]
    #[case::expiry_in_year_10000(br#"{"exp":253402300800000,"data":{}}"#.as_slice())]
    #[case::expiry_before_year_1(br#"{"exp":-62135596800001,"data":{}}"#.as_slice())]
    #[case::negative_version(br#"{"exp":1,"ver":-1,"data":{}}"#.as_slice())]
    fn decode_rejects_corrupt_blobs(#[case] bytes: &[u8]) {
        let err = Record::decode(SessionId::generate(), bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt);
    }

    #[test]
    fn expiry_keeps_millisecond_precision() {
        let at = datetime!(2031-05-06 7:08:09.123 UTC);
        let record = Record::new(SessionId::generate(), SessionData::new(), at);
        let back = Record::decode(record.id.clone(), &record.encode().unwrap()).unwrap();
        assert_eq!(back.expires_at, at);
    }

    #[test]
    fn expiry_boundary_counts_as_expired() {
        let at = datetime!(2030-01-01 0:00 UTC);
        let record = Record::new(SessionId::generate(), SessionData::new(), at);
        assert!(record.is_expired_at(at));
        assert!(!record.is_expired_at(at - time::Duration::milliseconds(1)));
    }
}
