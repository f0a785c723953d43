#!/usr/bin/env bash
# Web UI benchmark: how long each main page takes at the server with 1,000
# flags in the database, on SQLite and on Postgres. See docs/benchmarks.md
# ("Web UI").
#
#   scripts/bench-ui.sh
#
# Builds `flagyard` and `flagyard-load` in release, then for each backend:
# starts the server on a fresh database with a known admin password,
# creates 1,000 flags (`flagyard-load reads --flags 1000`, which also
# checks the API list), a segment, a metric, a running experiment with
# 2,000 exposed units and 92 days of daily results snapshots (written into
# the database) and 49 draft experiments (50 in all), logs in through the login form with curl (login CSRF
# cookie + field), and requests each page 3 times to warm up, then 30 times
# on one keep-alive connection, reading curl's time to first byte (the
# server's work: the page is rendered before the first byte is sent) and
# total time. Prints median and p99 per page; target: every page < 20 ms.
# Everything it starts or creates is removed on exit.
#
# Optional environment:
#   BENCH_BACKENDS="sqlite postgres"   which backends to run
#   BENCH_SKIP_BUILD=1                 use the binaries already built
#   BENCH_PG_HOST / BENCH_PG_PORT / BENCH_PG_USER   (127.0.0.1 / 5432 / postgres)
set -euo pipefail

if [[ $# -gt 0 ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    [[ $1 == -h || $1 == --help ]] && exit 0
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backends="${BENCH_BACKENDS:-sqlite postgres}"
bench_tag=ui
# shellcheck source=scripts/bench-common.sh
source "$root/scripts/bench-common.sh"

if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
    log "building (release): flagyard, flagyard-load"
    (cd "$root" && timeout 1800 cargo build --release -p flagyard-server -p flagyard-load)
fi
server_bin="$target_dir/release/flagyard"
load_bin="$target_dir/release/flagyard-load"
[[ -x "$server_bin" && -x "$load_bin" ]] || { log "missing $server_bin or $load_bin"; exit 1; }

export FLAGYARD_ADMIN_PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
rows=()
failed=0

api() { # METHOD PATH [JSON]
    curl -fsS --max-time 10 -X "$1" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
        ${3:+-d "$3"} "$base/api/v1$2"
}

seed() {
    run_load 300 reads --base "$base" --token "$token" --flags 1000 --concurrency 1 --duration-secs 1 >/dev/null
    api POST /segments '{"key": "beta", "included": ["u1", "u2"]}' >/dev/null
    api PUT /flags/read-0/environments/production '{"enabled": true, "offVariant": "off", "defaultVariant": "off",
        "rules": [{"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]}' >/dev/null
    api POST /metrics '{"key": "purchase", "event": "buy", "kind": "conversion"}' >/dev/null
    api POST /experiments '{"key": "checkout", "flag": "read-0", "environment": "production", "ruleId": "exp",
        "controlVariant": "off", "primaryMetric": "purchase", "minimumDetectableEffect": 0.1}' >/dev/null
    api POST /experiments/checkout/start '{}' >/dev/null
    # 49 more experiments (drafts, each on a flag of its own with a split): 50 in all.
    local i
    for i in $(seq 1 49); do
        api PUT "/flags/read-$i/environments/production" '{"enabled": true, "offVariant": "off", "defaultVariant": "off",
            "rules": [{"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]}' >/dev/null
        api POST /experiments "{\"key\": \"exp-$i\", \"flag\": \"read-$i\", \"environment\": \"production\", \"ruleId\": \"exp\",
            \"controlVariant\": \"off\", \"primaryMetric\": \"purchase\"}" >/dev/null
    done
    local key at
    key="$(api POST /environments/production/sdk-keys '{"name": "bench"}' | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')"
    at="$(($(date +%s) * 1000))"
    awk -v at="$at" 'BEGIN { printf "{\"batchId\": \"seed\", \"events\": ["; for (i = 0; i < 2000; i++) {
        printf "%s{\"kind\":\"exposure\",\"at\":%d,\"flag\":\"read-0\",\"variant\":\"%s\",\"rule\":\"exp\",\"unit\":\"u%d\"}", (i ? "," : ""), at, (i % 2 ? "on" : "off"), i;
        if (i % 7 == 0) printf ",{\"kind\":\"track\",\"at\":%d,\"event\":\"buy\",\"unit\":\"u%d\"}", at + 1, i }
        printf "]}" }' >"$work/events.json"
    curl -fsS --max-time 10 -H "Authorization: Bearer $key" -H 'content-type: application/json' \
        -d @"$work/events.json" "$base/sdk/v1/events" >/dev/null
}

# `history BACKEND URL`: 92 days of daily results snapshots for the running
# experiment (its figures now, scaled down for older days), written
# straight into the database, so its page draws results over time.
history() {
    local today=$(($(date +%s) / 86400)) sql
    sql="WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 92)
        INSERT INTO result_snapshots (experiment_id, day, metric_id, variant, n, sum, sum_sq, taken_at)
        SELECT experiment_id, $today - i, 0, variant, units * (93 - i) / 93, excluded, 0, 0 FROM variant_units, k
        UNION ALL
        SELECT experiment_id, $today - i, metric_id, variant, n * (93 - i) / 93, sum * (93 - i) / 93,
               sum_sq * (93 - i) / 93, 0 FROM variant_metrics, k"
    case "$1" in
    sqlite) python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' \
        "${2#sqlite://}" "$sql" ;;
    postgres) psql "$2" -qc "$sql" >/dev/null ;;
    esac
}

login() {
    local jar="$work/cookies" csrf
    curl -fsS -c "$jar" -o /dev/null "$base/login"
    csrf="$(awk '$6 == "flagyard_login_csrf" {print $7}' "$jar")"
    curl -fsS -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "username=admin" \
        --data-urlencode "password=$FLAGYARD_ADMIN_PASSWORD" --data-urlencode "next=/flags" "$base/login"
    grep -q flagyard_session "$jar"
}

# `measure BACKEND PATH`: 3 warm-up requests, then 30 timed ones on one connection.
measure() {
    local backend="$1" path="$2" urls=() times status
    for _ in $(seq 1 33); do urls+=(-o /dev/null "$base$path"); done
    times="$(curl -sS -b "$work/cookies" -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}\n' \
        "${urls[@]}")"
    status="$(awk 'NR > 3 && $1 != 200 {bad++} END {print bad + 0}' <<<"$times")"
    awk -v b="$backend" -v p="$path" -v bad="$status" -v ld="$(loadavg)" 'NR > 3 {
            ttfb[n] = $2 * 1000; total[n] = $3 * 1000; size = $4; n++ }
        function sort(a, k,   i, j, t) { for (i = 1; i < k; i++) for (j = i; j > 0 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
        END { sort(ttfb, n); sort(total, n);
              m = ttfb[int(n / 2)]; p99 = ttfb[n - 1];
              printf "%s\t%s\t%.2f\t%.2f\t%.2f\t%d KiB\t%s\t%s\t%s\n", b, p, m, p99, total[int(n / 2)], size / 1024,
                  (bad ? bad " non-200" : "0"), (p99 < 20 && !bad ? "PASS" : "FAIL"), ld }' <<<"$times"
}

bench() {
    local backend="$1" url="$2" path
    start_server "$backend" "$url" || return 1
    log "$backend: seeding 1,000 flags, a segment and an experiment"
    seed
    history "$backend" "$url"
    login || { log "$backend: login failed"; return 1; }
    for path in /flags "/flags?q=read-99" /flags/rows "/flags/read-0?env=production" /segments /environments \
        /tokens /users /audit /experiments /experiments/checkout /experiments/new /experiment-metrics \
        /experiment-metrics/purchase /segments/beta /account; do
        rows+=("$(measure "$backend" "$path")")
    done
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=""
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
each_backend

echo
echo "Flagyard web UI benchmark, $started to $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores; 1,000 flags x 3 environments, 50 experiments"
echo "tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
{
    printf 'backend\tpage\tTTFB median ms\tTTFB p99 ms\ttotal median ms\tsize\tnon-200\tp99 < 20 ms\tload avg\n'
    printf '%s\n' "${rows[@]}"
} | column -t -s $'\t'
exit "$failed"
