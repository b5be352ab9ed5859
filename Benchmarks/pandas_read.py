#!/usr/bin/env python3
"""Times pandas reading a flow log, for comparison with `flowhound-bench read`.

usage: pandas_read.py FORMAT FILE [RUNS]

FORMAT is one of zeek, zeek-json, nfdump, argus, vpc, cicflowmeter, csv, jsonl (the names
`flowhound-bench generate` takes). The file is read RUNS times (default 5) with the fastest
reasonable pandas call for its format, using pandas's default C parser; only that call is timed.
Prints one JSON line shaped like flowhound-bench's:

  {"file":...,"format":...,"records":N,"runs":R,"median_records_per_s":X,"rates":[...],
   "peak_rss_kib":K,"pandas":"VERSION"}

pandas only splits the text into columns: addresses, times and protocol names stay strings, and
nothing is normalised or validated, so this is a lower bound on what a real pandas pipeline costs.
"""

import gc
import json
import resource
import sys
import time

import pandas as pd

FORMATS = ("zeek", "zeek-json", "nfdump", "argus", "vpc", "cicflowmeter", "csv", "jsonl")


def zeek_fields(path):
    """Column names from the `#fields` header line of a Zeek TSV log."""
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("#"):
                break
            if line.startswith("#fields"):
                return line.rstrip("\r\n").split("\t")[1:]
    sys.exit(f"pandas_read.py: {path}: no #fields line, is this a Zeek TSV log?")


def reader(fmt, path):
    """A zero-argument function that reads `path` once and returns the DataFrame."""
    if fmt == "zeek":
        fields = zeek_fields(path)  # read once, outside the timed call
        return lambda: pd.read_csv(
            path, sep="\t", comment="#", header=None, names=fields, na_values=["-", "(empty)"]
        )
    if fmt in ("nfdump", "argus", "cicflowmeter", "csv"):
        return lambda: pd.read_csv(path)
    if fmt == "vpc":
        return lambda: pd.read_csv(path, sep=" ", header=None)
    if fmt in ("zeek-json", "jsonl"):
        return lambda: pd.read_json(path, lines=True)
    sys.exit(f"pandas_read.py: unknown format {fmt!r}; one of: {', '.join(FORMATS)}")


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit("usage: pandas_read.py FORMAT FILE [RUNS]")
    fmt, path = argv[1], argv[2]
    try:
        runs = int(argv[3]) if len(argv) == 4 else 5
    except ValueError:
        sys.exit(f"pandas_read.py: RUNS must be a whole number, not {argv[3]!r}")
    if runs < 1:
        sys.exit("pandas_read.py: RUNS must be at least 1")
    try:
        open(path, "rb").close()
    except OSError as error:
        sys.exit(f"pandas_read.py: {path}: {error.strerror}")

    read = reader(fmt, path)
    rates = []
    records = 0
    for _ in range(runs):
        started = time.perf_counter()
        df = read()
        seconds = time.perf_counter() - started
        records = len(df)
        rates.append(records / seconds)
        # Drop this run's frame before the next so peak RSS is one frame's worth, as for Flowhound.
        del df
        gc.collect()

    median = sorted(rates)[len(rates) // 2]
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        peak //= 1024
    print(
        json.dumps(
            {
                "file": path,
                "format": fmt,
                "records": records,
                "runs": runs,
                "median_records_per_s": int(median),
                "rates": [int(r) for r in rates],
                "peak_rss_kib": peak,
                "pandas": pd.__version__,
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main(sys.argv)
