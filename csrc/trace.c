/* trace.c: the records a connection sends and receives, for on_message,
 * on_state and keylog.
 *
 * conn.c's I/O callbacks hand every chunk of bytes to lwl_trace_io (only when
 * c->trace is set, i.e. the context has on_message, on_state or keylog). Here
 * the chunks are cut into TLS records and queued in C: no Lua runs inside
 * wolfSSL's I/O callbacks. When the method call that entered wolfSSL is about
 * to return, conn.c calls lwl_trace_flush, which hands the queued records to
 * the Lua dispatcher (the context's uservalue `_on_record`, installed by
 * wolfssl/trace.lua) through lwl_callback: protected, errors stored in
 * conn:last_error() and reported by the method.
 *
 * Where the build has the traffic secrets (LWL_DECRYPT: TLS 1.3 secret
 * callback; LWL_DECRYPT12: the TLS 1.2 PRF), trace_open/trace_open12 decrypt a
 * copy of the handshake records for the dispatcher; elsewhere encrypted
 * records are passed on with their length only and the dispatcher reports
 * their messages from the connection's state, marked inferred. Every copy of
 * a secret or of decrypted bytes is wiped (lwl_wipe). */
#include "lwolfssl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* TLS 1.3 decryption of a copy of the records needs the traffic secrets */
#if defined(HAVE_SECRET_CALLBACK) && defined(WOLFSSL_TLS13)
#define LWL_DECRYPT 1
#include <wolfssl/wolfcrypt/kdf.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>
#ifdef HAVE_AESGCM
#include <wolfssl/wolfcrypt/aes.h>
#endif
#if defined(HAVE_CHACHA) && defined(HAVE_POLY1305)
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#endif
#define KEYLOG_MAX 8
#define KEYLOG_LINE 200
#endif

/* TLS 1.2 Finished: the key block from the master secret (TLS PRF), AEAD suites */
#include <wolfssl/wolfcrypt/kdf.h>
#if defined(WOLFSSL_HAVE_PRF) && (defined(OPENSSL_EXTRA) || defined(WOLFSSL_EXTRA)) && \
    (defined(HAVE_AESGCM) || (defined(HAVE_CHACHA) && defined(HAVE_POLY1305)))
#define LWL_DECRYPT12 1
#include <wolfssl/wolfcrypt/hash.h>
#ifdef HAVE_AESGCM
#include <wolfssl/wolfcrypt/aes.h>
#endif
#if defined(HAVE_CHACHA) && defined(HAVE_POLY1305)
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#endif
#endif

#define MAX_QUEUED (4u << 20) /* records waiting for Lua: beyond, they are dropped */

typedef struct Rec {
    struct Rec *next;
    unsigned char dir, ct;
    unsigned short version;
    size_t length;  /* length on the wire */
    size_t size;    /* bytes kept in data (0 for encrypted application records) */
    unsigned long skip; /* application records of this direction counted, not queued, before it */
    unsigned char dtls;  /* DTLS: 1 a record with the 13-byte header, 2 DTLS 1.3's unified header */
    unsigned char hl;    /* unified header: its length (data holds it, then the body) */
    unsigned short epoch; /* DTLS: the epoch (unified header: its low 2 bits) */
    unsigned long long seq; /* DTLS: the sequence number (unified header: its low bits, encrypted) */
    unsigned char data[1];
} Rec;

typedef struct Chunk { /* bytes as they crossed the transport, for a capture */
    struct Chunk *next;
    unsigned char dir;
    size_t len;
    unsigned char data[1];
} Chunk;

typedef struct Acc { /* bytes of one direction not yet cut into records */
    unsigned char *p;
    size_t len, cap;
} Acc;

typedef struct Trace {
    int records;          /* capture records (on_message / on_state set) */
    int capture;          /* keep every byte too, in order (wolfssl.trace.pcap) */
    Chunk *wire, *wire_tail;
    Acc acc[2];
    Rec *head, *tail;
    size_t queued;
    unsigned dropped;
    int done_seen, fail_seen, ticket_seen;
    size_t call_sent;     /* bytes sent since the last flush (this method call) */
    /* Once the handshake is done, application records are counted, not
     * handed to Lua (nothing to report, and decrypting them to find the rare
     * post-handshake message cost 10x the TLS work): `skipped` counts them per
     * direction (received, sent) since the last record queued in that
     * direction (which carries the count before it, Rec.skip), for the
     * decryptor's sequence numbers. Lua
     * still gets the received ones while it waits for a post-handshake
     * message (`armed`: a ticket, a KeyUpdate answer, a client's certificate)
     * and those of a call that answered one (it sent a record outside write). */
    unsigned long skipped[2];
    int bulk;             /* inside wolfSSL_write, sending only data */
    int hold;             /* a post-handshake message waits for the next write */
    int armed;
    int alerts;           /* alert history seen at the last flush (a changed one goes to Lua) */
    char step[64];
#ifdef LWL_DECRYPT
    /* secrets by wolfSSL's Tls13Secret id: early, client/server handshake,
     * client/server application (generation 0) */
    unsigned char secret[5][64];
    unsigned char secret_len[5];
    unsigned char app[2][64]; /* current application secret, client and server */
    int app_gen[2];           /* its generation (KeyUpdate count); -1 none yet */
    char keylog[KEYLOG_MAX][KEYLOG_LINE];
    int nkeylog;
#ifdef LWL_ECH
    unsigned char ech_secret[64]; /* ECH: the HPKE shared secret and the ECHConfig */
    unsigned char ech_secret_len; /* of the last ClientHello encrypted or decrypted */
    unsigned char *ech_config;    /* (for lwl_trace_ech, ech.c) */
    size_t ech_config_len;
#endif
#endif
} Trace;

static void acc_free(Acc *a) {
    free(a->p);
    memset(a, 0, sizeof *a);
}

static void queue_free(Trace *t) {
    Rec *r = t->head;
    while (r) {
        Rec *next = r->next;
        free(r);
        r = next;
    }
    t->head = t->tail = NULL;
    t->queued = 0;
}

static void wire_free(Trace *t) {
    Chunk *k = t->wire;
    while (k) {
        Chunk *next = k->next;
        free(k);
        k = next;
    }
    t->wire = t->wire_tail = NULL;
}

void lwl_trace_free(lwl_Conn *c) {
    Trace *t = (Trace *)c->trace;
    if (t == NULL) return;
    c->trace = NULL;
    if (c->step == t->step) c->step = NULL;
    acc_free(&t->acc[0]);
    acc_free(&t->acc[1]);
    queue_free(t);
    wire_free(t);
#if defined(LWL_DECRYPT) && defined(LWL_ECH)
    free(t->ech_config);
#endif
    lwl_wipe(t, sizeof *t); /* traffic secrets, key log lines */
    free(t);
}

/* ECH (ech.c decrypts a copy of the encrypted ClientHello with them): the HPKE
 * shared secret and the ECHConfig wolfSSL handed the secret callback; 0 when
 * the connection has not seen them (not traced, no ECH, no secret callback). */
int lwl_trace_ech(lwl_Conn *c, const unsigned char **secret, size_t *slen,
                  const unsigned char **config, size_t *clen) {
#if defined(LWL_DECRYPT) && defined(LWL_ECH)
    Trace *t = (Trace *)c->trace;
    if (t == NULL || t->ech_secret_len == 0 || t->ech_config == NULL) return 0;
    *secret = t->ech_secret;
    *slen = t->ech_secret_len;
    *config = t->ech_config;
    *clen = t->ech_config_len;
    return 1;
#else
    (void)c; (void)secret; (void)slen; (void)config; (void)clen;
    return 0;
#endif
}

#ifdef LWL_DECRYPT
static const char hexdigits[] = "0123456789abcdef";

/* wolfSSL hands us each TLS 1.3 secret as it derives it (inside wolfSSL: no
 * Lua here; the key log lines are queued for the next flush). */
static int secret_cb(WOLFSSL *ssl, int id, const unsigned char *secret, int len, void *ud) {
    static const char *const labels[] = {
        "CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0", "EARLY_EXPORTER_SECRET", "EXPORTER_SECRET"};
    lwl_Conn *c = (lwl_Conn *)ud;
    Trace *t = c ? (Trace *)c->trace : NULL;
#ifdef LWL_ECH
    if (t != NULL && secret != NULL && len > 0 && (id == ECH_SECRET || id == ECH_CONFIG)) {
        if (id == ECH_SECRET && len <= 64) {
            memcpy(t->ech_secret, secret, (size_t)len);
            t->ech_secret_len = (unsigned char)len;
        } else if (id == ECH_CONFIG) {
            unsigned char *copy = (unsigned char *)malloc((size_t)len);
            if (copy == NULL) return 0; /* the trace goes without it */
            memcpy(copy, secret, (size_t)len);
            free(t->ech_config);
            t->ech_config = copy;
            t->ech_config_len = (size_t)len;
        }
        return 0;
    }
#endif
    if (t == NULL || secret == NULL || len <= 0 || len > 64 || id < 0 || id > 6) return 0;
    if (id <= 4) {
        memcpy(t->secret[id], secret, (size_t)len);
        t->secret_len[id] = (unsigned char)len;
        if (id >= 3) {
            memcpy(t->app[id - 3], secret, (size_t)len);
            t->app_gen[id - 3] = 0;
        }
    }
    if ((c->ctx->callbacks & LWL_CB_KEYLOG) && t->nkeylog < KEYLOG_MAX) {
        unsigned char cr[32];
        char *line = t->keylog[t->nkeylog];
        size_t o, i;
        if (wolfSSL_get_client_random(ssl, cr, sizeof cr) != 32) return 0;
        o = (size_t)snprintf(line, KEYLOG_LINE, "%s ", labels[id]);
        for (i = 0; i < 32 && o + 2 < KEYLOG_LINE; i++) {
            line[o++] = hexdigits[cr[i] >> 4];
            line[o++] = hexdigits[cr[i] & 15];
        }
        line[o++] = ' ';
        for (i = 0; i < (size_t)len && o + 2 < KEYLOG_LINE; i++) {
            line[o++] = hexdigits[secret[i] >> 4];
            line[o++] = hexdigits[secret[i] & 15];
        }
        line[o] = '\0';
        t->nkeylog++;
    }
    return 0;
}
#endif

/* Called by conn_new: start tracing when the context asks for it. */
int lwl_trace_attach(lwl_Conn *c) {
    unsigned want = c->ctx ? c->ctx->callbacks : 0;
    Trace *t;
    if (c->trace) return 1;
    if (!(want & (LWL_CB_MESSAGE | LWL_CB_STATE | LWL_CB_KEYLOG))) return 1;
    t = (Trace *)calloc(1, sizeof *t);
    if (t == NULL) return 0;
    t->records = (want & (LWL_CB_MESSAGE | LWL_CB_STATE)) != 0;
    c->trace = t;
    /* the client random outlives the handshake only if asked (TLS 1.2 key log);
     * freed once the line is made */
    if (want & LWL_CB_KEYLOG) wolfSSL_KeepArrays(c->ssl);
#ifdef LWL_DECRYPT
    t->app_gen[0] = t->app_gen[1] = -1;
    wolfSSL_set_tls13_secret_cb(c->ssl, secret_cb, c);
#endif
    return 1;
}

static void enqueue(Trace *t, int dir, const unsigned char *rec, size_t len, int keep) {
    size_t size = keep ? len - 5 : 0;
    Rec *r;
    if (t->queued + size > MAX_QUEUED) {
        t->dropped++;
        return;
    }
    r = (Rec *)malloc(sizeof *r + size);
    if (r == NULL) {
        t->dropped++;
        return;
    }
    r->next = NULL;
    r->skip = t->skipped[dir];
    t->skipped[dir] = 0;
    r->dtls = 0;
    r->hl = 0;
    r->dir = (unsigned char)dir;
    r->ct = rec[0];
    r->version = (unsigned short)(rec[1] << 8 | rec[2]);
    r->length = len - 5;
    r->size = size;
    if (size) memcpy(r->data, rec + 5, size);
    if (t->tail) t->tail->next = r; else t->head = r;
    t->tail = r;
    t->queued += size;
}

/* DTLS: one datagram, cut into its records (RFC 6347 4.1: type, version,
 * epoch, sequence number, length; RFC 9147 4: the unified header
 * 001CSLEE, then an 8- or 16-bit sequence number and the length if L; the
 * header is kept with the body: the decryptor needs it).
 * Application data after the handshake is counted, not queued; DTLS 1.3
 * records after it (protected: their kind is unknown here) are queued when
 * small (ACKs, KeyUpdate, alerts) or while Lua waits for one (armed). */
#define DTLS13_SMALL 128
static void dtls_records(lwl_Conn *c, Trace *t, int dir, const unsigned char *p, size_t n) {
    while (n > 0) {
        size_t hl, rl;
        Rec *r;
        unsigned char ct, kind;
        unsigned short version = 0, epoch;
        unsigned long long seq = 0;
        if ((p[0] & 0xe0) == 0x20) { /* unified header (DTLS 1.3 ciphertext) */
            int cid = p[0] & 0x10, s16 = p[0] & 0x08, haslen = p[0] & 0x04;
            if (cid) return; /* (no connection ids here) */
            hl = 1 + (s16 ? 2 : 1);
            if (n < hl + (haslen ? 2 : 0)) return;
            seq = s16 ? (unsigned)(p[1] << 8 | p[2]) : p[1];
            rl = haslen ? (size_t)(p[hl] << 8 | p[hl + 1]) : n - hl;
            if (haslen) hl += 2;
            ct = 23;
            kind = 2;
            epoch = p[0] & 3;
        } else {
            int k;
            if (n < 13) return;
            hl = 13;
            rl = (size_t)p[11] << 8 | p[12];
            ct = p[0];
            kind = 1;
            version = (unsigned short)(p[1] << 8 | p[2]);
            epoch = (unsigned short)(p[3] << 8 | p[4]);
            for (k = 5; k < 11; k++) seq = seq << 8 | p[k];
        }
        if (hl + rl > n) return; /* a cut datagram: the rest is not records */
        if (ct == 23 && t->done_seen &&
            !(kind == 2 ? t->armed || rl <= DTLS13_SMALL : t->armed && dir == 0)) {
            t->skipped[dir]++;
        } else if (t->queued + hl + rl <= MAX_QUEUED &&
                   (r = (Rec *)malloc(sizeof *r + hl + rl)) != NULL) {
            r->next = NULL;
            r->skip = t->skipped[dir];
            t->skipped[dir] = 0;
            r->dir = (unsigned char)dir;
            r->ct = ct;
            r->version = version;
            r->length = rl;
            r->size = rl;
            r->dtls = kind;
            r->hl = kind == 2 ? (unsigned char)hl : 0;
            r->epoch = epoch;
            r->seq = seq;
            memcpy(r->data, p + hl - r->hl, r->hl + rl);
            if (t->tail) t->tail->next = r; else t->head = r;
            t->tail = r;
            t->queued += r->hl + rl;
        } else {
            t->dropped++;
        }
        p += hl + rl;
        n -= hl + rl;
    }
    (void)c;
}

void lwl_trace_io(lwl_Conn *c, int dir, const unsigned char *buf, int n) {
    Trace *t = (Trace *)c->trace;
    Acc *a;
    size_t pos = 0;
    if (t == NULL || n <= 0 || dir < 0 || dir > 1) return;
    if (dir == 1) t->call_sent += (size_t)n;
    if (t->capture) {
        Chunk *k = (Chunk *)malloc(sizeof *k + (size_t)n);
        if (k == NULL) {
            t->dropped++;
        } else {
            k->next = NULL;
            k->dir = (unsigned char)dir;
            k->len = (size_t)n;
            memcpy(k->data, buf, (size_t)n);
            if (t->wire_tail) t->wire_tail->next = k; else t->wire = k;
            t->wire_tail = k;
        }
    }
    if (!t->records) return;
    if (c->dtls) { /* each call moves one datagram */
        dtls_records(c, t, dir, buf, (size_t)n);
        return;
    }
    a = &t->acc[dir];
    if (a->len + (size_t)n > a->cap) {
        size_t cap = a->cap ? a->cap : 1024;
        unsigned char *p;
        while (cap < a->len + (size_t)n) cap *= 2;
        p = (unsigned char *)realloc(a->p, cap);
        if (p == NULL) { /* out of memory: lose the stream, not the connection */
            t->dropped++;
            a->len = 0;
            return;
        }
        a->p = p;
        a->cap = cap;
    }
    memcpy(a->p + a->len, buf, (size_t)n);
    a->len += (size_t)n;
    while (a->len - pos >= 5) {
        const unsigned char *h = a->p + pos;
        size_t rl = (size_t)h[3] << 8 | h[4];
        int keep;
        if (a->len - pos < 5 + rl) break;
        /* encrypted application records: length only (no copy of bulk data) */
        keep = !(h[0] == 23);
#ifdef LWL_DECRYPT
        /* a copy to decrypt: the handshake, and small records after it
         * (tickets, KeyUpdate); bulk application data is not copied */
        if (h[0] == 23 && (rl <= 2048 || !wolfSSL_is_init_finished(c->ssl))) keep = 1;
#endif
        if (h[0] == 23 && dir == 1 && t->bulk && t->done_seen) t->skipped[1]++; /* written data */
        else enqueue(t, dir, h, 5 + rl, keep);
        pos += 5 + rl;
    }
    if (pos > 0) {
        memmove(a->p, a->p + pos, a->len - pos);
        a->len -= pos;
    }
    if (a->len == 0) acc_free(a);
}

/* ---- delivery to Lua ---- */

typedef struct Flush {
    lwl_Conn *c;
    Trace *t;
    int ret, err, done, failed, ticket, newly_done;
    size_t count;
} Flush;

static void push_keylog12(lua_State *L, lwl_Conn *c) {
    unsigned char cr[32], mk[64];
    WOLFSSL_SESSION *s = wolfSSL_get_session(c->ssl);
    size_t n = wolfSSL_get_client_random(c->ssl, cr, sizeof cr);
    int m = s ? wolfSSL_SESSION_get_master_key(s, mk, sizeof mk) : 0;
    char line[13 + 64 + 1 + 128 + 1];
    static const char hexd[] = "0123456789abcdef";
    size_t i, o;
    if (n != 32 || m <= 0 || m > 64) return;
    memcpy(line, "CLIENT_RANDOM ", 14);
    o = 14;
    for (i = 0; i < 32; i++) {
        line[o++] = hexd[cr[i] >> 4];
        line[o++] = hexd[cr[i] & 15];
    }
    line[o++] = ' ';
    for (i = 0; i < (size_t)m; i++) {
        line[o++] = hexd[mk[i] >> 4];
        line[o++] = hexd[mk[i] & 15];
    }
    lua_pushlstring(L, line, o);
    lua_setfield(L, -2, "keylog");
}

/* _on_record(conn, records, info) */
static int flush_push(lua_State *L, void *ud) {
    Flush *f = (Flush *)ud;
    Trace *t = f->t;
    Rec *r;
    size_t i = 0;
    lua_createtable(L, (int)f->count, 0);
    for (r = t->head; r; r = r->next) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, r->dir ? "sent" : "received");
        lua_setfield(L, -2, "direction");
        lwl_pushint(L, r->ct);
        lua_setfield(L, -2, "content_type");
        lwl_pushint(L, r->version);
        lua_setfield(L, -2, "version");
        lwl_pushint(L, r->length);
        lua_setfield(L, -2, "length");
        if (r->skip) {
            lwl_pushint(L, r->skip);
            lua_setfield(L, -2, "skipped");
        }
        if (r->size || r->ct != 23) {
            lua_pushlstring(L, (const char *)r->data + r->hl, r->size);
            lua_setfield(L, -2, "data");
        }
        if (r->dtls) { /* epoch and sequence number; unified: encrypted = true */
            lwl_pushint(L, r->epoch);
            lua_setfield(L, -2, "epoch");
            lua_pushnumber(L, (lua_Number)r->seq);
            lua_setfield(L, -2, "sequence");
            if (r->dtls == 2) {
                lua_pushboolean(L, 1);
                lua_setfield(L, -2, "unified");
                lua_pushlstring(L, (const char *)r->data, r->hl);
                lua_setfield(L, -2, "header");
            }
        }
        lua_rawseti(L, -2, (int)++i);
    }
    lua_createtable(L, 0, 10);
    lua_pushboolean(L, f->done);
    lua_setfield(L, -2, "done");
    lua_pushboolean(L, f->c->is_server);
    lua_setfield(L, -2, "is_server");
    if (f->c->dtls) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "dtls");
    }
    if (f->failed) {
        lwl_pushint(L, f->err);
        lua_setfield(L, -2, "error");
    }
    {
        WOLFSSL_ALERT_HISTORY h;
        if (wolfSSL_get_alert_history(f->c->ssl, &h) == WOLFSSL_SUCCESS) {
            if (h.last_tx.code >= 0) {
                lwl_pushint(L, h.last_tx.code);
                lua_setfield(L, -2, "alert_sent");
                lwl_pushint(L, h.last_tx.level);
                lua_setfield(L, -2, "alert_sent_level");
            }
            if (h.last_rx.code >= 0) {
                lwl_pushint(L, h.last_rx.code);
                lua_setfield(L, -2, "alert_received");
                lwl_pushint(L, h.last_rx.level);
                lua_setfield(L, -2, "alert_received_level");
            }
        }
    }
    if (f->ticket) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "ticket");
    }
    if (t->skipped[0] || t->skipped[1]) {
        lwl_pushint(L, t->skipped[0]);
        lua_setfield(L, -2, "skipped_received");
        lwl_pushint(L, t->skipped[1]);
        lua_setfield(L, -2, "skipped_sent");
        t->skipped[0] = t->skipped[1] = 0;
    }
    if (t->wire) { /* info.wire = {{direction=, data=}, ...} in transport order */
        Chunk *k;
        int n = 0;
        lua_newtable(L);
        for (k = t->wire; k; k = k->next) {
            lua_createtable(L, 0, 2);
            lua_pushstring(L, k->dir ? "sent" : "received");
            lua_setfield(L, -2, "direction");
            lua_pushlstring(L, (const char *)k->data, k->len);
            lua_setfield(L, -2, "data");
            lua_rawseti(L, -2, ++n);
        }
        lua_setfield(L, -2, "wire");
        wire_free(t);
    }
    if (t->dropped) {
        lwl_pushint(L, t->dropped);
        lua_setfield(L, -2, "dropped");
        t->dropped = 0;
    }
    {
        int v = wolfSSL_version(f->c->ssl); /* 0x0303, 0x0304 */
        lwl_pushint(L, v);
        lua_setfield(L, -2, "version");
#ifdef LWL_DECRYPT
        if (f->t->nkeylog > 0) {
            int k;
            lua_createtable(L, f->t->nkeylog, 0);
            for (k = 0; k < f->t->nkeylog; k++) {
                lua_pushstring(L, f->t->keylog[k]);
                lua_rawseti(L, -2, k + 1);
            }
            lua_setfield(L, -2, "keylog_lines");
            lwl_wipe(f->t->keylog, sizeof f->t->keylog);
            f->t->nkeylog = 0;
        }
#endif
        if (f->done && (f->c->ctx->callbacks & LWL_CB_KEYLOG) && f->newly_done) {
            if (v == TLS1_2_VERSION || v == DTLS1_2_VERSION) push_keylog12(L, f->c);
            /* the handshake secrets stay: export_keying_material needs them */
        }
    }
    return 2;
}


void lwl_trace_bulk(lwl_Conn *c, int on) {
    Trace *t = (Trace *)c->trace;
    if (t == NULL) return;
    if (on < 0) t->hold = 1;           /* it goes out with the next write: */
    else if (on) t->bulk = !t->hold;   /* that write is not only data */
    else t->bulk = t->hold = 0;
}

/* After the handshake: take the application records out of the queue (into
 * `skipped`) unless Lua may need them to find a post-handshake message. */
static void drop_application(lwl_Conn *c, Trace *t) {
    WOLFSSL_ALERT_HISTORY h;
    Rec **p = &t->head, *r;
    unsigned long carry[2] = {0, 0};
    int alerts = 0, tls13 = wolfSSL_version(c->ssl) == TLS1_3_VERSION;
    if (c->dtls) return; /* (dtls_records chose already) */
    if (wolfSSL_get_alert_history(c->ssl, &h) == WOLFSSL_SUCCESS)
        alerts = (h.last_rx.code + 1) * 1024 + h.last_tx.code + 1;
    if (alerts != t->alerts) { /* an encrypted alert may be among them */
        t->alerts = alerts;
        return;
    }
    if (tls13 && t->armed) return;
    for (r = t->head; r && tls13; r = r->next)
        if (r->dir == 1 && r->ct == 23) return; /* we answered something */
    while ((r = *p) != NULL) {
        if (r->ct == 23) {
            *p = r->next;
            carry[r->dir] += r->skip + 1;
            t->queued -= r->size;
            free(r);
        } else {
            r->skip += carry[r->dir];
            carry[r->dir] = 0;
            p = &r->next;
        }
    }
    t->skipped[0] += carry[0]; /* after the last record kept */
    t->skipped[1] += carry[1];
    t->tail = NULL;
    for (r = t->head; r; r = r->next) t->tail = r;
}

/* Deliver what was queued. ret is what the wolfSSL call returned. Returns
 * -1 when the Lua side raised (the error is in last_error), else 0. */
int lwl_trace_flush(lwl_Conn *c, int ret, size_t *withdraw) {
    Trace *t = (Trace *)c->trace;
    Flush f;
    Rec *r;
    int rc, was_done;
    size_t call_sent;
    *withdraw = 0;
    if (t == NULL) return 0;
    call_sent = t->call_sent;
    t->call_sent = 0;
    if (c->ssl == NULL || c->L == NULL || c->cb_error) return c->cb_error ? -1 : 0;
    memset(&f, 0, sizeof f);
    f.c = c;
    f.t = t;
    f.ret = ret;
    f.done = wolfSSL_is_init_finished(c->ssl) ? 1 : 0;
    if (ret <= 0) {
        f.err = lwl_get_error(c->ssl, ret);
        f.failed = f.err != WOLFSSL_ERROR_NONE && f.err != WOLFSSL_ERROR_WANT_READ &&
                   f.err != WOLFSSL_ERROR_WANT_WRITE && f.err != WOLFSSL_ERROR_ZERO_RETURN;
    }
    if (f.done && !c->is_server) {
        WOLFSSL_SESSION *s = wolfSSL_get_session(c->ssl);
        f.ticket = s && wolfSSL_SESSION_has_ticket(s) && !t->ticket_seen;
    }
    if (t->done_seen && !f.failed) drop_application(c, t);
    for (r = t->head; r; r = r->next) f.count++;
    if (f.count == 0 && !(f.done && !t->done_seen) && !(f.failed && !t->fail_seen) && !f.ticket &&
        t->wire == NULL
#ifdef LWL_DECRYPT
        && t->nkeylog == 0
#endif
    )
        return 0;
    was_done = t->done_seen;
    f.newly_done = f.done && !was_done;
    if (f.done) t->done_seen = 1;
    if (f.failed) t->fail_seen = 1;
    if (f.ticket) t->ticket_seen = 1;
    if (f.done) c->done = 1; /* so version(), cipher()... answer inside the callbacks */
    rc = lwl_callback(c, "_on_record", flush_push, NULL, 0, &f);
    queue_free(t);
    wire_free(t); /* not handed over (the callback could not be called) */
    if (rc < 0) {
        if (!was_done) c->done = 0; /* failed, not established: handshake() says so again */
        /* name the user's callback (trace.lua notes which one runs) */
        lua_State *L = c->L;
        if (lua_checkstack(L, 4)) {
            lwl_conn_uv(L, c->self);
            lua_getfield(L, -1, "trace");
            lua_getfield(L, -2, "last_error");
            if (lua_istable(L, -2) && lua_istable(L, -1)) {
                lua_getfield(L, -2, "current");
                if (lua_isstring(L, -1)) lua_setfield(L, -2, "callback"); else lua_pop(L, 1);
            }
            lua_pop(L, 3);
        }
        if (was_done) return -1;
        *withdraw = call_sent;
        return -2;
    }
    return 0;
}

/* core.trace_step(conn, name): what conn:state() says until the next step */
static int trace_step(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    Trace *t = (Trace *)c->trace;
    if (t == NULL) return 0;
    if (n >= sizeof t->step) n = sizeof t->step - 1;
    memcpy(t->step, s, n);
    t->step[n] = '\0';
    c->step = t->step;
    return 0;
}

/* core.trace_state(conn) -> the table the dispatcher keeps per connection
 * (in the connection's uservalue, so it dies with the connection) */
static int trace_state(lua_State *L) {
    lwl_checkconn(L, 1);
    lwl_conn_uv(L, 1);
    lua_getfield(L, -1, "trace");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "trace");
    }
    return 1;
}

/* core.trace_arm(conn, on): Lua waits for a post-handshake message from the peer */
static int trace_arm(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (c->trace) ((Trace *)c->trace)->armed = lua_toboolean(L, 2);
    return 0;
}

/* core.trace_context(conn) -> the context in force (its uservalue holds the
 * callbacks) */
static int trace_context(lua_State *L) {
    lwl_checkconn(L, 1);
    lwl_conn_get(L, 1, LWL_UV_CTX);
    return 1;
}

/* core.trace_own_certificate(conn) -> our own certificate (x509) or nil */
static int trace_own_certificate(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
#if defined(OPENSSL_EXTRA) || defined(OPENSSL_ALL) || defined(KEEP_OUR_CERT)
    WOLFSSL_X509 *x = wolfSSL_get_certificate(c->ssl); /* owned by the WOLFSSL/CTX */
    if (x != NULL) {
        int len = 0;
        const unsigned char *der = wolfSSL_X509_get_der(x, &len);
        if (der && len > 0) {
            lwl_x509_push_der(L, der, len);
            return 1;
        }
    }
#else
    (void)c;
#endif
    return 0;
}

/* the connection's Trace, made if it has none (a connection made before
 * trace.attach / trace.pcap) */
static Trace *trace_of(lua_State *L, lwl_Conn *c) {
    Trace *t = (Trace *)c->trace;
    if (t == NULL) {
        t = (Trace *)calloc(1, sizeof *t);
        if (t == NULL) luaL_error(L, "out of memory");
        c->trace = t;
#ifdef LWL_DECRYPT
        t->app_gen[0] = t->app_gen[1] = -1;
        wolfSSL_set_tls13_secret_cb(c->ssl, secret_cb, c);
#endif
    }
    return t;
}

/* core.trace_enable(conn): trace a connection made before trace.attach */
static int trace_enable(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    trace_of(L, c)->records = 1;
    lua_pushboolean(L, c->nrecv == 0 && !c->done); /* false: records were missed */
    return 1;
}

/* core.trace_capture(conn, on) -> true, dtls | false when bytes went by already:
 * from now on every byte the connection sends and receives goes to the
 * dispatcher too (info.wire), its records traced. on = false stops it.
 * dtls: the connection moves datagrams. */
static int trace_capture(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    Trace *t;
    if (!lua_toboolean(L, 2)) {
        if (c->trace) {
            ((Trace *)c->trace)->capture = 0;
            wire_free((Trace *)c->trace);
        }
        return 0;
    }
    if (c->nrecv != 0 || c->nsent != 0 || c->done) {
        lua_pushboolean(L, 0);
        return 1;
    }
    t = trace_of(L, c);
    t->records = 1;
    t->capture = 1;
    lua_pushboolean(L, 1);
    lua_pushboolean(L, c->dtls);
    return 2;
}

/* core.trace_secrets(conn) -> {label = bytes}: the secrets the connection
 * derived so far, by their NSS key log labels: TLS 1.3 traffic secrets (builds
 * with the secret callback), the TLS 1.2 master secret (MASTER_SECRET). */
static int trace_secrets(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    Trace *t = (Trace *)c->trace;
    lua_newtable(L);
    if (t == NULL || c->ssl == NULL) return 1;
#ifdef LWL_DECRYPT
    {
        static const char *const labels[] = {
            "CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"};
        int id;
        for (id = 0; id < 5; id++) {
            if (t->secret_len[id] == 0) continue;
            lua_pushlstring(L, (const char *)t->secret[id], t->secret_len[id]);
            lua_setfield(L, -2, labels[id]);
        }
    }
#endif
    if (wolfSSL_version(c->ssl) != TLS1_3_VERSION && wolfSSL_version(c->ssl) != DTLS1_3_VERSION) {
        unsigned char ms[48], *hms = NULL, *hsr = NULL, *hcr = NULL;
        unsigned int hmsl = 0, hsrl = 0, hcrl = 0;
        WOLFSSL_SESSION *s;
        int m = 0;
        if (wolfSSL_get_keys(c->ssl, &hms, &hmsl, &hsr, &hsrl, &hcr, &hcrl) == WOLFSSL_SUCCESS &&
            hms != NULL && hmsl == sizeof ms) {
            memcpy(ms, hms, sizeof ms);
            m = (int)sizeof ms;
        } else if ((s = wolfSSL_get_session(c->ssl)) != NULL) {
            m = wolfSSL_SESSION_get_master_key(s, ms, sizeof ms);
        }
        /* before the key exchange the buffer holds zeros, not a secret */
        if (m == (int)sizeof ms) {
            int i, zero = 1;
            for (i = 0; i < m; i++) zero &= ms[i] == 0;
            if (!zero) {
                lua_pushlstring(L, (const char *)ms, sizeof ms);
                lua_setfield(L, -2, "MASTER_SECRET");
            }
        }
        lwl_wipe(ms, sizeof ms);
    }
    return 1;
}

#ifdef LWL_DECRYPT
/* The context is empty: "" rather than NULL, since wolfSSL memcpy()s it even
 * when its length is 0 (undefined for NULL; UBSan stops the fuzzers on it).
 * DTLS 1.3 labels begin "dtls13" where TLS 1.3's begin "tls13 " (RFC 9147 5.9). */
static int expand_label(lwl_Conn *c, const unsigned char *secret, int slen, const char *label,
                        unsigned char *out, int olen, int digest) {
    return wc_Tls13_HKDF_Expand_Label(out, (word32)olen, secret, (word32)slen,
                                      (const byte *)(c->dtls ? "dtls13" : "tls13 "), 6,
                                      (const byte *)label, (word32)strlen(label),
                                      (const byte *)"", 0, digest);
}

/* The TLS 1.3 suite's hash and key length; 0 for a suite the trace cannot open */
static int suite13(lwl_Conn *c, int *digest, int *keylen) {
    int suite = wolfSSL_get_current_cipher_suite(c->ssl);
    switch (suite) {
    case 0x1301: *digest = WC_SHA256; *keylen = 16; return suite;
    case 0x1302: *digest = WC_SHA384; *keylen = 32; return suite;
    case 0x1303: *digest = WC_SHA256; *keylen = 32; return suite;
    default: return 0;
    }
}

/* The sender's traffic secret for epoch "early", "handshake" or
 * "application" (generation gen: KeyUpdates so far, derived on into buf from
 * the last generation kept: trace_open keeps it once a record opens with it,
 * so a forged record does not move the trace on). NULL and *why when there
 * is none; raises for a bad epoch name (argument 3). */
static const unsigned char *traffic_secret(lua_State *L, lwl_Conn *c, Trace *t, int from_client,
                                           const char *epoch, int gen, int digest, int *slen,
                                           const char **why, unsigned char buf[64]) {
    const unsigned char *secret;
    *why = "no traffic secret yet";
    if (strcmp(epoch, "early") == 0) { /* 0-RTT: the client's early traffic secret */
        if (!from_client) {
            *why = "only the client sends early data";
            return NULL;
        }
        secret = t->secret[0];
        *slen = t->secret_len[0];
    } else if (strcmp(epoch, "handshake") == 0) {
        int id = from_client ? 1 : 2;
        secret = t->secret[id];
        *slen = t->secret_len[id];
    } else if (strcmp(epoch, "application") == 0) {
        int side = from_client ? 0 : 1, g;
        if (t->app_gen[side] < 0) {
            *why = "no application secret yet";
            return NULL;
        }
        *slen = t->secret_len[3 + side];
        if (gen < t->app_gen[side]) {
            *why = "old key generation";
            return NULL;
        }
        memcpy(buf, t->app[side], 64);
        for (g = t->app_gen[side]; g < gen; g++) { /* KeyUpdate: next generation */
            unsigned char next[64];
            if (expand_label(c, buf, *slen, "traffic upd", next, *slen, digest) != 0) {
                *why = "key update derivation failed";
                return NULL;
            }
            memcpy(buf, next, (size_t)*slen);
            lwl_wipe(next, sizeof next);
        }
        secret = buf;
    } else {
        luaL_argerror(L, 3, "expected \"early\", \"handshake\" or \"application\"");
        return NULL;
    }
    return *slen ? secret : NULL;
}
#endif

#if defined(LWL_DECRYPT) || defined(LWL_DECRYPT12)
/* Open one AEAD record body (n bytes, then its 16-byte tag) into out with a
 * 12-byte nonce: ChaCha20-Poly1305 or AES-GCM. 1 when it authenticates. */
static int aead_open(int chacha, const unsigned char *key, int keylen, const unsigned char *nonce,
                     const unsigned char *aad, int aadlen, const unsigned char *body, size_t n,
                     unsigned char *out) {
    int ok = 0;
    if (chacha) {
#if defined(HAVE_CHACHA) && defined(HAVE_POLY1305)
        ok = wc_ChaCha20Poly1305_Decrypt(key, nonce, aad, (word32)aadlen, body, (word32)n, body + n,
                                         out) == 0;
#endif
    } else {
#ifdef HAVE_AESGCM
        Aes aes;
        if (wc_AesInit(&aes, NULL, INVALID_DEVID) == 0) {
            ok = wc_AesGcmSetKey(&aes, key, (word32)keylen) == 0 &&
                 wc_AesGcmDecrypt(&aes, out, body, (word32)n, nonce, 12, body + n, 16, aad,
                                  (word32)aadlen) == 0;
            wc_AesFree(&aes);
        }
#endif
    }
    (void)keylen;
    return ok;
}
#endif

/* core.trace_open(conn, from_client, epoch, generation, seq, record [, hlen]) ->
 * plaintext, inner content type | nil, why.
 * Decrypts a copy of one TLS 1.3 record (header included) with the traffic
 * secret of the sender for epoch "early" (the client's 0-RTT records),
 * "handshake" or "application" (generation =
 * KeyUpdates so far); seq is the record's sequence number in that epoch.
 * DTLS 1.3: hlen is the length of the unified header, the additional data
 * (with its sequence number in clear: RFC 9147 4); TLS: 5. */
static int trace_open(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    int from_client = lua_toboolean(L, 2);
    const char *epoch = luaL_checkstring(L, 3);
    int gen = (int)luaL_checkinteger(L, 4);
    lua_Integer seq = luaL_checkinteger(L, 5);
    size_t len;
    const unsigned char *rec = (const unsigned char *)luaL_checklstring(L, 6, &len);
    size_t hl = (size_t)luaL_optinteger(L, 7, 5);
#ifdef LWL_DECRYPT
    Trace *t = (Trace *)c->trace;
    const unsigned char *secret;
    const char *why;
    int slen = 0, digest, keylen, suite, i, ok = 0;
    unsigned char key[32], iv[12], buf[64], *out;
    size_t n, plain;
    if (t == NULL) return lwl_fail(L, "connection is not traced");
    if (hl > len || len - hl < 17) return lwl_fail(L, "record too short");
    if (!(suite = suite13(c, &digest, &keylen)))
        return lwl_fail(L, "cipher suite not supported by the trace decoder");
    secret = traffic_secret(L, c, t, from_client, epoch, gen, digest, &slen, &why, buf);
    if (secret == NULL) return lwl_wipe(buf, sizeof buf), lwl_fail(L, why);
    if (expand_label(c, secret, slen, "key", key, keylen, digest) != 0 ||
        expand_label(c, secret, slen, "iv", iv, 12, digest) != 0) {
        lwl_wipe(buf, sizeof buf);
        return lwl_fail(L, "key derivation failed");
    }
    for (i = 0; i < 8; i++) iv[11 - i] ^= (unsigned char)((unsigned long long)seq >> (8 * i));
    n = len - hl - 16;
    out = (unsigned char *)malloc(n ? n : 1);
    if (out == NULL) return luaL_error(L, "out of memory");
    ok = aead_open(suite == 0x1303, key, keylen, iv, rec, (int)hl, rec + hl, n, out);
    if (ok && secret == buf && gen > t->app_gen[from_client ? 0 : 1]) { /* the new generation */
        memcpy(t->app[from_client ? 0 : 1], buf, sizeof buf);
        t->app_gen[from_client ? 0 : 1] = gen;
    }
    lwl_wipe(buf, sizeof buf);
    lwl_wipe(key, sizeof key);
    lwl_wipe(iv, sizeof iv);
    if (!ok) {
        lwl_wipe_free(out, n ? n : 1);
        return lwl_fail(L, "record does not decrypt (wrong key or sequence)");
    }
    plain = n;
    while (n > 0 && out[n - 1] == 0) n--; /* TLSInnerPlaintext padding */
    if (n == 0) {
        lwl_wipe_free(out, plain ? plain : 1);
        return lwl_fail(L, "record has no content type");
    }
    lua_pushlstring(L, (const char *)out, n - 1);
    lwl_pushint(L, out[n - 1]);
    lwl_wipe_free(out, plain);
    return 2;
#else
    (void)c; (void)from_client; (void)epoch; (void)gen; (void)seq; (void)rec; (void)len; (void)hl;
    return luaL_error(L, "decrypting the trace is not supported by this wolfSSL build "
                         "(no HAVE_SECRET_CALLBACK; see wolfssl.features.msg_trace_decrypted)");
#endif
}

/* core.trace_sn_mask(conn, from_client, epoch, generation, sample) -> mask | nil, why.
 * DTLS 1.3 record number encryption (RFC 9147 4.2.3): the 16 bytes that mask
 * a record's sequence number bits, from the first 16 bytes of its ciphertext
 * (sample) and the sender's sn_key = HKDF-Expand-Label(traffic secret, "sn",
 * "", key length): AES-ECB(sn_key, sample), or ChaCha20 keyed with sn_key,
 * counter sample[0..3] (little endian) and nonce sample[4..15], over zeros. */
static int trace_sn_mask(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    int from_client = lua_toboolean(L, 2);
    const char *epoch = luaL_checkstring(L, 3);
    int gen = (int)luaL_checkinteger(L, 4);
    size_t len;
    const unsigned char *sample = (const unsigned char *)luaL_checklstring(L, 5, &len);
#if defined(LWL_DECRYPT) && defined(WOLFSSL_DTLS13)
    Trace *t = (Trace *)c->trace;
    const unsigned char *secret;
    const char *why;
    int slen = 0, digest, keylen, suite, ok = 0, i;
    unsigned char key[32], mask[16], buf[64];
    if (t == NULL) return lwl_fail(L, "connection is not traced");
    if (len < 16) return luaL_argerror(L, 5, "16 bytes of ciphertext expected");
    if (!(suite = suite13(c, &digest, &keylen)))
        return lwl_fail(L, "cipher suite not supported by the trace decoder");
    secret = traffic_secret(L, c, t, from_client, epoch, gen, digest, &slen, &why, buf);
    i = secret == NULL ? -1 : expand_label(c, secret, slen, "sn", key, keylen, digest);
    lwl_wipe(buf, sizeof buf);
    if (secret == NULL) return lwl_fail(L, why);
    if (i != 0) return lwl_fail(L, "sn key derivation failed");
    memset(mask, 0, sizeof mask);
    if (suite == 0x1303) {
#ifdef HAVE_CHACHA
        ChaCha cha;
        word32 counter = (word32)sample[0] | (word32)sample[1] << 8 | (word32)sample[2] << 16 |
                         (word32)sample[3] << 24;
        ok = wc_Chacha_SetKey(&cha, key, (word32)keylen) == 0 &&
             wc_Chacha_SetIV(&cha, sample + 4, counter) == 0 &&
             wc_Chacha_Process(&cha, mask, mask, sizeof mask) == 0;
        lwl_wipe(&cha, sizeof cha);
#endif
    } else {
        Aes aes;
        if (wc_AesInit(&aes, NULL, INVALID_DEVID) == 0) {
            ok = wc_AesSetKeyDirect(&aes, key, (word32)keylen, NULL, AES_ENCRYPTION) == 0 &&
                 wc_AesEncryptDirect(&aes, mask, sample) == 0;
            wc_AesFree(&aes);
        }
    }
    lwl_wipe(key, sizeof key);
    if (!ok) return lwl_fail(L, "record number mask failed");
    lua_pushlstring(L, (const char *)mask, sizeof mask);
    return 1;
#else
    (void)c; (void)from_client; (void)epoch; (void)gen; (void)sample; (void)len;
    return lwl_fail(L, "DTLS 1.3 record numbers are not decrypted by this wolfSSL build");
#endif
}

/* core.trace_open12(conn, from_client, record, client_random, server_random)
 * -> plaintext | nil, why.
 * Decrypts a copy of the first record under a TLS 1.2 sender's new keys (its
 * Finished: sequence number 0) from the connection's own master secret: the
 * handshake's while it runs, the session's once it is done. AEAD suites only
 * (AES-GCM, ChaCha20-Poly1305). */
static int trace_open12(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    int from_client = lua_toboolean(L, 2);
    size_t len, crl, srl;
    const unsigned char *rec = (const unsigned char *)luaL_checklstring(L, 3, &len);
    const unsigned char *cr = (const unsigned char *)luaL_checklstring(L, 4, &crl);
    const unsigned char *sr = (const unsigned char *)luaL_checklstring(L, 5, &srl);
#ifdef LWL_DECRYPT12
    unsigned char ms[48], seed[64], block[2 * 32 + 2 * 12], nonce[12], aad[13], *out;
    unsigned char *hms = NULL, *hsr = NULL, *hcr = NULL;
    unsigned int hmsl = 0, hsrl = 0, hcrl = 0;
    int suite, keylen, ivlen, hash, chacha = 0, ok = 0, i;
    const unsigned char *key, *iv, *body;
    size_t n;
    if (crl != 32 || srl != 32) return luaL_argerror(L, crl != 32 ? 4 : 5, "32-byte random expected");
    suite = wolfSSL_get_current_cipher_suite(c->ssl);
    switch (suite) {
    case 0x009C: case 0x009E: case 0xC02B: case 0xC02F: keylen = 16; ivlen = 4; hash = sha256_mac; break;
    case 0x009D: case 0x009F: case 0xC02C: case 0xC030: keylen = 32; ivlen = 4; hash = sha384_mac; break;
    case 0xCCA8: case 0xCCA9: case 0xCCAA: keylen = 32; ivlen = 12; hash = sha256_mac; chacha = 1; break;
    default: return lwl_fail(L, "cipher suite not supported by the trace decoder (AES-GCM and ChaCha20-Poly1305 only)");
    }
    if (wolfSSL_get_keys(c->ssl, &hms, &hmsl, &hsr, &hsrl, &hcr, &hcrl) == WOLFSSL_SUCCESS &&
        hms != NULL && hmsl == sizeof ms) {
        memcpy(ms, hms, sizeof ms);
    } else {
        WOLFSSL_SESSION *sess = wolfSSL_get_session(c->ssl);
        if (sess == NULL || wolfSSL_SESSION_get_master_key(sess, ms, sizeof ms) != (int)sizeof ms)
            return lwl_fail(L, "no master secret");
    }
    memcpy(seed, sr, 32); /* key expansion: server random first */
    memcpy(seed + 32, cr, 32);
    i = wc_PRF_TLS(block, (word32)(2 * keylen + 2 * ivlen), ms, sizeof ms,
                   (const byte *)"key expansion", 13, seed, sizeof seed, 1, hash, NULL, INVALID_DEVID);
    lwl_wipe(ms, sizeof ms);
    if (i != 0) return lwl_fail(L, "key derivation failed");
    key = block + (from_client ? 0 : keylen);          /* no MAC keys in AEAD suites */
    iv = block + 2 * keylen + (from_client ? 0 : ivlen);
    if (chacha) { /* nonce: the IV (sequence number 0 XORed in changes nothing) */
        if (len < 5 + 16) return lwl_fail(L, "record too short");
        memcpy(nonce, iv, 12);
        body = rec + 5;
        n = len - 5 - 16;
    } else {      /* nonce: 4-byte salt + the record's 8-byte explicit part */
        if (len < 5 + 8 + 16) return lwl_fail(L, "record too short");
        memcpy(nonce, iv, 4);
        memcpy(nonce + 4, rec + 5, 8);
        body = rec + 5 + 8;
        n = len - 5 - 8 - 16;
    }
    memset(aad, 0, 8);                 /* sequence number 0 */
    memcpy(aad + 8, rec, 3);           /* type, version */
    aad[11] = (unsigned char)(n >> 8); /* plaintext length */
    aad[12] = (unsigned char)(n & 255);
    out = (unsigned char *)malloc(n ? n : 1);
    if (out == NULL) {
        lwl_wipe(block, sizeof block);
        return luaL_error(L, "out of memory");
    }
    ok = aead_open(chacha, key, keylen, nonce, aad, 13, body, n, out);
    lwl_wipe(block, sizeof block);
    lwl_wipe(nonce, sizeof nonce);
    if (!ok) {
        lwl_wipe_free(out, n ? n : 1);
        return lwl_fail(L, "record does not decrypt (not the sender's first record under its keys?)");
    }
    lua_pushlstring(L, (const char *)out, n);
    lwl_wipe_free(out, n ? n : 1);
    return 1;
#else
    (void)c; (void)from_client; (void)rec; (void)len; (void)cr; (void)sr; (void)crl; (void)srl;
    return lwl_fail(L, "TLS 1.2 decryption is not supported by this wolfSSL build");
#endif
}

void lwl_trace_open(lua_State *L) {
    static const luaL_Reg funcs[] = {{"trace_step", trace_step},
                                     {"trace_state", trace_state},
                                     {"trace_context", trace_context},
                                     {"trace_arm", trace_arm},
                                     {"trace_own_certificate", trace_own_certificate},
                                     {"trace_enable", trace_enable},
                                     {"trace_capture", trace_capture},
                                     {"trace_secrets", trace_secrets},
                                     {"trace_open", trace_open},
                                     {"trace_open12", trace_open12},
                                     {"trace_sn_mask", trace_sn_mask},
                                     {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
