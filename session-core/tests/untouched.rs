//! A request that never touches its session costs no store call and one
//! allocation, its handle (issue 11: a route behind the session layer that
//! never uses the session must cost nothing a benchmark can resolve).
//!
//! Its own test binary, because it counts allocations with a global
//! allocator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use session_core::{
    Capabilities, Error, MemoryStore, Record, SessionId, SessionManager, SessionStore, async_trait,
    time::OffsetDateTime,
};

/// Allocations made by `f` on this thread (`allocation_counter` replaces
/// the global allocator of this test binary only and counts per thread).
fn allocations_in(f: impl FnOnce()) -> u64 {
    allocation_counter::measure(f).count_total
}

/// A store that counts every call.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    calls: AtomicUsize,
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.create(record).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }
    async fn save(&self, record: &Record) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.save(record).await
    }
    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(id).await
    }
    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(id, expires_at).await
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

/// Polls `future`, which must finish without waiting (no I/O, no
/// contended lock), on this thread; no runtime, so nothing but the code
/// under test allocates.
fn now<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the request path waited on nothing"),
    }
}

fn manager_with_a_session() -> (SessionManager, Arc<CountingStore>, String) {
    let store = Arc::new(CountingStore::default());
    let manager = SessionManager::new(Arc::clone(&store));
    let session = manager.load(None::<&str>);
    now(session.insert("user", "ada")).unwrap();
    let set_cookie = now(manager.finish(&session, 200))
        .unwrap()
        .set_cookie
        .unwrap();
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    (manager, store, pair)
}

#[test]
fn an_untouched_session_calls_no_store_and_sends_nothing() {
    let (manager, store, pair) = manager_with_a_session();
    let calls = store.calls.load(Ordering::SeqCst);
    for status in [200, 404, 500] {
        let header = format!("theme=dark; {pair}; lang=en");
        let session = manager.load([header.as_str()]);
        let outcome = now(manager.finish(&session, status)).unwrap();
        assert_eq!(outcome.set_cookie, None, "status {status}");
        assert!(
            !outcome.vary_cookie,
            "status {status}: an untouched session varies nothing"
        );
    }
    assert_eq!(
        store.calls.load(Ordering::SeqCst),
        calls,
        "an untouched session called the store"
    );
}

#[test]
fn an_untouched_session_allocates_only_its_handle() {
    let (manager, _store, pair) = manager_with_a_session();
    let header = format!("theme=dark; {pair}; lang=en");
    let with_cookie = allocations_in(|| {
        let session = manager.load([header.as_str()]);
        let outcome = now(manager.finish(&session, 200)).unwrap();
        assert_eq!(outcome.set_cookie, None);
    });
    let without_cookie = allocations_in(|| {
        let session = manager.load(["theme=dark"]);
        let outcome = now(manager.finish(&session, 200)).unwrap();
        assert_eq!(outcome.set_cookie, None);
    });
    // The handle (one `Arc`), with or without the cookie: the parsed ID
    // lives inline, and there is no copy of the data and no header.
    assert_eq!(without_cookie, 1, "a request without the cookie");
    assert_eq!(with_cookie, 1, "a request with the cookie");
}
