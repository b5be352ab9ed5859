#!/usr/bin/env bash
# Trains the scan CNN that ships with Flowhound and checks it on traffic it never saw.
#
#   Scripts/train-default-model.sh [OUT]      (default: Sources/Detection/Resources/scan-cnn.safetensors)
#
# Training data, all synthetic, 10-minute images of whole windows and of windows still open, as
# detection's CNN judges them each minute:
#   - the default mix: seed 2026, 4 hours, 600 benign sources of every default kind and as many
#     scanning ones;
#   - hard negatives: 150 busy clients (seed 2027), phones and laptops whose HTTPS meets dead CDN
#     edges, whose DNS over TLS is refused and whose STUN relays never answer;
#   - sweeps that meet live hosts: seed 2028, horizontal and block scans of a /24 where half the
#     addresses answer, beside 150 benign sources, so that a row with a few answered hosts among many
#     failed ones is seen as the sweep it is (in the default /16, sweeps rarely meet a host);
#   - scans hidden in a workstation's browsing: seed 2029, 50 sources probing 5-14 ports of one host
#     every 10 minutes among their own web traffic, beside web and busy clients, so that answered
#     connections around a host's failed ports do not pass for a busy client.
# Held-out checks: a different seed (7) with 60 busy clients and 20 hidden scans of seed 8, so a
# different network, different sources and different scan parameters, every image scored, whole and
# open windows reported apart; then the real captures in Tests/Fixtures/realtools (real scanners and
# clients in a network namespace, as Argus and nfdump export them), which no training image comes from.
# The same seeds and thread count give the same model bytes on the same machine type.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-Sources/Detection/Resources/scan-cnn.safetensors}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

swift build -c release --product flowhound >&2
bin="$(swift build -c release --show-bin-path)/flowhound"

synth() {  # synth NAME SEED ARGS...: a JSONL log and its truth in $work
    local name=$1 seed=$2
    shift 2
    "$bin" synth --seed "$seed" --format jsonl -o "$work/$name.jsonl" --truth "$work/$name.truth.csv" "$@"
}
truth() {  # truth OUT IN...: ground-truth files joined under one header
    local out=$1
    shift
    { head -n 1 "$1"; for f in "$@"; do tail -n +2 "$f"; done; } >"$out"
}

synth mix 2026 --duration 4h --benign 600 --scan-prevalence 0.5
synth busy 2027 --duration 4h --benign 150 --benign-kinds busy-client --scan-prevalence 0 --clients 10.4.0.0/16
synth small 2028 --duration 4h --benign 150 --scan-prevalence 0.5 --scan-kinds horizontal,block \
    --network 10.5.0.0/24 --hosts 127 --clients 10.6.0.0/16 --scanners 198.20.0.0/16 --insiders 10.7.0.0/16
synth masked 2029 --duration 4h --benign 150 --scan-prevalence 0.25 --scan-kinds masked --benign-kinds web,busy-client \
    --clients 10.8.0.0/16 --scanners 198.22.0.0/16 --insiders 10.9.0.0/16 --insider-share 1
truth "$work/train.truth.csv" "$work"/{mix,busy,small,masked}.truth.csv
"$bin" dataset "$work"/{mix,busy,small,masked}.jsonl --truth "$work/train.truth.csv" --window 600 -o "$work/train"
"$bin" train scan --data "$work/train" -o "$out" --epochs 20 --patience 3 --seed 1 --threads 2

synth heldout 7 --duration 2h --benign 300 --scan-prevalence 0.5
synth heldbusy 8 --duration 2h --benign 60 --benign-kinds busy-client --scan-prevalence 0.25 --scan-kinds masked \
    --clients 10.4.0.0/16 --insiders 10.9.0.0/16 --insider-share 1
truth "$work/held.truth.csv" "$work"/{heldout,heldbusy}.truth.csv
"$bin" dataset "$work"/{heldout,heldbusy}.jsonl --truth "$work/held.truth.csv" --window 600 -o "$work/held"
echo "== held-out synthetic traffic (seeds 7 and 8, every image) =="
"$bin" eval scan --model "$out" --data "$work/held" --split all

real=Tests/Fixtures/realtools
for log in "$real"/loopback-scans.{argus.csv,binetflow,nfdump.csv,softflowd.nfdump.csv} "$real"/busy-clients.{argus.csv,nfdump.csv.gz}; do
    name=$(basename "$log")
    "$bin" dataset "$log" --truth "$real/${name%%.*}.truth.csv" --window 600 -o "$work/real-$name" 2>/dev/null
    echo "== real capture $name (every image) =="
    "$bin" eval scan --model "$out" --data "$work/real-$name" --split all
done
ls -l "$out"
