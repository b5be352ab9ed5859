#!/usr/bin/env bash
# Trains the scan CNN that ships with Flowhound and checks it on traffic it never saw.
#
#   Scripts/train-default-model.sh [OUT]      (default: Sources/Detection/Resources/scan-cnn.safetensors)
#
# Training data: synthetic traffic (seed 2026, 4 hours, 600 benign sources of every kind and as many
# scanning ones, 10-minute images of whole windows and of windows still open, as detection's CNN
# judges them each minute). Held-out check: a different seed (7), so a different network, different
# sources and different scan parameters; every image of it is scored, whole and open windows
# reported apart. The same seed and
# thread count give the same model bytes on the same machine type.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-Sources/Detection/Resources/scan-cnn.safetensors}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

swift build -c release --product flowhound >&2
bin="$(swift build -c release --show-bin-path)/flowhound"

"$bin" dataset --synth-seed 2026 --synth-duration 4h --synth-benign 600 --synth-scan-prevalence 0.5 --window 600 -o "$work/train"
"$bin" train scan --data "$work/train" -o "$out" --epochs 20 --patience 3 --seed 1 --threads 2
"$bin" dataset --synth-seed 7 --synth-duration 2h --synth-benign 300 --synth-scan-prevalence 0.5 --window 600 -o "$work/heldout"
echo "== held-out synthetic traffic (seed 7, every image) =="
"$bin" eval scan --model "$out" --data "$work/heldout" --split all
ls -l "$out"
