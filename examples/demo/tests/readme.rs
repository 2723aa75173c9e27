//! The README's quick starts are the adapters' compiled examples, verbatim.

#[test]
fn the_readme_quick_starts_are_the_compiled_examples() {
    let readme = include_str!("../../../README.md");
    for (framework, example) in [
        (
            "poem",
            include_str!("../../../adapters/poem/examples/poem_quickstart.rs"),
        ),
        (
            "warp",
            include_str!("../../../adapters/warp/examples/warp_quickstart.rs"),
        ),
        (
            "rocket",
            include_str!("../../../adapters/rocket/examples/rocket_quickstart.rs"),
        ),
        (
            "axum",
            include_str!("../../../adapters/tower/examples/axum_quickstart.rs"),
        ),
        (
            "actix",
            include_str!("../../../adapters/actix/examples/actix_quickstart.rs"),
        ),
    ] {
        assert!(
            readme.contains(example),
            "README.md does not show adapters/{framework}/examples/{framework}_quickstart.rs verbatim"
        );
        assert!(
            example.lines().count() < 25,
            "the {framework} quick start is 25 lines or more"
        );
    }
}
