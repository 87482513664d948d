//! The `belfry` CLI run as a real process.

use std::process::Stdio;

use belfry_e2e::{TestServer, WAIT, belfry_cli};
use belfry_proto::Notification;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// `belfry` with a clean environment: no inherited `BELFRY_*`, and a D-Bus
/// address that leads nowhere, so no test touches a real keyring.
fn belfry() -> Command {
    let mut cmd = Command::new(belfry_cli());
    cmd.env_remove("BELFRY_SERVER")
        .env_remove("BELFRY_TOKEN")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/belfry-test-bus",
        )
        .env("XDG_RUNTIME_DIR", "/nonexistent")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

struct Running {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("belfry starts");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        Self {
            child,
            stdout,
            stderr,
        }
    }

    async fn stdout_line(&mut self) -> String {
        tokio::time::timeout(WAIT, self.stdout.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("stdout still open")
    }

    /// Reads stderr until a line contains `text`.
    async fn stderr_until(&mut self, text: &str) {
        tokio::time::timeout(WAIT, async {
            loop {
                let line = self.stderr.next_line().await.unwrap();
                match line {
                    Some(l) if l.contains(text) => return,
                    Some(_) => {}
                    None => panic!("stderr ended before `{text}`"),
                }
            }
        })
        .await
        .expect("stderr line in time");
    }
}

#[tokio::test]
async fn listen_json_prints_one_parseable_object_per_notification() {
    let app = TestServer::spawn().await;
    let mut cmd = belfry();
    cmd.args(["listen", "--json", "--server", &app.base])
        .env("BELFRY_TOKEN", app.admin_token("ann"));
    let mut run = Running::spawn(cmd);
    run.stderr_until("live").await;
    if let Some(pid) = run.child.id() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap_or("VmRSS: ?");
        eprintln!("belfry listen (debug build) {rss}");
    }

    let a = app.publish_titled("first").await;
    let b = app
        .publish(
            json!({"kind": "stock.low", "title": "Low stock: \"mugs\"\n", "data": {"sku": "M-1"}}),
        )
        .await;
    for expected in [a, b] {
        let line = run.stdout_line().await;
        let v: Value = serde_json::from_str(&line).expect("one JSON object per line");
        assert_eq!(v["replayed"], false, "{line}");
        let n: Notification = serde_json::from_value(v).unwrap();
        assert_eq!(n, expected);
    }
    run.child.kill().await.unwrap();
}

#[tokio::test]
async fn listen_prints_publisher_text_without_its_escape_sequences() {
    let app = TestServer::spawn().await;
    let mut cmd = belfry();
    cmd.args(["listen"])
        .env("BELFRY_SERVER", &app.base)
        .env("BELFRY_TOKEN", app.admin_token("ann"));
    let mut run = Running::spawn(cmd);
    run.stderr_until("live").await;
    app.publish(json!({
        "kind": "system.error",
        "title": "Disk \u{1b}[2J\u{1b}]0;owned\u{7}full",
        "body": "line one\nline two \u{9b}31m",
    }))
    .await;
    let line = run.stdout_line().await;
    assert!(!line.chars().any(char::is_control), "{line:?}");
    assert!(line.contains(r"CRITICAL"), "{line}");
    assert!(
        line.contains(r"Disk \u{1b}[2J\u{1b}]0;owned\u{7}full"),
        "{line}"
    );
    assert!(line.contains("line one line two"), "{line}");
    run.child.kill().await.unwrap();
}

#[tokio::test]
async fn publish_stores_a_notification_that_listeners_receive() {
    let app = TestServer::spawn().await;
    let mut stream = app.connect(&app.admin_token("ann"), None, "").await;
    stream.ready().await;
    let out = belfry()
        .args([
            "publish",
            "--kind",
            "refund.requested",
            "--title",
            "Refund for #1042",
            "--body",
            "€84.00",
            "--link",
            "https://shop.example/admin/orders/1042",
            "--json",
        ])
        .env("BELFRY_SERVER", &app.base)
        .env("BELFRY_TOKEN", app.publish_token())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Notification = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed.title, "Refund for #1042");
    assert_eq!(printed.severity, belfry_proto::Severity::Warning);
    assert_eq!(stream.notifications(1).await, [printed]);
}

async fn exit_of(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    (out.status.code().unwrap(), stderr)
}

#[tokio::test]
async fn failures_exit_with_their_code_and_one_line() {
    let app = TestServer::spawn().await;

    // No keyring here and no token: says exactly that, exit 3.
    let (code, err) = exit_of(belfry().args(["listen", "--server", &app.base])).await;
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no usable OS keyring") && err.contains("--token"),
        "{err}"
    );

    // A refused token: exit 3.
    let (code, err) = exit_of(
        belfry()
            .args(["publish", "--kind", "order.created", "--title", "t"])
            .args(["--server", &app.base])
            .env("BELFRY_TOKEN", "not-a-jwt"),
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("belfry: authentication needed"), "{err}");

    // A publish token cannot listen: forbidden is authentication too.
    let (code, err) = exit_of(
        belfry()
            .args(["listen", "--server", &app.base])
            .env("BELFRY_TOKEN", app.publish_token()),
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("forbidden"), "{err}");

    // Usage errors: exit 2.
    for args in [
        vec!["read"],
        vec!["listen", "--min-severity", "loud"],
        vec!["publish", "--kind", "Bad Kind", "--title", "t"],
        vec!["history", "--server", "not a url", "--token", "t"],
    ] {
        let (code, err) = exit_of(belfry().args(&args)).await;
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    let (code, err) = exit_of(belfry().args(["history", "--token", "t"])).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("BELFRY_SERVER"), "{err}");

    // Other errors (here: nobody listening): exit 1, one line.
    let (code, err) = exit_of(
        belfry()
            .args(["publish", "--kind", "order.created", "--title", "t"])
            .args(["--server", "http://127.0.0.1:9", "--token", "t"]),
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
