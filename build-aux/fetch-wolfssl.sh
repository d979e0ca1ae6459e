#!/usr/bin/env bash
# Fetch a wolfSSL source from Debian's archive, changing nothing on the system: apt runs with
# a private sources folder, package lists and cache under DEST/apt (no deb-src line is added
# to /etc/apt, no root needed).
#
#   build-aux/fetch-wolfssl.sh DEST RELEASE
#
# RELEASE  debian12  Debian 12's source package (5.5.4 with Debian's security patches), the
#                    newest bookworm revision; unpacked with dpkg-source.
#          5.9.2 | 5.7.2  the upstream release's original tarball as the newer Debian suites
#                    carry it, checked against the SHA-256 pinned below.
# Prints the path of the unpacked source tree (DEST/wolfssl-<version>...) on stdout; progress
# and errors go to stderr. Already fetched: prints the path at once.
set -euo pipefail

DEST=${1:?usage: fetch-wolfssl.sh DEST RELEASE}
RELEASE=${2:?usage: fetch-wolfssl.sh DEST RELEASE}
MIRROR=${WOLFSSL_APT_MIRROR:-http://deb.debian.org}

# Original tarballs: Debian version that carries it, file, SHA-256 (from the suite's Sources).
declare -A DEBVER=([5.9.2]=5.9.2-1.2 [5.7.2]=5.7.2-0.1+deb13u2)
declare -A SHA256=(
    [5.9.2]=2f4ef3d4fd387a9b3191d36a6316d69116c46ff69bb9583b6c82b36d7b8ca114
    [5.7.2]=0f2ed82e345b833242705bbc4b08a2a2037a33f7bf9c610efae6464f6b10e305
)

say() { printf 'wolfssl: %s\n' "$*" >&2; }
fail() { printf 'wolfssl: FAILED: %s\n' "$*" >&2; exit 1; }

mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
APT=$DEST/apt
LOG=$DEST/fetch.log

find_tree() { find "$DEST" -mindepth 1 -maxdepth 1 -type d -name "wolfssl-$1*" | sort | tail -n 1; }

case $RELEASE in
    debian12) want=5.5.4 ;;
    *) [[ -n ${DEBVER[$RELEASE]:-} ]] \
           || fail "unknown release '$RELEASE' (known: debian12 ${!DEBVER[*]}); use WOLFSSL_SRC=dir|tarball"
       want=$RELEASE ;;
esac
tree=$(find_tree "$want")
if [[ -n $tree ]]; then echo "$tree"; exit 0; fi

command -v apt-get >/dev/null || fail "apt-get not found: fetch a wolfSSL $want source yourself and pass WOLFSSL_SRC=dir|tarball"
mkdir -p "$APT/sources" "$APT/lists/partial" "$APT/cache/archives/partial"
cat >"$APT/sources/wolfssl-src.sources" <<EOF
Types: deb-src
URIs: $MIRROR/debian
Suites: bookworm trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $MIRROR/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
O=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$APT/sources"
   -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o Dir::State::status=/dev/null
   -o APT::Sandbox::User=root -o Debug::NoLocking=1)

say "apt-get update (private lists in $APT)"
apt-get "${O[@]}" update >"$LOG" 2>&1 \
    || fail "apt-get update with private lists failed (see $LOG): no access to Debian's archive? Download wolfSSL $want's source yourself and run: make WOLFSSL_SRC=/path/to/wolfssl-$want-stable.tar.gz"

cd "$DEST"
if [[ $RELEASE == debian12 ]]; then
    command -v dpkg-source >/dev/null || fail "unpacking Debian's source needs dpkg-dev (apt-get install dpkg-dev)"
    ver=$(apt-cache "${O[@]}" showsrc wolfssl 2>/dev/null | sed -n 's/^Version: \(5\.5\.4-.*\)/\1/p' | sort -V | tail -n 1)
    [[ -n $ver ]] || fail "Debian 12's wolfssl 5.5.4 source is not in the archive any more; use WOLFSSL_SRC=dir|tarball"
    say "apt-get source wolfssl=$ver"
    apt-get "${O[@]}" source "wolfssl=$ver" >>"$LOG" 2>&1 || fail "apt-get source wolfssl=$ver (see $LOG)"
else
    file=wolfssl_$RELEASE.orig.tar.gz
    say "fetching $file (Debian ${DEBVER[$RELEASE]})"
    # The .dsc and Debian tarball may be missing from the archive; only the orig tarball matters.
    apt-get "${O[@]}" source --download-only "wolfssl=${DEBVER[$RELEASE]}" >>"$LOG" 2>&1 || true
    [[ -f $file ]] || fail "the pinned wolfSSL $RELEASE tarball (Debian ${DEBVER[$RELEASE]}) is no longer in Debian's archive; download wolfssl-$RELEASE-stable.tar.gz from wolfSSL's releases and run: make WOLFSSL_SRC=/path/to/it.tar.gz"
    echo "${SHA256[$RELEASE]}  $file" | sha256sum -c --quiet - >>"$LOG" 2>&1 \
        || { rm -f "$file"; fail "$file does not match its pinned SHA-256: refusing it"; }
    tar -xzf "$file" || fail "unpacking $file"
fi
tree=$(find_tree "$want")
[[ -n $tree ]] || fail "no wolfssl-$want* directory after fetching (see $LOG)"
echo "$tree"
