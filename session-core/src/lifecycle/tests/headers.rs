//! `Outcome::apply_to`, the header step every adapter on the `http` crate
//! shares (feature `http`).

use http::header::{SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

use crate::test_log::Capture;
use crate::{Config, Outcome};

const ID: &str = "abcdefghijklmnopqrstuvwxyz012345";

fn outcome(cookie: &str, vary: bool) -> Outcome {
    Outcome {
        set_cookie: Some(cookie.to_owned()),
        vary_cookie: vary,
    }
}

#[test]
fn a_cookie_that_cannot_be_a_header_is_logged_not_dropped_silently() {
    let config = Config::default().with_cookie_domain(Some("exa\nmple.com".to_owned()));
    let cookie = format!("sessionid={ID}; Domain=exa\nmple.com; Path=/");
    let mut headers = HeaderMap::new();
    let capture = Capture::default();
    {
        let _guard = capture.install();
        outcome(&cookie, false).apply_to(&mut headers, &config);
    }
    assert!(headers.get(SET_COOKIE).is_none());
    let errors = capture.at("session_core::lifecycle", tracing::Level::ERROR);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("check the session cookie's name, path and domain settings"),
        "{errors:?}"
    );
    assert!(
        errors[0].contains(r#"cookie_domain=Some("exa\nmple.com")"#),
        "{errors:?}"
    );
    assert!(
        !capture.all_text().contains(ID),
        "the log holds the session ID"
    );
}

#[test]
fn a_valid_cookie_and_vary_are_appended_beside_the_apps_own() {
    let mut headers = HeaderMap::new();
    headers.append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
    headers.append(VARY, HeaderValue::from_static("Accept-Language"));
    let cookie = format!("sessionid={ID}; Path=/");
    let capture = Capture::default();
    {
        let _guard = capture.install();
        outcome(&cookie, true).apply_to(&mut headers, &Config::default());
    }
    let cookies: Vec<_> = headers.get_all(SET_COOKIE).iter().collect();
    assert_eq!(cookies, ["theme=dark", cookie.as_str()]);
    let vary: Vec<_> = headers.get_all(VARY).iter().collect();
    assert_eq!(vary, ["Accept-Language", "Cookie"]);
    assert!(capture.level(tracing::Level::ERROR).is_empty());
}

#[test]
fn nothing_to_add_adds_nothing() {
    let mut headers = HeaderMap::new();
    Outcome::default().apply_to(&mut headers, &Config::default());
    assert!(headers.is_empty());
}
