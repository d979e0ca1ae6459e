#!/usr/bin/env bash
# Build OpenSSL 3.5's command-line tool, the post-quantum peer of the suite (the first OpenSSL
# with ML-KEM and X25519MLKEM768; the system's openssl is older), into a project-local folder.
#
#   build-aux/build-openssl-peer.sh DEST        e.g. build/peers/openssl-3.5
#
# The source is an original tarball from Debian's archive, fetched with a private apt state
# (build-aux/private-apt.sh: nothing on the system changes) into DEST/../src. The archive is a
# snapshot that drops old revisions: the first version below it still has is taken, each
# checked against its pinned SHA-256. Result: DEST/openssl (static, no modules, no config
# needed) and DEST/.stamp (the version); when the stamp is there the script exits at once.
# Progress: one line per phase on stderr; the full log is DEST.log. About 3 minutes on 2 cores.
set -euo pipefail
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS CPPFLAGS LDFLAGS   # called from make: our flags only

HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:?usage: build-openssl-peer.sh DEST}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
SRC=$(dirname "$DEST")/src
LOG=$DEST.log
JOBS=${JOBS:-2}

say() { printf 'openssl-peer: %s\n' "$*" >&2; }
fail() {
    printf 'openssl-peer: FAILED: %s\n' "$*" >&2
    [[ -f $LOG ]] && { echo "---- last 20 lines of $LOG ----" >&2; tail -n 20 "$LOG" >&2; }
    exit 1
}

# one build at a time (several suites may start at once); the others wait for it
exec 9>"$DEST.lock"
flock 9
if [[ -x $DEST/openssl && -f $DEST/.stamp ]]; then
    say "up to date: $(cat "$DEST/.stamp") in $DEST"
    exit 0
fi

# Debian version that carries the tarball, upstream version, SHA-256 of openssl_<v>.orig.tar.gz
# (from the suites' signed Sources), in order of preference: 3.5 is Debian 13's and an LTS;
# 3.6 has the same groups.
CANDIDATES=(
    "3.5.7-1~deb13u2 3.5.7 a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8"
    "3.5.7-1~deb13u3 3.5.7 a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8"
    "3.5.9-1~deb13u1 3.5.9 603f5602e2eef00d77fbd429d34dcd5822bb301757a1bc9cdb24c670f1eb859a"
    "3.6.3-1 3.6.3 243a86649cf6f23eeb6a2ff2456e09e5d77dd9018a54d3d96b0c6bdd6ba6c7f1"
    "3.6.5-1 3.6.5 a2157c2830efdec3788939b00c9b0638306d3f0bbb76dc4832ee503bb397df98"
)

for tool in make cc perl; do
    command -v "$tool" >/dev/null || fail "missing $tool (apt-get install build-essential perl)"
done
: >"$LOG"
START=$SECONDS
mkdir -p "$SRC"
cd "$SRC"

# a tarball fetched before (checked then) is used again
tarball='' version=''
for c in "${CANDIDATES[@]}"; do
    read -r _ v _ <<<"$c"
    if [[ -f openssl_$v.orig.tar.gz ]]; then tarball=openssl_$v.orig.tar.gz version=$v; break; fi
done
if [[ -z $tarball ]]; then
    # shellcheck source=build-aux/private-apt.sh
    . "$HERE/private-apt.sh"
    apt_private "$SRC/apt" "$LOG" \
        || fail "apt-get not found: build OpenSSL >= 3.5 yourself and put its apps/openssl at $DEST/openssl"
    for c in "${CANDIDATES[@]}"; do
        read -r debver v sha <<<"$c"
        if apt_orig openssl "$debver" "openssl_$v.orig.tar.gz" "$sha"; then
            tarball=openssl_$v.orig.tar.gz version=$v
            break
        fi
    done
    [[ -n $tarball ]] || fail "none of the pinned OpenSSL tarballs (${CANDIDATES[*]%% *}) is in Debian's archive any more: add a newer one to CANDIDATES in $0 (version and SHA-256 from 'apt-cache showsrc openssl'), or build OpenSSL >= 3.5 yourself and put its apps/openssl at $DEST/openssl"
fi

say "building OpenSSL $version from $tarball (log: $LOG)"
WORK=$SRC/openssl-$version
rm -rf "$WORK"
tar -xzf "$tarball" || fail "unpacking $tarball"
[[ -x $WORK/Configure ]] || fail "no openssl-$version/Configure in $tarball"
( cd "$WORK" && ./Configure no-tests no-docs no-shared no-module ) >>"$LOG" 2>&1 || fail "Configure"
say "make -j$JOBS build_programs"
( cd "$WORK" && make -j"$JOBS" build_programs ) >>"$LOG" 2>&1 || fail "make"
"$WORK/apps/openssl" version >>"$LOG" 2>&1 || fail "the built apps/openssl does not run"
cp "$WORK/apps/openssl" "$DEST/openssl"
"$DEST/openssl" version >"$DEST/.stamp"
rm -rf "$WORK"
say "done in $((SECONDS - START))s: $(cat "$DEST/.stamp")"
