//! The `belfry-server` binary as an operator runs it: `serve` on a real
//! port, `token` minting with the same data directory, SIGTERM shutdown.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use belfry_process::{ServerCommand, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_belfry-server");
const WAIT: Duration = Duration::from_secs(30);

/// `serve` on a free port with `data_dir`, and `extra` flags; killed if the
/// test fails half-way.
fn serve(data_dir: &std::path::Path, extra: &[&str]) -> ServerProcess {
    ServerCommand::serve(BIN)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .start()
        .expect("belfry-server listens")
}

fn mint(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("token")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("token command runs")
}

/// Opens the event stream over a raw socket and returns what arrived once
/// `needle` has been seen.
fn read_stream_until(addr: &str, token: &str, needle: &str) -> String {
    resume_until(addr, token, None, needle)
}

/// Like [`read_stream_until`], resuming from `last_event_id` when given.
fn resume_until(addr: &str, token: &str, last_event_id: Option<u64>, needle: &str) -> String {
    open_stream(addr, token, last_event_id, needle).1
}

/// Opens the event stream and reads until `needle`; the stream stays open
/// as long as the returned socket.
fn open_stream(
    addr: &str,
    token: &str,
    last_event_id: Option<u64>,
    needle: &str,
) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    write!(
        tcp,
        "GET /api/admin/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{resume}\r\n"
    )
    .unwrap();
    let deadline = Instant::now() + WAIT;
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        assert!(
            Instant::now() < deadline,
            "never saw {needle:?} in:\n{seen}"
        );
        let n = tcp.read(&mut buf).expect("stream keeps sending");
        assert!(n > 0, "stream ended before {needle:?}:\n{seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    (tcp, seen)
}

#[test]
fn serve_with_demo_and_a_minted_token_streams_notifications_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve(dir.path(), &["--demo"]);

    let secret = dir.path().join("jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the generated secret is private");
    }

    let out = mint(
        dir.path(),
        &[
            "--email",
            "ann@shop.example",
            "--role",
            "admin",
            "--ttl",
            "10m",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let token = token.lines().last().unwrap().trim().to_owned();

    // The demo publishes one of its opening events every few seconds.
    let seen = read_stream_until(&served.addr().to_string(), &token, "event: notification");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("event: ready"));

    stop(&mut served);
}

/// SIGTERM, then waits for a clean exit.
fn stop(served: &mut ServerProcess) {
    let status = served.terminate().expect("SIGTERM stops the server");
    assert!(status.success(), "graceful shutdown exits 0: {status}");
}

#[test]
fn token_without_a_subject_says_what_to_add() {
    let dir = tempfile::tempdir().unwrap();
    let out = mint(dir.path(), &["--role", "admin"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--email or --sub"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_asymmetric_algorithm_without_a_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--jwt-algorithm",
            "RS256",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("jwt_public_key_file"), "{err}");
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("belfry.toml");
    std::fs::write(&file, "listn = \"127.0.0.1:9\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listn"), "{err}");
}

#[test]
fn a_short_hs256_secret_is_refused_at_start_naming_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("belfry.toml");
    std::fs::write(&file, "jwt_secret = \"short\"\n").unwrap();
    let serve_with = |args: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(args)
            .env_remove("BELFRY_JWT_SECRET");
        if let Some(secret) = env {
            cmd.env("BELFRY_JWT_SECRET", secret);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = serve_with(&["--config", file.to_str().unwrap()], None);
    assert!(
        err.contains(&format!("jwt_secret in {} is 5 bytes", file.display())),
        "{err}"
    );
    let err = serve_with(&[], Some("short-too"));
    assert!(err.contains("BELFRY_JWT_SECRET is 9 bytes"), "{err}");
    let err = serve_with(&["--jwt-secret", "0123456789"], None);
    assert!(err.contains("--jwt-secret is 10 bytes"), "{err}");
    assert!(err.contains("at least 32"), "{err}");
}

#[test]
fn settings_flags_work_before_and_after_an_account_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["user", "add", "--email", "ann@shop.example", "--data-dir"])
        .arg(dir.path())
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"correct horse battery\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same directory, named before the command this time.
    let out = user_cmd(dir.path(), &["list"], "");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ann@shop.example"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn user_cmd(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("user")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("user command runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// POSTs JSON over a raw socket and returns the response body.
fn post_json(addr: &str, path: &str, body: &str) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        tcp,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()
}

#[test]
fn user_commands_manage_accounts_and_disable_ends_a_running_servers_streams() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[]);

    let out = user_cmd(
        dir.path(),
        &[
            "add",
            "--email",
            "Ann@Shop.example",
            "--admin",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = user_cmd(
        dir.path(),
        &["add", "--email", "ann@shop.example", "--password-stdin"],
        "another password\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has an account"));
    let out = user_cmd(
        dir.path(),
        &["add", "--email", "bob@shop.example", "--password-stdin"],
        "short\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
    let out = user_cmd(dir.path(), &["list"], "");
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("ann@shop.example") && list.contains("yes") && !list.contains("bob@"),
        "{list}"
    );

    let body = post_json(
        &served.addr().to_string(),
        "/api/auth/login",
        r#"{"email":"ann@shop.example","password":"correct horse battery"}"#,
    );
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // A stream held by another thread; it must end once the user is disabled.
    let addr = served.addr().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tcp = TcpStream::connect(&addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            tcp,
            "GET /api/admin/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {access}\r\n\r\n"
        )
        .unwrap();
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        let mut ready = false;
        loop {
            match tcp.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if !ready && seen.contains("event: ready") {
                        ready = true;
                        let _ = tx.send("ready".to_owned());
                    }
                    if seen.contains("event: expired") {
                        let _ = tx.send("expired".to_owned());
                        break;
                    }
                }
            }
        }
    });
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "ready");

    let out = user_cmd(dir.path(), &["disable", "ann@shop.example"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rx.recv_timeout(WAIT).expect("the stream ends"), "expired");

    let out = user_cmd(dir.path(), &["disable", "nobody@shop.example"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("user list"));
}

/// `GET path` over a plain socket; the whole answer, or why there was none.
fn get(addr: &str, path: &str, within: Duration) -> Result<String, String> {
    let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(within)).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer)
}

#[test]
fn with_every_connection_taken_the_health_port_still_answers_and_the_main_port_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // 256 descriptors in all (soft and hard, so `serve` cannot raise it).
    let script = format!(
        "ulimit -n 256 && exec {BIN} serve --listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --request-head-timeout 2s --data-dir {} \"$@\"",
        dir.path().display()
    );
    // `$0`, then `$@` (the ready-file flag).
    let served = ServerCommand::new("bash")
        .args(["-c", &script, "bash"])
        .start()
        .expect("belfry-server listens");
    let main = served.addr().to_string();
    let health = served
        .health_addr()
        .expect("the ready file names the health port")
        .to_string();

    // More connections than the server has descriptors, each sending
    // nothing: the kernel queues what the server does not accept.
    let held: Vec<TcpStream> = (0..400)
        .map(|_| TcpStream::connect(&main).expect("the backlog takes it"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let answer = get(&health, "/healthz", Duration::from_secs(5))
        .expect("the health port answers with every connection taken");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // The idle ones are closed after the head deadline, the queued ones are
    // accepted and closed in turn, and the main port serves again.
    let deadline = Instant::now() + WAIT;
    loop {
        match get(&main, "/healthz", Duration::from_secs(3)) {
            Ok(answer) if answer.starts_with("HTTP/1.1 200") => break,
            other => assert!(
                Instant::now() < deadline,
                "the main port never recovered: {other:?}"
            ),
        }
    }
    drop(held);
    drop(served);
}

/// Publishes one notification titled `title` over a plain socket; its id.
fn publish(addr: &str, token: &str, title: &str) -> u64 {
    let body = format!(r#"{{"kind":"order.created","title":"{title}"}}"#);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        tcp,
        "POST /api/notifications HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let json = response.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["id"].as_u64().unwrap()
}

fn token_for(dir: &std::path::Path, args: &[&str]) -> String {
    let out = mint(dir, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn after_the_documented_backup_and_restore_no_id_is_handed_out_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve(dir.path(), &[]);
    let admin = token_for(
        dir.path(),
        &["--email", "ann@shop.example", "--role", "admin"],
    );
    let publisher = token_for(dir.path(), &["--scope", "publish", "--sub", "orders"]);
    for i in 0..5 {
        publish(
            &served.addr().to_string(),
            &publisher,
            &format!("before the backup {i}"),
        );
    }
    // docs/operations.md, Backup and restore: SQLite's online backup.
    let backup = dir.path().join("backup.db");
    let out = Command::new("sqlite3")
        .arg(dir.path().join("belfry.db"))
        .arg(format!(".backup '{}'", backup.display()))
        .output()
        .expect("sqlite3 runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen_before = 0;
    for i in 0..5 {
        seen_before = publish(
            &served.addr().to_string(),
            &publisher,
            &format!("lost in the restore {i}"),
        );
    }
    assert_eq!(seen_before, 10);

    let restore = |extra: &[&str]| {
        Command::new(BIN)
            .args(["restore", "--data-dir"])
            .arg(dir.path())
            .arg("--from")
            .arg(&backup)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = restore(&[]);
    assert_eq!(out.status.code(), Some(1), "refused while the server runs");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stop it first"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop(&mut served);
    let out = restore(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let served = serve(dir.path(), &[]);
    let mut after = Vec::new();
    for i in 0..7 {
        after.push(publish(
            &served.addr().to_string(),
            &publisher,
            &format!("after the restore {i}"),
        ));
    }
    assert!(
        after[0] > seen_before && after[0] % 1_000_000_000 == 0,
        "new ids start at a fresh block: {after:?}"
    );
    // A client that saw id 10, lost with the restore, is told to refetch.
    let seen = resume_until(
        &served.addr().to_string(),
        &admin,
        Some(seen_before),
        "event: reset",
    );
    assert!(!seen.contains("event: notification"), "{seen}");
    // A client that saw id 3 (in the backup) gets 4, 5, then the new ones.
    let last = after.last().unwrap().to_string();
    let seen = resume_until(
        &served.addr().to_string(),
        &admin,
        Some(3),
        &format!("id: {last}\n"),
    );
    assert!(!seen.contains("event: reset"), "{seen}");
    let ids: Vec<&str> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    let expected: Vec<String> = ["3", "4", "5"]
        .into_iter()
        .map(str::to_owned)
        .chain(after.iter().map(u64::to_string))
        .collect();
    assert_eq!(ids, expected, "the ready id, then every notification once");
}

/// The `retry:` a fresh stream of `served` advertises, in milliseconds.
fn advertised_retry(served: &ServerProcess, token: &str) -> String {
    let opening = read_stream_until(&served.addr().to_string(), token, "event: ready");
    opening
        .lines()
        .find_map(|l| l.strip_prefix("retry: "))
        .expect("the opening block has retry:")
        .trim()
        .to_owned()
}

#[test]
fn flags_beat_variables_which_beat_the_file_which_beats_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("belfry.toml");
    std::fs::write(&file, "retry = \"700ms\"\nkeepalive = \"20s\"\n").unwrap();
    let token = token_for(
        dir.path(),
        &["--email", "a@shop.example", "--role", "admin"],
    );
    let with = |variable: Option<&str>, flag: Option<&str>| {
        let mut command = ServerCommand::serve(BIN)
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path());
        if let Some(v) = variable {
            command = command.env("BELFRY_RETRY", v);
        }
        if let Some(f) = flag {
            command = command.args(["--retry", f]);
        }
        let served = command.start().expect("belfry-server listens");
        advertised_retry(&served, &token)
    };
    assert_eq!(with(None, None), "700", "the file beats the default (500)");
    assert_eq!(
        with(Some("800ms"), None),
        "800",
        "a variable beats the file"
    );
    assert_eq!(
        with(Some("800ms"), Some("900ms")),
        "900",
        "a flag beats both"
    );
    // A flag that repeats the default still beats the file.
    assert_eq!(with(None, Some("500ms")), "500");
}

#[test]
fn the_old_name_of_a_renamed_setting_still_works_and_warns_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_for(
        dir.path(),
        &["--email", "a@shop.example", "--role", "admin"],
    );
    let served = ServerCommand::serve(BIN)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("BELFRY_MAX_CONNECTIONS", "1")
        .start()
        .expect("belfry-server listens");
    // The one stream allowed, held open.
    let _first = open_stream(&served.addr().to_string(), &token, None, "event: ready");
    // The next is refused.
    let mut tcp = TcpStream::connect(served.addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        tcp,
        "GET /api/admin/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let log = served.log();
    assert!(
        log.contains("BELFRY_MAX_CONNECTIONS is now called BELFRY_MAX_STREAMS"),
        "{log}"
    );
}

#[test]
fn account_and_token_help_lists_only_the_settings_they_use() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let serve = help(&["serve", "--help"]);
    assert!(
        serve.contains("--listen") && serve.contains("--data-dir"),
        "{serve}"
    );
    for command in [
        &["user", "--help"][..],
        &["user", "add", "--help"],
        &["token", "--help"],
    ] {
        let text = help(command);
        assert!(
            text.contains("--data-dir") && text.contains("--store"),
            "{command:?}: {text}"
        );
        assert!(
            !text.contains("--listen") && !text.contains("--keepalive"),
            "{command:?}: {text}"
        );
    }
}
