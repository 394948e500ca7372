#!/usr/bin/env bash
# A PostgreSQL server of its own for the cluster tests (tests/cluster), run as root on Debian 12:
#   tests/cluster/local_postgres.sh start DIR   installs postgresql when missing, creates a cluster in DIR/data owned
#                                               by the postgres user (trust auth, localhost only, port 55432), starts
#                                               it, creates the database "optuna" and writes its URL to DIR/url
#   tests/cluster/local_postgres.sh stop DIR    stops that server
# The system's own cluster (the postgresql service) is left alone.
set -euo pipefail
action=${1:?usage: local_postgres.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: local_postgres.sh start|stop DIR}")
port=55432

bin() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    echo "${found:?no PostgreSQL under /usr/lib/postgresql}"
}

as_postgres() { runuser -u postgres -- "$@"; }

start() {
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    fi
    local pg
    pg=$(bin)
    mkdir -p "$dir"
    chown postgres: "$dir"
    as_postgres "$pg/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
    as_postgres "$pg/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=50" start >/dev/null
    as_postgres "$pg/createdb" -h 127.0.0.1 -p "$port" -U postgres optuna
    echo "postgresql://postgres@127.0.0.1:$port/optuna" > "$dir/url"
    echo "PostgreSQL up: $(cat "$dir/url")"
}

stop() {
    [ -f "$dir/data/postmaster.pid" ] || return 0
    as_postgres "$(bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

case $action in
    start) start ;;
    stop) stop ;;
    *) echo "usage: local_postgres.sh start|stop DIR" >&2; exit 2 ;;
esac
