//! Every normative sentence of the store contract (the `SessionStore` docs)
//! and of the adapter contract (ADAPTERS.md) carries a tag and names the
//! cases that check it; every case cites tags that exist and is named by
//! them; every case's `§` is a section of SPEC.md.

use std::collections::{BTreeMap, BTreeSet};

use session_conformance::CaseInfo;

const STORE_RS: &str = include_str!("../../session-core/src/store.rs");
const ADAPTERS_MD: &str = include_str!("../ADAPTERS.md");
const SPEC_MD: &str = include_str!("../SPEC.md");

/// A contract sentence: its tag, its text, the cases it names.
#[derive(Debug)]
struct Clause {
    text: String,
    cases: BTreeSet<String>,
}

/// The doc comment text of a Rust source file, one line per doc line.
fn doc_text(source: &str) -> String {
    source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            line.strip_prefix("///")
                .or_else(|| line.strip_prefix("//!"))
        })
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits text into items: bullets (`- `), numbered items (`1. `) and
/// paragraphs, each with its continuation lines.
fn items(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut in_code = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let starts_item = trimmed.starts_with("- ")
            || trimmed
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if trimmed.is_empty() || starts_item || trimmed.starts_with('#') {
            if !current.trim().is_empty() {
                items.push(std::mem::take(&mut current));
            }
            current.clear();
        }
        current.push_str(trimmed);
        current.push(' ');
    }
    if !current.trim().is_empty() {
        items.push(current);
    }
    items
}

/// Whether `text` holds MUST or SHOULD as a word outside backticks.
fn is_normative(text: &str) -> bool {
    text.split('`')
        .step_by(2)
        .flat_map(|part| part.split(|c: char| !c.is_ascii_alphabetic()))
        .any(|word| word == "MUST" || word == "SHOULD")
}

fn case_ids(text: &str) -> BTreeSet<String> {
    let Some((_, list)) = text.split_once("Checked by") else {
        return BTreeSet::new();
    };
    list.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| {
            (word.starts_with("ST-") || word.starts_with("HX-")) && word.split('-').count() == 3
        })
        .map(str::to_owned)
        .collect()
}

/// The tagged clauses of `text`; fails on a normative sentence without a
/// tag.
fn clauses(text: &str, prefix: &str, source: &str) -> BTreeMap<String, Clause> {
    let mut found = BTreeMap::new();
    for item in items(text) {
        let marker = format!("**`{prefix}");
        let Some(start) = item.find(&marker) else {
            assert!(
                !is_normative(&item),
                "{source}: a normative sentence has no `{prefix}…` tag: {item}"
            );
            continue;
        };
        let rest = &item[start + 3..];
        let tag = rest.split('`').next().unwrap_or_default().to_owned();
        let clause = Clause {
            text: item.clone(),
            cases: case_ids(&item),
        };
        assert!(
            found.insert(tag.clone(), clause).is_none(),
            "{source}: the tag {tag} is used twice"
        );
    }
    found
}

fn catalogue() -> Vec<&'static CaseInfo> {
    session_conformance::store::catalogue()
        .chain(session_conformance::http::catalogue())
        .collect()
}

fn all_clauses() -> BTreeMap<String, Clause> {
    let mut all = clauses(&doc_text(STORE_RS), "store.", "session-core/src/store.rs");
    all.extend(clauses(ADAPTERS_MD, "adapter.", "ADAPTERS.md"));
    all
}

#[test]
fn every_contract_sentence_is_tagged_normative_and_checked() {
    let all = all_clauses();
    assert!(all.len() >= 30, "only {} tagged sentences found", all.len());
    let ids: BTreeSet<&str> = catalogue().iter().map(|c| c.id).collect();
    for (tag, clause) in &all {
        assert!(
            is_normative(&clause.text),
            "{tag} has no MUST or SHOULD: {}",
            clause.text
        );
        assert!(
            !clause.cases.is_empty(),
            "{tag} names no case that checks it"
        );
        for case in &clause.cases {
            assert!(
                ids.contains(case.as_str()),
                "{tag} names {case}, which does not exist"
            );
        }
    }
}

#[test]
fn every_case_cites_sentences_that_name_it() {
    let all = all_clauses();
    let catalogue = catalogue();
    for case in &catalogue {
        assert!(
            !case.clauses.is_empty(),
            "{} cites no contract sentence",
            case.id
        );
        for tag in case.clauses {
            let clause = all
                .get(*tag)
                .unwrap_or_else(|| panic!("{} cites {tag}, which no contract states", case.id));
            assert!(
                clause.cases.contains(case.id),
                "{} cites {tag}, but that sentence does not name it",
                case.id
            );
        }
    }
    for (tag, clause) in &all {
        for id in &clause.cases {
            let case = catalogue.iter().find(|c| c.id == id);
            assert!(
                case.is_some_and(|c| c.clauses.contains(&tag.as_str())),
                "{tag} names {id}, but {id} does not cite {tag}"
            );
        }
    }
}

#[test]
fn every_section_is_in_the_shipped_specification() {
    for case in catalogue() {
        assert!(
            SPEC_MD.contains(&format!("## {} ", case.section)),
            "{} cites {}, which SPEC.md has no heading for",
            case.id,
            case.section
        );
    }
}

#[test]
fn the_parser_catches_an_untagged_or_unchecked_sentence() {
    let untagged = "/// - MUST do a thing.\n";
    let result = std::panic::catch_unwind(|| clauses(&doc_text(untagged), "store.", "x"));
    assert!(result.is_err(), "an untagged MUST sentence went unnoticed");
    let unchecked = "/// - **`store.x`** — MUST do a thing.\n";
    let found = clauses(&doc_text(unchecked), "store.", "x");
    assert!(found["store.x"].cases.is_empty());
    let checked = "/// - **`store.x`** — MUST do it. *Checked by ST-RT-001,\n///   ST-RT-002.*\n";
    let found = clauses(&doc_text(checked), "store.", "x");
    assert_eq!(found["store.x"].cases.len(), 2);
}
