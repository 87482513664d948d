//! Writes the desktop app's events in TypeScript to
//! `ui/src/platform/generated/desktop.ts`:
//! `cargo run -p belfry-desktop-core --features ts --example export_ts`.

use belfry_desktop_core::typescript::{OUTPUT, render};

fn main() -> std::io::Result<()> {
    belfry_proto::typescript::write_generated(OUTPUT, &render())
}
