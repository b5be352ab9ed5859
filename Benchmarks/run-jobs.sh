#!/usr/bin/env bash
# Parallel detection benchmark: `flowhound detect --jobs N` against `--jobs 1` on the same logs, in
# one run, with peak memory, and a check that every N raises the alerts of one thread.
#
#   Benchmarks/run-jobs.sh [RUNS] [JOBS ...]     (defaults: 3 runs; jobs 1, 2 and the core count)
#
# Environment: BENCH_DATA  scratch directory (default: <repo>/.build-bench-data)
#              FLOWHOUND   a flowhound binary to use instead of building one in release
#              FLOWS       flows of the many-source logs (default 1000000)
#
# Logs (made once each, shared with run-detect.sh and run-sources.sh):
#   synthetic  `synth --seed 5 --duration 2d --benign 250 --scan-prevalence 0.2`: 8.6 M flows, 325 sources
#   one-flow   FLOWS flows, each from its own source (Benchmarks/sources.py)
#   four-flow  FLOWS flows from FLOWS/4 sources
# Runs go in turn (jobs 1, then each N, RUNS times) so that the machine's drift falls on all alike.
# Prints a Markdown table of medians and their ratio to jobs 1 (also written to
# $BENCH_DATA/jobs-results.md) with the machine, revision, load and command. Exits 1 if any N's alerts
# (sorted, event.created aside) differ from jobs 1's in more than a CNN score's fourth decimal (the CNN
# scores each partition's windows in batches of their own).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "run-jobs.sh: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

runs="${1:-3}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
shift || true
cores="$(nproc)"
if (( $# > 0 )); then
    jobs=("$@")
else
    jobs=(1 2)
    (( cores > 2 )) && jobs+=("$cores")
fi
for j in "${jobs[@]}"; do
    [[ "$j" =~ ^[1-9][0-9]*$ ]] && (( j <= 64 )) || die "each JOBS must be a whole number from 1 to 64, not '$j'"
done
[[ " ${jobs[*]} " == *" 1 "* ]] || jobs=(1 "${jobs[@]}")
flows="${FLOWS:-1000000}"
[[ "$flows" =~ ^[1-9][0-9]*$ ]] && (( flows >= 4 && flows <= 50000000 )) || die "FLOWS must be a whole number from 4 to 50000000, not '$flows'"
data="${BENCH_DATA:-$repo/.build-bench-data}"
mkdir -p "$data" || die "cannot create $data"
# shellcheck source=detect-common.sh
source "$here/detect-common.sh"
flowhound_release
synthetic="$(synthetic_log)"
one_flow="$(sources_log one-flow "$flows")"
four_flows="$(sources_log four-flows "$flows")"
logs=("synthetic $synthetic" "one-flow $one_flow" "four-flows $four_flows")

# Alert lines with the CNN's score and the reason that prints it rounded set aside.
cnn_aside() { sed -E 's/"cnn":-?[0-9.e+-]+/"cnn":_/g; s/activity image scored [0-9.]+/activity image scored _/g' "$1"; }

load="$(cut -d ' ' -f 1-3 /proc/loadavg)"
rows=()
same=1
for entry in "${logs[@]}"; do
    read -r name log <<<"$entry"
    declare -A rates=() rss=()
    for r in $(seq 1 "$runs"); do
        for j in "${jobs[@]}"; do
            note "$name, run $r/$runs, --jobs $j"
            read -r rate peak _ < <(ALERTS="$data/jobs-alerts-$j" detect_run "$log" --jobs "$j")
            rates[$j]+="$rate "
            rss[$j]+="$peak "
        done
    done
    alerts="$(wc -l <"$data/jobs-alerts-1")"
    base="$(tr ' ' '\n' <<<"${rates[1]}" | grep . | median)"
    for j in "${jobs[@]}"; do
        m="$(tr ' ' '\n' <<<"${rates[$j]}" | grep . | median)"
        p="$(tr ' ' '\n' <<<"${rss[$j]}" | grep . | median)"
        if cmp -s "$data/jobs-alerts-1" "$data/jobs-alerts-$j"; then
            check="same"
        elif cmp -s <(cnn_aside "$data/jobs-alerts-1") <(cnn_aside "$data/jobs-alerts-$j"); then
            # The CNN scores each partition's windows in batches of their own, and a score can move in
            # its fourth decimal with the batch (documented); nothing else may differ.
            check="same but for $( (diff "$data/jobs-alerts-1" "$data/jobs-alerts-$j" || true) | grep -c '^<') CNN score(s) in the 4th decimal"
        else
            check="**differ**"
            same=0
        fi
        rows+=("| $name | $j | $m | $(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", a / b}') | $(( p / 1024 )) MiB | $alerts, $check |")
    done
    unset rates rss
done

report="$data/jobs-results.md"
{
    echo "| log | --jobs | flows/s (median of $runs) | × --jobs 1 | peak RSS | alert lines, vs --jobs 1 |"
    echo "|---|---:|---:|---:|---:|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)), load $load before the runs. Revision $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ' (modified)'). Date: $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Command: \`FLOWS=$flows Benchmarks/run-jobs.sh $runs ${jobs[*]}\`; default detectors."
} | tee "$report"
(( same )) || die "alerts differ from --jobs 1's (see $data/jobs-alerts-*)"
