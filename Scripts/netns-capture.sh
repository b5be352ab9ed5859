# netns-capture.sh -- sourced by the capture scripts: the private network namespace they work in.
#
#   source "$(dirname "$0")/netns-capture.sh"
#   netns_require "why root" "apt-get install hint" tool...   # root and the tools, or exit 1
#   netns_start NAME                                          # NS, WORK, BG_PIDS, nsx, cleanup on exit
#   netns_start_tcpdump PCAP SNAPLEN SECONDS                  # capture lo into PCAP; sets TCPDUMP_PID
#   netns_stop_tcpdump PID                                    # stop a capture, its file closed
#
# The namespace has nothing but `lo`; cleanup kills what the script started and anything left in the
# namespace, deletes the namespace and the work directory, and keeps the script's exit status.

# Exits unless running as root with every tool on PATH.
netns_require() {
    local why=$1 hint=$2
    shift 2
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: $0 must run as root ($why)." >&2
        exit 1
    fi
    local missing=() tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "error: missing tools: ${missing[*]}" >&2
        echo "       on Debian: apt-get install $hint" >&2
        exit 1
    fi
}

netns_cleanup() {
    local rc=$?
    set +e
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if ip netns list | grep -qw "$NS"; then
        # Kill anything still running inside *our* namespace, then delete it.
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill "$pid" 2>/dev/null; done
        ip netns del "$NS"
    fi
    rm -rf "$WORK"
    exit "$rc"
}

# A fresh namespace named NAME-PID-RANDOM with `lo` up, a work directory, and the cleanup trap.
netns_start() {
    NS="$1-$$-$RANDOM"
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    BG_PIDS=()      # background processes started (killed on exit, by pid)
    trap netns_cleanup EXIT
    ip netns add "$NS"
    ip netns exec "$NS" ip link set lo up
}

# Runs a command inside the namespace.
nsx() { ip netns exec "$NS" "$@"; }

# Captures IP packets on the namespace's `lo` into PCAP (SNAPLEN bytes of each, written as they come),
# for at most SECONDS, in the background; returns once tcpdump is listening. Sets TCPDUMP_PID. Called
# directly, not in a subshell, so that the capture stays this shell's child.
netns_start_tcpdump() {
    local pcap=$1 snaplen=$2 seconds=$3
    ip netns exec "$NS" timeout "$seconds" tcpdump -i lo -n -s "$snaplen" -U -w "$pcap" ip 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    BG_PIDS+=("$TCPDUMP_PID")
    for _ in $(seq 50); do grep -q 'listening on' "$WORK/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
    sleep 0.5
}

# Stops tcpdump (PID) with SIGTERM, which closes the file cleanly. A parent that blocked SIGTERM (some
# process launchers do, and the mask survives exec) would leave it running: after five seconds,
# SIGKILL (with -U every packet is already on disk).
netns_stop_tcpdump() {
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
