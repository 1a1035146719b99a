#!/usr/bin/env bash
# The production topology on one machine, without Docker: a throwaway PostgreSQL and
# Redis, CLUSTER_REPLICAS replicas of the binary, and nginx with deploy/nginx.conf (only
# its ports and paths rewritten) on 127.0.0.1:CLUSTER_PORT.
#
# CLUSTER_TOPOLOGY=scaled starts, instead of the one PostgreSQL and Redis: a PostgreSQL
# primary and one streaming standby made from it with pg_basebackup, PgBouncer in
# transaction pooling mode in front of both (databases `votestream` and
# `votestream_standby`), and a Redis Cluster of three masters with one replica each. The
# replicas then read pages from the standby, reach PostgreSQL only through PgBouncer and
# publish by sharded Pub/Sub.
#
#   deploy/cluster.sh up              start everything, wait until healthy, print the URL
#   deploy/cluster.sh down            stop exactly what `up` started
#   deploy/cluster.sh status          what runs, with pids and ports
#   deploy/cluster.sh config          write the cluster's nginx.conf and print its path
#                                     (for `nginx -t`; starts nothing)
#   deploy/cluster.sh stop-replica N  SIGTERM replica N and wait for it to drain and exit
#   deploy/cluster.sh start-replica N start replica N again and wait until it is ready
# The scaled topology's faults, as its tests cause them:
#   deploy/cluster.sh kill-redis-node PORT   SIGKILL the Redis Cluster node on PORT
#   deploy/cluster.sh stop-standby | start-standby
#   deploy/cluster.sh pause-standby | resume-standby   pause or resume the standby's WAL replay
#   deploy/cluster.sh fail-over      stop the primary at once, promote the standby and point
#                                    PgBouncer's `votestream` at it (reload, no restart)
#   deploy/cluster.sh restart-pgbouncer
#
# Settings (environment): CLUSTER_PORT (8080), CLUSTER_REPLICAS (3), CLUSTER_DIR
# (target/cluster), CLUSTER_BIN (the votestream binary; default: build the release one),
# PG_BIN (PostgreSQL's bin folder). Everything else in the environment reaches the
# replicas as it is, so `RATE_LIMIT=off just cluster` runs them without quotas.
# Ports: nginx on CLUSTER_PORT, PostgreSQL on +1, Redis on +2, replica N on +10+N; scaled:
# the standby on +3, PgBouncer on +4, the Redis Cluster's six nodes on +5 … +10.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

port="${CLUSTER_PORT:-8080}"
replicas="${CLUSTER_REPLICAS:-3}"
dir="${CLUSTER_DIR:-$root/target/cluster}"
case "$dir" in /*) ;; *) dir="$root/$dir" ;; esac
pg_port=$((port + 1))
redis_port=$((port + 2))
standby_port=$((port + 3))
bouncer_port=$((port + 4))
redis_nodes() { seq $((port + 5)) $((port + 10)); }
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
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' $(scaled && echo "$scaled_pg")" start >/dev/null
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres votestream 2>/dev/null || true
}

scaled() { [ "$(cat "$dir/topology" 2>/dev/null || echo "${CLUSTER_TOPOLOGY:-single}")" = scaled ]; }

# Scaled: PostgreSQL allows 50 connections, far fewer than the replicas' pools add up to
# (PgBouncer's two pools of 20 share them); the standby answers reads while it replays.
scaled_pg="-c max_connections=50 -c hot_standby=on"

# SQL on a server of the cluster, as its superuser.
psql_on() { as_pg "$(pg_bin)/psql" -h 127.0.0.1 -p "$1" -U postgres -d votestream -qAt -c "$2"; }

# A streaming standby of the primary, made with pg_basebackup (-R writes its
# primary_conninfo and standby.signal), taking reads on standby_port.
start_standby() {
  local bin data="$dir/standby"
  bin="$(pg_bin)"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    chmod 0700 "$data"
    # A replication slot: the primary keeps the WAL a stopped standby has yet to receive.
    as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U postgres -D "$data" -R -X stream -c fast \
      -C -S votestream_standby >/dev/null
  fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
    -o "-p $standby_port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' $scaled_pg" start >/dev/null
}

stop_standby() {
  [ -f "$dir/standby/postmaster.pid" ] || return 0
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/standby" -m fast -w stop >/dev/null 2>&1 || true
}

# PgBouncer in transaction pooling mode: `votestream` is the primary, `votestream_standby`
# the standby. A few server connections per database serve every replica's pool.
bouncer_conf() {
  local conf="$dir/pgbouncer/pgbouncer.ini" primary="${1:-$pg_port}"
  mkdir -p "$dir/pgbouncer"
  echo '"postgres" ""' >"$dir/pgbouncer/userlist.txt"
  cat >"$conf" <<INI
[databases]
votestream = host=127.0.0.1 port=$primary dbname=votestream
votestream_standby = host=127.0.0.1 port=$standby_port dbname=votestream

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $dir/pgbouncer/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = ${BOUNCER_MAX_CLIENTS:-1000}
default_pool_size = ${BOUNCER_POOL_SIZE:-20}
; sqlx sends it at startup; PgBouncer does not track it
ignore_startup_parameters = extra_float_digits
; a lost server is retried at once, and a client waits for one at most this long
server_login_retry = 1
server_connect_timeout = 3
query_wait_timeout = 5
pidfile = $dir/pgbouncer/pgbouncer.pid
logfile = $dir/pgbouncer/pgbouncer.log
INI
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir/pgbouncer"
  echo "$conf"
}

start_bouncer() {
  command -v pgbouncer >/dev/null || die "pgbouncer is missing: apt-get install pgbouncer"
  [ -f "$dir/pgbouncer/pgbouncer.ini" ] || bouncer_conf >/dev/null
  rm -f "$dir/pgbouncer/pgbouncer.pid"
  as_pg pgbouncer -d -q "$dir/pgbouncer/pgbouncer.ini"
  local deadline=$((SECONDS + 10))
  until psql_on "$bouncer_port" "select 1" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "PgBouncer did not start: see $dir/pgbouncer/pgbouncer.log"
    sleep 0.1
  done
}

# Three masters with one replica each, on loopback ports, from Debian's redis-server.
start_redis_cluster() {
  local p nodes=()
  for p in $(redis_nodes); do
    mkdir -p "$dir/redis-$p"
    # A throwaway cluster (nothing is saved): a new one each time, never the last one's nodes.
    rm -f "$dir/redis-$p/nodes.conf"
    redis-server --port "$p" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --cluster-enabled yes --cluster-config-file "$dir/redis-$p/nodes.conf" --cluster-node-timeout 2000 \
      --cluster-replica-validity-factor 0 \
      --pidfile "$dir/redis-$p.pid" --logfile "$dir/redis-$p.log" --dir "$dir/redis-$p" >/dev/null
    nodes+=("127.0.0.1:$p")
  done
  for p in $(redis_nodes); do
    local deadline=$((SECONDS + 10))
    until redis-cli -p "$p" ping >/dev/null 2>&1; do
      [ "$SECONDS" -lt "$deadline" ] || die "Redis node $p did not start: see $dir/redis-$p.log"
      sleep 0.1
    done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/redis-cluster.log" 2>&1 \
    || die "redis-cli --cluster create failed: see $dir/redis-cluster.log"
  # Ready when every node says so and every replica holds its master's data (a replica
  # still syncing could not take over).
  local deadline=$((SECONDS + 30))
  for p in $(redis_nodes); do
    until redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' \
      && { redis-cli -p "$p" role | head -n 1 | grep -q master || redis-cli -p "$p" info replication | grep -q '^master_link_status:up'; }; do
      [ "$SECONDS" -lt "$deadline" ] || die "the Redis Cluster is not ok on $p: see $dir/redis-cluster.log"
      sleep 0.2
    done
  done
}

# Where the replicas find PostgreSQL and Redis.
replica_env() {
  if scaled; then
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:$bouncer_port/votestream"
    echo "DATABASE_READ_URL=postgres://postgres@127.0.0.1:$bouncer_port/votestream_standby"
    echo "DB_TRANSACTION_POOLING=true"
    echo "REDIS_URL=redis+cluster://127.0.0.1:$((port + 5)),127.0.0.1:$((port + 6)),127.0.0.1:$((port + 7))"
  else
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/votestream"
    echo "REDIS_URL=redis://127.0.0.1:$redis_port"
  fi
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
  local topology=()
  mapfile -t topology < <(replica_env)
  (cd "$dir" && export "${topology[@]}" && \
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
  local topology="${CLUSTER_TOPOLOGY:-single}" p
  case "$topology" in single | scaled) ;; *) die "CLUSTER_TOPOLOGY is single or scaled, not $topology" ;; esac
  for p in "$port" "$pg_port" "$redis_port"; do port_free "$p" || die "port $p is taken"; done
  if [ "$topology" = scaled ]; then
    command -v pgbouncer >/dev/null || die "pgbouncer is missing: apt-get install pgbouncer"
    for p in "$standby_port" "$bouncer_port" $(redis_nodes); do port_free "$p" || die "port $p is taken"; done
  fi
  [ -e "$dir/failed-over" ] && die "this cluster failed over: its old primary must not start beside the promoted standby; \
deploy/cluster.sh down, remove $dir, then up afresh"
  mkdir -p "$dir"
  echo "$topology" >"$dir/topology"
  binary >"$dir/binary"
  [ -s "$dir/cookie.key" ] || head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/cookie.key"
  echo "$replicas" >"$dir/replicas"
  start_postgres
  if scaled; then
    say "PostgreSQL primary on $pg_port, standby on $standby_port, PgBouncer on $bouncer_port, Redis Cluster on $((port + 5))-$((port + 10))"
    # Through PgBouncer no startup parameter passes: jit is off for the database itself.
    psql_on "$pg_port" "alter database votestream set jit = off"
    # The replicas do not migrate through a transaction pooler: done here, on the primary.
    (cd "$dir" && env -u DATABASE_READ_URL -u REDIS_URL DB_TRANSACTION_POOLING=false \
      DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/votestream" "$(cat "$dir/binary")" migrate \
      >>"$dir/migrate.log" 2>&1) || die "migrations failed: see $dir/migrate.log"
    start_standby
    bouncer_conf >/dev/null
    start_bouncer
    start_redis_cluster
  else
    say "PostgreSQL on $pg_port, Redis on $redis_port"
    start_redis
  fi
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
  stop_pid "$dir/pgbouncer/pgbouncer.pid" 10
  for f in "$dir"/redis-*.pid; do [ -e "$f" ] && stop_pid "$f" 10; done
  stop_standby
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
  if scaled; then
    if [ -f "$dir/standby/postmaster.pid" ]; then echo "standby: running (pid $(head -n 1 "$dir/standby/postmaster.pid"))"; else echo "standby: stopped"; fi
    if alive "$dir/pgbouncer/pgbouncer.pid"; then echo "pgbouncer: running (pid $(cat "$dir/pgbouncer/pgbouncer.pid"))"; else echo "pgbouncer: stopped"; fi
    for p in $(redis_nodes); do
      if alive "$dir/redis-$p.pid"; then echo "redis-$p: running (pid $(cat "$dir/redis-$p.pid"))"; else echo "redis-$p: stopped"; fi
    done
  fi
}

# The standby takes over: the primary goes (every connection cut), the standby is promoted,
# and PgBouncer's `votestream` points at it from its next transaction (a reload). The
# primary goes by a fast shutdown, which streams its last WAL to the standby before it
# exits: replication is asynchronous, so a primary that crashes outright may take the
# commits of its last moments with it (deploy/SCALING.md: synchronous_standby_names).
fail_over() {
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/postgres" -m fast -w stop >/dev/null 2>&1 || true
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/standby" -w -t 30 promote >/dev/null
  bouncer_conf "$standby_port" >/dev/null
  kill -HUP "$(cat "$dir/pgbouncer/pgbouncer.pid")"
  # The old primary must never start again beside the promoted standby.
  touch "$dir/failed-over"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) status ;;
  config) mkdir -p "$dir" && nginx_conf ;;
  stop-replica) stop_pid "$dir/replica-${2:?which replica}.pid" 35 ;;
  start-replica) start_replica "${2:?which replica}" ;;
  kill-redis-node)
    kill -KILL "$(cat "$dir/redis-${2:?which port}.pid")"
    rm -f "$dir/redis-$2.pid"
    ;;
  stop-standby) stop_standby ;;
  start-standby) start_standby ;;
  pause-standby) psql_on "$standby_port" "select pg_wal_replay_pause()" >/dev/null ;;
  resume-standby) psql_on "$standby_port" "select pg_wal_replay_resume()" >/dev/null ;;
  fail-over) fail_over ;;
  restart-pgbouncer)
    stop_pid "$dir/pgbouncer/pgbouncer.pid" 10
    start_bouncer
    ;;
  *) die "usage: $0 [up|down|status|config|stop-replica N|start-replica N|kill-redis-node PORT|stop-standby|start-standby|pause-standby|resume-standby|fail-over|restart-pgbouncer]" ;;
esac
