//! Command-line flags, parsed by hand: a handful of flags do not need a
//! parser crate, and every mistake gets a sentence that says what to type.

use std::net::SocketAddr;
use std::path::PathBuf;

use session_core::{Config, SameSite};
use time::Duration;

/// The usage text.
pub const USAGE: &str = "\
session-demo: Django-grade sessions over any framework and any store

USAGE:
    session-demo [FLAGS]                         serve the demo page and the probe routes
    session-demo clear-expired --store STORE     remove expired sessions once, print how many
    session-demo clear-expired --store STORE --every 60s
                                                 remove them in the background until Ctrl-C
                                                 (--every takes 500ms, 60s, 5m, 1h; plain numbers are seconds)

FLAGS:
    --framework rocket|warp|poem|axum|actix  the web framework (default: poem)
    --store STORE                    memory | file[:DIR] | redis://HOST[:PORT] | postgres://USER@HOST/DB
                                     | cached:CACHE+DB (e.g. cached:redis://HOST+postgres://USER@HOST/DB)
                                     | redis-cluster://HOST:PORT?node=HOST2:PORT2&node=...
                                     | redis-sentinel://HOST:PORT?sentinelServiceName=NAME&node=...
                                     | signed-cookie | private-cookie
                                     (default: file, in a `sessions` folder under the OS temp dir)
    --addr HOST:PORT                 where to listen (default: 127.0.0.1:8000)
    --cookie-name NAME               default: sessionid
    --cookie-age SECONDS             default: 1209600 (two weeks)
    --cookie-secure true|false       default: false (set true behind HTTPS)
    --cookie-domain DOMAIN           default: none (host-only cookie)
    --cookie-path PATH               default: /
    --same-site lax|strict|none      default: lax
    --browser-close                  sessions end when the browser closes
    --save-every-request             save (and renew the cookie) on every request
    --hash-ids                       keep only a SHA-256 of each session ID in the store, so a
                                     leaked dump holds no usable cookie (switching it on or off
                                     logs everyone out)
    --hash-ids-key-env VAR           like --hash-ids, with HMAC-SHA256 keyed by the environment
                                     variable VAR (at least 32 bytes, e.g. `openssl rand -hex 32`)
    --absolute-timeout SECONDS       end every session this long after its creation,
                                     however active (default: none)
    --renewal-interval SECONDS       with --save-every-request, renew an unchanged session
                                     at most once per interval (default: every request)
    -h, --help                       this text

SIGNED COOKIES:
    --store signed-cookie keeps the whole session in the cookie, signed
    (HMAC-SHA256: the visitor can read it, not change it); private-cookie
    also encrypts it (AES-256-GCM). The key comes from SESSION_SECRET_KEY:
    128 hex digits (64 bytes, e.g. `openssl rand -hex 64`); several keys
    separated by commas, newest first, rotate keys (the first signs, all
    are accepted). Without it a key is generated and printed, and sessions
    do not survive a restart. A logout cannot revoke a copied cookie, and
    a session is limited to what fits in a 4 KiB cookie.

LIMITS:
    Request bodies are limited to 64 KiB (65536 bytes) on every route and in
    every framework: a larger body is answered 413 (a Content-Length above
    the limit before any of the body is read; a chunked body as soon as it
    passes the limit).
";

/// The web framework to serve with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    /// session-rocket.
    Rocket,
    /// session-warp.
    Warp,
    /// session-poem.
    Poem,
    /// session-tower, with axum.
    Axum,
    /// session-actix, with actix-web 4.
    Actix,
}

/// Where sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// In memory, lost on exit.
    Memory,
    /// One file per session; `None` is the default directory.
    File(Option<PathBuf>),
    /// A Redis URL.
    Redis(String),
    /// A PostgreSQL URL.
    Postgres(String),
    /// `cached:CACHE+DB`: the first store as a cache in front of the
    /// second (Django's `cached_db`); neither is itself cached.
    Cached(Box<StoreChoice>, Box<StoreChoice>),
    /// No store: the session lives in a signed cookie, encrypted too when
    /// `encrypt`.
    Cookie {
        /// AES-256-GCM instead of HMAC-SHA256 only.
        encrypt: bool,
    },
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Serve the demo.
    Serve(Box<Options>),
    /// Remove expired sessions.
    ClearExpired(StoreChoice, Option<std::time::Duration>),
    /// Print the usage.
    Help,
}

/// The serve flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The framework.
    pub framework: Framework,
    /// The store.
    pub store: StoreChoice,
    /// The listening address.
    pub addr: SocketAddr,
    /// The session settings.
    pub config: Config,
    /// Whether the store keeps session IDs or their hashes.
    pub hash_ids: HashIds,
}

/// How the store keeps session IDs (`--hash-ids`, `--hash-ids-key-env`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HashIds {
    /// As they are (the default).
    #[default]
    Off,
    /// As their SHA-256.
    Sha256,
    /// As their HMAC-SHA256 under the key in this environment variable.
    KeyFromEnv(String),
}

/// `--every`: `500ms`, `60s`, `5m`, `1h`, or whole seconds.
fn parse_every(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (text, 1_000)
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|&ms| ms > 0)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| {
            format!("--every takes a positive duration such as 500ms, 60s, 5m or 1h, not `{text}`")
        })
}

fn parse_store(text: &str) -> Result<StoreChoice, String> {
    if let Some(pair) = text.strip_prefix("cached:") {
        return parse_cached(pair);
    }
    match text {
        "memory" => Ok(StoreChoice::Memory),
        "file" => Ok(StoreChoice::File(None)),
        "signed-cookie" => Ok(StoreChoice::Cookie { encrypt: false }),
        "private-cookie" => Ok(StoreChoice::Cookie { encrypt: true }),
        _ if text.starts_with("file:") => {
            let dir = text.trim_start_matches("file:");
            if dir.is_empty() {
                return Err("--store file:DIR needs a directory after `file:`".to_owned());
            }
            Ok(StoreChoice::File(Some(PathBuf::from(dir))))
        }
        // fred's schemes: one server, a cluster, a server behind Sentinel.
        _ if [
            "redis://",
            "rediss://",
            "redis-cluster://",
            "rediss-cluster://",
            "redis-sentinel://",
            "rediss-sentinel://",
        ]
        .iter()
        .any(|scheme| text.starts_with(scheme)) =>
        {
            Ok(StoreChoice::Redis(text.to_owned()))
        }
        _ if text.starts_with("postgres://") || text.starts_with("postgresql://") => {
            Ok(StoreChoice::Postgres(text.to_owned()))
        }
        _ => Err(format!(
            "unknown store `{text}`: use memory, file, file:DIR, redis://HOST:PORT, \
             postgres://USER@HOST/DB, cached:CACHE+DB, signed-cookie or private-cookie"
        )),
    }
}

/// `CACHE+DB`: split at the first `+` after which both halves are stores
/// (a URL's password may hold a `+` too).
fn parse_cached(pair: &str) -> Result<StoreChoice, String> {
    let usage = "--store cached:CACHE+DB takes two stores, e.g. \
                 cached:redis://127.0.0.1:6379+postgres://USER@HOST/DB or cached:memory+postgres://USER@HOST/DB";
    for (at, _) in pair.match_indices('+') {
        let (cache, db) = pair.split_at(at);
        let db = db.strip_prefix('+').unwrap_or(db);
        if cache.starts_with("cached:") || db.starts_with("cached:") {
            return Err(format!("{usage}; a cached store cannot hold another"));
        }
        if let (Ok(cache), Ok(db)) = (parse_store(cache), parse_store(db)) {
            if [&cache, &db]
                .iter()
                .any(|s| matches!(s, StoreChoice::Cookie { .. }))
            {
                return Err(format!(
                    "{usage}; signed cookies keep no server-side records to cache"
                ));
            }
            return Ok(StoreChoice::Cached(Box::new(cache), Box::new(db)));
        }
    }
    Err(usage.to_owned())
}

fn parse_bool(flag: &str, text: &str) -> Result<bool, String> {
    match text {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{flag} takes true or false, not `{text}`")),
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter().peekable();
    let clear_expired = args.peek().is_some_and(|a| a == "clear-expired");
    if clear_expired {
        args.next();
    }
    let mut options = Options {
        framework: Framework::Poem,
        store: StoreChoice::File(None),
        addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
        config: Config::default(),
        hash_ids: HashIds::Off,
    };
    let mut every = None;
    let mut store_given = false;
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(Command::Help);
        }
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value (see --help)"))
        };
        match flag.as_str() {
            "--framework" => {
                options.framework = match value("--framework")?.as_str() {
                    "rocket" => Framework::Rocket,
                    "warp" => Framework::Warp,
                    "poem" => Framework::Poem,
                    "axum" => Framework::Axum,
                    "actix" => Framework::Actix,
                    other => {
                        return Err(format!(
                            "unknown framework `{other}`: use rocket, warp, poem, axum or actix"
                        ));
                    }
                }
            }
            "--store" => {
                options.store = parse_store(&value("--store")?)?;
                store_given = true;
            }
            "--addr" => {
                let text = value("--addr")?;
                options.addr = text.parse().map_err(|_| {
                    format!("--addr takes HOST:PORT such as 127.0.0.1:8000, not `{text}`")
                })?;
            }
            "--cookie-name" => {
                let name = value("--cookie-name")?;
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                {
                    return Err(format!(
                        "--cookie-name `{name}` is not a valid cookie name (letters, digits, - _ .)"
                    ));
                }
                options.config = options.config.with_cookie_name(name);
            }
            "--cookie-age" => {
                let text = value("--cookie-age")?;
                let secs: u32 = text
                    .parse()
                    .map_err(|_| format!("--cookie-age takes whole seconds, not `{text}`"))?;
                options.config = options
                    .config
                    .with_cookie_age(Duration::seconds(i64::from(secs)));
            }
            "--cookie-secure" => {
                let secure = parse_bool("--cookie-secure", &value("--cookie-secure")?)?;
                options.config = options.config.with_cookie_secure(secure);
            }
            "--cookie-domain" => {
                options.config = options
                    .config
                    .with_cookie_domain(Some(value("--cookie-domain")?))
            }
            "--cookie-path" => {
                let path = value("--cookie-path")?;
                if !path.starts_with('/') {
                    return Err(format!("--cookie-path must start with `/`, not `{path}`"));
                }
                options.config = options.config.with_cookie_path(path);
            }
            "--same-site" => {
                let same_site = match value("--same-site")?.to_ascii_lowercase().as_str() {
                    "lax" => SameSite::Lax,
                    "strict" => SameSite::Strict,
                    "none" => SameSite::None,
                    other => {
                        return Err(format!(
                            "--same-site takes lax, strict or none, not `{other}`"
                        ));
                    }
                };
                options.config = options.config.with_cookie_same_site(same_site);
            }
            "--browser-close" => options.config = options.config.with_expire_at_browser_close(true),
            "--save-every-request" => options.config = options.config.with_save_every_request(true),
            "--hash-ids" => {
                if options.hash_ids == HashIds::Off {
                    options.hash_ids = HashIds::Sha256;
                }
            }
            "--hash-ids-key-env" => {
                options.hash_ids = HashIds::KeyFromEnv(value("--hash-ids-key-env")?);
            }
            "--every" if clear_expired => every = Some(parse_every(&value("--every")?)?),
            "--every" => return Err("--every belongs to clear-expired (see --help)".to_owned()),
            "--absolute-timeout" => {
                let secs = positive_seconds("--absolute-timeout", &value("--absolute-timeout")?)?;
                options.config = options.config.with_absolute_timeout(secs);
            }
            "--renewal-interval" => {
                let secs = positive_seconds("--renewal-interval", &value("--renewal-interval")?)?;
                options.config = options.config.with_renewal_interval(secs);
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    if clear_expired {
        if !store_given {
            return Err("clear-expired needs --store STORE".to_owned());
        }
        return Ok(Command::ClearExpired(options.store, every));
    }
    Ok(Command::Serve(Box::new(options)))
}

/// A positive whole number of seconds for `flag`.
fn positive_seconds(flag: &str, text: &str) -> Result<Duration, String> {
    match text.parse::<u32>() {
        Ok(secs) if secs > 0 => Ok(Duration::seconds(i64::from(secs))),
        _ => Err(format!(
            "{flag} takes a positive whole number of seconds, not `{text}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn no_arguments_serve_poem_over_files_on_port_8000() {
        let Command::Serve(options) = parse(args("")).unwrap() else {
            panic!("not serve")
        };
        assert_eq!(options.framework, Framework::Poem);
        assert_eq!(options.store, StoreChoice::File(None));
        assert_eq!(options.addr.to_string(), "127.0.0.1:8000");
        assert_eq!(options.config, Config::default());
    }

    #[test]
    fn every_flag_is_understood() {
        let Command::Serve(options) = parse(args(
            "--framework warp --store redis://127.0.0.1:6379 --addr 127.0.0.1:9 --cookie-name sid \
             --cookie-age 60 --cookie-secure true --cookie-domain example.com --cookie-path /app \
             --same-site strict --browser-close --save-every-request",
        ))
        .unwrap() else {
            panic!("not serve")
        };
        assert_eq!(options.framework, Framework::Warp);
        assert_eq!(
            options.store,
            StoreChoice::Redis("redis://127.0.0.1:6379".into())
        );
        let c = &options.config;
        assert_eq!(
            (c.cookie_name(), c.cookie_age(), c.cookie_secure()),
            ("sid", Duration::seconds(60), true)
        );
        assert_eq!(
            (c.cookie_domain(), c.cookie_path()),
            (Some("example.com"), "/app")
        );
        assert_eq!(c.cookie_same_site(), SameSite::Strict);
        assert!(c.expire_at_browser_close() && c.save_every_request());
    }

    #[test]
    fn cluster_and_sentinel_urls_select_redis_as_given() {
        for url in [
            "redis-cluster://127.0.0.1:7000?node=127.0.0.1:7001&node=127.0.0.1:7002",
            "rediss-cluster://h:7000",
            "redis-sentinel://h:26379?sentinelServiceName=mymaster&node=h2:26379",
        ] {
            assert_eq!(
                parse_store(url),
                Ok(StoreChoice::Redis(url.to_owned())),
                "{url}"
            );
        }
        assert!(USAGE.contains("redis-cluster://"), "{USAGE}");
    }

    #[test]
    fn the_lifetime_flags_set_the_timeout_and_the_interval() {
        let Command::Serve(options) = parse(args(
            "--save-every-request --absolute-timeout 28800 --renewal-interval 60",
        ))
        .unwrap() else {
            panic!("not serve")
        };
        let c = &options.config;
        assert_eq!(c.absolute_timeout(), Some(Duration::hours(8)));
        assert_eq!(c.renewal_interval(), Some(Duration::minutes(1)));
        assert_eq!(c.validate(), Ok(()));
        for bad in [
            "--absolute-timeout 0",
            "--renewal-interval -5",
            "--absolute-timeout 1h",
        ] {
            let error = parse(args(bad)).unwrap_err();
            assert!(
                error.contains("positive whole number of seconds"),
                "{error}"
            );
        }
    }

    #[test]
    fn cookie_engines_are_stores_to_choose() {
        for (flag, encrypt) in [("signed-cookie", false), ("private-cookie", true)] {
            let Command::Serve(options) = parse(args(&format!("--store {flag}"))).unwrap() else {
                panic!("not serve")
            };
            assert_eq!(options.store, StoreChoice::Cookie { encrypt });
        }
        assert!(USAGE.contains("SESSION_SECRET_KEY"), "{USAGE}");
    }

    #[test]
    fn clear_expired_takes_a_store() {
        assert_eq!(
            parse(args("clear-expired --store file:/tmp/s")).unwrap(),
            Command::ClearExpired(StoreChoice::File(Some("/tmp/s".into())), None)
        );
        assert!(parse(args("clear-expired")).is_err());
    }

    #[test]
    fn clear_expired_every_runs_in_the_background() {
        use std::time::Duration as StdDuration;
        for (text, every) in [
            ("500ms", StdDuration::from_millis(500)),
            ("60s", StdDuration::from_secs(60)),
            ("5m", StdDuration::from_secs(300)),
            ("1h", StdDuration::from_secs(3600)),
            ("90", StdDuration::from_secs(90)),
        ] {
            assert_eq!(
                parse(args(&format!(
                    "clear-expired --store memory --every {text}"
                )))
                .unwrap(),
                Command::ClearExpired(StoreChoice::Memory, Some(every)),
                "{text}"
            );
        }
        for bad in ["0s", "soon", "-5m", "1d"] {
            let error =
                parse(args(&format!("clear-expired --store memory --every {bad}"))).unwrap_err();
            assert!(error.contains("positive duration"), "{bad}: {error}");
        }
        let error = parse(args("--every 60s")).unwrap_err();
        assert!(error.contains("clear-expired"), "{error}");
    }

    #[test]
    fn hash_ids_flags_choose_the_hash() {
        let hash_ids = |line: &str| match parse(args(line)).unwrap() {
            Command::Serve(options) => options.hash_ids,
            other => panic!("not serve: {other:?}"),
        };
        assert_eq!(hash_ids(""), HashIds::Off);
        assert_eq!(hash_ids("--hash-ids"), HashIds::Sha256);
        assert_eq!(
            hash_ids("--hash-ids-key-env SESSION_KEY"),
            HashIds::KeyFromEnv("SESSION_KEY".into())
        );
        assert_eq!(
            hash_ids("--hash-ids-key-env SESSION_KEY --hash-ids"),
            HashIds::KeyFromEnv("SESSION_KEY".into()),
            "--hash-ids does not drop the key"
        );
        assert!(parse(args("--hash-ids-key-env")).is_err());
        assert!(USAGE.contains("--hash-ids-key-env VAR"), "{USAGE}");
    }

    #[test]
    fn cached_takes_a_cache_and_a_database() {
        let store = |text: &str| parse_store(text);
        assert_eq!(
            store("cached:redis://127.0.0.1:6379+postgres://postgres@127.0.0.1/test"),
            Ok(StoreChoice::Cached(
                Box::new(StoreChoice::Redis("redis://127.0.0.1:6379".into())),
                Box::new(StoreChoice::Postgres(
                    "postgres://postgres@127.0.0.1/test".into()
                )),
            ))
        );
        assert_eq!(
            store("cached:memory+postgres://u@h/db"),
            Ok(StoreChoice::Cached(
                Box::new(StoreChoice::Memory),
                Box::new(StoreChoice::Postgres("postgres://u@h/db".into())),
            ))
        );
        // A `+` in a password is not the separator.
        assert_eq!(
            store("cached:redis://:a+b@h:6379+postgres://u@h/db"),
            Ok(StoreChoice::Cached(
                Box::new(StoreChoice::Redis("redis://:a+b@h:6379".into())),
                Box::new(StoreChoice::Postgres("postgres://u@h/db".into())),
            ))
        );
        for bad in [
            "cached:",
            "cached:memory",
            "cached:memory+",
            "cached:mongo://x+memory",
        ] {
            let err = store(bad).unwrap_err();
            assert!(err.contains("cached:CACHE+DB"), "{bad}: {err}");
        }
        let err = store("cached:cached:memory+memory+memory").unwrap_err();
        assert!(err.contains("cannot hold another"), "{err}");
    }

    #[test]
    fn the_usage_states_the_body_limit() {
        assert_eq!(crate::app::MAX_BODY_BYTES, 65536);
        assert!(USAGE.contains("64 KiB (65536 bytes)"), "{USAGE}");
        assert!(USAGE.contains("413"), "{USAGE}");
    }

    #[test]
    fn bad_flags_say_what_to_type() {
        for (line, hint) in [
            ("--framework django", "rocket, warp, poem, axum or actix"),
            ("--store mongo://x", "memory, file"),
            ("--addr nowhere", "HOST:PORT"),
            ("--cookie-age soon", "whole seconds"),
            ("--cookie-secure maybe", "true or false"),
            ("--same-site sometimes", "lax, strict or none"),
            ("--cookie-name", "needs a value"),
            ("--cookie-name a;b", "not a valid cookie name"),
            ("--wat", "unknown argument"),
        ] {
            let error = parse(args(line)).unwrap_err();
            assert!(error.contains(hint), "{line}: {error}");
        }
    }
}
