#!/usr/bin/env bash
# Random forest benchmark: Flowhound's Forest against scikit-learn's RandomForestClassifier on the same
# arrays, in one run: fit time, batch predict rows/s, single-row latency, test ROC-AUC.
#
#   Benchmarks/run-forest.sh [RUNS] [TREES] [DATA]     (defaults 3, 100, and the synthetic data)
#
# Environment: BENCH_DATA (default <repo>/.build-bench-data), PYTHON (default python3, for the venv).
# The data is DATA/{train,test}_{X,y}.npy when DATA is given (as `flowhound train ip --export DATA`
# writes the IP model's real feature matrix; Benchmarks/run-ip-forest.sh does that), else
# scikit-learn's make_classification: 100,000 rows × 40 float32 features (75 % train), written once to
# $BENCH_DATA/forest. Both fit the trees with 2 threads and scikit-learn's defaults (Gini, unlimited
# depth, sqrt features, bootstrap). Prints a Markdown table of medians and ratios, also written to
# forest-results.md beside the data.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "run-forest.sh: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

runs="${1:-3}"; trees="${2:-100}"
[[ "$runs" =~ ^[1-9][0-9]*$ && "$trees" =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [RUNS] [TREES] [DATA]"
data="${3:-${BENCH_DATA:-$repo/.build-bench-data}/forest}"
mkdir -p "$data" || die "cannot create $data"
[[ -z "${3:-}" || -s "$data/train_X.npy" ]] || die "$data has no train_X.npy (write it with: flowhound train ip ... --export $data)"

venv="$here/.venv-keras"
if [[ ! -x "$venv/bin/python" ]]; then
    note "creating $venv"
    "${PYTHON:-python3}" -m venv "$venv" || die "cannot create the venv"
fi
"$venv/bin/python" -c "import sklearn" 2>/dev/null || "$venv/bin/pip" install -q scikit-learn numpy >&2 || die "pip install scikit-learn failed"
py="$venv/bin/python"

note "building flowhound-bench (release)"
# SwiftPM reads the main package's sources when it plans this package's build, and plans again only
# when a manifest changes: a file added to a library target since would be missing ("cannot find ...
# in scope"). Touching this manifest makes it plan again (a few seconds).
touch "$here/Package.swift"
swift build -c release --package-path "$here" >&2 || die "swift build failed"
bench="$(swift build -c release --package-path "$here" --show-bin-path)/flowhound-bench"

[[ -s "$data/test_y.npy" ]] || { note "making the data"; "$py" "$here/forest/compare_forest.py" make "$data" || die "cannot make the data"; }

: >"$data/flowhound.jsonl"; : >"$data/sklearn.jsonl"
for r in $(seq 1 "$runs"); do
    note "run $r/$runs: flowhound"
    "$bench" forest "$data" "$trees" 2 >>"$data/flowhound.jsonl" || die "flowhound-bench forest failed"
    note "run $r/$runs: scikit-learn"
    "$py" "$here/forest/compare_forest.py" fit "$data" "$trees" 2 >>"$data/sklearn.jsonl" || die "compare_forest.py failed"
done

"$py" - "$data" "$runs" "$trees" "$0 $*" "$(git -C "$repo" rev-parse --short HEAD)" <<'PY' | tee "$data/forest-results.md"
import json, statistics, sys, sklearn
import numpy as np
data, runs, trees, command, revision = sys.argv[1:]
train, test = np.load(f"{data}/train_X.npy", mmap_mode="r"), np.load(f"{data}/test_X.npy", mmap_mode="r")
def load(name):
    rows = [json.loads(l) for l in open(f"{data}/{name}.jsonl")]
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}
f, s = load("flowhound"), load("sklearn")
print(f"| {trees} trees, 2 threads, median of {runs} | Flowhound | scikit-learn {sklearn.__version__} | ratio |")
print("|---|---:|---:|---:|")
print(f"| fit seconds ({train.shape[0]:,} × {train.shape[1]}) | {f['fit_seconds']:.2f} | {s['fit_seconds']:.2f} | {s['fit_seconds'] / f['fit_seconds']:.2f}× faster |")
print(f"| batch predict rows/s ({test.shape[0]:,}) | {f['batch_rows_per_second']:,.0f} | {s['batch_rows_per_second']:,.0f} | {f['batch_rows_per_second'] / s['batch_rows_per_second']:.1f}× |")
print(f"| single-row latency µs (median) | {f['single_row_microseconds']:.1f} | {s['single_row_microseconds']:.0f} | {s['single_row_microseconds'] / f['single_row_microseconds']:.0f}× lower |")
print(f"| test ROC-AUC | {f['roc_auc']:.4f} | {s['roc_auc']:.4f} | {f['roc_auc'] - s['roc_auc']:+.4f} |")
print(f"| nodes in the forest | {f['nodes']:,.0f} | {s['nodes']:,.0f} | |")
print()
print(f"Command: `{command.strip()}`; revision {revision}.")
PY
