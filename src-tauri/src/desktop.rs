//! The Tauri shell around [`DesktopState`] (belfry-desktop-core), which
//! holds the app's logic. This module owns what the core must not: the
//! `AppHandle`, the belfry-client [`Client`], the stream task, the bundled
//! server, keyring I/O and the settings file. It feeds the core what
//! happens and carries out the [`Effect`]s it returns: emit to the window,
//! show or close a pop-up, redraw the tray, save the settings.
//!
//! The stream runs whether or not the window is open, so alerts keep coming
//! while the app lives in the tray. State sits behind one `std::sync::Mutex`
//! that is never held across an `.await`; effects are carried out after it
//! is released. Saving the settings hands a copy to the [`Saver`], which
//! writes at most once a second on a blocking thread; the copy is taken and
//! handed over under the lock, so the newest state is always the last one
//! recorded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use belfry_client::credentials::{CredentialStore, Key, KeyringStore, MemoryStore};
use belfry_client::policy::Popup;
use belfry_client::{Client, ClientEvent, Error, HistoryQuery, StreamConfig};
use belfry_proto::{MarkRead, Notification, UnreadCounts};
use tauri::{AppHandle, Manager};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use belfry_desktop_core::actions::Action;
use belfry_desktop_core::alerts::TrayView;
use belfry_desktop_core::effect::{Effect, Now};
use belfry_desktop_core::session::{self, KEYRING_SERVICE};
use belfry_desktop_core::settings::{LocalSettings, ServerChoice, SettingsFile};
use belfry_desktop_core::state::DesktopState;
use belfry_desktop_core::tray_state::Connection;
use belfry_desktop_core::ui::SessionInfo;

use crate::bundled::{self, Bundled};
use crate::saver::{SAVE_EVERY, Saver};
use crate::schedule;

/// The connection and everything the app knows through it.
pub struct Desktop {
    app: AppHandle,
    saver: Saver<LocalSettings>,
    data_dir: PathBuf,
    keyring: Option<Arc<dyn CredentialStore>>,
    inner: Mutex<Inner>,
    /// `true` once the first server choice is set up (signed in or not), so
    /// the UI's first question waits instead of flashing a sign-in screen.
    booted: watch::Sender<bool>,
    /// Pokes [`Desktop::realert_loop`] when the next re-alert moved (a
    /// critical raised, acknowledged or let go), so it sleeps exactly until
    /// the next one is due instead of polling.
    realert_wake: Notify,
}

struct Inner {
    state: DesktopState,
    client: Option<Client>,
    stream: Option<tauri::async_runtime::JoinHandle<()>>,
    bundled: Option<Bundled>,
}

impl Desktop {
    /// The connection manager for `app`, with settings under `config_dir`
    /// and the bundled server's data under `data_dir`.
    pub fn new(app: AppHandle, config_dir: PathBuf, data_dir: PathBuf) -> Self {
        let file = SettingsFile::in_dir(&config_dir);
        let settings = file.load().unwrap_or_default();
        let (saver, saving) = Saver::new(SAVE_EVERY, move |s: LocalSettings| {
            if let Err(e) = file.save(&s) {
                tracing::warn!(error = %e, "cannot save the settings");
            }
        });
        tauri::async_runtime::spawn(saving);
        let keyring: Option<Arc<dyn CredentialStore>> = match KeyringStore::platform() {
            Ok(k) => Some(Arc::new(k.with_service(KEYRING_SERVICE))),
            Err(e) => {
                tracing::warn!(error = %e, "no OS keyring: sign-ins last until the app quits");
                None
            }
        };
        Self {
            app,
            saver,
            data_dir,
            inner: Mutex::new(Inner {
                state: DesktopState::new(settings, keyring.is_some()),
                client: None,
                stream: None,
                bundled: None,
            }),
            keyring,
            booted: watch::Sender::new(false),
            realert_wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state with `f`, and wakes the re-alert loop when that
    /// moved the next re-alert (it then sleeps until the new one).
    fn change<R>(&self, f: impl FnOnce(&mut DesktopState) -> R) -> R {
        let (r, moved) = {
            let mut inner = self.lock();
            let before = inner.state.next_realert();
            let r = f(&mut inner.state);
            (r, inner.state.next_realert() != before)
        };
        if moved {
            self.realert_wake.notify_one();
        }
        r
    }

    /// Carries out the core's effects, in order; `false` when they end the
    /// stream they came from.
    fn run(&self, effects: Vec<Effect>) -> bool {
        let mut go_on = true;
        for effect in effects {
            match effect {
                Effect::Ui(event) => {
                    if let Err(e) = crate::emit(&self.app, &event) {
                        tracing::warn!(error = %e, "cannot forward an event to the UI");
                    }
                }
                Effect::Session(info) => {
                    if let Err(e) = crate::emit(&self.app, &info) {
                        tracing::warn!(error = %e, "cannot tell the UI about the session");
                    }
                }
                Effect::ShowPopup { popup, single } => show(&self.app, &popup, single.as_ref()),
                Effect::ClosePopup(id) => {
                    #[cfg(target_os = "linux")]
                    crate::notify::close(id);
                    #[cfg(not(target_os = "linux"))]
                    let _ = id;
                }
                Effect::RedrawTray => self.redraw_tray(),
                Effect::SaveSettings => self.save(),
                Effect::BootAgain => {
                    let app = self.app.clone();
                    tauri::async_runtime::spawn(async move { app.state::<Desktop>().boot().await });
                }
                Effect::ForgetTokens => {
                    if let Some(k) = self.keyring.clone() {
                        tauri::async_runtime::spawn_blocking(move || {
                            let _ = k.delete(Key::AccessToken);
                            let _ = k.delete(Key::RefreshToken);
                        });
                    }
                }
                Effect::EndStream => go_on = false,
            }
        }
        go_on
    }

    /// The server choice now.
    pub fn server_choice(&self) -> ServerChoice {
        self.lock().state.server_choice().clone()
    }

    /// Replaces the server choice (from the command line or the UI) and saves it.
    pub fn set_server_choice(&self, choice: ServerChoice) {
        let effects = self.lock().state.set_server_choice(choice);
        self.run(effects);
    }

    fn save(&self) {
        let inner = self.lock();
        // Under the lock: two callers hand over their copies in the order
        // the state changed, so the last one recorded is the newest.
        self.saver.save(inner.state.settings().clone());
    }

    /// The session now, waiting (up to 30 s) for the start-up to settle.
    pub async fn session(&self) -> SessionInfo {
        let mut booted = self.booted.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(30), booted.wait_for(|b| *b)).await;
        self.lock().state.session_info()
    }

    /// Sets up the chosen server: starts the bundled one and signs in to it,
    /// or restores a remote sign-in from the keyring.
    pub async fn boot(&self) {
        self.stop_stream();
        let old = {
            let mut inner = self.lock();
            inner.state.bundled_running(None);
            inner.bundled.take()
        };
        if let Some(old) = old {
            old.stop().await;
        }
        match self.server_choice() {
            ServerChoice::Bundled { demo } => {
                if let Err(e) = self.boot_bundled(demo).await {
                    tracing::error!(error = format!("{e:#}"), "the bundled server did not start");
                    let mut inner = self.lock();
                    inner
                        .state
                        .boot_failed(format!("The server on this computer did not start: {e:#}"));
                    inner.client = None;
                }
            }
            ServerChoice::Remote { url } => self.boot_remote(&url).await,
        }
        self.booted.send_replace(true);
        let effects = self.lock().state.booted();
        self.run(effects);
    }

    async fn boot_bundled(&self, demo: bool) -> anyhow::Result<()> {
        let server = Bundled::start(&self.data_dir, demo).await?;
        // Its sign-in lives in memory: the password is new on every start.
        let client = Client::new(&server.url)?.with_store(Arc::new(MemoryStore::default()));
        client.login(bundled::LOCAL_ADMIN, &server.password).await?;
        {
            let mut inner = self.lock();
            inner.state.bundled_running(Some(&server.url));
            inner.state.client_ready(Some(client.base().as_str()));
            inner.state.signed_in(bundled::LOCAL_ADMIN.to_owned());
            inner.bundled = Some(server);
            inner.client = Some(client);
        }
        self.start_stream();
        Ok(())
    }

    async fn boot_remote(&self, url: &str) {
        let client = match Client::new(url) {
            Ok(c) => c,
            Err(e) => {
                let mut inner = self.lock();
                inner.client = None;
                inner.state.boot_failed(e.to_string());
                return;
            }
        };
        let client = match &self.keyring {
            Some(k) => client.with_store(k.clone()),
            None => client.with_store(Arc::new(MemoryStore::default())),
        };
        let server = session::url_key(client.base().as_str());
        let saved = match self.keyring.clone() {
            Some(k) => {
                tauri::async_runtime::spawn_blocking(move || session::load_tokens(&*k, &server))
                    .await
                    .unwrap_or(None)
            }
            None => None,
        };
        let signed_in = saved.is_some();
        {
            let mut inner = self.lock();
            if let Some((tokens, email)) = saved {
                client.set_tokens(Some(tokens));
                inner.state.signed_in(email);
            }
            inner.state.client_ready(Some(client.base().as_str()));
            inner.client = Some(client);
        }
        if signed_in {
            self.start_stream();
        }
    }

    /// Signs in to the remote server with a password; the tokens go to the
    /// OS keyring.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<(), Error> {
        let client = self.client().ok_or_else(|| Error::AuthRequired {
            reason: "choose a server first".to_owned(),
        })?;
        client.login(email, password).await?;
        let email = email.trim().to_lowercase();
        if let Some(k) = self.keyring.clone() {
            let record = session::keyring_record(&session::url_key(client.base().as_str()), &email);
            let saved =
                tauri::async_runtime::spawn_blocking(move || k.save(Key::Server, &record)).await;
            if !matches!(saved, Ok(Ok(()))) {
                tracing::warn!("cannot record the signed-in server in the keyring");
            }
        }
        self.lock().state.signed_in(email);
        self.start_stream();
        let effects = vec![Effect::Session(self.lock().state.session_info())];
        self.run(effects);
        Ok(())
    }

    /// Signs out: the server revokes the refresh token, the keyring forgets
    /// the tokens, the stream stops.
    pub async fn sign_out(&self) {
        let client = self.client();
        let effects = {
            let mut inner = self.lock();
            if let Some(task) = inner.stream.take() {
                task.abort();
            }
            inner.state.sign_out()
        };
        self.realert_wake.notify_one();
        if let Some(c) = client
            && let Err(e) = c.logout().await
        {
            tracing::warn!(error = %e, "the server did not confirm the sign-out");
        }
        if let Some(k) = self.keyring.clone() {
            let _ = tauri::async_runtime::spawn_blocking(move || {
                for key in Key::ALL {
                    let _ = k.delete(key);
                }
            })
            .await;
        }
        self.run(effects);
    }

    /// The client, when a server is chosen.
    pub fn client(&self) -> Option<Client> {
        self.lock().client.clone()
    }

    /// The signed-in client, or the error the UI shows.
    pub fn signed_in(&self) -> Result<Client, Error> {
        let inner = self.lock();
        match (&inner.client, inner.state.email()) {
            (Some(c), Some(_)) => Ok(c.clone()),
            _ => Err(Error::AuthRequired {
                reason: "not signed in".to_owned(),
            }),
        }
    }

    fn stop_stream(&self) {
        let mut inner = self.lock();
        inner.state.stop_stream();
        if let Some(task) = inner.stream.take() {
            task.abort();
        }
    }

    fn start_stream(&self) {
        let mut inner = self.lock();
        let Some(client) = inner.client.clone() else {
            return;
        };
        let start = inner.state.start_stream();
        if let Some(task) = inner.stream.take() {
            task.abort();
        }
        let config = StreamConfig {
            last_event_id: start.last_event_id,
            ..StreamConfig::default()
        };
        let app = self.app.clone();
        inner.stream = Some(tauri::async_runtime::spawn(async move {
            let mut events = match client.events(config) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the event stream");
                    return;
                }
            };
            // Fetch the server's preferences now: the cache may be stale.
            let desktop = app.state::<Desktop>();
            desktop.refresh_preferences(&client, start.generation).await;
            while let Some(event) = events.recv().await {
                let desktop = app.state::<Desktop>();
                if !desktop.handle(start.generation, event) {
                    break;
                }
            }
        }));
    }

    async fn refresh_preferences(&self, client: &Client, generation: u64) {
        match client.preferences().await {
            Ok(p) => {
                let effects = self.lock().state.preferences_fetched(generation, p);
                self.run(effects);
            }
            Err(e) => tracing::info!(error = %e, "using cached preferences for now"),
        }
    }

    /// Handles one event of stream `generation`; `false` ends that stream.
    fn handle(&self, generation: u64, event: ClientEvent) -> bool {
        let effects = self.change(|s| s.handle(generation, event, Now::read_clocks()));
        self.run(effects)
    }

    /// A window (re)attached: it gets the current status, then `ready` with
    /// the counts so it loads the history.
    pub fn attach(&self) {
        let effects = self.lock().state.attach();
        self.run(effects);
    }

    /// Re-raises the unacknowledged criticals when they are due, forever
    /// (the app's lifetime). It sleeps until the next one is due, or until
    /// [`change`](Self::change) pokes it because that moved; a poke that
    /// moved nothing earlier just finds nothing due and sleeps again.
    pub async fn realert_loop(app: AppHandle) {
        let desktop = app.state::<Desktop>();
        loop {
            let next = desktop.lock().state.next_realert();
            schedule::until_due_or_woken(next, &desktop.realert_wake).await;
            let due: Vec<Notification> = desktop.lock().state.due_realerts(Now::read_clocks());
            let client = desktop.signed_in().ok();
            for n in due {
                // An ack this app did not hear of (given while it slept, or
                // before a replayed critical reached it) ends the re-alerts.
                if let Some(client) = &client
                    && acknowledged_on_server(client, n.id).await
                {
                    desktop.lock().state.acknowledged(n.id);
                    continue;
                }
                let effects = desktop.lock().state.reraise(&n, OffsetDateTime::now_utc());
                desktop.run(effects);
            }
        }
    }

    /// Carries out a tray or pop-up action that goes through the server.
    pub fn act(&self, action: Action) {
        let effects = match action {
            Action::PausePopups(pause) => self
                .lock()
                .state
                .pause_popups(pause.until(&jiff::Zoned::now())),
            Action::ResumePopups => self.lock().state.resume_popups(),
            Action::MarkAllRead => {
                let (client, up_to) = {
                    let inner = self.lock();
                    (inner.client.clone(), inner.state.last_id())
                };
                if let Some(client) = client {
                    tauri::async_runtime::spawn(async move {
                        let all = MarkRead {
                            ids: None,
                            up_to: Some(up_to),
                        };
                        if let Err(e) = client.mark_read(&all).await {
                            tracing::warn!(error = %e, "could not mark everything read");
                        }
                    });
                }
                vec![Effect::RedrawTray]
            }
            Action::Acknowledge(id) => {
                if let Ok(client) = self.signed_in() {
                    tauri::async_runtime::spawn(async move {
                        if let Err(e) = client.ack(id, &Default::default()).await {
                            tracing::warn!(error = %e, id, "could not acknowledge");
                        }
                    });
                }
                vec![Effect::RedrawTray]
            }
            Action::Open(_) | Action::Quit => vec![Effect::RedrawTray],
        };
        self.run(effects);
    }

    /// Where the connection stands.
    pub fn connection(&self) -> Connection {
        self.lock().state.connection()
    }

    /// The unread counts as last heard.
    pub fn unread(&self) -> UnreadCounts {
        self.lock().state.unread()
    }

    /// What the tray shows now, and its latest notifications.
    pub fn tray_view(&self) -> TrayView {
        self.lock().state.tray_view(OffsetDateTime::now_utc())
    }

    fn redraw_tray(&self) {
        #[cfg(desktop)]
        crate::tray::redraw(&self.app);
    }

    /// Switches to another server choice: stops the stream (and the bundled
    /// server), forgets where the old stream was, and sets the new one up.
    pub async fn switch(&self, choice: ServerChoice) {
        let effects = self.change(|s| s.switch(choice));
        self.run(effects);
        self.boot().await;
    }

    /// At quit: stops the stream, writes the settings still pending (the
    /// last resume position) and stops the bundled server, if one runs.
    pub async fn shutdown(&self) {
        self.stop_stream();
        // Blocking, but at quit on the main thread (`block_on`), where
        // nothing else waits for it.
        self.saver.flush();
        let bundled = {
            let mut inner = self.lock();
            inner.state.bundled_running(None);
            inner.bundled.take()
        };
        if let Some(b) = bundled {
            b.stop().await;
        }
    }
}

/// Whether someone acknowledged notification `id`; `false` when the server
/// cannot say (then alerting again is the safe side).
async fn acknowledged_on_server(client: &Client, id: u64) -> bool {
    let query = HistoryQuery {
        limit: Some(1),
        before: Some(id + 1),
        ..HistoryQuery::default()
    };
    match client.history(&query).await {
        Ok(page) => page
            .items
            .first()
            .is_some_and(|item| item.notification.id == id && item.ack.is_some()),
        Err(e) => {
            tracing::debug!(error = %e, id, "cannot check the ack; alerting again");
            false
        }
    }
}

/// Raises a native pop-up (on Linux over the freedesktop D-Bus API).
fn show(app: &AppHandle, popup: &Popup, single: Option<&Notification>) {
    #[cfg(target_os = "linux")]
    crate::notify::show(app, popup, single);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (app, single);
        tracing::info!(title = %popup.title, "native pop-ups are only wired up on Linux so far");
    }
}
