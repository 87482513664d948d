#!/usr/bin/env bash
# Runs every check and every test, installing what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

echo "== format" >&2
cargo fmt --all --check
echo "== lint" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== dependency direction" >&2
# The client (and so the desktop app) must not pull in the server or its stack.
if cargo tree --locked -p belfry-client -e normal --prefix none | grep -E '^(belfry-server|axum|sqlx) '; then
  echo "belfry-client depends on server crates (above); it may only use belfry-proto" >&2
  exit 1
fi
echo "== tests" >&2
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
cargo test --workspace --locked --doc
