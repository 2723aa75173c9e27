//! The kit tests itself: each deliberately broken store must fail at least
//! the named cases, and a correct store must pass every case.

use std::convert::Infallible;
use std::sync::{Arc, LazyLock};

use serde_json::Value;
use session_conformance::{Namespace, Status, StoreSuite};
use session_core::{
    Capabilities, Error, ManualClock, MemoryStore, Record, SessionData, SessionId, SessionStore,
    async_trait,
};
use time::OffsetDateTime;

/// One flaw each: the smallest change to a correct store that breaks one
/// requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    OverwritesOnCreate,
    RevivesOnSave,
    ReturnsExpired,
    IgnoresDelete,
    LosesUnicode,
    TruncatesLargeValues,
    DropsExpiryOnSave,
    SharesStateBetweenNamespaces,
    RacyCreate,
    MiscountsClearExpired,
    TouchRewritesData,
    IgnoresVersions,
}

#[derive(Debug)]
struct Broken {
    flaw: Flaw,
    inner: MemoryStore,
}

fn map_strings(value: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (f(k), map_strings(v, f))).collect())
        }
        other => other.clone(),
    }
}

impl Broken {
    /// What the flawed store actually writes.
    fn mangle(&self, record: &Record) -> Record {
        let f: &dyn Fn(&str) -> String = match self.flaw {
            Flaw::LosesUnicode => &|s| {
                s.chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect()
            },
            Flaw::TruncatesLargeValues => &|s| s.chars().take(65_536).collect(),
            _ => return record.clone(),
        };
        let data: SessionData = record
            .data
            .iter()
            .map(|(k, v)| (f(k), map_strings(v, f)))
            .collect();
        Record {
            data: Arc::new(data),
            ..record.clone()
        }
    }
}

#[async_trait]
impl SessionStore for Broken {
    async fn create(&self, record: &Record) -> Result<(), Error> {
        match self.flaw {
            Flaw::OverwritesOnCreate => {
                self.inner.delete(&record.id).await?;
                self.inner.create(record).await
            }
            Flaw::RacyCreate => {
                // Check, then act: another task slips in between.
                if self.inner.load(&record.id).await?.is_some() {
                    return Err(Error::id_taken());
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                self.inner.delete(&record.id).await?;
                self.inner.create(record).await
            }
            _ => self.inner.create(&self.mangle(record)).await,
        }
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        self.inner.load(id).await
    }

    async fn save(&self, record: &Record) -> Result<(), Error> {
        match self.flaw {
            Flaw::RevivesOnSave => match self.inner.save(record).await {
                Err(e) if e.kind() == session_core::ErrorKind::NotFound => {
                    self.inner.create(record).await
                }
                other => other,
            },
            Flaw::DropsExpiryOnSave => {
                let Some(stored) = self.inner.load(&record.id).await? else {
                    return Err(Error::NotFound);
                };
                self.inner
                    .save(&Record {
                        expires_at: stored.expires_at,
                        ..record.clone()
                    })
                    .await
            }
            Flaw::IgnoresVersions => {
                let Some(stored) = self.inner.load(&record.id).await? else {
                    return Err(Error::NotFound);
                };
                self.inner
                    .save(&record.clone().with_version(stored.version))
                    .await
            }
            _ => self.inner.save(&self.mangle(record)).await,
        }
    }

    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        match self.flaw {
            Flaw::IgnoresDelete => Ok(()),
            _ => self.inner.delete(id).await,
        }
    }

    async fn touch(&self, id: &SessionId, expires_at: OffsetDateTime) -> Result<(), Error> {
        if self.flaw == Flaw::TouchRewritesData {
            let Some(stored) = self.inner.load(id).await? else {
                return Err(Error::NotFound);
            };
            let emptied = Record::new(id.clone(), SessionData::new(), expires_at)
                .with_version(stored.version);
            return self.inner.save(&emptied).await;
        }
        self.inner.touch(id, expires_at).await
    }

    async fn clear_expired(&self) -> Result<u64, Error> {
        let removed = self.inner.clear_expired().await?;
        Ok(if self.flaw == Flaw::MiscountsClearExpired {
            0
        } else {
            removed
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
}

static SHARED: LazyLock<MemoryStore> = LazyLock::new(MemoryStore::new);

fn suite(flaw: Option<Flaw>) -> StoreSuite {
    let name = flaw.map_or("self-test-correct".to_owned(), |f| {
        format!("self-test-{f:?}")
    });
    StoreSuite::new(name, move |ns: Namespace| async move {
        let inner = match flaw {
            None => {
                return Ok::<_, Infallible>(
                    Arc::new(MemoryStore::with_clock(ns.clock())) as Arc<dyn SessionStore>
                );
            }
            Some(Flaw::SharesStateBetweenNamespaces) => SHARED.clone(),
            // A clock stuck in 2001: nothing it holds ever expires.
            Some(Flaw::ReturnsExpired) => MemoryStore::with_clock(ManualClock::new(
                time::macros::datetime!(2001-01-01 0:00 UTC),
            )),
            Some(_) => MemoryStore::with_clock(ns.clock()),
        };
        Ok(Arc::new(Broken {
            flaw: flaw.unwrap_or(Flaw::RacyCreate),
            inner,
        }) as Arc<dyn SessionStore>)
    })
    .capabilities(Capabilities::ALL)
    .manual_clock(true)
}

async fn failed_cases(flaw: Option<Flaw>) -> Vec<String> {
    let rows = suite(flaw).run().await;
    assert!(
        rows.len() >= 40,
        "the suite has {} store cases, fewer than 40",
        rows.len()
    );
    assert!(
        rows.iter().all(|r| r.status != Status::Unavailable),
        "no case may be unavailable in the self-test"
    );
    rows.into_iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| r.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_store_passes_every_case() {
    let rows = suite(None).run().await;
    let bad: Vec<_> = rows.iter().filter(|r| r.status != Status::Passed).collect();
    assert!(bad.is_empty(), "MemoryStore did not pass: {bad:#?}");
}

macro_rules! caught {
    ($($test:ident: $flaw:ident => [$($case:literal),+];)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let failed = failed_cases(Some(Flaw::$flaw)).await;
            for case in [$($case),+] {
                assert!(failed.iter().any(|f| f == case), "{:?} was not caught by {case}; failed: {failed:?}", Flaw::$flaw);
            }
        }
    )+};
}

caught! {
    overwrites_on_create: OverwritesOnCreate => ["ST-CRE-001", "ST-CRE-005"];
    revives_on_save: RevivesOnSave => ["ST-SAV-002", "ST-SAV-003", "ST-SAV-004"];
    returns_expired_records: ReturnsExpired => ["ST-LOD-003", "ST-LOD-006"];
    ignores_delete: IgnoresDelete => ["ST-DEL-001", "ST-CRE-004"];
    loses_unicode: LosesUnicode => ["ST-RT-003"];
    truncates_large_values: TruncatesLargeValues => ["ST-RT-008"];
    drops_the_expiry_on_save: DropsExpiryOnSave => ["ST-SAV-005", "ST-SAV-006"];
    shares_state_between_namespaces: SharesStateBetweenNamespaces => ["ST-CON-002"];
    racy_create: RacyCreate => ["ST-CRE-002"];
    miscounts_clear_expired: MiscountsClearExpired => ["ST-CLR-001"];
    touch_rewrites_data: TouchRewritesData => ["ST-TCH-001"];
    ignores_versions: IgnoresVersions => ["ST-VER-002", "ST-VER-003"];
}

fn unreachable_suite() -> StoreSuite {
    StoreSuite::new("self-test-unreachable", |_ns: Namespace| async move {
        Err::<MemoryStore, _>("connection refused (127.0.0.1:1)")
    })
    .unavailable_hint("start it with `true`")
}

#[tokio::test]
async fn an_unreachable_backend_is_unavailable_never_passed() {
    let rows = unreachable_suite().run_requiring(false).await;
    assert!(
        rows.iter().all(|r| r.status == Status::Unavailable),
        "{rows:#?}"
    );
    let message = rows[0].message.as_deref().unwrap_or_default();
    assert!(
        message.contains("connection refused") && message.contains("start it with"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreachable_backend_fails_when_required() {
    let rows = unreachable_suite().run_requiring(true).await;
    assert!(rows.iter().all(|r| r.status == Status::Failed), "{rows:#?}");
}

#[tokio::test]
async fn a_missing_capability_is_ignored_never_passed() {
    let rows = StoreSuite::new("self-test-no-capabilities", |ns: Namespace| async move {
        Ok::<_, Infallible>(MemoryStore::with_clock(ns.clock()))
    })
    .run_requiring(true)
    .await;
    for id in ["ST-TCH-001", "ST-CLR-001", "ST-VER-001", "ST-LOD-006"] {
        let row = rows.iter().find(|r| r.id == id).expect("the case exists");
        assert_eq!(row.status, Status::Ignored, "{id}: {row:?}");
    }
    // MemoryStore reports every capability, so the undeclared claim is caught.
    let cap = rows
        .iter()
        .find(|r| r.id == "ST-CAP-001")
        .expect("the case exists");
    assert_eq!(cap.status, Status::Failed);
}
