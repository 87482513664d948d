//! The command line itself: global connection flags and the subcommands,
//! as clap parses them and `--help` shows them.

use belfry_proto::Severity;
use clap::{Args, Parser, Subcommand};

/// Real-time admin notifications for your store, on the command line.
#[derive(Debug, Parser)]
#[command(name = "belfry", version)]
pub struct Cli {
    #[command(flatten)]
    pub conn: Connection,
    #[command(subcommand)]
    pub command: Command,
}

/// Where to connect and with which token; every subcommand takes these.
#[derive(Debug, Args)]
pub struct Connection {
    /// Server URL, e.g. https://belfry.shop.example (default: the one signed in to)
    #[arg(long, env = "BELFRY_SERVER", global = true)]
    pub server: Option<String>,
    /// Access token to use instead of the keyring's (a publish token for `publish`)
    #[arg(long, env = "BELFRY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
}

impl Connection {
    /// Drops an empty `BELFRY_TOKEN` or `BELFRY_SERVER`: empty means unset,
    /// as in most shells' idiom.
    pub fn without_empty_values(self) -> Self {
        Self {
            server: self.server.filter(|s| !s.trim().is_empty()),
            token: self.token.filter(|t| !t.trim().is_empty()),
        }
    }
}

/// What to do; each variant's doc comment is its line in `--help`.
#[derive(Debug, Subcommand)]
pub enum Command {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
