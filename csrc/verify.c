/* verify.c: checking the peer's certificates - the verify callback (details
 * for messages, on_verify), the chain the peer sent, revocation (CRLs, OCSP
 * stapling on both sides, with the server's `staple` callback).
 *
 * The chain: with SESSION_CERTS wolfSSL keeps the peer's chain itself, in
 * fixed buffers on every session (MAX_CHAIN_DEPTH x MAX_X509_SIZE, about
 * 18 KiB, twice with WOLFSSL_ALT_CERT_CHAINS) whether or not anybody asks for
 * it. Without it the binding keeps DER copies sized to the real chain: the
 * verify callback (run for every certificate the peer sends, whatever
 * `verify` is, since WOLFSSL_ALWAYS_VERIFY_CB) sees the whole list the peer
 * sent in the store, leaf first, and copies it once per chain delivery; the
 * leaf's copy goes once wolfSSL holds the leaf as its peer certificate
 * (KEEP_PEER_CERT: per-connection memory, bench/RESULTS.md). Only
 * full handshakes deliver a chain: on a resumed handshake the peer sends no
 * certificate and peer_chain() gives nil (wolfSSL's SESSION_CERTS instead
 * gives the chain saved in the session, when it has one).
 *
 * Revocation: context primitives used by lua/wolfssl/trust.lua (which
 * validates the options): ctx_crl (CRL checking, every certificate of the
 * chain), the client side of OCSP stapling (request / require a stapled
 * response) and the server side (staple a response from a Lua function,
 * through wolfSSL's OpenSSL-compatible status callback). conn:_ocsp_status()
 * tells what a client learnt from the staple. wolfSSL 5.5.4 verifies a
 * stapled response on both sides (the server only staples a response it can
 * verify, so it must trust its own issuer), caches a server's response per
 * certificate until the response's nextUpdate, and does not keep the bytes of
 * the response a client received. */
#include "lwolfssl.h"

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/types.h>
#include <stdlib.h>
#include <string.h>

/* ---- the chain the peer sent ---- */

typedef struct ChainCert {
    unsigned char *der;
    int len;
} ChainCert;

struct lwl_Chain {
    int n, cap;
    int depth;  /* depth of the last verify callback: depths go N..0 per delivery */
    ChainCert certs[];
};

void lwl_chain_free(lwl_Conn *c) {
    struct lwl_Chain *ch = c->chain;
    int i;
    if (ch == NULL) return;
    c->chain = NULL;
    for (i = 0; i < ch->n; i++) free(ch->certs[i].der);
    free(ch);
}

/* Append a copy of one DER certificate. Returns 0 when out of memory. */
#ifndef SESSION_CERTS
static int chain_add(lwl_Conn *c, const unsigned char *der, int len) {
    struct lwl_Chain *ch = c->chain;
    unsigned char *copy;
    if (len <= 0) return 1;
    if (ch == NULL || ch->n == ch->cap) {
        int cap = ch ? ch->cap * 2 : 2;
        struct lwl_Chain *bigger =
            (struct lwl_Chain *)realloc(ch, sizeof *ch + (size_t)cap * sizeof(ChainCert));
        if (bigger == NULL) return 0;
        if (ch == NULL) {
            bigger->n = 0;
            bigger->depth = -1;
        }
        bigger->cap = cap;
        c->chain = ch = bigger;
    }
    copy = (unsigned char *)malloc((size_t)len);
    if (copy == NULL) return 0;
    memcpy(copy, der, (size_t)len);
    ch->certs[ch->n].der = copy;
    ch->certs[ch->n].len = len;
    ch->n++;
    return 1;
}

/* Called by the verify callback for each certificate of the peer's chain,
 * top first (depth N..0). The first call of a delivery (a depth not below
 * the previous one, or the top of the list) replaces what was kept: a new
 * handshake or post-handshake authentication brings a new chain. */
static void chain_capture(lwl_Conn *c, WOLFSSL_X509_STORE_CTX *store) {
    int depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
    int total = store->totalCerts, i;
    struct lwl_Chain *ch = c->chain;
    if (store->certs == NULL || total <= 0) return; /* not a peer's chain */
    if (ch == NULL || depth >= ch->depth || depth == total - 1) {
        lwl_chain_free(c);
        ch = (struct lwl_Chain *)malloc(sizeof *ch + (size_t)total * sizeof(ChainCert));
        if (ch == NULL) return; /* out of memory: peer_chain() gives nil */
        ch->n = 0;
        ch->cap = total;
        c->chain = ch;
        for (i = 0; i < total; i++) {
            if (!chain_add(c, store->certs[i].buffer, (int)store->certs[i].length)) {
                lwl_chain_free(c); /* never a partial chain */
                return;
            }
        }
    }
    c->chain->depth = depth;
#ifdef KEEP_PEER_CERT
    /* the leaf's turn: wolfSSL keeps the leaf itself from now on (its peer
     * certificate, until the next chain): no second copy (lwl_chain_push) */
    if (depth == 0 && c->chain->certs[0].der != NULL) {
        free(c->chain->certs[0].der);
        c->chain->certs[0].der = NULL;
    }
#endif
}
#endif

/* Pushes an array of new x509 objects (copies owned by Lua), leaf first, or nil */
int lwl_chain_push(lua_State *L, lwl_Conn *c) {
    struct lwl_Chain *ch = c->chain;
    int i;
    if (ch == NULL || ch->n == 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, ch->n, 0);
    for (i = 0; i < ch->n; i++) {
        if (ch->certs[i].der != NULL) {
            lwl_x509_push_der(L, ch->certs[i].der, ch->certs[i].len);
        } else { /* the leaf, which wolfSSL keeps (chain_capture) */
            WOLFSSL_X509 *leaf = wolfSSL_get_peer_certificate(c->ssl); /* a copy: ours */
            if (leaf == NULL) { /* gone with wolfSSL's state: no chain either */
                lua_pop(L, 1);
                lua_pushnil(L);
                return 1;
            }
            lwl_x509_push(L, leaf);
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* ---- the verify callback: error details for messages, and on_verify ---- */

typedef struct VerifyArgs {
    int ok, err, depth;
    WOLFSSL_X509 *cert;
} VerifyArgs;

static int verify_push(lua_State *L, void *ud) {
    VerifyArgs *v = (VerifyArgs *)ud;
    lua_pushboolean(L, v->ok);
    lua_createtable(L, 0, 4);
    lwl_pushint(L, v->depth);
    lua_setfield(L, -2, "depth");
    lwl_pushint(L, v->ok ? 0 : lwl_verify_code(v->err));
    lua_setfield(L, -2, "error");
    if (!v->ok) {
        lua_pushstring(L, lwl_verify_reason(lwl_verify_code(v->err)));
        lua_setfield(L, -2, "reason");
    }
    if (v->cert) {
        int len = 0;
        const unsigned char *der = wolfSSL_X509_get_der(v->cert, &len);
        if (der && len > 0) {
            lwl_x509_push_der(L, der, len);
            lua_setfield(L, -2, "cert");
        }
    }
    return 2;
}

static void verify_collect(lua_State *L, void *ud) {
    VerifyArgs *v = (VerifyArgs *)ud;
    if (!lua_isboolean(L, -1))
        luaL_error(L, "on_verify must return a boolean (got %s)", luaL_typename(L, -1));
    v->ok = lua_toboolean(L, -1);
}

/* A client whose ECH the server rejected talks to the client-facing server:
 * its certificate is checked for the ECH public name (RFC 9849 6.1.7), which
 * wolfSSL does itself; the real name is not to be asked of it. */
static int ech_rejected(lwl_Conn *c) {
#ifdef LWL_ECH
    return wolfSSL_GetEchStatus(c->ssl) == WOLFSSL_ECH_STATUS_REJECTED;
#else
    (void)c;
    return 0;
#endif
}

/* The first verification failure, for messages: its certificate's name is
 * kept only then (malloc'd; NULL when out of memory: the message goes without). */
static void remember_failure(lwl_Conn *c, int err, int depth, WOLFSSL_X509 *cert) {
    char cn[128];
    size_t n;
    c->vfy_err = err;
    c->vfy_depth = depth;
    lwl_cert_cn(cert, cn, sizeof cn);
    n = strlen(cn);
    free(c->vfy_subject);
    c->vfy_subject = n ? (char *)malloc(n + 1) : NULL;
    if (c->vfy_subject) memcpy(c->vfy_subject, cn, n + 1);
}

int lwl_verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store) {
    WOLFSSL *ssl = (WOLFSSL *)wolfSSL_X509_STORE_CTX_get_ex_data(
        store, wolfSSL_get_ex_data_X509_STORE_CTX_idx());
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    VerifyArgs v;
    int chain_ok;
    if (c == NULL) return preverify;
    v.err = wolfSSL_X509_STORE_CTX_get_error(store);
    v.depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
    v.cert = wolfSSL_X509_STORE_CTX_get_current_cert(store);
    /* wolfSSL can report preverify=1 with an error set (hostname via
     * X509_VERIFY_PARAM): an error always counts as a failure here. */
    chain_ok = v.ok = preverify && v.err == 0;
    /* the server's name, checked here on every release (hostname.c): one
     * matcher for DNS names and IP addresses (wolfSSL's check_domain_name
     * takes no IP address or single-label name from 5.9.2 on) */
    if (chain_ok && v.depth == 0 && !c->is_server && c->ctx->check_hostname && c->ctx->verify &&
        c->server_name != NULL && !ech_rejected(c) &&
        !lwl_check_host(v.cert, c->server_name, strlen(c->server_name))) {
        v.err = DOMAIN_NAME_MISMATCH;
        chain_ok = v.ok = 0;
    }
    /* 5.9.2 asks again, without the error, about a certificate whose failure
     * on_verify accepted: on_verify was asked once (as with 5.5.4) */
    if (c->vfy_overridden == v.depth + 1 && chain_ok) {
        c->vfy_overridden = 0;
        return 1;
    }
#ifndef SESSION_CERTS
    chain_capture(c, store); /* for peer_chain(), whatever verify is */
#endif
    if (c->ctx->verify == 0) return 1; /* verify = "none": never fail */
    c->verified = 1;
    if (c->ctx->callbacks & LWL_CB_VERIFY) {
        int r = lwl_callback(c, "on_verify", verify_push, verify_collect, 1, &v);
        if (r < 0) { /* the callback raised: fail closed, and verify_result says so */
            if (c->vfy_err == 0) remember_failure(c, LWL_VERIFY_REJECTED, v.depth, v.cert);
            return 0;
        }
        if (r > 0 && !v.ok && chain_ok && c->vfy_err == 0)
            remember_failure(c, LWL_VERIFY_REJECTED, v.depth, v.cert);
    }
    if (!chain_ok && v.ok) {
        c->vfy_overridden = v.depth + 1;
        lwl_session_unresumable(c); /* its resumption could not tell it was not verified */
    }
    if (!chain_ok && c->vfy_err == 0) /* remember the first failure, even if overridden */
        remember_failure(c, v.err ? v.err : -1, v.depth, v.cert);
    return v.ok;
}

/* ---- revocation: CRLs and OCSP stapling ---- */

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
    return lwl_ok_or_fail(L, r == WOLFSSL_SUCCESS || r == LWL_DUPE_ENTRY_E,
                      "not a valid CRL (or its issuer is not a trusted CA: load cafile first)");
#else
    (void)c; (void)data; (void)fmt;
    return luaL_error(L, "bad option 'crl': CRLs are not supported by this wolfSSL build");
#endif
}

#ifdef LWL_OCSP_REVOKED_LOST
/* wolfSSL's verdict on a stapled response (wolfcompat.h): a revoked
 * certificate is the connection's first verification failure, as the verify
 * callback records others, so the message and _ocsp_status say "revoked" */
static int ocsp_verdict_cb(WOLFSSL *ssl, int err, byte *resp, word32 len, word32 idx,
                           void *arg) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    (void)resp; (void)len; (void)idx; (void)arg;
    if (c != NULL && err == OCSP_CERT_REVOKED && c->vfy_err == 0) {
        c->vfy_err = OCSP_CERT_REVOKED;
        c->vfy_depth = 0;
    }
    return err; /* the verdict stands */
}
#endif

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
#ifdef LWL_OCSP_REVOKED_LOST
    wolfSSL_CTX_set_ocsp_status_verify_cb(c->ctx, ocsp_verdict_cb, NULL);
#endif
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

/* Installer of staple (the registry, context.c): the server staples what
 * the context's staple function returns */
const char *lwl_verify_install_staple(lwl_Context *x) {
#ifdef LWL_STAPLE_SERVER
    x->staples = 1;
    if (wolfSSL_CTX_EnableOCSPStapling(x->ctx) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_tlsext_status_cb(x->ctx, status_cb) != WOLFSSL_SUCCESS)
        return "could not enable OCSP stapling";
    return NULL;
#else
    (void)x;
    return "OCSP stapling (server side) is not supported by this wolfSSL build";
#endif
}

/* A TLS 1.2 server connection, when it knows its context (after SNI) and
 * before wolfSSL makes the staple: where a stapling context would keep a
 * request wolfSSL frees (LWL_STAPLE_OWN_CERT, wolfcompat.h), the connection
 * gets the context's certificate as its own (not over TLS 1.3: there 5.7.2
 * would leak the request it then makes). 0: out of memory. */
int lwl_verify_staple_attach(lwl_Conn *c) {
#if defined(LWL_STAPLE_SERVER) && defined(LWL_STAPLE_OWN_CERT)
    WOLFSSL_X509 *cert;
    if (!c->ctx->staples) return 1;
    cert = wolfSSL_CTX_get0_certificate(wolfSSL_get_SSL_CTX(c->ssl));
    return cert == NULL || wolfSSL_use_certificate(c->ssl, cert) == WOLFSSL_SUCCESS;
#else
    (void)c;
    return 1;
#endif
}

/* conn:_ocsp_status() -> "good", producedAt | "revoked" | "unknown" | nil */
int lwl_verify_ocsp_status(lua_State *L) {
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

void lwl_verify_open(lua_State *L) {
    static const luaL_Reg funcs[] = {{"ctx_crl", ctx_crl},
                                     {"ctx_ocsp_client", ctx_ocsp_client},
                                     {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
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
#ifdef LWL_OCSP_REVOKED_HIDDEN
        lua_pushboolean(L, 0);
#else
        lua_pushboolean(L, 1);
#endif
        lua_setfield(L, -2, "ocsp_revoked_tls12"); /* wolfcompat.h */
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
