#!/usr/bin/env bash
# Instructions per evaluation of each engine benchmark case, by callgrind:
# a figure machine noise does not move, so a change shows as a change.
#
#     scripts/engine-instructions.sh
#
# Builds `sdk/eval/examples/instructions.rs` (release) and runs each case
# under `valgrind --tool=callgrind` at N = 1,000 and N = 11,000 evaluations;
# instructions per evaluation = (Ir at 11,000 - Ir at 1,000) / 10,000, so the
# setup (parsing and compiling the rules, building 1,024 contexts) cancels
# out. Cases: canary, experiment, plain (one fixed context, and -cycling
# through 1,024 contexts) and floor (the plain flag's precomputed answer
# from an FxHashMap). Needs valgrind (Debian package `valgrind`). About a
# minute.
set -euo pipefail
if [[ $# -gt 0 ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    [[ $1 == -h || $1 == --help ]] && exit 0
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
(cd "$root" && cargo build --release --locked -p flagyard-eval --example instructions) >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/instructions"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bin" "$1" "$2" >/dev/null 2>"$work/err" ||
        { cat "$work/err" >&2; return 1; }
    awk '/^summary:/ {print $2}' "$work/out"
}
echo "engine instructions per evaluation (callgrind), commit $(git -C "$root" rev-parse --short HEAD)$(
    [[ -n "$(git -C "$root" status --porcelain -- sdk/eval 2>/dev/null)" ]] && echo ' + uncommitted changes in sdk/eval')"
printf '%-20s %s\n' case instructions
for case in canary canary-cycling experiment experiment-cycling plain plain-cycling floor; do
    a="$(ir "$case" 1000)"; b="$(ir "$case" 11000)"
    printf '%-20s %.1f\n' "$case" "$(awk -v a="$a" -v b="$b" 'BEGIN {print (b - a) / 10000}')"
done
