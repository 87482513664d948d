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
    pub exp: u64,
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
            admin_emails: admin_emails.iter().map(|e| e.to_lowercase()).collect(),
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
            .map(|e| e.trim().to_lowercase())
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
            expires_at: c.exp,
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
            exp: now.saturating_add(ttl.as_secs()),
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
    use super::*;

    fn config() -> JwtConfig {
        crate::config::Config::new("/tmp").jwt
    }

    fn pair() -> (Verifier, Minter) {
        let secret = SecretString::from("unit-test-secret-unit-test-secret");
        let cfg = config();
        (
            Verifier::new(&cfg, Some(&secret), &["owner@shop.example".to_owned()]).unwrap(),
            Minter::new(&secret, &cfg),
        )
    }

    #[test]
    fn role_claim_or_listed_email_makes_an_admin() {
        let (v, m) = pair();
        let day = Duration::from_secs(86_400);
        let t = m.mint("a", None, Some("admin"), &[], day).unwrap();
        assert!(v.verify(&t).unwrap().is_admin);
        let t = m
            .mint("b", Some("Owner@Shop.example"), Some("user"), &[], day)
            .unwrap();
        assert!(v.verify(&t).unwrap().is_admin);
        let t = m
            .mint("c", Some("clerk@shop.example"), Some("user"), &[], day)
            .unwrap();
        assert!(!v.verify(&t).unwrap().is_admin);
    }

    #[test]
    fn scope_may_be_a_string_or_a_list() {
        let c: Claims = serde_json::from_str(r#"{"exp":1,"scope":"read publish"}"#).unwrap();
        assert_eq!(c.scope, ["read", "publish"]);
        let c: Claims = serde_json::from_str(r#"{"exp":1,"scope":["publish"]}"#).unwrap();
        assert_eq!(c.scope, ["publish"]);
    }

    #[test]
    fn sub_falls_back_to_the_email() {
        let (v, m) = pair();
        let t = m
            .mint(
                "",
                Some("x@shop.example"),
                None,
                &[],
                Duration::from_secs(60),
            )
            .unwrap();
        assert_eq!(v.verify(&t).unwrap().sub, "x@shop.example");
    }
}
