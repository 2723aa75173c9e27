//! A real Redis Cluster of three masters on free local ports, started from
//! the installed `redis-server` and `redis-cli` and killed when dropped,
//! and what the cluster tests read from it: the masters, and the keys each
//! one holds.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fred::prelude::{ClientLike, Server, Value};
use fred::types::{ClusterHash, CustomCommand};
use session_store_redis::RedisStore;

const REDIS_SERVER: &str = "redis-server";
const REDIS_CLI: &str = "redis-cli";

/// How long the whole cluster may take to come up.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Three `redis-server --cluster-enabled yes` processes that
/// `redis-cli --cluster create` joined into one cluster (no replicas), in a
/// temporary directory, persistence off.
pub(crate) struct Cluster {
    ports: Vec<u16>,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts the three masters, creates the cluster and waits until every
    /// node says `cluster_state:ok`. Panics with what to install when a
    /// binary is missing, and with the server log when a node fails.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory for the cluster");
        let mut cluster = Cluster {
            ports: Vec::new(),
            children: Vec::new(),
            dir,
        };
        let deadline = Instant::now() + START_LIMIT;
        for _ in 0..3 {
            let port = cluster_port(&cluster.ports);
            let child = spawn_node(cluster.dir.path(), port);
            cluster.ports.push(port);
            cluster.children.push(child);
        }
        for i in 0..cluster.ports.len() {
            cluster.wait_for_ping(i, deadline);
        }
        cluster.create();
        cluster.wait_for_state_ok(deadline);
        cluster
    }

    /// `redis-cluster://127.0.0.1:P1?node=127.0.0.1:P2&node=127.0.0.1:P3`.
    pub(crate) fn url(&self) -> String {
        let (first, others) = self.ports.split_first().expect("three nodes");
        let nodes: Vec<String> = others
            .iter()
            .map(|p| format!("node=127.0.0.1:{p}"))
            .collect();
        format!("redis-cluster://127.0.0.1:{first}?{}", nodes.join("&"))
    }

    /// The ports of the three nodes, each a master.
    pub(crate) fn ports(&self) -> &[u16] {
        &self.ports
    }

    fn wait_for_ping(&mut self, i: usize, deadline: Instant) {
        let port = self.ports[i];
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut reply = [0u8; 16];
                if stream.write_all(b"PING\r\n").is_ok()
                    && let Ok(n) = stream.read(&mut reply)
                    && reply.get(..n) == Some(b"+PONG\r\n".as_slice())
                {
                    return;
                }
            }
            if let Some(status) = self.children[i].try_wait().ok().flatten() {
                panic!(
                    "cluster node on port {port} exited at start ({status}); its log:\n{}",
                    self.log(port)
                );
            }
            assert!(
                Instant::now() < deadline,
                "cluster node on port {port} did not answer PING within {START_LIMIT:?}; its log:\n{}",
                self.log(port)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn create(&self) {
        let mut args = vec!["--cluster".to_owned(), "create".to_owned()];
        args.extend(self.ports.iter().map(|p| format!("127.0.0.1:{p}")));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"].map(str::to_owned));
        let output = cli(&args);
        assert!(
            output.status.success(),
            "`redis-cli {}` failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn wait_for_state_ok(&self, deadline: Instant) {
        for &port in &self.ports {
            loop {
                let output = cli(&[
                    "-p".to_owned(),
                    port.to_string(),
                    "cluster".into(),
                    "info".into(),
                ]);
                let info = String::from_utf8_lossy(&output.stdout).into_owned();
                if info.lines().any(|l| l.trim() == "cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster node on port {port} is not `cluster_state:ok` within \
                     {START_LIMIT:?}; `cluster info` says:\n{info}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn log(&self, port: u16) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("redis-{port}.log")))
            .unwrap_or_else(|e| format!("(no log: {e})"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free port `P` whose cluster bus port `P + 10000` is free too (Redis
/// needs both), not in `taken`.
fn cluster_port(taken: &[u16]) -> u16 {
    for _ in 0..200 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let port = listener.local_addr().expect("its address").port();
        let Some(bus) = port.checked_add(10_000) else {
            continue;
        };
        let free_bus = TcpListener::bind(("127.0.0.1", bus)).is_ok();
        let clash = taken
            .iter()
            .any(|&t| t == port || t.checked_add(10_000) == Some(port) || t == bus);
        if free_bus && !clash {
            return port;
        }
    }
    panic!("no free local port P with P + 10000 free for a cluster node");
}

fn spawn_node(dir: &Path, port: u16) -> Child {
    let p = port.to_string();
    let conf = dir.join(format!("nodes-{port}.conf"));
    let log = dir.join(format!("redis-{port}.log"));
    let args: Vec<&std::ffi::OsStr> = vec![
        "--port".as_ref(),
        p.as_ref(),
        "--bind".as_ref(),
        "127.0.0.1".as_ref(),
        "--cluster-enabled".as_ref(),
        "yes".as_ref(),
        "--cluster-config-file".as_ref(),
        conf.as_os_str(),
        "--dir".as_ref(),
        dir.as_os_str(),
        "--save".as_ref(),
        "".as_ref(),
        "--appendonly".as_ref(),
        "no".as_ref(),
        "--daemonize".as_ref(),
        "no".as_ref(),
        "--loglevel".as_ref(),
        "warning".as_ref(),
        "--logfile".as_ref(),
        log.as_os_str(),
    ];
    Command::new(REDIS_SERVER)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not start `{REDIS_SERVER}` ({e}): the cluster tests run a throwaway \
                 three-master cluster; install Redis (Debian/Ubuntu: \
                 `apt-get install redis-server redis-tools`)"
            )
        })
}

fn cli(args: &[String]) -> Output {
    Command::new(REDIS_CLI)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "could not run `{REDIS_CLI}` ({e}): the cluster tests create their cluster \
                 with it; install it (Debian/Ubuntu: `apt-get install redis-tools`)"
            )
        })
}

/// Runs `command` with `args` on one node of the store's cluster.
async fn on_node(
    store: &RedisStore,
    node: &Server,
    command: &'static str,
    args: Vec<Value>,
) -> Value {
    store
        .pool()
        .next()
        .with_cluster_node(node.clone())
        .custom(
            CustomCommand::new_static(command, ClusterHash::Random, false),
            args,
        )
        .await
        .unwrap_or_else(|e| panic!("{command} on {node}: {e}"))
}

/// The masters of the store's cluster, from `CLUSTER NODES` (any node
/// answers for all): the nodes a key can live on.
pub(crate) async fn masters(store: &RedisStore) -> Vec<Server> {
    let nodes = store
        .pool()
        .custom::<String, Value>(
            CustomCommand::new_static("CLUSTER NODES", ClusterHash::Random, false),
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("CLUSTER NODES: {e}"));
    let mut masters: Vec<Server> = nodes
        .lines()
        .filter_map(|line| {
            // <id> <ip:port@cport[,hostname]> <flags> <master-id> ...
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let flags = fields.next()?;
            let is_master = flags.split(',').any(|f| f == "master")
                && !flags.split(',').any(|f| f == "fail" || f == "noaddr");
            let host_port = address.split('@').next()?;
            let (host, port) = host_port.rsplit_once(':')?;
            if !is_master {
                return None;
            }
            Some(Server::new(host, port.parse().ok()?))
        })
        .collect();
    masters.sort_by_key(ToString::to_string);
    masters
}

/// Every key matching `pattern` (a `SCAN MATCH` glob) on each master, by
/// master: `SCAN` sees one node's keys only, so a cluster-wide listing
/// scans every master.
pub(crate) async fn keys_by_master(
    store: &RedisStore,
    pattern: &str,
) -> Vec<(Server, Vec<String>)> {
    let mut all = Vec::new();
    for node in masters(store).await {
        let mut keys = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let page = on_node(
                store,
                &node,
                "SCAN",
                vec![
                    cursor.into(),
                    "MATCH".into(),
                    pattern.into(),
                    "COUNT".into(),
                    1000.into(),
                ],
            )
            .await;
            let (next, found): (String, Vec<String>) = page
                .convert()
                .unwrap_or_else(|e| panic!("SCAN on {node} answered oddly: {e}"));
            keys.extend(found);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        all.push((node, keys));
    }
    all
}

/// Deletes every key that starts with `prefix` on every master, one `DEL`
/// per key (keys of different sessions live on different slots, so one
/// multi-key `DEL` would be refused with `CROSSSLOT`). Returns how many.
pub(crate) async fn delete_prefixed(store: &RedisStore, prefix: &str) -> usize {
    let pattern = glob_escape(prefix) + "*";
    let mut deleted = 0;
    for (node, keys) in keys_by_master(store, &pattern).await {
        for key in keys {
            let n: i64 = on_node(store, &node, "DEL", vec![key.into()])
                .await
                .convert()
                .unwrap_or_else(|e| panic!("DEL on {node}: {e}"));
            deleted += usize::try_from(n).unwrap_or(0);
        }
    }
    deleted
}

/// `text` with the glob characters of `SCAN MATCH` escaped.
pub(crate) fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
