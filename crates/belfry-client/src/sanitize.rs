//! Publisher text made safe for a terminal.
//!
//! Titles and bodies come from whoever holds a publish token. Printed raw,
//! an ANSI escape could recolour, hide or rewrite the admin's terminal (or,
//! with some terminals, set the window title or write to the clipboard), and
//! bidirectional overrides could make text read differently than it is. So
//! every control character becomes visible instead of acting.

/// `text` with control characters and bidi overrides replaced by `\u{..}`
/// escapes; newlines and tabs become spaces when `one_line` is set, and are
/// kept otherwise.
pub fn for_terminal(text: &str, one_line: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' | '\r' if one_line => out.push(' '),
            '\n' | '\t' => out.push(c),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&c.escape_unicode().to_string());
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `c` is a bidirectional embedding, override, isolate or mark,
/// which reorders the text around it on display.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        let evil = "Order \u{1b}[2J\u{1b}]0;pwned\u{7}paid\u{9b}31m";
        let safe = for_terminal(evil, true);
        assert!(!safe.chars().any(char::is_control), "{safe:?}");
        assert_eq!(safe, r"Order \u{1b}[2J\u{1b}]0;pwned\u{7}paid\u{9b}31m");
    }

    #[test]
    fn bidi_overrides_are_escaped_and_plain_text_is_kept() {
        assert_eq!(for_terminal("a\u{202E}b", true), r"a\u{202e}b");
        assert_eq!(for_terminal("Café – 2 × €84", true), "Café – 2 × €84");
        assert_eq!(for_terminal("a\nb\tc", true), "a b c");
        assert_eq!(for_terminal("a\nb", false), "a\nb");
        assert_eq!(for_terminal("a\rb", false), r"a\u{d}b");
    }
}
