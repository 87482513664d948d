//! The client library and the `belfry` CLI against real servers on
//! ephemeral ports, and against fake servers for the failures a real one
//! cannot be made to produce on demand. The CLI runs as a process: the
//! binary `cargo build -p belfry-cli` made ([`belfry_e2e::belfry_cli`]).

mod api;
mod cli;
mod fake;
mod helpers;
mod keyring;
mod real;
mod refresh;
mod stream;
