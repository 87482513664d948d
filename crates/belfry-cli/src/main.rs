//! `belfry`, the command line of a Belfry server: sign in, listen, read
//! history, mark read and publish, from a terminal, a script or an SSH
//! session (docs/cli.md). The client core it runs on is `belfry-client`.
//!
//! Exit codes: 0 ok, 1 other errors, 2 usage, 3 authentication needed; each
//! failure prints one line on stderr ([`failure`]). Publisher text is printed
//! as text: control characters and escape sequences are made visible, never
//! obeyed ([`output`]).
//!
//! This file only parses the arguments, installs the log subscriber, starts
//! the runtime and turns the outcome into an exit code.

mod args;
mod commands;
mod failure;
mod output;
mod session;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
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
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
