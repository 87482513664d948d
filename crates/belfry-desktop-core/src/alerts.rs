//! Which pop-ups go up and what the tray shows: a pop-up the policy
//! ([`belfry_client::policy`]) decided is raised unless pop-ups are paused
//! (critical ones still show); unacknowledged criticals are tracked (at most
//! [`MAX_TRACKED_CRITICAL`]) and raised again through [`Realerts`] until an
//! ack from anyone arrives; the tray's icon, tooltip and latest entries come
//! from [`TrayState`] and the state.
//!
//! [`Realerts`]: crate::realert::Realerts

use std::time::{Duration, Instant};

use belfry_client::policy::{self, Popup, Urgency};
use belfry_proto::{Notification, Preferences};
use time::OffsetDateTime;

use crate::effect::{Effect, Now};
use crate::state::DesktopState;
use crate::tray_state::TrayState;

/// Entries of the tray's "latest notifications".
pub const LATEST: usize = 5;
/// Unacknowledged criticals kept for re-alerts; older ones are let go, so a
/// flood of criticals nobody handles cannot grow the app without bound.
pub const MAX_TRACKED_CRITICAL: usize = 500;
/// What the tooltip adds while pop-ups are paused.
pub const PAUSED_NOTE: &str = "\nPop-ups paused (critical ones still show)";

/// What the tray shows now.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayView {
    pub state: TrayState,
    /// Newest first.
    pub latest: Vec<Notification>,
    /// Pop-ups are paused until this Unix time.
    pub paused_until: Option<i64>,
}

/// The re-alert interval of these preferences; `None` when re-alerts are off.
pub fn realert_every(p: Option<&Preferences>) -> Option<Duration> {
    let minutes = p.map_or(Preferences::default().realert_minutes, |p| {
        p.realert_minutes
    });
    (minutes > 0).then(|| Duration::from_secs(u64::from(minutes) * 60))
}

impl DesktopState {
    /// Until when pop-ups are paused, if they are at `now`.
    pub fn popups_paused_until(&self, now: OffsetDateTime) -> Option<i64> {
        self.settings
            .paused_until
            .filter(|until| now.unix_timestamp() < *until)
    }

    /// Pauses pop-ups other than critical ones until `until` (a Unix time).
    pub fn pause_popups(&mut self, until: i64) -> Vec<Effect> {
        self.settings.paused_until = Some(until);
        vec![Effect::SaveSettings, Effect::RedrawTray]
    }

    /// Lets every pop-up through again.
    pub fn resume_popups(&mut self) -> Vec<Effect> {
        self.settings.paused_until = None;
        vec![Effect::SaveSettings, Effect::RedrawTray]
    }

    /// What the tray shows at `now`.
    pub fn tray_view(&self, now: OffsetDateTime) -> TrayView {
        let mut state = TrayState::new(&self.unread, self.connection);
        let paused_until = self.popups_paused_until(now);
        if paused_until.is_some() {
            state.tooltip.push_str(PAUSED_NOTE);
        }
        TrayView {
            state,
            latest: self.latest.iter().cloned().collect(),
            paused_until,
        }
    }

    /// Someone acknowledged `id` (here, on another device, or while the app
    /// was away): it is never raised again.
    pub fn acknowledged(&mut self, id: u64) {
        self.realerts.acknowledged(id);
        self.critical.remove(&id);
    }

    /// The tracked criticals due to be raised again at `now`, each
    /// rescheduled. The shell may first ask the server whether one was
    /// acknowledged meanwhile (then [`acknowledged`](Self::acknowledged)),
    /// and raises the others with [`reraise`](Self::reraise).
    pub fn due_realerts(&mut self, now: Now) -> Vec<Notification> {
        let ids = self.realerts.take_due(now.instant);
        let mut due = Vec::new();
        for id in ids {
            match self.critical.get(&id) {
                Some(n) => due.push(n.clone()),
                // Let go of (signed out, or over the bound): never due again.
                None => self.realerts.acknowledged(id),
            }
        }
        due
    }

    /// When the next re-alert is due, for the shell to sleep until then;
    /// `None` when no critical waits for an ack.
    pub fn next_realert(&self) -> Option<Instant> {
        self.realerts.next_due()
    }

    /// The pop-up that raises `n` again, as the preferences allow at `now`.
    pub fn reraise(&self, n: &Notification, now: OffsetDateTime) -> Vec<Effect> {
        let prefs = self.settings.preferences.clone().unwrap_or_default();
        policy::decide(n, &prefs, now)
            .map(|mut popup| {
                popup.title = format!("Still unacknowledged: {}", popup.title);
                Effect::ShowPopup {
                    popup,
                    single: None,
                }
            })
            .into_iter()
            .collect()
    }

    /// Tracks an unacknowledged critical for re-alerts.
    pub(crate) fn track_critical(&mut self, n: Notification) {
        self.critical.insert(n.id, n);
        // Bounded: the oldest unacknowledged criticals are let go.
        while self.critical.len() > MAX_TRACKED_CRITICAL {
            let Some(oldest) = self.critical.keys().min().copied() else {
                break;
            };
            self.acknowledged(oldest);
        }
    }

    /// Shows a pop-up unless pop-ups are paused (critical ones still show),
    /// and schedules re-alerts of a critical one.
    pub(crate) fn raise(
        &mut self,
        popup: Popup,
        single: Option<Notification>,
        now: Now,
        effects: &mut Vec<Effect>,
    ) {
        if self.popups_paused_until(now.wall).is_some() && popup.urgency != Urgency::Critical {
            tracing::debug!(ids = ?popup.ids, "pop-ups are paused");
            return;
        }
        if popup.urgency == Urgency::Critical
            && let [id] = popup.ids.as_slice()
            && (realert_every(self.settings.preferences.as_ref()).is_some()
                || self.settings.preferences.is_none())
        {
            self.realerts.raised(*id, now.instant);
        }
        effects.push(Effect::ShowPopup { popup, single });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::LocalSettings;
    use crate::testing::{ack_event, later, notification, now, signed_in};
    use crate::tray_state::TrayIcon;
    use belfry_client::ClientEvent;
    use belfry_proto::Severity;

    fn live_notification(
        s: &mut DesktopState,
        generation: u64,
        n: Notification,
        at: Now,
    ) -> Vec<Effect> {
        s.handle(
            generation,
            ClientEvent::Notification {
                notification: n,
                replayed: false,
            },
            at,
        )
    }

    fn popup_ids(effects: &[Effect]) -> Vec<Vec<u64>> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::ShowPopup { popup, .. } => Some(popup.ids.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_unacknowledged_critical_is_raised_again_when_due() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        live_notification(
            &mut s,
            generation,
            notification(3, Severity::Critical),
            now(),
        );
        assert!(s.due_realerts(later(4 * 60)).is_empty());
        let due = s.due_realerts(later(5 * 60));
        assert_eq!(due.iter().map(|n| n.id).collect::<Vec<_>>(), [3]);
        let effects = s.reraise(&due[0], later(5 * 60).wall);
        assert!(matches!(
            &effects[..],
            [Effect::ShowPopup { popup, single: None }] if popup.title.starts_with("Still unacknowledged: ")
        ));
    }

    #[test]
    fn an_ack_from_anyone_stops_realerts_forgets_the_critical_and_closes_its_popup() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        live_notification(
            &mut s,
            generation,
            notification(3, Severity::Critical),
            now(),
        );
        let ack = ack_event(3, true);
        let effects = s.handle(generation, ClientEvent::Ack(ack.clone()), now());
        assert_eq!(
            effects,
            [
                Effect::ClosePopup(3),
                Effect::Ui(crate::ui::UiEvent::Ack { ack }),
                Effect::RedrawTray
            ]
        );
        assert!(s.critical.is_empty());
        assert!(s.due_realerts(later(60 * 60)).is_empty());
    }

    #[test]
    fn the_next_realert_is_due_one_interval_after_the_critical_and_ends_with_the_session() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        assert_eq!(s.next_realert(), None);
        live_notification(
            &mut s,
            generation,
            notification(3, Severity::Critical),
            now(),
        );
        assert_eq!(s.next_realert(), Some(later(5 * 60).instant));
        assert_eq!(s.due_realerts(later(5 * 60)).len(), 1);
        assert_eq!(s.next_realert(), Some(later(10 * 60).instant));
        s.sign_out();
        assert_eq!(s.next_realert(), None);
        assert!(s.due_realerts(later(10 * 60)).is_empty());
    }

    #[test]
    fn a_release_keeps_the_critical_alerting() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        live_notification(
            &mut s,
            generation,
            notification(3, Severity::Critical),
            now(),
        );
        let effects = s.handle(generation, ClientEvent::Ack(ack_event(3, false)), now());
        assert!(!effects.contains(&Effect::ClosePopup(3)));
        assert_eq!(s.due_realerts(later(5 * 60)).len(), 1);
    }

    #[test]
    fn with_popups_paused_only_criticals_show() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        let until = now().wall.unix_timestamp() + 3600;
        assert_eq!(
            s.pause_popups(until),
            [Effect::SaveSettings, Effect::RedrawTray]
        );
        let warning = live_notification(
            &mut s,
            generation,
            notification(1, Severity::Warning),
            now(),
        );
        assert!(popup_ids(&warning).is_empty());
        // The notification still reaches the UI.
        assert!(warning.iter().any(|e| matches!(e, Effect::Ui(_))));
        let critical = live_notification(
            &mut s,
            generation,
            notification(2, Severity::Critical),
            now(),
        );
        assert_eq!(popup_ids(&critical), [vec![2]]);
        // Once the pause is over, everything shows again.
        let after = live_notification(
            &mut s,
            generation,
            notification(3, Severity::Warning),
            later(3601),
        );
        assert_eq!(popup_ids(&after), [vec![3]]);
        s.resume_popups();
        assert_eq!(s.settings().paused_until, None);
    }

    #[test]
    fn the_501st_tracked_critical_lets_the_oldest_go() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        for id in 1..=(MAX_TRACKED_CRITICAL as u64 + 1) {
            live_notification(
                &mut s,
                generation,
                notification(id, Severity::Critical),
                now(),
            );
        }
        assert_eq!(s.critical.len(), MAX_TRACKED_CRITICAL);
        assert!(!s.critical.contains_key(&1));
        assert!(s.critical.contains_key(&2));
        let due: Vec<u64> = s.due_realerts(later(5 * 60)).iter().map(|n| n.id).collect();
        assert_eq!(due.len(), MAX_TRACKED_CRITICAL);
        assert_eq!(due.first(), Some(&2));
    }

    #[test]
    fn realerts_are_off_when_the_preferences_say_zero_minutes() {
        let settings = LocalSettings {
            preferences: Some(Preferences {
                realert_minutes: 0,
                ..Preferences::default()
            }),
            ..LocalSettings::default()
        };
        let (mut s, generation) = signed_in(settings);
        live_notification(
            &mut s,
            generation,
            notification(3, Severity::Critical),
            now(),
        );
        assert!(s.due_realerts(later(24 * 3600)).is_empty());
    }

    #[test]
    fn the_tray_keeps_the_latest_five_newest_first() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        for id in 1..=7 {
            live_notification(&mut s, generation, notification(id, Severity::Info), now());
        }
        let view = s.tray_view(now().wall);
        let ids: Vec<u64> = view.latest.iter().map(|n| n.id).collect();
        assert_eq!(ids, [7, 6, 5, 4, 3]);
        assert_eq!(view.paused_until, None);
    }

    #[test]
    fn the_tray_tooltip_says_popups_are_paused() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        s.handle(
            generation,
            ClientEvent::Live {
                unread: Default::default(),
                last_id: 0,
            },
            now(),
        );
        let until = now().wall.unix_timestamp() + 60;
        s.pause_popups(until);
        let view = s.tray_view(now().wall);
        assert_eq!(view.state.icon, TrayIcon::Idle);
        assert_eq!(
            view.state.tooltip,
            "Belfry: no unread notifications (connected)\nPop-ups paused (critical ones still show)"
        );
        assert_eq!(view.paused_until, Some(until));
        let view = s.tray_view(later(60).wall);
        assert!(!view.state.tooltip.contains("paused"));
        assert_eq!(view.paused_until, None);
    }
}
