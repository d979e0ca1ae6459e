/* conn.c: the wolfssl.Connection userdata (a WOLFSSL), and its method table:
 * every connection method is registered here, whichever file implements it.
 *
 * Every wolfSSL operation on a connection goes through one call path: enter
 * (the Lua state is known to callbacks), run (the wolfSSL call, then the
 * trace flush), the result mapped (io_result), leave. Bytes move through the
 * connection's transport (transport.c). */
#include "lwolfssl.h"

#include <wolfssl/error-ssl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 16384 /* one TLS record of plaintext */

/* ---- accessors (liolib style) ---- */

static lwl_Conn *toconn(lua_State *L, int idx) {
    return lwl_toconn(L, idx);
}

/* Release everything; never does I/O. Safe to call twice. */
static void conn_free(lwl_Conn *c) {
    if (c->ssl) {
        WOLFSSL *ssl = c->ssl;
        c->L = NULL; /* callbacks fired while freeing see no Lua state */
        c->ssl = NULL;
        wolfSSL_free(ssl);
    }
    lwl_transport_free(c);
    lwl_buf_free(&c->app);
    lwl_trace_free(c);
    lwl_chain_free(c);
    lwl_policy_free(c);
    free(c->server_name);
    c->server_name = NULL;
    free(c->vfy_subject);
    c->vfy_subject = NULL;
    if (c->owns_fd && c->fd >= 0) close(c->fd);
    c->owns_fd = 0;
    if (c->counted) {
        c->counted = 0;
        lwl_context_unref(c->ctx); /* last: wolfSSL_free above may still call back */
    }
}

/* A new connection of ctx (the context at index ctxi; sock: index of the
 * socket object fd came from, or 0) pushed: 1; or nil, message pushed: 2
 * (descriptors or memory ran out). */
static int make_conn(lua_State *L, lwl_Context *ctx, int ctxi, int fd, const char *name,
                     const char *alpn, int sock) {
    lwl_Conn *c = lwl_conn_alloc(L);
    memset(c, 0, sizeof *c); /* closed until the WOLFSSL exists */
    c->fd = -1;
    lwl_setmeta(L, LWL_CONN);
    lua_pushvalue(L, ctxi);
    lwl_conn_set(L, -2, LWL_UV_CTX); /* the context lives as long as we do */
    if (sock) {
        lwl_conn_uv(L, -1);
        lua_pushvalue(L, sock);
        lua_setfield(L, -2, "socket"); /* so does the socket object fd came from: its
                                          collector would close the descriptor under us */
        lua_pop(L, 1);
    }

    errno = 0;
    c->ssl = wolfSSL_new(ctx->ctx);
    if (c->ssl == NULL) /* a run-time outcome: say why (wolfSSL opens /dev/urandom per connection) */
        return lwl_fail(L, errno == EMFILE || errno == ENFILE
                               ? "cannot make a connection: too many open files (wolfSSL needs a descriptor for its random generator)"
                               : errno ? strerror(errno) : "cannot make a connection: out of memory");
    c->ctx = ctx;
    ctx->conns++;
    c->counted = 1;
    ctx->used = 1;
    c->timeout = -1;
    c->is_server = ctx->is_server;
    c->dtls = ctx->dtls;
    lwl_transport_attach(c, fd);
#ifdef WOLFSSL_DTLS
    if (c->dtls && c->is_server) { /* the context's cookie key: any connection checks a cookie */
        (void)wolfSSL_DTLS_SetCookieSecret(c->ssl, ctx->cookie_secret, sizeof ctx->cookie_secret);
#if defined(WOLFSSL_DTLS13) && defined(WOLFSSL_SEND_HRR_COOKIE)
        (void)wolfSSL_send_hrr_cookie(c->ssl, ctx->cookie_secret, sizeof ctx->cookie_secret);
#endif
#ifdef WOLFSSL_DTLS_CH_FRAG
        /* a DTLS 1.3 ClientHello with a post-quantum key share spans datagrams */
        (void)wolfSSL_dtls13_allow_ch_frag(c->ssl, 1);
#endif
    }
#endif
#ifdef HAVE_KEYING_MATERIAL
    /* export_keying_material needs the handshake randoms and secrets; Debian's
     * build keeps them by default (WOLFSSL_OPENVPN), the tuned one must ask. */
    wolfSSL_KeepArrays(c->ssl);
#endif
    if (!lwl_trace_attach(c)) return luaL_error(L, "out of memory");
#if defined(WOLFSSL_TLS13) && defined(HAVE_SUPPORTED_CURVES)
    /* context.c: hybrid + classical key shares (refused by a TLS 1.2-only
     * connection: then there are none) */
    if (ctx->key_shares[0] != 0 &&
        wolfSSL_UseKeyShare(c->ssl, ctx->key_shares[0]) == WOLFSSL_SUCCESS)
        (void)wolfSSL_UseKeyShare(c->ssl, ctx->key_shares[1]);
#endif
#if defined(HAVE_OCSP) && defined(HAVE_CERTIFICATE_STATUS_REQUEST)
    if (ctx->ocsp_request && wolfSSL_UseOCSPStapling(c->ssl, WOLFSSL_CSR_OCSP, 0) != WOLFSSL_SUCCESS)
        return luaL_error(L, "cannot request OCSP stapling (out of memory?)");
#endif
    if (name != NULL && !ctx->is_server) {
        size_t n = strlen(name);
        c->server_name = (char *)malloc(n + 1);
        if (c->server_name == NULL) return luaL_error(L, "out of memory");
        memcpy(c->server_name, name, n + 1);
#ifdef HAVE_SNI
        /* RFC 6066: literal IP addresses are not sent as SNI */
        if (strspn(name, "0123456789.") != n && strchr(name, ':') == NULL &&
            wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, name, (unsigned short)n) !=
                WOLFSSL_SUCCESS)
            return luaL_error(L, "cannot send server name '%s'", name);
#endif
        /* (the verify callback checks the name: verify.c) */
    }
    if (alpn != NULL && *alpn) {
#ifdef HAVE_ALPN
        char *list = (char *)alpn; /* UseALPN does not write to it */
        if (wolfSSL_UseALPN(c->ssl, list, (unsigned)strlen(alpn),
                            WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS)
            return luaL_error(L, "invalid alpn list");
#else
        return luaL_error(L, "alpn is not supported by this wolfSSL build");
#endif
    }
    return 1;
}

/* core.conn_new(ctx, fd|nil, server_name|nil, alpn|nil, socket|nil) -> connection */
static int conn_new(lua_State *L) {
    lwl_Context *ctx = lwl_checkcontext(L, 1);
    int fd = lua_isnoneornil(L, 2) ? -1 : (int)luaL_checkinteger(L, 2);
    const char *name = luaL_optstring(L, 3, NULL);
    const char *alpn = luaL_optstring(L, 4, ctx->alpn);
    return make_conn(L, ctx, 1, fd, name, alpn, lua_isnoneornil(L, 5) ? 0 : 5);
}

/* core.conn_quick(ctx, o|nil) -> connection | nil, message | false.
 * ctx:new's common case in one call (a connection per resumed handshake is
 * hot): o a plain table of nothing but server_name (a non-empty string
 * without NUL), session (a session object), fd (a descriptor number) and
 * data. false: anything else (another key, another value, no server_name
 * where the context checks it, a session the context refuses), which
 * init.lua's general path checks and reports. */
static int conn_quick(lua_State *L) {
    lwl_Context *ctx = (lwl_Context *)lwl_toudata(L, 1, lua_upvalueindex(2));
    const char *name = NULL;
    int fd = -1, sess = 0, data = 0, n;
    lua_settop(L, 2);
    if (ctx == NULL || ctx->ctx == NULL || ctx->free_pending) goto general;
    if (!lua_isnil(L, 2)) {
        if (!lua_istable(L, 2) || lua_getmetatable(L, 2)) goto general; /* (__index: o.key) */
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            size_t klen = 0;
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : "";
            if (strlen(k) != klen) goto general; /* ("fd\0x" is no "fd") */
            if (strcmp(k, "server_name") == 0) {
                size_t len;
                if (lua_type(L, -1) != LUA_TSTRING) goto general;
                name = lua_tolstring(L, -1, &len);
                if (len == 0 || strlen(name) != len) goto general;
            } else if (strcmp(k, "session") == 0) {
                if (!lwl_toudata(L, -1, lua_upvalueindex(3))) goto general;
                sess = 1;
            } else if (strcmp(k, "fd") == 0) {
                double v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
                if (!(v >= 0 && v <= 2147483647.0) || v != floor(v)) goto general;
                fd = (int)v;
            } else if (strcmp(k, "data") == 0) {
                data = 1;
            } else {
                goto general;
            }
            lua_pop(L, 1);
        }
    }
    if (name == NULL && lwl_context_checks_hostname(ctx)) goto general;
    if ((n = make_conn(L, ctx, 1, fd, name, ctx->alpn, 0)) != 1) return n; /* conn: 3 */
    if (data) {
        lwl_conn_uv(L, 3);
        lua_getfield(L, 2, "data");
        lua_setfield(L, -2, "data");
        lua_pop(L, 1);
    }
    if (sess) { /* set_session(conn, session) on this stack: conn 1, session 2 */
        lua_getfield(L, 2, "session");
        lua_replace(L, 2);
        lua_replace(L, 1);
        if (lwl_session_set(L) == 2 && strncmp(lua_tostring(L, -1), "session refused", 15) == 0) {
            conn_free((lwl_Conn *)lua_touserdata(L, 1));
            goto general; /* (the general path raises it) */
        }
    } else {
        lua_replace(L, 1);
    }
    lua_settop(L, 1);
    lwl_session_prepare_ticket(L);
    lua_settop(L, 1);
    return 1;
general:
    lua_pushboolean(L, 0);
    return 1;
}

/* ---- the one call path into wolfSSL ---- */

/* One row per wolfSSL operation on a connection. */
typedef struct Op {
    const char *name;
    int (*call)(lwl_Conn *c, void *buf, int n);
    int bulk; /* trace: 1 what it sends once the handshake is done is
               * application data; -1 its message may go out with the next
               * write (lwl_trace_bulk) */
} Op;

static int call_handshake(lwl_Conn *c, void *buf, int n) {
    (void)buf; (void)n;
    return c->is_server ? wolfSSL_accept(c->ssl) : wolfSSL_connect(c->ssl);
}

static int call_read(lwl_Conn *c, void *buf, int n) {
    int ret = wolfSSL_read(c->ssl, buf, n);
#ifdef HAVE_SECURE_RENEGOTIATION
    /* data that came while a renegotiation is under way (or was refused):
     * wolfSSL says it is there, then the next read gives it */
    if (ret < 0 && wolfSSL_get_error(c->ssl, ret) == APP_DATA_READY) ret = wolfSSL_read(c->ssl, buf, n);
#endif
    return ret;
}

static int call_write(lwl_Conn *c, void *buf, int n) {
    return wolfSSL_write(c->ssl, buf, n);
}

/* our close_notify; fd mode: what the socket cannot take waits in `out` */
static int call_shutdown(lwl_Conn *c, void *buf, int n) {
    int ret;
    (void)buf; (void)n;
#if defined(OPENSSL_EXTRA)
    /* when the peer's close_notify is already here, wolfSSL_shutdown returns
     * success and then wolfSSL_clear()s the connection (certificate, version
     * gone): let it think it is still awaited, then say it came */
    if (c->got_close_notify) wolfSSL_set_shutdown(c->ssl, 0);
#endif
    c->queue_writes = c->fd >= 0;
    ret = wolfSSL_shutdown(c->ssl);
    c->queue_writes = 0;
#if defined(OPENSSL_EXTRA)
    if (c->got_close_notify)
        wolfSSL_set_shutdown(c->ssl, WOLFSSL_SENT_SHUTDOWN | WOLFSSL_RECEIVED_SHUTDOWN);
#endif
    return ret;
}

static int call_key_update(lwl_Conn *c, void *buf, int n) {
    (void)buf; (void)n;
    return wolfSSL_update_keys(c->ssl);
}

#if defined(WOLFSSL_POST_HANDSHAKE_AUTH) && !defined(NO_CERTS)
static int call_request_certificate(lwl_Conn *c, void *buf, int n) {
    (void)buf; (void)n;
    return wolfSSL_request_certificate(c->ssl);
}
static const Op OP_REQUEST_CERTIFICATE = {"request_certificate", call_request_certificate, -1};
#endif

#ifdef LWL_RENEGOTIATION
/* starts a TLS 1.2 renegotiation, or moves the one under way forward */
static int call_renegotiate(lwl_Conn *c, void *buf, int n) {
    (void)buf; (void)n;
    if (!wolfSSL_is_init_finished(c->ssl)) return wolfSSL_negotiate(c->ssl); /* under way */
    return wolfSSL_Rehandshake(c->ssl);
}
static const Op OP_RENEGOTIATE = {"renegotiate", call_renegotiate, 0};
#endif

#ifdef WOLFSSL_DTLS
static int call_got_timeout(lwl_Conn *c, void *buf, int n) {
    (void)buf; (void)n;
    return wolfSSL_dtls_got_timeout(c->ssl);
}
static const Op OP_HANDLE_TIMEOUT = {"handle_timeout", call_got_timeout, 0};
#endif

#ifdef LWL_DTLS_STATEFUL
static int call_listen(lwl_Conn *c, void *buf, int n) {
    (void)buf; (void)n;
    return wolfDTLS_accept_stateless(c->ssl);
}
static const Op OP_LISTEN = {"listen", call_listen, 0};
#endif

/* A call succeeded with the handshake complete (handshake, or a read or
 * write that drove it): the server remembers a verified client (session.c,
 * once per connection). */
static void handshake_done(lwl_Conn *c) {
    c->done = 1;
    lwl_session_established(c);
    lwl_ech_established(c);
}

static const Op OP_HANDSHAKE = {"handshake", call_handshake, 0};
static const Op OP_READ = {"read", call_read, 0};
static const Op OP_WRITE = {"write", call_write, 1};
static const Op OP_SHUTDOWN = {"shutdown", call_shutdown, 0};
static const Op OP_KEY_UPDATE = {"key_update", call_key_update, -1};
#ifdef WOLFSSL_EARLY_DATA
static const Op OP_WRITE_EARLY = {"write_early", lwl_early_write_call, 0};
static const Op OP_READ_EARLY = {"read_early", lwl_early_read_call, 0};
#endif

/* Every method that enters wolfSSL brackets the call with enter/leave: the
 * Lua state is known to callbacks only for its duration. */
static lwl_Conn *enter(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (c->busy) luaL_error(L, "connection is busy (called from one of its own callbacks)");
    luaL_checkstack(L, LWL_CALLBACK_SLOTS, "no room for callbacks"); /* raise here, not in one */
    c->busy = 1;
    c->L = L;
    c->self = 1;
    c->cb_error = 0;
    c->cb_unreported = NULL;
    c->timed_out = 0;
    c->deadline = (c->fd < 0 || c->timeout < 0) ? -1
                  : c->timeout == HUGE_VAL ? HUGE_VAL : lwl_monotonic() + c->timeout;
    return c;
}

static void leave(lwl_Conn *c) {
    lwl_transport_leave(c->L, c, c->self);
    c->busy = 0;
    c->L = NULL;
    if (c->close_pending) conn_free(c);
}

/* One wolfSSL call, then the trace flush: what wolfSSL returned, or
 * WOLFSSL_FATAL_ERROR when a trace callback raised (then, during the
 * handshake, the peer is told with a plaintext alert in place of what this
 * call queued for it: in memory mode it has not left the process). */
static int run(lwl_Conn *c, const Op *op, void *buf, int n) {
    size_t withdraw;
    int ret, r;
    if (op->bulk > 0) lwl_trace_bulk(c, 1);
    ret = op->call(c, buf, n);
    if (op->bulk) lwl_trace_bulk(c, op->bulk > 0 ? 0 : -1);
    if (c->trace && (r = lwl_trace_flush(c, ret, &withdraw)) < 0) {
        if (r == -2) {
            c->told_peer = 1;
            lwl_transport_alert(c, 80 /* internal_error */, withdraw);
        }
        ret = WOLFSSL_FATAL_ERROR;
    }
    return ret;
}

/* wolfSSL 5.5.4 fails some handshakes without telling the peer, which then
 * waits forever: a TLS 1.3-only client given a TLS 1.2 ServerHello, a TLS 1.2
 * server whose client sent no certificate (verify = "require"), a TLS 1.3
 * server that cannot use the ClientHello. While our writes are still
 * plaintext an alert is a plaintext record: send it ourselves when wolfSSL
 * sent none. */
static void alert_if_silent(lwl_Conn *c, int code) {
    WOLFSSL_ALERT_HISTORY h;
    if (wolfSSL_get_alert_history(c->ssl, &h) != WOLFSSL_SUCCESS || h.last_tx.code >= 0) return;
    lwl_transport_alert(c, code, 0);
}

/* The transport ended after the handshake: nil, "connection reset", code on a
 * reset; nil, "truncated", code on an EOF without the peer's close_notify
 * (data may have been cut off: only "closed" says the stream is whole). */
static int transport_ended(lua_State *L, lwl_Conn *c, int code) {
    const char *kind = c->transport_reset ? "connection reset" : "truncated";
    lwl_set_last_error(L, c->self, kind,
                       c->transport_reset
                           ? "connection reset by the peer"
                           : "the peer closed the connection without close_notify (truncated)",
                       code, 0);
    lua_pushnil(L);
    lua_pushstring(L, kind);
    lwl_pushint(L, code);
    return 3;
}

/* The result of a wolfSSL call that returned ret <= 0. */
static int io_result(lua_State *L, lwl_Conn *c, int ret) {
    int err = lwl_get_error(c->ssl, ret);
    char msg[512];
    const char *kind;
    if (c->cb_error && !lwl_callback_report(c)) c->cb_error = 0; /* no memory: as below */
    if (c->cb_error) { /* the message and traceback are already in last_error */
        c->failed = 1;
        lwl_conn_uv(L, c->self);
        lua_getfield(L, -1, "last_error");
        lua_getfield(L, -1, "message");
        lua_pushnil(L);
        lua_replace(L, -4);
        lua_replace(L, -2);
        lwl_pushint(L, err);
        return 3;
    }
    switch (err) {
    case WOLFSSL_ERROR_WANT_READ:
        lua_pushnil(L);
        if (c->timed_out) lua_pushliteral(L, "timeout");
        else lua_pushliteral(L, "wantread");
        return 2;
    case WOLFSSL_ERROR_WANT_WRITE:
        lua_pushnil(L);
        if (c->timed_out) lua_pushliteral(L, "timeout");
        else lua_pushliteral(L, "wantwrite");
        return 2;
    case WOLFSSL_ERROR_ZERO_RETURN:
        c->got_close_notify = 1;
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
    default:
        break;
    }
    if (c->done && (err == SOCKET_PEER_CLOSED_E || err == SOCKET_ERROR_E) &&
        (c->transport_reset || c->transport_end))
        return transport_ended(L, c, err);
    c->failed = 1;
    if (!c->done && !c->cb_error) {
        if (err == VERSION_ERROR)
            alert_if_silent(c, 70 /* protocol_version */);
        else if (c->is_server && err != FATAL_ERROR /* the peer's alert: no answer */ &&
                 err != SOCKET_PEER_CLOSED_E && err != SOCKET_ERROR_E &&
                 (c->nsent == 0 || /* nothing sent yet: no keys yet */
                  /* TLS <= 1.2 server: plaintext until its ChangeCipherSpec,
                   * which comes first only when resuming */
                  (wolfSSL_version(c->ssl) != TLS1_3_VERSION && !wolfSSL_session_reused(c->ssl))))
            alert_if_silent(c, 40 /* handshake_failure */);
    }
    kind = lwl_describe_error(c, err, msg, sizeof msg);
    {
        WOLFSSL_ALERT_HISTORY h;
        int alert = 0;
        if (wolfSSL_get_alert_history(c->ssl, &h) == WOLFSSL_SUCCESS && err == FATAL_ERROR)
            alert = h.last_rx.code;
        lwl_set_last_error(L, c->self, kind, msg, err, alert);
    }
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lwl_pushint(L, err);
    return 3;
}

static int failed_again(lua_State *L) {
    lwl_conn_uv(L, 1);
    lua_getfield(L, -1, "last_error");
    lua_pushnil(L);
    if (lua_istable(L, -2)) {
        lua_getfield(L, -2, "message");
        lua_getfield(L, -3, "code");
    } else {
        lua_pushliteral(L, "connection failed earlier");
        lua_pushnil(L);
    }
    return 3;
}

/* A callback that wolfSSL cannot fail (on_new_session, session_store.put, a
 * tap callback after the handshake) raised once wolfSSL had finished its side
 * of the handshake: wolfSSL sent nothing, and the peer, finished too, would
 * wait for data forever. Tell it with close_notify: our records are
 * encrypted by now and 5.5.4 has no public call that sends a fatal alert. */
static void tell_peer_late_failure(lwl_Conn *c) {
    WOLFSSL_ALERT_HISTORY h;
    if (!c->cb_error || c->told_peer || !wolfSSL_is_init_finished(c->ssl)) return;
    if (wolfSSL_get_alert_history(c->ssl, &h) == WOLFSSL_SUCCESS && h.last_tx.code >= 0)
        return; /* wolfSSL sent its own alert */
    c->told_peer = 1;
    (void)wolfSSL_shutdown(c->ssl); /* best effort: this call fails anyway */
}

static int conn_handshake(lua_State *L) {
    lwl_Conn *c = enter(L);
    int ret, n;
    if (c->done) {
        leave(c);
        lua_pushboolean(L, 1);
        return 1;
    }
    if (c->failed) {
        leave(c);
        return failed_again(L);
    }
#ifdef WOLFSSL_EARLY_DATA
    /* a server that accepts early data reads it first (wolfSSL takes it only
     * in that mode): read() returns it once the handshake is done */
    while (c->is_server && c->ctx->max_early && !c->early_over) {
        char chunk[READ_CHUNK];
        ret = run(c, &OP_READ_EARLY, chunk, (int)sizeof chunk);
        if (ret > 0 && !c->cb_error && lwl_buf_append(&c->app, chunk, (size_t)ret)) continue;
        if (ret == BAD_FUNC_ARG && !c->cb_error) ret = 0; /* not TLS 1.3: no early data */
        if (ret != 0 || c->cb_error) {
            n = io_result(L, c, ret > 0 ? WOLFSSL_FATAL_ERROR : ret);
            leave(c);
            return n;
        }
        c->early_over = 1;
    }
#endif
    ret = run(c, &OP_HANDSHAKE, NULL, 0);
    /* some callbacks cannot fail the handshake in wolfSSL (on_new_session,
     * session_store.put: their result is ignored): fail it here */
    if (ret == WOLFSSL_SUCCESS && !c->cb_error) {
        handshake_done(c);
        leave(c);
        lua_pushboolean(L, 1);
        return 1;
    }
    tell_peer_late_failure(c);
    n = io_result(L, c, ret);
    leave(c);
    return n;
}

/* conn:read([n]) -> up to n bytes (default: one record's worth) */
static int conn_read(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1); /* self first: its error is the useful one */
    lua_Integer want = luaL_optinteger(L, 2, READ_CHUNK);
    char chunk[READ_CHUNK];
    int ret, n;
    luaL_argcheck(L, want >= 0, 2, "must not be negative");
    c = enter(L);
    if (c->app.len > 0 && want > 0) { /* what arrived while shutdown() waited */
        size_t k = (size_t)want < c->app.len ? (size_t)want : c->app.len;
        lua_pushlstring(L, (const char *)c->app.p + c->app.head, k);
        lwl_buf_consume(&c->app, k);
        leave(c);
        return 1;
    }
    if (c->failed) {
        leave(c);
        return failed_again(L);
    }
    if (want == 0) {
        leave(c);
        lua_pushliteral(L, "");
        return 1;
    }
    if (c->got_close_notify) { /* nothing comes after it (and wolfSSL would try) */
        leave(c);
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
    }
    if (want <= READ_CHUNK) { /* the common case: one copy, no allocation */
        ret = run(c, &OP_READ, chunk, (int)want);
        if (ret > 0 && !c->cb_error) { /* a callback (on_new_session) may have raised */
            handshake_done(c);
            leave(c);
            lua_pushlstring(L, chunk, (size_t)ret);
            return 1;
        }
    } else { /* larger: gather records until n bytes or nothing more is ready */
        luaL_Buffer b;
        lua_Integer got = 0;
        luaL_buffinit(L, &b);
        for (;;) {
            int step = (int)(want - got < READ_CHUNK ? want - got : READ_CHUNK);
#if LUA_VERSION_NUM >= 502 /* wolfSSL writes into the buffer: no copy through chunk */
            ret = run(c, &OP_READ, luaL_prepbuffsize(&b, (size_t)step), step);
            if (ret <= 0) break;
            luaL_addsize(&b, (size_t)ret);
#else
            ret = run(c, &OP_READ, chunk, step);
            if (ret <= 0) break;
            luaL_addlstring(&b, chunk, (size_t)ret);
#endif
            got += ret;
            if (got >= want || wolfSSL_pending(c->ssl) == 0) break;
        }
        if (got > 0 && !c->cb_error) {
            handshake_done(c);
            leave(c);
            luaL_pushresult(&b);
            return 1;
        }
        luaL_pushresult(&b);
        lua_pop(L, 1);
    }
    tell_peer_late_failure(c);
    n = io_result(L, c, ret);
    leave(c);
    return n;
}

/* conn:write(s [, i [, j]]) -> bytes written (i, j as in string.sub) */
static int conn_write(lua_State *L) {
    size_t len;
    const char *s = (lwl_checkconn(L, 1), luaL_checklstring(L, 2, &len));
    lua_Integer i = luaL_optinteger(L, 3, 1), j = luaL_optinteger(L, 4, -1);
    lwl_Conn *c;
    int ret, n;
    if (i < 0) i = (lua_Integer)len + i + 1;
    if (i < 1) i = 1;
    if (j < 0) j = (lua_Integer)len + j + 1;
    if (j > (lua_Integer)len) j = (lua_Integer)len;
    c = enter(L);
    if (c->failed) {
        leave(c);
        return failed_again(L);
    }
    if (i > j) {
        leave(c);
        lwl_pushint(L, 0);
        return 1;
    }
    c->one_record = j - i + 1 <= READ_CHUNK; /* transport.c: drain()'s string made at once */
    ret = run(c, &OP_WRITE, (void *)(s + i - 1), (int)(j - i + 1));
    c->one_record = 0;
    if (ret > 0 && !c->cb_error) { /* a write that drove the handshake ran its callbacks */
        handshake_done(c);
        leave(c);
        lwl_pushint(L, ret);
        return 1;
    }
    tell_peer_late_failure(c);
    n = io_result(L, c, ret);
    leave(c);
    return n;
}

#define SHUTDOWN_KEEP (16u << 20) /* plaintext shutdown() keeps for read() */

/* Send our close_notify once. 1 when it is sent or queued, else pushes the
 * results and returns their count (negated). */
static int send_close_notify(lua_State *L, lwl_Conn *c) {
    int ret = run(c, &OP_SHUTDOWN, NULL, 0);
    if ((ret == WOLFSSL_SUCCESS || ret == WOLFSSL_SHUTDOWN_NOT_DONE) && !c->cb_error) {
        c->sent_notify = 1;
        return 1;
    }
    if (!c->cb_error && (c->transport_end || c->transport_reset)) return 1; /* nobody to tell */
    return -io_result(L, c, ret);
}

/* Wait for the peer's close_notify, keeping the data that comes first. 1 when
 * it came or the transport ended, else pushes the results and returns their
 * count (negated). wolfSSL_shutdown would wait too, but in 5.5.4 it returns
 * "not done" alike for would-block, EOF and data (which the next call then
 * overwrites): wolfSSL_read tells them apart. */
static int await_close_notify(lua_State *L, lwl_Conn *c) {
    char chunk[READ_CHUNK];
    for (;;) {
        int ret, err;
        if (c->got_close_notify) return 1;
        if (c->app.len >= SHUTDOWN_KEEP) {
            lua_pushnil(L);
            lua_pushliteral(L, "the peer is still sending: read() its data, then shutdown() again");
            return -2;
        }
        ret = run(c, &OP_READ, chunk, (int)sizeof chunk);
        if (ret > 0 && !c->cb_error) {
            if (lwl_buf_append(&c->app, chunk, (size_t)ret)) continue;
            lua_pushnil(L); /* no luaL_error here: leave() must still run */
            lua_pushliteral(L, "out of memory");
            return -2;
        }
        err = lwl_get_error(c->ssl, ret);
        if (c->cb_error || err != WOLFSSL_ERROR_ZERO_RETURN) {
            /* the transport ended: nothing more can come (read() says how) */
            if (!c->cb_error && (c->transport_end || c->transport_reset)) return 1;
            return -io_result(L, c, ret);
        }
        c->got_close_notify = 1;
    }
}

/* conn:shutdown(["write"]): a clean close. Both directions: our close_notify
 * (once), then true when the peer's has come or the transport ended (reset
 * included: read() says which), nil, "wantread" while it is awaited.
 * "write": our close_notify only. */
static int conn_shutdown(lua_State *L) {
    const char *how = (lwl_checkconn(L, 1), luaL_optstring(L, 2, NULL));
    lwl_Conn *c;
    int n, ended;
    if (how != NULL && strcmp(how, "write") != 0)
        return luaL_argerror(L, 2, lua_pushfstring(L, "expected \"write\" or nothing, got '%s'", how));
    c = enter(L);
    if (c->failed) {
        leave(c);
        return failed_again(L);
    }
    ended = c->transport_end || c->transport_reset; /* nothing to send or wait for */
    if (!c->sent_notify && !ended && (n = send_close_notify(L, c)) <= 0) {
        leave(c);
        return -n;
    }
    if (c->io->flush(c) == 0) {
        int timed_out = c->timed_out;
        leave(c);
        lua_pushnil(L);
        if (timed_out) lua_pushliteral(L, "timeout");
        else lua_pushliteral(L, "wantwrite");
        return 2;
    }
    ended = c->transport_end || c->transport_reset;
    /* before the handshake is done there is no data to wait for */
    if (how == NULL && c->done && !ended && (n = await_close_notify(L, c)) <= 0) {
        leave(c);
        return -n;
    }
    leave(c);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- TLS 1.3 early data (early.c) ---- */

/* conn:write_early(s) -> bytes written (client, resuming a session that
 * allows early data, before the handshake is done; the first call sends the
 * ClientHello); nil, "wantwrite"/"wantread"; nil, msg [, code] */
static int conn_write_early(lua_State *L) {
    size_t len;
    lwl_Conn *c = lwl_checkconn(L, 1);
    const char *s = luaL_checklstring(L, 2, &len);
    int ret, n;
    if (c->busy) luaL_error(L, "write_early: connection is busy (called from one of its own callbacks)");
    if ((n = lwl_early_usable(L, c, 1, len)) > 0) return n;
#ifdef WOLFSSL_EARLY_DATA
    c = enter(L);
    c->early_tried = 1;
    ret = run(c, &OP_WRITE_EARLY, (void *)s, (int)len);
    if (ret >= 0 && !c->cb_error) {
        leave(c);
        lwl_pushint(L, ret);
        return 1;
    }
    n = io_result(L, c, ret);
    leave(c);
    return n;
#else
    (void)s; (void)ret; (void)n;
    return 0;
#endif
}

/* conn:read_early() -> data (server, during its handshake); nil when there
 * is none (none was sent, it was rejected, or all of it was read: go on with
 * handshake()); nil, "wantread"/"wantwrite" while it may still come */
static int conn_read_early(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    int ret, n;
    if (c->busy) luaL_error(L, "read_early: connection is busy (called from one of its own callbacks)");
    if ((n = lwl_early_usable(L, c, 0, 0)) > 0) return n;
#ifdef WOLFSSL_EARLY_DATA
    {
        char chunk[READ_CHUNK];
        c = enter(L);
        ret = run(c, &OP_READ_EARLY, chunk, (int)sizeof chunk);
        if (ret > 0 && !c->cb_error) {
            leave(c);
            lua_pushlstring(L, chunk, (size_t)ret);
            return 1;
        }
        if (ret == 0 && !c->cb_error) { /* none (more): the handshake goes on */
            c->early_over = 1;
            leave(c);
            lua_pushnil(L);
            return 1;
        }
        n = io_result(L, c, ret);
        leave(c);
        return n;
    }
#else
    (void)ret; (void)n;
    return 0;
#endif
}

/* ---- TLS 1.3 post-handshake messages ---- */

/* Not on a failed connection, only after the handshake, only TLS 1.3 (and
 * DTLS 1.3 where dtls13 says it has the message too).
 * Returns 0 after pushing nil, msg for these run-time refusals. */
static int tls13_ready(lua_State *L, lwl_Conn *c, const char *what, int dtls13) {
    int version;
    if (c->failed) return lwl_fail(L, "the connection failed earlier"), 0;
    if (!c->done && !wolfSSL_is_init_finished(c->ssl))
        return lwl_fail(L, "the handshake is not finished"), 0;
    version = wolfSSL_version(c->ssl);
    if (dtls13 && version == DTLS1_3_VERSION) return 1;
    if (version != TLS1_3_VERSION) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s needs TLS 1.3 (this connection uses %s)", what,
                        wolfSSL_get_version(c->ssl));
        return 0;
    }
    return 1;
}

/* key_update, request_certificate: wolfSSL queues the message, which goes
 * out now or with the next write. true, or nil, "wantwrite" (queued), or
 * nil, msg, code (also in last_error). */
static int post_handshake(lua_State *L, const Op *op, int dtls13) {
    char text[WOLFSSL_MAX_ERROR_SZ];
    lwl_Conn *c = lwl_checkconn(L, 1);
    int ret, n;
    if (c->busy)
        luaL_error(L, "%s: connection is busy (called from one of its own callbacks)", op->name);
    if (!tls13_ready(L, c, op->name, dtls13)) return 2;
    c = enter(L);
    ret = run(c, op, NULL, 0);
    if (c->cb_error) { /* a trace callback raised: like any method */
        n = io_result(L, c, WOLFSSL_FATAL_ERROR);
    } else if (ret == WOLFSSL_SUCCESS) {
        lua_pushboolean(L, 1);
        n = 1;
    } else if (ret == WOLFSSL_ERROR_WANT_WRITE) { /* queued: the next write sends it */
        lua_pushnil(L);
        lua_pushliteral(L, "wantwrite");
        n = 2;
    } else {
        lua_pushnil(L);
        if (ret == POST_HAND_AUTH_ERROR)
            lua_pushfstring(L, "%s: the client did not offer post-handshake authentication "
                               "(post_handshake_auth = true on the client)", op->name);
        else
            lua_pushfstring(L, "%s failed: %s (wolfSSL error %d)", op->name,
                            wolfSSL_ERR_error_string((unsigned long)ret, text), ret);
        lwl_pushint(L, ret);
        lwl_set_last_error(L, c->self, op->name, lua_tostring(L, -2), ret, 0);
        n = 3;
    }
    leave(c);
    return n;
}

/* conn:key_update(): send a TLS 1.3 KeyUpdate (asking the peer to update too) */
static int conn_key_update(lua_State *L) {
    return post_handshake(L, &OP_KEY_UPDATE, 1); /* DTLS 1.3 has KeyUpdate */
}

/* conn:request_certificate(): TLS 1.3 post-handshake CertificateRequest.
 * wolfSSL queues the message; it goes out with the server's next write. */
static int conn_request_certificate(lua_State *L) {
#if defined(WOLFSSL_POST_HANDSHAKE_AUTH) && !defined(NO_CERTS)
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (!c->is_server) luaL_error(L, "request_certificate: only a server can request a certificate");
    if (c->ctx->verify == 0)
        luaL_error(L, "request_certificate: the server context needs verify = \"peer\" or "
                      "\"require\" to check the certificate it asks for");
    return post_handshake(L, &OP_REQUEST_CERTIFICATE, 0); /* (DTLS 1.3: not offered here) */
#else
    return luaL_error(L, "request_certificate is not supported by this wolfSSL build "
                         "(no WOLFSSL_POST_HANDSHAKE_AUTH)");
#endif
}

/* conn:renegotiate(): TLS 1.2 secure renegotiation (RFC 5746), a full
 * second handshake. true when it is done; nil, "wantread"/"wantwrite" while
 * under way (call again, as handshake()); nil, msg [, code] when it cannot. */
static int conn_renegotiate(lua_State *L) {
#ifdef LWL_RENEGOTIATION
    lwl_Conn *c = lwl_checkconn(L, 1);
    int ret, n;
    if (c->busy) luaL_error(L, "renegotiate: connection is busy (called from one of its own callbacks)");
    if (c->failed) return lwl_fail(L, "the connection failed earlier");
    if (!c->done) return lwl_fail(L, "the handshake is not finished");
    if (wolfSSL_version(c->ssl) == TLS1_3_VERSION)
        return lwl_fail(L, "renegotiate needs TLS 1.2 (TLS 1.3 has key_update instead)");
    if (!wolfSSL_SSL_get_secure_renegotiation_support(c->ssl))
        return lwl_fail(L, "renegotiate: needs renegotiation = \"allow\" on this side and a peer "
                           "that supports secure renegotiation (RFC 5746)");
    c = enter(L);
    ret = run(c, &OP_RENEGOTIATE, NULL, 0);
    if (ret == WOLFSSL_SUCCESS && !c->cb_error) {
        lua_pushboolean(L, 1);
        n = 1;
    } else {
        WOLFSSL_ALERT_HISTORY h;
        int err = lwl_get_error(c->ssl, ret);
        if ((err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) && !c->cb_error &&
            wolfSSL_get_alert_history(c->ssl, &h) == WOLFSSL_SUCCESS && h.last_rx.code == 100 &&
            h.last_rx.level == alert_warning) {
            /* the peer said no_renegotiation: the connection goes on */
            lua_pushnil(L);
            lua_pushliteral(L, "the peer refused to renegotiate (no_renegotiation alert)");
            n = 2;
        } else {
            n = io_result(L, c, ret);
        }
    }
    leave(c);
    return n;
#else
    (void)lwl_checkconn(L, 1);
    return lwl_fail(L, "renegotiate is not supported by this wolfSSL build "
                       "(wolfssl.features.renegotiation is false)");
#endif
}

static int conn_close(lua_State *L) {
    lwl_Conn *c = toconn(L, 1);
    if (c->busy)
        c->close_pending = 1; /* freed when the wolfSSL call in progress returns */
    else
        conn_free(c);
    return 0;
}

/* conn:pending() -> bytes waiting for the peer, plaintext readable now */
static int conn_pending(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    lwl_pushint(L, c->out.len);
    lwl_pushint(L, (lua_Integer)c->app.len + wolfSSL_pending(c->ssl));
    return 2;
}

/* ---- negotiated values ---- */

/* Getters answer nil, not nothing: tostring(conn:alpn()) must work. */
static int push_nil(lua_State *L) {
    lua_pushnil(L);
    return 1;
}

static int conn_version(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (!c->done) return push_nil(L);
    lua_pushstring(L, wolfSSL_get_version(c->ssl));
    return 1;
}

static int conn_cipher(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    const char *name;
    if (!c->done) return push_nil(L);
    {
        /* By suite number, so both builds say the same: TLS 1.3 suites by their
         * RFC 8446 names, TLS 1.2 ones by OpenSSL's (as OpenSSL, Python, LuaSec) */
        int suite = wolfSSL_get_current_cipher_suite(c->ssl);
        unsigned char s0 = (unsigned char)(suite >> 8), s1 = (unsigned char)suite;
        name = s0 == 0x13 ? wolfSSL_get_cipher_name_iana_from_suite(s0, s1)
                          : wolfSSL_get_cipher_name_from_suite(s0, s1);
    }
    if (name == NULL) return push_nil(L);
    lua_pushstring(L, name);
    return 1;
}

static int conn_group(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    const char *name;
    if (!c->done) return push_nil(L);
    name = wolfSSL_get_curve_name(c->ssl);
    if (name == NULL) return push_nil(L);
    lua_pushstring(L, lwl_group_name(name));
    return 1;
}

static int conn_alpn(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
#ifdef HAVE_ALPN
    char *proto = NULL;
    unsigned short len = 0;
    if (wolfSSL_ALPN_GetProtocol(c->ssl, &proto, &len) == WOLFSSL_SUCCESS && proto && len) {
        lua_pushlstring(L, proto, len);
        return 1;
    }
#else
    (void)c;
#endif
    return push_nil(L);
}

static int conn_server_name(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (!c->is_server) {
        if (c->server_name == NULL) return push_nil(L);
        lua_pushstring(L, c->server_name);
        return 1;
    }
#ifdef HAVE_SNI
    {
        void *data = NULL;
        unsigned short n = wolfSSL_SNI_GetRequest(c->ssl, WOLFSSL_SNI_HOST_NAME, &data);
        if (n > 0 && data) {
            lua_pushlstring(L, (const char *)data, n);
            return 1;
        }
    }
#endif
    return push_nil(L);
}

static int conn_peer_certificate(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    WOLFSSL_X509 *x;
    x = wolfSSL_get_peer_certificate(c->ssl); /* a new object: ours */
    if (x == NULL) { /* a resumption this wolfSSL kept none for: the one remembered */
        int len = 0;
        const unsigned char *der = lwl_session_peer_der(c, &len);
        if (der == NULL) return push_nil(L);
        lwl_x509_push_der(L, der, len);
        return 1;
    }
    lwl_x509_push(L, x);
    return 1;
}

static int conn_peer_chain(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
#ifdef SESSION_CERTS
    WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(c->ssl); /* owned by the WOLFSSL */
    int i, n = chain ? wolfSSL_get_chain_count(chain) : 0;
    if (n <= 0) return push_nil(L);
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
        int len = wolfSSL_get_chain_length(chain, i);
        lwl_x509_push_der(L, wolfSSL_get_chain_cert(chain, i), len);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
#else
    return lwl_chain_push(L, c); /* verify.c: kept by the verify callback */
#endif
}

/* conn:verify_result() -> true | false, reason, code */
static int conn_verify_result(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    int code = c->vfy_err ? lwl_verify_code(c->vfy_err) : (int)wolfSSL_get_verify_result(c->ssl);
    WOLFSSL_X509 *peer;
    const char *why = NULL;
    int resumed = lwl_session_verdict(c, &why); /* resumed: the session kept the verdict */
    if (resumed > 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (resumed == 0) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, why);
        lwl_pushint(L, 0);
        return 3;
    }
    if (code == 0) {
        peer = wolfSSL_get_peer_certificate(c->ssl);
        if (peer == NULL) {
            lua_pushboolean(L, 0);
            lua_pushliteral(L, "no peer certificate");
            lwl_pushint(L, 0);
            return 3;
        }
        wolfSSL_X509_free(peer);
        if (!c->verified) {
            lua_pushboolean(L, 0);
            lua_pushliteral(L, "peer certificate not verified (verify = \"none\")");
            lwl_pushint(L, 0);
            return 3;
        }
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushstring(L, lwl_verify_reason(code));
    lwl_pushint(L, code);
    return 3;
}

static int conn_session_reused(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    lua_pushboolean(L, c->done && wolfSSL_session_reused(c->ssl));
    return 1;
}

static int conn_state(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (c->failed)
        lua_pushliteral(L, "failed");
    /* get_shutdown claims both directions shut before the handshake starts */
    else if (c->got_close_notify ||
             (c->done && (wolfSSL_get_shutdown(c->ssl) & WOLFSSL_SENT_SHUTDOWN)))
        lua_pushliteral(L, "shutdown");
    else if (c->done)
        lua_pushliteral(L, "established");
    else if (c->nrecv == 0 && c->out.len == 0 && !wolfSSL_is_init_finished(c->ssl) &&
             c->step == NULL)
        lua_pushliteral(L, "start");
    else
        lua_pushstring(L, c->step ? c->step : "handshake");
    return 1;
}

static int conn_last_error(lua_State *L) {
    lwl_checkconn(L, 1);
    lwl_conn_uv(L, 1);
    lua_getfield(L, -1, "last_error");
    return 1;
}

static int conn_is_server(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    lua_pushboolean(L, c->is_server);
    return 1;
}

static int conn_getfd(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    lwl_pushint(L, c->fd);
    return 1;
}

/* conn:export_keying_material(label, len [, context]) */
static int conn_export_keying_material(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    size_t llen, clen = 0;
    const char *label = luaL_checklstring(L, 2, &llen);
    lua_Integer len = luaL_checkinteger(L, 3);
    const char *context = luaL_optlstring(L, 4, NULL, &clen);
    luaL_argcheck(L, len > 0 && len <= 16384, 3, "must be between 1 and 16384");
#ifdef HAVE_KEYING_MATERIAL
    {
        unsigned char out[16384];
        if (!c->done) return lwl_fail(L, "the handshake is not finished");
        if (wolfSSL_export_keying_material(c->ssl, out, (size_t)len, label, llen,
                                           (const unsigned char *)context, clen,
                                           context != NULL) != WOLFSSL_SUCCESS)
            return lwl_fail(L, "keying material export failed");
        lua_pushlstring(L, (const char *)out, (size_t)len);
        return 1;
    }
#else
    (void)c; (void)label; (void)context;
    return luaL_error(L, "export_keying_material is not supported by this wolfSSL build");
#endif
}

/* conn:settimeout(seconds | nil): fd mode, how long each call may wait for
 * the socket (poll); then nil, "timeout". nil: no waiting (wantread /
 * wantwrite), math.huge: no limit. */
static int conn_settimeout(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (lua_isnoneornil(L, 2)) {
        c->timeout = -1;
    } else {
        lua_Number t = luaL_checknumber(L, 2);
        luaL_argcheck(L, t >= 0, 2, "must not be negative (nil: no waiting)");
        c->timeout = t;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.conn_own_fd(conn): close() (and the collector) close the descriptor
 * too: wolfssl.connect made it. */
static int conn_own_fd(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    c->owns_fd = c->fd >= 0;
    return 0;
}

/* conn:finished([peer]): the verify_data of our Finished message, or of the
 * peer's ("tls-unique" channel binding, LuaSec's getfinished/getpeerfinished);
 * nil before the handshake is done, or where the build keeps none
 * (WOLFSSL_HAVE_TLS_UNIQUE: OPENSSL_ALL builds). */
static int conn_finished(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    int peer = lua_toboolean(L, 2);
#ifdef WOLFSSL_HAVE_TLS_UNIQUE
    unsigned char buf[64];
    size_t n = 0;
    if (c->done)
        n = peer ? wolfSSL_get_peer_finished(c->ssl, buf, sizeof buf)
                 : wolfSSL_get_finished(c->ssl, buf, sizeof buf);
    if (n > 0 && n <= sizeof buf) {
        lua_pushlstring(L, (const char *)buf, n);
        return 1;
    }
#else
    (void)c; (void)peer;
#endif
    lua_pushnil(L);
    return 1;
}

/* ---- metamethods ---- */

static int conn_gc(lua_State *L) {
    conn_free(toconn(L, 1));
    return 0;
}

static int conn_tostring(lua_State *L) {
    lwl_Conn *c = toconn(L, 1);
    if (c->ssl == NULL)
        lua_pushliteral(L, "wolfssl.Connection (closed)");
    else
        lua_pushfstring(L, "wolfssl.Connection (%s, %s): %p", c->is_server ? "server" : "client",
                        c->io->name, (void *)c);
    return 1;
}

/* conn.data is a field; everything else is a method (looked up first: a
 * method call is the hot path, bulk transfer makes several per record) */
static int conn_index(lua_State *L) {
    const char *key;
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) return 1;
    key = lua_tostring(L, 2);
    if (key && strcmp(key, "data") == 0) {
        toconn(L, 1);
        lwl_conn_uv(L, 1);
        lua_getfield(L, -1, "data");
        if (lua_isnil(L, -1)) { /* created on first use */
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, "data");
        }
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

static int conn_newindex(lua_State *L) {
    const char *key = lua_tostring(L, 2);
    toconn(L, 1);
    if (key == NULL || strcmp(key, "data") != 0)
        return luaL_error(L, "cannot set field '%s' of a connection (use conn.data)",
                          key ? key : luaL_typename(L, 2));
    lwl_conn_uv(L, 1);
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, "data");
    return 0;
}

/* ---- DTLS retransmission, on the application's clock ---- */

static lwl_Conn *check_dtls(lua_State *L, const char *method) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (!c->dtls) luaL_error(L, "%s: not a DTLS connection (make the context with dtls = true)", method);
    return c;
}

/* conn:timeout() -> seconds until a retransmission is due (0: now), or nil */
static int conn_timeout(lua_State *L) {
    double due = lwl_transport_dtls_due(check_dtls(L, "timeout"));
    if (due < 0) lua_pushnil(L);
    else lua_pushnumber(L, due);
    return 1;
}

/* conn:handle_timeout() -> true (retransmitted, or nothing to do), or nil, msg */
static int conn_handle_timeout(lua_State *L) {
    lwl_Conn *c = check_dtls(L, "handle_timeout");
    int ret = WOLFSSL_SUCCESS;
    c = enter(L);
    if (c->failed) {
        leave(c);
        return failed_again(L);
    }
#ifdef WOLFSSL_DTLS
    if (lwl_transport_dtls_due(c) >= 0) ret = run(c, &OP_HANDLE_TIMEOUT, NULL, 0);
#endif
    if (ret != WOLFSSL_SUCCESS) {
        const char *msg = "DTLS retransmission timed out: the peer did not answer";
        c->failed = 1;
        lwl_set_last_error(L, c->self, "timeout", msg, lwl_get_error(c->ssl, ret), 0);
        leave(c);
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    leave(c);
    lua_pushboolean(L, 1);
    return 1;
}

/* conn:listen(datagram, peer) -> true: a ClientHello with a valid cookie
 * from `peer` (any string naming the sender's address, bound into the
 * cookie): the connection is now that peer's (go on with handshake());
 * false: answered statelessly (drain() has the HelloVerifyRequest or the
 * HelloRetryRequest cookie for `peer`) or dropped, and the connection is
 * ready for the next datagram from anyone; nil, msg on failure. A server on
 * one UDP socket keeps one such connection for new peers: a spoofed
 * ClientHello gets one small answer and no state. */
static int conn_listen(lua_State *L) {
    lwl_Conn *c = check_dtls(L, "listen");
    size_t len, plen;
    const char *d = luaL_checklstring(L, 2, &len);
    const char *peer = luaL_checklstring(L, 3, &plen);
    int ret = WOLFSSL_FATAL_ERROR, n;
    luaL_argcheck(L, len <= 65535, 2, "a datagram is at most 65535 bytes");
    luaL_argcheck(L, plen > 0 && plen <= 255, 3, "expected the peer's address (1 to 255 bytes)");
    if (!c->is_server || c->fd >= 0) return luaL_error(L, "listen: for DTLS servers in memory mode");
#ifndef LWL_DTLS_STATEFUL
    (void)ret; (void)n; (void)d; (void)peer;
    return luaL_error(L, "listen: this wolfSSL build has no stateless DTLS accept (features.dtls_listen is false)");
#else
    c = enter(L);
    if (c->failed || c->done || wolfSSL_is_stateful(c->ssl)) {
        leave(c);
        return luaL_error(L, "listen: the connection already belongs to a peer (make a new one)");
    }
    lwl_buf_free(&c->in); /* what an earlier datagram left */
    if (wolfSSL_dtls_set_peer(c->ssl, (void *)peer, (unsigned)plen) != WOLFSSL_SUCCESS ||
        !lwl_transport_push_datagram(c, d, len)) {
        leave(c);
        return luaL_error(L, "out of memory");
    }
    ret = run(c, &OP_LISTEN, NULL, 0);
    if (ret == WOLFSSL_SUCCESS || ret == WOLFSSL_FAILURE) {
        if (ret == WOLFSSL_FAILURE) lwl_buf_free(&c->in);
        leave(c);
        lua_pushboolean(L, ret == WOLFSSL_SUCCESS);
        return 1;
    }
    n = io_result(L, c, ret);
    leave(c);
    return n;
#endif
}

static const luaL_Reg conn_methods[] = {
    {"handshake", conn_handshake},
    {"read", conn_read},
    {"write", conn_write},
    {"shutdown", conn_shutdown},
    {"close", conn_close},
    {"feed", lwl_transport_feed},
    {"feed_eof", lwl_transport_feed_eof},
    {"drain", lwl_transport_drain},
    {"pending", conn_pending},
    {"version", conn_version},
    {"cipher", conn_cipher},
    {"group", conn_group},
    {"alpn", conn_alpn},
    {"server_name", conn_server_name},
    {"peer_certificate", conn_peer_certificate},
    {"peer_chain", conn_peer_chain},
    {"verify_result", conn_verify_result},
    {"session_reused", conn_session_reused},
    {"state", conn_state},
    {"last_error", conn_last_error},
    {"is_server", conn_is_server},
    {"getfd", conn_getfd},
    {"export_keying_material", conn_export_keying_material},
    {"key_update", conn_key_update},
    {"renegotiate", conn_renegotiate},
    {"write_early", conn_write_early},
    {"read_early", conn_read_early},
    {"early_data", lwl_early_status},
    {"set_context", lwl_negotiate_set_context},
    {"ech", lwl_ech_status},
    {"ech_retry_configs", lwl_ech_retry_configs},
    {"session", lwl_session_get},
    {"set_session", lwl_session_set},
    {"_ocsp_status", lwl_verify_ocsp_status},
    {"request_certificate", conn_request_certificate},
    {"finished", conn_finished},
    {"settimeout", conn_settimeout},
    {"timeout", conn_timeout},
    {"handle_timeout", conn_handle_timeout},
    {"listen", conn_listen},
    {NULL, NULL}};

static const luaL_Reg conn_meta[] = {{"__newindex", conn_newindex},
                                     {"__gc", conn_gc},
#if LUA_VERSION_NUM >= 504
                                     {"__close", conn_gc},
#endif
                                     {"__tostring", conn_tostring},
                                     {NULL, NULL}};

void lwl_conn_open(lua_State *L) {
    static const luaL_Reg funcs[] = {{"conn_new", conn_new}, {"conn_quick", conn_quick},
                                     {"conn_own_fd", conn_own_fd}, {NULL, NULL}};
    luaL_newmetatable(L, LWL_CONN);
    lua_pushliteral(L, LWL_CONN);
    lua_setfield(L, -2, "__name");
    lua_newtable(L);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, conn_methods, 1); /* upvalue 1: the metatable (lwl_toconn) */
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "Connection"); /* core.Connection: init.lua adds Lua methods */
    lua_pushcclosure(L, conn_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    luaL_setfuncs(L, conn_meta, 1);
    /* upvalues of core.conn_*: the metatables of connections, contexts and
     * sessions (conn_quick checks its arguments and calls connection methods) */
    luaL_getmetatable(L, LWL_CONTEXT);
    luaL_getmetatable(L, LWL_SESSION);
    luaL_setfuncs(L, funcs, 3);
}
