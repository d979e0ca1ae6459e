/* lwolfssl.h: types and functions shared by the C files of wolfssl.core.
 * Nothing here is exported: only luaopen_wolfssl_core is. */
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
    int is_server;
    int verify;           /* 0 none, 1 peer, 2 require */
    int check_hostname;
    char *alpn;           /* comma-separated list for wolfSSL_UseALPN, or NULL */
    unsigned callbacks;   /* LWL_CB_* bits: which Lua callbacks are set */
    struct lwl_TicketKeys *tickets; /* session.c: ticket keys (C memory, wiped on free) */
    unsigned char trust[32]; /* session.c: fingerprint of the trust settings */
    int ocsp_request;     /* trust.c: a client that asks for a stapled OCSP response */
    unsigned group_bits;  /* policy.c: the groups option, as lwl_group_bits gives it */
    unsigned short key_shares[2]; /* client: a hybrid group and the classical one sent
                                   * beside it (context.c), or zeros: wolfSSL's one */
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

lwl_Context *lwl_checkcontext(lua_State *L, int idx);
void lwl_context_open(lua_State *L);
void lwl_session_context_free(lwl_Context *x); /* session.c: wipes and frees the ticket keys */

/* ---- conn.c ---- */
typedef struct lwl_Buf {
    unsigned char *p;
    size_t head, len, cap; /* live bytes are p[head .. head+len) */
} lwl_Buf;

typedef struct lwl_Conn {
    WOLFSSL *ssl;         /* NULL once closed */
    lwl_Context *ctx;     /* the context in force (kept alive by the uservalue) */
    lua_State *L;         /* state of the method call in progress, else NULL */
    int self;             /* stack index of the connection in that call */
    int fd;               /* -1 in memory mode */
    int busy;             /* inside a wolfSSL call */
    int close_pending;    /* close() was called from a callback */
    int is_server;
    int done;             /* handshake finished */
    int eof;              /* memory mode: feed_eof() seen */
    int feeding;          /* the uservalue holds a fed string that `in` borrows */
    int failed;           /* a fatal error happened: no more I/O */
    int cb_error;         /* a Lua callback raised; details in last_error */
    const char *cb_unreported; /* the callback that failed with no room to say so */
    int told_peer;        /* we sent the peer an alert of our own */
    int cb_alert;         /* alert a callback asked for, 0 for default */
    int got_close_notify;
    int sent_notify;      /* our close_notify is sent or queued in `out` */
    int queue_writes;     /* fd mode, while sending close_notify: what the socket
                           * cannot take now waits in `out` (sent once) */
    int transport_end;    /* the transport ended: EOF, feed_eof() used up */
    int transport_reset;  /* the transport was reset (ECONNRESET, EPIPE) */
    int verified;         /* the verify callback ran for the peer's chain */
    int offered_trust;    /* session.c: the offered session was verified (1) or not (-1) */
    size_t nrecv;         /* bytes received so far */
    size_t nsent;         /* bytes sent so far (given to the socket or to drain) */
    unsigned char first[8]; /* the first bytes received: tells garbage from TLS */
    const char *step;     /* last handshake step seen, for state() */
    /* first verification failure seen by the verify callback */
    int vfy_err, vfy_depth;
    int vfy_overridden;   /* callbacks.c: 1 + depth whose failure on_verify accepted */
    char vfy_subject[128];
    char *server_name;    /* client: the name to check; malloc'd */
    lwl_Buf in, out;      /* memory mode queues; fd mode: `out` holds a close_notify
                           * the socket could not take yet */
    lwl_Buf app;          /* plaintext that arrived while shutdown() awaited the
                           * peer's close_notify: read() returns it first */
    void *trace;          /* trace.c's state when on_message/on_state is set */
    void *ext;            /* session.c / hooks.c per-connection state, if any */
    struct lwl_Chain *chain; /* chain.c: the peer's certificates (no SESSION_CERTS) */
    unsigned hello_groups; /* policy.c: the curves the client's ClientHello listed */
    unsigned char *hello; size_t hello_len; /* policy.c: the first record, until whole */
    const char *refused_curve; /* policy.c: our certificate's curve, not offered by the client */
    int no_shared_group;  /* policy.c: a TLS 1.3 ClientHello with none of our groups */
} lwl_Conn;

lwl_Conn *lwl_checkconn(lua_State *L, int idx);
lwl_Conn *lwl_conn_from_ssl(WOLFSSL *ssl);
void lwl_conn_open(lua_State *L);

/* ---- x509.c ---- */
void lwl_x509_push_der(lua_State *L, const unsigned char *der, int len);
void lwl_x509_push(lua_State *L, WOLFSSL_X509 *x); /* takes ownership */
WOLFSSL_X509 *lwl_x509_test(lua_State *L, int idx);
void lwl_x509_open(lua_State *L);
void lwl_cert_cn(WOLFSSL_X509 *x, char *buf, size_t sz); /* "CN=..." or "" */

/* ---- hostname.c ---- */
/* Does x name host (DNS name with wildcards, or IP address)? */
int lwl_check_host(WOLFSSL_X509 *x, const char *host, size_t len);

#define LWL_VERIFY_REJECTED 50 /* X509_V_ERR_APPLICATION_VERIFICATION */

/* ---- files that add to core and to the Connection methods (core.Connection,
 * at module["Connection"] while they open; module table on top) ---- */
void lwl_pkey_open(lua_State *L);    /* pkey.c: wolfssl.pkey */
void lwl_trust_open(lua_State *L);   /* trust.c: CRL, OCSP stapling */
void lwl_session_open(lua_State *L); /* session.c: sessions, stores, ticket keys */
void lwl_trace_open(lua_State *L);   /* trace.c: records seen, on_message, on_state */
void lwl_hooks_open(lua_State *L);   /* hooks.c: servername, ALPN, PSK, keylog, TLS 1.3 extras */
void lwl_test_open(lua_State *L);    /* testutil.c: core._test, for the suite only */

/* trace.c: called by the I/O callbacks with every chunk of bytes received
 * (dir 0) or sent (dir 1), only when c->trace is set. No Lua runs inside. */
void lwl_trace_io(lwl_Conn *c, int dir, const unsigned char *buf, int n);
/* trace.c: lwl_trace_attach (conn_new: sets c->trace when the context has
 * on_message/on_state/keylog; 0 when out of memory), lwl_trace_free
 * (conn_free), lwl_trace_flush (after each wolfSSL call of a method, with its
 * return value: delivers queued records to Lua; -1 when a callback raised). */
int lwl_trace_attach(lwl_Conn *c);
void lwl_trace_free(lwl_Conn *c);
int lwl_trace_flush(lwl_Conn *c, int ret);
/* conn_write brackets wolfSSL_write with lwl_trace_bulk(c, 1) ... (c, 0);
 * key_update and request_certificate call lwl_trace_bulk(c, -1): wolfSSL may
 * send their message with the next write */
void lwl_trace_bulk(lwl_Conn *c, int on);

/* ---- chain.c: the certificates the peer sent (leaf first), kept by the
 * binding when wolfSSL does not keep them (built without SESSION_CERTS) ---- */
struct lwl_Chain;
int lwl_chain_add(lwl_Conn *c, const unsigned char *der, int len); /* 0: out of memory */
void lwl_chain_capture(lwl_Conn *c, WOLFSSL_X509_STORE_CTX *store); /* from the verify callback */
int lwl_chain_push(lua_State *L, lwl_Conn *c); /* array of x509, or nil; returns 1 */
void lwl_chain_free(lwl_Conn *c);

/* ---- policy.c: server rules wolfSSL lacks (installed on every server CTX) ---- */
void lwl_policy_install(WOLFSSL_CTX *ctx);
/* policy.c: a group list (names as wolfSSL takes them, colon-separated) as bits */
unsigned lwl_group_bits(const char *list);
void lwl_policy_received(lwl_Conn *c, const unsigned char *buf, size_t n); /* io_recv, servers */
void lwl_policy_free(lwl_Conn *c); /* conn_free */

/* ---- callbacks.c ---- */
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
/* Stack slots lwl_callback pushes outside its protected calls: a method that
 * lets callbacks run reserves them before it enters wolfSSL. */
#define LWL_CALLBACK_SLOTS 8
/* Once wolfSSL has returned: write last_error for a callback that failed
 * with no room to (no stack or memory). 0 when even that failed. */
int lwl_callback_report(lwl_Conn *c);
int lwl_verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store);

/* ---- errors.c ---- */
const char *lwl_verify_reason(int code);
int lwl_verify_code(int code);
const char *lwl_alert_name(int code);
/* Describe the failure `err` (from wolfSSL_get_error) into buf; returns kind */
const char *lwl_describe_error(lwl_Conn *c, int err, char *buf, size_t sz);
/* wolfSSL_get_error, with wolfSSL's own code where it answers OpenSSL's
 * SSL_ERROR_SYSCALL (5.9.2 does for no shared cipher and a closed transport) */
int lwl_get_error(WOLFSSL *ssl, int ret);
/* Store {kind, message, code, alert, traceback} as the connection's last error */
void lwl_set_last_error(lua_State *L, int self, const char *kind,
                        const char *msg, int code, int alert);
int lwl_fail(lua_State *L, const char *msg); /* pushes nil, msg; returns 2 */

/* ---- core.c helpers ---- */
void lwl_newmeta(lua_State *L, const char *name, const luaL_Reg *methods,
                 const luaL_Reg *meta);
const char *lwl_tls_version_name(int v);
const char *lwl_group_name(const char *wolfssl_name);

#endif
