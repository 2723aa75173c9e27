//! One dispatcher for every framework: the probe routes of the conformance
//! kit under `/probe`, the human page everywhere else. Each framework only
//! turns its request into a call to [`dispatch`] and the [`Reply`] back into
//! its response.
//!
//! Every framework reads at most [`MAX_BODY_BYTES`] of a request body: a
//! `Content-Length` above it is answered [`body_too_large`] (413) before
//! any of the body is read, and a body without one (chunked) is read up to
//! one byte past the limit, then answered the same way. (Rocket itself
//! waits for the first 14 bytes of every body before routing, to look for a
//! `_method` form field.)

use bytes::Buf;
use futures_util::{Stream, StreamExt};
use session_core::Session;

use crate::page;

/// A framework-neutral response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// A `Location` header, for redirects.
    pub location: Option<&'static str>,
    /// Headers the application sets itself (the probe's `app_headers=1`),
    /// appended before the session adapter adds its own.
    pub headers: Vec<(&'static str, &'static str)>,
}

/// The largest request body the demo reads, for every route and every
/// framework: 64 KiB. The page's forms send a few dozen bytes and the probe
/// routes take their parameters in the query string.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Whether a `Content-Length` header value announces a body above
/// [`MAX_BODY_BYTES`]. A value that is not a number is left to the HTTP
/// server (which refuses it) and to the streaming limit.
pub fn declared_too_large(content_length: Option<&[u8]>) -> bool {
    content_length
        .and_then(|value| std::str::from_utf8(value).ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
}

/// Reads a request body from `chunks`, keeping no more than one byte past
/// [`MAX_BODY_BYTES`]: [`body_too_large`] when `content_length` announces
/// more (before any of the body is read) or when the body passes the limit,
/// [`body_unreadable`] when a chunk fails. Poem and Warp hand their bodies
/// to it as streams; Rocket has its own limit (`Data::open`).
pub async fn read_body<S, B, E>(
    content_length: Option<&[u8]>,
    chunks: S,
    path: &str,
) -> Result<Vec<u8>, Reply>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
{
    if declared_too_large(content_length) {
        return Err(body_too_large(path));
    }
    let mut chunks = std::pin::pin!(chunks);
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let mut chunk = chunk.map_err(|_| body_unreadable(path))?;
        while chunk.has_remaining() {
            let room = MAX_BODY_BYTES + 1 - body.len();
            let bytes = chunk.chunk();
            let taken = bytes.get(..room).unwrap_or(bytes);
            body.extend_from_slice(taken);
            let read = taken.len();
            chunk.advance(read);
            if body.len() > MAX_BODY_BYTES {
                return Err(body_too_large(path));
            }
        }
    }
    Ok(body)
}

/// The answer to a body above [`MAX_BODY_BYTES`]: 413 with a short message,
/// JSON under `/probe/` as every probe answer is, plain text elsewhere.
pub fn body_too_large(path: &str) -> Reply {
    const MESSAGE: &str = "request body too large: the limit is 65536 bytes (64 KiB)";
    short(path, 413, MESSAGE)
}

/// The answer to a body that could not be read (the client stopped sending
/// it, or sent a broken chunked encoding): 400.
pub fn body_unreadable(path: &str) -> Reply {
    short(path, 400, "the request body could not be read")
}

/// `message` has no character that JSON would escape.
fn short(path: &str, status: u16, message: &'static str) -> Reply {
    let (content_type, body) = if path.starts_with("/probe/") {
        ("application/json", format!(r#"{{"error":"{message}"}}"#))
    } else {
        ("text/plain; charset=utf-8", message.to_owned())
    };
    Reply {
        status,
        content_type,
        body,
        location: None,
        headers: Vec::new(),
    }
}

/// Answers one request.
pub async fn dispatch(
    session: &Session,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Reply {
    if path.starts_with("/probe/") {
        let answer = session_conformance::probe::respond(session, method, path, query).await;
        return Reply {
            status: answer.status,
            content_type: "application/json",
            body: answer.body,
            location: None,
            headers: answer.headers,
        };
    }
    let answer = page::handle(session, method, path, body).await;
    Reply {
        status: answer.status,
        content_type: answer.content_type,
        body: answer.body,
        location: answer.location,
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_checked_against_the_limit() {
        assert!(!declared_too_large(None));
        assert!(!declared_too_large(Some(b"0")));
        assert!(!declared_too_large(Some(b"65536")));
        assert!(declared_too_large(Some(b"65537")));
        assert!(declared_too_large(Some(b"67108864")));
        assert!(declared_too_large(Some(b"18446744073709551615")));
        // Not a number: hyper refuses it before the app runs.
        assert!(!declared_too_large(Some(b"lots")));
    }

    #[test]
    fn the_413_is_json_under_probe_and_text_elsewhere() {
        let probe = body_too_large("/probe/set");
        assert_eq!(
            (probe.status, probe.content_type),
            (413, "application/json")
        );
        assert!(probe.body.contains("65536 bytes"), "{}", probe.body);
        let page = body_too_large("/cart/add");
        assert_eq!(page.status, 413);
        assert!(page.content_type.starts_with("text/plain"));
    }

    /// Reads `chunks` (of these sizes) as [`read_body`] does, without a
    /// `Content-Length`.
    fn read(sizes: &[usize]) -> Result<usize, u16> {
        let chunks = sizes
            .iter()
            .map(|&n| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; n])));
        let read = read_body(None, futures_util::stream::iter(chunks), "/probe/set");
        futures_util::FutureExt::now_or_never(read)
            .expect("a ready stream is read at once")
            .map(|body| body.len())
            .map_err(|reply| reply.status)
    }

    #[test]
    fn a_body_is_read_up_to_the_limit_and_refused_past_it() {
        assert_eq!(read(&[]), Ok(0));
        assert_eq!(read(&[MAX_BODY_BYTES]), Ok(MAX_BODY_BYTES));
        assert_eq!(read(&[8 * 1024; 8]), Ok(MAX_BODY_BYTES));
        assert_eq!(read(&[8 * 1024; 9]), Err(413));
        assert_eq!(read(&[MAX_BODY_BYTES - 1, 1]), Ok(MAX_BODY_BYTES));
        assert_eq!(read(&[MAX_BODY_BYTES, 1]), Err(413));
        assert_eq!(read(&[1 << 20]), Err(413));
        let announced = read_body(
            Some(b"65537"),
            futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
            "/probe/set",
        );
        let announced = futures_util::FutureExt::now_or_never(announced).expect("ready");
        assert_eq!(announced.map_err(|reply| reply.status), Err(413));
        let broken = futures_util::stream::iter([
            Ok(bytes::Bytes::from_static(b"abc")),
            Err(std::io::Error::other("reset")),
        ]);
        let broken = futures_util::FutureExt::now_or_never(read_body(None, broken, "/cart/add"))
            .expect("ready");
        assert_eq!(broken.map_err(|reply| reply.status), Err(400));
    }
}
