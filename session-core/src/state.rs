//! What one request knows about its session, and the only ways that may
//! change. The fields are private: the [`Session`](crate::Session) methods
//! and the executor of `finish` move the state through the transitions
//! below, each of which keeps the invariants listed on [`State`].

use std::sync::Arc;

use time::OffsetDateTime;

use crate::expiry::{self, CREATED_KEY, EXPIRY_KEY, Expiry};
use crate::session::AUTH_USER_ID_KEY;
use crate::{Error, Record, SessionData, SessionId};

/// One request's view of its session.
///
/// Invariants:
/// - `in_store` implies `key` is some: a stored record has an ID;
/// - `rotate_from` is some only while `key` is a new ID not yet created
///   (`in_store` false): the old record goes once the new one exists;
/// - `base` is the data as the store last had it (for merging after a lost
///   versioned save); it shares the map with `data` until the first change;
/// - `modified` is set by every change of `data`, key or lifetime, and
///   cleared only by a successful write.
#[derive(Debug, Default)]
pub(crate) struct State {
    loaded: bool,
    key: Option<SessionId>,
    in_store: bool,
    rotate_from: Option<SessionId>,
    /// Records a flush failed to delete: `finish` must delete them before
    /// anything else, or fail the response.
    pending_deletes: Vec<SessionId>,
    data: Arc<SessionData>,
    base: Arc<SessionData>,
    version: u64,
    /// The loaded record's expiry: when a renewal is throttled, the time
    /// of the last renewal is derived from it.
    loaded_expires_at: Option<OffsetDateTime>,
    /// A record the cookie named that had reached its absolute timeout: not
    /// adopted, and deleted at `finish`.
    timed_out: Option<SessionId>,
    accessed: bool,
    modified: bool,
    finished: bool,
}

impl State {
    /// A state not loaded yet, holding `empty` (an empty map the manager
    /// shares between requests, so a request that never touches its
    /// session allocates no data).
    pub(crate) fn with_empty(empty: &Arc<SessionData>) -> Self {
        // Every field spelled out: `..State::default()` would allocate
        // two empty maps only to drop them.
        State {
            loaded: false,
            key: None,
            in_store: false,
            rotate_from: None,
            pending_deletes: Vec::new(),
            data: Arc::clone(empty),
            base: Arc::clone(empty),
            version: 0,
            loaded_expires_at: None,
            timed_out: None,
            accessed: false,
            modified: false,
            finished: false,
        }
    }

    /// Whether the store has been asked (or there was nothing to ask for).
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// The load is done: `record` is the live record the cookie named, if
    /// any. Without one the session has no key, so a write gets a fresh ID
    /// and the client's is never adopted.
    pub(crate) fn loaded(&mut self, record: Option<Record>) {
        if let Some(record) = record {
            self.key = Some(record.id);
            self.in_store = true;
            self.version = record.version;
            self.loaded_expires_at = Some(record.expires_at);
            self.base = Arc::clone(&record.data);
            self.data = record.data;
        }
        self.loaded = true;
    }

    /// The load found `id` past its absolute timeout: the session starts
    /// empty and without a key (the ID is never adopted), and `finish`
    /// deletes the record.
    pub(crate) fn loaded_timed_out(&mut self, id: SessionId) {
        self.timed_out = Some(id);
        self.loaded = true;
    }

    /// The record found past its absolute timeout at load, if any.
    pub(crate) fn timed_out(&self) -> Option<&SessionId> {
        self.timed_out.as_ref()
    }

    /// The timed-out record is deleted (or given up on).
    pub(crate) fn timed_out_done(&mut self) {
        self.timed_out = None;
    }

    /// The expiry of the record as loaded, before this request wrote it.
    pub(crate) fn loaded_expires_at(&self) -> Option<OffsetDateTime> {
        self.loaded_expires_at
    }

    /// A handler method used the session.
    pub(crate) fn mark_accessed(&mut self) {
        self.accessed = true;
    }

    pub(crate) fn is_accessed(&self) -> bool {
        self.accessed
    }

    pub(crate) fn is_modified(&self) -> bool {
        self.modified
    }

    /// The session must be saved at the end of the request.
    pub(crate) fn mark_modified(&mut self) {
        self.modified = true;
    }

    /// Marks the request finished; false if it already was.
    pub(crate) fn begin_finish(&mut self) -> bool {
        !std::mem::replace(&mut self.finished, true)
    }

    pub(crate) fn data(&self) -> &Arc<SessionData> {
        &self.data
    }

    /// The data, to change: marks the session modified and copies the map
    /// if a reader still shares it.
    pub(crate) fn data_mut(&mut self) -> &mut SessionData {
        self.modified = true;
        Arc::make_mut(&mut self.data)
    }

    /// Removes every key, keeping the ID and so the creation time: the
    /// same session goes on, and clearing it must not restart its
    /// absolute timeout.
    pub(crate) fn clear(&mut self) {
        let created = self.data.get(CREATED_KEY).cloned();
        let mut data = SessionData::new();
        if let Some(created) = created {
            data.insert(CREATED_KEY.to_owned(), created);
        }
        self.data = Arc::new(data);
        self.modified = true;
    }

    pub(crate) fn custom_expiry(&self) -> Expiry {
        Expiry::from_stored(self.data.get(EXPIRY_KEY))
    }

    /// When the session was created, if it carries a readable stamp.
    pub(crate) fn created_at(&self) -> Option<OffsetDateTime> {
        expiry::created_from_stored(self.data.get(CREATED_KEY))
    }

    /// Records `now` as the session's creation time (about to be written).
    pub(crate) fn stamp_created(&mut self, now: OffsetDateTime) {
        self.data_mut()
            .insert(CREATED_KEY.to_owned(), expiry::created_to_stored(now));
    }

    /// The session's ID: a loaded record's, one pending creation after a
    /// rotation, or none (no record, unknown cookie, flushed).
    pub(crate) fn key(&self) -> Option<&SessionId> {
        self.key.as_ref()
    }

    /// Whether the record behind [`State::key`] exists in the store.
    pub(crate) fn in_store(&self) -> bool {
        self.in_store
    }

    /// The record a pending rotation replaces.
    pub(crate) fn rotate_from(&self) -> Option<&SessionId> {
        self.rotate_from.as_ref()
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Django's `is_empty()`: no key and no data.
    pub(crate) fn is_empty(&self) -> bool {
        self.key.is_none() && self.data.is_empty()
    }

    /// Whether the data as the store last had it names a logged-in user.
    pub(crate) fn base_holds_auth(&self) -> bool {
        self.base.contains_key(AUTH_USER_ID_KEY)
    }

    /// Ends the session in memory: no key, no data. Returns the records to
    /// delete (the current one, and the one a pending rotation replaces).
    pub(crate) fn flush(&mut self) -> Vec<SessionId> {
        let mut doomed: Vec<SessionId> = self.rotate_from.take().into_iter().collect();
        let key = self.key.take();
        if self.in_store {
            doomed.extend(key);
        }
        self.in_store = false;
        self.data = Arc::default();
        self.base = Arc::default();
        self.version = 0;
        self.loaded = true;
        self.accessed = true;
        self.modified = true;
        doomed
    }

    /// Deletes that failed: `finish` retries them first.
    pub(crate) fn defer_deletes(&mut self, ids: impl IntoIterator<Item = SessionId>) {
        self.pending_deletes.extend(ids);
    }

    pub(crate) fn pending_deletes(&self) -> &[SessionId] {
        &self.pending_deletes
    }

    /// The pending deletes are done.
    pub(crate) fn deletes_done(&mut self) {
        self.pending_deletes.clear();
    }

    /// Gives the session a new ID (Django's `cycle_key`); the old record is
    /// deleted at `finish`, after the new one exists. A session without an
    /// ID gets one when it is first saved, so there is nothing to rotate.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] if the OS random source fails.
    pub(crate) fn rotate(&mut self) -> Result<(), Error> {
        self.modified = true;
        if self.key.is_none() {
            return Ok(());
        }
        let new_key = SessionId::try_generate()?;
        if let Some(old) = self.key.replace(new_key)
            && self.in_store
            && self.rotate_from.is_none()
        {
            self.rotate_from = Some(old);
        }
        self.in_store = false;
        Ok(())
    }

    /// The record for [`State::key`] was created with this request's data.
    pub(crate) fn created(&mut self, id: SessionId) {
        self.key = Some(id);
        self.in_store = true;
        self.version = 0;
        self.written();
    }

    /// The old record of a rotation is gone (or given up on).
    pub(crate) fn rotation_done(&mut self) {
        self.rotate_from = None;
    }

    /// A versioned save of this request's data succeeded.
    pub(crate) fn saved(&mut self) {
        self.version = self.version.wrapping_add(1);
        self.written();
    }

    /// The record's lifetime was renewed without rewriting the data.
    pub(crate) fn touched(&mut self) {
        self.written();
    }

    fn written(&mut self) {
        self.base = Arc::clone(&self.data);
        self.modified = false;
    }

    /// A versioned save lost to `theirs`: this request's changes are
    /// replayed onto it, and the next save carries its version.
    pub(crate) fn merge_into(&mut self, theirs: Record) {
        self.data = Arc::new(merge(&self.base, &self.data, &theirs.data));
        self.base = theirs.data;
        self.version = theirs.version;
    }

    /// Past the conflict window: the other writers' data stands.
    pub(crate) fn yield_to(&mut self, theirs: Record) {
        self.data = theirs.data;
        self.version = theirs.version;
        self.written();
    }

    /// The session's records are gone (its expiry passed).
    pub(crate) fn ended(&mut self) {
        self.rotate_from = None;
        self.key = None;
        self.in_store = false;
    }
}

/// Replays the changes from `base` to `mine` onto `theirs`: keys this
/// request removed are removed, keys it set or changed are set, everything
/// else is the concurrent writer's.
fn merge(base: &SessionData, mine: &SessionData, theirs: &SessionData) -> SessionData {
    let mut merged = theirs.clone();
    for key in base.keys().filter(|k| !mine.contains_key(*k)) {
        merged.remove(key);
    }
    for (key, value) in mine.iter().filter(|(k, v)| base.get(*k) != Some(*v)) {
        merged.insert(key.clone(), value.clone());
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::OffsetDateTime;

    fn stored(data: serde_json::Value) -> Record {
        let serde_json::Value::Object(map) = data else {
            panic!("an object")
        };
        Record::new(SessionId::generate(), map, OffsetDateTime::UNIX_EPOCH).with_version(7)
    }

    #[test]
    fn rotation_keeps_the_first_old_id_across_two_rotations() {
        let mut state = State::default();
        let record = stored(json!({"a": 1}));
        let original = record.id.clone();
        state.loaded(Some(record));
        state.rotate().unwrap();
        state.rotate().unwrap();
        assert_eq!(state.rotate_from(), Some(&original));
        assert_ne!(state.key(), Some(&original));
        assert!(!state.in_store());
        assert!(state.is_modified());
    }

    #[test]
    fn flush_dooms_the_current_and_the_rotated_record() {
        let mut state = State::default();
        let record = stored(json!({"a": 1}));
        let original = record.id.clone();
        state.loaded(Some(record));
        state.rotate().unwrap();
        assert_eq!(state.flush(), vec![original]);
        assert!(state.is_empty());
        assert!(state.is_modified() && state.is_loaded() && state.is_accessed());
    }

    #[test]
    fn a_merge_replays_only_this_requests_changes() {
        let mut state = State::default();
        state.loaded(Some(stored(json!({"keep": 1, "mine": 1, "gone": 1}))));
        state.data_mut().insert("mine".into(), json!(2));
        state.data_mut().remove("gone");
        state.merge_into(stored(
            json!({"keep": 9, "mine": 1, "gone": 1, "theirs": 1}),
        ));
        assert_eq!(
            serde_json::Value::Object((**state.data()).clone()),
            json!({"keep": 9, "mine": 2, "theirs": 1})
        );
        assert_eq!(state.version(), 7);
    }

    #[test]
    fn finishing_is_once() {
        let mut state = State::default();
        assert!(state.begin_finish());
        assert!(!state.begin_finish());
    }
}
