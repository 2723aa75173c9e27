//! Expiry: Django's `set_expiry` values and the three reads computed from
//! them (`get_expiry_age`, `get_expiry_date`, `get_expire_at_browser_close`).

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::Error;

/// The data key under which a custom expiry is stored, as in Django.
pub const EXPIRY_KEY: &str = "_session_expiry";

/// The data key under which core records when the session was created, for
/// [`Config::with_absolute_timeout`](crate::Config::with_absolute_timeout):
/// an integer number of milliseconds since the Unix epoch (UTC), the unit
/// of [`record::unix_ms`](crate::record::unix_ms). Reserved like every
/// `_session*` key: handlers cannot write it, and it is listed by
/// [`Session::keys`](crate::Session::keys) like `_session_expiry`.
pub const CREATED_KEY: &str = "_session_created";

/// The value stored under [`CREATED_KEY`] for a session created at `at`.
pub(crate) fn created_to_stored(at: OffsetDateTime) -> Value {
    Value::from(crate::record::unix_ms(at))
}

/// Reads [`CREATED_KEY`] back. Anything core would not have written (not
/// an integer, outside the years 1 to 9999) counts as no stamp, so the
/// session is stamped again at its next write rather than break a request.
pub(crate) fn created_from_stored(value: Option<&Value>) -> Option<OffsetDateTime> {
    let ms = value?.as_i64()?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .filter(|at| in_range(*at))
}

/// When a session created at `created` reaches its absolute timeout,
/// clamped to [`MAX_EXPIRY`].
pub(crate) fn absolute_deadline(created: OffsetDateTime, timeout: Duration) -> OffsetDateTime {
    created.saturating_add(timeout).min(MAX_EXPIRY)
}

/// The earliest expiry anything stores: the first instant of year 1.
pub const MIN_EXPIRY: OffsetDateTime = datetime!(0001-01-01 0:00 UTC);
/// The latest expiry anything stores: the last second of year 9999, the end
/// of RFC 3339, of cookie dates and of common database types. Expiries
/// computed from foreign data are clamped to it; application input past it
/// is refused with [`Error::ExpiryOutOfRange`].
pub const MAX_EXPIRY: OffsetDateTime = datetime!(9999-12-31 23:59:59 UTC);

fn in_range(at: OffsetDateTime) -> bool {
    (MIN_EXPIRY..=MAX_EXPIRY).contains(&at)
}

/// A per-session expiry, set with [`Session::set_expiry`].
///
/// It is stored inside the session data under `_session_expiry` in Django's
/// format (an integer number of seconds, `0` for browser close, or an
/// RFC 3339 date), so it survives a round trip through any store.
///
/// [`Session::set_expiry`]: crate::Session::set_expiry
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Expires this many seconds after the last save (inactivity timeout).
    /// `Seconds(0)` means [`Expiry::BrowserClose`], as Django's `0` does.
    Seconds(i64),
    /// Expires at this absolute time.
    At(OffsetDateTime),
    /// Expires this long after the call to `set_expiry`: turned into
    /// [`Expiry::At`] at call time, like Django's `timedelta`.
    In(Duration),
    /// The cookie has no `Max-Age`/`Expires` and disappears when the browser
    /// closes. The record still expires on the server after `cookie_age`.
    BrowserClose,
    /// No custom expiry: the global policy (`cookie_age`,
    /// `expire_at_browser_close`) applies. Setting it removes a custom one.
    Default,
}

impl Expiry {
    /// The value stored under [`EXPIRY_KEY`], or `None` for
    /// [`Expiry::Default`]. `In` is resolved against `now`.
    ///
    /// # Errors
    ///
    /// [`Error::ExpiryOutOfRange`] when the expiry, counted from `now`,
    /// falls outside [`MIN_EXPIRY`]..=[`MAX_EXPIRY`] (never a panic, never
    /// a silently dropped expiry).
    pub(crate) fn to_stored(self, now: OffsetDateTime) -> Result<Option<Value>, Error> {
        let out_of_range = |what| Error::ExpiryOutOfRange { what };
        match self {
            Expiry::Seconds(n) => now
                .checked_add(Duration::seconds(n))
                .filter(|at| in_range(*at))
                .map(|_| Some(Value::from(n)))
                .ok_or(out_of_range("set_expiry(Seconds) overflows from now")),
            Expiry::BrowserClose => Ok(Some(Value::from(0))),
            Expiry::In(duration) => now
                .checked_add(duration)
                .ok_or(out_of_range("set_expiry(In) overflows from now"))
                .and_then(|at| Expiry::At(at).to_stored(now)),
            Expiry::At(at) if in_range(at) => at
                .format(&Rfc3339)
                .map(|s| Some(Value::String(s)))
                .map_err(|_| out_of_range("set_expiry(At) cannot be written as RFC 3339")),
            Expiry::At(_) => Err(out_of_range(
                "set_expiry(At) is outside the years 1 to 9999",
            )),
            Expiry::Default => Ok(None),
        }
    }

    /// Reads a stored value back. Anything Django would not have written
    /// (a float, an object, a string that is not a date) counts as no custom
    /// expiry, so foreign or corrupt data never breaks a request.
    pub(crate) fn from_stored(value: Option<&Value>) -> Expiry {
        match value {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Expiry::BrowserClose,
                Some(secs) => Expiry::Seconds(secs),
                None => Expiry::Default,
            },
            Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
                .map(Expiry::At)
                .unwrap_or(Expiry::Default),
            _ => Expiry::Default,
        }
    }
}

/// Django's `get_expiry_age(modification=.., expiry=..)`: seconds from
/// `modification` until the session expires, rounded down to whole seconds.
/// Negative when an absolute expiry lies in the past.
///
/// ```
/// use session_core::{Expiry, expiry::expiry_age};
/// use time::{Duration, macros::datetime};
///
/// let now = datetime!(2030-01-01 0:00 UTC);
/// let two_weeks = Duration::seconds(1_209_600);
/// assert_eq!(expiry_age(Expiry::Default, now, two_weeks), 1_209_600);
/// assert_eq!(expiry_age(Expiry::BrowserClose, now, two_weeks), 1_209_600);
/// assert_eq!(expiry_age(Expiry::Seconds(60), now, two_weeks), 60);
/// assert_eq!(expiry_age(Expiry::At(now + Duration::milliseconds(1500)), now, two_weeks), 1);
/// assert_eq!(expiry_age(Expiry::At(now - Duration::milliseconds(1500)), now, two_weeks), -2);
/// ```
pub fn expiry_age(custom: Expiry, modification: OffsetDateTime, cookie_age: Duration) -> i64 {
    match custom {
        Expiry::Seconds(secs) if secs != 0 => secs,
        Expiry::At(at) => floor_seconds(at - modification),
        Expiry::In(duration) => floor_seconds(duration),
        _ => floor_seconds(cookie_age),
    }
}

/// Django's `get_expiry_date(modification=.., expiry=..)`: when the session
/// expires if it is saved at `modification`, clamped to
/// [`MIN_EXPIRY`]..=[`MAX_EXPIRY`] so that foreign data (a huge stored
/// number of seconds) never hands a store a date it cannot hold.
pub fn expiry_date(
    custom: Expiry,
    modification: OffsetDateTime,
    cookie_age: Duration,
) -> OffsetDateTime {
    let at = match custom {
        Expiry::At(at) => at,
        Expiry::Seconds(secs) if secs != 0 => modification.saturating_add(Duration::seconds(secs)),
        Expiry::In(duration) => modification.saturating_add(duration),
        _ => modification.saturating_add(cookie_age),
    };
    at.clamp(MIN_EXPIRY, MAX_EXPIRY)
}

/// Django's `get_expire_at_browser_close()`: the custom value decides when
/// there is one (`BrowserClose` → true, any other → false), else the
/// `expire_at_browser_close` setting.
pub fn expire_at_browser_close(custom: Expiry, setting: bool) -> bool {
    match custom {
        Expiry::Default => setting,
        Expiry::BrowserClose | Expiry::Seconds(0) => true,
        Expiry::Seconds(_) | Expiry::At(_) | Expiry::In(_) => false,
    }
}

/// Whole seconds, rounded toward negative infinity, as Django's
/// `delta.days * 86400 + delta.seconds` does.
fn floor_seconds(duration: Duration) -> i64 {
    let secs = duration.whole_seconds();
    if duration.subsec_nanoseconds() < 0 {
        secs - 1
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-06-15 12:00 UTC);
    const AGE: Duration = Duration::seconds(1_209_600);

    /// Django's truth table: SESSION_EXPIRE_AT_BROWSER_CLOSE × set_expiry
    /// value (10, 0, None).
    #[rstest]
    #[case::setting_false_custom_10(false, Expiry::Seconds(10), false)]
    #[case::setting_false_custom_0(false, Expiry::Seconds(0), true)]
    #[case::setting_false_custom_browser_close(false, Expiry::BrowserClose, true)]
    #[case::setting_false_custom_none(false, Expiry::Default, false)]
    #[case::setting_true_custom_10(true, Expiry::Seconds(10), false)]
    #[case::setting_true_custom_0(true, Expiry::Seconds(0), true)]
    #[case::setting_true_custom_browser_close(true, Expiry::BrowserClose, true)]
    #[case::setting_true_custom_none(true, Expiry::Default, true)]
    fn browser_close_truth_table(
        #[case] setting: bool,
        #[case] custom: Expiry,
        #[case] expected: bool,
    ) {
        assert_eq!(expire_at_browser_close(custom, setting), expected);
    }

    #[rstest]
    #[case::default(Expiry::Default, 1_209_600)]
    #[case::browser_close_uses_cookie_age(Expiry::BrowserClose, 1_209_600)]
    #[case::seconds(Expiry::Seconds(10), 10)]
    #[case::at_future_whole(Expiry::At(NOW + Duration::seconds(3600)), 3600)]
    #[case::at_future_rounds_down(Expiry::At(NOW + Duration::milliseconds(59_999)), 59)]
    #[case::at_past(Expiry::At(NOW - Duration::seconds(30)), -30)]
    #[case::at_past_rounds_down(Expiry::At(NOW - Duration::milliseconds(500)), -1)]
    fn expiry_age_matches_django(#[case] custom: Expiry, #[case] expected: i64) {
        assert_eq!(expiry_age(custom, NOW, AGE), expected);
    }

    #[rstest]
    #[case::default(Expiry::Default, NOW + AGE)]
    #[case::browser_close_still_expires_on_server(Expiry::BrowserClose, NOW + AGE)]
    #[case::seconds_count_from_modification(Expiry::Seconds(10), NOW + Duration::seconds(10))]
    #[case::at_is_absolute(Expiry::At(datetime!(2031-01-01 0:00 UTC)), datetime!(2031-01-01 0:00 UTC))]
    fn expiry_date_matches_django(#[case] custom: Expiry, #[case] expected: OffsetDateTime) {
        assert_eq!(expiry_date(custom, NOW, AGE), expected);
    }

    #[rstest]
    #[case::seconds(Expiry::Seconds(300), Some(serde_json::json!(300)), Expiry::Seconds(300))]
    #[case::zero_is_browser_close(Expiry::Seconds(0), Some(serde_json::json!(0)), Expiry::BrowserClose)]
    #[case::browser_close(Expiry::BrowserClose, Some(serde_json::json!(0)), Expiry::BrowserClose)]
    #[case::at(Expiry::At(datetime!(2031-01-01 0:00 UTC)), Some(serde_json::json!("2031-01-01T00:00:00Z")), Expiry::At(datetime!(2031-01-01 0:00 UTC)))]
    #[case::relative_becomes_absolute(Expiry::In(Duration::hours(1)), Some(serde_json::json!("2030-06-15T13:00:00Z")), Expiry::At(datetime!(2030-06-15 13:00 UTC)))]
    #[case::default_is_absent(Expiry::Default, None, Expiry::Default)]
    fn stored_form_round_trips(
        #[case] set: Expiry,
        #[case] stored: Option<Value>,
        #[case] read: Expiry,
    ) {
        assert_eq!(set.to_stored(NOW).unwrap(), stored);
        assert_eq!(Expiry::from_stored(stored.as_ref()), read);
    }

    #[rstest]
    #[case::at_past_the_last_second(Expiry::At(datetime!(9999-12-31 23:59:59.5 UTC)))]
    #[case::at_negative_year(Expiry::At(datetime!(-0001-01-01 0:00 UTC)))]
    #[case::in_overflows(Expiry::In(Duration::MAX))]
    #[case::in_underflows(Expiry::In(Duration::MIN))]
    #[case::in_past_9999(Expiry::In(Duration::days(365 * 8000)))]
    #[case::seconds_overflow(Expiry::Seconds(i64::MAX))]
    #[case::seconds_underflow(Expiry::Seconds(i64::MIN))]
    fn unrepresentable_expiries_are_errors_not_panics(#[case] expiry: Expiry) {
        let error = expiry.to_stored(NOW).unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::ExpiryOutOfRange);
        assert!(error.to_string().contains("years 1 to 9999"), "{error}");
    }

    #[test]
    fn the_last_representable_second_is_accepted() {
        let stored = Expiry::At(MAX_EXPIRY).to_stored(NOW).unwrap();
        assert_eq!(stored, Some(Value::from("9999-12-31T23:59:59Z")));
    }

    #[rstest]
    #[case::huge_stored_seconds(Expiry::Seconds(i64::MAX), MAX_EXPIRY)]
    #[case::hugely_negative_seconds(Expiry::Seconds(i64::MIN + 1), MIN_EXPIRY)]
    fn computed_dates_stay_in_range(#[case] custom: Expiry, #[case] expected: OffsetDateTime) {
        assert_eq!(expiry_date(custom, NOW, AGE), expected);
    }

    #[test]
    fn the_creation_stamp_round_trips_to_the_millisecond() {
        let at = NOW + Duration::milliseconds(1_234);
        let stored = created_to_stored(at);
        assert_eq!(stored, serde_json::json!(1_907_755_201_234_i64));
        assert_eq!(created_from_stored(Some(&stored)), Some(at));
    }

    #[rstest]
    #[case::absent(None)]
    #[case::float(Some(serde_json::json!(1.5)))]
    #[case::date_string(Some(serde_json::json!("2030-06-15T12:00:00Z")))]
    #[case::past_9999(Some(serde_json::json!(i64::MAX)))]
    #[case::before_year_1(Some(serde_json::json!(i64::MIN)))]
    fn a_foreign_creation_stamp_counts_as_none(#[case] stored: Option<Value>) {
        assert_eq!(created_from_stored(stored.as_ref()), None);
    }

    #[test]
    fn the_absolute_deadline_stays_in_range() {
        assert_eq!(
            absolute_deadline(NOW, Duration::hours(1)),
            NOW + Duration::hours(1)
        );
        assert_eq!(absolute_deadline(NOW, Duration::MAX), MAX_EXPIRY);
    }

    #[rstest]
    #[case::float(serde_json::json!(1.5))]
    #[case::garbage_string(serde_json::json!("next tuesday"))]
    #[case::object(serde_json::json!({"a": 1}))]
    #[case::null(Value::Null)]
    fn foreign_stored_values_mean_default(#[case] stored: Value) {
        assert_eq!(Expiry::from_stored(Some(&stored)), Expiry::Default);
    }
}
