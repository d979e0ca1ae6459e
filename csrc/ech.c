/* ech.c: Encrypted Client Hello (RFC 9849) where the build has it (HAVE_ECH,
 * features.ech). A server context generates its HPKE key pair in wolfSSL and
 * publishes the ECHConfigList; a client connection is given one; both sides
 * report the outcome. wolfSSL keeps the server's private key inside the
 * WOLFSSL_CTX (no export, no import), so the keys live with their context.
 * Lua checks the options (wolfssl/ech.lua); these are the primitives. */
#include "lwolfssl.h"

#include <stdlib.h>
#include <string.h>

#ifdef LWL_ECH
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/aes.h>

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
    int ok = set_list(c->ssl, p, n);
    if (ok) c->ech = 1;
    return lwl_ok_or_fail(L, ok, "no usable ECHConfig in the list");
}

/* ---- the trace's view of the inner ClientHello (RFC 9180 base mode) ---- */

typedef struct {
    int hash, nh;            /* the KDF's hash and its length */
    unsigned char suite[10]; /* "HPKE" || kem || kdf || aead */
} Kdf;

/* LabeledExtract(salt, label, ikm) into out (kdf->nh bytes) */
static int labeled_extract(const Kdf *k, const unsigned char *salt, size_t saltlen,
                           const char *label, const unsigned char *ikm, size_t ikmlen,
                           unsigned char *out) {
    size_t ll = strlen(label), n = 7 + sizeof k->suite + ll + ikmlen;
    unsigned char *buf = (unsigned char *)malloc(n);
    int ret;
    if (buf == NULL) return -1;
    memcpy(buf, "HPKE-v1", 7);
    memcpy(buf + 7, k->suite, sizeof k->suite);
    memcpy(buf + 17, label, ll);
    if (ikmlen) memcpy(buf + 17 + ll, ikm, ikmlen);
    ret = wc_HKDF_Extract(k->hash, saltlen ? salt : NULL, (word32)saltlen, buf, (word32)n, out);
    lwl_wipe_free(buf, n);
    return ret;
}

/* LabeledExpand(prk, label, info, len) into out */
static int labeled_expand(const Kdf *k, const unsigned char *prk, const char *label,
                          const unsigned char *info, size_t infolen, unsigned char *out,
                          size_t len) {
    size_t ll = strlen(label), n = 2 + 7 + sizeof k->suite + ll + infolen;
    unsigned char *buf = (unsigned char *)malloc(n);
    int ret;
    if (buf == NULL) return -1;
    buf[0] = (unsigned char)(len >> 8);
    buf[1] = (unsigned char)len;
    memcpy(buf + 2, "HPKE-v1", 7);
    memcpy(buf + 9, k->suite, sizeof k->suite);
    memcpy(buf + 19, label, ll);
    memcpy(buf + 19 + ll, info, infolen);
    ret = wc_HKDF_Expand(k->hash, prk, (word32)k->nh, buf, (word32)n, out, (word32)len);
    free(buf);
    return ret;
}

/* core.ech_open(conn, aad, payload, kdf, aead, seq) -> EncodedClientHelloInner |
 * nil, why: a copy of the encrypted ClientHello decrypted for the trace, with
 * the secret wolfSSL handed the connection's secret callback (trace.c); seq:
 * 0 for the first ClientHello, 1 for the one after a HelloRetryRequest. */
static int ech_open(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    size_t aadlen, plen, slen, clen, infolen, n;
    const unsigned char *aad = (const unsigned char *)luaL_checklstring(L, 2, &aadlen);
    const unsigned char *payload = (const unsigned char *)luaL_checklstring(L, 3, &plen);
    int kdf = (int)luaL_checkinteger(L, 4), aead = (int)luaL_checkinteger(L, 5), ok = 0;
    unsigned char seq = (unsigned char)luaL_optinteger(L, 6, 0);
    const unsigned char *secret, *config;
    unsigned char psk_id_hash[64], ctx[1 + 128], prk[64], key[32], nonce[12], *info, *out;
    size_t nk = aead == 1 ? 16 : 32;
    Kdf k;
    Aes aes;
    if (!lwl_trace_ech(c, &secret, &slen, &config, &clen))
        return lwl_fail(L, "no ECH secret (the connection is not traced from its start)");
    if (clen < 7 || plen <= 16 || (aead != 1 && aead != 2)) return lwl_fail(L, "unsupported ECH suite");
    switch (kdf) {
    case 1: k.hash = WC_SHA256; k.nh = 32; break;
    case 2: k.hash = WC_SHA384; k.nh = 48; break;
    case 3: k.hash = WC_SHA512; k.nh = 64; break;
    default: return lwl_fail(L, "unsupported ECH suite");
    }
    memcpy(k.suite, "HPKE", 4);
    k.suite[4] = config[5]; /* the KEM, from the ECHConfig (version, length, config id, kem) */
    k.suite[5] = config[6];
    k.suite[6] = 0; k.suite[7] = (unsigned char)kdf;
    k.suite[8] = 0; k.suite[9] = (unsigned char)aead;
    infolen = 8 + clen; /* "tls ech" || 0 || ECHConfig */
    info = (unsigned char *)malloc(infolen);
    if (info == NULL) return luaL_error(L, "out of memory");
    memcpy(info, "tls ech", 8);
    memcpy(info + 8, config, clen);
    ctx[0] = 0; /* mode base */
    ok = labeled_extract(&k, NULL, 0, "psk_id_hash", NULL, 0, psk_id_hash) == 0 &&
         labeled_extract(&k, NULL, 0, "info_hash", info, infolen, ctx + 1 + k.nh) == 0 &&
         labeled_extract(&k, secret, slen, "secret", NULL, 0, prk) == 0;
    free(info);
    memcpy(ctx + 1, psk_id_hash, (size_t)k.nh);
    ok = ok && labeled_expand(&k, prk, "key", ctx, 1 + 2 * (size_t)k.nh, key, nk) == 0 &&
         labeled_expand(&k, prk, "base_nonce", ctx, 1 + 2 * (size_t)k.nh, nonce, 12) == 0;
    lwl_wipe(prk, sizeof prk);
    nonce[11] ^= seq;
    n = plen - 16;
    out = (unsigned char *)malloc(n);
    if (out == NULL) {
        lwl_wipe(key, sizeof key);
        return luaL_error(L, "out of memory");
    }
    if (ok && wc_AesInit(&aes, NULL, INVALID_DEVID) == 0) {
        ok = wc_AesGcmSetKey(&aes, key, (word32)nk) == 0 &&
             wc_AesGcmDecrypt(&aes, out, payload, (word32)n, nonce, 12, payload + n, 16, aad,
                              (word32)aadlen) == 0;
        wc_AesFree(&aes);
    } else {
        ok = 0;
    }
    lwl_wipe(key, sizeof key);
    if (!ok) {
        lwl_wipe_free(out, n);
        return lwl_fail(L, "the encrypted ClientHello does not decrypt");
    }
    lua_pushlstring(L, (const char *)out, n);
    lwl_wipe_free(out, n);
    return 1;
}
#endif

/* A client's handshake is done: a GREASE extension (no ECHConfigList) is of
 * no more use, and wolfSSL would keep it until wolfSSL_free. Freed, the
 * status kept for conn:ech(); a server's retry_configs stay (their own field). */
void lwl_ech_established(lwl_Conn *c) {
#ifdef LWL_ECH
    if (!c->is_server && wolfSSL_GetEchStatus(c->ssl) == WOLFSSL_ECH_STATUS_GREASE) {
        c->ech_grease = 1;
        wolfSSL_SetEchEnable(c->ssl, 0);
    }
#else
    (void)c;
#endif
}

/* conn:ech() -> "accepted" | "rejected" | "grease" | "none" */
int lwl_ech_status(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
#ifdef LWL_ECH
    if (c->ech_grease) {
        lua_pushliteral(L, "grease");
        return 1;
    }
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
        {"ech_use", ech_use},           {"ech_open", ech_open},
        {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
#else
    (void)L;
#endif
}
