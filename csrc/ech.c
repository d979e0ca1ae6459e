/* ech.c: Encrypted Client Hello (RFC 9849) where the build has it (HAVE_ECH,
 * features.ech). A server context generates its HPKE key pair in wolfSSL and
 * publishes the ECHConfigList; a client connection is given one; both sides
 * report the outcome. wolfSSL keeps the server's private key inside the
 * WOLFSSL_CTX (no export, no import), so the keys live with their context.
 * Lua checks the options (wolfssl/ech.lua); these are the primitives. */
#include "lwolfssl.h"

#include <stdlib.h>

#if defined(HAVE_ECH) && defined(WOLFSSL_TLS13)
#define LWL_ECH 1

/* core.ech_generate(ctx, public_name, kem, kdf, aead, max_name_len) -> true | nil, msg */
static int ech_generate(lua_State *L) {
    lwl_Context *x = lwl_checkcontext(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int ret = wolfSSL_CTX_GenerateEchConfigEx(x->ctx, name,
        (word16)luaL_checkinteger(L, 3), (word16)luaL_checkinteger(L, 4),
        (word16)luaL_checkinteger(L, 5), (byte)luaL_optinteger(L, 6, 0));
    char msg[96];
    if (ret == WOLFSSL_SUCCESS) return lwl_ok_or_fail(L, 1, NULL);
    wolfSSL_ERR_error_string_n((unsigned long)ret, msg, sizeof msg);
    return lwl_fail(L, msg);
}

/* The ECHConfigList of a list kept by wolfSSL: get(owner, out, &len). */
typedef int (*GetList)(void *owner, byte *out, word32 *len);
static int push_list(lua_State *L, void *owner, GetList get) {
    word32 len = 0;
    byte *buf;
    get(owner, NULL, &len); /* the size only */
    if (len <= 2) { lua_pushnil(L); return 1; }
    buf = (byte *)malloc(len);
    if (buf == NULL) return luaL_error(L, "out of memory");
    if (get(owner, buf, &len) != WOLFSSL_SUCCESS) {
        free(buf);
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, (const char *)buf, len);
    free(buf);
    return 1;
}
static int get_ctx_list(void *o, byte *out, word32 *len) {
    return wolfSSL_CTX_GetEchConfigs((WOLFSSL_CTX *)o, out, len);
}
static int get_retry_list(void *o, byte *out, word32 *len) {
    return wolfSSL_GetEchRetryConfigs((WOLFSSL *)o, out, len);
}

/* core.ech_configs(ctx) -> the server context's ECHConfigList, or nil */
static int ech_configs(lua_State *L) {
    return push_list(L, lwl_checkcontext(L, 1)->ctx, get_ctx_list);
}

/* core.ech_enable(ctx, on): off = no ECH at all, not even GREASE (clients) */
static int ech_enable(lua_State *L) {
    wolfSSL_CTX_SetEchEnable(lwl_checkcontext(L, 1)->ctx, (byte)lua_toboolean(L, 2));
    return 0;
}

static int set_list(WOLFSSL *ssl, const char *p, size_t n) {
    wolfSSL_SetEchEnable(ssl, 1);
    return wolfSSL_SetEchConfigs(ssl, (const byte *)p, (word32)n) == WOLFSSL_SUCCESS;
}

/* core.ech_check(list) -> true | nil, msg: an ECHConfigList a client can use */
static int ech_check(lua_State *L) {
    size_t n;
    const char *p = luaL_checklstring(L, 1, &n);
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLS_client_method());
    WOLFSSL *ssl = ctx ? wolfSSL_new(ctx) : NULL;
    int ok = ssl != NULL && set_list(ssl, p, n);
    if (ssl) wolfSSL_free(ssl);
    if (ctx) wolfSSL_CTX_free(ctx);
    return lwl_ok_or_fail(L, ok, "no ECHConfig in the list that this wolfSSL build can use");
}

/* core.ech_use(conn, list) -> true | nil, msg: this client connection encrypts
 * its ClientHello with the list (before its handshake starts) */
static int ech_use(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    size_t n;
    const char *p = luaL_checklstring(L, 2, &n);
    return lwl_ok_or_fail(L, set_list(c->ssl, p, n), "no usable ECHConfig in the list");
}
#endif

/* conn:ech() -> "accepted" | "rejected" | "grease" | "none" */
int lwl_ech_status(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
#ifdef LWL_ECH
    switch (wolfSSL_GetEchStatus(c->ssl)) {
    case WOLFSSL_ECH_STATUS_ACCEPTED: lua_pushliteral(L, "accepted"); return 1;
    case WOLFSSL_ECH_STATUS_REJECTED: lua_pushliteral(L, "rejected"); return 1;
    case WOLFSSL_ECH_STATUS_GREASE: lua_pushliteral(L, "grease"); return 1;
    default: break;
    }
#else
    (void)c;
#endif
    lua_pushliteral(L, "none");
    return 1;
}

/* conn:ech_retry_configs() -> the ECHConfigList a rejecting server sent
 * (RFC 9849 retry_configs), or nil */
int lwl_ech_retry_configs(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
#ifdef LWL_ECH
    return push_list(L, c->ssl, get_retry_list);
#else
    (void)c;
    lua_pushnil(L);
    return 1;
#endif
}

void lwl_ech_open(lua_State *L) {
#ifdef LWL_ECH
    static const luaL_Reg funcs[] = {
        {"ech_generate", ech_generate}, {"ech_configs", ech_configs},
        {"ech_enable", ech_enable},     {"ech_check", ech_check},
        {"ech_use", ech_use},           {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
#else
    (void)L;
#endif
}
