#!/usr/bin/env bash
# Every benchmark, at a quick size or at the size the README's figures come from, into one Markdown
# report with the machine, the revision and each benchmark's command.
#
#   Benchmarks/run-all.sh [--quick | --full] [NAME ...]     (default: --quick, every benchmark)
#
# NAME: readers synth detect sources jobs forest ip-forest cnn scaleout serve-load (any of them, in
# that order). Environment: BENCH_DATA (default <repo>/.build-bench-data), and what each script takes.
#
# Each benchmark runs in turn, its tables to $BENCH_DATA/all/NAME.md and its log to NAME.log. One that
# fails, or whose tool is missing (wrk, nats-server, python3 with venv), is reported as such and the
# others go on; the exit status is 1 if any failed. Quick sizes take about four minutes on two cores
# once the logs, data and Python venvs exist (the first run makes them: pandas, scikit-learn and TensorFlow
# are installed from PyPI into Benchmarks/.venv-*); --full takes a few hours. Quick figures show that
# everything runs and roughly how fast; the README quotes --full sizes (medians of 3 or 5 runs).
# The report: $BENCH_DATA/all-results.md.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "run-all.sh: error: $*" >&2; exit 2; }
note() { echo "==> $*" >&2; }

size=quick
names=()
for a in "$@"; do
    case "$a" in
        --quick) size=quick ;;
        --full) size=full ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $a (--quick or --full)" ;;
        *) names+=("$a") ;;
    esac
done
all=(readers synth detect sources jobs forest ip-forest cnn scaleout serve-load)
(( ${#names[@]} > 0 )) || names=("${all[@]}")
for n in "${names[@]}"; do [[ " ${all[*]} " == *" $n "* ]] || die "no benchmark named '$n' (known: ${all[*]})"; done

data="${BENCH_DATA:-$repo/.build-bench-data}"
out="$data/all"
mkdir -p "$out" || die "cannot create $out"
export BENCH_DATA="$data"

# The command of each benchmark at each size: "quick|full".
command_for() {
    case "$1" in
        readers) q="run-readers.sh 200000 3" f="run-readers.sh 1000000 5" ;;
        synth) q="run-synth.sh 1" f="run-synth.sh 5" ;;
        detect) q="run-detect.sh 1" f="run-detect.sh 3" ;;
        sources) q="run-sources.sh 1 200000" f="run-sources.sh 3 1000000" ;;
        jobs) q="env FLOWS=200000 $here/run-jobs.sh 1" f="run-jobs.sh 3" ;;
        forest) q="run-forest.sh 1 20" f="run-forest.sh 3 100" ;;
        ip-forest) q="run-ip-forest.sh 1 20" f="run-ip-forest.sh 3 100" ;;
        cnn) q="run-cnn.sh 1 1" f="run-cnn.sh 5 3" ;;
        scaleout) q="env DURATION=2h $here/run-scaleout.sh 1 1 2" f="run-scaleout.sh 3 1 2 4" ;;
        serve-load) q="run-serve-load.sh 10 32 1" f="run-serve-load.sh 30 32 1" ;;
    esac
    local c="$q"
    [[ "$size" == full ]] && c="$f"
    # Scripts named bare are this directory's.
    [[ "$c" == run-* ]] && c="$here/$c"
    echo "$c"
}

# What a benchmark needs beyond the build tools: prints what is missing, if anything.
missing_for() {
    case "$1" in
        readers | forest | ip-forest | cnn) python3 -c "import venv, ensurepip" 2>/dev/null || echo "python3 with venv and ensurepip (apt-get install python3-venv)" ;;
        sources | jobs) command -v python3 >/dev/null || echo "python3" ;;
        scaleout) command -v nats-server >/dev/null || echo "nats-server (apt-get install nats-server)" ;;
        serve-load) command -v wrk >/dev/null || echo "wrk (apt-get install wrk)" ;;
    esac
    [[ -x /usr/bin/time ]] || echo "/usr/bin/time (apt-get install time)"
}

revision="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
machine="$(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
load="$(cut -d ' ' -f 1-3 /proc/loadavg)"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
failed=0
summary=()
for n in "${names[@]}"; do
    c="$(command_for "$n")"
    lack="$(missing_for "$n")"
    rm -f "$out/$n.md" "$out/$n.log"
    if [[ -n "$lack" ]]; then
        note "$n: skipped, missing $lack"
        echo "skipped: missing $lack" >"$out/$n.md"
        summary+=("| $n | skipped: missing ${lack//$'\n'/, } | |")
        continue
    fi
    note "$n: $c"
    t0="$(date +%s)"
    # shellcheck disable=SC2086  # the command is words
    if (cd "$repo" && $c) >"$out/$n.md" 2>"$out/$n.log"; then
        summary+=("| $n | done | $(( $(date +%s) - t0 )) s |")
    else
        status=$?
        failed=1
        summary+=("| $n | **failed** (exit $status): $(tail -n 1 "$out/$n.log" | cut -c 1-160) | $(( $(date +%s) - t0 )) s |")
        note "$n failed (exit $status); its log: $out/$n.log"
    fi
done

report="$data/all-results.md"
{
    echo "# Flowhound benchmarks ($size)"
    echo
    echo "Machine: $machine; load $load before the runs. Revision $revision. Started $started, ended $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Command: \`Benchmarks/run-all.sh --$size ${names[*]}\`"
    echo
    echo "| benchmark | result | time |"
    echo "|---|---|---:|"
    printf '%s\n' "${summary[@]}"
    for n in "${names[@]}"; do
        echo
        echo "## $n"
        echo
        echo "\`$(command_for "$n" | sed "s|$here/|Benchmarks/|g")\`"
        echo
        # The scripts' tables and notes; progress lines (==>) went to the log.
        grep -v '^==>' "$out/$n.md" || true
    done
} >"$report"
cat "$report"
note "written to $report"
exit "$failed"
