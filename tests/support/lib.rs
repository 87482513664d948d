//! Test support: real Belfry servers on ephemeral ports with temporary data
//! directories, typed request helpers, an SSE reader that also sees the
//! comment lines (keepalives) most SSE parsers drop, and the workspace's
//! binaries the tests run as processes (`belfry-server`, `belfry`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use belfry_proto::Notification;
use belfry_server::Config;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generous bound for anything a test waits on: a condition that holds comes
/// far sooner; one that does not fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(20);

/// HS256 secret of every test server.
pub const SECRET: &str = "belfry-test-secret-0123456789abcdef";

/// The real PostgreSQL the networked-backend tests use (trust auth).
pub fn postgres_admin_url() -> String {
    std::env::var("BELFRY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// The real Redis the networked-backend tests use.
pub fn redis_url() -> String {
    std::env::var("BELFRY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether this run uses PostgreSQL + Redis (`BELFRY_TEST_BACKEND=postgres`)
/// instead of the embedded SQLite + in-memory defaults: the same suite runs
/// against both.
pub fn networked_backend() -> bool {
    std::env::var("BELFRY_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

fn unique_name(prefix: &str) -> String {
    let n: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ (u64::from(std::process::id()) << 32);
    format!("{prefix}_{n:x}")
}

/// A fresh, empty PostgreSQL database; dropped with the value.
pub struct FreshDatabase {
    pub url: String,
    name: String,
}

impl FreshDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection as _;
        let name = unique_name("belfry_test");
        let admin = format!("{}/postgres", postgres_admin_url());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL is reachable (scripts/test.sh starts it)");
        let sql = format!("CREATE DATABASE {name}");
        sqlx::query(&sql)
            .execute(&mut conn)
            .await
            .expect("database created");
        Self {
            url: format!("{}/{name}", postgres_admin_url()),
            name,
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async context; a short-lived runtime does the I/O.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use sqlx::Connection as _;
                let admin = format!("{}/postgres", postgres_admin_url());
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(&sql).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// Points `config` at a fresh database and a private Redis channel.
pub async fn use_networked_backend(config: &mut Config) -> FreshDatabase {
    let db = FreshDatabase::create().await;
    config.store = Some(db.url.clone().into());
    config.broker = Some(redis_url().into());
    config.broker_channel = unique_name("belfry_test");
    db
}

/// A running server; dropping it stops it.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The health port, when the config asked for one.
    pub health_addr: Option<SocketAddr>,
    pub base: String,
    pub http: reqwest::Client,
    pub config: Config,
    /// The running server's state, to reach its store directly (as the
    /// `belfry-server user` commands do).
    pub state: belfry_server::state::AppState,
    data_dir: Arc<tempfile::TempDir>,
    database: Option<Arc<FreshDatabase>>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), belfry_server::app::StartError>>>,
}

impl TestServer {
    /// A server with test defaults.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose config `tweak` may adjust first.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = Config::new(data_dir.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.jwt.secret = Some(SECRET.to_owned().into());
        config.jwt.leeway = Duration::ZERO;
        let database = if networked_backend() {
            Some(Arc::new(use_networked_backend(&mut config).await))
        } else {
            None
        };
        tweak(&mut config);
        Self::start(config, data_dir, database).await
    }

    async fn start(
        config: Config,
        data_dir: Arc<tempfile::TempDir>,
        database: Option<Arc<FreshDatabase>>,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let server = belfry_server::Server::build(config.clone(), shutdown.clone())
            .await
            .expect("server builds");
        let addr = server.local_addr();
        let health_addr = server.health_addr();
        let state = server.state().clone();
        let task = tokio::spawn(server.run());
        Self {
            addr,
            health_addr,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            config,
            state,
            data_dir,
            database,
            shutdown,
            task: Some(task),
        }
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("server stops in time")
                .expect("server task did not panic")
                .expect("server stopped cleanly");
        }
    }

    /// Stops the server and starts a new one on the same data directory and port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut config = self.config.clone();
        config.listen = self.addr;
        *self = Self::start(config, self.data_dir.clone(), self.database.clone()).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs `claims` with the test secret (HS256); adds `exp` in an hour when missing.
    pub fn sign(&self, mut claims: Value) -> String {
        if claims.get("exp").is_none() {
            claims["exp"] = json!(now() + 3600);
        }
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("signing works")
    }

    /// A valid admin token for `sub`.
    pub fn admin_token(&self, sub: &str) -> String {
        self.sign(json!({"sub": sub, "email": format!("{sub}@shop.example"), "role": "admin"}))
    }

    /// A service token allowed to publish.
    pub fn publish_token(&self) -> String {
        self.sign(json!({"sub": "orders-service", "scope": "publish"}))
    }

    /// POSTs a raw body to the publish endpoint.
    pub async fn publish_raw(
        &self,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url("/api/notifications"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        req.send().await.expect("publish request is answered")
    }

    /// Publishes `body` with a publish token and returns the stored notification.
    pub async fn publish(&self, body: Value) -> Notification {
        let res = self
            .publish_raw(Some(&self.publish_token()), body.to_string(), None)
            .await;
        assert_eq!(
            res.status(),
            201,
            "{}",
            res.text().await.unwrap_or_default()
        );
        res.json().await.expect("notification JSON")
    }

    /// Publishes a simple info notification titled `title`.
    pub async fn publish_titled(&self, title: &str) -> Notification {
        self.publish(json!({"kind": "order.created", "title": title}))
            .await
    }

    /// `GET /api/admin/events` with whatever auth the caller set up.
    pub fn events_request(&self, query: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(&format!("/api/admin/events{query}")))
    }

    /// Opens a stream as `token`, optionally resuming; asserts 200.
    pub async fn connect(&self, token: &str, last_event_id: Option<u64>, query: &str) -> SseStream {
        let mut req = self.events_request(query).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let res = req.send().await.expect("stream request is answered");
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
        SseStream::new(res)
    }

    /// Creates a local account, as `belfry-server user add` does.
    pub async fn create_user(&self, email: &str, password: &str, admin: bool) {
        let hash = belfry_server::password::hash(password).unwrap();
        self.state
            .store
            .create_user(email, &hash, admin)
            .await
            .unwrap();
    }

    /// `POST /api/auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// GET `path` as `token`, asserting 200, returning the JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str, token: &str) -> T {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
        res.json().await.unwrap()
    }

    /// `method` `path` with a JSON body as `token`.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The server's Prometheus metric `name`, or 0 when absent.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A binary of another workspace package, which cargo built next to this
/// test executable (`target/<profile>/<name>`). Cargo builds only a package's
/// own binaries for its tests (`CARGO_BIN_EXE_*`), so these come from
/// `cargo build -p <package>`, which `scripts/test.sh` runs first. The tests
/// run whatever build is there: rebuild it after changing its sources.
///
/// # Panics
///
/// When the binary is missing, naming the `cargo build` that makes it.
pub fn workspace_binary(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // The test executable is target/<profile>/deps/<test>-<hash>.
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p {package}` first",
        bin.display()
    );
    bin
}

/// The `belfry` CLI (package `belfry-cli`); see [`workspace_binary`].
pub fn belfry_cli() -> PathBuf {
    workspace_binary("belfry", "belfry-cli")
}

/// The `belfry-server` binary; see [`workspace_binary`].
pub fn server_binary() -> PathBuf {
    workspace_binary("belfry-server", "belfry-server")
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One SSE block: fields of an event, or only comment lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub retry: Option<u64>,
    pub comments: Vec<String>,
}

impl Frame {
    /// The `data:` payload parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(self.data.as_deref().expect("frame has data")).expect("data is JSON")
    }
}

type ByteStream = std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Reads an event stream block by block.
pub struct SseStream {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    body: ByteStream,
    buf: String,
}

impl SseStream {
    pub fn new(res: reqwest::Response) -> Self {
        Self {
            status: res.status(),
            headers: res.headers().clone(),
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next block, `None` once the server ended the stream. Panics after [`WAIT`].
    pub async fn next_frame(&mut self) -> Option<Frame> {
        tokio::time::timeout(WAIT, self.read_frame())
            .await
            .expect("a frame or the end of the stream arrives in time")
    }

    async fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                return Some(parse_block(&block));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self
                    .buf
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8")),
                Some(Err(e)) => panic!("stream broke: {e}"),
                None => return None,
            }
        }
    }

    /// The next block without the time limit: `None` at the end, `Err` if
    /// the connection broke (for tests that kill servers).
    pub async fn next_frame_raw(&mut self) -> Option<Result<Frame, ()>> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                return Some(Ok(parse_block(&block)));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Some(Err(_)) => return Some(Err(())),
                None => return None,
            }
        }
    }

    /// The next block that is an event (comments skipped), within [`WAIT`]
    /// in all: keepalives do not extend the wait. Panics if the stream ends.
    pub async fn next_event(&mut self) -> Frame {
        tokio::time::timeout(WAIT, async {
            loop {
                let f = self.read_frame().await.expect("stream still open");
                if f.event.is_some() || f.data.is_some() {
                    return f;
                }
            }
        })
        .await
        .expect("an event arrives in time")
    }

    /// The next `count` notifications, asserting nothing but notifications
    /// (and keepalives) arrive meanwhile.
    pub async fn notifications(&mut self, count: usize) -> Vec<Notification> {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let f = self.next_event().await;
            assert_eq!(f.event.as_deref(), Some("notification"), "{f:?}");
            let n: Notification = f.json();
            assert_eq!(
                f.id,
                Some(n.id.to_string()),
                "frame id is the notification id"
            );
            out.push(n);
        }
        out
    }

    /// The next `count` notifications, and how many `event: reset` frames
    /// came between them (a stream that fell behind gets one).
    pub async fn notifications_and_resets(&mut self, count: usize) -> (Vec<Notification>, usize) {
        let (mut out, mut resets) = (Vec::with_capacity(count), 0);
        while out.len() < count {
            let f = self.next_event().await;
            match f.event.as_deref() {
                Some("notification") => out.push(f.json()),
                Some("reset") => resets += 1,
                other => panic!("unexpected event {other:?}: {f:?}"),
            }
        }
        (out, resets)
    }

    /// Reads the opening block (`retry:`, `id:` and `event: ready` together);
    /// returns `ready.last_id`.
    pub async fn ready(&mut self) -> u64 {
        self.ready_frame().await.json::<Value>()["last_id"]
            .as_u64()
            .expect("last_id")
    }

    /// The opening block itself, checked to be one block with `retry:`, an
    /// `id:` and `event: ready`.
    pub async fn ready_frame(&mut self) -> Frame {
        let ready = self.next_frame().await.expect("the opening block");
        assert_eq!(ready.event.as_deref(), Some("ready"), "{ready:?}");
        assert!(
            ready.retry.is_some(),
            "retry: is in the opening block: {ready:?}"
        );
        assert!(ready.id.is_some(), "the opening block has an id: {ready:?}");
        ready
    }

    /// Waits for the server to end the stream, returning the events before the end.
    pub async fn until_end(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(f) = self.next_frame().await {
            frames.push(f);
        }
        frames
    }
}

fn parse_block(block: &str) -> Frame {
    let mut f = Frame::default();
    for line in block.lines() {
        if let Some(c) = line.strip_prefix(':') {
            f.comments.push(c.trim().to_owned());
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match name {
            "id" => f.id = Some(value.to_owned()),
            "event" => f.event = Some(value.to_owned()),
            "data" => match &mut f.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => f.data = Some(value.to_owned()),
            },
            "retry" => f.retry = value.parse().ok(),
            _ => {}
        }
    }
    f
}

/// The JSON error body of a response, asserting its shape.
pub async fn error_body(res: reqwest::Response) -> Value {
    let v: Value = res.json().await.expect("error body is JSON");
    assert!(v["error"]["code"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    v["error"].clone()
}

/// Polls `condition` until it holds; panics after [`WAIT`] naming `what`.
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
