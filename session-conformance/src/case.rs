//! What every case says about itself: the catalogue entry behind a test
//! name and a report row.

use std::fmt;

/// How binding a case's requirement is, in RFC 2119 terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// The implementation is wrong without it.
    Must,
    /// Strongly expected; a failure is still reported as a failure.
    Should,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        })
    }
}

/// An optional ability a case needs. A case whose need the implementation
/// lacks is listed as ignored, never as passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Need {
    /// [`Capabilities::touch`](session_core::Capabilities::touch).
    Touch,
    /// The store does *not* declare `touch` (the case checks what such a
    /// store answers).
    NoTouch,
    /// [`Capabilities::clear_expired`](session_core::Capabilities::clear_expired).
    ClearExpired,
    /// [`Capabilities::versioned`](session_core::Capabilities::versioned).
    Versioned,
    /// The store decides expiry by the clock its factory was given.
    ManualClock,
    /// The framework hands the adapter header fields that are not UTF-8
    /// (Rocket 0.5 drops such a field before any adapter sees it).
    NonUtf8Headers,
    /// The server can revoke a session: a flushed, logged-out, rotated-away
    /// or expired-on-request cookie stops working, also when a copy of it
    /// is replayed. A signed-cookie engine keeps no server state and cannot.
    ServerSideState,
    /// The session cookie's value is the session ID (32 characters of
    /// `[a-z0-9]`), which every later write of the session keeps. A
    /// signed-cookie engine carries the data in the value instead, so the
    /// value changes with every write.
    IdCookie,
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Need::Touch => "touch",
            Need::NoTouch => "no touch",
            Need::ClearExpired => "clear_expired",
            Need::Versioned => "versioned",
            Need::ManualClock => "manual clock",
            Need::NonUtf8Headers => "non-UTF-8 header fields",
            Need::ServerSideState => "server-side state",
            Need::IdCookie => "the ID as cookie value",
        })
    }
}

/// What an implementation declared, matched against what cases need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Abilities {
    /// The store's optional abilities (for an HTTP suite, those of the store
    /// behind the server).
    pub(crate) capabilities: session_core::Capabilities,
    /// The store decides expiry by the kit's clock.
    pub(crate) manual_clock: bool,
    /// The framework hands the adapter `Cookie` fields that are not UTF-8.
    pub(crate) non_utf8_headers: bool,
    /// The server keeps session state it can revoke.
    pub(crate) server_side_state: bool,
    /// The session cookie's value is the session ID.
    pub(crate) id_cookie: bool,
}

impl Abilities {
    /// Why `suite` cannot run a case that needs `needs`, if it cannot.
    pub(crate) fn skip(&self, needs: &[Need], suite: &str) -> Option<String> {
        let caps = self.capabilities;
        let missing = needs.iter().find(|need| match need {
            Need::Touch => !caps.touch,
            Need::NoTouch => caps.touch,
            Need::ClearExpired => !caps.clear_expired,
            Need::Versioned => !caps.versioned,
            Need::ManualClock => !self.manual_clock,
            Need::NonUtf8Headers => !self.non_utf8_headers,
            Need::ServerSideState => !self.server_side_state,
            Need::IdCookie => !self.id_cookie,
        })?;
        Some(match missing {
            Need::NoTouch => format!("{suite} declares touch; the case checks a store without it"),
            Need::NonUtf8Headers => format!(
                "{suite} declares that its framework drops Cookie fields that are not UTF-8 \
                 before the adapter sees them"
            ),
            Need::ServerSideState => format!(
                "{suite} declares no server-side session state (signed cookies): the server \
                 cannot revoke a cookie a client kept"
            ),
            Need::IdCookie => format!(
                "{suite} declares that its session cookie carries the session itself, not an ID \
                 (signed cookies): the value changes with every write"
            ),
            need => format!("needs {need}, which {suite} does not declare"),
        })
    }
}

/// One case of the catalogue. IDs are never renumbered: a retired case keeps
/// its number out of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseInfo {
    /// `ST-<AREA>-<NNN>` for store cases, `HX-<AREA>-<NNN>` for HTTP cases.
    pub id: &'static str,
    /// A short snake_case title; the test is named `<id>::<title>`.
    pub title: &'static str,
    /// The requirement, one sentence, as the design states it.
    pub requirement: &'static str,
    /// MUST or SHOULD.
    pub level: Level,
    /// The section of the kit's specification (`SPEC.md`, also the
    /// [`spec`](crate::spec) module) it checks, e.g. `"§7"`.
    pub section: &'static str,
    /// The contract sentences it checks, by their tags: `store.*` in the
    /// `SessionStore` docs, `adapter.*` in the [adapter
    /// guide](crate::adapter_guide).
    pub clauses: &'static [&'static str],
    /// The optional abilities it needs (none for most cases).
    pub needs: &'static [Need],
    /// It waits in real time (about 2 s at most).
    pub slow: bool,
}

impl CaseInfo {
    /// The test name: `<id>::<title>`.
    pub fn test_name(&self) -> String {
        format!("{}::{}", self.id, self.title)
    }
}
