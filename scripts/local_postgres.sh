#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the postgres target and its tests:
#   eval "$(bash scripts/local_postgres.sh start)"   # starts it, prints the env to export
#   bash scripts/local_postgres.sh stop              # stops it and deletes its directory
# Data and socket live in a temp directory owned by the `postgres` OS user (initdb refuses
# root); the server listens on 127.0.0.1 only, on a free port. It creates the role and
# database the postgres target of profiles_example.yml uses (SCOREHOUSE_PG_* variables)
# and a read-only BI role.
set -euo pipefail
state=${SCOREHOUSE_PG_STATE:-${TMPDIR:-/tmp}/scorehouse-postgres}
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
start)
    if [ -f "$state/env" ] && as_postgres pg_ctl -D "$state/data" status >/dev/null 2>&1; then
        cat "$state/env"; exit 0
    fi
    rm -rf "$state" && mkdir -p "$state/socket"
    [ "$(id -u)" = 0 ] && chown -R postgres "$state"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres initdb -D "$state/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$state/initdb.log"
    # TLS with a self-signed certificate (clients: sslmode=require; SCOREHOUSE_PG_SSLMODE)
    as_postgres openssl req -new -x509 -days 30 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$state/data/server.key" -out "$state/data/server.crt" >/dev/null 2>&1
    as_postgres chmod 600 "$state/data/server.key"
    as_postgres pg_ctl -D "$state/data" -l "$state/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$state/socket -c fsync=off -c ssl=on" start >/dev/null
    psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -q <<SQL
create role scorehouse login password 'scorehouse';
create database scorehouse owner scorehouse;
create role scorehouse_bi login password 'scorehouse_bi';
create role scorehouse_ops login password 'scorehouse_ops';
SQL
    cat >"$state/env" <<ENV
export SCOREHOUSE_PG_HOST=127.0.0.1 SCOREHOUSE_PG_PORT=$port SCOREHOUSE_PG_USER=scorehouse SCOREHOUSE_PG_PASSWORD=scorehouse SCOREHOUSE_PG_DATABASE=scorehouse SCOREHOUSE_BI_ROLE=scorehouse_bi SCOREHOUSE_OPS_ROLE=scorehouse_ops
ENV
    cat "$state/env"
    ;;
stop)
    if [ -d "$state/data" ]; then
        as_postgres pg_ctl -D "$state/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$state"
    ;;
*)
    echo "usage: $0 start|stop" >&2; exit 2
    ;;
esac
