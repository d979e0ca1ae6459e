/* hostname.c: does a certificate name a host? x509:check_host and the
 * client's hostname check, on every release: wolfSSL's matcher reads past the
 * host for wildcards it cannot place before 5.9.2 (PR 10119), and from 5.9.2
 * lets a bare "*" match; ours gives the same answer everywhere. */
#include "lwolfssl.h"

#include <wolfssl/openssl/x509v3.h>
#include <arpa/inet.h>
#include <string.h>

/* An IP address (v4 or v6, any text form) against the iPAddress SANs;
 * -1 when name is not an address. */
static int match_ip(WOLFSSL_X509 *x, const char *name) {
    unsigned char want[16];
    int i, n, wlen, ok = 0;
    WOLFSSL_GENERAL_NAMES *names;
    if (inet_pton(AF_INET, name, want) == 1) wlen = 4;
    else if (inet_pton(AF_INET6, name, want) == 1) wlen = 16;
    else return -1;
    names = (WOLFSSL_GENERAL_NAMES *)wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    n = names ? wolfSSL_sk_GENERAL_NAME_num(names) : 0;
    for (i = 0; i < n && !ok; i++) {
        WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);
        if (g && g->type == GEN_IPADD && wolfSSL_ASN1_STRING_length(g->d.ia5) == wlen &&
            memcmp(wolfSSL_ASN1_STRING_data(g->d.ia5), want, (size_t)wlen) == 0)
            ok = 1;
    }
    if (names) wolfSSL_GENERAL_NAMES_free(names);
    return ok;
}

static int same(const char *a, const char *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return 0;
    }
    return 1;
}

/* A DNS name from a certificate against a host, case-insensitively. A
 * wildcard is one '*' in the leftmost label, with at least one label after
 * it, standing for characters of one host label ("*.example.com",
 * "w*.example.com"); anything else with a '*' is malformed and never
 * matches (wolfSSL 5.5.4 reads past the host for those, and lets "*" or
 * "*.*.example" match). */
static int match_dns(const char *pat, size_t plen, const char *host) {
    size_t hlen = strlen(host), pre, post, label, rest;
    const char *star = (const char *)memchr(pat, '*', plen);
    const char *dot = (const char *)memchr(pat, '.', plen);
    const char *hdot = strchr(host, '.');
    if (plen == 0 || memchr(pat, 0, plen) != NULL) return 0;
    if (star == NULL) return plen == hlen && same(pat, host, plen);
    if (dot == NULL || star > dot || dot + 1 == pat + plen ||
        memchr(star + 1, '*', plen - (size_t)(star + 1 - pat)) != NULL)
        return 0;
    if (hdot == NULL || hdot == host) return 0;
    rest = plen - (size_t)(dot - pat);  /* ".example.com" */
    label = (size_t)(hdot - host);      /* the host label the '*' is in */
    pre = (size_t)(star - pat);
    post = (size_t)(dot - star - 1);
    return hlen - label == rest && same(dot, hdot, rest) && label >= pre + post &&
           same(pat, host, pre) && same(star + 1, hdot - post, post);
}

/* The DNS alt-names, or the CN when there are no alt-names (as wolfSSL). */
static int match_name(WOLFSSL_X509 *x, const char *host) {
    WOLFSSL_GENERAL_NAMES *names =
        (WOLFSSL_GENERAL_NAMES *)wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int i, n = names ? wolfSSL_sk_GENERAL_NAME_num(names) : 0, ok = 0;
    for (i = 0; i < n && !ok; i++) {
        WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);
        if (g && g->type == GEN_DNS)
            ok = match_dns((const char *)wolfSSL_ASN1_STRING_data(g->d.dNSName),
                           (size_t)wolfSSL_ASN1_STRING_length(g->d.dNSName), host);
    }
    if (names) wolfSSL_GENERAL_NAMES_free(names);
    if (n == 0) {
        char cn[256];
        int len = wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(x),
                                                    NID_commonName, cn, (int)sizeof cn);
        ok = len > 0 && match_dns(cn, (size_t)len, host);
    }
    return ok;
}

int lwl_check_host(WOLFSSL_X509 *x, const char *host, size_t len) {
    int ok;
    if (len == 0 || strlen(host) != len) return 0; /* no name hides behind a NUL */
    ok = match_ip(x, host);
    if (ok >= 0) return ok;
    return match_name(x, host);
}
