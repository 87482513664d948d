//! Bearer-token authentication: verifying JWTs with a pinned algorithm,
//! deciding who is an admin or a publisher, and minting tokens with the
//! server's own HS256 secret (for the `token` command and tests).
//!
//! Tokens are read from the `Authorization` header only; a token in the query
//! string or a cookie is never looked at, so it cannot leak into access logs
//! and cannot be planted by a link. Tokens are never logged.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::{JwtAlgorithm, JwtConfig};
use crate::error::ApiError;
use crate::state::AppState;

/// Scope a service token needs to publish.
pub const SCOPE_PUBLISH: &str = "publish";

/// An email address as Belfry compares and stores it: trimmed and in lower
/// case. Accounts, sign-in, `admin_emails` and tokens' `email` claims all
/// go through here, so one address never counts as two.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The claims Belfry reads. `iss`/`aud` are checked by the verifier itself.
#[derive(Debug, Clone, Serialize, Deserialize)]

pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// OAuth style: a space-separated string, or an array of strings.
    #[serde(
        default,
        deserialize_with = "scope_list",
        serialize_with = "scope_string",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scope: Vec<String>,
    /// Required. Optional here only so that a token without it gets past
    /// serde to jsonwebtoken's required-claim check, which names the claim
    /// (a serde error would only say "malformed token").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// RFC 7519 allows one audience as a string or several as an array;
    /// identity providers send either.
    #[serde(
        default,
        deserialize_with = "audience_list",
        serialize_with = "audience_value",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    /// Not valid before; enforced with the same leeway as `exp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Sign-in id of tokens this server issued at login; checked for revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

fn scope_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scope {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Option::<Scope>::deserialize(d)? {
        None => Vec::new(),
        Some(Scope::Text(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Scope::List(l)) => l,
    })
}

fn audience_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Audience {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Audience>::deserialize(d)? {
        None => Vec::new(),
        Some(Audience::One(a)) => vec![a],
        Some(Audience::Many(list)) => list,
    })
}

fn audience_value<S: serde::Serializer>(aud: &[String], s: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

fn scope_string<S: serde::Serializer>(scope: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&scope.join(" "))
}

/// Who made a request, as established by a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Stable user id: the `sub` claim, else the email.
    pub sub: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub can_publish: bool,
    /// Token expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The sign-in a locally issued token belongs to.
    pub session_id: Option<String>,
}

/// Why a token was refused. Logged, and never includes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the Authorization header is not a bearer token")]
    NotBearer,
    #[error("the token has expired: sign in again or refresh it")]
    Expired,
    #[error("the token is invalid ({0})")]
    Invalid(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Unauthorized(e.to_string())
    }
}

/// Verifies tokens for one pinned algorithm and key.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    admin_emails: HashSet<String>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

fn algorithm(a: JwtAlgorithm) -> Algorithm {
    match a {
        JwtAlgorithm::Hs256 => Algorithm::HS256,
        JwtAlgorithm::Rs256 => Algorithm::RS256,
        JwtAlgorithm::Es256 => Algorithm::ES256,
        JwtAlgorithm::EdDsa => Algorithm::EdDSA,
    }
}

/// Why a verification key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("HS256 needs a secret")]
    NoSecret,
    #[error("asymmetric JWT algorithms need jwt_public_key_file")]
    NoPublicKey,
    #[error("cannot read public key {}", .path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a usable PEM public key", .path.display())]
    NotPem {
        path: std::path::PathBuf,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
}

impl Verifier {
    /// Builds a verifier. `secret` is the HS256 secret (ignored for the
    /// asymmetric algorithms, which read `config.public_key_file`).
    pub fn new(
        config: &JwtConfig,
        secret: Option<&SecretString>,
        admin_emails: &[String],
    ) -> Result<Self, KeyError> {
        let alg = algorithm(config.algorithm);
        let key = match config.algorithm {
            JwtAlgorithm::Hs256 => {
                let secret = secret.ok_or(KeyError::NoSecret)?;
                DecodingKey::from_secret(secret.expose_secret().as_bytes())
            }
            other => {
                let path = config
                    .public_key_file
                    .as_ref()
                    .ok_or(KeyError::NoPublicKey)?;
                let pem = std::fs::read(path).map_err(|source| KeyError::Read {
                    path: path.clone(),
                    source,
                })?;
                let parsed = match other {
                    JwtAlgorithm::Rs256 => DecodingKey::from_rsa_pem(&pem),
                    JwtAlgorithm::Es256 => DecodingKey::from_ec_pem(&pem),
                    _ => DecodingKey::from_ed_pem(&pem),
                };
                parsed.map_err(|source| KeyError::NotPem {
                    path: path.clone(),
                    source,
                })?
            }
        };
        // `Validation::new` pins the accepted header algorithms to exactly this
        // one, so an `alg: none` or HS256-signed-with-the-public-key token is
        // refused before any signature check.
        let mut validation = Validation::new(alg);
        validation.leeway = config.leeway.as_secs();
        // A token minted for later (an identity provider's `nbf`) is not
        // valid yet; jsonwebtoken only checks `nbf` when asked to.
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        match &config.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                validation.required_spec_claims.insert("iss".to_owned());
            }
            None => validation.iss = None,
        }
        match &config.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.required_spec_claims.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        Ok(Self {
            key,
            validation,
            admin_emails: admin_emails.iter().map(|e| normalise_email(e)).collect(),
        })
    }

    /// The tolerated clock skew on `exp`.
    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.validation.leeway)
    }

    /// Verifies a raw token and returns who it identifies.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => {
                    AuthError::Invalid("not valid yet (its `nbf` is in the future)".into())
                }
                ErrorKind::InvalidAlgorithm => AuthError::Invalid(
                    "signed with an algorithm this server does not accept".into(),
                ),
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".into()),
                ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience".into()),
                ErrorKind::MissingRequiredClaim(c) => {
                    AuthError::Invalid(format!("missing claim `{c}`"))
                }
                _ => AuthError::Invalid("malformed token".into()),
            },
        )?;
        let c = data.claims;
        let email = c
            .email
            .map(|e| normalise_email(&e))
            .filter(|e| !e.is_empty());
        let sub = c
            .sub
            .filter(|s| !s.is_empty())
            .or_else(|| email.clone())
            .ok_or_else(|| AuthError::Invalid("no `sub` or `email` claim".into()))?;
        let is_admin = c.role.as_deref() == Some("admin")
            || email
                .as_ref()
                .is_some_and(|e| self.admin_emails.contains(e));
        Ok(Identity {
            sub,
            email,
            is_admin,
            can_publish: c.scope.iter().any(|s| s == SCOPE_PUBLISH),
            // Present: jsonwebtoken refused the token otherwise.
            expires_at: c
                .exp
                .ok_or_else(|| AuthError::Invalid("missing claim `exp`".into()))?,
            session_id: c.sid.filter(|s| !s.is_empty()),
        })
    }

    /// Reads and verifies the bearer token of a request.
    pub fn authenticate(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or(AuthError::Missing)?;
        let value = header.to_str().map_err(|_| AuthError::NotBearer)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::NotBearer);
        }
        self.verify(token.trim())
    }
}

/// Mints HS256 tokens with the server's secret.
pub struct Minter {
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
}

impl Minter {
    pub fn new(secret: &SecretString, config: &JwtConfig) -> Self {
        Self {
            key: EncodingKey::from_secret(secret.expose_secret().as_bytes()),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        }
    }

    /// Signs a token for `sub` valid for `ttl` from now.
    pub fn mint(
        &self,
        sub: &str,
        email: Option<&str>,
        role: Option<&str>,
        scope: &[&str],
        ttl: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.mint_for_session(sub, email, role, scope, ttl, None)
    }

    /// Like [`Minter::mint`], tied to sign-in `session_id` (revocable).
    pub fn mint_for_session(
        &self,
        sub: &str,
        email: Option<&str>,
        role: Option<&str>,
        scope: &[&str],
        ttl: Duration,
        session_id: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let claims = Claims {
            sub: Some(sub.to_owned()),
            email: email.map(str::to_owned),
            role: role.map(str::to_owned),
            scope: scope.iter().map(|s| (*s).to_owned()).collect(),
            exp: Some(now.saturating_add(ttl.as_secs())),
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.iter().cloned().collect(),
            nbf: None,
            sid: session_id.map(str::to_owned),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Identity, ApiError> {
    let refused = |e: AuthError| {
        tracing::info!(reason = %e, path = %parts.uri.path(), "authentication failed");
        state.metrics.auth_failures.inc();
        ApiError::from(e)
    };
    let id = state.verifier.authenticate(parts).map_err(refused)?;
    // A token from our own login stays valid only while its sign-in does:
    // logout and `user disable` take effect before the token expires.
    if let Some(sid) = &id.session_id
        && !state.store.session_active(sid).await?
    {
        return Err(refused(AuthError::Invalid("signed out or disabled".into())));
    }
    Ok(id)
}

/// Extractor: a request authenticated as an admin (401 without a valid
/// token, 403 for a valid token of a non-admin).
pub struct Admin(pub Identity);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = authenticate(parts, state).await?;
        if !id.is_admin {
            tracing::info!(sub = %id.sub, "non-admin refused");
            return Err(ApiError::Forbidden(
                "this token does not belong to an admin".to_owned(),
            ));
        }
        Ok(Admin(id))
    }
}

/// Extractor: a request authenticated with a token holding the `publish` scope.
pub struct Publisher(pub Identity);

impl FromRequestParts<AppState> for Publisher {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = authenticate(parts, state).await?;
        if !id.can_publish {
            tracing::info!(sub = %id.sub, "publish without scope refused");
            return Err(ApiError::Forbidden(
                "publishing needs a service token with the `publish` scope: mint one with `belfry-server token --scope publish --sub <service>`".to_owned(),
            ));
        }
        Ok(Publisher(id))
    }
}

#[cfg(test)]
mod tests {
    //! The verifier's decisions without a server: each table row is one token
    //! (or request) and what `verify` (or `authenticate`) must make of it.
    //! tests/server/auth.rs only checks that a refusal becomes a 401 with a
    //! bearer challenge, and what needs the extractors.
    //!
    //! Time: jsonwebtoken reads the system clock, which tokio's paused clock
    //! does not govern, so rows that depend on it put `exp` and `nbf` 30 s or
    //! more from the edge of the leeway: a slow machine cannot flip a row.

    use super::*;
    use axum::http::{HeaderValue, Request};
    use base64::Engine as _;
    use serde_json::{Value, json};

    const SECRET: &str = "unit-test-secret-unit-test-secret";
    /// On every test verifier's admin list.
    const OWNER: &str = "owner@shop.example";

    /// Test-only Ed25519 key pair (RFC 8037 example key); never used outside tests.
    const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
-----END PRIVATE KEY-----
";
    const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
-----END PUBLIC KEY-----
";
    /// Test-only P-256 key pair, generated for these tests; never used outside them.
    const P256_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaXkqbI29Kjnsuhih
WXkAzAKsFUdUW4oXc1Aoea6av8mhRANCAASMtWi64rEHNb7DxpsPV3saNNVGlHGJ
u7fIhrwHAQ/GRjkJfQJ8FcwHDJAdSZcNCVpHUY7I5kF+4ROq3WKzWRZv
-----END PRIVATE KEY-----
";
    const P256_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjLVouuKxBzW+w8abD1d7GjTVRpRx
ibu3yIa8BwEPxkY5CX0CfBXMBwyQHUmXDQlaR1GOyOZBfuETqt1is1kWbw==
-----END PUBLIC KEY-----
";
    /// Test-only RSA-2048 key pair, generated for these tests; never used outside them.
    const RSA_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDKsUuR6FtQ50dZ
6hpxq2JcBGHtmPNWcZbwInJsJ5veH1FudbKSV9iiJDCvPonZZhR6kemimLJvsLNU
viKY66hsAo30oTFSlEjxdbtPtsN4ZsWLUMNbtnVRHEUhQIZ1mUJlNkmr0D2GozO/
kNcpr05rq9DS8lS+DNVEKloeZ+2FNi1nTmmGV/ufc7YEnHwtC5dw0ozuH0FokJKx
5+xu2AoNJpowJDD0ufXdm5MHsPUkpzNF7rWm7HFNlID7K7UF1hGva1qGL7uztjW1
My/wIOWy3pC2veIhqKNiHNO1Po537HxxDYJakekR+bb+vHn6dQ2B+S5u7wiK9ELS
Y06JoGqHAgMBAAECggEAJ8AKXnRviBe7RfZjtjwSn5IadGKlAiRnofNXdj90UWTZ
7uw1F38T1IR9abi9hv1+caUw6PrCL6Y7HRjmpw+8KWZ82WdNSXEcNwJMOC9S+UdK
YW52yYMoUb5WDlXdqK1kOH4jh4bgsglKijyI/btMCVCaNOxiUx0oK+SUZNcj3RYv
6Gnpu6YIWZoljp3iVXxkarBPBVwjej5YWuBgcvh4GOkXstCF8Olj8W3LXJi8iodI
sK6Y9NzV2DkQ4hJOHiaIVZkY2o9nlbt/j0a+/TPNERBUDT4+cFYI9+B5Xz3A3ZcJ
wXuA7aagXcYwc9OzIpxdc6iBmXtV/xzrG9wz/vPhAQKBgQDwyr4p+12Xzj9alEHT
L2R5VbxlruqyRourmECwwwGgrpt6CkMoGajTIBJ+GQTUNjadUcT2a60uJYv7riJd
l1avzdiQAflWa3nbWAzm+f1kVcULtX3b8udQnr5Q1h2daVwH9gr5mLI+jV+5Oatp
hxBfTx7qtgYee5y8hQ75ExclhwKBgQDXfopKKwa9QfZMbNmFUdpZc2ZZpZUL7vEz
mhya7HG2mFAOQNL3mQqGlZ/aQVJIzXVkRKrI883nM86JUlnWa/HuzPB83J/rf7n7
W6jYHYgEh0TR1A89mAEGoxzV6qs46lCcJbwGct3c9osHM2asg7JH6u2uBD38XamQ
TjMaX03TAQKBgGCEE5dGTyyTGifXd08MFwzfhcWISECvMDrWq09uys86Tc2sIWEI
b/g4SdFLe/kHxfpnFTjkziTKHgMCuHmlOLT9IIoQkH3IVK7L61gF6kB2dKYN2GX6
Rie1iXljabl3ytDSGXIUd5XFGxJmgEOrRK+/ShgwX+GGELwr5WWG9mcvAoGAPNjN
IX4erAfZDOFbViqzlbhg+QUpHbJ9Rs3IL/J9dUpyqGOjbig3caMD/POe0VG6SPKe
qpk01YiqU9n95e6a5IvXh9ogCbYKBLBv733/LxAm3XycRQ8Lkx0xgjF94VdAJab9
/XAnt0GiJglcf2+8QlRSgmVOP1kPDOEXyuWIKwECgYEAgbwiGiongA/yL7aGjutg
zTnR3zZxylr7+eRI4WLGWrDFOCosXkO+o2cRkotFHYc4Kj/stcVVM//D23pGbm21
aGj1MP2RCyRgHfPr6zqaqc1jpIl6nBHGYPmBoHfmM06K6tsnFl17C7z/QJd3IWBd
GLHUKOf8GImoM/CX9RZ8sdQ=
-----END PRIVATE KEY-----
";
    const RSA_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyrFLkehbUOdHWeoacati
XARh7ZjzVnGW8CJybCeb3h9RbnWyklfYoiQwrz6J2WYUepHpopiyb7CzVL4imOuo
bAKN9KExUpRI8XW7T7bDeGbFi1DDW7Z1URxFIUCGdZlCZTZJq9A9hqMzv5DXKa9O
a6vQ0vJUvgzVRCpaHmfthTYtZ05phlf7n3O2BJx8LQuXcNKM7h9BaJCSsefsbtgK
DSaaMCQw9Ln13ZuTB7D1JKczRe61puxxTZSA+yu1BdYRr2tahi+7s7Y1tTMv8CDl
st6Qtr3iIaijYhzTtT6Od+x8cQ2CWpHpEfm2/rx5+nUNgfkubu8IivRC0mNOiaBq
hwIDAQAB
-----END PUBLIC KEY-----
";

    const MALFORMED: &str = "malformed token";
    const WRONG_ALGORITHM: &str = "signed with an algorithm this server does not accept";
    const BAD_SIGNATURE: &str = "bad signature";
    const NOT_YET: &str = "not valid yet (its `nbf` is in the future)";

    /// An HS256 verifier with the test secret, no leeway, `OWNER` on the
    /// admin list, and whatever `tweak` changes.
    fn verifier(tweak: impl FnOnce(&mut JwtConfig)) -> Verifier {
        let mut cfg = crate::config::Config::new("/tmp").jwt;
        cfg.leeway = Duration::ZERO;
        tweak(&mut cfg);
        let secret = SecretString::from(SECRET);
        Verifier::new(&cfg, Some(&secret), &[OWNER.to_owned()]).unwrap()
    }

    fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
    }

    /// Signed with the test secret, as a trusted issuer would.
    fn signed(claims: Value) -> String {
        sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(SECRET.as_bytes()),
            &claims,
        )
    }

    /// Far from any expiry a row tests.
    fn valid_for_a_while() -> u64 {
        unix_now() + 600
    }

    fn ann() -> Value {
        json!({"sub": "ann", "role": "admin", "exp": valid_for_a_while()})
    }

    /// `claims` with `extra` merged over them.
    fn with(mut claims: Value, extra: Value) -> Value {
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    }

    fn segment(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn refused(reason: &str) -> Result<String, AuthError> {
        Err(AuthError::Invalid(reason.to_owned()))
    }

    /// What a row expects of `verify`: the subject, or the refusal.
    fn check(v: &Verifier, rows: Vec<(&str, String, Result<String, AuthError>)>) {
        for (what, token, expected) in rows {
            assert_eq!(v.verify(&token).map(|id| id.sub), expected, "{what}");
        }
    }

    #[test]
    fn only_tokens_signed_with_the_pinned_algorithm_and_key_are_accepted() {
        let unsigned = format!(
            "{}.{}",
            segment(&json!({"alg": "none", "typ": "JWT"})),
            segment(&ann())
        );
        let same_secret = EncodingKey::from_secret(SECRET.as_bytes());
        let clerk = signed(json!({"sub": "clerk", "role": "user", "exp": valid_for_a_while()}));
        // The clerk's signature on claims that now say `admin`.
        let (head, rest) = clerk.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let promoted = format!("{head}.{}.{signature}", segment(&ann()));
        let ed25519 = EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).unwrap();

        check(
            &verifier(|_| {}),
            vec![
                ("HS256 with the secret", signed(ann()), Ok("ann".into())),
                (
                    "alg none, empty signature",
                    format!("{unsigned}."),
                    refused(MALFORMED),
                ),
                (
                    "alg none, no signature",
                    unsigned.clone(),
                    refused(MALFORMED),
                ),
                (
                    "HS384 with the same secret",
                    sign(Algorithm::HS384, &same_secret, &ann()),
                    refused(WRONG_ALGORITHM),
                ),
                (
                    "HS256 with another secret",
                    sign(
                        Algorithm::HS256,
                        &EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
                        &ann(),
                    ),
                    refused(BAD_SIGNATURE),
                ),
                (
                    "claims changed after signing",
                    promoted,
                    refused(BAD_SIGNATURE),
                ),
                (
                    "EdDSA, to an HS256 server",
                    sign(Algorithm::EdDSA, &ed25519, &ann()),
                    refused(WRONG_ALGORITHM),
                ),
                ("not a JWT", "not-a-jwt".into(), refused(MALFORMED)),
                ("three junk segments", "a.b.c".into(), refused(MALFORMED)),
                ("empty", String::new(), refused(MALFORMED)),
            ],
        );
    }

    #[test]
    fn exp_and_nbf_are_enforced_with_the_configured_leeway() {
        let now = unix_now();
        for (leeway, claims, expected) in [
            (0, json!({"exp": now - 120}), Err(AuthError::Expired)),
            (60, json!({"exp": now - 120}), Err(AuthError::Expired)),
            (0, json!({"exp": now - 30}), Err(AuthError::Expired)),
            (60, json!({"exp": now - 30}), Ok("ann".into())),
            // Named, not just "malformed".
            (0, json!({"exp": null}), refused("missing claim `exp`")),
            (60, json!({"nbf": now + 3600}), refused(NOT_YET)),
            (0, json!({"nbf": now + 30}), refused(NOT_YET)),
            (60, json!({"nbf": now + 30}), Ok("ann".into())),
            (0, json!({"nbf": now - 30}), Ok("ann".into())),
        ] {
            let v = verifier(|c| c.leeway = Duration::from_secs(leeway));
            assert_eq!(v.leeway(), Duration::from_secs(leeway));
            let mut claims = with(ann(), claims);
            if claims["exp"].is_null() {
                claims.as_object_mut().unwrap().remove("exp");
            }
            let got = v.verify(&signed(claims.clone())).map(|id| id.sub);
            assert_eq!(got, expected, "leeway {leeway}s, {claims}");
        }
    }

    #[test]
    fn issuer_and_audience_are_enforced_only_when_configured() {
        let both = verifier(|c| {
            c.issuer = Some("https://shop.example".into());
            c.audience = Some("belfry".into());
        });
        let ours = || {
            with(
                ann(),
                json!({"iss": "https://shop.example", "aud": "belfry"}),
            )
        };
        let without = |claim: &str| {
            let mut c = ours();
            c.as_object_mut().unwrap().remove(claim);
            signed(c)
        };
        check(
            &both,
            vec![
                ("ours", signed(ours()), Ok("ann".into())),
                (
                    "another issuer",
                    signed(with(ours(), json!({"iss": "https://evil.example"}))),
                    refused("wrong issuer"),
                ),
                (
                    "another audience",
                    signed(with(ours(), json!({"aud": "other"}))),
                    refused("wrong audience"),
                ),
                ("no issuer", without("iss"), refused("missing claim `iss`")),
                (
                    "no audience",
                    without("aud"),
                    refused("missing claim `aud`"),
                ),
                (
                    "an audience list naming us",
                    signed(with(ours(), json!({"aud": ["account", "belfry"]}))),
                    Ok("ann".into()),
                ),
                (
                    "an audience list not naming us",
                    signed(with(ours(), json!({"aud": ["account", "billing"]}))),
                    refused("wrong audience"),
                ),
            ],
        );
        check(
            &verifier(|_| {}),
            vec![
                (
                    "any issuer and audience, none configured",
                    signed(with(
                        ann(),
                        json!({"iss": "https://evil.example", "aud": "other"}),
                    )),
                    Ok("ann".into()),
                ),
                (
                    "an audience list, none configured",
                    signed(with(ann(), json!({"aud": ["account", "billing"]}))),
                    Ok("ann".into()),
                ),
            ],
        );
    }

    #[test]
    fn an_asymmetric_verifier_accepts_its_key_pair_only() {
        let keys = [
            (
                JwtAlgorithm::EdDsa,
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).unwrap(),
                ED25519_PUBLIC,
            ),
            (
                JwtAlgorithm::Es256,
                Algorithm::ES256,
                EncodingKey::from_ec_pem(P256_PRIVATE.as_bytes()).unwrap(),
                P256_PUBLIC,
            ),
            (
                JwtAlgorithm::Rs256,
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
                RSA_PUBLIC,
            ),
        ];
        let tokens: Vec<String> = keys
            .iter()
            .map(|(_, alg, private, _)| sign(*alg, private, &ann()))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for (i, (configured, _, _, public)) in keys.iter().enumerate() {
            let path = dir.path().join(format!("{configured:?}.pub.pem"));
            std::fs::write(&path, public).unwrap();
            let v = verifier(|c| {
                c.algorithm = *configured;
                c.public_key_file = Some(path);
            });
            let mut rows = vec![(
                "HS256 \"signed\" with the public key's bytes",
                sign(
                    Algorithm::HS256,
                    &EncodingKey::from_secret(public.as_bytes()),
                    &ann(),
                ),
                refused(WRONG_ALGORITHM),
            )];
            for (j, token) in tokens.iter().enumerate() {
                let expected = if i == j {
                    Ok("ann".into())
                } else {
                    refused(WRONG_ALGORITHM)
                };
                rows.push(("a token of each key pair", token.clone(), expected));
            }
            check(&v, rows);
        }
    }

    #[test]
    fn an_unusable_key_is_reported_when_the_verifier_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "not a key").unwrap();
        let build = |alg, file: Option<std::path::PathBuf>, secret: Option<&SecretString>| {
            let mut cfg = crate::config::Config::new("/tmp").jwt;
            cfg.algorithm = alg;
            cfg.public_key_file = file;
            Verifier::new(&cfg, secret, &[]).unwrap_err()
        };
        let e = build(JwtAlgorithm::Hs256, None, None);
        assert!(matches!(e, KeyError::NoSecret), "{e:?}");
        let e = build(JwtAlgorithm::EdDsa, None, None);
        assert!(matches!(e, KeyError::NoPublicKey), "{e:?}");
        let e = build(
            JwtAlgorithm::Es256,
            Some(dir.path().join("absent.pem")),
            None,
        );
        assert!(matches!(e, KeyError::Read { .. }), "{e:?}");
        let e = build(JwtAlgorithm::Rs256, Some(not_pem), None);
        assert!(matches!(e, KeyError::NotPem { .. }), "{e:?}");
    }

    #[test]
    fn the_identity_is_read_from_the_claims() {
        let exp = valid_for_a_while();
        let who = |sub: &str, email: Option<&str>, is_admin, can_publish| Identity {
            sub: sub.to_owned(),
            email: email.map(str::to_owned),
            is_admin,
            can_publish,
            expires_at: exp,
            session_id: None,
        };
        let v = verifier(|_| {});
        for (claims, expected) in [
            (
                json!({"sub": "ann", "role": "admin"}),
                Ok(who("ann", None, true, false)),
            ),
            (
                json!({"sub": "u1", "email": " Owner@Shop.example ", "role": "user"}),
                Ok(who("u1", Some(OWNER), true, false)),
            ),
            (
                json!({"sub": "clerk", "email": "clerk@shop.example"}),
                Ok(who("clerk", Some("clerk@shop.example"), false, false)),
            ),
            (
                json!({"sub": "clerk", "role": "user"}),
                Ok(who("clerk", None, false, false)),
            ),
            (
                json!({"sub": "orders-service", "scope": "read publish"}),
                Ok(who("orders-service", None, false, true)),
            ),
            (
                json!({"sub": "orders-service", "scope": ["publish"]}),
                Ok(who("orders-service", None, false, true)),
            ),
            (
                json!({"sub": "orders-service", "scope": "publisher"}),
                Ok(who("orders-service", None, false, false)),
            ),
            (
                json!({"sub": "", "email": "X@Shop.example"}),
                Ok(who("x@shop.example", Some("x@shop.example"), false, false)),
            ),
            (
                json!({"email": "x@shop.example"}),
                Ok(who("x@shop.example", Some("x@shop.example"), false, false)),
            ),
            (
                json!({"sub": "ann", "sid": "s-1"}),
                Ok(Identity {
                    session_id: Some("s-1".into()),
                    ..who("ann", None, false, false)
                }),
            ),
            (
                json!({"sub": "ann", "sid": ""}),
                Ok(who("ann", None, false, false)),
            ),
            (
                json!({"sub": "ann", "exp": u64::MAX - 1}),
                Ok(Identity {
                    expires_at: u64::MAX - 1,
                    ..who("ann", None, false, false)
                }),
            ),
            (
                json!({"sub": "", "email": "  "}),
                Err(AuthError::Invalid("no `sub` or `email` claim".into())),
            ),
            (
                json!({"role": "admin"}),
                Err(AuthError::Invalid("no `sub` or `email` claim".into())),
            ),
        ] {
            let token = signed(with(json!({"exp": exp}), claims.clone()));
            assert_eq!(v.verify(&token), expected, "{claims}");
        }
    }

    #[test]
    fn a_minted_token_verifies_with_the_same_configuration() {
        let mut cfg = crate::config::Config::new("/tmp").jwt;
        cfg.issuer = Some("https://shop.example".into());
        cfg.audience = Some("belfry".into());
        let secret = SecretString::from(SECRET);
        let v = Verifier::new(&cfg, Some(&secret), &[]).unwrap();
        let before = unix_now();
        let token = Minter::new(&secret, &cfg)
            .mint_for_session(
                "ann",
                Some("ann@shop.example"),
                Some("admin"),
                &["read", SCOPE_PUBLISH],
                Duration::from_secs(60),
                Some("s-1"),
            )
            .unwrap();
        let id = v.verify(&token).unwrap();
        assert!(
            (before + 60..=unix_now() + 60).contains(&id.expires_at),
            "{id:?}"
        );
        assert_eq!(
            id,
            Identity {
                sub: "ann".into(),
                email: Some("ann@shop.example".into()),
                is_admin: true,
                can_publish: true,
                expires_at: id.expires_at,
                session_id: Some("s-1".into()),
            }
        );
    }

    #[test]
    fn scope_may_be_a_string_or_a_list() {
        let c: Claims = serde_json::from_str(r#"{"exp":1,"scope":"read publish"}"#).unwrap();
        assert_eq!(c.scope, ["read", "publish"]);
        let c: Claims = serde_json::from_str(r#"{"exp":1,"scope":["publish"]}"#).unwrap();
        assert_eq!(c.scope, ["publish"]);
    }

    #[test]
    fn only_the_authorization_header_is_read() {
        let v = verifier(|_| {});
        let token = signed(ann());
        let parts = |uri: &str, headers: &[(&str, HeaderValue)]| {
            let mut req = Request::builder().uri(uri);
            for (name, value) in headers {
                req = req.header(*name, value.clone());
            }
            req.body(()).unwrap().into_parts().0
        };
        let bearer = |value: &str| {
            parts(
                "/api/admin/events",
                &[("authorization", HeaderValue::from_str(value).unwrap())],
            )
        };
        for (what, request, expected) in [
            ("no header", parts("/", &[]), Err(AuthError::Missing)),
            (
                "the token in the query string and a cookie",
                parts(
                    &format!("/api/admin/events?token={token}&access_token={token}"),
                    &[(
                        "cookie",
                        HeaderValue::from_str(&format!("token={token}; access_token={token}"))
                            .unwrap(),
                    )],
                ),
                Err(AuthError::Missing),
            ),
            (
                "basic auth",
                bearer("Basic YWRtaW46YWRtaW4="),
                Err(AuthError::NotBearer),
            ),
            (
                "a scheme alone",
                bearer("Bearer"),
                Err(AuthError::NotBearer),
            ),
            (
                "an empty token",
                bearer("Bearer   "),
                Err(AuthError::NotBearer),
            ),
            (
                "another scheme",
                bearer(&format!("Token {token}")),
                Err(AuthError::NotBearer),
            ),
            (
                "not text",
                parts(
                    "/",
                    &[(
                        "authorization",
                        HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
                    )],
                ),
                Err(AuthError::NotBearer),
            ),
            ("not a JWT", bearer("Bearer not-a-jwt"), refused(MALFORMED)),
            (
                "a valid token",
                bearer(&format!("Bearer {token}")),
                Ok("ann".into()),
            ),
            (
                "the scheme in lower case",
                bearer(&format!("bearer {token}")),
                Ok("ann".into()),
            ),
        ] {
            assert_eq!(
                v.authenticate(&request).map(|id| id.sub),
                expected,
                "{what}"
            );
        }
    }
}
