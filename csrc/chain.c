/* chain.c: the certificates the peer sent, for conn:peer_chain() on a
 * wolfSSL built without SESSION_CERTS.
 *
 * With SESSION_CERTS wolfSSL keeps the peer's chain itself, in fixed buffers
 * on every session (MAX_CHAIN_DEPTH x MAX_X509_SIZE, about 18 KiB, twice with
 * WOLFSSL_ALT_CERT_CHAINS) whether or not anybody asks for it. Without it the
 * binding keeps DER copies sized to the real chain: the verify callback (run
 * for every certificate the peer sends, whatever `verify` is, since
 * WOLFSSL_ALWAYS_VERIFY_CB) sees the whole list the peer sent in the store,
 * leaf first, and copies it once per chain delivery.
 *
 * Only full handshakes deliver a chain: on a resumed handshake the peer sends
 * no certificate and peer_chain() gives nil (wolfSSL's SESSION_CERTS instead
 * gives the chain saved in the session, when it has one). */
#include "lwolfssl.h"

#include <stdlib.h>
#include <string.h>

typedef struct ChainCert {
    unsigned char *der;
    int len;
} ChainCert;

struct lwl_Chain {
    int n, cap;
    int depth;  /* depth of the last verify callback: depths go N..0 per delivery */
    ChainCert certs[];
};

void lwl_chain_free(lwl_Conn *c) {
    struct lwl_Chain *ch = c->chain;
    int i;
    if (ch == NULL) return;
    c->chain = NULL;
    for (i = 0; i < ch->n; i++) free(ch->certs[i].der);
    free(ch);
}

/* Append a copy of one DER certificate. Returns 0 when out of memory. */
int lwl_chain_add(lwl_Conn *c, const unsigned char *der, int len) {
    struct lwl_Chain *ch = c->chain;
    unsigned char *copy;
    if (len <= 0) return 1;
    if (ch == NULL || ch->n == ch->cap) {
        int cap = ch ? ch->cap * 2 : 2;
        struct lwl_Chain *bigger =
            (struct lwl_Chain *)realloc(ch, sizeof *ch + (size_t)cap * sizeof(ChainCert));
        if (bigger == NULL) return 0;
        if (ch == NULL) {
            bigger->n = 0;
            bigger->depth = -1;
        }
        bigger->cap = cap;
        c->chain = ch = bigger;
    }
    copy = (unsigned char *)malloc((size_t)len);
    if (copy == NULL) return 0;
    memcpy(copy, der, (size_t)len);
    ch->certs[ch->n].der = copy;
    ch->certs[ch->n].len = len;
    ch->n++;
    return 1;
}

/* Called by the verify callback for each certificate of the peer's chain,
 * top first (depth N..0). The first call of a delivery (a depth not below
 * the previous one, or the top of the list) replaces what was kept: a new
 * handshake or post-handshake authentication brings a new chain. */
void lwl_chain_capture(lwl_Conn *c, WOLFSSL_X509_STORE_CTX *store) {
    int depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
    int total = store->totalCerts, i;
    struct lwl_Chain *ch = c->chain;
    if (store->certs == NULL || total <= 0) return; /* not a peer's chain */
    if (ch == NULL || depth >= ch->depth || depth == total - 1) {
        lwl_chain_free(c);
        ch = (struct lwl_Chain *)malloc(sizeof *ch + (size_t)total * sizeof(ChainCert));
        if (ch == NULL) return; /* out of memory: peer_chain() gives nil */
        ch->n = 0;
        ch->cap = total;
        c->chain = ch;
        for (i = 0; i < total; i++) {
            if (!lwl_chain_add(c, store->certs[i].buffer, (int)store->certs[i].length)) {
                lwl_chain_free(c); /* never a partial chain */
                return;
            }
        }
    }
    c->chain->depth = depth;
}

/* Pushes an array of new x509 objects (copies owned by Lua), leaf first, or nil */
int lwl_chain_push(lua_State *L, lwl_Conn *c) {
    struct lwl_Chain *ch = c->chain;
    int i;
    if (ch == NULL || ch->n == 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, ch->n, 0);
    for (i = 0; i < ch->n; i++) {
        lwl_x509_push_der(L, ch->certs[i].der, ch->certs[i].len);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}
