#!/usr/bin/env bash
# The luarocks build (rockspec/*.rockspec: `make rock` / `make rock-install`). Which wolfSSL:
#   1. WOLFSSL_DIR=/prefix given (`luarocks make WOLFSSL_DIR=...`, as LuaSec takes OPENSSL_DIR):
#      that one, linked with an rpath to its lib/ (features.build = "custom");
#   2. else the tuned wolfSSL, built from source as `make` does (Debian's source archive, a
#      few minutes once; reused when the checkout already has it); its library is installed
#      in the rock's own folder, PREFIX/libwolfssl/, where core.so's rpath points (not in the
#      tree's lib/lua/: luarocks would take it for a Lua module);
#   3. else (no source, no network, no autotools) the system's libwolfssl, with a warning.
#
#   build-aux/rock.sh build|install WOLFSSL_DIR
# Run by make, so the luarocks variables (LUA, LUA_INCDIR, CFLAGS, BUILD, PREFIX, LIBDIR...) reach
# the inner make through MAKEFLAGS. The choice is kept in $BUILD/rock-wolfssl for install.
set -euo pipefail
STEP=${1:?usage: rock.sh build|install WOLFSSL_DIR}
DIR=${2:-}
MAKE=${MAKE:-make}
ROOT=$(pwd)
BUILD=${BUILD:-build-rock}
CHOICE=$BUILD/rock-wolfssl
TUNED=$ROOT/build/wolfssl-tuned     # the checkout's tuned build, shared with `make`

say() { printf 'lua-wolfssl: %s\n' "$*"; }
# left in the environment by an enclosing make (the suite's, say), not given by luarocks:
# they would make the inner make link another wolfSSL than the one chosen here
unset WOLFSSL_INCDIR WOLFSSL_LIBDIR WOLFSSL_RPATH TUNED_PREFIX

# make's variables for each choice (the same at build and install, so nothing relinks)
vars() {
    case $1 in
        custom) echo WOLFSSL=custom "WOLFSSL_INCDIR=$2/include" "WOLFSSL_LIBDIR=$2/lib" ;;
        tuned) echo WOLFSSL=tuned "TUNED_PREFIX=$2" "WOLFSSL_RPATH=${PREFIX:?}/libwolfssl" ;;
        *) echo WOLFSSL=system ;;
    esac
}

if [[ $STEP == install ]]; then
    read -r kind prefix <"$CHOICE" || { say "run the build step first" >&2; exit 1; }
    # shellcheck disable=SC2046 # (no spaces in the prefixes: make would not take them either)
    $MAKE install $(vars "$kind" "$prefix")
    if [[ $kind == tuned ]]; then   # the library under its soname, where core.so's rpath points
        lib=$(readlink -f "$prefix/lib/libwolfssl.so")
        soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
        install -d "${DESTDIR:-}$PREFIX/libwolfssl"
        install -m 755 "$lib" "${DESTDIR:-}$PREFIX/libwolfssl/${soname:?no SONAME in $lib}"
    fi
    exit 0
fi

# from scratch: the rpath names the tree being installed into, which make cannot see change
rm -rf "$BUILD"
mkdir -p "$BUILD"
if [[ -n $DIR ]]; then
    [[ -f $DIR/include/wolfssl/ssl.h ]] && compgen -G "$DIR/lib/libwolfssl.so*" >/dev/null \
        || { say "WOLFSSL_DIR=$DIR has no include/wolfssl/ssl.h and lib/libwolfssl.so" >&2; exit 1; }
    DIR=$(cd "$DIR" && pwd)
    say "linking the wolfSSL in WOLFSSL_DIR=$DIR"
    # shellcheck disable=SC2046
    $MAKE all $(vars custom "$DIR")
    echo "custom $DIR" >"$CHOICE"
    exit 0
fi

say "building the tuned wolfSSL from source into $TUNED (assembly, the current release's features;"
say "a few minutes the first time; WOLFSSL_DIR=/prefix links another one instead)"
if $MAKE wolfssl WOLFSSL=tuned TUNED_PREFIX="$TUNED"; then
    # shellcheck disable=SC2046
    $MAKE all $(vars tuned "$TUNED")
    echo "tuned $TUNED" >"$CHOICE"
    say "linked the tuned wolfSSL ($(sed -n '1s/^wolfssl //p' "$TUNED/.stamp"))"
    exit 0
fi

cat <<'EOF'
lua-wolfssl: WARNING: the tuned wolfSSL could not be built (see above): falling back to the
lua-wolfssl: WARNING: system's libwolfssl. It is much slower (no assembly: AES-GCM about 15x
lua-wolfssl: WARNING: slower) and lacks features (see wolfssl.features: post-quantum groups,
lua-wolfssl: WARNING: early data, ...). Install autoconf, automake, libtool and apt-get access to
lua-wolfssl: WARNING: Debian's archive, or build wolfSSL yourself and pass WOLFSSL_DIR=/prefix.
EOF
$MAKE all WOLFSSL=system
echo "system" >"$CHOICE"
