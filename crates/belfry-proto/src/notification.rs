//! The notification model and the rules a published one must follow.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Longest accepted title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest accepted body, in characters.
pub const MAX_BODY_CHARS: usize = 2_000;
/// Longest accepted kind, in characters.
pub const MAX_KIND_CHARS: usize = 64;
/// Largest accepted `data` object, serialized as compact JSON.
pub const MAX_DATA_BYTES: usize = 16 * 1024;
/// Longest accepted link, in bytes (browsers and proxies choke beyond).
const MAX_LINK_BYTES: usize = 2_048;

/// How urgent a notification is; ordered `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The severity in words, for titles: `Info`, `Warning`, `Critical`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "Info",
            Severity::Warning => "Warning",
            Severity::Critical => "Critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}`: use info, warning or critical"
            )),
        }
    }
}

/// A stored notification as every client sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Notification {
    /// Assigned by the server, strictly increasing in commit order.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub kind: String,
    pub severity: Severity,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown> | null"))]
    pub data: Option<Map<String, Value>>,
    /// An RFC 3339 timestamp.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub created_at: OffsetDateTime,
}

/// What a publisher sends to `POST /api/notifications`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewNotification {
    pub kind: String,
    /// Overrides the kind's default severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub severity: Option<Severity>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub data: Option<Map<String, Value>>,
}

/// A rule a published notification broke, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

impl NewNotification {
    /// A notification of `kind` with `title` and every optional field empty.
    pub fn new(kind: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            severity: None,
            title: title.into(),
            body: None,
            link: None,
            data: None,
        }
    }

    /// The severity it will be stored with: the publisher's, else the kind's default.
    pub fn effective_severity(&self) -> Severity {
        self.severity
            .unwrap_or_else(|| crate::default_severity(&self.kind))
    }

    /// Checks every limit; the first broken rule is returned, naming its field.
    pub fn validate(&self) -> Result<(), FieldError> {
        if !crate::is_valid_kind(&self.kind) {
            return Err(field_error(
                "kind",
                format!(
                    "must be dotted lowercase words (letters, digits, _), at most {MAX_KIND_CHARS} characters, like `order.created`"
                ),
            ));
        }
        let title_chars = self.title.chars().count();
        if is_blank(&self.title) {
            return Err(field_error(
                "title",
                "must not be empty (spaces and invisible characters alone do not count)",
            ));
        }
        if title_chars > MAX_TITLE_CHARS {
            return Err(field_error(
                "title",
                format!("is {title_chars} characters; at most {MAX_TITLE_CHARS} are allowed"),
            ));
        }
        if let Some(body) = &self.body {
            let chars = body.chars().count();
            if chars > MAX_BODY_CHARS {
                return Err(field_error(
                    "body",
                    format!("is {chars} characters; at most {MAX_BODY_CHARS} are allowed"),
                ));
            }
        }
        if let Some(link) = &self.link {
            validate_link(link)?;
        }
        if let Some(data) = &self.data {
            let size = serde_json::to_vec(data)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if size > MAX_DATA_BYTES {
                return Err(field_error(
                    "data",
                    format!("is {size} bytes as JSON; at most {MAX_DATA_BYTES} are allowed"),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `text` shows nothing: only white space, format characters (zero
/// width spaces and joiners, bidi marks, U+FEFF), variation selectors and
/// the blank-looking fillers.
pub fn is_blank(text: &str) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    text.chars().all(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c.general_category(), GeneralCategory::Format)
            || matches!(
                c,
                '\u{034F}'
                    | '\u{115F}'
                    | '\u{1160}'
                    | '\u{2800}'
                    | '\u{3164}'
                    | '\u{FFA0}'
                    | '\u{FE00}'..='\u{FE0F}'
                    | '\u{E0100}'..='\u{E01EF}'
            )
    })
}

impl NewNotification {
    /// Validates (see [`NewNotification::validate`]) and returns the
    /// notification as it is to be stored: the link in the normalised form
    /// that was checked, so every reader parses the same URL that passed.
    pub fn into_validated(mut self) -> Result<Self, FieldError> {
        self.validate()?;
        if let Some(link) = &self.link {
            let normalised: String = validate_link(link)?.into();
            // Percent-encoding and punycode can lengthen it.
            if normalised.len() > MAX_LINK_BYTES {
                return Err(field_error(
                    "link",
                    format!("is longer than {MAX_LINK_BYTES} bytes once normalised"),
                ));
            }
            self.link = Some(normalised);
        }
        Ok(self)
    }
}

/// `link` in the normalised form [`NewNotification::into_validated`]
/// stores, or as it is when it does not parse.
pub fn normalised_link(link: &str) -> String {
    url::Url::parse(link).map_or_else(|_| link.to_owned(), String::from)
}

/// Checks a link and returns its normalised serialisation.
fn validate_link(link: &str) -> Result<url::Url, FieldError> {
    if link.chars().any(char::is_control) {
        // A URL parser drops tabs and newlines where other readers may not:
        // what passed here must be what every reader sees.
        return Err(field_error(
            "link",
            "must not contain control characters (tabs, newlines and the like)",
        ));
    }
    if link.len() > MAX_LINK_BYTES {
        return Err(field_error(
            "link",
            format!("is longer than {MAX_LINK_BYTES} bytes"),
        ));
    }
    let parsed = url::Url::parse(link)
        .map_err(|e| field_error("link", format!("must be an absolute http(s) URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(field_error(
            "link",
            "must be an absolute http(s) URL with a host",
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> NewNotification {
        NewNotification {
            kind: "order.created".into(),
            severity: None,
            title: "Order #1042".into(),
            body: Some("2 items, €84.00".into()),
            link: Some("https://shop.example/admin/orders/1042".into()),
            data: Some(
                serde_json::json!({"order_id": 1042})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        }
    }

    fn field_of(n: &NewNotification) -> &'static str {
        n.validate().expect_err("should be rejected").field
    }

    #[test]
    fn severities_are_ordered_and_lowercase_on_the_wire() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            r#""critical""#
        );
        assert_eq!("warning".parse::<Severity>(), Ok(Severity::Warning));
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn a_valid_notification_passes() {
        assert_eq!(valid().validate(), Ok(()));
    }

    #[test]
    fn publisher_severity_overrides_the_kind_default() {
        let mut n = valid();
        assert_eq!(n.effective_severity(), Severity::Info);
        n.severity = Some(Severity::Critical);
        assert_eq!(n.effective_severity(), Severity::Critical);
    }

    #[test]
    fn each_limit_names_its_field() {
        let mut n = valid();
        n.kind = "Bad Kind".into();
        assert_eq!(field_of(&n), "kind");

        let mut n = valid();
        n.title = "   ".into();
        assert_eq!(field_of(&n), "title");
        n.title = "é".repeat(201);
        assert_eq!(field_of(&n), "title");
        n.title = "é".repeat(200);
        assert_eq!(
            n.validate(),
            Ok(()),
            "200 two-byte characters are still 200 characters"
        );

        for invisible in [
            "\u{200B}\u{200B}",
            "\u{FEFF} \u{200D}",
            "\u{3164}",
            "\u{2060}\t",
        ] {
            n.title = invisible.into();
            assert_eq!(field_of(&n), "title", "{invisible:?}");
        }
        n.title = "\u{200B}Order #1".into();
        assert_eq!(n.validate(), Ok(()), "visible text among invisible is fine");

        let mut n = valid();
        n.body = Some("b".repeat(2_001));
        assert_eq!(field_of(&n), "body");

        for link in [
            "/admin/orders/1",
            "javascript:alert(1)",
            "ftp://x.example/",
            "https://",
            "https://shop.example\n@evil.example/",
            "https://shop.example/a\tb",
        ] {
            let mut n = valid();
            n.link = Some(link.into());
            assert_eq!(field_of(&n), "link", "{link}");
        }

        let mut n = valid();
        let mut data = Map::new();
        data.insert("blob".into(), Value::String("x".repeat(MAX_DATA_BYTES)));
        n.data = Some(data);
        assert_eq!(field_of(&n), "data");
    }

    #[test]
    fn the_link_stored_is_the_normalised_one_that_was_checked() {
        let mut n = valid();
        n.link = Some("HTTPS://Shop.Example/admin/orders/1042?q=a b".into());
        let n = n.into_validated().unwrap();
        assert_eq!(
            n.link.as_deref(),
            Some("https://shop.example/admin/orders/1042?q=a%20b")
        );
    }

    #[test]
    fn unknown_fields_are_refused_when_parsing() {
        let err = serde_json::from_str::<NewNotification>(
            r#"{"kind":"order.created","title":"t","id":5}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `id`"), "{err}");
    }

    #[test]
    fn notifications_round_trip_with_rfc3339_timestamps() {
        let n = Notification {
            id: 7,
            kind: "stock.low".into(),
            severity: Severity::Warning,
            title: "Low stock".into(),
            body: None,
            link: None,
            data: None,
            created_at: time::macros::datetime!(2026-11-29 10:00:00 UTC),
        };
        let json = serde_json::to_string(&n).unwrap();
        assert!(
            json.contains(r#""created_at":"2026-11-29T10:00:00Z""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Notification>(&json).unwrap(), n);
    }
}
