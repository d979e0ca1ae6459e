/* pkey.c: wolfssl.pkey - private and public keys (RSA, EC P-256/P-384, Ed25519):
 * generate, load (PEM/DER, encrypted PKCS#8 or traditional PEM with a
 * password), export (PKCS#8 PEM, optionally encrypted; DER), public part. */
#include "pkey.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <stdlib.h>
#include <string.h>

static lwl_Pkey *topkey(lua_State *L, int idx) {
    return (lwl_Pkey *)luaL_checkudata(L, idx, LWL_PKEY);
}

lwl_Pkey *lwl_pkey_check(lua_State *L, int idx) {
    lwl_Pkey *p = topkey(L, idx);
    if (p->der == NULL) luaL_error(L, "attempt to use a freed key");
    return p;
}

static lwl_Pkey *newpkey(lua_State *L) {
    lwl_Pkey *p = (lwl_Pkey *)lua_newuserdata(L, sizeof *p);
    memset(p, 0, sizeof *p);
    lwl_setmeta(L, LWL_PKEY);
    return p;
}

void lwl_key_free(lwl_Key *k) {
    switch (k->type) {
#ifndef NO_RSA
    case LWL_PK_RSA: wc_FreeRsaKey(&k->u.rsa); break;
#endif
#ifdef HAVE_ECC
    case LWL_PK_EC: wc_ecc_free(&k->u.ecc); break;
#endif
#ifdef HAVE_ED25519
    case LWL_PK_ED25519: wc_ed25519_free(&k->u.ed); break;
#endif
    default: break;
    }
    k->type = 0;
}

int lwl_key_certtype(const lwl_Key *k) {
    switch (k->type) {
    case LWL_PK_RSA: return RSA_TYPE;
    case LWL_PK_EC: return ECC_TYPE;
    case LWL_PK_ED25519: return ED25519_TYPE;
    default: return -1;
    }
}

#ifdef HAVE_ECC
/* Next DER element at *pos must have `tag`: step into it, its length in *n. */
static int der_enter(const unsigned char *d, word32 len, word32 *pos, int tag, word32 *n) {
    word32 p = *pos, v;
    if (p + 2 > len || d[p] != tag) return -1;
    v = d[p + 1];
    p += 2;
    if (v & 0x80) {
        word32 k = v & 0x7f;
        if (k < 1 || k > 3 || k > len - p) return -1;
        for (v = 0; k > 0; k--) v = (v << 8) | d[p++];
    }
    if (v > len - p) return -1;
    *pos = p;
    *n = v;
    return 0;
}

/* wolfSSL 5.5.4 takes an EC private scalar of up to 66 bytes whatever the
 * curve, then writes it past a curve-sized buffer when the key is exported:
 * does the scalar of this SEC1 key (bare or inside PKCS#8) fit the curve? */
static int ec_scalar_fits(const unsigned char *der, word32 len, ecc_key *key) {
    word32 idx = 0, pos, n;
    pos = wc_GetPkcs8TraditionalOffset((byte *)der, &idx, len) > 0 ? idx : 0;
    if (der_enter(der, len, &pos, 0x30, &n) != 0 || der_enter(der, len, &pos, 0x02, &n) != 0)
        return 0;
    pos += n;
    if (der_enter(der, len, &pos, 0x04, &n) != 0) return 0;
    for (; n > 0 && der[pos] == 0; pos++) n--; /* leading zeros do not count */
    return (int)n <= wc_ecc_size(key);
}
#endif

int lwl_ec_scalar_too_long(const unsigned char *der, int len) {
#ifdef HAVE_ECC
    ecc_key key;
    word32 idx = 0;
    int bad;
    if (wc_ecc_init(&key) != 0) return 0;
    bad = wc_EccPrivateKeyDecode(der, &idx, &key, (word32)len) == 0 &&
          !ec_scalar_fits(der, (word32)len, &key);
    wc_ecc_free(&key);
    return bad;
#else
    (void)der, (void)len;
    return 0;
#endif
}

/* Try to decode DER as a key of `type`, private or public. 0 on success. */
static int try_decode(lwl_Key *k, int type, int priv, const unsigned char *der, int len) {
    word32 idx = 0;
    int r = -1;
    memset(k, 0, sizeof *k);
    switch (type) {
#ifndef NO_RSA
    case LWL_PK_RSA:
        if (wc_InitRsaKey(&k->u.rsa, NULL) != 0) return -1;
        k->type = type;
        r = priv ? wc_RsaPrivateKeyDecode(der, &idx, &k->u.rsa, (word32)len)
                 : wc_RsaPublicKeyDecode(der, &idx, &k->u.rsa, (word32)len);
        break;
#endif
#ifdef HAVE_ECC
    case LWL_PK_EC:
        if (wc_ecc_init(&k->u.ecc) != 0) return -1;
        k->type = type;
        r = priv ? wc_EccPrivateKeyDecode(der, &idx, &k->u.ecc, (word32)len)
                 : wc_EccPublicKeyDecode(der, &idx, &k->u.ecc, (word32)len);
        if (r == 0 && priv && !ec_scalar_fits(der, (word32)len, &k->u.ecc)) r = -1;
        if (r == 0 && priv && k->u.ecc.type == ECC_PRIVATEKEY_ONLY) {
            /* a key without its public point: compute it */
            WC_RNG rng;
            if (wc_InitRng(&rng) == 0) {
                wc_ecc_set_rng(&k->u.ecc, &rng);
                r = wc_ecc_make_pub(&k->u.ecc, NULL);
                wc_FreeRng(&rng);
            }
        }
        break;
#endif
#ifdef HAVE_ED25519
    case LWL_PK_ED25519:
        if (wc_ed25519_init(&k->u.ed) != 0) return -1;
        k->type = type;
        r = priv ? wc_Ed25519PrivateKeyDecode(der, &idx, &k->u.ed, (word32)len)
                 : wc_Ed25519PublicKeyDecode(der, &idx, &k->u.ed, (word32)len);
        if (r == 0 && priv && !k->u.ed.pubKeySet) {
            byte pub[ED25519_PUB_KEY_SIZE], priv32[ED25519_KEY_SIZE];
            memcpy(priv32, k->u.ed.k, ED25519_KEY_SIZE);
            r = wc_ed25519_make_public(&k->u.ed, pub, sizeof pub);
            if (r == 0)
                r = wc_ed25519_import_private_key(priv32, ED25519_KEY_SIZE, pub, sizeof pub,
                                                  &k->u.ed);
            lwl_wipe(priv32, sizeof priv32);
        }
        break;
#endif
    default: return -1;
    }
    if (r != 0) {
        lwl_key_free(k);
        return -1;
    }
    return 0;
}

int lwl_key_decode(const lwl_Pkey *p, lwl_Key *k) {
    return try_decode(k, p->type, p->priv, p->der, p->len);
}

/* Canonical DER of a decoded key: PKCS#8 (priv) or SPKI. Returns length or <0. */
static int key_to_der(lwl_Key *k, int priv, unsigned char *out, word32 cap) {
    int n = -1;
    switch (k->type) {
#ifndef NO_RSA
    case LWL_PK_RSA:
        if (priv) {
            unsigned char *tmp = (unsigned char *)malloc(cap);
            word32 outsz = cap;
            if (tmp == NULL) return -1;
            n = wc_RsaKeyToDer(&k->u.rsa, tmp, cap);
            if (n > 0)
                n = wc_CreatePKCS8Key(out, &outsz, tmp, (word32)n, RSAk, NULL, 0) > 0
                        ? (int)outsz : -1;
            lwl_wipe_free(tmp, cap);
        } else {
            n = wc_RsaKeyToPublicDer(&k->u.rsa, out, cap);
        }
        break;
#endif
#ifdef HAVE_ECC
    case LWL_PK_EC:
        if (priv) {
            word32 outsz = cap;
            n = wc_EccKeyToPKCS8(&k->u.ecc, out, &outsz) > 0 ? (int)outsz : -1;
        } else {
            n = wc_EccPublicKeyToDer(&k->u.ecc, out, cap, 1);
        }
        break;
#endif
#ifdef HAVE_ED25519
    case LWL_PK_ED25519:
        n = priv ? wc_Ed25519PrivateKeyToDer(&k->u.ed, out, cap)
                 : wc_Ed25519PublicKeyToDer(&k->u.ed, out, cap, 1);
        break;
#endif
    default: break;
    }
    return n;
}

/* Fill p (type, bits, curve, canonical der) from a decoded key. 0 on success. */
static int fill(lwl_Pkey *p, lwl_Key *k, int priv) {
    unsigned char *buf;
    word32 cap = 8192;
    int n;
    p->type = k->type;
    p->priv = priv;
    switch (k->type) {
#ifndef NO_RSA
    case LWL_PK_RSA: p->bits = wc_RsaEncryptSize(&k->u.rsa) * 8; break;
#endif
#ifdef HAVE_ECC
    case LWL_PK_EC:
        p->bits = wc_ecc_size(&k->u.ecc) * 8;
        p->curve = wc_ecc_get_curve_id(k->u.ecc.idx);
        break;
#endif
    case LWL_PK_ED25519: p->bits = 256; break;
    default: return -1;
    }
    buf = (unsigned char *)malloc(cap);
    if (buf == NULL) return -1;
    n = key_to_der(k, priv, buf, cap);
    if (n <= 0) {
        free(buf);
        return -1;
    }
    p->der = buf;
    p->len = n;
    return 0;
}

/* Decode DER of any supported kind; fill a new pkey on the stack. */
int lwl_pkey_push_der(lua_State *L, const unsigned char *der, int len, int want_public) {
    static const int types[] = {LWL_PK_EC, LWL_PK_RSA, LWL_PK_ED25519};
    lwl_Key k;
    int i, priv;
    for (priv = want_public ? 0 : 1; priv >= 0; priv--) {
        for (i = 0; i < 3; i++) {
            if (try_decode(&k, types[i], priv, der, len) == 0) {
                lwl_Pkey *p = newpkey(L);
                int r = fill(p, &k, priv);
                lwl_key_free(&k);
                if (r != 0) {
                    lua_pop(L, 1);
                    return 0;
                }
                return 1;
            }
        }
    }
    return 0;
}

static const char *curve_name(int id) {
    switch (id) {
#ifdef HAVE_ECC
    case ECC_SECP256R1: return "P-256";
    case ECC_SECP384R1: return "P-384";
    case ECC_SECP521R1: return "P-521";
#endif
    default: return NULL;
    }
}

static const char *type_name(int t) {
    switch (t) {
    case LWL_PK_RSA: return "rsa";
    case LWL_PK_EC: return "ec";
    case LWL_PK_ED25519: return "ed25519";
    default: return "unknown";
    }
}

/* pkey.generate(type, opts) */
static int pkey_generate(lua_State *L) {
    static const char *const names[] = {"ec", "rsa", "ed25519", NULL};
    int t = luaL_checkoption(L, 1, NULL, names);
    lwl_Key k;
    WC_RNG rng;
    int r = -1;
    lwl_Pkey *p;
    memset(&k, 0, sizeof k);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    if (t == 0) {
#ifdef HAVE_ECC
        static const char *const curves[] = {"P-256", "P-384", "P-521", NULL};
        static const int ids[] = {ECC_SECP256R1, ECC_SECP384R1, ECC_SECP521R1};
        static const int sizes[] = {32, 48, 66};
        int c = 0;
        if (lua_istable(L, 2)) {
            lua_getfield(L, 2, "curve");
            if (!lua_isnil(L, -1)) {
                const char *s = lua_tostring(L, -1);
                for (c = 0; curves[c] && !(s && strcmp(s, curves[c]) == 0); c++) {}
                if (curves[c] == NULL)
                    return luaL_argerror(L, 2, "bad option 'curve': expected \"P-256\", \"P-384\" or \"P-521\"");
            }
            lua_pop(L, 1);
        }
        if (wc_InitRng(&rng) != 0) return luaL_error(L, "random number generator failed");
        if (wc_ecc_init(&k.u.ecc) == 0) {
            k.type = LWL_PK_EC;
            r = wc_ecc_make_key_ex(&rng, sizes[c], &k.u.ecc, ids[c]);
        }
#else
        return luaL_error(L, "EC keys are not supported by this wolfSSL build");
#endif
    } else if (t == 1) {
#if !defined(NO_RSA) && defined(WOLFSSL_KEY_GEN)
        lua_Integer bits = 2048;
        if (lua_istable(L, 2)) {
            lua_getfield(L, 2, "bits");
            if (!lua_isnil(L, -1)) {
                if (!lua_isnumber(L, -1)) return luaL_argerror(L, 2, "bad option 'bits': expected an integer");
                bits = lua_tointeger(L, -1);
            }
            lua_pop(L, 1);
        }
        if (bits < 2048 || bits > 4096 || bits % 8 != 0)
            return luaL_argerror(L, 2, "bad option 'bits': expected a multiple of 8 from 2048 to 4096");
        if (wc_InitRng(&rng) != 0) return luaL_error(L, "random number generator failed");
        if (wc_InitRsaKey(&k.u.rsa, NULL) == 0) {
            k.type = LWL_PK_RSA;
            r = wc_MakeRsaKey(&k.u.rsa, (int)bits, WC_RSA_EXPONENT, &rng);
        }
#else
        return luaL_error(L, "RSA key generation is not supported by this wolfSSL build");
#endif
    } else {
#ifdef HAVE_ED25519
        if (wc_InitRng(&rng) != 0) return luaL_error(L, "random number generator failed");
        if (wc_ed25519_init(&k.u.ed) == 0) {
            k.type = LWL_PK_ED25519;
            r = wc_ed25519_make_key(&rng, ED25519_KEY_SIZE, &k.u.ed);
        }
#else
        return luaL_error(L, "Ed25519 is not supported by this wolfSSL build");
#endif
    }
    wc_FreeRng(&rng);
    if (r != 0) {
        lwl_key_free(&k);
        return lwl_fail(L, "key generation failed");
    }
    p = newpkey(L);
    r = fill(p, &k, 1);
    lwl_key_free(&k);
    if (r != 0) return lwl_fail(L, "key encoding failed");
    return 1;
}

/* Push a key from DER: 1, 0 when it is no key, -1 when it is refused. */
static int load_der(lua_State *L, const unsigned char *der, int n, int want_public) {
    if (n <= 0) return 0;
    if (!want_public && lwl_ec_scalar_too_long(der, n)) return -1;
    return lwl_pkey_push_der(L, der, n, want_public);
}

/* pkey.load(pem_or_der [, password]) -> pkey | nil, msg */
static int pkey_load(lua_State *L) {
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    const char *password = luaL_optstring(L, 2, NULL);
    unsigned char *der;
    int n, ok, encrypted = 0;
    if (len == 0 || len > 1 << 20) return lwl_fail(L, "not a valid key");
    der = (unsigned char *)malloc(len + 16);
    if (der == NULL) return luaL_error(L, "out of memory");
    if (strstr(data, "-----BEGIN") != NULL) {
        encrypted = strstr(data, "ENCRYPTED") != NULL;
        if (strstr(data, "PUBLIC KEY-----") != NULL) {
            n = wc_PubKeyPemToDer((const unsigned char *)data, (int)len, der, (int)len);
            ok = load_der(L, der, n, 1);
        } else {
            n = wc_KeyPemToDer((const unsigned char *)data, (int)len, der, (int)len, password);
            ok = load_der(L, der, n, 0);
        }
    } else {
        memcpy(der, data, len);
        ok = load_der(L, der, (int)len, 0);
        if (ok == 0 && password) { /* DER EncryptedPrivateKeyInfo */
            ok = load_der(L, der, wc_DecryptPKCS8Key(der, (word32)len, password,
                                                     (int)strlen(password)), 0);
            encrypted = 1;
        }
    }
    lwl_wipe_free(der, len + 16);
    if (ok < 0) return lwl_fail(L, LWL_EC_SCALAR_MSG);
    if (!ok) {
        if (encrypted)
            return lwl_fail(L, password ? "cannot decrypt the private key (wrong password?)"
                                        : "the private key is encrypted and no password was given");
        return lwl_fail(L, "not a valid key (RSA, EC or Ed25519 expected)");
    }
    return 1;
}

static int push_pem(lua_State *L, const unsigned char *der, int len, int type) {
    word32 cap = (word32)len * 4 / 3 + (word32)len / 48 + 128;
    unsigned char *pem = (unsigned char *)malloc(cap);
    int n;
    if (pem == NULL) return luaL_error(L, "out of memory");
    n = wc_DerToPem(der, (word32)len, pem, cap, type);
    if (n <= 0) {
        free(pem);
        return lwl_fail(L, "PEM encoding failed");
    }
    lua_pushlstring(L, (const char *)pem, (size_t)n);
    lwl_wipe_free(pem, cap);
    return 1;
}

/* k:pem([password]) */
static int pkey_pem(lua_State *L) {
    lwl_Pkey *p = lwl_pkey_check(L, 1);
    size_t pwlen = 0;
    const char *password = luaL_optlstring(L, 2, NULL, &pwlen);
    if (!p->priv) {
        if (password) return luaL_argerror(L, 2, "a public key is not encrypted");
        return push_pem(L, p->der, p->len, PUBLICKEY_TYPE);
    }
    if (password == NULL) return push_pem(L, p->der, p->len, PKCS8_PRIVATEKEY_TYPE);
    if (pwlen == 0) return luaL_argerror(L, 2, "empty password");
    if (memchr(password, 0, pwlen) != NULL)
        return luaL_argerror(L, 2, "the password must not contain a NUL byte");
    {
        /* wolfSSL 5.5.4 adds no padding block when the key is a multiple of
         * the AES block size (OpenSSL then fails to decrypt it): add the
         * PKCS#7 block ourselves in that case. */
        WC_RNG rng;
        word32 cap = (word32)p->len + 256, outsz = cap, inlen = (word32)p->len;
        unsigned char *out = (unsigned char *)malloc(cap);
        unsigned char *in = (unsigned char *)malloc((size_t)p->len + 16);
        int r;
        if (out == NULL || in == NULL) {
            free(out);
            free(in);
            return luaL_error(L, "out of memory");
        }
        memcpy(in, p->der, (size_t)p->len);
        if (inlen % 16 == 0) {
            memset(in + inlen, 16, 16);
            inlen += 16;
        }
        if (wc_InitRng(&rng) != 0) {
            free(out);
            free(in);
            return luaL_error(L, "random number generator failed");
        }
        r = wc_EncryptPKCS8Key(in, inlen, out, &outsz, password, (int)pwlen,
                               PKCS5, PBES2, AES256CBCb, NULL, 0, 2048, &rng, NULL);
        wc_FreeRng(&rng);
        lwl_wipe_free(in, (size_t)p->len + 16);
        if (r <= 0) {
            free(out);
            return lwl_fail(L, "encrypting the key failed");
        }
        r = push_pem(L, out, r, PKCS8_ENC_PRIVATEKEY_TYPE); /* r: bytes written */
        free(out);
        return r;
    }
}

static int pkey_der(lua_State *L) {
    lwl_Pkey *p = lwl_pkey_check(L, 1);
    lua_pushlstring(L, (const char *)p->der, (size_t)p->len);
    return 1;
}

static int pkey_public(lua_State *L) {
    lwl_Pkey *p = lwl_pkey_check(L, 1);
    lwl_Key k;
    lwl_Pkey *q;
    int r;
    if (lwl_key_decode(p, &k) != 0) return lwl_fail(L, "key decoding failed");
    q = newpkey(L);
    r = fill(q, &k, 0);
    lwl_key_free(&k);
    if (r != 0) return lwl_fail(L, "key encoding failed");
    return 1;
}

static int pkey_type(lua_State *L) {
    lua_pushstring(L, type_name(lwl_pkey_check(L, 1)->type));
    return 1;
}

static int pkey_bits(lua_State *L) {
    lwl_pushint(L, lwl_pkey_check(L, 1)->bits);
    return 1;
}

static int pkey_curve(lua_State *L) {
    lwl_Pkey *p = lwl_pkey_check(L, 1);
    const char *c = p->type == LWL_PK_EC ? curve_name(p->curve) : NULL;
    if (c == NULL) return 0;
    lua_pushstring(L, c);
    return 1;
}

static int pkey_is_private(lua_State *L) {
    lua_pushboolean(L, lwl_pkey_check(L, 1)->priv);
    return 1;
}

void lwl_pkey_push_info(lua_State *L, lwl_Pkey *p) {
    const char *c = p->type == LWL_PK_EC ? curve_name(p->curve) : NULL;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, type_name(p->type));
    lua_setfield(L, -2, "type");
    lwl_pushint(L, p->bits);
    lua_setfield(L, -2, "bits");
    if (c) {
        lua_pushstring(L, c);
        lua_setfield(L, -2, "curve");
    }
    if (push_pem(L, p->der, p->len, p->priv ? PKCS8_PRIVATEKEY_TYPE : PUBLICKEY_TYPE) == 1)
        lua_setfield(L, -2, "pem");
    else
        lua_pop(L, 2);
}

static int pkey_gc(lua_State *L) {
    lwl_Pkey *p = topkey(L, 1);
    if (p->der) {
        lwl_wipe_free(p->der, (size_t)p->len);
        p->der = NULL;
    }
    return 0;
}

static int pkey_eq(lua_State *L) {
    lwl_Pkey *a = (lwl_Pkey *)luaL_testudata(L, 1, LWL_PKEY);
    lwl_Pkey *b = (lwl_Pkey *)luaL_testudata(L, 2, LWL_PKEY);
    lua_pushboolean(L, a && b && a->der && b->der && a->len == b->len &&
                           memcmp(a->der, b->der, (size_t)a->len) == 0);
    return 1;
}

static int pkey_tostring(lua_State *L) {
    lwl_Pkey *p = topkey(L, 1);
    if (p->der == NULL)
        lua_pushliteral(L, "wolfssl.pkey (freed)");
    else
        lua_pushfstring(L, "wolfssl.pkey (%s %d, %s): %p", type_name(p->type), p->bits,
                        p->priv ? "private" : "public", (void *)p);
    return 1;
}

void lwl_pkey_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"pem", pkey_pem},       {"der", pkey_der},
                                       {"public", pkey_public}, {"type", pkey_type},
                                       {"bits", pkey_bits},     {"curve", pkey_curve},
                                       {"is_private", pkey_is_private}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", pkey_gc},
                                    {"__eq", pkey_eq},
                                    {"__tostring", pkey_tostring},
                                    {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"pkey_generate", pkey_generate},
                                     {"pkey_load", pkey_load},
                                     {NULL, NULL}};
    lwl_newmeta(L, LWL_PKEY, methods, meta);
    luaL_setfuncs(L, funcs, 0);
}
