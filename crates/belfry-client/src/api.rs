//! The HTTP API of a Belfry server: sign-in, token refresh, history, read
//! state and publishing. One [`Client`] is shared (it is cheap to clone) by
//! the event stream and the one-off calls, so a refresh done by one is seen
//! by all.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use belfry_proto::{
    AckEvent, AckRequest, ChannelList, ChannelTest, ChannelTestResult, InboxPage, LoginRequest,
    MarkRead, NewNotification, Notification, Preferences, RefreshRequest, Severity, TokenResponse,
    UnreadAnswer,
};
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::credentials::{CredentialStore, Key};
use crate::error::Error;

/// Whole-request limit of the one-off calls (never of the stream).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long establishing a TCP (and TLS) connection may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An access token and, after a sign-in, the refresh token that renews it.
/// Both are secrets: never printed (`Debug` redacts them) and wiped from
/// memory when dropped.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
}

impl Tokens {
    /// Tokens from plain strings.
    pub fn new(access: impl Into<String>, refresh: Option<String>) -> Self {
        Self {
            access: access.into().into(),
            refresh: refresh.map(Into::into),
        }
    }
}

impl PartialEq for Tokens {
    fn eq(&self, other: &Self) -> bool {
        self.access.expose_secret() == other.access.expose_secret()
            && self.refresh.as_ref().map(ExposeSecret::expose_secret)
                == other.refresh.as_ref().map(ExposeSecret::expose_secret)
    }
}

impl Eq for Tokens {}

/// Filters of a history page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    pub limit: Option<u32>,
    /// Only notifications older than this id (the previous page's `next_before`).
    pub before: Option<u64>,
    pub min_severity: Option<Severity>,
    pub kind: Option<String>,
    pub unread_only: bool,
}

/// A client of one Belfry server.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) base: Url,
    pub(crate) http: reqwest::Client,
    tokens: Arc<Mutex<Option<Tokens>>>,
    /// Where refreshed tokens are written back, if anywhere.
    store: Option<Arc<dyn CredentialStore>>,
    /// One refresh at a time: refresh tokens rotate, so two concurrent
    /// refreshes with the same token would sign the second one out.
    refresh_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Client {
    /// A client of the server at `base` (e.g. `https://belfry.shop.example`).
    pub fn new(base: &str) -> Result<Self, Error> {
        let mut base = Url::parse(base).map_err(|_| Error::InvalidUrl(base.to_owned()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::InvalidUrl(base.to_string()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .timeout(DEFAULT_REQUEST_TIMEOUT)
            .user_agent(concat!("belfry-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Network)?;
        Ok(Self {
            base,
            http,
            tokens: Arc::default(),
            store: None,
            refresh_lock: Arc::default(),
        })
    }

    /// Uses `tokens` for every request from now on.
    pub fn with_tokens(self, tokens: Tokens) -> Self {
        self.set_tokens(Some(tokens));
        self
    }

    /// Writes refreshed tokens back to `store`.
    pub fn with_store(mut self, store: Arc<dyn CredentialStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The server's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The current tokens.
    pub fn tokens(&self) -> Option<Tokens> {
        self.tokens.lock().expect("not poisoned").clone()
    }

    pub fn set_tokens(&self, tokens: Option<Tokens>) {
        *self.tokens.lock().expect("not poisoned") = tokens;
    }

    pub(crate) fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .expect("API paths are valid relative URLs")
    }

    fn access_token(&self) -> Result<SecretString, Error> {
        self.tokens()
            .map(|t| t.access)
            .ok_or_else(|| Error::AuthRequired {
                reason: "not signed in".to_owned(),
            })
    }

    /// `POST /api/auth/login`: signs in and keeps the tokens.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenResponse, Error> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        let res = self
            .http
            .post(self.url("api/auth/login"))
            .json(&body)
            .send()
            .await?;
        let answer: TokenResponse = json(res).await?;
        self.adopt(&answer).await;
        Ok(answer)
    }

    /// `POST /api/auth/refresh`: trades the refresh token (which rotates) for
    /// new tokens, and writes them to the store. When another task refreshed
    /// while this one waited, its result is used instead.
    pub async fn refresh(&self) -> Result<(), Error> {
        let before = self.tokens();
        let _guard = self.refresh_lock.lock().await;
        let current = self.tokens();
        if current != before {
            return Ok(());
        }
        let Some(refresh_token) = current
            .and_then(|t| t.refresh)
            .map(|r| r.expose_secret().to_owned())
        else {
            return Err(Error::AuthRequired {
                reason: "the access token expired and there is no refresh token".to_owned(),
            });
        };
        let res = self
            .http
            .post(self.url("api/auth/refresh"))
            .json(&RefreshRequest { refresh_token })
            .send()
            .await?;
        match json::<TokenResponse>(res).await {
            Ok(answer) => {
                self.adopt(&answer).await;
                tracing::info!("access token refreshed");
                Ok(())
            }
            Err(Error::Status { status, .. })
                if (400..500).contains(&status) && status != 408 && status != 429 =>
            {
                Err(Error::AuthRequired {
                    reason: "the sign-in expired; sign in again".to_owned(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /api/auth/logout`: revokes the refresh token and forgets the tokens.
    pub async fn logout(&self) -> Result<(), Error> {
        let refresh = self.tokens().and_then(|t| t.refresh);
        self.set_tokens(None);
        if let Some(refresh_token) = refresh.map(|r| r.expose_secret().to_owned()) {
            let res = self
                .http
                .post(self.url("api/auth/logout"))
                .json(&RefreshRequest { refresh_token })
                .send()
                .await?;
            if !res.status().is_success() {
                return Err(Error::from_response(res).await);
            }
        }
        Ok(())
    }

    /// `GET /api/admin/notifications`: one page of history, newest first.
    pub async fn history(&self, q: &HistoryQuery) -> Result<InboxPage, Error> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(v) = q.limit {
            params.push(("limit", v.to_string()));
        }
        if let Some(v) = q.before {
            params.push(("before", v.to_string()));
        }
        if let Some(v) = q.min_severity {
            params.push(("min_severity", v.to_string()));
        }
        if let Some(v) = &q.kind {
            params.push(("kind", v.clone()));
        }
        if q.unread_only {
            params.push(("unread", "true".to_owned()));
        }
        self.call(Method::GET, "api/admin/notifications", |r| r.query(&params))
            .await
    }

    /// `POST /api/admin/notifications/read`: marks ids, or everything up to an id, read.
    pub async fn mark_read(&self, which: &MarkRead) -> Result<UnreadAnswer, Error> {
        self.call(Method::POST, "api/admin/notifications/read", |r| {
            r.json(which)
        })
        .await
    }

    /// `POST /api/admin/notifications/unread`: marks ids unread again.
    pub async fn mark_unread(&self, ids: &[u64]) -> Result<UnreadAnswer, Error> {
        let body = MarkRead {
            ids: Some(ids.to_vec()),
            up_to: None,
        };
        self.call(Method::POST, "api/admin/notifications/unread", |r| {
            r.json(&body)
        })
        .await
    }

    /// `POST /api/admin/notifications/{id}/ack`: takes ownership of a
    /// notification (`force` takes it over from another admin).
    pub async fn ack(&self, id: u64, request: &AckRequest) -> Result<AckEvent, Error> {
        self.call(
            Method::POST,
            &format!("api/admin/notifications/{id}/ack"),
            |r| r.json(request),
        )
        .await
    }

    /// `DELETE /api/admin/notifications/{id}/ack`: gives ownership up.
    pub async fn release(&self, id: u64, force: bool) -> Result<(), Error> {
        let body = AckRequest { note: None, force };
        self.call_empty(
            Method::DELETE,
            &format!("api/admin/notifications/{id}/ack"),
            |r| r.json(&body),
        )
        .await
    }

    /// `GET /api/admin/preferences`.
    pub async fn preferences(&self) -> Result<Preferences, Error> {
        self.call(Method::GET, "api/admin/preferences", |r| r).await
    }

    /// `PUT /api/admin/preferences`: replaces them; every device of this
    /// admin receives the new ones on its stream.
    pub async fn put_preferences(&self, prefs: &Preferences) -> Result<Preferences, Error> {
        self.call(Method::PUT, "api/admin/preferences", |r| r.json(prefs))
            .await
    }

    /// `GET /api/admin/channels`: the outbound channels configured on the
    /// server, without their secrets.
    pub async fn channels(&self) -> Result<ChannelList, Error> {
        self.call(Method::GET, "api/admin/channels", |r| r).await
    }

    /// `POST /api/admin/channels/{name}/test`: sends a test message through
    /// channel `name`; the answer says how the receiver took it.
    pub async fn test_channel(
        &self,
        name: &str,
        severity: Option<Severity>,
    ) -> Result<ChannelTestResult, Error> {
        let path = format!("api/admin/channels/{}/test", path_segment(name));
        let body = ChannelTest { severity };
        self.call(Method::POST, &path, |r| r.json(&body)).await
    }

    /// `POST /api/notifications` with a publish token; `idempotency_key`
    /// makes a retried publish store the notification once.
    pub async fn publish(
        &self,
        n: &NewNotification,
        idempotency_key: Option<&str>,
    ) -> Result<Notification, Error> {
        self.call(Method::POST, "api/notifications", |r| {
            let r = r.json(n);
            match idempotency_key {
                Some(k) => r.header("idempotency-key", k),
                None => r,
            }
        })
        .await
    }

    /// An authenticated call; on 401 one refresh (when there is a refresh
    /// token) and one retry.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, Error> {
        json(self.send(method, path, build).await?).await
    }

    /// [`Self::call`] for an answer without a body (204).
    async fn call_empty(
        &self,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<(), Error> {
        let res = self.send(method, path, build).await?;
        if !res.status().is_success() {
            return Err(Error::from_response(res).await);
        }
        Ok(())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let url = self.url(path);
        let send = |token: SecretString| {
            build(self.http.request(method.clone(), url.clone()))
                .bearer_auth(token.expose_secret())
                .send()
        };
        let res = send(self.access_token()?).await?;
        if res.status() == StatusCode::UNAUTHORIZED && self.has_refresh_token() {
            self.refresh().await?;
            return Ok(send(self.access_token()?).await?);
        }
        Ok(res)
    }

    pub(crate) fn has_refresh_token(&self) -> bool {
        self.tokens().is_some_and(|t| t.refresh.is_some())
    }

    /// Keeps new tokens, and writes them to the store off the async threads.
    async fn adopt(&self, answer: &TokenResponse) {
        let tokens = Tokens::new(
            answer.access_token.clone(),
            Some(answer.refresh_token.clone()),
        );
        self.set_tokens(Some(tokens.clone()));
        if let Some(store) = self.store.clone() {
            let saved = tokio::task::spawn_blocking(move || {
                store.save(Key::AccessToken, tokens.access.expose_secret())?;
                store.save(
                    Key::RefreshToken,
                    tokens
                        .refresh
                        .as_ref()
                        .map_or("", ExposeSecret::expose_secret),
                )
            })
            .await;
            match saved {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "could not store the new tokens"),
                Err(e) => tracing::warn!(error = %e, "could not store the new tokens"),
            }
        }
    }
}

async fn json<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, Error> {
    if !res.status().is_success() {
        return Err(Error::from_response(res).await);
    }
    let bytes = res.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("invalid JSON: {e}")))
}

/// `segment` percent-encoded for a URL path: letters, digits, `-` and `_`
/// stay (all a channel name may hold), so a name never adds a path segment
/// or a query.
fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_channel_name_is_one_path_segment_whatever_it_holds() {
        assert_eq!(path_segment("ops-slack_2"), "ops-slack_2");
        assert_eq!(path_segment("../x?y#z"), "%2E%2E%2Fx%3Fy%23z");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
    use super::*;

    #[test]
    fn base_urls_are_checked_and_paths_join_under_them() {
        let c = Client::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            c.url("/api/admin/events").as_str(),
            "http://127.0.0.1:8080/api/admin/events"
        );
        let c = Client::new("https://shop.example/belfry").unwrap();
        assert_eq!(
            c.url("api/notifications").as_str(),
            "https://shop.example/belfry/api/notifications"
        );
        for bad in ["shop.example", "ftp://shop.example", "not a url"] {
            assert!(
                matches!(Client::new(bad), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let t = Tokens::new("secret-access", Some("secret-refresh".into()));
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
