//! Tauri's build step (config, capabilities, embedded assets).

use std::path::Path;

fn main() {
    // The window shows the web UI from `ui/dist`, which `npm run build`
    // produces. Tauri refuses to compile when that folder is missing, and the
    // Rust gates (fmt, clippy, tests) run before the UI is built; a
    // placeholder page keeps them independent of npm. The real build
    // overwrites it.
    let dist = Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(dist).expect("create ui/dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><meta charset=utf-8><title>Belfry</title>\
             <p>The web UI is not built: run <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>",
        )
        .expect("write placeholder ui/dist/index.html");
    }
    tauri_build::build();
}
