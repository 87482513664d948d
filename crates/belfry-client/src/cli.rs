//! The `belfry` command line: sign in, listen, read history, mark read and
//! publish, from a terminal, a script or an SSH session.
//!
//! Exit codes: 0 ok, 1 other errors, 2 usage, 3 authentication needed; each
//! failure prints one line on stderr. Publisher text is printed as text:
//! control characters and escape sequences are made visible, never obeyed.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use belfry_proto::{MarkRead, NewNotification, Notification, Severity};
use clap::{Args, Parser, Subcommand};

use crate::credentials::{CredentialStore, Key, KeyringStore};
use crate::sanitize::for_terminal;
use crate::stream::error_chain;
use crate::{Client, ClientEvent, Error, HistoryQuery, StreamConfig, Tokens};

/// Real-time admin notifications for your store, on the command line.
#[derive(Debug, Parser)]
#[command(name = "belfry", version)]
struct Cli {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Connection {
    /// Server URL, e.g. https://belfry.shop.example (default: the one signed in to)
    #[arg(long, env = "BELFRY_SERVER", global = true)]
    server: Option<String>,
    /// Access token to use instead of the keyring's (a publish token for `publish`)
    #[arg(long, env = "BELFRY_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in and keep the tokens in the OS keyring.
    Login {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Sign out: revoke the refresh token and forget the stored tokens.
    Logout,
    /// Print notifications as they arrive, reconnecting forever.
    Listen {
        /// Lowest severity to print.
        #[arg(long, default_value = "info")]
        min_severity: Severity,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// The server's keepalive interval in seconds; silence for 2.5 times
        /// this means the connection is dead.
        #[arg(long, default_value_t = 15.0, value_name = "SECONDS")]
        keepalive: f64,
        /// Resume after this notification id.
        #[arg(long, value_name = "ID")]
        after: Option<u64>,
    },
    /// Show recent notifications, newest first.
    History {
        #[arg(long)]
        unread: bool,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Mark notifications read: --all, or --id N (repeatable).
    #[command(group = clap::ArgGroup::new("which").required(true).args(["all", "id"]))]
    Read {
        /// Everything up to the newest notification.
        #[arg(long)]
        all: bool,
        /// This notification (repeatable).
        #[arg(long)]
        id: Vec<u64>,
    },
    /// Publish a notification (needs a publish token: --token or BELFRY_TOKEN).
    Publish {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        title: String,
        /// Default: the kind's own severity.
        #[arg(long)]
        severity: Option<Severity>,
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        link: Option<String>,
        /// Makes a retried publish store the notification only once.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Print the stored notification as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Why the command failed, deciding the exit code.
#[derive(Debug)]
enum Failure {
    Usage(String),
    Auth(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::AuthRequired { reason } => Failure::Auth(reason),
            Error::InvalidUrl(_) => Failure::Usage(e.to_string()),
            e => Failure::Other(e.into()),
        }
    }
}

/// Runs the CLI with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("belfry: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("belfry: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Auth(m)) => {
            eprintln!("belfry: authentication needed: {m}");
            ExitCode::from(3)
        }
        Err(Failure::Other(e)) => {
            eprintln!("belfry: {}", error_chain(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

async fn run(mut cli: Cli) -> Result<(), Failure> {
    // An empty BELFRY_TOKEN or BELFRY_SERVER means unset, as in most shells' idiom.
    cli.conn.token = cli.conn.token.filter(|t| !t.trim().is_empty());
    cli.conn.server = cli.conn.server.filter(|s| !s.trim().is_empty());
    match cli.command {
        Command::Login {
            email,
            password_stdin,
        } => login(cli.conn, &email, password_stdin).await,
        Command::Logout => logout(cli.conn).await,
        Command::Listen {
            min_severity,
            json,
            keepalive,
            after,
        } => {
            if !(keepalive.is_finite() && keepalive > 0.0) {
                return Err(Failure::Usage(
                    "--keepalive must be a positive number of seconds".into(),
                ));
            }
            let client = signed_in(cli.conn).await?;
            let config = StreamConfig {
                keepalive: Duration::from_secs_f64(keepalive),
                last_event_id: after,
                ..StreamConfig::default()
            };
            listen(&client, config, min_severity, json).await
        }
        Command::History {
            unread,
            limit,
            json,
        } => {
            let client = signed_in(cli.conn).await?;
            let page = client
                .history(&HistoryQuery {
                    limit: Some(limit),
                    unread_only: unread,
                    ..HistoryQuery::default()
                })
                .await?;
            let mut out = std::io::stdout().lock();
            let color = use_color();
            for item in &page.items {
                let line = if json {
                    json_line(item)?
                } else {
                    let mark = if item.read { ' ' } else { '*' };
                    format!("{mark} {}", text_line(&item.notification, color))
                };
                writeln!(out, "{line}").context("writing to stdout")?;
            }
            if !json {
                eprintln!("{} unread", page.unread.total);
            }
            Ok(())
        }
        Command::Read { all, id } => {
            let client = signed_in(cli.conn).await?;
            let which = if all {
                let newest = client
                    .history(&HistoryQuery {
                        limit: Some(1),
                        ..HistoryQuery::default()
                    })
                    .await?;
                let Some(top) = newest.items.first() else {
                    eprintln!("nothing to mark read");
                    return Ok(());
                };
                MarkRead {
                    ids: None,
                    up_to: Some(top.notification.id),
                }
            } else {
                MarkRead {
                    ids: Some(id),
                    up_to: None,
                }
            };
            let answer = client.mark_read(&which).await?;
            eprintln!("{} unread", answer.unread.total);
            Ok(())
        }
        Command::Publish {
            kind,
            title,
            severity,
            body,
            link,
            idempotency_key,
            json,
        } => {
            let n = NewNotification {
                kind,
                severity,
                title,
                body,
                link,
                data: None,
            };
            n.validate().map_err(|e| Failure::Usage(format!("--{e}")))?;
            let client = signed_in(cli.conn).await?;
            let stored = client.publish(&n, idempotency_key.as_deref()).await?;
            if json {
                println!("{}", json_line(&stored)?);
            } else {
                println!("published notification {}", stored.id);
            }
            Ok(())
        }
    }
}

/// The OS keyring, opened off the async threads (it talks D-Bus).
async fn keyring() -> Result<Arc<dyn CredentialStore>, String> {
    tokio::task::spawn_blocking(|| KeyringStore::platform().map_err(|e| e.to_string()))
        .await
        .map_err(|e| e.to_string())?
        .map(|s| Arc::new(s) as Arc<dyn CredentialStore>)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::credentials::StoreError> + Send + 'static,
) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .context("keyring task failed")??)
}

fn no_server() -> Failure {
    Failure::Usage("no server: pass --server URL or set BELFRY_SERVER".into())
}

/// A client with credentials: `--token`/`BELFRY_TOKEN` when given, else the
/// keyring's (refreshed tokens are written back there).
async fn signed_in(conn: Connection) -> Result<Client, Failure> {
    if let Some(token) = conn.token {
        // Only ask the keyring for what is missing.
        let server = match conn.server {
            Some(s) => s,
            None => match keyring().await {
                Ok(store) => blocking(move || store.load(Key::Server))
                    .await?
                    .ok_or_else(no_server)?,
                Err(_) => return Err(no_server()),
            },
        };
        return Ok(Client::new(&server)?.with_tokens(Tokens::new(token, None)));
    }
    let store = keyring().await.map_err(|e| {
        Failure::Auth(format!(
            "{e}, and no --token given: pass --token or set BELFRY_TOKEN"
        ))
    })?;
    let s = store.clone();
    let (server, access, refresh) = blocking(move || {
        Ok((
            s.load(Key::Server)?,
            s.load(Key::AccessToken)?,
            s.load(Key::RefreshToken)?,
        ))
    })
    .await?;
    let server = conn.server.or(server).ok_or_else(no_server)?;
    let Some(access) = access else {
        return Err(Failure::Auth(
            "not signed in: run `belfry login --server URL --email E`, or pass --token".into(),
        ));
    };
    Ok(Client::new(&server)?
        .with_tokens(Tokens::new(access, refresh.filter(|r| !r.is_empty())))
        .with_store(store))
}

async fn login(conn: Connection, email: &str, password_stdin: bool) -> Result<(), Failure> {
    // Fail before asking for a password when the tokens could not be kept.
    let store = keyring().await.map_err(|e| {
        Failure::Other(anyhow::anyhow!(
            "cannot keep a sign-in: {e}. Use --token or BELFRY_TOKEN instead"
        ))
    })?;
    let s = store.clone();
    let server = match conn.server {
        Some(s) => s,
        None => blocking(move || s.load(Key::Server))
            .await?
            .ok_or_else(no_server)?,
    };
    let client = Client::new(&server)?;
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        tokio::task::spawn_blocking(|| rpassword::prompt_password("Password: "))
            .await
            .context("password prompt failed")?
            .context("reading the password")?
    } else {
        return Err(Failure::Usage(
            "no terminal to ask the password on: use --password-stdin".into(),
        ));
    };
    let tokens = client.login(email, &password).await?;
    let base = client.base().to_string();
    blocking(move || {
        store.save(Key::Server, &base)?;
        store.save(Key::AccessToken, &tokens.access_token)?;
        store.save(Key::RefreshToken, &tokens.refresh_token)
    })
    .await?;
    eprintln!("signed in to {server} as {email}");
    Ok(())
}

async fn logout(conn: Connection) -> Result<(), Failure> {
    let store = keyring()
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("{e}: nothing stored to sign out of")))?;
    let s = store.clone();
    let (server, refresh) =
        blocking(move || Ok((s.load(Key::Server)?, s.load(Key::RefreshToken)?))).await?;
    if let (Some(server), Some(refresh)) = (conn.server.or(server), refresh) {
        // Revoking is best effort: the local tokens go either way.
        let revoked = match Client::new(&server) {
            Ok(c) => c
                .with_tokens(Tokens::new(String::new(), Some(refresh)))
                .logout()
                .await
                .map_err(|e| error_chain(&e)),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = revoked {
            eprintln!("belfry: warning: could not revoke the sign-in on the server: {e}");
        }
    }
    blocking(move || {
        for key in [Key::AccessToken, Key::RefreshToken] {
            store.delete(key)?;
        }
        Ok(())
    })
    .await?;
    eprintln!("signed out");
    Ok(())
}

async fn listen(
    client: &Client,
    config: StreamConfig,
    min_severity: Severity,
    json: bool,
) -> Result<(), Failure> {
    let mut events = client.events(config)?;
    let color = use_color();
    let mut out = std::io::stdout();
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(event) = event else {
            return Err(Failure::Other(anyhow::anyhow!("the stream ended")));
        };
        match event {
            ClientEvent::Notification {
                notification,
                replayed,
            } => {
                if notification.severity < min_severity {
                    continue;
                }
                let line = if json {
                    let mut v =
                        serde_json::to_value(&notification).context("encoding a notification")?;
                    v["replayed"] = replayed.into();
                    v.to_string()
                } else {
                    text_line(&notification, color)
                };
                // A closed stdout (`belfry listen | head`) ends the command.
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    return Ok(());
                }
            }
            ClientEvent::Connecting => eprintln!("connecting to {}", client.base()),
            ClientEvent::Live { unread, .. } => eprintln!("live ({} unread)", unread.total),
            ClientEvent::Reconnecting {
                attempt,
                retry_in,
                reason,
            } => eprintln!(
                "{}; reconnecting in {:.1}s (attempt {attempt})",
                for_terminal(&reason, true),
                retry_in.as_secs_f64()
            ),
            ClientEvent::CaughtUp { replayed } if replayed > 0 => {
                eprintln!("caught up: {replayed} missed while away");
            }
            ClientEvent::Reset { reason } => eprintln!(
                "history reset by the server ({}); see `belfry history`",
                for_terminal(&reason, true)
            ),
            ClientEvent::AuthRequired { reason } => return Err(Failure::Auth(reason)),
            ClientEvent::Stopped { error } => return Err(error.into()),
            _ => {}
        }
    }
}

/// `value` as one line of JSON, safe for a terminal: serde_json escapes the
/// C0 controls, and this escapes the rest (C1 controls such as U+009B, an
/// escape introducer on some terminals, and bidi overrides) as `\uXXXX`,
/// which JSON readers decode to the same text.
fn json_line(value: &impl serde::Serialize) -> anyhow::Result<String> {
    let json = serde_json::to_string(value).context("encoding JSON")?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() || crate::sanitize::is_bidi_control(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// One readable line: local time, severity, kind, id, title, body, link.
fn text_line(n: &Notification, color: bool) -> String {
    let when = jiff::Timestamp::from_second(n.created_at.unix_timestamp())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();
    let sev = format!("{:<8}", n.severity.as_str().to_uppercase());
    let sev = if color {
        let code = match n.severity {
            Severity::Info => "36",
            Severity::Warning => "33",
            Severity::Critical => "1;31",
        };
        format!("\x1b[{code}m{sev}\x1b[0m")
    } else {
        sev
    };
    let mut line = format!(
        "{when} {sev} #{} {} {}",
        n.id,
        for_terminal(&n.kind, true),
        for_terminal(&n.title, true)
    );
    if let Some(body) = &n.body {
        line.push_str(" — ");
        line.push_str(&for_terminal(body, true));
    }
    if let Some(link) = &n.link {
        line.push_str(" <");
        line.push_str(&for_terminal(link, true));
        line.push('>');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn text_lines_carry_no_publisher_escapes() {
        let n = Notification {
            id: 9,
            kind: "order.created".into(),
            severity: Severity::Critical,
            title: "evil \u{1b}]52;c;cGF5\u{7} title".into(),
            body: Some("line\n\u{1b}[2Jbody".into()),
            link: None,
            data: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let plain = text_line(&n, false);
        assert!(!plain.chars().any(char::is_control), "{plain:?}");
        assert!(plain.contains("CRITICAL #9 order.created evil"), "{plain}");
        let json = json_line(&n).unwrap();
        assert!(!json.chars().any(char::is_control), "{json:?}");
        assert!(json.contains(r"\u001b]52"), "{json}");
        assert_eq!(serde_json::from_str::<Notification>(&json).unwrap(), n);
        let c1 = json_line(&"a\u{9b}31m\u{202e}b").unwrap();
        assert_eq!(c1, r#""a\u009b31m\u202eb""#);
        assert_eq!(
            serde_json::from_str::<String>(&c1).unwrap(),
            "a\u{9b}31m\u{202e}b"
        );
        let colored = text_line(&n, true);
        assert_eq!(
            colored.matches('\u{1b}').count(),
            2,
            "only our own colour codes: {colored:?}"
        );
    }
}
