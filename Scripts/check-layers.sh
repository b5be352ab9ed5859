#!/usr/bin/env bash
# Checks that every target imports only the modules its layer allows (ARCHITECTURE.md): a library
# must not depend on a layer above it. Prints each import that breaks the rule; exits 1 if any does.
set -euo pipefail
cd "$(dirname "$0")/.."

# Swift's and the system's modules every target may use.
common="Foundation Glibc Musl Darwin Dispatch Synchronization _Concurrency"
declare -A allowed=(
    [Support]="CMalloc"
    [Randomness]=""
    [FlowRecords]="Support CZlib"
    [ActivityImage]="FlowRecords Support CZlib"
    [Synthesis]="FlowRecords ActivityImage Randomness Support"
    [Neural]="Randomness Support COpenBLAS"
    [Forest]="Randomness Support"
    [Detection]="FlowRecords ActivityImage Neural Support"
    [Enrichment]="FlowRecords Support CMaxMindDB CLibloc"
    [Reputation]="FlowRecords Enrichment Forest Neural Randomness Support"
    [Streaming]="FlowRecords Detection Support CNATS"
    [Service]="FlowRecords Detection Reputation Enrichment Support Hummingbird HummingbirdCore HTTPTypes Logging NIOCore NIOHTTP1 NIOHTTPTypes NIOPosix Prometheus ServiceLifecycle UnixSignals"
)

status=0
for target in "${!allowed[@]}"; do
    ok=" $common ${allowed[$target]} "
    while IFS= read -r line; do
        file=${line%%:*}
        module=$(sed -E 's/^.*import[[:space:]]+([A-Za-z_][A-Za-z0-9_]*).*$/\1/' <<<"${line#*:}")
        if [[ "$ok" != *" $module "* ]]; then
            echo "$file: imports $module, which $target may not (ARCHITECTURE.md)"
            status=1
        fi
    done < <(grep -rEH '^[[:space:]]*(@[A-Za-z_]+[[:space:]]+)*import[[:space:]]' "Sources/$target" --include='*.swift' || true)
done
if [ $status -eq 0 ]; then echo "layers: every import follows ARCHITECTURE.md"; fi
exit $status
