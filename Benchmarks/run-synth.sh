#!/usr/bin/env bash
# Times `flowhound synth` (about 1.2 M flows) and `flowhound dataset` on its output, release build,
# RUNS runs each, medians. Usage: Benchmarks/run-synth.sh [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=${1:-5}
data=${BENCH_DATA:-$repo/.build-bench-data}
mkdir -p "$data"
cd "$repo"
swift build -c release --product flowhound >/dev/null
bin=$repo/.build/release/flowhound

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
seconds() { local start end; start=$(date +%s.%N); "$@" 2>/dev/null; end=$(date +%s.%N); awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a / b }'; }

synth=(synth --seed 1 --benign 800 --scan-prevalence 0.25 --format zeek -o "$data/synth.log" --truth "$data/synth.truth")
times=$(for _ in $(seq "$runs"); do seconds "$bin" "${synth[@]}"; done | median)
flows=$("$bin" "${synth[@]}" 2>&1 | sed -E 's/.*wrote ([0-9]+) flows.*/\1/')
echo "| step | work | median seconds | rate |"
echo "|---|---|---:|---:|"
printf '| synth (zeek) | %s flows | %.2f | %s flows/s |\n' "$flows" "$times" "$(ratio "$flows" "$times")"
for window in 3600 60; do
  out="$data/dataset-$window"
  t=$(for _ in $(seq "$runs"); do seconds "$bin" dataset "$data/synth.log" --truth "$data/synth.truth" --window "$window" -o "$out"; done | median)
  images=$(python3 -c "import json; m = json.load(open('$out/meta.json')); print(m['train']['count'] + m['test']['count'])")
  printf '| dataset, %ss windows (read + image + write) | %s images from %s flows | %.2f | %s images/s, %s flows/s |\n' \
    "$window" "$images" "$flows" "$t" "$(ratio "$images" "$t")" "$(ratio "$flows" "$t")"
done
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(swift --version 2>&1 | head -1)"
echo "Revision: $(git -C "$repo" rev-parse --short HEAD); command: Benchmarks/run-synth.sh $runs; $(date -u '+%Y-%m-%d %H:%M UTC')"
