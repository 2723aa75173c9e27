//! One dispatcher for every framework: the probe routes of the conformance
//! kit under `/probe`, the human page everywhere else. Each framework only
//! turns its request into a call to [`dispatch`] and the [`Reply`] back into
//! its response.

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
