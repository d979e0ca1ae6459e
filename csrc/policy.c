/* policy.c: rules the binding adds to wolfSSL's server handshake.
 *
 * TLS 1.3: a ClientHello that lists none of our groups is refused ("no
 * shared key exchange group") before wolfSSL picks a key share.
 *
 * TLS 1.2 (RFC 8422 5.1): an ECDSA certificate is usable only on a curve the
 * client lists in supported_groups. wolfSSL 5.5.4 sends it anyway and the
 * client fails later ("wrong curve"). As OpenSSL does, such a ClientHello gets
 * no ECDSA suite, so the server answers handshake_failure ("no shared
 * cipher"). The groups come from our copy of the ClientHello record; the
 * decision is taken in the certificate callback, which wolfSSL runs right
 * before it chooses the suite. */
#define _GNU_SOURCE /* memmem */
#include "lwolfssl.h"

#include <string.h>
#include <stdlib.h>

enum { HAS_GROUPS = 1, P256 = 2, P384 = 4, P521 = 8, PARSED = 16, X25519 = 32, X448 = 64,
       FFDHE = 128, MLKEM_X25519 = 256, MLKEM_P256 = 512, MLKEM_P384 = 1024,
       OTHER_GROUP = 2048, EARLY_DATA = 4096 /* the early_data extension (early.c) */ };
#define GROUP_BITS (P256 | P384 | P521 | X25519 | X448 | FFDHE | MLKEM_X25519 | MLKEM_P256 | MLKEM_P384)

/* a group's bit by its TLS number */
static unsigned group_bit(unsigned g) {
    switch (g) {
    case 23: return P256;
    case 24: return P384;
    case 25: return P521;
    case 29: return X25519;
    case 30: return X448;
    case 4587: return MLKEM_P256;
    case 4588: return MLKEM_X25519;
    case 4589: return MLKEM_P384;
    default: return g >= 256 && g <= 260 ? FFDHE : OTHER_GROUP;
    }
}

unsigned lwl_group_bits(const char *list) {
    unsigned out = 0;
    while (*list) {
        size_t n = strcspn(list, ":");
        out |= group_bit(lwl_group_id(list, n)); /* unknown (0): OTHER_GROUP */
        list += n + (list[n] == ':');
    }
    return out;
}
#define MAX_RECORD (5 + 16384 + 256) /* largest record a peer may send before keys */

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

/* the supported_groups of a ClientHello body as HAS_GROUPS|P256|... (0: none
 * sent), EARLY_DATA; the first PSK binder goes to early.c's replay check */
static unsigned hello_groups(lwl_Conn *c, const unsigned char *p, size_t n) {
    size_t i = 2 + 32, end;
    unsigned out = 0;
    if (n < i + 1) return 0;
    i += 1 + p[i];                                 /* session id */
    if (n < i + 2) return 0;
    i += 2 + get16(p + i);                         /* cipher suites */
    if (n < i + 1) return 0;
    i += 1 + p[i];                                 /* compression methods */
    if (n < i + 2) return 0;
    end = i + 2 + get16(p + i);
    if (end > n) end = n;
    for (i += 2; i + 4 <= end; i += 4 + get16(p + i + 2)) {
        size_t len = get16(p + i + 2), j;
        if (get16(p + i) == 42) out |= EARLY_DATA;
        if (get16(p + i) == 41 /* pre_shared_key: identities, then binders */ && len >= 4 &&
            get16(p + i + 4) + 4u + 3u <= len) {
            size_t b = i + 4 + 2 + get16(p + i + 4) + 2; /* the first binder's length */
            if (b + 1 + p[b] <= i + 4 + len) lwl_early_binder(c, p + b + 1, p[b]);
        }
        if (get16(p + i) != 10 /* supported_groups */ || i + 4 + len > end || len < 2) continue;
        out |= HAS_GROUPS;
        for (j = i + 6; j + 2 <= i + 4 + len; j += 2) out |= group_bit(get16(p + j));
    }
    return out;
}

/* Every chunk a server receives before its handshake is done (conn.c's
 * io_recv): keep the first record until it is whole, then read the groups of
 * the ClientHello in it. wolfSSL's message callback never sees a ClientHello
 * that a TLS 1.3-capable server downgrades, hence our own copy. A hello that
 * does not fit in its first record is not checked. */
void lwl_policy_received(lwl_Conn *c, const unsigned char *buf, size_t n) {
    if (c->hello_groups & PARSED) return;
    for (;;) {
        size_t want = c->hello_len < 5 ? 5 : 5 + get16(c->hello + 3), take;
        if (c->hello_len >= 5 && (c->hello[0] != 22 || want > MAX_RECORD)) break; /* no hello */
        if (c->hello_len == want) break; /* whole */
        if (n == 0) return;                /* more to come */
        if (c->hello_len == 0 || c->hello_len == 5) { /* room for the header, then the record */
            unsigned char *p = (unsigned char *)realloc(c->hello, want);
            if (p == NULL) break;
            c->hello = p;
        }
        take = want - c->hello_len < n ? want - c->hello_len : n;
        memcpy(c->hello + c->hello_len, buf, take);
        c->hello_len += take;
        buf += take;
        n -= take;
    }
    c->hello_groups = PARSED;
    if (c->hello && c->hello[0] == 22 && c->hello_len >= 9 &&
        c->hello_len == 5u + get16(c->hello + 3) && c->hello[5] == 1 /* client_hello */) {
        size_t body = (size_t)c->hello[6] << 16 | (size_t)get16(c->hello + 7);
        if (9 + body <= c->hello_len) c->hello_groups |= hello_groups(c, c->hello + 9, body);
    }
    c->hello_early = (c->hello_groups & EARLY_DATA) != 0;
    lwl_policy_free(c);
}

void lwl_policy_free(lwl_Conn *c) {
    free(c->hello);
    c->hello = NULL;
}

/* which of P256/P384/P521 our certificate's key is on; 0 when not ECDSA */
static unsigned cert_curve(WOLFSSL *ssl) {
    static const unsigned char ec[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    static const unsigned char p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const unsigned char p384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
    static const unsigned char p521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};
    WOLFSSL_X509 *x = wolfSSL_get_certificate(ssl); /* owned by wolfSSL */
    unsigned char spki[1024];
    int n = (int)sizeof spki;
    if (x == NULL || wolfSSL_X509_get_pubkey_buffer(x, spki, &n) != WOLFSSL_SUCCESS || n <= 0 ||
        memmem(spki, (size_t)n, ec, sizeof ec) == NULL)
        return 0;
    if (memmem(spki, (size_t)n, p256, sizeof p256)) return P256;
    if (memmem(spki, (size_t)n, p384, sizeof p384)) return P384;
    if (memmem(spki, (size_t)n, p521, sizeof p521)) return P521;
    return 0;
}

static int on_certificate(WOLFSSL *ssl, void *arg) {
    lwl_Conn *c = lwl_conn_from_ssl(ssl);
    unsigned curve, ours;
    (void)arg;
#ifdef LWL_RENEG_FOLLOWED
    /* a ClientHello after the handshake: this wolfSSL would follow it
     * (wolfcompat.h); refused, fatal (errors.c words it) */
    if (c != NULL && c->done) return 0;
#endif
    if (c != NULL && wolfSSL_version(ssl) == TLS1_2_VERSION && !lwl_verify_staple_attach(c))
        return 0; /* out of memory: fails the handshake */
    if (c == NULL || !(c->hello_groups & HAS_GROUPS)) return 1;
    ours = c->ctx->group_bits;
    if (wolfSSL_version(ssl) == TLS1_3_VERSION) {
        /* TLS 1.3 with no group in common: refuse here, as 5.5.4 does. 5.9.2
         * would answer with a HelloRetryRequest for a group of its own that
         * the client never offered (tls.c TLSX_KeyShare_SetSupported) */
        if (ours != 0 && !(ours & OTHER_GROUP) && !(c->hello_groups & ours & GROUP_BITS)) {
            c->no_shared_group = 1;
            return 0;
        }
        return 1;
    }
    if (wolfSSL_version(ssl) != TLS1_2_VERSION) return 1;
    curve = cert_curve(ssl);
    if (curve == 0 || (c->hello_groups & curve)) return 1;
    /* No suite can use the certificate: keep only ECDHE-PSK ones (no
     * certificate), behind one that cannot match an EC key so that the list
     * is never empty. By number: the by-name call merges the context's list
     * back in (OpenSSL compatibility). */
    {
        static const unsigned char none[] = {0xc0, 0x2f /* ECDHE-RSA-AES128-GCM-SHA256 */,
                                             0xd0, 0x01 /* ECDHE-PSK-AES128-GCM-SHA256 */,
                                             0xcc, 0xac /* ECDHE-PSK-CHACHA20-POLY1305 */};
        if (wolfSSL_set_cipher_list_bytes(ssl, none, (int)sizeof none) != WOLFSSL_SUCCESS)
            return 0; /* fails the handshake (internal_error) rather than go on */
    }
    c->refused_curve = curve == P256 ? "P-256" : curve == P384 ? "P-384" : "P-521";
    return 1;
}

void lwl_policy_install(WOLFSSL_CTX *ctx) {
#ifdef OPENSSL_EXTRA
    wolfSSL_CTX_set_cert_cb(ctx, on_certificate, NULL);
#else
    (void)ctx;
#endif
}
