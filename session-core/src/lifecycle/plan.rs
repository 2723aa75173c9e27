//! What `finish` will do, decided without I/O from the session state, the
//! settings, the status and the clock (after Django's
//! `SessionMiddleware.process_response`). The executor in the parent module
//! carries the plan out under the failure policy.

use time::{Duration, OffsetDateTime};

use crate::expiry;
use crate::state::State;
use crate::{Config, Expiry, SessionId};

/// The decision for one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Records an earlier flush failed to delete: they must go before
    /// anything else happens, whatever the status, or the response fails.
    pub(crate) retry_deletes: Vec<SessionId>,
    /// A record the cookie named that had reached its absolute timeout:
    /// deleted, best effort (core never adopts it again, and its stored
    /// expiry ends at the timeout anyway).
    pub(crate) delete_timed_out: Option<SessionId>,
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
        /// The session carries no creation time and an absolute timeout is
        /// set: stamp it with `now` before writing (`expires_at` already
        /// counts from it).
        stamp_created: bool,
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
        delete_timed_out: None,
        action: Action::Nothing,
        vary: state.is_accessed(),
    };
    if status >= 500 || !state.is_loaded() {
        // A 5xx saves nothing and sets nothing; a pending rotation is
        // dropped, so the old session stays valid.
        return plan;
    }
    plan.delete_timed_out = state.timed_out().cloned();
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
    let created = state.created_at();
    let mut expires_at = expires_at(config, custom, created, now);
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
    if renewal && renewal_throttled(state, config, custom, expires_at, now) {
        return plan;
    }
    // New sessions, and those written before the timeout was set, count
    // from this write.
    let stamp_created = created.is_none() && config.absolute_timeout().is_some();
    if stamp_created {
        expires_at = self::expires_at(config, custom, Some(now), now);
    }
    let write = match (state.key(), state.in_store()) {
        (Some(id), true) if renewal && can_touch && !stamp_created => {
            Write::Touch { id: id.clone() }
        }
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
        stamp_created,
    };
    plan
}

/// When a session with the custom expiry `custom`, created at `created`,
/// expires if it is saved at `now`: its expiry date, held at its absolute
/// timeout when one is set and the session carries its creation time.
pub(crate) fn expires_at(
    config: &Config,
    custom: Expiry,
    created: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let end = expiry::expiry_date(custom, now, config.cookie_age());
    match (created, config.absolute_timeout()) {
        (Some(created), Some(timeout)) => end.min(expiry::absolute_deadline(created, timeout)),
        _ => end,
    }
}

/// Whether the renewal of an unchanged session is skipped under
/// [`Config::renewal_interval`]: the session was renewed less than the
/// interval ago, or renewing would extend it by less than a second (a
/// fixed date, or a session held at its absolute timeout: cookie dates
/// have whole seconds, and stores may round the stored expiry).
///
/// The last renewal is the loaded record's expiry minus the lifetime the
/// session is given, so nothing extra is stored.
fn renewal_throttled(
    state: &State,
    config: &Config,
    custom: Expiry,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    let (Some(interval), Some(stored)) = (config.renewal_interval(), state.loaded_expires_at())
    else {
        return false;
    };
    let change = expires_at - stored;
    if change.abs() < Duration::SECOND {
        return true;
    }
    if change.is_negative() {
        // The lifetime was shortened (a lower cookie age): renew at once.
        return false;
    }
    let lifetime = match custom {
        Expiry::Seconds(secs) if secs != 0 => Duration::seconds(secs),
        Expiry::At(_) => return true,
        _ => config.cookie_age(),
    };
    // Renew at least twice per lifetime, or a session whose lifetime is no
    // longer than the interval would never be renewed and would end under
    // an active visitor.
    now - stored.saturating_sub(lifetime) < interval.min(lifetime / 2)
}

/// The cookie's `Max-Age` for a session with the custom expiry `custom`
/// saved at `now`: `None` for a browser-close session. The custom expiry is
/// the one of the data as finally stored, which a merge may have changed.
/// `created` is the session's creation time, past whose absolute timeout
/// the cookie never reaches.
pub(crate) fn cookie_max_age(
    config: &Config,
    custom: Expiry,
    created: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Option<i64> {
    if expiry::expire_at_browser_close(custom, config.expire_at_browser_close()) {
        return None;
    }
    // Never past the stored expiry, which is clamped to what stores hold
    // and held at the absolute timeout.
    let until = expires_at(config, custom, created, now);
    let clamp = (until - now).whole_seconds();
    Some(expiry::expiry_age(custom, now, config.cookie_age()).min(clamp.max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;
    use crate::expiry::{CREATED_KEY, EXPIRY_KEY};
    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-06-15 12:00 UTC);

    fn loaded(data: serde_json::Value) -> State {
        loaded_until(data, NOW + Duration::days(1))
    }

    /// A state loaded from a record of `data` that expires at `expires_at`.
    fn loaded_until(data: serde_json::Value, expires_at: OffsetDateTime) -> State {
        let serde_json::Value::Object(map) = data else {
            panic!("an object")
        };
        let mut state = State::default();
        state.loaded(Some(Record::new(SessionId::generate(), map, expires_at)));
        state
    }

    /// `{"_session_created": ...}` for a session created at `at`.
    fn created(at: OffsetDateTime) -> serde_json::Value {
        json!({"a": 1, CREATED_KEY: expiry::created_to_stored(at)})
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
                stamp_created: false,
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
                stamp_created: false,
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
            cookie_max_age(&config, data(json!({})), None, NOW),
            Some(1_209_600)
        );
        assert_eq!(
            cookie_max_age(&config, data(json!({EXPIRY_KEY: 0})), None, NOW),
            None
        );
        assert_eq!(
            cookie_max_age(&config, data(json!({EXPIRY_KEY: 60})), None, NOW),
            Some(60)
        );
        let huge = cookie_max_age(&config, data(json!({EXPIRY_KEY: i64::MAX})), None, NOW).unwrap();
        assert_eq!(huge, (expiry::MAX_EXPIRY - NOW).whole_seconds());
    }

    // --- absolute timeout --------------------------------------------------

    fn timeout(hours: i64) -> Config {
        Config::default().with_absolute_timeout(Duration::hours(hours))
    }

    #[test]
    fn a_new_session_is_stamped_and_lives_at_most_the_timeout() {
        let mut state = State::default();
        state.loaded(None);
        state.data_mut().insert("a".into(), json!(1));
        let Action::Write {
            write,
            expires_at,
            stamp_created,
            ..
        } = action(&state, &timeout(8), 200)
        else {
            panic!("a write")
        };
        assert_eq!(
            write,
            Write::Create {
                id: None,
                rotate_from: None
            }
        );
        assert!(stamp_created);
        assert_eq!(expires_at, NOW + Duration::hours(8));
        let Action::Write { stamp_created, .. } = action(&state, &Config::default(), 200) else {
            panic!("a write")
        };
        assert!(!stamp_created, "no timeout, no stamp");
    }

    #[test]
    fn the_stored_expiry_is_held_at_creation_plus_timeout() {
        let mut state = loaded(created(NOW - Duration::hours(7)));
        state.data_mut().insert("b".into(), json!(2));
        let Action::Write {
            expires_at,
            stamp_created,
            ..
        } = action(&state, &timeout(8), 200)
        else {
            panic!("a write")
        };
        assert_eq!(expires_at, NOW + Duration::hours(1));
        assert!(!stamp_created, "the stamp is kept, never renewed");
        // Shorter than the timeout: the inactivity expiry decides.
        let Action::Write { expires_at, .. } = action(&state, &timeout(400), 200) else {
            panic!("a write")
        };
        assert_eq!(expires_at, NOW + Config::default().cookie_age());
    }

    #[test]
    fn a_second_before_the_timeout_still_writes_and_at_it_the_session_ends() {
        let config = timeout(8);
        let mut alive = loaded(created(NOW - Duration::hours(8) + Duration::SECOND));
        alive.data_mut().insert("b".into(), json!(2));
        assert!(matches!(
            action(&alive, &config, 200),
            Action::Write { expires_at, .. } if expires_at == NOW + Duration::SECOND
        ));
        let mut over = loaded(created(NOW - Duration::hours(8)));
        let id = over.key().cloned().unwrap();
        over.data_mut().insert("b".into(), json!(2));
        assert_eq!(
            action(&over, &config, 200),
            Action::End {
                delete: vec![id],
                remove_cookie: true
            }
        );
    }

    #[test]
    fn the_cookie_never_outlives_the_timeout() {
        let config = timeout(8);
        let created = Some(NOW - Duration::hours(7) - Duration::milliseconds(500));
        // 30 minutes and a half second are left: whole seconds, rounded down.
        assert_eq!(
            cookie_max_age(&config, Expiry::Default, created, NOW),
            Some(3_599)
        );
        assert_eq!(
            cookie_max_age(&config, Expiry::Seconds(60), created, NOW),
            Some(60),
            "a shorter custom expiry still decides"
        );
        assert_eq!(
            cookie_max_age(&config, Expiry::BrowserClose, created, NOW),
            None,
            "a browser-close cookie stays without a lifetime"
        );
        assert_eq!(
            cookie_max_age(&Config::default(), Expiry::Default, created, NOW),
            Some(1_209_600)
        );
    }

    #[test]
    fn a_session_from_before_the_setting_is_stamped_at_its_next_write() {
        let config = timeout(8).with_save_every_request(true);
        let mut state = loaded(json!({"a": 1}));
        state.mark_accessed();
        let id = state.key().cloned().unwrap();
        // A renewal rewrites it once, to carry the stamp, instead of a touch.
        assert_eq!(
            action(&state, &config, 200),
            Action::Write {
                write: Write::Save { id },
                expires_at: NOW + Duration::hours(8),
                custom: Expiry::Default,
                renewal: true,
                stamp_created: true,
            }
        );
        // Once stamped, renewals touch again.
        let stamped = loaded(created(NOW - Duration::hours(1)));
        assert!(matches!(
            action(&stamped, &config, 200),
            Action::Write {
                write: Write::Touch { .. },
                stamp_created: false,
                ..
            }
        ));
    }

    #[test]
    fn a_timed_out_load_removes_the_cookie_and_deletes_the_record() {
        let id = SessionId::generate();
        let mut state = State::default();
        state.loaded_timed_out(id.clone());
        state.mark_accessed();
        assert!(state.is_empty());
        let p = plan(&state, &timeout(8), 200, NOW, true, true);
        assert_eq!(p.action, Action::RemoveCookie);
        assert_eq!(p.delete_timed_out, Some(id.clone()));
        // A write starts a new session under a fresh ID; the old record goes.
        state.data_mut().insert("a".into(), json!(1));
        let p = plan(&state, &timeout(8), 200, NOW, true, true);
        assert!(matches!(
            p.action,
            Action::Write {
                write: Write::Create {
                    id: None,
                    rotate_from: None
                },
                stamp_created: true,
                ..
            }
        ));
        assert_eq!(p.delete_timed_out, Some(id));
        let p = plan(&state, &timeout(8), 503, NOW, true, true);
        assert_eq!((p.action, p.delete_timed_out), (Action::Nothing, None));
    }

    // --- throttled renewal -------------------------------------------------

    fn throttled() -> Config {
        Config::default()
            .with_save_every_request(true)
            .with_renewal_interval(Duration::hours(1))
    }

    /// A state whose record was last renewed `ago` before `NOW` with a
    /// lifetime of `lifetime`.
    fn renewed(data: serde_json::Value, lifetime: Duration, ago: Duration) -> State {
        let mut state = loaded_until(data, NOW - ago + lifetime);
        state.mark_accessed();
        state
    }

    #[rstest::rstest]
    #[case::just_renewed(Duration::ZERO, false)]
    #[case::a_second_short(Duration::hours(1) - Duration::SECOND, false)]
    #[case::exactly_the_interval(Duration::hours(1), true)]
    #[case::long_ago(Duration::days(3), true)]
    fn an_unchanged_session_is_renewed_once_per_interval(
        #[case] ago: Duration,
        #[case] renews: bool,
    ) {
        let config = throttled();
        let state = renewed(json!({"a": 1}), config.cookie_age(), ago);
        let got = action(&state, &config, 200);
        if renews {
            assert!(
                matches!(got, Action::Write { write: Write::Touch { .. }, renewal: true, expires_at, .. }
                    if expires_at == NOW + config.cookie_age()),
                "{got:?}"
            );
        } else {
            assert_eq!(got, Action::Nothing);
        }
        // Without an interval, every request renews.
        let every = Config::default().with_save_every_request(true);
        assert!(matches!(
            action(&state, &every, 200),
            Action::Write {
                write: Write::Touch { .. },
                ..
            }
        ));
    }

    /// A lifetime no longer than the interval is still renewed, twice per
    /// lifetime, or an active visitor would be logged out.
    #[rstest::rstest]
    #[case::custom_fifteen_minutes(Some(900), Duration::minutes(7), false)]
    #[case::custom_past_half(Some(900), Duration::seconds(450), true)]
    #[case::cookie_age_of_thirty_minutes(None, Duration::minutes(15), true)]
    #[case::cookie_age_inside_half(None, Duration::minutes(14), false)]
    fn a_lifetime_shorter_than_the_interval_renews_at_half_of_it(
        #[case] custom_secs: Option<i64>,
        #[case] ago: Duration,
        #[case] renews: bool,
    ) {
        let config = throttled().with_cookie_age(Duration::minutes(30));
        let (data, lifetime) = match custom_secs {
            Some(secs) => (json!({"a": 1, EXPIRY_KEY: secs}), Duration::seconds(secs)),
            None => (json!({"a": 1}), config.cookie_age()),
        };
        let state = renewed(data, lifetime, ago);
        let got = action(&state, &config, 200);
        assert_eq!(
            matches!(got, Action::Write { renewal: true, .. }),
            renews,
            "{got:?}"
        );
    }

    #[test]
    fn a_shortened_lifetime_is_renewed_at_once() {
        // Renewed a minute ago under a two-week cookie age, now one day.
        let state = renewed(json!({"a": 1}), Duration::weeks(2), Duration::minutes(1));
        let config = throttled().with_cookie_age(Duration::days(1));
        assert!(matches!(
            action(&state, &config, 200),
            Action::Write { renewal: true, expires_at, .. } if expires_at == NOW + Duration::days(1)
        ));
    }

    #[test]
    fn a_throttled_renewal_saves_where_the_store_cannot_touch() {
        let config = throttled();
        let state = renewed(json!({"a": 1}), config.cookie_age(), Duration::hours(2));
        let p = plan(&state, &config, 200, NOW, true, false);
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
    fn a_changed_session_is_always_written() {
        let config = throttled();
        let mut state = renewed(json!({"a": 1}), config.cookie_age(), Duration::ZERO);
        state.data_mut().insert("b".into(), json!(2));
        assert!(matches!(
            action(&state, &config, 200),
            Action::Write {
                write: Write::Save { .. },
                renewal: false,
                ..
            }
        ));
    }

    #[test]
    fn the_interval_counts_from_the_sessions_own_lifetime() {
        let config = throttled();
        let data = json!({"a": 1, EXPIRY_KEY: 7_200});
        let lifetime = Duration::seconds(7_200);
        let recent = renewed(data.clone(), lifetime, Duration::minutes(30));
        assert_eq!(action(&recent, &config, 200), Action::Nothing);
        let due = renewed(data, lifetime, Duration::hours(1));
        assert!(matches!(
            action(&due, &config, 200),
            Action::Write { expires_at, .. } if expires_at == NOW + lifetime
        ));
    }

    #[test]
    fn a_fixed_date_is_never_renewed_under_an_interval() {
        let at = NOW + Duration::days(2);
        let data = json!({"a": 1, EXPIRY_KEY: "2030-06-17T12:00:00Z"});
        let state = loaded_until(data, at);
        assert_eq!(action(&state, &throttled(), 200), Action::Nothing);
        // A session held at its absolute timeout gains nothing either.
        let config = throttled().with_absolute_timeout(Duration::hours(8));
        let created_at = NOW - Duration::hours(7);
        let held = loaded_until(created(created_at), created_at + Duration::hours(8));
        assert_eq!(action(&held, &config, 200), Action::Nothing);
    }
}
