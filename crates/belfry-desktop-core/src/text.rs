//! What a native pop-up says. The summary is plain text by the freedesktop
//! specification, so it is passed as is (escaping it would show `&amp;`);
//! the body may be rendered as markup by servers such as dunst, which also
//! collect its links, so publisher text there is escaped to stay text.

use belfry_client::policy::{Popup, Urgency};
use belfry_proto::{Notification, Severity};

/// The text of one pop-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopupText {
    /// Plain text, never escaped.
    pub summary: String,
    /// Markup-safe: publisher text with `&`, `<`, `>`, `"` and `'` escaped.
    pub body: String,
}

/// Escapes text so a markup-rendering notification server shows it literally.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The severity in words, for titles.
pub fn severity_word(s: Severity) -> &'static str {
    s.label()
}

/// A kind (`backup.failed`, `disk_full`) in words (`backup failed`).
pub fn kind_words(kind: &str) -> String {
    kind.split(['.', '_', '-', '/'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pop-up for one notification: the summary names severity and kind in
/// words, the body carries the title and the publisher's body, escaped.
pub fn for_notification(n: &Notification) -> PopupText {
    let summary = format!("{}: {}", severity_word(n.severity), kind_words(&n.kind));
    let body = match &n.body {
        Some(body) if !body.is_empty() => format!("{}\n{}", n.title, body),
        _ => n.title.clone(),
    };
    PopupText {
        summary,
        body: escape_markup(&body),
    }
}

/// The pop-up for what the policy decided: one notification's own text, or
/// the backlog summary the policy wrote (our own words, still escaped).
pub fn for_popup(popup: &Popup, single: Option<&Notification>) -> PopupText {
    match single {
        Some(n) if popup.ids == [n.id] => for_notification(n),
        _ => PopupText {
            summary: format!("{}: {}", urgency_word(popup.urgency), popup.title),
            body: escape_markup(popup.body.as_deref().unwrap_or("")),
        },
    }
}

fn urgency_word(u: Urgency) -> &'static str {
    match u {
        Urgency::Low => "Info",
        Urgency::Normal => "Warning",
        Urgency::Critical => "Critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn notification(
        severity: Severity,
        kind: &str,
        title: &str,
        body: Option<&str>,
    ) -> Notification {
        Notification {
            id: 7,
            kind: kind.to_owned(),
            severity,
            title: title.to_owned(),
            body: body.map(str::to_owned),
            link: None,
            data: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn publisher_markup_in_the_body_is_escaped() {
        let n = notification(
            Severity::Critical,
            "backup.failed",
            "Backup <b>failed</b>",
            Some(r#"See <a href="http://evil">here</a> & retry"#),
        );
        let text = for_notification(&n);
        assert_eq!(
            text.body,
            "Backup &lt;b&gt;failed&lt;/b&gt;\nSee &lt;a href=&quot;http://evil&quot;&gt;here&lt;/a&gt; &amp; retry"
        );
        assert!(!text.body.contains('<'));
    }

    #[test]
    fn the_summary_names_severity_and_kind_in_words_and_is_not_escaped() {
        let n = notification(Severity::Warning, "disk_full&co", "x", None);
        let text = for_notification(&n);
        assert_eq!(text.summary, "Warning: disk full&co");
        assert_eq!(text.body, "x");
    }

    #[test]
    fn a_backlog_summary_keeps_the_policy_title() {
        let popup = Popup {
            title: "7 new notifications, 2 critical".to_owned(),
            body: None,
            urgency: Urgency::Critical,
            sound: true,
            persistent: true,
            ids: vec![1, 2, 3, 4, 5, 6, 7],
        };
        let text = for_popup(&popup, None);
        assert_eq!(text.summary, "Critical: 7 new notifications, 2 critical");
        assert_eq!(text.body, "");
    }
}
