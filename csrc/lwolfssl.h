/* lwolfssl.h: types and functions shared by the C files of wolfssl.core.
 * Nothing here is exported: only luaopen_wolfssl_core is.
 *
 * The functions are listed top-down, as the files call each other: a file
 * calls only files listed below it (docs/internals.md has the map and the
 * graph). core.c opens the module; util.c, at the bottom, calls nothing. */
#ifndef LWOLFSSL_H
#define LWOLFSSL_H

#include <wolfssl/options.h> /* first: it decides what the rest declares */
#include <wolfssl/ssl.h>
#include <wolfssl/version.h>
#include <wolfssl/wolfio.h>
#include <stddef.h>

#include "compat.h"
#include "wolfcompat.h" /* release quirks: LWL_GUARD_*, ... */

#define LWL_CONTEXT "wolfssl.Context"
#define LWL_CONN "wolfssl.Connection"
#define LWL_X509 "wolfssl.x509"
#define LWL_PKEY "wolfssl.pkey"
#define LWL_SESSION "wolfssl.session"

/* ---- context.c ---- */
typedef struct lwl_Context {
    WOLFSSL_CTX *ctx;     /* NULL once freed */
    int conns;            /* live connections whose context this is (their callbacks
                           * read the state below: ctx:free() waits for them) */
    int free_pending;     /* ctx:free() was called while conns > 0: no new use */
    int is_server;
    int dtls;             /* a DTLS context (datagrams) */
    unsigned char cookie_secret[32]; /* DTLS server: the key of its cookies, one per
                                      * context so any of its connections checks them */
    int verify;           /* 0 none, 1 peer, 2 require */
    int check_hostname;
    char *alpn;           /* comma-separated list for wolfSSL_UseALPN, or NULL */
    unsigned callbacks;   /* LWL_CB_* bits: which Lua callbacks are set (context.c) */
    int used;             /* it made a connection: its callbacks are fixed */
    struct lwl_TicketKeys *tickets; /* session.c: ticket keys (C memory, wiped on free) */
    struct lwl_Verdicts *verdicts; /* session.c: verified client certificates by session */
    unsigned char trust[32]; /* session.c: fingerprint of the trust settings */
    int ocsp_request;     /* verify.c: a client that asks for a stapled OCSP response */
    int staples;          /* verify.c: a server whose staple function is set */
    unsigned group_bits;  /* policy.c: the groups option, as lwl_group_bits gives it */
    unsigned short key_shares[2]; /* client: a hybrid group and the classical one sent
                                   * beside it (context.c), or zeros: wolfSSL's one */
    unsigned max_early;   /* early.c: server max_early_data (0: none) */
    struct lwl_EarlySeen *early_seen; /* early.c: binders of early-data ClientHellos seen */
} lwl_Context;

enum {
    LWL_CB_VERIFY = 1 << 0,
    LWL_CB_SERVERNAME = 1 << 1,
    LWL_CB_ALPN = 1 << 2,
    LWL_CB_PSK = 1 << 3,
    LWL_CB_NEW_SESSION = 1 << 4,
    LWL_CB_MESSAGE = 1 << 5,
    LWL_CB_STATE = 1 << 6,
    LWL_CB_KEYLOG = 1 << 7,
    LWL_CB_SESSION_STORE = 1 << 8,
    LWL_CB_TICKET_KEY = 1 << 9
};

/* ---- conn.c ---- */
typedef struct lwl_Buf {
    unsigned char *p;
    size_t head, len, cap; /* live bytes are p[head .. head+len) */
} lwl_Buf;

typedef struct lwl_Conn lwl_Conn;

/* transport.c: how bytes move (memory, fd; DTLS adds datagrams) */
typedef struct lwl_Transport {
    const char *name;
    int (*recv)(lwl_Conn *c, char *buf, int sz);       /* bytes, or WOLFSSL_CBIO_ERR_* */
    int (*send)(lwl_Conn *c, const char *buf, int sz); /* bytes taken, or WOLFSSL_CBIO_ERR_* */
    int (*flush)(lwl_Conn *c); /* what waits in `out`: 1 sent, 0 would block, -1 gone */
    void (*write_raw)(lwl_Conn *c, const unsigned char *p, size_t n); /* best effort */
} lwl_Transport;

#define LWL_EARLY_KEY 16 /* early.c: bytes of a PSK binder that identify a first flight */

struct lwl_Conn {
    /* Per-connection memory counts (bench/RESULTS.md, heap per pair): the
     * yes/no fields are bits, together at the end, and what only a failure
     * or a feature needs is allocated when it happens. */
    WOLFSSL *ssl;         /* NULL once closed */
    const lwl_Transport *io; /* transport.c: memory or fd */
    lwl_Context *ctx;     /* the context in force (kept alive by the uservalue) */
    lua_State *L;         /* state of the method call in progress, else NULL */
    int self;             /* stack index of the connection in that call */
    int fd;               /* -1 in memory mode */
    double dtls_sent_at;  /* DTLS: when our last datagram left (lwl_clock): the timer's start */
    double dtls_sent_real; /* the same on the real clock (lwl_monotonic) */
    const char *cb_unreported; /* the callback that failed with no room to say so */
    int cb_alert;         /* alert a callback asked for, 0 for default */
    int offered_trust;    /* session.c: the offered session was verified (1) or not (-1) */
    size_t nrecv;         /* bytes received so far */
    size_t nsent;         /* bytes sent so far (given to the socket or to drain) */
    unsigned char first[8]; /* the first bytes received: tells garbage from TLS */
    const char *step;     /* last handshake step seen, for state() */
    /* first verification failure seen by the verify callback */
    int vfy_err, vfy_depth;
    int vfy_overridden;   /* verify.c: 1 + depth whose failure on_verify accepted */
    char *vfy_subject;    /* verify.c: its certificate's "CN=..."; malloc'd, or NULL */
    char *server_name;    /* client: the name to check; malloc'd */
    lwl_Buf in, out;      /* memory mode queues; fd mode: `out` holds a close_notify
                           * the socket could not take yet */
#ifdef LWL_WATCH_RECORDS
    struct lwl_Watch {    /* transport.c: the peer's records until its ChangeCipherSpec */
        unsigned char hdr[5], have; /* the record header being read */
        size_t left;                /* body bytes of the current record still to come */
        unsigned char type, first;  /* content type, first body byte of the last record begun */
        unsigned char ccs;          /* the peer's ChangeCipherSpec went by: watching ends */
    } watch;
#endif
    lwl_Buf app;          /* plaintext that arrived while shutdown() awaited the
                           * peer's close_notify: read() returns it first */
    void *trace;          /* trace.c's state when on_message/on_state is set */
    struct lwl_Chain *chain; /* verify.c: the peer's certificates (no SESSION_CERTS) */
    unsigned hello_groups; /* policy.c: the curves the client's ClientHello listed */
    double timeout;       /* fd mode: seconds each call may wait (poll); < 0: none */
    double deadline;      /* of the call in progress: < 0 none, HUGE_VAL no limit */
    unsigned char *hello; size_t hello_len; /* policy.c: the first record, until whole */
    const char *refused_curve; /* policy.c: our certificate's curve, not offered by the client */
    unsigned char early_key[LWL_EARLY_KEY]; /* early.c: the first 16 bytes of the ClientHello's first PSK binder */
    size_t early_sent, early_got; /* early.c: early data bytes written / read */
    /* yes or no */
    unsigned counted : 1;  /* counted in ctx->conns (until conn_free) */
    unsigned busy : 1;     /* inside a wolfSSL call */
    unsigned close_pending : 1; /* close() was called from a callback */
    unsigned is_server : 1;
    unsigned dtls : 1;     /* DTLS: datagram transports, the retransmission timer */
    unsigned dtls_cookie_sent : 1; /* our last datagram was a HelloVerifyRequest (transport.c) */
    unsigned done : 1;     /* handshake finished */
    unsigned eof : 1;      /* memory mode: feed_eof() seen */
    unsigned feeding : 1;  /* the uservalue holds a fed string that `in` borrows */
    unsigned failed : 1;   /* a fatal error happened: no more I/O */
    unsigned cb_error : 1; /* a Lua callback raised; details in last_error */
    unsigned told_peer : 1; /* we sent the peer an alert of our own */
    unsigned got_close_notify : 1;
    unsigned sent_notify : 1; /* our close_notify is sent or queued in `out` */
    unsigned queue_writes : 1; /* fd mode, while sending close_notify: what the socket
                                * cannot take now waits in `out` (sent once) */
    unsigned transport_end : 1; /* the transport ended: EOF, feed_eof() used up */
    unsigned transport_reset : 1; /* the transport was reset (ECONNRESET, EPIPE) */
    unsigned verified : 1; /* the verify callback ran for the peer's chain */
    unsigned unresumable : 1; /* session.c: a server's session on_verify let through */
    unsigned remembered : 1; /* session.c: its verified client certificate is remembered */
    unsigned ech : 1;      /* ech.c: it encrypts its ClientHello (an ECHConfigList is set) */
    unsigned ech_grease : 1; /* ech.c: it sent GREASE ECH (the extension is freed once done) */
    unsigned timed_out : 1; /* the call in progress waited until its deadline */
    unsigned owns_fd : 1;  /* close() closes fd too (wolfssl.connect) */
    unsigned no_shared_group : 1; /* policy.c: a TLS 1.3 ClientHello with none of our groups */
    unsigned hello_early : 1; /* policy.c: the ClientHello asked to send early data */
    unsigned early_tried : 1; /* early.c: client: write_early was called */
    unsigned early_replay : 1; /* early.c: the ClientHello was seen before: its early data is dropped */
    unsigned early_keyed : 1, early_claimed : 1; /* early.c: early_key holds the binder; the store was asked */
    unsigned early_over : 1; /* server: read_early said there is no (more) early data */
    unsigned one_record : 1; /* conn:write() of at most one record in progress */
    unsigned sending : 1;  /* the uservalue holds a string `out` borrows (or did) */
};

/* ==== the Lua-facing types (each opens its part of core) ==== */

/* ---- context.c: wolfssl.Context, its primitives, the callback registry ---- */
void lwl_context_open(lua_State *L);
int lwl_context_checks_hostname(const lwl_Context *x); /* ctx:new needs server_name */

/* ---- conn.c: wolfssl.Connection, the one call path, every connection
 * method registered in one table ---- */
void lwl_conn_open(lua_State *L);

/* ---- ech.c: Encrypted Client Hello (core.ech_*, where the build has it) ---- */
void lwl_ech_open(lua_State *L);
int lwl_ech_status(lua_State *L);        /* conn:ech() */
int lwl_ech_retry_configs(lua_State *L); /* conn:ech_retry_configs() */
void lwl_ech_established(lwl_Conn *c);   /* the handshake is done (conn.c) */

/* ---- negotiate.c: SNI, ALPN, PSK, set_context ---- */
void lwl_negotiate_open(lua_State *L);       /* core.hooks_* installers */
int lwl_negotiate_set_context(lua_State *L); /* conn:set_context(ctx) */
/* installers of the callback registry (context.c): NULL or why not */
const char *lwl_negotiate_servername(lwl_Context *x);
const char *lwl_negotiate_alpn(lwl_Context *x);
const char *lwl_negotiate_psk(lwl_Context *x);

/* ---- transport.c: how bytes move; the one plaintext alert writer ---- */
void lwl_transport_attach(lwl_Conn *c, int fd); /* fd < 0: memory mode */
void lwl_transport_free(lwl_Conn *c);
/* the one plaintext fatal alert writer; memory mode first takes back the
 * last `withdraw` bytes queued for the peer */
void lwl_transport_alert(lwl_Conn *c, int code, size_t withdraw);
void lwl_transport_leave(lua_State *L, lwl_Conn *c, int self); /* end of a method call */
int lwl_transport_feed(lua_State *L);     /* conn:feed(s) */
int lwl_transport_feed_eof(lua_State *L); /* conn:feed_eof() */
int lwl_transport_drain(lua_State *L);    /* conn:drain([max]) */
/* DTLS: seconds until a retransmission is due (0: now), or -1: no timer */
double lwl_transport_dtls_due(lwl_Conn *c);
int lwl_transport_push_datagram(lwl_Conn *c, const char *p, size_t n); /* memory mode; 0: no memory */

/* ---- session.c: wolfssl.session objects, on_new_session, session_store,
 * ticket keys ---- */
void lwl_session_open(lua_State *L);
int lwl_session_get(lua_State *L);             /* conn:session() */
int lwl_session_set(lua_State *L);             /* conn:set_session(s) */
int lwl_session_prepare_ticket(lua_State *L);  /* core.conn_prepare_ticket(conn) */
void lwl_session_context_free(lwl_Context *x); /* wipes and frees the ticket keys */
/* verdict of a resumed connection: 1 verified, 0 not (*why set), -1 not a resumption */
int lwl_session_verdict(lwl_Conn *c, const char **why);
void lwl_session_unresumable(lwl_Conn *c); /* a server's session on_verify let through */
void lwl_session_established(lwl_Conn *c); /* the handshake is done (conn.c) */
const unsigned char *lwl_session_peer_der(lwl_Conn *c, int *len); /* a resumed server's peer */
/* installers of the callback registry (context.c): NULL or why not */
const char *lwl_session_install_new(lwl_Context *x);   /* on_new_session */
const char *lwl_session_install_store(lwl_Context *x); /* session_store */

/* ---- trace.c: records seen (on_message, on_state), decryption, keylog ---- */
void lwl_trace_open(lua_State *L);
/* called by the I/O callbacks with every chunk of bytes received (dir 0) or
 * sent (dir 1), only when c->trace is set. No Lua runs inside. */
void lwl_trace_io(lwl_Conn *c, int dir, const unsigned char *buf, int n);
/* lwl_trace_attach (conn_new: sets c->trace when the context has
 * on_message/on_state/keylog; 0 when out of memory), lwl_trace_free
 * (conn_free) */
int lwl_trace_attach(lwl_Conn *c);
void lwl_trace_free(lwl_Conn *c);
/* after each wolfSSL call (conn.c run): delivers queued records to Lua.
 * 0, -1 when a callback raised after the handshake, -2 when it raised during
 * it: the caller must tell the peer (the alert writer, withdrawing the
 * *withdraw bytes this call queued) */
int lwl_trace_flush(lwl_Conn *c, int ret, size_t *withdraw);
/* write brackets wolfSSL_write with lwl_trace_bulk(c, 1) ... (c, 0);
 * key_update and request_certificate call lwl_trace_bulk(c, -1): wolfSSL may
 * send their message with the next write */
void lwl_trace_bulk(lwl_Conn *c, int on);
/* ECH: the HPKE shared secret and ECHConfig of the ClientHello this traced
 * connection encrypted or decrypted (for ech.c); 0 when it has none */
int lwl_trace_ech(lwl_Conn *c, const unsigned char **secret, size_t *slen,
                  const unsigned char **config, size_t *clen);

/* ---- verify.c: the verify callback, on_verify, the peer's chain, CRL,
 * OCSP, staple ---- */
void lwl_verify_open(lua_State *L);       /* CRL, OCSP stapling primitives */
int lwl_verify_ocsp_status(lua_State *L); /* conn:_ocsp_status() */
const char *lwl_verify_install_staple(lwl_Context *x); /* registry installer: staple */
int lwl_verify_staple_attach(lwl_Conn *c); /* policy.c: a TLS 1.2 server connection */
int lwl_verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store);
#define LWL_VERIFY_REJECTED 50 /* X509_V_ERR_APPLICATION_VERIFICATION */
/* the certificates the peer sent (leaf first), kept by the binding when
 * wolfSSL does not keep them (built without SESSION_CERTS) */
struct lwl_Chain;
int lwl_chain_push(lua_State *L, lwl_Conn *c); /* array of x509, or nil; returns 1 */
void lwl_chain_free(lwl_Conn *c);

/* ==== the services below them ==== */

/* ---- callbacks.c: the protected trampoline every Lua callback runs through ---- */
/* Run the Lua callback `name` of the connection's context, protected.
 * push_args pushes the arguments after the connection and returns how many;
 * collect reads the nres results (it may raise: that counts as the callback
 * raising). Returns 1 when the callback ran, 0 when there is none, -1 when it
 * raised or could not be called (the error is stored in the connection's
 * last_error, or by lwl_callback_report). */
typedef int (*lwl_PushArgs)(lua_State *L, void *ud);
typedef void (*lwl_Collect)(lua_State *L, void *ud);
int lwl_callback(lwl_Conn *c, const char *name, lwl_PushArgs push_args,
                 lwl_Collect collect, int nres, void *ud);
void lwl_callbacks_open(lua_State *L);
/* Run f protected on the state of the method call in progress, the
 * connection at index 1 and ud (a light userdata) at 2: C work inside wolfSSL
 * that makes Lua values. 0 when it ran; -1 when it raised (out of memory) or
 * there is no such state: nothing is recorded, the caller falls back. */
int lwl_protected(lwl_Conn *c, lua_CFunction f, void *ud);
/* Stack slots lwl_callback pushes outside its protected calls: a method that
 * lets callbacks run reserves them before it enters wolfSSL. */
#define LWL_CALLBACK_SLOTS 8
/* Once wolfSSL has returned: write last_error for a callback that failed
 * with no room to (no stack or memory). 0 when even that failed. */
int lwl_callback_report(lwl_Conn *c);

/* ---- errors.c: messages for failures ---- */
const char *lwl_verify_reason(int code);
int lwl_verify_code(int code);
/* Describe the failure `err` (from wolfSSL_get_error) into buf; returns kind */
const char *lwl_describe_error(lwl_Conn *c, int err, char *buf, size_t sz);
/* wolfSSL_get_error, with wolfSSL's own code where it answers OpenSSL's
 * SSL_ERROR_SYSCALL (5.9.2 does for no shared cipher and a closed transport) */
int lwl_get_error(WOLFSSL *ssl, int ret);
/* Store {kind, message, code, alert, traceback} as the connection's last error */
void lwl_set_last_error(lua_State *L, int self, const char *kind,
                        const char *msg, int code, int alert);

/* ---- x509.c: wolfssl.x509 (pkey.c, pkey.h: wolfssl.pkey, below it) ---- */
void lwl_x509_push_der(lua_State *L, const unsigned char *der, int len);
void lwl_x509_push(lua_State *L, WOLFSSL_X509 *x); /* takes ownership */
void lwl_x509_open(lua_State *L);
void lwl_cert_cn(WOLFSSL_X509 *x, char *buf, size_t sz); /* "CN=..." or "" */
void lwl_pkey_open(lua_State *L);

/* ---- policy.c: server rules wolfSSL lacks (installed on every server CTX) ---- */
void lwl_policy_install(WOLFSSL_CTX *ctx);
/* a group list (names as wolfSSL takes them, colon-separated) as bits */
unsigned lwl_group_bits(const char *list);
void lwl_policy_received(lwl_Conn *c, const unsigned char *buf, size_t n); /* io_recv, servers */
void lwl_policy_free(lwl_Conn *c); /* conn_free */

/* ---- testutil.c: core._test, for the suite only ---- */
void lwl_test_open(lua_State *L);
long lwl_now(void); /* testutil.c: time(NULL), moved on by _test.advance_clock */
double lwl_clock(void); /* testutil.c: lwl_monotonic(), moved on by _test.advance_clock too */

/* ---- hostname.c ---- */
/* Does x name host (DNS name with wildcards, or IP address)? */
int lwl_check_host(WOLFSSL_X509 *x, const char *host, size_t len);

/* ---- names.c: alert, version and group names (core.names) ---- */
const char *lwl_alert_name(int code);       /* "unknown" when unknown */
const char *lwl_version_name(int v);        /* 0x0304 -> "TLSv1.3"; NULL when unknown */
const char *lwl_group_name(const char *wolfssl_name);
/* the TLS number of the group named by n bytes at name (groups option); 0 if unknown */
unsigned lwl_group_id(const char *name, size_t n);
#define LWL_GROUP_IS_HYBRID(id) ((id) >= 4587 && (id) <= 4589) /* ML-KEM hybrids */
void lwl_names_open(lua_State *L);

/* ---- early.c: TLS 1.3 early data (0-RTT) ---- */
#define LWL_NO_EARLY_DATA \
    "early data is not supported by this wolfSSL build (wolfssl.features.early_data is false)"
void lwl_early_open(lua_State *L);          /* core.ctx_max_early_data */
int lwl_early_usable(lua_State *L, lwl_Conn *c, int write, size_t len); /* 0, or results pushed */
int lwl_early_write_call(lwl_Conn *c, void *buf, int n);   /* conn.c Op rows */
int lwl_early_read_call(lwl_Conn *c, void *buf, int n);
int lwl_early_status(lua_State *L);         /* conn:early_data() */
void lwl_early_binder(lwl_Conn *c, const unsigned char *b, size_t n); /* policy.c */
int lwl_early_refuse(lwl_Conn *c);          /* session.c's ticket callback: 1 = refuse the ticket */
void lwl_early_context_free(lwl_Context *x);

/* ---- util.c: the bottom helpers (they call no other file) ---- */
lwl_Context *lwl_checkcontext(lua_State *L, int idx); /* raises on a freed context */
void lwl_context_unref(lwl_Context *c); /* a connection of c is gone (context.c) */
lwl_Conn *lwl_toconn(lua_State *L, int idx);          /* a connection, closed or not */
void *lwl_toudata(lua_State *L, int idx, int mt);     /* userdata with the metatable at mt, or NULL */
lwl_Conn *lwl_checkconn(lua_State *L, int idx);       /* raises on a closed connection */
lwl_Conn *lwl_conn_from_ssl(WOLFSSL *ssl);
/* a connection's Lua references: the context in force, the string feed()
 * borrows, the string `out` borrows (transport.c), and a table (data,
 * last_error, trace, socket) */
enum { LWL_UV_TABLE = 1, LWL_UV_CTX = 2, LWL_UV_FEEDING = 3, LWL_UV_SENDING = 4 };
lwl_Conn *lwl_conn_alloc(lua_State *L);              /* pushes a new userdata */
void lwl_conn_uv(lua_State *L, int idx);             /* pushes the table (made on first use) */
void lwl_conn_get(lua_State *L, int idx, int slot);  /* pushes the context or a string */
void lwl_conn_set(lua_State *L, int idx, int slot);  /* pops it into the slot */
int lwl_fail(lua_State *L, const char *msg); /* pushes nil, msg; returns 2 */
int lwl_ok_or_fail(lua_State *L, int ok, const char *msg); /* true, or nil, msg */
void lwl_newmeta(lua_State *L, const char *name, const luaL_Reg *methods,
                 const luaL_Reg *meta);
void lwl_wipe(void *p, size_t n);      /* secrets: writes the compiler keeps */
void lwl_wipe_free(void *p, size_t n); /* wipe, then free (NULL is fine) */
int lwl_buf_append(lwl_Buf *b, const void *data, size_t n); /* 0: out of memory */
void lwl_buf_consume(lwl_Buf *b, size_t n);
void lwl_buf_free(lwl_Buf *b);
double lwl_monotonic(void); /* seconds on CLOCK_MONOTONIC (call deadlines) */

#endif
