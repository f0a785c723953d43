# Shared by the scripts/bench-*.sh scripts (sourced, not run).
# Expects `root` and `bench_tag` to be set; defines the state the trap cleans
# up (server, load tool, Postgres database, work directory) and helpers.

pg_host="${BENCH_PG_HOST:-127.0.0.1}"
pg_port="${BENCH_PG_PORT:-5432}"
pg_user="${BENCH_PG_USER:-postgres}"
settle_secs=5
target_dir="${CARGO_TARGET_DIR:-$root/target}"

work="$(mktemp -d -t "flagyard-$bench_tag.XXXXXX")"
server_pid=""
load_pid=""
bare_pid=""
peer_pid=""   # an optional third-party peer (Unleash Edge in bench-ofrep.sh)
pg_db=""
token="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

log() { printf '[%s %s] %s\n' "$bench_tag" "$(date -u +%H:%M:%S)" "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# Other processes busy over the last half second (name and %CPU), to tell noise from signal.
busy() {
    top -b -n 2 -d 0.5 -o %CPU 2>/dev/null |
        awk '/^top -/ {n++} n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 {print $1, $9}' |
        while read -r pid cpu; do
            printf '%s %s%%, ' "$(cat "/proc/$pid/comm" 2>/dev/null || echo "pid $pid")" "$cpu"
        done | sed 's/, $//' || true
}

cleanup() {
    local rc=$?
    trap - INT TERM
    if [[ -n "$load_pid" ]]; then
        kill -TERM "$load_pid" 2>/dev/null || true
        wait "$load_pid" 2>/dev/null || true
    fi
    if [[ -n "$bare_pid" ]]; then
        kill -TERM "$bare_pid" 2>/dev/null || true
    fi
    if [[ -n "$peer_pid" ]]; then
        kill -TERM "$peer_pid" 2>/dev/null || true
    fi
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        sleep 1
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ -n "$pg_db" ]]; then
        PGCONNECT_TIMEOUT=5 psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -q -d postgres \
            -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 ||
            log "could not drop database $pg_db"
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port on 127.0.0.1 that nothing listens on (below the ephemeral range,
# which thousands of client connections use).
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# `run_load SECS ARGS...`: flagyard-load ARGS into $work/load.out, at most SECS. In the
# background with `wait`, so that a signal runs the trap at once instead of after it.
run_load() {
    local secs="$1"
    shift
    timeout "$secs" "$load_bin" "$@" >"$work/load.out" &
    load_pid=$!
    local rc=0
    wait "$load_pid" || rc=$?
    load_pid=""
    return "$rc"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# `value KEY LINE`: the value of KEY=... in a `summary` line.
value() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

# `start_server BACKEND DATABASE_URL`: starts flagyard on a free port (sets
# `port`, `base`, `server_pid`) and waits until it is ready; on failure prints
# its log and returns 1.
start_server() {
    local backend="$1" url="$2" ready=0
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    log "$backend: starting flagyard on $base (load: $(loadavg); busy: $(busy))"
    DATABASE_URL="$url" PORT="$port" FLAGYARD_BIND=127.0.0.1 FLAGYARD_ADMIN_TOKEN="$token" \
        FLAGYARD_LOG=warn FLAGYARD_LOG_FORMAT=json \
        "$server_bin" >"$work/server-$backend.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 150); do
        if curl -fsS -o /dev/null --max-time 1 "$base/readyz" 2>/dev/null; then ready=1; break; fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ $ready != 1 ]]; then
        log "$backend: server not ready; its log:"
        cat "$work/server-$backend.log" >&2
        return 1
    fi
}

# `start_bare BIN`: starts flagyard-bare (tools/load: the bare axum peer of
# the OFREP and SSE benchmarks) on a free port (sets `bare_pid`, `bare_base`);
# exits the script when it does not start.
start_bare() {
    "$1" 0 >"$work/bare.out" 2>&1 &
    bare_pid=$!
    for _ in $(seq 1 50); do grep -q '^listening' "$work/bare.out" 2>/dev/null && break; sleep 0.1; done
    bare_base="http://$(sed -n 's/^listening //p' "$work/bare.out")"
    [[ $bare_base != http:// ]] || { log "flagyard-bare did not start"; cat "$work/bare.out" >&2; exit 1; }
}

# `each_backend`: `bench BACKEND URL` (defined by the script) for each of
# $backends on a fresh database: SQLite a file under $work, Postgres a
# database created on $pg_user@$pg_host:$pg_port (BENCH_PG_PARAMS, if set, is
# appended to its URL as the query string) and dropped after. An unreachable
# Postgres is skipped: logged, and `skipped BACKEND REASON` is called when the
# script defines it. Sets failed=1 when a run fails.
each_backend() {
    local backend reason
    for backend in $backends; do
        case "$backend" in
        sqlite)
            mkdir -p "$work/sqlite"
            bench sqlite "sqlite://$work/sqlite/flagyard.db" || failed=1
            ;;
        postgres)
            if ! PGCONNECT_TIMEOUT=3 psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -Atqc 'SELECT 1' \
                >/dev/null 2>&1; then
                reason="SKIPPED: no Postgres at $pg_user@$pg_host:$pg_port"
                log "postgres: $reason"
                if declare -F skipped >/dev/null; then skipped postgres "$reason"; fi
                continue
            fi
            pg_db="flagyard_${bench_tag}_$$_$RANDOM"
            psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -qc "CREATE DATABASE $pg_db" >/dev/null
            bench postgres "postgres://$pg_user@$pg_host:$pg_port/$pg_db${BENCH_PG_PARAMS:+?$BENCH_PG_PARAMS}" || failed=1
            psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" \
                >/dev/null && pg_db=""
            ;;
        *) log "unknown backend $backend"; failed=1 ;;
        esac
    done
}
