//! Hostile requests, sent as raw bytes over TCP (HTTP clients refuse to
//! send most of them) to the demo app behind each adapter (poem, warp,
//! rocket) over `MemoryStore`:
//!
//! - Cookie headers of every malformed session ID shape, huge and numerous
//!   cookies, control bytes and invalid UTF-8: never a 5xx (the HTTP layer
//!   may refuse a request it cannot parse with 400 or 431), never a panic
//!   (every request gets an answer, the server still answers afterwards and
//!   no panic is seen on a server thread), never an adopted ID (a write
//!   answers with a fresh ID that appears nowhere in the request, and the
//!   store never holds the attacker's ID), never a peek into a real session
//!   through a mangled copy of its ID;
//! - a real session survives hostile neighbours in the Cookie header;
//! - request bodies above 64 KiB are answered 413 at once, whether the
//!   `Content-Length` announces them or a chunked body passes the limit,
//!   and without waiting for the rest of the body.
//!
//! `no_ids_in_logs.rs` includes this file as a module to replay the
//! hostile requests under its log capture.

// Resolves to tests/common/mod.rs, from this file's directory, both when
// this file is the test crate and when `no_ids_in_logs.rs` includes it.
pub mod common;

use std::net::SocketAddr;
use std::time::Duration;

use session_conformance::ServerSpec;
use session_core::{Config, SessionId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The frameworks of the demo.
pub const FRAMEWORKS: [&str; 5] = ["poem", "warp", "rocket", "axum", "actix"];

/// How long one exchange may take before it counts as no answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The demo's body limit (`session_demo::app::MAX_BODY_BYTES`), restated so
/// a change of the constant is a visible change of this test.
const LIMIT: usize = 64 * 1024;

/// A well-formed ID the server never issued: the attacker's choice.
pub const ATTACKER_ID: &str = "attackerchosenid0123456789abcdef";

// ---------------------------------------------------------------------------
// Servers and panics
// ---------------------------------------------------------------------------

/// Starts the demo app behind `framework` over a fresh `MemoryStore`.
pub async fn start(framework: &str) -> SocketAddr {
    let spec = ServerSpec {
        config: Config::default(),
        namespace: "hostile".to_owned(),
    };
    common::start(framework, common::memory(&spec), spec)
        .await
        .unwrap_or_else(|e| panic!("{framework} did not start: {e}"))
}

/// How many panics the runtime's worker threads, where the servers run (the
/// test bodies run on their own threads), have had since
/// [`common::servers::watch_panics`].
pub fn server_panics() -> usize {
    common::servers::panics_in("tokio-runtime-worker").len()
}

// ---------------------------------------------------------------------------
// Raw HTTP/1.1
// ---------------------------------------------------------------------------

/// A response, parsed just enough.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Every header, name lowercased, value lossily decoded.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding removed).
    pub body: Vec<u8>,
}

impl Answer {
    /// The values of the `Set-Cookie` headers for `sessionid`.
    pub fn session_cookie_values(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(name, _)| name == "set-cookie")
            .filter_map(|(_, value)| value.strip_prefix("sessionid="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
            .collect()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads more bytes into `buf`; `false` at end of stream.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<bool, String> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(|e| format!("reading the response failed: {e}"))?;
    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    Ok(n > 0)
}

/// Reads one response: the head, then a body framed by `Content-Length`,
/// by chunked encoding, or by the end of the connection.
async fn read_answer(stream: &mut TcpStream) -> Result<Answer, String> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at;
        }
        if !fill(stream, &mut buf).await? {
            return Err(format!(
                "the connection closed without a complete response ({} bytes: {:?})",
                buf.len(),
                String::from_utf8_lossy(&buf)
            ));
        }
    };
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut rest = buf.split_off(head_end + 4);
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if let Some(length) = length {
        while rest.len() < length {
            if !fill(stream, &mut rest).await? {
                return Err(format!(
                    "the body ended after {} of {length} bytes",
                    rest.len()
                ));
            }
        }
        rest.truncate(length);
        rest
    } else if chunked {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let Some(line_end) = find(rest.get(at..).unwrap_or_default(), b"\r\n") else {
                if !fill(stream, &mut rest).await? {
                    return Err("the chunked body ended early".to_owned());
                }
                continue;
            };
            let size_text =
                String::from_utf8_lossy(rest.get(at..at + line_end).unwrap_or_default())
                    .into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            let start = at + line_end + 2;
            while rest.len() < start + size + 2 {
                if !fill(stream, &mut rest).await? {
                    return Err("the chunked body ended early".to_owned());
                }
            }
            if size == 0 {
                break body;
            }
            body.extend_from_slice(rest.get(start..start + size).unwrap_or_default());
            at = start + size + 2;
        }
    } else {
        while fill(stream, &mut rest).await? {}
        rest
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Sends `request` as is on a new connection (keeping the connection open
/// for writing, so a body can be left unfinished) and reads the response.
/// A write the server cut short is not an error: a server may answer
/// before reading everything (431, 413); only no answer is.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Result<Answer, String> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = stream.write_all(request).await;
        read_answer(&mut stream).await
    };
    tokio::time::timeout(ANSWER_WITHIN, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {ANSWER_WITHIN:?}")))
}

/// A request with these `Cookie` header fields, each sent as its own field,
/// byte for byte, and no body.
pub fn request(method: &str, target: &str, cookie_fields: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n").into_bytes();
    for field in cookie_fields {
        bytes.extend_from_slice(b"Cookie: ");
        bytes.extend_from_slice(field);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n\r\n");
    bytes
}

/// Whether the server answers a plain request at all.
pub async fn still_answers(addr: SocketAddr) -> Result<(), String> {
    let answer = exchange(addr, &request("GET", "/probe/noop", &[])).await?;
    match answer.status {
        200 => Ok(()),
        other => Err(format!("GET /probe/noop answered {other}")),
    }
}

/// Starts a real session holding `secret = 1`; returns its ID.
pub async fn real_session(addr: SocketAddr) -> String {
    let answer = exchange(addr, &request("POST", "/probe/set?k=secret&v=1", &[]))
        .await
        .expect("the first write is answered");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let ids = answer.session_cookie_values();
    assert_eq!(ids.len(), 1, "{:?}", answer.headers);
    ids.into_iter().next().unwrap()
}

// ---------------------------------------------------------------------------
// The hostile Cookie headers
// ---------------------------------------------------------------------------

/// One hostile request shape: its Cookie header fields.
#[derive(Debug, Clone)]
pub struct Case {
    /// What it is.
    pub name: &'static str,
    /// The Cookie header fields, raw.
    pub fields: Vec<Vec<u8>>,
    /// Whether the HTTP layer may refuse it (400, 413, 431) before any
    /// session code runs: huge headers, bytes RFC 9110 forbids in a field.
    pub may_refuse: bool,
}

fn case(name: &'static str, field: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        fields: vec![field.into()],
        may_refuse: false,
    }
}

fn refusable(name: &'static str, fields: Vec<Vec<u8>>) -> Case {
    Case {
        name,
        fields,
        may_refuse: true,
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Every malformed shape of a session ID, and hostile headers around it.
/// `real` is the ID of a live session; shapes built from it must not reach
/// it.
pub fn hostile_cases(real: &str) -> Vec<Case> {
    let u = ATTACKER_ID;
    let r = real;
    let percent: String = r.bytes().map(|b| format!("%{b:02X}")).collect();
    let five_hundred: String = (0..500).map(|i| format!("c{i}=v{i}; ")).collect();
    vec![
        case(
            "a well-formed ID the server never issued",
            format!("sessionid={u}"),
        ),
        case("an empty value", "sessionid="),
        case("a name without a value", "sessionid"),
        case(
            "too short (31 characters)",
            format!("sessionid={}", &u[..31]),
        ),
        case("far too short", "sessionid=abc123"),
        case("too long by one", format!("sessionid={u}a")),
        case("4 KiB long", format!("sessionid={}", "a".repeat(4096))),
        case("uppercase", format!("sessionid={}", u.to_ascii_uppercase())),
        case(
            "a real ID in uppercase",
            format!("sessionid={}", r.to_ascii_uppercase()),
        ),
        case("base64url characters", format!("sessionid={}-_", &u[..30])),
        case("punctuation", format!("sessionid={}.!", &u[..30])),
        case("non-ASCII (32 bytes)", format!("sessionid={}é", &u[..30])),
        case("base64 padding", format!("sessionid={}==", &u[..30])),
        case("a real ID with padding", format!("sessionid={r}==")),
        case(
            "a space inside",
            format!("sessionid={} {}", &u[..16], &u[16..31]),
        ),
        case(
            "a tab inside a real ID",
            format!("sessionid={}\t{}", &r[..16], &r[16..]),
        ),
        case("whitespace around", format!("sessionid=  {u}\t ")),
        case("quoted", format!("sessionid=\"{u}\"")),
        case("a real ID with an open quote", format!("sessionid=\"{r}")),
        case("a real ID in single quotes", format!("sessionid='{r}'")),
        case("a real ID percent-encoded", format!("sessionid={percent}")),
        case("a real ID with %00", format!("sessionid={r}%00")),
        case("a real ID with a suffix", format!("sessionid={r}x")),
        case("a real ID with a path", format!("sessionid={r}/../{r}")),
        case("a real ID twice in one value", format!("sessionid={r}{r}")),
        case("a real ID truncated", format!("sessionid={}", &r[..31])),
        case(
            "the name twice: unknown ID, then garbage",
            format!("sessionid={u}; sessionid=garbage"),
        ),
        case(
            "the name twice: garbage, then unknown ID",
            format!("sessionid=garbage; sessionid={u}"),
        ),
        Case {
            name: "the name in two fields: garbage, then unknown ID",
            fields: vec![
                b"sessionid=garbage".to_vec(),
                format!("sessionid={u}").into_bytes(),
            ],
            may_refuse: false,
        },
        case("another case of the name", format!("SessionID={r}")),
        case("spaces around the name", format!(" sessionid = {u} ")),
        case("separators only", ";;; ;=;==; =x;"),
        case(
            "a real ID under a longer name",
            format!("xsessionid={r}; sessionid2={r}"),
        ),
        case(
            "500 cookies in one field",
            format!("{five_hundred}sessionid={u}"),
        ),
        case(
            "invalid UTF-8 in the value",
            cat(&[b"sessionid=\xff\xfe", &u.as_bytes()[..30]]),
        ),
        case(
            "invalid UTF-8 beside an unknown ID",
            cat(&[b"theme=caf\xe9; sessionid=", u.as_bytes()]),
        ),
        case(
            "obs-text bytes in a real ID",
            cat(&[
                b"sessionid=",
                &r.as_bytes()[..16],
                b"\x80\xff",
                &r.as_bytes()[16..],
            ]),
        ),
        refusable(
            "a NUL byte in a real ID",
            vec![cat(&[
                b"sessionid=",
                &r.as_bytes()[..16],
                b"\0",
                &r.as_bytes()[16..],
            ])],
        ),
        refusable(
            "control bytes \\x01 and \\x7f",
            vec![cat(&[b"sessionid=\x01", &u.as_bytes()[..30], b"\x7f"])],
        ),
        refusable(
            "a bare CR in the value",
            vec![cat(&[
                b"sessionid=",
                &u.as_bytes()[..16],
                b"\r",
                &u.as_bytes()[16..],
            ])],
        ),
        refusable(
            "a 100 KiB Cookie header",
            vec![format!("big={}; sessionid={u}", "x".repeat(100 * 1024)).into_bytes()],
        ),
        refusable(
            "a 100 KiB session cookie value",
            vec![format!("sessionid={}", "a".repeat(100 * 1024)).into_bytes()],
        ),
        refusable(
            "500 Cookie header fields",
            (0..500)
                .map(|i| format!("c{i}=v{i}"))
                .chain([format!("sessionid={u}")])
                .map(String::into_bytes)
                .collect(),
        ),
    ]
}

/// What one framework answered to one hostile case.
#[derive(Debug, Clone)]
pub struct Row {
    /// The case.
    pub case: &'static str,
    /// The status of the write (`POST /probe/set`).
    pub write: u16,
    /// The status of the read of the real session's key.
    pub read: u16,
}

/// Sends every hostile case to `addr` (a write, then a read of the real
/// session's key) and checks each answer; returns one row per case and
/// every ID the server issued, or what went wrong.
pub async fn run_hostile(
    framework: &str,
    addr: SocketAddr,
) -> Result<(Vec<Row>, Vec<String>), Vec<String>> {
    let real = real_session(addr).await;
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut issued = vec![real.clone()];
    let refusals = [400, 413, 431];
    for case in hostile_cases(&real) {
        let name = case.name;
        let sent = case.fields.concat();
        let mut row = Row {
            case: name,
            write: 0,
            read: 0,
        };
        match exchange(
            addr,
            &request("POST", "/probe/set?k=probe&v=1", &case.fields),
        )
        .await
        {
            Err(e) => problems.push(format!("{framework}, {name}, write: {e}")),
            Ok(answer) => {
                row.write = answer.status;
                let ids = answer.session_cookie_values();
                if case.may_refuse && refusals.contains(&answer.status) {
                    if !ids.is_empty() {
                        problems.push(format!(
                            "{framework}, {name}: a refused request set the cookie {:?}",
                            answer.headers
                        ));
                    }
                } else if answer.status != 200 {
                    problems.push(format!(
                        "{framework}, {name}, write: expected 200, got {}: {}",
                        answer.status,
                        answer.text()
                    ));
                } else {
                    match ids.as_slice() {
                        [id] if SessionId::is_valid(id) => {
                            if find(&sent, id.as_bytes()).is_some()
                                || id == &real
                                || id == ATTACKER_ID
                            {
                                problems.push(format!(
                                    "{framework}, {name}: the server adopted an ID it was sent"
                                ));
                            }
                            issued.push(id.clone());
                        }
                        other => problems.push(format!(
                            "{framework}, {name}, write: expected one session cookie with a \
                             well-formed ID, got {other:?}"
                        )),
                    }
                }
            }
        }
        match exchange(addr, &request("GET", "/probe/get?k=secret", &case.fields)).await {
            Err(e) => problems.push(format!("{framework}, {name}, read: {e}")),
            Ok(answer) => {
                row.read = answer.status;
                let refused = case.may_refuse && refusals.contains(&answer.status);
                if !refused && (answer.status != 200 || answer.text() != r#"{"value":null}"#) {
                    problems.push(format!(
                        "{framework}, {name}, read: expected 200 {{\"value\":null}}, got {} {}",
                        answer.status,
                        answer.text()
                    ));
                }
                if let Some(id) = answer
                    .session_cookie_values()
                    .iter()
                    .find(|v| !v.is_empty())
                {
                    problems.push(format!(
                        "{framework}, {name}, read: a read set a session cookie ({} chars)",
                        id.len()
                    ));
                }
            }
        }
        if answer_is_5xx(&row) {
            problems.push(format!("{framework}, {name}: a 5xx ({row:?})"));
        }
        if let Err(e) = still_answers(addr).await {
            problems.push(format!("{framework}, after {name}: {e}"));
        }
        rows.push(row);
    }
    // The attacker's ID never became a record; the real session survived.
    let attacker = vec![format!("sessionid={ATTACKER_ID}").into_bytes()];
    match exchange(addr, &request("GET", "/probe/get?k=probe", &attacker)).await {
        Ok(answer) if answer.text() == r#"{"value":null}"# => {}
        other => problems.push(format!(
            "{framework}: the attacker's ID holds data afterwards: {other:?}"
        )),
    }
    let owner = vec![format!("sessionid={real}").into_bytes()];
    match exchange(addr, &request("GET", "/probe/get?k=secret", &owner)).await {
        Ok(answer) if answer.text() == r#"{"value":1}"# => {}
        other => problems.push(format!(
            "{framework}: the real session did not survive the hostile requests: {other:?}"
        )),
    }
    if problems.is_empty() {
        Ok((rows, issued))
    } else {
        Err(problems)
    }
}

fn answer_is_5xx(row: &Row) -> bool {
    row.write >= 500 || row.read >= 500
}

/// Hostile neighbours of a real session cookie: the session must still be
/// found (unless the HTTP layer refuses the whole request, or, for a field
/// that is not UTF-8, the framework drops the field: Rocket 0.5 does).
pub fn neighbour_cases(real: &str) -> Vec<Case> {
    let r = real;
    let five_hundred: String = (0..500).map(|i| format!("c{i}=v{i}; ")).collect();
    vec![
        case("garbage first", format!("sessionid=garbage; sessionid={r}")),
        case("garbage after", format!("sessionid={r}; sessionid=garbage")),
        case(
            "an unknown ID in a later field",
            format!("sessionid={r}; sessionid={ATTACKER_ID}"),
        ),
        case(
            "500 cookies before it",
            format!("{five_hundred}sessionid={r}"),
        ),
        case("separators around it", format!(";;=; sessionid={r};;=")),
        case("quoted", format!("sessionid=\"{r}\"")),
        case(
            "invalid UTF-8 in a neighbour",
            cat(&[b"theme=caf\xe9; sessionid=", r.as_bytes()]),
        ),
        refusable(
            "a 100 KiB neighbour",
            vec![format!("big={}; sessionid={r}", "x".repeat(100 * 1024)).into_bytes()],
        ),
    ]
}

/// Checks [`neighbour_cases`] against `framework`; panics on a problem.
pub async fn check_neighbours(framework: &str) {
    common::servers::watch_panics();
    let addr = start(framework).await;
    let real = real_session(addr).await;
    let mut problems = Vec::new();
    for case in neighbour_cases(&real) {
        let name = case.name;
        match exchange(addr, &request("GET", "/probe/get?k=secret", &case.fields)).await {
            Err(e) => problems.push(format!("{name}: {e}")),
            Ok(answer) if case.may_refuse && [400, 413, 431].contains(&answer.status) => {
                eprintln!("{framework}: {name}: refused with {}", answer.status);
            }
            Ok(answer)
                if framework == "rocket"
                    && name == "invalid UTF-8 in a neighbour"
                    && answer.status == 200 =>
            {
                // Rocket drops the whole field before the adapter runs.
                eprintln!("{framework}: {name}: {} {}", answer.status, answer.text());
            }
            Ok(answer) if answer.status == 200 && answer.text() == r#"{"value":1}"# => {}
            Ok(answer) => problems.push(format!(
                "{name}: expected 200 {{\"value\":1}}, got {} {}",
                answer.status,
                answer.text()
            )),
        }
    }
    assert!(problems.is_empty(), "{framework}: {problems:#?}");
    assert_eq!(server_panics(), 0, "a server thread panicked");
}

/// Checks [`hostile_cases`] against `framework`; panics on a problem.
pub async fn check_hostile(framework: &str) {
    common::servers::watch_panics();
    let addr = start(framework).await;
    let (rows, _) = run_hostile(framework, addr)
        .await
        .unwrap_or_else(|problems| panic!("{framework}: {problems:#?}"));
    for row in &rows {
        eprintln!(
            "{framework:>6} | write {} | read {} | {}",
            row.write, row.read, row.case
        );
    }
    assert_eq!(rows.len(), hostile_cases("x".repeat(32).as_str()).len());
    assert_eq!(server_panics(), 0, "a server thread panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poem_survives_hostile_cookies() {
    check_hostile("poem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_survives_hostile_cookies() {
    check_hostile("warp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_survives_hostile_cookies() {
    check_hostile("rocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poem_keeps_a_real_session_beside_hostile_cookies() {
    check_neighbours("poem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_keeps_a_real_session_beside_hostile_cookies() {
    check_neighbours("warp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_keeps_a_real_session_beside_hostile_cookies() {
    check_neighbours("rocket").await;
}

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

/// A urlencoded form request with a `Content-Length` and `body` (which may
/// be shorter than announced: the rest is never sent).
fn with_length(method: &str, target: &str, length: usize, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A chunked request carrying `total` bytes in 8 KiB chunks, with the
/// final empty chunk only if `finish`.
fn chunked(target: &str, total: usize, finish: bool) -> Vec<u8> {
    let mut bytes = format!(
        "POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let mut left = total;
    while left > 0 {
        let size = left.min(8 * 1024);
        bytes.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        bytes.extend(std::iter::repeat_n(b'a', size));
        bytes.extend_from_slice(b"\r\n");
        left -= size;
    }
    if finish {
        bytes.extend_from_slice(b"0\r\n\r\n");
    }
    bytes
}

/// Checks the 64 KiB body limit of `framework`; panics on a problem.
pub async fn check_body_limits(framework: &str) {
    common::servers::watch_panics();
    let addr = start(framework).await;
    let set = "/probe/set?k=a&v=1";
    let full = vec![b'a'; LIMIT + 1];
    // Each announced body is only begun: 16 bytes without a body type, 1 KiB
    // of a urlencoded form. The answer must come from the Content-Length
    // alone. (Rocket reads the first 14 bytes of every body before routing,
    // looking for a `_method=` form field, so with fewer it waits for them
    // whatever the app does.)
    let bare = |method: &str, target: &str, length: usize| {
        let mut bytes = format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
        bytes.extend_from_slice(&[b'a'; 16]);
        bytes
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "64 MiB announced, 16 bytes sent",
            bare("POST", set, 64 << 20),
            413,
        ),
        (
            "64 MiB announced on a GET, 16 bytes sent",
            bare("GET", "/probe/get?k=a", 64 << 20),
            413,
        ),
        (
            "a 64 MiB form announced, 1 KiB sent",
            with_length("POST", set, 64 << 20, &full[..1024]),
            413,
        ),
        (
            "the limit plus one, announced and sent",
            with_length("POST", set, LIMIT + 1, &full),
            413,
        ),
        (
            "exactly the limit, announced and sent",
            with_length("POST", set, LIMIT, &full[..LIMIT]),
            200,
        ),
        (
            "chunked: 128 KiB sent, the body never finished",
            chunked(set, 2 * LIMIT, false),
            413,
        ),
        (
            "chunked: the limit plus one, finished",
            chunked(set, LIMIT + 1, true),
            413,
        ),
        (
            "chunked: exactly the limit, finished",
            chunked(set, LIMIT, true),
            200,
        ),
        (
            "the page: a 1 MiB form announced, 1 KiB sent",
            with_length("POST", "/cart/add", 1 << 20, &full[..1024]),
            413,
        ),
        (
            "the page: chunked, never finished",
            chunked("/cart/add", 2 * LIMIT, false),
            413,
        ),
    ];
    let mut problems = Vec::new();
    for (name, request, expected) in cases {
        let started = std::time::Instant::now();
        match exchange(addr, &request).await {
            Err(e) => problems.push(format!("{name}: {e}")),
            Ok(answer) => {
                eprintln!(
                    "{framework:>6} | {} in {:?} | {name} | {}",
                    answer.status,
                    started.elapsed(),
                    answer.text()
                );
                if answer.status != expected {
                    problems.push(format!(
                        "{name}: expected {expected}, got {} {}",
                        answer.status,
                        answer.text()
                    ));
                } else if expected == 413 {
                    let json = answer.header("content-type") == Some("application/json");
                    let probe = !name.starts_with("the page");
                    let message = "request body too large: the limit is 65536 bytes (64 KiB)";
                    if json != probe || !answer.text().contains(message) {
                        problems.push(format!(
                            "{name}: the 413 should say {message:?} as {}, got {:?} {}",
                            if probe { "JSON" } else { "text" },
                            answer.header("content-type"),
                            answer.text()
                        ));
                    }
                }
            }
        }
        if let Err(e) = still_answers(addr).await {
            problems.push(format!("after {name}: {e}"));
        }
    }
    assert!(problems.is_empty(), "{framework}: {problems:#?}");
    assert_eq!(server_panics(), 0, "a server thread panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poem_limits_request_bodies() {
    check_body_limits("poem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_limits_request_bodies() {
    check_body_limits("warp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_limits_request_bodies() {
    check_body_limits("rocket").await;
}
