/* negotiate.c: what the two sides agree on, and the callbacks that decide
 * it - on_servername (and conn:set_context), on_alpn, on_psk - plus the
 * server's post-handshake authentication mode.
 *
 * Every Lua callback runs through lwl_callback (callbacks.c): protected, on
 * the coroutine that called the method. A callback that *refuses* (nil, or
 * nil + an alert name) is not an error: the refusal is written to
 * last_error and c->cb_error is set, so the method in progress returns that
 * message instead of wolfSSL's generic one. */
#include "lwolfssl.h"

#include <wolfssl/error-ssl.h>
#include <stdlib.h>
#include <string.h>

#define ALERT_FATAL 2     /* fatal_return for the servername callback */
#define TLSEXT_OK 0       /* SSL_TLSEXT_ERR_OK */
#define TLSEXT_FATAL 2    /* SSL_TLSEXT_ERR_ALERT_FATAL */
#define TLSEXT_NOACK 3    /* SSL_TLSEXT_ERR_NOACK */
#define NEVER_ALPN "x-never"

/* Inside a collect function (protected; the connection is at index 1):
 * record a refusal as the connection's last error. */
static void refuse(lua_State *L, lwl_Conn *c, const char *kind, const char *msg, int alert) {
    lwl_set_last_error(L, 1, kind, msg, 0, alert);
    c->cb_error = 1;
}

static int alert_code(const char *name) {
    static const struct { const char *name; int code; } alerts[] = {
        {"unrecognized_name", 112}, {"handshake_failure", 40}, {"access_denied", 49},
        {"internal_error", 80}, {"unknown_psk_identity", 115}, {"no_application_protocol", 120},
        {NULL, 0}};
    int i;
    for (i = 0; alerts[i].name; i++)
        if (strcmp(name, alerts[i].name) == 0) return alerts[i].code;
    return 0;
}

/* ---- conn:set_context(ctx) ---- */

/* wolfSSL_set_SSL_CTX keeps the cipher suites computed for the first
 * context's key type: a TLS 1.2 switch from an ECDSA to an RSA certificate
 * would then pick a suite the new key cannot serve. Recompute them from the
 * new context's own list (read through a throw-away WOLFSSL of it). */
static int copy_suites(WOLFSSL *ssl, WOLFSSL_CTX *ctx) {
    WOLFSSL *tmp = wolfSSL_new(ctx);
    WOLF_STACK_OF(WOLFSSL_CIPHER) *sk;
    size_t used = 0, cap = 4096;
    char *list;
    int i, n, ok = 0;
    if (tmp == NULL) return 0;
    sk = wolfSSL_get_ciphers_compat(tmp); /* owned by tmp's suites */
    n = sk ? wolfSSL_sk_SSL_CIPHER_num(sk) : 0;
    list = (char *)malloc(cap);
    if (list != NULL && n > 0) {
        list[0] = 0;
        for (i = 0; i < n; i++) {
            const char *name = wolfSSL_CIPHER_get_name(wolfSSL_sk_SSL_CIPHER_value(sk, i));
            size_t len = name ? strlen(name) : 0;
            if (len == 0 || used + len + 2 > cap) continue;
            if (used) list[used++] = ':';
            memcpy(list + used, name, len + 1);
            used += len;
        }
        ok = used > 0 && wolfSSL_set_cipher_list(ssl, list) == WOLFSSL_SUCCESS;
    }
    free(list);
    wolfSSL_free(tmp);
    return ok;
}

/* Switch the connection at index `ci` to the context at index `xi`. Raises on
 * misuse. Certificate, key, verification mode, callbacks (all looked up in the
 * context in force) and ALPN follow the new context. */
static void switch_context(lua_State *L, int ci, int xi) {
    lwl_Conn *c = lwl_checkconn(L, ci);
    lwl_Context *n = lwl_checkcontext(L, xi);
    int flags = WOLFSSL_VERIFY_NONE;
    if (!c->is_server) luaL_error(L, "set_context: only server connections can switch context");
    if (!n->is_server) luaL_argerror(L, xi, "a server context expected (got a client context)");
    if (c->done) luaL_error(L, "set_context: the handshake is already finished");
    if (c->ctx == n) return;
    if (wolfSSL_set_SSL_CTX(c->ssl, n->ctx) == NULL)
        luaL_error(L, "set_context: wolfSSL_set_SSL_CTX failed");
    if (!copy_suites(c->ssl, n->ctx))
        luaL_error(L, "set_context: cannot use the cipher suites of the new context");
    /* set_SSL_CTX only swaps certificate and key: verification is ours to copy */
    if (n->verify >= 1) flags = WOLFSSL_VERIFY_PEER;
    if (n->verify == 2) flags |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    wolfSSL_set_verify(c->ssl, flags, lwl_verify_cb);
#ifdef HAVE_ALPN
    /* the server's ALPN list is per connection: put the new one in front
     * (wolfSSL takes the options of the first list) */
    if (n->callbacks & LWL_CB_ALPN)
        wolfSSL_UseALPN(c->ssl, (char *)NEVER_ALPN, (unsigned)strlen(NEVER_ALPN),
                        WOLFSSL_ALPN_FAILED_ON_MISMATCH);
    else if (n->alpn != NULL && *n->alpn)
        wolfSSL_UseALPN(c->ssl, n->alpn, (unsigned)strlen(n->alpn),
                        WOLFSSL_ALPN_FAILED_ON_MISMATCH);
#endif
    n->conns++;
    c->ctx->conns--; /* (a freed one left with none is released by its collector) */
    c->ctx = n;
    lua_pushvalue(L, xi);
    lwl_conn_set(L, ci, LWL_UV_CTX);
}

int lwl_negotiate_set_context(lua_State *L) {
    lwl_checkconn(L, 1);
    lwl_checkcontext(L, 2);
    switch_context(L, 1, 2);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- on_servername ---- */

#ifdef HAVE_SNI
typedef struct SniArgs {
    lwl_Conn *c;
    const char *name;
    int alert; /* non-zero: refused with this alert */
} SniArgs;

static int sni_push(lua_State *L, void *ud) {
    SniArgs *a = (SniArgs *)ud;
    if (a->name)
        lua_pushstring(L, a->name);
    else
        lua_pushnil(L);
    return 1;
}

static void sni_collect(lua_State *L, void *ud) {
    SniArgs *a = (SniArgs *)ud;
    int r = lua_gettop(L) - 1; /* the first of the two results */
    if (lua_type(L, r) == LUA_TBOOLEAN && lua_toboolean(L, r)) return; /* keep */
    if (luaL_testudata(L, r, LWL_CONTEXT)) {
        if (!lwl_checkcontext(L, r)->is_server)
            luaL_error(L, "on_servername returned a client context (a server context expected)");
        switch_context(L, 1, r);
        return;
    }
    if (lua_isnil(L, r) || (lua_type(L, r) == LUA_TBOOLEAN)) {
        const char *alert;
        char msg[400];
        if (lua_isnil(L, r) && lua_isnil(L, r + 1)) return; /* nothing said: keep */
        alert = lua_isnil(L, r + 1) ? "unrecognized_name" : lua_tostring(L, r + 1);
        if (alert == NULL || alert_code(alert) == 0)
            luaL_error(L, "on_servername: unknown alert '%s' (expected \"unrecognized_name\", "
                          "\"handshake_failure\" or \"access_denied\")",
                       alert ? alert : luaL_typename(L, r + 1));
        a->alert = alert_code(alert);
        if (a->name)
            snprintf(msg, sizeof msg, "server name '%.255s' refused by on_servername (%s)",
                     a->name, alert);
        else
            snprintf(msg, sizeof msg, "no server name sent: refused by on_servername (%s)", alert);
        refuse(L, a->c, "servername", msg, a->alert);
        return;
    }
    luaL_error(L, "on_servername must return true, a server context, or nil, "
                  "\"unrecognized_name\" (got %s)", luaL_typename(L, r));
}

static int sni_cb(WOLFSSL *ssl, int *ad, void *arg) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    SniArgs a;
    int r;
    (void)arg;
    if (c == NULL) return 0;
    a.c = c;
    a.name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
    a.alert = 0;
    r = lwl_callback(c, "on_servername", sni_push, sni_collect, 2, &a);
    if (r < 0) {
        *ad = a.alert ? a.alert : 80; /* internal_error */
        return ALERT_FATAL;
    }
    if (a.alert) {
        *ad = a.alert;
        return ALERT_FATAL;
    }
    return 0;
}
#endif

/* ---- on_alpn ---- */

#ifdef HAVE_ALPN
typedef struct AlpnArgs {
    lwl_Conn *c;
    const unsigned char *in;
    unsigned inlen;
    const unsigned char *sel;
    unsigned char sellen;
} AlpnArgs;

static int alpn_push(lua_State *L, void *ud) {
    AlpnArgs *a = (AlpnArgs *)ud;
    unsigned i = 0;
    int n = 0;
    lua_newtable(L);
    while (i < a->inlen) {
        unsigned len = a->in[i];
        if (i + 1 + len > a->inlen) break;
        lua_pushlstring(L, (const char *)a->in + i + 1, len);
        lua_rawseti(L, -2, ++n);
        i += 1 + len;
    }
    return 1;
}

static void alpn_collect(lua_State *L, void *ud) {
    AlpnArgs *a = (AlpnArgs *)ud;
    size_t len;
    const char *p;
    unsigned i = 0;
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        luaL_Buffer b;
        int n = 0;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "no application protocol: on_alpn chose none of the client's (");
        while (i < a->inlen) {
            unsigned l = a->in[i];
            if (i + 1 + l > a->inlen) break;
            if (n++) luaL_addstring(&b, ", ");
            luaL_addlstring(&b, (const char *)a->in + i + 1, l);
            i += 1 + l;
        }
        luaL_addstring(&b, ")");
        luaL_pushresult(&b);
        refuse(L, a->c, "alpn", lua_tostring(L, -1), 120);
        return;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "on_alpn must return one of the offered protocols or nil (got %s)",
                   luaL_typename(L, -1));
    p = lua_tolstring(L, -1, &len);
    while (i < a->inlen) {
        unsigned l = a->in[i];
        if (i + 1 + l > a->inlen) break;
        if (l == len && memcmp(a->in + i + 1, p, len) == 0) {
            a->sel = a->in + i + 1; /* points into wolfSSL's copy of the offer */
            a->sellen = (unsigned char)l;
            return;
        }
        i += 1 + l;
    }
    luaL_error(L, "on_alpn returned '%s', which the client did not offer", p);
}

/* A context without on_alpn (reached by on_servername): wolfSSL's own rule,
 * the client's first protocol that the context's list names, else the alert. */
static int alpn_from_list(const char *list, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen) {
    unsigned int i;
    if (list == NULL || *list == '\0') return TLSEXT_NOACK; /* no ALPN here */
    for (i = 0; i < inlen && in[i] <= inlen - i - 1; i += 1u + in[i]) {
        const char *p = list;
        size_t n = in[i];
        while (*p) {
            size_t len = strcspn(p, ",");
            if (len == n && memcmp(p, in + i + 1, n) == 0) {
                *out = in + i + 1;
                *outlen = (unsigned char)n;
                return TLSEXT_OK;
            }
            p += len + (p[len] == ',');
        }
    }
    return TLSEXT_FATAL;
}

static int alpn_cb(WOLFSSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    AlpnArgs a;
    (void)arg;
    if (c == NULL) return TLSEXT_NOACK;
    if (!(c->ctx->callbacks & LWL_CB_ALPN)) return alpn_from_list(c->ctx->alpn, out, outlen, in, inlen);
    a.c = c;
    a.in = in;
    a.inlen = inlen;
    a.sel = NULL;
    a.sellen = 0;
    /* A refusal or an error is a fatal no_application_protocol alert: 5.9.2
     * sends it for FATAL; 5.5.4 takes any non-zero answer as NOACK and falls
     * back to the connection's own list, for a context with on_alpn "x-never"
     * with FAILED_ON_MISMATCH, which sends it. */
    if (lwl_callback(c, "on_alpn", alpn_push, alpn_collect, 1, &a) <= 0 || a.sel == NULL)
        return TLSEXT_FATAL;
    *out = a.sel;
    *outlen = a.sellen;
    return TLSEXT_OK;
}
#endif

/* ---- on_psk ---- */

#ifndef NO_PSK
/* wolfSSL 5.5.4 fails the handshake without any alert when a PSK callback
 * returns no key. Both places where the callbacks run are still in the
 * plaintext phase (TLS 1.3 server: ClientHello; TLS 1.2: the key exchange,
 * before ChangeCipherSpec), so the binding sends the fatal alert itself, as
 * one plaintext record on the connection's transport. */
static void plain_alert(lwl_Conn *c, int desc) {
    lwl_transport_alert(c, desc, 0);
}

typedef struct PskArgs {
    lwl_Conn *c;
    const char *in;      /* hint (client) or identity (server) */
    char *identity;      /* client: out */
    unsigned id_max;
    unsigned char *key;
    unsigned key_max;
    unsigned keylen;
    int refused;         /* server: on_psk knew no key for the identity */
} PskArgs;

static int psk_push(lua_State *L, void *ud) {
    PskArgs *a = (PskArgs *)ud;
    if (a->in && *a->in)
        lua_pushstring(L, a->in);
    else
        lua_pushnil(L);
    return 1;
}

static void copy_key(lua_State *L, PskArgs *a, int idx) {
    size_t len;
    const char *key = lua_tolstring(L, idx, &len);
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "on_psk: the key must be a string (got %s)", luaL_typename(L, idx));
    if (len == 0 || len > a->key_max)
        luaL_error(L, "on_psk: the key must be 1 to %d bytes (got %d)", (int)a->key_max, (int)len);
    memcpy(a->key, key, len);
    a->keylen = (unsigned)len;
}

static void psk_client_collect(lua_State *L, void *ud) {
    PskArgs *a = (PskArgs *)ud;
    size_t len;
    const char *id;
    if (lua_isnil(L, -2)) {
        refuse(L, a->c, "psk", "on_psk gave no PSK identity", 0);
        return;
    }
    if (lua_type(L, -2) != LUA_TSTRING)
        luaL_error(L, "on_psk must return identity, key (got %s)", luaL_typename(L, -2));
    id = lua_tolstring(L, -2, &len);
    if (len >= a->id_max || strlen(id) != len)
        luaL_error(L, "on_psk: the identity must be a string of at most %d bytes without NUL",
                   (int)a->id_max - 1);
    copy_key(L, a, -1);
    memcpy(a->identity, id, len + 1);
}

static void psk_server_collect(lua_State *L, void *ud) {
    PskArgs *a = (PskArgs *)ud;
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown PSK identity '%.200s'", a->in ? a->in : "");
        refuse(L, a->c, "psk", msg, 115);
        a->refused = 1;
        return;
    }
    copy_key(L, a, -1);
}

static unsigned int psk_client_cb(WOLFSSL *ssl, const char *hint, char *identity,
                                  unsigned int id_max, unsigned char *key, unsigned int key_max) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    PskArgs a;
    if (c == NULL) return 0;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.in = hint;
    a.identity = identity;
    a.id_max = id_max;
    a.key = key;
    a.key_max = key_max;
    if (lwl_callback(c, "on_psk", psk_push, psk_client_collect, 2, &a) <= 0 || a.keylen == 0) {
        /* a TLS 1.3 client is still building its ClientHello: nothing to alert */
        if (c->cb_error && wolfSSL_version(ssl) != TLS1_3_VERSION) plain_alert(c, 80);
        return 0;
    }
    return a.keylen;
}

static unsigned int psk_server_cb(WOLFSSL *ssl, const char *identity, unsigned char *key,
                                  unsigned int key_max) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    PskArgs a;
    if (c == NULL) return 0;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.in = identity;
    a.key = key;
    a.key_max = key_max;
    if (lwl_callback(c, "on_psk", psk_push, psk_server_collect, 1, &a) <= 0 || a.keylen == 0) {
        if (c->cb_error) plain_alert(c, a.refused ? 115 : 80); /* unknown_psk_identity */
        return 0;
    }
    return a.keylen;
}
#endif

/* ---- core primitives used by wolfssl/hooks.lua (true or nil, msg) ---- */

/* Installers (the callback registry's, context.c): hand wolfSSL the
 * trampoline of a callback just set. NULL, or why the build cannot. */

/* on_servername (server) */
const char *lwl_negotiate_servername(lwl_Context *x) {
#ifdef HAVE_SNI
    wolfSSL_CTX_set_servername_callback(x->ctx, sni_cb);
#ifdef HAVE_ALPN
    /* a switch may land on a context with on_alpn: be ready to ask it */
    wolfSSL_CTX_set_alpn_select_cb(x->ctx, alpn_cb, NULL);
#endif
    return NULL;
#else
    (void)x;
    return "server names (SNI) are not supported by this wolfSSL build";
#endif
}

/* on_alpn (server): the connection's own list becomes "x-never" so that a
 * refusal is fatal */
const char *lwl_negotiate_alpn(lwl_Context *x) {
#ifdef HAVE_ALPN
    char *never = (char *)malloc(sizeof NEVER_ALPN);
    if (never == NULL) return "out of memory";
    memcpy(never, NEVER_ALPN, sizeof NEVER_ALPN);
    free(x->alpn);
    x->alpn = never;
    wolfSSL_CTX_set_alpn_select_cb(x->ctx, alpn_cb, NULL);
    return NULL;
#else
    (void)x;
    return "ALPN is not supported by this wolfSSL build";
#endif
}

/* Installer of on_psk (the registry, context.c): the PSK callbacks, TLS 1.2
 * and 1.3 (the `psk` option sets an on_psk of its own) */
const char *lwl_negotiate_psk(lwl_Context *x) {
#ifndef NO_PSK
    if (x->is_server) wolfSSL_CTX_set_psk_server_callback(x->ctx, psk_server_cb);
    else wolfSSL_CTX_set_psk_client_callback(x->ctx, psk_client_cb);
    return NULL;
#else
    (void)x;
    return "PSK is not supported by this wolfSSL build";
#endif
}

/* core.ctx_psk_hint(ctx, hint): the identity hint a PSK server sends */
static int ctx_psk_hint(lua_State *L) {
    lwl_Context *x = lwl_checkcontext(L, 1);
    const char *hint = luaL_checkstring(L, 2);
#ifndef NO_PSK
    return lwl_ok_or_fail(L, wolfSSL_CTX_use_psk_identity_hint(x->ctx, hint) == WOLFSSL_SUCCESS,
                          "invalid PSK identity hint (too long?)");
#else
    (void)x; (void)hint;
    return lwl_fail(L, "PSK is not supported by this wolfSSL build");
#endif
}

/* core.hooks_pha_server(ctx): a server with post_handshake_auth asks for the
 * client certificate only through request_certificate(), not in the handshake
 * (OpenSSL's SSL_VERIFY_POST_HANDSHAKE). Call after ctx_verify. */
static int hooks_pha_server(lua_State *L) {
    lwl_Context *x = lwl_checkcontext(L, 1);
#if defined(WOLFSSL_POST_HANDSHAKE_AUTH) && !defined(NO_CERTS)
    int flags = WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_POST_HANDSHAKE;
    if (x->verify == 0) return lwl_fail(L, "a server needs verify = \"peer\" or \"require\"");
    if (x->verify == 2) flags |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    wolfSSL_CTX_set_verify(x->ctx, flags, lwl_verify_cb);
    lua_pushboolean(L, 1);
    return 1;
#else
    (void)x;
    return lwl_fail(L, "post_handshake_auth is not supported by this wolfSSL build");
#endif
}

void lwl_negotiate_open(lua_State *L) {
    static const luaL_Reg funcs[] = {{"ctx_psk_hint", ctx_psk_hint},
                                     {"hooks_pha_server", hooks_pha_server},
                                     {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
