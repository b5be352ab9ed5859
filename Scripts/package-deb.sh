#!/usr/bin/env bash
# Builds Flowhound's Debian package, .build/flowhound_VERSION_ARCH.deb: the flowhound binary with the
# Swift runtime linked in (it needs no Swift toolchain where it is installed), its resource bundles,
# man pages, an example config, three systemd services (not enabled), a logrotate file and docs.
#
#   Scripts/package-deb.sh                    build in release, make the man pages, package
#   Scripts/package-deb.sh --version 0.1.0-2  the package's version (default: flowhound --version)
#   Scripts/package-deb.sh --output FILE      the .deb's path (default .build/flowhound_VERSION_ARCH.deb)
#   Scripts/package-deb.sh --no-strip         keep the binary's symbols (for symbolic backtraces)
#   Scripts/package-deb.sh --prebuilt DIR     package DIR/flowhound and DIR/*.resources instead of
#                                             building (no Swift step; give --man-dir or --no-man too)
#   Scripts/package-deb.sh --man-dir DIR      take the man pages (*.1) from DIR instead of generating them
#   Scripts/package-deb.sh --no-man           package without man pages
#
# The build goes to its own scratch path, .build-deb/ (ignored by git through .build*/), so that it
# does not disturb the normal .build/: `swift build -c release --product flowhound
# --static-swift-stdlib --scratch-path .build-deb`. A first build there checks the dependencies out
# again at Package.resolved's pins (from SwiftPM's cache and wherever git fetches them from) and
# compiles everything: long on two cores. The man pages come from swift-argument-parser's
# generate-manual plugin, which builds the package again in release (dynamically linked, in
# .build-deb/) and runs generate-manual on that flowhound: that is why the static binary is staged
# before the plugin runs.
#
# Where things go, and why: SwiftPM's resource bundles (Flowhound_Detection.resources: the scan CNN,
# Flowhound_Reputation.resources: the IP model, Flowhound_Service.resources: openapi.yaml) are found
# beside the executable: Bundle.module (Service) looks in Bundle.main.bundleURL, and the models in the
# directory of Bundle.main.executableURL with symlinks resolved; on Linux both are the directory of
# /proc/self/exe, the real file. So the binary and its bundles go to /usr/lib/flowhound/ and
# /usr/bin/flowhound is a symlink to it. A missing Flowhound_Service.resources stops `serve` at
# start (Bundle.module calls fatalError), so all three are required.
#
# Checks: ldd of the staged binary must show no library of the Swift toolchain (/opt/swift, libswift*,
# libFoundation*, libdispatch, libBlocksRuntime) and nothing "not found"; the staged binary must print
# its version and find scans (JSON alerts) in Samples/. lintian runs on the result when installed
# (its findings are printed, not fatal). Scripts/test-deb-install.sh installs the package in a clean
# Debian root made by debootstrap.
#
# Needs: swift (unless --prebuilt), dpkg-deb, ldd, readelf and strip (binutils), gzip; dpkg-shlibdeps
# (dpkg-dev) to compute versioned Depends (without it, unversioned ones from dpkg -S); patchelf or
# chrpath to drop the RUNPATH SwiftPM sets (optional; lintian flags it). Environment: DEB_MAINTAINER
# ("Name <address>", default "Flowhound maintainers <flowhound@localhost>"); FLOWHOUND_DEB_VERSION
# (as --version);
# FLOWHOUND_DEB_ALLOW_SWIFT_LIBS=1 turns the ldd check into a warning, only to try the packaging steps
# on a binary linked against the toolchain: such a package does not run on a machine without Swift.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

SCRATCH=.build-deb
STAGE="$SCRATCH/pkgroot"
SAMPLE=Samples/stratosphere-008-mixed.head300.conn.log.gz
# DEB_MAINTAINER="Name <address>" to sign with a real address (lintian calls @localhost bogus).
MAINTAINER="${DEB_MAINTAINER:-Flowhound maintainers <flowhound@localhost>}"
MAN_AUTHOR="${MAINTAINER/ </<}"
# Libraries that belong to the Swift toolchain, not to Debian: none may be needed at run time.
TOOLCHAIN_LIBS='/opt/swift|libswift|libFoundation|lib_FoundationICU|libdispatch\.so|libBlocksRuntime'
# The resource bundles the code looks for beside the executable (Bundle.module, shippedModelPath).
REQUIRED_BUNDLES=(Flowhound_Detection Flowhound_Reputation Flowhound_Service)
# Data the binary needs that no shared library brings: the libloc database (libloc1 links
# /var/lib/location/database.db to it), adduser for the postinst.
EXTRA_DEPENDS="libloc-database, adduser"

version="${FLOWHOUND_DEB_VERSION:-}"
output=""
strip_binary=1
prebuilt=""
man_dir=""
no_man=0

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

die() {
    echo "package-deb: error: $*" >&2
    exit 1
}

step() { echo "== $*" >&2; }

while (($#)); do
    case $1 in
        --version) version=${2:?--version needs a value}; shift 2 ;;
        --output) output=${2:?--output needs a path}; shift 2 ;;
        --no-strip) strip_binary=0; shift ;;
        --prebuilt) prebuilt=${2:?--prebuilt needs a directory}; shift 2 ;;
        --man-dir) man_dir=${2:?--man-dir needs a directory}; shift 2 ;;
        --no-man) no_man=1; shift ;;
        -h | --help) usage ;;
        *) echo "package-deb: unknown argument '$1'" >&2; usage ;;
    esac
done

for tool in dpkg dpkg-deb ldd readelf gzip install; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (apt-get install dpkg binutils libc-bin gzip coreutils)"
done
if ((strip_binary)); then command -v strip >/dev/null || die "'strip' is missing (apt-get install binutils), or give --no-strip"; fi
if [[ -z $prebuilt || ($no_man -eq 0 && -z $man_dir) ]]; then
    command -v swift >/dev/null || die "no 'swift' on PATH (needed to build and to generate the man pages; see --prebuilt, --man-dir)"
fi
[[ -f $SAMPLE ]] || die "$SAMPLE is missing"
arch="$(dpkg --print-architecture)"

# The fuzzing variant of Package.swift must not be what gets packaged.
unset FLOWHOUND_FUZZ

# --- 1. Build -----------------------------------------------------------------------------------
build_flags=(-c release --product flowhound --static-swift-stdlib --scratch-path "$SCRATCH")
if [[ -n $prebuilt ]]; then
    bin_dir="$(cd "$prebuilt" && pwd)"
    step "using the binary in $bin_dir (no build)"
else
    step "swift build ${build_flags[*]}"
    swift build "${build_flags[@]}" >&2
    bin_dir="$(swift build "${build_flags[@]}" --show-bin-path)"
fi
[[ -x $bin_dir/flowhound ]] || die "no executable $bin_dir/flowhound"
for bundle in "${REQUIRED_BUNDLES[@]}"; do
    [[ -d $bin_dir/$bundle.resources ]] || die "$bin_dir/$bundle.resources is missing: flowhound looks for it beside the binary"
done

# --- 2. Stage the binary and its bundles ---------------------------------------------------------
step "staging in $STAGE"
rm -rf "$STAGE"
mkdir -p "$STAGE/usr/lib/flowhound" "$STAGE/usr/bin"
install -m 0755 "$bin_dir/flowhound" "$STAGE/usr/lib/flowhound/flowhound"
if ((strip_binary)); then
    # As dh_strip does for executables. Swift's metadata (swift5_* sections) is allocated and stays.
    strip --remove-section=.comment --remove-section=.note "$STAGE/usr/lib/flowhound/flowhound"
fi
# Every bundle SwiftPM made (at least the three above), beside the binary.
for dir in "$bin_dir"/*.resources; do
    cp -R "$dir" "$STAGE/usr/lib/flowhound/"
done
ln -s ../lib/flowhound/flowhound "$STAGE/usr/bin/flowhound"
staged="$STAGE/usr/lib/flowhound/flowhound"

# --- 3. No Swift toolchain library at run time ---------------------------------------------------
step "checking the libraries $staged needs (ldd)"
libs="$(ldd "$staged" 2>&1)" || die "ldd failed on $staged: $libs"
echo "$libs" | sed 's/^/    /' >&2
if grep -q "not found" <<<"$libs"; then
    die "the binary needs libraries that are not installed here:
$(grep "not found" <<<"$libs")"
fi
if grep -Eq "$TOOLCHAIN_LIBS" <<<"$libs"; then
    message="the binary needs the Swift toolchain's libraries, so it would not run where Swift is not installed:
$(grep -E "$TOOLCHAIN_LIBS" <<<"$libs")
Build with --static-swift-stdlib (as this script does); a --prebuilt binary must be built that way too."
    if [[ ${FLOWHOUND_DEB_ALLOW_SWIFT_LIBS:-0} == 1 ]]; then
        echo "package-deb: WARNING (FLOWHOUND_DEB_ALLOW_SWIFT_LIBS=1): $message" >&2
    else
        die "$message"
    fi
fi
# SwiftPM links in a RUNPATH ($ORIGIN, and the toolchain's lib directory). A binary that needs no
# toolchain library needs nothing from it, and Debian forbids it (lintian: custom-library-search-path):
# drop it, then make sure every library is still found.
if ! grep -Eq "$TOOLCHAIN_LIBS" <<<"$libs" && readelf -dW "$staged" | grep -Eq '\((RUNPATH|RPATH)\)'; then
    if command -v patchelf >/dev/null; then
        patchelf --remove-rpath "$staged"
    elif command -v chrpath >/dev/null; then
        chrpath -d "$staged" >/dev/null
    else
        echo "package-deb: note: the binary keeps its RUNPATH (lintian: custom-library-search-path); apt-get install patchelf to drop it" >&2
    fi
    libs="$(ldd "$staged" 2>&1)" || die "ldd failed on $staged after removing its RUNPATH: $libs"
    if grep -q "not found" <<<"$libs"; then die "without its RUNPATH the binary misses: $(grep "not found" <<<"$libs")"; fi
fi
# MemoryDenyWriteExecute=yes in the units needs no executable stack in the binary or its libraries.
while read -r lib; do
    if readelf -lW "$lib" 2>/dev/null | awk '$1 == "GNU_STACK" && $7 ~ /E/ { found = 1 } END { exit !found }'; then
        echo "package-deb: WARNING: $lib asks for an executable stack: MemoryDenyWriteExecute=yes in the units would stop flowhound" >&2
    fi
done < <(
    echo "$staged"
    awk '/=> \// { print $3 }' <<<"$libs"
)

# --- 4. The staged binary runs: version, and scans found in the sample ---------------------------
step "running the staged binary"
smoke="$(mktemp -d)"
trap 'rm -rf "$smoke"' EXIT
binary_version="$(env -u FLOWHOUND_SCAN_MODEL -u FLOWHOUND_IP_MODEL "$staged" --version)" || die "$staged --version failed"
version="${version:-$binary_version}"
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "'$version' is not a Debian version (give --version)"
config_args=()
# An empty config file: what /etc/flowhound/flowhound.yaml says on this machine must not matter here.
if "$staged" detect --help 2>/dev/null | grep -q -- "--config"; then
    : >"$smoke/empty.yaml"
    config_args=(--config "$smoke/empty.yaml")
fi
env -u FLOWHOUND_SCAN_MODEL -u FLOWHOUND_IP_MODEL "$staged" detect "${config_args[@]}" "$SAMPLE" >"$smoke/alerts.jsonl" 2>"$smoke/stderr" ||
    die "$staged detect $SAMPLE failed: $(cat "$smoke/stderr")"
grep -q '"kind":"alert"' "$smoke/alerts.jsonl" || die "$staged detect $SAMPLE printed no alert: $(head -c 500 "$smoke/alerts.jsonl")"
echo "    flowhound $binary_version; detect on $SAMPLE: $(wc -l <"$smoke/alerts.jsonl") alert lines" >&2

# --- 5. Man pages --------------------------------------------------------------------------------
man_out="$STAGE/usr/share/man/man1"
if ((no_man)); then
    step "no man pages (--no-man)"
else
    if [[ -z $man_dir ]]; then
        # swift-argument-parser's GenerateManual plugin (verb generate-manual): builds the package's
        # products in release, runs generate-manual on each executable that uses ArgumentParser (it
        # reads `flowhound --experimental-dump-help`) and writes into the plugin's work directory,
        # <scratch>/plugins/.../GenerateManual/.../flowhound/ (no write access to the package is
        # needed). --multi-page: one page per subcommand, flowhound.1, flowhound.detect.1, ...
        # The date is the last commit's, so that the same commit gives the same pages.
        man_date="$(git log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)"
        find "$SCRATCH/plugins" -name 'flowhound*.1' -delete 2>/dev/null || true
        step "swift package --scratch-path $SCRATCH generate-manual --multi-page --date $man_date --authors '$MAN_AUTHOR'"
        swift package --scratch-path "$SCRATCH" generate-manual --multi-page --date "$man_date" --authors "$MAN_AUTHOR" >&2
        page="$(find "$SCRATCH/plugins" -name flowhound.1 -type f | head -n 1)"
        [[ -n $page ]] || die "the generate-manual plugin wrote no flowhound.1 under $SCRATCH/plugins"
        man_dir="$(dirname "$page")"
    fi
    shopt -s nullglob
    pages=("$man_dir"/*.1)
    shopt -u nullglob
    ((${#pages[@]})) || die "no *.1 man page in $man_dir"
    step "man pages from $man_dir: ${#pages[@]}"
    mkdir -p "$man_out"
    for page in "${pages[@]}"; do
        gzip -9nc "$page" >"$man_out/$(basename "$page").gz"
    done
fi

# --- 6. Config, services, logrotate, docs --------------------------------------------------------
step "config, units, docs"
install -D -m 0644 Packaging/flowhound.yaml "$STAGE/etc/flowhound/flowhound.yaml"
install -D -m 0644 Packaging/default/flowhound "$STAGE/etc/default/flowhound"
install -D -m 0644 Packaging/logrotate/flowhound "$STAGE/etc/logrotate.d/flowhound"
for unit in Packaging/systemd/*.service; do
    install -D -m 0644 "$unit" "$STAGE/lib/systemd/system/$(basename "$unit")"
done

doc="$STAGE/usr/share/doc/flowhound"
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 "$SAMPLE" "$doc/examples/sample.conn.log.gz"
install -D -m 0644 Samples/SOURCES.md "$doc/examples/SOURCES.md"
install -D -m 0644 Packaging/flowhound.yaml "$doc/examples/flowhound.yaml"

cat >"$doc/README.Debian" <<'EOF'
Flowhound for Debian
====================

The command is /usr/bin/flowhound (a link to /usr/lib/flowhound/flowhound, beside which sit the
resource bundles holding the default scan CNN, the IP model and the HTTP API's description). It needs
no Swift installation. `man flowhound`, and `man flowhound.detect` etc. for each command.

Settings: /etc/flowhound/flowhound.yaml, read by detect, serve, worker and publish whoever runs
them; command-line flags override it. `flowhound config show` prints what each command runs with.

Services (installed, not enabled; they run as the system user flowhound):

  flowhound-detect   follows the flow log named by FLOWHOUND_LOG in /etc/default/flowhound
                     (default /opt/zeek/logs/current/conn.log) and appends alerts, one JSON line
                     each, to /var/log/flowhound/alerts.jsonl (rotated daily by logrotate, which
                     then sends SIGHUP so that detect reopens the file).
                       systemctl enable --now flowhound-detect
  flowhound-serve    the HTTP API on 127.0.0.1:8080 (serve: in the config; set token-file there
                     before listening on another address). systemctl reload reloads the models.
  flowhound-worker   a NATS JetStream worker (worker: nats: in the config), fed by
                     `flowhound publish LOG... --nats URL`.

The flowhound user must be able to read the followed log: add it to the log's group
(usermod -aG zeek flowhound) or use SupplementaryGroups= in a drop-in (systemctl edit
flowhound-detect). The units are hardened (ProtectSystem=strict, ProtectHome=yes, no capabilities):
the log cannot be under /home, and only /var/log/flowhound and /var/lib/flowhound are writable.

The libloc location database (package libloc-database, /var/lib/location/database.db) gives
addresses their country and network; `location update` (package location) refreshes it.

Try it: flowhound detect /usr/share/doc/flowhound/examples/sample.conn.log.gz
EOF

# Copyright: Flowhound's own, the sample's, and that of the Swift packages linked into the binary
# (their licence texts go to third-party/).
checkouts="$SCRATCH/checkouts"
[[ -d $checkouts ]] || checkouts=.build/checkouts
linked=()
kinds=()
if [[ -d $checkouts ]]; then
    for dir in "$checkouts"/*/; do
        name="$(basename "$dir")"
        licence="$(find "$dir" -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'LICENCE*' -o -iname 'COPYING*' \) | sort | head -n 1)"
        [[ -n $licence ]] || continue
        install -D -m 0644 "$licence" "$doc/third-party/$name.LICENSE.txt"
        if grep -q "Apache License" "$licence"; then
            kind=Apache-2.0
        elif grep -q "MIT License\|Permission is hereby granted" "$licence"; then
            kind=MIT
        else
            kind=other
        fi
        linked+=("$name ($kind)")
        kinds+=("$kind")
    done
fi
copyright_year="$(git log -1 --format=%cd --date=format:%Y 2>/dev/null || date -u +%Y)"
binary_licences="$(printf '%s\n' unspecified Apache-2.0 "${kinds[@]}" | awk '!seen[$0]++' | paste -sd'\t' - | sed 's/\t/ and /g')"
{
    cat <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Flowhound

EOF
    echo "Files: *"
    echo "Copyright: $copyright_year Flowhound maintainers"
    echo "License: unspecified"
    echo " The Flowhound repository names no licence yet."
    echo
    echo "Files: usr/lib/flowhound/flowhound"
    echo "Copyright: $copyright_year Flowhound maintainers"
    echo " Apple Inc. and the Swift project authors"
    echo " the authors of the Swift packages named below"
    echo "License: $binary_licences"
    {
        echo "Flowhound's code with, linked in, the Swift runtime and Foundation (Apache-2.0 with the Runtime Library Exception) and these Swift packages, whose licence texts are in /usr/share/doc/flowhound/third-party/:"
        if ((${#linked[@]})); then printf '%s\n' "${linked[@]}" | paste -sd, - | sed 's/,/, /g'; fi
        echo "Debian's zlib, OpenBLAS, libmaxminddb, libloc and libnats are linked dynamically."
    } | fold -s -w 76 | sed '1s/^/Comment: /; 2,$s/^/ /; s/ *$//'
    cat <<'EOF'

Files: usr/share/doc/flowhound/examples/sample.conn.log.gz
Copyright: Stratosphere Laboratory (stratosphereips/security-datasets-for-testing)
License: GPL-2
Comment: The first 300 records of 008-zeek-mixed from
 stratosphereips/security-datasets-for-testing (see examples/SOURCES.md).

License: GPL-2
 On Debian systems, the full text of the GNU General Public License version 2
 is in /usr/share/common-licenses/GPL-2.

License: Apache-2.0
 On Debian systems, the full text of the Apache License version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
    if printf '%s\n' "${kinds[@]}" | grep -qx MIT; then
        printf '\nLicense: MIT\n The text, with each package'"'"'s copyright notice, is in\n /usr/share/doc/flowhound/third-party/.\n'
    fi
    if printf '%s\n' "${kinds[@]}" | grep -qx other; then
        printf '\nLicense: other\n See the package'"'"'s file in /usr/share/doc/flowhound/third-party/.\n'
    fi
} >"$doc/copyright"
chmod 0644 "$doc/copyright"

# Swift packages are linked statically by design; Yams carries its own copy of libyaml.
mkdir -p "$STAGE/usr/share/lintian/overrides"
cat >"$STAGE/usr/share/lintian/overrides/flowhound" <<'EOF'
# Yams (a Swift package linked into the binary, as every Swift dependency is) embeds libyaml.
flowhound: embedded-library libyaml [usr/lib/flowhound/flowhound]
EOF

commit="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
changelog_date="$(git log -1 --format=%aD 2>/dev/null || date -R)"
printf 'flowhound (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
    "$version" "$commit" "$MAINTAINER" "$changelog_date" | gzip -9n >"$doc/changelog.gz"

# --- 7. Control files ----------------------------------------------------------------------------
step "control files"
mkdir -p "$STAGE/DEBIAN"

# Depends: from the binary's NEEDED libraries, as dpkg-shlibdeps reads them (versioned from the
# libraries' symbols files), else one package per library from dpkg -S.
depends=""
if command -v dpkg-shlibdeps >/dev/null; then
    shl="$(mktemp -d)"
    mkdir -p "$shl/debian"
    printf 'Source: flowhound\n\nPackage: flowhound\nArchitecture: any\n' >"$shl/debian/control"
    shlib_flags=()
    if [[ ${FLOWHOUND_DEB_ALLOW_SWIFT_LIBS:-0} == 1 ]]; then shlib_flags=(--ignore-missing-info); fi
    abs_staged="$(cd "$(dirname "$staged")" && pwd)/flowhound"
    depends="$(cd "$shl" && dpkg-shlibdeps -O "${shlib_flags[@]}" -e"$abs_staged" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')" ||
        die "dpkg-shlibdeps failed on $staged"
    rm -rf "$shl"
else
    echo "package-deb: note: no dpkg-shlibdeps (apt-get install dpkg-dev): unversioned Depends from dpkg -S" >&2
    packages=()
    while read -r soname; do
        path="$(awk -v s="$soname" '$1 == s && $3 ~ /^\// { print $3 }' <<<"$libs")"
        [[ -n $path ]] || continue
        owner=""
        for candidate in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr${path}"; do
            owner="$(dpkg -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1)" && [[ -n $owner ]] && break
        done
        [[ -n $owner ]] || die "no Debian package owns $path ($soname)"
        # libopenblas.so.0 comes from one of three variants; libopenblas0 accepts any.
        case $owner in libopenblas0-*) owner=libopenblas0 ;; esac
        packages+=("$owner")
    done < <(readelf -dW "$staged" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    depends="$(printf '%s\n' "${packages[@]}" | sort -u | paste -sd, - | sed 's/,/, /g')"
fi
[[ -n $depends ]] || die "found no library dependencies for $staged"
depends="$depends, $EXTRA_DEPENDS"

installed_size="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
cat >"$STAGE/DEBIAN/control" <<EOF
Package: flowhound
Version: $version
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $installed_size
Depends: $depends
Suggests: nats-server, rsyslog
Section: net
Priority: optional
Description: port-scan detector for network flow logs
 Flowhound finds port scans (vertical, horizontal, block, slow and
 distributed) in Zeek conn.log, nfdump, Argus/binetflow, AWS VPC Flow Logs
 and CICFlowMeter records, plain or gzip, with threshold, Threshold Random
 Walk and CNN detectors, and scores IP addresses for reputation. Alerts are
 JSON lines with Elastic Common Schema fields, optionally sent to syslog.
 .
 The package installs three systemd services, not enabled:
 flowhound-detect follows a live flow log and appends alerts to
 /var/log/flowhound/alerts.jsonl, flowhound-serve answers over HTTP on
 127.0.0.1:8080, and flowhound-worker shares detection over NATS JetStream.
EOF

cat >"$STAGE/DEBIAN/conffiles" <<'EOF'
/etc/flowhound/flowhound.yaml
/etc/default/flowhound
/etc/logrotate.d/flowhound
EOF

cat >"$STAGE/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e

if [ "$1" = configure ]; then
    # The services' user: no login, no home directory of its own beyond the state directory.
    if ! getent passwd flowhound >/dev/null; then
        adduser --system --group --no-create-home --home /var/lib/flowhound --quiet flowhound
    fi
    # State and alerts, owned by the services' user (unless the admin set an override).
    for dir in /var/lib/flowhound /var/log/flowhound; do
        mkdir -p "$dir"
        if ! dpkg-statoverride --list "$dir" >/dev/null 2>&1; then
            chown flowhound:flowhound "$dir"
            chmod 0750 "$dir"
        fi
    done
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        # An upgrade: the services that were running restart on the new binary.
        if [ -n "$2" ]; then
            deb-systemd-invoke try-restart flowhound-detect.service flowhound-serve.service flowhound-worker.service >/dev/null 2>&1 || true
        fi
    fi
fi

exit 0
EOF

cat >"$STAGE/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e

# Removal (not an upgrade): stop the services before their binary goes.
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    deb-systemd-invoke stop flowhound-detect.service flowhound-serve.service flowhound-worker.service >/dev/null 2>&1 || true
fi

exit 0
EOF

cat >"$STAGE/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e

if [ "$1" = purge ]; then
    # Services the admin enabled: their links outlive the unit files.
    for unit in flowhound-detect.service flowhound-serve.service flowhound-worker.service; do
        rm -f "/etc/systemd/system/multi-user.target.wants/$unit"
    done
    rm -rf /var/log/flowhound /var/lib/flowhound
    if getent passwd flowhound >/dev/null && command -v deluser >/dev/null; then
        deluser --system --quiet flowhound >/dev/null 2>&1 || true
    fi
    if getent group flowhound >/dev/null && command -v delgroup >/dev/null; then
        delgroup --system --quiet flowhound >/dev/null 2>&1 || true
    fi
fi

if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null 2>&1 || true
fi

exit 0
EOF
chmod 0755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/prerm" "$STAGE/DEBIAN/postrm"
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/conffiles"

# Modes as Debian expects them, whatever the checkout's were; then checksums.
find "$STAGE" -path "$STAGE/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
find "$STAGE" -path "$STAGE/DEBIAN" -prune -o -type f ! -path "$staged" -exec chmod 0644 {} +
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/md5sums"

# --- 8. Build the .deb ---------------------------------------------------------------------------
output="${output:-.build/flowhound_${version}_${arch}.deb}"
mkdir -p "$(dirname "$output")"
step "dpkg-deb --build --root-owner-group $STAGE $output"
dpkg-deb --build --root-owner-group "$STAGE" "$output" >&2
dpkg-deb --info "$output" | sed -n '/Package:/,$p' | sed 's/^/    /' >&2

if command -v lintian >/dev/null; then
    step "lintian (findings are reported, not fatal)"
    lintian "$output" >&2 || true
else
    step "lintian is not installed: skipped (apt-get install lintian)"
fi

echo "$output"
