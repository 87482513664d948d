//! The `belfry-server` binary: parse the command line, set up logging, then
//! hand over to the library ([`belfry_server::Server`] and
//! [`belfry_server::admin`]). Prompts and printing live here; the work
//! does not.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use belfry_proto::Severity;
use belfry_server::admin::{self, Accounts, TokenRequest};
use belfry_server::config::{self, Config, JwtAlgorithm, Settings};
use clap::{ArgMatches, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
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
    Serve(Box<Common>),
    /// Print a signed JWT (HS256, the server's own secret) on stdout.
    Token(Box<TokenArgs>),
    /// Manage local accounts for self-hosted sign-in.
    User(Box<UserArgs>),
    /// After restoring a backup: start new ids above any handed out before, so clients that saw them refetch instead of missing notifications.
    Restore(Box<RestoreArgs>),
    /// List the outbound channels of the configuration, or send one a test message.
    Channel(Box<ChannelArgs>),
}

/// The settings every command reads: file, then BELFRY_* variables, then
/// flags. Global, so they work before or after an account command
/// (`user --data-dir D add` and `user add --data-dir D`).
#[derive(Args)]
struct Common {
    /// TOML configuration file.
    #[arg(long, global = true, env = "BELFRY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Args)]
struct RestoreArgs {
    #[command(flatten)]
    common: Common,
    /// A SQLite backup to put in place of the data directory's database first (the server must be stopped). Without it, the configured store is taken as restored already (after pg_restore, say).
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
}

#[derive(Args)]
struct ChannelArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: ChannelCommand,
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// List the configured channels: name, type and where they send (no secrets).
    List,
    /// Send a test message through a channel, and say how it went.
    Test {
        /// The channel's name (`[channels.NAME]` in the configuration file).
        name: String,
        /// The severity of the test message.
        #[arg(long, value_enum, default_value = "warning")]
        severity: SeverityArg,
    },
}

/// A severity on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
enum SeverityArg {
    Info,
    Warning,
    Critical,
}

#[derive(Args)]
struct UserArgs {
    #[command(flatten)]
    common: Common,
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum Role {
    Admin,
    User,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    common: Common,
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

impl Common {
    /// The layered configuration; `matches` are the command's own.
    fn load(&self, matches: &ArgMatches, warnings: &mut Vec<String>) -> anyhow::Result<Config> {
        let settings = Settings::layered(self.config.as_deref(), matches, warnings)?;
        let default_dir = dirs::data_dir()
            .map(|d| d.join("belfry"))
            .unwrap_or_else(|| PathBuf::from("belfry-data"));
        Ok(settings.into_config(default_dir)?)
    }
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
    let mut warnings = Vec::new();
    let args = config::rename_args(
        std::env::args_os(),
        |name| std::env::var_os(name),
        &mut warnings,
    );
    let mut command = Cli::command();
    for name in ["token", "user", "restore", "channel"] {
        command = command.mut_subcommand(name, |sub| {
            sub.mut_args(|arg| {
                let serving = arg.get_help_heading() == Some(config::SERVING);
                arg.hide(serving)
            })
        });
    }
    let matches = command.get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let (_, matches) = matches.subcommand().expect("clap requires a subcommand");
    init_tracing();
    let common = match &cli.command {
        Command::Serve(common) => &**common,
        Command::Token(args) => &args.common,
        Command::User(args) => &args.common,
        Command::Restore(args) => &args.common,
        Command::Channel(args) => &args.common,
    };
    let config = common.load(matches, &mut warnings);
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let result = config.and_then(|config| match cli.command {
        Command::Serve(_) => serve(config),
        Command::Token(args) => token(&args, &config),
        Command::User(args) => user(args.command, &config),
        Command::Restore(args) => restore(args.from, &config),
        Command::Channel(args) => channel(args.command, &config),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("belfry-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(mut config: Config) -> anyhow::Result<()> {
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
        Ok(server.run().await?)
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

fn token(args: &TokenArgs, config: &Config) -> anyhow::Result<()> {
    let minted = admin::mint_token(
        config,
        &TokenRequest {
            email: args.email.as_deref(),
            sub: args.sub.as_deref(),
            role: args.role.map(|r| match r {
                Role::Admin => "admin",
                Role::User => "user",
            }),
            scope: &args.scope,
            ttl: args.ttl,
        },
    )?;
    if let Some(note) = minted.note {
        eprintln!("note: {note}");
    }
    println!("{}", minted.token);
    Ok(())
}

fn restore(from: Option<PathBuf>, config: &Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let restore = runtime.block_on(admin::restore(config, from.as_deref()))?;
    eprintln!(
        "restored: the backup's notifications end at id {}; new ones start at id {}. Clients that saw an id in between before the restore refetch their inbox when they reconnect.",
        restore.floor, restore.base
    );
    Ok(())
}

fn channel(command: ChannelCommand, config: &Config) -> anyhow::Result<()> {
    let channels = config.outbound_channels()?;
    match command {
        ChannelCommand::List => {
            if channels.is_empty() {
                eprintln!(
                    "no channels configured: add [channels.NAME] tables to the configuration file (docs/operations.md, Channels)"
                );
            }
            for c in channels.iter() {
                println!("{:<24} {:<8} {}", c.name, c.kind().as_str(), c.target());
            }
            Ok(())
        }
        ChannelCommand::Test { name, severity } => {
            let severity = match severity {
                SeverityArg::Info => Severity::Info,
                SeverityArg::Warning => Severity::Warning,
                SeverityArg::Critical => Severity::Critical,
            };
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let report = runtime.block_on(belfry_server::channels::send_test(
                &channels,
                &name,
                severity,
                config.public_url.as_ref(),
            ))?;
            println!("{report}");
            Ok(())
        }
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")
        .context("cannot prompt for a password (no terminal?): use --password-stdin")?;
    let again = rpassword::prompt_password("Repeat password: ")?;
    anyhow::ensure!(
        first == again,
        "the passwords do not match; nothing was changed"
    );
    Ok(first)
}

fn user(command: UserCommand, config: &Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let accounts = Accounts::open(config).await?;
        let result = match command {
            UserCommand::Add {
                email,
                admin,
                password_stdin,
            } => {
                let password = read_password(password_stdin)?;
                accounts.add(&email, &password, admin).await.map(|email| {
                    let kind = if admin { "admin " } else { "" };
                    eprintln!("created {kind}{email}");
                })
            }
            UserCommand::List => accounts.list().await.map(|users| {
                println!("{:<40} {:<6} {:<9} created", "email", "admin", "status");
                for u in users {
                    println!(
                        "{:<40} {:<6} {:<9} {}",
                        u.email,
                        if u.is_admin { "yes" } else { "no" },
                        if u.disabled { "disabled" } else { "active" },
                        u.created_at.date()
                    );
                }
            }),
            UserCommand::Disable { email } => accounts
                .set_disabled(&email, true)
                .await
                .map(|email| eprintln!("disabled {email}; its sign-ins are revoked")),
            UserCommand::Enable { email } => accounts
                .set_disabled(&email, false)
                .await
                .map(|email| eprintln!("enabled {email}")),
            UserCommand::SetPassword {
                email,
                password_stdin,
            } => {
                let password = read_password(password_stdin)?;
                accounts
                    .set_password(&email, &password)
                    .await
                    .map(|email| eprintln!("password of {email} changed; its sign-ins are revoked"))
            }
        };
        accounts.close().await;
        Ok(result?)
    })
}
