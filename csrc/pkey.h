/* pkey.h: the wolfssl.pkey userdata, shared by pkey.c and x509.c (builder). */
#ifndef LWL_PKEY_H
#define LWL_PKEY_H

#include "lwolfssl.h"

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

enum { LWL_PK_RSA = 1, LWL_PK_EC = 2, LWL_PK_ED25519 = 3 };

/* A key as canonical DER: PKCS#8 PrivateKeyInfo when priv, else
 * SubjectPublicKeyInfo. Decoded into wolfCrypt structures on demand. */
typedef struct lwl_Pkey {
    int type, priv, bits, curve; /* curve: wolfCrypt ecc_curve_id, EC only */
    unsigned char *der;          /* NULL once freed */
    int len;
} lwl_Pkey;

typedef struct lwl_Key {
    int type;
    union {
#ifndef NO_RSA
        RsaKey rsa;
#endif
#ifdef HAVE_ECC
        ecc_key ecc;
#endif
#ifdef HAVE_ED25519
        ed25519_key ed;
#endif
    } u;
} lwl_Key;

lwl_Pkey *lwl_pkey_check(lua_State *L, int idx);
/* Decode into k (0 on success); free with lwl_key_free. */
int lwl_key_decode(const lwl_Pkey *p, lwl_Key *k);
void lwl_key_free(lwl_Key *k);
/* wolfCrypt key type for wc_MakeCert_ex & co (RSA_TYPE, ECC_TYPE, ED25519_TYPE) */
int lwl_key_certtype(const lwl_Key *k);
/* Push a new pkey from DER (private PKCS#8/traditional or public SPKI);
 * returns 1, or pushes nothing and returns 0. */
int lwl_pkey_push_der(lua_State *L, const unsigned char *der, int len, int want_public);
/* An EC private key (DER) whose scalar is longer than its curve: wolfSSL
 * 5.5.4 overflows a buffer exporting it, so it is refused with this message. */
int lwl_ec_scalar_too_long(const unsigned char *der, int len);
#define LWL_EC_SCALAR_MSG "not a valid key (the EC private scalar is longer than the curve)"
/* pubkey() table of a key: {type=, bits=, curve=, pem=} */
void lwl_pkey_push_info(lua_State *L, lwl_Pkey *p);

#endif
