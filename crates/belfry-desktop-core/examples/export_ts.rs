//! Writes the desktop app's events in TypeScript to
//! `ui/src/platform/generated/desktop.ts`:
//! `cargo run -p belfry-desktop-core --features ts --example export_ts`.

use belfry_desktop_core::typescript;

fn main() -> std::io::Result<()> {
    let path = typescript::output_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, typescript::render())?;
    println!("wrote {}", typescript::OUTPUT);
    Ok(())
}
