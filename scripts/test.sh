#!/usr/bin/env bash
# Runs every check and every test, installing what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

echo "== format" >&2
cargo fmt --all --check
echo "== lint" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests" >&2
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
cargo test --workspace --locked --doc
