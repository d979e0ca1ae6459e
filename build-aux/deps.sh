#!/usr/bin/env bash
# make deps: install the Debian packages named on the command line that are
# missing. Idempotent; needs root only when something is missing. (The tuned
# wolfSSL's source is fetched by build-aux/fetch-wolfssl.sh with a private apt
# state: no deb-src line is needed or added.)
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "make deps: missing Debian packages: ${missing[*]}; run 'sudo make deps'" >&2
  exit 1
fi
echo "make deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
