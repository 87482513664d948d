//! Signing per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com>), so a receiver verifies Belfry's
//! webhooks with that project's libraries (Python, Node, Go, Rust, …):
//!
//! - `webhook-id`: the message's stable id, the same on every retry, for the
//!   receiver to drop duplicates;
//! - `webhook-timestamp`: Unix seconds, for the receiver to refuse replays;
//! - `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
//!   `{id}.{timestamp}.{body}`, keyed with the bytes the `whsec_` secret
//!   encodes.
//!
//! HMAC-SHA256 from RustCrypto's `hmac` and `sha2`, already in the tree
//! (under the JWT and password crates): the MAC is not ours to write.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretSlice};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Shortest key accepted, in bytes: the specification asks for 24 to 64.
pub const MIN_KEY_BYTES: usize = 24;
/// Longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 64;

/// A signing key, read from its `whsec_…` form.
#[derive(Clone)]
pub struct SigningKey(SecretSlice<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([hidden])")
    }
}

impl SigningKey {
    /// Reads `whsec_<base64>`; the error says what is wrong without
    /// repeating the secret.
    pub fn parse(secret: &str) -> Result<Self, String> {
        let encoded = secret.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            format!("must start with `{SECRET_PREFIX}` (a Standard Webhooks secret)")
        })?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| format!("is not `{SECRET_PREFIX}` followed by base64"))?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(format!(
                "encodes {} bytes; use {MIN_KEY_BYTES} to {MAX_KEY_BYTES} (generate one with \
                 `echo {SECRET_PREFIX}$(openssl rand -base64 32)`)",
                key.len()
            ));
        }
        Ok(Self(key.into()))
    }

    /// The `webhook-signature` value for one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries
    /// (standard-webhooks, `libraries/python/tests`).
    #[test]
    fn signs_the_specification_example() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = key.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_that_is_not_a_standard_webhooks_secret_is_refused_without_echoing_it() {
        for (secret, says) in [
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "must start with `whsec_`",
            ),
            ("whsec_not base64!", "followed by base64"),
            ("whsec_c2hvcnQ=", "encodes 5 bytes"),
        ] {
            let e = SigningKey::parse(secret).unwrap_err();
            assert!(e.contains(says), "{secret}: {e}");
            assert!(!e.contains(secret), "{e}");
        }
        assert_eq!(
            format!(
                "{:?}",
                SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
            ),
            "SigningKey([hidden])"
        );
    }
}
