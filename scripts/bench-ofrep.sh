#!/usr/bin/env bash
# OFREP throughput with wrk: Flagyard's single-flag and bulk evaluation as a
# share of a bare axum handler, alternated in the same window.
#
#     scripts/bench-ofrep.sh
#
# Builds (release) `flagyard` and `flagyard-bare` (tools/load: a bare axum
# app whose handlers read the body and answer a fixed JSON of a real
# answer's size), starts Flagyard on a fresh SQLite database with the
# engine benchmark's three flags (sdk/eval/tests/common/fixtures.rs: a 25 %
# canary, three conditions then a 50/30/20 split at 50 % coverage, a plain
# flag) and an SDK key of `production`, starts flagyard-bare, and runs
# BENCH_ROUNDS rounds of three wrk phases:
#     bare     POST /ofrep/v1/evaluate/flags/plain on flagyard-bare
#     single   POST /ofrep/v1/evaluate/flags/$BENCH_FLAG on Flagyard (default: plain)
#     bulk     POST /ofrep/v1/evaluate/flags on Flagyard (all three flags)
# each `wrk -t2 -c64 -d${BENCH_SECS}s` with a Lua script that cycles the
# body through 1,024 contexts ({"context": {"targetingKey": "user-<i>",
# "country": "NL", "age": 31, "app_version": "1.4.2"}}) and sends the SDK key
# as Bearer. The phase order rotates each round (bare first, then single
# first, then bulk first, ...). Every phase must have 0 non-2xx answers and
# 0 socket errors. Per phase: requests/s and the server's CPU time per
# request (utime + stime from /proc/<pid>/stat over the phase / requests).
# Prints each round's figures and shares (single/bare, bulk/bare), their
# median and range, the load averages, the commit and the command; the
# targets of issue 13 are checked on the medians.
#
# Optional environment:
#   BENCH_ROUNDS=5      rounds (at least 5 for a reported figure)
#   BENCH_SECS=10       length of each wrk phase
#   BENCH_FLAG=plain    the single-flag phase's flag (canary, experiment, plain)
#   BENCH_SKIP_BUILD=1  use the binaries already built
#   BENCH_EDGE=PATH     also run Unleash Edge (the `unleash-edge` binary at
#                       PATH) offline as a peer: a fourth phase per round,
#                       POST /api/frontend/features/plain (its single-flag
#                       remote evaluation; Edge 20.1.0 has no OFREP) with the
#                       same contexts, on a bootstrap file holding the same
#                       plain flag (enabled, default strategy). Build it once,
#                       ~12 minutes on 2 cores:
#                         cargo install unleash-edge --version 20.1.0 --locked \
#                             --no-default-features --root <scratch>
#                       and pass <scratch>/bin/unleash-edge. Prints the
#                       single/edge ratio per round (issue 13: >= 3x).
#
# Needs wrk (Debian package `wrk`), curl and jq. About 3 x BENCH_SECS x
# BENCH_ROUNDS plus 10 s. Exit status 0 when every phase ran clean (a missed
# target is reported, not an error).
set -euo pipefail

if [[ $# -gt 0 ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    [[ $1 == -h || $1 == --help ]] && exit 0
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${BENCH_ROUNDS:-5}"
secs="${BENCH_SECS:-10}"
flag="${BENCH_FLAG:-plain}"
bench_tag=ofrep
# shellcheck source=scripts/bench-common.sh
source "$root/scripts/bench-common.sh"
command -v wrk >/dev/null || { log "wrk is missing (apt-get install wrk)"; exit 1; }
admin() {
    curl -fsS --max-time 10 -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$base$2"
}

if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
    log "building (release): flagyard, flagyard-bare"
    (cd "$root" && timeout 1800 cargo build --release -p flagyard-server -p flagyard-load)
fi
server_bin="$target_dir/release/flagyard"
bare_bin="$target_dir/release/flagyard-bare"
[[ -x "$server_bin" && -x "$bare_bin" ]] || { log "missing $server_bin or $bare_bin"; exit 1; }

mkdir -p "$work/sqlite"
start_server sqlite "sqlite://$work/sqlite/flagyard.db"
boolean='[{"key": "on", "value": true}, {"key": "off", "value": false}]'
for key in canary plain; do
    admin POST /api/v1/flags "{\"key\": \"$key\", \"type\": \"boolean\", \"variants\": $boolean}" >/dev/null
done
admin POST /api/v1/flags '{"key": "experiment", "type": "string", "variants": [{"key": "control", "value": "control"},
    {"key": "blue", "value": "blue"}, {"key": "green", "value": "green"}]}' >/dev/null
admin PUT /api/v1/flags/canary/environments/production '{"enabled": true, "offVariant": "off", "defaultVariant": "off",
    "rules": [{"id": "canary-25", "serve": {"split": {"variants": [{"variant": "on", "weight": 2500},
    {"variant": "off", "weight": 7500}]}}}]}' >/dev/null
admin PUT /api/v1/flags/experiment/environments/production '{"enabled": true, "offVariant": "control",
    "defaultVariant": "control", "rules": [{"id": "targeted-split", "conditions": [
    {"attribute": "country", "op": "in", "values": ["US", "CA", "GB", "DE", "FR", "NL", "SE", "NO", "DK", "FI"]},
    {"attribute": "age", "op": "gt", "values": [18]}, {"attribute": "app_version", "op": "semver_gt", "values": ["1.2.0"]}],
    "serve": {"split": {"variants": [{"variant": "control", "weight": 5000}, {"variant": "blue", "weight": 3000},
    {"variant": "green", "weight": 2000}], "coverage": 5000}}}]}' >/dev/null
admin PUT /api/v1/flags/plain/environments/production \
    '{"enabled": true, "offVariant": "off", "defaultVariant": "on"}' >/dev/null
sdk_key="$(admin POST /api/v1/environments/production/sdk-keys '{"name": "bench-ofrep"}' | jq -r .secret)"
[[ -n "$sdk_key" && "$sdk_key" != null ]] || { log "no SDK key"; exit 1; }

start_bare "$bare_bin"

edge_base=""
edge_token="*:production.bench-ofrep-edge"
if [[ -n "${BENCH_EDGE:-}" ]]; then
    [[ -x "$BENCH_EDGE" ]] || { log "BENCH_EDGE=$BENCH_EDGE is not an executable"; exit 1; }
    cat >"$work/edge-features.json" <<'JSON'
{"version": 2, "features": [{"name": "plain", "type": "release", "project": "default", "enabled": true,
  "stale": false, "impressionData": false, "strategies": [{"name": "default", "parameters": {}, "constraints": []}],
  "variants": []}]}
JSON
    edge_port="$(free_port)"
    RUST_LOG=error "$BENCH_EDGE" -p "$edge_port" -i 127.0.0.1 offline -b "$work/edge-features.json" \
        -c "$edge_token" -f "$edge_token" >"$work/edge.out" 2>&1 &
    peer_pid=$!
    edge_base="http://127.0.0.1:$edge_port"
    for _ in $(seq 1 100); do
        curl -fsS --max-time 1 -o /dev/null "$edge_base/internal-backstage/health" 2>/dev/null && break
        sleep 0.1
    done
    answer="$(curl -fsS --max-time 5 -H "Authorization: $edge_token" -H 'Content-Type: application/json' \
        --data '{"userId": "user-1", "properties": {"country": "NL", "age": "31", "app_version": "1.4.2"}}' \
        "$edge_base/api/frontend/features/plain")" || { log "Unleash Edge did not answer"; cat "$work/edge.out" >&2; exit 1; }
    jq -e '.enabled == true' <<<"$answer" >/dev/null || { log "Edge's plain flag is not on: $answer"; exit 1; }
fi

# Each answer is checked once before timing.
ctx='{"context": {"targetingKey": "user-1", "country": "NL", "age": 31, "app_version": "1.4.2"}}'
check() { curl -fsS --max-time 5 -H "Authorization: Bearer $sdk_key" -H 'Content-Type: application/json' --data "$ctx" "$1"; }
check "$base/ofrep/v1/evaluate/flags/$flag" | jq -e 'has("value")' >/dev/null || { log "single answer has no value"; exit 1; }
check "$base/ofrep/v1/evaluate/flags" | jq -e '.flags | length == 3' >/dev/null || { log "bulk answer lacks flags"; exit 1; }
check "$bare_base/ofrep/v1/evaluate/flags/plain" | jq -e 'has("value")' >/dev/null || { log "bare answer has no value"; exit 1; }

# POST to FY_PATH with `Authorization: FY_AUTH`, the body cycling through
# 1,024 contexts (per wrk thread) written by the printf format FY_BODY.
cat >"$work/post.lua" <<'LUA'
local path = os.getenv("FY_PATH")
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = os.getenv("FY_AUTH") }
local bodies = {}
for i = 0, 1023 do
  bodies[i + 1] = string.format(os.getenv("FY_BODY"), i)
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", path, headers, bodies[(n % 1024) + 1])
end
LUA
ofrep_body='{"context":{"targetingKey":"user-%d","country":"NL","age":31,"app_version":"1.4.2"}}'
# Unleash Edge's frontend API: the token as is, the context in its own shape.
edge_body='{"userId":"user-%d","properties":{"country":"NL","age":"31","app_version":"1.4.2"}}'

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk="$(getconf CLK_TCK)"
results="$work/results.tsv"   # round, phase, req/s, CPU us/req, load average
: >"$results"
# `phase ROUND NAME URL_BASE PATH PID`
phase() {
    local out t0 t1 reqs rps non2xx errors cpu
    local auth="Bearer $sdk_key" body="$ofrep_body"
    if [[ $3 == edge ]]; then auth="$edge_token" body="$edge_body"; fi
    t0="$(ticks "$6")"
    out="$(FY_PATH="$5" FY_AUTH="$auth" FY_BODY="$body" wrk -t2 -c64 -d"${secs}s" --timeout 5s -s "$work/post.lua" "$4" 2>&1)" ||
        { log "wrk failed: $out"; return 1; }
    t1="$(ticks "$6")"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    reqs="$(awk '/requests in/ {print $1}' <<<"$out")"
    non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
    errors="$(awk '/Socket errors:/ {s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s}' <<<"$out")"
    if [[ -n $non2xx && $non2xx != 0 ]] || [[ -n $errors && $errors != 0 ]]; then
        log "$3: $non2xx non-2xx answers, $errors socket errors"; printf '%s\n' "$out" >&2; return 1
    fi
    cpu="$(awk -v d="$((t1 - t0))" -v hz="$clk" -v n="$reqs" 'BEGIN {printf "%.1f", d / hz * 1e6 / n}')"
    log "round $1 $3: $rps req/s, server CPU $cpu us/req (load $(loadavg))"
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$3" "$rps" "$cpu" "$(loadavg)" >>"$results"
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_start="$(loadavg)"
phases=(bare single bulk)
[[ -z $edge_base ]] || phases+=(edge)
n_phases=${#phases[@]}
for r in $(seq 1 "$rounds"); do
    for k in $(seq 0 $((n_phases - 1))); do
        p="${phases[$(((r - 1 + k) % n_phases))]}"
        case "$p" in
        edge) phase "$r" "$p" edge "$edge_base" /api/frontend/features/plain "$peer_pid" ;;
        bare) phase "$r" "$p" bare "$bare_base" /ofrep/v1/evaluate/flags/plain "$bare_pid" ;;
        single) phase "$r" "$p" single "$base" "/ofrep/v1/evaluate/flags/$flag" "$server_pid" ;;
        bulk) phase "$r" "$p" bulk "$base" /ofrep/v1/evaluate/flags "$server_pid" ;;
        esac
    done
done

echo
echo "OFREP throughput, $started to $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load average $load_start -> $(loadavg)"
echo "tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(
    [[ -n "$(git -C "$root" status --porcelain -- server sdk 2>/dev/null)" ]] && echo ' + uncommitted changes in server/ or sdk/')"
echo "command: BENCH_ROUNDS=$rounds BENCH_SECS=$secs BENCH_FLAG=$flag${BENCH_EDGE:+ BENCH_EDGE=$BENCH_EDGE} scripts/bench-ofrep.sh (wrk -t2 -c64 -d${secs}s)"
echo
awk -F'\t' '
    { rps[$1, $2] = $3; cpu[$1, $2] = $4; if ($1 > n) n = $1; load[$1] = $5 }
    function median(a, m,   s) { asort(a, s); return (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2 }
    END {
        printf "%-5s | %-10s | %-10s | %-10s | %-8s | %-8s | %-22s | %s\n", "round", "bare/s", "single/s", "bulk/s", "single %", "bulk %", "CPU us/req b/s/bulk", "load average"
        for (r = 1; r <= n; r++) {
            s[r] = rps[r, "single"] / rps[r, "bare"] * 100; b[r] = rps[r, "bulk"] / rps[r, "bare"] * 100
            cb[r] = cpu[r, "bare"]; cs[r] = cpu[r, "single"]; ck[r] = cpu[r, "bulk"]
            printf "%-5d | %-10d | %-10d | %-10d | %-8.1f | %-8.1f | %-22s | %s\n", r, rps[r, "bare"], rps[r, "single"], rps[r, "bulk"], s[r], b[r], cpu[r, "bare"] " / " cpu[r, "single"] " / " cpu[r, "bulk"], load[r]
            smin = (r == 1 || s[r] < smin) ? s[r] : smin; smax = (r == 1 || s[r] > smax) ? s[r] : smax
            bmin = (r == 1 || b[r] < bmin) ? b[r] : bmin; bmax = (r == 1 || b[r] > bmax) ? b[r] : bmax
        }
        ms = median(s, n); mb = median(b, n); mcs = median(cs, n); mck = median(ck, n); mcb = median(cb, n)
        printf "\nsingle share of bare: median %.1f %% (range %.1f-%.1f); target >= 60 %%: %s\n", ms, smin, smax, ms >= 60 ? "PASS" : "FAIL"
        printf "bulk share of bare:   median %.1f %% (range %.1f-%.1f); target >= 50 %%: %s\n", mb, bmin, bmax, mb >= 50 ? "PASS" : "FAIL"
        printf "server CPU per request, medians: bare %.1f us, single %.1f us (target <= 20: %s), bulk %.1f us (target <= 25: %s)\n", mcb, mcs, mcs <= 20 ? "PASS" : "FAIL", mck, mck <= 25 ? "PASS" : "FAIL"
    }' "$results"
if [[ -n $edge_base ]]; then
    awk -F'\t' -v flag="$flag" '
        { rps[$1, $2] = $3; cpu[$1, $2] = $4; if ($1 > n) n = $1 }
        function median(a, m,   s) { asort(a, s); return (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2 }
        END {
            printf "\nUnleash Edge 20.1.0 offline, POST /api/frontend/features/plain, per round (req/s; Flagyard single / Edge):\n"
            for (r = 1; r <= n; r++) {
                x[r] = rps[r, "single"] / rps[r, "edge"]; c[r] = cpu[r, "edge"]
                printf "  round %d: edge %d req/s (CPU %s us/req), single %d req/s: %.2fx\n", r, rps[r, "edge"], cpu[r, "edge"], rps[r, "single"], x[r]
                lo = (r == 1 || x[r] < lo) ? x[r] : lo; hi = (r == 1 || x[r] > hi) ? x[r] : hi
            }
            m = median(x, n)
            printf "single (%s) / Edge: median %.2fx (range %.2f-%.2f); target >= 3x: %s; Edge CPU per request median %.1f us\n", flag, m, lo, hi, m >= 3 ? "PASS" : "FAIL", median(c, n)
        }' "$results"
fi
