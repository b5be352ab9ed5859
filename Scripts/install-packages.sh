#!/usr/bin/env bash
# Installs the Debian packages named that are not installed yet (apt-get, with sudo when not root):
# what Scripts/setup.sh and Scripts/setup-capture-tools.sh share. The first argument names the
# caller in its messages.
set -euo pipefail
caller="$1"
shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "$caller: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
