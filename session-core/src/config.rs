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
        }
    }
}

impl Config {
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
    }
}
