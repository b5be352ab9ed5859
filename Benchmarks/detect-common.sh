# Shared by run-detect.sh, run-sources.sh and run-jobs.sh (sourced, not run): the flowhound binary,
# the benchmark logs, one timed `detect` run and medians; run-scaleout.sh takes the binary and medians. The caller sets `here`, `repo`, `data` and
# defines `die` and `note`.

# The flowhound to time: $FLOWHOUND, or a release build of this checkout. Sets `bin`.
flowhound_release() {
    if [[ -n "${FLOWHOUND:-}" ]]; then
        bin="$FLOWHOUND"
        [[ -x "$bin" ]] || die "FLOWHOUND=$bin is not an executable"
    else
        note "building flowhound (release)"
        (cd "$repo" && swift build -c release --product flowhound >&2) || die "swift build failed"
        bin="$(cd "$repo" && swift build -c release --show-bin-path)/flowhound"
    fi
}

# The 8.6 M-flow synthetic Zeek log (325 sources, 2 days), made once. Prints its path.
synthetic_log() {
    local log="$data/detect-5m.log"
    if [[ ! -s "$log" ]]; then
        note "generating $log"
        "$bin" synth --seed 5 --duration 2d --benign 250 --scan-prevalence 0.2 -o "$log" --truth "$data/detect-5m.truth.csv" >&2 \
            || die "synth failed"
    fi
    echo "$log"
}

# The many-source log of FLOWS flows with NAME (one-flow: a source each; four-flows: FLOWS/4 sources),
# made once by sources.py. Prints its path.
sources_log() {
    local name="$1" flows="$2" sources
    case "$name" in
        one-flow) sources="$flows" ;;
        four-flows) sources=$((flows / 4)) ;;
        *) die "no sources log named $name" ;;
    esac
    command -v python3 >/dev/null || die "python3 is missing"
    local log="$data/sources-$name-$flows.csv"
    if [[ ! -s "$log" ]]; then
        note "generating $log"
        python3 "$here/sources.py" "$flows" "$sources" 1 >"$log.part" || die "sources.py failed"
        mv "$log.part" "$log"
    fi
    echo "$log"
}

# One timed `detect LOG ARGS...`: prints "flows_per_second peak_rss_kib scan_episodes". Alerts go to
# $ALERTS (sorted, event.created aside) when it is set, else nowhere.
detect_run() {
    local log="$1" err="$data/detect-run.err"
    shift
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
    if [[ -n "${ALERTS:-}" ]]; then
        # Written to a file and sorted after the timed run: a sort reading the pipe meanwhile would
        # share the cores with detect (a third off the four-flow log's rate with --jobs 2).
        rm -f "$ALERTS.raw"
        /usr/bin/time -f "peak %M" "$bin" detect "$log" "$@" -o "$ALERTS.raw" >/dev/null 2>"$err" \
            || die "detect $* failed on $log: $(tail -n 3 "$err")"
        sed -E 's/"created":"[^"]*"//' "$ALERTS.raw" | LC_ALL=C sort >"$ALERTS" || die "cannot sort the alerts of $log"
        rm -f "$ALERTS.raw"
    else
        /usr/bin/time -f "peak %M" "$bin" detect "$log" "$@" >/dev/null 2>"$err" || die "detect $* failed on $log: $(tail -n 3 "$err")"
    fi
    local rate rss episodes
    rate="$(sed -n 's/.*(\([0-9]*\) flows\/s).*/\1/p' "$err" | tail -n 1)"
    episodes="$(sed -n 's/.*flows\/s): \([0-9]*\) scan episode.*/\1/p' "$err" | tail -n 1)"
    rss="$(sed -n 's/^peak \([0-9]*\)$/\1/p' "$err")"
    [[ -n "$rate" && -n "$rss" ]] || die "could not read detect's summary in $err"
    echo "$rate $rss ${episodes:-0}"
}

# The flows `detect` read in the last run.
detect_flows() { sed -n 's/^flowhound: \([0-9]*\) flows in.*/\1/p' "$data/detect-run.err" | tail -n 1; }

# The median of the numbers on standard input, one a line (the lower middle of an even count).
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
