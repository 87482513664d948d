//! The bodies Belfry posts to chat incoming webhooks: a Slack Block Kit
//! message, a Discord embed and a Microsoft Teams (Workflows) Adaptive Card.
//!
//! Publisher text (title, body, kind, `data` keys and values) is untrusted
//! and must reach the reader as literal text: it must not ping a channel,
//! forge a link or change the formatting around it. Each service has its own
//! markup, so each gets its own escaping, one source character at a time:
//!
//! - **Slack** treats `&`, `<` and `>` as control characters in every text
//!   object (`<!channel>`, `<@U123>`, `<https://…|label>`), so they become
//!   `&amp;`, `&lt;` and `&gt;`. mrkdwn has no escape for `*`, `_`, `~` or
//!   `` ` ``, so publisher text goes only into `plain_text` objects, which
//!   Slack does not format; mrkdwn carries only Belfry's own words (the
//!   `<!date…>` token that shows the time in the reader's zone).
//! - **Discord** markdown is backslash-escaped: `\`, `*`, `_`, `~`, `` ` ``,
//!   `|`, `[`, `]`, `<` and `>` anywhere (`<` also stops `<#channel>`,
//!   `<t:…>` and custom-emoji forms); `#`, `-`, `+` and a list number's `.`
//!   or `)` at the start of a line. A zero-width space follows the `@` of
//!   `@everyone`, `@here` and `<@…>`: `allowed_mentions` already stops every
//!   ping, but the text should not even look like a mention.
//! - **Teams** TextBlocks read a markdown subset: `\`, `*`, `_`, `[`, `]`,
//!   `(`, `)` and `` ` `` are backslash-escaped anywhere; `>`, `#`, `-`, `+`
//!   and a list number's `.` at the start of a line. Single line breaks are
//!   doubled (a TextBlock joins single ones), and `{{` (Adaptive Cards'
//!   `{{DATE(…)}}` functions) is split with a zero-width space. Teams' mobile
//!   clients have handled backslash escapes unevenly; a stray visible
//!   backslash is the price of never rendering publisher markup.
//!
//! URLs never go into markup: Belfry's link to the item and the publisher's
//! link (re-parsed, http(s) only) go into the fields made for URLs (Slack
//! button `url`, Discord embed `url`, Teams `Action.OpenUrl`); Discord, which
//! has no link buttons for plain webhooks, shows the publisher's link as a
//! bare URL in a field, which its autolinker turns into a link as a whole.
//!
//! Every text is cut to its service's limit *after* escaping, only between
//! two source characters (never inside `&amp;` or `\*`), and ends in "…".
//! Lengths are counted in UTF-16 code units, which is never less than the
//! number of characters, so a limit holds whichever way a service counts.

use belfry_proto::{Notification, Severity};
use serde_json::{Value, json};
use time::OffsetDateTime;
use url::Url;

use super::{Message, Reason};

/// Slack header blocks take at most 150 characters of `plain_text`.
const SLACK_HEADER_LIMIT: usize = 150;
/// Slack section text.
const SLACK_SECTION_LIMIT: usize = 3000;
/// Slack button URLs.
const SLACK_URL_LIMIT: usize = 3000;
/// Discord embed title.
const DISCORD_TITLE_LIMIT: usize = 256;
/// Discord embed description.
const DISCORD_DESCRIPTION_LIMIT: usize = 4096;
/// Discord field value.
const DISCORD_FIELD_VALUE_LIMIT: usize = 1024;
/// Discord's limit on all of an embed's text together (title, description,
/// field names and values, footer).
const DISCORD_EMBED_TOTAL_LIMIT: usize = 6000;
/// Teams has no per-TextBlock limit, only about 28 KB per message: these
/// keep a card well inside it, whatever the publisher sent.
const TEAMS_TITLE_LIMIT: usize = 256;
const TEAMS_BODY_LIMIT: usize = 4000;
/// One `data` key as shown (all formats): keys are labels, not content.
const DATA_KEY_LIMIT: usize = 64;
/// One `data` value as shown (all formats): the full value is in Belfry.
const DATA_VALUE_LIMIT: usize = 256;
/// Most `data` entries shown; the rest are counted in one more line. Slack
/// allows 10 fields per section, so 8 plus that line always fit.
const DATA_ENTRIES: usize = 8;
/// A kind as shown: kinds are short dotted names, anything longer is cut.
const KIND_LIMIT: usize = 100;

const ELLIPSIS: char = '…';
/// Breaks a mention or a `{{` without changing what the reader sees.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// Discord embed colours (Tailwind's blue-500, amber-500, red-600).
const DISCORD_INFO: u32 = 0x3B82F6;
const DISCORD_WARNING: u32 = 0xF59E0B;
const DISCORD_CRITICAL: u32 = 0xDC2626;

/// A Slack incoming-webhook body: Block Kit blocks, with `text` as the
/// notification fallback.
pub fn slack(message: &Message) -> Value {
    let notification = &message.notification;
    let subject = subject(message, SLACK_HEADER_LIMIT, slack_text);
    let mut blocks = vec![json!({
        "type": "header",
        "text": plain_text(&subject),
    })];
    if let Some(body) = body(notification) {
        blocks.push(json!({
            "type": "section",
            "text": plain_text(&slack_text(body).fit(SLACK_SECTION_LIMIT)),
        }));
    }
    let (entries, more) = data_entries(notification);
    if !entries.is_empty() {
        let mut fields: Vec<Value> = entries
            .iter()
            .map(|(key, value)| {
                plain_text(&format!(
                    "{}\n{}",
                    slack_text(key).fit(DATA_KEY_LIMIT),
                    slack_text(value).fit(DATA_VALUE_LIMIT)
                ))
            })
            .collect();
        if more > 0 {
            fields.push(plain_text(&more_entries(more)));
        }
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [
            plain_text(&slack_text(or_empty(&notification.kind)).fit(KIND_LIMIT)),
            { "type": "mrkdwn", "text": slack_date(notification.created_at) },
        ],
    }));
    let buttons: Vec<Value> = links(message)
        .into_iter()
        .filter(|(_, _, url)| url.as_str().len() <= SLACK_URL_LIMIT)
        .map(|(id, label, url)| {
            json!({
                "type": "button",
                "action_id": id,
                "text": plain_text(label),
                "url": url.as_str(),
            })
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({ "type": "actions", "elements": buttons }));
    }
    json!({ "text": subject, "blocks": blocks })
}

/// A Discord webhook body: one embed coloured by severity; no mention in it
/// may ping anyone.
pub fn discord(message: &Message) -> Value {
    let notification = &message.notification;
    let title = subject(message, DISCORD_TITLE_LIMIT, discord_text);
    // Matched exhaustively so a new reason has to say what it shows here.
    let footer = match message.reason {
        Reason::Test => "Belfry · test message",
    };

    let mut fields = vec![(
        "Kind".to_owned(),
        discord_text(or_empty(&notification.kind)).fit(KIND_LIMIT),
    )];
    if let Some(link) = publisher_link(notification)
        && utf16_len(link.as_str()) <= DISCORD_FIELD_VALUE_LIMIT
    {
        // Bare, not escaped: the autolinker takes the whole URL (which the
        // URL parser has already percent-encoded: no spaces, `<` or `>`).
        fields.push(("Link".to_owned(), link.to_string()));
    }
    let (entries, more) = data_entries(notification);
    for (key, value) in &entries {
        fields.push((
            discord_text(key).fit(DATA_KEY_LIMIT),
            discord_text(value).fit(DATA_VALUE_LIMIT),
        ));
    }
    if more > 0 {
        fields.push(("…".to_owned(), more_entries(more)));
    }

    // What is left of the embed's total for the description.
    let used = utf16_len(&title)
        + utf16_len(footer)
        + fields
            .iter()
            .map(|(name, value)| utf16_len(name) + utf16_len(value))
            .sum::<usize>();
    let room = DISCORD_DESCRIPTION_LIMIT.min(DISCORD_EMBED_TOTAL_LIMIT.saturating_sub(used));

    let mut embed = json!({
        "title": title,
        "color": match notification.severity {
            Severity::Info => DISCORD_INFO,
            Severity::Warning => DISCORD_WARNING,
            Severity::Critical => DISCORD_CRITICAL,
        },
        "fields": fields
            .into_iter()
            .map(|(name, value)| json!({ "name": name, "value": value, "inline": true }))
            .collect::<Vec<_>>(),
        "footer": { "text": footer },
    });
    if let Some(body) = body(notification) {
        embed["description"] = discord_text(body).fit(room).into();
    }
    if let Some(link) = &message.link {
        embed["url"] = link.as_str().into();
    }
    if let Ok(timestamp) = notification
        .created_at
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
    {
        embed["timestamp"] = timestamp.into();
    }
    json!({
        "content": null,
        "embeds": [embed],
        // Belt and braces with the escaping: no @everyone, role or user ping.
        "allowed_mentions": { "parse": [] },
    })
}

/// A Teams workflow webhook body ("When a Teams webhook request is
/// received"): one Adaptive Card 1.4.
pub fn teams(message: &Message) -> Value {
    let notification = &message.notification;
    let word = notification.severity.label();
    let color = match notification.severity {
        Severity::Info => "Accent",
        Severity::Warning => "Warning",
        Severity::Critical => "Attention",
    };
    let severity = match message.reason {
        Reason::Test => format!("{word} (test)"),
    };
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": severity,
            "color": color,
            "weight": "Bolder",
            "size": "Small",
            "wrap": true,
        }),
        json!({
            "type": "TextBlock",
            "text": teams_text(or_empty(&notification.title)).fit(TEAMS_TITLE_LIMIT),
            "size": "Large",
            "weight": "Bolder",
            "wrap": true,
        }),
    ];
    if let Some(text) = self::body(notification) {
        body.push(json!({
            "type": "TextBlock",
            "text": teams_text(text).fit(TEAMS_BODY_LIMIT),
            "wrap": true,
        }));
    }
    let mut facts = vec![
        fact(
            "Kind",
            teams_text(or_empty(&notification.kind)).fit(KIND_LIMIT),
        ),
        fact("Time", utc_time(notification.created_at)),
    ];
    let (entries, more) = data_entries(notification);
    for (key, value) in &entries {
        facts.push(json!({
            "title": teams_text(key).fit(DATA_KEY_LIMIT),
            "value": teams_text(value).fit(DATA_VALUE_LIMIT),
        }));
    }
    if more > 0 {
        facts.push(fact("…", more_entries(more)));
    }
    body.push(json!({ "type": "FactSet", "facts": facts }));

    let actions: Vec<Value> = links(message)
        .into_iter()
        .map(|(_, label, url)| {
            json!({ "type": "Action.OpenUrl", "title": label, "url": url.as_str() })
        })
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            },
        }],
    })
}

/// "Critical: <title>", plus " (test)" for a test, within `limit` with the
/// title escaped by `escape` and cut to fit.
fn subject(message: &Message, limit: usize, escape: fn(&str) -> Escaped) -> String {
    let word = message.notification.severity.label();
    let suffix = match message.reason {
        Reason::Test => " (test)",
    };
    let prefix = format!("{word}: ");
    let room = limit.saturating_sub(utf16_len(&prefix) + utf16_len(suffix));
    let title = escape(&message.notification.title).fit(room);
    format!("{prefix}{title}{suffix}")
}

/// The body, unless there is none or it is blank.
fn body(notification: &Notification) -> Option<&str> {
    notification
        .body
        .as_deref()
        .filter(|body| !body.trim().is_empty())
}

/// The first [`DATA_ENTRIES`] of the publisher's `data` as key and text
/// (strings as they are, anything else as compact JSON), and how many more.
fn data_entries(notification: &Notification) -> (Vec<(&str, String)>, usize) {
    let Some(data) = &notification.data else {
        return (Vec::new(), 0);
    };
    let shown = data
        .iter()
        .take(DATA_ENTRIES)
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => or_empty(s).to_owned(),
                other => other.to_string(),
            };
            (or_empty(key), text)
        })
        .collect();
    (shown, data.len().saturating_sub(DATA_ENTRIES))
}

/// `text`, or "(empty)" when it shows nothing: Slack and Discord refuse a
/// whole message over one empty text.
fn or_empty(text: &str) -> &str {
    if text.trim().is_empty() {
        "(empty)"
    } else {
        text
    }
}

fn more_entries(more: usize) -> String {
    if more == 1 {
        "1 more entry in Belfry".to_owned()
    } else {
        format!("{more} more entries in Belfry")
    }
}

/// The publisher's link, if it is (still) an http(s) URL: the API checked it
/// on the way in, but it is about to become a button, so check again.
fn publisher_link(notification: &Notification) -> Option<Url> {
    notification
        .link
        .as_deref()
        .and_then(|link| Url::parse(link).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

/// The buttons: (Slack action id, label, URL), Belfry's item first.
fn links(message: &Message) -> Vec<(&'static str, &'static str, Url)> {
    let mut links = Vec::new();
    if let Some(item) = &message.link {
        links.push(("belfry-open-item", "Open in Belfry", item.clone()));
    }
    if let Some(link) = publisher_link(&message.notification) {
        links.push(("belfry-open-link", "Open link", link));
    }
    links
}

/// A Slack `plain_text` object: shown as written after Slack decodes its
/// three entities; `emoji: false` leaves `:shortcodes:` as text too.
fn plain_text(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text, "emoji": false })
}

/// Slack's date token: the time in the reader's own zone, UTC text as the
/// fallback for clients that cannot format it.
fn slack_date(at: OffsetDateTime) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        at.unix_timestamp(),
        utc_time(at)
    )
}

/// "2026-12-02 01:57 UTC".
fn utc_time(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        // Only a year this format cannot write; the number still says when.
        .unwrap_or_else(|_| format!("{} (Unix time)", at.unix_timestamp()))
}

fn fact(title: &str, value: String) -> Value {
    json!({ "title": title, "value": value })
}

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Escaped text that remembers where each source character's escape ends,
/// so it can be cut between two of them and never inside one.
#[derive(Debug, Default)]
struct Escaped {
    text: String,
    /// After each source character: (byte offset, UTF-16 length so far).
    ends: Vec<(usize, usize)>,
    utf16: usize,
}

impl Escaped {
    /// Appends the escape of one source character.
    fn push(&mut self, piece: &str) {
        self.text.push_str(piece);
        self.utf16 += utf16_len(piece);
        self.ends.push((self.text.len(), self.utf16));
    }

    /// Appends one source character as it is.
    fn push_char(&mut self, c: char) {
        self.push(c.encode_utf8(&mut [0; 4]));
    }

    /// The text if it fits in `limit` UTF-16 units; otherwise the longest
    /// run of whole escapes that fits with "…" after it.
    fn fit(self, limit: usize) -> String {
        if self.utf16 <= limit {
            return self.text;
        }
        let room = limit.saturating_sub(ELLIPSIS.len_utf16());
        let whole = self.ends.partition_point(|&(_, units)| units <= room);
        let cut = match whole {
            0 => 0,
            n => self.ends[n - 1].0,
        };
        let mut text = self.text;
        text.truncate(cut);
        text.truncate(text.trim_end().len());
        text.push(ELLIPSIS);
        text
    }
}

/// Slack: `&`, `<`, `>` as entities; everything else as it is.
fn slack_text(text: &str) -> Escaped {
    let mut out = Escaped::default();
    for c in text.chars() {
        match c {
            '&' => out.push("&amp;"),
            '<' => out.push("&lt;"),
            '>' => out.push("&gt;"),
            c => out.push_char(c),
        }
    }
    out
}

/// Where a character stands in its line, for markup that only counts at the
/// start of one (headings, quotes, lists).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Only spaces or tabs so far.
    Start,
    /// Only digits after them (a numbered list's number, maybe).
    Number,
    Rest,
}

impl Line {
    /// The state after `c`, given the state before it.
    fn after(self, c: char) -> Line {
        match (self, c) {
            (_, '\n' | '\r') => Line::Start,
            (Line::Start, ' ' | '\t') => Line::Start,
            (Line::Start | Line::Number, '0'..='9') => Line::Number,
            _ => Line::Rest,
        }
    }
}

/// Discord markdown escaped, mentions broken with a zero-width space.
fn discord_text(text: &str) -> Escaped {
    let mut out = Escaped::default();
    let mut line = Line::Start;
    let mut previous = None;
    for (i, c) in text.char_indices() {
        let rest = &text[i + c.len_utf8()..];
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<' | '>' => out.push(&escaped(c)),
            '#' | '-' | '+' if line == Line::Start => out.push(&escaped(c)),
            '.' | ')' if line == Line::Number => out.push(&escaped(c)),
            '@' if previous == Some('<') || mentions_everyone(rest) => {
                out.push(&format!("@{ZERO_WIDTH_SPACE}"));
            }
            c => out.push_char(c),
        }
        line = line.after(c);
        previous = Some(c);
    }
    out
}

/// Whether `rest` (what follows an `@`) would make it `@everyone` or `@here`.
fn mentions_everyone(rest: &str) -> bool {
    ["everyone", "here"].iter().any(|word| {
        rest.get(..word.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(word))
    })
}

/// Adaptive Card markdown escaped; line breaks doubled, since a TextBlock
/// joins single ones; `{{` split so no `{{DATE(…)}}` is evaluated.
fn teams_text(text: &str) -> Escaped {
    let mut out = Escaped::default();
    let mut line = Line::Start;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {
                // Half of a CRLF: the `\n` makes the break.
                out.push("");
                continue;
            }
            '\n' | '\r' => out.push("\n\n"),
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '`' => out.push(&escaped(c)),
            '>' | '#' | '-' | '+' if line == Line::Start => out.push(&escaped(c)),
            '.' if line == Line::Number => out.push(&escaped(c)),
            '{' if chars.peek() == Some(&'{') => out.push(&format!("{{{ZERO_WIDTH_SPACE}")),
            c => out.push_char(c),
        }
        line = line.after(c);
    }
    out
}

fn escaped(c: char) -> String {
    format!("\\{c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every trap at once: Slack and Discord mentions, both markdowns, a
    /// masked link, HTML and an entity that must not be decoded.
    const HOSTILE: &str = "<!channel> <@U123> *bold* _x_ ~s~ `code` @everyone @here \
                           [x](https://evil.example) <script>&amp;";
    const PLAIN: &str = "Disk usage on db-1 is at 91%, so check it soon.";

    fn message(severity: Severity, title: &str, body: Option<&str>) -> Message {
        Message {
            id: "msg_1".to_owned(),
            notification: Notification {
                id: 42,
                kind: "billing.payment_declined".to_owned(),
                severity,
                title: title.to_owned(),
                body: body.map(str::to_owned),
                link: Some("https://shop.example/orders/7".to_owned()),
                data: None,
                created_at: time::macros::datetime!(2026-12-02 01:57:21 UTC),
            },
            link: Url::parse("https://belfry.example/n/42").ok(),
            reason: Reason::Test,
        }
    }

    fn critical(title: &str, body: &str) -> Message {
        message(Severity::Critical, title, Some(body))
    }

    fn with_data(mut message: Message, data: Value) -> Message {
        message.notification.data = data.as_object().cloned();
        message
    }

    fn string(value: &Value) -> &str {
        value
            .as_str()
            .unwrap_or_else(|| panic!("not a string: {value}"))
    }

    fn len(value: &Value) -> usize {
        utf16_len(string(value))
    }

    /// The Slack block of `kind` (the first one).
    fn block<'a>(body: &'a Value, kind: &str) -> &'a Value {
        body["blocks"]
            .as_array()
            .and_then(|blocks| blocks.iter().find(|b| b["type"] == kind))
            .unwrap_or_else(|| panic!("no {kind} block in {body}"))
    }

    fn discord_fields(body: &Value) -> &Vec<Value> {
        body["embeds"][0]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("no fields in {body}"))
    }

    fn card(body: &Value) -> &Value {
        &body["attachments"][0]["content"]
    }

    fn card_blocks(body: &Value) -> &Vec<Value> {
        card(body)["body"]
            .as_array()
            .unwrap_or_else(|| panic!("no card body in {body}"))
    }

    fn facts(body: &Value) -> Vec<(String, String)> {
        card_blocks(body)
            .iter()
            .find(|b| b["type"] == "FactSet")
            .and_then(|set| set["facts"].as_array())
            .unwrap_or_else(|| panic!("no FactSet in {body}"))
            .iter()
            .map(|f| {
                (
                    string(&f["title"]).to_owned(),
                    string(&f["value"]).to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn slack_message_has_a_header_body_context_and_link_buttons() {
        let body = slack(&critical(
            "Payment declined",
            "Card ending 4242 was declined.",
        ));
        assert_eq!(body["text"], "Critical: Payment declined (test)");
        assert_eq!(
            block(&body, "header")["text"],
            json!({ "type": "plain_text", "text": "Critical: Payment declined (test)", "emoji": false })
        );
        assert_eq!(
            block(&body, "section")["text"]["text"],
            "Card ending 4242 was declined."
        );
        let context = &block(&body, "context")["elements"];
        assert_eq!(context[0]["text"], "billing.payment_declined");
        assert_eq!(context[1]["type"], "mrkdwn");
        assert_eq!(
            context[1]["text"],
            "<!date^1796176641^{date_short_pretty} at {time}|2026-12-02 01:57 UTC>"
        );
        let buttons = &block(&body, "actions")["elements"];
        assert_eq!(buttons[0]["type"], "button");
        assert_eq!(buttons[0]["text"]["text"], "Open in Belfry");
        assert_eq!(buttons[0]["url"], "https://belfry.example/n/42");
        assert_eq!(buttons[1]["url"], "https://shop.example/orders/7");
        assert_ne!(buttons[0]["action_id"], buttons[1]["action_id"]);
    }

    #[test]
    fn slack_leaves_out_what_is_not_there() {
        let mut bare = message(Severity::Info, "Nightly backup done", None);
        bare.link = None;
        bare.notification.link = Some("javascript:alert(1)".to_owned());
        let body = slack(&bare);
        let kinds: Vec<&str> = body["blocks"]
            .as_array()
            .map(|blocks| blocks.iter().map(|b| string(&b["type"])).collect())
            .unwrap_or_default();
        assert_eq!(kinds, ["header", "context"]);
        assert_eq!(body["text"], "Info: Nightly backup done (test)");
    }

    #[test]
    fn slack_escapes_control_characters_so_nothing_pings_or_links() {
        let body = slack(&critical(HOSTILE, HOSTILE));
        let expected = "&lt;!channel&gt; &lt;@U123&gt; *bold* _x_ ~s~ `code` @everyone @here \
                        [x](https://evil.example) &lt;script&gt;&amp;amp;";
        assert_eq!(block(&body, "section")["text"]["text"], expected);
        // Formatting characters have no escape in mrkdwn: publisher text is
        // only ever plain_text.
        assert_eq!(block(&body, "section")["text"]["type"], "plain_text");
        assert_eq!(
            block(&body, "header")["text"]["text"],
            format!("Critical: {expected} (test)")
        );
        let all = body.to_string();
        for raw in ["<!channel>", "<@U123>", "<script>", "&amp;\""] {
            assert!(!all.contains(raw), "{raw} got through: {all}");
        }
    }

    #[test]
    fn slack_keeps_a_plain_sentence_as_it_is() {
        let body = slack(&critical(PLAIN, PLAIN));
        assert_eq!(block(&body, "section")["text"]["text"], PLAIN);
        assert_eq!(body["text"], format!("Critical: {PLAIN} (test)"));
    }

    #[test]
    fn slack_cuts_long_text_to_its_limits_between_escapes() {
        let long = "&".repeat(5000);
        let body = slack(&critical(&long, &long));
        let header = &block(&body, "header")["text"]["text"];
        assert!(
            len(header) <= SLACK_HEADER_LIMIT,
            "header is {}",
            len(header)
        );
        assert!(string(header).ends_with("&amp;… (test)"), "{header}");
        let section = string(&block(&body, "section")["text"]["text"]);
        assert!(utf16_len(section) <= SLACK_SECTION_LIMIT);
        assert!(utf16_len(section) > SLACK_SECTION_LIMIT - "&amp;…".len());
        let cut = section.trim_end_matches(ELLIPSIS);
        assert_eq!(cut, "&amp;".repeat(cut.len() / 5), "an escape was split");
    }

    #[test]
    fn slack_shows_data_as_plain_fields_and_counts_the_rest() {
        let data = (0..12)
            .map(|i| (format!("k{i:02}"), json!(format!("<@U{i}>"))))
            .collect::<serde_json::Map<_, _>>();
        let body = slack(&with_data(
            critical("Payment declined", "x"),
            Value::Object(data),
        ));
        let fields = body["blocks"]
            .as_array()
            .and_then(|blocks| blocks.iter().find_map(|b| b["fields"].as_array()))
            .unwrap_or_else(|| panic!("no fields in {body}"));
        assert_eq!(fields.len(), DATA_ENTRIES + 1);
        assert_eq!(fields[0]["type"], "plain_text");
        assert_eq!(fields[0]["text"], "k00\n&lt;@U0&gt;");
        assert_eq!(fields[DATA_ENTRIES]["text"], "4 more entries in Belfry");
    }

    #[test]
    fn discord_message_is_one_embed_coloured_by_severity_with_no_mentions_allowed() {
        let body = discord(&critical(
            "Payment declined",
            "Card ending 4242 was declined.",
        ));
        assert_eq!(body["content"], Value::Null);
        assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
        let embed = &body["embeds"][0];
        assert_eq!(embed["title"], "Critical: Payment declined (test)");
        assert_eq!(embed["description"], "Card ending 4242 was declined.");
        assert_eq!(embed["color"], 0xDC2626);
        assert_eq!(embed["url"], "https://belfry.example/n/42");
        assert_eq!(embed["timestamp"], "2026-12-02T01:57:21Z");
        assert_eq!(embed["footer"]["text"], "Belfry · test message");
        let fields = discord_fields(&body);
        assert_eq!(
            fields[0],
            json!({ "name": "Kind", "value": "billing.payment\\_declined", "inline": true })
        );
        assert_eq!(fields[1]["name"], "Link");
        assert_eq!(fields[1]["value"], "https://shop.example/orders/7");

        let colour =
            |severity| discord(&message(severity, "t", None))["embeds"][0]["color"].clone();
        assert_eq!(colour(Severity::Info), 0x3B82F6);
        assert_eq!(colour(Severity::Warning), 0xF59E0B);
        assert_eq!(colour(Severity::Critical), 0xDC2626);
    }

    #[test]
    fn discord_escapes_markdown_and_breaks_mentions() {
        let body = discord(&critical(HOSTILE, HOSTILE));
        let zw = ZERO_WIDTH_SPACE;
        let expected = format!(
            "\\<!channel\\> \\<@{zw}U123\\> \\*bold\\* \\_x\\_ \\~s\\~ \\`code\\` @{zw}everyone \
             @{zw}here \\[x\\](https://evil.example) \\<script\\>&amp;"
        );
        let embed = &body["embeds"][0];
        assert_eq!(embed["description"], expected);
        assert_eq!(embed["title"], format!("Critical: {expected} (test)"));
        let all = body.to_string();
        for raw in ["@everyone", "@here", "<@U123"] {
            assert!(!all.contains(raw), "{raw} got through: {all}");
        }
        // Markup characters survive only behind a backslash.
        let description = string(&embed["description"]);
        let mut after_backslash = false;
        for c in description.chars() {
            if "<>*_~`|[]".contains(c) {
                assert!(after_backslash, "an unescaped {c} in {description}");
            }
            after_backslash = c == '\\' && !after_backslash;
        }
    }

    #[test]
    fn discord_escapes_markup_at_the_start_of_a_line_only() {
        let text = "# Heading\n> quote\n- item\n  + nested\n12. twelfth\n-# small\nA - B # C 1. D";
        let body = discord(&critical("t", text));
        assert_eq!(
            body["embeds"][0]["description"],
            "\\# Heading\n\\> quote\n\\- item\n  \\+ nested\n12\\. twelfth\n\\-# small\nA - B # C 1. D"
        );
    }

    #[test]
    fn discord_keeps_a_plain_sentence_as_it_is() {
        let body = discord(&critical(PLAIN, PLAIN));
        assert_eq!(body["embeds"][0]["description"], PLAIN);
        assert_eq!(
            body["embeds"][0]["title"],
            format!("Critical: {PLAIN} (test)")
        );
    }

    #[test]
    fn discord_respects_every_embed_limit_with_long_text_and_data() {
        let long = "*".repeat(5000);
        let data = (0..30)
            .map(|i| {
                (
                    format!("{i:02}{}", "k".repeat(300)),
                    json!("v".repeat(5000)),
                )
            })
            .collect::<serde_json::Map<_, _>>();
        let body = discord(&with_data(critical(&long, &long), Value::Object(data)));
        let embed = &body["embeds"][0];
        assert!(len(&embed["title"]) <= DISCORD_TITLE_LIMIT);
        assert!(string(&embed["title"]).ends_with("\\*… (test)"));
        assert!(len(&embed["description"]) <= DISCORD_DESCRIPTION_LIMIT);
        assert!(string(&embed["description"]).ends_with("\\*…"));
        let fields = discord_fields(&body);
        assert!(fields.len() <= 25);
        assert_eq!(fields.len(), 2 + DATA_ENTRIES + 1);
        let mut total = len(&embed["title"]) + len(&embed["description"]);
        total += len(&embed["footer"]["text"]);
        for field in fields {
            assert!(len(&field["name"]) <= DATA_KEY_LIMIT.max(4));
            assert!(len(&field["value"]) <= DISCORD_FIELD_VALUE_LIMIT);
            total += len(&field["name"]) + len(&field["value"]);
        }
        assert!(total <= DISCORD_EMBED_TOTAL_LIMIT, "embed holds {total}");
        assert_eq!(
            fields[2]["value"],
            format!("{}…", "v".repeat(DATA_VALUE_LIMIT - 1))
        );
    }

    #[test]
    fn teams_message_is_an_adaptive_card_in_a_workflow_envelope() {
        let body = teams(&critical(
            "Payment declined",
            "Card ending 4242 was declined.",
        ));
        assert_eq!(body["type"], "message");
        let attachment = &body["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(attachment["contentUrl"], Value::Null);
        let card = card(&body);
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        let blocks = card_blocks(&body);
        assert_eq!(blocks[0]["text"], "Critical (test)");
        assert_eq!(blocks[0]["color"], "Attention");
        assert_eq!(blocks[0]["weight"], "Bolder");
        assert_eq!(blocks[1]["text"], "Payment declined");
        assert_eq!(blocks[1]["wrap"], true);
        assert_eq!(blocks[2]["text"], "Card ending 4242 was declined.");
        assert_eq!(blocks[2]["wrap"], true);
        assert_eq!(
            facts(&body),
            [
                ("Kind".to_owned(), "billing.payment\\_declined".to_owned()),
                ("Time".to_owned(), "2026-12-02 01:57 UTC".to_owned()),
            ]
        );
        assert_eq!(
            card["actions"],
            json!([
                { "type": "Action.OpenUrl", "title": "Open in Belfry", "url": "https://belfry.example/n/42" },
                { "type": "Action.OpenUrl", "title": "Open link", "url": "https://shop.example/orders/7" },
            ])
        );

        let colour =
            |severity| card_blocks(&teams(&message(severity, "t", None)))[0]["color"].clone();
        assert_eq!(colour(Severity::Info), "Accent");
        assert_eq!(colour(Severity::Warning), "Warning");
    }

    #[test]
    fn teams_escapes_markdown_so_publisher_text_renders_literally() {
        let body = teams(&critical(
            HOSTILE,
            "# Title\n1. one\r\n> quote {{DATE(2017-02-14T06:08:39Z, SHORT)}}",
        ));
        let blocks = card_blocks(&body);
        assert_eq!(
            blocks[1]["text"],
            "<!channel> <@U123> \\*bold\\* \\_x\\_ ~s~ \\`code\\` @everyone @here \
             \\[x\\]\\(https://evil.example\\) <script>&amp;"
        );
        assert_eq!(
            blocks[2]["text"],
            format!(
                "\\# Title\n\n1\\. one\n\n\\> quote {{{ZERO_WIDTH_SPACE}{{DATE\\(2017-02-14T06:08:39Z, SHORT\\)}}}}"
            )
        );
        let all = body.to_string();
        for raw in ["*bold*", "](https", "{{DATE"] {
            assert!(!all.contains(raw), "{raw} got through: {all}");
        }
    }

    #[test]
    fn teams_keeps_a_plain_sentence_as_it_is() {
        let body = teams(&critical(PLAIN, PLAIN));
        assert_eq!(card_blocks(&body)[1]["text"], PLAIN);
        assert_eq!(card_blocks(&body)[2]["text"], PLAIN);
    }

    #[test]
    fn teams_cuts_long_text_and_shows_data_as_facts() {
        let long = "_".repeat(5000);
        let data = json!({ "order": 7, "note": "*not bold*" });
        let body = teams(&with_data(critical(&long, &long), data));
        let blocks = card_blocks(&body);
        assert!(len(&blocks[1]["text"]) <= TEAMS_TITLE_LIMIT);
        assert!(len(&blocks[2]["text"]) <= TEAMS_BODY_LIMIT);
        assert!(string(&blocks[2]["text"]).ends_with("\\_…"));
        let facts = facts(&body);
        assert_eq!(facts[2], ("note".to_owned(), "\\*not bold\\*".to_owned()));
        assert_eq!(facts[3], ("order".to_owned(), "7".to_owned()));
    }

    #[test]
    fn empty_data_keys_and_values_are_shown_as_empty_rather_than_refused() {
        let message = with_data(
            critical("t", "b"),
            json!({ "": "x", "blank": "  ", "none": null }),
        );
        let discord = discord(&message);
        let fields: Vec<(&str, &str)> = discord_fields(&discord)
            .iter()
            .map(|f| (string(&f["name"]), string(&f["value"])))
            .collect();
        assert_eq!(
            fields[2..],
            [("(empty)", "x"), ("blank", "(empty)"), ("none", "null")]
        );
        let slack = slack(&message);
        assert_eq!(slack["blocks"][2]["fields"][1]["text"], "blank\n(empty)");
        assert_eq!(
            facts(&teams(&message))[3],
            ("blank".to_owned(), "\\(empty\\)".to_owned())
        );
    }

    #[test]
    fn fit_cuts_between_escapes_and_marks_the_cut() {
        assert_eq!(slack_text("a&b").fit(3), "a…");
        assert_eq!(slack_text("a&b").fit(6), "a…");
        assert_eq!(slack_text("a&bc").fit(7), "a&amp;…");
        assert_eq!(slack_text("a&b").fit(100), "a&amp;b");
        assert_eq!(slack_text("abc").fit(0), "…");
        // A character outside the BMP counts as two UTF-16 units.
        assert_eq!(slack_text("😀😀").fit(3), "😀…");
        assert_eq!(slack_text("word  then").fit(7), "word…");
    }
}
