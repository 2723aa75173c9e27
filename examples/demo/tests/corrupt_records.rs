//! Records a store cannot decode, planted in the real PostgreSQL and Redis
//! servers, requested through every adapter: each answers 200 with an empty
//! session, on every request (no 500 loop, no closed connection, no panic
//! in the driver), a write gets a fresh ID, and the record is left in place.
//!
//! Before issue 9 a PostgreSQL expiry of `'infinity'` or in year 10000 made
//! sqlx panic inside the request: poem and warp closed the connection with
//! no response, rocket answered 500, on every request of that visitor.

mod common;

use std::net::SocketAddr;

use fred::prelude::LuaInterface;
use session_core::{SessionId, SessionManager, SessionStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FRAMEWORKS: [&str; 5] = ["poem", "warp", "rocket", "axum", "actix"];

/// Sends one request with `sessionid=<id>`; returns the status and the ID
/// a `Set-Cookie` hands out, if any. A closed connection without an answer
/// fails the test.
async fn request(addr: SocketAddr, method: &str, target: &str, id: &str) -> (u16, Option<String>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nCookie: sessionid={id}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {target}: no answer, got {response:?}"));
    let issued = response
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.trim().strip_prefix("sessionid="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .find(|value| !value.is_empty());
    (status, issued)
}

/// Three requests per planted record and framework: two reads (an empty
/// session, each time) and a write (a fresh ID).
async fn check_every_framework(store: impl SessionStore + Clone, planted: &[(&str, String)]) {
    for framework in FRAMEWORKS {
        let (addr, _server) = common::spawn(framework, SessionManager::new(store.clone()))
            .await
            .unwrap_or_else(|e| panic!("{framework}: {e}"));
        for (what, id) in planted {
            for round in 1..=2 {
                assert_eq!(
                    request(addr, "GET", "/probe/get?k=a", id).await.0,
                    200,
                    "{framework}, {what}: read {round}"
                );
            }
            let (status, issued) = request(addr, "POST", "/probe/set?k=a&v=1", id).await;
            assert_eq!(status, 200, "{framework}, {what}: a write");
            let issued = issued.unwrap_or_else(|| panic!("{framework}, {what}: no cookie"));
            assert_ne!(
                &issued, id,
                "{framework}, {what}: the corrupt record's ID was adopted"
            );
        }
    }
}

#[tokio::test]
async fn undecodable_postgres_rows_give_an_empty_session_through_every_adapter() {
    let url = common::postgres_url();
    let table = format!("corrupt_e2e_{}", std::process::id());
    let store = session_store_postgres::PostgresStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}; start it (scripts/services.sh)"))
        .with_table("public", &table)
        .unwrap();
    let sql = |q: String| sqlx::query(sqlx::AssertSqlSafe(q)).execute(store.pool());
    sql(format!("DROP TABLE IF EXISTS public.\"{table}\""))
        .await
        .unwrap();
    // The layout of earlier versions, without the constraints migrate()
    // now adds: rows written by hand or before the upgrade.
    sql(format!(
        "CREATE TABLE public.\"{table}\" (id text PRIMARY KEY, data text NOT NULL, \
         expires_at timestamptz NOT NULL, version bigint NOT NULL)"
    ))
    .await
    .unwrap();
    let rows = [
        ("expires_at infinity", "'{}'", "'infinity'", "0"),
        (
            "expires_at in year 10000",
            "'{}'",
            "'10000-01-01 00:00:00+00'",
            "0",
        ),
        (
            "a negative version",
            "'{}'",
            "now() + interval '1 hour'",
            "-1",
        ),
        (
            "data not an object",
            "'[1]'",
            "now() + interval '1 hour'",
            "0",
        ),
    ];
    let mut planted = Vec::new();
    for (what, data, expires_at, version) in rows {
        let id = SessionId::generate().as_str().to_owned();
        sql(format!(
            "INSERT INTO public.\"{table}\" VALUES ('{id}', {data}, {expires_at}, {version})"
        ))
        .await
        .unwrap();
        planted.push((what, id));
    }
    check_every_framework(store.clone(), &planted).await;
    let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM public.\"{table}\" WHERE id = ANY($1)"
    )))
    .bind(planted.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>())
    .fetch_one(store.pool())
    .await
    .unwrap();
    sql(format!("DROP TABLE public.\"{table}\"")).await.unwrap();
    assert_eq!(left, 4, "a read or a write deleted a corrupt row");
}

#[tokio::test]
async fn undecodable_redis_keys_give_an_empty_session_through_every_adapter() {
    let url = common::redis_url();
    let prefix = format!("corrupt-e2e-{}:", std::process::id());
    let store = session_store_redis::RedisStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url}: {e}; start it (scripts/services.sh)"))
        .with_prefix(prefix.clone());
    let kinds = [
        ("a list", "redis.call('RPUSH', KEYS[1], 'x')"),
        ("a hash", "redis.call('HSET', KEYS[1], 'f', 'v')"),
        (
            "a string that is no record",
            "redis.call('SET', KEYS[1], 'garbage')",
        ),
        (
            "a negative version",
            "redis.call('SET', KEYS[1], '{\"exp\":99999999999999,\"ver\":-1,\"data\":{}}')",
        ),
    ];
    let mut planted = Vec::new();
    for (what, script) in kinds {
        let id = SessionId::generate().as_str().to_owned();
        let _: () = store
            .pool()
            .eval(
                format!("{script} return nil"),
                vec![format!("{prefix}{id}")],
                Vec::<String>::new(),
            )
            .await
            .unwrap();
        planted.push((what, id));
    }
    check_every_framework(store.clone(), &planted).await;
    let left: i64 = store
        .pool()
        .eval(
            "local n = 0 for _, k in ipairs(KEYS) do n = n + redis.call('EXISTS', k) end \
             for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return n",
            planted
                .iter()
                .map(|(_, id)| format!("{prefix}{id}"))
                .collect::<Vec<_>>(),
            vec![format!("{prefix}*")],
        )
        .await
        .unwrap();
    assert_eq!(left, 4, "a read or a write deleted a corrupt key");
}
