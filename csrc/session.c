/* session.c: TLS sessions and resumption.
 *
 * - the wolfssl.session userdata (a WOLFSSL_SESSION owned by Lua, with the
 *   trust record of the handshake that made it), export/import and
 *   accessors; conn:session() and conn:set_session(), which refuses a session
 *   made under other trust settings or for another server name;
 * - the exported form: the record, wolfSSL's serialisation (its layout checked
 *   before wolfSSL parses it) and an HMAC under the session key;
 * - on_new_session and session_store (wolfSSL's external cache callbacks);
 * - the client certificates a server context verified, for TLS 1.2
 *   resumptions on which wolfSSL keeps none (lwl_session_established);
 * - shared ticket keys (wolfSSL_CTX_set_TicketEncCb), encrypting tickets
 *   ourselves with ChaCha20-Poly1305 from wolfCrypt; the keys are C memory
 *   owned by the context.
 *
 * Lua callbacks run only through lwl_callback (protected, on the Lua state of
 * the connection method in progress). The Lua layer (wolfssl/session.lua)
 * checks options and puts small wrapper functions in the context's uservalue
 * under the names used here ("_store_get", "_store_put", "_store_remove"). */
#include "lwolfssl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha256.h>
#if defined(HAVE_CHACHA) && defined(HAVE_POLY1305)
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#define LWL_TICKET_AEAD 1
#endif

#if defined(HAVE_SESSION_TICKET) && defined(LWL_TICKET_AEAD) && !defined(NO_SHA256)
#define LWL_TICKET_KEYS 1
#endif

#define LWL_SESSION_KEY_MT "wolfssl.SessionKey"  /* its metatable */
#define LWL_SESSION_KEY "wolfssl.session key"   /* registry field holding it */
#define FP_LEN WC_SHA256_DIGEST_SIZE /* trust fingerprint */
#define SID_CTX_LEN 20 /* its prefix as a server's session id context (wolfSSL keeps < 32) */
#define MAC_LEN WC_SHA256_DIGEST_SIZE
#define NAME_MAX_LEN 255
#define SECRET_FIELD_LEN 48 /* a TLS 1.2 master secret */

/* ---- the session userdata ---- */

static int sess_version_number(WOLFSSL_SESSION *s);

/* What the session's first handshake established (DESIGN.md "Sessions carry
 * their trust"): checked before any resumption. */
typedef struct Trust {
    unsigned char fp[FP_LEN]; /* fingerprint of the making context's trust settings */
    int verified;             /* the peer's chain was verified */
    int verify;               /* verify mode of that context: 0 none, 1 peer, 2 require */
    int has_name;
    size_t name_len;
    char name[NAME_MAX_LEN + 1]; /* the server name it was made for */
} Trust;

typedef struct Sess {
    WOLFSSL_SESSION *s; /* NULL once freed */
    Trust t;
    int version; /* its protocol version, 0 until asked (sess_version_of) */
} Sess;

static Sess *tosess(lua_State *L, int idx) {
    return (Sess *)luaL_checkudata(L, idx, LWL_SESSION);
}

static WOLFSSL_SESSION *live(lua_State *L, Sess *s) {
    if (s->s == NULL) luaL_error(L, "attempt to use a freed session");
    return s->s;
}

static WOLFSSL_SESSION *checksess(lua_State *L, int idx) {
    return live(L, tosess(L, idx));
}

/* New, empty userdata first (nothing leaks if a later step fails). */
static Sess *sess_new(lua_State *L) {
    Sess *s = (Sess *)lwl_newuserdata(L, sizeof *s);
    memset(s, 0, sizeof *s);
    lwl_setmeta(L, LWL_SESSION);
    return s;
}

static int sess_gc(lua_State *L) {
    Sess *s = tosess(L, 1);
    if (s->s) {
        wolfSSL_SESSION_free(s->s);
        s->s = NULL;
    }
    return 0;
}

/* DER (wolfSSL's own serialisation) of a session, malloc'd; *len set. */
static unsigned char *sess_der(WOLFSSL_SESSION *s, int *len) {
    unsigned char *buf, *p;
    int n = wolfSSL_i2d_SSL_SESSION(s, NULL);
    if (n <= 0) return NULL;
    buf = (unsigned char *)malloc((size_t)n);
    if (buf == NULL) return NULL;
    p = buf; /* wolfSSL_i2d_SSL_SESSION does not advance p (OpenSSL does) */
    if (wolfSSL_i2d_SSL_SESSION(s, &p) != n) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}


/* ---- wolfSSL's serialisation, checked before wolfSSL parses it ---- */

#ifdef LWL_GUARD_SESSION_LAYOUT /* wolfcompat.h: d2i trusts the lengths it reads */
/* Field sizes of WOLFSSL_SESSION in wolfSSL 5.5.4 (internal.h, not installed) */
#define ID_FIELD 32        /* sessionID, sessionCtx */
#define SECRET_FIELD 48    /* masterSecret */
#define SERVER_ID_FIELD 20 /* serverID */
#ifdef MAX_CHAIN_DEPTH
#define CHAIN_FIELD MAX_CHAIN_DEPTH
#else
#define CHAIN_FIELD 9
#endif
#if defined(HAVE_PQC)
#define CERT_FIELD 8192
#elif defined(WOLFSSL_HAPROXY)
#define CERT_FIELD 3072
#else
#define CERT_FIELD 2048
#endif
#if defined(WOLFSSL_TICKET_NONCE_MALLOC)
#define NONCE_FIELD 255
#elif defined(TLS13_TICKET_NONCE_STATIC_SZ)
#define NONCE_FIELD TLS13_TICKET_NONCE_STATIC_SZ
#else
#define NONCE_FIELD 8
#endif

/* wolfSSL 5.5.4's d2i copies lengths it reads into fixed fields without
 * checking them (session id, serverID, chain: heap overflows) and reads past
 * the input (ticketAdd). Walk the layout i2d writes for this build's options
 * and accept only input whose every length fits its field and whose fields
 * end exactly at the end. */
static int layout_ok(const unsigned char *d, size_t n, size_t *ctx_at) {
    size_t i = 0, len;
#define NEED(x) do { if ((size_t)(x) > n - i) return 0; } while (0)
#define BE16(p) ((size_t)(p)[0] << 8 | (p)[1])
    NEED(10); /* side, born, timeout, session id length */
    len = d[9];
    i = 10;
    if (len > ID_FIELD) return 0;
    NEED(len + SECRET_FIELD + 2); /* id, master secret, ems, alt id length */
    i += len + SECRET_FIELD + 1;
    len = d[i++];
    if (len != 0 && len != ID_FIELD) return 0;
    NEED(len);
    i += len;
#ifdef SESSION_CERTS
    {
        size_t count, k;
        NEED(1);
        count = d[i++];
        if (count > CHAIN_FIELD) return 0;
        for (k = 0; k < count; k++) {
            NEED(2);
            len = BE16(d + i);
            i += 2;
            if (len > CERT_FIELD) return 0;
            NEED(len);
            i += len;
        }
    }
#endif
#if defined(SESSION_CERTS) || (defined(WOLFSSL_TLS13) && defined(HAVE_SESSION_TICKET))
    NEED(2); /* version */
    i += 2;
#endif
#if defined(SESSION_CERTS) || !defined(NO_RESUME_SUITE_CHECK) || \
    (defined(WOLFSSL_TLS13) && defined(HAVE_SESSION_TICKET))
    NEED(2); /* cipher suite */
    i += 2;
#endif
#ifndef NO_CLIENT_CACHE
    NEED(2);
    len = BE16(d + i);
    i += 2;
    if (len > SERVER_ID_FIELD) return 0;
    NEED(len);
    i += len;
#endif
#ifdef OPENSSL_EXTRA
    NEED(1);
    if (ctx_at) *ctx_at = i; /* the session id context: length, bytes */
    len = d[i++];
    if (len > ID_FIELD) return 0;
    NEED(len);
    i += len;
#endif
#if defined(OPENSSL_EXTRA) || defined(OPENSSL_EXTRA_X509_SMALL)
    NEED(1); /* peerVerifyRet */
    i += 1;
#endif
#ifdef WOLFSSL_TLS13
    NEED(2); /* named group */
    i += 2;
#endif
#if defined(HAVE_SESSION_TICKET) || !defined(NO_PSK)
#ifdef WOLFSSL_TLS13
#ifdef WOLFSSL_32BIT_MILLI_TIME
    NEED(8); /* ticketSeen, ticketAdd */
    i += 8;
#else
    NEED(12);
    i += 12;
#endif
    NEED(1);
    len = d[i++];
    if (len > NONCE_FIELD) return 0;
    NEED(len);
    i += len;
#endif
#ifdef WOLFSSL_EARLY_DATA
    NEED(4);
    i += 4;
#endif
#endif
#ifdef HAVE_SESSION_TICKET
    NEED(2);
    len = BE16(d + i);
    i += 2;
    NEED(len);
    i += len;
#endif
#undef NEED
#undef BE16
    return i == n;
}
#endif

/* Serialised again, the parsed session must give back exactly the input:
 * no bytes ignored, none made up (every release). */
static int round_trips(WOLFSSL_SESSION *s, const unsigned char *der, size_t len) {
    int n = 0, same;
    unsigned char *again = sess_der(s, &n);
    same = again != NULL && (size_t)n == len && memcmp(again, der, len) == 0;
    lwl_wipe_free(again, (size_t)n);
    return same;
}

static WOLFSSL_SESSION *sess_from_der(const unsigned char *der, size_t len) {
    const unsigned char *p = der;
    WOLFSSL_SESSION *s;
    if (len == 0 || len > 65536) return NULL;
#ifdef LWL_GUARD_SESSION_LAYOUT
    if (!layout_ok(der, len, NULL)) return NULL;
#endif
    s = wolfSSL_d2i_SSL_SESSION(NULL, &p, (long)len);
    /* wolfSSL's d2i takes e.g. all zeros: also want a known version */
    if (s != NULL && (lwl_version_name(sess_version_number(s)) == NULL || !round_trips(s, der, len))) {
        wolfSSL_SESSION_free(s);
        s = NULL;
    }
    return s;
}

/* ---- the session key: exported sessions carry a MAC under it ---- */

/* The key lives in the registry (per Lua state, so per process for nginx
 * workers forked after the module loaded): random unless set_key was called. */
static const unsigned char *session_key(lua_State *L) {
    unsigned char *k;
    lua_getfield(L, LUA_REGISTRYINDEX, LWL_SESSION_KEY);
    k = (unsigned char *)luaL_testudata(L, -1, LWL_SESSION_KEY_MT);
    lua_pop(L, 1);
    return k; /* the registry keeps it alive */
}

static unsigned char *new_session_key(lua_State *L) {
    unsigned char *k = (unsigned char *)lwl_newuserdata(L, MAC_LEN);
    memset(k, 0, MAC_LEN);
    if (luaL_newmetatable(L, LWL_SESSION_KEY_MT)) {
        lua_pushliteral(L, "wolfssl.session key");
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, LWL_SESSION_KEY);
    return k;
}

/* core.session_set_key(32 bytes) */
static int session_set_key(lua_State *L) {
    size_t len;
    const char *key = luaL_checklstring(L, 1, &len);
    unsigned char *k = (unsigned char *)session_key(L);
    luaL_argcheck(L, len == MAC_LEN, 1, "must be 32 bytes");
    if (k == NULL) k = new_session_key(L);
    memcpy(k, key, MAC_LEN);
    lua_pushboolean(L, 1);
    return 1;
}

static int mac(lua_State *L, const unsigned char *data, size_t len, unsigned char out[MAC_LEN]) {
    const unsigned char *key = session_key(L);
    Hmac h;
    int ok;
    if (key == NULL) return 0;
    if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0) return 0;
    ok = wc_HmacSetKey(&h, WC_SHA256, key, MAC_LEN) == 0 &&
         wc_HmacUpdate(&h, data, (word32)len) == 0 && wc_HmacFinal(&h, out) == 0;
    wc_HmacFree(&h);
    return ok;
}

static int same_bytes(const unsigned char *a, const unsigned char *b, size_t n) {
    unsigned char diff = 0; /* constant time: no early exit */
    size_t i;
    for (i = 0; i < n; i++) diff |= a[i] ^ b[i];
    return diff == 0;
}

/* Exported form (all lengths big-endian):
 *   "LWS2" | wolfSSL build(8) | flags(1: 1 verified, 2 has name) | verify mode(1)
 *   | fingerprint(32) | name length(2) | name | length(4) | wolfSSL's serialisation
 *   | HMAC-SHA256(session key, everything before)(32)
 * wolfSSL build: the release and the options that shape its serialisation,
 * which only the same build can read back (its layout changes across
 * releases: 5.9.2 added ticket binding hashes). */
#define MAGIC "LWS2"
#define BUILD_LEN 8
#define HEAD_LEN (4 + BUILD_LEN + 1 + 1 + FP_LEN + 2)

static void put_be(unsigned char *p, size_t v, int n);

static void this_build(unsigned char out[BUILD_LEN]) {
    unsigned opts = 0;
#ifdef SESSION_CERTS
    opts |= 1;
#endif
#ifdef WOLFSSL_TLS13
    opts |= 2;
#endif
#ifdef HAVE_SESSION_TICKET
    opts |= 4;
#endif
#ifdef WOLFSSL_EARLY_DATA
    opts |= 8;
#endif
#ifdef NO_CLIENT_CACHE
    opts |= 16;
#endif
#ifdef WOLFSSL_32BIT_MILLI_TIME
    opts |= 32;
#endif
#ifdef HAVE_SNI
    opts |= 64;
#endif
#ifdef HAVE_ALPN
    opts |= 128;
#endif
#ifdef NO_PSK
    opts |= 256;
#endif
    put_be(out, (size_t)LIBWOLFSSL_VERSION_HEX, 4);
    put_be(out + 4, opts, 4);
}

static void put_be(unsigned char *p, size_t v, int n) {
    while (n-- > 0) {
        p[n] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* malloc'd exported form of s, *len set; NULL when out of memory */
static unsigned char *sess_wrap(lua_State *L, Sess *s, size_t *len) {
    int derlen = 0;
    unsigned char *der = sess_der(s->s, &derlen), *out, *p;
    size_t n;
    if (der == NULL) return NULL;
    n = HEAD_LEN + s->t.name_len + 4 + (size_t)derlen + MAC_LEN;
    out = (unsigned char *)malloc(n);
    if (out == NULL) {
        lwl_wipe_free(der, (size_t)(derlen));
        return NULL;
    }
    p = out;
    memcpy(p, MAGIC, 4);
    this_build(p + 4);
    p += 4 + BUILD_LEN;
    p[0] = (unsigned char)((s->t.verified ? 1 : 0) | (s->t.has_name ? 2 : 0));
    p[1] = (unsigned char)s->t.verify;
    memcpy(p + 2, s->t.fp, FP_LEN);
    put_be(p + 2 + FP_LEN, s->t.name_len, 2);
    p = out + HEAD_LEN;
    memcpy(p, s->t.name, s->t.name_len);
    p += s->t.name_len;
    put_be(p, (size_t)derlen, 4);
    memcpy(p + 4, der, (size_t)derlen);
    p += 4 + derlen;
    lwl_wipe_free(der, (size_t)(derlen));
    if (!mac(L, out, (size_t)(p - out), p)) {
        lwl_wipe_free(out, n);
        return NULL;
    }
    *len = n;
    return out;
}

#define NOT_A_SESSION "not a valid exported session"

/* Check and parse an exported session into s: NULL, or why not. */
static const char *sess_unwrap(lua_State *L, const unsigned char *b, size_t n, Sess *s) {
    unsigned char want[MAC_LEN], build[BUILD_LEN];
    size_t name_len, der_len;
    const unsigned char *p, *r = b + 4 + BUILD_LEN; /* the trust record */
    if (n < HEAD_LEN + 4 + MAC_LEN || n > 70000 || memcmp(b, MAGIC, 4) != 0)
        return NOT_A_SESSION;
    if (!mac(L, b, n - MAC_LEN, want)) return "cannot compute the session MAC";
    if (!same_bytes(want, b + n - MAC_LEN, MAC_LEN))
        return "the exported session was not made under this process's session key "
               "(forged, damaged, or exported elsewhere: see wolfssl.session.set_key)";
    this_build(build);
    if (memcmp(build, b + 4, BUILD_LEN) != 0) {
        unsigned long v = (unsigned long)b[4] << 24 | (unsigned long)b[5] << 16 |
                          (unsigned long)b[6] << 8 | b[7];
        lua_pushfstring(L, "the session was exported by another wolfSSL build (%d.%d.%d%s; this "
                           "is %s): its serialisation cannot be read here",
                        (int)(v >> 24), (int)(v >> 12 & 0xfff), (int)(v & 0xfff),
                        memcmp(build, b + 4, 4) == 0 ? ", other options" : "",
                        LIBWOLFSSL_VERSION_STRING);
        return lua_tostring(L, -1); /* kept on the stack by the caller's return */
    }
    name_len = (size_t)r[2 + FP_LEN] << 8 | r[3 + FP_LEN];
    if (name_len > NAME_MAX_LEN || r[1] > 2 || (r[0] & ~3) != 0 ||
        HEAD_LEN + name_len + 4 + MAC_LEN > n)
        return NOT_A_SESSION;
    p = b + HEAD_LEN + name_len;
    der_len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (der_len != n - (HEAD_LEN + name_len + 4 + MAC_LEN)) return NOT_A_SESSION;
    s->s = sess_from_der(p + 4, der_len);
    if (s->s == NULL) return NOT_A_SESSION;
    s->t.verified = r[0] & 1;
    s->t.has_name = (r[0] & 2) != 0;
    s->t.verify = r[1];
    memcpy(s->t.fp, r + 2, FP_LEN);
    memcpy(s->t.name, b + HEAD_LEN, name_len);
    s->t.name[name_len] = '\0';
    s->t.name_len = name_len;
    return NULL;
}

static void push_hex(lua_State *L, const unsigned char *b, size_t n) {
    static const char digits[] = "0123456789abcdef";
    char buf[2 * 64];
    size_t i;
    if (n > 64) n = 64;
    for (i = 0; i < n; i++) {
        buf[2 * i] = digits[b[i] >> 4];
        buf[2 * i + 1] = digits[b[i] & 15];
    }
    lua_pushlstring(L, buf, 2 * n);
}

/* s:export() -> string (secret key material) */
static int sess_export(lua_State *L) {
    Sess *s = tosess(L, 1);
    size_t len = 0;
    unsigned char *out;
    checksess(L, 1);
    out = sess_wrap(L, s, &len);
    if (out == NULL) return lwl_fail(L, "the session cannot be serialised");
    lua_pushlstring(L, (const char *)out, len);
    lwl_wipe_free(out, len);
    return 1;
}

/* session.import(bytes) -> session | nil, message */
static int sess_import(lua_State *L) {
    size_t len;
    const unsigned char *b = (const unsigned char *)luaL_checklstring(L, 1, &len);
    Sess *s = sess_new(L);
    const char *why = sess_unwrap(L, b, len, s);
    if (why != NULL) return lwl_fail(L, why);
    return 1;
}

/* s:trust() -> {server_name=, verified=, verify=} */
static int sess_trust(lua_State *L) {
    static const char *const modes[] = {"none", "peer", "require"};
    Sess *s = tosess(L, 1);
    checksess(L, 1);
    lua_createtable(L, 0, 3);
    if (s->t.has_name) {
        lua_pushlstring(L, s->t.name, s->t.name_len);
        lua_setfield(L, -2, "server_name");
    }
    lua_pushboolean(L, s->t.verified);
    lua_setfield(L, -2, "verified");
    lua_pushstring(L, modes[s->t.verify >= 0 && s->t.verify <= 2 ? s->t.verify : 0]);
    lua_setfield(L, -2, "verify");
    return 1;
}

static int sess_id(lua_State *L) {
    unsigned int n = 0;
    const unsigned char *id = wolfSSL_SESSION_get_id(checksess(L, 1), &n);
    if (id == NULL || n == 0) {
        lua_pushnil(L);
        return 1;
    }
    push_hex(L, id, n);
    return 1;
}

static int sess_has_ticket(lua_State *L) {
#ifdef HAVE_SESSION_TICKET
    lua_pushboolean(L, wolfSSL_SESSION_has_ticket(checksess(L, 1)) == 1);
#else
    checksess(L, 1);
    lua_pushboolean(L, 0);
#endif
    return 1;
}

static int sess_resumable(lua_State *L) {
    lua_pushboolean(L, wolfSSL_SESSION_is_resumable(checksess(L, 1)) == 1);
    return 1;
}

static int sess_timeout(lua_State *L) {
    lwl_pushint(L, wolfSSL_SESSION_get_timeout(checksess(L, 1)));
    return 1;
}

static int sess_time(lua_State *L) {
    lwl_pushint(L, wolfSSL_SESSION_get_time(checksess(L, 1)));
    return 1;
}

/* The protocol version is not exposed by wolfSSL's API; read it from the
 * serialised form: side(1) born(4) timeout(4) idlen(1) id master(48) ems(1)
 * altlen(1) alt [chain count(1) {len(2) cert}] version(2). */
static int sess_version_number(WOLFSSL_SESSION *s) {
    int len = 0, v = 0;
    size_t i = 0, n;
    unsigned char *d = sess_der(s, &len);
    if (d == NULL) return 0;
    n = (size_t)len;
#if defined(SESSION_CERTS) || (defined(WOLFSSL_TLS13) && defined(HAVE_SESSION_TICKET))
    i = 1 + 4 + 4;
    if (i < n) i += 1 + d[i];
    i += 48 + 1;
    if (i < n) i += 1 + d[i];
#ifdef SESSION_CERTS
    if (i < n) {
        int count = d[i++], k;
        for (k = 0; k < count && i + 2 <= n; k++) i += 2 + ((size_t)d[i] << 8 | d[i + 1]);
    }
#endif
    if (i + 2 <= n) v = d[i] << 8 | d[i + 1];
#endif
    lwl_wipe_free(d, (size_t)(len));
    return v;
}

/* The version of a Lua session, serialised once: a session object never
 * changes (it is a copy, and set_session hands wolfSSL a copy of it) and
 * every set_session asks. */
static int sess_version_of(Sess *s) {
    if (s->version == 0) s->version = sess_version_number(s->s);
    return s->version;
}

static int sess_version(lua_State *L) {
    const char *name;
    checksess(L, 1);
    name = lwl_version_name(sess_version_of(tosess(L, 1)));
    if (name == NULL)
        lua_pushnil(L);
    else
        lua_pushstring(L, name);
    return 1;
}

static int sess_cipher(lua_State *L) {
    const char *name = wolfSSL_SESSION_CIPHER_get_name(checksess(L, 1));
    if (name == NULL || *name == '\0' || strcmp(name, "None") == 0)
        lua_pushnil(L);
    else
        lua_pushstring(L, name);
    return 1;
}

static int sess_tostring(lua_State *L) {
    Sess *s = tosess(L, 1);
    if (s->s == NULL)
        lua_pushliteral(L, "wolfssl.session (freed)");
    else {
        const char *v = lwl_version_name(sess_version_of(s));
        lua_pushfstring(L, "wolfssl.session (%s%s): %p", v ? v : "?",
#ifdef HAVE_SESSION_TICKET
                        wolfSSL_SESSION_has_ticket(s->s) == 1 ? ", ticket" : "",
#else
                        "",
#endif
                        (void *)s);
    }
    return 1;
}

/* 5.5.4's server looks session ids up without their id context (5.9.2
 * checks it), and its SSL_SESSION_get0_id_context gives the session id: a
 * session of another context of this process resumes, and must not count as
 * verified. Its id context is read from its serialisation. */
static int same_id_context(lwl_Conn *c) {
#ifdef LWL_GUARD_SESSION_LAYOUT
    WOLFSSL_SESSION *s = wolfSSL_get_session(c->ssl);
    int n = 0, same = 0;
    size_t at = 0;
    unsigned char *der = s ? sess_der(s, &n) : NULL;
    if (der != NULL && layout_ok(der, (size_t)n, &at) && at > 0)
        same = der[at] == 0 || /* tickets carry none: their keys are the context's */
               (der[at] == SID_CTX_LEN && memcmp(der + at + 1, c->ctx->trust, SID_CTX_LEN) == 0);
    lwl_wipe_free(der, (size_t)n);
    return same;
#else
    (void)c;
    return 1;
#endif
}

/* ---- client certificates a resumed server's wolfSSL forgot ---- */

/* wolfSSL keeps no client certificate on some TLS 1.2 resumptions (5.9.2
 * without SESSION_CERTS: session ids; 5.5.4: tickets). A server context
 * remembers the verified client certificate of each full TLS 1.2 handshake,
 * keyed by SHA-256 of the session's master secret: a TLS 1.2 resumption
 * keeps it whatever carried the session (cache, ticket, session_store) and
 * whatever session id the client sent, and only the server's own state
 * (its cache, a ticket it encrypted) gives it back. At most VERDICTS_MAX
 * entries, the oldest overwritten, each for its session's timeout; wiped and
 * freed with the context. Another context (or process) has no entry: there
 * the resumed connection still says "no peer certificate". */
#define VERDICTS_MAX 1024

typedef struct Verdict {
    unsigned char key[WC_SHA256_DIGEST_SIZE];
    long expires;       /* lwl_now() seconds */
    unsigned char *der; /* the client certificate; NULL: an empty entry */
    int len;
} Verdict;

struct lwl_Verdicts {
    int next; /* the oldest entry: overwritten next */
    Verdict v[VERDICTS_MAX];
};

/* SHA-256 of the connection's TLS 1.2 master secret: from the handshake's
 * arrays, which conn.c keeps (wolfSSL_KeepArrays, for export_keying_material;
 * 5.5.4 puts a ticket's secret only there), else from the session. */
static int verdict_key(lwl_Conn *c, unsigned char out[WC_SHA256_DIGEST_SIZE]) {
    static const char label[] = "lua-wolfssl resumed verdict";
    unsigned char ms[SECRET_FIELD_LEN], *kept = NULL, *sr, *cr;
    unsigned int mslen = 0, srlen, crlen;
    WOLFSSL_SESSION *s = wolfSSL_get_session(c->ssl);
    wc_Sha256 sha;
    int ok, v = wolfSSL_version(c->ssl);
    if (v == TLS1_3_VERSION || v == DTLS1_3_VERSION) return 0; /* (tickets keep the peer) */
    if (wolfSSL_get_keys(c->ssl, &kept, &mslen, &sr, &srlen, &cr, &crlen) == WOLFSSL_SUCCESS &&
        kept != NULL && mslen == sizeof ms)
        memcpy(ms, kept, sizeof ms);
    else if (s == NULL || wolfSSL_SESSION_get_master_key(s, ms, (int)sizeof ms) != (int)sizeof ms)
        return 0;
    ok = wc_InitSha256(&sha) == 0 && wc_Sha256Update(&sha, (const byte *)label, sizeof label) == 0 &&
         wc_Sha256Update(&sha, ms, sizeof ms) == 0 && wc_Sha256Final(&sha, out) == 0;
    wc_Sha256Free(&sha);
    lwl_wipe(ms, sizeof ms);
    return ok;
}

/* The handshake of a server connection is done: remember its client
 * certificate if the full handshake verified it. */
void lwl_session_established(lwl_Conn *c) {
    lwl_Context *x = c->ctx;
    WOLFSSL_X509 *peer;
    const unsigned char *der;
    unsigned char key[WC_SHA256_DIGEST_SIZE];
    Verdict *v;
    int len = 0;
    if (c->remembered || !c->is_server || c->ssl == NULL || x->verify == 0) return;
    c->remembered = 1; /* once per connection, whatever the outcome */
    if (wolfSSL_session_reused(c->ssl) || c->unresumable || !c->verified || c->vfy_err != 0 ||
        wolfSSL_get_verify_result(c->ssl) != 0 || !verdict_key(c, key))
        return;
    peer = wolfSSL_get_peer_certificate(c->ssl);
    der = peer ? wolfSSL_X509_get_der(peer, &len) : NULL;
    if (der != NULL && len > 0 && len <= 65536 &&
        (x->verdicts != NULL || (x->verdicts = calloc(1, sizeof *x->verdicts)) != NULL)) {
        v = &x->verdicts->v[x->verdicts->next];
        free(v->der);
        v->der = (unsigned char *)malloc((size_t)len);
        if (v->der != NULL) {
            memcpy(v->der, der, (size_t)len);
            memcpy(v->key, key, sizeof key);
            v->len = len;
            v->expires = lwl_now() + wolfSSL_get_timeout(c->ssl);
            x->verdicts->next = (x->verdicts->next + 1) % VERDICTS_MAX;
        } else {
            memset(v, 0, sizeof *v);
        }
    }
    if (peer) wolfSSL_X509_free(peer);
}

/* The remembered certificate of a resumed server connection, or NULL. */
static const Verdict *remembered(lwl_Conn *c) {
    struct lwl_Verdicts *t = c->ctx->verdicts;
    unsigned char key[WC_SHA256_DIGEST_SIZE];
    long now;
    int i;
    if (t == NULL || !c->is_server || !c->done || !wolfSSL_session_reused(c->ssl) ||
        !verdict_key(c, key))
        return NULL;
    now = lwl_now();
    for (i = 0; i < VERDICTS_MAX; i++)
        if (t->v[i].der != NULL && t->v[i].expires >= now && same_bytes(t->v[i].key, key, sizeof key))
            return &t->v[i];
    return NULL;
}

/* conn:peer_certificate() of a resumed server connection whose wolfSSL
 * kept none: the DER remembered from its full handshake, or NULL. */
const unsigned char *lwl_session_peer_der(lwl_Conn *c, int *len) {
    const Verdict *v;
    if (c->ctx->verify == 0 || !same_id_context(c) || (v = remembered(c)) == NULL) return NULL;
    *len = v->len;
    return v->der;
}

static void verdicts_free(lwl_Context *x) {
    int i;
    if (x->verdicts == NULL) return;
    for (i = 0; i < VERDICTS_MAX; i++) free(x->verdicts->v[i].der);
    lwl_wipe(x->verdicts, sizeof *x->verdicts);
    free(x->verdicts);
    x->verdicts = NULL;
}

/* The verdict of a resumed connection is the session's. A client knows it
 * from the record of the session it offered. A server resumes only sessions
 * made under its own trust settings (the session id context, ticket_cb) and
 * never one whose certificate on_verify let through unverified
 * (lwl_session_unresumable): a client certificate it still has, or one that
 * verify = "require" demanded, was verified. */
int lwl_session_verdict(lwl_Conn *c, const char **why) {
    WOLFSSL_X509 *peer;
    if (!c->done || !wolfSSL_session_reused(c->ssl)) return -1;
    if (!c->is_server || c->offered_trust != 0) { /* a client's, or one from session_store */
        if (c->offered_trust == 0) return -1;
        *why = c->is_server ? "no peer certificate" : "the resumed session's peer was not verified";
        return c->offered_trust > 0;
    }
    if (c->ctx->verify == 0) return -1;
    if (!same_id_context(c)) {
        *why = "the resumed session was made under other trust settings";
        return 0;
    }
    peer = wolfSSL_get_peer_certificate(c->ssl);
    if (peer != NULL) {
        wolfSSL_X509_free(peer);
        return 1;
    }
    if (remembered(c) != NULL) return 1; /* verified in its full handshake */
    /* this wolfSSL keeps no certificate for this path: "require" demanded a
     * verified one, unless on_verify could have let one through */
    if (c->ctx->verify == 2 && !(c->ctx->callbacks & LWL_CB_VERIFY)) return 1;
    *why = "no peer certificate";
    return 0;
}

void lwl_session_unresumable(lwl_Conn *c) {
    unsigned char other[SID_CTX_LEN];
    if (!c->is_server) return;
    memcpy(other, c->ctx->trust, SID_CTX_LEN);
    other[0] ^= 0xff; /* no connection of any context has this one */
    wolfSSL_set_session_id_context(c->ssl, other, SID_CTX_LEN); /* cache; 5.9.2 tickets */
    c->unresumable = 1; /* tickets under our keys (ticket_cb) */
#ifdef HAVE_SESSION_TICKET
    /* a TLS 1.3 ticket comes after the handshake: none at all (a TLS 1.2
     * server has already promised one) */
#ifdef WOLFSSL_TLS13
    if (wolfSSL_version(c->ssl) == TLS1_3_VERSION) wolfSSL_no_ticket_TLSv13(c->ssl);
#endif
#endif
}

/* Was the peer of this finished connection verified? */
static int conn_verified(lwl_Conn *c) {
    const char *why;
    int r;
    if (c->ctx->verify == 0) return 0;
    r = lwl_session_verdict(c, &why);
    if (r >= 0) return r;
    return c->verified && c->vfy_err == 0 && wolfSSL_get_verify_result(c->ssl) == 0;
}

/* The trust record of a session made by connection c. */
static void fill_trust(lwl_Conn *c, Trust *t) {
    memcpy(t->fp, c->ctx->trust, FP_LEN);
    t->verify = c->ctx->verify;
    t->verified = conn_verified(c);
    if (!c->is_server && c->server_name != NULL) {
        size_t n = strlen(c->server_name);
        t->has_name = 1;
        if (n <= NAME_MAX_LEN) { /* else kept empty: it matches no name */
            t->name_len = n;
            memcpy(t->name, c->server_name, n + 1);
        }
    }
}

/* Push a Lua-owned copy of a session (wolfSSL may change the original), with
 * the trust record of the connection that made it. */
static int push_copy(lua_State *L, lwl_Conn *c, WOLFSSL_SESSION *orig) {
    Sess *s = sess_new(L);
    s->s = wolfSSL_SESSION_dup(orig);
    fill_trust(c, &s->t);
    return s->s != NULL;
}

/* Why the connection must not resume s, or NULL. */
static const char *trust_refusal(lwl_Conn *c, const Sess *s, char *buf, size_t sz) {
    const char *want = c->is_server ? NULL : c->server_name;
    if (!same_bytes(s->t.fp, c->ctx->trust, FP_LEN))
        return "session refused: it was made under other trust settings (CAs, verify, "
               "check_hostname, on_verify, CRL or OCSP differ)";
    if (want == NULL && s->t.has_name)
        snprintf(buf, sz, "session refused: it was made for server name '%s', this "
                          "connection has none", s->t.name);
    else if (want != NULL && !s->t.has_name)
        snprintf(buf, sz, "session refused: it was made without a server name, not for '%s'",
                 want);
    else if (want != NULL && (strlen(want) != s->t.name_len || s->t.name_len == 0 ||
                              memcmp(want, s->t.name, s->t.name_len) != 0))
        snprintf(buf, sz, "session refused: it was made for server name '%s', not '%s'",
                 s->t.name, want);
    else
        return NULL;
    return buf;
}

/* ---- connection methods ---- */

/* conn:session() -> session | nil, message */
int lwl_session_get(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    WOLFSSL_SESSION *cur;
    if (!c->done) return lwl_fail(L, "no session: the handshake is not finished");
    cur = wolfSSL_get_session(c->ssl);
    if (cur == NULL) return lwl_fail(L, "no session");
    if (!c->is_server && wolfSSL_SESSION_is_resumable(cur) != 1)
        return lwl_fail(L, wolfSSL_version(c->ssl) == TLS1_3_VERSION
                               ? "no resumable session yet: in TLS 1.3 the server sends its "
                                 "ticket (if it sends one) after the handshake; call "
                                 "conn:read() (even if it returns \"wantread\") or use "
                                 "on_new_session"
                               : "the session is not resumable");
    if (!push_copy(L, c, cur)) return luaL_error(L, "out of memory");
    return 1;
}

/* conn:set_session(s) -> true | nil, message; clients, before the handshake */
int lwl_session_set(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    Sess *sess = tosess(L, 2);
    WOLFSSL_SESSION *s = live(L, sess);
    long born, timeout;
    int v, min, max;
    char buf[NAME_MAX_LEN * 2 + 100];
    const char *refused;
#ifdef LWL_ECH_NO_PSK
    if (c->ech) /* (a refusal ctx:new{session=} goes past: a full handshake) */
        return lwl_fail(L, "session not offered: this wolfSSL cannot resume with ECH "
                           "(features.ech_resumption is false)");
#endif
    if (c->is_server) return luaL_error(L, "set_session: only client connections resume sessions");
    if (c->done || c->nrecv > 0 || c->busy)
        return luaL_error(L, "set_session: must be called before the handshake starts");
    refused = trust_refusal(c, sess, buf, sizeof buf);
    if (refused != NULL) return lwl_fail(L, refused);
    born = wolfSSL_SESSION_get_time(s);
    timeout = wolfSSL_SESSION_get_timeout(s);
    if (timeout > 0 && born + timeout < lwl_now())
        return lwl_fail(L, "the session has expired");
    if (wolfSSL_SESSION_is_resumable(s) != 1)
        return lwl_fail(L, "the session is not resumable (a TLS 1.3 session needs its ticket)");
    /* wolfSSL 5.5 fails the handshake when the session's version is not one
     * the context speaks: do a full handshake instead */
    v = sess_version_of(sess);
    min = wolfSSL_CTX_get_min_proto_version(c->ctx->ctx);
    max = wolfSSL_CTX_get_max_proto_version(c->ctx->ctx);
    if (c->dtls ? (v >> 8) != 0xfe /* (DTLS numbers count down: a TLS session only) */
                : ((min > 0 && v < min) || (max > 0 && v > max)))
        return lwl_fail(L, "the session's protocol version is not enabled on this context "
                           "(a full handshake follows)");
#ifdef LWL_SET_SESSION_SHARES
    /* a copy: wolfSSL shares the object it is given and updates it with the
     * next handshake, so the user's session would change under them */
    s = wolfSSL_SESSION_dup(s);
    if (s == NULL) return luaL_error(L, "out of memory");
    v = wolfSSL_set_session(c->ssl, s);
    wolfSSL_SESSION_free(s); /* the connection holds its own reference */
#else
    v = wolfSSL_set_session(c->ssl, s); /* copied into the connection's own */
#endif
    if (v != WOLFSSL_SUCCESS)
        return lwl_fail(L, "wolfSSL refused the session (expired or made for another context?)");
    c->offered_trust = sess->t.verified ? 1 : -1;
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- on_new_session and session_store ---- */

typedef struct NewArgs {
    lwl_Conn *c;
    WOLFSSL_SESSION *sess;
    const unsigned char *id;
    unsigned int idlen;
} NewArgs;

static int push_new_session(lua_State *L, void *ud) {
    NewArgs *a = (NewArgs *)ud;
    if (!push_copy(L, a->c, a->sess)) luaL_error(L, "out of memory");
    return 1;
}

/* id, exported session (made here, inside the protected call) */
static int push_put(lua_State *L, void *ud) {
    NewArgs *a = (NewArgs *)ud;
    Sess tmp;
    size_t len = 0;
    unsigned char *out;
    memset(&tmp, 0, sizeof tmp);
    tmp.s = a->sess;
    fill_trust(a->c, &tmp.t);
    out = sess_wrap(L, &tmp, &len);
    if (out == NULL) luaL_error(L, "the session cannot be serialised");
    push_hex(L, a->id, a->idlen);
    lua_pushlstring(L, (const char *)out, len);
    lwl_wipe_free(out, len);
    return 2;
}

static int new_session_cb(WOLFSSL *ssl, WOLFSSL_SESSION *sess) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    NewArgs a;
    if (c == NULL || c->L == NULL || sess == NULL) return 0;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.sess = sess;
    if (c->is_server && (c->ctx->callbacks & LWL_CB_SESSION_STORE) &&
        wolfSSL_version(ssl) != TLS1_3_VERSION) {
        /* TLS 1.2 session ids only: tickets carry their own state */
        a.id = wolfSSL_SESSION_get_id(sess, &a.idlen);
        if (a.id && a.idlen > 0
#ifdef HAVE_SESSION_TICKET
            && wolfSSL_SESSION_has_ticket(sess) != 1
#endif
        )
            lwl_callback(c, "_store_put", push_put, NULL, 0, &a);
    }
    if (c->ctx->callbacks & LWL_CB_NEW_SESSION) {
        if (c->is_server || wolfSSL_SESSION_is_resumable(sess) == 1)
            lwl_callback(c, "on_new_session", push_new_session, NULL, 0, &a);
    }
    return 0; /* wolfSSL drops the reference it took for us */
}

typedef struct GetArgs {
    lwl_Conn *c;
    const unsigned char *id;
    int idlen;
    WOLFSSL_SESSION *found;
    int bad;
} GetArgs;

static int push_id(lua_State *L, void *ud) {
    GetArgs *g = (GetArgs *)ud;
    push_hex(L, g->id, (size_t)g->idlen);
    return 1;
}

/* What the store returned: checked like an import (layout, MAC), then for
 * this context's trust, its id and its age. Anything unusable is a cache
 * miss, said in last_error (the connection is index 1 of the protected call). */
static void collect_get(lua_State *L, void *ud) {
    GetArgs *g = (GetArgs *)ud;
    Sess tmp;
    size_t len;
    const char *b, *why;
    char text[300];
    if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1))) return;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "session_store.get must return a string or nil (got %s)",
                   luaL_typename(L, -1));
    b = lua_tolstring(L, -1, &len);
    memset(&tmp, 0, sizeof tmp);
    why = sess_unwrap(L, (const unsigned char *)b, len, &tmp);
    if (why == NULL && !same_bytes(tmp.t.fp, g->c->ctx->trust, FP_LEN))
        why = "session refused: it was made under other trust settings";
    if (why == NULL) {
        unsigned int n = 0;
        const unsigned char *id = wolfSSL_SESSION_get_id(tmp.s, &n);
        long born = wolfSSL_SESSION_get_time(tmp.s);
        long timeout = wolfSSL_SESSION_get_timeout(tmp.s);
        if (id == NULL || (int)n != g->idlen || memcmp(id, g->id, n) != 0)
            why = "the stored session has another id";
        else if (timeout > 0 && born + timeout < lwl_now())
            why = "the stored session has expired";
    }
    if (why != NULL) {
        if (tmp.s) wolfSSL_SESSION_free(tmp.s);
        g->bad = 1;
        snprintf(text, sizeof text, "session_store.get: %s (a full handshake follows)", why);
        lwl_set_last_error(L, 1, "session_store", text, 0, 0);
        return;
    }
    g->found = tmp.s;
    if (g->c->ctx->verify) g->c->offered_trust = tmp.t.verified ? 1 : -1; /* if wolfSSL resumes it */
}

static WOLFSSL_SESSION *get_session_cb(WOLFSSL *ssl, const unsigned char *id, int len,
                                       int *copy) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    GetArgs g;
    *copy = 0; /* wolfSSL copies what we return, then frees it */
    if (c == NULL || c->L == NULL || !c->is_server || id == NULL || len <= 0) return NULL;
    if (!(c->ctx->callbacks & LWL_CB_SESSION_STORE)) return NULL;
    /* TLS 1.3 resumes through tickets (ticket_keys); its lookups here carry
     * ids nobody stored: do not ask the store for them. */
    if (wolfSSL_version(ssl) == TLS1_3_VERSION) return NULL;
    memset(&g, 0, sizeof g);
    g.c = c;
    g.id = id;
    g.idlen = len;
    if (lwl_callback(c, "_store_get", push_id, collect_get, 1, &g) < 0) {
        /* a store outage must not fail handshakes: a miss, kept in last_error */
        c->cb_error = 0;
        if (g.found) wolfSSL_SESSION_free(g.found);
        return NULL;
    }
    if (g.bad) lwl_callback(c, "_store_remove", push_id, NULL, 0, &g);
    return g.found;
}

/* Installers of on_new_session and session_store (the registry, context.c) */
const char *lwl_session_install_new(lwl_Context *x) {
#ifdef HAVE_EXT_CACHE
    wolfSSL_CTX_sess_set_new_cb(x->ctx, new_session_cb);
    return NULL;
#else
    (void)x;
    return "not supported by this wolfSSL build (no HAVE_EXT_CACHE)";
#endif
}

const char *lwl_session_install_store(lwl_Context *x) {
#ifdef HAVE_EXT_CACHE
    if (!x->is_server) return "session_store is for servers";
    wolfSSL_CTX_sess_set_new_cb(x->ctx, new_session_cb);
    wolfSSL_CTX_sess_set_get_cb(x->ctx, get_session_cb);
    /* wolfSSL's remove callback fires whenever any session object is
     * freed, not on eviction, and without a connection: not used. */
    wolfSSL_CTX_set_session_cache_mode(x->ctx, WOLFSSL_SESS_CACHE_SERVER |
                                                   WOLFSSL_SESS_CACHE_NO_INTERNAL);
    return NULL;
#else
    (void)x;
    return "not supported by this wolfSSL build (no HAVE_EXT_CACHE)";
#endif
}

/* ---- ticket keys ---- */

#ifdef LWL_TICKET_KEYS
#define MAX_TICKET_KEYS 16
#define NEG_CACHE 4

typedef struct TicketKey {
    unsigned char name[WOLFSSL_TICKET_NAME_SZ];
    unsigned char key[CHACHA20_POLY1305_AEAD_KEYSIZE];
} TicketKey;

typedef struct lwl_TicketKeys {
    int n;        /* static keys, newest first */
    int dynamic;  /* on_ticket_key is set */
    TicketKey k[MAX_TICKET_KEYS];
    /* names on_ticket_key did not know, for a short while: wolfSSL may ask
     * about one ticket many times in one ClientHello */
    unsigned char neg[NEG_CACHE][WOLFSSL_TICKET_NAME_SZ];
    time_t neg_time[NEG_CACHE];
    int neg_next;
} TicketKeys;

/* name = SHA-256("lua-wolfssl ticket key name\0" || secret)[0..16)
 * key  = SHA-256("lua-wolfssl ticket key\0" || secret) */
static int derive(const unsigned char *secret, size_t len, TicketKey *out) {
    static const char lname[] = "lua-wolfssl ticket key name";
    static const char lkey[] = "lua-wolfssl ticket key";
    unsigned char h[WC_SHA256_DIGEST_SIZE];
    wc_Sha256 sha;
    if (wc_InitSha256(&sha) != 0) return 0;
    wc_Sha256Update(&sha, (const byte *)lname, sizeof lname);
    wc_Sha256Update(&sha, secret, (word32)len);
    wc_Sha256Final(&sha, h);
    memcpy(out->name, h, WOLFSSL_TICKET_NAME_SZ);
    wc_Sha256Update(&sha, (const byte *)lkey, sizeof lkey);
    wc_Sha256Update(&sha, secret, (word32)len);
    wc_Sha256Final(&sha, out->key);
    wc_Sha256Free(&sha);
    lwl_wipe(h, sizeof h);
    return 1;
}

typedef struct KeyAsk {
    const unsigned char *name; /* NULL: the key for a new ticket */
    TicketKey got;
    int found;
} KeyAsk;

static int push_key_name(lua_State *L, void *ud) {
    KeyAsk *a = (KeyAsk *)ud;
    if (a->name)
        push_hex(L, a->name, WOLFSSL_TICKET_NAME_SZ);
    else
        lua_pushnil(L);
    return 1;
}

static void collect_key(lua_State *L, void *ud) {
    KeyAsk *a = (KeyAsk *)ud;
    size_t len;
    const char *s;
    if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1))) return;
    if (lua_type(L, -1) != LUA_TSTRING || (lua_tolstring(L, -1, &len), len != 32))
        luaL_error(L, "on_ticket_key must return a 32-byte key or nil");
    s = lua_tolstring(L, -1, &len);
    if (!derive((const unsigned char *)s, len, &a->got)) luaL_error(L, "key derivation failed");
    /* a key for another name is no key for this ticket */
    a->found = a->name == NULL || memcmp(a->got.name, a->name, WOLFSSL_TICKET_NAME_SZ) == 0;
}

/* A ticket under an older key: resume, and have a new ticket made under the
 * newest. TLS 1.3 servers send a new ticket after every handshake, and from
 * 5.9.2 on a TLS 1.3 ticket resumes only when the answer is OK (CREATE
 * declines it); TLS 1.2 needs CREATE to reissue. */
static int renew(WOLFSSL *ssl) {
    return wolfSSL_version(ssl) == TLS1_3_VERSION ? WOLFSSL_TICKET_RET_OK
                                                   : WOLFSSL_TICKET_RET_CREATE;
}

static int ticket_cb(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                     unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                     unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
                     int inLen, int *outLen, void *userCtx) {
    TicketKeys *tk = (TicketKeys *)userCtx;
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    const TicketKey *use = NULL;
    KeyAsk ask;
    int ret = WOLFSSL_TICKET_RET_OK, i;
    /* authenticated with the ticket: its key name and the trust settings of
     * the context that made it (another context's ticket is a full handshake) */
    unsigned char aad[WOLFSSL_TICKET_NAME_SZ + FP_LEN];
    if (tk == NULL || inLen < 0 || c == NULL) return WOLFSSL_TICKET_RET_FATAL;
    memcpy(aad + WOLFSSL_TICKET_NAME_SZ, c->ctx->trust, FP_LEN);
    if (enc && c->unresumable) aad[WOLFSSL_TICKET_NAME_SZ] ^= 0xff; /* never decrypts */
    memset(&ask, 0, sizeof ask);
    if (enc) {
        if (tk->n > 0) {
            use = &tk->k[0];
        } else if (tk->dynamic) {
            if (lwl_callback(c, "on_ticket_key", push_key_name, collect_key, 1, &ask) < 0 ||
                !ask.found)
                return WOLFSSL_TICKET_RET_FATAL; /* no ticket is sent */
            use = &ask.got;
        } else {
            return WOLFSSL_TICKET_RET_FATAL;
        }
        memcpy(key_name, use->name, WOLFSSL_TICKET_NAME_SZ);
        memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
        memset(iv, 0, WOLFSSL_TICKET_IV_SZ);
        memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
        if (wolfSSL_RAND_bytes(iv, CHACHA20_POLY1305_AEAD_IV_SIZE) != 1 ||
            wc_ChaCha20Poly1305_Encrypt(use->key, iv, aad, sizeof aad, ticket,
                                        (word32)inLen, ticket, mac) != 0)
            ret = WOLFSSL_TICKET_RET_FATAL;
        *outLen = inLen;
        lwl_wipe(&ask, sizeof ask);
        return ret;
    }
    for (i = 0; i < tk->n; i++) {
        if (memcmp(tk->k[i].name, key_name, WOLFSSL_TICKET_NAME_SZ) == 0) {
            use = &tk->k[i];
            ret = i == 0 ? WOLFSSL_TICKET_RET_OK : renew(ssl);
            break;
        }
    }
    if (use == NULL && tk->dynamic) {
        time_t now = time(NULL);
        for (i = 0; i < NEG_CACHE; i++)
            if (tk->neg_time[i] != 0 && now - tk->neg_time[i] <= 1 &&
                memcmp(tk->neg[i], key_name, WOLFSSL_TICKET_NAME_SZ) == 0)
                return WOLFSSL_TICKET_RET_REJECT;
        ask.name = key_name;
        if (lwl_callback(c, "on_ticket_key", push_key_name, collect_key, 1, &ask) < 0)
            return WOLFSSL_TICKET_RET_FATAL;
        if (ask.found) {
            use = &ask.got;
            /* the newest key is the one new tickets use: reissue */
            ret = renew(ssl);
        } else {
            memcpy(tk->neg[tk->neg_next], key_name, WOLFSSL_TICKET_NAME_SZ);
            tk->neg_time[tk->neg_next] = now;
            tk->neg_next = (tk->neg_next + 1) % NEG_CACHE;
        }
    }
    if (use == NULL) return WOLFSSL_TICKET_RET_REJECT; /* unknown key: full handshake */
    memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
    if (wc_ChaCha20Poly1305_Decrypt(use->key, iv, aad, sizeof aad, ticket,
                                    (word32)inLen, mac, ticket) != 0)
        ret = WOLFSSL_TICKET_RET_REJECT; /* forged or damaged */
    else if (c != NULL && lwl_early_refuse(c))
        ret = WOLFSSL_TICKET_RET_REJECT; /* a replayed 0-RTT flight: a full handshake, its early data skipped */
    *outLen = inLen;
    lwl_wipe(&ask, sizeof ask);
    return ret;
}

/* The key store of a context: C memory the context owns (wolfSSL holds a
 * pointer to it), wiped and freed with the context. */
static TicketKeys *ticket_keys_of(lwl_Context *x) {
    if (x->tickets == NULL) {
        x->tickets = (TicketKeys *)calloc(1, sizeof *x->tickets);
        if (x->tickets == NULL) return NULL;
        wolfSSL_CTX_set_TicketEncCtx(x->ctx, x->tickets);
        wolfSSL_CTX_set_TicketEncCb(x->ctx, ticket_cb);
    }
    return x->tickets;
}
#endif

/* core.ctx_ticket_keys(ctx, {32-byte keys, newest first} | nil, dynamic) */
static int ctx_ticket_keys(lua_State *L) {
    lwl_Context *x = lwl_checkcontext(L, 1);
#ifdef LWL_TICKET_KEYS
    TicketKeys *tk;
    TicketKey tmp[MAX_TICKET_KEYS];
    int n = 0, i;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        n = (int)lua_rawlen(L, 2);
        if (n > MAX_TICKET_KEYS) return lwl_fail(L, "too many keys (at most 16)");
        for (i = 0; i < n; i++) {
            size_t len;
            const char *s;
            lua_rawgeti(L, 2, i + 1);
            s = lua_tolstring(L, -1, &len);
            if (s == NULL || len != 32) {
                lwl_wipe(tmp, sizeof tmp);
                return lwl_fail(L, "each key must be 32 bytes");
            }
            if (!derive((const unsigned char *)s, len, &tmp[i])) {
                lwl_wipe(tmp, sizeof tmp);
                return lwl_fail(L, "key derivation failed");
            }
            lua_pop(L, 1);
        }
    }
    tk = ticket_keys_of(x);
    if (tk == NULL) {
        lwl_wipe(tmp, sizeof tmp);
        return luaL_error(L, "out of memory");
    }
    if (!lua_isnoneornil(L, 2)) {
        lwl_wipe(tk->k, sizeof tk->k);
        memcpy(tk->k, tmp, sizeof tmp[0] * (size_t)n);
        tk->n = n;
        memset(tk->neg_time, 0, sizeof tk->neg_time);
    }
    if (!lua_isnoneornil(L, 3)) tk->dynamic = lua_toboolean(L, 3);
    lwl_wipe(tmp, sizeof tmp);
    lua_pushboolean(L, 1);
    return 1;
#else
    (void)x;
    return lwl_fail(L, "not supported by this wolfSSL build (needs session tickets, "
                       "ChaCha20-Poly1305 and SHA-256)");
#endif
}

void lwl_session_context_free(lwl_Context *x) {
    verdicts_free(x);
#ifdef LWL_TICKET_KEYS
    if (x->tickets != NULL) {
        /* wolfSSL keeps the CTX while connections live: they find no keys */
        wolfSSL_CTX_set_TicketEncCtx(x->ctx, NULL);
        lwl_wipe(x->tickets, sizeof *x->tickets);
        free(x->tickets);
        x->tickets = NULL;
    }
#else
    (void)x;
#endif
}

/* core.conn_prepare_ticket(conn): a server connection whose new tickets take
 * their key from on_ticket_key asks it now, with name nil: nil means this
 * connection issues no ticket. wolfSSL 5.5 cannot skip a ticket once it asked
 * for its key (the handshake would fail after the client finished). An error
 * fails the connection: its handshake() returns it (last_error, traceback). */
int lwl_session_prepare_ticket(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
#ifdef LWL_TICKET_KEYS
    TicketKeys *tk = c->ctx->tickets;
    KeyAsk ask;
    int r;
    if (!c->is_server || tk == NULL || !tk->dynamic || tk->n > 0 || c->busy || c->L != NULL)
        return 0;
    memset(&ask, 0, sizeof ask);
    c->busy = 1; /* like a method call: callbacks run on this state */
    c->L = L;
    c->self = 1;
    r = lwl_callback(c, "on_ticket_key", push_key_name, collect_key, 1, &ask);
    c->L = NULL;
    c->busy = 0;
    c->cb_error = 0;
    lwl_wipe(&ask.got, sizeof ask.got);
    if (c->close_pending) { /* conn:close() inside: done now */
        lua_getfield(L, 1, "close");
        lua_pushvalue(L, 1);
        lua_call(L, 1, 0);
        return 0;
    }
    if (r < 0) /* it raised: the connection fails like any callback error */
        c->failed = 1;
    else if (r > 0 && !ask.found) {
#ifdef WOLFSSL_TLS13
        wolfSSL_no_ticket_TLSv13(c->ssl);
#endif
        wolfSSL_NoTicketTLSv12(c->ssl);
    }
#else
    (void)c;
#endif
    return 0;
}

/* core.ctx_trust(ctx, description): the fingerprint of the context's trust
 * settings is SHA-256 of their description (made by wolfssl/session.lua) */
static int ctx_trust(lua_State *L) {
    lwl_Context *x = lwl_checkcontext(L, 1);
    size_t len;
    const char *d = luaL_checklstring(L, 2, &len);
    wc_Sha256 sha;
    if (wc_InitSha256(&sha) != 0 || wc_Sha256Update(&sha, (const byte *)d, (word32)len) != 0 ||
        wc_Sha256Final(&sha, x->trust) != 0)
        return luaL_error(L, "SHA-256 failed");
    wc_Sha256Free(&sha);
    /* a server's sessions carry its trust too: wolfSSL resumes a session
     * (cache or, from 5.9.2 on, ticket) only under the same session id
     * context; tickets under our keys also bind it (ticket_cb) */
    if (x->is_server &&
        wolfSSL_CTX_set_session_id_context(x->ctx, x->trust, SID_CTX_LEN) != WOLFSSL_SUCCESS)
        return luaL_error(L, "could not set the session id context");
    lua_pushboolean(L, 1);
    return 1;
}

/* core.random_bytes(n) */
static int random_bytes(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    unsigned char buf[256];
    luaL_argcheck(L, n > 0 && n <= (lua_Integer)sizeof buf, 1, "must be between 1 and 256");
    if (wolfSSL_RAND_bytes(buf, (int)n) != 1) return luaL_error(L, "random generator failed");
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    lwl_wipe(buf, sizeof buf);
    return 1;
}

void lwl_session_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"export", sess_export},   {"id", sess_id},
                                       {"has_ticket", sess_has_ticket},
                                       {"resumable", sess_resumable},
                                       {"timeout", sess_timeout}, {"time", sess_time},
                                       {"version", sess_version}, {"cipher", sess_cipher},
                                       {"trust", sess_trust},
                                       {"free", sess_gc},         {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", sess_gc},
                                    {"__tostring", sess_tostring},
#if LUA_VERSION_NUM >= 504
                                    {"__close", sess_gc},
#endif
                                    {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"session_import", sess_import},
                                                                          {"ctx_ticket_keys", ctx_ticket_keys},
                                     {"random_bytes", random_bytes},
                                     {"session_set_key", session_set_key},
                                     {"ctx_trust", ctx_trust},
                                     {"conn_prepare_ticket", lwl_session_prepare_ticket},
                                     {NULL, NULL}};
    if (session_key(L) == NULL) { /* a random key per process unless set_key is called */
        unsigned char *k = new_session_key(L);
        if (wolfSSL_RAND_bytes(k, MAC_LEN) != 1) luaL_error(L, "random generator failed");
    }
    lwl_newmeta(L, LWL_SESSION, methods, meta); /* core.session = methods */
    luaL_setfuncs(L, funcs, 0);
    lua_getfield(L, -1, "features");
    if (lua_istable(L, -1)) {
#ifdef LWL_TICKET_KEYS
        lua_pushboolean(L, 1);
#else
        lua_pushboolean(L, 0);
#endif
        lua_setfield(L, -2, "ticket_keys");
    }
    lua_pop(L, 1);
}
