//! What one event of the notification stream changes. The shell reads
//! belfry-client's stream and hands each [`ClientEvent`] here with the
//! generation of the stream it came from; an event of a replaced stream is
//! dropped. Here live the connection state, the status the UI shows (and
//! repeats to a window that attaches), the unread counts, `last_id` and the
//! resume position saved with the settings. Pop-ups and the tray are
//! [`alerts`](crate::alerts)'s.
//!
//! Order within one event is part of the contract: a live notification's
//! pop-up is decided before the UI hears of it, so whoever sees it in the
//! window knows its pop-up was decided.

use belfry_client::ClientEvent;
use belfry_client::policy;
use belfry_proto::{Notification, Preferences, Severity};

use crate::alerts::{LATEST, realert_every};
use crate::effect::{Effect, Now};
use crate::settings::Resume;
use crate::state::DesktopState;
use crate::tray_state::Connection;
use crate::ui::{Ready, Status, UiEvent};

/// How to open a new stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamStart {
    /// Pass back with each of its events.
    pub generation: u64,
    /// Resume after this id (`Last-Event-ID`), when the stream was on this
    /// server before.
    pub last_event_id: Option<u64>,
}

impl DesktopState {
    /// A new stream replaces the old one: events of the old one are dropped
    /// from now on.
    pub fn start_stream(&mut self) -> StreamStart {
        self.generation += 1;
        StreamStart {
            generation: self.generation,
            last_event_id: self.settings.resume_from(&self.settings.server),
        }
    }

    /// The stream stops: events still on their way are dropped.
    pub fn stop_stream(&mut self) {
        self.generation += 1;
    }

    /// Handles one event of stream `generation`. The effects end with
    /// [`Effect::EndStream`] when that stream is done (replaced, signed out,
    /// or given up).
    pub fn handle(&mut self, generation: u64, event: ClientEvent, now: Now) -> Vec<Effect> {
        if self.generation != generation {
            return vec![Effect::EndStream];
        }
        let mut effects = Vec::new();
        match event {
            ClientEvent::Connecting => {
                self.connection = if self.connection == Connection::SignedOut {
                    Connection::Connecting
                } else {
                    Connection::Reconnecting
                };
                self.set_status(Status::Connecting, &mut effects);
            }
            ClientEvent::Live { unread, last_id } => {
                self.connection = Connection::Live;
                self.unread = unread;
                self.last_id = self.last_id.max(last_id);
                self.backlog.clear();
                self.set_status(
                    Status::Live {
                        since: now.unix_ms(),
                    },
                    &mut effects,
                );
                effects.push(Effect::Ui(UiEvent::Ready {
                    ready: Ready { last_id, unread },
                }));
            }
            ClientEvent::Reconnecting {
                attempt,
                retry_in,
                reason,
            } => {
                self.connection = Connection::Reconnecting;
                let retry_in = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX / 2);
                let status = Status::Reconnecting {
                    retry_at: now.unix_ms().saturating_add(retry_in),
                    attempt,
                    reason,
                };
                self.set_status(status, &mut effects);
            }
            ClientEvent::AuthRequired { reason } => {
                tracing::info!(%reason, "the sign-in ended");
                self.session_ended(reason, &mut effects);
                effects.push(Effect::EndStream);
                return effects;
            }
            ClientEvent::Stopped { error } => {
                self.connection = Connection::Reconnecting;
                let status = Status::Offline {
                    reason: error.to_string(),
                };
                self.set_status(status, &mut effects);
                effects.push(Effect::RedrawTray);
                effects.push(Effect::EndStream);
                return effects;
            }
            ClientEvent::Notification {
                notification,
                replayed,
            } => self.notification(notification, replayed, now, &mut effects),
            ClientEvent::CaughtUp { .. } => {
                let backlog = std::mem::take(&mut self.backlog);
                let prefs = self.settings.preferences.clone().unwrap_or_default();
                self.save_resume(&mut effects);
                for popup in policy::plan(&backlog, &prefs, now.wall) {
                    let single = backlog.iter().find(|n| popup.ids == [n.id]).cloned();
                    self.raise(popup, single, now, &mut effects);
                }
            }
            ClientEvent::Read(read) => {
                self.unread = read.unread;
                effects.push(Effect::Ui(UiEvent::Read { read }));
            }
            ClientEvent::Ack(ack) => {
                if ack.ack.is_some() {
                    self.acknowledged(ack.id);
                    effects.push(Effect::ClosePopup(ack.id));
                }
                effects.push(Effect::Ui(UiEvent::Ack { ack }));
            }
            ClientEvent::Preferences(p) => {
                self.adopt_preferences(p.clone(), &mut effects);
                effects.push(Effect::Ui(UiEvent::Preferences { preferences: p }));
            }
            ClientEvent::Reset { reason } => {
                effects.push(Effect::Ui(UiEvent::Reset { reason }));
            }
            other => tracing::debug!(?other, "unhandled stream event"),
        }
        effects.push(Effect::RedrawTray);
        effects
    }

    /// A window (re)attached: it gets the current status, then `ready` with
    /// the counts so it loads the history.
    pub fn attach(&self) -> Vec<Effect> {
        let mut effects = vec![Effect::Ui(UiEvent::Status {
            status: self.status.clone(),
        })];
        if self.connection == Connection::Live {
            effects.push(Effect::Ui(UiEvent::Ready {
                ready: Ready {
                    last_id: self.last_id,
                    unread: self.unread,
                },
            }));
        }
        effects
    }

    /// The server's preferences, fetched when stream `generation` started
    /// (the cached ones may be stale); ignored if that stream was replaced.
    pub fn preferences_fetched(&mut self, generation: u64, p: Preferences) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.generation == generation {
            self.adopt_preferences(p, &mut effects);
        }
        effects
    }

    fn adopt_preferences(&mut self, p: Preferences, effects: &mut Vec<Effect>) {
        if let Some(every) = realert_every(Some(&p)) {
            self.realerts.set_every(every);
        }
        self.settings.preferences = Some(p);
        effects.push(Effect::SaveSettings);
    }

    pub(crate) fn set_status(&mut self, status: Status, effects: &mut Vec<Effect>) {
        self.status = status.clone();
        effects.push(Effect::Ui(UiEvent::Status { status }));
    }

    fn notification(
        &mut self,
        n: Notification,
        replayed: bool,
        now: Now,
        effects: &mut Vec<Effect>,
    ) {
        self.last_id = self.last_id.max(n.id);
        self.latest.push_front(n.clone());
        self.latest.truncate(LATEST);
        if n.severity == Severity::Critical {
            self.track_critical(n.clone());
        }
        if replayed {
            // Raised as one batch at `CaughtUp`.
            self.backlog.push(n.clone());
        } else {
            self.unread.total += 1;
            match n.severity {
                Severity::Info => self.unread.info += 1,
                Severity::Warning => self.unread.warning += 1,
                Severity::Critical => self.unread.critical += 1,
            }
            let prefs = self.settings.preferences.clone().unwrap_or_default();
            if let Some(popup) = policy::decide(&n, &prefs, now.wall) {
                self.raise(popup, Some(n.clone()), now, effects);
            }
        }
        effects.push(Effect::Ui(UiEvent::Notification {
            notification: n,
            replayed,
        }));
        if !replayed {
            self.save_resume(effects);
        }
    }

    /// Remembers where the stream is, so the next start resumes there.
    fn save_resume(&mut self, effects: &mut Vec<Effect>) {
        if self.last_id > 0 {
            self.settings.resume = Some(Resume {
                server: self.settings.server.identity(),
                last_id: self.last_id,
            });
            effects.push(Effect::SaveSettings);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::settings::LocalSettings;
    use crate::testing::{notification, now, remote, signed_in};
    use belfry_proto::UnreadCounts;

    fn live(s: &mut DesktopState, generation: u64) {
        s.handle(
            generation,
            ClientEvent::Live {
                unread: UnreadCounts::default(),
                last_id: 0,
            },
            now(),
        );
    }

    #[test]
    fn a_live_notification_raises_its_popup_before_the_ui_hears_of_it() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        let n = notification(7, Severity::Warning);
        let effects = s.handle(
            generation,
            ClientEvent::Notification {
                notification: n.clone(),
                replayed: false,
            },
            now(),
        );
        assert!(
            matches!(&effects[0], Effect::ShowPopup { popup, single: Some(single) } if popup.ids == [7] && single.id == 7),
            "{effects:?}"
        );
        assert_eq!(
            effects[1..],
            [
                Effect::Ui(UiEvent::Notification {
                    notification: n,
                    replayed: false
                }),
                Effect::SaveSettings,
                Effect::RedrawTray,
            ]
        );
        assert_eq!(s.unread().warning, 1);
        assert_eq!(s.settings().resume.as_ref().map(|r| r.last_id), Some(7));
    }

    #[test]
    fn a_replayed_backlog_raises_nothing_until_caught_up_then_one_summary_above_three() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        for id in 1..=4 {
            let effects = s.handle(
                generation,
                ClientEvent::Notification {
                    notification: notification(id, Severity::Warning),
                    replayed: true,
                },
                now(),
            );
            assert!(
                !effects
                    .iter()
                    .any(|e| matches!(e, Effect::ShowPopup { .. } | Effect::SaveSettings)),
                "{effects:?}"
            );
        }
        // Replayed notifications were counted in the server's `Live` counts.
        assert_eq!(s.unread().total, 0);
        let effects = s.handle(generation, ClientEvent::CaughtUp { replayed: 4 }, now());
        let popups: Vec<_> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::ShowPopup { popup, single } => Some((popup, single)),
                _ => None,
            })
            .collect();
        assert_eq!(popups.len(), 1, "{effects:?}");
        assert_eq!(popups[0].0.ids, [1, 2, 3, 4]);
        assert_eq!(popups[0].1, &None);
        assert_eq!(effects[0], Effect::SaveSettings);
        // Caught up: the backlog is spent.
        let again = s.handle(generation, ClientEvent::CaughtUp { replayed: 0 }, now());
        assert!(!again.iter().any(|e| matches!(e, Effect::ShowPopup { .. })));
    }

    #[test]
    fn a_backlog_of_three_raises_each_with_its_notification() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        for id in 1..=3 {
            s.handle(
                generation,
                ClientEvent::Notification {
                    notification: notification(id, Severity::Critical),
                    replayed: true,
                },
                now(),
            );
        }
        let effects = s.handle(generation, ClientEvent::CaughtUp { replayed: 3 }, now());
        let singles: Vec<u64> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::ShowPopup {
                    single: Some(n), ..
                } => Some(n.id),
                _ => None,
            })
            .collect();
        assert_eq!(singles, [1, 2, 3]);
    }

    #[test]
    fn an_event_of_an_old_stream_generation_is_ignored() {
        let (mut s, old) = signed_in(LocalSettings::default());
        let new = s.start_stream().generation;
        let effects = s.handle(
            old,
            ClientEvent::Notification {
                notification: notification(9, Severity::Critical),
                replayed: false,
            },
            now(),
        );
        assert_eq!(effects, [Effect::EndStream]);
        assert_eq!(s.last_id(), 0);
        assert_eq!(s.unread().total, 0);
        assert!(s.tray_view(now().wall).latest.is_empty());
        assert!(
            s.preferences_fetched(old, Preferences::default())
                .is_empty()
        );
        assert_eq!(
            s.preferences_fetched(new, Preferences::default()),
            [Effect::SaveSettings]
        );
    }

    #[test]
    fn live_sets_unread_and_last_id_and_clears_the_backlog() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        s.handle(
            generation,
            ClientEvent::Notification {
                notification: notification(5, Severity::Critical),
                replayed: true,
            },
            now(),
        );
        let unread = UnreadCounts {
            total: 8,
            info: 5,
            warning: 2,
            critical: 1,
        };
        let effects = s.handle(generation, ClientEvent::Live { unread, last_id: 3 }, now());
        assert_eq!(s.connection(), Connection::Live);
        assert_eq!(s.unread(), unread);
        // `last_id` never goes back; `ready` says what the server said.
        assert_eq!(s.last_id(), 5);
        assert_eq!(
            effects,
            [
                Effect::Ui(UiEvent::Status {
                    status: Status::Live {
                        since: now().unix_ms()
                    }
                }),
                Effect::Ui(UiEvent::Ready {
                    ready: Ready { last_id: 3, unread }
                }),
                Effect::RedrawTray,
            ]
        );
        let caught_up = s.handle(generation, ClientEvent::CaughtUp { replayed: 1 }, now());
        assert!(
            !caught_up
                .iter()
                .any(|e| matches!(e, Effect::ShowPopup { .. }))
        );
    }

    #[test]
    fn the_first_attempt_is_connecting_and_later_ones_reconnecting_with_a_retry_time() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        s.handle(generation, ClientEvent::Connecting, now());
        assert_eq!(s.connection(), Connection::Connecting);
        let effects = s.handle(
            generation,
            ClientEvent::Reconnecting {
                attempt: 2,
                retry_in: Duration::from_millis(1500),
                reason: "refused".into(),
            },
            now(),
        );
        assert_eq!(s.connection(), Connection::Reconnecting);
        assert_eq!(
            effects[0],
            Effect::Ui(UiEvent::Status {
                status: Status::Reconnecting {
                    retry_at: now().unix_ms() + 1500,
                    attempt: 2,
                    reason: "refused".into()
                }
            })
        );
        s.handle(generation, ClientEvent::Connecting, now());
        assert_eq!(s.connection(), Connection::Reconnecting);
    }

    #[test]
    fn auth_required_on_a_remote_server_signs_out_and_drops_the_tokens() {
        let (mut s, generation) = signed_in(remote("https://b.example"));
        live(&mut s, generation);
        let effects = s.handle(
            generation,
            ClientEvent::AuthRequired {
                reason: "the sign-in expired".into(),
            },
            now(),
        );
        assert_eq!(s.email(), None);
        assert_eq!(s.connection(), Connection::SignedOut);
        let info = s.session_info();
        assert_eq!(info.reason.as_deref(), Some("the sign-in expired"));
        assert_eq!(
            effects,
            [
                Effect::Ui(UiEvent::Status {
                    status: Status::SignedOut {
                        reason: "the sign-in expired".into()
                    }
                }),
                Effect::Session(info),
                Effect::RedrawTray,
                Effect::ForgetTokens,
                Effect::EndStream,
            ]
        );
    }

    #[test]
    fn auth_required_on_the_bundled_server_asks_to_boot_again() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        let effects = s.handle(
            generation,
            ClientEvent::AuthRequired {
                reason: "expired".into(),
            },
            now(),
        );
        assert_eq!(
            effects[effects.len() - 2..],
            [Effect::BootAgain, Effect::EndStream]
        );
        assert!(!effects.contains(&Effect::ForgetTokens));
    }

    #[test]
    fn a_stream_that_gives_up_shows_offline_and_ends() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        live(&mut s, generation);
        let effects = s.handle(
            generation,
            ClientEvent::Stopped {
                error: belfry_client::Error::AuthRequired {
                    reason: "gone".into(),
                },
            },
            now(),
        );
        assert_eq!(s.connection(), Connection::Reconnecting);
        assert!(matches!(
            &effects[..],
            [
                Effect::Ui(UiEvent::Status {
                    status: Status::Offline { .. }
                }),
                Effect::RedrawTray,
                Effect::EndStream
            ]
        ));
    }

    #[test]
    fn a_window_that_attaches_hears_the_status_and_ready_once_live() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        assert_eq!(
            s.attach(),
            [Effect::Ui(UiEvent::Status {
                status: Status::SignedOut {
                    reason: "not signed in".into()
                }
            })]
        );
        live(&mut s, generation);
        s.handle(
            generation,
            ClientEvent::Notification {
                notification: notification(12, Severity::Info),
                replayed: false,
            },
            now(),
        );
        let effects = s.attach();
        assert_eq!(effects.len(), 2);
        assert!(matches!(
            &effects[1],
            Effect::Ui(UiEvent::Ready { ready: Ready { last_id: 12, unread } }) if unread.total == 1
        ));
    }

    #[test]
    fn new_preferences_are_kept_saved_and_passed_on() {
        let (mut s, generation) = signed_in(LocalSettings::default());
        let p = Preferences {
            popup_min_severity: Severity::Critical,
            ..Preferences::default()
        };
        let effects = s.handle(generation, ClientEvent::Preferences(p.clone()), now());
        assert_eq!(s.settings().preferences.as_ref(), Some(&p));
        assert_eq!(
            effects,
            [
                Effect::SaveSettings,
                Effect::Ui(UiEvent::Preferences { preferences: p }),
                Effect::RedrawTray
            ]
        );
        // Warnings are below the minimum now: no pop-up.
        let effects = s.handle(
            generation,
            ClientEvent::Notification {
                notification: notification(1, Severity::Warning),
                replayed: false,
            },
            now(),
        );
        assert!(
            !effects
                .iter()
                .any(|e| matches!(e, Effect::ShowPopup { .. }))
        );
    }
}
