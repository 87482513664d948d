//! How notifications are printed: one readable, optionally coloured line, or
//! one line of JSON; either way publisher text cannot drive the terminal
//! (see `belfry_client::sanitize`).

use std::io::IsTerminal as _;

use anyhow::Context as _;
use belfry_client::sanitize::{for_terminal, is_bidi_control};
use belfry_proto::{Notification, Severity};

/// `value` as one line of JSON, safe for a terminal: serde_json escapes the
/// C0 controls, and this escapes the rest (C1 controls such as U+009B, an
/// escape introducer on some terminals, and bidi overrides) as `\uXXXX`,
/// which JSON readers decode to the same text.
pub fn json_line(value: &impl serde::Serialize) -> anyhow::Result<String> {
    let json = serde_json::to_string(value).context("encoding JSON")?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() || is_bidi_control(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Colour only on a terminal, and never with `NO_COLOR` set.
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// One readable line: local time, severity, kind, id, title, body, link.
pub fn text_line(n: &Notification, color: bool) -> String {
    let when = jiff::Timestamp::from_second(n.created_at.unix_timestamp())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();
    let sev = format!("{:<8}", n.severity.as_str().to_uppercase());
    let sev = if color {
        let code = match n.severity {
            Severity::Info => "36",
            Severity::Warning => "33",
            Severity::Critical => "1;31",
        };
        format!("\x1b[{code}m{sev}\x1b[0m")
    } else {
        sev
    };
    let mut line = format!(
        "{when} {sev} #{} {} {}",
        n.id,
        for_terminal(&n.kind, true),
        for_terminal(&n.title, true)
    );
    if let Some(body) = &n.body {
        line.push_str(" — ");
        line.push_str(&for_terminal(body, true));
    }
    if let Some(link) = &n.link {
        line.push_str(" <");
        line.push_str(&for_terminal(link, true));
        line.push('>');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_carry_no_publisher_escapes() {
        let n = Notification {
            id: 9,
            kind: "order.created".into(),
            severity: Severity::Critical,
            title: "evil \u{1b}]52;c;cGF5\u{7} title".into(),
            body: Some("line\n\u{1b}[2Jbody".into()),
            link: None,
            data: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let plain = text_line(&n, false);
        assert!(!plain.chars().any(char::is_control), "{plain:?}");
        assert!(plain.contains("CRITICAL #9 order.created evil"), "{plain}");
        let json = json_line(&n).unwrap();
        assert!(!json.chars().any(char::is_control), "{json:?}");
        assert!(json.contains(r"\u001b]52"), "{json}");
        assert_eq!(serde_json::from_str::<Notification>(&json).unwrap(), n);
        let c1 = json_line(&"a\u{9b}31m\u{202e}b").unwrap();
        assert_eq!(c1, r#""a\u009b31m\u202eb""#);
        assert_eq!(
            serde_json::from_str::<String>(&c1).unwrap(),
            "a\u{9b}31m\u{202e}b"
        );
        let colored = text_line(&n, true);
        assert_eq!(
            colored.matches('\u{1b}').count(),
            2,
            "only our own colour codes: {colored:?}"
        );
    }
}
