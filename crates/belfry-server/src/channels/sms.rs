//! Texts through an HTTP API with Twilio's request shape: a form-encoded
//! `POST {url}/2010-04-01/Accounts/{account_sid}/Messages.json` with `To`,
//! `From` and `Body`, authenticated with HTTP basic auth (the account SID and
//! its auth token). The base URL is configurable, so any provider (or a
//! gateway) that speaks this shape works.

use secrecy::SecretString;
use url::Url;

use super::{Message, expose};

/// Twilio's API.
pub fn default_base_url() -> String {
    "https://api.twilio.com".to_owned()
}

/// Longest text sent, in characters: ten SMS segments of 153 GSM-7
/// characters; Twilio refuses bodies over 1,600.
pub const MAX_BODY_CHARS: usize = 1530;

/// One SMS channel, validated.
pub struct Sms {
    endpoint: Url,
    account_sid: String,
    auth_token: SecretString,
    from: String,
    to: String,
}

impl std::fmt::Debug for Sms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.target())
    }
}

/// Whether `number` is an E.164 phone number: `+`, then 2 to 15 digits, the
/// first not 0.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

impl Sms {
    /// Checks the settings; the error names the field.
    pub fn new(
        base: Url,
        account_sid: &str,
        auth_token: SecretString,
        from: &str,
        to: &str,
    ) -> Result<Self, (&'static str, String)> {
        let account_sid = account_sid.trim();
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err((
                "account_sid",
                "letters and digits only, like AC0123…".into(),
            ));
        }
        if expose(&auth_token).trim().is_empty() {
            return Err(("auth_token", "is empty".into()));
        }
        for (field, number) in [("from", from), ("to", to)] {
            if !is_e164(number.trim()) {
                return Err((
                    field,
                    "is not an E.164 number like +14155550100 (a + and the country code, no spaces)"
                        .into(),
                ));
            }
        }
        let mut endpoint = base;
        endpoint
            .path_segments_mut()
            .map_err(|()| ("url", "cannot be a base URL".to_owned()))?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", account_sid, "Messages.json"]);
        Ok(Self {
            endpoint,
            account_sid: account_sid.to_owned(),
            auth_token,
            from: from.trim().to_owned(),
            to: to.trim().to_owned(),
        })
    }

    /// Where it sends, without secrets.
    pub fn target(&self) -> String {
        format!(
            "{} via {}",
            self.to,
            self.endpoint.host_str().unwrap_or_default()
        )
    }

    /// The request for one message.
    pub fn request(&self, http: &reqwest::Client, message: &Message) -> reqwest::RequestBuilder {
        http.post(self.endpoint.clone())
            .basic_auth(&self.account_sid, Some(expose(&self.auth_token)))
            .form(&[
                ("To", self.to.as_str()),
                ("From", self.from.as_str()),
                ("Body", &text(message)),
            ])
    }
}

/// The text: severity and title, the body, the link; plain text (an SMS has
/// no markup to escape), cut at [`MAX_BODY_CHARS`].
pub fn text(message: &Message) -> String {
    let n = &message.notification;
    let mut text = format!("Belfry {}: {}", n.severity.label(), n.title);
    if let Some(body) = n.body.as_deref().filter(|b| !b.trim().is_empty()) {
        text.push('\n');
        text.push_str(body);
    }
    let link = message.link.as_ref().map(|l| format!("\n{l}"));
    let room = MAX_BODY_CHARS - link.as_ref().map_or(0, |l| l.chars().count().min(200));
    if text.chars().count() > room {
        text = text.chars().take(room.saturating_sub(1)).collect();
        text.push('…');
    }
    if let Some(link) = link.filter(|l| l.chars().count() <= 200) {
        text.push_str(&link);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_are_told_from_the_rest() {
        for good in ["+14155550100", "+447700900123", "+33"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "14155550100",
            "+0123456",
            "+1 415 555 0100",
            "+",
            "+1234567890123456",
            "+1-415",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn the_endpoint_has_twilios_shape_and_settings_are_checked_by_field() {
        let base = Url::parse("https://sms.example/base/").unwrap();
        let token = || SecretString::from("tok".to_owned());
        let sms = Sms::new(
            base.clone(),
            "AC123",
            token(),
            "+14155550100",
            "+14155550101",
        )
        .unwrap();
        assert_eq!(
            sms.endpoint.as_str(),
            "https://sms.example/base/2010-04-01/Accounts/AC123/Messages.json"
        );
        assert_eq!(sms.target(), "+14155550101 via sms.example");
        assert_eq!(
            Sms::new(
                base.clone(),
                "AC/../x",
                token(),
                "+14155550100",
                "+14155550101"
            )
            .unwrap_err()
            .0,
            "account_sid"
        );
        assert_eq!(
            Sms::new(base.clone(), "AC1", token(), "+14155550100", "555-0101")
                .unwrap_err()
                .0,
            "to"
        );
        assert_eq!(
            Sms::new(
                base,
                "AC1",
                SecretString::from(" ".to_owned()),
                "+1415",
                "+1416"
            )
            .unwrap_err()
            .0,
            "auth_token"
        );
    }

    #[test]
    fn a_long_text_is_cut_but_keeps_its_link() {
        let mut m = Message::test(belfry_proto::Severity::Critical, "sms", None);
        m.notification.body = Some("x".repeat(5000));
        m.link = Some(Url::parse("https://belfry.shop.example/#/n/1").unwrap());
        let t = text(&m);
        assert!(
            t.starts_with("Belfry Critical: Test message from Belfry\nxxx"),
            "{t}"
        );
        assert!(t.ends_with("…\nhttps://belfry.shop.example/#/n/1"), "{t}");
        assert!(t.chars().count() <= MAX_BODY_CHARS, "{}", t.chars().count());
    }
}
