//! Reconnect delays: the shared full-jitter backoff
//! ([`belfry_proto::backoff`]) with this client's defaults, the server's
//! `retry:` as its base, and the attempt count reset by a stable connection.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// First ceiling; the server's `retry:` replaces it.
pub const DEFAULT_BASE: Duration = Duration::from_millis(500);
/// Growth of the ceiling per failed attempt.
pub const DEFAULT_FACTOR: u32 = 2;
/// Longest wait: a server back after an outage is noticed within half a minute.
pub const DEFAULT_CAP: Duration = Duration::from_secs(30);
/// A connection live this long resets the attempt count: it worked, so the
/// next failure is a new incident rather than more of the same.
pub const DEFAULT_STABLE_AFTER: Duration = Duration::from_secs(30);

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub factor: u32,
    pub cap: Duration,
    pub stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: DEFAULT_BASE,
            factor: DEFAULT_FACTOR,
            cap: DEFAULT_CAP,
            stable_after: DEFAULT_STABLE_AFTER,
        }
    }
}

pub use belfry_proto::backoff::{ceiling, delay};

/// Attempt bookkeeping of one reconnecting stream.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub params: Backoff,
    attempt: u32,
    live_since: Option<Instant>,
}

impl Schedule {
    pub fn new(params: Backoff) -> Self {
        Self {
            params,
            attempt: 0,
            live_since: None,
        }
    }

    /// Failed attempts since the last stable connection.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The server's `retry:` sets the base.
    pub fn set_base(&mut self, base: Duration) {
        self.params.base = base;
    }

    /// A stream is open.
    pub fn live(&mut self) {
        self.live_since = Some(Instant::now());
    }

    /// The connection ended or failed: the delay before the next attempt,
    /// at least `retry_after` when the server asked for it. The attempt count
    /// starts over when the connection had been live for `stable_after`.
    pub fn next_delay(&mut self, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        if self
            .live_since
            .take()
            .is_some_and(|t| t.elapsed() >= self.params.stable_after)
        {
            self.attempt = 0;
        }
        let p = self.params;
        let d = delay(self.attempt, p.base, p.factor, p.cap, rng);
        self.attempt = self.attempt.saturating_add(1);
        retry_after.map_or(d, |r| d.max(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[tokio::test(start_paused = true)]
    async fn attempts_grow_and_reset_after_a_stable_connection() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut s = Schedule::new(Backoff::default());
        for expected in 0..5 {
            assert_eq!(s.attempt(), expected);
            let d = s.next_delay(None, &mut rng);
            assert!(d <= ceiling(expected, DEFAULT_BASE, 2, DEFAULT_CAP));
            tokio::time::sleep(d).await;
        }
        // Live for less than stable_after: still the same incident.
        s.live();
        tokio::time::advance(Duration::from_secs(29)).await;
        s.next_delay(None, &mut rng);
        assert_eq!(s.attempt(), 6);
        // Live for 30 s: the next failure starts over at the base.
        s.live();
        tokio::time::advance(DEFAULT_STABLE_AFTER).await;
        let d = s.next_delay(None, &mut rng);
        assert!(d <= DEFAULT_BASE, "{d:?}");
        assert_eq!(s.attempt(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_a_floor_and_retry_sets_the_base() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut s = Schedule::new(Backoff::default());
        let start = Instant::now();
        let d = s.next_delay(Some(Duration::from_secs(5)), &mut rng);
        tokio::time::sleep(d).await;
        assert!(start.elapsed() >= Duration::from_secs(5));
        assert!(start.elapsed() <= Duration::from_secs(5) + DEFAULT_BASE);

        let mut s = Schedule::new(Backoff::default());
        s.set_base(Duration::from_millis(100));
        for _ in 0..100 {
            let mut fresh = s.clone();
            assert!(fresh.next_delay(None, &mut rng) <= Duration::from_millis(100));
        }
    }
}
