//! The README lists every case of the catalogue, so it cannot drift.

fn check(cases: impl Iterator<Item = &'static session_conformance::CaseInfo>, kind: &str) {
    let readme = include_str!("../README.md");
    for case in cases {
        assert!(
            readme.contains(&format!("`{}` {}", case.id, case.title))
                && readme.contains(case.requirement),
            "README.md does not list {} ({}) with its requirement; regenerate the table with \
             `cargo run -p session-conformance --example catalogue -- {kind}`",
            case.id,
            case.title
        );
    }
}

#[test]
fn the_readme_lists_every_store_case() {
    check(session_conformance::store::catalogue(), "store");
}

#[test]
fn the_readme_lists_every_http_case() {
    check(session_conformance::http::catalogue(), "http");
}
