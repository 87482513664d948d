//! The `belfry` CLI for the client tests; see `tests/Cargo.toml`.

fn main() -> std::process::ExitCode {
    belfry_client::cli::main()
}
