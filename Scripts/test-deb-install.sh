#!/usr/bin/env bash
# Installs a Flowhound .deb in a clean Debian root that has no Swift in it (made by debootstrap) and
# checks that it works there: the package's Depends bring every library it needs, the binary finds its
# resource bundles, and the shipped config is valid.
#
#   Scripts/test-deb-install.sh DEB ROOT
#
# For example, as root:
#   debootstrap --variant=minbase bookworm /tmp/deb-root http://deb.debian.org/debian
#   cp -a /tmp/deb-root /tmp/deb-root-test      (the test installs into ROOT: keep a clean one)
#   Scripts/test-deb-install.sh .build/flowhound_0.1.0_amd64.deb /tmp/deb-root-test
#
# What it does: copies DEB to ROOT/tmp/flowhound.deb, mounts /proc in ROOT (unmounted on exit), runs
# `chroot ROOT apt-get update` and `chroot ROOT apt-get install -y --no-install-recommends
# /tmp/flowhound.deb` (apt fetches the Depends from ROOT's mirror: this needs the network), then checks,
# printing each: the package is installed; ROOT has no /opt/swift and no libswift*.so; ldd finds every
# library of the binary; the resource bundles are beside it; the flowhound user and /var/log/flowhound
# exist; `flowhound --version` works; `flowhound detect` on the packaged sample prints JSON alerts;
# `flowhound serve` starts on a loopback port (its resource bundle found, the IP model and the libloc
# database loaded) and exits 0 on SIGTERM. Exits non-zero at the first failed check.
set -euo pipefail

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

(($# == 2)) || usage
deb=$1
root=${2%/}
[[ $(id -u) == 0 ]] || { echo "test-deb-install: run as root (chroot, mount)" >&2; exit 1; }
[[ -f $deb ]] || { echo "test-deb-install: no file $deb" >&2; exit 1; }
[[ -x $root/usr/bin/apt-get && -f $root/etc/debian_version ]] || {
    echo "test-deb-install: $root is not a Debian root (no usr/bin/apt-get or etc/debian_version)" >&2
    exit 1
}
[[ $(readlink -f "$root") != / ]] || { echo "test-deb-install: ROOT must not be /" >&2; exit 1; }

checks=0
pass() {
    checks=$((checks + 1))
    echo "PASS: $*"
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# --- Mounts, cleaned up whatever happens ---------------------------------------------------------
mounted=()
serve_pid=""
work="$(mktemp -d)"
cleanup() {
    if [[ -n $serve_pid ]] && kill -0 "$serve_pid" 2>/dev/null; then kill -KILL "$serve_pid" 2>/dev/null || true; fi
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

if ! mountpoint -q "$root/proc"; then
    mount -t proc proc "$root/proc"
    mounted+=("$root/proc")
fi
# debootstrap makes the device nodes apt needs; bind the host's /dev only where they are missing.
if [[ ! -c $root/dev/null ]]; then
    mount --bind /dev "$root/dev"
    mounted+=("$root/dev")
fi
# Name resolution for apt inside the root.
if [[ ! -s $root/etc/resolv.conf && -f /etc/resolv.conf ]]; then cp -L /etc/resolv.conf "$root/etc/resolv.conf"; fi

install -m 0644 "$deb" "$root/tmp/flowhound.deb"
package_version="$(dpkg-deb -f "$deb" Version)"
echo "test-deb-install: $(basename "$deb") (version $package_version) into $root ($(cat "$root/etc/debian_version"))"

# --- Install -------------------------------------------------------------------------------------
[[ -z $(in_root sh -c 'ls /opt/swift 2>/dev/null') ]] || fail "$root has /opt/swift before the install: not a clean root"
if ! in_root apt-get update -q >"$work/update.log" 2>&1; then
    echo "test-deb-install: warning: apt-get update failed in $root, using its package lists as they are:" >&2
    tail -n 5 "$work/update.log" >&2
fi
if ! in_root apt-get install -y -q --no-install-recommends /tmp/flowhound.deb >"$work/install.log" 2>&1; then
    tail -n 30 "$work/install.log" >&2
    fail "apt-get install /tmp/flowhound.deb in $root"
fi
grep -E "^(Setting up|Unpacking) " "$work/install.log" | sed 's/^/    /' || true
# shellcheck disable=SC2016 # ${Status} is dpkg-query's, not the shell's
status="$(in_root dpkg-query -W -f='${Status} ${Version}' flowhound 2>/dev/null || true)"
[[ $status == "install ok installed $package_version" ]] || fail "dpkg says '$status' for flowhound"
pass "apt-get install: flowhound $package_version installed with its Depends ($(grep -c '^Setting up ' "$work/install.log") packages set up)"

# --- No Swift, every library found ---------------------------------------------------------------
listing="$(in_root sh -c 'ls /opt/swift 2>/dev/null' || true)"
[[ -z $listing ]] || fail "/opt/swift exists in $root after the install: $listing"
pass "chroot $root sh -c 'ls /opt/swift 2>/dev/null' is empty"
swift_libs="$(in_root sh -c 'find / -xdev \( -name "libswift*.so*" -o -name "libFoundation*.so*" \) 2>/dev/null' || true)"
[[ -z $swift_libs ]] || fail "Swift runtime libraries in $root: $swift_libs"
pass "no libswift*.so or libFoundation*.so anywhere in $root"
ldd_out="$(in_root ldd /usr/lib/flowhound/flowhound 2>&1)" || fail "ldd /usr/lib/flowhound/flowhound in $root: $ldd_out"
if grep -q "not found" <<<"$ldd_out"; then fail "libraries missing in $root: $(grep 'not found' <<<"$ldd_out")"; fi
if grep -Eq "libswift|/opt/swift" <<<"$ldd_out"; then fail "the binary needs Swift libraries: $ldd_out"; fi
pass "ldd /usr/lib/flowhound/flowhound: $(grep -c '=>' <<<"$ldd_out") libraries, all found, none from Swift"

# --- Layout and the postinst's work --------------------------------------------------------------
for bundle in Flowhound_Detection.resources/scan-cnn.safetensors Flowhound_Reputation.resources/ip-model.safetensors \
    Flowhound_Service.resources/openapi.yaml; do
    [[ -f $root/usr/lib/flowhound/$bundle ]] || fail "/usr/lib/flowhound/$bundle is missing"
done
[[ $(readlink -f "$root/usr/bin/flowhound" | sed "s|^$(readlink -f "$root")||") == /usr/lib/flowhound/flowhound ]] ||
    fail "/usr/bin/flowhound is not a link to /usr/lib/flowhound/flowhound"
pass "/usr/bin/flowhound -> /usr/lib/flowhound/flowhound, with its three resource bundles beside it"
in_root getent passwd flowhound >/dev/null || fail "no flowhound user"
owner="$(in_root stat -c '%U:%G %a' /var/log/flowhound /var/lib/flowhound | sort -u)"
[[ $owner == "flowhound:flowhound 750" ]] || fail "/var/log/flowhound, /var/lib/flowhound are '$owner', not flowhound:flowhound 750"
pass "user flowhound; /var/log/flowhound and /var/lib/flowhound owned by it (0750)"
for file in /etc/flowhound/flowhound.yaml /etc/default/flowhound /etc/logrotate.d/flowhound \
    /lib/systemd/system/flowhound-detect.service /lib/systemd/system/flowhound-serve.service \
    /lib/systemd/system/flowhound-worker.service /usr/share/doc/flowhound/copyright; do
    [[ -f $root$file ]] || fail "$file is missing"
done
pass "config, EnvironmentFile, logrotate file, the three units and the copyright file are installed"
if [[ -n $(find "$root/usr/share/man/man1" -name 'flowhound*.1.gz' 2>/dev/null) ]]; then
    pass "man pages: $(find "$root/usr/share/man/man1" -name 'flowhound*.1.gz' | wc -l) in /usr/share/man/man1"
else
    echo "note: the package has no man pages (built with --no-man?)"
fi

# --- It runs -------------------------------------------------------------------------------------
version_out="$(in_root flowhound --version 2>&1)" || fail "chroot $root flowhound --version: $version_out"
[[ -n $version_out ]] || fail "flowhound --version printed nothing"
case $package_version in
    "$version_out" | "$version_out"-* | "$version_out"+* | "$version_out"~*) ;;
    *) echo "note: flowhound --version says $version_out, the package is $package_version" ;;
esac
pass "chroot $root flowhound --version: $version_out"

sample=/usr/share/doc/flowhound/examples/sample.conn.log.gz
# With /etc/flowhound/flowhound.yaml as the package installs it: detect reads it when present.
if ! in_root flowhound detect "$sample" >"$work/alerts.jsonl" 2>"$work/detect.err"; then
    cat "$work/detect.err" >&2
    fail "chroot $root flowhound detect $sample"
fi
lines="$(grep -c . "$work/alerts.jsonl" || true)"
((lines > 0)) || fail "flowhound detect $sample printed nothing (stderr: $(cat "$work/detect.err"))"
if command -v python3 >/dev/null; then
    python3 - "$work/alerts.jsonl" <<'EOF' || fail "flowhound detect printed something that is not one JSON alert a line"
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
alerts = [json.loads(l) for l in lines]
assert all(isinstance(a, dict) and a.get("event", {}).get("kind") == "alert" for a in alerts), "not all alerts"
assert all("flowhound" in a and "rule" in a and "@timestamp" in a for a in alerts), "alert without @timestamp, rule or flowhound"
assert any(a.get("source", {}).get("ip") for a in alerts), "no alert names a source.ip"
EOF
else
    if grep -v '^{.*}$' "$work/alerts.jsonl" | grep -q .; then fail "flowhound detect printed lines that are not JSON objects"; fi
    grep -q '"kind":"alert"' "$work/alerts.jsonl" || fail "flowhound detect printed no alert"
    grep -q '"source":{"ip":' "$work/alerts.jsonl" || fail "no alert names a source.ip"
fi
pass "chroot $root flowhound detect $sample: $lines JSON alert lines ($(tail -n 1 "$work/detect.err"))"

# serve: Bundle.module finds Flowhound_Service.resources beside the real binary (fatalError if not).
# Port 0: a free loopback port, overriding the config's 8080.
# Not through in_root: a backgrounded function is a subshell, and SIGTERM must reach flowhound itself
# (chroot and env exec it, so $! is its pid).
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 flowhound serve --host 127.0.0.1 --port 0 >"$work/serve.log" 2>&1 &
serve_pid=$!
listening=""
for _ in $(seq 1 100); do
    if grep -q "listening on" "$work/serve.log"; then listening=1; break; fi
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.2
done
if [[ -z $listening ]]; then
    cat "$work/serve.log" >&2
    fail "chroot $root flowhound serve did not start listening"
fi
address="$(grep -o 'listening on [^ ]*' "$work/serve.log" | head -n 1)"
kill -TERM "$serve_pid"
serve_status=0
wait "$serve_pid" || serve_status=$?
serve_pid=""
((serve_status == 0)) || { cat "$work/serve.log" >&2; fail "flowhound serve exited $serve_status on SIGTERM"; }
pass "chroot $root flowhound serve: $address, exit 0 on SIGTERM"

echo "test-deb-install: all $checks checks passed"
