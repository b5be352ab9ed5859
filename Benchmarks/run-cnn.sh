#!/usr/bin/env bash
# CNN benchmark: Flowhound's scan CNN against the same network in TensorFlow/Keras, same data, 2 threads each.
#
#   Benchmarks/run-cnn.sh [EPOCHS] [RUNS]        (defaults: 5 epochs, 3 runs)
#
# Environment:
#   BENCH_DATA   scratch directory for the dataset, models and cnn-results.md (default: <repo>/.build-bench-data)
#   PYTHON       interpreter used to create the venv (default: python3)
#
# Builds flowhound in release, makes a venv with tensorflow-cpu in Benchmarks/.venv-keras, makes one
# synthetic dataset (reused on later runs), then RUNS times (seeds 1..RUNS) trains and evaluates the
# scan CNN with `flowhound train scan` / `flowhound eval scan` and with Benchmarks/keras/compare_cnn.py
# (same architecture, Adam 1e-3, batch 64, EPOCHS epochs, no early stopping), and prints a Markdown
# table of medians over the runs that is also written to $BENCH_DATA/cnn-results.md. Nothing is
# pinned to a core: both frameworks use 2 threads.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
command_line="$0${*:+ $*}"
[[ -n "${BENCH_DATA:-}" ]] && command_line="BENCH_DATA=$BENCH_DATA $command_line"

die() { echo "run-cnn.sh: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

epochs="${1:-5}"
runs="${2:-3}"
[[ $# -le 2 ]] || die "usage: $0 [EPOCHS] [RUNS]"
[[ "$epochs" =~ ^[1-9][0-9]*$ ]] || die "EPOCHS must be a positive whole number, not '$epochs'"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
threads=2
batch=64

data="${BENCH_DATA:-$repo/.build-bench-data}"
mkdir -p "$data" || die "cannot create the data directory $data"
data="$(cd "$data" && pwd)"
dataset="$data/cnn-dataset"

# --- tools -----------------------------------------------------------------------------------------
command -v swift >/dev/null || die "swift is not on PATH"
note "building flowhound (release)"
(cd "$repo" && swift build -c release --product flowhound) >&2 || die "swift build -c release --product flowhound failed"
bin="$(cd "$repo" && swift build -c release --show-bin-path)/flowhound"
[[ -x "$bin" ]] || die "built, but $bin is missing"
"$bin" train scan --help >/dev/null 2>&1 || die "$bin has no 'train scan' command"
"$bin" eval scan --help >/dev/null 2>&1 || die "$bin has no 'eval scan' command"
# The revision that was built (noted now: the sources may change while the benchmarks run).
revision="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$repo" status --porcelain -- Sources Package.swift 2>/dev/null)" ]]; then
    revision="$revision (with uncommitted changes to Sources/)"
fi
flowhound_version="$("$bin" --version 2>/dev/null || echo unknown)"

venv="$here/.venv-keras"
py="$venv/bin/python"
if [[ ! -x "$py" ]]; then
    base_python="${PYTHON:-python3}"
    command -v "$base_python" >/dev/null || die "$base_python not found; install Python 3 (apt-get install python3 python3-venv)"
    note "creating venv $venv"
    if ! "$base_python" -m venv "$venv" >&2; then
        rm -rf "$venv"
        echo "run-cnn.sh: error: '$base_python -m venv' failed." >&2
        echo "  On Debian/Ubuntu the venv module is a separate package; install it with:" >&2
        echo "    apt-get update && apt-get install -y python3-venv" >&2
        echo "  or point PYTHON at an interpreter that has venv (e.g. PYTHON=/usr/local/bin/python3)." >&2
        exit 1
    fi
fi
if ! "$py" -c 'import numpy, tensorflow' 2>/dev/null; then
    note "installing tensorflow-cpu and numpy from PyPI into $venv"
    "$py" -m pip install -q tensorflow-cpu numpy >&2 || die "pip install tensorflow-cpu numpy failed (is PyPI reachable?)"
fi
tf_version="$(TF_CPP_MIN_LOG_LEVEL=3 "$py" -c 'import tensorflow as tf; print(tf.__version__)' 2>/dev/null)" \
    || die "tensorflow does not import in $venv"
python_version="$("$py" -c 'import platform; print(platform.python_version())')"
note "TensorFlow $tf_version on Python $python_version"

# --- data ------------------------------------------------------------------------------------------
# Made once and reused (meta.json is written last). Written to a temporary name and renamed, so an
# interrupted run never leaves a partial dataset behind.
if [[ ! -s "$dataset/meta.json" ]]; then
    note "making the dataset -> $dataset"
    rm -rf "$dataset" "$dataset.partial"
    "$bin" dataset --synth-seed 11 --synth-duration 2h --synth-benign 400 --synth-scan-prevalence 0.5 \
        --window 600 -o "$dataset.partial" >&2 || { rm -rf "$dataset.partial"; die "flowhound dataset failed"; }
    mv "$dataset.partial" "$dataset"
else
    note "reusing the dataset $dataset"
fi

# --- runs ------------------------------------------------------------------------------------------
for r in $(seq 1 "$runs"); do
    model="$data/cnn-run$r.safetensors"
    note "run $r/$runs: flowhound train scan ($epochs epochs, seed $r)"
    "$bin" train scan --data "$dataset" -o "$model" --epochs "$epochs" --batch-size "$batch" --seed "$r" \
        --patience 0 --threads "$threads" --json >"$data/cnn-run$r-train.json" \
        || die "flowhound train scan failed (run $r)"
    note "run $r/$runs: flowhound eval scan"
    "$bin" eval scan --model "$model" --data "$dataset" --threads "$threads" --json >"$data/cnn-run$r-eval.json" \
        || die "flowhound eval scan failed (run $r)"
    # Throughput over every image (train and test), the median of three passes, as Keras is timed.
    for pass in 1 2 3; do
        "$bin" eval scan --model "$model" --data "$dataset" --split all --threads "$threads" --json \
            >"$data/cnn-run$r-infer$pass.json" || die "flowhound eval scan --split all failed (run $r)"
    done
    "$py" - "$data/cnn-run$r-eval.json" "$data"/cnn-run$r-infer{1,2,3}.json <<'PY' || die "cannot merge the timings of run $r"
import json, statistics, sys
path, passes = sys.argv[1], sys.argv[2:]
result = json.load(open(path))
result["inference_samples_per_second"] = statistics.median(json.load(open(p))["inference_samples_per_second"] for p in passes)
json.dump(result, open(path, "w"), indent=1)
PY
    note "run $r/$runs: keras ($epochs epochs, seed $r)"
    "$py" "$here/keras/compare_cnn.py" --data "$dataset" --model "$model" --epochs "$epochs" --batch-size "$batch" \
        --threads "$threads" --seed "$r" --json "$data/cnn-run$r-keras.json" >&2 \
        || die "compare_cnn.py failed (run $r)"
done

# --- report ----------------------------------------------------------------------------------------
cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1 || true)"
[[ -n "$cpu" ]] || cpu="$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"

report="$data/cnn-results.md"
"$py" - "$data" "$dataset" "$runs" "$epochs" >"$report.partial" <<'PY' || { rm -f "$report.partial"; die "could not build the report"; }
import json, statistics, sys

data, dataset, runs, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def load(path):
    """A JSON object from a file: the whole text, or else its last line that looks like one."""
    try:
        text = open(path).read()
    except OSError as error:
        sys.exit(f"run-cnn.sh: error: cannot read {path}: {error}")
    try:
        return json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip().startswith("{")]
        try:
            return json.loads(lines[-1])
        except (IndexError, ValueError):
            sys.exit(f"run-cnn.sh: error: {path} holds no JSON object")

def field(obj, key, path):
    if key not in obj:
        sys.exit(f"run-cnn.sh: error: {path} has no '{key}'")
    return obj[key]

metrics = ("training samples/s", "inference samples/s", "test accuracy", "lowest scan-kind recall")
fh = {m: [] for m in metrics}
ks = {m: [] for m in metrics}
predict, per_run, warnings = [], [], []
for r in range(1, runs + 1):
    train_path, eval_path, keras_path = (f"{data}/cnn-run{r}-{name}.json" for name in ("train", "eval", "keras"))
    train, ev, keras = load(train_path), load(eval_path), load(keras_path)
    recall = field(ev, "recall_by_kind", eval_path)
    scan_kinds = field(ev, "scan_kinds", eval_path)
    missing = [k for k in scan_kinds if k not in recall]
    if missing or not scan_kinds:
        sys.exit(f"run-cnn.sh: error: {eval_path}: no recall for scan kinds {missing or '(none listed)'}")
    trained = field(train, "epochs", train_path)
    if len(trained) != epochs:
        warnings.append(f"run {r}: Flowhound trained {len(trained)} epochs, not {epochs}")
    if keras["epochs"] != epochs or len(keras["epoch_samples_per_second"]) != epochs:
        warnings.append(f"run {r}: Keras trained {len(keras['epoch_samples_per_second'])} epochs, not {epochs}")
    if set(keras["scan_recall_by_kind"]) != set(scan_kinds):
        warnings.append(f"run {r}: scan kinds differ: Flowhound {sorted(scan_kinds)}, Keras {sorted(keras['scan_recall_by_kind'])}")
    f = (field(train, "training_samples_per_second", train_path), field(ev, "inference_samples_per_second", eval_path),
         field(ev, "accuracy", eval_path), min(recall[k] for k in scan_kinds))
    k = (keras["training_samples_per_second"], keras["inference_samples_per_second"],
         keras["test_accuracy"], keras["min_scan_recall"])
    for m, a, b in zip(metrics, f, k):
        fh[m].append(float(a))
        ks[m].append(float(b) if b is not None else float("nan"))
    predict.append(keras["predict_samples_per_second"])
    per_run.append((r, f, k))

def show(metric, x):
    return f"{x:,.0f}" if metric.endswith("samples/s") else f"{x:.4f}"

def ratio(metric, a, b):
    if not b:
        return "n/a"
    return f"{a / b:.2f}×" if metric.endswith("samples/s") else f"{a / b:.3f}"

def count(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")

print(f"| {count(epochs, 'epoch')}, {count(runs, 'run')} | Flowhound (median) | Keras (median) | Flowhound / Keras |")
print("|---|---:|---:|---:|")
for m in metrics:
    a, b = statistics.median(fh[m]), statistics.median(ks[m])
    print(f"| {m} | {show(m, a)} | {show(m, b)} | {ratio(m, a, b)} |")
print()
print("Each run (seed = run number): Flowhound / Keras")
print()
print("| run | training samples/s | inference samples/s | test accuracy | lowest scan-kind recall |")
print("|---:|---:|---:|---:|---:|")
for r, f, k in per_run:
    cells = " | ".join(f"{show(m, a)} / {show(m, b)}" for m, a, b in zip(metrics, f, k))
    print(f"| {r} | {cells} |")
print()
meta = json.load(open(f"{dataset}/meta.json"))
print(f"Data: {meta['train']['count']} training and {meta['test']['count']} test images ({' × '.join(map(str, meta['shape']))}), "
      f"synthetic traffic (flowhound dataset --synth-seed 11 --synth-duration 2h --synth-benign 400 "
      f"--synth-scan-prevalence 0.5 --window 600). Batch 64, Adam 1e-3, no early stopping.")
print(("Training samples/s: in each run the median epoch throughput leaving out the first epoch (graph "
       "tracing, warm-up), then the median over runs." if epochs >= 2 else
       "Training samples/s: the one epoch of each run, warm-up (and Keras's graph tracing) included, then "
       "the median over runs.") +
      " Inference: every image (train and test), the median of three passes; Flowhound through eval scan "
      "(batches of 64 over both cores), Keras in batches of 256 through a tf.function around "
      "model(x, training=False), its fastest path here; "
      f"Keras model.predict(batch_size=256) gave {statistics.median(predict):,.0f} samples/s (median).")
if warnings:
    print()
    print("Warnings: " + "; ".join(warnings) + ".")
PY
cat >>"$report.partial" <<EOF

Machine: $(nproc) cores ($cpu); both frameworks $threads threads, unpinned, one after the other.
Flowhound $flowhound_version, revision $revision; TensorFlow $tf_version (tensorflow-cpu), Python $python_version.
Date: $(date -u '+%Y-%m-%d %H:%M UTC').
Command: \`$command_line\`
EOF
mv "$report.partial" "$report"

echo
cat "$report"
echo
note "written to $report"
