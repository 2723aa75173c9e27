//! Prints the store or the HTTP cases as a Markdown table (the README's
//! lists): `cargo run -p session-conformance --example catalogue -- store`
//! (or `-- http`).

fn main() {
    let kind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "store".to_owned());
    let cases: Vec<&session_conformance::CaseInfo> = match kind.as_str() {
        "http" => session_conformance::http::catalogue().collect(),
        _ => session_conformance::store::catalogue().collect(),
    };
    println!("| case | level | § | needs | requirement |");
    println!("|---|---|---|---|---|");
    for case in cases {
        let title = if case.slow {
            format!("{} (slow)", case.title)
        } else {
            case.title.to_owned()
        };
        let needs = if case.needs.is_empty() {
            "-".to_owned()
        } else {
            case.needs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "| `{}` {} | {} | {} | {} | {} |",
            case.id,
            title,
            case.level,
            case.section,
            needs,
            case.requirement.replace('|', "\\|")
        );
    }
}
