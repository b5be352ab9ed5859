#!/usr/bin/env bash
# Detection benchmark: `flowhound detect` end to end (reading, windows, the default detectors, alerts)
# over a large synthetic Zeek log, on the machine's cores, with peak memory.
#
#   Benchmarks/run-detect.sh [RUNS]        (default 3)
#
# Environment: BENCH_DATA  scratch directory (default: <repo>/.build-bench-data)
#              JOBS        detect's --jobs (default: auto, one thread per core; 1 for one thread,
#                          as every figure before --jobs was measured)
#
# Makes (once) `synth --seed 5 --duration 2d --benign 250 --scan-prevalence 0.2`, 8.6 M flows (1.2 GB),
# then runs `detect` RUNS times with the default detectors and once with threshold and trw only, timing with
# /usr/bin/time, and prints a Markdown table (also written to $BENCH_DATA/detect-results.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "run-detect.sh: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

runs="${1:-3}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
jobs="${JOBS:-auto}"
[[ "$jobs" == auto || "$jobs" =~ ^[1-9][0-9]*$ ]] || die "JOBS must be auto or a whole number, not '$jobs'"
data="${BENCH_DATA:-$repo/.build-bench-data}"
mkdir -p "$data" || die "cannot create $data"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

# shellcheck source=detect-common.sh
source "$here/detect-common.sh"
flowhound_release
log="$(synthetic_log)"

# One run: prints "flows_per_second peak_rss_kib alerts".
measure() { detect_run "$log" --jobs "$jobs" "$@"; }

rates=(); rss=(); alerts=""
for r in $(seq 1 "$runs"); do
    note "run $r/$runs: all detectors"
    read -r rate peak count < <(measure)
    rates+=("$rate"); rss+=("$peak"); alerts="$count"
done
note "threshold and trw only"
read -r tt_rate tt_rss tt_alerts < <(measure --detectors threshold,trw)
flows="$(detect_flows)"

report="$data/detect-results.md"
{
    echo "| detectors | flows | flows/s (median of $runs) | peak RSS | alerts |"
    echo "|---|---:|---:|---:|---:|"
    echo "| threshold, trw, cnn, slow, distributed (default) | $flows | $(printf '%s\n' "${rates[@]}" | median) | $(( $(printf '%s\n' "${rss[@]}" | median) / 1024 )) MiB | $alerts |"
    echo "| threshold, trw | $flows | $tt_rate | $(( tt_rss / 1024 )) MiB | $tt_alerts |"
    echo
    echo "Machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)). Revision $(git -C "$repo" rev-parse --short HEAD). Date: $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Command: \`JOBS=$jobs Benchmarks/run-detect.sh $runs\`"
} | tee "$report"
note "written to $report"
