#!/usr/bin/env bash
# Runs the test suite once under a sanitizer:
#
#   Scripts/sanitize.sh address [ARG…]   AddressSanitizer (out-of-bounds, use after free, leaks off)
#   Scripts/sanitize.sh thread [ARG…]    ThreadSanitizer (data races)
#
# ARGs go to `swift test` (a --filter, say). Each sanitizer builds everything, dependencies too,
# into its own scratch path (.build-asan, .build-tsan): a full build, niced (FUZZ_NICE, 15). The
# output is kept in .build-asan/test.log or .build-tsan/test.log; a sanitizer report fails the run
# (halt_on_error), and its first frames are printed.
#
# Tests that cannot run under ThreadSanitizer go in SKIPPED_UNDER_TSAN below, with the reason; none
# today (the whole suite, the NATS cluster test too, passes under it).
set -euo pipefail
cd "$(dirname "$0")/.."

NICE=${FUZZ_NICE:-15}
[[ $# -ge 1 ]] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
kind=$1
shift

# Tests left out under ThreadSanitizer, as a `swift test --skip` pattern, with the reason. Empty: the
# whole suite runs.
SKIPPED_UNDER_TSAN=""

case $kind in
    address)
        scratch=.build-asan
        # Leak checking at exit would report the test runner's own caches and the allocations of
        # pipelines that tests deliberately keep; the fuzz targets check for leaks per input.
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=0:symbolize=1}
        ;;
    thread)
        scratch=.build-tsan
        export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:symbolize=1}
        ;;
    *) echo "sanitize.sh: address or thread, not '$kind'" >&2; exit 2 ;;
esac

skip=()
if [[ $kind == thread && -n $SKIPPED_UNDER_TSAN ]]; then skip=(--skip "$SKIPPED_UNDER_TSAN"); fi

mkdir -p "$scratch"
log=$scratch/test.log
echo "== swift test --sanitize=$kind --scratch-path $scratch (log: $log)" >&2
start=$(date +%s)
status=0
nice -n "$NICE" swift test --sanitize="$kind" --scratch-path "$scratch" ${skip[@]+"${skip[@]}"} "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
echo "== $kind: exit status $status after $(( $(date +%s) - start )) s" >&2
if grep -qE '^(==[0-9]+==ERROR|WARNING: ThreadSanitizer|SUMMARY: (Address|Thread)Sanitizer)' "$log"; then
    echo "!! sanitizer reports:" >&2
    grep -E '^(==[0-9]+==ERROR|WARNING: ThreadSanitizer|SUMMARY:)' "$log" | sort | uniq -c | head -20 >&2
    grep -A10 -E '^(==[0-9]+==ERROR|WARNING: ThreadSanitizer)' "$log" | grep -E '^ +#[0-9]+ ' | head -10 >&2
    exit 1
fi
exit "$status"
