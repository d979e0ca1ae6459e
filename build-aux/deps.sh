#!/usr/bin/env bash
# make deps: install the Debian packages named on the command line that are
# missing, and the deb-src line the tuned wolfSSL build needs. Idempotent.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
need_src=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  need_src=1
fi
if [ ${#missing[@]} -eq 0 ] && [ $need_src -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "make deps: missing Debian packages: ${missing[*]:-none}; run 'sudo make deps'" >&2
  exit 1
fi
if [ $need_src -eq 1 ]; then bash "$(dirname "$0")/add-deb-src.sh"; fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "make deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
