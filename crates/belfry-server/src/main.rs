//! The `belfry-server` binary: parse the command line, set up logging, then
//! hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use belfry_server::auth::{Minter, SCOPE_PUBLISH};
use belfry_server::config::{Config, JwtAlgorithm, Settings, check_jwt_secret};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "belfry-server",
    version,
    about = "Real-time admin notifications over Server-Sent Events"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Print a signed JWT (HS256, the server's own secret) on stdout.
    Token(TokenArgs),
    /// Manage local accounts for self-hosted sign-in.
    User(UserArgs),
    /// After restoring a backup: start new ids above any handed out before, so clients that saw them refetch instead of missing notifications.
    Restore(RestoreArgs),
}

#[derive(Args)]
struct RestoreArgs {
    #[command(flatten)]
    settings: SettingsArgs,
    /// A SQLite backup to put in place of the data directory's database first (the server must be stopped). Without it, the configured store is taken as restored already (after pg_restore, say).
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
}

#[derive(Args)]
struct UserArgs {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (asks for the password unless --password-stdin).
    Add {
        #[arg(long)]
        email: String,
        /// Admins may open the notification stream and inbox.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account; its open streams end within a second.
    Disable { email: String },
    /// Enable a disabled account.
    Enable { email: String },
    /// Set a new password; every sign-in of the account is revoked.
    SetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Settings shared by every subcommand: file, then BELFRY_* variables, then
/// flags. Global, so they work before or after an account command
/// (`user --data-dir D add` and `user add --data-dir D`).
#[derive(Args)]
struct SettingsArgs {
    /// TOML configuration file [default: none].
    #[arg(long, global = true, env = "BELFRY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the database and the generated JWT secret [default: <user data directory>/belfry].
    #[arg(long, global = true, env = "BELFRY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// JWT algorithm accepted (pinned) [default: HS256].
    #[arg(long, global = true, env = "BELFRY_JWT_ALGORITHM", value_enum)]
    jwt_algorithm: Option<JwtAlgorithm>,
    /// HS256 secret [default: generated in the data directory].
    #[arg(long, global = true, env = "BELFRY_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// PEM public key for RS256, ES256 or EdDSA [default: none].
    #[arg(
        long,
        global = true,
        env = "BELFRY_JWT_PUBLIC_KEY_FILE",
        value_name = "FILE"
    )]
    jwt_public_key_file: Option<PathBuf>,
    /// Required `iss` claim [default: none, not checked].
    #[arg(long, global = true, env = "BELFRY_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// Required `aud` claim [default: none, not checked].
    #[arg(long, global = true, env = "BELFRY_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
    /// Tolerated clock skew on `exp` [default: 5s].
    #[arg(long, global = true, env = "BELFRY_JWT_LEEWAY", value_parser = humantime::parse_duration)]
    jwt_leeway: Option<Duration>,
    /// Emails that are admins even without a `role: admin` claim (comma-separated) [default: none].
    #[arg(
        long,
        global = true,
        env = "BELFRY_ADMIN_EMAILS",
        value_delimiter = ','
    )]
    admin_emails: Option<Vec<String>>,
}

impl SettingsArgs {
    /// The file's settings overlaid with these.
    fn load(&self, extra: Settings) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        // Name the layer a short secret came from, before the layers merge.
        if let (Some(path), Some(secret)) = (&self.config, &file.jwt_secret) {
            check_jwt_secret(secret)
                .map_err(|e| anyhow::anyhow!("jwt_secret in {} {e}", path.display()))?;
        }
        if let Some(secret) = &self.jwt_secret {
            let from_flag = std::env::args().any(|a| a.starts_with("--jwt-secret"));
            let source = if from_flag {
                "--jwt-secret"
            } else {
                "BELFRY_JWT_SECRET"
            };
            check_jwt_secret(secret).map_err(|e| anyhow::anyhow!("{source} {e}"))?;
        }
        let here = Settings {
            data_dir: self.data_dir.clone(),
            jwt_algorithm: self.jwt_algorithm,
            jwt_secret: self.jwt_secret.clone(),
            jwt_public_key_file: self.jwt_public_key_file.clone(),
            jwt_issuer: self.jwt_issuer.clone(),
            jwt_audience: self.jwt_audience.clone(),
            jwt_leeway: self.jwt_leeway,
            admin_emails: self.admin_emails.clone(),
            ..extra
        };
        let default_dir = dirs::data_dir()
            .map(|d| d.join("belfry"))
            .unwrap_or_else(|| PathBuf::from("belfry-data"));
        Ok(file.overlay(here).into_config(default_dir)?)
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    settings: SettingsArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "BELFRY_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Second address for `/healthz` and `/metrics` only, answered by a thread of its own [default: none].
    #[arg(long, env = "BELFRY_HEALTH_LISTEN")]
    health_listen: Option<std::net::SocketAddr>,
    /// Keepalive comment interval on idle streams [default: 15s].
    #[arg(long, env = "BELFRY_KEEPALIVE", value_parser = humantime::parse_duration)]
    keepalive: Option<Duration>,
    /// `retry:` advertised to clients: their reconnect base delay [default: 500ms].
    #[arg(long, env = "BELFRY_RETRY", value_parser = humantime::parse_duration)]
    retry: Option<Duration>,
    /// Live notifications buffered for slow streams before they catch up from the store [default: 1024].
    #[arg(long, env = "BELFRY_BROADCAST_CAPACITY")]
    broadcast_capacity: Option<usize>,
    /// Also publish a realistic stream of demo store events [default: off].
    #[arg(long, env = "BELFRY_DEMO")]
    demo: bool,
    /// Demo events per minute [default: 12].
    #[arg(long, env = "BELFRY_DEMO_PER_MINUTE")]
    demo_per_minute: Option<u32>,
    /// Lifetime of access tokens issued at sign-in [default: 15m].
    #[arg(long, env = "BELFRY_ACCESS_TOKEN_TTL", value_parser = humantime::parse_duration)]
    access_token_ttl: Option<Duration>,
    /// Lifetime of refresh tokens [default: 30d].
    #[arg(long, env = "BELFRY_REFRESH_TOKEN_TTL", value_parser = humantime::parse_duration)]
    refresh_token_ttl: Option<Duration>,
    /// Concurrent streams per admin [default: 10].
    #[arg(long, env = "BELFRY_MAX_STREAMS_PER_USER")]
    max_streams_per_user: Option<usize>,
    /// Concurrent streams per server process [default: 15000].
    #[arg(long, env = "BELFRY_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Time to send a whole request head, and to start the next request on a kept-alive connection [default: 30s].
    #[arg(long, env = "BELFRY_REQUEST_HEAD_TIMEOUT", value_parser = humantime::parse_duration)]
    request_head_timeout: Option<Duration>,
    /// Time to send a whole request body [default: 30s].
    #[arg(long, env = "BELFRY_REQUEST_BODY_TIMEOUT", value_parser = humantime::parse_duration)]
    request_body_timeout: Option<Duration>,
    /// A stream or response whose client takes no bytes for this long is closed [default: 30s].
    #[arg(long, env = "BELFRY_STREAM_WRITE_TIMEOUT", value_parser = humantime::parse_duration)]
    stream_write_timeout: Option<Duration>,
    /// Browser origins allowed to call the API (comma-separated) [default: none].
    #[arg(long, env = "BELFRY_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Option<Vec<String>>,
    /// How long info notifications are kept [default: 30d].
    #[arg(long, env = "BELFRY_RETENTION_INFO", value_parser = humantime::parse_duration)]
    retention_info: Option<Duration>,
    /// How long warnings are kept [default: 90d].
    #[arg(long, env = "BELFRY_RETENTION_WARNING", value_parser = humantime::parse_duration)]
    retention_warning: Option<Duration>,
    /// Shared store: `postgres://user@host/db` for several replicas [default: sqlite, embedded].
    #[arg(long, env = "BELFRY_STORE", hide_env_values = true)]
    store: Option<String>,
    /// PostgreSQL connections per replica [default: 10].
    #[arg(long, env = "BELFRY_STORE_POOL_SIZE")]
    store_pool_size: Option<u32>,
    /// Fan-out across replicas: `redis://host:6379` [default: memory].
    #[arg(long, env = "BELFRY_BROKER", hide_env_values = true)]
    broker: Option<String>,
    /// Redis channel shared by this deployment's replicas [default: belfry:bus].
    #[arg(long, env = "BELFRY_BROKER_CHANNEL")]
    broker_channel: Option<String>,
    /// Built web UI to serve at / [default: ui/dist when it exists in the working directory].
    #[arg(long, env = "BELFRY_UI_DIR", value_name = "DIR")]
    ui_dir: Option<PathBuf>,
    /// Reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For is believed for the client address [default: none].
    #[arg(long, env = "BELFRY_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<String>>,
    /// How long critical notifications are kept [default: 365d].
    #[arg(long, env = "BELFRY_RETENTION_CRITICAL", value_parser = humantime::parse_duration)]
    retention_critical: Option<Duration>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Admin,
    User,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    settings: SettingsArgs,
    /// Email claim (also the subject unless --sub is given).
    #[arg(long)]
    email: Option<String>,
    /// Role claim: admins may open the event stream.
    #[arg(long, value_enum)]
    role: Option<Role>,
    /// Scope claim; `publish` lets a service publish notifications.
    #[arg(long)]
    scope: Vec<String>,
    /// Subject claim [default: the email].
    #[arg(long)]
    sub: Option<String>,
    /// Lifetime, e.g. 15m, 12h, 30d.
    #[arg(long, default_value = "12h", value_parser = humantime::parse_duration)]
    ttl: Duration,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("belfry_server=info,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Token(args) => token(args),
        Command::User(args) => user(args),
        Command::Restore(args) => restore(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("belfry-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.settings.load(Settings {
        listen: args.listen,
        health_listen: args.health_listen,
        keepalive: args.keepalive,
        retry: args.retry,
        broadcast_capacity: args.broadcast_capacity,
        demo: args.demo.then_some(true),
        demo_per_minute: args.demo_per_minute,
        access_token_ttl: args.access_token_ttl,
        refresh_token_ttl: args.refresh_token_ttl,
        max_streams_per_user: args.max_streams_per_user,
        max_connections: args.max_connections,
        request_head_timeout: args.request_head_timeout,
        request_body_timeout: args.request_body_timeout,
        stream_write_timeout: args.stream_write_timeout,
        cors_origins: args.cors_origins,
        retention_info: args.retention_info,
        retention_warning: args.retention_warning,
        retention_critical: args.retention_critical,
        ui_dir: args.ui_dir,
        store: args.store,
        store_pool_size: args.store_pool_size,
        broker: args.broker,
        broker_channel: args.broker_channel,
        trusted_proxies: args.trusted_proxies,
        ..Settings::default()
    })?;
    let mut config = config;
    if config.ui_dir.is_none() {
        // Lowest layer: a UI built in this checkout.
        let built = PathBuf::from("ui/dist");
        config.ui_dir = built.join("index.html").is_file().then_some(built);
    }
    let files = belfry_server::conn::raise_open_file_limit();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if let Some(files) = files {
            tracing::info!(open_file_limit = files, "file descriptors available");
        }
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        let hint_dir = config.data_dir.clone();
        let uses_generated_secret =
            config.jwt.algorithm == JwtAlgorithm::Hs256 && config.jwt.secret.is_none();
        let server = belfry_server::Server::build(config, shutdown).await?;
        if uses_generated_secret {
            tracing::info!(
                "mint an admin token with: belfry-server token --data-dir {} --email you@example.com --role admin --ttl 12h",
                hint_dir.display()
            );
        }
        server.run().await
    })
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler succeeds");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let config = args.settings.load(Settings::default())?;
    anyhow::ensure!(
        config.jwt.algorithm == JwtAlgorithm::Hs256,
        "`token` signs with the server's HS256 secret, but jwt_algorithm is {:?}: mint tokens with the identity provider that holds the private key",
        config.jwt.algorithm
    );
    let secret = match &config.jwt.secret {
        Some(s) => s.clone(),
        None => belfry_server::secret::load_or_create(&config.secret_path())?.0,
    };
    let email = args
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let sub = args
        .sub
        .as_deref()
        .or(email)
        .context("give --email or --sub: the token needs a subject")?;
    let scope: Vec<&str> = args
        .scope
        .iter()
        .flat_map(|s| s.split([' ', ',']))
        .filter(|s| !s.is_empty())
        .collect();
    let role = args.role.map(|r| match r {
        Role::Admin => "admin",
        Role::User => "user",
    });
    if role.is_none() && !scope.contains(&SCOPE_PUBLISH) {
        eprintln!(
            "note: this token has neither --role admin nor --scope publish, so the server will refuse it everywhere"
        );
    }
    let token = Minter::new(&secret, &config.jwt).mint(sub, email, role, &scope, args.ttl)?;
    println!("{token}");
    Ok(())
}

fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    use belfry_server::store::{NotificationStore as _, SqliteStore};
    let config = args.settings.load(Settings::default())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut known = 0;
        // Held until the restore is recorded: no server may open the
        // database meanwhile.
        let mut _lock = None;
        if let Some(from) = &args.from {
            anyhow::ensure!(
                config.store.is_none(),
                "--from puts a SQLite backup in place; for PostgreSQL, restore with pg_restore, then run `belfry-server restore` without --from"
            );
            anyhow::ensure!(from.is_file(), "{} is not a file", from.display());
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
            _lock = Some(belfry_server::app::lock_data_dir(&config.data_dir)?);
            let db = config.database_path();
            if db.exists() {
                // The database being replaced may have handed out ids the
                // backup never saw.
                match SqliteStore::open(&db).await {
                    Ok(current) => {
                        known = current.last_id().await.unwrap_or(0);
                        current.close().await;
                    }
                    Err(e) => eprintln!("note: cannot read the current database ({e}); continuing"),
                }
            }
            // Copied beside it and renamed over it: never half a database.
            let staging = db.with_extension("db.restoring");
            std::fs::copy(from, &staging)
                .with_context(|| format!("cannot copy {}", from.display()))?;
            std::fs::File::open(&staging).and_then(|f| f.sync_all())?;
            for stale in ["belfry.db-wal", "belfry.db-shm"] {
                let _ = std::fs::remove_file(config.data_dir.join(stale));
            }
            std::fs::rename(&staging, &db)
                .with_context(|| format!("cannot replace {}", db.display()))?;
        }
        if _lock.is_none() && config.store.is_none() {
            _lock = Some(belfry_server::app::lock_data_dir(&config.data_dir)?);
        }
        let store = belfry_server::app::open_store(&config).await?;
        let restore = store.mark_restored(known).await?;
        store.close().await;
        eprintln!(
            "restored: the backup's notifications end at id {}; new ones start at id {}. Clients that saw an id in between before the restore refetch their inbox when they reconnect.",
            restore.floor, restore.base
        );
        Ok(())
    })
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")
            .context("cannot prompt for a password (no terminal?): use --password-stdin")?;
        let again = rpassword::prompt_password("Repeat password: ")?;
        anyhow::ensure!(
            first == again,
            "the passwords do not match; nothing was changed"
        );
        first
    };
    belfry_server::password::check(&password)?;
    Ok(password)
}

fn user(args: UserArgs) -> anyhow::Result<()> {
    use belfry_server::store::StoreError;
    let config = args.settings.load(Settings::default())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let store = belfry_server::app::open_store(&config).await?;
        let normalize = |e: &str| e.trim().to_lowercase();
        let missing = |e: &str| anyhow::anyhow!("no account with email {e}: see `belfry-server user list`");
        match args.command {
            UserCommand::Add { email, admin, password_stdin } => {
                let email = normalize(&email);
                anyhow::ensure!(email.contains('@'), "`{email}` is not an email address");
                let hash = belfry_server::password::hash(&read_password(password_stdin)?)?;
                match store.create_user(&email, &hash, admin).await {
                    Ok(_) => eprintln!("created {}{email}", if admin { "admin " } else { "" }),
                    Err(StoreError::Conflict(_)) => {
                        anyhow::bail!("{email} already has an account: use `user set-password` to change its password")
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            UserCommand::List => {
                println!("{:<40} {:<6} {:<9} created", "email", "admin", "status");
                for u in store.users().await? {
                    println!(
                        "{:<40} {:<6} {:<9} {}",
                        u.email,
                        if u.is_admin { "yes" } else { "no" },
                        if u.disabled { "disabled" } else { "active" },
                        u.created_at.date()
                    );
                }
            }
            UserCommand::Disable { email } => {
                let email = normalize(&email);
                anyhow::ensure!(store.set_disabled(&email, true).await?, missing(&email));
                eprintln!("disabled {email}; its sign-ins are revoked");
            }
            UserCommand::Enable { email } => {
                let email = normalize(&email);
                anyhow::ensure!(store.set_disabled(&email, false).await?, missing(&email));
                eprintln!("enabled {email}");
            }
            UserCommand::SetPassword { email, password_stdin } => {
                let email = normalize(&email);
                let hash = belfry_server::password::hash(&read_password(password_stdin)?)?;
                anyhow::ensure!(store.set_password(&email, &hash).await?, missing(&email));
                eprintln!("password of {email} changed; its sign-ins are revoked");
            }
        }
        store.close().await;
        Ok(())
    })
}
