#!/usr/bin/env bash
# Runs every check and every test, installing and starting what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

# A clean build of everything (server, desktop, UI, checks and tests) takes
# several GiB; say so up front rather than fail half-way with ENOSPC.
free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt $((10 * 1024 * 1024)) ]; then
  echo "warning: only $((free_kib / 1024)) MiB free here; a clean build needs up to 10 GiB" >&2
fi
if [ "${CI:-}" = true ]; then
  # A one-off build gains nothing from incremental caches but their size.
  export CARGO_INCREMENTAL=0
fi

./scripts/setup.sh
BELFRY_TEST_PG=$(./scripts/services.sh)
export BELFRY_TEST_PG

echo "== web UI build (the desktop app embeds ui/dist)" >&2
(cd ui && npm ci --no-audit --no-fund && npm run build)

echo "== format" >&2
cargo fmt --all --check
echo "== lint" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --locked -p belfry-proto -p belfry-desktop-core --all-targets --features ts -- -D warnings
echo "== dependency direction" >&2
# proto <- server; proto <- client <- cli, and client <- desktop (which also
# runs the server's library as its bundled server). The client must not pull
# in the server or its stack, nor the command line's crates (the desktop app
# and other users of the library do without them), nor the server the client;
# only the desktop app uses Tauri.
for crate in belfry-client belfry-cli; do
  if cargo tree --locked -p "$crate" -e normal --prefix none | grep -E '^(belfry-server|axum|sqlx) '; then
    echo "$crate depends on server crates (above); the client side uses only belfry-proto and belfry-client" >&2
    exit 1
  fi
done
if cargo tree --locked -p belfry-client -e normal --prefix none | grep -E '^(clap|anyhow|rpassword|tracing-subscriber) '; then
  echo "belfry-client depends on command-line crates (above); they belong in belfry-cli" >&2
  exit 1
fi
if cargo tree --locked -p belfry-server -e normal --prefix none | grep -E '^(belfry-client|belfry-cli) '; then
  echo "belfry-server depends on belfry-client or belfry-cli" >&2
  exit 1
fi
# A thin desktop client (without the bundled-server feature) carries none of
# the server's stack.
if cargo tree --locked -p belfry-desktop --no-default-features -e normal --prefix none | grep -E '^(belfry-server|sqlx|axum|redis) '; then
  echo "belfry-desktop without bundled-server still depends on server crates (above)" >&2
  exit 1
fi
for crate in belfry-proto belfry-server belfry-client belfry-cli belfry-desktop-core; do
  if cargo tree --locked -p "$crate" -e normal --prefix none | grep -E '^tauri '; then
    echo "$crate depends on tauri; only src-tauri may" >&2
    exit 1
  fi
done
if cargo tree --locked -p belfry-proto -e normal --prefix none | grep -E '^(belfry-server|belfry-client|axum|sqlx|reqwest) '; then
  echo "belfry-proto must stay free of server and client dependencies" >&2
  exit 1
fi

echo "== tests" >&2
# The replica tests run the server binary as separate processes, the client
# tests the `belfry` CLI (cargo builds only a package's own binaries for its
# tests); the desktop end-to-end test runs the app under Xvfb
# (src-tauri/tests/desktop_e2e/).
cargo build --locked -p belfry-server -p belfry-cli
if cargo nextest --version >/dev/null 2>&1; then
  run_tests() { cargo nextest run --locked --no-fail-fast "$@"; }
else
  run_tests() { cargo test --locked --no-fail-fast "$@"; }
fi
run_tests --workspace
# The generated TypeScript (ui/src/lib/generated/wire.ts, ui/src/platform/generated/desktop.ts)
# matches the Rust types.
run_tests -p belfry-proto -p belfry-desktop-core --features ts
echo "== the HTTP suite again, on PostgreSQL + Redis" >&2
BELFRY_TEST_BACKEND=postgres run_tests -p belfry-e2e --test server
cargo test --workspace --locked --doc
echo "== web UI" >&2
# Installed and built above, from the same sources.
BELFRY_UI_READY=1 BELFRY_SERVER_BIN="$PWD/target/debug/belfry-server" ./scripts/test-ui.sh
