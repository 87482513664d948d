#!/usr/bin/env bash
# Starts the PostgreSQL and Redis the tests use when they are not running,
# and prints the PostgreSQL URL the tests should use (trust auth if the
# cluster has it, else a password set here for the local test user).
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "services: starting PostgreSQL $version" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi

url="postgres://postgres@127.0.0.1:5432"
if ! psql "$url/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
  # A stock Debian cluster wants a password over TCP: give the local
  # superuser a test-only one through the peer-authenticated socket.
  runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'belfry-test'" >/dev/null
  url="postgres://postgres:belfry-test@127.0.0.1:5432"
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "services: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

echo "$url"
