//! The store behind Redis Sentinel, through the documented
//! `redis-sentinel://SENTINEL:PORT?sentinelServiceName=NAME` URL: a
//! throwaway master and a throwaway sentinel that monitors it, both of the
//! test's own.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use session_core::time::{self, OffsetDateTime};
use session_core::{Record, SessionData, SessionId, SessionStore};
use session_store_redis::RedisStore;

mod common;

/// A `redis-server --sentinel` monitoring `127.0.0.1:master` as
/// `mymaster`, with a quorum of 1; killed when dropped.
struct Sentinel {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    fn start(master: u16) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory for the sentinel");
        let port = common::free_port();
        let conf = dir.path().join("sentinel.conf");
        // Sentinel rewrites its config file, so it must be its own.
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor mymaster 127.0.0.1 {master} 1\n",
                dir.path().display()
            ),
        )
        .expect("write sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start `redis-server --sentinel` ({e}): install Redis \
                     (Debian/Ubuntu: `apt-get install redis-server`)"
                )
            });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the sentinel on port {port} did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Sentinel {
            port,
            child,
            _dir: dir,
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_sentinel_url_reaches_the_master_it_names() {
    let master = common::Throwaway::start(&[]);
    let sentinel = Sentinel::start(master.port());
    let url = format!(
        "redis-sentinel://127.0.0.1:{}?sentinelServiceName=mymaster",
        sentinel.port
    );
    let prefix = format!("sentinel_{}:", &SessionId::generate().as_str()[..12]);
    let store = RedisStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {}", e.report()))
        .with_prefix(&prefix);

    let id = SessionId::generate();
    let mut data = SessionData::new();
    data.insert("n".into(), 1.into());
    let record = Record::new(
        id.clone(),
        data,
        OffsetDateTime::now_utc() + time::Duration::hours(1),
    );
    store.create(&record).await.unwrap();
    store.save(&record).await.unwrap();

    // The write went to the master itself, not to the sentinel.
    let direct = RedisStore::connect(&master.url())
        .await
        .unwrap()
        .with_prefix(&prefix);
    let loaded = direct
        .load(&id)
        .await
        .unwrap()
        .expect("the master should hold the session written through the sentinel");
    assert_eq!(
        loaded.version,
        record.version + 1,
        "the save did not reach the master"
    );
    store.delete(&id).await.unwrap();
    assert!(direct.load(&id).await.unwrap().is_none());
}
