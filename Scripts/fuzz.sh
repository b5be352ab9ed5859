#!/usr/bin/env bash
# Coverage-guided fuzzing of Flowhound's input readers with libFuzzer and AddressSanitizer.
#
#   Scripts/fuzz.sh --list               the targets
#   Scripts/fuzz.sh TARGET SECONDS [ARG…] build, then fuzz TARGET for SECONDS (ARGs go to libFuzzer)
#   Scripts/fuzz.sh all SECONDS          every target in turn, SECONDS each
#   Scripts/fuzz.sh --build [all|TARGET] only build
#
# The fuzz binaries are built with FLOWHOUND_FUZZ=1 (see the end of Package.swift) into
# .build-fuzz/, apart from the normal build. Each run reads the committed corpus Fuzz/corpus/TARGET
# and the repository's fixtures for that format, and adds what it finds to .build-fuzz/corpus/TARGET
# (to keep an input, minimise with -merge=1 into Fuzz/corpus/TARGET; see Fuzz/README.md).
# A crash, a timeout (FUZZ_TIMEOUT seconds for one input) or memory use over FUZZ_RSS_LIMIT_MB ends
# the run with a non-zero status, and the reproducer's path is printed; run the binary on it again
# with FLOWHOUND_FUZZ_TARGET=TARGET .build-fuzz/debug/flowhound-fuzz PATH.
#
# Environment: FUZZ_TIMEOUT (10), FUZZ_RSS_LIMIT_MB (2048), FUZZ_NICE (15: builds and runs are
# niced), FUZZ_NO_BUILD=1 to use the binaries already built.
set -euo pipefail
cd "$(dirname "$0")/.."

SCRATCH=.build-fuzz
TIMEOUT=${FUZZ_TIMEOUT:-10}
RSS_LIMIT=${FUZZ_RSS_LIMIT_MB:-2048}
NICE=${FUZZ_NICE:-15}
TARGETS=(flow-reader model-file numpy mmdb libloc wire ip-score-request)

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

describe() {
    case $1 in
        flow-reader) echo "FlowReader on a flow log (plain or gzip): format detection, then a format forced or strict; then DirectionPairer and a threshold+TRW pipeline" ;;
        model-file) echo "SafeTensors.decode, NetworkModel (scan CNN), IPModel, ScanModel.load" ;;
        numpy) echo "NumpyReader.readFloat32 and readIntegers on a .npy file" ;;
        mmdb) echo "MaxMindDatabase on an .mmdb file, then lookups" ;;
        libloc) echo "LocationDatabase (libloc) on a database file, then lookups" ;;
        wire) echo "FlowMessage(decoding:), a FlowRecord batch, ScanDetection.restore(from:) checkpoints" ;;
        ip-score-request) echo "POST /v1/ip/score bodies decoded as the service decodes them (IPScoreRequest)" ;;
    esac
}

product_of() {
    if [[ $1 == ip-score-request ]]; then echo flowhound-fuzz-service; else echo flowhound-fuzz; fi
}

known() {
    local t
    for t in "${TARGETS[@]}"; do [[ $t == "$1" ]] && return 0; done
    return 1
}

build() {
    local product
    for product in "$@"; do
        echo "== building $product (FLOWHOUND_FUZZ=1, $SCRATCH)" >&2
        FLOWHOUND_FUZZ=1 nice -n "$NICE" swift build --scratch-path "$SCRATCH" --product "$product" >&2
    done
}

# The repository's files in the target's format, copied into a seed directory (libFuzzer reads
# corpora from directories). Fixtures' licences: the SOURCES.md beside them.
seeds() {
    local target=$1 dir=$SCRATCH/seeds/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    case $target in
        flow-reader)
            # The first 20 lines of each log (headers and a few records), and the gzip sample.
            local f
            for f in Tests/FlowRecordsTests/Fixtures/{zeek,argus,nfdump,vpc,cicflowmeter}/* \
                     Tests/Fixtures/realtools/*.{csv,binetflow}; do
                head -n 20 "$f" >"$dir/$(basename "$f")"
            done
            cp Samples/*.gz "$dir"/ ;;
        model-file)
            cp Sources/Detection/Resources/*.safetensors Sources/Reputation/Resources/*.safetensors "$dir"/ ;;
        mmdb)
            cp Tests/Fixtures/maxmind/*.mmdb "$dir"/ ;;
    esac
    echo "$dir"
}

# Longest input libFuzzer makes per target (longer corpus inputs are cut).
max_len() {
    case $1 in
        flow-reader) echo 16384 ;;
        model-file) echo 700000 ;;  # the shipped IP model is 670 kB; cutting it breaks its checksum
        mmdb | libloc) echo 32768 ;;
        *) echo 16384 ;;
    esac
}

run() {
    local target=$1 seconds=$2
    shift 2
    local binary=$SCRATCH/debug/$(product_of "$target")
    local corpus=$SCRATCH/corpus/$target committed=Fuzz/corpus/$target artifacts=$SCRATCH/crashes/$target/
    local log=$SCRATCH/logs/$target.log
    mkdir -p "$corpus" "$committed" "$artifacts" "$SCRATCH/logs"
    local seed_dir
    seed_dir=$(seeds "$target")
    echo "== fuzzing $target for ${seconds}s (log: $log)" >&2
    local status=0
    # New inputs go to the first directory, the scratch corpus; the committed corpus and the seeds
    # are only read.
    # SWIFT_BACKTRACE: the Swift runtime's own crash handler would catch a trap first (and trip
    # AddressSanitizer reading memory); off, libFuzzer prints the stack.
    FLOWHOUND_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:symbolize=1} \
        LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/Fuzz/lsan-suppressions.txt:print_suppressions=0} \
        nice -n "$NICE" "$binary" \
        -max_total_time="$seconds" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_LIMIT" -malloc_limit_mb="$RSS_LIMIT" \
        -max_len="$(max_len "$target")" -artifact_prefix="$artifacts" -print_final_stats=1 \
        "$@" "$corpus" "$committed" "$seed_dir" >"$log" 2>&1 || status=$?
    local done_line
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    local executions
    executions=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    if [[ $status -ne 0 ]]; then
        echo "!! $target FAILED (libFuzzer status $status), executions ${executions:-?}" >&2
        grep -E '^==[0-9]+== ?ERROR|^SUMMARY|^Fatal error' "$log" | head -5 >&2 || true
        grep -A16 -E '^==[0-9]+== ?ERROR' "$log" | grep -E '^ +#[0-9]+ ' | grep -vE 'compiler-rt|libc\.so' | head -10 >&2 || true
        local reproducer
        reproducer=$(grep -oE "(Test unit written to|written to) [^ ]+" "$log" | awk '{print $NF}' | tail -1 || true)
        echo "!! reproducer: ${reproducer:-(none written; see $log)}" >&2
        echo "!! rerun: FLOWHOUND_FUZZ_TARGET=$target $binary ${reproducer:-PATH}" >&2
        return 1
    fi
    echo "== $target: ${done_line:-no DONE line} (executions ${executions:-?})" >&2
}

[[ $# -ge 1 ]] || usage
case $1 in
    --list)
        for t in "${TARGETS[@]}"; do printf '%-18s %s\n' "$t" "$(describe "$t")"; done
        exit 0 ;;
    --build)
        if [[ ${2:-all} == all ]]; then build flowhound-fuzz flowhound-fuzz-service
        else known "$2" || usage; build "$(product_of "$2")"; fi
        exit 0 ;;
    -h | --help) usage ;;
esac
[[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage
target=$1 seconds=$2
shift 2

if [[ $target == all ]]; then
    [[ ${FUZZ_NO_BUILD:-0} == 1 ]] || build flowhound-fuzz flowhound-fuzz-service
    failed=()
    for t in "${TARGETS[@]}"; do run "$t" "$seconds" "$@" || failed+=("$t"); done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "!! failed: ${failed[*]}" >&2
        exit 1
    fi
    exit 0
fi

known "$target" || { echo "unknown target '$target'; Scripts/fuzz.sh --list" >&2; exit 2; }
[[ ${FUZZ_NO_BUILD:-0} == 1 ]] || build "$(product_of "$target")"
run "$target" "$seconds" "$@"
