#!/usr/bin/env bash
# Reader benchmarks: Flowhound's streaming readers against pandas on the same files, same run, same core.
#
#   Benchmarks/run-readers.sh [RECORDS] [RUNS]        (defaults: 1000000 records, 5 runs)
#
# Environment:
#   BENCH_DATA   scratch directory for generated logs and results.md (default: <repo>/.build-bench-data)
#   PYTHON       interpreter used to create the venv (default: python3)
#
# Builds flowhound-bench in release, makes a venv with pandas in Benchmarks/.venv-bench, generates one
# log per format (reused on later runs: the record count is in the file name), times both readers
# pinned to core 0, checks peak RSS on a Zeek log 5x larger, and prints a Markdown table that is also
# written to $BENCH_DATA/results.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
command_line="$0${*:+ $*}"
[[ -n "${BENCH_DATA:-}" ]] && command_line="BENCH_DATA=$BENCH_DATA $command_line"

die() { echo "run-readers.sh: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

records="${1:-1000000}"
runs="${2:-5}"
[[ $# -le 2 ]] || die "usage: $0 [RECORDS] [RUNS]"
[[ "$records" =~ ^[1-9][0-9]*$ ]] || die "RECORDS must be a positive whole number, not '$records'"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$runs'"
big=$((records * 5))

formats=(zeek zeek-json nfdump argus vpc cicflowmeter csv jsonl)
data="${BENCH_DATA:-$repo/.build-bench-data}"
mkdir -p "$data" || die "cannot create the data directory $data"
data="$(cd "$data" && pwd)"

# --- tools -----------------------------------------------------------------------------------------
command -v swift >/dev/null || die "swift is not on PATH"
note "building flowhound-bench (release)"
# SwiftPM reads the main package's sources when it plans this package's build, and plans again only
# when a manifest changes: a file added to a library target since would be missing ("cannot find ...
# in scope"). Touching this manifest makes it plan again (a few seconds).
touch "$here/Package.swift"
swift build -c release --package-path "$here" >&2 || die "swift build -c release --package-path $here failed"
bin="$(swift build -c release --package-path "$here" --show-bin-path)/flowhound-bench"
[[ -x "$bin" ]] || die "built, but $bin is missing"
# The revision that was built (noted now: the sources may change while the benchmarks run).
revision="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$repo" status --porcelain -- Sources Package.swift 2>/dev/null)" ]]; then
    revision="$revision (with uncommitted changes to Sources/)"
fi

venv="$here/.venv-bench"
py="$venv/bin/python"
if [[ ! -x "$py" ]]; then
    base_python="${PYTHON:-python3}"
    command -v "$base_python" >/dev/null || die "$base_python not found; install Python 3 (apt-get install python3 python3-venv)"
    note "creating venv $venv"
    if ! "$base_python" -m venv "$venv" >&2; then
        rm -rf "$venv"
        echo "run-readers.sh: error: '$base_python -m venv' failed." >&2
        echo "  On Debian/Ubuntu the venv module is a separate package; install it with:" >&2
        echo "    apt-get update && apt-get install -y python3-venv" >&2
        echo "  or point PYTHON at an interpreter that has venv (e.g. PYTHON=/usr/local/bin/python3)." >&2
        exit 1
    fi
fi
if ! "$py" -c 'import pandas' 2>/dev/null; then
    note "installing pandas from PyPI into $venv"
    "$py" -m pip install -q pandas >&2 || die "pip install pandas failed (is PyPI reachable?)"
fi
pandas_version="$("$py" -c 'import pandas; print(pandas.__version__)')"
python_version="$("$py" -c 'import platform; print(platform.python_version())')"
note "pandas $pandas_version on Python $python_version"

pin=()
pinning="pinned to core 0 with taskset -c 0"
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
    pin=(taskset -c 0)
else
    pinning="NOT pinned (taskset missing or core 0 not allowed); both readers ran unpinned"
    echo "run-readers.sh: warning: taskset is missing or cannot use core 0; running readers unpinned" >&2
fi

# --- data ------------------------------------------------------------------------------------------
# generate FORMAT COUNT: prints the path of a log of COUNT records, generating it unless present.
# Written to a temporary name and renamed, so an interrupted run never leaves a short file behind.
generate() {
    local format="$1" count="$2" file="$data/$1-$2.log"
    if [[ ! -s "$file" ]]; then
        note "generating $format, $count records -> $file"
        "$bin" generate "$format" "$count" "$file.partial" >&2 || { rm -f "$file.partial"; die "generating $format failed"; }
        mv "$file.partial" "$file"
    fi
    echo "$file"
}

# measure LABEL COMMAND...: runs a reader, checks it printed a JSON line, prints that line.
measure() {
    local label="$1" out
    shift
    note "$label"
    out="$("$@")" || die "$label failed: $*"
    out="$(tail -n 1 <<<"$out")"
    [[ "$out" == "{"*"}" ]] || die "$label printed no JSON result: $out"
    echo "$out"
}

results="$data/raw-$records-$runs.tsv"
: >"$results"
for format in "${formats[@]}"; do
    file="$(generate "$format" "$records")"
    bytes="$(stat -c %s "$file")"
    fh="$(measure "flowhound $format" "${pin[@]}" "$bin" read "$file" "$runs")"
    pd="$(measure "pandas $format" "${pin[@]}" "$py" "$here/pandas_read.py" "$format" "$file" "$runs")"
    printf '%s\t%s\t%s\t%s\n' "$format" "$bytes" "$fh" "$pd" >>"$results"
done

# Memory: the same reader on a Zeek log five times larger should need the same memory.
zeek_big="$(generate zeek "$big")"
memory="$data/raw-memory-$records-$runs.tsv"
printf '%s\t%s\t%s\n' 1 "$(stat -c %s "$data/zeek-$records.log")" "$(cut -f3 <(grep -P '^zeek\t' "$results"))" >"$memory"
big_out="$(measure "flowhound zeek x5 (memory check)" "${pin[@]}" "$bin" read "$zeek_big" "$runs")"
printf '%s\t%s\t%s\n' 5 "$(stat -c %s "$zeek_big")" "$big_out" >>"$memory"

# --- report ----------------------------------------------------------------------------------------
cpu="$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
swift_version="$(swift --version 2>&1 | head -n 1)"

report="$data/results.md"
"$py" - "$results" "$memory" "$records" "$runs" >"$report.partial" <<'PY' || die "could not build the report"
import json, sys

results, memory, records, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
targets = {"zeek": 1_500_000, "nfdump": 1_500_000, "vpc": 1_000_000}

def mib(kib):
    return f"{kib / 1024:.0f}"

def rate(x):
    return f"{x / 1e6:.2f} M"

rows, problems, missed = [], [], []
for line in open(results):
    fmt, size, fh, pd = line.rstrip("\n").split("\t")
    fh, pd = json.loads(fh), json.loads(pd)
    f, p = fh["median_records_per_s"], pd["median_records_per_s"]
    ratio = f / p if p else float("inf")
    rows.append(f"| {fmt} | {int(size) / 1e6:.0f} | {rate(f)} | {rate(p)} | {ratio:.1f}× "
                f"| {mib(fh['peak_rss_kib'])} | {mib(pd['peak_rss_kib'])} |")
    if fh["records"] != records:
        problems.append(f"{fmt}: Flowhound read {fh['records']} records, expected {records}")
    if pd["records"] != records:
        problems.append(f"{fmt}: pandas read {pd['records']} records, expected {records}")
    if fmt in targets and f < targets[fmt]:
        missed.append(f"{fmt}: {rate(f)}/s is below the {rate(targets[fmt])}/s target")
    if ratio < 5:
        missed.append(f"{fmt}: {ratio:.2f}× pandas is below the 5× target")

print("| format | file MB | Flowhound records/s (median) | pandas records/s (median) | ratio "
      "| Flowhound peak RSS MiB | pandas peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|---:|")
print("\n".join(rows))
print()
print("Memory while streaming (Zeek TSV, Flowhound):")
print()
print("| file | records | file MB | records/s (median) | peak RSS MiB |")
print("|---|---:|---:|---:|---:|")
mem = []
for line in open(memory):
    scale, size, out = line.rstrip("\n").split("\t")
    out = json.loads(out)
    mem.append(out["peak_rss_kib"])
    print(f"| {scale}× | {out['records']} | {int(size) / 1e6:.0f} | {rate(out['median_records_per_s'])} "
          f"| {mib(out['peak_rss_kib'])} |")
    if out["records"] != records * int(scale):
        problems.append(f"zeek {scale}×: Flowhound read {out['records']} records, expected {records * int(scale)}")
print()
growth = mem[1] / mem[0] if mem[0] else float("inf")
print(f"Peak RSS on the 5× file is {growth:.2f}× that on the 1× file"
      + (" (flat)." if growth < 1.25 else " — NOT flat."))
if growth >= 1.25:
    missed.append(f"memory: peak RSS grew {growth:.2f}× on a 5× larger file")
print()
print("Targets: ≥ 1.5 M records/s for zeek and nfdump, ≥ 1 M/s for vpc, ≥ 5× pandas on every format, flat memory.")
print("Missed: " + ("; ".join(missed) if missed else "none") + ".")
if problems:
    print()
    print("Record-count problems: " + "; ".join(problems) + ".")
PY
cat >>"$report.partial" <<EOF

Machine: $(nproc) cores ($cpu), $swift_version, Python $python_version, pandas $pandas_version (default C parser).
Flowhound revision: $revision. Both readers $pinning, one after the other, $runs runs each, medians.
Records/s: M = 10^6 records per second. File MB: 10^6 bytes. Peak RSS: getrusage ru_maxrss of each process.
Date: $(date -u '+%Y-%m-%d %H:%M UTC').
Command: \`$command_line\`
EOF
mv "$report.partial" "$report"

echo
cat "$report"
echo
note "written to $report"
