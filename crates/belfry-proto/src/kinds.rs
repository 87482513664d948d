//! Notification kinds: the ones Belfry knows and the rule for the others.

use std::sync::LazyLock;

use crate::Severity;

/// The kinds a store's backend commonly publishes, with their default severity.
pub const KNOWN_KINDS: &[(&str, Severity)] = &[
    ("order.created", Severity::Info),
    ("payment.received", Severity::Info),
    ("shipment.updated", Severity::Info),
    ("payment.expired", Severity::Warning),
    ("stock.low", Severity::Warning),
    ("refund.requested", Severity::Warning),
    ("dispute.created", Severity::Critical),
    ("fraud.detected", Severity::Critical),
    ("system.error", Severity::Critical),
];

static KIND_RE: LazyLock<regex_lite::Regex> = LazyLock::new(|| {
    regex_lite::Regex::new(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$").expect("kind pattern is valid")
});

/// The severity a notification of `kind` gets when the publisher names none:
/// the known kinds' own, `info` for every other kind.
pub fn default_severity(kind: &str) -> Severity {
    KNOWN_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(Severity::Info, |(_, s)| *s)
}

/// Whether `kind` is a dotted lowercase name of at most 64 characters.
pub fn is_valid_kind(kind: &str) -> bool {
    kind.len() <= crate::MAX_KIND_CHARS && KIND_RE.is_match(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kinds_default_to_their_listed_severity() {
        assert_eq!(default_severity("order.created"), Severity::Info);
        assert_eq!(default_severity("stock.low"), Severity::Warning);
        assert_eq!(default_severity("fraud.detected"), Severity::Critical);
        assert_eq!(default_severity("custom.thing"), Severity::Info);
    }

    #[test]
    fn kind_pattern_accepts_dotted_lowercase_names_only() {
        for ok in ["order.created", "a", "a_b.c9.d", "x".repeat(64).as_str()] {
            assert!(is_valid_kind(ok), "{ok}");
        }
        for bad in [
            "",
            "Order.created",
            "order..created",
            ".order",
            "order.",
            "order-created",
            "order created",
            "x".repeat(65).as_str(),
        ] {
            assert!(!is_valid_kind(bad), "{bad}");
        }
    }
}
