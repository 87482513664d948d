//! Reading a JWT's `exp` without verifying it: the client only needs to know
//! when to refresh; the server does the verifying.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The `exp` claim (Unix seconds) of `token`, if it is a JWT that has one.
pub fn expiry(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        format!(
            "eyJhbGciOiJIUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn exp_is_read_from_the_payload() {
        assert_eq!(
            expiry(&token(r#"{"sub":"ann","exp":1900000000}"#)),
            Some(1_900_000_000)
        );
    }

    #[test]
    fn tokens_without_a_readable_exp_have_none() {
        assert_eq!(expiry(&token(r#"{"sub":"ann"}"#)), None);
        assert_eq!(expiry("opaque-token"), None);
        assert_eq!(expiry("a.!!!.c"), None);
        assert_eq!(expiry(&token("not json")), None);
    }
}
