#!/usr/bin/env bash
# Live-update benchmarks (issue 4): SSE propagation latency to 1,000 and
# 10,000 open SDK streams, server memory per stream, OFREP single-flag
# throughput against the trivial /healthz handler, and the SDK getter
# against the bare engine call. See docs/benchmarks.md ("Live updates").
#
#   scripts/bench-live.sh
#
# Builds `flagyard` and `flagyard-load` in release, raises the soft
# open-files limit to the hard one (10,000 streams need 10,000 descriptors
# in the server and as many in the load tool) and the server's connection
# cap (FLAGYARD_MAX_CONNECTIONS) to the largest stream count + 256, then for
# each backend:
# starts the server on a free port of 127.0.0.1 with a fresh database and
# FLAGYARD_LOG=warn, waits for /readyz, creates the boolean flag `live` and
# an SDK key of `production` through the admin API, records the idle RSS
# (VmRSS, after a settle), and for N = 1,000, then 10,000 runs BENCH_ROUNDS
# rounds of
#   flagyard-load sse --clients N --changes 20 --flag live
# against Flagyard and against flagyard-bare (tools/load: a bare axum
# broadcaster that formats each change once and hands it to every stream
# through a broadcast channel), alternating which goes first each round.
# Each round's ratio is Flagyard's p99 / the bare broadcaster's p99; the row
# `p99 vs bare` gives every round's ratio, their median and range (target:
# median <= 1.3x, issue 13). Then
#   flagyard-load ofrep --flag live --concurrency 32 --duration-secs 10 --rounds 2
# (OFREP and /healthz alternately, 10 s each, twice). The memory per stream
# is (RSS with all N connected - idle RSS) / N. Then it stops the server with
# SIGTERM (it must exit 0). After the server runs: `cargo bench -p flagyard
# --bench getters` and the medians of getter and engine (criterion's
# estimates). Prints a table of figures, targets, pass/fail and load
# averages. Everything it starts or creates is removed on exit (trap), also
# on failure or Ctrl-C.
#
# SQLite: a fresh temporary directory. Postgres (only with BENCH_BACKENDS
# including it): a fresh database on the local server (psql -h 127.0.0.1
# -U postgres), dropped at the end, N = 1,000 only and no OFREP; skipped with
# a message when that server is unreachable.
#
# Optional environment:
#   BENCH_BACKENDS="sqlite postgres"  which backends to run (default: sqlite)
#   BENCH_CLIENTS="1000 10000"        stream counts on SQLite (Postgres: BENCH_PG_CLIENTS, 1000)
#   BENCH_CHANGES=20                  changes per sse run
#   BENCH_ROUNDS=5                    alternated Flagyard / bare rounds per stream count
#   BENCH_OFREP_SECS=10               length of each OFREP / healthz phase
#   BENCH_SKIP_BUILD=1                use the binaries already built
#   BENCH_SKIP_GETTERS=1              skip the criterion getter benchmark
#   BENCH_PG_HOST / BENCH_PG_PORT / BENCH_PG_USER   (127.0.0.1 / 5432 / postgres)
#
# Bounded: every step has a timeout; about 2 minutes per round for SQLite
# after the build, plus about 1 minute for the getter benchmark. Exit status 0 when
# every run completed (a missed target is reported, not an error), non-zero
# when a run failed.
set -euo pipefail

if [[ $# -gt 0 ]]; then
    # The comment above is the documentation.
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    [[ $1 == -h || $1 == --help ]] && exit 0
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backends="${BENCH_BACKENDS:-sqlite}"
clients_list="${BENCH_CLIENTS:-1000 10000}"
pg_clients_list="${BENCH_PG_CLIENTS:-1000}"
changes="${BENCH_CHANGES:-20}"
rounds="${BENCH_ROUNDS:-5}"
ofrep_secs="${BENCH_OFREP_SECS:-10}"
bench_tag=live
flag=live
# shellcheck source=scripts/bench-common.sh
source "$root/scripts/bench-common.sh"
# `admin METHOD PATH [JSON]`: an admin API call; prints the body, fails on a non-2xx status.
admin() {
    curl -fsS --max-time 10 -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$base$2"
}

# Soft open-files limit: as high as allowed (the server inherits it).
max_clients=0
for n in $clients_list $pg_clients_list; do if ((n > max_clients)); then max_clients=$n; fi; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# The server's connection cap (default 10,000) must leave room for the
# streams and the load tool's own admin connections.
export FLAGYARD_MAX_CONNECTIONS=$((max_clients + 256))
if (($(ulimit -n) < max_clients + 256)); then
    log "the open-files limit is $(ulimit -n) (hard $(ulimit -Hn)); $max_clients streams need $((max_clients + 256))"
    exit 1
fi

if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
    log "building (release): flagyard, flagyard-load"
    (cd "$root" && timeout 1800 cargo build --release -p flagyard-server -p flagyard-load --bins)
fi
server_bin="$target_dir/release/flagyard"
load_bin="$target_dir/release/flagyard-load"
bare_bin="$target_dir/release/flagyard-bare"
[[ -x "$server_bin" && -x "$load_bin" && -x "$bare_bin" ]] || { log "missing $server_bin, $load_bin or $bare_bin"; exit 1; }

# The bare broadcaster (tools/load/src/bin/flagyard-bare.rs), the peer of every sse run.
start_bare "$bare_bin"

rows=()   # summary rows, tab-separated
failed=0
row() { rows+=("$1	$2	$3	$4	$5	$6"); }

# `sse_run WHO BASE PID N`: one `flagyard-load sse` run with N streams
# against BASE (Flagyard or the bare broadcaster); sets `line` to its
# summary line, or returns 1 after a FAILED row.
sse_run() {
    local who="$1" url="$2" pid="$3" n="$4" rc=0 out
    log "$who: sse, $n clients (load: $(loadavg); busy: $(busy))"
    [[ -n ${sse_load_first:-} ]] || sse_load_first="$(loadavg)"
    run_load 600 sse --base "$url" --token "$token" --sdk-key "$sdk_key" --flag "$flag" --env production \
        --clients "$n" --changes "$changes" --server-pid "$pid" || rc=$?
    out="$(cat "$work/load.out")"
    printf '%s\n' "$out" | sed "s/^/[$who] /" >&2
    line="$(grep '^summary bench=sse ' <<<"$out" || true)"
    if [[ -z "$line" ]]; then
        log "$who: sse with $n clients failed (exit $rc)"
        row "$who" "sse $n clients" "FAILED (exit $rc)" "-" "FAIL" "$(loadavg)"
        return 1
    fi
}

# `sse_rows BACKEND N LINE ROUND`: Flagyard's propagation row of one round,
# and in the first round its memory row.
sse_rows() {
    local backend="$1" n="$2" line="$3" r="$4" p50 p90 p99 max missed target verdict conn per_idle per_before load
    p50="$(value p50_ms "$line")"; p90="$(value p90_ms "$line")"; p99="$(value p99_ms "$line")"
    max="$(value max_ms "$line")"; missed="$(value missed "$line")"
    load="$(value load_before "$line" | tr / ' ') -> $(value load_after "$line" | tr / ' ')"
    if ((n >= 10000)); then target=250; else target=50; fi
    verdict="$(awk -v p="$p99" -v m="$missed" -v t="$target" 'BEGIN {print (p < t && m == 0) ? "PASS" : "FAIL"}')"
    row "$backend" "propagation, $n streams, r$r" \
        "p50 $p50, p90 $p90, p99 $p99, max $max ms over $(value delivered "$line") deliveries; missed $missed; per-change p99 median $(value change_p99_median_ms "$line") ms" \
        "p99<${target}ms, 0 missed" "$verdict" "$load"
    [[ $r == 1 ]] || return 0
    conn="$(value rss_connected_kib "$line")"
    per_idle="$(awk -v c="$conn" -v i="$rss_idle" -v n="$n" 'BEGIN {printf "%.1f", (c - i) / n}')"
    per_before="$(value per_client_kib "$line")"
    verdict="$(awk -v p="$per_idle" 'BEGIN {print (p < 32) ? "PASS" : "FAIL"}')"
    row "$backend" "memory, $n streams" \
        "RSS $(mib "$conn") MiB connected: $per_idle KiB/stream over idle ($per_before over the RSS just before connecting); connect all $(value connect_total_s "$line") s, p99 $(value connect_p99_ms "$line") ms" \
        "<32 KiB/stream" "$verdict" "$load"
}

# `bench_with BACKEND DATABASE_URL CLIENTS OFREP(0/1)`
bench_with() {
    local backend="$1" url="$2" clist="$3" with_ofrep="$4" rc out n r who order ratios
    start_server "$backend" "$url" || return 1
    admin POST /api/v1/flags "{\"key\": \"$flag\", \"type\": \"boolean\"}" >/dev/null
    sdk_key="$(admin POST /api/v1/environments/production/sdk-keys '{"name": "bench-live"}' | jq -r .secret)"
    [[ -n "$sdk_key" && "$sdk_key" != null ]] || { log "$backend: no SDK key"; return 1; }
    sleep "$settle_secs"
    rss_idle="$(rss_kib "$server_pid")"
    log "$backend: idle RSS ${rss_idle} KiB"
    row "$backend" "idle RSS" "$(mib "$rss_idle") MiB" "-" "-" "$(loadavg)"

    for n in $clist; do
        sse_load_first=""
        ratios=()
        for r in $(seq 1 "$rounds"); do
            # The order alternates each round: Flagyard first in odd rounds, the bare broadcaster in even ones.
            if ((r % 2 == 1)); then order="flagyard bare"; else order="bare flagyard"; fi
            for who in $order; do
                if [[ $who == bare ]]; then
                    sse_run bare "$bare_base" "$bare_pid" "$n" || { failed=1; continue; }
                    p99_bare="$(value p99_ms "$line")"
                    continue
                fi
                sse_run "$backend" "$base" "$server_pid" "$n" || { failed=1; continue; }
                p99_flagyard="$(value p99_ms "$line")"
                sse_rows "$backend" "$n" "$line" "$r"
            done
            if [[ -n ${p99_bare:-} && -n ${p99_flagyard:-} ]]; then
                ratios+=("$(awk -v f="$p99_flagyard" -v b="$p99_bare" 'BEGIN {printf "%.2f", (b > 0) ? f / b : 0}')")
                log "$backend: round $r, $n streams: p99 Flagyard $p99_flagyard ms, bare $p99_bare ms: ${ratios[-1]}x"
            fi
            p99_bare=""; p99_flagyard=""
        done
        if ((${#ratios[@]} > 0)); then
            local med lo hi
            read -r med lo hi < <(printf '%s\n' "${ratios[@]}" | sort -g | awk '{v[NR] = $1} END {
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %s %s\n", m, v[1], v[NR]}')
            row "$backend" "p99 vs bare, $n streams" \
                "median ${med}x (range ${lo}-${hi}x) over ${#ratios[@]} rounds: ${ratios[*]}" \
                "<=1.3x" "$(awk -v m="$med" -v n="${#ratios[@]}" -v r="$rounds" 'BEGIN {print (m <= 1.3 && n == r) ? "PASS" : "FAIL"}')" \
                "$sse_load_first -> $(loadavg)"
        fi
    done

    if [[ $with_ofrep == 1 ]]; then
        rc=0
        log "$backend: ofrep vs healthz (load: $(loadavg); busy: $(busy))"
        run_load 300 ofrep --base "$base" --sdk-key "$sdk_key" --flag "$flag" --concurrency 32 \
            --duration-secs "$ofrep_secs" --rounds 2 --server-pid "$server_pid" || rc=$?
        out="$(cat "$work/load.out")"
        printf '%s\n' "$out" | sed "s/^/[$backend] /" >&2
        line="$(grep '^summary bench=ofrep-vs-healthz ' <<<"$out" || true)"
        if [[ -z "$line" || $rc != 0 ]]; then
            log "$backend: ofrep failed (exit $rc)"
            row "$backend" "OFREP vs healthz" "FAILED (exit $rc)" "-" "FAIL" "$(loadavg)"
            failed=1
        else
            local ratio phases
            ratio="$(value ratio "$line")"
            phases="$(grep '^summary bench=\(ofrep\|healthz\) ' <<<"$out" | while read -r l; do
                printf '%s %s/s p50 %s p99 %s ms; ' "$(value bench "$l")" "$(value rps "$l")" "$(value p50_ms "$l")" "$(value p99_ms "$l")"
            done)"
            row "$backend" "OFREP / healthz, 32 conns" \
                "OFREP $(value ofrep_rps "$line")/s, healthz $(value healthz_rps "$line")/s: $(awk -v r="$ratio" 'BEGIN {printf "%.1f", r * 100}')% (rounds $(value round_ratios "$line")); server CPU/req $(value ofrep_server_us "$line") vs $(value healthz_server_us "$line") us" \
                ">=50%" "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.5) ? "PASS" : "FAIL"}')" \
                "$(grep '^summary bench=ofrep ' <<<"$out" | head -1 | sed 's/.*load_before=\([^ ]*\).*/\1/' | tr / ' ') -> $(loadavg)"
            log "$backend: phases: $phases"
        fi
    fi

    if ! kill -0 "$server_pid" 2>/dev/null; then
        log "$backend: the server died during the benchmarks; its log:"
        tail -n 20 "$work/server-$backend.log" >&2
        row "$backend" "server died during load" "-" "-" "FAIL" "$(loadavg)"
        wait "$server_pid" || true
        server_pid=""
        return 1
    fi
    log "$backend: stopping (SIGTERM)"
    kill -TERM "$server_pid"
    for _ in $(seq 1 150); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$server_pid" 2>/dev/null && { log "$backend: still running 15 s after SIGTERM; killing"; kill -KILL "$server_pid"; }
    rc=0
    wait "$server_pid" || rc=$?
    server_pid=""
    row "$backend" "exit after SIGTERM" "status $rc" "0" "$([[ $rc == 0 ]] && echo PASS || echo FAIL)" "$(loadavg)"
    if [[ $rc != 0 ]]; then
        failed=1
        tail -n 20 "$work/server-$backend.log" >&2
    fi
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# A summary row for a backend that was not run.
skipped() { row "$1" "$2" - - - "$(loadavg)"; }
# `bench BACKEND DATABASE_URL` (for each_backend): SQLite with its client counts and OFREP, Postgres with its own.
bench() {
    if [[ $1 == sqlite ]]; then bench_with "$1" "$2" "$clients_list" 1; else bench_with "$1" "$2" "$pg_clients_list" 0; fi
}
each_backend

# SDK getters against the bare engine (criterion medians from its estimates).
if [[ "${BENCH_SKIP_GETTERS:-}" != 1 ]]; then
    log "sdk getters: cargo bench -p flagyard --bench getters (load: $(loadavg); busy: $(busy))"
    load_before="$(loadavg)"
    marker="$work/getters.start"
    touch "$marker"
    rc=0
    (cd "$root" && timeout 1200 cargo bench -p flagyard --bench getters) >"$work/getters.out" 2>&1 || rc=$?
    sed 's/^/[getters] /' "$work/getters.out" | grep -E 'time:|getters/' >&2 || true
    crit="$target_dir/criterion/getters"
    median() {
        local f="$crit/$1/new/estimates.json"
        if [[ -f $f && $f -nt $marker ]]; then jq -r '.median.point_estimate' "$f"; else echo ""; fi
    }
    if [[ $rc != 0 ]]; then
        log "getters benchmark failed (exit $rc)"; tail -n 20 "$work/getters.out" >&2
        row sdk "getters" "FAILED (exit $rc)" "-" "FAIL" "$(loadavg)"
        failed=1
    else
        for case in canary_ENGINE_fixed canary_ENGINE_cycling plain_ENGINE_fixed plain_ENGINE_cycling; do
            e="$(median "${case/ENGINE/engine}")"; g="$(median "${case/ENGINE/bool_value}")"
            label="${case/_ENGINE_/ }"
            if [[ -z $e || -z $g ]]; then
                row sdk "getter/engine, $label" "no estimate" "<=1.5x" "FAIL" "$load_before -> $(loadavg)"
                failed=1
                continue
            fi
            ratio="$(awk -v g="$g" -v e="$e" 'BEGIN {printf "%.2f", g / e}')"
            row sdk "getter/engine, $label" \
                "bool_value $(awk -v v="$g" 'BEGIN {printf "%.2f", v}') ns, engine $(awk -v v="$e" 'BEGIN {printf "%.2f", v}') ns (medians): ${ratio}x" \
                "<=1.5x" "$(awk -v r="$ratio" 'BEGIN {print (r <= 1.5) ? "PASS" : "FAIL"}')" "$load_before -> $(loadavg)"
        done
        n="$(median plain_bool_value_no_events_fixed)"; c="$(median canary_bool_value_no_events_fixed)"
        [[ -n $n && -n $c ]] && row sdk "getter, events off (fixed)" \
            "canary $(awk -v v="$c" 'BEGIN {printf "%.2f", v}') ns, plain $(awk -v v="$n" 'BEGIN {printf "%.2f", v}') ns" "-" "-" "$(loadavg)"
    fi
fi

echo
echo "Flagyard live-update benchmarks, $started to $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, open files $(ulimit -n)"
echo "tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(
    [[ -n "$(git -C "$root" status --porcelain -- server sdk 2>/dev/null)" ]] && echo ' + uncommitted changes in server/ or sdk/')"
{
    printf 'backend\tmeasure\tfigure\ttarget\tresult\tload avg (1/5/15 min)\n'
    printf '%s\n' "${rows[@]}"
} | awk -F'\t' '{printf "%-8s| %-27s| %s | %s | %s | %s\n", $1, $2, $3, $4, $5, $6}'
exit "$failed"
