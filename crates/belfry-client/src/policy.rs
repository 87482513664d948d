//! Whether and how a notification becomes an OS pop-up: a pure function of
//! the notification, the admin's preferences and the time, so every front end
//! (desktop, CLI) decides alike.
//!
//! The behaviour is specified by one table of cases, `fixtures/popup-policy.json`
//! at the repository root, which this module and the web UI's twin,
//! `ui/src/lib/popup-rules.ts`, must both pass (`cargo test` and Vitest). To
//! change the policy, change or add a case there, then both implementations.

use belfry_proto::{Notification, Preferences, QuietHours, Severity};
use time::OffsetDateTime;

/// A replayed backlog longer than this becomes one summary pop-up: after a
/// laptop wakes up, one "12 new notifications" beats twelve stale pop-ups.
pub const MAX_BACKLOG_POPUPS: usize = 3;

/// How insistently the OS should show a pop-up (freedesktop urgency levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    Low,
    Normal,
    Critical,
}

impl From<Severity> for Urgency {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Info => Urgency::Low,
            Severity::Warning => Urgency::Normal,
            Severity::Critical => Urgency::Critical,
        }
    }
}

/// One OS pop-up to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Popup {
    pub title: String,
    pub body: Option<String>,
    pub urgency: Urgency,
    pub sound: bool,
    /// Stays until dismissed (critical) instead of timing out.
    pub persistent: bool,
    /// The notifications it stands for.
    pub ids: Vec<u64>,
}

/// The pop-up for one notification, or `None` when it stays silent (below
/// the minimum severity, muted, or quiet hours without a breakthrough).
pub fn decide(n: &Notification, prefs: &Preferences, now: OffsetDateTime) -> Option<Popup> {
    if n.severity < prefs.popup_min_severity {
        return None;
    }
    if prefs
        .muted_kinds
        .iter()
        .any(|m| m.kind == n.kind && m.until.is_none_or(|until| now < until))
    {
        return None;
    }
    if let Some(q) = &prefs.quiet_hours {
        let breaks_through = n.severity == Severity::Critical && q.critical_breaks_through;
        if in_quiet_hours(q, now) && !breaks_through {
            return None;
        }
    }
    Some(Popup {
        title: n.title.clone(),
        body: n.body.clone(),
        urgency: n.severity.into(),
        sound: prefs.sounds.of(n.severity),
        persistent: n.severity == Severity::Critical,
        ids: vec![n.id],
    })
}

/// The pop-ups for a batch: each notification's own when there are at most
/// [`MAX_BACKLOG_POPUPS`] of them, else one summary ("7 new notifications,
/// 2 critical") as urgent, loud and persistent as its most urgent member.
/// Pass live notifications one at a time and a replayed backlog as one batch.
pub fn plan(batch: &[Notification], prefs: &Preferences, now: OffsetDateTime) -> Vec<Popup> {
    let popups: Vec<Popup> = batch.iter().filter_map(|n| decide(n, prefs, now)).collect();
    if popups.len() <= MAX_BACKLOG_POPUPS {
        return popups;
    }
    let critical = popups
        .iter()
        .filter(|p| p.urgency == Urgency::Critical)
        .count();
    let mut title = format!("{} new notifications", popups.len());
    if critical > 0 {
        title.push_str(&format!(", {critical} critical"));
    }
    Some(Popup {
        title,
        body: None,
        urgency: popups
            .iter()
            .map(|p| p.urgency)
            .max()
            .unwrap_or(Urgency::Low),
        sound: popups.iter().any(|p| p.sound),
        persistent: popups.iter().any(|p| p.persistent),
        ids: popups.iter().flat_map(|p| p.ids.iter().copied()).collect(),
    })
    .into_iter()
    .collect()
}

/// Whether `now` falls in the quiet hours, in their own time zone. An
/// unknown zone or a malformed time is read as UTC / no quiet hours rather
/// than silencing everything.
pub fn in_quiet_hours(q: &QuietHours, now: OffsetDateTime) -> bool {
    let (Some(start), Some(end)) = (minutes(&q.start), minutes(&q.end)) else {
        return false;
    };
    let zone = jiff::tz::TimeZone::get(&q.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let Ok(ts) = jiff::Timestamp::from_second(now.unix_timestamp()) else {
        return false;
    };
    let local = ts.to_zoned(zone);
    let m = u32::from(local.hour().unsigned_abs()) * 60 + u32::from(local.minute().unsigned_abs());
    match start.cmp(&end) {
        std::cmp::Ordering::Less => start <= m && m < end,
        // Over midnight, e.g. 22:00–07:00.
        std::cmp::Ordering::Greater => m >= start || m < end,
        std::cmp::Ordering::Equal => false,
    }
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m) = (digits(h)?, digits(m)?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// One or two ASCII digits. `str::parse` alone also takes `+9` and `009`,
/// which `HH:MM` does not allow and popup-rules.ts rejects.
fn digits(s: &str) -> Option<u32> {
    if !matches!(s.len(), 1 | 2) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    //! Runs the shared table of cases, `fixtures/popup-policy.json`, that
    //! ui/src/lib/popup-rules.ts must pass too. New behaviour gets a case
    //! there, not a test here, so the two cannot drift apart.

    use super::*;
    use serde::Deserialize;

    const FIXTURE: &str = include_str!("../../../fixtures/popup-policy.json");

    #[derive(Deserialize)]
    struct Fixture {
        max_backlog_popups: usize,
        in_quiet_hours: Vec<QuietCase>,
        decide: Vec<DecideCase>,
        plan: Vec<PlanCase>,
    }

    // `deny_unknown_fields` so that a misspelt `expected` fails instead of
    // being read as "no pop-up".
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct QuietCase {
        name: String,
        quiet_hours: QuietHours,
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
        expected: bool,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DecideCase {
        name: String,
        notification: Notification,
        preferences: Preferences,
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
        expected: Option<ExpectedPopup>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PlanCase {
        name: String,
        batch: Vec<Notification>,
        preferences: Preferences,
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
        expected: Vec<ExpectedPopup>,
    }

    /// A [`Popup`] as the fixture writes it: the severity its urgency stands
    /// for, as popup-rules.ts has no urgency of its own.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ExpectedPopup {
        title: String,
        body: Option<String>,
        severity: Severity,
        sound: bool,
        persistent: bool,
        ids: Vec<u64>,
    }

    impl From<Popup> for ExpectedPopup {
        fn from(p: Popup) -> Self {
            Self {
                title: p.title,
                body: p.body,
                severity: match p.urgency {
                    Urgency::Low => Severity::Info,
                    Urgency::Normal => Severity::Warning,
                    Urgency::Critical => Severity::Critical,
                },
                sound: p.sound,
                persistent: p.persistent,
                ids: p.ids,
            }
        }
    }

    fn fixture() -> Fixture {
        serde_json::from_str(FIXTURE).expect("fixtures/popup-policy.json does not parse")
    }

    /// Panics naming every failing case, so one run shows all of them.
    fn assert_no_failures(failures: Vec<String>) {
        assert!(
            failures.is_empty(),
            "{} case(s) of fixtures/popup-policy.json failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn the_backlog_limit_is_the_fixtures() {
        assert_eq!(MAX_BACKLOG_POPUPS, fixture().max_backlog_popups);
    }

    #[test]
    fn every_quiet_hours_case_in_the_fixture_holds() {
        let cases = fixture().in_quiet_hours;
        assert!(!cases.is_empty());
        let failures = cases
            .into_iter()
            .filter_map(|c| {
                let got = in_quiet_hours(&c.quiet_hours, c.now);
                (got != c.expected)
                    .then(|| format!("- {}: got {got}, expected {}", c.name, c.expected))
            })
            .collect();
        assert_no_failures(failures);
    }

    #[test]
    fn every_decide_case_in_the_fixture_holds() {
        let cases = fixture().decide;
        assert!(!cases.is_empty());
        let failures = cases
            .into_iter()
            .filter_map(|c| {
                let got = decide(&c.notification, &c.preferences, c.now).map(ExpectedPopup::from);
                (got != c.expected).then(|| {
                    format!(
                        "- {}:\n  got      {got:?}\n  expected {:?}",
                        c.name, c.expected
                    )
                })
            })
            .collect();
        assert_no_failures(failures);
    }

    #[test]
    fn every_plan_case_in_the_fixture_holds() {
        let cases = fixture().plan;
        assert!(!cases.is_empty());
        let failures = cases
            .into_iter()
            .filter_map(|c| {
                let got: Vec<ExpectedPopup> = plan(&c.batch, &c.preferences, c.now)
                    .into_iter()
                    .map(ExpectedPopup::from)
                    .collect();
                (got != c.expected).then(|| {
                    format!(
                        "- {}:\n  got      {got:?}\n  expected {:?}",
                        c.name, c.expected
                    )
                })
            })
            .collect();
        assert_no_failures(failures);
    }
}
