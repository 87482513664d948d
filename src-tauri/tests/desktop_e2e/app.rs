//! The private desktop session the app runs in (`Desk`: a temporary HOME, an
//! Xvfb display, a dbus-daemon session bus with gnome-keyring and the
//! shell's stand-ins), and the processes started in it: the app binary
//! itself, and the cleanup of app processes a failed run left behind.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, ensure};

use crate::bus::Shell;

/// The app binary cargo built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_belfry-desktop"))
}

/// Child processes that die with the test.
pub struct Procs(pub Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts a program and reads its first line of output (a display number,
/// a bus address).
fn spawn_reading_line(cmd: &mut Command) -> anyhow::Result<(Child, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}: run scripts/setup.sh"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    ensure!(!line.trim().is_empty(), "{cmd:?} printed nothing");
    Ok((child, line.trim().to_owned()))
}

/// A private desktop session: a temporary HOME, an X display, a session
/// bus with gnome-keyring, and the recording notification server and tray
/// host on it. Whatever app processes it ran are killed when it is dropped.
pub struct Desk {
    pub shell: Shell,
    home: tempfile::TempDir,
    runtime_dir: PathBuf,
    display: String,
    address: String,
    /// Xvfb and dbus-daemon, ended when the session is dropped.
    _procs: Procs,
}

impl Desk {
    pub async fn start() -> anyhow::Result<Self> {
        let home = tempfile::tempdir()?;
        let runtime_dir = home.path().join("run");
        std::fs::create_dir_all(&runtime_dir)?;
        std::fs::set_permissions(
            &runtime_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;

        // A display and a session bus of our own.
        let mut procs = Procs(Vec::new());
        let (xvfb, display) = spawn_reading_line(Command::new("Xvfb").args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ]))?;
        procs.0.push(xvfb);
        let display = format!(":{display}");
        let (dbus, address) = spawn_reading_line(Command::new("dbus-daemon").args([
            "--session",
            "--nofork",
            "--print-address=1",
        ]))?;
        procs.0.push(dbus);

        // The OS keyring on that bus: gnome-keyring's Secret Service, with
        // its files under the temporary HOME.
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start gnome-keyring-daemon: run scripts/setup.sh")?;
        {
            use std::io::Write as _;
            let mut stdin = keyring.stdin.take().expect("piped");
            stdin.write_all(b"keyring-test-password")?;
        }
        keyring.wait()?;

        // The desktop shell's stand-ins on that bus.
        let shell = Shell::serve(&address).await?;
        Ok(Self {
            shell,
            home,
            runtime_dir,
            display,
            address,
            _procs: procs,
        })
    }

    /// The session's HOME (a fresh user's).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The environment of a program in this session (a fresh user).
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        let home = self.home.path();
        cmd.env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("GDK_BACKEND", "x11")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .env("RUST_LOG", "info,belfry_desktop=debug")
    }

    /// Starts the app directly, with no flags and no WebDriver: what a new
    /// admin gets on first start.
    pub fn spawn_app(&self) -> anyhow::Result<Procs> {
        let child = self
            .env(&mut Command::new(binary()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the app")?;
        Ok(Procs(vec![child]))
    }

    /// Kills app processes running in this session: ours are the ones whose
    /// environment carries this session's HOME. For what WebDriver started
    /// and a failed or ended session left behind.
    pub fn kill_apps(&self) {
        let app = binary();
        let marker = format!("HOME={}", self.home.path().display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let is_app = std::fs::read_link(dir.join("exe")).is_ok_and(|exe| exe == app);
            let ours = std::fs::read(dir.join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()));
            if is_app
                && ours
                && let Some(pid) = dir.file_name().and_then(|p| p.to_str())
            {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        // Before the display and the bus go: an app left running would
        // otherwise outlive the test.
        self.kill_apps();
    }
}
