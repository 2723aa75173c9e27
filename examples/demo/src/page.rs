//! The human page at `/`, framework-agnostic: every framework hands its
//! requests for `/` and the form targets to [`handle`], which answers with
//! HTML or a redirect back to `/`.

use std::fmt::Write as _;

use session_core::{Error, Expiry, Session};
use time::Duration;
use time::format_description::well_known::Rfc3339;

/// The fruits the cart offers.
const FRUITS: [&str; 5] = ["apple", "banana", "cherry", "kiwi", "mango"];

/// What the page answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// A `Location` to redirect to (with status 303).
    pub location: Option<&'static str>,
}

impl PageResponse {
    fn html(body: String) -> Self {
        PageResponse {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body,
            location: None,
        }
    }

    fn back_home() -> Self {
        PageResponse {
            status: 303,
            content_type: "text/plain; charset=utf-8",
            body: "See /".to_owned(),
            location: Some("/"),
        }
    }

    fn plain(status: u16, body: impl Into<String>) -> Self {
        PageResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            location: None,
        }
    }

    /// A session error: its status and a short plain message that names no
    /// internals (no host, no query); the error's kind and whole cause
    /// chain go to a `tracing` error ([`Error::log_response`]).
    pub fn error(error: &Error) -> Self {
        error.log_response();
        PageResponse::plain(error.http_status(), error.public_message())
    }
}

/// Whether the page handles `path` (everything else is the probe's or a 404).
pub fn handles(path: &str) -> bool {
    matches!(
        path,
        "/" | "/cart/add" | "/cart/clear" | "/login" | "/logout" | "/expiry"
    )
}

/// Answers one request for the page. `form` is the urlencoded body of a
/// POST.
pub async fn handle(session: &Session, method: &str, path: &str, form: &[u8]) -> PageResponse {
    match run(session, method, path, form).await {
        Ok(response) => response,
        Err(error) => PageResponse::error(&error),
    }
}

fn field(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn run(
    session: &Session,
    method: &str,
    path: &str,
    form: &[u8],
) -> Result<PageResponse, Error> {
    match (method, path) {
        ("GET", "/") => render(session).await.map(PageResponse::html),
        ("POST", "/cart/add") => {
            let Some(item) = field(form, "item").filter(|i| FRUITS.contains(&i.as_str())) else {
                return Ok(PageResponse::plain(400, "pick a fruit from the list"));
            };
            let mut cart: Vec<String> = session.get("cart").await?.unwrap_or_default();
            cart.push(item);
            session.insert("cart", cart).await?;
            Ok(PageResponse::back_home())
        }
        ("POST", "/cart/clear") => {
            session.remove("cart").await?;
            Ok(PageResponse::back_home())
        }
        ("POST", "/login") => {
            let user = field(form, "user")
                .map(|u| u.trim().to_owned())
                .unwrap_or_default();
            if user.is_empty() || user.len() > 64 {
                return Ok(PageResponse::plain(
                    400,
                    "a user name of 1 to 64 characters, please",
                ));
            }
            session.login(&user, "").await?;
            Ok(PageResponse::back_home())
        }
        ("POST", "/logout") => {
            session.logout().await?;
            // Not a redirect: the page at `/` counts visits, which would
            // start a new session at once and hide that the cookie is gone.
            Ok(PageResponse::html(SIGNED_OUT.to_owned()))
        }
        ("POST", "/expiry") => {
            let expiry = match field(form, "expiry").as_deref() {
                Some("default") => Expiry::Default,
                Some("60s") => Expiry::Seconds(60),
                Some("5min-absolute") => Expiry::In(Duration::minutes(5)),
                Some("browser-close") => Expiry::BrowserClose,
                _ => return Ok(PageResponse::plain(400, "unknown expiry choice")),
            };
            session.set_expiry(expiry).await?;
            Ok(PageResponse::back_home())
        }
        (_, path) if handles(path) => Ok(PageResponse::plain(405, "method not allowed")),
        _ => Ok(PageResponse::plain(404, "not found")),
    }
}

const SIGNED_OUT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>signed out</title>
<style>body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; background: #f6f7fb; }
a { color: #3156d3; }</style></head>
<body><h1 id="signed-out">Signed out</h1>
<p>Your session was deleted on the server and its cookie removed from your browser.</p>
<p><a id="home" href="/">Back to the demo</a> (a new, empty session starts there).</p></body></html>
"#;

/// `1209600` → `14 days`, `90` → `1 min 30 s`.
fn human(secs: i64) -> String {
    if secs <= 0 {
        return "no time (it has expired)".to_owned();
    }
    let (days, hours, mins, secs) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let parts: Vec<String> = [(days, "days"), (hours, "h"), (mins, "min"), (secs, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    parts.join(" ")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page: counts this visit (back to 1 after 10), shows the cart, the
/// user and the expiry.
async fn render(session: &Session) -> Result<String, Error> {
    let visits = match session.get::<u32>("visits").await?.unwrap_or(0) {
        n if n >= 10 => 1,
        n => n + 1,
    };
    session.insert("visits", visits).await?;
    let cart: Vec<String> = session.get("cart").await?.unwrap_or_default();
    let user = session.user_id().await?;
    let expiry = session.expiry().await?;
    let age = session.expiry_age().await?;
    let date = session
        .expiry_date()
        .await?
        .format(&Rfc3339)
        .unwrap_or_default();
    let browser_close = session.expire_at_browser_close().await?;

    let mut cart_html = String::new();
    if cart.is_empty() {
        cart_html.push_str(r#"<p class="muted" id="cart-empty">Your cart is empty.</p>"#);
    } else {
        cart_html.push_str(r#"<ul id="cart">"#);
        for item in &cart {
            let _ = write!(cart_html, "<li>{}</li>", escape(item));
        }
        cart_html.push_str("</ul>");
    }
    let options: String = FRUITS
        .iter()
        .map(|f| format!(r#"<option value="{f}">{f}</option>"#))
        .collect();
    let user_html = match &user {
        Some(name) => format!(
            r#"<p>Signed in as <strong id="user">{}</strong>.</p>
            <form method="post" action="/logout"><button id="logout">Log out</button></form>"#,
            escape(name)
        ),
        None => r#"<p class="muted" id="anonymous">Not signed in. Your cart is kept when you sign in.</p>
            <form method="post" action="/login"><input name="user" id="user-name" placeholder="user name" required maxlength="64">
            <button id="login">Log in</button></form>"#
            .to_owned(),
    };
    let choice = |value: &str, label: &str, current: bool| {
        format!(
            r#"<label><input type="radio" name="expiry" value="{value}"{}> {label}</label>"#,
            if current { " checked" } else { "" }
        )
    };
    let expiry_html = [
        choice(
            "default",
            "two weeks (the default)",
            expiry == Expiry::Default,
        ),
        choice("60s", "60 s of inactivity", expiry == Expiry::Seconds(60)),
        choice(
            "5min-absolute",
            "5 minutes from now",
            matches!(expiry, Expiry::At(_)),
        ),
        choice(
            "browser-close",
            "when the browser closes",
            expiry == Expiry::BrowserClose,
        ),
    ]
    .join("\n");
    let lifetime = if browser_close {
        "ends when the browser closes (and on the server after the cookie age)".to_owned()
    } else {
        format!("expires in {}, at {date}", human(age))
    };

    Ok(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>session demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; background: #f6f7fb; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.05rem; margin: 0 0 .6rem; }}
section {{ background: #fff; border-radius: 10px; padding: 1rem 1.25rem; margin: 1rem 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
.big {{ font-size: 2.2rem; font-weight: 700; }} .muted {{ color: #6b7280; }}
button {{ background: #3156d3; color: #fff; border: 0; border-radius: 6px; padding: .4rem .9rem; cursor: pointer; }}
button.secondary {{ background: #e5e7eb; color: #1d2330; }}
input, select {{ padding: .35rem; border: 1px solid #cbd0dc; border-radius: 6px; }}
form {{ display: inline-block; margin: .25rem .5rem .25rem 0; }} label {{ display: block; margin: .2rem 0; }}
</style></head>
<body>
<h1>Django-grade sessions, in Rust</h1>
<section><h2>Visits</h2><p><span class="big" id="visits">{visits}</span> <span class="muted">visits in this session (starts over after 10)</span></p></section>
<section><h2>Cart</h2>{cart_html}
<form method="post" action="/cart/add"><select name="item" id="item">{options}</select> <button id="add">Add to cart</button></form>
<form method="post" action="/cart/clear"><button class="secondary" id="clear">Empty the cart</button></form></section>
<section><h2>Account</h2>{user_html}</section>
<section><h2>Expiry</h2><p class="muted" id="lifetime">This session {lifetime}.</p>
<form method="post" action="/expiry">{expiry_html}<button id="set-expiry">Set expiry</button></form></section>
<p class="muted">The probe routes of the conformance kit live under <code>/probe</code>.</p>
</body></html>
"#
    ))
}
