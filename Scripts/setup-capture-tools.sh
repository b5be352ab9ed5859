#!/usr/bin/env bash
# Installs the real scanners and exporters that Scripts/capture-loopback-scans.sh and
# Scripts/capture-busy-clients.sh use (and the fresh-capture test, which is skipped without them):
# nmap, tcpdump, argus, softflowd, nfdump, iproute2 (network namespaces), iptables and curl.
# Flowhound itself needs none of them; Scripts/setup.sh installs what it needs.
set -euo pipefail

packages=(nmap tcpdump argus-server argus-client softflowd nfdump iproute2 iptables curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "setup-capture-tools: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup-capture-tools: nmap, tcpdump, argus, softflowd, nfdump, iproute2, iptables and curl are installed" >&2
