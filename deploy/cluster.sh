#!/usr/bin/env bash
# The production topology on one machine, without Docker: a throwaway PostgreSQL and
# Redis, CLUSTER_REPLICAS replicas of the binary, and nginx with deploy/nginx.conf (only
# its ports and paths rewritten) on 127.0.0.1:CLUSTER_PORT.
#
#   deploy/cluster.sh up              start everything, wait until healthy, print the URL
#   deploy/cluster.sh down            stop exactly what `up` started
#   deploy/cluster.sh status          what runs, with pids and ports
#   deploy/cluster.sh config          write the cluster's nginx.conf and print its path
#                                     (for `nginx -t`; starts nothing)
#   deploy/cluster.sh stop-replica N  SIGTERM replica N and wait for it to drain and exit
#   deploy/cluster.sh start-replica N start replica N again and wait until it is ready
#
# Settings (environment): CLUSTER_PORT (8080), CLUSTER_REPLICAS (3), CLUSTER_DIR
# (target/cluster), CLUSTER_BIN (the votestream binary; default: build the release one),
# PG_BIN (PostgreSQL's bin folder). Everything else in the environment reaches the
# replicas as it is, so `RATE_LIMIT=off just cluster` runs them without quotas.
# Ports: nginx on CLUSTER_PORT, PostgreSQL on +1, Redis on +2, replica N on +10+N.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

port="${CLUSTER_PORT:-8080}"
replicas="${CLUSTER_REPLICAS:-3}"
dir="${CLUSTER_DIR:-$root/target/cluster}"
case "$dir" in /*) ;; *) dir="$root/$dir" ;; esac
pg_port=$((port + 1))
redis_port=$((port + 2))
replica_port() { echo $((port + 10 + $1)); }
url="http://127.0.0.1:$port"

say() { echo "cluster: $*" >&2; }
die() { say "$*"; exit 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"; else "$@"; fi; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until `curl` gets a 2xx from $1, for at most $2 seconds.
wait_http() {
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# Sends SIGTERM to the process in pid file $1, waits up to $2 seconds, then SIGKILL.
stop_pid() {
  local file="$1" grace="$2" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
  fi
  rm -f "$file"
}

pg_bin() {
  local bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
  [ -x "$bin/postgres" ] || die "no PostgreSQL server found: apt-get install postgresql (or set PG_BIN)"
  echo "$bin"
}

binary() {
  if [ -n "${CLUSTER_BIN:-}" ]; then
    # Absolute: the replicas run from the cluster's folder.
    case "$CLUSTER_BIN" in /*) echo "$CLUSTER_BIN" ;; *) echo "$root/$CLUSTER_BIN" ;; esac
  else
    say "building the release binary"
    cargo build --release --quiet --bin votestream >&2
    echo "$root/target/release/votestream"
  fi
}

start_postgres() {
  local bin data="$dir/postgres"
  bin="$(pg_bin)"
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -U postgres --auth=trust -E UTF8 -D "$data" >/dev/null
  fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres votestream 2>/dev/null || true
}

start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null
  local deadline=$((SECONDS + 10))
  until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "Redis did not start: see $dir/redis.log"
    sleep 0.1
  done
}

start_replica() {
  local n="$1" bin
  bin="$(cat "$dir/binary")"
  local rport
  rport="$(replica_port "$n")"
  alive "$dir/replica-$n.pid" && die "replica-$n is already running"
  port_free "$rport" || die "port $rport (replica-$n) is taken"
  # The caller's environment passes through; the topology's own settings come last. The
  # replica runs from the cluster's folder, so a `.env` in the checkout (meant for `cargo
  # run`) does not reach it: what it runs on is the environment alone.
  (cd "$dir" && DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/votestream" \
  REDIS_URL="redis://127.0.0.1:$redis_port" \
  BIND_ADDR="127.0.0.1:$rport" \
  REPLICA_NAME="replica-$n" \
  TRUSTED_PROXIES="127.0.0.1/32" \
  COOKIE_KEY="$(cat "$dir/cookie.key")" \
    exec setsid "$bin" serve >>"$dir/replica-$n.log" 2>&1 </dev/null) &
  echo $! >"$dir/replica-$n.pid"
  wait_http "http://127.0.0.1:$rport/readyz" 60 || die "replica-$n did not become ready: see $dir/replica-$n.log"
}

nginx_conf() {
  local conf="$dir/nginx/nginx.conf" temp="$dir/nginx/temp" addresses="" n
  mkdir -p "$temp"
  chmod 0777 "$temp"
  for n in $(seq 1 "$replicas"); do addresses+="127.0.0.1:$(replica_port "$n") "; done
  # The replicas' lines keep the file's own parameters (max_fails…); only addresses change.
  awk -v addresses="$addresses" -v port="$port" -v dir="$dir" -v temp="$temp" '
    /# cluster: replicas/ {
      if (!done) {
        line = $0; sub(/[[:space:]]*#.*/, "", line); sub(/^[[:space:]]*server[[:space:]]+[^[:space:]]+/, "", line)
        n = split(addresses, list, " ")
        for (i = 1; i <= n; i++) print "        server " list[i] line
        done = 1
      }
      next
    }
    /# cluster: listen/   { print "        listen 127.0.0.1:" port " reuseport;"; next }
    /# cluster: pid/      { print "pid " dir "/nginx.pid;"; next }
    /# cluster: error_log/ { print "error_log " dir "/nginx-error.log warn;"; next }
    /# cluster: access_log/ { print "    access_log " dir "/nginx-access.log votestream buffer=64k flush=1s;"; next }
    /# cluster: temp/ {
      n = split("client_body proxy fastcgi uwsgi scgi", kinds, " ")
      for (i = 1; i <= n; i++) print "    " kinds[i] "_temp_path " temp "/" kinds[i] ";"
      next
    }
    { print }
  ' "$root/deploy/nginx.conf" >"$conf"
  echo "$conf"
}

up() {
  if alive "$dir/nginx.pid"; then
    say "already up: $url (deploy/cluster.sh down stops it)"
    echo "$url"
    return 0
  fi
  command -v nginx >/dev/null || die "nginx is missing: apt-get install nginx"
  command -v redis-server >/dev/null || die "redis-server is missing: apt-get install redis-server"
  command -v curl >/dev/null || die "curl is missing: apt-get install curl"
  for p in "$port" "$pg_port" "$redis_port"; do port_free "$p" || die "port $p is taken"; done
  mkdir -p "$dir"
  binary >"$dir/binary"
  [ -s "$dir/cookie.key" ] || head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/cookie.key"
  echo "$replicas" >"$dir/replicas"
  say "PostgreSQL on $pg_port, Redis on $redis_port"
  start_postgres
  start_redis
  # The replicas start together, as in production: migrations and seeding take their own
  # locks in the database, so exactly one replica applies each.
  for n in $(seq 1 "$replicas"); do start_replica "$n" & done
  wait
  for n in $(seq 1 "$replicas"); do alive "$dir/replica-$n.pid" || die "replica-$n failed: see $dir/replica-$n.log"; done
  local conf
  conf="$(nginx_conf)"
  nginx -t -q -c "$conf" -e "$dir/nginx-error.log" || die "nginx rejected $conf"
  nginx -c "$conf" -e "$dir/nginx-error.log"
  wait_http "$url/readyz" 30 || die "nginx does not answer on $url: see $dir/nginx-error.log"
  say "up: $url (replicas on $(for n in $(seq 1 "$replicas"); do printf '%s ' "$(replica_port "$n")"; done)); logs in $dir"
  echo "$url"
}

down() {
  [ -d "$dir" ] || { say "nothing to stop"; return 0; }
  stop_pid "$dir/nginx.pid" 10
  local n
  for n in $(seq 1 "$(cat "$dir/replicas" 2>/dev/null || echo "$replicas")"); do stop_pid "$dir/replica-$n.pid" 35 & done
  wait
  stop_pid "$dir/redis.pid" 10
  if [ -f "$dir/postgres/postmaster.pid" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$dir/postgres" -m fast -w stop >/dev/null 2>&1 || true
  fi
  say "down"
}

status() {
  local name
  for name in nginx redis $(for n in $(seq 1 "$(cat "$dir/replicas" 2>/dev/null || echo "$replicas")"); do echo "replica-$n"; done); do
    if alive "$dir/$name.pid"; then echo "$name: running (pid $(cat "$dir/$name.pid"))"; else echo "$name: stopped"; fi
  done
  if [ -f "$dir/postgres/postmaster.pid" ]; then echo "postgres: running (pid $(head -n 1 "$dir/postgres/postmaster.pid"))"; else echo "postgres: stopped"; fi
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) status ;;
  config) mkdir -p "$dir" && nginx_conf ;;
  stop-replica) stop_pid "$dir/replica-${2:?which replica}.pid" 35 ;;
  start-replica) start_replica "${2:?which replica}" ;;
  *) die "usage: $0 [up|down|status|config|stop-replica N|start-replica N]" ;;
esac
