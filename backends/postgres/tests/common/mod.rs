//! The PostgreSQL every test of this crate uses, with a message that says
//! how to start one when it is missing; throwaway servers and silent
//! listeners for the tests that break one on purpose.
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use session_core::time::OffsetDateTime;
use session_core::{Error, Record, SessionData, SessionId, SessionStore};
use session_store_postgres::{PostgresOptions, PostgresStore};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Executor, Postgres, Transaction};

/// `SESSION_TEST_POSTGRES_URL`, default the local server's `test` database.
pub(crate) fn url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// How to start the shared server, for failure messages.
pub(crate) const START_HINT: &str = "start it \
     (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) \
     or set SESSION_TEST_POSTGRES_URL";

/// A store on [`url`], table `public.sessions` (change it with `with_table`).
pub(crate) async fn connect() -> PostgresStore {
    connect_with(PostgresOptions::default()).await
}

/// [`connect`] with `options`.
pub(crate) async fn connect_with(options: PostgresOptions) -> PostgresStore {
    let url = url();
    PostgresStore::connect_with(&url, options)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {url} is unreachable ({}); {START_HINT}",
                e.report()
            )
        })
}

/// A plain sqlx pool on [`url`], for setting tables up by hand.
pub(crate) async fn admin() -> PgPool {
    let url = url();
    PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is unreachable ({e}); {START_HINT}"))
}

/// A schema name of its own: `prefix_` and 12 random characters.
pub(crate) fn fresh_schema(prefix: &str) -> String {
    format!("{prefix}_{}", &SessionId::generate().as_str()[..12]).to_lowercase()
}

/// Runs each statement on `pool`, panicking with the statement on failure.
pub(crate) async fn exec(pool: &PgPool, statements: &[String]) {
    for statement in statements {
        pool.execute(AssertSqlSafe(statement.clone()))
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// Drops `schema` and everything in it.
pub(crate) async fn drop_schema(pool: &PgPool, schema: &str) {
    exec(
        pool,
        &[format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")],
    )
    .await;
}

/// Holds an `ACCESS EXCLUSIVE` lock on `schema`.sessions until the
/// transaction is rolled back: every statement on the table waits.
pub(crate) async fn lock_sessions(pool: &PgPool, schema: &str) -> Transaction<'static, Postgres> {
    let mut lock = pool.begin().await.unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "LOCK TABLE \"{schema}\".sessions IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *lock)
    .await
    .unwrap();
    lock
}

/// A record with some data, live for an hour.
pub(crate) fn live_record() -> Record {
    Record::new(
        SessionId::generate(),
        SessionData::from_iter([("user".to_owned(), serde_json::json!(7))]),
        OffsetDateTime::now_utc() + session_core::time::Duration::hours(1),
    )
}

/// `call`'s outcome, and how long it took.
pub(crate) async fn timed<T>(call: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let outcome = call.await;
    (outcome, started.elapsed())
}

/// Each store operation, in turn, on `id` (`create` on a fresh ID, `save`
/// of an empty record live for an hour): its name, outcome and duration.
pub(crate) async fn every_operation(
    store: &PostgresStore,
    id: &SessionId,
) -> Vec<(&'static str, (Result<(), Error>, Duration))> {
    let record = Record::new(
        id.clone(),
        SessionData::new(),
        OffsetDateTime::now_utc() + session_core::time::Duration::hours(1),
    );
    let fresh = Record::new(SessionId::generate(), SessionData::new(), record.expires_at);
    vec![
        (
            "load",
            timed(async { store.load(id).await.map(drop) }).await,
        ),
        ("create", timed(store.create(&fresh)).await),
        ("save", timed(store.save(&record)).await),
        ("touch", timed(store.touch(id, record.expires_at)).await),
        ("delete", timed(store.delete(id)).await),
        (
            "clear_expired",
            timed(async { store.clear_expired().await.map(drop) }).await,
        ),
    ]
}

/// `load` in a task of its own, so that a panic comes back as an error
/// (and the test still drops its schema).
pub(crate) async fn load_in_task(
    store: &PostgresStore,
    id: &SessionId,
) -> Result<Result<Option<Record>, Error>, tokio::task::JoinError> {
    let (store, id) = (store.clone(), id.clone());
    tokio::spawn(async move { store.load(&id).await }).await
}

/// A port nothing listens on (the OS's pick, released at once).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free local port")
}

/// A TCP listener that the kernel completes connections for but nobody
/// ever reads from: a server that hangs after `accept`.
pub(crate) struct Silent {
    listener: TcpListener,
}

impl Silent {
    /// Listens on a free port.
    pub(crate) fn start() -> Self {
        Silent {
            listener: TcpListener::bind("127.0.0.1:0").expect("bind a silent listener"),
        }
    }

    /// Its port.
    pub(crate) fn port(&self) -> u16 {
        self.listener.local_addr().expect("its address").port()
    }
}

/// A listener whose accept queue is full: the kernel drops every further
/// SYN, so a connection attempt neither succeeds nor is refused (a host
/// behind a firewall that drops packets looks like this).
pub(crate) struct BlackHole {
    _listener: tokio::net::TcpListener,
    _filler: TcpStream,
    port: u16,
}

impl BlackHole {
    /// Listens on a free port with a backlog of 0 and fills it.
    pub(crate) fn start() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind");
        let listener = socket.listen(0).expect("listen with backlog 0");
        let port = listener.local_addr().expect("its address").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let filler = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
            .expect("the first connection fills the queue");
        // Check that the queue is full: a second connection must hang.
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
            "the kernel still completes connections to a full accept queue; \
             the black-hole tests need one that drops SYNs"
        );
        BlackHole {
            _listener: listener,
            _filler: filler,
            port,
        }
    }

    /// Its port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

/// Where the PostgreSQL binaries are: `/usr/local/bin` (the project
/// machines), else the newest `/usr/lib/postgresql/*/bin` (Debian).
fn pg_bin(name: &str) -> PathBuf {
    let local = Path::new("/usr/local/bin").join(name);
    if local.exists() {
        return local;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin").join(name))
        .filter(|path| path.exists())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "`{name}` was not found in /usr/local/bin or /usr/lib/postgresql/*/bin: install \
             PostgreSQL's server binaries (Debian: `apt-get install postgresql`) so the outage \
             tests can run throwaway servers"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root
/// (PostgreSQL refuses to run as root).
fn pg_command(name: &str) -> Command {
    let binary = pg_bin(name);
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(binary);
        command
    } else {
        Command::new(binary)
    }
}

/// A PostgreSQL of its own on a free port, in a temporary directory, trust
/// authentication, database `postgres`; stopped (immediate mode) when
/// dropped. Stops and starts keep the port and the data.
pub(crate) struct ThrowawayPg {
    port: u16,
    data: PathBuf,
    running: bool,
    _dir: tempfile::TempDir,
}

impl ThrowawayPg {
    /// Runs `initdb` and starts the server.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory for PostgreSQL");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("the data directory");
        if is_root() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod the temporary directory");
            let status = Command::new("chown")
                .arg("postgres")
                .arg(&data)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown postgres {}", data.display());
        }
        let output = pg_command("initdb")
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--no-instructions",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut server = ThrowawayPg {
            port: free_port(),
            data,
            running: false,
            _dir: dir,
        };
        server.restart();
        server
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Its port, the same across restarts.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Stops it in immediate mode (a crash, as far as clients can tell) and
    /// waits until the port refuses connections.
    pub(crate) fn stop(&mut self) {
        self.shutdown();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "port {} still answers after pg_ctl stop",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn shutdown(&mut self) {
        if !self.running {
            return;
        }
        // A stopped process handles no signal until continued.
        self.signal_all("CONT");
        let _ = pg_command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.running = false;
    }

    /// Starts it (again) on the same port and waits until it accepts
    /// connections.
    pub(crate) fn restart(&mut self) {
        assert!(!self.running, "already running");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        let output = pg_command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.join("log"))
            .args(["-w", "-t", "30", "-o", &options, "start"])
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl start");
        let log = std::fs::read_to_string(self.data.join("log")).unwrap_or_default();
        assert!(
            output.status.success(),
            "PostgreSQL on port {} did not start: {}{log}",
            self.port,
            String::from_utf8_lossy(&output.stderr)
        );
        self.running = true;
    }

    /// The postmaster's process ID and those of its children (the
    /// backends and helpers), read from `postmaster.pid` and `/proc`.
    fn pids(&self) -> Vec<u32> {
        let Ok(text) = std::fs::read_to_string(self.data.join("postmaster.pid")) else {
            return Vec::new();
        };
        let Some(postmaster) = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok())
        else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so split
            // after its closing parenthesis.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Sends `signal` (`STOP`, `CONT`) to the postmaster and every child
    /// of it: `STOP` makes a server that accepts TCP connections (the
    /// kernel does) and answers nothing.
    pub(crate) fn signal_all(&self, signal: &str) {
        for pid in self.pids() {
            // A helper that exited meanwhile is no error.
            let _ = Command::new("kill")
                .args([format!("-{signal}"), pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for ThrowawayPg {
    fn drop(&mut self) {
        self.shutdown();
    }
}
