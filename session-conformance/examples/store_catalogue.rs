//! Prints the store cases as a Markdown table (the README's list):
//! `cargo run -p session-conformance --example store_catalogue`.

fn main() {
    println!("| case | level | § | needs | requirement |");
    println!("|---|---|---|---|---|");
    for case in session_conformance::store::catalogue() {
        let title = if case.slow {
            format!("{} (slow)", case.title)
        } else {
            case.title.to_owned()
        };
        println!(
            "| `{}` {} | {} | {} | {} | {} |",
            case.id, title, case.level, case.section, case.needs, case.requirement
        );
    }
}
