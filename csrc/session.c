/* session.c: TLS sessions and resumption.
 *
 * - the wolfssl.session userdata (a WOLFSSL_SESSION owned by Lua), with
 *   export/import and accessors; conn:session() and conn:set_session();
 * - on_new_session and session_store (wolfSSL's external cache callbacks);
 * - shared ticket keys (wolfSSL_CTX_set_TicketEncCb), encrypting tickets
 *   ourselves with ChaCha20-Poly1305 from wolfCrypt.
 *
 * Lua callbacks run only through lwl_callback (protected, on the Lua state of
 * the connection method in progress). The Lua layer (wolfssl/session.lua)
 * checks options and puts small wrapper functions in the context's uservalue
 * under the names used here ("_store_get", "_store_put", "_store_remove"). */
#include "lwolfssl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/wolfcrypt/sha256.h>
#if defined(HAVE_CHACHA) && defined(HAVE_POLY1305)
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#define LWL_TICKET_AEAD 1
#endif

#if defined(HAVE_SESSION_TICKET) && defined(LWL_TICKET_AEAD) && !defined(NO_SHA256)
#define LWL_TICKET_KEYS 1
#endif

#define LWL_TICKET_KEYS_MT "wolfssl.TicketKeys"

/* ---- the session userdata ---- */

static const char *version_name(int v);
static int sess_version_number(WOLFSSL_SESSION *s);

typedef struct Sess {
    WOLFSSL_SESSION *s; /* NULL once freed */
} Sess;

static Sess *tosess(lua_State *L, int idx) {
    return (Sess *)luaL_checkudata(L, idx, LWL_SESSION);
}

static WOLFSSL_SESSION *checksess(lua_State *L, int idx) {
    Sess *s = tosess(L, idx);
    if (s->s == NULL) luaL_error(L, "attempt to use a freed session");
    return s->s;
}

/* New, empty userdata first (nothing leaks if a later step fails). */
static Sess *sess_new(lua_State *L) {
    Sess *s = (Sess *)lwl_newuserdata(L, sizeof *s);
    s->s = NULL;
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

static void wipe_free(unsigned char *p, int len) {
    if (p) {
        volatile unsigned char *v = p;
        int i;
        for (i = 0; i < len; i++) v[i] = 0;
        free(p);
    }
}

static WOLFSSL_SESSION *sess_from_der(const unsigned char *der, size_t len) {
    const unsigned char *p = der;
    if (len == 0 || len > 65536) return NULL;
    return wolfSSL_d2i_SSL_SESSION(NULL, &p, (long)len);
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

/* s:export() -> DER string (secret key material) */
static int sess_export(lua_State *L) {
    WOLFSSL_SESSION *s = checksess(L, 1);
    int len = 0;
    unsigned char *der = sess_der(s, &len);
    if (der == NULL) return lwl_fail(L, "the session cannot be serialised");
    lua_pushlstring(L, (const char *)der, (size_t)len);
    wipe_free(der, len);
    return 1;
}

/* session.import(der) -> session | nil, message */
static int sess_import(lua_State *L) {
    size_t len;
    const unsigned char *der = (const unsigned char *)luaL_checklstring(L, 1, &len);
    Sess *s = sess_new(L);
    s->s = sess_from_der(der, len);
    /* wolfSSL's d2i takes e.g. all zeros: also want a known version */
    if (s->s != NULL && version_name(sess_version_number(s->s)) == NULL) {
        wolfSSL_SESSION_free(s->s);
        s->s = NULL;
    }
    if (s->s == NULL) return lwl_fail(L, "not a valid exported session");
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
    wipe_free(d, len);
    return v;
}

static const char *version_name(int v) {
    switch (v) {
    case 0x0304: return "TLSv1.3";
    case 0x0303: return "TLSv1.2";
    case 0x0302: return "TLSv1.1";
    case 0x0301: return "TLSv1";
    case 0xfefd: return "DTLSv1.2";
    case 0xfeff: return "DTLSv1";
    default: return NULL;
    }
}

static int sess_version(lua_State *L) {
    const char *name = version_name(sess_version_number(checksess(L, 1)));
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
        const char *v = version_name(sess_version_number(s->s));
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

/* Push a Lua-owned copy of a session (wolfSSL may change the original). */
static int push_copy(lua_State *L, WOLFSSL_SESSION *orig) {
    Sess *s = sess_new(L);
    s->s = wolfSSL_SESSION_dup(orig);
    return s->s != NULL;
}

/* ---- connection methods ---- */

/* conn:session() -> session | nil, message */
static int conn_session(lua_State *L) {
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
    if (!push_copy(L, cur)) return luaL_error(L, "out of memory");
    return 1;
}

/* conn:set_session(s) -> true | nil, message; clients, before the handshake */
static int conn_set_session(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    WOLFSSL_SESSION *s = checksess(L, 2);
    long born, timeout;
    if (c->is_server) return luaL_error(L, "set_session: only client connections resume sessions");
    if (c->done || c->nrecv > 0 || c->busy)
        return luaL_error(L, "set_session: must be called before the handshake starts");
    born = wolfSSL_SESSION_get_time(s);
    timeout = wolfSSL_SESSION_get_timeout(s);
    if (timeout > 0 && born + timeout < (long)time(NULL))
        return lwl_fail(L, "the session has expired");
    if (wolfSSL_SESSION_is_resumable(s) != 1)
        return lwl_fail(L, "the session is not resumable (a TLS 1.3 session needs its ticket)");
    if (wolfSSL_set_session(c->ssl, s) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "wolfSSL refused the session (expired or made for another context?)");
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- on_new_session and session_store ---- */

typedef struct NewArgs {
    WOLFSSL_SESSION *sess;
    const unsigned char *id;
    unsigned int idlen;
    unsigned char *der;
    int derlen;
} NewArgs;

static int push_new_session(lua_State *L, void *ud) {
    NewArgs *a = (NewArgs *)ud;
    if (!push_copy(L, a->sess)) luaL_error(L, "out of memory");
    return 1;
}

static int push_put(lua_State *L, void *ud) {
    NewArgs *a = (NewArgs *)ud;
    push_hex(L, a->id, a->idlen);
    lua_pushlstring(L, (const char *)a->der, (size_t)a->derlen);
    return 2;
}

static int new_session_cb(WOLFSSL *ssl, WOLFSSL_SESSION *sess) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    NewArgs a;
    if (c == NULL || c->L == NULL || sess == NULL) return 0;
    memset(&a, 0, sizeof a);
    a.sess = sess;
    if (c->is_server && (c->ctx->callbacks & LWL_CB_SESSION_STORE) &&
        wolfSSL_version(ssl) != TLS1_3_VERSION) {
        /* TLS 1.2 session ids only: tickets carry their own state */
        a.id = wolfSSL_SESSION_get_id(sess, &a.idlen);
        if (a.id && a.idlen > 0
#ifdef HAVE_SESSION_TICKET
            && wolfSSL_SESSION_has_ticket(sess) != 1
#endif
        ) {
            a.der = sess_der(sess, &a.derlen);
            if (a.der) {
                lwl_callback(c, "_store_put", push_put, NULL, 0, &a);
                wipe_free(a.der, a.derlen);
            }
        }
    }
    if (c->ctx->callbacks & LWL_CB_NEW_SESSION) {
        if (c->is_server || wolfSSL_SESSION_is_resumable(sess) == 1)
            lwl_callback(c, "on_new_session", push_new_session, NULL, 0, &a);
    }
    return 0; /* wolfSSL drops the reference it took for us */
}

typedef struct GetArgs {
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

static void collect_get(lua_State *L, void *ud) {
    GetArgs *g = (GetArgs *)ud;
    size_t len;
    const char *der;
    if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1))) return;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "session_store.get must return a string or nil (got %s)",
                   luaL_typename(L, -1));
    der = lua_tolstring(L, -1, &len);
    g->found = sess_from_der((const unsigned char *)der, len);
    if (g->found != NULL && version_name(sess_version_number(g->found)) == NULL) {
        wolfSSL_SESSION_free(g->found);
        g->found = NULL;
    }
    if (g->found != NULL) { /* a session stored under another id is no answer */
        unsigned int n = 0;
        const unsigned char *id = wolfSSL_SESSION_get_id(g->found, &n);
        if (id == NULL || (int)n != g->idlen || memcmp(id, g->id, n) != 0) {
            wolfSSL_SESSION_free(g->found);
            g->found = NULL;
        }
    }
    if (g->found == NULL) {
        g->bad = 1;
    } else {
        long born = wolfSSL_SESSION_get_time(g->found);
        long timeout = wolfSSL_SESSION_get_timeout(g->found);
        if (timeout > 0 && born + timeout < (long)time(NULL)) {
            wolfSSL_SESSION_free(g->found);
            g->found = NULL;
            g->bad = 1;
        }
    }
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
    g.id = id;
    g.idlen = len;
    if (lwl_callback(c, "_store_get", push_id, collect_get, 1, &g) < 0) {
        if (g.found) wolfSSL_SESSION_free(g.found);
        return NULL;
    }
    if (g.bad) lwl_callback(c, "_store_remove", push_id, NULL, 0, &g);
    return g.found;
}

/* core.ctx_session_callbacks(ctx, new_session, store) */
static int ctx_session_callbacks(lua_State *L) {
    lwl_Context *x = lwl_checkcontext(L, 1);
    int new_session = lua_toboolean(L, 2), store = lua_toboolean(L, 3);
#ifdef HAVE_EXT_CACHE
    if (new_session || store) wolfSSL_CTX_sess_set_new_cb(x->ctx, new_session_cb);
    if (store) {
        if (!x->is_server) return lwl_fail(L, "session_store is for servers");
        wolfSSL_CTX_sess_set_get_cb(x->ctx, get_session_cb);
        /* wolfSSL's remove callback fires whenever any session object is
         * freed, not on eviction, and without a connection: not used. */
        wolfSSL_CTX_set_session_cache_mode(x->ctx, WOLFSSL_SESS_CACHE_SERVER |
                                                       WOLFSSL_SESS_CACHE_NO_INTERNAL);
    }
    lua_pushboolean(L, 1);
    return 1;
#else
    (void)x; (void)new_session; (void)store;
    return lwl_fail(L, "not supported by this wolfSSL build (no HAVE_EXT_CACHE)");
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

typedef struct TicketKeys {
    int n;        /* static keys, newest first */
    int dynamic;  /* on_ticket_key is set */
    TicketKey k[MAX_TICKET_KEYS];
    /* names on_ticket_key did not know, for a short while: wolfSSL may ask
     * about one ticket many times in one ClientHello */
    unsigned char neg[NEG_CACHE][WOLFSSL_TICKET_NAME_SZ];
    time_t neg_time[NEG_CACHE];
    int neg_next;
} TicketKeys;

static void wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--) *v++ = 0;
}

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
    wipe(h, sizeof h);
    return 1;
}

static int tk_gc(lua_State *L) {
    TicketKeys *tk = (TicketKeys *)lua_touserdata(L, 1);
    if (tk) wipe(tk, sizeof *tk);
    return 0;
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

static int ticket_cb(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                     unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                     unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
                     int inLen, int *outLen, void *userCtx) {
    TicketKeys *tk = (TicketKeys *)userCtx;
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    const TicketKey *use = NULL;
    KeyAsk ask;
    int ret = WOLFSSL_TICKET_RET_OK, i;
    if (tk == NULL || inLen < 0) return WOLFSSL_TICKET_RET_FATAL;
    memset(&ask, 0, sizeof ask);
    if (enc) {
        if (tk->n > 0) {
            use = &tk->k[0];
        } else if (tk->dynamic && c != NULL) {
            if (lwl_callback(c, "on_ticket_key", push_key_name, collect_key, 1, &ask) < 0 ||
                !ask.found)
                return WOLFSSL_TICKET_RET_FATAL; /* no ticket is sent */
            use = &ask.got;
        } else {
            return WOLFSSL_TICKET_RET_FATAL;
        }
        memcpy(key_name, use->name, WOLFSSL_TICKET_NAME_SZ);
        memset(iv, 0, WOLFSSL_TICKET_IV_SZ);
        memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
        if (wolfSSL_RAND_bytes(iv, CHACHA20_POLY1305_AEAD_IV_SIZE) != 1 ||
            wc_ChaCha20Poly1305_Encrypt(use->key, iv, key_name, WOLFSSL_TICKET_NAME_SZ, ticket,
                                        (word32)inLen, ticket, mac) != 0)
            ret = WOLFSSL_TICKET_RET_FATAL;
        *outLen = inLen;
        wipe(&ask, sizeof ask);
        return ret;
    }
    for (i = 0; i < tk->n; i++) {
        if (memcmp(tk->k[i].name, key_name, WOLFSSL_TICKET_NAME_SZ) == 0) {
            use = &tk->k[i];
            ret = i == 0 ? WOLFSSL_TICKET_RET_OK : WOLFSSL_TICKET_RET_CREATE;
            break;
        }
    }
    if (use == NULL && tk->dynamic && c != NULL) {
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
            ret = WOLFSSL_TICKET_RET_CREATE;
        } else {
            memcpy(tk->neg[tk->neg_next], key_name, WOLFSSL_TICKET_NAME_SZ);
            tk->neg_time[tk->neg_next] = now;
            tk->neg_next = (tk->neg_next + 1) % NEG_CACHE;
        }
    }
    if (use == NULL) return WOLFSSL_TICKET_RET_REJECT; /* unknown key: full handshake */
    if (wc_ChaCha20Poly1305_Decrypt(use->key, iv, key_name, WOLFSSL_TICKET_NAME_SZ, ticket,
                                    (word32)inLen, mac, ticket) != 0)
        ret = WOLFSSL_TICKET_RET_REJECT; /* forged or damaged */
    *outLen = inLen;
    wipe(&ask, sizeof ask);
    return ret;
}

/* The key store of a context: a userdata in its uservalue, so it lives as
 * long as the context object, which every connection keeps alive. */
static TicketKeys *ticket_keys_of(lua_State *L, lwl_Context *x, int ctxidx) {
    TicketKeys *tk;
    int top = lua_gettop(L);
    lwl_getuv(L, ctxidx);
    lua_getfield(L, -1, "_ticket_keys");
    tk = (TicketKeys *)lua_touserdata(L, -1);
    if (tk == NULL) {
        lua_pop(L, 1);
        tk = (TicketKeys *)lua_newuserdata(L, sizeof *tk);
        memset(tk, 0, sizeof *tk);
        if (luaL_newmetatable(L, LWL_TICKET_KEYS_MT)) {
            lua_pushcfunction(L, tk_gc);
            lua_setfield(L, -2, "__gc");
        }
        lua_setmetatable(L, -2);
        lua_setfield(L, -2, "_ticket_keys");
        wolfSSL_CTX_set_TicketEncCtx(x->ctx, tk);
        wolfSSL_CTX_set_TicketEncCb(x->ctx, ticket_cb);
    }
    lua_settop(L, top);
    return tk;
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
                wipe(tmp, sizeof tmp);
                return lwl_fail(L, "each key must be 32 bytes");
            }
            if (!derive((const unsigned char *)s, len, &tmp[i])) {
                wipe(tmp, sizeof tmp);
                return lwl_fail(L, "key derivation failed");
            }
            lua_pop(L, 1);
        }
    }
    tk = ticket_keys_of(L, x, 1);
    if (!lua_isnoneornil(L, 2)) {
        wipe(tk->k, sizeof tk->k);
        memcpy(tk->k, tmp, sizeof tmp[0] * (size_t)n);
        tk->n = n;
        memset(tk->neg_time, 0, sizeof tk->neg_time);
    }
    if (!lua_isnoneornil(L, 3)) tk->dynamic = lua_toboolean(L, 3);
    wipe(tmp, sizeof tmp);
    lua_pushboolean(L, 1);
    return 1;
#else
    (void)x;
    return lwl_fail(L, "not supported by this wolfSSL build (needs session tickets, "
                       "ChaCha20-Poly1305 and SHA-256)");
#endif
}

/* core.random_bytes(n) */
static int random_bytes(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    unsigned char buf[256];
    luaL_argcheck(L, n > 0 && n <= (lua_Integer)sizeof buf, 1, "must be between 1 and 256");
    if (wolfSSL_RAND_bytes(buf, (int)n) != 1) return luaL_error(L, "random generator failed");
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    memset(buf, 0, sizeof buf);
    return 1;
}

void lwl_session_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"export", sess_export},   {"id", sess_id},
                                       {"has_ticket", sess_has_ticket},
                                       {"resumable", sess_resumable},
                                       {"timeout", sess_timeout}, {"time", sess_time},
                                       {"version", sess_version}, {"cipher", sess_cipher},
                                       {"free", sess_gc},         {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", sess_gc},
                                    {"__tostring", sess_tostring},
#if LUA_VERSION_NUM >= 504
                                    {"__close", sess_gc},
#endif
                                    {NULL, NULL}};
    static const luaL_Reg conn_methods[] = {{"session", conn_session},
                                            {"set_session", conn_set_session},
                                            {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"session_import", sess_import},
                                     {"ctx_session_callbacks", ctx_session_callbacks},
                                     {"ctx_ticket_keys", ctx_ticket_keys},
                                     {"random_bytes", random_bytes},
                                     {NULL, NULL}};
    lwl_newmeta(L, LWL_SESSION, methods, meta); /* core.session = methods */
    lua_getfield(L, -1, "Connection");
    luaL_setfuncs(L, conn_methods, 0);
    lua_pop(L, 1);
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
