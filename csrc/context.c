/* context.c: the wolfssl.Context userdata (a WOLFSSL_CTX) and the primitives
 * that wolfssl/init.lua uses to configure it. Each primitive returns true or
 * nil, message; option names and values are checked in Lua. */
#include "lwolfssl.h"
#include "pkey.h"

#include <wolfssl/wolfcrypt/random.h>
#include <stdlib.h>
#include <string.h>

static lwl_Context *tocontext(lua_State *L, int idx) {
    return (lwl_Context *)luaL_checkudata(L, idx, LWL_CONTEXT);
}


#ifdef WOLFSSL_DTLS
/* DTLS: wolfSSL's version limits (set_min/max_proto_version) know no DTLS
 * 1.3, so the range picks the method: one version, or the flexible method
 * with DTLS 1.2 as its floor. NULL when the build lacks it. */
static WOLFSSL_METHOD *dtls_method(int is_server, int min, int max) {
#ifdef WOLFSSL_DTLS13
    if (min == DTLS1_3_VERSION) return is_server ? wolfDTLSv1_3_server_method() : wolfDTLSv1_3_client_method();
    if (max == DTLS1_3_VERSION) return is_server ? wolfDTLS_server_method() : wolfDTLS_client_method();
#endif
    if (min == DTLS1_2_VERSION && max == DTLS1_2_VERSION)
        return is_server ? wolfDTLSv1_2_server_method() : wolfDTLSv1_2_client_method();
    return NULL;
}
#endif

/* core.context_new(is_server [, dtls_min, dtls_max]) -> context; the DTLS
 * versions are DTLS1_2_VERSION, DTLS1_3_VERSION (0xfefd, 0xfefc); nil, msg
 * when the build lacks them */
static int context_new(lua_State *L) {
    int is_server = lua_toboolean(L, 1);
    int dtls = !lua_isnoneornil(L, 2);
    WOLFSSL_METHOD *method = NULL;
    lwl_Context *c;
    if (dtls) {
#ifdef WOLFSSL_DTLS
        method = dtls_method(is_server, (int)luaL_checkinteger(L, 2), (int)luaL_checkinteger(L, 3));
#endif
        if (method == NULL) return lwl_fail(L, "this wolfSSL build does not support that DTLS version");
    } else {
        method = is_server ? wolfSSLv23_server_method() : wolfSSLv23_client_method();
    }
    c = (lwl_Context *)lwl_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c); /* closed until the CTX exists: nothing leaks */
    lwl_setmeta(L, LWL_CONTEXT);
    lua_newtable(L); /* uservalue: Lua callbacks and objects the CTX uses */
    lwl_setuv(L, -2);
    c->ctx = wolfSSL_CTX_new(method);
    if (c->ctx == NULL) return luaL_error(L, "wolfSSL_CTX_new failed (out of memory?)");
    c->is_server = is_server;
    c->dtls = dtls;
    if (dtls && is_server) {
        WC_RNG rng;
        int ok = wc_InitRng(&rng) == 0;
        ok = ok && wc_RNG_GenerateBlock(&rng, c->cookie_secret, sizeof c->cookie_secret) == 0;
        wc_FreeRng(&rng);
        if (!ok) return luaL_error(L, "random number generator failed");
    }
    /* We keep I/O in our own callbacks; verification details in ours too. */
#ifdef WOLFSSL_DTLS
    if (dtls) wolfSSL_CTX_SetMinVersion(c->ctx, WOLFSSL_DTLSV1_2);
    else
#endif
        wolfSSL_CTX_SetMinVersion(c->ctx, WOLFSSL_TLSV1_2);
    wolfSSL_CTX_set_verify(c->ctx, is_server ? WOLFSSL_VERIFY_NONE : WOLFSSL_VERIFY_PEER,
                           lwl_verify_cb);
    if (is_server) lwl_policy_install(c->ctx);
#ifdef LWL_NO_RENEGOTIATION
    wolfSSL_CTX_set_options(c->ctx, LWL_NO_RENEGOTIATION); /* until renegotiation = "allow" */
#endif
    return 1;
}

/* Release the context's C state; its live connections' callbacks read it
 * (ticket keys, early-data binders, verdicts), so ctx:free() with
 * connections alive only marks it freed, and the last one releases it. */
static void context_release(lwl_Context *c) {
    if (c->ctx) {
        lwl_session_context_free(c);
        lwl_early_context_free(c);
        wolfSSL_CTX_free(c->ctx); /* wolfSSL refcounts: live connections keep it */
        c->ctx = NULL;
    }
    free(c->alpn);
    c->alpn = NULL;
    lwl_wipe(c->cookie_secret, sizeof c->cookie_secret);
}

void lwl_context_unref(lwl_Context *c) {
    if (--c->conns == 0 && c->free_pending) context_release(c);
}

static int context_free(lua_State *L) {
    lwl_Context *c = tocontext(L, 1);
    if (c->conns > 0)
        c->free_pending = 1; /* (the collector never gets here then: connections keep us) */
    else
        context_release(c);
    return 0;
}

static int context_tostring(lua_State *L) {
    lwl_Context *c = tocontext(L, 1);
    if (c->ctx == NULL || c->free_pending)
        lua_pushstring(L, "wolfssl.Context (freed)");
    else
        lua_pushfstring(L, "wolfssl.Context (%s): %p", c->is_server ? "server" : "client",
                        (void *)c);
    return 1;
}

static int context_mode(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    lua_pushstring(L, c->is_server ? "server" : "client");
    return 1;
}

/* core.ctx_versions(ctx, min, max): 0x0301..0x0304 */
static int ctx_versions(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    int min = (int)luaL_checkinteger(L, 2), max = (int)luaL_checkinteger(L, 3);
    /* set_min_proto_version accepts TLS 1.0 even where the build cannot speak
     * it: refuse what options.h says is compiled out. */
#if !defined(WOLFSSL_ALLOW_TLSV10) || defined(NO_OLD_TLS)
    if (min <= 0x0301) return lwl_fail(L, "this wolfSSL build does not support that minimum version");
#endif
#ifdef NO_OLD_TLS
    if (min <= 0x0302) return lwl_fail(L, "this wolfSSL build does not support that minimum version");
#endif
    if (wolfSSL_CTX_set_min_proto_version(c->ctx, min) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "this wolfSSL build does not support that minimum version");
    if (wolfSSL_CTX_set_max_proto_version(c->ctx, max) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "this wolfSSL build does not support that maximum version");
    lua_pushboolean(L, 1);
    return 1;
}

/* core.ctx_mtu(ctx, bytes): DTLS, the largest datagram to send */
static int ctx_mtu(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    lua_Integer mtu = luaL_checkinteger(L, 2);
#if defined(WOLFSSL_DTLS) && defined(WOLFSSL_DTLS_MTU)
    if (mtu > 65535 || wolfSSL_CTX_dtls_set_mtu(c->ctx, (unsigned short)mtu) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "expected a datagram size this wolfSSL build takes");
    lua_pushboolean(L, 1);
    return 1;
#else
    (void)c;
    /* wolfSSL built without --enable-dtls-mtu sends datagrams up to its MAX_MTU, 1400 */
    return lwl_ok_or_fail(L, mtu == 1400,
                          "this wolfSSL build has a fixed MTU of 1400 (built without --enable-dtls-mtu)");
#endif
}

static int ctx_ciphers(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    const char *list = luaL_checkstring(L, 2);
    return lwl_ok_or_fail(L, wolfSSL_CTX_set_cipher_list(c->ctx, list) == WOLFSSL_SUCCESS,
                      "no usable cipher suite in the list");
}

/* set1_curves_list first: in 5.5.4 only it knows "X25519"/"X448", and it
 * sets the TLS 1.3 key share order (ssl.c); from 5.9.2 it takes curves only,
 * and set1_groups_list also takes the ML-KEM hybrids. */
static int set_groups(WOLFSSL_CTX *ctx, char *list) {
    return wolfSSL_CTX_set1_curves_list(ctx, list) == WOLFSSL_SUCCESS ||
           wolfSSL_CTX_set1_groups_list(ctx, list) == WOLFSSL_SUCCESS;
}

/* A list was refused: name the first group this build does not take. */
static int groups_refused(lua_State *L, const char *list, int is_server) {
    WOLFSSL_CTX *probe = wolfSSL_CTX_new(is_server ? wolfSSLv23_server_method()
                                                   : wolfSSLv23_client_method());
    char name[64];
    const char *p = list;
    while (probe != NULL && *p) {
        size_t n = strcspn(p, ":");
        int ok = 0;
        if (n > 0 && n < sizeof name) {
            memcpy(name, p, n);
            name[n] = '\0';
            ok = set_groups(probe, name);
        }
        if (!ok) {
            wolfSSL_CTX_free(probe);
            lua_pushnil(L);
            if (n < sizeof name && LWL_GROUP_IS_HYBRID(lwl_group_id(p, n)))
                lua_pushfstring(L, "group '%s' needs ML-KEM, which this wolfSSL build lacks "
                                   "(features.mlkem is false)", name);
            else
                lua_pushfstring(L, "unknown or unsupported group '%s'",
                                n < sizeof name ? name : "?");
            return 2;
        }
        p += n + (p[n] == ':');
    }
    wolfSSL_CTX_free(probe);
    return lwl_fail(L, "unknown or unsupported group in the list");
}

/* A client whose first group is a post-quantum hybrid also sends a key share
 * for the next group of its list, as browsers do (X25519MLKEM768 + X25519):
 * a server without ML-KEM then answers at once, with no HelloRetryRequest. */
static void pick_key_shares(lwl_Context *c, const char *list) {
    size_t n = strcspn(list, ":");
    unsigned first = lwl_group_id(list, n), second;
    memset(c->key_shares, 0, sizeof c->key_shares);
    if (c->is_server || !LWL_GROUP_IS_HYBRID(first) || list[n] != ':') return;
    list += n + 1;
    second = lwl_group_id(list, strcspn(list, ":"));
    if (second == 0 || second >= 256) return; /* an elliptic curve */
    c->key_shares[0] = (unsigned short)first;
    c->key_shares[1] = (unsigned short)second;
}

static int ctx_groups(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    size_t len;
    const char *list = luaL_checklstring(L, 2, &len);
    char buf[256];
    if (len >= sizeof buf) return lwl_fail(L, "group list too long");
    memcpy(buf, list, len + 1);
    if (set_groups(c->ctx, buf)) {
        pick_key_shares(c, list);
        c->group_bits = lwl_group_bits(list);
        lua_pushboolean(L, 1);
        return 1;
    }
    return groups_refused(L, list, c->is_server);
}

static int format_of(lua_State *L, int idx) {
    static const char *const names[] = {"pem", "der", NULL};
    return luaL_checkoption(L, idx, "pem", names) == 0 ? WOLFSSL_FILETYPE_PEM
                                                       : WOLFSSL_FILETYPE_ASN1;
}

/* core.ctx_certificate(ctx, bytes, "pem"|"der"): a PEM may hold a chain */
static int ctx_certificate(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    size_t len;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &len);
    int fmt = format_of(L, 3), r;
    if (fmt == WOLFSSL_FILETYPE_PEM)
        r = wolfSSL_CTX_use_certificate_chain_buffer_format(c->ctx, data, (long)len, fmt);
    else
        r = wolfSSL_CTX_use_certificate_buffer(c->ctx, data, (long)len, fmt);
    return lwl_ok_or_fail(L, r == WOLFSSL_SUCCESS, "not a valid certificate");
}

/* core.ctx_key(ctx, bytes, "pem"|"der" [, password]) */
static int ctx_key(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    size_t len;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &len);
    int fmt = format_of(L, 3), r, refused;
    const char *password = luaL_optstring(L, 4, NULL);
    if (fmt == WOLFSSL_FILETYPE_PEM) {
        /* Decrypt (if needed) to DER ourselves: no password callback state. */
        int derlen;
        unsigned char *der = (unsigned char *)malloc(len);
        if (der == NULL) return luaL_error(L, "out of memory");
        derlen = wolfSSL_KeyPemToDer(data, (int)len, der, (int)len, password);
        if (derlen <= 0) {
            free(der);
            if (strstr((const char *)data, "ENCRYPTED") != NULL)
                return lwl_fail(L, password ? "cannot decrypt the private key (wrong password?)"
                                            : "the private key is encrypted and no password was given");
            return lwl_fail(L, "not a valid private key");
        }
        refused = lwl_ec_scalar_too_long(der, derlen);
        r = refused ? 0 : wolfSSL_CTX_use_PrivateKey_buffer(c->ctx, der, derlen, WOLFSSL_FILETYPE_ASN1);
        lwl_wipe_free(der, (size_t)derlen);
        if (refused) return lwl_fail(L, LWL_EC_SCALAR_MSG);
    } else {
        if (lwl_ec_scalar_too_long(data, (int)len)) return lwl_fail(L, LWL_EC_SCALAR_MSG);
        r = wolfSSL_CTX_use_PrivateKey_buffer(c->ctx, data, (long)len, fmt);
    }
    return lwl_ok_or_fail(L, r == WOLFSSL_SUCCESS, "not a valid private key");
}

static int ctx_check_key(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    return lwl_ok_or_fail(L, wolfSSL_CTX_check_private_key(c->ctx) == WOLFSSL_SUCCESS,
                      "the private key does not match the certificate");
}

/* core.ctx_ca_buffer(ctx, bytes, "pem"|"der") */
static int ctx_ca_buffer(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    size_t len;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &len);
    int fmt = format_of(L, 3);
    return lwl_ok_or_fail(L, wolfSSL_CTX_load_verify_buffer(c->ctx, data, (long)len, fmt) ==
                             WOLFSSL_SUCCESS,
                      "no valid CA certificate");
}

/* core.ctx_capath(ctx, dir): every certificate file in the directory */
static int ctx_capath(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    const char *dir = luaL_checkstring(L, 2);
    return lwl_ok_or_fail(L, wolfSSL_CTX_load_verify_locations(c->ctx, NULL, dir) ==
                             WOLFSSL_SUCCESS,
                      "no CA certificate could be loaded from the directory");
}

/* The system trust store: Debian's bundle when there is one (one file: a
 * quarter of the time wolfSSL takes to read /etc/ssl/certs, where every root
 * is there twice, as a file and as a hash link), else wolfSSL's own search. */
static int ctx_system_ca(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    int ok = wolfSSL_CTX_load_verify_locations(c->ctx, "/etc/ssl/certs/ca-certificates.crt",
                                               NULL) == WOLFSSL_SUCCESS;
#ifdef WOLFSSL_SYS_CA_CERTS
    if (!ok) ok = wolfSSL_CTX_load_system_CA_certs(c->ctx) == WOLFSSL_SUCCESS;
#endif
    return lwl_ok_or_fail(L, ok, "could not load the system trust store");
}

/* core.ctx_verify(ctx, "none"|"peer"|"require", depth, check_hostname) */
static int ctx_verify(lua_State *L) {
    static const char *const modes[] = {"none", "peer", "require", NULL};
    lwl_Context *c = lwl_checkcontext(L, 1);
    int mode = luaL_checkoption(L, 2, NULL, modes);
    int depth = (int)luaL_optinteger(L, 3, 9);
    int flags = WOLFSSL_VERIFY_NONE;
    if (mode >= 1) flags = WOLFSSL_VERIFY_PEER;
    if (mode == 2) flags |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    c->verify = mode;
    c->check_hostname = lua_toboolean(L, 4);
    wolfSSL_CTX_set_verify(c->ctx, flags, lwl_verify_cb);
    wolfSSL_CTX_set_verify_depth(c->ctx, depth);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.ctx_alpn(ctx, "h2,http/1.1") */
static int ctx_alpn(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    size_t len;
    const char *list = luaL_checklstring(L, 2, &len);
    char *copy = (char *)malloc(len + 1);
    if (copy == NULL) return luaL_error(L, "out of memory");
    memcpy(copy, list, len + 1);
    free(c->alpn);
    c->alpn = copy;
    lua_pushboolean(L, 1);
    return 1;
}

/* core.ctx_sessions(ctx, tickets, cache_on, cache_size, timeout) */
static int ctx_sessions(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    int tickets = lua_toboolean(L, 2), cache = lua_toboolean(L, 3);
    lua_Integer size = luaL_optinteger(L, 4, 0), timeout = luaL_optinteger(L, 5, 0);
    if (!tickets) {
#ifdef HAVE_SESSION_TICKET
        wolfSSL_CTX_set_options(c->ctx, WOLFSSL_OP_NO_TICKET);
        wolfSSL_CTX_NoTicketTLSv12(c->ctx);
#endif
#ifdef WOLFSSL_TLS13
        if (c->is_server) wolfSSL_CTX_no_ticket_TLSv13(c->ctx);
#endif
    } else if (!c->is_server) {
#ifdef HAVE_SESSION_TICKET
        wolfSSL_CTX_UseSessionTicket(c->ctx); /* TLS 1.2 clients must ask */
#endif
    }
    if (!cache) wolfSSL_CTX_set_session_cache_mode(c->ctx, WOLFSSL_SESS_CACHE_OFF);
    if (size > 0) wolfSSL_CTX_sess_set_cache_size(c->ctx, (long)size);
    if (timeout > 0) wolfSSL_CTX_set_timeout(c->ctx, (unsigned int)timeout);
    lua_pushboolean(L, 1);
    return 1;
}

static int ctx_post_handshake_auth(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
#ifdef WOLFSSL_POST_HANDSHAKE_AUTH
    int max = wolfSSL_CTX_get_max_proto_version(c->ctx);
    /* TLS 1.3 only: nothing to offer below it (5.9.2 refuses the call there) */
    if (!c->is_server && (max <= 0 || max >= TLS1_3_VERSION))
        return lwl_ok_or_fail(L, wolfSSL_CTX_allow_post_handshake_auth(c->ctx) == 0,
                          "could not enable post-handshake authentication");
    lua_pushboolean(L, 1);
    return 1;
#else
    (void)c;
    return lwl_fail(L, "post_handshake_auth is not supported by this wolfSSL build");
#endif
}

/* core.ctx_renegotiation(ctx): renegotiation = "allow" */
static int ctx_renegotiation(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
#ifdef LWL_RENEGOTIATION
    wolfSSL_CTX_clear_options(c->ctx, LWL_NO_RENEGOTIATION);
    return lwl_ok_or_fail(L, wolfSSL_CTX_UseSecureRenegotiation(c->ctx) == WOLFSSL_SUCCESS,
                      "could not enable secure renegotiation");
#else
    (void)c;
    return lwl_fail(L, "\"allow\" is not supported by this wolfSSL build (no secure renegotiation)");
#endif
}

/* ---- the callback registry ----
 *
 * One row per Lua callback a context can hold: its name (the option, and its
 * key in the context's uservalue, where callbacks.c finds it), the bit C
 * tests where a callback may or may not be set, and the installer that hands
 * wolfSSL the trampoline when the callback is set. Rows without an installer:
 * on_verify (verify.c lwl_verify_cb, installed with the verify mode, which
 * every context has), on_ticket_key (session.c, core.ctx_ticket_keys: one
 * call with the ticket_keys list), on_message, on_state, keylog (trace.c,
 * per connection), and the rows the Lua layer sets for others (_on_record:
 * the trace dispatcher; _store_*: the store's methods). A new callback
 * (on_early_data) is one row here. */
typedef const char *(*Installer)(lwl_Context *x);

static const struct Callback {
    const char *name;
    unsigned bit;
    Installer install;
    int public; /* an option of wolfssl.context (core.CALLBACKS) */
    int late;   /* may be set once the context has made connections */
} registry[] = {
    {"on_verify", LWL_CB_VERIFY, NULL, 1, 0},
    {"on_servername", LWL_CB_SERVERNAME, lwl_negotiate_servername, 1, 0},
    {"on_alpn", LWL_CB_ALPN, lwl_negotiate_alpn, 1, 0},
    {"on_psk", LWL_CB_PSK, lwl_negotiate_psk, 1, 0},
    {"on_new_session", LWL_CB_NEW_SESSION, lwl_session_install_new, 1, 0},
    {"on_message", LWL_CB_MESSAGE, NULL, 1, 0},
    {"on_state", LWL_CB_STATE, NULL, 1, 0},
    {"keylog", LWL_CB_KEYLOG, NULL, 1, 0},
    {"session_store", LWL_CB_SESSION_STORE, lwl_session_install_store, 1, 0},
    {"on_ticket_key", LWL_CB_TICKET_KEY, NULL, 1, 0},
    {"_on_record", 0, NULL, 0, 1}, /* trace.attach(conn): always the dispatcher */
    {"staple", 0, lwl_verify_install_staple, 0, 0},
    {"_store_get", 0, NULL, 0, 0},
    {"_store_put", 0, NULL, 0, 0},
    {"_store_remove", 0, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0}};

static const struct Callback *callback_row(lua_State *L, int idx) {
    const char *name = luaL_checkstring(L, idx);
    int i;
    for (i = 0; registry[i].name; i++)
        if (strcmp(registry[i].name, name) == 0) return &registry[i];
    luaL_argerror(L, idx, lua_pushfstring(L, "no callback named '%s'", name));
    return NULL;
}

/* core.ctx_callback(ctx, name) -> the callback set, or nil
 * core.ctx_callback(ctx, name, fn) -> true | nil, msg: set it, once, and
 * before the context makes its first connection: no Lua code can swap or add
 * an on_verify under live connections (setting the same value again is a
 * no-op). Which callbacks are set is known to C from here only. */
static int ctx_callback(lua_State *L) {
    lwl_Context *x = lwl_checkcontext(L, 1);
    const struct Callback *row = callback_row(L, 2);
    int set = !lua_isnone(L, 3);
    luaL_argcheck(L, !set || !lua_isnil(L, 3), 3, "a callback expected");
    lua_settop(L, 3);
    lwl_getuv(L, 1);
    lua_getfield(L, -1, row->name);
    if (!set) return 1;
    if (!lua_isnil(L, -1)) {
        if (lua_rawequal(L, -1, 3)) {
            lua_pushboolean(L, 1);
            return 1;
        }
        return luaL_error(L, "the context's %s is already set (callbacks are set once)", row->name);
    }
    if (x->used && !row->late)
        return luaL_error(L, "the context's callbacks are fixed once it has made a connection");
    lua_pop(L, 1);
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, row->name);
    x->callbacks |= row->bit;
    if (row->install) {
        const char *why = row->install(x);
        if (why) return lwl_fail(L, why);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* a client context that matches the server's name against its certificate
 * (ctx:new then needs server_name) */
int lwl_context_checks_hostname(const lwl_Context *x) {
    return !x->is_server && x->verify && x->check_hostname;
}

/* core.ctx_checks_hostname(ctx) */
static int ctx_checks_hostname(lua_State *L) {
    lua_pushboolean(L, lwl_context_checks_hostname(lwl_checkcontext(L, 1)));
    return 1;
}

static void push_callback_names(lua_State *L) {
    int i, n = 0;
    lua_newtable(L);
    for (i = 0; registry[i].name; i++) {
        if (!registry[i].public) continue;
        lua_pushstring(L, registry[i].name);
        lua_rawseti(L, -2, ++n);
    }
}

void lwl_context_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"mode", context_mode}, {"free", context_free}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", context_free},
                                    {"__tostring", context_tostring},
#if LUA_VERSION_NUM >= 504
                                    {"__close", context_free},
#endif
                                    {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"context_new", context_new},
                                     {"ctx_versions", ctx_versions},
                                     {"ctx_mtu", ctx_mtu},
                                     {"ctx_ciphers", ctx_ciphers},
                                     {"ctx_groups", ctx_groups},
                                     {"ctx_certificate", ctx_certificate},
                                     {"ctx_key", ctx_key},
                                     {"ctx_check_key", ctx_check_key},
                                     {"ctx_ca_buffer", ctx_ca_buffer},
                                     {"ctx_capath", ctx_capath},
                                     {"ctx_system_ca", ctx_system_ca},
                                     {"ctx_verify", ctx_verify},
                                     {"ctx_alpn", ctx_alpn},
                                     {"ctx_sessions", ctx_sessions},
                                     {"ctx_post_handshake_auth", ctx_post_handshake_auth},
                                     {"ctx_renegotiation", ctx_renegotiation},
                                     {"ctx_callback", ctx_callback},
                                     {"ctx_checks_hostname", ctx_checks_hostname},
                                     {NULL, NULL}};
    lwl_newmeta(L, LWL_CONTEXT, methods, meta);
    luaL_setfuncs(L, funcs, 0);
    push_callback_names(L);
    lua_setfield(L, -2, "CALLBACKS"); /* core.CALLBACKS: the callback options */
}
