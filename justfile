# VoteStream recipes. `just` lists them.

default:
    @just --list

# Run the server (embedded SQLite unless DATABASE_URL says otherwise; reads .env too).
run *args:
    cargo run -- {{args}}

# Run with debug logs.
dev:
    RUST_LOG="${RUST_LOG:-votestream=debug,tower_http=debug,info}" cargo run

# Run the scaled mode on a throwaway local PostgreSQL under target/dev-pg, with debug logs.
dev-pg:
    DATABASE_URL="$(deploy/dev-postgres.sh start)" RUST_LOG="${RUST_LOG:-votestream=debug,tower_http=debug,info}" cargo run

# Stop the development PostgreSQL.
dev-db-stop:
    deploy/dev-postgres.sh stop

# The production topology on this machine: PostgreSQL, Redis, CLUSTER_REPLICAS (3) replicas
# of the release build and nginx on 127.0.0.1:CLUSTER_PORT (8080). `RATE_LIMIT=off just
# cluster` for load tests. CLUSTER_TOPOLOGY=scaled: a primary and a pg_basebackup standby
# behind PgBouncer (transaction pooling) and a Redis Cluster of three masters with a replica
# each, instead (needs pgbouncer). Pids, ports and logs under target/cluster/.
cluster:
    deploy/cluster.sh up

# Stop exactly what `just cluster` started.
cluster-down:
    deploy/cluster.sh down

# The vote path, pages and live fan-out at this machine's limit, against ceilings measured
# in the same run (nginx to a do-nothing upstream, pgbench running the writer's own batch),
# with the CPU each process spends per request: one table. BENCH_SECS per load (10);
# BENCH_LARGE=0 skips the 10-million-vote data; BENCH_ONLY=topology BENCH_TOPOLOGY=scaled
# measures the scaled topology (deploy/SCALING.md). Starts its own cluster on free ports with a
# clean environment; needs postgresql, redis-server and nginx. Exits non-zero if any
# acknowledged vote is not stored as told or any live viewer misses a vote.
bench:
    #!/usr/bin/env bash
    set -euo pipefail
    ulimit -n "$(ulimit -Hn)"   # 10,000 live viewers need as many sockets, four times (bench, nginx ×2, replica)
    cargo build --release --quiet -p votestream -p votestream-bench --bin votestream --bin votestream-bench
    target/release/votestream-bench

# Run every test, installing what they need first if missing (see tests/run).
test *args:
    tests/run {{args}}

# Run the tests that need no server or browser: the SQLite half, unit and view tests.
test-embedded:
    cargo test -p votestream --lib --test http --test live -- --skip postgres --skip replicas
    cargo test -p votestream-views

# Format the code.
fmt:
    cargo fmt --all

# Formatting check and clippy with warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Check the deployment files offline: nginx -t on the cluster's copy of deploy/nginx.conf,
# docker-compose.yml, the Kubernetes manifests (the `deploy` tests do the same).
deploy-check:
    cargo test --test deploy

# Refresh the vendored htmx files from the npm registry (versions in assets/vendor/README.md).
vendor htmx="2.0.11" sse="2.2.4":
    #!/usr/bin/env bash
    set -euo pipefail
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "htmx.org@{{htmx}}" "htmx-ext-sse@{{sse}}" >/dev/null)
    tar -xzf "$tmp/htmx.org-{{htmx}}.tgz" -C "$tmp" && mv "$tmp/package" "$tmp/htmx"
    tar -xzf "$tmp/htmx-ext-sse-{{sse}}.tgz" -C "$tmp" && mv "$tmp/package" "$tmp/sse"
    cp "$tmp/htmx/dist/htmx.min.js" assets/vendor/htmx.min.js
    cp "$tmp/htmx/LICENSE" assets/vendor/htmx.LICENSE
    cp "$tmp/sse/dist/sse.min.js" assets/vendor/htmx-ext-sse.min.js
    cp "$tmp/sse/LICENSE" assets/vendor/htmx-ext-sse.LICENSE
    sed -i -E "s/^(\| \`htmx.min.js\` .*\| )[0-9.]+( \|.*)$/\1{{htmx}}\2/; s/^(\| \`htmx-ext-sse.min.js\` .*\| )[0-9.]+( \|.*)$/\1{{sse}}\2/" assets/vendor/README.md
    echo "htmx {{htmx}}, htmx-ext-sse {{sse}} vendored"
