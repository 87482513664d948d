#!/usr/bin/env bash
# Checks and tests the web UI in ui/: install from the lockfile, typecheck,
# lint, unit tests, build, then end-to-end tests in Debian's Chromium against
# the real server binary (BELFRY_SERVER_BIN, default target/debug/belfry-server).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

server_bin="${BELFRY_SERVER_BIN:-$root/target/debug/belfry-server}"
if [ ! -x "$server_bin" ]; then
  if [ -n "${BELFRY_SERVER_BIN:-}" ]; then
    echo "test-ui: BELFRY_SERVER_BIN=$server_bin is not an executable" >&2
    exit 1
  fi
  echo "== build belfry-server" >&2
  cargo build -p belfry-server --locked
fi
case "$server_bin" in /*) ;; *) server_bin="$root/$server_bin" ;; esac

cd ui
# BELFRY_UI_READY=1: the caller (scripts/test.sh) installed and built the UI
# from these sources already.
ready="${BELFRY_UI_READY:-}"
if [ "$ready" != 1 ]; then
  echo "== ui: install" >&2
  npm ci --no-audit --no-fund
fi
echo "== ui: typecheck" >&2
npm run typecheck
echo "== ui: lint" >&2
npm run lint
echo "== ui: unit tests" >&2
npm test
if [ "$ready" != 1 ]; then
  echo "== ui: build" >&2
  npm run build
fi
echo "== ui: end-to-end" >&2
BELFRY_SERVER_BIN="$server_bin" npm run e2e
