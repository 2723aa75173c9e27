//! What went wrong, in words that say what to check, mapped into
//! [`session_core::Error`] kinds.
//!
//! Every message names the server(s) as `host:port` and never the URL's
//! password; fred's own text (a server reply, an OS error) comes last.

use std::time::Duration;

use fred::prelude::{Config, Error as FredError, ErrorKind as FredErrorKind, ServerConfig};
use session_core::Error;

/// The store's own errors. Each becomes the boxed source of a
/// [`session_core::Error`]; [`RedisError::into_core`] picks the kind.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedisError {
    #[error(
        "the Redis URL is empty: pass one such as `redis://127.0.0.1:6379` \
         (`redis://[[USER]:PASSWORD@]HOST[:PORT][/DATABASE]`)"
    )]
    EmptyUrl,

    #[error(
        "the Redis URL `{url}` is malformed ({cause}): expected \
         `redis://[[USER]:PASSWORD@]HOST[:PORT][/DATABASE]` (or `rediss://`, \
         `redis-cluster://`, `redis-sentinel://`)"
    )]
    BadUrl {
        /// The URL with its password replaced by `***`.
        url: String,
        cause: FredError,
    },

    #[error(
        "`rediss://` needs TLS, which this build lacks: enable the `tls` feature \
         of session-store-redis, or use `redis://` on a trusted network"
    )]
    TlsDisabled,

    #[error("invalid RedisOptions: {0}")]
    BadOption(&'static str),

    #[error(
        "Redis at {servers} refused the connection: check that redis-server is running \
         there and that the host and port are right ({cause})"
    )]
    Refused { servers: String, cause: FredError },

    #[error(
        "Redis at {servers} did not answer within the connect timeout of {} ms: \
         check the host and port (is it Redis?), firewalls and the server's load, \
         or raise RedisOptions::with_connect_timeout{}",
        .timeout.as_millis(),
        match .cause { Some(c) => format!(" ({c})"), None => String::new() }
    )]
    ConnectTimeout {
        servers: String,
        timeout: Duration,
        cause: Option<FredError>,
    },

    #[error(
        "Redis at {servers} did not answer a command within the command timeout{}: \
         check the server's load and the network, or raise \
         RedisOptions::with_command_timeout ({cause})",
        match .timeout { Some(t) => format!(" of {} ms", t.as_millis()), None => String::new() }
    )]
    CommandTimeout {
        servers: String,
        timeout: Option<Duration>,
        cause: FredError,
    },

    #[error(
        "Redis at {servers} is not connected (the server went away or refuses \
         connections; the store keeps reconnecting by itself): check that \
         redis-server is running and reachable ({cause})"
    )]
    NotConnected { servers: String, cause: FredError },

    #[error(
        "the connection to Redis at {servers} failed: check the network and the \
         server's log ({cause})"
    )]
    Io { servers: String, cause: FredError },

    #[error(
        "Redis at {servers} requires a password (NOAUTH) and the URL has none: \
         use `redis://:PASSWORD@HOST:PORT` or `redis://USER:PASSWORD@HOST:PORT`"
    )]
    NoPassword { servers: String },

    #[error(
        "Redis at {servers} rejected the username or password (WRONGPASS): check \
         the credentials in the URL against the server's `requirepass` or ACL users"
    )]
    WrongPassword { servers: String },

    #[error(
        "Redis at {servers} has no password set but the URL carries one: remove it \
         from the URL, or set `requirepass` on the server"
    )]
    NoPasswordSet { servers: String },

    #[error(
        "Redis at {servers} answered with an error: {cause} (check the URL's \
         database number, the server's configuration and its log)"
    )]
    Server { servers: String, cause: FredError },

    #[error("could not set up a client for Redis at {servers}: {cause}")]
    Setup { servers: String, cause: FredError },

    #[error(
        "the session key does not hold a Redis string (WRONGTYPE): something other \
         than this store wrote a list, set, hash or other value under a session key \
         (is the key prefix shared with other data?)"
    )]
    WrongType,

    #[error(
        "the session key holds a value that is not a record written by this store \
         (it must begin with `{{\"exp\":<ms>,\"ver\":<n>,\"data\":`): something else \
         wrote under a session key (is the key prefix shared with other data?)"
    )]
    ForeignValue,

    #[error("the session record's expiry is negative ({0} ms), before any expiry Redis can hold")]
    NegativeExpiry(i64),
}

impl RedisError {
    /// The [`session_core::Error`] with this error as its source: the
    /// server could not be reached or did not answer in time is
    /// [`Error::Unavailable`] (adapters answer 503); content that is not a
    /// session record is [`Error::Corrupt`]; a configuration mistake (URL,
    /// options, credentials) or any other failure is [`Error::Backend`].
    pub(crate) fn into_core(self) -> Error {
        match self {
            RedisError::Refused { .. }
            | RedisError::ConnectTimeout { .. }
            | RedisError::CommandTimeout { .. }
            | RedisError::NotConnected { .. }
            | RedisError::Io { .. } => Error::unavailable(self),
            RedisError::WrongType | RedisError::ForeignValue | RedisError::NegativeExpiry(_) => {
                Error::corrupt(self)
            }
            RedisError::EmptyUrl
            | RedisError::BadUrl { .. }
            | RedisError::TlsDisabled
            | RedisError::BadOption(_)
            | RedisError::NoPassword { .. }
            | RedisError::WrongPassword { .. }
            | RedisError::NoPasswordSet { .. }
            | RedisError::Server { .. }
            | RedisError::Setup { .. } => Error::backend(self),
        }
    }

    /// Classifies a fred error of a connection or a command to `servers`;
    /// `command_timeout` is the deadline a command timeout ran into (`None`
    /// while connecting: see [`RedisError::connect`]).
    pub(crate) fn from_fred(
        cause: FredError,
        servers: &str,
        command_timeout: Option<Duration>,
    ) -> RedisError {
        let servers = servers.to_owned();
        let details = cause.details();
        match cause.kind() {
            FredErrorKind::Auth if details.starts_with("NOAUTH") => {
                RedisError::NoPassword { servers }
            }
            FredErrorKind::Auth => RedisError::WrongPassword { servers },
            _ if details.contains("without any password configured") => {
                RedisError::NoPasswordSet { servers }
            }
            FredErrorKind::Timeout => RedisError::CommandTimeout {
                servers,
                timeout: command_timeout,
                cause,
            },
            FredErrorKind::IO if details.contains("ConnectionRefused") => {
                RedisError::Refused { servers, cause }
            }
            FredErrorKind::Canceled => RedisError::NotConnected { servers, cause },
            // fred's own words when a command found no connection to go to.
            FredErrorKind::Unknown
                if [
                    "Failed to route command",
                    "Too many failed write attempts",
                    "Client is not initialized",
                    "Failed to send command to router",
                ]
                .iter()
                .any(|words| details.starts_with(words)) =>
            {
                RedisError::NotConnected { servers, cause }
            }
            FredErrorKind::IO
            | FredErrorKind::Cluster
            | FredErrorKind::Routing
            | FredErrorKind::Sentinel
            | FredErrorKind::Backpressure => RedisError::Io { servers, cause },
            _ => RedisError::Server { servers, cause },
        }
    }

    /// Classifies a failure of the first connection, whose deadline is the
    /// connect timeout.
    pub(crate) fn connect(cause: FredError, servers: &str, timeout: Duration) -> RedisError {
        match RedisError::from_fred(cause, servers, None) {
            RedisError::CommandTimeout { servers, cause, .. } => RedisError::ConnectTimeout {
                servers,
                timeout,
                cause: Some(cause),
            },
            other => other,
        }
    }
}

/// `host:port` of each server of `config`, `, `-separated, for messages.
pub(crate) fn servers(config: &Config) -> String {
    let list = |hosts: &[fred::types::config::Server]| {
        hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &config.server {
        ServerConfig::Centralized { server } => server.to_string(),
        ServerConfig::Clustered { hosts, .. } => format!("cluster nodes {}", list(hosts)),
        ServerConfig::Sentinel {
            hosts,
            service_name,
            ..
        } => format!("sentinels {} (service `{service_name}`)", list(hosts)),
        #[allow(unreachable_patterns)]
        _ => "the configured server".to_owned(),
    }
}

/// `url` with the password of its user info, if any, replaced by `***`, so
/// it can go into a message. Everything between the scheme and the last
/// `@` before the path is user info.
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{path}"),
        None => format!("{authority}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_and_keeps_the_rest() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://:hunter2@host:6379/1", "redis://:***@host:6379/1"),
            ("redis://user:hunter2@host", "redis://user:***@host"),
            ("redis://user@host", "redis://user@host"),
            ("redis://u:p@ss:w@rd@host:1/2", "redis://u:***@host:1/2"),
            ("user:hunter2@host", "user:***@host"),
            ("redis://u:hunter2@host?x=@y", "redis://u:***@host?x=@y"),
            ("", ""),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn kinds_follow_the_policy() {
        use session_core::ErrorKind::{Backend, Unavailable};
        let cases = [
            (
                FredErrorKind::IO,
                "Os { code: 111, kind: ConnectionRefused }",
                Unavailable,
                "refused",
            ),
            (
                FredErrorKind::Timeout,
                "Request timed out.",
                Unavailable,
                "command timeout",
            ),
            (
                FredErrorKind::Canceled,
                "Connection closed unexpectedly.",
                Unavailable,
                "not connected",
            ),
            (
                FredErrorKind::Unknown,
                "Failed to route command.",
                Unavailable,
                "not connected",
            ),
            (
                FredErrorKind::Auth,
                "NOAUTH Authentication required.",
                Backend,
                "NOAUTH",
            ),
            (
                FredErrorKind::Auth,
                "WRONGPASS invalid username-password pair",
                Backend,
                "WRONGPASS",
            ),
            (
                FredErrorKind::Unknown,
                "ERR AUTH <password> called without any password configured",
                Backend,
                "no password set",
            ),
            (
                FredErrorKind::Unknown,
                "ERR DB index is out of range",
                Backend,
                "ERR DB index is out of range",
            ),
        ];
        for (fred_kind, details, kind, words) in cases {
            let cause = FredError::new(fred_kind, details);
            let message = RedisError::from_fred(cause, "h:1", Some(Duration::from_secs(2)));
            let text = message.to_string();
            assert!(text.contains(words), "{text}");
            assert!(text.contains("h:1"), "{text}");
            assert_eq!(message.into_core().kind(), kind, "{text}");
        }
    }
}
