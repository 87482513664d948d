//! Retry delays, the one implementation the client, the server's Redis
//! broker and the load tool share: exponential backoff with full jitter.
//!
//! Full jitter (a uniform delay between zero and the exponential ceiling)
//! spreads the retries of many parties that lost the same peer at the same
//! moment, so a restarted server (or Redis) is not met by a synchronized
//! storm. The caller brings the random source (`rand`), so tests seed it.

use std::time::Duration;

use rand::Rng;

/// The ceiling of attempt `attempt` (0 for the first retry):
/// `min(cap, base * factor^attempt)`.
pub fn ceiling(attempt: u32, base: Duration, factor: u32, cap: Duration) -> Duration {
    let growth = factor
        .max(1)
        .checked_pow(attempt.min(64))
        .unwrap_or(u32::MAX);
    base.checked_mul(growth).unwrap_or(cap).min(cap)
}

/// The delay before retry `attempt`: uniform in `[0, ceiling]` (full jitter).
pub fn delay(
    attempt: u32,
    base: Duration,
    factor: u32,
    cap: Duration,
    rng: &mut impl Rng,
) -> Duration {
    let top = ceiling(attempt, base, factor, cap).as_millis() as u64;
    Duration::from_millis(rng.random_range(0..=top))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const MS: Duration = Duration::from_millis(1);
    const DEFAULT_BASE: Duration = Duration::from_millis(500);
    const DEFAULT_CAP: Duration = Duration::from_secs(30);

    #[test]
    fn ceilings_grow_exponentially_up_to_the_cap() {
        let b = DEFAULT_BASE;
        let c = DEFAULT_CAP;
        let got: Vec<u128> = (0..10).map(|a| ceiling(a, b, 2, c).as_millis()).collect();
        assert_eq!(
            got,
            [
                500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000
            ]
        );
        assert_eq!(ceiling(u32::MAX, b, 2, c), c, "no overflow");
        assert_eq!(ceiling(3, b, 1, c), b, "factor 1 stays at base");
    }

    #[test]
    fn delays_stay_within_zero_and_the_ceiling() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..12 {
            let top = ceiling(attempt, DEFAULT_BASE, 2, DEFAULT_CAP);
            for _ in 0..500 {
                let d = delay(attempt, DEFAULT_BASE, 2, DEFAULT_CAP, &mut rng);
                assert!(d <= top, "attempt {attempt}: {d:?} > {top:?}");
            }
        }
    }

    #[test]
    fn jitter_spreads_delays_over_the_whole_range() {
        let mut rng = StdRng::seed_from_u64(42);
        let samples: Vec<Duration> = (0..2000)
            .map(|_| delay(4, DEFAULT_BASE, 2, DEFAULT_CAP, &mut rng))
            .collect();
        // Ceiling 8 s: each quarter of the range gets a fair share, so
        // reconnecting clients do not bunch up.
        for q in 0..4u32 {
            let lo = 2000 * MS * q;
            let hi = 2000 * MS * (q + 1);
            let n = samples.iter().filter(|d| **d >= lo && **d < hi).count();
            assert!((350..650).contains(&n), "quarter {q}: {n} of 2000");
        }
        let mean = samples.iter().sum::<Duration>() / 2000;
        assert!(mean > 3600 * MS && mean < 4400 * MS, "mean {mean:?}");
    }
}
