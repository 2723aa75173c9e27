//! The arithmetic of a ratio measured side by side: the order rounds run
//! in, medians, spreads, and when a point is too noisy to trust.

/// A side's rounds whose (max − min) / median passes this are flagged: on a
/// 2-core machine anything else running shows up as about that much.
pub(crate) const DISTURBED_SPREAD: f64 = 0.15;

/// The order of `rounds` rounds over `sides` sides, as side indexes: even
/// rounds run the sides forward, odd rounds backward (A B, B A, A B, …),
/// so each side runs as often first as last and a slow drift of the
/// machine (heat, a neighbour starting) weighs on every side alike.
pub(crate) fn schedule(rounds: usize, sides: usize) -> Vec<usize> {
    let mut order = Vec::with_capacity(rounds * sides);
    for round in 0..rounds {
        if round % 2 == 0 {
            order.extend(0..sides);
        } else {
            order.extend((0..sides).rev());
        }
    }
    order
}

/// The median of the finite values (the mean of the middle two for an even
/// count); `None` when there are none.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted.get(mid).copied()
    } else {
        let low = sorted.get(mid.checked_sub(1)?)?;
        let high = sorted.get(mid)?;
        Some((low + high) / 2.0)
    }
}

/// The smallest and largest finite values; `None` when there are none.
pub(crate) fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// (max − min) / median: how far apart one side's rounds are, as a
/// fraction of the typical round. `None` without a positive median.
pub(crate) fn relative_spread(values: &[f64]) -> Option<f64> {
    let (lo, hi) = min_max(values)?;
    let mid = median(values)?;
    (mid > 0.0).then(|| (hi - lo) / mid)
}

/// Each round's ratio, ours over the baseline that ran beside it in the
/// same round: pairing cancels what changed between rounds.
pub(crate) fn round_ratios(ours: &[f64], baseline: &[f64]) -> Vec<f64> {
    ours.iter()
        .zip(baseline)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b)
        .collect()
}

/// Why a point should not be trusted, or `None`: a side whose rounds
/// spread more than [`DISTURBED_SPREAD`], or a 1-minute load average above
/// the core count when the point started.
pub(crate) fn disturbed(sides: &[(&str, &[f64])], load: f64, cores: usize) -> Option<String> {
    let mut reasons = Vec::new();
    #[allow(clippy::cast_precision_loss)] // a core count is far below 2^52
    let cores_f = cores as f64;
    if load > cores_f {
        reasons.push(format!("load {load:.2} > {cores} cores"));
    }
    for (name, rounds) in sides {
        if let Some(spread) = relative_spread(rounds)
            && spread > DISTURBED_SPREAD
        {
            reasons.push(format!("{name} spread {:.0} %", spread * 100.0));
        }
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_alternates_the_order_and_runs_each_side_once_a_round() {
        assert_eq!(schedule(3, 2), vec![0, 1, 1, 0, 0, 1]);
        assert_eq!(schedule(2, 3), vec![0, 1, 2, 2, 1, 0]);
        assert_eq!(schedule(4, 1), vec![0, 0, 0, 0]);
        let order = schedule(5, 3);
        for (round, chunk) in order.chunks(3).enumerate() {
            let mut seen = chunk.to_vec();
            seen.sort_unstable();
            assert_eq!(seen, vec![0, 1, 2], "round {round} ran {chunk:?}");
        }
    }

    #[test]
    fn median_of_odd_even_and_empty_inputs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        // A non-finite round (say a zero-length slice) does not count.
        assert_eq!(median(&[f64::NAN, 5.0, f64::INFINITY]), Some(5.0));
    }

    #[test]
    fn spread_is_range_over_median() {
        assert_eq!(min_max(&[2.0, 9.0, 4.0]), Some((2.0, 9.0)));
        let spread = relative_spread(&[90.0, 100.0, 110.0]).unwrap();
        assert!((spread - 0.2).abs() < 1e-12, "spread {spread}");
        assert_eq!(relative_spread(&[0.0, 0.0]), None);
    }

    #[test]
    fn ratios_pair_rounds() {
        assert_eq!(round_ratios(&[50.0, 60.0], &[100.0, 120.0]), vec![0.5, 0.5]);
        // A baseline round that did nothing gives no ratio rather than inf.
        assert_eq!(round_ratios(&[50.0, 60.0], &[0.0, 120.0]), vec![0.5]);
    }

    #[test]
    fn disturbed_names_each_reason() {
        let steady: &[f64] = &[100.0, 101.0, 99.0];
        let noisy: &[f64] = &[100.0, 130.0, 95.0];
        assert_eq!(
            disturbed(&[("ours", steady), ("raw", steady)], 0.5, 2),
            None
        );
        assert_eq!(
            disturbed(&[("ours", steady), ("raw", noisy)], 0.5, 2).as_deref(),
            Some("raw spread 35 %")
        );
        assert_eq!(
            disturbed(&[("ours", steady)], 2.5, 2).as_deref(),
            Some("load 2.50 > 2 cores")
        );
    }
}
