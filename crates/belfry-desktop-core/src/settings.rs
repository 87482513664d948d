//! What the app remembers between runs that is not a secret: which server
//! to use, where the stream left off, the last known preferences (so pop-ups
//! follow them while offline) and a pop-up pause. Tokens are never here:
//! they live in the OS keyring.

use std::path::{Path, PathBuf};

use belfry_proto::Preferences;
use serde::{Deserialize, Serialize};

/// The file under the app's config directory.
pub const FILE_NAME: &str = "settings.json";

/// Which server the app talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum ServerChoice {
    /// A belfry-server running inside the app (SQLite in the app data
    /// directory, listening on 127.0.0.1), optionally with demo events.
    Bundled { demo: bool },
    /// A server elsewhere, signed in to with an email and password.
    Remote { url: String },
}

impl Default for ServerChoice {
    /// Nothing configured: the bundled server with demo events, so a new
    /// user sees Belfry working at once.
    fn default() -> Self {
        ServerChoice::Bundled { demo: true }
    }
}

impl ServerChoice {
    /// The identity `resume` positions belong to: ids of one server mean
    /// nothing on another.
    pub fn identity(&self) -> String {
        match self {
            ServerChoice::Bundled { .. } => "bundled".to_owned(),
            ServerChoice::Remote { url } => url.clone(),
        }
    }
}

/// Where the stream left off on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub server: String,
    pub last_id: u64,
}

/// The remembered settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalSettings {
    pub server: ServerChoice,
    pub resume: Option<Resume>,
    /// The last preferences the server sent (the server is the source of truth).
    pub preferences: Option<Preferences>,
    /// Pop-ups other than critical ones are paused until this Unix time.
    pub paused_until: Option<i64>,
}

impl LocalSettings {
    /// The last delivered id on `server`, if the stream was there before.
    pub fn resume_from(&self, server: &ServerChoice) -> Option<u64> {
        let id = server.identity();
        self.resume
            .as_ref()
            .filter(|r| r.server == id)
            .map(|r| r.last_id)
    }
}

/// Where the settings file is, and reading and writing it.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE_NAME),
        }
    }

    /// The saved settings; `None` when there are none yet (first run). A
    /// damaged file is set aside (renamed `.bad`) rather than trusted or lost.
    pub fn load(&self) -> Option<LocalSettings> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(error = %e, path = %self.path.display(), "cannot read the settings");
                return None;
            }
        };
        match serde_json::from_str(&text) {
            Ok(s) => Some(s),
            Err(e) => {
                let aside = self.path.with_extension("json.bad");
                tracing::warn!(error = %e, path = %self.path.display(), moved_to = %aside.display(), "the settings file is damaged; starting from defaults");
                let _ = std::fs::rename(&self.path, aside);
                None
            }
        }
    }

    /// Writes atomically (a temporary file renamed over the old one), so a
    /// crash mid-write never leaves half a file.
    pub fn save(&self, settings: &LocalSettings) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(settings).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_run_has_no_file_and_defaults_to_the_bundled_demo() {
        let dir = tempfile::tempdir().unwrap();
        let file = SettingsFile::in_dir(dir.path());
        assert_eq!(file.load(), None);
        assert_eq!(
            LocalSettings::default().server,
            ServerChoice::Bundled { demo: true }
        );
    }

    #[test]
    fn settings_round_trip_and_resume_belongs_to_one_server() {
        let dir = tempfile::tempdir().unwrap();
        let file = SettingsFile::in_dir(dir.path());
        let remote = ServerChoice::Remote {
            url: "https://belfry.shop.example/".into(),
        };
        let s = LocalSettings {
            server: remote.clone(),
            resume: Some(Resume {
                server: remote.identity(),
                last_id: 42,
            }),
            preferences: None,
            paused_until: Some(1_800_000_000),
        };
        file.save(&s).unwrap();
        let back = file.load().unwrap();
        assert_eq!(back, s);
        assert_eq!(back.resume_from(&remote), Some(42));
        assert_eq!(
            back.resume_from(&ServerChoice::Bundled { demo: true }),
            None
        );
    }

    #[test]
    fn a_damaged_file_is_set_aside_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = SettingsFile::in_dir(dir.path());
        std::fs::write(dir.path().join(FILE_NAME), "{ not json").unwrap();
        assert_eq!(file.load(), None);
        assert!(dir.path().join("settings.json.bad").exists());
        assert!(!dir.path().join(FILE_NAME).exists());
    }
}
