/* trust.c: certificate revocation - CRLs and OCSP stapling.
 *
 * Context primitives used by lua/wolfssl/trust.lua (which validates the
 * options): ctx_crl (CRL checking, every certificate of the chain), the client
 * side of OCSP stapling (request / require a stapled response) and the server
 * side (staple a response from a Lua function, through wolfSSL's
 * OpenSSL-compatible status callback). conn:_ocsp_status() tells what a
 * client learnt from the staple.
 *
 * wolfSSL 5.5.4 verifies a stapled response on both sides (the server only
 * staples a response it can verify, so it must trust its own issuer), caches
 * a server's response per certificate until the response's nextUpdate, and
 * does not keep the bytes of the response a client received. */
#include "lwolfssl.h"

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/types.h>
#include <stdlib.h>
#include <string.h>

static int ok_or_fail(lua_State *L, int ok, const char *what) {
    if (ok) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return lwl_fail(L, what);
}

/* core.ctx_crl(ctx, bytes, "pem"|"der") */
static int ctx_crl(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    size_t len;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &len);
    const char *fmt = luaL_checkstring(L, 3);
#ifdef HAVE_CRL
    int type = strcmp(fmt, "der") == 0 ? WOLFSSL_FILETYPE_ASN1 : WOLFSSL_FILETYPE_PEM, r;
    if (wolfSSL_CTX_EnableCRL(c->ctx, WOLFSSL_CRL_CHECKALL) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "could not enable CRL checking");
    r = wolfSSL_CTX_LoadCRLBuffer(c->ctx, data, (long)len, type);
    /* 5.9.2 keeps one CRL per issuer and refuses one no newer than it has
     * (DUPE_ENTRY_E): the newest is in force, as when both are kept */
    return ok_or_fail(L, r == WOLFSSL_SUCCESS || r == LWL_DUPE_ENTRY_E,
                      "not a valid CRL (or its issuer is not a trusted CA: load cafile first)");
#else
    (void)c; (void)data; (void)fmt;
    return luaL_error(L, "bad option 'crl': CRLs are not supported by this wolfSSL build");
#endif
}

/* core.ctx_ocsp_client(ctx, require) */
static int ctx_ocsp_client(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    int require = lua_toboolean(L, 2);
#if defined(HAVE_OCSP) && defined(HAVE_CERTIFICATE_STATUS_REQUEST)
    if (wolfSSL_CTX_EnableOCSPStapling(c->ctx) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_UseOCSPStapling(c->ctx, WOLFSSL_CSR_OCSP, 0) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "could not enable OCSP stapling");
    if (require && wolfSSL_CTX_EnableOCSPMustStaple(c->ctx) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "could not require OCSP stapling");
    c->ocsp_request = 1; /* and per connection (conn.c): 5.9.2's TLS 1.3 client
                          * knows only its own request when the staple comes */
    lua_pushboolean(L, 1);
    return 1;
#else
    (void)c; (void)require;
    return luaL_error(L, "bad option 'ocsp_stapling': OCSP stapling is not supported by this wolfSSL build");
#endif
}

#if defined(HAVE_OCSP) && defined(HAVE_CERTIFICATE_STATUS_REQUEST) && \
    (defined(OPENSSL_ALL) || defined(WOLFSSL_NGINX) || defined(WOLFSSL_HAPROXY))
#define LWL_STAPLE_SERVER 1

/* (LWL_STAPLE_TLS13_LEAKS: wolfcompat.h) */

typedef struct Staple {
    unsigned char *der;
    int len;
} Staple;

static void staple_collect(lua_State *L, void *ud) {
    Staple *s = (Staple *)ud;
    size_t len;
    const char *der;
    if (lua_isnil(L, -1)) return; /* nothing to staple this time */
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "staple must return a DER string or nil (got %s)", luaL_typename(L, -1));
    der = lua_tolstring(L, -1, &len);
    if (len == 0) return;
    s->der = (unsigned char *)XMALLOC(len, NULL, DYNAMIC_TYPE_OPENSSL);
    if (s->der == NULL) luaL_error(L, "out of memory");
    memcpy(s->der, der, len);
    s->len = (int)len;
}

/* wolfSSL asks for the response to staple (OpenSSL's status callback) */
static int status_cb(WOLFSSL *ssl, void *arg) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    Staple s;
    int r;
    (void)arg;
    if (c == NULL) return 3; /* SSL_TLSEXT_ERR_NOACK */
    s.der = NULL;
    s.len = 0;
    r = lwl_callback(c, "staple", NULL, staple_collect, 1, &s);
    if (r <= 0 || s.der == NULL) {
        if (s.der) XFREE(s.der, NULL, DYNAMIC_TYPE_OPENSSL);
        return r < 0 ? 2 /* SSL_TLSEXT_ERR_ALERT_FATAL */ : 3;
    }
    /* wolfSSL takes the buffer (it frees it after checking the response) */
    wolfSSL_set_tlsext_status_ocsp_resp(ssl, s.der, s.len);
    return 0; /* SSL_TLSEXT_ERR_OK */
}
#endif

/* core.ctx_staple(ctx): the server staples what uservalue.staple returns */
static int ctx_staple(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
#ifdef LWL_STAPLE_SERVER
    if (wolfSSL_CTX_EnableOCSPStapling(c->ctx) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_tlsext_status_cb(c->ctx, status_cb) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "could not enable OCSP stapling");
    lua_pushboolean(L, 1);
    return 1;
#else
    (void)c;
    return luaL_error(L, "bad option 'staple': OCSP stapling (server side) is not supported by this wolfSSL build");
#endif
}

/* conn:_ocsp_status() -> "good", producedAt | "revoked" | "unknown" | nil */
static int conn_ocsp_status(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
#if defined(HAVE_OCSP) && defined(HAVE_CERTIFICATE_STATUS_REQUEST)
    byte date[MAX_DATE_SIZE + 1];
    int fmt = 0, err;
    struct tm tm;
    /* a failure first: 5.9.2 also dates a revoked or unknown response */
    err = lwl_get_error(c->ssl, 0);
    if (err == OCSP_CERT_REVOKED || c->vfy_err == OCSP_CERT_REVOKED) {
        lua_pushliteral(L, "revoked");
        return 1;
    }
    if (err == BAD_CERTIFICATE_STATUS_ERROR || err == OCSP_CERT_UNKNOWN ||
        c->vfy_err == BAD_CERTIFICATE_STATUS_ERROR || c->vfy_err == OCSP_CERT_UNKNOWN) {
        lua_pushliteral(L, "unknown");
        return 1;
    }
    memset(date, 0, sizeof date);
    if (wolfSSL_get_ocsp_producedDate(c->ssl, date, sizeof date, &fmt) == 0) {
        lua_pushliteral(L, "good");
        memset(&tm, 0, sizeof tm);
        if (wolfSSL_get_ocsp_producedDate_tm(c->ssl, &tm) == 0) {
            char iso[32];
            strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
            lua_pushstring(L, iso);
            return 2;
        }
        return 1;
    }
#else
    (void)c;
#endif
    return 0;
}

void lwl_trust_open(lua_State *L) {
    static const luaL_Reg funcs[] = {{"ctx_crl", ctx_crl},
                                     {"ctx_ocsp_client", ctx_ocsp_client},
                                     {"ctx_staple", ctx_staple},
                                     {NULL, NULL}};
    static const luaL_Reg methods[] = {{"_ocsp_status", conn_ocsp_status}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
    lua_getfield(L, -1, "Connection");
    if (lua_istable(L, -1)) luaL_setfuncs(L, methods, 0);
    lua_pop(L, 1);
    /* what this build can do, for wolfssl.features */
    lua_getfield(L, -1, "features");
    if (lua_istable(L, -1)) {
#ifdef LWL_STAPLE_SERVER
        lua_pushboolean(L, 1);
#else
        lua_pushboolean(L, 0);
#endif
        lua_setfield(L, -2, "ocsp_staple_server");
#if defined(LWL_STAPLE_SERVER) && !defined(LWL_STAPLE_TLS13_LEAKS)
        lua_pushboolean(L, 1);
#else
        lua_pushboolean(L, 0);
#endif
        lua_setfield(L, -2, "ocsp_staple_tls13");
#if defined(LWL_STAPLE_SERVER) && !defined(LWL_STAPLE_TLS12_PROMISES)
        lua_pushboolean(L, 1);
#else
        lua_pushboolean(L, 0);
#endif
        lua_setfield(L, -2, "ocsp_staple_optional_tls12");
        lua_pushboolean(L, 0); /* the client never sees the stapled bytes in 5.5.4 */
        lua_setfield(L, -2, "ocsp_response_der");
    }
    lua_pop(L, 1);
}
