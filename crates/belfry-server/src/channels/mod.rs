//! Outbound channels: where Belfry tells people who have no Belfry window
//! open. Each channel is declared by name in `belfry.toml` (`[channels.NAME]`
//! with a `type`), its secrets only there; [`Channels`] is the validated set,
//! and [`Channels::send`] delivers one [`Message`] through one channel and
//! says whether it arrived, may be retried, or failed for good.
//!
//! - `webhook`: a JSON POST signed per Standard Webhooks ([`webhook`]);
//! - `slack`, `discord`, `teams`: their incoming webhooks, in each one's own
//!   message format with publisher text escaped for it ([`chat`]);
//! - `sms`: a text through an HTTP API with Twilio's request shape ([`sms`]);
//! - `email`: a text and HTML email over SMTP to a list of addresses
//!   ([`email`], through lettre).
//!
//! HTTP goes through reqwest (already the client's, with rustls): one client
//! with connect and total timeouts and no redirects, so a channel cannot be
//! bounced somewhere it was not configured to go. SMTP goes through lettre,
//! on the same rustls, with the same total timeout.

pub mod chat;
pub mod email;
pub mod sms;
pub mod webhook;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use belfry_proto::Notification;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// Longest a channel may take to answer one message.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest to wait for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most of a refusing answer's body kept in the error, in characters.
pub(crate) const ERROR_BODY_CHARS: usize = 200;

/// One channel as `belfry.toml` declares it, by `type`.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelSettings {
    /// A JSON POST signed per Standard Webhooks.
    Webhook {
        url: String,
        /// `whsec_…`: the receiver verifies with it.
        secret: String,
    },
    /// A Slack incoming webhook URL (itself the secret).
    Slack { url: String },
    /// A Discord webhook URL (itself the secret).
    Discord { url: String },
    /// A Microsoft Teams workflow ("When a Teams webhook request is
    /// received") URL (itself the secret).
    Teams { url: String },
    /// Texts through an API with Twilio's request shape.
    Sms {
        /// The API's base URL [default: https://api.twilio.com].
        #[serde(default = "sms::default_base_url")]
        url: String,
        account_sid: String,
        auth_token: String,
        /// The sending number (E.164, like +14155550100).
        from: String,
        /// Where to send (E.164): until admins have numbers of their own,
        /// the on-call phone.
        to: String,
    },
    /// Email over SMTP.
    Email {
        /// The SMTP server's host name or IP address.
        host: String,
        /// [default: 587 for starttls, 465 for tls, 25 for none]
        #[serde(default)]
        port: Option<u16>,
        /// `starttls` (required), `tls` (from the first byte) or `none`
        /// (loopback hosts only) [default: starttls].
        #[serde(default)]
        security: email::Security,
        /// AUTH, with `password` (both or neither).
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
        /// The sender: `belfry@shop.example` or `Belfry <belfry@shop.example>`.
        from: String,
        /// Where to send (1 to 50 addresses): until admins have addresses of
        /// their own, a fixed list.
        to: Vec<String>,
        /// A PEM file of a private CA to trust besides the public roots.
        #[serde(default)]
        ca_file: Option<PathBuf>,
    },
}

impl std::fmt::Debug for ChannelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every variant carries a secret; name only the type.
        write!(f, "ChannelSettings::{}", self.kind().as_str())
    }
}

impl ChannelSettings {
    pub fn kind(&self) -> ChannelKind {
        match self {
            Self::Webhook { .. } => ChannelKind::Webhook,
            Self::Slack { .. } => ChannelKind::Slack,
            Self::Discord { .. } => ChannelKind::Discord,
            Self::Teams { .. } => ChannelKind::Teams,
            Self::Sms { .. } => ChannelKind::Sms,
            Self::Email { .. } => ChannelKind::Email,
        }
    }
}

/// What a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Webhook,
    Slack,
    Discord,
    Teams,
    Sms,
    Email,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Teams => "teams",
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

/// One validated channel.
#[derive(Debug)]
pub struct Channel {
    pub name: String,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Webhook { url: Url, key: webhook::SigningKey },
    Chat { kind: ChannelKind, url: SecretUrl },
    Sms(sms::Sms),
    Email(email::Email),
}

/// A URL that is itself a secret (Slack's, Discord's and Teams' webhook
/// URLs carry their token): shown by host only.
pub(crate) struct SecretUrl(Url);

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", shown(&self.0))
    }
}

/// A URL as logs and listings may show it: scheme and host only.
pub(crate) fn shown(url: &Url) -> String {
    format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or(""))
}

impl Channel {
    pub fn kind(&self) -> ChannelKind {
        match &self.target {
            Target::Webhook { .. } => ChannelKind::Webhook,
            Target::Chat { kind, .. } => *kind,
            Target::Sms(_) => ChannelKind::Sms,
            Target::Email(_) => ChannelKind::Email,
        }
    }

    /// Where it sends, without secrets (for listings and logs).
    pub fn target(&self) -> String {
        match &self.target {
            // A plain webhook's URL is no secret (the signing key is).
            Target::Webhook { url, .. } => url.to_string(),
            Target::Chat { url, .. } => shown(&url.0),
            Target::Sms(sms) => sms.target(),
            Target::Email(email) => email.target(),
        }
    }
}

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// An operator asked for a test message.
    Test,
}

/// What a channel is asked to tell.
#[derive(Debug, Clone)]
pub struct Message {
    /// This delivery's stable id (Standard Webhooks `webhook-id`): the same
    /// on every retry, so a receiver can drop duplicates.
    pub id: String,
    pub notification: Notification,
    /// The item in the web UI, when the server knows its public URL.
    pub link: Option<Url>,
    pub reason: Reason,
}

impl Message {
    /// A sample message of `severity` for `belfry-server channel test`.
    pub fn test(severity: belfry_proto::Severity, channel: &str, public_url: Option<&Url>) -> Self {
        let now = time::OffsetDateTime::now_utc();
        Message {
            id: format!("msg_test_{}", now.unix_timestamp_nanos()),
            notification: Notification {
                id: 0,
                kind: "belfry.test".to_owned(),
                severity,
                title: "Test message from Belfry".to_owned(),
                body: Some(format!(
                    "If you can read this, the channel `{channel}` reaches you."
                )),
                link: None,
                data: None,
                created_at: now,
            },
            link: public_url.cloned(),
            reason: Reason::Test,
        }
    }
}

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it (its HTTP status, or for email the SMTP reply
    /// code).
    Delivered { status: u16 },
    /// Worth another try: a timeout, no connection, 408, 429 or 5xx (for
    /// email, a 4xx reply or a failed TLS handshake); `after` is the
    /// receiver's `Retry-After`, when it gave one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Refused for good (another 4xx; for email, a 5xx reply): retrying
    /// would not help.
    Failed { reason: String },
}

/// Test messages in flight at once, from the API: each holds an outbound
/// request for up to [`SEND_TIMEOUT`].
pub const MAX_CONCURRENT_TESTS: usize = 2;

/// The configured channels, by name.
#[derive(Debug)]
pub struct Channels {
    channels: BTreeMap<String, Channel>,
    http: reqwest::Client,
    tests: tokio::sync::Semaphore,
}

/// Why the channels cannot be used: names the channel and the field.
#[derive(Debug, thiserror::Error)]
#[error("channels.{channel}.{field}: {problem}")]
pub struct ChannelError {
    pub channel: String,
    pub field: &'static str,
    pub problem: String,
}

/// Longest channel name.
pub const MAX_NAME_CHARS: usize = 64;

/// Whether `name` is a channel name: lowercase letters, digits, `-` and `_`,
/// starting with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().count() <= MAX_NAME_CHARS
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Where the server itself answers, so no channel points back at it.
#[derive(Debug, Clone, Default)]
pub struct SelfAddress {
    /// The port it listens on (any loopback or unspecified host with it is
    /// the server).
    pub listen_port: Option<u16>,
    /// Its public URL, whose origin is the server too.
    pub public_url: Option<Url>,
}

impl SelfAddress {
    fn is_self(&self, url: &Url) -> bool {
        let same_origin = self
            .public_url
            .as_ref()
            .is_some_and(|p| p.origin() == url.origin());
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        same_origin || (loopback && url.port_or_known_default() == self.listen_port)
    }
}

impl Channels {
    /// No channels: nothing leaves the server.
    pub fn none() -> Self {
        Self::new(&BTreeMap::new(), &SelfAddress::default()).expect("no channels are valid")
    }

    /// Validates every declared channel; the first problem is the error.
    pub fn new(
        declared: &BTreeMap<String, ChannelSettings>,
        server: &SelfAddress,
    ) -> Result<Self, ChannelError> {
        let mut channels = BTreeMap::new();
        for (name, settings) in declared {
            let fail = |field: &'static str, problem: String| ChannelError {
                channel: name.clone(),
                field,
                problem,
            };
            if !valid_name(name) {
                return Err(fail(
                    "name",
                    format!(
                        "use lowercase letters, digits, `-` and `_` (at most {MAX_NAME_CHARS})"
                    ),
                ));
            }
            let url = |raw: &str| -> Result<Url, ChannelError> {
                let url = Url::parse(raw.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| fail("url", "is not an http(s) URL".to_owned()))?;
                if server.is_self(&url) {
                    return Err(fail(
                        "url",
                        "points at this Belfry server itself".to_owned(),
                    ));
                }
                Ok(url)
            };
            let target = match settings {
                ChannelSettings::Webhook { url: raw, secret } => Target::Webhook {
                    url: url(raw)?,
                    key: webhook::SigningKey::parse(secret).map_err(|e| fail("secret", e))?,
                },
                ChannelSettings::Slack { url: raw }
                | ChannelSettings::Discord { url: raw }
                | ChannelSettings::Teams { url: raw } => Target::Chat {
                    kind: settings.kind(),
                    url: SecretUrl(url(raw)?),
                },
                ChannelSettings::Sms {
                    url: raw,
                    account_sid,
                    auth_token,
                    from,
                    to,
                } => Target::Sms(
                    sms::Sms::new(
                        url(raw)?,
                        account_sid,
                        SecretString::from(auth_token.clone()),
                        from,
                        to,
                    )
                    .map_err(|(field, problem)| fail(field, problem))?,
                ),
                ChannelSettings::Email {
                    host,
                    port,
                    security,
                    username,
                    password,
                    from,
                    to,
                    ca_file,
                } => Target::Email(
                    email::Email::new(&email::Settings {
                        host,
                        port: *port,
                        security: *security,
                        username: username.as_deref(),
                        password: password.as_deref(),
                        from,
                        to,
                        ca_file: ca_file.as_deref(),
                    })
                    .map_err(|(field, problem)| fail(field, problem))?,
                ),
            };
            channels.insert(
                name.clone(),
                Channel {
                    name: name.clone(),
                    target,
                },
            );
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Belfry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ChannelError {
                channel: String::new(),
                field: "http",
                problem: e.to_string(),
            })?;
        Ok(Self {
            channels,
            http,
            tests: tokio::sync::Semaphore::new(MAX_CONCURRENT_TESTS),
        })
    }

    pub fn get(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name)
    }

    /// Every channel, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Channel> {
        self.channels.values()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// A turn to send a test message, if fewer than
    /// [`MAX_CONCURRENT_TESTS`] are in flight.
    pub fn test_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.tests.try_acquire().ok()
    }

    /// Sends `message` through `channel` once.
    pub async fn send(&self, channel: &Channel, message: &Message) -> Outcome {
        let request = match &channel.target {
            Target::Webhook { url, key } => {
                let body = webhook_body(message);
                let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
                self.http
                    .post(url.clone())
                    .header("content-type", "application/json")
                    .header("webhook-id", &message.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", key.sign(&message.id, timestamp, &body))
                    .body(body)
            }
            Target::Chat { kind, url } => {
                let body = match kind {
                    ChannelKind::Slack => chat::slack(message),
                    ChannelKind::Discord => chat::discord(message),
                    _ => chat::teams(message),
                };
                self.http.post(url.0.clone()).json(&body)
            }
            Target::Sms(sms) => sms.request(&self.http, message),
            Target::Email(email) => return email.send(message).await,
        };
        match request.send().await {
            Ok(answer) => outcome_of(answer).await,
            // reqwest's error names the URL; a chat URL is a secret.
            Err(e) => Outcome::Retry {
                reason: describe(e.without_url()),
                after: None,
            },
        }
    }
}

/// Why a test message did not arrive.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("no channel is named `{name}`; `belfry-server channel list` shows the configured ones")]
    Unknown { name: String },
    #[error("the test message to `{name}` was not delivered: {reason}{hint}")]
    NotDelivered {
        name: String,
        reason: String,
        hint: &'static str,
    },
}

/// Sends channel `name` a test message of `severity`: how `belfry-server
/// channel test` (and, later, the settings page) checks a channel. The
/// report on success; a test is sent once, never retried.
pub async fn send_test(
    channels: &Channels,
    name: &str,
    severity: belfry_proto::Severity,
    public_url: Option<&Url>,
) -> Result<String, TestError> {
    let channel = channels.get(name).ok_or_else(|| TestError::Unknown {
        name: name.to_owned(),
    })?;
    let message = Message::test(severity, name, public_url);
    match channels.send(channel, &message).await {
        Outcome::Delivered { status } => Ok(format!(
            "sent a test message through `{name}` ({} to {}): {}",
            channel.kind().as_str(),
            channel.target(),
            answered(status)
        )),
        Outcome::Retry { reason, .. } => Err(TestError::NotDelivered {
            name: name.to_owned(),
            reason,
            hint: " (a real delivery would be retried; check that the receiver is up)",
        }),
        Outcome::Failed { reason } => Err(TestError::NotDelivered {
            name: name.to_owned(),
            reason,
            hint: match channel.kind() {
                ChannelKind::Email => {
                    " (check the channel's addresses, security, username and password)"
                }
                _ => " (check the channel's URL and secret)",
            },
        }),
    }
}

/// A transport error in words, its URL already taken out.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {}s", SEND_TIMEOUT.as_secs());
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if e.is_connect() {
        // The innermost cause says why ("Connection refused (os error 111)");
        // the layers above only repeat that it was a connect error.
        return match causes.last() {
            Some(why) => format!("could not connect: {why}"),
            None => "could not connect".to_owned(),
        };
    }
    std::iter::once(e.to_string())
        .chain(causes)
        .collect::<Vec<_>>()
        .join(": ")
}

/// A receiver's success in words: `answered 200 OK` for HTTP, as a refusal
/// reads `answered 400 Bad Request`; a bare code where HTTP names none
/// (SMTP's `250`).
pub fn answered(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("answered {status} {reason}"),
        None => format!("answered {status}"),
    }
}

/// What an answer means for the delivery.
async fn outcome_of(answer: reqwest::Response) -> Outcome {
    let status = answer.status();
    if status.is_success() {
        return Outcome::Delivered {
            status: status.as_u16(),
        };
    }
    let after = answer
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after);
    let body: String = answer
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(ERROR_BODY_CHARS)
        .collect();
    let reason = if body.trim().is_empty() {
        format!("answered {status}")
    } else {
        format!("answered {status}: {}", body.trim())
    };
    match status.as_u16() {
        408 | 429 | 500..=599 => Outcome::Retry { reason, after },
        _ => Outcome::Failed { reason },
    }
}

/// A `Retry-After` value: seconds, or an HTTP date.
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// The generic webhook's JSON: the notification as the API returns it, with
/// the delivery's reason and the link to it.
pub fn webhook_body(message: &Message) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "type")]
        event: &'static str,
        reason: Reason,
        notification: &'a Notification,
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<&'a str>,
    }
    serde_json::to_vec(&Body {
        event: "notification",
        reason: message.reason,
        notification: &message.notification,
        url: message.link.as_ref().map(Url::as_str),
    })
    .expect("a notification serializes")
}

/// The auth token as the SMS API needs it.
pub(crate) fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_reads_like_a_refusal_and_smtp_codes_stay_bare() {
        assert_eq!(answered(200), "answered 200 OK");
        assert_eq!(answered(204), "answered 204 No Content");
        assert_eq!(answered(250), "answered 250");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let wait = retry_after(&later).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn channel_names_are_lowercase_words() {
        for good in ["ops", "ops-slack", "on_call2", "9"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "Ops", "-ops", "ops slack", "ops.slack", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
