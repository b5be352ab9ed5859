#!/usr/bin/env bash
# Installs the real scanners and exporters that Scripts/capture-loopback-scans.sh and
# Scripts/capture-busy-clients.sh use (and the fresh-capture test, which is skipped without them):
# nmap, tcpdump, argus, softflowd, nfdump, iproute2 (network namespaces), iptables and curl.
# Flowhound itself needs none of them; Scripts/setup.sh installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(nmap tcpdump argus-server argus-client softflowd nfdump iproute2 iptables curl)
./Scripts/install-packages.sh setup-capture-tools "${packages[@]}"
echo "setup-capture-tools: nmap, tcpdump, argus, softflowd, nfdump, iproute2, iptables and curl are installed" >&2
