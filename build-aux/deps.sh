#!/usr/bin/env bash
# make deps: install the Debian packages named on the command line that are
# missing. Idempotent; needs root only when something is missing: as another
# user it goes through sudo (without a prompt when sudo allows it, with one on a
# terminal), or says which packages to install. (The tuned wolfSSL's source is
# fetched by build-aux/fetch-wolfssl.sh with a private apt state: no deb-src
# line is needed or added.)
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
as_root=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    as_root=(sudo)
  else
    echo "make deps: missing Debian packages: ${missing[*]}" >&2
    echo "make deps: install them as root: apt-get install ${missing[*]} (or run 'sudo make deps')" >&2
    exit 1
  fi
fi
echo "make deps: installing ${missing[*]}${as_root[*]:+ (with sudo)}"
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
