#!/usr/bin/env bash
# Build the "tuned" wolfSSL used by lua-wolfssl into a project-local prefix.
#
#   build-aux/build-wolfssl.sh PREFIX [SRC_DIR]
#   WOLFSSL_CC=clang-14 WOLFSSL_EXTRA_CFLAGS="-fsanitize=..." build-aux/build-wolfssl.sh PREFIX
#
# PREFIX   absolute install dir (e.g. $PWD/build/wolfssl-tuned). Result:
#          PREFIX/lib/libwolfssl.so*, PREFIX/include/wolfssl/..., PREFIX/lib/pkgconfig/wolfssl.pc
# SRC_DIR  optional wolfSSL source: a tree (git checkout, unpacked release, Debian source) or a
#          release tarball. Without it: wolfSSL 5.9.2, or the release named by WOLFSSL_RELEASE
#          (5.7.2, debian12 = Debian 12's 5.5.4 source package), fetched into
#          PREFIX/../wolfssl-src by build-aux/fetch-wolfssl.sh (apt with a private state
#          folder: nothing on the system changes).
#
# The source tree is never modified: it is copied to a scratch build dir next to PREFIX.
# PREFIX/.stamp records the version and the exact configure flags; when it matches, the
# script exits at once. Output: one line per phase; the full log is PREFIX-build.log.
# WOLFSSL_CC (compiler) and WOLFSSL_EXTRA_CFLAGS (appended to our CFLAGS) make an instrumented
# copy with the same configure flags, e.g. the ASan + coverage build `make fuzz` links against;
# they are recorded in the stamp (and absent from it when unset).
# Touches no system files: the library is linked later with an rpath.
set -euo pipefail
# Called from make: a caller's `make CFLAGS=...` (check-asan) reaches our own
# make through MAKEFLAGS and would override wolfSSL's flags. The library is
# always built with the flags below, whoever calls.
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS CPPFLAGS LDFLAGS

usage() { echo "usage: $0 PREFIX [SRC_DIR]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
PREFIX=$1
SRC_DIR=${2:-}
[[ $PREFIX == /* ]] || { echo "build-wolfssl: PREFIX must be an absolute path: $PREFIX" >&2; exit 2; }
PREFIX=${PREFIX%/}
TOP=$(dirname "$PREFIX")            # e.g. build/
mkdir -p "$TOP"
LOG=$PREFIX-build.log
WORK=$PREFIX-obj                    # scratch copy of the source, built in place (one per prefix)
JOBS=${JOBS:-2}

say() { printf 'wolfssl: %s\n' "$*"; }
fail() {
    echo "wolfssl: FAILED: $*" >&2
    if [[ -f $LOG ]]; then
        echo "---- last 40 lines of $LOG ----" >&2
        tail -n 40 "$LOG" >&2
    fi
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Configure flags. Each one is here for a reason; keep the reason next to it.
# Baseline: Debian 12 builds with --enable-distro (= --enable-all + shared/static) --enable-pkcs11;
# we keep every API the binding uses from that build and drop what costs memory/speed for nobody.
# ---------------------------------------------------------------------------------------------
CONFIGURE_FLAGS=(
    # --- build shape
    --enable-shared --disable-static   # one .so, linked with an rpath; no static archive to build
    --disable-examples                 # examples/ and testsuite are not installed; halves build time
    --disable-crypttests               # wolfcrypt test+benchmark binaries: we have our own bench loop
    --disable-silent-rules             # full compiler command lines in the log, for debugging
    --disable-dependency-tracking      # one-shot build: skip .deps bookkeeping

    # --- speed: assembly (what Debian's portable build lacks)
    --enable-intelasm                  # AVX1/AVX2 SHA-2, ChaCha20, Poly1305, AES-GCM (runtime CPU detection)
    --enable-aesni                     # AES-NI + PCLMULQDQ for AES-GCM/CBC (runtime detection, falls back to C)
    --enable-sp=yes                    # single-precision math for RSA/DH 2048/3072/4096 and P-256/P-384/P-521
    --enable-sp-asm                    # x86_64 assembly (MULX/ADX when present) for those SP routines
                                       # (sp-math-all stays on, the 5.5.4 default: other key sizes still work)

    # --- protocol versions
    --enable-tls13                     # TLS 1.3 (default, stated for clarity)
    --disable-oldtls                   # no TLS 1.0/1.1: insecure, serves nobody (Debian still allows TLS 1.1)
    --enable-dtls                      # DTLS 1.2
    --enable-dtls13                    # DTLS 1.3 (RFC 9147): stable since 5.6; a 5.5.4 source ignores it
    --enable-earlydata                 # TLS 1.3 0-RTT (Debian: --enable-distro forces it off)
    --enable-postauth                  # TLS 1.3 post-handshake client auth (conn:request_certificate)
    --enable-hrrcookie                 # stateless HelloRetryRequest cookie, as Debian (same HRR on the wire)

    # --- OpenSSL compatibility layer: the binding's X509/X509_NAME/X509_STORE_CTX/SESSION/
    #     ex_data/servername/ALPN-select/ticket-key/info/msg callbacks all live here. opensslall
    #     matches Debian's API surface (OPENSSL_ALL, WOLFSSL_TICKET_HAVE_ID, WOLFSSL_EITHER_SIDE),
    #     so the suite behaves the same on both builds. opensslextra also brings
    #     WOLFSSL_ALWAYS_VERIFY_CB, WOLFSSL_VERIFY_CB_ALL_CERTS, WOLFSSL_EXTRA_ALERTS, HAVE_EXT_CACHE,
    #     encrypted PEM/PKCS#8 keys (enckeys + pwdbased). KEEP_PEER_CERT/KEEP_OUR_CERT come from
    #     settings.h under OPENSSL_ALL (so they are not in options.h, but always on).
    --enable-opensslall
    --enable-opensslextra
    --enable-error-queue-per-thread    # ERR_* queue in TLS, no global lock; as Debian
    # No --enable-sessioncerts (Debian has it): SESSION_CERTS keeps the peer's chain on every
    # session in fixed buffers, MAX_CHAIN_DEPTH(9) x MAX_X509_SIZE(2048), a second time for
    # ALT_CERT_CHAINS: ~36 KiB per connection, client and server, and per WOLFSSL_SESSION held
    # (37.6 KiB -> 0.65 KiB), and 1.2 MB of bss for the session cache. Measured (TLS 1.3 ECDSA,
    # established pair): C loop 128.9 -> 56.7 KiB, lua-wolfssl 130.4 -> 58.8 KiB. conn:peer_chain()
    # comes from the binding instead (csrc/chain.c: DER copies of the chain taken in the verify
    # callback, sized to the real chain). Difference: on a resumed handshake (no Certificate
    # message) peer_certificate()/peer_chain() give nil; features.session_certs = false says so.
    # (configure's "TLS 1.3 + PSK forces sessioncerts" test runs before --enable-psk is read, so
    # it does not fire; the options.h check below makes sure nothing turns it back on.)
    --enable-altcertchains             # accept a chain that verifies via an alternate path (as Debian);
                                       # without SESSION_CERTS it costs no memory per connection (measured)
    --enable-sys-ca-certs              # wolfSSL_CTX_load_system_CA_certs (system_ca option); default, stated

    # --- public key algorithms
    --enable-ecc                       # ECDSA/ECDHE on P-256/P-384 (default curves; no brainpool/koblitz)
    --enable-rsa --enable-rsapss       # RSA incl. RSA-PSS signatures (required by TLS 1.3 with RSA certs)
    --enable-dh                        # finite-field DHE for TLS 1.2 DHE suites + ffdhe groups (default)
    --enable-curve25519                # X25519 key exchange (the most common TLS 1.3 group)
    --enable-mlkem                     # ML-KEM (FIPS 203): post-quantum key exchange, the default
                                       # key share on this build (absent from 5.5.4: configure ignores it)
    --enable-pqc-hybrids               # X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024: the
                                       # hybrids browsers and large servers negotiate (ML-KEM alone is not
                                       # offered: nobody deploys it, and a classical half guards a young KEM)
    --enable-ed25519                   # Ed25519 certificates and pkey.generate("ed25519")

    # --- symmetric: AES-GCM and ChaCha20-Poly1305 are defaults; AES-CBC stays for TLS 1.2 peers.
    #     Left out (Debian has them): Camellia, DES3, RC4, MD2/MD4, BLAKE2, RIPEMD, NULL cipher,
    #     anon suites, AES-CCM/XTS/SIV/CFB/OFB, Ed448/X448, SRP, SAKKE/ECCSI, PKCS#7/S-MIME, PKCS#11.

    # --- TLS extensions / features the binding exposes
    --enable-session-ticket            # RFC 5077 / TLS 1.3 tickets (session_tickets, ticket_keys)
    --enable-sni                       # server_name / on_servername
    --enable-alpn                      # alpn / on_alpn
    --enable-supportedcurves           # supported_groups: `groups` option, set1_groups_list
    --enable-extended-master           # RFC 7627 EMS for TLS 1.2 (default, stated)
    --enable-secure-renegotiation-info # renegotiation_info: OpenSSL 3 clients refuse TLS 1.2 servers without it
    --enable-ocsp                      # OCSP checking
    --enable-ocspstapling              # status_request (ocsp_stapling option)
    --enable-ocspstapling2             # status_request_v2 (as Debian)
    --enable-crl                       # `crl` option, wolfSSL_CTX_EnableCRL
    --enable-psk                       # `psk` option / on_psk, TLS 1.2 PSK suites and TLS 1.3 external PSK
    --enable-keying-material           # HAVE_KEYING_MATERIAL: conn:export_keying_material
    --enable-secure-renegotiation      # RFC 5746 renegotiation, for renegotiation = "allow" (issue 14);
                                       # wolfSSL still refuses a peer's renegotiation unless the binding
                                       # turns it on per connection (spec/07-defaults checks the refusal)
    --enable-ech                       # TLS 1.3 Encrypted Client Hello (HPKE): the outer ClientHello
                                       # shows only a public name
    --enable-rpk                       # RFC 7250 raw public keys: off unless a context asks for the
                                       # certificate type, so it changes nothing on the wire by default

    # --- certificate/key building: wolfssl.x509.issue / x509.csr / pkey.generate
    --enable-keygen                    # RSA/ECC key generation + key DER/PEM export
    --enable-certgen                   # wc_MakeCert
    --enable-certreq                   # wc_MakeCertReq (CSR)
    --enable-certext                   # SKID/AKID, key usage, ext key usage, policies in built certs
)

# Defines with no configure switch in 5.5.4 (passed in CPPFLAGS so they also land in the
# installed options.h and every consumer sees the same struct layouts).
EXTRA_CPPFLAGS=(
    -DHAVE_SECRET_CALLBACK        # wolfSSL_set_tls13_secret_cb + wolfSSL_CTX_set_keylog_callback (keylog)
    -DOPENSSL_COMPATIBLE_DEFAULTS # as Debian: OpenSSL-style X509_V_ERR codes in the verify callback,
                                  # CTX defaults (verify none, AUTO_RETRY, grouped handshake records);
                                  # configure then adds NO_SESSION_CACHE_REF (get_session = ssl->session),
                                  # WOLFSSL_TRUST_PEER_CERT, WOLFSSL_TLS13_NO_PEEK_HANDSHAKE_DONE
    -DHAVE_EX_DATA                # ex_data on CTX/SSL/SESSION/X509_STORE_CTX (not implied by opensslall)
    -DWOLFSSL_ALT_NAMES           # subjectAltName in generated certs/CSRs (x509.issue{altnames=})
    -DWOLFSSL_MULTI_ATTRIB        # several OU/DC entries in one name (cert generation), as Debian
    -DWOLFSSL_SIGNER_DER_CERT     # keep CA DER: X509_STORE get1_certs / issuer lookup, as Debian (per CTX)
    -DWOLFSSL_ALWAYS_KEEP_SNI     # keep the received SNI after the handshake (conn:server_name()), as Debian
    -DWOLFSSL_VERBOSE_ERRORS      # push the precise cause onto the ERR queue (better messages), as Debian
    -DHAVE_FFDHE_3072             # ffdhe3072 group + faster const-table DH, as Debian (ffdhe2048 is default)
    -DWOLFSSL_GETRANDOM           # seed each WOLFSSL's RNG with getrandom(2), not an open() of
                                  # /dev/urandom per connection: no descriptor to run out of, one
                                  # syscall instead of three
)

# WOLFSSL_FLAVOUR=debian: configured like Debian 12's own package instead (its debian/rules), for
# an instrumented twin of the system build (make fuzz FUZZ_FLAVOUR=debian).
FLAVOUR=${WOLFSSL_FLAVOUR:-tuned}
case $FLAVOUR in
    tuned) ;;
    debian)
        CONFIGURE_FLAGS=(--enable-distro --enable-pkcs11 --disable-examples --disable-silent-rules)
        EXTRA_CPPFLAGS=() ;;
    *) echo "build-wolfssl: unknown WOLFSSL_FLAVOUR=$FLAVOUR (tuned or debian)" >&2; exit 2 ;;
esac

CFLAGS_TUNED="-O2 -g"             # -g for valgrind/ASan backtraces; no -march: asm paths use runtime cpuid
BUILD_CC=${WOLFSSL_CC:-}
EXTRA_CFLAGS=${WOLFSSL_EXTRA_CFLAGS:-}
CFLAGS_TUNED="$CFLAGS_TUNED${EXTRA_CFLAGS:+ $EXTRA_CFLAGS}"

# ---------------------------------------------------------------------------------------------
# Locate the source
# ---------------------------------------------------------------------------------------------
# Default: the current release, 5.9.2, from its original tarball as Debian's archive carries it
# (SHA-256 pinned in build-aux/fetch-wolfssl.sh), fetched with a private apt state;
# WOLFSSL_RELEASE=5.7.2 fetches that one, WOLFSSL_RELEASE=debian12 Debian 12's source package
# (5.5.4 + Debian's patches). A tarball given as SRC_DIR is unpacked next to PREFIX.
RELEASE=${WOLFSSL_RELEASE:-5.9.2}
if [[ -z $SRC_DIR ]]; then
    SRC_DIR=$(bash "$(dirname "$0")/fetch-wolfssl.sh" "$TOP/wolfssl-src" "$RELEASE") \
        || exit 1
elif [[ -f $SRC_DIR ]]; then
    TARBALL=$SRC_DIR
    UNPACK=$TOP/wolfssl-src/$(basename "$SRC_DIR" | sed 's/\.tar\.[a-z0-9]*$//; s/\.tgz$//')
    if [[ ! -d $UNPACK ]]; then
        mkdir -p "$UNPACK"
        tar -xf "$SRC_DIR" -C "$UNPACK" || fail "unpacking $SRC_DIR"
    fi
    SRC_DIR=$(find "$UNPACK" -name configure.ac -path '*/configure.ac' -printf '%h\n' | sort | head -n 1)
    [[ -n $SRC_DIR ]] || fail "no wolfSSL source tree (configure.ac) in $TARBALL"
fi
[[ -d $SRC_DIR ]] || fail "no such source dir: $SRC_DIR"
SRC_DIR=$(cd "$SRC_DIR" && pwd)
[[ -f $SRC_DIR/configure.ac && -f $SRC_DIR/wolfssl/version.h ]] \
    || fail "$SRC_DIR does not look like a wolfSSL source tree"

# Drop the switches this release's configure does not know (5.7.2 has no --enable-mlkem nor
# --enable-pqc-hybrids, and its configure refuses unrecognized options; 5.5.4's ignores them):
# what the release lacks, wolfssl.features then says.
KNOWN_FLAGS=()
for flag in "${CONFIGURE_FLAGS[@]}"; do
    name=${flag#--enable-}; name=${name#--disable-}; name=${name%%=*}
    if [[ $flag == --enable-* || $flag == --disable-* ]] \
       && [[ ! $name =~ ^(shared|static|dependency-tracking|silent-rules)$ ]] \
       && ! grep -q "AC_ARG_ENABLE(\[$name\]" "$SRC_DIR/configure.ac"; then
        say "this source has no --enable-$name: left out"
        continue
    fi
    KNOWN_FLAGS+=("$flag")
done
CONFIGURE_FLAGS=("${KNOWN_FLAGS[@]}")

# DTLS 1.3: wolfSSL resends a flight at most once per DTLS13_MIN_RTX_INTERVAL of real time (a
# second by default) whatever the application's clock says, so conn:timeout() had to count
# real seconds too. 100 ms still keeps a burst of the peer's repeated records from making us
# resend once per record, and leaves the timer (1 s, doubling) to the application's clock.
# Releases before the floor was a setting (5.5.4, 5.7.2: a fixed 1 s in seconds) keep theirs;
# csrc/wolfcompat.h reads the value from options.h.
if [[ $FLAVOUR == tuned ]] && grep -q '^#ifndef DTLS13_MIN_RTX_INTERVAL' "$SRC_DIR/src/dtls13.c" 2>/dev/null; then
    EXTRA_CPPFLAGS+=(-DDTLS13_MIN_RTX_INTERVAL=100)
fi

VERSION=$(sed -n 's/^#define LIBWOLFSSL_VERSION_STRING "\(.*\)"/\1/p' "$SRC_DIR/wolfssl/version.h")
[[ -n $VERSION ]] || fail "cannot read LIBWOLFSSL_VERSION_STRING from $SRC_DIR/wolfssl/version.h"
if [[ -f $SRC_DIR/debian/changelog ]]; then   # Debian revision: security patches change it
    VERSION="$VERSION ($(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$SRC_DIR/debian/changelog"))"
fi

STAMP_TEXT="wolfssl $VERSION
source: $SRC_DIR
configure: ${CONFIGURE_FLAGS[*]}
CPPFLAGS: ${EXTRA_CPPFLAGS[*]}
CFLAGS: $CFLAGS_TUNED${BUILD_CC:+
CC: $BUILD_CC}"

if [[ -f $PREFIX/.stamp && -f $PREFIX/include/wolfssl/options.h ]] \
   && [[ "$(cat "$PREFIX/.stamp")" == "$STAMP_TEXT" ]] \
   && compgen -G "$PREFIX/lib/libwolfssl.so*" >/dev/null; then
    touch "$PREFIX/.stamp"          # newer than this script, so make stops asking
    say "up to date: $VERSION in $PREFIX"
    exit 0
fi

for tool in autoreconf libtoolize make cc; do
    command -v "$tool" >/dev/null || fail "missing $tool (apt-get install autoconf automake libtool build-essential)"
done

[[ -n ${FETCHED:-} ]] || : >"$LOG"
START=$SECONDS
say "building $VERSION from $SRC_DIR (log: $LOG)"

# ---------------------------------------------------------------------------------------------
# Copy the source (the user's tree stays clean), bootstrap, configure, build, install
# ---------------------------------------------------------------------------------------------
say "copying source"
rm -rf "$WORK"
mkdir -p "$WORK"
# Skip VCS data; keep everything the autotools build reads (5.9.2's Makefile.am includes IDE/).
tar -C "$SRC_DIR" --exclude=.git --exclude=.pc -cf - . | tar -C "$WORK" -xf - \
    || fail "copying $SRC_DIR"

if [[ -f $WORK/Makefile ]]; then     # a tree configured in place: drop its objects
    ( cd "$WORK" && make distclean ) >>"$LOG" 2>&1 || true
fi
if [[ ! -x $WORK/configure ]]; then
    say "autoreconf"
    # autogen.sh (where the release has one) also creates the empty files Makefile.am names
    if [[ -x $WORK/autogen.sh ]]; then
        ( cd "$WORK" && ./autogen.sh ) >>"$LOG" 2>&1 || fail "autogen.sh"
    else
        ( cd "$WORK" && autoreconf -fi ) >>"$LOG" 2>&1 || fail "autoreconf"
    fi
fi

say "configure"
rm -rf "$PREFIX"
( cd "$WORK" && ./configure --prefix="$PREFIX" "${CONFIGURE_FLAGS[@]}" \
      CPPFLAGS="${EXTRA_CPPFLAGS[*]}" CFLAGS="$CFLAGS_TUNED" ${BUILD_CC:+CC="$BUILD_CC"} ) >>"$LOG" 2>&1 \
      || fail "configure"

say "make -j$JOBS"
( cd "$WORK" && make -j"$JOBS" ) >>"$LOG" 2>&1 || fail "make"

say "install into $PREFIX"
( cd "$WORK" && make install ) >>"$LOG" 2>&1 || fail "make install"

# Sanity (tuned flavour): the defines we depend on are in force for a consumer, i.e. after
# options.h and settings.h (5.9.2 sets some, e.g. HAVE_EXT_CACHE, in settings.h only).
if [[ $FLAVOUR == tuned ]]; then
    DEFINES=$(printf '#include <wolfssl/options.h>\n#include <wolfssl/wolfcrypt/settings.h>\n' \
              | ${BUILD_CC:-cc} -E -dM -I"$PREFIX/include" -x c - 2>>"$LOG") || fail "reading the installed headers"
    defined() { grep -q "^#define $1\b" <<<"$DEFINES"; }
    for def in HAVE_SECRET_CALLBACK WOLFSSL_EARLY_DATA WOLFSSL_AESNI WOLFSSL_SP_X86_64_ASM \
               OPENSSL_ALL HAVE_EXT_CACHE HAVE_KEYING_MATERIAL WOLFSSL_POST_HANDSHAKE_AUTH \
               HAVE_EX_DATA WOLFSSL_SYS_CA_CERTS WOLFSSL_TICKET_HAVE_ID \
               OPENSSL_COMPATIBLE_DEFAULTS NO_SESSION_CACHE_REF WOLFSSL_ALWAYS_VERIFY_CB; do
        defined "$def" || fail "the installed headers lack $def"
    done
    # The newer features, where the source knows their switch (a 5.5.4 source has no mlkem).
    for pair in mlkem:WOLFSSL_HAVE_MLKEM pqc-hybrids:WOLFSSL_PQC_HYBRIDS dtls13:WOLFSSL_DTLS13 \
                ech:HAVE_ECH secure-renegotiation:HAVE_SECURE_RENEGOTIATION; do
        grep -q "AC_ARG_ENABLE(\[${pair%%:*}\]" "$WORK/configure.ac" || continue
        defined "${pair#*:}" || fail "the installed headers lack ${pair#*:} (--enable-${pair%%:*})"
    done
    # ...and the one we must not get back (see --enable-sessioncerts above): it more than
    # doubles the memory of every connection. Some switches (nginx, haproxy, ...) force it on.
    if defined SESSION_CERTS; then
        fail "the installed headers define SESSION_CERTS (~36 KiB per connection): a configure flag forced it on"
    fi
fi

printf '%s\n' "$STAMP_TEXT" >"$PREFIX/.stamp"
rm -rf "$WORK"
say "done in $((SECONDS - START))s: $PREFIX/lib/$(cd "$PREFIX/lib" && ls libwolfssl.so.*.*.* 2>/dev/null | head -n 1)"
