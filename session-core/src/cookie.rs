//! Reading the session cookie from `Cookie` headers and rendering the
//! complete `Set-Cookie` value, with the `cookie` crate.

use cookie::{Cookie, Expiration};
use time::{Duration, OffsetDateTime};

use crate::{Config, SameSite, SessionId};

/// What the request said about the session cookie.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Incoming {
    /// A cookie with the session cookie's name came in, whatever its value.
    pub(crate) present: bool,
    /// The first such cookie whose value is a well-formed ID.
    pub(crate) id: Option<SessionId>,
    /// For the signed-cookie engine only: the first
    /// [`MAX_KEPT_VALUES`] values of cookies with the session cookie's
    /// name that are UTF-8 and at most [`MAX_COOKIE_BYTES`] long, in
    /// order (the engine takes the first that verifies).
    pub(crate) values: Vec<String>,
}

/// How many same-named cookie values [`Incoming::parse_keeping_values`]
/// keeps: a real one and a few tossed in by sibling subdomains.
const MAX_KEPT_VALUES: usize = 4;

/// The most a browser keeps per cookie (name, value and attributes): a
/// longer value cannot be one the server issued.
pub(crate) const MAX_COOKIE_BYTES: usize = 4096;

impl Incoming {
    /// Scans every `Cookie` header field (HTTP/2 sends one per cookie).
    ///
    /// Each field is split into pairs on `;` as bytes, before any UTF-8
    /// check: another application on the domain may set a cookie with a
    /// non-UTF-8 byte, a malformed pair or a huge value, and that must not
    /// hide the session cookie beside it. Only pairs named like the session
    /// cookie are decoded at all.
    ///
    /// With duplicate names the first well-formed value wins: browsers send
    /// the cookie with the most specific path first, and a cookie tossed in
    /// from a sibling subdomain usually has the broader one.
    pub(crate) fn parse<I, H>(cookie_name: &str, header_values: I) -> Self
    where
        I: IntoIterator<Item = H>,
        H: AsRef<[u8]>,
    {
        Self::scan(cookie_name, header_values, false)
    }

    /// [`Incoming::parse`], also keeping the raw values (see
    /// [`Incoming::values`]) for the signed-cookie engine.
    pub(crate) fn parse_keeping_values<I, H>(cookie_name: &str, header_values: I) -> Self
    where
        I: IntoIterator<Item = H>,
        H: AsRef<[u8]>,
    {
        Self::scan(cookie_name, header_values, true)
    }

    fn scan<I, H>(cookie_name: &str, header_values: I, keep_values: bool) -> Self
    where
        I: IntoIterator<Item = H>,
        H: AsRef<[u8]>,
    {
        let name = cookie_name.as_bytes();
        let mut incoming = Incoming::default();
        for field in header_values {
            for pair in field.as_ref().split(|&b| b == b';') {
                let Some(value) = value_if_named(pair, name) else {
                    continue;
                };
                incoming.present = true;
                if keep_values
                    && incoming.values.len() < MAX_KEPT_VALUES
                    && let Ok(text) = std::str::from_utf8(unquote(value))
                    && !text.is_empty()
                    && text.len() <= MAX_COOKIE_BYTES
                {
                    incoming.values.push(text.to_owned());
                }
                if incoming.id.is_none() {
                    incoming.id = std::str::from_utf8(unquote(value))
                        .ok()
                        .and_then(|v| v.parse().ok());
                }
            }
        }
        incoming
    }
}

/// The value of `pair` (`name=value`, optional whitespace around both) if
/// its name is `name`.
fn value_if_named<'a>(pair: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let eq = pair.iter().position(|&b| b == b'=')?;
    let (key, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
    (key.trim_ascii() == name).then(|| value.trim_ascii())
}

/// Strips one pair of surrounding double quotes (RFC 6265 allows them).
fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    }
}

fn base_cookie<'c>(config: &'c Config, value: &'c str) -> Cookie<'c> {
    let mut cookie = Cookie::new(config.cookie_name(), value);
    cookie.set_path(config.cookie_path());
    if let Some(domain) = config.cookie_domain() {
        cookie.set_domain(domain);
    }
    cookie.set_http_only(config.cookie_http_only());
    cookie.set_secure(config.effective_cookie_secure());
    cookie.set_same_site(match config.cookie_same_site() {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::None => cookie::SameSite::None,
    });
    cookie
}

/// The latest `Expires` the `cookie` crate renders (RFC 6265 caps dates
/// at year 9999); [`Renderer`] clamps the same way.
const MAX_EXPIRES: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59.999_999 UTC);

/// Renders the `Set-Cookie` values of one [`Config`].
///
/// Everything but the value, `Max-Age` and `Expires` depends only on the
/// settings, so the `cookie` crate renders it once, when the manager is
/// built, and a request only appends its own parts. A profile of the
/// request path showed the per-request `cookie` rendering (a formatter
/// walk per attribute and `time`'s generic date formatting) at a fifth of
/// a whole write request over the memory store. The output is
/// byte-for-byte what the `cookie` crate renders (tests compare the two
/// over many settings and dates).
#[derive(Debug, Clone)]
pub(crate) struct Renderer {
    config: Config,
    /// `name=`, and the attributes that follow the value, when the
    /// template rendered as expected (otherwise every cookie is rendered
    /// by the `cookie` crate).
    parts: Option<(String, String)>,
    removal: String,
}

impl Renderer {
    pub(crate) fn new(config: &Config) -> Self {
        let name_eq = format!("{}=", config.cookie_name());
        let template = reference(config, "", None, OffsetDateTime::UNIX_EPOCH);
        let parts = template
            .strip_prefix(&name_eq)
            .map(|attributes| (name_eq.clone(), attributes.to_owned()));
        Renderer {
            config: config.clone(),
            parts,
            removal: reference_removal(config),
        }
    }

    /// The `Set-Cookie` value that hands `id` to the browser. `max_age` is
    /// `None` for a browser-close session; a negative age is sent as 0
    /// with an `Expires` of `now`, which makes the browser drop the cookie.
    pub(crate) fn session(
        &self,
        id: &SessionId,
        max_age: Option<i64>,
        now: OffsetDateTime,
    ) -> String {
        self.value(id.as_str(), max_age, now)
    }

    /// [`Renderer::session`] with any cookie-safe `value` (the
    /// signed-cookie engine's sealed payload).
    pub(crate) fn value(&self, value: &str, max_age: Option<i64>, now: OffsetDateTime) -> String {
        let Some((name_eq, attributes)) = &self.parts else {
            return reference(&self.config, value, max_age, now);
        };
        let mut out = String::with_capacity(name_eq.len() + value.len() + attributes.len() + 64);
        out.push_str(name_eq);
        out.push_str(value);
        out.push_str(attributes);
        if let Some(age) = max_age {
            let age = Duration::seconds(age.max(0));
            let expires = now
                .saturating_add(age)
                .min(MAX_EXPIRES)
                .checked_to_offset(time::UtcOffset::UTC);
            match expires {
                Some(expires) if (1000..=9999).contains(&expires.year()) => {
                    out.push_str("; Max-Age=");
                    out.push_str(itoa::Buffer::new().format(age.whole_seconds()));
                    out.push_str("; Expires=");
                    push_http_date(&mut out, expires);
                }
                // Dates a real clock never gives: let the crate decide.
                _ => return reference(&self.config, value, max_age.map(|a| a.max(0)), now),
            }
        }
        out
    }

    /// The `Set-Cookie` value that removes the session cookie: empty
    /// value, `Max-Age=0`, `Expires` at the Unix epoch, and the same name,
    /// path, domain, `Secure`, `HttpOnly` and `SameSite` as the setting
    /// cookie, so the browser matches and drops it (a `__Host-` cookie
    /// included).
    pub(crate) fn removal(&self) -> String {
        self.removal.clone()
    }
}

/// Appends `t` (UTC, year 1000 to 9999) as an IMF-fixdate, the form the
/// `cookie` crate writes: `Tue, 15 Jan 2030 00:00:00 GMT`.
fn push_http_date(out: &mut String, t: OffsetDateTime) {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let two = |out: &mut String, n: u8| {
        out.push(char::from(b'0' + n / 10 % 10));
        out.push(char::from(b'0' + n % 10));
    };
    out.push_str(
        DAYS.get(usize::from(t.weekday().number_days_from_monday()))
            .copied()
            .unwrap_or("Mon"),
    );
    out.push_str(", ");
    two(out, t.day());
    out.push(' ');
    out.push_str(
        MONTHS
            .get(usize::from(u8::from(t.month())) - 1)
            .copied()
            .unwrap_or("Jan"),
    );
    out.push(' ');
    out.push_str(itoa::Buffer::new().format(t.year()));
    out.push(' ');
    two(out, t.hour());
    out.push(':');
    two(out, t.minute());
    out.push(':');
    two(out, t.second());
    out.push_str(" GMT");
}

/// The `Set-Cookie` value as the `cookie` crate renders it: the reference
/// [`Renderer`] reproduces.
fn reference(config: &Config, value: &str, max_age: Option<i64>, now: OffsetDateTime) -> String {
    let mut cookie = base_cookie(config, value);
    if let Some(age) = max_age {
        let age = Duration::seconds(age.max(0));
        cookie.set_max_age(age);
        cookie.set_expires(Expiration::DateTime(now.saturating_add(age)));
    }
    cookie.to_string()
}

fn reference_removal(config: &Config) -> String {
    let mut cookie = base_cookie(config, "");
    cookie.set_max_age(Duration::ZERO);
    cookie.set_expires(Expiration::DateTime(OffsetDateTime::UNIX_EPOCH));
    cookie.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use time::macros::datetime;

    const ID: &str = "abcdefghijklmnopqrstuvwxyz012345";
    const OTHER: &str = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";

    fn parse(headers: &[&str]) -> Incoming {
        Incoming::parse("sessionid", headers.iter().copied())
    }

    #[rstest]
    #[case::none(&[], false, None)]
    #[case::other_cookies_only(&["a=1; b=2"], false, None)]
    #[case::well_formed(&["a=1; sessionid=abcdefghijklmnopqrstuvwxyz012345"], true, Some(ID))]
    #[case::quoted(&["sessionid=\"abcdefghijklmnopqrstuvwxyz012345\""], true, Some(ID))]
    #[case::malformed(&["sessionid=nope"], true, None)]
    #[case::empty_value(&["sessionid="], true, None)]
    #[case::non_ascii(&["sessionid=abcdefghijklmnopqrstuvwxyz0123é"], true, None)]
    #[case::second_header_field(&["a=1", "sessionid=abcdefghijklmnopqrstuvwxyz012345"], true, Some(ID))]
    #[case::duplicate_first_valid_wins(&["sessionid=bad; sessionid=abcdefghijklmnopqrstuvwxyz012345; sessionid=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"], true, Some(ID))]
    #[case::duplicate_across_fields(&["sessionid=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "sessionid=abcdefghijklmnopqrstuvwxyz012345"], true, Some(OTHER))]
    #[case::garbage_pairs_skipped(&[";;==; =x; sessionid=abcdefghijklmnopqrstuvwxyz012345"], true, Some(ID))]
    fn parses_cookie_headers(
        #[case] headers: &[&str],
        #[case] present: bool,
        #[case] id: Option<&str>,
    ) {
        let incoming = parse(headers);
        assert_eq!(incoming.present, present);
        assert_eq!(incoming.id.as_ref().map(SessionId::as_str), id);
    }

    #[test]
    fn a_field_that_is_not_utf8_is_skipped() {
        let fields: [&[u8]; 2] = [
            b"sessionid=\xff\xfe",
            b"sessionid=abcdefghijklmnopqrstuvwxyz012345",
        ];
        let incoming = Incoming::parse("sessionid", fields);
        assert_eq!(incoming.id.as_ref().map(SessionId::as_str), Some(ID));
    }

    #[rstest]
    #[case::non_utf8_neighbour(b"theme=caf\xe9; sessionid=abcdefghijklmnopqrstuvwxyz012345".as_slice())]
    #[case::non_utf8_after(b"sessionid=abcdefghijklmnopqrstuvwxyz012345; x=\xff\xfe".as_slice())]
    #[case::malformed_neighbours(b"=; ;; junk; a=\"open; sessionid=abcdefghijklmnopqrstuvwxyz012345; =".as_slice())]
    #[case::no_spaces(b"a=1;sessionid=abcdefghijklmnopqrstuvwxyz012345;b=2".as_slice())]
    #[case::control_bytes_neighbour(b"a=\x01\x7f; sessionid=abcdefghijklmnopqrstuvwxyz012345".as_slice())]
    fn other_cookies_never_hide_the_session_cookie(#[case] field: &[u8]) {
        let incoming = Incoming::parse("sessionid", [field]);
        assert_eq!(incoming.id.as_ref().map(SessionId::as_str), Some(ID));
    }

    #[test]
    fn an_oversized_neighbour_does_not_hide_the_session_cookie() {
        let field = format!("big={}; sessionid={ID}", "x".repeat(64 * 1024));
        let incoming = parse(&[&field]);
        assert_eq!(incoming.id.as_ref().map(SessionId::as_str), Some(ID));
    }

    #[test]
    fn a_name_that_only_starts_like_ours_is_another_cookie() {
        let incoming = parse(&[
            "sessionid2=abcdefghijklmnopqrstuvwxyz012345; xsessionid=abcdefghijklmnopqrstuvwxyz012345",
        ]);
        assert!(!incoming.present);
        assert_eq!(incoming.id, None);
    }

    #[test]
    fn overlong_value_is_not_an_id() {
        let header = format!("sessionid={}", "a".repeat(4096));
        let incoming = parse(&[&header]);
        assert!(incoming.present);
        assert_eq!(incoming.id, None);
    }

    #[test]
    fn renders_session_cookie_with_defaults() {
        let id: SessionId = ID.parse().unwrap();
        let header = Renderer::new(&Config::default()).session(
            &id,
            Some(1_209_600),
            datetime!(2030-01-01 0:00 UTC),
        );
        assert_eq!(
            header,
            "sessionid=abcdefghijklmnopqrstuvwxyz012345; HttpOnly; SameSite=Lax; Path=/; \
             Max-Age=1209600; Expires=Tue, 15 Jan 2030 00:00:00 GMT"
        );
    }

    #[test]
    fn browser_close_cookie_has_no_lifetime() {
        let id: SessionId = ID.parse().unwrap();
        let header =
            Renderer::new(&Config::default()).session(&id, None, datetime!(2030-01-01 0:00 UTC));
        assert!(!header.contains("Max-Age"), "{header}");
        assert!(!header.contains("Expires"), "{header}");
    }

    #[test]
    fn removal_repeats_every_matching_attribute() {
        let config = Config::default()
            .with_cookie_name("__Host-s")
            .with_cookie_secure(true)
            .with_cookie_domain(Some("example.com".to_owned()))
            .with_cookie_path("/app")
            .with_cookie_same_site(SameSite::Strict);
        assert_eq!(
            Renderer::new(&config).removal(),
            "__Host-s=; HttpOnly; SameSite=Strict; Secure; Path=/app; Domain=example.com; \
             Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[rstest]
    #[case::same_site_none(Config::default().with_cookie_same_site(SameSite::None))]
    #[case::secure_prefix(Config::default().with_cookie_name("__Secure-sid"))]
    #[case::host_prefix(Config::default().with_cookie_name("__Host-sid"))]
    fn secure_is_forced_where_browsers_require_it(#[case] config: Config) {
        assert!(!config.cookie_secure());
        let id: SessionId = ID.parse().unwrap();
        let set = Renderer::new(&config).session(&id, Some(60), datetime!(2030-01-01 0:00 UTC));
        let removal = Renderer::new(&config).removal();
        for header in [set, removal] {
            assert!(header.contains("; Secure"), "{header}");
        }
    }

    #[test]
    fn secure_is_not_added_otherwise() {
        let id: SessionId = ID.parse().unwrap();
        let config = Config::default().with_cookie_same_site(SameSite::Strict);
        let set = Renderer::new(&config).session(&id, Some(60), datetime!(2030-01-01 0:00 UTC));
        assert!(!set.contains("Secure"), "{set}");
    }

    #[test]
    fn past_expiry_renders_zero_max_age() {
        let id: SessionId = ID.parse().unwrap();
        let header = Renderer::new(&Config::default()).session(
            &id,
            Some(-30),
            datetime!(2030-01-01 0:00 UTC),
        );
        assert!(header.contains("Max-Age=0;"), "{header}");
    }

    /// Settings that change the rendered attributes, each alone and all
    /// together.
    fn configs() -> Vec<Config> {
        vec![
            Config::default(),
            Config::default().with_cookie_same_site(SameSite::None),
            Config::default().with_cookie_same_site(SameSite::Strict),
            Config::default().with_cookie_name("__Host-sid"),
            Config::default().with_cookie_name("__Secure-sid"),
            Config::default().with_cookie_http_only(false),
            Config::default()
                .with_cookie_name("s")
                .with_cookie_secure(true)
                .with_cookie_domain(Some("example.com".to_owned()))
                .with_cookie_path("/app")
                .with_cookie_same_site(SameSite::Strict),
        ]
    }

    #[test]
    fn the_renderer_writes_exactly_what_the_cookie_crate_writes() {
        // A linear congruential walk over four centuries of seconds, plus
        // the edges: the epoch, leap days, the year 9999 clamp.
        let mut times = vec![
            OffsetDateTime::UNIX_EPOCH,
            datetime!(2024-02-29 23:59:59 UTC),
            datetime!(2000-02-29 12:00:00 UTC),
            datetime!(9999-12-31 23:59:00 UTC),
            datetime!(2030-01-01 0:00 +05:30),
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let seconds = i64::try_from(x >> 30).unwrap() % (400 * 365 * 86_400);
            times.push(OffsetDateTime::UNIX_EPOCH + Duration::seconds(seconds));
        }
        let ages = [
            None,
            Some(-30),
            Some(0),
            Some(1),
            Some(1_209_600),
            Some(i64::MAX),
        ];
        for config in configs() {
            let renderer = Renderer::new(&config);
            assert!(renderer.parts.is_some(), "template did not split");
            assert_eq!(renderer.removal(), reference_removal(&config));
            for (i, now) in times.iter().enumerate() {
                let age = ages[i % ages.len()];
                assert_eq!(
                    renderer.value(ID, age, *now),
                    reference(&config, ID, age, *now),
                    "now {now}, max age {age:?}"
                );
            }
        }
    }

    #[test]
    fn dates_outside_four_digit_years_fall_back_to_the_cookie_crate() {
        let config = Config::default();
        let renderer = Renderer::new(&config);
        let ancient = datetime!(0800-03-01 0:00 UTC);
        assert_eq!(
            renderer.value(ID, Some(60), ancient),
            reference(&config, ID, Some(60), ancient)
        );
    }
}
