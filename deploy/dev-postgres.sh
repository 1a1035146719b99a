#!/usr/bin/env bash
# Starts (or reuses) a throwaway local PostgreSQL for development under target/dev-pg and
# prints its DATABASE_URL. `just dev-pg` uses it; `just dev-db-stop` stops it.
# PostgreSQL refuses to run as root, so as root the server runs as the postgres user.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${DEV_PG_PORT:-54329}"
dir="$PWD/target/dev-pg"
bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ ! -x "$bin/postgres" ]; then
  echo "No PostgreSQL server found: apt-get install postgresql (or set PG_BIN)." >&2
  exit 1
fi
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"; else "$@"; fi; }

case "${1:-start}" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -U postgres --auth=trust -E UTF8 -D "$dir/data" >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
      as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres votestream 2>/dev/null || true
    fi
    echo "postgres://postgres@127.0.0.1:$port/votestream"
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop 2>/dev/null || echo "not running"
    ;;
  *)
    echo "usage: $0 [start|stop]" >&2
    exit 2
    ;;
esac
