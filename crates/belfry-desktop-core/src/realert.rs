//! Re-raising critical alerts nobody acknowledged: each is due again every
//! interval (default [`DEFAULT_REALERT_EVERY`]) until an ack arrives from
//! any admin's device. Time is passed in, so it is tested without waiting.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Five minutes: often enough that an outage at night is not slept through,
/// rare enough that a known incident is not a siren.
pub const DEFAULT_REALERT_EVERY: Duration = Duration::from_secs(5 * 60);

/// The unacknowledged criticals and when each is due again.
#[derive(Debug)]
pub struct Realerts {
    every: Duration,
    due: BTreeMap<u64, Instant>,
}

impl Realerts {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            due: BTreeMap::new(),
        }
    }

    /// A critical alert was raised at `now`; it is due again one interval
    /// later, or never when that is past what an `Instant` can hold (an
    /// interval of `Duration::MAX` stands for re-alerts off).
    pub fn raised(&mut self, id: u64, now: Instant) {
        if let Some(at) = now.checked_add(self.every) {
            self.due.entry(id).or_insert(at);
        }
    }

    /// Someone acknowledged it: it is never raised again.
    pub fn acknowledged(&mut self, id: u64) {
        self.due.remove(&id);
    }

    /// Forgets every alert (signed out, or another server).
    pub fn clear(&mut self) {
        self.due.clear();
    }

    /// Changes the interval (a preference); pending alerts keep their turn.
    pub fn set_every(&mut self, every: Duration) {
        self.every = every;
    }

    /// The ids due at `now`, oldest first; each is scheduled again.
    pub fn take_due(&mut self, now: Instant) -> Vec<u64> {
        let mut due = Vec::new();
        let again = now.checked_add(self.every);
        self.due.retain(|id, at| {
            if *at > now {
                return true;
            }
            due.push(*id);
            match again {
                Some(again) => {
                    *at = again;
                    true
                }
                None => false,
            }
        });
        due
    }

    /// When the next one is due (the earliest turn of any), to sleep until
    /// then; `None` when nothing waits for an ack.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }
}

impl Default for Realerts {
    fn default() -> Self {
        Self::new(DEFAULT_REALERT_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn an_unacknowledged_critical_is_raised_again_every_interval() {
        let t0 = Instant::now();
        let mut r = Realerts::default();
        r.raised(1, t0);
        assert!(r.take_due(t0 + 4 * MIN).is_empty());
        assert_eq!(r.take_due(t0 + 5 * MIN), vec![1]);
        assert!(r.take_due(t0 + 6 * MIN).is_empty());
        assert_eq!(r.take_due(t0 + 10 * MIN), vec![1]);
        assert_eq!(r.next_due(), Some(t0 + 15 * MIN));
    }

    #[test]
    fn an_acknowledged_critical_is_never_raised_again() {
        let t0 = Instant::now();
        let mut r = Realerts::new(MIN);
        r.raised(1, t0);
        r.raised(2, t0);
        r.acknowledged(1);
        assert_eq!(r.take_due(t0 + 2 * MIN), vec![2]);
        r.acknowledged(2);
        assert!(r.take_due(t0 + 60 * MIN).is_empty());
        assert_eq!(r.next_due(), None);
    }

    #[test]
    fn the_next_due_time_is_the_earliest_turn_of_any_alert() {
        let t0 = Instant::now();
        let mut r = Realerts::new(MIN);
        assert_eq!(r.next_due(), None);
        r.raised(1, t0);
        r.raised(2, t0 + MIN / 2);
        assert_eq!(r.next_due(), Some(t0 + MIN));
        assert_eq!(r.take_due(t0 + MIN), vec![1]);
        assert_eq!(r.next_due(), Some(t0 + MIN + MIN / 2));
        r.acknowledged(2);
        assert_eq!(r.next_due(), Some(t0 + 2 * MIN));
        // A new interval applies from the next turn on.
        r.set_every(10 * MIN);
        assert_eq!(r.next_due(), Some(t0 + 2 * MIN));
        assert_eq!(r.take_due(t0 + 2 * MIN), vec![1]);
        assert_eq!(r.next_due(), Some(t0 + 12 * MIN));
        r.acknowledged(1);
        assert_eq!(r.next_due(), None);
    }

    #[test]
    fn raising_the_same_alert_twice_keeps_its_first_turn() {
        let t0 = Instant::now();
        let mut r = Realerts::new(MIN);
        r.raised(1, t0);
        r.raised(1, t0 + MIN / 2);
        assert_eq!(r.take_due(t0 + MIN), vec![1]);
    }

    #[test]
    fn an_interval_past_what_an_instant_holds_means_never_again() {
        let now = Instant::now();
        let mut off = Realerts::new(Duration::MAX);
        off.raised(1, now);
        assert_eq!(off.next_due(), None);
        // Due under a short interval, then the interval is turned off: it is
        // raised this once more, and never again.
        let mut r = Realerts::new(Duration::from_secs(60));
        r.raised(2, now);
        r.set_every(Duration::MAX);
        assert_eq!(r.take_due(now + Duration::from_secs(60)), [2]);
        assert_eq!(r.next_due(), None);
    }
}
