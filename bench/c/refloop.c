/* refloop.c: lua-wolfssl's C reference loop.
 *
 * The same work as the binding's memory mode, in plain C: two WOLFSSL objects
 * (client and server) in one process, custom I/O callbacks moving bytes through
 * growable byte queues (the same queue code as csrc/util.c: append on send,
 * consume on receive, memory given back when a queue empties), handshakes
 * stepped in turn exactly like spec/helpers.lua H.handshake. What the binding
 * costs on top of this loop is the binding's overhead.
 *
 *   refloop CERTDIR hs    tls13-ecdsa|tls13-rsa|tls12-ecdsa SECONDS   -> handshakes/s
 *   refloop CERTDIR resume tls13|tls12 SECONDS                         -> handshakes/s
 *   refloop CERTDIR bulk  aesgcm|chacha SECONDS                         -> MB/s (1e6 bytes)
 *   refloop CERTDIR heap  NPAIRS       -> heap bytes per established pair, RSS KiB per 1000 connections
 *   refloop CERTDIR scale NPAIRS SECONDS -> handshakes/s with NPAIRS open, heap per pair
 *
 * Each prints one line of numbers (the driver parses it). SECONDS are CPU
 * seconds (BENCH_CLOCK=wall for wall time); a negative SECONDS is a fixed
 * count of iterations (for callgrind). The client verifies the server (CA +
 * host name "localhost", SNI sent), as the binding's default client does.
 * Groups "X25519:P-256" (X25519 key share; P-256 listed so TLS 1.2 peers
 * accept the ECDSA P-256 certificate); TLS 1.2 suite ECDHE-ECDSA-AES128-GCM-SHA256.
 * Sessions and tickets at the library defaults, as the binding's.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfio.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- byte queues: the same logic as csrc/util.c (lwl_buf_*) ---- */

typedef struct Buf {
    unsigned char *p;
    size_t head, len, cap;
} Buf;

static int buf_append(Buf *b, const void *data, size_t n) {
    if (b->head + b->len + n > b->cap) {
        if (b->head > 0) {
            memmove(b->p, b->p + b->head, b->len);
            b->head = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            unsigned char *p;
            while (cap < b->len + n) cap *= 2;
            p = (unsigned char *)realloc(b->p, cap);
            if (p == NULL) return 0;
            b->p = p;
            b->cap = cap;
        }
    }
    memcpy(b->p + b->head + b->len, data, n);
    b->len += n;
    return 1;
}

static void buf_consume(Buf *b, size_t n) {
    b->head += n;
    b->len -= n;
    if (b->len == 0) {
        free(b->p);
        b->p = NULL;
        b->head = b->cap = 0;
    }
}

typedef struct End {
    WOLFSSL *ssl;
    Buf in, out;
} End;

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ud) {
    End *e = (End *)ud;
    (void)ssl;
    if (e->in.len == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
    if ((size_t)sz > e->in.len) sz = (int)e->in.len;
    memcpy(buf, e->in.p + e->in.head, (size_t)sz);
    buf_consume(&e->in, (size_t)sz);
    return sz;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ud) {
    End *e = (End *)ud;
    (void)ssl;
    if (!buf_append(&e->out, buf, (size_t)sz)) return WOLFSSL_CBIO_ERR_GENERAL;
    return sz;
}

/* drain one end's output into the other's input (the binding's drain + feed) */
static void move(End *from, End *to) {
    if (from->out.len == 0) return;
    if (!buf_append(&to->in, from->out.p + from->out.head, from->out.len)) abort();
    buf_consume(&from->out, from->out.len);
}

static void die(const char *what) {
    fprintf(stderr, "refloop: %s\n", what);
    exit(1);
}

/* CPU time of the process by default (BENCH_CLOCK=wall for wall time): on a
 * shared machine other processes then hardly move the numbers. This loop never
 * waits, so on an idle machine both clocks agree. */
static double now(void) {
    static int wall = -1;
    struct timespec ts;
    if (wall < 0) wall = getenv("BENCH_CLOCK") && strcmp(getenv("BENCH_CLOCK"), "wall") == 0;
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* SECONDS < 0 means a fixed count of -SECONDS iterations (for callgrind) */
static int more(long n, double t0, double *t, double secs) {
    *t = now();
    return secs < 0 ? n < (long)-secs : *t - t0 < secs;
}

static const char *certdir;
static char pathbuf[1024];
static const char *path(const char *name) {
    snprintf(pathbuf, sizeof pathbuf, "%s/%s", certdir, name);
    return pathbuf;
}

/* ---- contexts ---- */

typedef struct Kind {
    const char *name;
    const char *cert, *key, *ca;
    int tls12;
    const char *groups; /* NULL: "X25519:P-256" */
} Kind;

static const Kind KINDS[] = {
    {"tls13-ecdsa", "server.pem", "server.key", "ca.pem", 0, NULL},
    {"tls13-rsa", "rsa-server.pem", "rsa-server.key", "rsa-ca.pem", 0, NULL},
    {"tls12-ecdsa", "server.pem", "server.key", "ca.pem", 1, NULL},
    /* bench/common.lua KINDS: the TLS 1.3 ECDSA handshake over other groups */
    {"tls13-p256", "server.pem", "server.key", "ca.pem", 0, "P-256"},
    {"tls13-mlkem", "server.pem", "server.key", "ca.pem", 0, "X25519MLKEM768:X25519"},
    {"tls13", "server.pem", "server.key", "ca.pem", 0, NULL},
    {"tls12", "server.pem", "server.key", "ca.pem", 1, NULL},
    {NULL, NULL, NULL, NULL, 0, NULL}};

static const Kind *kind_of(const char *name) {
    const Kind *k;
    for (k = KINDS; k->name; k++)
        if (strcmp(k->name, name) == 0) return k;
    die("unknown kind");
    return NULL;
}

static WOLFSSL_CTX *sctx, *cctx;
static const Kind *kind; /* of the contexts made last */

#define BINDING_SUITES                                                                   \
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"      \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                           \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                           \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static void make_contexts(const Kind *k, const char *suites) {
    int v = k->tls12 ? WOLFSSL_TLSV1_2 : WOLFSSL_TLSV1_3;
    char groups[64]; /* set1_groups_list takes a char * */
    kind = k;
    snprintf(groups, sizeof groups, "%s", k->groups ? k->groups : "X25519:P-256");
    sctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    cctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (!sctx || !cctx) die("CTX_new");
    /* both allow 1.2..1.3 like the binding; the client caps the version */
    wolfSSL_CTX_SetMinVersion(sctx, WOLFSSL_TLSV1_2);
    wolfSSL_CTX_SetMinVersion(cctx, WOLFSSL_TLSV1_2);
    if (k->tls12 && wolfSSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION) != WOLFSSL_SUCCESS)
        die("max version");
    (void)v;
    if (wolfSSL_CTX_use_certificate_chain_file(sctx, path(k->cert)) != WOLFSSL_SUCCESS)
        die("server certificate");
    if (wolfSSL_CTX_use_PrivateKey_file(sctx, path(k->key), WOLFSSL_FILETYPE_PEM) !=
        WOLFSSL_SUCCESS)
        die("server key");
    if (wolfSSL_CTX_load_verify_locations(cctx, path(k->ca), NULL) != WOLFSSL_SUCCESS)
        die("client CA");
    wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_PEER, NULL);
    wolfSSL_CTX_set_verify(sctx, WOLFSSL_VERIFY_NONE, NULL);
#ifdef HAVE_SESSION_TICKET
    wolfSSL_CTX_UseSessionTicket(cctx); /* as the binding's default (tickets on) */
#endif
    /* as the binding's groups option does (csrc/context.c set_groups) */
    if ((wolfSSL_CTX_set1_curves_list(cctx, groups) != WOLFSSL_SUCCESS &&
         wolfSSL_CTX_set1_groups_list(cctx, groups) != WOLFSSL_SUCCESS) ||
        (wolfSSL_CTX_set1_curves_list(sctx, groups) != WOLFSSL_SUCCESS &&
         wolfSSL_CTX_set1_groups_list(sctx, groups) != WOLFSSL_SUCCESS))
        die("groups");
    /* the binding's default lists (lua/wolfssl/options.lua DEFAULT_TLS13_SUITES
     * and DEFAULT_TLS12_CIPHERS), not wolfSSL's: 5.9.2's own order makes
     * TLS 1.3 pick AES-256-GCM-SHA384, so that both would not do the same work */
    if (!suites) suites = BINDING_SUITES;
    if (wolfSSL_CTX_set_cipher_list(cctx, k->tls12 ? "ECDHE-ECDSA-AES128-GCM-SHA256" : suites) !=
            WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(sctx, suites) != WOLFSSL_SUCCESS)
        die("cipher list");
}

static void end_init(End *e, WOLFSSL_CTX *ctx) {
    memset(e, 0, sizeof *e);
    e->ssl = wolfSSL_new(ctx);
    if (e->ssl == NULL) die("wolfSSL_new");
    wolfSSL_SSLSetIORecv(e->ssl, io_recv);
    wolfSSL_SSLSetIOSend(e->ssl, io_send);
    wolfSSL_SetIOReadCtx(e->ssl, e);
    wolfSSL_SetIOWriteCtx(e->ssl, e);
}

static void end_free(End *e) {
    wolfSSL_free(e->ssl);
    free(e->in.p);
    free(e->out.p);
    memset(e, 0, sizeof *e);
}

typedef struct Pair {
    End c, s;
} Pair;

/* H.handshake: client step, move, server step, move, until both are done */
static void handshake(Pair *p) {
    int cdone = 0, sdone = 0, round;
    for (round = 0; round < 50; round++) {
        if (!cdone) {
            int r = wolfSSL_connect(p->c.ssl);
            if (r == WOLFSSL_SUCCESS) cdone = 1;
            else {
                int e = wolfSSL_get_error(p->c.ssl, r);
                if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
                    fprintf(stderr, "client error %d\n", e);
                    die("client handshake failed");
                }
            }
        }
        move(&p->c, &p->s);
        if (!sdone) {
            int r = wolfSSL_accept(p->s.ssl);
            if (r == WOLFSSL_SUCCESS) sdone = 1;
            else {
                int e = wolfSSL_get_error(p->s.ssl, r);
                if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
                    fprintf(stderr, "server error %d\n", e);
                    die("server handshake failed");
                }
            }
        }
        move(&p->s, &p->c);
        if (cdone && sdone) return;
    }
    die("handshake did not finish");
}

static void pair_new(Pair *p, WOLFSSL_SESSION *sess) {
    end_init(&p->c, cctx);
    end_init(&p->s, sctx);
    /* as ctx:new{server_name = "localhost"}: SNI sent, host name checked */
#ifdef HAVE_SNI
    if (wolfSSL_UseSNI(p->c.ssl, WOLFSSL_SNI_HOST_NAME, "localhost", 9) != WOLFSSL_SUCCESS)
        die("sni");
#endif
    if (wolfSSL_check_domain_name(p->c.ssl, "localhost") != WOLFSSL_SUCCESS) die("domain");
    /* a hybrid first: key shares for it and the next group, as the binding's
     * client sends them (csrc/context.c pick_key_shares, conn.c) */
    if (kind->groups && strncmp(kind->groups, "X25519MLKEM768:X25519", 21) == 0 &&
        (wolfSSL_UseKeyShare(p->c.ssl, 4588 /* X25519MLKEM768, TLS code point */) != WOLFSSL_SUCCESS ||
         wolfSSL_UseKeyShare(p->c.ssl, WOLFSSL_ECC_X25519) != WOLFSSL_SUCCESS))
        die("key shares");
    if (sess && wolfSSL_set_session(p->c.ssl, sess) != WOLFSSL_SUCCESS) die("set_session");
}

static void pair_free(Pair *p) {
    end_free(&p->c);
    end_free(&p->s);
}

/* the client reads once: processes NewSessionTicket (TLS 1.3), no data */
static void client_poll(Pair *p) {
    char b[64];
    int r = wolfSSL_read(p->c.ssl, b, sizeof b);
    if (r > 0) die("unexpected data");
}

/* ---- measurements ---- */

static void run_hs(const Kind *k, double secs) {
    double t0, t;
    long n = 0;
    Pair p;
    make_contexts(k, NULL);
    t0 = now();
    do {
        pair_new(&p, NULL);
        handshake(&p);
        if (n == 0 && getenv("REFLOOP_VERBOSE"))
            fprintf(stderr, "%s %s %s\n", wolfSSL_get_version(p.c.ssl),
                    wolfSSL_get_cipher(p.c.ssl), wolfSSL_get_curve_name(p.c.ssl));
        pair_free(&p);
        n++;
    } while (more(n, t0, &t, secs));
    printf("%.1f\n", n / (t - t0));
}

static void run_resume(const Kind *k, double secs) {
    double t0, t;
    long n = 0;
    Pair p;
    WOLFSSL_SESSION *sess;
    make_contexts(k, NULL);
    pair_new(&p, NULL);
    handshake(&p);
    client_poll(&p);
    sess = wolfSSL_get1_session(p.c.ssl);
    if (sess == NULL) die("no session");
    pair_free(&p);
    t0 = now();
    do {
        pair_new(&p, sess);
        handshake(&p);
        if (!wolfSSL_session_reused(p.c.ssl)) die("not resumed");
        pair_free(&p);
        n++;
    } while (more(n, t0, &t, secs));
    wolfSSL_SESSION_free(sess);
    printf("%.1f\n", n / (t - t0));
}

static void run_bulk(const char *cipher, double secs) {
    static char data[16384], got[16384];
    const char *suite = strcmp(cipher, "aesgcm") == 0 ? "TLS13-AES128-GCM-SHA256"
                        : strcmp(cipher, "chacha") == 0 ? "TLS13-CHACHA20-POLY1305-SHA256"
                                                        : NULL;
    double t0, t;
    double bytes = 0;
    long n = 0;
    Pair p;
    if (suite == NULL) die("bulk: aesgcm or chacha");
    memset(data, 'x', sizeof data);
    make_contexts(kind_of("tls13-ecdsa"), suite);
    pair_new(&p, NULL);
    handshake(&p);
    t0 = now();
    do {
        int i;
        for (i = 0; i < 16; i++) {
            int r = wolfSSL_write(p.c.ssl, data, sizeof data);
            if (r != (int)sizeof data) die("write");
            move(&p.c, &p.s);
            for (;;) {
                r = wolfSSL_read(p.s.ssl, got, sizeof got);
                if (r <= 0) break;
                bytes += r;
            }
        }
        n++;
    } while (more(n, t0, &t, secs));
    pair_free(&p);
    printf("%.1f\n", bytes / 1e6 / (t - t0));
}

static size_t heap_now(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
    fclose(f);
    return v;
}

/* N established, idle pairs (client has read its tickets) */
static Pair *open_pairs(long n) {
    Pair *ps = (Pair *)calloc((size_t)n, sizeof *ps);
    long i;
    if (!ps) die("calloc");
    for (i = 0; i < n; i++) {
        pair_new(&ps[i], NULL);
        handshake(&ps[i]);
        client_poll(&ps[i]);
    }
    return ps;
}

static void run_heap(long n) {
    size_t h0, h1;
    long r0, r1;
    Pair warm, *ps;
    long i;
    make_contexts(kind_of("tls13-ecdsa"), NULL);
    pair_new(&warm, NULL); /* lazy library state is allocated once, not per pair */
    handshake(&warm);
    client_poll(&warm);
    pair_free(&warm);
    malloc_trim(0);
    h0 = heap_now();
    r0 = rss_kib();
    ps = (Pair *)malloc(1); /* the array itself is counted out below */
    free(ps);
    ps = open_pairs(n);
    h1 = heap_now() - (size_t)n * sizeof *ps;
    r1 = rss_kib();
    /* heap bytes per pair, RSS KiB per 1000 connections (2 per pair) */
    printf("%.0f %.0f\n", (double)(h1 - h0) / n, (double)(r1 - r0) * 1000.0 / (2.0 * n));
    for (i = 0; i < n; i++) pair_free(&ps[i]);
    free(ps);
}

static void run_scale(long n, double secs) {
    size_t h0, h1;
    Pair warm, *ps, p;
    long i, k = 0;
    double t0, t;
    make_contexts(kind_of("tls13-ecdsa"), NULL);
    pair_new(&warm, NULL);
    handshake(&warm);
    client_poll(&warm);
    pair_free(&warm);
    h0 = heap_now();
    ps = open_pairs(n);
    h1 = heap_now() - (size_t)n * sizeof *ps;
    t0 = now();
    do {
        pair_new(&p, NULL);
        handshake(&p);
        pair_free(&p);
        k++;
    } while (more(k, t0, &t, secs));
    printf("%.1f %.0f\n", k / (t - t0), (double)(h1 - h0) / n);
    for (i = 0; i < n; i++) pair_free(&ps[i]);
    free(ps);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: refloop CERTDIR hs|resume|bulk|heap|scale ARG [SECONDS]\n");
        return 2;
    }
    certdir = argv[1];
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) die("wolfSSL_Init");
    if (strcmp(argv[2], "hs") == 0 && argc == 5)
        run_hs(kind_of(argv[3]), atof(argv[4]));
    else if (strcmp(argv[2], "resume") == 0 && argc == 5)
        run_resume(kind_of(argv[3]), atof(argv[4]));
    else if (strcmp(argv[2], "bulk") == 0 && argc == 5)
        run_bulk(argv[3], atof(argv[4]));
    else if (strcmp(argv[2], "heap") == 0)
        run_heap(atol(argv[3]));
    else if (strcmp(argv[2], "scale") == 0 && argc == 5)
        run_scale(atol(argv[3]), atof(argv[4]));
    else
        die("bad arguments");
    if (cctx) wolfSSL_CTX_free(cctx);
    if (sctx) wolfSSL_CTX_free(sctx);
    wolfSSL_Cleanup();
    return 0;
}
