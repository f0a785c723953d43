#!/usr/bin/env bash
# Fuzzes Flagyard's parsers with cargo fuzz (libFuzzer): see docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   scripts/fuzz.sh                      # CI: 25 s for each of the four targets
#   scripts/fuzz.sh 600 rules_compile    # ten minutes on one target
#   scripts/fuzz.sh 14400                # a long run: four hours per target
#
# Each target runs on a temporary copy of its checked-in corpus
# (fuzz/corpus/<target>), so the checkout is not modified; crashing inputs
# are kept in fuzz/artifacts/<target>/ (git-ignored). Exits non-zero when a
# target crashes (a panic, a failed assertion, an arithmetic overflow, a
# timeout of more than -timeout seconds on one input or more than
# -rss_limit_mb of memory), after printing the target and the input.
#
# Environment:
#   FUZZ_SANITIZER  none (default) or address: see docs/fuzzing.md.
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-fork=2" (both cores, long runs)
#                   or "-use_value_profile=1".
#   FUZZ_KEEP_CORPUS=1  keep the grown corpus (its path is printed) instead of
#                   deleting it; fold it back with `cargo fuzz cmin` if wanted.
set -euo pipefail

ALL_TARGETS=(rules_compile form_tree event_batch ofrep_body)

seconds=${1:-25}
if [[ $# -gt 0 ]]; then shift; fi
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -eq 0 ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]   (targets: ${ALL_TARGETS[*]})" >&2
    exit 2
fi
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then targets=("${ALL_TARGETS[@]}"); fi
for t in "${targets[@]}"; do
    if [[ ! " ${ALL_TARGETS[*]} " =~ [[:space:]]$t[[:space:]] ]]; then
        echo "unknown target: $t (targets: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

sanitizer=${FUZZ_SANITIZER:-none}
read -r -a extra_args <<<"${FUZZ_ARGS:-}"
# cargo fuzz needs nightly flags (-Cpasses=sancov-module, -Zsanitizer); stable rustc accepts them with this.
export RUSTC_BOOTSTRAP=1
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# The fuzz crate is its own workspace and builds into fuzz/target.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
started=$(date +%s)
echo "== building (sanitizer: $sanitizer)"
if [[ ${#targets[@]} -eq ${#ALL_TARGETS[@]} ]]; then
    cargo fuzz build -s "$sanitizer" --target "$triple"
else
    for t in "${targets[@]}"; do cargo fuzz build -s "$sanitizer" --target "$triple" "$t"; done
fi
echo "== built in $(($(date +%s) - started)) s"

work=$(mktemp -d "${TMPDIR:-/tmp}/flagyard-fuzz.XXXXXX")
if [[ ${FUZZ_KEEP_CORPUS:-0} == 1 ]]; then
    trap 'echo "== grown corpora kept in $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi

failed=()
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    artifacts="$root/fuzz/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    cp -R "fuzz/corpus/$t/." "$corpus/"
    dict=()
    if [[ -f fuzz/dict/$t.dict ]]; then dict=("-dict=fuzz/dict/$t.dict"); fi
    echo "== $t: ${seconds} s on a copy of fuzz/corpus/$t ($(find "$corpus" -type f | wc -l) inputs)"
    log="$work/$t.log"
    # The full log is kept in $log; the terminal gets it without the per-input
    # lines (NEW, REDUCE, NEW_FUNC) and the recommended-dictionary entries.
    set +e
    "fuzz/target/$triple/release/$t" "$corpus" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 \
        "${dict[@]}" "${extra_args[@]}" 2>&1 | tee "$log" | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE)|^[[:space:]]+NEW_FUNC|# Uses: [0-9]+$'
    status=${PIPESTATUS[0]}
    set -e
    if [[ $status -ne 0 ]]; then
        inputs=$(sed -n -E 's/.*Test unit written to (.*)$/\1/p' "$log")
        echo "!! $t FAILED (libFuzzer exit status $status); input(s):" >&2
        echo "${inputs:-  (none written: see the log above)}" >&2
        failed+=("$t: ${inputs:-exit status $status}")
    fi
done

echo "== done in $(($(date +%s) - started)) s"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "!! crashes found:" >&2
    printf '   %s\n' "${failed[@]}" >&2
    echo "   reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -s $sanitizer <target> <input>; minimize: cargo fuzz tmin -s $sanitizer <target> <input>" >&2
    exit 1
fi
echo "== no crashes"
