#!/usr/bin/env bash
# Trains the IP model that ships with Flowhound and reports how it does on held-out networks and on
# held-out autonomous systems.
#
#   Scripts/train-default-ip-model.sh [OUT]    (default: Sources/Reputation/Resources/ip-model.safetensors)
#
# Data: Data/reputation (see its SOURCES.md): IPsum addresses on at least two blocklists as malicious;
# 10,000 addresses sampled from each of the Cloudflare, Akamai, Fastly and Google Cloud range lists as
# benign. Facts from the system's libloc database (Debian libloc-database), so the model needs it when
# scoring. Rows are split by /24: no network is in both training and test. The same data, database,
# seed and thread count give the same weights (the model card's creation time differs).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-Sources/Reputation/Resources/ip-model.safetensors}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
d=Data/reputation
inputs=(--malicious "$d/ipsum-2plus.txt" --min-count 2
        --benign "$d/cloudflare-v4-ip-ranges.txt" "$d/akamai-v4-ip-ranges.txt" "$d/fastly-ip-ranges.json" "$d/google-cloud-ip-ranges.json"
        --samples-per-list 10000)

swift build -c release --product flowhound >&2
bin="$(swift build -c release --show-bin-path)/flowhound"

"$bin" train ip "${inputs[@]}" -o "$out" --seed 1 --threads 2
echo "== held-out /24 networks (the model's own test part) =="
"$bin" eval ip --model "$out" "${inputs[@]}"
echo "== held-out autonomous systems (a model trained with --split-by asn, not shipped) =="
"$bin" train ip "${inputs[@]}" -o "$work/asn.safetensors" --split-by asn --seed 1 --threads 2 >/dev/null
"$bin" eval ip --model "$work/asn.safetensors" "${inputs[@]}"
ls -l "$out"
