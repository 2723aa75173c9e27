//! The Redis every test of this crate uses, with a message that says how to
//! start one when it is missing, throwaway servers for the tests that
//! break one on purpose, and a throwaway cluster ([`cluster`]).
// Each test file uses a different part of this module.
#![allow(dead_code)]

pub(crate) mod cluster;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fred::prelude::{ClientLike, Error as FredError, Value};
use fred::types::{ClusterHash, CustomCommand, FromValue};
use session_core::SessionId;
use session_store_redis::RedisStore;

/// A store on `SESSION_TEST_REDIS_URL` (default the local Redis) whose keys
/// start with `prefix`.
pub(crate) async fn store(prefix: impl Into<String>) -> RedisStore {
    let url = std::env::var("SESSION_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    RedisStore::connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Redis at {url} is unreachable ({}); start it with \
                 `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` \
                 or set SESSION_TEST_REDIS_URL",
                e.report()
            )
        })
        .with_prefix(prefix)
}

/// A [`store`] with a key prefix of its own: `{name}_` and 12 random
/// characters.
pub(crate) async fn fresh_store(name: &str) -> RedisStore {
    store(format!("{name}_{}:", &SessionId::generate().as_str()[..12])).await
}

/// Runs a raw command on the store's pool, as another program sharing the
/// server would, panicking with the command's name on failure.
pub(crate) async fn raw<R, T>(store: &RedisStore, command: &'static str, args: Vec<T>) -> R
where
    R: FromValue,
    T: TryInto<Value> + Send,
    T::Error: Into<FredError> + Send,
{
    store
        .pool()
        .custom(
            CustomCommand::new_static(command, ClusterHash::FirstKey, false),
            args,
        )
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"))
}

/// A port nothing listens on (the OS's pick, released at once).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free local port")
}

const REDIS_SERVER: &str = "redis-server";

/// A `redis-server` of its own on a free port, in a temporary directory,
/// persistence off; killed when dropped.
pub(crate) struct Throwaway {
    port: u16,
    extra: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Throwaway {
    /// Starts one with `extra` arguments (e.g. `--requirepass`).
    pub(crate) fn start(extra: &[&str]) -> Self {
        let mut server = Throwaway {
            port: free_port(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            dir: tempfile::tempdir().expect("a temporary directory for redis-server"),
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on, the same across restarts.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Its process ID, while it runs.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is not running").id()
    }

    /// Kills it (SIGKILL) and waits until the port refuses connections.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "port {} still answers after kill",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts it (again) on the same port and waits until it answers PING.
    pub(crate) fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.port.to_string();
        let mut args = vec![
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ];
        args.extend(self.extra.iter().map(String::as_str));
        let child = Command::new(REDIS_SERVER)
            .args(&args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start `{REDIS_SERVER}` ({e}): install it \
                     (Debian: `apt-get install redis-server`) so the outage tests can run \
                     throwaway servers"
                )
            });
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut reply = [0u8; 64];
                if stream.write_all(b"PING\r\n").is_ok()
                    && let Ok(n) = stream.read(&mut reply)
                    && n > 0
                {
                    // +PONG, or -NOAUTH from a server with a password: it runs.
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the server process.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("could not run `kill`");
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A stopped process ignores SIGKILL only until continued.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP listener that accepts connections and never answers: a server
/// that hangs, a half-dead proxy. Holds every connection it accepts until
/// dropped.
pub(crate) struct Silent {
    port: u16,
    _listener: std::thread::JoinHandle<()>,
}

impl Silent {
    /// Listens on a free port.
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a silent listener");
        let port = listener.local_addr().expect("its address").port();
        let handle = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => held.push(stream),
                    Err(_) => break,
                }
            }
        });
        Silent {
            port,
            _listener: handle,
        }
    }

    /// `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}
