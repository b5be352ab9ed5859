#!/usr/bin/env bash
# Lists the IPv4 networks of each AS in Data/reputation/service-ases.txt from the libloc database,
# one file per AS (Data/reputation/service-networks/AS<N>.txt), nested networks merged. The shipped
# IP model's benign class is sampled from these files (Scripts/train-default-ip-model.sh).
#
#   Scripts/list-service-networks.sh [DATABASE]   (default: /var/lib/location/database.db)
#
# Needs the Debian package `location` (the libloc command line). Run it again after the database
# is updated, then retrain.
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-/var/lib/location/database.db}"
command -v location >/dev/null || { echo "list-service-networks: 'location' not found (apt-get install location)" >&2; exit 1; }
out=Data/reputation/service-networks
rm -rf "$out"
mkdir -p "$out"
built="$(location --database "$db" version 2>/dev/null | head -1 || true)"
grep -v '^#' Data/reputation/service-ases.txt | while read -r asn name; do
    [ -n "$asn" ] || continue
    file="$out/AS$asn.txt"
    {
        echo "# AS$asn $name: its IPv4 networks in the libloc database ($db${built:+, $built}), nested ones merged"
        location --database "$db" list-networks-by-as --family ipv4 "$asn" |
            /usr/bin/env python3 -c 'import ipaddress,sys; [print(n) for n in ipaddress.collapse_addresses(ipaddress.ip_network(l.strip()) for l in sys.stdin if l.strip())]'
    } >"$file"
    n=$(grep -vc '^#' "$file" || true)
    if [ "$n" -eq 0 ]; then echo "list-service-networks: AS$asn ($name) has no IPv4 network in $db" >&2; rm -f "$file"; fi
done
ls "$out" | wc -l | xargs echo "list-service-networks: ASes listed:"
