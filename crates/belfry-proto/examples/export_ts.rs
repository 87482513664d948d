//! Writes the wire types' TypeScript to `ui/src/lib/generated/wire.ts`:
//! `cargo run -p belfry-proto --features ts --example export_ts`.

use belfry_proto::typescript::{OUTPUT, render};

fn main() -> std::io::Result<()> {
    belfry_proto::typescript::write_generated(OUTPUT, &render())
}
