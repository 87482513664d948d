//! `belfry`: see `belfry_client::cli`.

fn main() -> std::process::ExitCode {
    belfry_client::cli::main()
}
