# shellcheck shell=bash
# Sourced by scripts/test: makes sure a PostgreSQL and a Redis server answer
# for the backend tests, and exports their URLs.
#
# - SESSION_TEST_POSTGRES_URL / SESSION_TEST_REDIS_URL are used when set,
#   else the local defaults (127.0.0.1:5432 database `test`, 127.0.0.1:6379).
# - A server that does not answer is replaced by a throwaway instance, started
#   from the installed binaries on a free port in a temporary directory and
#   stopped when scripts/test exits. Missing binaries are installed from
#   Debian's packages when running as root; otherwise the run stops with the
#   package to install.
# - SESSION_TEST_FORCE_PROVISION=1 starts throwaway instances even when the
#   default servers answer (to try this path).

services_tmp=""
services_cleanup() {
    if [ -n "${services_pg_data:-}" ]; then
        services_as_postgres "$services_pg_bin/pg_ctl" -D "$services_pg_data" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ -n "${services_redis_pidfile:-}" ] && [ -f "$services_redis_pidfile" ]; then
        kill "$(cat "$services_redis_pidfile")" 2>/dev/null || true
    fi
    if [ -n "$services_tmp" ]; then rm -rf "$services_tmp"; fi
}
trap services_cleanup EXIT

services_die() {
    echo "scripts/test: $*" >&2
    exit 1
}

services_tmpdir() {
    if [ -z "$services_tmp" ]; then
        services_tmp=$(mktemp -d /tmp/session-test-services.XXXXXX)
        chmod 755 "$services_tmp"
    fi
}

services_free_port() {
    local port
    for port in $(seq "$1" $(("$1" + 200))); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    services_die "no free port from $1"
}

services_install() {
    local package=$1
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "scripts/test: installing $package" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "$package" >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null && apt-get install -y -q "$package" >/dev/null; } ||
            services_die "could not install $package"
    else
        services_die "no $2 server answers and none is installed: install the Debian package '$package' (sudo apt-get install $package) or set $3"
    fi
}

# host and port of a URL such as scheme://user@host:port/db
services_host_port() {
    local rest=${1#*://}
    rest=${rest#*@}
    rest=${rest%%/*}
    local host=${rest%%:*} port=${rest##*:}
    [ "$port" = "$rest" ] && port=$2
    echo "$host $port"
}

services_redis_answers() {
    local host port reply
    read -r host port <<<"$(services_host_port "$1" 6379)"
    # The braces keep 2>/dev/null from applying to the whole shell.
    { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&3
    read -r -t 2 reply <&3 || true
    exec 3>&-
    [ "${reply%$'\r'}" = "+PONG" ]
}

services_postgres_answers() {
    local host port
    read -r host port <<<"$(services_host_port "$1" 5432)"
    # A server that runs but refuses this user or lacks the database (say
    # Debian's default cluster, which wants a password on 127.0.0.1) is of
    # no use to the tests either: only a query that runs counts.
    if command -v psql >/dev/null; then
        PGCONNECT_TIMEOUT=3 psql -w -Atq -d "$1" -c 'SELECT 1' >/dev/null 2>&1
    elif command -v pg_isready >/dev/null; then
        pg_isready -q -d "$1" -t 3
    else
        (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
    fi
}

services_as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

services_start_postgres() {
    local initdb
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$initdb" ]; then
        services_install postgresql PostgreSQL SESSION_TEST_POSTGRES_URL
        initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
        [ -n "$initdb" ] || services_die "postgresql is installed but initdb was not found"
    fi
    services_pg_bin=$(dirname "$initdb")
    services_tmpdir
    local port
    port=$(services_free_port 55432)
    services_pg_data="$services_tmp/pg"
    mkdir -p "$services_pg_data"
    [ "$(id -u)" = 0 ] && chown postgres "$services_pg_data"
    services_as_postgres "$initdb" -D "$services_pg_data" -U postgres --auth=trust >/dev/null ||
        services_die "initdb failed"
    services_as_postgres "$services_pg_bin/pg_ctl" -D "$services_pg_data" -w -l "$services_pg_data/log" \
        -o "-p $port -k $services_pg_data -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
        services_die "PostgreSQL did not start (see $services_pg_data/log)"
    services_as_postgres "$services_pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test ||
        services_die "could not create the test database"
    SESSION_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/test"
    echo "scripts/test: started a throwaway PostgreSQL at 127.0.0.1:$port" >&2
}

services_start_redis() {
    command -v redis-server >/dev/null || services_install redis-server Redis SESSION_TEST_REDIS_URL
    services_tmpdir
    local port
    port=$(services_free_port 56379)
    services_redis_pidfile="$services_tmp/redis.pid"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
        --dir "$services_tmp" --pidfile "$services_redis_pidfile" --logfile "$services_tmp/redis.log" ||
        services_die "Redis did not start"
    SESSION_TEST_REDIS_URL="redis://127.0.0.1:$port"
    for _ in $(seq 50); do services_redis_answers "$SESSION_TEST_REDIS_URL" && break; sleep 0.1; done
    echo "scripts/test: started a throwaway Redis at 127.0.0.1:$port" >&2
}

# The Redis Cluster, Sentinel and outage tests start servers of their own
# (redis-server, redis-cli --cluster create): they need both programs even
# when a Redis already answers.
command -v redis-server >/dev/null || services_install redis-server Redis SESSION_TEST_REDIS_URL
command -v redis-cli >/dev/null || services_install redis-tools Redis SESSION_TEST_REDIS_URL

SESSION_TEST_POSTGRES_URL=${SESSION_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
SESSION_TEST_REDIS_URL=${SESSION_TEST_REDIS_URL:-redis://127.0.0.1:6379}
if [ "${SESSION_TEST_FORCE_PROVISION:-0}" = 1 ] || ! services_postgres_answers "$SESSION_TEST_POSTGRES_URL"; then
    services_start_postgres
fi
if [ "${SESSION_TEST_FORCE_PROVISION:-0}" = 1 ] || ! services_redis_answers "$SESSION_TEST_REDIS_URL"; then
    services_start_redis
fi
export SESSION_TEST_POSTGRES_URL SESSION_TEST_REDIS_URL
echo "scripts/test: PostgreSQL at ${SESSION_TEST_POSTGRES_URL#*@}, Redis at ${SESSION_TEST_REDIS_URL#*://}" >&2
