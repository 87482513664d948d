#!/usr/bin/env bash
# Installs what building and testing Belfry needs on Debian 12, and only what
# is missing: a second run changes nothing and asks no package server.
set -euo pipefail

# System packages: the C toolchain (SQLite's bundled build), the real
# PostgreSQL and Redis the replica tests use, D-Bus + gnome-keyring for the
# Secret Service test, and Chromium for the web UI's end-to-end tests (they
# never download a browser). The desktop app (Tauri 2, src-tauri/) builds
# against WebKitGTK 4.1, the Ayatana tray indicator, librsvg, libxdo and
# OpenSSL; its tests run under Xvfb with WebKitWebDriver, and ImageMagick
# takes the screenshots. nginx (nginx-light) is the real reverse proxy the
# client-address tests sign in through; sqlite3 takes the backups that the
# restore test restores, as docs/operations.md does. python3-venv holds the
# independent receivers the channel tests check Belfry's output with.
packages=(build-essential pkg-config ca-certificates postgresql redis-server dbus-bin dbus-daemon gnome-keyring chromium
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev
  xvfb xauth x11-utils webkit2gtk-driver imagemagick nginx-light sqlite3 python3-venv)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no Rust toolchain found. Install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi

# The channel tests' receivers (tests/receivers/): Python libraries pinned in
# requirements.txt, in a virtual environment at .venv, reinstalled only when
# that file changes.
cd "$(dirname "$0")/.."
if ! cmp -s tests/receivers/requirements.txt .venv/installed-requirements.txt; then
  echo "setup: installing the test receivers' Python libraries into .venv" >&2
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/receivers/requirements.txt
  cp tests/receivers/requirements.txt .venv/installed-requirements.txt
fi
