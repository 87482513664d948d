//! The server's typed configuration and how the layers combine: built-in
//! defaults, then the TOML file, then `BELFRY_*` variables and flags (the
//! binary reads those two through clap and hands them over as [`Settings`]).
//! Library code never reads the environment itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// Where the server listens when nothing says otherwise: loopback only, so a
/// fresh install is never reachable from the network by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Comment line interval on idle streams. 15 s stays well under the 60 s idle
/// time-out of common proxies and load balancers, while a client's watchdog
/// (2.5× this) still notices a dead connection within 40 s.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);
/// The `retry:` a stream advertises: the base delay of a client's backoff.
pub const DEFAULT_RETRY: Duration = Duration::from_millis(500);
/// Tolerated clock skew when checking a token's `exp`, since tokens may come
/// from the store's own backend on another machine.
pub const DEFAULT_JWT_LEEWAY: Duration = Duration::from_secs(5);
/// Demo notifications per minute: enough to watch the UI move, few enough
/// that the inbox stays readable.
pub const DEFAULT_DEMO_PER_MINUTE: u32 = 12;
/// Live notifications buffered per process for subscribers; one that falls
/// further behind than this catches up from the store instead.
pub const DEFAULT_BROADCAST_CAPACITY: usize = 1024;
/// Connections each replica keeps to PostgreSQL.
pub const DEFAULT_STORE_POOL_SIZE: u32 = 10;
/// The Redis channel replicas share.
pub const DEFAULT_BROKER_CHANNEL: &str = "belfry:bus";
/// Largest accepted request body: a notification is at most ~20 KiB of JSON.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// How long an `Idempotency-Key` returns the notification it first created.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Lifetime of access tokens from `POST /api/auth/login`: short, because a
/// leaked one cannot be recalled; clients refresh before it runs out.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Lifetime of a refresh token: a month of not having to sign in again.
pub const DEFAULT_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Concurrent streams per admin: a desktop, a laptop, a phone and a few
/// browser tabs, with room to spare; a runaway client cannot take more.
pub const DEFAULT_MAX_STREAMS_PER_USER: usize = 10;
/// Time a client has to send a whole request head, and to start its next
/// request on a kept-alive connection: generous for any real client on a
/// slow network, short enough that idle and trickling sockets free up.
pub const DEFAULT_REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a client has to send a whole request body (at most 64 KiB).
pub const DEFAULT_REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// A stream or response whose client takes no bytes for this long is
/// closed; the client resumes with `Last-Event-ID` when it reads again.
pub const DEFAULT_STREAM_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent streams per server process (the file-descriptor limit here is 20,000).
pub const DEFAULT_MAX_CONNECTIONS: usize = 15_000;
const DAY: u64 = 24 * 60 * 60;
/// History kept per severity: a month of info, a quarter of warnings and a
/// year of critical alerts, for audits of what happened and who handled it.
pub const DEFAULT_RETENTION_INFO: Duration = Duration::from_secs(30 * DAY);
pub const DEFAULT_RETENTION_WARNING: Duration = Duration::from_secs(90 * DAY);
pub const DEFAULT_RETENTION_CRITICAL: Duration = Duration::from_secs(365 * DAY);

/// Shortest HS256 secret accepted, in bytes: RFC 7518 asks for a key at
/// least as long as the hash (256 bits), and anything shorter can be
/// brute-forced from a single token.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Why an HS256 secret cannot be used, if it cannot.
pub fn check_jwt_secret(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(format!(
            "is {} bytes; HS256 needs at least {MIN_JWT_SECRET_BYTES} (generate one with `openssl rand -base64 48`)",
            secret.len()
        ));
    }
    Ok(())
}

/// JWT signature algorithm, pinned by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
pub enum JwtAlgorithm {
    #[serde(rename = "HS256")]
    #[value(name = "HS256")]
    Hs256,
    #[serde(rename = "RS256")]
    #[value(name = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    #[value(name = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    #[value(name = "EdDSA")]
    EdDsa,
}

/// How bearer tokens are verified (and, with HS256, minted).
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub algorithm: JwtAlgorithm,
    /// HS256 shared secret. `None` means: the generated one in the data directory.
    pub secret: Option<SecretString>,
    /// PEM public key for RS256, ES256 and EdDSA.
    pub public_key_file: Option<PathBuf>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: Duration,
}

/// Everything the server needs to run; tests build it directly.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// A second address answering only `/healthz` and `/metrics`, from a
    /// thread of its own, so probes stay quick however busy the main
    /// listener is; `None`: not opened.
    pub health_listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub jwt: JwtConfig,
    /// Emails treated as admins even without a `role: admin` claim.
    pub admin_emails: Vec<String>,
    pub keepalive: Duration,
    pub retry: Duration,
    pub broadcast_capacity: usize,
    pub demo: bool,
    pub demo_per_minute: u32,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub max_streams_per_user: usize,
    pub max_connections: usize,
    pub request_head_timeout: Duration,
    pub request_body_timeout: Duration,
    pub stream_write_timeout: Duration,
    /// Browser origins allowed to call the API cross-origin (CORS); empty: none.
    pub cors_origins: Vec<String>,
    pub retention_info: Duration,
    pub retention_warning: Duration,
    pub retention_critical: Duration,
    /// The built web UI to serve at `/` (`ui/dist`); `None`: API only.
    pub ui_dir: Option<PathBuf>,
    /// `postgres://…` for the shared PostgreSQL store; `None`: embedded SQLite.
    pub store: Option<SecretString>,
    pub store_pool_size: u32,
    /// `redis://…` for fan-out across replicas; `None`: in-memory.
    pub broker: Option<SecretString>,
    /// Redis pub/sub channel; deployments sharing one Redis need distinct ones.
    pub broker_channel: String,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` is believed
    /// (see `client_addr`); empty: the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Config {
    /// Defaults for a server whose data lives in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .expect("default listen address is valid"),
            health_listen: None,
            data_dir: data_dir.into(),
            jwt: JwtConfig {
                algorithm: JwtAlgorithm::Hs256,
                secret: None,
                public_key_file: None,
                issuer: None,
                audience: None,
                leeway: DEFAULT_JWT_LEEWAY,
            },
            admin_emails: Vec::new(),
            keepalive: DEFAULT_KEEPALIVE,
            retry: DEFAULT_RETRY,
            broadcast_capacity: DEFAULT_BROADCAST_CAPACITY,
            demo: false,
            demo_per_minute: DEFAULT_DEMO_PER_MINUTE,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
            max_streams_per_user: DEFAULT_MAX_STREAMS_PER_USER,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            request_head_timeout: DEFAULT_REQUEST_HEAD_TIMEOUT,
            request_body_timeout: DEFAULT_REQUEST_BODY_TIMEOUT,
            stream_write_timeout: DEFAULT_STREAM_WRITE_TIMEOUT,
            cors_origins: Vec::new(),
            retention_info: DEFAULT_RETENTION_INFO,
            retention_warning: DEFAULT_RETENTION_WARNING,
            retention_critical: DEFAULT_RETENTION_CRITICAL,
            ui_dir: None,
            store: None,
            store_pool_size: DEFAULT_STORE_POOL_SIZE,
            broker: None,
            broker_channel: DEFAULT_BROKER_CHANNEL.to_owned(),
            trusted_proxies: Vec::new(),
        }
    }

    /// Path of the SQLite database.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("belfry.db")
    }

    /// Path of the generated HS256 secret.
    pub fn secret_path(&self) -> PathBuf {
        self.data_dir.join("jwt-secret")
    }
}

/// One layer of settings: every field optional. The TOML file is parsed into
/// one; the binary fills another from `BELFRY_*` variables and flags.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: Option<SocketAddr>,
    pub health_listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub jwt_algorithm: Option<JwtAlgorithm>,
    pub jwt_secret: Option<String>,
    pub jwt_public_key_file: Option<PathBuf>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    #[serde(default, with = "humantime_opt")]
    pub jwt_leeway: Option<Duration>,
    pub admin_emails: Option<Vec<String>>,
    #[serde(default, with = "humantime_opt")]
    pub keepalive: Option<Duration>,
    #[serde(default, with = "humantime_opt")]
    pub retry: Option<Duration>,
    pub broadcast_capacity: Option<usize>,
    pub demo: Option<bool>,
    pub demo_per_minute: Option<u32>,
    #[serde(default, with = "humantime_opt")]
    pub access_token_ttl: Option<Duration>,
    #[serde(default, with = "humantime_opt")]
    pub refresh_token_ttl: Option<Duration>,
    pub max_streams_per_user: Option<usize>,
    pub max_connections: Option<usize>,
    #[serde(default, with = "humantime_opt")]
    pub request_head_timeout: Option<Duration>,
    #[serde(default, with = "humantime_opt")]
    pub request_body_timeout: Option<Duration>,
    #[serde(default, with = "humantime_opt")]
    pub stream_write_timeout: Option<Duration>,
    pub cors_origins: Option<Vec<String>>,
    #[serde(default, with = "humantime_opt")]
    pub retention_info: Option<Duration>,
    #[serde(default, with = "humantime_opt")]
    pub retention_warning: Option<Duration>,
    #[serde(default, with = "humantime_opt")]
    pub retention_critical: Option<Duration>,
    pub ui_dir: Option<PathBuf>,
    pub store: Option<String>,
    pub store_pool_size: Option<u32>,
    pub broker: Option<String>,
    pub broker_channel: Option<String>,
    pub trusted_proxies: Option<Vec<String>>,
}

mod humantime_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A configuration that cannot be used, with what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Parses a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })
    }

    /// Overlays `self` with every value `higher` sets.
    pub fn overlay(self, higher: Settings) -> Settings {
        Settings {
            listen: higher.listen.or(self.listen),
            health_listen: higher.health_listen.or(self.health_listen),
            data_dir: higher.data_dir.or(self.data_dir),
            jwt_algorithm: higher.jwt_algorithm.or(self.jwt_algorithm),
            jwt_secret: higher.jwt_secret.or(self.jwt_secret),
            jwt_public_key_file: higher.jwt_public_key_file.or(self.jwt_public_key_file),
            jwt_issuer: higher.jwt_issuer.or(self.jwt_issuer),
            jwt_audience: higher.jwt_audience.or(self.jwt_audience),
            jwt_leeway: higher.jwt_leeway.or(self.jwt_leeway),
            admin_emails: higher.admin_emails.or(self.admin_emails),
            keepalive: higher.keepalive.or(self.keepalive),
            retry: higher.retry.or(self.retry),
            broadcast_capacity: higher.broadcast_capacity.or(self.broadcast_capacity),
            demo: higher.demo.or(self.demo),
            demo_per_minute: higher.demo_per_minute.or(self.demo_per_minute),
            access_token_ttl: higher.access_token_ttl.or(self.access_token_ttl),
            refresh_token_ttl: higher.refresh_token_ttl.or(self.refresh_token_ttl),
            max_streams_per_user: higher.max_streams_per_user.or(self.max_streams_per_user),
            max_connections: higher.max_connections.or(self.max_connections),
            request_head_timeout: higher.request_head_timeout.or(self.request_head_timeout),
            request_body_timeout: higher.request_body_timeout.or(self.request_body_timeout),
            stream_write_timeout: higher.stream_write_timeout.or(self.stream_write_timeout),
            cors_origins: higher.cors_origins.or(self.cors_origins),
            retention_info: higher.retention_info.or(self.retention_info),
            retention_warning: higher.retention_warning.or(self.retention_warning),
            retention_critical: higher.retention_critical.or(self.retention_critical),
            ui_dir: higher.ui_dir.or(self.ui_dir),
            store: higher.store.or(self.store),
            store_pool_size: higher.store_pool_size.or(self.store_pool_size),
            broker: higher.broker.or(self.broker),
            broker_channel: higher.broker_channel.or(self.broker_channel),
            trusted_proxies: higher.trusted_proxies.or(self.trusted_proxies),
        }
    }

    /// Applies the settings over the defaults. `default_data_dir` is used when
    /// no layer names one (the binary passes the user's data directory).
    pub fn into_config(self, default_data_dir: PathBuf) -> Result<Config, ConfigError> {
        let mut c = Config::new(self.data_dir.unwrap_or(default_data_dir));
        if let Some(v) = self.listen {
            c.listen = v;
        }
        c.health_listen = self.health_listen;
        if let Some(v) = self.jwt_algorithm {
            c.jwt.algorithm = v;
        }
        c.jwt.secret = self
            .jwt_secret
            .filter(|s| !s.is_empty())
            .map(SecretString::from);
        c.jwt.public_key_file = self.jwt_public_key_file;
        c.jwt.issuer = self.jwt_issuer.filter(|s| !s.is_empty());
        c.jwt.audience = self.jwt_audience.filter(|s| !s.is_empty());
        if let Some(v) = self.jwt_leeway {
            c.jwt.leeway = v;
        }
        if let Some(v) = self.admin_emails {
            c.admin_emails = v
                .into_iter()
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty())
                .collect();
        }
        if let Some(v) = self.keepalive {
            c.keepalive = v;
        }
        if let Some(v) = self.retry {
            c.retry = v;
        }
        if let Some(v) = self.broadcast_capacity {
            c.broadcast_capacity = v;
        }
        if let Some(v) = self.demo {
            c.demo = v;
        }
        if let Some(v) = self.demo_per_minute {
            c.demo_per_minute = v;
        }
        macro_rules! take {
            ($($field:ident),*) => {$(if let Some(v) = self.$field { c.$field = v; })*};
        }
        take!(
            access_token_ttl,
            refresh_token_ttl,
            max_streams_per_user,
            max_connections,
            request_head_timeout,
            request_body_timeout,
            stream_write_timeout,
            retention_info,
            retention_warning,
            retention_critical
        );
        c.ui_dir = self.ui_dir;
        // "sqlite" and "memory" name the embedded defaults explicitly.
        c.store = self
            .store
            .filter(|s| !s.is_empty() && s != "sqlite")
            .map(SecretString::from);
        c.broker = self
            .broker
            .filter(|s| !s.is_empty() && s != "memory")
            .map(SecretString::from);
        if let Some(v) = self.store_pool_size {
            c.store_pool_size = v;
        }
        if let Some(v) = self.broker_channel.filter(|v| !v.is_empty()) {
            c.broker_channel = v;
        }
        if let Some(v) = self.cors_origins {
            c.cors_origins = v
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(list) = self.trusted_proxies {
            c.trusted_proxies = list
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<ipnet::IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            ConfigError::Invalid(format!(
                                "trusted_proxies: `{s}` is not an address or a CIDR like 10.0.0.0/8"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        c.validate()?;
        Ok(c)
    }
}

impl Config {
    /// Rejects combinations the server cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.keepalive < Duration::from_secs(1) {
            return invalid("keepalive must be at least 1s");
        }
        if self.broadcast_capacity == 0 {
            return invalid("broadcast_capacity must be at least 1");
        }
        if self.max_streams_per_user == 0 || self.max_connections == 0 {
            return invalid("max_streams_per_user and max_connections must be at least 1");
        }
        for (name, value) in [
            ("request_head_timeout", self.request_head_timeout),
            ("request_body_timeout", self.request_body_timeout),
            ("stream_write_timeout", self.stream_write_timeout),
        ] {
            if value < Duration::from_secs(1) {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1s")));
            }
        }
        if self.access_token_ttl < Duration::from_secs(60) {
            return invalid("access_token_ttl must be at least 1m");
        }
        if let Some(bad) = self
            .cors_origins
            .iter()
            .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(ConfigError::Invalid(format!(
                "cors_origins: `{bad}` is not an origin like https://admin.shop.example"
            )));
        }
        if self.cors_origins.iter().any(|o| o == "*") {
            return invalid("cors_origins cannot be `*`: list the dashboard origins");
        }
        if let Some(dir) = &self.ui_dir
            && !dir.join("index.html").is_file()
        {
            return Err(ConfigError::Invalid(format!(
                "ui_dir {} has no index.html: build the UI (npm run build in ui/) or remove the setting",
                dir.display()
            )));
        }
        use secrecy::ExposeSecret as _;
        if let Some(url) = &self.store
            && !(url.expose_secret().starts_with("postgres://")
                || url.expose_secret().starts_with("postgresql://"))
        {
            return invalid("store must be `sqlite` or a postgres://user@host/database URL");
        }
        // The PostgreSQL and Redis clients are built without TLS: a URL
        // that asks for it would only fail later, at connect, less clearly.
        const NO_TLS: &str = "this build connects to PostgreSQL and Redis without TLS; keep them on a private network or behind a TLS tunnel (docs/operations.md, Security)";
        if let Some(url) = &self.store {
            let url = url.expose_secret();
            if [
                "sslmode=require",
                "sslmode=verify-ca",
                "sslmode=verify-full",
            ]
            .iter()
            .any(|mode| url.contains(mode))
            {
                return Err(ConfigError::Invalid(format!(
                    "store: sslmode=require and stricter are not available: {NO_TLS}"
                )));
            }
        }
        if let Some(url) = &self.broker {
            let url = url.expose_secret();
            if url.starts_with("rediss://") {
                return Err(ConfigError::Invalid(format!(
                    "broker: rediss:// is not available: {NO_TLS}"
                )));
            }
            if !url.starts_with("redis://") {
                return invalid("broker must be `memory` or a redis://host:port URL");
            }
        }
        if self.store_pool_size == 0 {
            return invalid("store_pool_size must be at least 1");
        }
        if self.demo && self.demo_per_minute == 0 {
            return invalid("demo_per_minute must be at least 1 when demo is on");
        }
        match self.jwt.algorithm {
            JwtAlgorithm::Hs256 => {
                if let Some(secret) = &self.jwt.secret {
                    check_jwt_secret(secret.expose_secret())
                        .map_err(|e| ConfigError::Invalid(format!("jwt_secret {e}")))?;
                }
                if self.jwt.public_key_file.is_some() {
                    return invalid(
                        "jwt_public_key_file is set but jwt_algorithm is HS256: set jwt_algorithm to RS256, ES256 or EdDSA, or remove the key",
                    );
                }
            }
            _ => {
                if self.jwt.public_key_file.is_none() {
                    return invalid(
                        "jwt_algorithm RS256, ES256 and EdDSA need jwt_public_key_file (a PEM public key)",
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_layers_win_and_unset_fields_fall_through() {
        let file: Settings = toml::from_str(
            r#"
            listen = "0.0.0.0:9000"
            keepalive = "20s"
            admin_emails = ["Boss@Shop.example"]
            "#,
        )
        .unwrap();
        let flags = Settings {
            keepalive: Some(Duration::from_secs(3)),
            ..Settings::default()
        };
        let c = file.overlay(flags).into_config("/tmp/x".into()).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(c.keepalive, Duration::from_secs(3));
        assert_eq!(c.admin_emails, vec!["boss@shop.example"]);
        assert_eq!(c.retry, DEFAULT_RETRY);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error() {
        let err = toml::from_str::<Settings>("listn = \"x\"").unwrap_err();
        assert!(err.message().contains("listn"), "{err}");
    }

    #[test]
    fn urls_asking_for_tls_are_refused_with_the_reason() {
        for (store, broker, field) in [
            (
                Some("postgres://b@db/belfry?sslmode=require"),
                None,
                "store",
            ),
            (None, Some("rediss://cache:6380"), "broker"),
        ] {
            let s = Settings {
                store: store.map(str::to_owned),
                broker: broker.map(str::to_owned),
                ..Settings::default()
            };
            let err = s.into_config("/tmp/x".into()).unwrap_err().to_string();
            assert!(err.starts_with(field), "{err}");
            assert!(err.contains("without TLS"), "{err}");
        }
        let plain = Settings {
            store: Some("postgres://b@db/belfry?sslmode=disable".to_owned()),
            broker: Some("redis://cache:6379".to_owned()),
            ..Settings::default()
        };
        plain.into_config("/tmp/x".into()).unwrap();
    }

    #[test]
    fn a_short_hs256_secret_is_refused() {
        let s = Settings {
            jwt_secret: Some("short".to_owned()),
            ..Settings::default()
        };
        let err = s.into_config("/tmp/x".into()).unwrap_err().to_string();
        assert!(err.starts_with("jwt_secret is 5 bytes"), "{err}");
        let s = Settings {
            jwt_secret: Some("x".repeat(MIN_JWT_SECRET_BYTES)),
            ..Settings::default()
        };
        s.into_config("/tmp/x".into()).unwrap();
    }

    #[test]
    fn trusted_proxies_take_addresses_and_cidrs_and_name_a_bad_one() {
        let s = Settings {
            trusted_proxies: Some(vec!["127.0.0.1".into(), " 10.0.0.0/8".into(), "::1".into()]),
            ..Settings::default()
        };
        let c = s.into_config("/tmp/x".into()).unwrap();
        let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        let s = Settings {
            trusted_proxies: Some(vec!["10.0.0.0/33".into()]),
            ..Settings::default()
        };
        let err = s.into_config("/tmp/x".into()).unwrap_err().to_string();
        assert!(err.starts_with("trusted_proxies: `10.0.0.0/33`"), "{err}");
    }

    #[test]
    fn asymmetric_algorithms_need_a_public_key() {
        let s = Settings {
            jwt_algorithm: Some(JwtAlgorithm::Rs256),
            ..Settings::default()
        };
        let err = s.into_config("/tmp/x".into()).unwrap_err();
        assert!(err.to_string().contains("jwt_public_key_file"), "{err}");
    }
}
