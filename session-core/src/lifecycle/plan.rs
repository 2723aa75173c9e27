//! What `finish` will do, decided without I/O from the session state, the
//! settings, the status and the clock (after Django's
//! `SessionMiddleware.process_response`). The executor in the parent module
//! carries the plan out under the failure policy.

use time::OffsetDateTime;

use crate::expiry;
use crate::state::State;
use crate::{Config, Expiry, SessionId};

/// The decision for one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Records an earlier flush failed to delete: they must go before
    /// anything else happens, whatever the status, or the response fails.
    pub(crate) retry_deletes: Vec<SessionId>,
    /// What to write and which cookie to send.
    pub(crate) action: Action,
    /// Whether the response varies on `Cookie` (the session was accessed).
    pub(crate) vary: bool,
}

/// The store work and cookie of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// No write and no cookie: a 5xx, a session never used, or one read
    /// and left unchanged.
    Nothing,
    /// The session is empty (flushed, or an unknown cookie resolved to
    /// nothing) and the client holds a cookie: remove it.
    RemoveCookie,
    /// The session's expiry has passed: delete its records, and the
    /// client's cookie if it has one.
    End {
        delete: Vec<SessionId>,
        remove_cookie: bool,
    },
    /// Write the session, then send its cookie.
    Write {
        write: Write,
        expires_at: OffsetDateTime,
        /// The custom expiry `expires_at` was computed from, kept so the
        /// cookie's lifetime needs no second parse unless a merge replaces
        /// the data.
        custom: Expiry,
        /// Only `save_every_request` asked for this write: the handler
        /// changed nothing, so a failure must not break the response.
        renewal: bool,
    },
}

/// Which store write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write {
    /// A new record: a new session, or the new ID of a rotation (`id`),
    /// after which `rotate_from` is deleted.
    Create {
        id: Option<SessionId>,
        rotate_from: Option<SessionId>,
    },
    /// A versioned save of the changed data.
    Save { id: SessionId },
    /// Unchanged data: renew the lifetime only.
    Touch { id: SessionId },
}

/// Whether `finish` must read the session first: only `save_every_request`
/// renews a session the handler never touched, and only if the request
/// named one.
pub(crate) fn needs_load(state: &State, config: &Config, status: u16, cookie_id: bool) -> bool {
    status < 500 && !state.is_loaded() && config.save_every_request() && cookie_id
}

/// Decides what `finish` does. `cookie_present` says whether the request
/// carried the session cookie at all; `can_touch` whether the store renews
/// a lifetime without rewriting the data.
pub(crate) fn plan(
    state: &State,
    config: &Config,
    status: u16,
    now: OffsetDateTime,
    cookie_present: bool,
    can_touch: bool,
) -> Plan {
    let mut plan = Plan {
        retry_deletes: state.pending_deletes().to_vec(),
        action: Action::Nothing,
        vary: state.is_accessed(),
    };
    if status >= 500 || !state.is_loaded() {
        // A 5xx saves nothing and sets nothing; a pending rotation is
        // dropped, so the old session stays valid.
        return plan;
    }
    if state.is_empty() {
        if cookie_present {
            plan.action = Action::RemoveCookie;
            plan.vary = true;
        }
        return plan;
    }
    let renewal = !state.is_modified();
    if renewal && !config.save_every_request() {
        return plan;
    }
    let custom = state.custom_expiry();
    let expires_at = expiry::expiry_date(custom, now, config.cookie_age());
    if expires_at <= now {
        // Set to expire in the past: the session is over already.
        let current = state.key().filter(|_| state.in_store());
        plan.action = Action::End {
            delete: state
                .rotate_from()
                .into_iter()
                .chain(current)
                .cloned()
                .collect(),
            remove_cookie: cookie_present,
        };
        return plan;
    }
    let write = match (state.key(), state.in_store()) {
        (Some(id), true) if renewal && can_touch => Write::Touch { id: id.clone() },
        (Some(id), true) => Write::Save { id: id.clone() },
        (pending, _) => Write::Create {
            id: pending.cloned(),
            rotate_from: state.rotate_from().cloned(),
        },
    };
    plan.action = Action::Write {
        write,
        expires_at,
        custom,
        renewal,
    };
    plan
}

/// The cookie's `Max-Age` for a session with the custom expiry `custom`
/// saved at `now`: `None` for a browser-close session. The custom expiry is
/// the one of the data as finally stored, which a merge may have changed.
pub(crate) fn cookie_max_age(config: &Config, custom: Expiry, now: OffsetDateTime) -> Option<i64> {
    if expiry::expire_at_browser_close(custom, config.expire_at_browser_close()) {
        return None;
    }
    // Never past the stored expiry, which is clamped to what stores hold.
    let until = expiry::expiry_date(custom, now, config.cookie_age());
    let clamp = (until - now).whole_seconds();
    Some(expiry::expiry_age(custom, now, config.cookie_age()).min(clamp.max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;
    use crate::expiry::EXPIRY_KEY;
    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-06-15 12:00 UTC);

    fn loaded(data: serde_json::Value) -> State {
        let serde_json::Value::Object(map) = data else {
            panic!("an object")
        };
        let mut state = State::default();
        state.loaded(Some(Record::new(
            SessionId::generate(),
            map,
            NOW + Duration::days(1),
        )));
        state
    }

    fn action(state: &State, config: &Config, status: u16) -> Action {
        plan(state, config, status, NOW, true, true).action
    }

    #[test]
    fn an_unused_session_does_nothing() {
        let state = State::default();
        let p = plan(&state, &Config::default(), 200, NOW, true, true);
        assert_eq!(p.action, Action::Nothing);
        assert!(!p.vary);
    }

    #[test]
    fn a_5xx_does_nothing_but_still_retries_a_failed_logout() {
        let mut state = loaded(json!({"a": 1}));
        let doomed = state.flush();
        state.defer_deletes(doomed.clone());
        let p = plan(&state, &Config::default(), 503, NOW, true, true);
        assert_eq!(p.action, Action::Nothing);
        assert_eq!(p.retry_deletes, doomed);
    }

    #[test]
    fn a_flushed_session_removes_the_cookie_only_if_the_client_has_one() {
        let mut state = loaded(json!({"a": 1}));
        state.flush();
        let config = Config::default();
        assert_eq!(action(&state, &config, 200), Action::RemoveCookie);
        let p = plan(&state, &config, 200, NOW, false, true);
        assert_eq!(p.action, Action::Nothing);
    }

    #[test]
    fn a_read_is_not_a_write_unless_every_request_saves() {
        let mut state = loaded(json!({"a": 1}));
        state.mark_accessed();
        assert_eq!(action(&state, &Config::default(), 200), Action::Nothing);
        let every = Config::default().with_save_every_request(true);
        let id = state.key().cloned().unwrap();
        assert_eq!(
            action(&state, &every, 200),
            Action::Write {
                write: Write::Touch { id: id.clone() },
                expires_at: NOW + every.cookie_age(),
                custom: Expiry::Default,
                renewal: true,
            }
        );
        let p = plan(&state, &every, 200, NOW, true, false);
        assert!(matches!(
            p.action,
            Action::Write {
                write: Write::Save { .. },
                renewal: true,
                ..
            }
        ));
    }

    #[test]
    fn a_change_is_a_save_and_not_a_renewal() {
        let mut state = loaded(json!({"a": 1}));
        state.data_mut().insert("b".into(), json!(2));
        let id = state.key().cloned().unwrap();
        assert_eq!(
            action(&state, &Config::default(), 200),
            Action::Write {
                write: Write::Save { id },
                expires_at: NOW + Config::default().cookie_age(),
                custom: Expiry::Default,
                renewal: false,
            }
        );
    }

    #[test]
    fn a_rotation_creates_the_new_id_then_deletes_the_old() {
        let mut state = loaded(json!({"a": 1}));
        let old = state.key().cloned().unwrap();
        state.rotate().unwrap();
        let new = state.key().cloned().unwrap();
        let Action::Write { write, .. } = action(&state, &Config::default(), 200) else {
            panic!("a write")
        };
        assert_eq!(
            write,
            Write::Create {
                id: Some(new),
                rotate_from: Some(old)
            }
        );
    }

    #[test]
    fn a_past_expiry_ends_the_session() {
        let mut state = loaded(json!({"a": 1}));
        let id = state.key().cloned().unwrap();
        state
            .data_mut()
            .insert(EXPIRY_KEY.into(), json!("2000-01-01T00:00:00Z"));
        assert_eq!(
            action(&state, &Config::default(), 200),
            Action::End {
                delete: vec![id],
                remove_cookie: true
            }
        );
    }

    #[test]
    fn the_cookie_lifetime_follows_the_data() {
        let config = Config::default();
        let data = |v: serde_json::Value| match v {
            serde_json::Value::Object(map) => Expiry::from_stored(map.get(EXPIRY_KEY)),
            _ => panic!("an object"),
        };
        assert_eq!(
            cookie_max_age(&config, data(json!({})), NOW),
            Some(1_209_600)
        );
        assert_eq!(
            cookie_max_age(&config, data(json!({EXPIRY_KEY: 0})), NOW),
            None
        );
        assert_eq!(
            cookie_max_age(&config, data(json!({EXPIRY_KEY: 60})), NOW),
            Some(60)
        );
        let huge = cookie_max_age(&config, data(json!({EXPIRY_KEY: i64::MAX})), NOW).unwrap();
        assert_eq!(huge, (expiry::MAX_EXPIRY - NOW).whole_seconds());
    }
}
