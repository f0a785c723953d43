#!/usr/bin/env bash
# Soak run (issue 11; not in CI): mixed load against one release server for
# SOAK_SECS (default 3600) with the server's RSS sampled every 10 s.
#
#   scripts/soak.sh                 # one hour on SQLite
#   SOAK_SECS=600 scripts/soak.sh   # a shorter run
#   BENCH_BACKENDS=postgres scripts/soak.sh
#
# Load, all at once for the whole run:
#   flagyard-load sse     1,000 SDK streams; up to 1,000 flag changes spread
#                         over the run, each checked to reach every stream
#                         (no missed version)
#   flagyard-load ofrep   OFREP single-flag evaluations, 4 connections, in
#                         back-to-back phases of at most 600 s (1 M requests)
#   flagyard-load updates admin writes, 2 writers on their own flags, in
#                         back-to-back phases of at most 600 s
#   flagyard-load ingest  first, before the rest: events of 1,000,000 units
#                         (2.2 M events, in staging) in batches of 500 on 2
#                         connections, then an exact check of every counter
#                         and aggregate (VERIFY OK: every event counted)
# Streams and OFREP read production; the writers write staging (the stream
# tool checks that only its own changes reach the streams).
# Then: RSS samples (rss.csv in the printed work directory, kept), the RSS
# slope after a 5-minute warm-up (least squares, MiB per hour), and each
# tool's summary. Fails (exit 1) on any error answer, a missed version, a
# failed verification, or a server that did not stop cleanly on SIGTERM.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backends="${BENCH_BACKENDS:-sqlite}"
secs="${SOAK_SECS:-3600}"
warmup="${SOAK_WARMUP_SECS:-300}"
bench_tag=soak
# shellcheck source=scripts/bench-common.sh
source "$root/scripts/bench-common.sh"
trap - EXIT
keep="$(mktemp -d -t flagyard-soak-results.XXXXXX)"
trap cleanup EXIT

admin() {
    curl -fsS --max-time 10 -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "$base$2"
}

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    (cd "$root" && cargo build --release -p flagyard-server -p flagyard-load >&2)
fi
server_bin="$target_dir/release/flagyard"
load_bin="$target_dir/release/flagyard-load"
ulimit -n "$(ulimit -Hn)"
failed=0

# `repeat_for SECS OUT ARGS...`: flagyard-load ARGS --duration-secs (at most
# 600, at most what is left) again and again until SECS have passed,
# appending to OUT; fails if any phase failed or reported an error status.
repeat_for() {
    local secs="$1" out="$2" start left rc=0
    shift 2
    start=$(date +%s)
    : >"$out"
    while left=$(( secs - ($(date +%s) - start) )); (( left > 0 )); do
        timeout $(( (left < 600 ? left : 600) + 120 )) "$load_bin" "$@" \
            --duration-secs "$(( left < 600 ? left : 600 ))" >>"$out" 2>&1 || rc=1
    done
    return "$rc"
}

bench() {
    local backend="$1" url="$2" sdk_key staging_key pids=() rc=0 t0
    start_server "$backend" "$url" || return 1
    # Streams and OFREP read production; writes and ingest go to staging, so
    # that the stream tool sees only its own changes in production.
    sdk_key="$(admin POST /api/v1/environments/production/sdk-keys '{"name": "soak"}' | jq -r .secret)"
    staging_key="$(admin POST /api/v1/environments/staging/sdk-keys '{"name": "soak"}' | jq -r .secret)"
    admin POST /api/v1/flags '{"key": "soak", "type": "boolean"}' >/dev/null
    log "$backend: soak for ${secs}s (load: $(loadavg))"
    echo "seconds,rss_kib" >"$keep/rss-$backend.csv"
    t0=$(date +%s)
    ( while kill -0 "$server_pid" 2>/dev/null; do
          echo "$(( $(date +%s) - t0 )),$(rss_kib "$server_pid")" >>"$keep/rss-$backend.csv"
          sleep 10
      done ) &
    local sampler=$!
    # Ingest first (it creates a flag, which would show up in the streams as
    # versions the stream tool did not make), and the writers' flags.
    timeout 900 "$load_bin" ingest --base "$base" --token "$token" --sdk-key "$staging_key" --env staging \
        --units 1000000 --batch 500 --concurrency 2 --max-secs 600 >"$keep/ingest-$backend.out" 2>&1 || rc=1
    for i in 0 1 2 3 4 5 6 7; do admin POST /api/v1/flags "{\"key\": \"load-$i\", \"type\": \"boolean\"}" >/dev/null; done
    local changes=$(( secs / 4 < 1000 ? secs / 4 : 1000 ))
    local gap_ms=$(( secs * 1000 / changes - 200 ))
    timeout $((secs + 300)) "$load_bin" sse --base "$base" --token "$token" --sdk-key "$sdk_key" --flag soak \
        --clients 1000 --changes "$changes" --gap-ms "$gap_ms" --change-timeout-secs 10 >"$keep/sse-$backend.out" 2>&1 &
    pids+=($!)
    sleep 30
    repeat_for "$secs" "$keep/ofrep-$backend.out" ofrep --base "$base" --sdk-key "$sdk_key" --flag soak \
        --mode ofrep --concurrency 4 --rounds 1 --max-requests 1000000 &
    pids+=($!)
    repeat_for "$secs" "$keep/updates-$backend.out" updates --base "$base" --token "$token" --writers 2 \
        --env staging &
    pids+=($!)
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    kill -TERM "$server_pid"
    local stopped=0
    wait "$server_pid" && stopped=1 || true
    server_pid=""
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    [[ $stopped == 1 ]] || { log "$backend: the server did not exit 0 on SIGTERM"; rc=1; }
    for f in sse ofrep updates ingest; do
        log "$backend $f: $(grep -E '^summary|VERIFY|error' "$keep/$f-$backend.out" | tail -3 | tr '\n' ' ')"
    done
    grep -q "VERIFY OK" "$keep/ingest-$backend.out" || { log "$backend: ingest not verified exact"; rc=1; }
    awk -F, -v w="$warmup" 'NR > 1 && $1 >= w { n++; sx += $1; sy += $2; sxx += $1*$1; sxy += $1*$2 }
        END { if (n < 3) { print "too few samples after warm-up"; exit }
              slope = (n*sxy - sx*sy) / (n*sxx - sx*sx);
              printf "RSS after warm-up: %d samples, mean %.1f MiB, slope %.2f MiB/hour\n", n, sy/n/1024, slope*3600/1024 }' \
        "$keep/rss-$backend.csv" | while read -r line; do log "$backend: $line"; done
    return "$rc"
}

each_backend
log "results kept in $keep"
exit "$failed"
