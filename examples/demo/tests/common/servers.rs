//! The harness of the outage, load and soak tests: throwaway Redis and
//! PostgreSQL servers that a test may kill and restart, the demo app with a
//! handle on its server task, an HTTP client with a cookie jar, a watch on
//! panics in the app's threads, and the stores with their deadlines.
//!
//! Throwaway servers run from the installed binaries on free loopback
//! ports in temporary directories, never on the shared 6379/5432, and are
//! killed (and their directories removed) on drop.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use session_core::{Config, SessionManager, SessionStore};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------
// Ports, directories, processes
// ---------------------------------------------------------------------------

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A directory `<tmp>/<prefix>…`, removed on drop, that every user may
/// enter (the PostgreSQL server runs as `postgres` inside it).
fn temp_dir(prefix: &str) -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod a temporary directory");
    dir
}

/// Sends `signal` (`KILL`, `STOP`, `CONT`) to `pids` with kill(1).
fn signal(signal: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    // kill(1) fails for a pid that exited meanwhile: nothing left to do
    // for that one, so its exit status does not matter.
    let _exit = Command::new("kill")
        .arg(format!("-{signal}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status()
        .expect("run kill(1)");
}

/// The processes whose parent is `parent`, from /proc.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and ')'.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Whether `pid` still runs (a zombie has already released everything).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

// ---------------------------------------------------------------------------
// Throwaway Redis
// ---------------------------------------------------------------------------

/// A `redis-server` of our own with persistence off (`--save ''
/// --appendonly no`): a kill loses every key, as it does in production with
/// that setting.
#[derive(Debug)]
pub struct Redis {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
    /// Times the server was killed.
    pub kills: u32,
}

impl Redis {
    /// Starts one on a free port and waits until it answers PING.
    pub async fn start() -> Redis {
        let mut redis = Redis {
            dir: temp_dir("session-demo-redis-"),
            port: free_port(),
            child: None,
            kills: 0,
        };
        redis.spawn().await;
        redis
    }

    async fn spawn(&mut self) {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!(
                    "redis-server is not installed: install the Debian package redis-server \
                     (apt-get install redis-server); the outage tests start their own instance"
                )
            });
        let log = self.dir.path().join("redis.log");
        let child = Command::new(binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.pong().await {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "redis-server on port {} exited with {status}:\n{}",
                    self.port,
                    tail(&log)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s:\n{}",
            self.port,
            tail(&log)
        );
    }

    async fn pong(&self) -> bool {
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        if stream.write_all(b"PING\r\n").await.is_err() {
            return false;
        }
        let mut reply = [0u8; 7];
        matches!(
            tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut reply)).await,
            Ok(Ok(_))
        ) && &reply == b"+PONG\r\n"
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as the OOM killer or a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.kills += 1;
        }
    }

    /// SIGSTOP: the port stays open and the kernel still accepts
    /// connections, but nothing answers (a hung server, a partition).
    pub fn freeze(&mut self) {
        if let Some(child) = &self.child {
            signal("STOP", &[child.id()]);
        }
    }

    /// SIGCONT after [`Redis::freeze`].
    pub fn thaw(&mut self) {
        if let Some(child) = &self.child {
            signal("CONT", &[child.id()]);
        }
    }

    /// Starts it again on the same port (empty: persistence is off).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// Throwaway PostgreSQL
// ---------------------------------------------------------------------------

/// A PostgreSQL cluster of our own (initdb in a temporary directory, the
/// `postgres` server on a free port, trust authentication, run as the
/// `postgres` user when the tests run as root). `fsync=off` only risks data
/// on an operating-system crash; a killed server still keeps every
/// committed transaction (the WAL is in the kernel's page cache).
#[derive(Debug)]
pub struct Postgres {
    dir: TempDir,
    port: u16,
    user: Option<(u32, u32)>,
    child: Option<Child>,
    /// The backends stopped by [`Postgres::freeze`].
    frozen: Vec<u32>,
    /// Times the server was killed.
    pub kills: u32,
}

/// `postgres`'s uid and gid, from /etc/passwd.
fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL refuses to run as root and there is no `postgres` user: \
                 install the Debian package postgresql (it creates the user)"
            )
        })
}

fn pg_binary(name: &str) -> PathBuf {
    let local = Path::new("/usr/local/bin").join(name);
    if local.exists() {
        return local;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| Some(e.ok()?.path().join("bin").join(name)))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        p.components()
            .nth(4)
            .and_then(|c| c.as_os_str().to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().unwrap_or_else(|| {
        panic!(
            "the PostgreSQL server binary {name} is not installed: install the Debian package \
             postgresql (apt-get install postgresql); the outage tests start their own instance"
        )
    })
}

impl Postgres {
    /// Creates a cluster, starts it on a free port and waits until it
    /// answers a query.
    pub async fn start() -> Postgres {
        let dir = temp_dir("session-demo-postgres-");
        let user = is_root().then(postgres_user);
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("create the data directory");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
            std::os::unix::fs::chown(&data, Some(uid), Some(gid)).expect("chown");
        }
        let initdb = {
            let mut command = Command::new(pg_binary("initdb"));
            command
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--no-sync"])
                .args(["--locale=C", "--encoding=UTF8"])
                .stdin(Stdio::null());
            if let Some((uid, gid)) = user {
                command.uid(uid).gid(gid);
            }
            command
        };
        let output = tokio::task::spawn_blocking(move || {
            let mut initdb = initdb;
            initdb.output()
        })
        .await
        .expect("initdb task")
        .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut postgres = Postgres {
            dir,
            port: free_port(),
            user,
            child: None,
            frozen: Vec::new(),
            kills: 0,
        };
        postgres.spawn().await;
        postgres
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("open the server log");
        let mut command = Command::new(pg_binary("postgres"));
        command
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "max_connections=200", "-c", "shared_buffers=32MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        self.child = Some(command.spawn().expect("spawn postgres"));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if self.answers().await {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "postgres on port {} exited with {status}:\n{}",
                    self.port,
                    tail(&self.log())
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "postgres on port {} did not answer within 30 s:\n{}",
            self.port,
            tail(&self.log())
        );
    }

    async fn answers(&self) -> bool {
        use sqlx::Connection;
        let Ok(Ok(mut connection)) = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::PgConnection::connect(&self.url()),
        )
        .await
        else {
            return false;
        };
        let ok = sqlx::query("SELECT 1")
            .execute(&mut connection)
            .await
            .is_ok();
        let _ = connection.close().await;
        ok
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// SIGKILL to the server and every backend, as a machine crash or the
    /// OOM killer would: the postmaster is stopped first so that it forks
    /// no new backend, then all of them are killed, and we wait until
    /// they are gone (a restart needs the shared memory released).
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let postmaster = child.id();
        signal("STOP", &[postmaster]);
        let backends = children_of(postmaster);
        let _ = child.kill();
        let _ = child.wait();
        signal("KILL", &backends);
        let started = Instant::now();
        while backends.iter().any(|&pid| running(pid)) && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kills += 1;
    }

    /// SIGSTOP to the server and every backend: the port stays open and
    /// the kernel still accepts connections, but nothing answers (a hung
    /// server, a partition).
    pub fn freeze(&mut self) {
        if let Some(child) = &self.child {
            let postmaster = child.id();
            signal("STOP", &[postmaster]);
            self.frozen = children_of(postmaster);
            signal("STOP", &self.frozen);
        }
    }

    /// SIGCONT after [`Postgres::freeze`].
    pub fn thaw(&mut self) {
        signal("CONT", &std::mem::take(&mut self.frozen));
        if let Some(child) = &self.child {
            signal("CONT", &[child.id()]);
        }
    }

    /// Starts it again on the same port and data directory (crash
    /// recovery replays the WAL) and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// The app, with its server task
// ---------------------------------------------------------------------------

/// The demo app serving one framework on a loopback port.
#[derive(Debug)]
pub struct App {
    /// `poem`, `warp`, `rocket` or `axum`.
    pub framework: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl App {
    /// Starts `framework` over `store` with `config` (the demo's
    /// `serve::*`, spawned on the current runtime).
    pub async fn start(
        framework: &'static str,
        store: Arc<dyn SessionStore>,
        config: Config,
    ) -> App {
        let sessions = SessionManager::new(store)
            .with_config(config)
            .expect("a valid session config");
        let (addr, task) = super::spawn(framework, sessions)
            .await
            .unwrap_or_else(|e| panic!("the demo app did not start: {e}"));
        App {
            framework,
            addr,
            task,
        }
    }

    /// Whether the server task still runs (it ends only if it failed or
    /// panicked).
    pub fn alive(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------

/// A response.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The probe's `{"value": n}` as an integer.
    pub fn value(&self) -> Option<i64> {
        self.json().get("value")?.as_i64()
    }
}

/// A request that got no HTTP answer: refused, reset, closed before a
/// complete response, or no answer within the client's timeout.
#[derive(Debug, Clone)]
pub struct NoAnswer {
    /// What happened.
    pub what: String,
    /// How long it took to find out.
    pub elapsed: Duration,
}

/// A visitor: its own cookie jar (for the session cookie), and either one
/// kept-alive connection or a new connection per request.
#[derive(Debug, Clone)]
pub struct Client {
    http: HyperClient<HttpConnector, Empty<Bytes>>,
    base: String,
    cookie_name: String,
    jar: Option<String>,
    close: bool,
    timeout: Duration,
}

impl Client {
    /// A visitor of `addr` that keeps its connection alive between
    /// requests (the load and soak tests).
    pub fn keep_alive(addr: SocketAddr) -> Client {
        Client::build(addr, false)
    }

    /// A visitor of `addr` that opens a new connection for every request
    /// and asks the server to close it (`Connection: close`), so that each
    /// request proves on its own that the server answers.
    pub fn one_shot(addr: SocketAddr) -> Client {
        Client::build(addr, true)
    }

    fn build(addr: SocketAddr, close: bool) -> Client {
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(if close { 0 } else { 1 })
            .build_http();
        Client {
            http,
            base: format!("http://{addr}"),
            cookie_name: "sessionid".to_owned(),
            jar: None,
            close,
            timeout: Duration::from_secs(60),
        }
    }

    /// Gives up on a request after `timeout` (default 60 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// The session cookie in the jar.
    pub fn cookie(&self) -> Option<&str> {
        self.jar.as_deref()
    }

    /// Empties the jar: the next request comes from a new visitor.
    pub fn forget_cookie(&mut self) {
        self.jar = None;
    }

    /// The same visitor (same cookie) on a new connection per request.
    pub fn one_shot_copy(&self) -> Client {
        let mut copy = self.clone();
        copy.close = true;
        copy.http = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http();
        copy
    }

    /// GET with the jar.
    pub async fn get(&mut self, target: &str) -> Result<Answer, NoAnswer> {
        self.send("GET", target).await
    }

    /// POST (empty body) with the jar.
    pub async fn post(&mut self, target: &str) -> Result<Answer, NoAnswer> {
        self.send("POST", target).await
    }

    /// Sends a request with the jar's cookie and updates the jar from the
    /// answer's `Set-Cookie` (a `Max-Age=0` removes it).
    pub async fn send(&mut self, method: &str, target: &str) -> Result<Answer, NoAnswer> {
        let started = Instant::now();
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{target}", self.base));
        if let Some(value) = &self.jar {
            request = request.header("cookie", format!("{}={value}", self.cookie_name));
        }
        if self.close {
            request = request.header("connection", "close");
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .expect("a valid request");
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| {
                let mut what = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    what.push_str(": ");
                    what.push_str(&cause.to_string());
                    source = cause.source();
                }
                what
            })?;
            let status = response.status().as_u16();
            let cookies: Vec<String> = response
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body cut short: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, cookies, body))
        };
        let (status, cookies, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(parts)) => parts,
            Ok(Err(what)) => {
                return Err(NoAnswer {
                    what: format!("{method} {target}: {what}"),
                    elapsed: started.elapsed(),
                });
            }
            Err(_) => {
                return Err(NoAnswer {
                    what: format!("{method} {target}: no answer within {:?}", self.timeout),
                    elapsed: started.elapsed(),
                });
            }
        };
        for raw in &cookies {
            let pair = raw.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if name.trim() != self.cookie_name {
                continue;
            }
            let removal = raw.split(';').skip(1).any(|attribute| {
                attribute
                    .trim()
                    .to_ascii_lowercase()
                    .strip_prefix("max-age=")
                    .and_then(|age| age.parse::<i64>().ok())
                    .is_some_and(|age| age <= 0)
            });
            self.jar = (!removal && !value.trim().is_empty()).then(|| value.trim().to_owned());
        }
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            elapsed: started.elapsed(),
        })
    }
}

// ---------------------------------------------------------------------------
// Panics, runtimes, figures
// ---------------------------------------------------------------------------

static PANICS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Records every panic of the process (thread name and message) before the
/// default hook prints it, so a test can prove that nothing panicked in the
/// app's threads, even where a framework catches the panic.
pub fn watch_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            PANICS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((thread, info.to_string()));
            default(info);
        }));
    });
}

/// The panics seen so far in threads whose name starts with `prefix`.
pub fn panics_in(prefix: &str) -> Vec<String> {
    PANICS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter(|(thread, _)| thread.starts_with(prefix))
        .map(|(thread, message)| format!("[{thread}] {message}"))
        .collect()
}

/// A multi-threaded runtime whose threads are all named `name`, so that
/// [`panics_in`] can tell this test's app threads from another's.
pub fn runtime(name: &str) -> tokio::runtime::Runtime {
    watch_panics();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("build a runtime")
}

/// Latency figures of a set of requests, in constant memory (a soak of
/// millions of requests must not grow the process it measures): a
/// histogram with 16 buckets per power of two of microseconds (within
/// about 4 %), the exact maximum and the count.
#[derive(Debug, Clone)]
pub struct Latencies {
    buckets: Vec<u64>,
    count: u64,
    max: Duration,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            buckets: vec![0; 16 * 64],
            count: 0,
            max: Duration::ZERO,
        }
    }
}

/// The bucket of a latency of `us` microseconds.
fn bucket(us: u64) -> usize {
    if us < 16 {
        return us as usize;
    }
    let exponent = 63 - us.leading_zeros() as usize; // at least 4
    let mantissa = ((us >> (exponent - 4)) & 15) as usize;
    16 * (exponent - 3) + mantissa
}

/// The smallest latency (microseconds) of bucket `index`.
fn bucket_floor(index: usize) -> u64 {
    if index < 16 {
        return index as u64;
    }
    let exponent = index / 16 + 3;
    let mantissa = (index % 16) as u64;
    (16 + mantissa) << (exponent - 4)
}

impl Latencies {
    /// Adds one.
    pub fn push(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let index = bucket(us).min(self.buckets.len() - 1);
        self.buckets[index] += 1;
        self.count += 1;
        self.max = self.max.max(latency);
    }

    /// Adds all of `other`'s.
    pub fn extend(&mut self, other: &Latencies) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    /// How many.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// The `p`-th percentile (0 to 100), to within a bucket; zero when
    /// empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.count - 1) as f64).round() as u64;
        let mut seen = 0;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen > rank {
                return Duration::from_micros(bucket_floor(index)).min(self.max);
            }
        }
        self.max
    }

    /// The largest, zero when empty.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// `p50 .. p99 .. max` in milliseconds.
    pub fn summary(&self) -> String {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.max())
        )
    }
}

/// A duration in milliseconds, for printing.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------
// Stores with deadlines, and cleaning up the shared servers
// ---------------------------------------------------------------------------

/// A Redis store on `url` with keys under `prefix`, every wait bounded by
/// `deadline` (connect and command timeouts) and reconnecting every
/// 50 ms to `deadline / 2` when the server is lost; returns it with the
/// deadline that bounds each of its calls.
pub async fn redis_store(
    url: &str,
    prefix: &str,
    deadline: Duration,
) -> Result<(session_store_redis::RedisStore, Duration), session_core::Error> {
    let options = session_store_redis::RedisOptions::default()
        .with_connect_timeout(deadline)
        .with_command_timeout(deadline)
        .with_reconnect_backoff(Duration::from_millis(50), deadline / 2);
    let store = session_store_redis::RedisStore::connect_with(url, options).await?;
    Ok((store.with_prefix(prefix.to_owned()), deadline))
}

/// A PostgreSQL store on `url` using `public.<table>` (migrated), each
/// call bounded by `deadline`: half of it to get a connection (opening one
/// included), half for the statement; returns it with that deadline.
pub async fn postgres_store(
    url: &str,
    table: &str,
    deadline: Duration,
) -> Result<(session_store_postgres::PostgresStore, Duration), session_core::Error> {
    let half = deadline / 2;
    let options = session_store_postgres::PostgresOptions::default()
        .with_connect_timeout(half)
        .with_acquire_timeout(half)
        .with_statement_timeout(half);
    let store = session_store_postgres::PostgresStore::connect_with(url, options)
        .await?
        .with_table("public", table)?;
    store.migrate().await?;
    Ok((store, deadline))
}

/// How many keys start with `prefix` on the Redis at `url`.
pub async fn redis_count(store: &session_store_redis::RedisStore, prefix: &str) -> i64 {
    use fred::prelude::LuaInterface;
    store
        .pool()
        .eval(
            "return #redis.call('KEYS', ARGV[1])",
            Vec::<String>::new(),
            vec![format!("{prefix}*")],
        )
        .await
        .expect("count keys")
}

/// Deletes the keys starting with `prefix`; says how many.
pub async fn redis_delete_prefix(store: &session_store_redis::RedisStore, prefix: &str) -> i64 {
    use fred::prelude::LuaInterface;
    store
        .pool()
        .eval(
            "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
             redis.call('DEL', k) n = n + 1 end return n",
            Vec::<String>::new(),
            vec![format!("{prefix}*")],
        )
        .await
        .expect("delete keys")
}

/// How many rows `public.<table>` holds.
pub async fn postgres_count(store: &session_store_postgres::PostgresStore, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM public.\"{table}\""
    )))
    .fetch_one(store.pool())
    .await
    .expect("count rows")
}

/// Drops `public.<table>`.
pub async fn postgres_drop(store: &session_store_postgres::PostgresStore, table: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS public.\"{table}\""
    )))
    .execute(store.pool())
    .await
    .expect("drop the table");
}
