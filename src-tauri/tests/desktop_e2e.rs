//! End to end with the real app binary, the way an admin meets it: under
//! Xvfb, on a private D-Bus session bus, connected to a real belfry-server.
//!
//! The bus carries two stand-ins for the desktop shell, owned by this test
//! because a CI machine has no desktop: a notification server
//! (`org.freedesktop.Notifications`) that records every `Notify` call, and a
//! tray host (`org.kde.StatusNotifierWatcher`) that records the tray item
//! registering, so its menu can be read over `com.canonical.dbusmenu`. The
//! app talks to them exactly as to GNOME's or KDE's. The window is driven
//! through WebKitWebDriver (Debian's webkit2gtk-driver), and a screenshot of
//! it is saved under `target/desktop-e2e/`.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;
use zbus::interface;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

/// Generous: the first WebKit start on a loaded 2-core machine is slow.
const WAIT: Duration = Duration::from_secs(90);
const ADMIN: &str = "ops@shop.example";
const PASSWORD: &str = "correct horse battery staple";
/// The WebDriver element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One recorded `Notify` call.
#[derive(Debug, Clone)]
struct Popup {
    summary: String,
    body: String,
    urgency: Option<u8>,
    actions: Vec<String>,
}

#[derive(Default)]
struct Notifications {
    calls: Arc<Mutex<Vec<Popup>>>,
    /// Ids passed to `CloseNotification`.
    closed: Arc<Mutex<Vec<u32>>>,
    next: u32,
}

#[interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        self.calls.lock().unwrap().push(Popup {
            summary,
            body,
            urgency,
            actions,
        });
        self.next += 1;
        self.next
    }

    fn get_capabilities(&self) -> Vec<String> {
        ["body", "body-markup", "actions", "persistence", "sound"]
            .map(String::from)
            .to_vec()
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "belfry-test".into(),
            "belfry".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, id: u32) {
        self.closed.lock().unwrap().push(id);
    }
}

/// A tray item that registered: its bus name and what it registered with.
#[derive(Debug, Clone)]
struct TrayItem {
    sender: String,
    service: String,
}

#[derive(Default)]
struct Watcher {
    items: Arc<Mutex<Vec<TrayItem>>>,
}

#[interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        self.items
            .lock()
            .unwrap()
            .push(TrayItem { sender, service });
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .map(|i| i.service.clone())
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// Child processes that die with the test.
struct Procs(Vec<Child>);

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for<T>(
    what: &str,
    mut probe: impl AsyncFnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + WAIT;
    let mut last_error = None;
    loop {
        match probe().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what} (last error: {last_error:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A minimal W3C WebDriver client.
struct WebDriver {
    http: reqwest::Client,
    base: String,
    session: String,
}

impl WebDriver {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> anyhow::Result<Json> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Json = req.send().await?.json().await?;
        if let Some(err) = res["value"].get("error") {
            bail!("WebDriver {path}: {err} {}", res["value"]["message"]);
        }
        Ok(res["value"].clone())
    }

    async fn script(&self, script: &str) -> anyhow::Result<Json> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn find(&self, css: &str) -> anyhow::Result<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v[ELEMENT].as_str().context("no element id")?.to_owned())
    }

    async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await?;
        Ok(())
    }

    async fn click(&self, css: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await?;
        Ok(())
    }

    async fn page_text(&self) -> anyhow::Result<String> {
        Ok(self
            .script("return document.body ? document.body.innerText : ''")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }
}

/// Kills app processes a failed session left behind: ours are the ones
/// whose environment carries this test's HOME.
fn kill_leftover_apps(app: &Path, home: &Path) {
    let marker = format!("HOME={}", home.display());
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

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("desktop-e2e")
}

async fn screenshot(wd: &WebDriver) -> anyhow::Result<Vec<u8>> {
    let shot = wd.call(reqwest::Method::GET, "/screenshot", None).await?;
    Ok(
        base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().context("no screenshot")?)?,
    )
}

/// Saves a screenshot for a failure report, as far as that still works.
async fn save_screenshot(wd: &WebDriver, name: &str) {
    if let Ok(png) = screenshot(wd).await {
        let dir = artifacts_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(name), png);
        eprintln!("screenshot: {}", dir.join(name).display());
    }
}

/// A dbusmenu layout node: id, properties, children (`(ia{sv}av)`).
type MenuNode = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// Every `(id, label)` in a dbusmenu layout, depth first.
fn menu_labels(node: &OwnedValue, out: &mut Vec<(i32, String)>) -> anyhow::Result<()> {
    let (id, props, children): MenuNode = node.try_clone()?.try_into()?;
    if let Some(label) = props.get("label") {
        out.push((id, String::try_from(label.try_clone()?)?));
    }
    for child in &children {
        menu_labels(child, out)?;
    }
    Ok(())
}

/// The tray menu's entries, read from the registered item over D-Bus, and
/// where its menu is (bus name, object path) to click them.
async fn tray_menu(
    bus: &zbus::Connection,
    item: &TrayItem,
) -> anyhow::Result<(Vec<(i32, String)>, String, OwnedObjectPath)> {
    let (dest, path) = if item.service.starts_with('/') {
        (item.sender.clone(), item.service.clone())
    } else {
        (item.service.clone(), "/StatusNotifierItem".to_owned())
    };
    let props = zbus::fdo::PropertiesProxy::builder(bus)
        .destination(dest.clone())?
        .path(path)?
        .build()
        .await?;
    let menu: OwnedObjectPath = props
        .get("org.kde.StatusNotifierItem".try_into()?, "Menu")
        .await?
        .try_into()?;
    let reply = bus
        .call_method(
            Some(dest.as_str()),
            menu.as_str(),
            Some("com.canonical.dbusmenu"),
            "GetLayout",
            &(0i32, -1i32, Vec::<String>::new()),
        )
        .await?;
    let (_revision, layout): (u32, MenuNode) = reply.body().deserialize()?;
    let mut labels = Vec::new();
    for child in &layout.2 {
        menu_labels(child, &mut labels)?;
    }
    Ok((labels, dest, menu))
}

/// A private desktop session: a temporary HOME, an X display, a session
/// bus with gnome-keyring, and the recording notification server and tray
/// host on it.
struct Desk {
    home: tempfile::TempDir,
    runtime_dir: PathBuf,
    display: String,
    address: String,
    bus: zbus::Connection,
    popups: Arc<Mutex<Vec<Popup>>>,
    /// Pop-ups the app closed (`CloseNotification`), by the ids `Notify` gave.
    closed: Arc<Mutex<Vec<u32>>>,
    tray_items: Arc<Mutex<Vec<TrayItem>>>,
    /// Xvfb and dbus-daemon, ended when the session is dropped.
    _procs: Procs,
}

impl Desk {
    async fn start() -> anyhow::Result<Self> {
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
        let popups = Arc::new(Mutex::new(Vec::<Popup>::new()));
        let closed = Arc::new(Mutex::new(Vec::<u32>::new()));
        let tray_items = Arc::new(Mutex::new(Vec::<TrayItem>::new()));
        let bus = zbus::connection::Builder::address(address.as_str())?
            .name("org.freedesktop.Notifications")?
            .name("org.kde.StatusNotifierWatcher")?
            .serve_at(
                "/org/freedesktop/Notifications",
                Notifications {
                    calls: popups.clone(),
                    closed: closed.clone(),
                    next: 0,
                },
            )?
            .serve_at(
                "/StatusNotifierWatcher",
                Watcher {
                    items: tray_items.clone(),
                },
            )?
            .build()
            .await?;
        Ok(Self {
            home,
            runtime_dir,
            display,
            address,
            bus,
            popups,
            closed,
            tray_items,
            _procs: procs,
        })
    }

    /// The environment of a program in this session (a fresh user).
    fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
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

    fn popups(&self) -> Vec<Popup> {
        self.popups.lock().unwrap().clone()
    }

    /// The tray menu's labels once the tray item has registered.
    async fn tray_labels(&self) -> anyhow::Result<Vec<String>> {
        let item = wait_for("the tray item", async || {
            Ok(self.tray_items.lock().unwrap().first().cloned())
        })
        .await?;
        let (entries, _, _) = tray_menu(&self.bus, &item).await?;
        Ok(entries.into_iter().map(|(_, label)| label).collect())
    }

    /// Clicks the tray menu entry labelled `label`, as a tray host does.
    async fn click_tray(&self, label: &str) -> anyhow::Result<()> {
        let item = self.tray_items.lock().unwrap().first().cloned();
        let (entries, dest, menu) = tray_menu(&self.bus, &item.context("no tray item")?).await?;
        let id = entries
            .iter()
            .find(|(_, l)| l == label)
            .with_context(|| format!("no {label:?} in {entries:?}"))?
            .0;
        self.bus
            .call_method(
                Some(dest.as_str()),
                menu.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(id, "clicked", zbus::zvariant::Value::from(0i32), 0u32),
            )
            .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_alert_pops_up_once_escaped_and_shows_in_the_window_and_the_tray()
-> anyhow::Result<()> {
    let app = PathBuf::from(env!("CARGO_BIN_EXE_belfry-desktop"));
    let desk = Desk::start().await?;
    let mut procs = Procs(Vec::new());
    let home = &desk.home;
    let popups = desk.popups.clone();
    let bus = &desk.bus;

    // A real server with one admin and a publisher token.
    let server_dir = tempfile::tempdir()?;
    let mut config = belfry_server::config::Config::new(server_dir.path());
    config.listen = "127.0.0.1:0".parse()?;
    let shutdown = CancellationToken::new();
    let server = belfry_server::Server::build(config, shutdown.clone()).await?;
    let server_url = format!("http://{}", server.local_addr());
    server
        .state()
        .store
        .create_user(ADMIN, &belfry_server::password::hash(PASSWORD)?, true)
        .await?;
    let minter = server.state().minter.clone().context("HS256 server")?;
    let publish_token = minter.mint(
        "shop-backend",
        None,
        None,
        &["publish"],
        Duration::from_secs(600),
    )?;
    let served = tokio::spawn(server.run());

    // The app, started by WebKitWebDriver, pointed at that server.
    let port = free_port();
    let driver = desk
        .env(Command::new("WebKitWebDriver").arg(format!("--port={port}")))
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context(
            "cannot start WebKitWebDriver: run scripts/setup.sh (package webkit2gtk-driver)",
        )?;
    procs.0.push(driver);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_for("WebKitWebDriver", async || {
        Ok(http
            .get(format!("{base}/status"))
            .send()
            .await
            .ok()
            .map(|_| ()))
    })
    .await?;

    // Creating the session starts the app; it fails now and then on a
    // loaded machine, so it is retried, killing whatever a failed try left.
    let capabilities = json!({"capabilities": {"alwaysMatch": {
        "webkitgtk:browserOptions": {"binary": app, "args": ["--server", server_url]}
    }}});
    let mut session = None;
    for attempt in 1..=3 {
        let res = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .timeout(WAIT)
            .send()
            .await;
        match res {
            Ok(r) => {
                let v: Json = r.json().await?;
                if let Some(id) = v["value"]["sessionId"].as_str() {
                    session = Some(id.to_owned());
                    break;
                }
                eprintln!("WebDriver session attempt {attempt} failed: {v}");
            }
            Err(e) => eprintln!("WebDriver session attempt {attempt} failed: {e}"),
        }
        kill_leftover_apps(&app, home.path());
    }
    let wd = WebDriver {
        http: http.clone(),
        base: base.clone(),
        session: session.context("no WebDriver session after 3 attempts")?,
    };

    // Sign in through the window, as an admin would.
    wait_for("the sign-in form", async || {
        Ok(wd.find("input[name=email]").await.ok())
    })
    .await?;
    wd.type_into("input[name=email]", ADMIN).await?;
    wd.type_into("input[name=password]", PASSWORD).await?;
    wd.click("button[type=submit]").await?;
    wait_for("the live connection", async || {
        let text = wd.page_text().await?;
        Ok((text.contains("Inbox") && !text.contains("Signing in")).then_some(()))
    })
    .await?;
    // The stream is live once the core has said so to the window.
    wait_for("the stream to be live", async || {
        let live = wd
            .script("return document.querySelector('[data-state=\"live\"]') !== null")
            .await?;
        Ok((live == json!(true)).then_some(()))
    })
    .await?;

    // The sign-in went to the OS keyring, under the app's own service name,
    // and nowhere into the app's files.
    let secrets = zbus::Proxy::new(
        bus,
        "org.freedesktop.secrets",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service",
    )
    .await?;
    let refresh_items = wait_for("the refresh token in the keyring", async || {
        let attributes =
            HashMap::from([("service", "belfry-desktop"), ("username", "refresh-token")]);
        let (unlocked, _locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
            secrets.call("SearchItems", &(attributes,)).await?;
        Ok((!unlocked.is_empty()).then_some(unlocked))
    })
    .await?;
    assert_eq!(refresh_items.len(), 1, "{refresh_items:?}");
    for entry in walk(home.path().join("config").as_path()) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !text.contains("eyJ"),
            "a token leaked into {}",
            entry.display()
        );
    }

    // A critical alert whose text carries markup, then an info one.
    let critical_title = "Payment <b>declined</b> & retried";
    let critical_body = "Card <b>4242</b> & <a href=\"https://evil.example\">details</a>";
    let info_title = "Order #1042 placed";
    let mut published = Vec::new();
    for (severity, kind, title, body) in [
        (
            "critical",
            "payment.failed",
            critical_title,
            Some(critical_body),
        ),
        ("info", "order.created", info_title, None),
    ] {
        let res = http
            .post(format!("{server_url}/api/notifications"))
            .bearer_auth(&publish_token)
            .json(&json!({"kind": kind, "severity": severity, "title": title, "body": body}))
            .send()
            .await?;
        ensure!(
            res.status().is_success(),
            "publish answered {}",
            res.status()
        );
        let created: serde_json::Value = res.json().await?;
        published.push(created["id"].as_u64().context("a published id")?);
    }
    let critical_id = published[0];

    // The window shows both (publisher text as text, markup and all).
    let shown = wait_for("both notifications in the window", async || {
        let text = wd.page_text().await?;
        Ok((text.contains(critical_title) && text.contains(info_title)).then_some(()))
    })
    .await;
    if shown.is_err() {
        eprintln!(
            "the window shows:\n{}",
            wd.page_text().await.unwrap_or_default()
        );
        let history = wd
            .call(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({"script": "const done = arguments[arguments.length - 1]; \
                    window.__TAURI_INTERNALS__.invoke('history', {query: {limit: 5}}) \
                    .then(r => done(JSON.stringify(r)), e => done('error: ' + JSON.stringify(e)))", "args": []})),
            )
            .await;
        eprintln!("history: {history:?}");
        save_screenshot(&wd, "failure.png").await;
    }
    shown?;

    // A marker pop-up through the app's own command: pop-ups go out in
    // order, so once it arrives, anything the info notification had raised
    // would have arrived before it.
    wd.script("window.__TAURI_INTERNALS__.invoke('test_notification', {severity: 'warning'}); return true")
        .await?;
    wait_for("the marker pop-up", async || {
        Ok(popups
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.body.contains("Belfry can reach you"))
            .then_some(()))
    })
    .await?;
    let raised = popups.lock().unwrap().clone();
    ensure!(
        raised.len() == 2,
        "expected the critical pop-up and the marker, got {raised:#?}"
    );
    let critical = &raised[0];
    assert_eq!(critical.summary, "Critical: payment failed", "{critical:?}");
    assert_eq!(critical.urgency, Some(2), "urgency critical: {critical:?}");
    assert_eq!(
        critical.body,
        "Payment &lt;b&gt;declined&lt;/b&gt; &amp; retried\nCard &lt;b&gt;4242&lt;/b&gt; &amp; \
         &lt;a href=&quot;https://evil.example&quot;&gt;details&lt;/a&gt;",
    );
    assert!(
        critical.actions.iter().any(|a| a == "acknowledge"),
        "a critical pop-up offers Acknowledge: {critical:?}"
    );

    // The tray registered with the host and its menu lists the alert.
    let labels = wait_for("the alert in the tray menu", async || {
        let labels = desk.tray_labels().await?;
        Ok(labels
            .iter()
            .any(|l| l.contains("Critical: Payment"))
            .then_some(labels))
    })
    .await?;
    assert!(labels.iter().any(|l| l == "Quit"), "{labels:?}");

    // "Mark all read" in the tray reaches the server and the window.
    let badge = "const b = document.querySelector('[data-testid=\"unread-badge\"]'); return b ? b.textContent : ''";
    assert_eq!(wd.script(badge).await?, json!("2"));
    desk.click_tray("Mark all read").await?;
    wait_for("everything read", async || {
        let unread = wd
            .call(
                reqwest::Method::POST,
                "/execute/async",
                Some(
                    json!({"script": "const done = arguments[arguments.length - 1]; \
                    window.__TAURI_INTERNALS__.invoke('history', {query: {limit: 1}}) \
                    .then(r => done(r.unread.total), e => done(-1))", "args": []}),
                ),
            )
            .await?;
        Ok((unread == json!(0)).then_some(()))
    })
    .await?;
    wait_for("the badge to clear", async || {
        Ok((wd.script(badge).await? == json!("")).then_some(()))
    })
    .await?;
    assert!(labels.iter().any(|l| l.contains(info_title)), "{labels:?}");

    // Another admin acknowledges the critical alert elsewhere: its pop-up,
    // which stays until handled, is closed here. It was the first `Notify`,
    // so the notification server knows it as 1; the marker stays.
    let bob = minter.mint(
        "bob",
        Some("bob@shop.example"),
        Some("admin"),
        &[],
        Duration::from_secs(600),
    )?;
    let res = http
        .post(format!(
            "{server_url}/api/admin/notifications/{critical_id}/ack"
        ))
        .bearer_auth(&bob)
        .json(&json!({}))
        .send()
        .await?;
    ensure!(res.status().is_success(), "ack answered {}", res.status());
    wait_for("the acknowledged pop-up to close", async || {
        Ok((!desk.closed.lock().unwrap().is_empty()).then_some(()))
    })
    .await?;
    assert_eq!(*desk.closed.lock().unwrap(), [1]);

    // Acknowledged from the pop-up's own button: the notification service
    // reports the click (`ActionInvoked`), the app acknowledges on the
    // server, and the ack coming back over the stream closes that pop-up.
    let disk_title = "Disk almost full";
    let res = http
        .post(format!("{server_url}/api/notifications"))
        .bearer_auth(&publish_token)
        .json(&json!({"kind": "disk.full", "severity": "critical", "title": disk_title}))
        .send()
        .await?;
    ensure!(
        res.status().is_success(),
        "publish answered {}",
        res.status()
    );
    let popup = wait_for("the second critical's pop-up", async || {
        Ok(desk
            .popups()
            .iter()
            .position(|p| p.body.contains(disk_title))
            .map(|i| u32::try_from(i + 1).expect("a few pop-ups")))
    })
    .await?;
    desk.bus
        .emit_signal(
            None::<&str>,
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
            "ActionInvoked",
            &(popup, "acknowledge"),
        )
        .await?;
    wait_for(
        "the pop-up acknowledged from its button to close",
        async || Ok(desk.closed.lock().unwrap().contains(&popup).then_some(())),
    )
    .await?;

    // A screenshot of the window, kept as a test artifact.
    let png = screenshot(&wd).await?;
    ensure!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("window.png"), &png)?;

    let _ = http
        .delete(format!("{base}/session/{}", wd.session))
        .send()
        .await;
    kill_leftover_apps(&app, home.path());
    shutdown.cancel();
    let _ = served.await;
    drop(procs);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_configured_the_app_runs_its_own_server_and_shows_the_demo()
-> anyhow::Result<()> {
    let app = PathBuf::from(env!("CARGO_BIN_EXE_belfry-desktop"));
    let desk = Desk::start().await?;
    // A fresh user, no flags: what a new admin gets on first start.
    let child = desk
        .env(&mut Command::new(&app))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let _app = Procs(vec![child]);

    // The demo opens with one event of each severity, seconds apart: info
    // only moves the badge; warning and critical pop up.
    let raised = wait_for("the demo's warning and critical pop-ups", async || {
        let p = desk.popups();
        let has = |prefix: &str| p.iter().any(|x| x.summary.starts_with(prefix));
        Ok((has("Warning: ") && has("Critical: ")).then_some(p))
    })
    .await?;
    assert!(
        !raised.iter().any(|p| p.summary.starts_with("Info: ")),
        "{raised:#?}"
    );
    let critical = raised
        .iter()
        .find(|p| p.summary.starts_with("Critical: "))
        .expect("found above");
    assert_eq!(critical.urgency, Some(2), "{critical:?}");

    // The tray lists them, and the choice is remembered for the next start.
    let labels = wait_for("the demo events in the tray menu", async || {
        let labels = desk.tray_labels().await?;
        Ok(labels
            .iter()
            .any(|l| l.starts_with("Critical: "))
            .then_some(labels))
    })
    .await?;
    assert!(
        labels.iter().any(|l| l.starts_with("Warning: ")),
        "{labels:?}"
    );
    let settings = desk
        .home
        .path()
        .join("config/dev.belfry.desktop/settings.json");
    let saved: Json = serde_json::from_str(&std::fs::read_to_string(&settings)?)?;
    assert_eq!(saved["server"], json!({"mode": "bundled", "demo": true}));
    assert!(saved["resume"]["last_id"].as_u64() > Some(0), "{saved}");
    Ok(())
}
