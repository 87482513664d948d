//! Which server the app uses and who is signed in to it: the server
//! choice, sign-in and sign-out, why there is no session, the
//! [`SessionInfo`] the UI sees, and the sign-in record kept in the OS
//! keyring next to the tokens ([`load_tokens`], [`keyring_record`]). The
//! shell does the network and keyring I/O and reports the outcome here.

use belfry_client::Tokens;
use belfry_client::credentials::{CredentialStore, Key};
use belfry_proto::UnreadCounts;

use crate::effect::Effect;
use crate::settings::ServerChoice;
use crate::state::DesktopState;
use crate::tray_state::Connection;
use crate::ui::{SessionInfo, Status};

/// The keyring service the desktop app's sign-in is stored under (apart
/// from the CLI's: refresh tokens rotate, so two programs must not share one).
pub const KEYRING_SERVICE: &str = "belfry-desktop";

impl DesktopState {
    /// The server choice now.
    pub fn server_choice(&self) -> &ServerChoice {
        &self.settings.server
    }

    /// Replaces the server choice (from the command line or the UI).
    pub fn set_server_choice(&mut self, choice: ServerChoice) -> Vec<Effect> {
        self.settings.server = choice;
        vec![Effect::SaveSettings]
    }

    /// Who is signed in, if anyone.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// The session as the UI sees it.
    pub fn session_info(&self) -> SessionInfo {
        let (mode, demo) = match &self.settings.server {
            ServerChoice::Bundled { demo } => ("bundled", *demo),
            ServerChoice::Remote { .. } => ("remote", false),
        };
        let server = match (&self.settings.server, &self.bundled_url, &self.client_base) {
            (ServerChoice::Bundled { .. }, Some(url), _) => format!("this computer ({url})"),
            (ServerChoice::Bundled { .. }, None, _) => "this computer".to_owned(),
            (_, _, Some(base)) => url_key(base),
            (ServerChoice::Remote { url }, ..) => url.clone(),
        };
        SessionInfo {
            email: self.email.clone(),
            server,
            mode,
            demo,
            reason: self.reason.clone(),
            // The bundled server's sign-in is in memory whatever the OS
            // offers: its password is new on every start.
            credentials: if self.keyring && mode == "remote" {
                "keyring"
            } else {
                "memory"
            },
        }
    }

    /// The app has a client for the server at `base` now, or none.
    pub fn client_ready(&mut self, base: Option<&str>) {
        self.client_base = base.map(str::to_owned);
    }

    /// The bundled server runs at `url`, or (`None`) was stopped.
    pub fn bundled_running(&mut self, url: Option<&str>) {
        self.bundled_url = url.map(str::to_owned);
    }

    /// Setting up the chosen server failed: there is no client, and this is why.
    pub fn boot_failed(&mut self, reason: String) {
        self.client_base = None;
        self.reason = Some(reason);
    }

    /// `email` is signed in (a password sign-in, or one restored from the keyring).
    pub fn signed_in(&mut self, email: String) {
        self.email = Some(email);
        self.reason = None;
    }

    /// Start-up (or a switch) has settled: the UI hears the session.
    pub fn booted(&self) -> Vec<Effect> {
        vec![Effect::Session(self.session_info()), Effect::RedrawTray]
    }

    /// The user signed out: the stream stops and nothing of theirs is left.
    /// The shell revokes the tokens and empties the keyring, then carries
    /// out the effects.
    pub fn sign_out(&mut self) -> Vec<Effect> {
        self.stop_stream();
        self.forget_session(Some("signed out".to_owned()));
        let mut effects = Vec::new();
        self.set_status(
            Status::SignedOut {
                reason: "signed out".to_owned(),
            },
            &mut effects,
        );
        effects.push(Effect::Session(self.session_info()));
        effects.push(Effect::RedrawTray);
        effects
    }

    /// Switches to another server choice: nobody is signed in there yet,
    /// and where the old stream was means nothing there. The shell then
    /// sets the new choice up.
    pub fn switch(&mut self, choice: ServerChoice) -> Vec<Effect> {
        self.forget_session(None);
        // Ids of one server mean nothing on another.
        self.last_id = 0;
        self.set_server_choice(choice)
    }

    /// The sign-in ended without the user asking (the stream's
    /// `AuthRequired`): the bundled server signs in again; a remote one
    /// needs the user, and its tokens are dropped.
    pub(crate) fn session_ended(&mut self, reason: String, effects: &mut Vec<Effect>) {
        self.email = None;
        self.connection = Connection::SignedOut;
        self.reason = Some(reason.clone());
        self.set_status(Status::SignedOut { reason }, effects);
        effects.push(Effect::Session(self.session_info()));
        effects.push(Effect::RedrawTray);
        effects.push(match self.settings.server {
            ServerChoice::Bundled { .. } => Effect::BootAgain,
            ServerChoice::Remote { .. } => Effect::ForgetTokens,
        });
    }

    /// Signed out: no admin, and nothing of theirs left in the tray.
    pub(crate) fn forget_session(&mut self, reason: Option<String>) {
        self.email = None;
        self.reason = reason;
        self.connection = Connection::SignedOut;
        self.latest.clear();
        self.critical.clear();
        self.realerts.clear();
        self.unread = UnreadCounts::default();
    }
}

/// A server URL in the form stored with a sign-in.
pub fn url_key(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// What the keyring's [`Key::Server`] holds for `email` signed in to
/// `server` (a [`url_key`]).
pub fn keyring_record(server: &str, email: &str) -> String {
    format!("{server} {email}")
}

/// Tokens and the email saved for `server` (a [`url_key`]), if the keyring
/// has a sign-in for that server.
pub fn load_tokens(k: &dyn CredentialStore, server: &str) -> Option<(Tokens, String)> {
    let recorded = k.load(Key::Server).ok()??;
    let (url, email) = recorded.split_once(' ')?;
    if url != server {
        return None;
    }
    let access = k.load(Key::AccessToken).ok()??;
    let refresh = k
        .load(Key::RefreshToken)
        .ok()
        .flatten()
        .filter(|r| !r.is_empty());
    Some((Tokens::new(access, refresh), email.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::Effect;
    use crate::settings::LocalSettings;
    use crate::testing::{notification, now, remote};
    use crate::ui::UiEvent;
    use belfry_client::ClientEvent;
    use belfry_client::credentials::MemoryStore;
    use belfry_proto::Severity;
    use secrecy::ExposeSecret as _;

    fn keyring_with(server: &str, access: &str, refresh: &str) -> MemoryStore {
        let k = MemoryStore::default();
        k.save(Key::Server, &keyring_record(server, "ops@shop.example"))
            .unwrap();
        k.save(Key::AccessToken, access).unwrap();
        k.save(Key::RefreshToken, refresh).unwrap();
        k
    }

    #[test]
    fn a_saved_sign_in_is_restored_for_its_own_server_only() {
        let server = url_key("https://belfry.shop.example/");
        let k = keyring_with(&server, "access-1", "refresh-1");
        let (tokens, email) = load_tokens(&k, &server).unwrap();
        assert_eq!(email, "ops@shop.example");
        assert_eq!(tokens.access.expose_secret(), "access-1");
        assert_eq!(
            tokens
                .refresh
                .as_ref()
                .map(|r| r.expose_secret().to_owned()),
            Some("refresh-1".to_owned())
        );
        assert!(load_tokens(&k, "https://other.example").is_none());
    }

    #[test]
    fn an_empty_refresh_token_is_no_refresh_token_and_a_missing_access_token_no_sign_in() {
        let k = keyring_with("https://b.example", "access-1", "");
        let (tokens, _) = load_tokens(&k, "https://b.example").unwrap();
        assert!(tokens.refresh.is_none());
        k.delete(Key::AccessToken).unwrap();
        assert!(load_tokens(&k, "https://b.example").is_none());
        assert!(load_tokens(&MemoryStore::default(), "https://b.example").is_none());
    }

    #[test]
    fn credentials_are_in_the_keyring_only_for_a_remote_server_with_a_keyring() {
        let bundled = LocalSettings::default();
        let remote = || remote("https://belfry.shop.example");
        let credentials = |settings, keyring| {
            let mut s = DesktopState::new(settings, keyring);
            s.signed_in("ops@shop.example".into());
            s.session_info().credentials
        };
        assert_eq!(credentials(remote(), true), "keyring");
        assert_eq!(credentials(remote(), false), "memory");
        // The bundled server's sign-in never reaches the keyring.
        assert_eq!(credentials(bundled.clone(), true), "memory");
        assert_eq!(credentials(bundled, false), "memory");
    }

    #[test]
    fn the_session_names_the_server_and_where_credentials_are_kept() {
        let mut s = DesktopState::new(LocalSettings::default(), false);
        let info = s.session_info();
        assert_eq!(
            (info.mode, info.demo, info.server.as_str(), info.credentials),
            ("bundled", true, "this computer", "memory")
        );
        s.bundled_running(Some("http://127.0.0.1:4000"));
        assert_eq!(
            s.session_info().server,
            "this computer (http://127.0.0.1:4000)"
        );

        let mut s = DesktopState::new(remote("https://belfry.shop.example"), false);
        assert_eq!(s.session_info().server, "https://belfry.shop.example");
        assert_eq!(s.session_info().credentials, "memory");
        s.client_ready(Some("https://belfry.shop.example/"));
        s.signed_in("ops@shop.example".into());
        let info = s.session_info();
        assert_eq!(info.server, "https://belfry.shop.example");
        assert_eq!(info.email.as_deref(), Some("ops@shop.example"));
        assert_eq!(info.reason, None);
    }

    #[test]
    fn signing_out_stops_the_stream_and_leaves_nothing_of_the_admin() {
        let mut s = DesktopState::new(remote("https://b.example"), true);
        s.signed_in("ops@shop.example".into());
        let generation = s.start_stream().generation;
        s.handle(
            generation,
            ClientEvent::Notification {
                notification: notification(3, Severity::Critical),
                replayed: false,
            },
            now(),
        );
        let effects = s.sign_out();
        assert!(s.generation() > generation);
        assert_eq!(s.email(), None);
        assert!(s.tray_view(now().wall).latest.is_empty());
        assert_eq!(s.unread().total, 0);
        assert!(s.critical.is_empty());
        let signed_out = Status::SignedOut {
            reason: "signed out".into(),
        };
        assert_eq!(
            effects,
            vec![
                Effect::Ui(UiEvent::Status { status: signed_out }),
                Effect::Session(s.session_info()),
                Effect::RedrawTray
            ]
        );
        assert_eq!(s.session_info().reason.as_deref(), Some("signed out"));
    }

    #[test]
    fn switching_servers_forgets_last_id_and_saves_the_choice() {
        let mut s = DesktopState::new(LocalSettings::default(), true);
        s.signed_in("desktop@belfry.local".into());
        let generation = s.start_stream().generation;
        s.handle(
            generation,
            ClientEvent::Notification {
                notification: notification(42, Severity::Info),
                replayed: false,
            },
            now(),
        );
        assert_eq!(s.last_id(), 42);
        let to = ServerChoice::Remote {
            url: "https://b.example".into(),
        };
        assert_eq!(s.switch(to.clone()), vec![Effect::SaveSettings]);
        assert_eq!(s.last_id(), 0);
        assert_eq!(s.email(), None);
        assert_eq!(s.server_choice(), &to);
        // The resume position saved for the old server does not carry over.
        assert_eq!(s.start_stream().last_event_id, None);
    }
}
