//! `belfry-server` as a child process, the one way the tests and the load
//! tool start it.
//!
//! The server says where it listens by writing `--ready-file` once bound
//! (`{"listen":"127.0.0.1:PORT","health_listen":…}`, renamed into place so
//! it is never read half-written); nothing here reads its log to find out.
//! Its standard error is kept (and echoed with `BELFRY_TEST_LOG` set) so a
//! test can look for a warning, and so the server never blocks on a full
//! pipe. Only the standard library and `serde_json`: the server's own crates
//! are not needed to run it.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to listen before [`ServerCommand::start`]
/// gives up: generous, for a debug build on a loaded machine.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What to run: a program (the server binary, or a shell that execs it
/// with `"$@"`), its arguments and environment. Cloned to start the same
/// server again.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    log_prefix: String,
}

impl ServerCommand {
    /// `program serve`, with `RUST_LOG` unset unless [`Self::env`] sets it.
    pub fn serve(program: impl Into<PathBuf>) -> Self {
        Self::new(program).arg("serve")
    }

    /// `program` with no arguments yet; the ready-file flag is added last.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: vec![("RUST_LOG".into(), None)],
            log_prefix: "server".to_owned(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets a variable for the process.
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((name.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Names the process in echoed log lines (`BELFRY_TEST_LOG`).
    pub fn log_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.log_prefix);
        self
    }

    /// Starts the process and waits until it has written its ready file.
    pub fn start(&self) -> io::Result<ServerProcess> {
        self.start_within(READY_TIMEOUT)
    }

    /// Like [`Self::start`], waiting at most `timeout`.
    pub fn start_within(&self, timeout: Duration) -> io::Result<ServerProcess> {
        let dir = tempfile::Builder::new().prefix("belfry-ready").tempdir()?;
        let ready_file = dir.path().join("ready.json");
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .arg("--ready-file")
            .arg(&ready_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let mut child = command.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start {}: {e}", self.program.display()),
            )
        })?;
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let sink = log.clone();
            let prefix = self.log_prefix.clone();
            let echo = std::env::var_os("BELFRY_TEST_LOG").is_some();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("{prefix}: {line}");
                    }
                    let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let mut process = ServerProcess {
            child: Some(child),
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            health: None,
            log,
            _ready_dir: dir,
        };
        (process.listen, process.health) = process.wait_ready(&ready_file, timeout)?;
        Ok(process)
    }
}

/// A running server, killed when dropped.
pub struct ServerProcess {
    child: Option<Child>,
    listen: SocketAddr,
    health: Option<SocketAddr>,
    log: Arc<Mutex<String>>,
    _ready_dir: tempfile::TempDir,
}

impl ServerProcess {
    fn wait_ready(
        &mut self,
        path: &Path,
        timeout: Duration,
    ) -> io::Result<(SocketAddr, Option<SocketAddr>)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(text) = std::fs::read_to_string(path) {
                return parse_ready(&text);
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().transpose()) {
                let status = status?;
                // Give the log reader a moment to take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return Err(io::Error::other(format!(
                    "the server exited with {status} before it listened:\n{}",
                    self.log()
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the server did not listen within {timeout:?}:\n{}",
                        self.log()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The main listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.listen
    }

    /// `http://` and the main listener's address.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// The health port's address, when `--health-listen` was given.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything it has written to standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// SIGTERM, as a service manager stops it; waits for the exit.
    pub fn terminate(&mut self) -> io::Result<ExitStatus> {
        let Some(child) = self.child.as_mut() else {
            return Err(io::Error::other("the server is not running"));
        };
        // `kill(1)` rather than libc: the workspace forbids unsafe code.
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        if !sent.success() {
            return Err(io::Error::other("kill -TERM failed"));
        }
        let status = child.wait();
        self.child = None;
        status
    }

    /// SIGKILL: no graceful shutdown, no goodbye to its clients.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The addresses in a ready file.
pub fn parse_ready(text: &str) -> io::Result<(SocketAddr, Option<SocketAddr>)> {
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("ready file: {what}: {text}"),
        )
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad("not JSON"))?;
    let addr = |key: &str| -> io::Result<Option<SocketAddr>> {
        match &v[key] {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) => s.parse().map(Some).map_err(|_| bad(key)),
            _ => Err(bad(key)),
        }
    };
    Ok((
        addr("listen")?.ok_or_else(|| bad("no listen"))?,
        addr("health_listen")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_file_names_both_addresses_or_is_refused() {
        let (listen, health) =
            parse_ready(r#"{"listen":"127.0.0.1:8080","health_listen":"[::1]:9"}"#).unwrap();
        assert_eq!(listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(health, Some("[::1]:9".parse().unwrap()));
        let (_, none) = parse_ready(r#"{"listen":"127.0.0.1:1","health_listen":null}"#).unwrap();
        assert_eq!(none, None);
        for bad in ["", "{}", r#"{"listen":"nope"}"#, r#"{"listen":1}"#] {
            assert!(parse_ready(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_program_that_exits_before_it_is_ready_is_an_error_with_its_output() {
        let err = ServerCommand::new("sh")
            .args(["-c", "echo the reason >&2; exit 3"])
            .start()
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("exited with exit status: 3"), "{text}");
        assert!(text.contains("the reason"), "{text}");
    }

    #[test]
    fn the_ready_file_is_read_once_written_and_the_process_is_killed_on_drop() {
        // A stand-in that writes its ready file the way the server does.
        let script = r#"f="$2"; sleep 0.2; printf '{"listen":"127.0.0.1:7","health_listen":null}' > "$f.writing"; mv "$f.writing" "$f"; exec sleep 60"#;
        let server = ServerCommand::new("sh")
            .args(["-c", script, "sh"])
            .start()
            .unwrap();
        assert_eq!(server.addr(), "127.0.0.1:7".parse().unwrap());
        let pid = server.pid().unwrap();
        drop(server);
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        assert!(!alive, "the process outlived its handle");
    }
}
