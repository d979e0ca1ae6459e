/* x509.c: the wolfssl.x509 userdata (a WOLFSSL_X509 owned by Lua). */
#include "lwolfssl.h"
#include "pkey.h"

#include <wolfssl/wolfcrypt/asn.h>

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

static WOLFSSL_X509 *x509_test(lua_State *L, int idx) {
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
    if (p->x == NULL) {
        /* a valid certificate this build's X509 layer refuses? (Ed25519 keys
         * with OPENSSL_ALL in 5.5.4: wolfSSL_d2i_PUBKEY knows no Ed25519) */
        unsigned char *der = (unsigned char *)malloc(len + 1);
        int n = (int)len, keyoid = 0;
        if (der != NULL) {
            if (pem) n = wc_CertPemToDer(data, (int)len, der, (int)len, CERT_TYPE);
            else memcpy(der, data, len);
            if (n > 0) {
                DecodedCert *dc = (DecodedCert *)malloc(sizeof *dc);
                if (dc != NULL) {
                    wc_InitDecodedCert(dc, der, (word32)n, NULL);
                    if (wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL) == 0) keyoid = (int)dc->keyOID;
                    wc_FreeDecodedCert(dc);
                    free(dc);
                }
            }
            free(der);
        }
        if (keyoid == ED25519k)
            return lwl_fail(L, "this wolfSSL build cannot load certificates with an Ed25519 key");
        return lwl_fail(L, "not a valid certificate");
    }
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
        if (oid[0] == 0 && sn) { /* entries parsed from DER carry only a NID */
            static const char *const known[][2] = {
                {"CN", "2.5.4.3"}, {"SN", "2.5.4.4"}, {"serialNumber", "2.5.4.5"},
                {"C", "2.5.4.6"}, {"L", "2.5.4.7"}, {"ST", "2.5.4.8"}, {"street", "2.5.4.9"},
                {"O", "2.5.4.10"}, {"OU", "2.5.4.11"}, {"title", "2.5.4.12"},
                {"postalCode", "2.5.4.17"}, {"GN", "2.5.4.42"},
                {"emailAddress", "1.2.840.113549.1.9.1"},
                {"DC", "0.9.2342.19200300.100.1.25"}, {"UID", "0.9.2342.19200300.100.1.1"}};
            size_t k;
            for (k = 0; k < sizeof known / sizeof known[0]; k++)
                if (strcmp(sn, known[k][0]) == 0) snprintf(oid, sizeof oid, "%s", known[k][1]);
        }
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
    /* one-line "CN=x, O=y" as field `text`, and __tostring of the name table */
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
            /* RFC 5952 text: the longest run of zero groups becomes "::" */
            int j, used = 0, best = -1, bestn = 0, run = -1, n = 0, w[8];
            for (j = 0; j < 8; j++) {
                w[j] = (data[2 * j] << 8) | data[2 * j + 1];
                if (w[j] == 0) {
                    if (run < 0) { run = j; n = 0; }
                    if (++n > bestn && n > 1) { best = run; bestn = n; }
                } else {
                    run = -1;
                }
            }
            text[0] = 0;
            for (j = 0; j < 8; j++) {
                if (j == best) {
                    used += snprintf(text + used, sizeof text - (size_t)used, "::");
                    j += bestn - 1;
                    continue;
                }
                used += snprintf(text + used, sizeof text - (size_t)used, "%s%x",
                                 (j && j != best + bestn) || (j && best < 0) ? ":" : "", w[j]);
            }
            lua_pushstring(L, text);
        } else {
            lua_pushlstring(L, (const char *)data, (size_t)len);
        }
        lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
        lua_pop(L, 1);
    }
    if (names) wolfSSL_GENERAL_NAMES_free(names);
    /* wolfSSL keeps the names last-first: give them in certificate order */
    {
        static const char *const kinds[] = {"dns", "ip", "email", "uri"};
        int k;
        for (k = 0; k < 4; k++) {
            int a, b;
            lua_getfield(L, -1, kinds[k]);
            if (lua_istable(L, -1)) {
                for (a = 1, b = (int)lua_rawlen(L, -1); a < b; a++, b--) {
                    lua_rawgeti(L, -1, a);
                    lua_rawgeti(L, -2, b);
                    lua_rawseti(L, -3, a);
                    lua_rawseti(L, -2, b);
                }
            }
            lua_pop(L, 1);
        }
    }
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

/* x:check_host(name): DNS names (wildcards as RFC 6125) or IP addresses */
static int x509_check_host(lua_State *L) {
    WOLFSSL_X509 *x = checkx509(L, 1);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    lua_pushboolean(L, lwl_check_host(x, name, len));
    return 1;
}

static int x509_is_ca(lua_State *L) {
    lua_pushboolean(L, wolfSSL_X509_get_isCA(checkx509(L, 1)));
    return 1;
}


/* x:public_key() -> pkey (public) */
static int x509_public_key(lua_State *L) {
    WOLFSSL_X509 *x = checkx509(L, 1);
    unsigned char buf[4096];
    int n = (int)sizeof buf;
    if (wolfSSL_X509_get_pubkey_buffer(x, buf, &n) != WOLFSSL_SUCCESS || n <= 0 ||
        !lwl_pkey_push_der(L, buf, n, 1))
        return lwl_fail(L, "unsupported public key type");
    return 1;
}

/* x:pubkey() -> {type=, bits=, curve=, pem=} */
static int x509_pubkey(lua_State *L) {
    int n = x509_public_key(L);
    if (n != 1) return n; /* nil, message */
    lwl_pkey_push_info(L, lwl_pkey_check(L, -1));
    return 1;
}

static void push_hex(lua_State *L, const unsigned char *p, int n) {
    char hex[2 * 64 + 1];
    int i;
    if (n > 64) n = 64;
    for (i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", p[i]);
    lua_pushlstring(L, hex, (size_t)(2 * n));
}

static void push_list(lua_State *L, const char *const *names, const unsigned *bits, unsigned v) {
    int i, k = 0;
    lua_newtable(L);
    for (i = 0; names[i]; i++)
        if (v & bits[i]) {
            lua_pushstring(L, names[i]);
            lua_rawseti(L, -2, ++k);
        }
}

/* x:extensions() -> {basic_constraints={ca=, path_len=}, key_usage={...},
 *   ext_key_usage={...}, subject_alt_name={dns=...}, subject_key_id=hex,
 *   authority_key_id=hex} (absent extensions are nil) */
static int x509_extensions(lua_State *L) {
    static const char *const ku[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
                                     "dataEncipherment", "keyAgreement", "keyCertSign",
                                     "cRLSign", "encipherOnly", "decipherOnly", NULL};
    static const unsigned kubits[] = {KEYUSE_DIGITAL_SIG, KEYUSE_CONTENT_COMMIT,
                                      KEYUSE_KEY_ENCIPHER, KEYUSE_DATA_ENCIPHER,
                                      KEYUSE_KEY_AGREE, KEYUSE_KEY_CERT_SIGN, KEYUSE_CRL_SIGN,
                                      KEYUSE_ENCIPHER_ONLY, KEYUSE_DECIPHER_ONLY};
    static const char *const eku[] = {"anyExtendedKeyUsage", "serverAuth", "clientAuth",
                                      "codeSigning", "emailProtection", "timeStamping",
                                      "OCSPSigning", NULL};
    static const unsigned ekubits[] = {EXTKEYUSE_ANY, EXTKEYUSE_SERVER_AUTH,
                                       EXTKEYUSE_CLIENT_AUTH, EXTKEYUSE_CODESIGN,
                                       EXTKEYUSE_EMAILPROT, EXTKEYUSE_TIMESTAMP,
                                       EXTKEYUSE_OCSP_SIGN};
    WOLFSSL_X509 *x = checkx509(L, 1);
    int len = 0;
    const unsigned char *der = wolfSSL_X509_get_der(x, &len);
    DecodedCert *dc;
    if (der == NULL) return lwl_fail(L, "no DER form");
    dc = (DecodedCert *)malloc(sizeof *dc);
    if (dc == NULL) return luaL_error(L, "out of memory");
    wc_InitDecodedCert(dc, der, (word32)len, NULL);
    if (wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL) != 0) {
        wc_FreeDecodedCert(dc);
        free(dc);
        return lwl_fail(L, "cannot parse the certificate");
    }
    lua_createtable(L, 0, 6);
    if (dc->extBasicConstSet) {
        lua_createtable(L, 0, 2);
        lua_pushboolean(L, dc->isCA);
        lua_setfield(L, -2, "ca");
        if (dc->pathLengthSet) {
            lwl_pushint(L, dc->pathLength);
            lua_setfield(L, -2, "path_len");
        }
        lua_setfield(L, -2, "basic_constraints");
    }
    if (dc->extKeyUsageSet) {
        push_list(L, ku, kubits, dc->extKeyUsage);
        lua_setfield(L, -2, "key_usage");
    }
    if (dc->extExtKeyUsageSet) {
        push_list(L, eku, ekubits, dc->extExtKeyUsage);
        lua_setfield(L, -2, "ext_key_usage");
    }
    if (dc->extSubjKeyIdSet) {
        push_hex(L, dc->extSubjKeyId, KEYID_SIZE);
        lua_setfield(L, -2, "subject_key_id");
    }
    if (dc->extAuthKeyIdSet) {
        push_hex(L, dc->extAuthKeyId, KEYID_SIZE);
        lua_setfield(L, -2, "authority_key_id");
    }
    wc_FreeDecodedCert(dc);
    free(dc);
    if (wolfSSL_X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0) {
        x509_altnames(L);
        lua_setfield(L, -2, "subject_alt_name");
    }
    return 1;
}

/* a:issued(b): true when a is the issuer of b - b's issuer name is a's
 * subject (and key ids agree), like OpenSSL's X509_check_issued(a, b) - and,
 * beyond it, b's signature verifies with a's public key. */
static int x509_issued(lua_State *L) {
    WOLFSSL_X509 *a = checkx509(L, 1), *b = checkx509(L, 2);
    WOLFSSL_EVP_PKEY *k;
    int ok = wolfSSL_X509_check_issued(a, b) == 0 /* X509_V_OK */;
    if (ok) {
        k = wolfSSL_X509_get_pubkey(a);
        ok = k != NULL && wolfSSL_X509_verify(b, k) == WOLFSSL_SUCCESS;
        if (k) wolfSSL_EVP_PKEY_free(k);
    }
    lua_pushboolean(L, ok);
    return 1;
}

/* ---- the certificate builder (wc_MakeCert / wc_SignCert) ---- */
#if defined(WOLFSSL_CERT_GEN) && defined(WOLFSSL_CERT_EXT)

static int sig_type(lwl_Key *k) {
    switch (k->type) {
    case LWL_PK_RSA: return CTC_SHA256wRSA;
    case LWL_PK_EC: return wc_ecc_size(&k->u.ecc) > 32 ? CTC_SHA384wECDSA : CTC_SHA256wECDSA;
    case LWL_PK_ED25519: return CTC_ED25519;
    default: return 0;
    }
}

/* ASN.1 time of epoch seconds: UTCTime before 2050, else GeneralizedTime */
static int set_date(byte *out, long long t) {
    time_t tt = (time_t)t;
    struct tm tm;
    char s[20];
    if (gmtime_r(&tt, &tm) == NULL) return 0;
    if (tm.tm_year + 1900 < 2050 && tm.tm_year + 1900 >= 1950) {
        strftime(s, sizeof s, "%y%m%d%H%M%SZ", &tm);
        out[0] = ASN_UTC_TIME;
    } else {
        strftime(s, sizeof s, "%Y%m%d%H%M%SZ", &tm);
        out[0] = ASN_GENERALIZED_TIME;
    }
    out[1] = (byte)strlen(s);
    memcpy(out + 2, s, out[1]);
    return 2 + out[1];
}

/* The content of a DER SEQUENCE (a Name): wolfSSL's raw names are the
 * content without the header, NUL-terminated. 0 on success. */
static int set_raw_name(byte *dst, size_t cap, const unsigned char *der, size_t len) {
    size_t hdr, clen;
    if (len < 2 || der[0] != 0x30) return -1;
    if (der[1] < 0x80) { hdr = 2; clen = der[1]; }
    else if (der[1] == 0x81 && len >= 3) { hdr = 3; clen = der[2]; }
    else if (der[1] == 0x82 && len >= 4) { hdr = 4; clen = ((size_t)der[2] << 8) | der[3]; }
    else return -1;
    if (hdr + clen != len || clen + 1 > cap || memchr(der + hdr, 0, clen) != NULL) return -1;
    memset(dst, 0, cap);
    memcpy(dst, der + hdr, clen);
    return 0;
}

static const char *field_str(lua_State *L, int t, const char *k, size_t *len) {
    const char *s;
    lua_getfield(L, t, k);
    s = lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* the table keeps the string alive */
    return s;
}

/* core.x509_make(spec): spec is checked and prepared by wolfssl/x509.lua:
 * {csr=bool, subject_der=, key=pkey, issuer=x509|nil, issuer_key=pkey,
 *  serial=bytes|nil, not_before=, not_after=, altnames_der=|nil, ca=bool,
 *  path_len=|nil, key_usage="a,b"|nil, ext_key_usage="a,b"|nil, crl_der=|nil}
 * -> DER string | nil, msg */
static int x509_make(lua_State *L) {
    Cert *cert;
    lwl_Key key, ikey;
    lwl_Pkey *kp, *ikp = NULL;
    WOLFSSL_X509 *issuer = NULL;
    WC_RNG rng;
    size_t len;
    const char *s, *err = NULL;
    char errbuf[96];
    unsigned char *buf = NULL;
    word32 cap = 16384;
    int is_csr, r, ktype, iktype;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "csr");
    is_csr = lua_toboolean(L, -1);
    lua_getfield(L, 1, "key");
    kp = lwl_pkey_check(L, -1);
    lua_getfield(L, 1, "issuer_key");
    if (!lua_isnil(L, -1)) ikp = lwl_pkey_check(L, -1);
    lua_getfield(L, 1, "issuer");
    if (!lua_isnil(L, -1)) issuer = checkx509(L, -1);
    lua_pop(L, 4);
    if (ikp == NULL) ikp = kp;
    if (!ikp->priv) return lwl_fail(L, is_csr ? "key: a CSR is signed with a private key"
                                                : "issuer_key: a private key is needed to sign");
    cert = (Cert *)malloc(sizeof *cert);
    if (cert == NULL) return luaL_error(L, "out of memory");
    if (wc_InitCert(cert) != 0) {
        free(cert);
        return lwl_fail(L, "wc_InitCert failed");
    }
    if (lwl_key_decode(kp, &key) != 0) {
        free(cert);
        return lwl_fail(L, "key: cannot decode the key");
    }
    if (lwl_key_decode(ikp, &ikey) != 0) {
        lwl_key_free(&key);
        free(cert);
        return lwl_fail(L, "issuer_key: cannot decode the key");
    }
    ktype = lwl_key_certtype(&key);
    iktype = lwl_key_certtype(&ikey);
    cert->sigType = sig_type(&ikey);
    cert->keyType = key.type == LWL_PK_RSA ? RSA_KEY : key.type == LWL_PK_EC ? ECC_KEY : ED25519_KEY;

    s = field_str(L, 1, "subject_der", &len);
    if (s == NULL || set_raw_name(cert->sbjRaw, sizeof cert->sbjRaw, (const unsigned char *)s, len) != 0) {
        err = "subject: cannot encode the name";
        goto done;
    }
    if (!is_csr) {
        int dlen = 0;
        const unsigned char *ider = issuer ? wolfSSL_X509_get_der(issuer, &dlen) : NULL;
        lua_Integer nb, na;
        if (issuer) {
            if (ider == NULL || wc_SetIssuerRaw(cert, ider, dlen) != 0) {
                err = "issuer: cannot use its subject name";
                goto done;
            }
            cert->selfSigned = 0;
        } else {
            memcpy(cert->issRaw, cert->sbjRaw, sizeof cert->issRaw);
        }
        s = field_str(L, 1, "serial", &len);
        if (s && len > 0 && len <= CTC_SERIAL_SIZE) {
            memcpy(cert->serial, s, len);
            cert->serialSz = (int)len;
        }
        lua_getfield(L, 1, "not_before");
        lua_getfield(L, 1, "not_after");
        nb = lua_tointeger(L, -2);
        na = lua_tointeger(L, -1);
        lua_pop(L, 2);
        cert->beforeDateSz = set_date(cert->beforeDate, (long long)nb);
        cert->afterDateSz = set_date(cert->afterDate, (long long)na);
        lua_getfield(L, 1, "ca");
        cert->isCA = lua_toboolean(L, -1);
        lua_getfield(L, 1, "path_len");
        if (!lua_isnil(L, -1)) {
            cert->pathLen = (byte)lua_tointeger(L, -1);
            cert->pathLenSet = 1;
        }
        lua_pop(L, 2);
        cert->basicConstSet = 1; /* leaves say CA:FALSE explicitly (not critical: wolfCrypt cannot) */
        if (wc_SetSubjectKeyIdFromPublicKey_ex(cert, ktype, &key.u) != 0) {
            err = "key: cannot compute the subject key id";
            goto done;
        }
        if (issuer && ider)
            r = wc_SetAuthKeyIdFromCert(cert, ider, dlen);
        else
            r = wc_SetAuthKeyIdFromPublicKey_ex(cert, iktype, &ikey.u);
        if (r != 0) {
            err = "issuer: cannot compute the authority key id";
            goto done;
        }
        s = field_str(L, 1, "key_usage", &len);
        if (s && wc_SetKeyUsage(cert, s) != 0) {
            err = "key_usage: unknown usage name";
            goto done;
        }
        s = field_str(L, 1, "ext_key_usage", &len);
        if (s && wc_SetExtKeyUsage(cert, s) != 0) {
            err = "ext_key_usage: unknown usage name";
            goto done;
        }
    }
    s = field_str(L, 1, "crl_der", &len);
    if (s) {
#ifdef WOLFSSL_CERT_EXT
        if (len > sizeof cert->crlInfo) {
            err = "crl_url: too long";
            goto done;
        }
        memcpy(cert->crlInfo, s, len);
        cert->crlInfoSz = (int)len;
        cap += (word32)len;
#else
        err = "crl_url: not supported by this wolfSSL build";
        goto done;
#endif
    }
    s = field_str(L, 1, "altnames_der", &len);
    if (s) {
#ifdef WOLFSSL_ALT_NAMES
        if (len > sizeof cert->altNames) {
            err = "altnames: too many names";
            goto done;
        }
        memcpy(cert->altNames, s, len);
        cert->altNamesSz = (int)len;
        cap += (word32)len;
#else
        err = "altnames: not supported by this wolfSSL build";
        goto done;
#endif
    }
    buf = (unsigned char *)malloc(cap);
    if (buf == NULL || wc_InitRng(&rng) != 0) {
        err = "out of memory";
        goto done;
    }
    if (is_csr) {
#ifdef WOLFSSL_CERT_REQ
        cert->version = 0; /* PKCS#10 v1 (wc_InitCert's default is X.509 v3) */
        r = wc_MakeCertReq_ex(cert, buf, cap, ktype, &key.u);
#else
        r = -1;
        err = "CSRs are not supported by this wolfSSL build";
#endif
    } else {
        r = wc_MakeCert_ex(cert, buf, cap, ktype, &key.u, &rng);
    }
    if (r >= 0) r = wc_SignCert_ex(cert->bodySz, cert->sigType, buf, cap, iktype, &ikey.u, &rng);
    wc_FreeRng(&rng);
    if (r <= 0) {
        if (err == NULL) {
            snprintf(errbuf, sizeof errbuf, "%s failed (wolfCrypt error %d)",
                     is_csr ? "making the CSR" : "making the certificate", r);
            err = errbuf;
        }
        goto done;
    }
    lua_pushlstring(L, (const char *)buf, (size_t)r);
done:
    lwl_key_free(&key);
    lwl_key_free(&ikey);
    free(buf);
    free(cert);
    if (err) return lwl_fail(L, err);
    return 1;
}

/* core.csr_check(der) -> true | nil, msg: the CSR parses and its signature
 * verifies with its own key */
static int csr_check(lua_State *L) {
    size_t len;
    const unsigned char *der = (const unsigned char *)luaL_checklstring(L, 1, &len);
    DecodedCert *dc = (DecodedCert *)malloc(sizeof *dc);
    int r;
    if (dc == NULL) return luaL_error(L, "out of memory");
    wc_InitDecodedCert(dc, der, (word32)len, NULL);
    r = wc_ParseCert(dc, CERTREQ_TYPE, VERIFY, NULL);
    wc_FreeDecodedCert(dc);
    free(dc);
    if (r != 0) return lwl_fail(L, "not a valid CSR (or its signature does not verify)");
    lua_pushboolean(L, 1);
    return 1;
}
#endif

static int x509_gc(lua_State *L) {
    lwl_X509 *p = tox509(L, 1);
    if (p->x) {
        wolfSSL_X509_free(p->x);
        p->x = NULL;
    }
    return 0;
}

static int x509_eq(lua_State *L) {
    WOLFSSL_X509 *a = x509_test(L, 1), *b = x509_test(L, 2);
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
    {"check_host", x509_check_host}, {"is_ca", x509_is_ca},  {"pubkey", x509_pubkey},
    {"public_key", x509_public_key}, {"extensions", x509_extensions}, {"issued", x509_issued},
    {NULL, NULL}};

void lwl_x509_open(lua_State *L) {
    static const luaL_Reg meta[] = {{"__gc", x509_gc},
                                    {"__eq", x509_eq},
                                    {"__tostring", x509_tostring},
                                    {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"x509_load", x509_load},
#if defined(WOLFSSL_CERT_GEN) && defined(WOLFSSL_CERT_EXT)
                                     {"x509_make", x509_make},
                                     {"csr_check", csr_check},
#endif
                                     {NULL, NULL}};
    lwl_newmeta(L, LWL_X509, x509_methods, meta);
    luaL_newmetatable(L, "wolfssl.x509.name");
    lua_pushcfunction(L, name_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
