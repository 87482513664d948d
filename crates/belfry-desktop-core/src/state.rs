//! The desktop app's state in one plain value, [`DesktopState`]: the
//! settings, who is signed in, the stream's generation and where it
//! stands, the counts and latest notifications, and the alert bookkeeping.
//! The methods live with their concern: [`session`](crate::session),
//! [`stream`](crate::stream) and [`alerts`](crate::alerts). The shell keeps
//! it behind one mutex and never holds that across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use belfry_proto::{Notification, UnreadCounts};

use crate::alerts::realert_every;
use crate::realert::Realerts;
use crate::settings::LocalSettings;
use crate::tray_state::Connection;
use crate::ui::Status;

/// Everything the app knows, apart from its handles (client, tasks, the
/// bundled server), which the shell owns.
#[derive(Debug)]
pub struct DesktopState {
    pub(crate) settings: LocalSettings,
    /// Whether sign-ins to a remote server are kept in an OS keyring.
    pub(crate) keyring: bool,
    pub(crate) email: Option<String>,
    pub(crate) reason: Option<String>,
    /// The bundled server's URL while it runs.
    pub(crate) bundled_url: Option<String>,
    /// The base URL of the client the app has, when it has one.
    pub(crate) client_base: Option<String>,
    /// Bumped whenever the stream is replaced; events of an old one are dropped.
    pub(crate) generation: u64,
    pub(crate) connection: Connection,
    /// The last status sent to the UI, repeated when a window attaches.
    pub(crate) status: Status,
    pub(crate) unread: UnreadCounts,
    pub(crate) last_id: u64,
    /// Newest first, at most [`LATEST`](crate::alerts::LATEST).
    pub(crate) latest: VecDeque<Notification>,
    /// Replayed notifications waiting for `CaughtUp`.
    pub(crate) backlog: Vec<Notification>,
    pub(crate) realerts: Realerts,
    /// Unacknowledged criticals that may be raised again.
    pub(crate) critical: HashMap<u64, Notification>,
}

impl DesktopState {
    /// The state at start: `settings` as loaded, nobody signed in;
    /// `keyring` says whether an OS keyring keeps remote sign-ins.
    pub fn new(settings: LocalSettings, keyring: bool) -> Self {
        let every = realert_every(settings.preferences.as_ref());
        Self {
            settings,
            keyring,
            email: None,
            reason: None,
            bundled_url: None,
            client_base: None,
            generation: 0,
            connection: Connection::SignedOut,
            status: Status::SignedOut {
                reason: "not signed in".to_owned(),
            },
            unread: UnreadCounts::default(),
            last_id: 0,
            latest: VecDeque::new(),
            backlog: Vec::new(),
            realerts: Realerts::new(every.unwrap_or(Duration::MAX)),
            critical: HashMap::new(),
        }
    }

    /// The settings to save.
    pub fn settings(&self) -> &LocalSettings {
        &self.settings
    }

    /// Where the connection stands.
    pub fn connection(&self) -> Connection {
        self.connection
    }

    /// The unread counts as last heard.
    pub fn unread(&self) -> UnreadCounts {
        self.unread
    }

    /// The newest notification id seen.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// The generation of the stream now running.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}
