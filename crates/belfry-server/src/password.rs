//! Password hashing for local accounts: Argon2id with a random salt (the
//! RustCrypto `argon2` crate), and [`PasswordChecker`], which verifies
//! sign-in attempts a bounded number at a time.
//!
//! Each Argon2 verification needs 19 MiB. Verified on the blocking pool
//! with memory allocated per call, a hundred concurrent sign-ins took
//! 1.75 GB, and the allocator kept it after they were done. The checker
//! therefore runs at most one verification per core, each in a buffer
//! that is allocated once and reused, so sign-in memory is fixed at
//! cores × 19 MiB however many attempts arrive.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use argon2::password_hash::{
    Output, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Argon2, Block, Params};
use rand::RngCore as _;
use tokio::sync::Semaphore;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password: hashing cost must not be the attacker's lever.
pub const MAX_PASSWORD_CHARS: usize = 1_024;

/// A hash of nothing anyone knows, verified against when the email is
/// unknown, so that an unknown email costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("belfry-no-such-user-placeholder").expect("hashing works"));

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Checks the length rules.
pub fn check(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Hashes `password` (Argon2id, default parameters, random salt) as a PHC string.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `hash`; a malformed hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Like [`verify`], computing in `memory` (grown when the hash's
/// parameters need more) instead of a fresh allocation.
fn verify_in(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok()
        // `Output` compares in constant time.
        && Output::new(&out).is_ok_and(|out| out == expected)
}

/// Every verification slot is taken and none freed up in time.
#[derive(Debug, thiserror::Error)]
#[error("too many sign-ins are being checked at once")]
pub struct Busy;

/// Verifies passwords at most `slots` at a time, in reused memory.
pub struct PasswordChecker {
    slots: Arc<Semaphore>,
    /// Argon2 working memory of idle slots.
    idle: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Checks run to the end.
    finished: Arc<std::sync::atomic::AtomicU64>,
}

impl PasswordChecker {
    /// A checker running `slots` verifications at once (one per core is
    /// as fast as it gets: Argon2 keeps a core busy).
    pub fn new(slots: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            idle: Arc::default(),
            finished: Arc::default(),
        }
    }

    /// How many checks have run to the end since start.
    pub fn finished(&self) -> u64 {
        self.finished.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether `password` matches `hash`; with no hash (an unknown email)
    /// the same work is done against a dummy one, so both take as long.
    /// Waits up to `wait` for a slot, then gives up with [`Busy`].
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
        wait: Duration,
    ) -> Result<bool, Busy> {
        let slot = tokio::time::timeout(wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let mut memory = self
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        // Argon2 is deliberately slow: keep it off the async workers. The
        // slot and the memory go back from the blocking thread itself, so
        // they stay taken for as long as the check runs, even if the
        // caller stops waiting for it.
        let idle = self.idle.clone();
        let finished = self.finished.clone();
        tokio::task::spawn_blocking(move || {
            let ok = match &hash {
                Some(hash) => verify_in(&password, hash, &mut memory),
                None => {
                    let _ = verify_in(&password, &DUMMY_HASH, &mut memory);
                    false
                }
            };
            idle.lock().unwrap_or_else(|e| e.into_inner()).push(memory);
            finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            drop(slot);
            ok
        })
        .await
        .map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_own_password_and_are_salted() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert_ne!(a, b, "random salt");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterz", &a));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn reused_memory_verifies_exactly_as_the_library_does() {
        let hash = hash("correct horse battery").unwrap();
        let mut memory = Vec::new();
        assert!(verify_in("correct horse battery", &hash, &mut memory));
        assert_eq!(memory.len(), Params::DEFAULT_M_COST as usize);
        // The same buffer, now full of the last run's state.
        assert!(!verify_in("correct horse batterz", &hash, &mut memory));
        assert!(verify_in("correct horse battery", &hash, &mut memory));
        assert!(!verify_in("anything", "not a hash", &mut memory));
        // A hash made with other parameters grows the buffer as needed.
        let params = Params::new(Params::DEFAULT_M_COST * 2, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let bigger = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(b"other password!", &salt)
            .unwrap()
            .to_string();
        assert!(verify_in("other password!", &bigger, &mut memory));
        assert!(verify("other password!", &bigger));
    }

    #[tokio::test]
    async fn the_checker_runs_a_bounded_number_at_once_and_says_when_it_is_busy() {
        let checker = Arc::new(PasswordChecker::new(1));
        let hash = hash("correct horse battery").unwrap();
        assert!(
            checker
                .verify(
                    "correct horse battery".into(),
                    Some(hash.clone()),
                    Duration::from_secs(30)
                )
                .await
                .unwrap()
        );
        let held = checker.slots.clone().acquire_owned().await.unwrap();
        assert!(
            checker
                .verify("x".into(), None, Duration::from_millis(50))
                .await
                .is_err()
        );
        drop(held);
        assert!(
            !checker
                .verify("x".into(), None, Duration::from_secs(30))
                .await
                .unwrap()
        );
        assert_eq!(checker.idle.lock().unwrap().len(), 1, "one buffer, reused");
    }

    #[test]
    fn length_rules() {
        assert!(matches!(check("short"), Err(PasswordError::TooShort)));
        assert!(check("ten chars!").is_ok());
        assert!(matches!(
            check(&"x".repeat(1025)),
            Err(PasswordError::TooLong)
        ));
    }
}
