//! The client library and the `belfry` CLI against real servers on
//! ephemeral ports, and against fake servers for the failures a real one
//! cannot be made to produce on demand.

mod api;
mod cli;
mod fake;
mod helpers;
mod keyring;
mod real;
mod refresh;
mod stream;
