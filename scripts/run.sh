#!/usr/bin/env bash
# Runs Belfry. On a desktop (a display is set): the desktop app, which with
# nothing configured runs its own server with demo events and signs in by
# itself; extra arguments go to the app (--server URL, --bundled, --demo).
# On a headless box, or with BELFRY_HEADLESS=1: the server with a stream of
# demo store events on the embedded SQLite store, serving the web UI at
# http://127.0.0.1:8080 when Node.js is there to build it; extra arguments go
# to `belfry-server serve` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

if [ -z "${BELFRY_HEADLESS:-}" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "run: the desktop app embeds the web UI, which needs Node.js 20 and npm to build; install them, or run the server alone with BELFRY_HEADLESS=1" >&2
    exit 1
  fi
  # The app embeds ui/dist at compile time: build the UI first.
  (cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
  cargo build --release --locked -p belfry-desktop
  exec target/release/belfry-desktop "$@"
fi

cargo build --release --locked -p belfry-server
bin=target/release/belfry-server

if command -v npm >/dev/null 2>&1; then
  (cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
else
  echo "run: Node.js 20 is not installed, so the web UI is not built; the API still runs" >&2
fi

# A first-run admin account, so the web UI can be signed into at once.
demo_admin="admin@belfry.local"
if ! "$bin" user list 2>/dev/null | grep -q "@"; then
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)
  printf '%s\n' "$password" | "$bin" user add --email "$demo_admin" --admin --password-stdin
  cat >&2 <<MSG

  Sign in to the web UI (http://127.0.0.1:8080 unless --listen says otherwise)
  as $demo_admin with password: $password
  (shown once; change it with: $bin user set-password $demo_admin)

MSG
fi

exec "$bin" serve --demo "$@"
