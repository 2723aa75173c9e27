//! The README lists every case of the catalogue, so it cannot drift.

#[test]
fn the_readme_lists_every_store_case() {
    let readme = include_str!("../README.md");
    for case in session_conformance::store::catalogue() {
        assert!(
            readme.contains(&format!("`{}` {}", case.id, case.title))
                && readme.contains(case.requirement),
            "README.md does not list {} ({}) with its requirement; regenerate the table with \
             `cargo run -p session-conformance --example store_catalogue`",
            case.id,
            case.title
        );
    }
}
