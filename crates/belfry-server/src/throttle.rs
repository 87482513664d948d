//! Sign-in throttling: whether an attempt may have its password checked.
//!
//! Failed sign-ins are counted in the store (so every replica sees them)
//! over [`WINDOW`], under three keys, each with its own allowance:
//! - **the email from one address** ([`FREE_PER_PAIR`]): typos are fine, a
//!   guesser at one account from one address is slowed at once;
//! - **the address** ([`FREE_PER_ADDRESS`]): one address trying many accounts;
//! - **the email from everywhere** ([`FREE_PER_EMAIL`]): a much higher
//!   ceiling for guessing one account from many addresses.
//!
//! So someone who knows an admin's email and fails from their own address
//! pauses only themselves; the admin, from another address, signs in as
//! usual until the ceiling, which takes many addresses to reach. A sign-in
//! that succeeds clears its own pair.
//!
//! **Attempts are reserved before the password is hashed.** Counting only
//! recorded failures let a burst of concurrent attempts all pass the check
//! before the first failure was stored (100 at once got 92 checked). Each
//! attempt is now counted as in flight from the moment it passes until its
//! failure is stored, and the check and the reservation happen under one
//! lock, so no more attempts are checked per key than its allowance. The
//! in-flight counts are per process: with several replicas, each may have
//! its own allowance in flight at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use crate::store::{Store, StoreError};

/// Failures counted within this window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per email from one address before that pair pauses.
pub const FREE_PER_PAIR: u64 = 5;
/// Failures from one address before it pauses: a shared office NAT gets
/// room for several people's typos, a password sprayer does not.
pub const FREE_PER_ADDRESS: u64 = 20;
/// Failures per email from every address together before the email
/// pauses: high, so that others' failures do not lock the owner out.
pub const FREE_PER_EMAIL: u64 = 100;
/// First pause after the free failures; doubles with each further failure.
const FIRST_PAUSE: Duration = Duration::from_secs(30);
/// Wait suggested when the allowance is only taken by attempts in flight.
const IN_FLIGHT_WAIT_SECS: u64 = 1;
/// Longest wait for the check: past it the server is too busy to check
/// more sign-ins, and says so.
const GATE_WAIT: Duration = Duration::from_secs(5);

/// Sign-in is paused for this client; try again after `wait_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub wait_secs: u64,
}

/// Why an attempt was not let through.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error("sign-in throttled")]
    Throttled(Throttled),
    #[error("too many sign-ins are waiting to be checked")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What sign-in throttling keys a client by: its address, or for IPv6 its
/// /64, which one subscriber typically holds whole (keying by the full
/// address would give an attacker 2^64 addresses to rotate through).
pub fn client_key(client: IpAddr) -> String {
    match client {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(String::new, |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Counts attempts in flight and lets them through one check at a time.
#[derive(Debug, Default)]
pub struct SigninThrottle {
    /// Serializes check-and-reserve (held across the store reads).
    gate: tokio::sync::Mutex<()>,
    in_flight: Mutex<HashMap<String, u64>>,
}

/// An attempt that was let through; its keys stay counted as in flight
/// until it is dropped, which must come after a failure is recorded.
#[derive(Debug)]
pub struct Reservation {
    throttle: Arc<SigninThrottle>,
    keys: [String; 3],
}

impl Reservation {
    /// Every key a failure of this attempt is recorded under.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The (email, address) key a success clears.
    pub fn pair_key(&self) -> &str {
        &self.keys[0]
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut in_flight = self
            .throttle
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for key in &self.keys {
            if let Some(n) = in_flight.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    in_flight.remove(key);
                }
            }
        }
    }
}

impl SigninThrottle {
    /// Lets an attempt for `email` from `client` through, or says how long
    /// to wait.
    ///
    /// Checks happen one at a time (see the module header); one waits at
    /// most [`GATE_WAIT`] for its turn, then gets [`ReserveError::Busy`].
    pub async fn reserve(
        self: &Arc<Self>,
        store: &dyn Store,
        email: &str,
        client: IpAddr,
    ) -> Result<Reservation, ReserveError> {
        let client = client_key(client);
        let keys = [
            format!("pair:{email}|{client}"),
            format!("ip:{client}"),
            format!("email:{email}"),
        ];
        let allowances = [FREE_PER_PAIR, FREE_PER_ADDRESS, FREE_PER_EMAIL];
        let _gate = tokio::time::timeout(GATE_WAIT, self.gate.lock())
            .await
            .map_err(|_| ReserveError::Busy)?;
        // In flight first, then the store: an attempt that stores its
        // failure and leaves in between is counted twice, never not at all.
        let in_flight: Vec<u64> = {
            let map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            keys.iter()
                .map(|k| map.get(k).copied().unwrap_or(0))
                .collect()
        };
        let now = OffsetDateTime::now_utc();
        let mut wait = 0;
        for ((key, free), flying) in keys.iter().zip(allowances).zip(in_flight) {
            let (failures, last) = store.login_failures(key, now - WINDOW).await?;
            // Attempts that may be in flight at once: what is left of the
            // allowance, and once it is used up, one after each pause.
            let mut room = free.saturating_sub(failures).max(1);
            if failures >= free {
                let extra = u32::try_from(failures - free).unwrap_or(u32::MAX).min(5);
                let pause = (FIRST_PAUSE * 2u32.pow(extra)).min(WINDOW);
                let left = (last.unwrap_or(now) + pause - now).whole_seconds();
                if left > 0 {
                    wait = wait.max(left.unsigned_abs());
                    room = 0;
                }
            }
            if room > 0 && flying >= room {
                wait = wait.max(IN_FLIGHT_WAIT_SECS);
            }
        }
        if wait > 0 {
            return Err(ReserveError::Throttled(Throttled { wait_secs: wait }));
        }
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        for key in &keys {
            *map.entry(key.clone()).or_default() += 1;
        }
        Ok(Reservation {
            throttle: self.clone(),
            keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_ipv4_by_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), "2001:db8:1:2::/64");
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key("203.0.113.7".parse().unwrap()), "203.0.113.7");
        assert_eq!(
            client_key("::ffff:203.0.113.7".parse().unwrap()),
            "203.0.113.7"
        );
    }
}
