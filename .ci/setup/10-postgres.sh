# Sourced by .ci/test. Prepares PostgreSQL for the `postgres` feature's tests and exports
# DATABASE_URL, an administrator's URL: each test creates (and drops) its own database.
#
# - DATABASE_URL already set (a host's or CI service's database): used as it is.
# - Otherwise a throwaway cluster in $CASELEDGER_PG_DIR (default /tmp/caseledger-pg),
#   listening only on 127.0.0.1:$CASELEDGER_PG_PORT (default 54329), run by the
#   `postgres` OS user (initdb refuses root). Debian's `postgresql` package is installed
#   when no server is present. A cluster already running there is reused, and a lock
#   file lets several checkouts run this at once.
#
# The cluster trades durability for speed (fsync off): it holds test data only. For
# benchmarks that must pay for durability, CASELEDGER_PG_DURABLE=1 makes (or reuses) a
# second cluster with fsync, synchronous_commit and full_page_writes on, in
# /tmp/caseledger-pg-durable on 127.0.0.1:54330 by default.
# Anything that fails here fails the run; no test passes by skipping.

caseledger_pg_setup() {
    if [ -n "${DATABASE_URL:-}" ]; then
        echo "PostgreSQL: using the DATABASE_URL given"
        return 0
    fi
    local durable="${CASELEDGER_PG_DURABLE:-0}" sync=off
    local dir="${CASELEDGER_PG_DIR:-/tmp/caseledger-pg}"
    local port="${CASELEDGER_PG_PORT:-54329}"
    if [ "$durable" = 1 ]; then
        sync=on
        dir="${CASELEDGER_PG_DIR:-/tmp/caseledger-pg-durable}"
        port="${CASELEDGER_PG_PORT:-54330}"
    fi
    local password="caseledger"
    local data="$dir/data"
    local bin

    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "PostgreSQL: no server installed; installing Debian's postgresql"
        if [ "$(id -u)" -ne 0 ]; then
            echo "PostgreSQL: installing needs root (or set DATABASE_URL)" >&2
            return 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
        bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
        [ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "PostgreSQL: install gave no initdb" >&2; return 1; }
    fi

    # Root runs the server as `postgres`; anyone else runs it as themselves.
    local as=()
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || { echo "PostgreSQL: no postgres OS user" >&2; return 1; }
        as=(runuser -u postgres --)
    fi

    mkdir -p "$dir" || return 1
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    (
        # One set-up at a time; the others wait here and then find the cluster running.
        flock -w 120 9 || { echo "PostgreSQL: timed out waiting for $dir/setup.lock" >&2; exit 1; }
        if "${as[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
            exit 0
        fi
        if [ ! -f "$data/PG_VERSION" ]; then
            echo "PostgreSQL: creating a cluster in $data"
            rm -rf "$data"
            local pwfile="$dir/pwfile"
            printf '%s\n' "$password" >"$pwfile"
            [ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"
            "${as[@]}" "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
                --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
                >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
            rm -f "$pwfile"
            cat >>"$data/postgresql.conf" <<CONF
# caseledger test cluster (.ci/setup/10-postgres.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = $sync
synchronous_commit = $sync
full_page_writes = $sync
CONF
        fi
        echo "PostgreSQL: starting the cluster in $data on 127.0.0.1:$port"
        "${as[@]}" "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null 9>&- \
            || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    ) 9>"$dir/setup.lock" || return 1

    export DATABASE_URL="postgres://postgres:$password@127.0.0.1:$port/postgres"
    if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then
        echo "PostgreSQL: not accepting connections on 127.0.0.1:$port" >&2
        return 1
    fi
    if command -v psql >/dev/null 2>&1 && ! psql "$DATABASE_URL" -Atqc 'select 1' >/dev/null; then
        echo "PostgreSQL: cannot log in with $DATABASE_URL" >&2
        return 1
    fi
    echo "PostgreSQL: DATABASE_URL=$DATABASE_URL"
}

caseledger_pg_setup || { echo "PostgreSQL set-up failed" >&2; exit 1; }
unset -f caseledger_pg_setup
