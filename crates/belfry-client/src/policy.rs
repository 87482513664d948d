//! Whether and how a notification becomes an OS pop-up: a pure function of
//! the notification, the admin's preferences and the time, so it is tested
//! on its own and every front end (desktop, CLI) decides alike.

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
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use belfry_proto::{MutedKind, Sounds};
    use time::macros::datetime;

    // 12:00 UTC is 13:00 in Amsterdam (winter time).
    const NOON: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn n(id: u64, severity: Severity, kind: &str) -> Notification {
        Notification {
            id,
            kind: kind.into(),
            severity,
            title: format!("n{id}"),
            body: Some("body".into()),
            link: None,
            data: None,
            created_at: NOON,
        }
    }

    fn quiet(start: &str, end: &str) -> QuietHours {
        QuietHours {
            start: start.into(),
            end: end.into(),
            time_zone: "Europe/Amsterdam".into(),
            critical_breaks_through: true,
        }
    }

    #[test]
    fn warnings_and_criticals_pop_up_by_default_info_does_not() {
        let p = Preferences::default();
        assert_eq!(
            decide(&n(1, Severity::Info, "order.created"), &p, NOON),
            None
        );
        let w = decide(&n(2, Severity::Warning, "stock.low"), &p, NOON).unwrap();
        assert_eq!(
            (w.urgency, w.sound, w.persistent),
            (Urgency::Normal, true, false)
        );
        let c = decide(&n(3, Severity::Critical, "fraud.detected"), &p, NOON).unwrap();
        assert_eq!(
            (c.urgency, c.sound, c.persistent),
            (Urgency::Critical, true, true)
        );
        assert_eq!(c.ids, [3]);
    }

    #[test]
    fn urgency_follows_severity_and_sound_follows_settings() {
        let p = Preferences {
            popup_min_severity: Severity::Info,
            sounds: Sounds {
                info: false,
                warning: false,
                critical: true,
            },
            ..Preferences::default()
        };
        let i = decide(&n(1, Severity::Info, "order.created"), &p, NOON).unwrap();
        assert_eq!(
            (i.urgency, i.sound, i.persistent),
            (Urgency::Low, false, false)
        );
        let w = decide(&n(2, Severity::Warning, "stock.low"), &p, NOON).unwrap();
        assert!(!w.sound);
    }

    #[test]
    fn muted_kinds_stay_silent_until_the_mute_ends() {
        let p = Preferences {
            muted_kinds: vec![
                MutedKind {
                    kind: "stock.low".into(),
                    until: None,
                },
                MutedKind {
                    kind: "refund.requested".into(),
                    until: Some(datetime!(2026-11-29 13:00 UTC)),
                },
            ],
            ..Preferences::default()
        };
        assert_eq!(
            decide(&n(1, Severity::Warning, "stock.low"), &p, NOON),
            None
        );
        assert_eq!(
            decide(&n(2, Severity::Warning, "refund.requested"), &p, NOON),
            None
        );
        let later = datetime!(2026-11-29 13:00 UTC);
        assert!(decide(&n(3, Severity::Warning, "refund.requested"), &p, later).is_some());
        assert!(decide(&n(4, Severity::Warning, "payment.expired"), &p, NOON).is_some());
    }

    #[test]
    fn quiet_hours_silence_all_but_critical_in_their_own_time_zone() {
        let mut p = Preferences {
            quiet_hours: Some(quiet("12:30", "14:00")),
            ..Preferences::default()
        };
        // 13:00 in Amsterdam: quiet.
        assert_eq!(
            decide(&n(1, Severity::Warning, "stock.low"), &p, NOON),
            None
        );
        assert!(decide(&n(2, Severity::Critical, "fraud.detected"), &p, NOON).is_some());
        p.quiet_hours.as_mut().unwrap().critical_breaks_through = false;
        assert_eq!(
            decide(&n(3, Severity::Critical, "fraud.detected"), &p, NOON),
            None
        );
        // 11:00 UTC is 12:00 in Amsterdam: not yet quiet.
        let before = datetime!(2026-11-29 11:00 UTC);
        assert!(decide(&n(4, Severity::Warning, "stock.low"), &p, before).is_some());
    }

    #[test]
    fn quiet_hours_may_span_midnight() {
        let q = quiet("22:00", "07:00");
        assert!(in_quiet_hours(&q, datetime!(2026-11-29 22:30 UTC))); // 23:30 local
        assert!(in_quiet_hours(&q, datetime!(2026-11-29 05:00 UTC))); // 06:00 local
        assert!(!in_quiet_hours(&q, datetime!(2026-11-29 06:00 UTC))); // 07:00 local
        assert!(!in_quiet_hours(&q, NOON));
        assert!(
            !in_quiet_hours(&quiet("25:00", "07:00"), NOON),
            "malformed: ignored"
        );
    }

    #[test]
    fn a_short_backlog_pops_up_one_by_one() {
        let p = Preferences::default();
        let batch: Vec<_> = (1..=3)
            .map(|i| n(i, Severity::Warning, "stock.low"))
            .collect();
        let popups = plan(&batch, &p, NOON);
        assert_eq!(popups.len(), 3);
        assert_eq!(popups[0].title, "n1");
    }

    #[test]
    fn a_long_backlog_becomes_one_summary() {
        let p = Preferences::default();
        let mut batch: Vec<_> = (1..=5)
            .map(|i| n(i, Severity::Warning, "stock.low"))
            .collect();
        batch.push(n(6, Severity::Critical, "fraud.detected"));
        batch.push(n(7, Severity::Critical, "system.error"));
        batch.push(n(8, Severity::Info, "order.created")); // below the minimum: not counted
        let popups = plan(&batch, &p, NOON);
        assert_eq!(popups.len(), 1);
        let s = &popups[0];
        assert_eq!(s.title, "7 new notifications, 2 critical");
        assert_eq!(
            (s.urgency, s.sound, s.persistent),
            (Urgency::Critical, true, true)
        );
        assert_eq!(s.ids, [1, 2, 3, 4, 5, 6, 7]);

        let warnings: Vec<_> = (1..=4)
            .map(|i| n(i, Severity::Warning, "stock.low"))
            .collect();
        let s = &plan(&warnings, &p, NOON)[0];
        assert_eq!(s.title, "4 new notifications");
        assert!(!s.persistent);
    }
}
