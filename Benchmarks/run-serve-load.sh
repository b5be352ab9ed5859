#!/usr/bin/env bash
# Load test of `flowhound serve`: wrk on loopback against POST /v1/ip/score for DURATION seconds,
# then the same run with a model reload (POST /v1/models/reload) in the middle, then SIGTERM.
#
#   Benchmarks/run-serve-load.sh [DURATION] [CONNECTIONS] [WRK_THREADS]     (default 30 32 1)
#
# Reports requests/s, p50/p99 latency, errors (socket errors and non-200 answers) and the server's
# resident memory before and after each run, and the exit status after SIGTERM (0 expected).
# Needs wrk (Debian: apt-get install wrk) and the libloc database (libloc-database). Loopback only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "run-serve-load.sh: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

duration="${1:-30}"
connections="${2:-32}"
threads="${3:-1}"
for v in "$duration" "$connections" "$threads"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "DURATION, CONNECTIONS and WRK_THREADS must be positive whole numbers, not '$v'"
done
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
port="${FLOWHOUND_SERVE_PORT:-18181}"
base="http://127.0.0.1:$port"

note "building flowhound (release)"
(cd "$repo" && swift build -c release --product flowhound >&2) || die "swift build failed"
bin="$(cd "$repo" && swift build -c release --show-bin-path)/flowhound"

log="$(mktemp /tmp/flowhound-serve-load.XXXXXX)"
"$bin" serve --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 100); do
    curl -sf "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || die "the server stopped: $(tail -n 3 "$log")"
    sleep 0.1
done
curl -sf "$base/healthz" >/dev/null || die "the server did not answer on $base"

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$server/status"; }

# One wrk run; prints "requests/s p50 p99 errors" (latencies in ms).
run() {
    local seconds="$1" out
    out="$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$here/serve-ip-score.lua" "$base")"
    echo "$out" >&2
    local rps p50 p99 errors non2xx
    rps="$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")"
    p50="$(awk '$1 == "50%" { print $2 }' <<<"$out")"
    p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
    errors="$(awk '/Socket errors/ { gsub(",", ""); s = 0; for (i = 4; i <= NF; i += 2) s += $i; print s }' <<<"$out")"
    non2xx="$(awk '/Non-2xx/ { print $NF }' <<<"$out")"
    echo "$rps $(ms "$p50") $(ms "$p99") $(( ${errors:-0} + ${non2xx:-0} ))"
}

# wrk prints 812.00us, 1.23ms or 2.01s: milliseconds.
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

note "warming up (5 s)"
run 5 >/dev/null

note "run 1: $duration s, $connections connections, $threads wrk thread(s)"
before1="$(rss)"
read -r rps1 p50_1 p99_1 err1 < <(run "$duration")
after1="$(rss)"

note "run 2: the same, with POST /v1/models/reload after $((duration / 2)) s"
before2="$(rss)"
( sleep "$((duration / 2))"; curl -sf -XPOST "$base/v1/models/reload" >"$log.reload" 2>&1 || echo "reload failed" >"$log.reload" ) &
reloader=$!
read -r rps2 p50_2 p99_2 err2 < <(run "$duration")
wait "$reloader"
after2="$(rss)"
reload="$(cat "$log.reload")"

note "SIGTERM"
kill -TERM "$server"
set +e
wait "$server"
status=$?
set -e
trap - EXIT

printf '\n| run | requests/s | p50 ms | p99 ms | errors | RSS before MiB | RSS after MiB |\n|---|---:|---:|---:|---:|---:|---:|\n'
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
printf '| steady | %.0f | %s | %s | %s | %s | %s |\n' "$rps1" "$p50_1" "$p99_1" "$err1" "$(mib "$before1")" "$(mib "$after1")"
printf '| reload at %d s | %.0f | %s | %s | %s | %s | %s |\n' "$((duration / 2))" "$rps2" "$p50_2" "$p99_2" "$err2" "$(mib "$before2")" "$(mib "$after2")"
echo
echo "reload answer: $reload"
echo "exit status after SIGTERM: $status"
rm -f "$log" "$log.reload"
