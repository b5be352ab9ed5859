#!/usr/bin/env bash
#
# capture-busy-clients.sh -- capture busy benign clients with real tools, for Flowhound's tests.
#
# Usage:  sudo Scripts/capture-busy-clients.sh OUT_DIR
#
# Three clients behave as phones and laptops do on real networks, each from its own 127.0.0.x
# address, for about 90 seconds (a real client's ten minutes, compressed): DNS over TLS (TCP 853)
# to three resolvers, two of which refuse, then plain DNS; HTTPS to twenty CDN edges, four of which
# are dead (their SYNs dropped, as a firewall or a gone server does); STUN binding requests (UDP
# 3478) to six relays, four of which never answer (dropped); a push connection (TCP 5223) that is
# sometimes refused. They are benign: no alert should name them.
#
# SAFETY: as Scripts/capture-loopback-scans.sh: a private network namespace with only `lo`, only
# 127.0.0.0/8 addresses, every step bounded by `timeout`, the namespace deleted on exit. The drops
# are iptables rules inside the namespace.
#
# Outputs (in OUT_DIR):
#   busy-clients.truth.csv      source,label,kind
#   busy-clients.argus.csv      argus -> ra CSV, epoch times, header line
#   busy-clients.nfdump.csv.gz  nfpcapd -> nfdump -o csv, gzipped
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
# shellcheck source=Scripts/netns-capture.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns-capture.sh"
netns_require "it creates a network namespace and runs tcpdump and iptables" \
    "iproute2 iptables tcpdump argus-server argus-client nfdump python3 coreutils gzip" \
    ip iptables tcpdump argus ra nfdump nfpcapd python3 timeout gzip
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
PREFIX="$OUT/busy-clients"
export TZ=UTC

netns_start flowhound-busy
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Dead CDN edges and silent STUN relays: their packets are dropped on arrival, after tcpdump saw them.
for i in 17 18 19 20; do nsx iptables -A INPUT -d "127.0.3.$i" -p tcp --dport 443 -j DROP; done
for i in 1 2 3 4; do nsx iptables -A INPUT -d "127.0.5.$i" -p udp --dport 3478 -j DROP; done

cat >"$WORK/servers.py" <<'PY'
"""Listeners: HTTPS-like on the live edges, DoT on one resolver, DNS, STUN on the live relays, push."""
import socket, socketserver, sys, threading

class TCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    def handle_error(self, request, client_address):
        pass

class Serve(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.settimeout(2)
            self.request.recv(2048)
            self.request.sendall(b"x" * 4000)
        except OSError:
            pass

class UDP(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True

class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data + b"reply", self.client_address)

servers = [TCP((f"127.0.3.{i}", 443), Serve) for i in range(1, 17)]
servers.append(TCP(("127.0.4.1", 853), Serve))
servers.append(TCP(("127.0.6.1", 5223), Serve))
servers.append(UDP(("127.0.0.53", 53), Echo))
servers += [UDP((f"127.0.5.{i}", 3478), Echo) for i in (5, 6)]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
open(sys.argv[1], "w").close()
threading.Event().wait()
PY

cat >"$WORK/client.py" <<'PY'
"""A busy client: bursts of app activity every second or two for `seconds`."""
import random, socket, sys, time
me, seed, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rng = random.Random(seed)

def tcp(host, port, payload=b"hello", timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((me, 0))
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        s.sendall(payload)
        s.recv(8192)
    except OSError:
        pass
    finally:
        s.close()

def udp(host, port, payload):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((me, 0))
    s.settimeout(0.3)
    try:
        s.sendto(payload, (host, port))
        s.recvfrom(2048)
    except OSError:
        pass
    finally:
        s.close()

end = time.time() + seconds
while time.time() < end:
    resolver = f"127.0.4.{rng.randint(1, 3)}"
    tcp(resolver, 853, b"\x16\x03\x01dot")
    if resolver != "127.0.4.1":
        udp("127.0.0.53", 53, b"\x12\x34query")
    for _ in range(rng.randint(1, 5)):
        tcp(f"127.0.3.{rng.randint(1, 20)}", 443, b"\x16\x03\x01hello", timeout=0.5)
    if rng.random() < 0.25:
        for relay in range(1, 7):
            udp(f"127.0.5.{relay}", 3478, b"\x00\x01\x00\x00binding")
    if rng.random() < 0.1:
        tcp("127.0.6.1" if rng.random() < 0.7 else "127.0.6.2", 5223, b"push")
    time.sleep(rng.uniform(0.5, 2.0))
PY

READY="$WORK/servers.ready"
ip netns exec "$NS" timeout 200 python3 "$WORK/servers.py" "$READY" &
BG_PIDS+=($!)
for _ in $(seq 50); do [[ -e $READY ]] && break; sleep 0.1; done
[[ -e $READY ]] || { echo "error: listeners did not start" >&2; exit 1; }

PCAP="$WORK/busy.pcap"
netns_start_tcpdump "$PCAP" 128 180
log "clients running (90 s)"
CLIENTS=()
for n in 30 31 32; do
    ip netns exec "$NS" timeout 120 python3 "$WORK/client.py" "127.0.0.$n" "$n" 90 &
    CLIENTS+=($!)
done
for pid in "${CLIENTS[@]}"; do wait "$pid"; done
sleep 2
netns_stop_tcpdump "$TCPDUMP_PID"
log "capture done: $(stat -c %s "$PCAP") bytes"

printf 'source,label,kind\n127.0.0.30,benign,busy-client\n127.0.0.31,benign,busy-client\n127.0.0.32,benign,busy-client\n' \
    >"$PREFIX.truth.csv"
argus -X -S 60 -r "$PCAP" -w "$WORK/flows.argus"
ra -X -r "$WORK/flows.argus" -n -u -p 6 -Z b -L 0 -c , -s stime ltime proto saddr sport dir daddr dport state spkts dpkts sbytes dbytes \
    >"$PREFIX.argus.csv"
mkdir -p "$WORK/nfpcapd"
timeout 60 nfpcapd -r "$PCAP" -w "$WORK/nfpcapd" >"$WORK/nfpcapd.log" 2>&1
nfdump -R "$WORK/nfpcapd" -o csv | gzip -9 -n >"$PREFIX.nfdump.csv.gz"
for f in "$PREFIX".*; do chown --reference="$OUT" "$f"; done
log "wrote $PREFIX.truth.csv, .argus.csv ($(wc -l <"$PREFIX.argus.csv") lines), .nfdump.csv.gz"
