//! Generated session IDs are unique and uniform over their alphabet
//! (issue 9, proof 4).
//!
//! 100,000 IDs from [`SessionId::generate`] go through one checker:
//!
//! - no two are equal;
//! - every character is in `[a-z0-9]` and every ID is 32 long;
//! - Pearson's chi-square over the 36 characters, for all 3,200,000
//!   characters together and for each of the 32 positions (35 degrees of
//!   freedom each), and over the 1,296 pairs of characters at positions
//!   (0,1), (2,3), … (non-overlapping, so independent: 1,295 degrees of
//!   freedom), which catches a generator whose characters are uniform one
//!   by one but depend on their neighbour.
//!
//! Each of those 34 statistics is compared with its chi-square critical
//! value at 2.72e-8 (computed with mpmath's regularized upper incomplete
//! gamma: P(χ²₃₅ > 101) = 2.55e-8, P(χ²₁₂₉₅ > 1591) = 2.71e-8), so a correct
//! generator fails the whole check with probability below
//! 34 × 2.72e-8 < 1e-6. The checker is then fed deliberately broken
//! generators (modulo bias, a missing character, a skewed position,
//! correlated neighbours, too little entropy): each must fail, and a
//! correct generator on the same deterministic source must pass.

use std::collections::HashSet;

use session_core::SessionId;
use session_core::id::ID_LEN;

const IDS: usize = 100_000;
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Critical value of chi-square with 35 degrees of freedom at 2.55e-8.
const CRITICAL_35: f64 = 101.0;
/// Critical value of chi-square with 1,295 degrees of freedom at 2.71e-8.
const CRITICAL_1295: f64 = 1591.0;

/// The position of `c` in [`ALPHABET`].
fn index(c: u8) -> Option<usize> {
    match c {
        b'a'..=b'z' => Some(usize::from(c - b'a')),
        b'0'..=b'9' => Some(26 + usize::from(c - b'0')),
        _ => None,
    }
}

/// Pearson's statistic of `counts` against a uniform expectation.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| {
            let d = c as f64 - expected;
            d * d / expected
        })
        .sum()
}

/// Every way `ids` can fail, with the statistic that failed; empty when
/// they pass.
fn check(ids: &[String]) -> Vec<String> {
    let mut failures = Vec::new();
    let distinct: HashSet<&String> = ids.iter().collect();
    if distinct.len() != ids.len() {
        failures.push(format!(
            "{} duplicate IDs among {}",
            ids.len() - distinct.len(),
            ids.len()
        ));
    }

    let mut overall = [0u64; 36];
    let mut per_position = vec![[0u64; 36]; ID_LEN];
    let mut pairs = vec![0u64; 36 * 36];
    for id in ids {
        let bytes = id.as_bytes();
        let Some(indices) = bytes
            .iter()
            .map(|&b| index(b))
            .collect::<Option<Vec<usize>>>()
            .filter(|v| v.len() == ID_LEN)
        else {
            failures.push(format!("{id:?} is not 32 characters of [a-z0-9]"));
            continue;
        };
        for (position, &i) in indices.iter().enumerate() {
            overall[i] += 1;
            per_position[position][i] += 1;
        }
        for pair in indices.chunks_exact(2) {
            pairs[pair[0] * 36 + pair[1]] += 1;
        }
    }

    let stat = chi_square(&overall);
    if stat > CRITICAL_35 {
        failures.push(format!(
            "all characters: chi-square {stat:.1} > {CRITICAL_35} (35 df); counts {overall:?}"
        ));
    }
    for (position, counts) in per_position.iter().enumerate() {
        let stat = chi_square(counts);
        if stat > CRITICAL_35 {
            failures.push(format!(
                "position {position}: chi-square {stat:.1} > {CRITICAL_35} (35 df); counts {counts:?}"
            ));
        }
    }
    let stat = chi_square(&pairs);
    if stat > CRITICAL_1295 {
        failures.push(format!(
            "pairs of neighbours: chi-square {stat:.1} > {CRITICAL_1295} (1295 df)"
        ));
    }
    failures
}

/// The statistics of a passing set, for the assertion message.
fn summary(ids: &[String]) -> String {
    let mut overall = [0u64; 36];
    let mut worst: f64 = 0.0;
    let mut per_position = vec![[0u64; 36]; ID_LEN];
    for id in ids {
        for (position, b) in id.bytes().enumerate() {
            if let (Some(i), Some(counts)) = (index(b), per_position.get_mut(position)) {
                overall[i] += 1;
                counts[i] += 1;
            }
        }
    }
    for counts in &per_position {
        worst = worst.max(chi_square(counts));
    }
    format!(
        "chi-square over all characters {:.1}, worst position {worst:.1} (critical {CRITICAL_35})",
        chi_square(&overall)
    )
}

#[test]
fn generated_ids_are_unique_and_uniform() {
    let ids: Vec<String> = (0..IDS)
        .map(|_| SessionId::generate().to_string())
        .collect();
    let failures = check(&ids);
    assert!(
        failures.is_empty(),
        "{}; {}",
        summary(&ids),
        failures.join("; ")
    );
    // Shown with --nocapture: the figures of this run.
    println!("{} IDs, all distinct; {}", ids.len(), summary(&ids));
}

// ---------------------------------------------------------------------
// The checker against broken generators, on a deterministic source so
// these tests cannot flake.

/// SplitMix64: a small deterministic source of 64-bit words.
struct Source(u64);

impl Source {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }

    /// A uniform index below 36, by rejection sampling (as core does).
    fn uniform(&mut self) -> usize {
        loop {
            let b = self.byte();
            if b < 252 {
                return usize::from(b % 36);
            }
        }
    }
}

fn generate(
    seed: u64,
    mut one: impl FnMut(&mut Source, usize, Option<usize>) -> usize,
) -> Vec<String> {
    let mut source = Source(seed);
    (0..IDS)
        .map(|_| {
            let mut previous = None;
            (0..ID_LEN)
                .map(|position| {
                    let i = one(&mut source, position, previous);
                    previous = Some(i);
                    char::from(ALPHABET[i])
                })
                .collect()
        })
        .collect()
}

fn assert_fails(name: &str, ids: &[String], expected: &str) {
    let failures = check(ids);
    assert!(
        failures.iter().any(|f| f.contains(expected)),
        "the {name} generator was not caught by {expected:?}: {failures:?}"
    );
}

#[test]
fn a_correct_generator_on_the_same_source_passes() {
    let ids = generate(1, |s, _, _| s.uniform());
    assert_eq!(check(&ids), Vec::<String>::new(), "{}", summary(&ids));
}

#[test]
fn modulo_bias_is_caught() {
    // byte % 36 without rejection: a–d come up 8/256 of the time, the
    // rest 7/256.
    let ids = generate(2, |s, _, _| usize::from(s.byte() % 36));
    assert_fails("modulo-biased", &ids, "all characters");
    assert_fails("modulo-biased", &ids, "position 0");
}

#[test]
fn a_missing_character_is_caught() {
    // An alphabet of 35 that never yields '9'.
    let ids = generate(3, |s, _, _| {
        loop {
            let i = s.uniform();
            if i != 35 {
                return i;
            }
        }
    });
    assert_fails("35-character", &ids, "all characters");
}

#[test]
fn one_skewed_position_is_caught() {
    // The first character is never a digit: one position in 32, caught
    // by the statistic of that position.
    let ids = generate(4, |s, position, _| {
        if position == 0 {
            s.uniform() % 26
        } else {
            s.uniform()
        }
    });
    assert_fails("first-letter", &ids, "position 0:");
}

#[test]
fn correlated_neighbours_are_caught() {
    // Each character is uniform on its own, but the next one is at most
    // 17 steps after it: only the pair statistic sees it.
    let ids = generate(5, |s, _, previous| match previous {
        None => s.uniform(),
        Some(p) => (p + s.uniform() % 18) % 36,
    });
    let failures = check(&ids);
    assert!(
        failures.iter().all(|f| f.starts_with("pairs")),
        "only the pair test should see this one: {failures:?}"
    );
    assert_fails("correlated", &ids, "pairs of neighbours");
}

#[test]
fn too_little_entropy_is_caught() {
    // Each ID expanded from a 16-bit seed: well spread, but repeats.
    let mut seeds = Source(6);
    let ids: Vec<String> = (0..IDS)
        .map(|_| {
            let mut source = Source(seeds.next() & 0xFFFF);
            (0..ID_LEN)
                .map(|_| char::from(ALPHABET[source.uniform()]))
                .collect()
        })
        .collect();
    assert_fails("16-bit", &ids, "duplicate IDs");
}
