#!/usr/bin/env bash
# Before and after: the engine, live-update and ingest benchmarks of two
# commits, alternated in the same window, for a change that must not cost
# speed (a refactoring).
#
#     scripts/bench-commits.sh BEFORE [AFTER]      (AFTER defaults to HEAD)
#
# Builds both commits in release (a detached worktree each under a scratch
# directory, one target directory for both so dependencies build once; each
# commit's `flagyard` and eval benchmark are copied out), then runs
# BENCH_ROUNDS rounds. In odd rounds BEFORE runs first, in even rounds AFTER,
# each benchmark back to back:
#   engine  the eval benchmark's Flagyard cases (criterion, 1 s warm-up,
#           3 s measurement): the median ns of each case;
#   live    scripts/bench-live.sh on SQLite, BENCH_CLIENTS streams (1,000),
#           20 changes, then OFREP vs healthz (5 s phases): propagation p99
#           and OFREP requests/s;
#   ingest  scripts/bench-ingest.sh, BENCH_UNITS units (200,000) on SQLite
#           and Postgres: events/s.
# Both commits are driven by the same load tool and the same scripts (this
# checkout's), so only the server and the engine differ. Prints every round's
# figures and, per figure, the AFTER/BEFORE ratio of each round with its
# median and range, the load average, and both commits.
#
# Optional environment:
#   BENCH_ROUNDS=5            rounds
#   BENCH_CLIENTS=1000        streams in the live benchmark
#   BENCH_UNITS=200000        units in the ingest benchmark
#   BENCH_INGEST_BACKENDS="sqlite postgres"
#   BENCH_SCRATCH=<dir>       where the worktrees and copied binaries go (a temporary directory, removed at the end)
#   BENCH_TARGET_DIR=<dir>    the builds' target directory (target/bench-commits)
#
# About 4-5 minutes per round after the builds. Exit status non-zero when a
# build or a run failed.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    [[ $# -ge 1 ]] && exit 0
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
before="$(git -C "$root" rev-parse --short "$1")"
after="$(git -C "$root" rev-parse --short "${2:-HEAD}")"
rounds="${BENCH_ROUNDS:-5}"
clients="${BENCH_CLIENTS:-1000}"
units="${BENCH_UNITS:-200000}"
ingest_backends="${BENCH_INGEST_BACKENDS:-sqlite postgres}"
# Its own target directory (shared by both commits, so dependencies build
# once): the workspace's crates of both commits have the same artifact names,
# and sharing this checkout's would leave its own build looking up to date
# with the other commit's code.
target="${BENCH_TARGET_DIR:-$root/target/bench-commits}"
own_scratch=""
if [[ -z "${BENCH_SCRATCH:-}" ]]; then
    scratch="$(mktemp -d -t flagyard-commits.XXXXXX)"
    own_scratch=1
else
    scratch="$BENCH_SCRATCH"
    mkdir -p "$scratch"
fi

log() { printf '[commits %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
value() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }

cleanup() {
    local rc=$?
    for c in "$before" "$after"; do
        git -C "$root" worktree remove --force "$scratch/src-$c" 2>/dev/null || true
    done
    [[ -n $own_scratch ]] && rm -rf "$scratch"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# `build COMMIT`: `$scratch/COMMIT/release/flagyard` and `$scratch/COMMIT/eval`.
build() {
    local c=$1 src="$scratch/src-$1" out="$scratch/$1"
    log "building $c (release: flagyard-server, flagyard-load; the eval benchmark)"
    git -C "$root" worktree add --detach "$src" "$c" >/dev/null 2>&1
    mkdir -p "$out/release"
    (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release --locked -p flagyard-server -p flagyard-load) >&2
    cp "$target/release/flagyard" "$out/release/flagyard"
    local exe
    exe="$(cd "$src" && CARGO_TARGET_DIR="$target" cargo bench --locked -p flagyard-eval --bench eval --no-run \
        --message-format=json 2>/dev/null | jq -r 'select(.executable != null and .target.name == "eval") | .executable' | tail -1)"
    [[ -x $exe ]] || { log "no eval benchmark built for $c"; exit 1; }
    cp "$exe" "$out/eval"
}
build "$before"
build "$after"
# One load tool for both: this checkout's.
(cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release --locked -p flagyard-load) >&2
for c in "$before" "$after"; do cp "$target/release/flagyard-load" "$scratch/$c/release/flagyard-load"; done

results="$scratch/results.tsv"   # round, commit, figure, value, load average
: >"$results"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$(loadavg)" >>"$results"; }

# `engine ROUND COMMIT`: criterion's median of each Flagyard case.
engine() {
    local out
    out="$("$scratch/$2/eval" --bench --warm-up-time 1 --measurement-time 3 --noplot '^flagyard/' 2>&1)" ||
        { log "eval benchmark of $2 failed"; printf '%s\n' "$out" >&2; return 1; }
    # A result is `NAME time: [low median high]`, NAME alone on the line
    # above when it is long.
    awk '/^flagyard\// {name = $1} /time:/ {
            for (i = 1; i <= NF; i++) if ($i == "time:") { v = $(i + 3); u = $(i + 4) }
            gsub(/\[/, "", v)
            if (u == "ps") v /= 1000; else if (u == "µs" || u == "us") v *= 1000
            print name "\t" v
        }' <<<"$out" | while IFS=$'\t' read -r name ns; do record "$1" "$2" "engine ${name#flagyard/} (ns)" "$ns"; done
}

# `live ROUND COMMIT`: propagation p99 and OFREP throughput.
live() {
    local out
    out="$(CARGO_TARGET_DIR="$scratch/$2" BENCH_SKIP_BUILD=1 BENCH_SKIP_GETTERS=1 BENCH_CLIENTS="$clients" \
        BENCH_OFREP_SECS=5 "$root/scripts/bench-live.sh" 2>&1)" ||
        { log "live benchmark of $2 failed"; printf '%s\n' "$out" | tail -n 30 >&2; return 1; }
    local sse ofrep
    sse="$(grep 'summary bench=sse ' <<<"$out" | head -1)"
    ofrep="$(grep 'summary bench=ofrep-vs-healthz ' <<<"$out" | head -1)"
    record "$1" "$2" "live p99 at $clients streams (ms)" "$(value p99_ms "$sse")"
    record "$1" "$2" "OFREP single (req/s)" "$(value ofrep_rps "$ofrep")"
}

# `ingest ROUND COMMIT`: events/s per backend.
ingest() {
    local out b line
    out="$(CARGO_TARGET_DIR="$scratch/$2" BENCH_SKIP_BUILD=1 BENCH_UNITS="$units" BENCH_BACKENDS="$ingest_backends" \
        "$root/scripts/bench-ingest.sh" 2>&1)" ||
        { log "ingest benchmark of $2 failed"; printf '%s\n' "$out" | tail -n 30 >&2; return 1; }
    for b in $ingest_backends; do
        line="$(grep "^\[$b\] summary bench=ingest " <<<"$out" | head -1)"
        [[ $(value verified "$line") == yes ]] || log "ingest of $2 on $b: the results did not verify"
        record "$1" "$2" "ingest $b (events/s)" "$(value events_per_s "$line")"
    done
}

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for r in $(seq 1 "$rounds"); do
    if ((r % 2)); then order="$before $after"; else order="$after $before"; fi
    for bench in engine live ingest; do
        for c in $order; do
            log "round $r/$rounds: $bench, $c (load $(loadavg))"
            "$bench" "$r" "$c"
        done
    done
done

echo
echo "Before/after, $started to $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores; before $before, after $after;"
echo "$rounds rounds alternated (odd rounds: before first); command: scripts/bench-commits.sh $* (BENCH_CLIENTS=$clients BENCH_UNITS=$units)"
echo
awk -F'\t' -v b="$before" -v a="$after" '
    { key = $3; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
      v[key, $1, $2] = $4; if ($1 > rounds) rounds = $1; load[$1] = load[$1] " " $5 }
    END {
        printf "%-40s | %-10s | %-10s | %-12s | %s\n", "figure (round: before -> after)", "median bef", "median aft", "ratio med", "ratio range; per round"
        for (i = 1; i <= n; i++) {
            k = order[i]; m = 0; delete rs; delete bs; delete as; per = ""
            for (r = 1; r <= rounds; r++) {
                if ((k SUBSEP r SUBSEP b) in v && (k SUBSEP r SUBSEP a) in v && v[k, r, b] > 0) {
                    m++; bs[m] = v[k, r, b]; as[m] = v[k, r, a]; rs[m] = v[k, r, a] / v[k, r, b]
                    per = per sprintf(" %.3f", rs[m])
                }
            }
            if (m == 0) { printf "%-40s | no figures\n", k; continue }
            asort(rs); asort(bs); asort(as)
            med = (m % 2) ? rs[(m + 1) / 2] : (rs[m / 2] + rs[m / 2 + 1]) / 2
            mb = (m % 2) ? bs[(m + 1) / 2] : (bs[m / 2] + bs[m / 2 + 1]) / 2
            ma = (m % 2) ? as[(m + 1) / 2] : (as[m / 2] + as[m / 2 + 1]) / 2
            printf "%-40s | %-10.4g | %-10.4g | %-12.3f | %.3f-%.3f;%s\n", k, mb, ma, med, rs[1], rs[m], per
        }
        print ""
        print "ratio = after / before (for ns and ms lower is better; for req/s and events/s higher is better)"
        for (r = 1; r <= rounds; r++) { split(load[r], l, " "); printf "round %d load average at its first and last figure: %s %s %s .. %s %s %s\n", r, l[1], l[2], l[3], l[length(l) - 2], l[length(l) - 1], l[length(l)] }
    }' "$results"
