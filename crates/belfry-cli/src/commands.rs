//! What each subcommand does once parsed: `listen`, `history`, `read` and
//! `publish` here, `login` and `logout` in [`crate::session`].

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use belfry_client::sanitize::for_terminal;
use belfry_client::{Client, ClientEvent, HistoryQuery, StreamConfig};
use belfry_proto::{MarkRead, NewNotification, Severity};

use crate::args::{Cli, Command};
use crate::failure::Failure;
use crate::output::{json_line, text_line, use_color};
use crate::session::{login, logout, signed_in};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let conn = cli.conn.without_empty_values();
    match cli.command {
        Command::Login {
            email,
            password_stdin,
        } => login(conn, &email, password_stdin).await,
        Command::Logout => logout(conn).await,
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
            let client = signed_in(conn).await?;
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
            let client = signed_in(conn).await?;
            history(&client, unread, limit, json).await
        }
        Command::Read { all, id } => {
            let client = signed_in(conn).await?;
            read(&client, all, id).await
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
            // Checked before signing in: a bad field is a usage error.
            n.validate().map_err(|e| Failure::Usage(format!("--{e}")))?;
            let client = signed_in(conn).await?;
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

/// `belfry history`: one line per notification on stdout (`*` marks
/// unread), the unread count on stderr.
async fn history(client: &Client, unread: bool, limit: u32, json: bool) -> Result<(), Failure> {
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

/// `belfry read`: everything up to the newest notification (`--all`), or
/// the given ids.
async fn read(client: &Client, all: bool, ids: Vec<u64>) -> Result<(), Failure> {
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
            ids: Some(ids),
            up_to: None,
        }
    };
    let answer = client.mark_read(&which).await?;
    eprintln!("{} unread", answer.unread.total);
    Ok(())
}

/// `belfry listen`: notifications on stdout as they arrive, connection
/// state on stderr, until interrupted, signed out or stdout closes.
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
