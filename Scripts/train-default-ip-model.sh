#!/usr/bin/env bash
# Trains the IP model that ships with Flowhound and reports how it does on held-out networks, on
# held-out autonomous systems and, when the labelled real logs are at hand, on real remote addresses.
#
#   Scripts/train-default-ip-model.sh [OUT]    (default: Sources/Reputation/Resources/ip-model.safetensors)
#   REAL_FLOWS=DIR  the labelled logs (default: ../shared/data/flows; skipped when absent)
#   AS_SEEDS="1 2 3 4"  seeds of the held-out-AS models: which ASes land in the test part moves
#                   that figure by several hundredths, so it is measured over several draws
#
# Data: Data/reputation (see its SOURCES.md): IPsum addresses on at least two blocklists as malicious;
# 1,000 addresses from each AS of service-ases.txt (their networks in service-networks/, drawn
# uniformly over each AS's address space) as benign. Facts, the AS profiles included, from the
# system's libloc database (Debian libloc-database), so the model needs it when scoring.
#
# Each AS's record: IPsum's addresses on exactly one blocklist (ipsum-1.txt, none of them a training
# row) counted by AS (--as-listing), so that an operator dense with listed addresses is judged so
# even where the model never saw it, and a large carrier with few is not. With that record the hashed
# ASN is left out (--asn-buckets 0): it only memorised the ASes of the training data.
#
# Each address's neighbourhood: the same single-list addresses counted in its /24, /22, /20 and /16
# (--network-listing). Attackers cluster, and a service network holds next to no listed address even
# inside a hoster with a poor record, so this tells a clean server there from its listed neighbours.
#
# The forest has three quarters of the ensemble's say (--forest-weight 0.75): held out by AS it ranked
# better than the network. The threshold is chosen for recall 0.915 on validation, which keeps recall
# on the held-out networks above 0.9 with seed 1 (0.92); at 0.93 recall there is 0.935 and the real
# benign remote ends below are flagged 16 % of the time instead of 15 %, at 0.91 recall falls to 0.90.
# That choice was made looking at the real remote ends, so their figure is not an unseen test.
#
# Rows are split by /24: no network is in both training and test. The same data, database, seed
# and thread count give the same weights (the model card's creation time differs).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-Sources/Reputation/Resources/ip-model.safetensors}"
real="${REAL_FLOWS:-../shared/data/flows}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
d=Data/reputation
inputs=(--malicious "$d/ipsum-2plus.txt" --min-count 2 --benign "$d"/service-networks/AS*.txt --samples-per-list 1000)
settings=(--as-listing "$d/ipsum-1.txt" --network-listing "$d/ipsum-1.txt" --asn-buckets 0 --forest-weight 0.75 --target-recall 0.915 --threads 2)
training=("${settings[@]}" --seed 1)

swift build -c release --product flowhound >&2
bin="$(swift build -c release --show-bin-path)/flowhound"

"$bin" train ip "${inputs[@]}" "${training[@]}" -o "$out"
echo "== held-out /24 networks (the model's own test part) =="
"$bin" eval ip --model "$out" "${inputs[@]}"
for seed in ${AS_SEEDS:-1 2 3 4}; do
    echo "== held-out autonomous systems, seed $seed (a model trained with --split-by asn, not shipped) =="
    "$bin" train ip "${inputs[@]}" "${settings[@]}" --seed "$seed" -o "$work/asn.safetensors" --split-by asn >/dev/null
    "$bin" eval ip --model "$work/asn.safetensors" "${inputs[@]}"
done

honeypot="$real/zeek/stratosphere-008-mixed.conn.log.labeled"
cic="$real/cicflowmeter/cicids2017-improved-benign-5000.csv"
if [ -f "$honeypot" ] && [ -f "$cic" ]; then
    # The honeypot's remote ends (its monitored host is 147.32.81.167) by the log's own labels, and
    # every address of the CIC-IDS2017 benign flows (eval ip leaves out the private ones).
    remote='{ r = ($3 == "147.32.81.167") ? $5 : $3 }'
    awk -F'\t' "!/^#/ && \$22 == \"Benign\" $remote { print r }" "$honeypot" | sort -u >"$work/honeypot-benign.txt"
    awk -F'\t' "!/^#/ && \$22 == \"Malicious\" $remote { print r }" "$honeypot" | sort -u >"$work/honeypot-malicious.txt"
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["Src IP"]; print $c["Dst IP"] }' "$cic" | sort -u >"$work/cic-benign.txt"
    echo "== real remote addresses: the honeypot's attackers against its and CIC-IDS2017's benign remote ends =="
    "$bin" eval ip --model "$out" --malicious "$work/honeypot-malicious.txt" --benign "$work/honeypot-benign.txt" "$work/cic-benign.txt" --split all
    echo "== the same, the honeypot's benign remote ends alone =="
    "$bin" eval ip --model "$out" --malicious "$work/honeypot-malicious.txt" --benign "$work/honeypot-benign.txt" --split all
else
    echo "(no labelled real logs under $real: the real-address evaluation is skipped)"
fi
ls -l "$out"
