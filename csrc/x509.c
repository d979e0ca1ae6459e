/* x509.c: the wolfssl.x509 userdata (a WOLFSSL_X509 owned by Lua). */
#include "lwolfssl.h"

#include <wolfssl/openssl/evp.h>
#include <wolfssl/openssl/x509v3.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct lwl_X509 {
    WOLFSSL_X509 *x;
} lwl_X509;

static lwl_X509 *tox509(lua_State *L, int idx) {
    return (lwl_X509 *)luaL_checkudata(L, idx, LWL_X509);
}

static WOLFSSL_X509 *checkx509(lua_State *L, int idx) {
    lwl_X509 *p = tox509(L, idx);
    if (p->x == NULL) luaL_error(L, "attempt to use a freed certificate");
    return p->x;
}

WOLFSSL_X509 *lwl_x509_test(lua_State *L, int idx) {
    lwl_X509 *p = (lwl_X509 *)luaL_testudata(L, idx, LWL_X509);
    return p ? p->x : NULL;
}

void lwl_x509_push(lua_State *L, WOLFSSL_X509 *x) {
    lwl_X509 *p = (lwl_X509 *)lua_newuserdata(L, sizeof *p);
    p->x = NULL;
    lwl_setmeta(L, LWL_X509);
    p->x = x;
}

/* A copy of DER bytes as a new Lua-owned certificate (nil if unparsable) */
void lwl_x509_push_der(lua_State *L, const unsigned char *der, int len) {
    lwl_X509 *p = (lwl_X509 *)lua_newuserdata(L, sizeof *p);
    p->x = NULL;
    lwl_setmeta(L, LWL_X509);
    p->x = wolfSSL_X509_d2i(NULL, der, len);
    if (p->x == NULL) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

void lwl_cert_cn(WOLFSSL_X509 *x, char *buf, size_t sz) {
    buf[0] = 0;
    if (x == NULL) return;
    memcpy(buf, "CN=", 4);
    if (wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(x), NID_commonName,
                                          buf + 3, (int)sz - 3) <= 0)
        buf[0] = 0;
}

/* x509.load(pem_or_der) -> x509 | nil, msg */
static int x509_load(lua_State *L) {
    size_t len;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 1, &len);
    int pem = strstr((const char *)data, "-----BEGIN") != NULL;
    lwl_X509 *p = (lwl_X509 *)lua_newuserdata(L, sizeof *p);
    p->x = NULL;
    lwl_setmeta(L, LWL_X509);
    p->x = wolfSSL_X509_load_certificate_buffer(
        data, (int)len, pem ? WOLFSSL_FILETYPE_PEM : WOLFSSL_FILETYPE_ASN1);
    if (p->x == NULL) return lwl_fail(L, "not a valid certificate");
    return 1;
}

static void push_name(lua_State *L, WOLFSSL_X509_NAME *name) {
    int i, n = name ? wolfSSL_X509_NAME_entry_count(name) : 0;
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
        WOLFSSL_X509_NAME_ENTRY *e = wolfSSL_X509_NAME_get_entry(name, i);
        WOLFSSL_ASN1_STRING *s = e ? wolfSSL_X509_NAME_ENTRY_get_data(e) : NULL;
        WOLFSSL_ASN1_OBJECT *o = e ? wolfSSL_X509_NAME_ENTRY_get_object(e) : NULL;
        const char *sn = o ? wolfSSL_OBJ_nid2sn(wolfSSL_OBJ_obj2nid(o)) : NULL;
        char oid[64];
        if (s == NULL) continue;
        oid[0] = 0;
        if (o) wolfSSL_OBJ_obj2txt(oid, sizeof oid, o, 1);
        lua_createtable(L, 0, 3);
        lua_pushstring(L, sn ? sn : oid);
        lua_setfield(L, -2, "name");
        lua_pushlstring(L, (const char *)wolfSSL_ASN1_STRING_data(s),
                        (size_t)wolfSSL_ASN1_STRING_length(s));
        lua_setfield(L, -2, "value");
        lua_pushstring(L, oid);
        lua_setfield(L, -2, "oid");
        lua_rawseti(L, -2, i + 1);
    }
    /* one-line "CN=x, O=y" as field `text` and as __tostring via Lua side */
    {
        char line[512];
        size_t used = 0;
        line[0] = 0;
        for (i = 1; i <= n; i++) {
            int k;
            lua_rawgeti(L, -1, i);
            if (!lua_istable(L, -1)) { lua_pop(L, 1); continue; }
            lua_getfield(L, -1, "name");
            lua_getfield(L, -2, "value");
            k = snprintf(line + used, sizeof line - used, "%s%s=%s", used ? ", " : "",
                         lua_tostring(L, -2), lua_tostring(L, -1));
            lua_pop(L, 3);
            if (k < 0 || (size_t)k >= sizeof line - used) break;
            used += (size_t)k;
        }
        luaL_getmetatable(L, "wolfssl.x509.name");
        lua_setmetatable(L, -2);
        lua_pushstring(L, line);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "text");
    }
}

/* x:subject() -> {{name=, value=, oid=}, ..., text="CN=.."}, "CN=.." */
static int x509_subject(lua_State *L) {
    push_name(L, wolfSSL_X509_get_subject_name(checkx509(L, 1)));
    return 2;
}

static int x509_issuer(lua_State *L) {
    push_name(L, wolfSSL_X509_get_issuer_name(checkx509(L, 1)));
    return 2;
}

static int x509_serial(lua_State *L) {
    unsigned char buf[64];
    char hex[2 * sizeof buf + 1];
    int i, n = (int)sizeof buf;
    if (wolfSSL_X509_get_serial_number(checkx509(L, 1), buf, &n) != WOLFSSL_SUCCESS) return 0;
    for (i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02X", buf[i]);
    lua_pushlstring(L, hex, (size_t)(2 * n));
    return 1;
}

/* epoch seconds and ISO-8601 of an ASN.1 time */
static int push_time(lua_State *L, const WOLFSSL_ASN1_TIME *t) {
    struct tm tm;
    char iso[32];
    memset(&tm, 0, sizeof tm);
    if (t == NULL || wolfSSL_ASN1_TIME_to_tm(t, &tm) != WOLFSSL_SUCCESS) return 0;
    lwl_pushint(L, (long long)timegm(&tm));
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    lua_pushstring(L, iso);
    return 2;
}

static int x509_not_before(lua_State *L) {
    return push_time(L, wolfSSL_X509_get_notBefore(checkx509(L, 1)));
}

static int x509_not_after(lua_State *L) {
    return push_time(L, wolfSSL_X509_get_notAfter(checkx509(L, 1)));
}

/* x:altnames() -> {dns={...}, ip={...}, email={...}, uri={...}} */
static int x509_altnames(lua_State *L) {
    WOLFSSL_X509 *x = checkx509(L, 1);
    WOLFSSL_GENERAL_NAMES *names =
        (WOLFSSL_GENERAL_NAMES *)wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int i, n = names ? wolfSSL_sk_GENERAL_NAME_num(names) : 0;
    lua_createtable(L, 0, 4);
    for (i = 0; i < n; i++) {
        WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);
        const char *kind = NULL;
        char text[64];
        const unsigned char *data = NULL;
        int len = 0;
        if (g == NULL) continue;
        switch (g->type) {
        case GEN_DNS: kind = "dns"; break;
        case GEN_EMAIL: kind = "email"; break;
        case GEN_URI: kind = "uri"; break;
        case GEN_IPADD: kind = "ip"; break;
        default: continue;
        }
        data = wolfSSL_ASN1_STRING_data(g->d.ia5);
        len = wolfSSL_ASN1_STRING_length(g->d.ia5);
        if (data == NULL) continue;
        lua_getfield(L, -1, kind);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, kind);
        }
        if (g->type == GEN_IPADD && len == 4) {
            snprintf(text, sizeof text, "%u.%u.%u.%u", data[0], data[1], data[2], data[3]);
            lua_pushstring(L, text);
        } else if (g->type == GEN_IPADD && len == 16) {
            int j, used = 0;
            for (j = 0; j < 16; j += 2)
                used += snprintf(text + used, sizeof text - (size_t)used, "%s%x", j ? ":" : "",
                                 (data[j] << 8) | data[j + 1]);
            lua_pushstring(L, text);
        } else {
            lua_pushlstring(L, (const char *)data, (size_t)len);
        }
        lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
        lua_pop(L, 1);
    }
    if (names) wolfSSL_GENERAL_NAMES_free(names);
    return 1;
}

/* x:digest([alg]) -> lowercase hex (sha256 by default) */
static int x509_digest(lua_State *L) {
    static const char *const algs[] = {"sha256", "sha1", "sha384", "sha512", NULL};
    static const char *const evp[] = {"SHA256", "SHA1", "SHA384", "SHA512"};
    WOLFSSL_X509 *x = checkx509(L, 1);
    int a = luaL_checkoption(L, 2, "sha256", algs);
    unsigned char md[64];
    char hex[129];
    unsigned int i, n = sizeof md;
    const WOLFSSL_EVP_MD *m = wolfSSL_EVP_get_digestbyname(evp[a]);
    if (m == NULL || wolfSSL_X509_digest(x, m, md, &n) != WOLFSSL_SUCCESS)
        return lwl_fail(L, "digest failed");
    for (i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    lua_pushlstring(L, hex, 2 * n);
    return 1;
}

static int x509_der(lua_State *L) {
    int len = 0;
    const unsigned char *der = wolfSSL_X509_get_der(checkx509(L, 1), &len);
    if (der == NULL) return lwl_fail(L, "no DER form");
    lua_pushlstring(L, (const char *)der, (size_t)len);
    return 1;
}

static int x509_pem(lua_State *L) {
    int len = 0, n;
    const unsigned char *der = wolfSSL_X509_get_der(checkx509(L, 1), &len);
    size_t cap;
    unsigned char *pem;
    if (der == NULL) return lwl_fail(L, "no DER form");
    cap = (size_t)len * 4 / 3 + (size_t)len / 48 + 128;
    pem = (unsigned char *)malloc(cap);
    if (pem == NULL) return luaL_error(L, "out of memory");
    n = wc_DerToPem(der, (word32)len, pem, (word32)cap, CERT_TYPE);
    if (n <= 0) {
        free(pem);
        return lwl_fail(L, "PEM encoding failed");
    }
    lua_pushlstring(L, (const char *)pem, (size_t)n);
    free(pem);
    return 1;
}

static int x509_check_host(lua_State *L) {
    WOLFSSL_X509 *x = checkx509(L, 1);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    int ok = wolfSSL_X509_check_host(x, name, len, 0, NULL) == WOLFSSL_SUCCESS;
    if (!ok && wolfSSL_X509_check_ip_asc(x, name, 0) == WOLFSSL_SUCCESS) ok = 1;
    lua_pushboolean(L, ok);
    return 1;
}

static int x509_is_ca(lua_State *L) {
    lua_pushboolean(L, wolfSSL_X509_get_isCA(checkx509(L, 1)));
    return 1;
}

static int x509_gc(lua_State *L) {
    lwl_X509 *p = tox509(L, 1);
    if (p->x) {
        wolfSSL_X509_free(p->x);
        p->x = NULL;
    }
    return 0;
}

static int x509_eq(lua_State *L) {
    WOLFSSL_X509 *a = lwl_x509_test(L, 1), *b = lwl_x509_test(L, 2);
    int la = 0, lb = 0;
    const unsigned char *da = a ? wolfSSL_X509_get_der(a, &la) : NULL;
    const unsigned char *db = b ? wolfSSL_X509_get_der(b, &lb) : NULL;
    lua_pushboolean(L, da && db && la == lb && memcmp(da, db, (size_t)la) == 0);
    return 1;
}

static int x509_tostring(lua_State *L) {
    lwl_X509 *p = tox509(L, 1);
    char cn[160];
    if (p->x == NULL) {
        lua_pushliteral(L, "wolfssl.x509 (freed)");
        return 1;
    }
    lwl_cert_cn(p->x, cn, sizeof cn);
    lua_pushfstring(L, "wolfssl.x509 (%s): %p", cn[0] ? cn : "no CN", (void *)p);
    return 1;
}

static int name_tostring(lua_State *L) {
    lua_getfield(L, 1, "text");
    return 1;
}

static const luaL_Reg x509_methods[] = {
    {"subject", x509_subject}, {"issuer", x509_issuer},       {"serial", x509_serial},
    {"not_before", x509_not_before}, {"not_after", x509_not_after}, {"altnames", x509_altnames},
    {"digest", x509_digest},   {"der", x509_der},             {"pem", x509_pem},
    {"check_host", x509_check_host}, {"is_ca", x509_is_ca},  {NULL, NULL}};

void lwl_x509_open(lua_State *L) {
    static const luaL_Reg meta[] = {{"__gc", x509_gc},
                                    {"__eq", x509_eq},
                                    {"__tostring", x509_tostring},
                                    {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"x509_load", x509_load}, {NULL, NULL}};
    lwl_newmeta(L, LWL_X509, x509_methods, meta);
    luaL_newmetatable(L, "wolfssl.x509.name");
    lua_pushcfunction(L, name_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
