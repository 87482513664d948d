//! Where a click goes: tray menu ids (namespaced constants, `tray::…`) and
//! notification actions, parsed into one [`Action`] the app carries out.

/// Quit the app (the only way out: closing the window hides it).
pub const TRAY_QUIT: &str = "tray::quit";
/// Show the window.
pub const TRAY_OPEN: &str = "tray::open";
/// Mark every notification read.
pub const TRAY_MARK_ALL_READ: &str = "tray::mark-all-read";
/// Pause pop-ups for an hour.
pub const TRAY_PAUSE_HOUR: &str = "tray::pause-1h";
/// Pause pop-ups until tomorrow morning.
pub const TRAY_PAUSE_TOMORROW: &str = "tray::pause-tomorrow";
/// Resume pop-ups.
pub const TRAY_RESUME: &str = "tray::resume";
/// Prefix of the "latest notifications" entries: `tray::notification::<id>`.
pub const TRAY_NOTIFICATION_PREFIX: &str = "tray::notification::";

/// The notification action keys (freedesktop `actions`); `default` is what
/// servers send for a click on the pop-up itself.
pub const NOTIFY_DEFAULT: &str = "default";
pub const NOTIFY_OPEN: &str = "open";
pub const NOTIFY_ACKNOWLEDGE: &str = "acknowledge";

/// How long pop-ups pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    OneHour,
    UntilTomorrow,
}

/// The hour "until tomorrow" ends, local time: the start of a working day.
pub const PAUSE_UNTIL_HOUR: i8 = 8;

impl Pause {
    /// When a pause started at `now` ends, as a Unix time: an hour later, or
    /// tomorrow at [`PAUSE_UNTIL_HOUR`] in `now`'s own time zone (so a pause
    /// started in the evening ends in the morning where the admin is).
    pub fn until(self, now: &jiff::Zoned) -> i64 {
        match self {
            Pause::OneHour => now.timestamp().as_second() + 3600,
            Pause::UntilTomorrow => now
                .date()
                .tomorrow()
                .and_then(|d| {
                    d.at(PAUSE_UNTIL_HOUR, 0, 0, 0)
                        .to_zoned(now.time_zone().clone())
                })
                .map_or(now.timestamp().as_second() + 12 * 3600, |z| {
                    z.timestamp().as_second()
                }),
        }
    }
}

/// Something the user asked for from the tray or a pop-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Show the window; on that notification when there is one.
    Open(Option<u64>),
    Acknowledge(u64),
    MarkAllRead,
    PausePopups(Pause),
    ResumePopups,
    Quit,
}

/// The menu id of a "latest notifications" entry.
pub fn tray_notification_id(id: u64) -> String {
    format!("{TRAY_NOTIFICATION_PREFIX}{id}")
}

/// The action behind a tray menu id; `None` for ids that are not ours.
pub fn from_tray(menu_id: &str) -> Option<Action> {
    Some(match menu_id {
        TRAY_QUIT => Action::Quit,
        TRAY_OPEN => Action::Open(None),
        TRAY_MARK_ALL_READ => Action::MarkAllRead,
        TRAY_PAUSE_HOUR => Action::PausePopups(Pause::OneHour),
        TRAY_PAUSE_TOMORROW => Action::PausePopups(Pause::UntilTomorrow),
        TRAY_RESUME => Action::ResumePopups,
        other => Action::Open(Some(
            other.strip_prefix(TRAY_NOTIFICATION_PREFIX)?.parse().ok()?,
        )),
    })
}

/// The action a pop-up's action key asks for, for the notification(s) it
/// stands for. A backlog summary opens the window on the list; only a
/// single notification can be acknowledged from its pop-up.
pub fn from_notification(action_key: &str, ids: &[u64]) -> Option<Action> {
    let single = match ids {
        [id] => Some(*id),
        _ => None,
    };
    match action_key {
        NOTIFY_DEFAULT | NOTIFY_OPEN => Some(Action::Open(single)),
        NOTIFY_ACKNOWLEDGE => single.map(Action::Acknowledge),
        _ => None,
    }
}

/// The buttons a pop-up offers, as (action key, label): every pop-up opens;
/// only a single critical alert can be acknowledged from it.
pub fn popup_buttons(ids: &[u64], critical: bool) -> Vec<(&'static str, &'static str)> {
    let mut buttons = vec![(NOTIFY_DEFAULT, "Open"), (NOTIFY_OPEN, "Open")];
    if critical && ids.len() == 1 {
        buttons.push((NOTIFY_ACKNOWLEDGE, "Acknowledge"));
    }
    buttons
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_until_tomorrow_ends_at_eight_in_the_admins_own_zone() {
        let evening: jiff::Zoned = "2026-11-29T22:30:00+01:00[Europe/Amsterdam]"
            .parse()
            .unwrap();
        let end: jiff::Zoned = "2026-11-30T08:00:00+01:00[Europe/Amsterdam]"
            .parse()
            .unwrap();
        assert_eq!(
            Pause::UntilTomorrow.until(&evening),
            end.timestamp().as_second()
        );
        assert_eq!(
            Pause::OneHour.until(&evening),
            evening.timestamp().as_second() + 3600
        );
        // Across a daylight-saving change the local hour still holds.
        let before_dst: jiff::Zoned = "2026-03-28T23:00:00+01:00[Europe/Amsterdam]"
            .parse()
            .unwrap();
        let after: jiff::Zoned = "2026-03-29T08:00:00+02:00[Europe/Amsterdam]"
            .parse()
            .unwrap();
        assert_eq!(
            Pause::UntilTomorrow.until(&before_dst),
            after.timestamp().as_second()
        );
    }

    #[test]
    fn only_a_single_critical_popup_offers_acknowledge() {
        assert!(popup_buttons(&[1], true).contains(&(NOTIFY_ACKNOWLEDGE, "Acknowledge")));
        assert!(
            !popup_buttons(&[1], false)
                .iter()
                .any(|b| b.0 == NOTIFY_ACKNOWLEDGE)
        );
        assert!(
            !popup_buttons(&[1, 2, 3, 4], true)
                .iter()
                .any(|b| b.0 == NOTIFY_ACKNOWLEDGE)
        );
    }

    #[test]
    fn tray_ids_route_to_their_actions() {
        assert_eq!(from_tray(TRAY_QUIT), Some(Action::Quit));
        assert_eq!(from_tray(TRAY_OPEN), Some(Action::Open(None)));
        assert_eq!(from_tray(TRAY_MARK_ALL_READ), Some(Action::MarkAllRead));
        assert_eq!(
            from_tray(TRAY_PAUSE_TOMORROW),
            Some(Action::PausePopups(Pause::UntilTomorrow))
        );
        assert_eq!(from_tray(TRAY_RESUME), Some(Action::ResumePopups));
    }

    #[test]
    fn a_latest_notification_entry_opens_that_notification() {
        assert_eq!(
            from_tray(&tray_notification_id(42)),
            Some(Action::Open(Some(42)))
        );
        assert_eq!(from_tray("tray::notification::nope"), None);
        assert_eq!(from_tray("someone-else::quit"), None);
    }

    #[test]
    fn clicking_a_popup_opens_it_and_acknowledge_acks_it() {
        assert_eq!(
            from_notification(NOTIFY_DEFAULT, &[9]),
            Some(Action::Open(Some(9)))
        );
        assert_eq!(
            from_notification(NOTIFY_OPEN, &[9]),
            Some(Action::Open(Some(9)))
        );
        assert_eq!(
            from_notification(NOTIFY_ACKNOWLEDGE, &[9]),
            Some(Action::Acknowledge(9))
        );
    }

    #[test]
    fn a_backlog_summary_opens_the_list_and_cannot_be_acknowledged() {
        assert_eq!(
            from_notification(NOTIFY_DEFAULT, &[1, 2, 3, 4]),
            Some(Action::Open(None))
        );
        assert_eq!(from_notification(NOTIFY_ACKNOWLEDGE, &[1, 2, 3, 4]), None);
        assert_eq!(from_notification("closed", &[1]), None);
    }
}
