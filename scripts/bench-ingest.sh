#!/usr/bin/env bash
# Event-ingest benchmark: sustained POST /sdk/v1/events throughput in
# batches of 500 on SQLite and on Postgres, an exact check of what was
# stored, and the latency of an experiment's results over 1,000,000 exposed
# units and 3 metrics. See docs/benchmarks.md and `flagyard-load --help`.
#
#   scripts/bench-ingest.sh
#
# Builds `flagyard` and `flagyard-load` in release, then for each backend:
# starts the server on a free port of 127.0.0.1 with a fresh database and
# FLAGYARD_LOG=warn, waits for /readyz, creates an SDK key of `production`
# through the admin API, records the RSS, and runs
#   flagyard-load ingest --units 1000000 --batch 500 --concurrency 8 --results-requests 50 \
#       --max-secs 300 --timeout-secs 60
# which creates the flag `ingest-bench` (50/50 split), three metrics and a
# started experiment, sends every unit's exposure and track events
# (2,199,999 events for 1,000,000 units) in batches of 500 over 8 keep-alive
# connections (8 lanes of 125,000 units, each sending its batches in order,
# one at a time, like an SDK), checks the event counts and the experiment's per-variant
# units, n, Σx and Σx² exactly against the values computed locally, and
# times 50 sequential GETs of the results. No batch is started after
# --max-secs; the check then covers exactly the batches sent (the table says
# PARTIAL). The load tool prints its progress (events/s over each 10 s) to
# stderr. The busy processes are sampled 5 s into the run (server vs load
# tool CPU). Then it stops the server with
# SIGTERM (it must exit 0) and prints a table with the targets
# (>= 100,000 events/s; results < 50 ms) and load averages. Everything it
# starts or creates is removed on exit (trap), also on failure or Ctrl-C.
#
# SQLite: a fresh temporary directory. Postgres: a fresh database on the
# local server (psql -h 127.0.0.1 -U postgres), dropped at the end; skipped
# with a message when that server is unreachable.
#
# Optional environment:
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_UNITS=1000000                exposed units (events = 2.2 x units)
#   BENCH_BATCH=500                    events per batch
#   BENCH_CONCURRENCY=8                sending connections
#   BENCH_RESULTS_REQUESTS=50          timed GETs of the results
#   BENCH_MAX_SECS=300                 sending phase limit per backend
#   FLAGYARD_INGEST_QUEUE_EVENTS       passed to the server if set (its default, 200,000, is far above
#                                      the 8 x 500 events in flight)
#   BENCH_GUARDED=1                    measure through a guarded ramp on the rule (its own experiment
#                                      with the three metrics as guardrails, evaluated after every ingest
#                                      transaction) instead of a plain experiment (`flagyard-load ingest
#                                      --guarded`); compare with a run without it
#   BENCH_SKIP_BUILD=1                 use the binaries already built
#   BENCH_PG_HOST / BENCH_PG_PORT / BENCH_PG_USER   (127.0.0.1 / 5432 / postgres)
#   BENCH_PG_PARAMS                    query string appended to the server's Postgres URL, e.g.
#                                      'options=-c%20log_min_duration_statement%3D0' to have Postgres log
#                                      every statement's duration (in the Postgres server's log)
#
# Bounded: every step has a timeout (the load tool BENCH_MAX_SECS + 5
# minutes per backend); about 1 minute per backend at 100,000 events/s. Exit status 0 when every
# run completed, also when a target was missed or the check found a
# mismatch (both are reported in the table, and the check's mismatches in
# the log; "reorder" marks mismatches that fit the documented loss of track
# events reaching the server before their unit's exposure, which a unit
# split over two batches in flight at once can meet); non-zero when a run failed (setup, server death, exit status
# after SIGTERM).
set -euo pipefail

if [[ $# -gt 0 ]]; then
    # The comment above is the documentation.
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    [[ $1 == -h || $1 == --help ]] && exit 0
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backends="${BENCH_BACKENDS:-sqlite postgres}"
units="${BENCH_UNITS:-1000000}"
batch="${BENCH_BATCH:-500}"
concurrency="${BENCH_CONCURRENCY:-8}"
results_requests="${BENCH_RESULTS_REQUESTS:-50}"
max_secs="${BENCH_MAX_SECS:-300}"
bench_tag=ingest
# shellcheck source=scripts/bench-common.sh
source "$root/scripts/bench-common.sh"
# `admin METHOD PATH [JSON]`: an admin API call; prints the body, fails on a non-2xx status.
admin() {
    curl -fsS --max-time 10 -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$base$2"
}

if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
    log "building (release): flagyard, flagyard-load"
    (cd "$root" && timeout 1800 cargo build --release -p flagyard-server -p flagyard-load)
fi
server_bin="$target_dir/release/flagyard"
load_bin="$target_dir/release/flagyard-load"
[[ -x "$server_bin" && -x "$load_bin" ]] || { log "missing $server_bin or $load_bin"; exit 1; }

rows=()   # summary rows, tab-separated
failed=0
sampler_pid=""

# `bench BACKEND DATABASE_URL`
bench() {
    local backend="$1" url="$2" sdk_key rss_idle rc out line
    start_server "$backend" "$url" || return 1
    sdk_key="$(admin POST /api/v1/environments/production/sdk-keys '{"name": "bench"}' | jq -r .secret)"
    [[ -n "$sdk_key" && "$sdk_key" != null ]] || { log "$backend: no SDK key"; return 1; }
    rss_idle="$(rss_kib "$server_pid")"
    log "$backend: RSS before ${rss_idle} KiB; ingest, $units units (load: $(loadavg); busy: $(busy))"

    # Who uses the CPU during the run (sampled once, 5 s in).
    (sleep 5; busy) >"$work/busy-$backend" 2>/dev/null &
    sampler_pid=$!
    rc=0
    run_load $((max_secs + 300)) ingest --base "$base" --token "$token" --sdk-key "$sdk_key" --env production \
        --units "$units" --batch "$batch" --concurrency "$concurrency" --results-requests "$results_requests" \
        --max-secs "$max_secs" --timeout-secs 60 --server-pid "$server_pid" ${BENCH_GUARDED:+--guarded} || rc=$?
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
    out="$(cat "$work/load.out")"
    printf '%s\n' "$out" | sed "s/^/[$backend] /" >&2
    line="$(grep '^summary bench=ingest ' <<<"$out" || true)"
    local busy_mid
    busy_mid="$(cat "$work/busy-$backend" 2>/dev/null || true)"
    log "$backend: busy 5 s into the run: ${busy_mid:-nothing >= 5%}"
    if [[ -z "$line" ]]; then
        log "$backend: ingest failed (exit $rc)"
        rows+=("$backend	FAILED (exit $rc)	-	-	-	-	-	-	$(loadavg)	${busy_mid:--}")
        failed=1
    else
        local eps verified r50 r99 rmax rss_after tput_verdict res_verdict
        eps="$(value events_per_s "$line")"
        verified="$(value verified "$line")"
        r50="$(value results_p50_ms "$line")"; r99="$(value results_p99_ms "$line")"; rmax="$(value results_max_ms "$line")"
        rss_after="$(value server_rss_kib "$line")"
        tput_verdict="$(awk -v r="$eps" 'BEGIN {print (r >= 100000) ? "PASS" : "FAIL"}')"
        res_verdict="$(awk -v p="$r99" 'BEGIN {print (p < 50) ? "PASS" : "FAIL"}')"
        [[ $(value results_errors "$line") == 0 ]] || res_verdict="FAIL (errors)"
        local partial=""
        [[ $(value complete "$line") == yes ]] || partial=" PARTIAL"
        rows+=("$backend	$(value events_ok "$line")/$(value events "$line")$partial in $(value elapsed_s "$line") s	$eps $tput_verdict	$(value p50_ms "$line") / $(value p99_ms "$line") / $(value max_ms "$line")	$(value retries "$line") / $(value errors "$line") / $(value transport_errors "$line")	$verified$([[ $verified == yes ]] || echo " ($(value mismatches "$line")$([[ $(value fits_reorder "$line") == yes ]] && echo ', reorder'))")	$r50 / $r99 / $rmax $res_verdict	$(mib "$rss_after") MiB; CPU server $(value server_cpu_s "$line") s, client $(value client_cpu_s "$line") s	$(value load_before "$line" | tr / ' ') -> $(value load_after "$line" | tr / ' ')	${busy_mid:--}")
    fi

    if ! kill -0 "$server_pid" 2>/dev/null; then
        log "$backend: the server died during the benchmark; its log:"
        tail -n 20 "$work/server-$backend.log" >&2
        rows+=("$backend	server died	-	-	-	-	-	-	$(loadavg)	-")
        wait "$server_pid" || true
        server_pid=""
        return 1
    fi
    if [[ -n "${BENCH_GUARDED:-}" ]]; then
        # How often the guardrail task evaluated the ramp during the run.
        log "$backend: guarded ramp: $(curl -fsS --max-time 10 "$base/metrics" | grep -E '^flagyard_guard_(evaluations_total|seconds_(sum|count))' | tr '\n' ' ' || echo 'no guardrail evaluation counted')"
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
    if [[ $rc != 0 ]]; then
        log "$backend: exit status $rc after SIGTERM"
        rows+=("$backend	exit status $rc after SIGTERM	-	-	-	-	-	-	$(loadavg)	-")
        failed=1
        tail -n 20 "$work/server-$backend.log" >&2
    fi
    if grep -q '"level":"ERROR"' "$work/server-$backend.log" 2>/dev/null; then
        log "$backend: errors in the server log:"
        grep '"level":"ERROR"' "$work/server-$backend.log" | tail -n 5 >&2
    fi
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# A summary row for a backend that was not run.
skipped() { rows+=("$1	$2	-	-	-	-	-	-	$(loadavg)	-"); }
each_backend

echo
echo "Flagyard ingest benchmark, $started to $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores;" \
    "$units units, batches of $batch, $concurrency connections, $results_requests results GETs"
echo "tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(
    [[ -n "$(git -C "$root" status --porcelain -- server migrations 2>/dev/null)" ]] && echo ' + uncommitted changes in server/')"
{
    printf 'backend\tevents accepted/sent\tevents/s (>=100000)\tbatch p50/p99/max ms\tretries/errors/transport\tverified\tresults p50/p99/max ms (<50)\tserver RSS after; CPU\tload avg before -> after\tbusy 5 s in\n'
    printf '%s\n' "${rows[@]}"
} | awk -F'\t' '{printf "%-9s| %-37s| %-20s| %-32s| %-25s| %-18s| %-30s| %-44s| %-34s| %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}'
exit "$failed"
