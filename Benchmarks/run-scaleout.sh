#!/usr/bin/env bash
# Scale-out benchmark: detection through NATS JetStream with 1, 2 and 4 workers against plain
# `flowhound detect` on the same log, on this machine, with a single nats-server on a loopback port.
#
#   Benchmarks/run-scaleout.sh [RUNS] [WORKERS...]     (default: 3 runs; 1 2 4 workers)
#
# Environment: BENCH_DATA  scratch directory (default: <repo>/.build-bench-data)
#              DETECTORS   detectors for every run (default: threshold,trw,cnn)
#              FLOWHOUND   a flowhound binary to use instead of building one in release
#              DURATION    synthetic log length (default 12h, about 2.1 M flows)
#              DETECT_JOBS detection threads of the single-process reference (default 1: the
#                          per-core figure the workers are held to)
#
# Makes (once) `synth --seed 5 --duration 12h --benign 250 --scan-prevalence 0.2` (about 2.1 M flows),
# then for each run: `detect` over it; `publish --end-of-input` into a fresh stream (timed alone); then
# N workers started together with `--drain`, timed until the last exits (the stream is empty: every
# flow checkpointed and acknowledged). End to end = flows / (publish + drain). Every run's workers
# must publish exactly as many alerts as `detect` printed. Per core: flows per CPU second of the
# workers (user + system, from the shell's `times`) against the same of `detect`. Where the workers'
# CPU went: each worker's closing summary (detection, broker calls, checkpoint encoding and writing,
# lease rounds, the NATS client's and other threads), summed over the workers.
# Prints a Markdown table (also written to $BENCH_DATA/scaleout-results.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "run-scaleout.sh: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

runs="${1:-3}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
shift || true
counts=("$@")
((${#counts[@]})) || counts=(1 2 4)
detectors="${DETECTORS:-threshold,trw,cnn}"
data="${BENCH_DATA:-$repo/.build-bench-data}"
mkdir -p "$data" || die "cannot create $data"
command -v nats-server >/dev/null || die "nats-server is missing (apt-get install nats-server)"

# shellcheck source=detect-common.sh
source "$here/detect-common.sh"
flowhound_release
duration="${DURATION:-12h}"

log="$data/scaleout-$duration.log"
if [[ ! -s "$log" ]]; then
    note "generating $log"
    "$bin" synth --seed 5 --duration "$duration" --benign 250 --scan-prevalence 0.2 -o "$log" --truth "$data/scaleout-$duration.truth.csv" >&2
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="nats://127.0.0.1:$port"
store="$data/scaleout-nats"
rm -rf "$store"
nats-server -a 127.0.0.1 -p "$port" -js -sd "$store" >"$data/scaleout-nats.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
sleep 1
kill -0 "$server" 2>/dev/null || die "nats-server did not start: $(tail -n 3 "$data/scaleout-nats.log")"

now() { date +%s.%N; }
# CPU seconds (user + system) of this shell's finished children so far, into the variable named $1
# (`times` must run in this shell, not in a command substitution's subshell).
children_cpu() {
    times >"$data/times.txt"
    printf -v "$1" '%s' "$(tail -n 1 "$data/times.txt" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } print s }')"
}
jobs_ref="${DETECT_JOBS:-1}"

note "detect (single process, --jobs $jobs_ref)"
detect_rates=()
detect_cpu_rates=()
for r in $(seq 1 "$runs"); do
    children_cpu c0
    "$bin" detect "$log" --detectors "$detectors" --jobs "$jobs_ref" --no-progress >"$data/scaleout-detect.jsonl" 2>"$data/scaleout-detect.err" || die "detect failed"
    children_cpu c1
    detect_rates+=("$(sed -n 's/.*(\([0-9]*\) flows\/s).*/\1/p' "$data/scaleout-detect.err" | tail -n 1)")
    flows="$(sed -n 's/^flowhound: \([0-9]*\) flows in.*/\1/p' "$data/scaleout-detect.err" | tail -n 1)"
    detect_cpu_rates+=("$(python3 -c "print(int($flows/($c1-$c0)))")")
done
expected="$(wc -l <"$data/scaleout-detect.jsonl")"
note "$flows flows, $expected alerts"

declare -A pub_rates drain_rates e2e_rates cpu_rates shares last_ckpt
run=0
for n in "${counts[@]}"; do
    for r in $(seq 1 "$runs"); do
        run=$((run + 1))
        stream="bench$run"
        t0=$(now)
        "$bin" publish "$log" --nats "$url" --stream "$stream" --end-of-input --no-progress 2>"$data/scaleout-publish.err" || die "publish failed: $(tail -n 2 "$data/scaleout-publish.err")"
        t1=$(now)
        children_cpu c0
        rm -f "$data"/scaleout-worker*.err # an earlier invocation's, of more workers, would be counted
        pids=()
        for w in $(seq 1 "$n"); do
            "$bin" worker --nats "$url" --stream "$stream" --alerts-stream "alerts$run" --id "w$w" --drain \
                --lease-ttl 1.5 --checkpoint-interval 1 --detectors "$detectors" --threads 1 2>"$data/scaleout-worker$w.err" &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p" || die "a worker failed: $(tail -n 3 "$data"/scaleout-worker*.err)"; done
        t2=$(now)
        children_cpu c1
        cpu_rates[$n]+="$(python3 -c "print(int($flows/($c1-$c0)))") "
        # "CPU: detection D s, broker calls B s (...), checkpoints E s encoding and W s writing (...), lease rounds L s (...), other threads O s, process P s"
        shares[$n]+="$(cat "$data"/scaleout-worker*.err | sed -n 's/.*CPU: detection \([0-9.]*\) s, broker calls \([0-9.]*\) s.*checkpoints \([0-9.]*\) s encoding and \([0-9.]*\) s writing.*lease rounds \([0-9.]*\) s.*other threads \([0-9.]*\) s, process \([0-9.]*\) s.*/\1 \2 \3 \4 \5 \6 \7/p' |
            awk '{ for (i = 1; i <= 7; i++) t[i] += $i } END { if (t[7] > 0) printf "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f", t[1]/t[7], t[2]/t[7], t[3]/t[7], t[4]/t[7], t[5]/t[7], t[6]/t[7] }') "
        cp "$data/scaleout-worker1.err" "$data/scaleout-n$n-r$r-worker1.log"
        last_ckpt[$n]="$(sed -n 's/.*(\([0-9]*\), the last \([0-9]*\) bytes over \([0-9]*\) partitions\?, the longest \([0-9.]*\) s wall).*/\1 checkpoints, the last \2 bytes over \3 partitions, the longest \4 s/p' "$data/scaleout-worker1.err" | tail -n 1)"
        published="$(cat "$data"/scaleout-worker*.err | sed -n 's/.* stopped; [0-9]* flows, \([0-9]*\) alerts published/\1/p' | awk '{s+=$1} END {print s+0}')"
        [[ "$published" == "$expected" ]] || die "$n workers published $published alerts; detect printed $expected"
        pub_rates[$n]+="$(python3 -c "print(int($flows/($t1-$t0)))") "
        drain_rates[$n]+="$(python3 -c "print(int($flows/($t2-$t1)))") "
        e2e_rates[$n]+="$(python3 -c "print(int($flows/($t2-$t0)))") "
        note "$n worker(s), run $r: publish $(python3 -c "print(round($t1-$t0,2))") s, drain $(python3 -c "print(round($t2-$t1,2))") s"
    done
done

report="$data/scaleout-results.md"
d=$(printf '%s\n' "${detect_rates[@]}" | median)
dc=$(printf '%s\n' "${detect_cpu_rates[@]}" | median)
{
    echo "Log: $flows flows, $expected alerts; detectors $detectors; medians of $runs runs."
    echo
    echo "| setup | publish flows/s | workers flows/s (drain) | per worker | end to end flows/s | vs detect | flows per CPU second | per core vs detect |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    echo "| detect --jobs $jobs_ref, one process | | | | $d | 1.00 | $dc | 1.00 |"
    for n in "${counts[@]}"; do
        p=$(tr ' ' '\n' <<<"${pub_rates[$n]}" | grep . | median)
        w=$(tr ' ' '\n' <<<"${drain_rates[$n]}" | grep . | median)
        e=$(tr ' ' '\n' <<<"${e2e_rates[$n]}" | grep . | median)
        c=$(tr ' ' '\n' <<<"${cpu_rates[$n]}" | grep . | median)
        echo "| $n worker(s) | $p | $w | $((w / n)) | $e | $(python3 -c "print(f'{$e/$d:.2f}')") | $c | $(python3 -c "print(f'{$c/$dc:.2f}')") |"
    done
    echo
    echo "Where the workers' CPU went, as shares of the workers' processes' CPU (medians of the runs):"
    echo
    echo "| setup | detection | broker calls (fetch, acknowledge, publish alerts) | checkpoint encoding | checkpoint writing | lease rounds | NATS client and other threads | checkpoints of worker 1's last run |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    for n in "${counts[@]}"; do
        row="| $n worker(s) "
        for k in 1 2 3 4 5 6; do
            row+="| $(tr ' ' '\n' <<<"${shares[$n]}" | grep . | cut -d, -f"$k" | median | awk '{printf "%.1f %%", 100 * $1}') "
        done
        echo "$row| ${last_ckpt[$n]} |"
    done
    echo
    echo "Machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)); nats-server $(nats-server --version | awk '{print $NF}'), one node, file storage. Revision $(git -C "$repo" rev-parse --short HEAD). Date: $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Command: \`Benchmarks/run-scaleout.sh $runs ${counts[*]}\`"
} | tee "$report"
note "written to $report"
