#!/usr/bin/env bash
# Fetch a wolfSSL source from Debian's archive, changing nothing on the system: apt runs with
# a private sources folder, package lists and cache under DEST/apt (build-aux/private-apt.sh).
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

# shellcheck source=build-aux/private-apt.sh
. "$(dirname "$0")/private-apt.sh"
: >"$LOG"
apt_private "$APT" "$LOG" \
    || fail "apt-get not found: fetch a wolfSSL $want source yourself and pass WOLFSSL_SRC=dir|tarball"

cd "$DEST"
if [[ $RELEASE == debian12 ]]; then
    command -v dpkg-source >/dev/null || fail "unpacking Debian's source needs dpkg-dev (apt-get install dpkg-dev)"
    ver=$(apt-cache "${APT_O[@]}" showsrc wolfssl 2>/dev/null | sed -n 's/^Version: \(5\.5\.4-.*\)/\1/p' | sort -V | tail -n 1) || true
    [[ -n $ver ]] || fail "Debian 12's wolfssl 5.5.4 source is not in the archive (any more, or it could not be reached: see $LOG); use WOLFSSL_SRC=dir|tarball"
    say "apt-get source wolfssl=$ver"
    apt-get "${APT_O[@]}" source "wolfssl=$ver" >>"$LOG" 2>&1 || fail "apt-get source wolfssl=$ver (see $LOG)"
else
    file=wolfssl_$RELEASE.orig.tar.gz
    apt_orig wolfssl "${DEBVER[$RELEASE]}" "$file" "${SHA256[$RELEASE]}" \
        || fail "the pinned wolfSSL $RELEASE tarball (Debian ${DEBVER[$RELEASE]}) is no longer in Debian's archive; download wolfssl-$RELEASE-stable.tar.gz from wolfSSL's releases and run: make WOLFSSL_SRC=/path/to/it.tar.gz"
    tar -xzf "$file" || fail "unpacking $file"
fi
tree=$(find_tree "$want")
[[ -n $tree ]] || fail "no wolfssl-$want* directory after fetching (see $LOG)"
echo "$tree"
