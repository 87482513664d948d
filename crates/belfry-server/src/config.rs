//! The server's settings, declared once, and the typed [`Config`] they
//! become.
//!
//! [`Settings`] is the one declaration of everything an operator can set:
//! each field is a flag, a `BELFRY_*` variable and a key of `belfry.toml`,
//! and its `#[arg(default_value…)]` is its default, in `--help` and in
//! [`Settings::default`] alike. Layers combine as built-in defaults, then
//! the file, then variables, then flags: clap already ranks the last three
//! and says where each value came from (`ArgMatches::value_source`), so a
//! value clap took from its own default gives way to the file's. We chose
//! clap + serde over figment for this: clap is already how the binary reads
//! flags and variables, and it alone knows which of them were given, which a
//! second layering crate would have to be told field by field.
//!
//! [`Config`] is what the server runs with: validated, normalised, secrets
//! wrapped. Library code never reads the environment itself.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches as _};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::channels::{ChannelSettings, Channels, SelfAddress};

/// Where the server listens when nothing says otherwise: loopback only, so a
/// fresh install is never reachable from the network by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Largest accepted request body: a notification is at most ~20 KiB of JSON.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// How long an `Idempotency-Key` returns the notification it first created.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The `--help` heading of the settings only `serve` uses; the other
/// commands accept them but do not list them.
pub const SERVING: &str = "Serving";

/// Settings renamed because the old name said something else than they do:
/// (old, new). The old key, variable and flag keep working, with a warning.
pub const RENAMED: &[(&str, &str)] = &[("max_connections", "max_streams")];

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
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
    /// Written with the bound addresses once the server listens.
    pub ready_file: Option<PathBuf>,
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
    /// Concurrent streams per server process.
    pub max_streams: usize,
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
    /// Where admins reach this server (`https://belfry.shop.example/`), for
    /// links in what channels send; `None`: messages carry no link back.
    pub public_url: Option<url::Url>,
    /// Outbound channels by name, as declared (validated by
    /// [`Config::validate`]; [`crate::channels::Channels`] is the usable set).
    pub channels: BTreeMap<String, ChannelSettings>,
}

impl Config {
    /// Defaults for a server whose data lives in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Settings::default()
            .into_config(data_dir.into())
            .expect("the declared defaults are a valid configuration")
    }

    /// Path of the SQLite database.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("belfry.db")
    }

    /// The declared channels, validated: none points back at this server.
    pub fn outbound_channels(&self) -> Result<Channels, crate::channels::ChannelError> {
        Channels::new(
            &self.channels,
            &SelfAddress {
                listen_port: Some(self.listen.port()),
                public_url: self.public_url.clone(),
            },
        )
    }

    /// Path of the generated HS256 secret.
    pub fn secret_path(&self) -> PathBuf {
        self.data_dir.join("jwt-secret")
    }
}

/// Every setting, declared once: flag, variable, file key, default, help.
///
/// Field comments are the `--help` text and the reference in
/// docs/operations.md is checked against it. A default that is a behaviour
/// rather than a value is stated in the text; `[default: none]` is left out.
#[derive(Clone, Args, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Directory for the database and the generated JWT secret [default: <user data directory>/belfry].
    #[arg(long, global = true, env = "BELFRY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// JWT algorithm accepted (pinned).
    #[arg(
        long,
        global = true,
        env = "BELFRY_JWT_ALGORITHM",
        value_enum,
        default_value = "HS256"
    )]
    pub jwt_algorithm: JwtAlgorithm,
    /// HS256 secret [default: generated in the data directory].
    #[arg(long, global = true, env = "BELFRY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// PEM public key for RS256, ES256 or EdDSA.
    #[arg(
        long,
        global = true,
        env = "BELFRY_JWT_PUBLIC_KEY_FILE",
        value_name = "FILE"
    )]
    pub jwt_public_key_file: Option<PathBuf>,
    /// Required `iss` claim; not checked when unset.
    #[arg(long, global = true, env = "BELFRY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim; not checked when unset.
    #[arg(long, global = true, env = "BELFRY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    // Tokens may come from an identity provider on another machine.
    /// Tolerated clock skew on `exp` and `nbf`.
    #[arg(long, global = true, env = "BELFRY_JWT_LEEWAY", default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub jwt_leeway: Duration,
    /// Emails that are admins even without a `role: admin` claim (comma-separated).
    #[arg(
        long,
        global = true,
        env = "BELFRY_ADMIN_EMAILS",
        value_delimiter = ','
    )]
    pub admin_emails: Option<Vec<String>>,
    /// Address to listen on.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Second address for `/healthz` and `/metrics` only, answered by a thread of its own.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
    /// Once listening, write the bound addresses here as JSON (for supervisors and tests).
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_READY_FILE", value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    // 15 s stays well under the 60 s idle time-out of common proxies and load
    // balancers, while a client's watchdog (2.5x this) still notices a dead
    // connection within 40 s.
    /// Keepalive comment interval on idle streams.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_KEEPALIVE", default_value = "15s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub keepalive: Duration,
    /// `retry:` advertised to clients: their reconnect base delay.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_RETRY", default_value = "500ms", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub retry: Duration,
    /// Live notifications buffered for slow streams before they catch up from the store.
    #[arg(
        long,
        global = true,
        help_heading = SERVING,
        env = "BELFRY_BROADCAST_CAPACITY",
        default_value_t = 1024
    )]
    pub broadcast_capacity: usize,
    /// Also publish a realistic stream of demo store events.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_DEMO", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub demo: bool,
    // Enough to watch the UI move, few enough that the inbox stays readable.
    /// Demo events per minute.
    #[arg(
        long,
        global = true,
        help_heading = SERVING,
        env = "BELFRY_DEMO_PER_MINUTE",
        default_value_t = 12
    )]
    pub demo_per_minute: u32,
    // Short, because a leaked one cannot be recalled; clients refresh first.
    /// Lifetime of access tokens issued at sign-in.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub refresh_token_ttl: Duration,
    // A desktop, a laptop, a phone and a few browser tabs, with room to spare.
    /// Concurrent streams per admin.
    #[arg(
        long,
        global = true,
        help_heading = SERVING,
        env = "BELFRY_MAX_STREAMS_PER_USER",
        default_value_t = 10
    )]
    pub max_streams_per_user: usize,
    // Below the file-descriptor limit a service gets here (20,000).
    /// Concurrent streams per server process (formerly `max_connections`).
    #[arg(
        long,
        global = true,
        help_heading = SERVING,
        env = "BELFRY_MAX_STREAMS",
        default_value_t = 15_000
    )]
    pub max_streams: usize,
    // Generous for any real client on a slow network, short enough that idle
    // and trickling sockets free up.
    /// Time to send a whole request head, and to start the next request on a kept-alive connection.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_REQUEST_HEAD_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub request_head_timeout: Duration,
    /// Time to send a whole request body.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_REQUEST_BODY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub request_body_timeout: Duration,
    /// A stream or response whose client takes no bytes for this long is closed.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_STREAM_WRITE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub stream_write_timeout: Duration,
    /// Browser origins allowed to call the API (comma-separated).
    #[arg(
        long,
        global = true,
        help_heading = SERVING,
        env = "BELFRY_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Option<Vec<String>>,
    /// Reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For is believed for the client address.
    #[arg(
        long,
        global = true,
        help_heading = SERVING,
        env = "BELFRY_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,
    // A month of info, a quarter of warnings and a year of critical alerts,
    // for audits of what happened and who handled it.
    /// How long info notifications are kept.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_RETENTION_INFO", default_value = "30d", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub retention_info: Duration,
    /// How long warnings are kept.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_RETENTION_WARNING", default_value = "90d", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub retention_warning: Duration,
    /// How long critical notifications are kept.
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_RETENTION_CRITICAL", default_value = "365d", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_text")]
    pub retention_critical: Duration,
    /// Built web UI to serve at / [default: ui/dist when it exists in the working directory].
    #[arg(long, global = true, help_heading = SERVING, env = "BELFRY_UI_DIR", value_name = "DIR")]
    pub ui_dir: Option<PathBuf>,
    /// Shared store: `sqlite` (embedded) or `postgres://user@host/db` for several replicas.
    #[arg(
        long,
        global = true,
        env = "BELFRY_STORE",
        hide_env_values = true,
        default_value = "sqlite"
    )]
    pub store: String,
    /// PostgreSQL connections per replica.
    #[arg(
        long,
        global = true,
        env = "BELFRY_STORE_POOL_SIZE",
        default_value_t = 10
    )]
    pub store_pool_size: u32,
    /// Fan-out across replicas: `memory` (one process) or `redis://host:6379`.
    #[arg(
        long,
        global = true,
        help_heading = SERVING,
        env = "BELFRY_BROKER",
        hide_env_values = true,
        default_value = "memory"
    )]
    pub broker: String,
    /// Redis channel shared by this deployment's replicas.
    #[arg(
        long,
        global = true,
        help_heading = SERVING,
        env = "BELFRY_BROKER_CHANNEL",
        default_value = "belfry:bus"
    )]
    pub broker_channel: String,
    /// Where admins reach this server, like https://belfry.shop.example (links in what channels send) [default: no links].
    #[arg(long, global = true, env = "BELFRY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Outbound channels (`[channels.NAME]` tables): in the file only, since
    /// each carries a secret; see docs/operations.md.
    #[arg(skip)]
    pub channels: BTreeMap<String, ChannelSettings>,
}

impl Default for Settings {
    /// The declared defaults, and nothing from the environment.
    fn default() -> Self {
        let cmd = Settings::augment_args(clap::Command::new("defaults"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        let matches = cmd
            .try_get_matches_from(["defaults"])
            .expect("the declared defaults parse");
        Settings::from_arg_matches(&matches).expect("the declared defaults parse")
    }
}

/// Durations as text, `"15s"` or `"30d"`, in the file.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
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
    /// Built-in defaults, then the TOML file at `file`, then every value
    /// `matches` took from a `BELFRY_*` variable or a flag. Keys the file
    /// still spells by an old name ([`RENAMED`]) are read under the new one,
    /// with a line in `warnings`.
    pub fn layered(
        file: Option<&Path>,
        matches: &ArgMatches,
        warnings: &mut Vec<String>,
    ) -> Result<Settings, ConfigError> {
        let given =
            Settings::from_arg_matches(matches).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        // Name the layer a short secret came from, before the layers merge.
        if let Some(secret) = &given.jwt_secret {
            let source = match matches.value_source("jwt_secret") {
                Some(ValueSource::CommandLine) => "--jwt-secret",
                _ => "BELFRY_JWT_SECRET",
            };
            check_jwt_secret(secret).map_err(|e| ConfigError::Invalid(format!("{source} {e}")))?;
        }
        let Some(path) = file else {
            return Ok(given);
        };
        let mut layers = read_file(path, warnings)?;
        if let Some(serde_json::Value::String(secret)) = layers.get("jwt_secret") {
            check_jwt_secret(secret).map_err(|e| {
                ConfigError::Invalid(format!("jwt_secret in {} {e}", path.display()))
            })?;
        }
        let serde_json::Value::Object(values) =
            serde_json::to_value(&given).expect("settings serialize")
        else {
            unreachable!("settings serialize as an object");
        };
        for (key, value) in values {
            // File-only keys have no flag or variable to come from.
            if key == "channels" {
                continue;
            }
            if matches!(
                matches.value_source(&key),
                Some(ValueSource::EnvVariable | ValueSource::CommandLine)
            ) {
                layers.insert(key, value);
            }
        }
        serde_json::from_value(serde_json::Value::Object(layers)).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The typed configuration. `default_data_dir` is used when no layer
    /// names one (the binary passes the user's data directory).
    pub fn into_config(self, default_data_dir: PathBuf) -> Result<Config, ConfigError> {
        let given = |s: Option<String>| s.filter(|s| !s.is_empty());
        let trimmed = |list: Option<Vec<String>>, tidy: fn(&str) -> String| -> Vec<String> {
            list.unwrap_or_default()
                .iter()
                .map(|item| tidy(item.trim()))
                .filter(|item| !item.is_empty())
                .collect()
        };
        let trusted_proxies = trimmed(self.trusted_proxies, str::to_owned)
            .iter()
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
        let config = Config {
            listen: self.listen,
            health_listen: self.health_listen,
            ready_file: self.ready_file,
            data_dir: self.data_dir.unwrap_or(default_data_dir),
            jwt: JwtConfig {
                algorithm: self.jwt_algorithm,
                secret: given(self.jwt_secret).map(SecretString::from),
                public_key_file: self.jwt_public_key_file,
                issuer: given(self.jwt_issuer),
                audience: given(self.jwt_audience),
                leeway: self.jwt_leeway,
            },
            admin_emails: trimmed(self.admin_emails, crate::auth::normalise_email),
            keepalive: self.keepalive,
            retry: self.retry,
            broadcast_capacity: self.broadcast_capacity,
            demo: self.demo,
            demo_per_minute: self.demo_per_minute,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            max_streams_per_user: self.max_streams_per_user,
            max_streams: self.max_streams,
            request_head_timeout: self.request_head_timeout,
            request_body_timeout: self.request_body_timeout,
            stream_write_timeout: self.stream_write_timeout,
            cors_origins: trimmed(self.cors_origins, |o| o.trim_end_matches('/').to_owned()),
            retention_info: self.retention_info,
            retention_warning: self.retention_warning,
            retention_critical: self.retention_critical,
            ui_dir: self.ui_dir,
            // "sqlite" and "memory" name the embedded defaults.
            store: Some(self.store)
                .filter(|s| !s.is_empty() && s != "sqlite")
                .map(SecretString::from),
            store_pool_size: self.store_pool_size,
            broker: Some(self.broker)
                .filter(|s| !s.is_empty() && s != "memory")
                .map(SecretString::from),
            broker_channel: given(Some(self.broker_channel))
                .unwrap_or_else(|| Settings::default().broker_channel),
            trusted_proxies,
            public_url: given(self.public_url)
                .map(|raw| {
                    url::Url::parse(raw.trim())
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                        .ok_or_else(|| {
                            ConfigError::Invalid(format!(
                                "public_url: `{raw}` is not an http(s) URL like https://belfry.shop.example"
                            ))
                        })
                })
                .transpose()?,
            channels: self.channels,
        };
        config.validate()?;
        Ok(config)
    }
}

/// The file's keys and values, renamed keys under their new names.
fn read_file(
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<serde_json::Map<String, serde_json::Value>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut keys: serde_json::Map<String, serde_json::Value> =
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
    for (old, new) in RENAMED {
        if let Some(value) = keys.remove(*old) {
            warnings.push(format!(
                "{}: `{old}` is now called `{new}`; the old name still works but will be removed",
                path.display()
            ));
            keys.entry(*new).or_insert(value);
        }
    }
    Ok(keys)
}

/// The command line with renamed flags (`--max-connections`) and variables
/// (`BELFRY_MAX_CONNECTIONS`) given their new names, with a line in
/// `warnings` for each. A renamed variable becomes its new flag, placed after
/// the subcommand, unless the new variable or flag is set too.
pub fn rename_args(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<OsString>,
    warnings: &mut Vec<String>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    for (old, new) in RENAMED {
        let old_flag = format!("--{}", old.replace('_', "-"));
        let new_flag = format!("--{}", new.replace('_', "-"));
        let mut seen = false;
        for arg in args.iter_mut() {
            let Some(text) = arg.to_str() else { continue };
            if let Some(rest) = text.strip_prefix(&old_flag)
                && (rest.is_empty() || rest.starts_with('='))
            {
                warnings.push(format!(
                    "{old_flag} is now called {new_flag}; the old name still works but will be removed"
                ));
                *arg = format!("{new_flag}{rest}").into();
            }
            seen |= arg
                .to_str()
                .is_some_and(|a| a == new_flag || a.starts_with(&format!("{new_flag}=")));
        }
        let old_var = format!("BELFRY_{}", old.to_uppercase());
        let new_var = format!("BELFRY_{}", new.to_uppercase());
        if let Some(value) = env(&old_var) {
            warnings.push(format!(
                "{old_var} is now called {new_var}; the old name still works but will be removed"
            ));
            // After the subcommand, so that clap takes it as that command's.
            let subcommand = args
                .iter()
                .skip(1)
                .position(|a| !a.to_string_lossy().starts_with('-'));
            if !seen
                && env(&new_var).is_none()
                && let Some(at) = subcommand
            {
                let mut flag = OsString::from(format!("{new_flag}="));
                flag.push(value);
                args.insert(at + 2, flag);
            }
        }
    }
    args
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
        if self.max_streams_per_user == 0 || self.max_streams == 0 {
            return invalid("max_streams_per_user and max_streams must be at least 1");
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
        self.outbound_channels()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
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

    /// What clap makes of `args`, with no variable read.
    fn command_line(args: &[&str]) -> ArgMatches {
        Settings::augment_args(clap::Command::new("t"))
            .mut_args(|arg| arg.env(None::<&'static str>))
            .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        let toml = file(
            r#"
            listen = "0.0.0.0:9000"
            keepalive = "20s"
            retry = "2s"
            admin_emails = ["Boss@Shop.example"]
            "#,
        );
        let matches = command_line(&["--keepalive", "3s", "--broker-channel", "b:2"]);
        let mut warnings = Vec::new();
        let c = Settings::layered(Some(toml.path()), &matches, &mut warnings)
            .unwrap()
            .into_config("/tmp/x".into())
            .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(c.keepalive, Duration::from_secs(3));
        assert_eq!(c.retry, Duration::from_secs(2));
        assert_eq!(c.broker_channel, "b:2");
        assert_eq!(c.admin_emails, vec!["boss@shop.example"]);
        assert_eq!(c.access_token_ttl, Duration::from_secs(15 * 60));
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn a_flag_given_its_default_value_still_beats_the_file() {
        let toml = file("keepalive = \"20s\"");
        let matches = command_line(&["--keepalive", "15s"]);
        let s = Settings::layered(Some(toml.path()), &matches, &mut Vec::new()).unwrap();
        assert_eq!(s.keepalive, Duration::from_secs(15));
    }

    #[test]
    fn the_defaults_are_the_declared_ones() {
        let c = Config::new("/tmp/x");
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(c.keepalive, Duration::from_secs(15));
        assert_eq!(
            c.retention_critical,
            Duration::from_secs(365 * 24 * 60 * 60)
        );
        assert_eq!(c.max_streams, 15_000);
        assert_eq!(c.broker_channel, "belfry:bus");
        assert!(c.store.is_none() && c.broker.is_none() && !c.demo);
    }

    #[test]
    fn a_renamed_key_flag_or_variable_still_works_with_a_warning() {
        let toml = file("max_connections = 7");
        let mut warnings = Vec::new();
        let s = Settings::layered(Some(toml.path()), &command_line(&[]), &mut warnings).unwrap();
        assert_eq!(s.max_streams, 7);
        assert!(warnings[0].contains("`max_connections` is now called `max_streams`"));

        let args = ["belfry-server", "serve", "--max-connections=9"].map(OsString::from);
        let mut warnings = Vec::new();
        let args = rename_args(args, |_| None, &mut warnings);
        assert_eq!(args[2], "--max-streams=9");
        assert_eq!(warnings.len(), 1);

        let old_var = |name: &str| (name == "BELFRY_MAX_CONNECTIONS").then(|| OsString::from("8"));
        let args = ["belfry-server", "serve", "--demo"].map(OsString::from);
        let mut warnings = Vec::new();
        let args = rename_args(args, old_var, &mut warnings);
        assert_eq!(
            args,
            ["belfry-server", "serve", "--max-streams=8", "--demo"]
        );
        assert!(warnings[0].contains("BELFRY_MAX_STREAMS"), "{warnings:?}");
        // The new name, given too, wins.
        let args = ["belfry-server", "serve", "--max-streams", "3"].map(OsString::from);
        let args = rename_args(args, old_var, &mut Vec::new());
        assert_eq!(args, ["belfry-server", "serve", "--max-streams", "3"]);
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error_naming_them() {
        let toml = file("listn = \"x\"");
        let err = Settings::layered(Some(toml.path()), &command_line(&[]), &mut Vec::new())
            .err()
            .unwrap();
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn urls_asking_for_tls_are_refused_with_the_reason() {
        for (store, broker, field) in [
            ("postgres://b@db/belfry?sslmode=require", "memory", "store"),
            ("sqlite", "rediss://cache:6380", "broker"),
        ] {
            let s = Settings {
                store: store.to_owned(),
                broker: broker.to_owned(),
                ..Settings::default()
            };
            let err = s.into_config("/tmp/x".into()).unwrap_err().to_string();
            assert!(err.starts_with(field), "{err}");
            assert!(err.contains("without TLS"), "{err}");
        }
        let plain = Settings {
            store: "postgres://b@db/belfry?sslmode=disable".to_owned(),
            broker: "redis://cache:6379".to_owned(),
            ..Settings::default()
        };
        plain.into_config("/tmp/x".into()).unwrap();
    }

    #[test]
    fn a_short_hs256_secret_is_refused_naming_where_it_came_from() {
        let s = Settings {
            jwt_secret: Some("short".to_owned()),
            ..Settings::default()
        };
        let err = s.into_config("/tmp/x".into()).unwrap_err().to_string();
        assert!(err.starts_with("jwt_secret is 5 bytes"), "{err}");
        let err = Settings::layered(
            None,
            &command_line(&["--jwt-secret", "short"]),
            &mut Vec::new(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.starts_with("--jwt-secret is 5 bytes"), "{err}");
        let toml = file("jwt_secret = \"short\"");
        let err = Settings::layered(Some(toml.path()), &command_line(&[]), &mut Vec::new())
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("jwt_secret in "), "{err}");
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
            jwt_algorithm: JwtAlgorithm::Rs256,
            ..Settings::default()
        };
        let err = s.into_config("/tmp/x".into()).unwrap_err();
        assert!(err.to_string().contains("jwt_public_key_file"), "{err}");
    }
}
