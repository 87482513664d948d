//! Email over SMTP: one message to a configured list of recipients, as
//! `multipart/alternative` with a plain-text part and an HTML part.
//!
//! SMTP goes through lettre, the maintained Rust SMTP client (MIME building,
//! RFC 2047 header encoding, STARTTLS, implicit TLS and AUTH), on tokio with
//! rustls: the ring provider and webpki roots that reqwest's TLS already
//! brings into the tree, plus, with `ca_file`, a private CA on top of them.
//! The transport is built once, when the channel is validated; each message
//! opens its own connection (no pool: notifications are rare, and nothing
//! is left open between them).
//!
//! - `security`: `starttls` (port 587; the upgrade is required, so nothing,
//!   credentials included, is sent before it succeeds), `tls` (port 465,
//!   TLS from the first byte) or `none` (port 25), which sends everything in
//!   the clear and is therefore allowed only to a loopback host (a local
//!   relay).
//! - The subject is "[Belfry] Critical: <title>", " (test)" after it for a
//!   test message; control characters in the title become spaces, and lettre
//!   encodes the rest, so a title cannot start a header of its own.
//! - The Message-ID comes from the delivery's id (`<msg_…@from-domain>`): a
//!   retry of one delivery carries the same one, so mail systems and readers
//!   can drop the duplicate.
//! - Publisher text (title, body, kind, `data`) is HTML-escaped in the HTML
//!   part (`&`, `<`, `>`, `"` and `'`, by [`escape_html`] below: no HTML
//!   escaping crate is in the tree, and five replacements need none). The
//!   links (Belfry's item, when `public_url` is set, and the publisher's,
//!   re-parsed and http(s) only) are `<a href>`s with escaped attributes.
//!
//! SMTP answers map onto [`Outcome`]: 2xx is delivered, a 4xx reply or no
//! connection, a timeout or a failed TLS handshake is worth a retry, a 5xx
//! reply (a refused login, an unknown recipient) or what lettre refuses
//! itself (no STARTTLS offered, no common AUTH mechanism) fails for good.
//! The reason quotes the server's answer, never the password.

use std::fmt::Write as _;
use std::path::Path;

use belfry_proto::{Notification, Severity};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::{ERROR_BODY_CHARS, Message, Outcome, Reason, SEND_TIMEOUT};

/// Most recipients of one email channel.
pub const MAX_RECIPIENTS: usize = 50;
/// A title in the subject is cut to this many characters (the API already
/// keeps titles to 200).
const SUBJECT_TITLE_CHARS: usize = 200;
/// Most `data` entries shown; the rest are counted in one more line.
const DATA_ENTRIES: usize = 8;
/// One `data` key or value as shown: the full value is in Belfry.
const DATA_KEY_CHARS: usize = 64;
const DATA_VALUE_CHARS: usize = 256;
/// A publisher's link longer than this is left out.
const LINK_CHARS: usize = 2000;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (port 25): only to a loopback host.
    #[serde(rename = "none")]
    Plain,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starttls => "starttls",
            Self::Tls => "tls",
            Self::Plain => "none",
        }
    }

    /// The port a server usually takes this on.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::Plain => 25,
        }
    }
}

/// An email channel's settings, as [`super::ChannelSettings::Email`] holds
/// them, before validation.
pub struct Settings<'a> {
    pub host: &'a str,
    pub port: Option<u16>,
    pub security: Security,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub from: &'a str,
    pub to: &'a [String],
    pub ca_file: Option<&'a Path>,
}

/// One email channel, validated, its transport built.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
    port: u16,
    security: Security,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// The password as typed and as AUTH LOGIN and AUTH PLAIN send it:
    /// kept only to take it out of any answer quoted back.
    redact: Vec<SecretString>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.target())
    }
}

impl Email {
    /// Checks the settings and builds the transport; the error names the
    /// field.
    pub fn new(settings: &Settings<'_>) -> Result<Self, (&'static str, String)> {
        let host = host(settings.host)?;
        let security = settings.security;
        let loopback = is_loopback(&host);
        if security == Security::Plain && !loopback {
            return Err((
                "security",
                "`none` sends the mail (and any password) unencrypted: it is allowed only \
                 to a loopback host (127.0.0.1, ::1, localhost); use `starttls` or `tls`"
                    .to_owned(),
            ));
        }
        let port = match settings.port {
            Some(0) => return Err(("port", "must be 1 to 65535".to_owned())),
            Some(port) => port,
            None => security.default_port(),
        };
        let credentials = match (settings.username, settings.password) {
            (None, None) => None,
            (Some(_), None) => {
                return Err((
                    "username",
                    "is set without a `password`: set both or neither".to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "password",
                    "is set without a `username`: set both or neither".to_owned(),
                ));
            }
            (Some(user), Some(_)) if user.trim().is_empty() => {
                return Err(("username", "is empty".to_owned()));
            }
            (Some(_), Some("")) => {
                return Err(("password", "is empty".to_owned()));
            }
            (Some(user), Some(password)) => Some((user.trim().to_owned(), password.to_owned())),
        };
        let from = mailbox(settings.from).map_err(|problem| ("from", problem))?;
        let to = recipients(settings.to)?;

        let tls = match security {
            Security::Plain => {
                if settings.ca_file.is_some() {
                    return Err((
                        "ca_file",
                        "is used only with `security = \"starttls\"` or `\"tls\"`".to_owned(),
                    ));
                }
                Tls::None
            }
            Security::Starttls | Security::Tls => {
                let mut parameters = TlsParameters::builder(host.clone());
                if let Some(file) = settings.ca_file {
                    parameters = parameters.add_root_certificate(ca_certificate(file)?);
                }
                let parameters = parameters
                    .build_rustls()
                    .map_err(|e| match settings.ca_file {
                        Some(file) => (
                            "ca_file",
                            format!("{}: is not a usable CA certificate ({e})", file.display()),
                        ),
                        None => ("host", format!("cannot be used for TLS ({e})")),
                    })?;
                if security == Security::Tls {
                    Tls::Wrapper(parameters)
                } else {
                    Tls::Required(parameters)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(SEND_TIMEOUT));
        let mut redact = Vec::new();
        if let Some((user, secret)) = credentials {
            use base64::Engine as _;
            let engine = base64::engine::general_purpose::STANDARD;
            redact = [
                engine.encode(format!("\0{user}\0{secret}")),
                engine.encode(&secret),
                secret.clone(),
            ]
            .into_iter()
            .map(SecretString::from)
            .collect();
            builder = builder.credentials(Credentials::new(user, secret));
        }
        Ok(Self {
            transport: builder.build(),
            host,
            port,
            security,
            from,
            to,
            redact,
        })
    }

    /// Where it sends, without secrets: the recipients via the server.
    pub fn target(&self) -> String {
        let to: Vec<String> = self.to.iter().map(|m| m.email.to_string()).collect();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{} via {host}:{} ({})",
            to.join(", "),
            self.port,
            self.security.as_str()
        )
    }

    /// The email for `message`.
    pub fn render(&self, message: &Message) -> Result<lettre::Message, lettre::error::Error> {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject(message))
            .message_id(Some(message_id(&message.id, self.from.email.domain())))
            .header(AutoSubmitted);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder.multipart(MultiPart::alternative_plain_html(
            text(message),
            html(message),
        ))
    }

    /// Sends `message` once.
    pub async fn send(&self, message: &Message) -> Outcome {
        let email = match self.render(message) {
            Ok(email) => email,
            Err(e) => {
                return Outcome::Failed {
                    reason: format!("could not build the email: {e}"),
                };
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(email)).await {
            Err(_) => Outcome::Retry {
                reason: no_answer(),
                after: None,
            },
            Ok(Ok(answer)) => Outcome::Delivered {
                status: answer.code().into(),
            },
            Ok(Err(e)) => self.outcome_of(&e),
        }
    }

    /// What an SMTP error means for the delivery.
    fn outcome_of(&self, e: &lettre::transport::smtp::Error) -> Outcome {
        let reason = self.without_password(&describe(e));
        if e.status().is_some() {
            return if e.is_permanent() {
                Outcome::Failed { reason }
            } else {
                Outcome::Retry {
                    reason,
                    after: None,
                }
            };
        }
        if e.is_client() {
            // lettre refused to go on: no STARTTLS offered, no AUTH mechanism
            // in common, 8-bit content the server cannot take. Trying again
            // meets the same server.
            return Outcome::Failed { reason };
        }
        Outcome::Retry {
            reason,
            after: None,
        }
    }

    /// `reason` with the password (as typed, and base64-encoded as AUTH
    /// sends it) taken out, in case a server quotes it back.
    fn without_password(&self, reason: &str) -> String {
        let mut reason = reason.to_owned();
        for secret in &self.redact {
            reason = reason.replace(secret.expose_secret(), "…");
        }
        reason
    }
}

/// The host as lettre connects to it: trimmed, an IPv6 address without its
/// brackets.
fn host(raw: &str) -> Result<String, (&'static str, String)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(("host", "is empty".to_owned()));
    }
    if raw.contains("://") {
        return Err((
            "host",
            "is a host name or IP address, not a URL (like smtp.shop.example)".to_owned(),
        ));
    }
    let bare = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(bare.to_owned());
    }
    if raw.contains(':') {
        return Err(("host", "has a `:`: put the port in `port`".to_owned()));
    }
    match url::Host::parse(raw) {
        Ok(url::Host::Domain(d)) if !d.contains(['/', '?', '#', '@', ' ']) => Ok(raw.to_owned()),
        _ => Err((
            "host",
            "is not a host name or IP address (like smtp.shop.example)".to_owned(),
        )),
    }
}

/// Whether `host` (as [`host`] returns it) is this machine.
fn is_loopback(host: &str) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let host = host.trim_end_matches('.');
            host.eq_ignore_ascii_case("localhost")
                || host.to_ascii_lowercase().ends_with(".localhost")
        }
    }
}

/// One address, `addr@domain` or `Name <addr@domain>`, nothing after it.
fn mailbox(raw: &str) -> Result<Mailbox, String> {
    let raw = raw.trim();
    let invalid = || {
        format!(
            "`{raw}` is not one email address (like belfry@shop.example or \
             \"Belfry <belfry@shop.example>\")"
        )
    };
    let mailbox: Mailbox = raw.parse().map_err(|_| invalid())?;
    // lettre's parser stops after the first address and ignores the rest:
    // the address must be all of the input, or all between its `<>`.
    let address = mailbox.email.to_string();
    let whole = match raw.rfind('<') {
        Some(open) => raw[open..] == format!("<{address}>"),
        None => raw == address,
    };
    if whole { Ok(mailbox) } else { Err(invalid()) }
}

/// The `to` list: 1 to [`MAX_RECIPIENTS`] addresses, none twice.
fn recipients(raw: &[String]) -> Result<Vec<Mailbox>, (&'static str, String)> {
    if raw.is_empty() {
        return Err(("to", "lists no address".to_owned()));
    }
    if raw.len() > MAX_RECIPIENTS {
        return Err((
            "to",
            format!(
                "lists {} addresses; at most {MAX_RECIPIENTS} are allowed",
                raw.len()
            ),
        ));
    }
    let mut to: Vec<Mailbox> = Vec::with_capacity(raw.len());
    for (i, entry) in raw.iter().enumerate() {
        let mailbox = mailbox(entry).map_err(|problem| ("to", format!("[{i}]: {problem}")))?;
        let address = mailbox.email.to_string();
        if to
            .iter()
            .any(|m| m.email.to_string().eq_ignore_ascii_case(&address))
        {
            return Err(("to", format!("lists {address} twice")));
        }
        to.push(mailbox);
    }
    Ok(to)
}

/// The private CA in `file` (PEM).
fn ca_certificate(file: &Path) -> Result<Certificate, (&'static str, String)> {
    let pem = std::fs::read(file).map_err(|e| {
        (
            "ca_file",
            format!("{}: cannot be read: {e}", file.display()),
        )
    })?;
    let no_certificate = || {
        (
            "ca_file",
            format!(
                "{}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                file.display()
            ),
        )
    };
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(no_certificate());
    }
    Certificate::from_pem(&pem).map_err(|_| no_certificate())
}

/// `Auto-Submitted: auto-generated` (RFC 3834): vacation responders and
/// other robots do not answer it.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// "[Belfry] Critical: <title>", " (test)" after it for a test; control
/// characters (line breaks included) become spaces.
pub fn subject(message: &Message) -> String {
    let suffix = match message.reason {
        Reason::Test => " (test)",
    };
    let title = cut(&one_line(&message.notification.title), SUBJECT_TITLE_CHARS);
    format!(
        "[Belfry] {}: {}{suffix}",
        message.notification.severity.label(),
        title.trim()
    )
}

/// `<id@domain>`: the delivery's id with anything but letters, digits, `-`
/// and `_` as `-`, at the From address's domain (or `belfry` when that
/// domain is not plain ASCII letters, digits, `-` and `.`).
pub fn message_id(id: &str, domain: &str) -> String {
    let mut left: String = id
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if left.is_empty() {
        left.push_str("belfry");
    }
    let plain = !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let domain = if plain {
        domain.to_ascii_lowercase()
    } else {
        "belfry".to_owned()
    };
    format!("<{left}@{domain}>")
}

/// The plain-text part.
pub fn text(message: &Message) -> String {
    let n = &message.notification;
    let mut out = format!("{}: {}\n", n.severity.label(), one_line(&n.title).trim());
    if let Some(body) = body(n) {
        out.push('\n');
        out.push_str(&multi_line(body));
        out.push('\n');
    }
    out.push('\n');
    for (label, value) in facts(n) {
        let _ = writeln!(out, "{label}: {value}");
    }
    let links = links(message);
    if !links.is_empty() {
        out.push('\n');
        for (label, url) in &links {
            let _ = writeln!(out, "{label}: {url}");
        }
    }
    let _ = write!(out, "\n-- \n{}\n", footer(message));
    out
}

/// The HTML part: every piece of publisher text escaped, links as `<a>`.
pub fn html(message: &Message) -> String {
    let n = &message.notification;
    let colour = match n.severity {
        Severity::Info => "#2563eb",
        Severity::Warning => "#d97706",
        Severity::Critical => "#dc2626",
    };
    let title = escape_html(one_line(&n.title).trim());
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width\">\n\
         <title>{subject}</title>\n</head>\n\
         <body style=\"margin:0;padding:16px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111827;\">\n\
         <div style=\"border-left:4px solid {colour};padding-left:12px;\">\n\
         <p style=\"margin:0 0 4px;font-size:12px;font-weight:bold;color:{colour};text-transform:uppercase;\">{severity}</p>\n\
         <h1 style=\"margin:0 0 12px;font-size:18px;\">{title}</h1>\n",
        subject = escape_html(&subject(message)),
        severity = n.severity.label(),
    );
    if let Some(body) = body(n) {
        let _ = writeln!(
            out,
            "<p style=\"margin:0 0 12px;\">{}</p>",
            escape_html(&multi_line(body)).replace('\n', "<br>\n")
        );
    }
    out.push_str("<table style=\"border-collapse:collapse;font-size:14px;margin:0 0 12px;\">\n");
    for (label, value) in facts(n) {
        let _ = writeln!(
            out,
            "<tr><th style=\"text-align:left;padding:2px 12px 2px 0;color:#6b7280;font-weight:normal;\">{}</th><td style=\"padding:2px 0;\">{}</td></tr>",
            escape_html(&label),
            escape_html(&value)
        );
    }
    out.push_str("</table>\n");
    for (label, url) in links(message) {
        let href = escape_html(url.as_str());
        let shown = match label {
            OPEN_IN_BELFRY => label.to_owned(),
            _ => format!("{label}: {href}"),
        };
        let _ = writeln!(
            out,
            "<p style=\"margin:0 0 8px;\"><a href=\"{href}\" style=\"color:{colour};\">{shown}</a></p>"
        );
    }
    let _ = write!(
        out,
        "</div>\n<p style=\"margin:16px 0 0;font-size:12px;color:#6b7280;\">{}</p>\n</body>\n</html>\n",
        escape_html(&footer(message))
    );
    out
}

/// `text` with `&`, `<`, `>`, `"` and `'` as character references: safe as
/// element content and inside a double- or single-quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const OPEN_IN_BELFRY: &str = "Open in Belfry";

/// The links: Belfry's item first, then the publisher's.
fn links(message: &Message) -> Vec<(&'static str, Url)> {
    let mut links = Vec::new();
    if let Some(item) = &message.link {
        links.push((OPEN_IN_BELFRY, item.clone()));
    }
    if let Some(link) = publisher_link(&message.notification) {
        links.push(("Link", link));
    }
    links
}

/// The publisher's link, if it is (still) an http(s) URL of sane length.
fn publisher_link(notification: &Notification) -> Option<Url> {
    notification
        .link
        .as_deref()
        .and_then(|link| Url::parse(link.trim()).ok())
        .filter(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.as_str().len() <= LINK_CHARS
        })
}

/// Kind, time and the first [`DATA_ENTRIES`] of `data`, as label and text.
fn facts(n: &Notification) -> Vec<(String, String)> {
    let mut facts = vec![
        ("Kind".to_owned(), cut(&one_line(&n.kind), 100)),
        ("Time".to_owned(), utc_time(n.created_at)),
    ];
    if let Some(data) = &n.data {
        for (key, value) in data.iter().take(DATA_ENTRIES) {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            facts.push((
                cut(&one_line(key), DATA_KEY_CHARS),
                cut(&one_line(&value), DATA_VALUE_CHARS),
            ));
        }
        match data.len().saturating_sub(DATA_ENTRIES) {
            0 => {}
            1 => facts.push(("…".to_owned(), "1 more entry in Belfry".to_owned())),
            more => facts.push(("…".to_owned(), format!("{more} more entries in Belfry"))),
        }
    }
    facts
}

fn footer(message: &Message) -> String {
    // Matched exhaustively so a new reason has to say what it shows here.
    match message.reason {
        Reason::Test => {
            "Belfry · a test message, sent with `belfry-server channel test`.".to_owned()
        }
    }
}

/// The body, unless there is none or it is blank.
fn body(notification: &Notification) -> Option<&str> {
    notification
        .body
        .as_deref()
        .filter(|body| !body.trim().is_empty())
}

/// `text` on one line: every control character a space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` with `\n` line breaks only (CR LF and a lone CR become `\n`) and
/// no other control character but tabs.
fn multi_line(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter_map(|c| match c {
            '\r' | '\n' => Some('\n'),
            '\t' => Some('\t'),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// At most `limit` characters, "…" last when cut.
fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// "2026-12-02 01:57 UTC".
fn utc_time(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| format!("{} (Unix time)", at.unix_timestamp()))
}

fn no_answer() -> String {
    format!("no answer within {}s", SEND_TIMEOUT.as_secs())
}

/// An SMTP error in words: the server's answer (`answered 535: …`), or what
/// went wrong on the way, causes included, control characters out, cut at
/// [`ERROR_BODY_CHARS`].
fn describe(e: &lettre::transport::smtp::Error) -> String {
    if e.is_timeout() {
        return no_answer();
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let words = cause.to_string();
        // lettre's errors say their cause too: keep each text once.
        if !causes
            .last()
            .is_some_and(|last: &String| last.contains(&words))
        {
            causes.push(words);
        }
        source = cause.source();
    }
    let head = match e.status() {
        Some(code) => format!("answered {code}"),
        None if e.is_tls() => "TLS failed".to_owned(),
        None if e.is_client() => "not sent".to_owned(),
        None if e.is_response() => "the answer was not SMTP".to_owned(),
        None => "could not connect or lost the connection".to_owned(),
    };
    let mut words = head;
    for cause in causes {
        words.push_str(": ");
        words.push_str(&cause);
    }
    words
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(ERROR_BODY_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(to: &'a [String]) -> Settings<'a> {
        Settings {
            host: "127.0.0.1",
            port: Some(2525),
            security: Security::Plain,
            username: None,
            password: None,
            from: "Belfry <belfry@shop.example>",
            to,
            ca_file: None,
        }
    }

    fn to() -> Vec<String> {
        vec![
            "ops@shop.example".to_owned(),
            "Ann <ann@shop.example>".to_owned(),
        ]
    }

    fn hostile() -> Message {
        let mut m = Message::test(
            Severity::Critical,
            "ops-email",
            Some(&Url::parse("https://belfry.shop.example/#/n/7").unwrap()),
        );
        m.id = "msg_2Jx/9<q>".to_owned();
        m.notification.title =
            "Disk <b>full</b> & \"db-1\"\r\nBcc: victim@evil.example\nX-Evil: 1".to_owned();
        m.notification.body =
            Some("<script>alert('x')</script>\r\nline two & <img src=x onerror=y>".to_owned());
        m.notification.link = Some("https://status.example/a?b=1&c=\"><script>".to_owned());
        m.notification.kind = "disk.<full>".to_owned();
        let mut data = serde_json::Map::new();
        data.insert("<k>".to_owned(), Value::String("v\"<i>".to_owned()));
        data.insert("n".to_owned(), serde_json::json!(3));
        m.notification.data = Some(data);
        m
    }

    #[test]
    fn escape_html_replaces_the_five_and_nothing_else() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a> é ✓"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt; é ✓"
        );
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
        assert_eq!(escape_html(""), "");
    }

    #[test]
    fn the_subject_has_severity_and_title_on_one_line() {
        let m = hostile();
        assert_eq!(
            subject(&m),
            "[Belfry] Critical: Disk <b>full</b> & \"db-1\"  Bcc: victim@evil.example X-Evil: 1 (test)"
        );
        let mut long = Message::test(Severity::Info, "x", None);
        long.notification.title = "t".repeat(500);
        let s = subject(&long);
        assert!(s.starts_with("[Belfry] Info: ttt"), "{s}");
        assert!(s.ends_with("t… (test)"), "{s}");
    }

    #[test]
    fn html_escapes_all_publisher_text_and_links() {
        let html = html(&hostile());
        for raw in [
            "<script>",
            "<b>",
            "<img",
            "<k>",
            "<i>",
            "<full>",
            "\"><script>",
            "'x'",
        ] {
            assert!(!html.contains(raw), "{raw} is in\n{html}");
        }
        for escaped in [
            "Disk &lt;b&gt;full&lt;/b&gt; &amp; &quot;db-1&quot;",
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;<br>\nline two &amp; &lt;img src=x onerror=y&gt;",
            "disk.&lt;full&gt;",
            "&lt;k&gt;",
            "v&quot;&lt;i&gt;",
            "<a href=\"https://belfry.shop.example/#/n/7\"",
        ] {
            assert!(html.contains(escaped), "{escaped} is not in\n{html}");
        }
        // The publisher's link, re-serialized by the URL parser (which
        // percent-encodes `"`, `<` and `>` in a query), and escaped again.
        assert!(
            html.contains("<a href=\"https://status.example/a?b=1&amp;c=%22%3E%3Cscript%3E\""),
            "{html}"
        );
        // No element other than the template's own.
        let tags: std::collections::BTreeSet<&str> = html
            .split('<')
            .skip(1)
            .map(|t| {
                t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '/' || c == '!'))
                    .next()
                    .unwrap_or("")
            })
            .collect();
        let expected: std::collections::BTreeSet<&str> = [
            "!DOCTYPE", "html", "/html", "head", "/head", "meta", "title", "/title", "body",
            "/body", "div", "/div", "p", "/p", "h1", "/h1", "br", "table", "/table", "tr", "/tr",
            "th", "/th", "td", "/td", "a", "/a",
        ]
        .into_iter()
        .collect();
        assert_eq!(tags, expected, "{html}");
    }

    #[test]
    fn a_link_that_is_not_http_is_left_out() {
        let mut m = hostile();
        m.link = None;
        m.notification.link = Some("javascript:alert(1)".to_owned());
        let (html, text) = (html(&m), text(&m));
        assert!(
            !html.contains("javascript") && !html.contains("<a "),
            "{html}"
        );
        assert!(!text.contains("javascript"), "{text}");
    }

    #[test]
    fn the_text_part_is_plain_with_both_links() {
        let text = text(&hostile());
        assert!(
            text.starts_with(
                "Critical: Disk <b>full</b> & \"db-1\"  Bcc: victim@evil.example X-Evil: 1\n\n\
                 <script>alert('x')</script>\nline two & <img src=x onerror=y>\n\n\
                 Kind: disk.<full>\nTime: "
            ),
            "{text}"
        );
        assert!(
            text.contains("\nOpen in Belfry: https://belfry.shop.example/#/n/7\n"),
            "{text}"
        );
        assert!(
            text.contains("\nLink: https://status.example/a?b=1&c=%22%3E%3Cscript%3E\n"),
            "{text}"
        );
        assert!(!text.contains('\r'), "{text:?}");
    }

    #[test]
    fn a_hostile_title_starts_no_header_and_the_message_id_is_stable() {
        let to = to();
        let email = Email::new(&settings(&to)).unwrap();
        let m = hostile();
        let raw = String::from_utf8(email.render(&m).unwrap().formatted()).unwrap();
        let (head, _) = raw.split_once("\r\n\r\n").expect("headers, then a body");
        let names: Vec<&str> = head
            .split("\r\n")
            .filter(|line| !line.starts_with([' ', '\t']))
            .map(|line| line.split(':').next().unwrap())
            .collect();
        assert!(
            !names.iter().any(|n| n.eq_ignore_ascii_case("bcc")),
            "{head}"
        );
        assert!(
            !names.iter().any(|n| n.eq_ignore_ascii_case("x-evil")),
            "{head}"
        );
        for name in [
            "From",
            "To",
            "Subject",
            "Message-ID",
            "Date",
            "MIME-Version",
            "Content-Type",
            "Auto-Submitted",
        ] {
            assert_eq!(
                names.iter().filter(|n| **n == name).count(),
                1,
                "{name} once in\n{head}"
            );
        }
        assert!(
            head.contains("Message-ID: <msg_2Jx-9-q-@shop.example>"),
            "{head}"
        );
        assert!(head.contains("multipart/alternative"), "{head}");
        assert!(head.contains("Auto-Submitted: auto-generated"), "{head}");
        assert!(
            head.contains("To: ops@shop.example, Ann <ann@shop.example>"),
            "{head}"
        );
        let again = String::from_utf8(email.render(&m).unwrap().formatted()).unwrap();
        assert!(again.contains("Message-ID: <msg_2Jx-9-q-@shop.example>"));
        let envelope = email.render(&m).unwrap();
        let rcpt: Vec<String> = envelope
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(rcpt, ["ops@shop.example", "ann@shop.example"]);
    }

    #[test]
    fn message_ids_keep_to_safe_characters() {
        assert_eq!(
            message_id("msg_abc-1", "Shop.Example"),
            "<msg_abc-1@shop.example>"
        );
        assert_eq!(message_id("a b@c", "[127.0.0.1]"), "<a-b-c@belfry>");
        assert_eq!(message_id("", "bücher.example"), "<belfry@belfry>");
    }

    #[test]
    fn settings_are_checked_by_field() {
        let to = to();
        let check = |change: &dyn Fn(&mut Settings<'_>)| -> &'static str {
            let mut s = settings(&to);
            change(&mut s);
            Email::new(&s).unwrap_err().0
        };
        assert_eq!(check(&|s| s.host = "smtp.shop.example"), "security");
        assert_eq!(check(&|s| s.host = "smtp://x.example"), "host");
        assert_eq!(check(&|s| s.host = "x.example:587"), "host");
        assert_eq!(check(&|s| s.host = " "), "host");
        assert_eq!(check(&|s| s.port = Some(0)), "port");
        assert_eq!(check(&|s| s.password = Some("p")), "password");
        assert_eq!(check(&|s| s.username = Some("u")), "username");
        assert_eq!(
            check(&|s| {
                s.username = Some("u");
                s.password = Some("");
            }),
            "password"
        );
        assert_eq!(check(&|s| s.from = "belfry"), "from");
        assert_eq!(
            check(&|s| s.from = "a@shop.example, b@shop.example"),
            "from"
        );
        assert_eq!(check(&|s| s.from = "a@shop.example junk"), "from");
        assert_eq!(check(&|s| s.to = &[]), "to");
        assert_eq!(
            check(&|s| s.ca_file = Some(Path::new("/nonexistent"))),
            "ca_file"
        );
        let dup = ["a@x.example".to_owned(), "A@X.example".to_owned()];
        let mut s = settings(&dup);
        s.to = &dup;
        assert_eq!(Email::new(&s).unwrap_err().0, "to");
        let many: Vec<String> = (0..51).map(|i| format!("a{i}@x.example")).collect();
        let mut s = settings(&many);
        s.to = &many;
        assert_eq!(Email::new(&s).unwrap_err().0, "to");

        for loopback in ["localhost", "127.0.0.2", "::1", "[::1]"] {
            let mut s = settings(&to);
            s.host = loopback;
            assert!(Email::new(&s).is_ok(), "{loopback}");
        }
        let mut s = settings(&to);
        s.host = "smtp.shop.example";
        s.security = Security::Starttls;
        s.port = None;
        let email = Email::new(&s).unwrap();
        assert_eq!(
            email.target(),
            "ops@shop.example, ann@shop.example via smtp.shop.example:587 (starttls)"
        );
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate").unwrap();
        let to = to();
        let mut s = settings(&to);
        s.security = Security::Tls;
        s.ca_file = Some(&file);
        let (field, problem) = Email::new(&s).unwrap_err();
        assert_eq!(field, "ca_file");
        assert!(problem.contains("holds no PEM certificate"), "{problem}");
        std::fs::write(
            &file,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let (field, problem) = Email::new(&s).unwrap_err();
        assert_eq!(field, "ca_file", "{problem}");
        s.security = Security::Plain;
        assert_eq!(Email::new(&s).unwrap_err().0, "ca_file");
    }

    #[test]
    fn the_password_is_taken_out_of_a_quoted_answer() {
        let to = to();
        let mut s = settings(&to);
        s.username = Some("belfry");
        s.password = Some("hunter2-pw");
        let email = Email::new(&s).unwrap();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let login = engine.encode("hunter2-pw");
        let plain = engine.encode("\0belfry\0hunter2-pw");
        let said = email.without_password(&format!("535 bad hunter2-pw ({login}) [{plain}]"));
        assert_eq!(said, "535 bad … (…) […]");
        assert!(!format!("{email:?}").contains("hunter2"));
    }
}
