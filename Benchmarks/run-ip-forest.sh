#!/usr/bin/env bash
# The random forest of the IP model against scikit-learn's RandomForestClassifier on the real feature
# matrix: the shipped model's training rows (Data/reputation) encoded by `flowhound train ip --export`
# with train ip's default features (210 columns, the hashed AS number among them; the shipped model
# itself uses the AS listing instead and has 84), IPsum addresses on two or more lists against 1,000
# addresses sampled from each AS of Data/reputation/service-ases.txt, facts from the libloc database,
# split by /24. Then Benchmarks/run-forest.sh on it.
#
#   Benchmarks/run-ip-forest.sh [RUNS] [TREES]      (defaults 3 and 100)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
data="${BENCH_DATA:-$repo/.build-bench-data}/ip-forest"
mkdir -p "$data"
swift build -c release --package-path "$repo" --product flowhound >&2
bin="$(swift build -c release --package-path "$repo" --show-bin-path)/flowhound"
d="$repo/Data/reputation"
echo "==> exporting the IP model's feature matrix to $data" >&2
"$bin" train ip --malicious "$d/ipsum-2plus.txt" --min-count 2 \
    --benign "$d"/service-networks/AS*.txt \
    --samples-per-list 1000 --scorer forest --trees 1 --seed 1 -o "$data/model.safetensors" --export "$data" >/dev/null
exec "$here/run-forest.sh" "${1:-3}" "${2:-100}" "$data"
