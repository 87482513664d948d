//! Stream limits: at most N concurrent streams per admin and M per process.
//! A refused stream gets 429; streams already open are never disturbed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitExceeded {
    PerUser(usize),
    Total(usize),
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_user: HashMap<String, usize>,
}

/// Counts open streams. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StreamLimits {
    per_user: usize,
    total: usize,
    // A std Mutex: held for a map update only, never across an await.
    counts: Arc<Mutex<Counts>>,
}

impl StreamLimits {
    pub fn new(per_user: usize, total: usize) -> Self {
        Self {
            per_user,
            total,
            counts: Arc::default(),
        }
    }

    /// Open streams per admin on this process.
    pub fn per_user(&self) -> HashMap<String, usize> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .per_user
            .clone()
    }

    /// Takes a slot for one stream of `sub`, released when the slot drops.
    /// `elsewhere` is how many streams `sub` holds on other replicas.
    pub fn acquire(&self, sub: &str, elsewhere: usize) -> Result<StreamSlot, LimitExceeded> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.total >= self.total {
            return Err(LimitExceeded::Total(self.total));
        }
        let mine = c.per_user.get(sub).copied().unwrap_or(0);
        if mine + elsewhere >= self.per_user {
            return Err(LimitExceeded::PerUser(self.per_user));
        }
        c.total += 1;
        c.per_user.insert(sub.to_owned(), mine + 1);
        Ok(StreamSlot {
            sub: sub.to_owned(),
            counts: self.counts.clone(),
        })
    }
}

/// One open stream's place in the counts.
#[derive(Debug)]
pub struct StreamSlot {
    sub: String,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total -= 1;
        if let Some(n) = c.per_user.get_mut(&self.sub) {
            *n -= 1;
            if *n == 0 {
                c.per_user.remove(&self.sub);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_user_and_in_total_and_freed_on_drop() {
        let limits = StreamLimits::new(2, 3);
        let a1 = limits.acquire("ann", 0).unwrap();
        let _a2 = limits.acquire("ann", 0).unwrap();
        assert_eq!(
            limits.acquire("ann", 0).unwrap_err(),
            LimitExceeded::PerUser(2)
        );
        let _b1 = limits.acquire("bob", 1).unwrap();
        assert_eq!(
            limits.acquire("cyd", 0).unwrap_err(),
            LimitExceeded::Total(3)
        );
        drop(a1);
        assert!(limits.acquire("cyd", 0).is_ok());
        assert_eq!(limits.per_user().get("ann"), Some(&1));
    }

    #[test]
    fn streams_on_other_replicas_count_against_the_per_admin_limit() {
        let limits = StreamLimits::new(2, 10);
        let _here = limits.acquire("bob", 1).unwrap();
        assert_eq!(
            limits.acquire("bob", 1).unwrap_err(),
            LimitExceeded::PerUser(2)
        );
        assert_eq!(
            limits.acquire("bob", 2).unwrap_err(),
            LimitExceeded::PerUser(2)
        );
        assert!(limits.acquire("ann", 1).is_ok());
    }
}
