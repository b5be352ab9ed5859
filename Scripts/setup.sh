#!/usr/bin/env bash
# Sets up Flowhound on a Debian or Ubuntu machine: installs the system packages it needs (with sudo
# when not root), builds it in release, and runs it on a sample log shipped in the repository.
# Needs a Swift 6 toolchain on PATH (https://www.swift.org/install/).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: zlib (gzip input, PNG output), OpenBLAS (every matrix product of the neural networks),
# libmaxminddb (MMDB geolocation and ASN databases), libloc with its database (the IPFire location
# database: country, ASN and network flags with no download), the NATS C client (publish and worker
# on JetStream). Tests: gzip, python3 with NumPy (reads datasets back), nats-server (the scale-out test
# runs a three-node cluster on loopback ports), rsyslog (the syslog test starts one on loopback ports).
# The real scanners and exporters that only the loopback captures need are a separate step:
# Scripts/setup-capture-tools.sh.
packages=(zlib1g-dev libopenblas-dev libmaxminddb-dev libloc-dev libloc-database libnats-dev nats-server gzip ca-certificates python3 python3-numpy rsyslog)

./Scripts/install-packages.sh setup "${packages[@]}"

if ! command -v swift >/dev/null; then
  echo "setup: no 'swift' on PATH: install a Swift 6 toolchain (https://www.swift.org/install/) and run this again" >&2
  exit 1
fi

swift build -c release --product flowhound
echo "setup: built .build/release/flowhound. A first run: the scans in 300 records of a real honeypot's" >&2
echo "setup: Zeek log (Samples/), found with the shipped models, one row per scan episode:" >&2
.build/release/flowhound detect Samples/stratosphere-008-mixed.head300.conn.log.gz --output-format table --no-progress
echo "setup: 'flowhound detect LOG' writes the same as JSON lines (ECS) for a SIEM; 'flowhound --help' lists every command." >&2
