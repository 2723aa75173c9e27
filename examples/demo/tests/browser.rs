//! Drives the demo page in headless Chromium, once per framework, as a
//! person would: visits, the cart, login (the cart is kept, the session
//! cookie changes), logout (everything cleared, the cookie gone). Saves a
//! screenshot of each run under `target/tmp/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs
//! them when run as root).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use session_core::{MemoryStore, SessionManager};

/// One browser at a time: the machine has two cores.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_port(addr: SocketAddr, what: &str) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not start listening on {addr} within 10 s");
}

async fn browser() -> (Driver, Client) {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "the browser test needs Debian's chromium and chromium-driver: \
         `apt-get install chromium chromium-driver` (scripts/test does it when run as root)"
    );
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), "chromedriver").await;
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1000,1200"
            ]
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("chromium starts under chromedriver");
    (driver, client)
}

async fn start(framework: &str) -> SocketAddr {
    let sessions = SessionManager::new(MemoryStore::new());
    let addr = match framework {
        "rocket" => {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            tokio::spawn(session_demo::serve::rocket(sessions, addr));
            addr
        }
        _ => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            match framework {
                "poem" => tokio::spawn(session_demo::serve::poem(sessions, listener)),
                "axum" => tokio::spawn(session_demo::serve_axum::axum(sessions, listener)),
                "actix" => tokio::spawn(session_demo::serve_actix::actix(sessions, listener)),
                _ => tokio::spawn(session_demo::serve::warp(sessions, listener)),
            };
            addr
        }
    };
    wait_for_port(addr, framework).await;
    addr
}

async fn text(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn session_cookie(client: &Client) -> Option<String> {
    client
        .get_named_cookie("sessionid")
        .await
        .ok()
        .map(|c| c.value().to_owned())
}

async fn click_through(framework: &str) {
    let _one = ONE_BROWSER.lock().await;
    let addr = start(framework).await;
    let (_driver, client) = browser().await;
    let home = format!("http://{addr}/");

    client.goto(&home).await.unwrap();
    assert_eq!(text(&client, "#visits").await, "1");
    client.goto(&home).await.unwrap();
    assert_eq!(
        text(&client, "#visits").await,
        "2",
        "{framework}: the counter after two visits"
    );

    client
        .find(Locator::Css("#item"))
        .await
        .unwrap()
        .select_by_value("kiwi")
        .await
        .unwrap();
    click(&client, "#add").await;
    assert_eq!(
        text(&client, "#cart li").await,
        "kiwi",
        "{framework}: the cart after adding"
    );
    let anonymous_cookie = session_cookie(&client)
        .await
        .expect("a session cookie after the first visit");

    client
        .find(Locator::Css("#user-name"))
        .await
        .unwrap()
        .send_keys("ada")
        .await
        .unwrap();
    click(&client, "#login").await;
    assert_eq!(
        text(&client, "#user").await,
        "ada",
        "{framework}: signed in"
    );
    assert_eq!(
        text(&client, "#cart li").await,
        "kiwi",
        "{framework}: the cart survives login"
    );
    let logged_in_cookie = session_cookie(&client)
        .await
        .expect("a session cookie after login");
    assert_ne!(
        logged_in_cookie, anonymous_cookie,
        "{framework}: login must rotate the session ID"
    );

    let shot = client.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("session-demo-{framework}.png"));
    std::fs::write(&path, shot).unwrap();

    click(&client, "#logout").await;
    text(&client, "#signed-out").await;
    assert_eq!(
        session_cookie(&client).await,
        None,
        "{framework}: logout must remove the cookie"
    );
    click(&client, "#home").await;
    text(&client, "#anonymous").await;
    text(&client, "#cart-empty").await;
    assert_eq!(
        text(&client, "#visits").await,
        "1",
        "{framework}: a fresh session after logout"
    );
    assert_ne!(
        session_cookie(&client).await,
        Some(logged_in_cookie),
        "{framework}: the old ID is not reused"
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poem_in_a_real_browser() {
    click_through("poem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_in_a_real_browser() {
    click_through("warp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_in_a_real_browser() {
    click_through("rocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_in_a_real_browser() {
    click_through("axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_in_a_real_browser() {
    click_through("actix").await;
}
