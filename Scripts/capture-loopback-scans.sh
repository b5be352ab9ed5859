#!/usr/bin/env bash
#
# capture-loopback-scans.sh -- regenerate Flowhound's "real tools" flow fixtures.
#
# Usage:  sudo Scripts/capture-loopback-scans.sh OUT_DIR
#
# What it does, in order:
#   1. Creates a private, uniquely named network namespace that has nothing
#      but a loopback interface, and deletes it again on exit (trap EXIT).
#   2. Starts small Python listeners inside it (TCP 22/80/443/8080 on every
#      127.x address, TCP 445 on 127.0.2.1-127.0.2.5 only, UDP echo 53/123
#      on 127.0.0.1 and 127.0.0.4).
#   3. Captures lo with tcpdump while benign clients (curl, Python) and nmap
#      scans run, each from its own 127.0.0.x source address.
#   4. Writes the ground truth (which source did what) as CSV.
#   5. Turns the pcap into flow records with argus/ra, nfpcapd/nfdump and
#      softflowd -> nfcapd/nfdump, and writes a README describing the run.
#
# SAFETY: every packet stays inside the namespace.  All commands that touch
# the network run via `ip netns exec "$NS" ...`, only 127.0.0.0/8 addresses
# are used, nmap always gets -n (no DNS) and -Pn, and every step is bounded
# by `timeout`.  The namespace has no interface other than lo, so nothing can
# leave it even by mistake.
#
# Outputs (in OUT_DIR):
#   loopback-scans.truth.csv            source,label,kind  (ground truth)
#   loopback-scans.argus.csv            ra CSV, epoch times, header line
#   loopback-scans.binetflow            ra CSV in CTU-13 binetflow column style
#   loopback-scans.nfdump.csv           nfpcapd -> nfdump -o csv (with Summary)
#   loopback-scans.softflowd.nfdump.csv softflowd (NetFlow v9) -> nfcapd -> nfdump -o csv
#   loopback-scans.quiet.nfdump.csv.gz  nfpcapd -> nfdump -q -o csv (no header, no Summary), gzipped
#   loopback-scans.pcap                 the capture (only kept if < 300 KB)
#   README.md                           commands, tool versions, date, sources
#
set -euo pipefail

# ---------------------------------------------------------------------------
# Arguments, privileges, tools
# ---------------------------------------------------------------------------
if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
OUT=$1
# shellcheck source=Scripts/netns-capture.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns-capture.sh"
netns_require "it creates a network namespace and runs tcpdump/nmap raw scans" \
    "iproute2 nmap tcpdump argus-server argus-client softflowd nfdump python3 curl coreutils" \
    ip nmap tcpdump argus ra softflowd nfdump nfcapd nfpcapd python3 curl timeout

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PREFIX="$OUT/loopback-scans"
PCAP="$PREFIX.pcap"

# Everything in UTC so that nfdump's and ra's human-readable dates are stable.
export TZ=UTC

# ---------------------------------------------------------------------------
# Namespace and cleanup
# ---------------------------------------------------------------------------
netns_start flowhound-cap

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Transcript of the commands that touched the network, for the README.
CMDLOG="$WORK/commands.txt"
: >"$CMDLOG"
# Record a command line for the README.
logcmd() { printf '%s\n' "$*" >>"$CMDLOG"; }
# Run (inside the namespace, in the foreground) and record the command line.
# Background jobs call `ip netns exec` directly instead, so that $! is the
# pid of the real process (ip execs into timeout, which forwards SIGTERM).
run() {
    logcmd "$@"
    nsx "$@"
}

log "namespace $NS, work dir $WORK"

# ---------------------------------------------------------------------------
# 1. Listeners (one Python process; every socket is inside the namespace)
# ---------------------------------------------------------------------------
mkdir -p "$WORK/www"
printf '<html><body>flowhound test page</body></html>\n' >"$WORK/www/index.html"
printf 'requests_total 42\nup 1\n' >"$WORK/www/metrics"

cat >"$WORK/servers.py" <<'PY'
"""Tiny listeners for the capture.  Binding to 0.0.0.0 inside the namespace
makes every 127.x address answer on that port."""
import functools, http.server, socket, socketserver, sys, threading

www, ready = sys.argv[1], sys.argv[2]

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass

class HTTP(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    def handle_error(self, request, client_address):
        pass          # scanners reset connections; that is expected

class Banner(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    def handle_error(self, request, client_address):
        pass

def banner_handler(text):
    class H(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                self.request.settimeout(2)
                if text:
                    self.request.sendall(text)
                self.request.recv(1024)      # read whatever the client says
            except OSError:
                pass
    return H

class Echo(socketserver.BaseRequestHandler):   # UDP echo
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)

class UDP(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True

servers = []
handler = functools.partial(Quiet, directory=www)
for port in (80, 8080):
    servers.append(HTTP(("0.0.0.0", port), handler))
servers.append(Banner(("0.0.0.0", 22), banner_handler(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")))
servers.append(Banner(("0.0.0.0", 443), banner_handler(b"")))
# 445 is open on only five of the sixty hosts the horizontal scan probes.
for i in range(1, 6):
    servers.append(Banner((f"127.0.2.{i}", 445), banner_handler(b"")))
# UDP echo is bound per address, not to 0.0.0.0: a UDP socket on 0.0.0.0
# answers from the primary address 127.0.0.1 whatever address was asked,
# which would make replies to the UDP scan of 127.0.0.4 come from 127.0.0.1.
for addr in ("127.0.0.1", "127.0.0.4"):
    for port in (53, 123):
        servers.append(UDP((addr, port), Echo))

for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
open(ready, "w").close()
threading.Event().wait()
PY

# Benign UDP client: DNS-like queries to :53 and an NTP client request to :123.
cat >"$WORK/dnsclient.py" <<'PY'
import socket, struct, sys, time
src = sys.argv[1]

def dns_query(qid, name):
    hdr = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return hdr + q + struct.pack("!HH", 1, 1)           # A, IN

for i, name in enumerate(["example.org", "flowhound.test", "www.example.com",
                          "mirror.example.net", "example.org"]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))                                      # new ephemeral port per query
    s.settimeout(1)
    s.sendto(dns_query(0x1000 + i, name), ("127.0.0.1", 53))
    s.recvfrom(2048)
    s.close()
    time.sleep(0.2)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(1)
for _ in range(2):                                        # NTP v4 client mode
    s.sendto(b"\x23" + b"\x00" * 47, ("127.0.0.1", 123))
    s.recvfrom(2048)
    time.sleep(0.2)
PY

READY="$WORK/servers.ready"
logcmd timeout 300 python3 "$WORK/servers.py" "$WORK/www" "$READY" "&"
ip netns exec "$NS" timeout 300 python3 "$WORK/servers.py" "$WORK/www" "$READY" &
BG_PIDS+=($!)
for _ in $(seq 50); do [[ -e $READY ]] && break; sleep 0.1; done
[[ -e $READY ]] || { echo "error: listeners did not start" >&2; exit 1; }
log "listeners up"

# ---------------------------------------------------------------------------
# 4 (started first). Capture on lo
# ---------------------------------------------------------------------------
rm -f "$PCAP"
logcmd timeout 280 tcpdump -i lo -n -s 256 -U -w "$PCAP" ip "&"
netns_start_tcpdump "$PCAP" 256 280
log "tcpdump running"

# ---------------------------------------------------------------------------
# Source addresses (ground truth).  Each source does exactly one thing.
# ---------------------------------------------------------------------------
WEB=127.0.0.10        # benign web client (curl)
SCRAPER=127.0.0.11    # benign monitoring scraper: port 8080 on 127.0.1.1-60
DNS=127.0.0.12        # benign DNS/NTP client (UDP)
SYN=127.0.0.20        # nmap -sS, vertical, on 127.0.0.1
CONNECT=127.0.0.21    # nmap -sT (source bound via -S, works for local addresses)
FIN=127.0.0.22        # nmap -sF
NULLS=127.0.0.23      # nmap -sN
XMAS=127.0.0.24       # nmap -sX
UDPSCAN=127.0.0.25    # nmap -sU
HORIZ=127.0.0.26      # nmap -sS -p 445 across 127.0.2.1-60
SLOW=127.0.0.27       # nmap -sS --scan-delay 3s, 10 ports

NMAP=(nmap -n -Pn --max-retries 1 --host-timeout 50s)

# Port lists.  They are deliberately modest: nfdump's CSV has ~48 columns
# (~340 bytes a line) and every probe gives two unidirectional records, so
# 1-1024 for the SYN scan alone would make a >700 KB fixture.
SYN_PORTS=1-150
CONNECT_PORTS=1-80
STEALTH_PORTS=1-30                 # FIN, NULL and XMAS each
UDP_PORTS=1-15,53,67,69,123,137,161,500,514,1900
HORIZ_PORT=445
HORIZ_HOSTS=127.0.2.1-60
SLOW_PORTS=21,22,23,25,80,110,139,443,445,3389

# The slow scan takes ~35 s, so it runs in the background while the rest go.
log "slow scan (background)"
# (--scan-delay already serialises the probes; nmap ignores --max-parallelism with it.)
SLOW_ARGS=(timeout 60 "${NMAP[@]}" -sS -e lo -S "$SLOW" --scan-delay 3s
           -p "$SLOW_PORTS" 127.0.0.1)
logcmd "${SLOW_ARGS[@]}" "&"
ip netns exec "$NS" "${SLOW_ARGS[@]}" >"$WORK/nmap-slow.txt" 2>&1 &
SLOW_PID=$!
BG_PIDS+=("$SLOW_PID")

# ---------------------------------------------------------------------------
# 2. Benign clients
# ---------------------------------------------------------------------------
log "web client"
for url in http://127.0.0.1/ http://127.0.0.1/metrics http://127.0.0.1:8080/ \
           http://127.0.0.2/ http://127.0.0.2/index.html http://127.0.0.1/ ; do
    run timeout 10 curl -s -o /dev/null --interface "$WEB" --max-time 5 "$url"
    sleep 0.3
done

log "monitoring scraper"
for i in $(seq 1 60); do
    run timeout 10 curl -s -o /dev/null --interface "$SCRAPER" --max-time 3 "http://127.0.1.$i:8080/metrics"
done

log "dns/ntp client"
run timeout 20 python3 "$WORK/dnsclient.py" "$DNS"

# ---------------------------------------------------------------------------
# 3. Scans (all nmap -n -Pn, --max-retries 1, bounded by timeout)
# ---------------------------------------------------------------------------
log "SYN scan"
run timeout 60 "${NMAP[@]}" -sS -e lo -S "$SYN" -p "$SYN_PORTS" 127.0.0.1 >"$WORK/nmap-syn.txt" 2>&1

log "connect scan"
# -sT uses the OS connect(); nmap binds the socket to -S when the address is
# local (every 127.x is local here), so the source really is $CONNECT.
# nmap needs -e lo to accept -S at all, then warns that -e is not honoured for
# -sT; that warning is expected.
run timeout 60 "${NMAP[@]}" -sT -e lo -S "$CONNECT" -p "$CONNECT_PORTS" 127.0.0.2 >"$WORK/nmap-connect.txt" 2>&1

log "FIN / NULL / XMAS scans"
run timeout 60 "${NMAP[@]}" -sF -e lo -S "$FIN" -p "$STEALTH_PORTS" 127.0.0.3 >"$WORK/nmap-fin.txt" 2>&1
run timeout 60 "${NMAP[@]}" -sN -e lo -S "$NULLS" -p "$STEALTH_PORTS" 127.0.0.3 >"$WORK/nmap-null.txt" 2>&1
run timeout 60 "${NMAP[@]}" -sX -e lo -S "$XMAS" -p "$STEALTH_PORTS" 127.0.0.3 >"$WORK/nmap-xmas.txt" 2>&1

log "UDP scan"
run timeout 60 "${NMAP[@]}" -sU -e lo -S "$UDPSCAN" -p "$UDP_PORTS" 127.0.0.4 >"$WORK/nmap-udp.txt" 2>&1

log "horizontal scan"
run timeout 60 "${NMAP[@]}" -sS -e lo -S "$HORIZ" -p "$HORIZ_PORT" "$HORIZ_HOSTS" >"$WORK/nmap-horizontal.txt" 2>&1

log "waiting for the slow scan"
wait "$SLOW_PID" || true

# Let the last replies arrive and tcpdump flush, then stop it (SIGTERM;
# tcpdump closes the file cleanly on TERM).
sleep 2
netns_stop_tcpdump "$TCPDUMP_PID"
pkill -KILL -f "tcpdump -i lo -n -s 256 -U -w $PCAP" 2>/dev/null || true
# tcpdump drops to its own user before writing; hand the file to OUT's owner.
chown --reference="$OUT" "$PCAP"
log "capture done: $(stat -c %s "$PCAP") bytes"

# ---------------------------------------------------------------------------
# 5. Ground truth.  Only addresses that *initiate* traffic are listed.
#    Addresses that only answer (127.0.0.1-4, 127.0.1.1-60, 127.0.2.1-60) are
#    servers/targets and deliberately absent.
# ---------------------------------------------------------------------------
cat >"$PREFIX.truth.csv" <<EOF
source,label,kind
$WEB,benign,web
$SCRAPER,benign,scraper
$DNS,benign,dns
$SYN,scan,vertical-syn
$CONNECT,scan,vertical-connect
$FIN,scan,stealth-fin
$NULLS,scan,stealth-null
$XMAS,scan,stealth-xmas
$UDPSCAN,scan,udp
$HORIZ,scan,horizontal
$SLOW,scan,slow
EOF

# ---------------------------------------------------------------------------
# 6. Flows
# ---------------------------------------------------------------------------
# argus: -X ignores /etc/argus.conf (which would also write to /var/log/argus),
# -S 60 sets the status interval explicitly (no flow here lasts that long).
log "argus"
argus -X -S 60 -r "$PCAP" -w "$WORK/flows.argus"

# ra: -X ignore ~/.rarc, -n numeric hosts/ports, -u epoch times, -p 6
# microseconds, -Z b actual TCP flags in 'state' (e.g. S_RA), -L 0 print the
# header line once, -c , comma separator.
RA_FIELDS=(stime ltime proto saddr sport dir daddr dport state spkts dpkts sbytes dbytes)
ra -X -r "$WORK/flows.argus" -n -u -p 6 -Z b -L 0 -c , -s "${RA_FIELDS[@]}" >"$PREFIX.argus.csv"

# CTU-13 binetflow style: same columns as the CTU-13 files (minus Label) plus
# SrcPkts, human-readable "YYYY/MM/DD hh:mm:ss.ffffff" UTC start times.
cat >"$WORK/rarc" <<'EOF'
RA_TIME_FORMAT="%Y/%m/%d %T.%f"
EOF
BI_FIELDS=(stime dur proto saddr sport dir daddr dport state stos dtos pkts bytes sbytes spkts)
ra -X -F "$WORK/rarc" -r "$WORK/flows.argus" -n -p 6 -Z b -L 0 -c , -s "${BI_FIELDS[@]}" >"$PREFIX.binetflow"

# nfpcapd: pcap -> nfdump files (1.7.1 uses -w for the flow directory).
log "nfpcapd"
mkdir -p "$WORK/nfpcapd"
timeout 60 nfpcapd -r "$PCAP" -w "$WORK/nfpcapd" >"$WORK/nfpcapd.log" 2>&1
nfdump -R "$WORK/nfpcapd" -o csv >"$PREFIX.nfdump.csv"
# The same records as nfdump is usually piped: quiet, without the header and the Summary lines.
nfdump -R "$WORK/nfpcapd" -q -o csv | gzip -9 -n >"$PREFIX.quiet.nfdump.csv.gz"

# softflowd -> NetFlow v9 -> nfcapd, all on 127.0.0.1 inside the namespace.
log "softflowd -> nfcapd"
mkdir -p "$WORK/nfcapd"
NFPORT=29995
# -B 8 MB receive buffer: softflowd sends all export packets in one burst at
# end of file; with the default buffer nfcapd silently drops some of them.
NFCAPD_ARGS=(timeout 90 nfcapd -w "$WORK/nfcapd" -p "$NFPORT" -b 127.0.0.1 -B 8388608)
logcmd "${NFCAPD_ARGS[@]}" "&"
ip netns exec "$NS" "${NFCAPD_ARGS[@]}" >"$WORK/nfcapd.log" 2>&1 &
NFCAPD_PID=$!
BG_PIDS+=("$NFCAPD_PID")
sleep 1
# softflowd quirks (v1.1.0):
#  * -r implies foreground and no control socket.  Do NOT pass -c: with a
#    control socket and -r, softflowd reads an uninitialised poll() result
#    and can block forever in accept() before reading a single packet.
#  * -a: take flow times from the pcap.  Without it the exported times are
#    computed against the wall clock at start-up and come out weeks off.
#  * -p: it unlink()s its pidfile on exit, so point it into $WORK.
#  * At end of file it expires every flow and exports them all at once.
run timeout 60 softflowd -d -a -p "$WORK/softflowd.pid" -r "$PCAP" \
    -n "127.0.0.1:$NFPORT" -v 9 >"$WORK/softflowd.log" 2>&1
sleep 2
kill -TERM "$NFCAPD_PID" 2>/dev/null || true   # SIGTERM: nfcapd closes/renames its file
wait "$NFCAPD_PID" 2>/dev/null || true
nfdump -R "$WORK/nfcapd" -o csv >"$PREFIX.softflowd.nfdump.csv"

PCAP_SIZE=$(stat -c %s "$PCAP")
PCAP_KEPT=yes
if (( PCAP_SIZE >= 300 * 1024 )); then
    rm -f "$PCAP"
    PCAP_KEPT=no
fi

# ---------------------------------------------------------------------------
# Sanity check: every source in the truth file must appear as a flow source
# in every flow file (nfdump CSVs end with "Summary" lines, skipped here).
# Also writes a per-source flow count table for the README.
# ---------------------------------------------------------------------------
log "checking outputs"
python3 - "$PREFIX" >"$WORK/counts.md" <<'PY'
import collections, csv, sys
prefix = sys.argv[1]
truth = list(csv.DictReader(open(prefix + ".truth.csv")))
files = {".argus.csv": "SrcAddr", ".binetflow": "SrcAddr",
         ".nfdump.csv": "sa", ".softflowd.nfdump.csv": "sa"}
counts = {}
bad = False
for suffix, col in files.items():
    c = collections.Counter()
    with open(prefix + suffix) as f:
        for row in csv.DictReader(f):
            if row.get(col) is None:        # "Summary" and what follows
                break
            c[row[col]] += 1
    counts[suffix] = c
    missing = [t["source"] for t in truth if c[t["source"]] == 0]
    if missing:
        bad = True
        print(f"error: {suffix} has no flows from {missing}", file=sys.stderr)
print("| source | kind | " + " | ".join(f"`{s}`" for s in files) + " |")
print("|---|---|" + "---:|" * len(files))
for t in truth:
    print(f"| {t['source']} | {t['kind']} | "
          + " | ".join(str(counts[s][t["source"]]) for s in files) + " |")
known = {t["source"] for t in truth}
print("| *other (responders)* | | " + " | ".join(
    str(sum(v for k, v in counts[s].items() if k not in known)) for s in files) + " |")
print("| **total** | | " + " | ".join(str(sum(counts[s].values())) for s in files) + " |")
sys.exit(1 if bad else 0)
PY
cat "$WORK/counts.md" >&2


# ---------------------------------------------------------------------------
# 7. README
# ---------------------------------------------------------------------------
log "README"
{
    echo "# Real-tool flow fixtures: loopback port scans"
    echo
    echo "Generated by \`Scripts/capture-loopback-scans.sh\` on $(date -u '+%Y-%m-%d %H:%M:%S UTC')."
    echo "These are our own captures, made for Flowhound's tests; no third-party data or licence is involved."
    echo
    echo "All traffic was generated and captured inside a private, freshly created network"
    echo "namespace (\`ip netns add\`) whose only interface is \`lo\`.  Only 127.0.0.0/8 addresses"
    echo "were used; no packet could reach any other network.  The namespace was deleted afterwards."
    echo
    echo "## Files"
    echo
    echo "| file | made by |"
    echo "|---|---|"
    echo "| \`loopback-scans.truth.csv\` | ground truth, \`source,label,kind\`, one row per *initiating* source address |"
    echo "| \`loopback-scans.argus.csv\` | \`argus -r pcap\` then \`ra -u -Z b -L 0 -c ,\` (epoch times, header line) |"
    echo "| \`loopback-scans.binetflow\` | same argus file, \`ra\` with CTU-13 binetflow columns and date format |"
    echo "| \`loopback-scans.nfdump.csv\` | \`nfpcapd -r pcap\` then \`nfdump -o csv\` (ends with Summary lines) |"
    echo "| \`loopback-scans.softflowd.nfdump.csv\` | \`softflowd -r pcap\` (NetFlow v9) -> \`nfcapd\` -> \`nfdump -o csv\` |"
    echo "| \`loopback-scans.quiet.nfdump.csv.gz\` | \`nfpcapd -r pcap\` then \`nfdump -q -o csv\` (no header, no Summary), gzipped |"
    if [[ $PCAP_KEPT == yes ]]; then
        echo "| \`loopback-scans.pcap\` | \`tcpdump -i lo -s 256\` ($PCAP_SIZE bytes) |"
    else
        echo
        echo "The pcap ($PCAP_SIZE bytes) was not kept because it exceeded 300 KB."
    fi
    echo
    echo "## Sources"
    echo
    echo "Listeners (one Python process): TCP 22 (SSH banner), 80 and 8080 (HTTP), 443 (accept/close)"
    echo "bound to 0.0.0.0, so every 127.x address answers on them; TCP 445 only on 127.0.2.1-127.0.2.5;"
    echo "UDP echo on 53 and 123 of 127.0.0.1 and 127.0.0.4.  All other ports are closed (RST / ICMP port unreachable)."
    echo "Addresses that only answer (127.0.0.1-127.0.0.4, 127.0.1.1-60, 127.0.2.1-60) are not in the"
    echo "truth file; in unidirectional flow outputs (nfdump) they appear as sources of reply flows."
    echo
    echo "| source | label | kind | what it did |"
    echo "|---|---|---|---|"
    echo "| $WEB | benign | web | 6 HTTP GETs with curl to 127.0.0.1:80, 127.0.0.1:8080, 127.0.0.2:80 |"
    echo "| $SCRAPER | benign | scraper | curl GET /metrics on port 8080 of 127.0.1.1 ... 127.0.1.60 (all answer) |"
    echo "| $DNS | benign | dns | 5 DNS A queries to 127.0.0.1:53 (new source port each) + 2 NTP requests to 127.0.0.1:123 |"
    echo "| $SYN | scan | vertical-syn | nmap -sS ports $SYN_PORTS on 127.0.0.1 |"
    echo "| $CONNECT | scan | vertical-connect | nmap -sT ports $CONNECT_PORTS on 127.0.0.2 (source bound with -S) |"
    echo "| $FIN | scan | stealth-fin | nmap -sF ports $STEALTH_PORTS on 127.0.0.3 |"
    echo "| $NULLS | scan | stealth-null | nmap -sN ports $STEALTH_PORTS on 127.0.0.3 |"
    echo "| $XMAS | scan | stealth-xmas | nmap -sX ports $STEALTH_PORTS on 127.0.0.3 |"
    echo "| $UDPSCAN | scan | udp | nmap -sU ports $UDP_PORTS on 127.0.0.4 (53 and 123 echo) |"
    echo "| $HORIZ | scan | horizontal | nmap -sS port $HORIZ_PORT on $HORIZ_HOSTS (127.0.2.1-5 open) |"
    echo "| $SLOW | scan | slow | nmap -sS --scan-delay 3s, ports $SLOW_PORTS on 127.0.0.1 (runs concurrently with everything else, ~30 s) |"
    echo
    echo "## Flows per source address (rows whose source column is that address)"
    echo
    cat "$WORK/counts.md"
    echo
    echo "## Format notes (as produced by the versions below)"
    echo
    cat <<'NOTES'
* **argus/ra** (`.argus.csv`, `.binetflow`): one *bidirectional* record per flow; the
  source is the side argus believes initiated it.  `ra -L 0` prints one header line
  (`StartTime,LastTime,Proto,...`).  `-u` gives epoch seconds with 6 decimals; the
  binetflow file uses `YYYY/MM/DD hh:mm:ss.ffffff` (UTC).  Proto is lower case
  (`tcp`, `udp`, `icmp`).  `Dir` is padded with spaces: `   ->`, `  <->`, `   ?>`,
  `  <?>` (`?` = direction guessed, e.g. no SYN seen).  With `-Z b` the TCP `State`
  is the flags seen from source and destination, `SRC_DST` (e.g. `S_RA` = SYN
  answered by RST/ACK, `FSPA_FSPA` = full session, `_RA` = no flags from source);
  UDP/ICMP states are words (`CON`, `INT`, `URP` = ICMP port unreachable).  For
  ICMP, `Sport`/`Dport` are hex strings (`0x0303` = type 3 code 3).  Byte counts
  include the 14-byte Ethernet header of each packet.  `dTos` is empty when the
  destination sent nothing.  argus splits UDP/53 by DNS transaction, so one
  5-tuple can give several records.
* **nfdump** (`.nfdump.csv`, `.softflowd.nfdump.csv`): *unidirectional* records;
  every reply is its own record with the responder in `sa` (opkt/obyt are 0).
  `ts`/`te` are `YYYY-MM-DD hh:mm:ss` in UTC (the script sets TZ=UTC) with whole
  seconds only; `td` is the duration in seconds with 3 decimals.  `pr` is upper case
  (`TCP`, `UDP`, `ICMP`); `flg` is 8 characters `CEUAPRSF` with `.` for unset
  (`......S.` SYN, `...A.R..` RST/ACK, `..U.P..F` XMAS, `........` NULL).  For
  ICMP `sp` is 0 and `dp` is type*256+code (771 = port unreachable).  Bytes are IP
  bytes (no Ethernet header).  Records are not in time order.  The file ends
  with three extra lines: `Summary`, `flows,bytes,packets,avg_bps,avg_pps,avg_bpp`
  and one line of totals.
* nmap's raw scans (-sS/-sF/-sN/-sX/-sU) send every probe from one source port
  (a second one for retries); the connect scan (-sT) uses a new ephemeral port per
  probe.  Flows of a retried stealth probe to an open port appear twice.
* softflowd's `dir` column is 0/1 by address order of its internal bidirectional
  flow, not by initiator.  Its timestamps can be one second earlier than
  nfpcapd's for the same flow.
NOTES
    echo
    echo "## Commands run inside the namespace (in order)"
    echo
    echo '```'
    sed -e "s#$WORK#\$WORK#g" -e "s#$OUT#\$OUT#g" "$CMDLOG"
    echo '```'
    echo
    echo "Offline conversion commands:"
    echo
    echo '```'
    echo "argus -X -S 60 -r \$OUT/loopback-scans.pcap -w \$WORK/flows.argus"
    echo "ra -X -r \$WORK/flows.argus -n -u -p 6 -Z b -L 0 -c , -s ${RA_FIELDS[*]} > loopback-scans.argus.csv"
    echo "ra -X -F rarc -r \$WORK/flows.argus -n -p 6 -Z b -L 0 -c , -s ${BI_FIELDS[*]} > loopback-scans.binetflow"
    echo "   # rarc: RA_TIME_FORMAT=\"%Y/%m/%d %T.%f\"   (TZ=UTC)"
    echo "nfpcapd -r \$OUT/loopback-scans.pcap -w \$WORK/nfpcapd"
    echo "nfdump -R \$WORK/nfpcapd -o csv > loopback-scans.nfdump.csv"
    echo "nfdump -R \$WORK/nfpcapd -q -o csv | gzip -9 -n > loopback-scans.quiet.nfdump.csv.gz"
    echo "nfcapd -w \$WORK/nfcapd -p $NFPORT -b 127.0.0.1 -B 8388608 &      # inside the namespace"
    echo "softflowd -d -a -p \$WORK/softflowd.pid -r \$OUT/loopback-scans.pcap -n 127.0.0.1:$NFPORT -v 9   # inside the namespace"
    echo "kill -TERM <nfcapd>"
    echo "nfdump -R \$WORK/nfcapd -o csv > loopback-scans.softflowd.nfdump.csv"
    echo '```'
    echo
    echo "## Tool versions"
    echo
    echo '```'
    # Several of these exit non-zero after printing their usage text, so
    # pipefail is relaxed for this block only.
    set +o pipefail
    echo "kernel: $(uname -sr)"
    nmap --version 2>&1 | head -1
    tcpdump --version 2>&1 | head -2
    argus -h 2>&1 | grep -m1 -i version
    ra -h 2>&1 | grep -m1 -i version
    softflowd -h 2>&1 | grep -m1 -o 'softflowd version [0-9.]*'
    nfdump -V 2>&1 | head -1
    nfcapd -V 2>&1 | head -1
    echo "$(nfpcapd -V 2>&1 | head -1)"     # prints no trailing newline
    python3 --version 2>&1
    curl --version 2>&1 | head -1
    echo '```'
    echo
    echo "## nmap results (for reference)"
    echo
    echo '```'
    for f in syn connect fin null xmas udp horizontal slow; do
        echo "== $f"
        if [[ $f == horizontal ]]; then
            # one line per host instead of four
            awk '/^Nmap scan report for/ {h=$5} /^[0-9]+\/tcp/ {print h, $1, $2} /^Nmap done/' \
                "$WORK/nmap-$f.txt"
        else
            grep -v -e '^Starting Nmap' -e '^$' -e '^Host is up' "$WORK/nmap-$f.txt" | head -40
        fi
    done
    echo '```'
    set -o pipefail
} >"$OUT/README.md"

log "done"
ls -l "$OUT" >&2
