#!/usr/bin/env bash
# Runs Belfry: the server with a stream of demo store events on the embedded
# SQLite store. Extra arguments go to `belfry-server serve` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cargo build --release --locked -p belfry-server
exec target/release/belfry-server serve --demo "$@"
