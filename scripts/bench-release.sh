#!/usr/bin/env bash
# Releases (issue 14): applying a 100-flag release, and how fast its one
# patch reaches 1,000 SDK streams beside a single-flag patch.
#
#     scripts/bench-release.sh
#
# Builds `flagyard` and `flagyard-load` (release), then for each backend
# (BENCH_BACKENDS, default "sqlite postgres"; Postgres on a fresh database of
# the local server, skipped with a message when unreachable) starts the
# server and runs BENCH_ROUNDS rounds of two `flagyard-load sse` runs with
# 1,000 streams and BENCH_CHANGES changes each, alternating which goes first:
#     single   each change a PATCH of one flag (`live`)
#     release  each change a release of 100 flags (`live`, `live-1` ..
#              `live-99`), created untimed, then applied (POST
#              /api/v1/releases/{id}/apply, timed)
# Per round: the apply round trip (p50, p99 over the round's changes) and
# the propagation p99 (acknowledgement to every stream's receipt) of both,
# and release p99 / single p99. Targets (issue 14): apply p99 < 100 ms, and
# the release's propagation p99 within 1.5x of the single-flag patch's,
# checked on the medians of the rounds.
#
# Optional environment:
#   BENCH_ROUNDS=5       rounds (at least 5 for a reported figure)
#   BENCH_CHANGES=20     changes per run
#   BENCH_CLIENTS=1000   streams
#   BENCH_FLAGS=100      flags per release
#   BENCH_BACKENDS="sqlite postgres"
#   BENCH_SKIP_BUILD=1   use the binaries already built
#   BENCH_FULL_PATCHES=1 streams ask for whole flags in every patch (no
#                        `?patch=configs`), as SDKs before 2026-12-04 did
#
# Needs curl. About 2 x BENCH_ROUNDS x (connect + BENCH_CHANGES x ~0.2 s) per
# backend. Exit status 0 when every run completed (a missed target is
# reported, not an error).
set -euo pipefail

if [[ $# -gt 0 ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    [[ $1 == -h || $1 == --help ]] && exit 0
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${BENCH_ROUNDS:-5}"
changes="${BENCH_CHANGES:-20}"
clients="${BENCH_CLIENTS:-1000}"
flags="${BENCH_FLAGS:-100}"
backends="${BENCH_BACKENDS:-sqlite postgres}"
bench_tag=release
# shellcheck source=scripts/bench-common.sh
source "$root/scripts/bench-common.sh"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export FLAGYARD_MAX_CONNECTIONS=$((clients + 256))
if (($(ulimit -n) < clients + 256)); then
    log "the open-files limit is $(ulimit -n); $clients streams need $((clients + 256))"
    exit 1
fi
if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
    log "building (release): flagyard, flagyard-load"
    (cd "$root" && timeout 1800 cargo build --release -p flagyard-server -p flagyard-load --bins)
fi
server_bin="$target_dir/release/flagyard"
load_bin="$target_dir/release/flagyard-load"
[[ -x "$server_bin" && -x "$load_bin" ]] || { log "missing $server_bin or $load_bin"; exit 1; }

results="$work/results.tsv"   # backend, round, kind, apply p50, apply p99, propagation p99, load
: >"$results"
failed=0
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# `run BACKEND ROUND KIND`: one sse run, its figures appended to $results.
run() {
    local backend="$1" r="$2" kind="$3" release=0 line rc=0 full=()
    [[ $kind == single ]] || release="$flags"
    [[ "${BENCH_FULL_PATCHES:-}" != 1 ]] || full=(--full-patches)
    log "$backend round $r: $kind (load: $(loadavg))"
    run_load 900 sse --base "$base" --token "$token" --sdk-key "$sdk_key" --flag live --env production \
        --clients "$clients" --changes "$changes" --release "$release" "${full[@]}" --server-pid "$server_pid" || rc=$?
    line="$(grep '^summary bench=sse ' "$work/load.out" || true)"
    if [[ -z $line || $(value missed "$line") != 0 || $(value version_ok "$line") != true ]]; then
        log "$backend round $r $kind failed (exit $rc):"
        cat "$work/load.out" >&2
        return 1
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$r" "$kind" "$(value patch_p50_ms "$line")" \
        "$(value patch_p99_ms "$line")" "$(value p99_ms "$line")" "$(loadavg)" >>"$results"
}

bench() {
    local backend="$1" url="$2" r
    start_server "$backend" "$url" || return 1
    sdk_key="$(curl -fsS --max-time 10 -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data '{"name": "bench-release"}' "$base/api/v1/environments/production/sdk-keys" |
        sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')"
    [[ -n $sdk_key ]] || { log "no SDK key"; return 1; }
    for r in $(seq 1 "$rounds"); do
        if ((r % 2)); then
            run "$backend" "$r" single && run "$backend" "$r" release || return 1
        else
            run "$backend" "$r" release && run "$backend" "$r" single || return 1
        fi
    done
    kill -TERM "$server_pid" && wait "$server_pid" || true
    server_pid=""
}

each_backend

echo
echo "Releases of $flags flags, $started to $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
echo "tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(
    [[ -n "$(git -C "$root" status --porcelain -- server tools 2>/dev/null)" ]] && echo ' + uncommitted changes')"
echo "command: BENCH_ROUNDS=$rounds BENCH_CHANGES=$changes BENCH_CLIENTS=$clients BENCH_FLAGS=$flags BENCH_BACKENDS=\"$backends\" BENCH_FULL_PATCHES=${BENCH_FULL_PATCHES:-0} scripts/bench-release.sh"
echo
awk -F'\t' '
    { k = $1 SUBSEP $2; a50[k, $3] = $4; a99[k, $3] = $5; p99[k, $3] = $6; load[k] = $7; seen[$1]++; if ($2 > n[$1]) n[$1] = $2 }
    function median(a, m,   s) { asort(a, s); return (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2 }
    END {
        for (b in n) {
            printf "%s\n%-5s | %-26s | %-26s | %-22s | %-8s | %s\n", b, "round", "single: apply p50/p99 ms", "release: apply p50/p99 ms", "propagation p99 s/r ms", "ratio", "load average"
            delete x; delete ap
            for (r = 1; r <= n[b]; r++) {
                k = b SUBSEP r
                x[r] = p99[k, "release"] / p99[k, "single"]; ap[r] = a99[k, "release"]
                printf "%-5d | %-26s | %-26s | %-22s | %-8.2f | %s\n", r, a50[k, "single"] " / " a99[k, "single"], a50[k, "release"] " / " a99[k, "release"], p99[k, "single"] " / " p99[k, "release"], x[r], load[k]
                lo = (r == 1 || x[r] < lo) ? x[r] : lo; hi = (r == 1 || x[r] > hi) ? x[r] : hi
                alo = (r == 1 || ap[r] < alo) ? ap[r] : alo; ahi = (r == 1 || ap[r] > ahi) ? ap[r] : ahi
            }
            mx = median(x, n[b]); ma = median(ap, n[b])
            printf "%s: release apply p99, median of rounds %.1f ms (range %.1f-%.1f); target < 100 ms: %s\n", b, ma, alo, ahi, ma < 100 ? "PASS" : "FAIL"
            printf "%s: propagation p99 release / single, median %.2fx (range %.2f-%.2f); target <= 1.5x: %s\n\n", b, mx, lo, hi, mx <= 1.5 ? "PASS" : "FAIL"
        }
    }' "$results"
exit "$failed"
