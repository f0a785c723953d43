#!/usr/bin/env bash
# Server benchmarks: update throughput/latency, 1,000-flag list latency and
# RSS, on SQLite and on Postgres. See docs/benchmarks.md ("Server").
#
#   scripts/bench-server.sh
#
# Builds `flagyard` and `flagyard-load` in release, then for each backend:
# starts the server on a free port of 127.0.0.1 with a fresh database,
# waits for /readyz, records the idle RSS (VmRSS) at start and after a
# settle, runs `flagyard-load updates` (32 writers, 10 s) and
# `flagyard-load reads` (1,000 flags, 8 readers, 10 s), records the RSS
# after load, stops the server with SIGTERM (it must exit 0), and prints a
# summary table with the targets. Everything it starts or creates is
# removed on exit (trap), also on failure or Ctrl-C.
#
# SQLite: a fresh temporary directory. Postgres: a fresh database on the
# local server (psql -h 127.0.0.1 -U postgres), dropped at the end; skipped
# with a message when that server is unreachable.
#
# Optional environment:
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_SKIP_BUILD=1                 use the binaries already built
#   BENCH_PG_HOST / BENCH_PG_PORT / BENCH_PG_USER   (127.0.0.1 / 5432 / postgres)
#
# Bounded: every step has a timeout; the benchmarks take about 30 s per
# backend after the build (1 minute for both). Exit status 0 when every run completed (a missed
# target is reported, not an error), non-zero when a run failed.
set -euo pipefail

if [[ $# -gt 0 ]]; then
    # The comment above is the documentation.
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    [[ $1 == -h || $1 == --help ]] && exit 0
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backends="${BENCH_BACKENDS:-sqlite postgres}"
bench_tag=bench
# shellcheck source=scripts/bench-common.sh
source "$root/scripts/bench-common.sh"

if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
    log "building (release): flagyard, flagyard-load"
    (cd "$root" && timeout 1800 cargo build --release -p flagyard-server -p flagyard-load)
fi
server_bin="$target_dir/release/flagyard"
load_bin="$target_dir/release/flagyard-load"
[[ -x "$server_bin" && -x "$load_bin" ]] || { log "missing $server_bin or $load_bin"; exit 1; }

rows=()   # summary rows, tab-separated
failed=0

# `bench BACKEND DATABASE_URL`
bench() {
    local backend="$1" url="$2" rss_start rss_idle rss_after rc out line
    start_server "$backend" "$url" || return 1
    rss_start="$(rss_kib "$server_pid")"
    sleep "$settle_secs"
    rss_idle="$(rss_kib "$server_pid")"
    log "$backend: idle RSS ${rss_start} KiB at start, ${rss_idle} KiB after ${settle_secs} s"
    rows+=("$backend	idle RSS (start / +${settle_secs}s)	$((rss_start / 1024)).$(((rss_start % 1024) * 10 / 1024)) / $((rss_idle / 1024)).$(((rss_idle % 1024) * 10 / 1024)) MiB	< 30 MiB	$([[ $rss_idle -lt 30720 && $rss_start -lt 30720 ]] && echo PASS || echo FAIL)	$(loadavg)")

    for kind in updates reads; do
        rc=0
        log "$backend: $kind (load: $(loadavg); busy: $(busy))"
        if [[ $kind == updates ]]; then
            run_load 120 updates --base "$base" --token "$token" --writers 32 --duration-secs 10 --env production || rc=$?
        else
            run_load 120 reads --base "$base" --token "$token" --flags 1000 --concurrency 8 --duration-secs 10 || rc=$?
        fi
        out="$(cat "$work/load.out")"
        printf '%s\n' "$out" | sed "s/^/[$backend] /" >&2
        line="$(grep '^summary ' <<<"$out" || true)"
        if [[ -z "$line" ]]; then
            log "$backend: $kind failed (exit $rc)"
            failed=1
            continue
        fi
        local rps p50 p90 p99 max non2xx errs verdict target measure
        rps="$(value rps "$line")"; p50="$(value p50_ms "$line")"; p90="$(value p90_ms "$line")"
        p99="$(value p99_ms "$line")"; max="$(value max_ms "$line")"; non2xx="$(value non_2xx "$line")"
        errs="$(value transport_errors "$line")"
        if [[ $kind == updates ]]; then
            measure="updates, 32 writers"
            target=">=1000/s, p99<25ms"
            verdict="$(awk -v r="$rps" -v p="$p99" 'BEGIN {print (r >= 1000 && p < 25) ? "PASS" : "FAIL"}')"
        else
            measure="reads, 1000-flag list"
            target="p99<10ms"
            verdict="$(awk -v p="$p99" 'BEGIN {print (p < 10) ? "PASS" : "FAIL"}')"
            [[ $rc == 3 ]] && verdict="FAIL (wrong item count)"
        fi
        rows+=("$backend	$measure	${rps}/s; p50 ${p50}, p90 ${p90}, p99 ${p99}, max ${max} ms; non-2xx ${non2xx}, errors ${errs}	$target	$verdict	$(value load_after "$line" | tr / ' ')")
    done

    if ! kill -0 "$server_pid" 2>/dev/null; then
        log "$backend: the server died during the benchmarks; its log:"
        tail -n 20 "$work/server-$backend.log" >&2
        rows+=("$backend	server died during load	-	-	FAIL	$(loadavg)")
        wait "$server_pid" || true
        server_pid=""
        return 1
    fi
    rss_after="$(rss_kib "$server_pid")"
    rows+=("$backend	RSS after load	$((rss_after / 1024)).$(((rss_after % 1024) * 10 / 1024)) MiB	-	-	$(loadavg)")
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
    rows+=("$backend	exit after SIGTERM	status $rc	0	$([[ $rc == 0 ]] && echo PASS || echo FAIL)	$(loadavg)")
    if [[ $rc != 0 ]]; then
        failed=1
        tail -n 20 "$work/server-$backend.log" >&2
    fi
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# A summary row for a backend that was not run.
skipped() { rows+=("$1	$2	-	-	-	$(loadavg)"); }
each_backend

echo
echo "Flagyard server benchmarks, $started to $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
echo "tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(
    [[ -n "$(git -C "$root" status --porcelain -- server migrations 2>/dev/null)" ]] && echo ' + uncommitted changes in server/')"
{
    printf 'backend\tmeasure\tfigure\ttarget\tresult\tload avg (1/5/15 min)\n'
    printf '%s\n' "${rows[@]}"
} | awk -F'\t' '{printf "%-9s| %-26s| %-90s| %-19s| %-6s| %s\n", $1, $2, $3, $4, $5, $6}'
exit "$failed"
