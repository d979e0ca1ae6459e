/* core.c: opens wolfssl.core - library init, versions, features. */
#include "lwolfssl.h"

#include <wolfssl/version.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#ifndef LWL_VERSION
#define LWL_VERSION "0.2.0"
#endif
#ifndef LWL_BUILD
#define LWL_BUILD "system"
#endif

/* core.heap_bytes() -> bytes in use on the C heap (glibc mallinfo2), or nil
 * where the C library cannot tell (not glibc, or malloc replaced). For benchmarks (bench/): it sees the whole
 * process, not just wolfSSL. */
static int core_heap_bytes(lua_State *L) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    size_t n = mi.uordblks + mi.hblkhd;
    if (n == 0) /* malloc replaced (valgrind, some preloads): no answer */
        lua_pushnil(L);
    else
        lua_pushnumber(L, (lua_Number)n);
#else
    lua_pushnil(L);
#endif
    return 1;
}

#define FEATURE(name, on) (lua_pushboolean(L, on), lua_setfield(L, -2, name))

static void push_features(lua_State *L) {
    int on;
    lua_newtable(L);
#ifdef WOLFSSL_TLS13
    on = 1;
#else
    on = 0;
#endif
    FEATURE("tls13", on);
#if defined(WOLFSSL_ALLOW_TLSV10) && !defined(NO_OLD_TLS)
    FEATURE("tls1_0", 1);
#else
    FEATURE("tls1_0", 0);
#endif
#ifndef NO_OLD_TLS
    FEATURE("tls1_1", 1);
#else
    FEATURE("tls1_1", 0);
#endif
#ifdef WOLFSSL_DTLS
    on = 1;
#else
    on = 0;
#endif
    FEATURE("dtls", on);
#ifdef WOLFSSL_DTLS13
    on = 1;
#else
    on = 0;
#endif
    FEATURE("dtls13", on);
#ifdef LWL_DTLS_STATEFUL
    on = 1;
#else
    on = 0;
#endif
    FEATURE("dtls_listen", on); /* conn:listen: the stateless cookie exchange */
#ifndef NO_PSK
    on = 1;
#else
    on = 0;
#endif
    FEATURE("psk", on);
#ifdef HAVE_SNI
    on = 1;
#else
    on = 0;
#endif
    FEATURE("sni", on);
#ifdef HAVE_ALPN
    on = 1;
#else
    on = 0;
#endif
    FEATURE("alpn", on);
#ifdef HAVE_SESSION_TICKET
    on = 1;
#else
    on = 0;
#endif
    FEATURE("tickets", on);
#ifndef NO_SESSION_CACHE
    on = 1;
#else
    on = 0;
#endif
    FEATURE("session_cache", on);
#ifdef HAVE_EXT_CACHE
    on = 1;
#else
    on = 0;
#endif
    FEATURE("session_store", on);
#if defined(HAVE_OCSP) && defined(HAVE_CERTIFICATE_STATUS_REQUEST)
    on = 1;
#else
    on = 0;
#endif
    FEATURE("ocsp", on);
#ifdef HAVE_CRL
    on = 1;
#else
    on = 0;
#endif
    FEATURE("crl", on);
#ifdef HAVE_SECRET_CALLBACK
    on = 1;
#else
    on = 0;
#endif
    FEATURE("secret_callback", on); /* TLS 1.3 traffic secrets: key log, full trace */
    FEATURE("keylog", 1);           /* TLS 1.2 always; TLS 1.3 needs secret_callback */
    FEATURE("keylog_tls13", on);
    FEATURE("msg_trace", 1);        /* records are seen by our own I/O layer */
    FEATURE("msg_trace_decrypted", on);
#if defined(OPENSSL_ALL) || defined(WOLFSSL_CERT_SETUP_CB) || defined(OPENSSL_EXTRA)
    on = 1;
#else
    on = 0;
#endif
    FEATURE("cert_cb", on);
#ifdef WOLFSSL_POST_HANDSHAKE_AUTH
    on = 1;
#else
    on = 0;
#endif
    FEATURE("post_handshake_auth", on);
#ifdef WOLFSSL_EARLY_DATA
    on = 1;
#else
    on = 0;
#endif
    FEATURE("early_data", on);
#ifdef HAVE_KEYING_MATERIAL
    on = 1;
#else
    on = 0;
#endif
    FEATURE("keying_material", on);
#if defined(WOLFSSL_CERT_GEN) && defined(WOLFSSL_KEY_GEN)
    on = 1;
#else
    on = 0;
#endif
    FEATURE("certgen", on);
#ifdef HAVE_ED25519
    on = 1;
#else
    on = 0;
#endif
    FEATURE("ed25519", on);
#ifdef HAVE_CURVE25519
    on = 1;
#else
    on = 0;
#endif
    FEATURE("x25519", on);
#if defined(WOLFSSL_HAVE_MLKEM) || defined(WOLFSSL_HAVE_KYBER)
    on = 1;
#else
    on = 0;
#endif
    FEATURE("mlkem", on); /* hybrid post-quantum groups (X25519MLKEM768) */
#ifdef LWL_RENEGOTIATION
    on = 1;
#else
    on = 0;
#endif
    FEATURE("renegotiation", on); /* TLS 1.2 secure renegotiation (renegotiation = "allow") */
#ifdef LWL_ECH
    on = 1;
#else
    on = 0;
#endif
    FEATURE("ech", on); /* Encrypted Client Hello (options ech, ech_configs; ech.c) */
#ifdef LWL_ECH_NO_PSK
    on = 0;
#endif
    FEATURE("ech_resumption", on); /* an ECH client can resume (or use a PSK) */
#if defined(WOLFSSL_AESNI) || defined(USE_INTEL_SPEEDUP) || defined(WOLFSSL_SP_X86_64_ASM)
    on = 1;
#else
    on = 0;
#endif
    FEATURE("asm", on);
#ifdef WOLFSSL_SYS_CA_CERTS
    on = 1;
#else
    on = 0;
#endif
    FEATURE("system_ca", on);
    /* wolfSSL keeps the peer's chain on the session (SESSION_CERTS): a resumed
     * connection still answers peer_certificate()/peer_chain(); without it the
     * binding keeps the chain of full handshakes only (verify.c) */
#ifdef SESSION_CERTS
    on = 1;
#else
    on = 0;
#endif
    FEATURE("session_certs", on);
    /* each connection's random generator is seeded by opening /dev/urandom
     * (so ctx:new needs a free descriptor), not by getrandom(2) */
#if defined(WOLFSSL_GETRANDOM) || defined(HAVE_GETRANDOM)
    on = 0;
#else
    on = 1;
#endif
    FEATURE("rng_needs_fd", on);
    lua_pushstring(L, LWL_BUILD);
    lua_setfield(L, -2, "build");
}

/* the one exported symbol: everything else is hidden (-fvisibility=hidden) */
__attribute__((visibility("default"))) int luaopen_wolfssl_core(lua_State *L) {
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) return luaL_error(L, "wolfSSL_Init failed");
    lua_newtable(L);
    lua_pushliteral(L, LWL_VERSION);
    lua_setfield(L, -2, "VERSION");
    lua_pushstring(L, wolfSSL_lib_version());
    lua_setfield(L, -2, "WOLFSSL_VERSION");
    push_features(L);
    lua_setfield(L, -2, "features");
    lua_pushcfunction(L, core_heap_bytes);
    lua_setfield(L, -2, "heap_bytes");
    lwl_callbacks_open(L);
    lwl_context_open(L);
    lwl_session_open(L); /* (before conn.c, which keeps its metatable) */
    lwl_conn_open(L);
    lwl_x509_open(L);
    lwl_pkey_open(L);
    lwl_verify_open(L);
    lwl_trace_open(L);
    lwl_negotiate_open(L);
    lwl_ech_open(L);
    lwl_names_open(L);
    lwl_early_open(L);
    lwl_test_open(L);
    return 1;
}
