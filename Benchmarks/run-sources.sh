#!/usr/bin/env bash
# Many-source benchmark: `flowhound detect` on what an Internet-facing network's edge sees, sources
# by the million with one flow or a few each (background scanners, spoofed sources), with peak memory.
#
#   Benchmarks/run-sources.sh [RUNS] [FLOWS]        (defaults: 3 runs, 1000000 flows)
#
# Environment: BENCH_DATA  scratch directory (default: <repo>/.build-bench-data)
#              JOBS        detect's --jobs (default: auto, one thread per core; 1 for one thread,
#                          as every figure before --jobs was measured)
#              FLOWHOUND   a flowhound binary to use instead of building one in release
#
# Makes (once each, with Benchmarks/sources.py: seeded, standard library only) two Flowhound CSV logs
# of FLOWS flows over one hour: one with every flow from its own source, one with FLOWS/4 sources
# (four flows a source on average). Runs `detect` with the default detectors RUNS times on each,
# timing with /usr/bin/time, and prints a Markdown table of medians (also written to
# $BENCH_DATA/sources-results.md) with the machine, revision, load and command.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "run-sources.sh: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

runs="${1:-3}"
flows="${2:-1000000}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
[[ "$flows" =~ ^[1-9][0-9]*$ ]] && (( flows >= 4 && flows <= 50000000 )) || die "FLOWS must be a whole number from 4 to 50000000, not '$flows'"
jobs="${JOBS:-auto}"
[[ "$jobs" == auto || "$jobs" =~ ^[1-9][0-9]*$ ]] || die "JOBS must be auto or a whole number, not '$jobs'"
data="${BENCH_DATA:-$repo/.build-bench-data}"
mkdir -p "$data" || die "cannot create $data"
# shellcheck source=detect-common.sh
source "$here/detect-common.sh"
flowhound_release

# One log per shape: "name sources".
shapes=("one-flow $flows" "four-flows $((flows / 4))")
for shape in "${shapes[@]}"; do
    read -r name _ <<<"$shape"
    sources_log "$name" "$flows" >/dev/null
done

# One run: prints "flows_per_second peak_rss_kib episodes".
measure() { detect_run "$1" --jobs "$jobs"; }

load="$(cut -d ' ' -f 1-3 /proc/loadavg)"
rows=()
for shape in "${shapes[@]}"; do
    read -r name sources <<<"$shape"
    log="$data/sources-$name-$flows.csv"
    rates=(); rss=(); episodes=0
    for r in $(seq 1 "$runs"); do
        note "$name, run $r/$runs"
        read -r rate peak episodes < <(measure "$log")
        rates+=("$rate"); rss+=("$peak")
    done
    rows+=("| $name | $flows | $sources | $(printf '%s\n' "${rates[@]}" | median) | $(( $(printf '%s\n' "${rss[@]}" | median) / 1024 )) MiB | $episodes |")
done

report="$data/sources-results.md"
{
    echo "| log | flows | sources drawn from | flows/s (median of $runs) | peak RSS (median) | scan episodes |"
    echo "|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)), load $load before the runs. Revision $(git -C "$repo" rev-parse --short HEAD). Date: $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Command: \`JOBS=$jobs Benchmarks/run-sources.sh $runs $flows\`; default detectors."
} | tee "$report"
note "written to $report"
