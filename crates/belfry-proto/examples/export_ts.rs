//! Writes the wire types' TypeScript to `ui/src/lib/generated/wire.ts`:
//! `cargo run -p belfry-proto --features ts --example export_ts`.

use belfry_proto::typescript;

fn main() -> std::io::Result<()> {
    let path = typescript::output_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, typescript::render())?;
    println!("wrote {}", typescript::OUTPUT);
    Ok(())
}
