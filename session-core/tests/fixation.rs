//! Session fixation and replay (issue 9, proof 4), through
//! `SessionManager::load`/`finish` with cookies passed back as a browser
//! would, on a `MemoryStore`:
//!
//! - after login, the pre-login cookie sees nothing of the logged-in
//!   session (no user, none of the data written after login);
//! - after logout, the old cookie sees nothing, and requests that write
//!   with it never revive or adopt it;
//! - a cookie stolen while logged in and replayed after logout gets an
//!   empty session, also when the replayed request had loaded the session
//!   before the logout;
//! - an ID the attacker chose (well-formed, unknown to the store) is never
//!   adopted, before or after login.

use serde_json::json;
use session_core::{Config, ErrorKind, MemoryStore, SessionId, SessionManager, SessionStore};

const USER: &str = "_auth_user_id";
const NAME: &str = "sessionid";

/// What a browser keeps of the session cookie.
#[derive(Debug, Clone, Default, PartialEq)]
struct Jar(Option<String>);

impl Jar {
    fn of(id: &str) -> Self {
        Jar(Some(id.to_owned()))
    }

    /// The `Cookie` header fields the browser sends.
    fn header(&self) -> Vec<String> {
        self.0.iter().map(|id| format!("{NAME}={id}")).collect()
    }

    /// Applies a `Set-Cookie` value as a browser does: an empty value with
    /// `Max-Age=0` removes the cookie, anything else replaces it.
    fn apply(&mut self, set_cookie: Option<&str>) {
        let Some(set_cookie) = set_cookie else { return };
        let pair = set_cookie.split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        assert_eq!(name, NAME, "{set_cookie}");
        if value.is_empty() {
            assert!(set_cookie.contains("Max-Age=0"), "{set_cookie}");
            self.0 = None;
        } else {
            assert!(SessionId::is_valid(value), "{set_cookie}");
            self.0 = Some(value.to_owned());
        }
    }

    fn id(&self) -> &str {
        self.0
            .as_deref()
            .expect("the browser holds a session cookie")
    }
}

struct Site {
    store: MemoryStore,
    sessions: SessionManager,
}

/// What a request saw of the session before the handler changed it.
#[derive(Debug, PartialEq)]
struct Seen {
    id: Option<SessionId>,
    user: Option<String>,
    cart: Option<Vec<String>>,
    secret: Option<String>,
}

impl Seen {
    fn nothing() -> Self {
        Seen {
            id: None,
            user: None,
            cart: None,
            secret: None,
        }
    }
}

impl Site {
    fn new() -> Self {
        let store = MemoryStore::new();
        Site {
            sessions: SessionManager::new(store.clone()),
            store,
        }
    }

    fn with_config(config: Config) -> Self {
        let store = MemoryStore::new();
        Site {
            sessions: SessionManager::new(store.clone())
                .with_config(config)
                .expect("a valid config"),
            store,
        }
    }

    /// One request from `jar`: reads what the session holds, then runs
    /// `action`, then finishes with 200 and updates the jar.
    async fn request(&self, jar: &mut Jar, action: Action) -> Seen {
        let session = self.sessions.load(jar.header());
        let seen = Seen {
            id: session.id().await.unwrap(),
            user: session.get(USER).await.unwrap(),
            cart: session.get("cart").await.unwrap(),
            secret: session.get("secret").await.unwrap(),
        };
        match action {
            Action::Read => {}
            Action::AddToCart(item) => {
                let mut cart = seen.cart.clone().unwrap_or_default();
                cart.push(item.to_owned());
                session.insert("cart", cart).await.unwrap();
            }
            Action::Login(user) => {
                session.login(user, "hash-v1").await.unwrap();
                session
                    .insert("secret", format!("{user}'s account page"))
                    .await
                    .unwrap();
            }
            Action::Write => session.insert("note", json!("hello")).await.unwrap(),
            Action::Logout => session.logout().await.unwrap(),
            Action::CycleId => session.cycle_id().await.unwrap(),
        }
        let outcome = self.sessions.finish(&session, 200).await.unwrap();
        jar.apply(outcome.set_cookie.as_deref());
        seen
    }

    async fn stored(&self, id: &str) -> bool {
        self.store
            .load(&id.parse().unwrap())
            .await
            .unwrap()
            .is_some()
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Read,
    AddToCart(&'static str),
    Login(&'static str),
    Write,
    Logout,
    CycleId,
}

/// Every kind of request a replayed cookie may make; none may see or
/// revive anything.
const EVERY_ACTION: [Action; 6] = [
    Action::Read,
    Action::Write,
    Action::AddToCart("spoon"),
    Action::CycleId,
    Action::Logout,
    Action::Login("mallory"),
];

#[tokio::test]
async fn the_pre_login_cookie_sees_nothing_of_the_logged_in_session() {
    let site = Site::new();
    let mut victim = Jar::default();
    site.request(&mut victim, Action::AddToCart("apple")).await;
    let anonymous = victim.clone();
    let pre_login = anonymous.id().to_owned();

    let seen = site.request(&mut victim, Action::Login("alice")).await;
    assert_eq!(seen.cart.as_deref(), Some(&["apple".to_owned()][..]));
    let logged_in = victim.id().to_owned();
    assert_ne!(logged_in, pre_login, "login kept the ID");
    assert!(
        !site.stored(&pre_login).await,
        "the pre-login record survived"
    );

    // The victim is logged in, with the anonymous cart kept.
    let seen = site.request(&mut victim.clone(), Action::Read).await;
    assert_eq!(seen.user.as_deref(), Some("alice"));
    assert_eq!(seen.cart.as_deref(), Some(&["apple".to_owned()][..]));

    // Whoever holds the pre-login cookie sees none of it, on any request.
    for action in EVERY_ACTION {
        let mut old = anonymous.clone();
        let seen = site.request(&mut old, action).await;
        assert_eq!(
            seen,
            Seen::nothing(),
            "{action:?} with the pre-login cookie"
        );
        assert_ne!(old.0.as_deref(), Some(pre_login.as_str()), "{action:?}");
        assert_ne!(old.0.as_deref(), Some(logged_in.as_str()), "{action:?}");
        assert!(
            !site.stored(&pre_login).await,
            "{action:?} revived the pre-login ID"
        );
    }
    // And the victim's session is untouched by all that.
    let seen = site.request(&mut victim, Action::Read).await;
    assert_eq!(seen.user.as_deref(), Some("alice"));
    assert_eq!(seen.secret.as_deref(), Some("alice's account page"));
}

#[tokio::test]
async fn a_planted_anonymous_cookie_is_rotated_away_at_login() {
    // The attacker gets a real, stored session of their own and plants its
    // cookie in the victim's browser (a sibling subdomain, a URL, ...).
    let site = Site::new();
    let mut attacker = Jar::default();
    site.request(&mut attacker, Action::AddToCart("bait")).await;
    let planted = attacker.id().to_owned();
    let mut victim = attacker.clone();

    site.request(&mut victim, Action::Login("alice")).await;
    assert_ne!(
        victim.id(),
        planted,
        "the victim logged in on the planted ID"
    );

    // The attacker's cookie now leads nowhere.
    let seen = site.request(&mut attacker.clone(), Action::Read).await;
    assert_eq!(seen, Seen::nothing());
    let seen = site.request(&mut attacker, Action::Write).await;
    assert_eq!(seen, Seen::nothing());
    assert_ne!(attacker.id(), planted);
    assert_ne!(attacker.id(), victim.id());
}

#[tokio::test]
async fn after_logout_the_old_cookie_sees_nothing_and_is_never_revived() {
    let site = Site::new();
    let mut victim = Jar::default();
    site.request(&mut victim, Action::Login("alice")).await;
    site.request(&mut victim, Action::AddToCart("book")).await;
    let before_logout = victim.clone();
    let old = before_logout.id().to_owned();

    site.request(&mut victim, Action::Logout).await;
    assert_eq!(victim, Jar::default(), "logout did not remove the cookie");
    assert!(!site.stored(&old).await, "logout left the record");

    for round in 0..2 {
        for action in EVERY_ACTION {
            let mut replay = before_logout.clone();
            let seen = site.request(&mut replay, action).await;
            assert_eq!(
                seen,
                Seen::nothing(),
                "round {round}: {action:?} with the old cookie"
            );
            assert_ne!(
                replay.0.as_deref(),
                Some(old.as_str()),
                "{action:?} adopted the old ID"
            );
            assert!(!site.stored(&old).await, "{action:?} revived the old ID");
        }
    }
}

#[tokio::test]
async fn with_save_every_request_an_old_cookie_is_not_revived_either() {
    let site = Site::with_config(Config::default().with_save_every_request(true));
    let mut victim = Jar::default();
    site.request(&mut victim, Action::Login("alice")).await;
    let stolen = victim.clone();
    let old = stolen.id().to_owned();
    site.request(&mut victim, Action::Logout).await;

    // A request that never touches the session: the renewal must not
    // recreate the record.
    let session = site.sessions.load(stolen.header());
    let outcome = site.sessions.finish(&session, 200).await.unwrap();
    let mut jar = stolen.clone();
    jar.apply(outcome.set_cookie.as_deref());
    assert_ne!(jar.0.as_deref(), Some(old.as_str()));
    assert!(
        !site.stored(&old).await,
        "save_every_request revived the old ID"
    );

    for action in EVERY_ACTION {
        let mut replay = stolen.clone();
        assert_eq!(site.request(&mut replay, action).await, Seen::nothing());
        assert!(!site.stored(&old).await, "{action:?} revived the old ID");
    }
}

#[tokio::test]
async fn a_stolen_cookie_replayed_after_logout_gets_an_empty_session() {
    let site = Site::new();
    let mut victim = Jar::default();
    site.request(&mut victim, Action::Login("alice")).await;
    let stolen = victim.clone();
    let id = stolen.id().to_owned();

    // While the victim is logged in, the copy works: that is what logout
    // is for.
    let seen = site.request(&mut stolen.clone(), Action::Read).await;
    assert_eq!(seen.user.as_deref(), Some("alice"));

    // The thief's request loads the session, then the victim logs out
    // while it runs, then it writes.
    let racing = site.sessions.load(stolen.header());
    assert_eq!(
        racing.get::<String>(USER).await.unwrap().as_deref(),
        Some("alice")
    );
    site.request(&mut victim, Action::Logout).await;
    racing.insert("note", "planted").await.unwrap();
    match site.sessions.finish(&racing, 200).await {
        Err(error) => assert_eq!(error.kind(), ErrorKind::Interrupted),
        Ok(outcome) => {
            let mut jar = stolen.clone();
            jar.apply(outcome.set_cookie.as_deref());
            assert_ne!(
                jar.0.as_deref(),
                Some(id.as_str()),
                "the write kept the dead ID"
            );
        }
    }
    assert!(
        !site.stored(&id).await,
        "a write racing the logout revived the session"
    );

    // Every later replay gets an empty session.
    for action in EVERY_ACTION {
        let mut replay = stolen.clone();
        let seen = site.request(&mut replay, action).await;
        assert_eq!(
            seen,
            Seen::nothing(),
            "{action:?} replaying the stolen cookie"
        );
        assert!(!site.stored(&id).await);
    }
}

#[tokio::test]
async fn an_attacker_chosen_id_is_never_adopted_before_login() {
    let site = Site::new();
    for chosen in [
        "a".repeat(32),
        "0123456789abcdefghijklmnopqrstuv".to_owned(),
        SessionId::generate().to_string(),
    ] {
        for action in EVERY_ACTION {
            let mut victim = Jar::of(&chosen);
            let seen = site.request(&mut victim, action).await;
            assert_eq!(seen, Seen::nothing(), "{action:?}");
            assert_ne!(
                victim.0.as_deref(),
                Some(chosen.as_str()),
                "{action:?} adopted it"
            );
            assert!(
                !site.stored(&chosen).await,
                "{action:?} stored the chosen ID"
            );
        }
        // Anonymous use, then login, all starting from the chosen cookie.
        let mut victim = Jar::of(&chosen);
        site.request(&mut victim, Action::AddToCart("apple")).await;
        site.request(&mut victim, Action::Login("alice")).await;
        assert_ne!(victim.id(), chosen);
        assert!(!site.stored(&chosen).await);
        let seen = site.request(&mut Jar::of(&chosen), Action::Read).await;
        assert_eq!(seen, Seen::nothing(), "the chosen ID leads to the victim");
    }
}

#[tokio::test]
async fn an_attacker_chosen_id_is_never_adopted_after_login() {
    let site = Site::new();
    let mut victim = Jar::default();
    site.request(&mut victim, Action::Login("alice")).await;
    let real = victim.id().to_owned();
    let chosen = SessionId::generate().to_string();

    // The attacker tosses a second cookie of the same name in front of the
    // real one: the victim's browser sends both.
    for action in EVERY_ACTION {
        let session = site
            .sessions
            .load([format!("{NAME}={chosen}; {NAME}={real}")]);
        let id = session.id().await.unwrap();
        assert!(
            id.is_none() || id.as_ref().map(SessionId::as_str) == Some(real.as_str()),
            "adopted a session that is not the victim's"
        );
        match action {
            Action::Write => session.insert("note", 1).await.unwrap(),
            Action::Login(user) => session.login(user, "h").await.unwrap(),
            Action::CycleId => session.cycle_id().await.unwrap(),
            _ => {}
        }
        let outcome = site.sessions.finish(&session, 200).await.unwrap();
        let mut jar = Jar::default();
        jar.apply(outcome.set_cookie.as_deref());
        assert_ne!(
            jar.0.as_deref(),
            Some(chosen.as_str()),
            "{action:?} adopted it"
        );
        assert!(
            !site.stored(&chosen).await,
            "{action:?} stored the chosen ID"
        );
    }

    // Logged in or not, the chosen ID alone leads nowhere.
    let mut attacker = Jar::of(&chosen);
    let seen = site.request(&mut attacker, Action::Login("mallory")).await;
    assert_eq!(seen, Seen::nothing());
    assert_ne!(attacker.id(), chosen);
    assert!(!site.stored(&chosen).await);
}
