//! Settings, with Django's names and defaults.

use time::Duration;

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `SameSite=Strict`: never sent on cross-site requests.
    Strict,
    /// `SameSite=Lax`: sent on top-level cross-site navigations only.
    Lax,
    /// `SameSite=None`: sent everywhere. Browsers reject such a cookie
    /// without `Secure`, so it is always sent with `Secure`, whatever
    /// [`Config::with_cookie_secure`] says (as Django's browsers demand).
    None,
}

/// Session settings. Build with [`Config::default`] and the consuming
/// `with_*` setters.
///
/// | setting | default | Django setting |
/// |---|---|---|
/// | `cookie_name` | `"sessionid"` | `SESSION_COOKIE_NAME` |
/// | `cookie_age` | 1,209,600 s (two weeks) | `SESSION_COOKIE_AGE` |
/// | `cookie_path` | `"/"` | `SESSION_COOKIE_PATH` |
/// | `cookie_domain` | none (host-only) | `SESSION_COOKIE_DOMAIN` |
/// | `cookie_secure` | `false` | `SESSION_COOKIE_SECURE` |
/// | `cookie_http_only` | `true` | `SESSION_COOKIE_HTTPONLY` |
/// | `cookie_same_site` | `Lax` | `SESSION_COOKIE_SAMESITE` |
/// | `expire_at_browser_close` | `false` | `SESSION_EXPIRE_AT_BROWSER_CLOSE` |
/// | `save_every_request` | `false` | `SESSION_SAVE_EVERY_REQUEST` |
/// | `conflict_window` | 2 s | (none: Django saves last-writer-wins) |
/// | `max_session_size` | none | (none) |
/// | `absolute_timeout` | none | (none: OWASP's absolute timeout) |
/// | `renewal_interval` | none | (none) |
///
/// [`SessionManager::with_config`](crate::SessionManager::with_config)
/// refuses a configuration that would silently break sessions; see
/// [`Config::validate`]. [`Config::production`] is the starting point for a
/// deployment behind HTTPS.
///
/// ```
/// use session_core::{Config, SameSite};
/// use time::Duration;
///
/// // A production setting behind HTTPS.
/// let config = Config::default()
///     .with_cookie_secure(true)
///     .with_cookie_name("__Host-session")
///     .with_cookie_age(Duration::hours(8))
///     .with_cookie_same_site(SameSite::Strict);
/// assert_eq!(config.cookie_age(), Duration::hours(8));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    cookie_name: String,
    cookie_age: Duration,
    cookie_path: String,
    cookie_domain: Option<String>,
    cookie_secure: bool,
    cookie_http_only: bool,
    cookie_same_site: SameSite,
    expire_at_browser_close: bool,
    save_every_request: bool,
    conflict_window: std::time::Duration,
    max_session_size: Option<usize>,
    absolute_timeout: Option<Duration>,
    renewal_interval: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cookie_name: "sessionid".to_owned(),
            cookie_age: Duration::seconds(1_209_600),
            cookie_path: "/".to_owned(),
            cookie_domain: None,
            cookie_secure: false,
            cookie_http_only: true,
            cookie_same_site: SameSite::Lax,
            expire_at_browser_close: false,
            save_every_request: false,
            conflict_window: std::time::Duration::from_secs(2),
            max_session_size: None,
            absolute_timeout: None,
            renewal_interval: None,
        }
    }
}

impl Config {
    /// The settings to start a deployment behind HTTPS from: the defaults,
    /// plus `Secure`, and the name `__Host-sessionid`, which browsers accept
    /// only from a secure origin, with `Path=/` and no `Domain` (so no
    /// subdomain and no plain-HTTP page can plant or overwrite it).
    /// `HttpOnly` and `SameSite=Lax` are already the defaults.
    ///
    /// ```
    /// use session_core::{Config, SameSite};
    ///
    /// let config = Config::production();
    /// assert_eq!(config.cookie_name(), "__Host-sessionid");
    /// assert!(config.cookie_secure() && config.cookie_http_only());
    /// assert_eq!(config.cookie_same_site(), SameSite::Lax);
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn production() -> Self {
        Config::default()
            .with_cookie_name("__Host-sessionid")
            .with_cookie_secure(true)
            .with_cookie_http_only(true)
            .with_cookie_same_site(SameSite::Lax)
    }

    /// Checks that the settings cannot silently break sessions, with an
    /// error that says what to change:
    ///
    /// - `cookie_age` is positive and at most [`MAX_COOKIE_AGE`];
    /// - the cookie name is an RFC 6265 token (no spaces, `;`, `=`, quotes,
    ///   control bytes); the path starts with `/` and the domain is a host
    ///   name, both without `;`, spaces or control bytes, so the
    ///   `Set-Cookie` header can always be built;
    /// - a `__Secure-` name has `Secure`; a `__Host-` name has `Secure`,
    ///   path `/` and no domain (browsers drop such cookies otherwise);
    /// - `max_session_size`, when set, is not zero;
    /// - `absolute_timeout` and `renewal_interval`, when set, are positive
    ///   and at most [`MAX_COOKIE_AGE`].
    ///
    /// `SameSite=None` without `Secure` passes: the cookie is given
    /// `Secure` (see [`Config::effective_cookie_secure`]), as Django does.
    ///
    /// ```
    /// use session_core::Config;
    ///
    /// assert!(Config::default().validate().is_ok());
    /// let error = Config::default().with_cookie_name("__Host-sid").validate().unwrap_err();
    /// assert!(error.to_string().contains("with_cookie_secure(true)"));
    /// ```
    ///
    /// # Errors
    ///
    /// The first problem found, as a [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cookie_age <= Duration::ZERO {
            return Err(ConfigError::CookieAge("it must be positive"));
        }
        if self.cookie_age > MAX_COOKIE_AGE {
            return Err(ConfigError::CookieAge("it must be at most 1,000 years"));
        }
        let name = self.cookie_name.as_str();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ConfigError::CookieName);
        }
        let path = self.cookie_path.as_str();
        if !path.starts_with('/') || !path.bytes().all(is_attribute_byte) {
            return Err(ConfigError::CookiePath);
        }
        if let Some(domain) = &self.cookie_domain {
            let host = domain.strip_prefix('.').unwrap_or(domain);
            let valid = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                return Err(ConfigError::CookieDomain);
            }
        }
        let host_prefix = name.starts_with("__Host-");
        if (host_prefix || name.starts_with("__Secure-")) && !self.cookie_secure {
            return Err(ConfigError::PrefixNeedsSecure);
        }
        if host_prefix && (path != "/" || self.cookie_domain.is_some()) {
            return Err(ConfigError::HostPrefixScope);
        }
        if self.max_session_size == Some(0) {
            return Err(ConfigError::MaxSessionSize);
        }
        if let Some(timeout) = self.absolute_timeout {
            check_lifetime(timeout).map_err(ConfigError::AbsoluteTimeout)?;
        }
        if let Some(interval) = self.renewal_interval {
            check_lifetime(interval).map_err(ConfigError::RenewalInterval)?;
        }
        Ok(())
    }

    /// The cookie's name. Default: `"sessionid"`.
    ///
    /// A name starting with `__Secure-` or `__Host-` is always sent with
    /// `Secure` (browsers drop it otherwise); `__Host-` also requires path
    /// `/` and no domain.
    #[must_use]
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// How long a session lives without a custom expiry: the cookie's
    /// `Max-Age` and the record's lifetime on the server, also for
    /// browser-close sessions. Default: 1,209,600 s (two weeks).
    #[must_use]
    pub fn with_cookie_age(mut self, age: Duration) -> Self {
        self.cookie_age = age;
        self
    }

    /// The cookie's `Path`. Default: `"/"`.
    #[must_use]
    pub fn with_cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie_path = path.into();
        self
    }

    /// The cookie's `Domain`. Default: none, so the cookie is sent only to
    /// the host that set it.
    ///
    /// # Warning
    ///
    /// A domain such as `example.com` shares the session with every
    /// subdomain; any of them can read and overwrite it.
    #[must_use]
    pub fn with_cookie_domain(mut self, domain: impl Into<Option<String>>) -> Self {
        self.cookie_domain = domain.into();
        self
    }

    /// Whether the cookie carries `Secure`. Default: `false`, so the demo
    /// works on plain `http://localhost`.
    ///
    /// `Secure` is added anyway when browsers would reject the cookie
    /// without it: with [`SameSite::None`] and with a `__Secure-` or
    /// `__Host-` name; see [`Config::effective_cookie_secure`].
    ///
    /// # Warning
    ///
    /// Set it to `true` in production (behind HTTPS): without it the session
    /// ID travels in clear text over any plain-HTTP request to the host.
    #[must_use]
    pub fn with_cookie_secure(mut self, secure: bool) -> Self {
        self.cookie_secure = secure;
        self
    }

    /// Whether the cookie carries `HttpOnly`. Default: `true`.
    ///
    /// # Warning
    ///
    /// `false` lets any script on the page (including injected ones) read
    /// the session ID.
    #[must_use]
    pub fn with_cookie_http_only(mut self, http_only: bool) -> Self {
        self.cookie_http_only = http_only;
        self
    }

    /// The cookie's `SameSite`. Default: [`SameSite::Lax`].
    #[must_use]
    pub fn with_cookie_same_site(mut self, same_site: SameSite) -> Self {
        self.cookie_same_site = same_site;
        self
    }

    /// Whether sessions without a custom expiry end when the browser closes
    /// (no `Max-Age`/`Expires` on the cookie). Default: `false`.
    #[must_use]
    pub fn with_expire_at_browser_close(mut self, yes: bool) -> Self {
        self.expire_at_browser_close = yes;
        self
    }

    /// Whether every request that carries a non-empty session saves it and
    /// renews its cookie, even when nothing changed (this loads the session
    /// on every such request). Default: `false`.
    #[must_use]
    pub fn with_save_every_request(mut self, yes: bool) -> Self {
        self.save_every_request = yes;
        self
    }

    /// How long `finish` keeps merging when concurrent requests of one
    /// visitor write the same session, on stores with versioned saves.
    /// Default: 2 s.
    ///
    /// A versioned save that loses the race re-reads the record, replays
    /// this request's key-level changes onto it (this request's changed
    /// keys win, per key) and tries again, for as long as this window
    /// lasts. Each round one writer wins, so only a pathological stream of
    /// writers exhausts it; past it, the other writers' data stands (last
    /// writer wins, this request counted first), a warning is logged, and
    /// the response still carries the session cookie: a race between two
    /// requests of one visitor is normal traffic, never a server error.
    #[must_use]
    pub fn with_conflict_window(mut self, window: std::time::Duration) -> Self {
        self.conflict_window = window;
        self
    }

    /// The largest session, in bytes of its JSON serialization, that
    /// `finish` hands to the store; `None` (the default) for no limit.
    ///
    /// A larger session fails the request with [`Error::TooLarge`] (status
    /// 413) before the store is called, and the stored session stays as it
    /// was: an application that appends client input to the session cannot
    /// grow a record without bound. Django has no such setting; 64 KiB is a
    /// generous value for a session that holds IDs and small state.
    ///
    /// [`Error::TooLarge`]: crate::Error::TooLarge
    #[must_use]
    pub fn with_max_session_size(mut self, limit: impl Into<Option<usize>>) -> Self {
        self.max_session_size = limit.into();
        self
    }

    /// See [`Config::with_max_session_size`].
    pub fn max_session_size(&self) -> Option<usize> {
        self.max_session_size
    }

    /// The longest a session may live from its creation, however active it
    /// is (OWASP's *absolute timeout*); `None` (the default) for no limit.
    ///
    /// Core stamps every session with its creation time, in the data under
    /// [`CREATED_KEY`](crate::expiry::CREATED_KEY), when it is first
    /// written. A rotation ([`cycle_id`](crate::Session::cycle_id), a
    /// login that keeps the data) keeps the stamp; a
    /// [`flush`](crate::Session::flush) (a logout, a login as another user)
    /// starts a new session with a new one. A session whose creation plus
    /// this timeout is not after now (exactly at the limit counts as
    /// over) loads as an empty session: its ID is not adopted, its record
    /// is deleted at `finish`, and a client that sent its cookie gets a
    /// deletion cookie. The record's expiry and the cookie's
    /// `Max-Age`/`Expires` never reach past the limit, so stores drop the
    /// record on their own even if the visitor never comes back.
    ///
    /// Sessions written before the setting was turned on carry no stamp:
    /// they are stamped, with the time of that write, at their next write
    /// (a save, or a renewal under `save_every_request`, which then
    /// rewrites the record once instead of touching it), and count from
    /// then. Until then only their inactivity expiry applies.
    ///
    /// ```
    /// use session_core::Config;
    /// use time::Duration;
    ///
    /// let config = Config::default().with_absolute_timeout(Duration::hours(12));
    /// assert_eq!(config.absolute_timeout(), Some(Duration::hours(12)));
    /// assert!(config.validate().is_ok());
    /// ```
    #[must_use]
    pub fn with_absolute_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.absolute_timeout = timeout.into();
        self
    }

    /// See [`Config::with_absolute_timeout`].
    pub fn absolute_timeout(&self) -> Option<Duration> {
        self.absolute_timeout
    }

    /// With [`save_every_request`](Config::with_save_every_request), the
    /// least time between two renewals of an unchanged session; `None`
    /// (the default) renews on every request.
    ///
    /// A request that leaves the session unchanged renews it only once
    /// this long has passed since its last renewal; otherwise it writes
    /// nothing and sends no `Set-Cookie`, so the cookie and the record
    /// keep their matching expiry. The time of the last renewal is derived
    /// from the loaded record's expiry (the expiry minus the lifetime the
    /// session is given: `cookie_age`, or its custom number of seconds), so
    /// nothing extra is stored. A session that expires at a fixed date
    /// (`set_expiry(At)`, or one held at its
    /// [absolute timeout](Config::with_absolute_timeout)) gains nothing
    /// from a renewal and is not renewed. A changed session is always
    /// saved. A renewal uses the store's cheap
    /// [`touch`](crate::SessionStore::touch) where it has one.
    ///
    /// An inactivity expiry of `cookie_age` is then exact to within this
    /// interval: keep it well below `cookie_age` (say, a minute against
    /// hours). A session whose lifetime is shorter than twice the interval
    /// (a short `set_expiry`) is renewed every half lifetime instead, so an
    /// active visitor is never logged out; a lifetime that became shorter
    /// (a lowered `cookie_age`) is renewed at once.
    ///
    /// ```
    /// use session_core::Config;
    /// use time::Duration;
    ///
    /// let config = Config::default()
    ///     .with_save_every_request(true)
    ///     .with_renewal_interval(Duration::minutes(5));
    /// assert_eq!(config.renewal_interval(), Some(Duration::minutes(5)));
    /// ```
    #[must_use]
    pub fn with_renewal_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.renewal_interval = interval.into();
        self
    }

    /// See [`Config::with_renewal_interval`].
    pub fn renewal_interval(&self) -> Option<Duration> {
        self.renewal_interval
    }

    /// See [`Config::with_cookie_name`].
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }
    /// See [`Config::with_cookie_age`].
    pub fn cookie_age(&self) -> Duration {
        self.cookie_age
    }
    /// See [`Config::with_cookie_path`].
    pub fn cookie_path(&self) -> &str {
        &self.cookie_path
    }
    /// See [`Config::with_cookie_domain`].
    pub fn cookie_domain(&self) -> Option<&str> {
        self.cookie_domain.as_deref()
    }
    /// See [`Config::with_cookie_secure`].
    pub fn cookie_secure(&self) -> bool {
        self.cookie_secure
    }
    /// Whether the session cookie (and its deletion cookie) is sent with
    /// `Secure`: when [`Config::cookie_secure`] is set, and always with
    /// `SameSite=None` or a `__Secure-`/`__Host-` name, which browsers
    /// reject without it.
    ///
    /// ```
    /// use session_core::{Config, SameSite};
    ///
    /// assert!(!Config::default().effective_cookie_secure());
    /// let cross_site = Config::default().with_cookie_same_site(SameSite::None);
    /// assert!(cross_site.effective_cookie_secure());
    /// assert!(Config::default().with_cookie_name("__Host-sid").effective_cookie_secure());
    /// ```
    pub fn effective_cookie_secure(&self) -> bool {
        self.cookie_secure
            || self.cookie_same_site == SameSite::None
            || self.cookie_name.starts_with("__Secure-")
            || self.cookie_name.starts_with("__Host-")
    }
    /// See [`Config::with_cookie_http_only`].
    pub fn cookie_http_only(&self) -> bool {
        self.cookie_http_only
    }
    /// See [`Config::with_cookie_same_site`].
    pub fn cookie_same_site(&self) -> SameSite {
        self.cookie_same_site
    }
    /// See [`Config::with_expire_at_browser_close`].
    pub fn expire_at_browser_close(&self) -> bool {
        self.expire_at_browser_close
    }
    /// See [`Config::with_save_every_request`].
    pub fn save_every_request(&self) -> bool {
        self.save_every_request
    }
    /// See [`Config::with_conflict_window`].
    pub fn conflict_window(&self) -> std::time::Duration {
        self.conflict_window
    }
}

/// The longest [`Config::with_cookie_age`] that [`Config::validate`]
/// accepts: 1,000 years. Longer lifetimes cannot be told apart from
/// "forever" and run into the year 9999, past which neither cookies nor
/// stores can represent an expiry.
pub const MAX_COOKIE_AGE: Duration = Duration::days(365_250);

/// The bounds every session lifetime setting shares with `cookie_age`.
fn check_lifetime(duration: Duration) -> Result<(), &'static str> {
    if duration <= Duration::ZERO {
        Err("it must be positive")
    } else if duration > MAX_COOKIE_AGE {
        Err("it must be at most 1,000 years")
    } else {
        Ok(())
    }
}

/// RFC 6265 `token`: visible ASCII except separators.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

/// RFC 6265 `av-octet`: visible ASCII and space, except `;`; spaces are
/// refused too, since a browser would trim them.
fn is_attribute_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b';'
}

/// What [`Config::validate`] found wrong, with what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `cookie_age` is zero, negative or absurdly long.
    #[error("invalid session cookie age: {0}; check Config::with_cookie_age")]
    CookieAge(&'static str),
    /// The cookie name is not an RFC 6265 token.
    #[error(
        "invalid session cookie name: use letters, digits and `-_.!#$%&'*+^`|~` only \
         (no spaces, `;`, `=`, quotes or control bytes); check Config::with_cookie_name"
    )]
    CookieName,
    /// The cookie path is not a header-safe absolute path.
    #[error(
        "invalid session cookie path: it must start with `/` and hold no spaces, `;` or \
         control bytes; check Config::with_cookie_path"
    )]
    CookiePath,
    /// The cookie domain is not a host name.
    #[error(
        "invalid session cookie domain: give a host name such as `example.com` (letters, \
         digits, `-` and `.`), or none for a host-only cookie; check Config::with_cookie_domain"
    )]
    CookieDomain,
    /// A `__Secure-` or `__Host-` name without `Secure`.
    #[error(
        "a session cookie named `__Secure-…` or `__Host-…` must be Secure (browsers drop it \
         otherwise): add Config::with_cookie_secure(true), or choose another name"
    )]
    PrefixNeedsSecure,
    /// A `__Host-` name with a domain or a path other than `/`.
    #[error(
        "a session cookie named `__Host-…` must have path `/` and no domain (browsers drop it \
         otherwise): remove Config::with_cookie_domain and set Config::with_cookie_path(\"/\"), \
         or choose a `__Secure-` name"
    )]
    HostPrefixScope,
    /// `max_session_size` is zero.
    #[error(
        "max_session_size of 0 would refuse every session; give a positive size or None in \
         Config::with_max_session_size"
    )]
    MaxSessionSize,
    /// `absolute_timeout` is zero, negative or absurdly long.
    #[error("invalid absolute session timeout: {0}; check Config::with_absolute_timeout")]
    AbsoluteTimeout(&'static str),
    /// `renewal_interval` is zero, negative or absurdly long.
    #[error("invalid session renewal interval: {0}; check Config::with_renewal_interval")]
    RenewalInterval(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_table() {
        let c = Config::default();
        assert_eq!(c.cookie_name(), "sessionid");
        assert_eq!(c.cookie_age(), Duration::seconds(1_209_600));
        assert_eq!(c.cookie_path(), "/");
        assert_eq!(c.cookie_domain(), None);
        assert!(!c.cookie_secure());
        assert!(c.cookie_http_only());
        assert_eq!(c.cookie_same_site(), SameSite::Lax);
        assert!(!c.expire_at_browser_close());
        assert!(!c.save_every_request());
        assert_eq!(c.conflict_window(), std::time::Duration::from_secs(2));
        assert_eq!(c.max_session_size(), None);
        assert_eq!(c.absolute_timeout(), None);
        assert_eq!(c.renewal_interval(), None);
        assert_eq!(c.validate(), Ok(()));
    }

    #[rstest::rstest]
    #[case::zero_age(Config::default().with_cookie_age(Duration::ZERO), "positive")]
    #[case::negative_age(Config::default().with_cookie_age(Duration::seconds(-1)), "positive")]
    #[case::huge_age(Config::default().with_cookie_age(Duration::MAX), "1,000 years")]
    #[case::empty_name(Config::default().with_cookie_name(""), "with_cookie_name")]
    #[case::name_with_space(Config::default().with_cookie_name("session id"), "with_cookie_name")]
    #[case::name_with_semicolon(Config::default().with_cookie_name("sid;x=1"), "with_cookie_name")]
    #[case::name_with_equals(Config::default().with_cookie_name("sid=1"), "with_cookie_name")]
    #[case::name_with_newline(Config::default().with_cookie_name("sid\r\nX: y"), "with_cookie_name")]
    #[case::name_non_ascii(Config::default().with_cookie_name("sessión"), "with_cookie_name")]
    #[case::relative_path(Config::default().with_cookie_path("app"), "with_cookie_path")]
    #[case::path_with_semicolon(Config::default().with_cookie_path("/a;Domain=evil.com"), "with_cookie_path")]
    #[case::path_with_control(Config::default().with_cookie_path("/a\u{7f}"), "with_cookie_path")]
    #[case::domain_empty(Config::default().with_cookie_domain(Some(String::new())), "with_cookie_domain")]
    #[case::domain_with_semicolon(Config::default().with_cookie_domain(Some("a.com;x".into())), "with_cookie_domain")]
    #[case::domain_with_space(Config::default().with_cookie_domain(Some("a .com".into())), "with_cookie_domain")]
    #[case::secure_prefix_without_secure(Config::default().with_cookie_name("__Secure-sid"), "with_cookie_secure(true)")]
    #[case::host_prefix_without_secure(Config::default().with_cookie_name("__Host-sid"), "with_cookie_secure(true)")]
    #[case::host_prefix_with_path(Config::production().with_cookie_path("/app"), "path `/`")]
    #[case::host_prefix_with_domain(Config::production().with_cookie_domain(Some("example.com".into())), "no domain")]
    #[case::zero_max_size(Config::default().with_max_session_size(0), "max_session_size")]
    #[case::zero_absolute_timeout(Config::default().with_absolute_timeout(Duration::ZERO), "with_absolute_timeout")]
    #[case::negative_absolute_timeout(Config::default().with_absolute_timeout(Duration::seconds(-1)), "positive")]
    #[case::huge_absolute_timeout(Config::default().with_absolute_timeout(Duration::MAX), "1,000 years")]
    #[case::zero_renewal_interval(Config::default().with_renewal_interval(Duration::ZERO), "with_renewal_interval")]
    #[case::negative_renewal_interval(Config::default().with_renewal_interval(Duration::seconds(-5)), "positive")]
    #[case::huge_renewal_interval(Config::default().with_renewal_interval(MAX_COOKIE_AGE + Duration::SECOND), "1,000 years")]
    fn validate_refuses_what_would_break_sessions(#[case] config: Config, #[case] hint: &str) {
        let error = config.validate().unwrap_err();
        assert!(error.to_string().contains(hint), "{error} lacks {hint:?}");
    }

    #[rstest::rstest]
    #[case::production(Config::production())]
    #[case::secure_prefix(Config::default().with_cookie_name("__Secure-sid").with_cookie_secure(true))]
    #[case::same_site_none_is_given_secure(Config::default().with_cookie_same_site(SameSite::None))]
    #[case::domain(Config::default().with_cookie_domain(Some(".example.com".into())))]
    #[case::sub_path(Config::default().with_cookie_path("/app/v1"))]
    #[case::one_second(Config::default().with_cookie_age(Duration::SECOND))]
    #[case::thousand_years(Config::default().with_cookie_age(MAX_COOKIE_AGE))]
    #[case::absolute_timeout(Config::default().with_absolute_timeout(Duration::hours(8)))]
    #[case::absolute_timeout_thousand_years(Config::default().with_absolute_timeout(MAX_COOKIE_AGE))]
    #[case::renewal_interval(Config::default().with_save_every_request(true).with_renewal_interval(Duration::minutes(1)))]
    #[case::token_punctuation(Config::default().with_cookie_name("my.app_sid-1!#$%&'*+^`|~"))]
    fn validate_accepts_working_settings(#[case] config: Config) {
        assert_eq!(config.validate(), Ok(()));
    }
}
