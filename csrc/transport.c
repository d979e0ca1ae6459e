/* transport.c: how a connection's bytes move, and the buffers they move
 * through. wolfSSL always calls our own I/O callbacks (io_recv/io_send); they
 * do the bookkeeping every transport shares (bytes counted, first bytes kept,
 * server policy, trace tap) and hand the bytes to the connection's transport,
 * a small table of operations:
 *   memory  conn:feed() fills `in`, wolfSSL's records wait in `out` for
 *           conn:drain(): no I/O at all, so Lua code can yield between calls;
 *   fd      recv/send on a stream socket; `out` only holds what the socket
 *           could not take while a close_notify was sent (sent once).
 * DTLS adds a datagram transport (one datagram per feed/drain), not an `if`
 * in every method. No Lua code runs inside the I/O callbacks (memory mode
 * makes a Lua string there, protected: make_piece).
 *
 * This file also owns the one writer of a plaintext alert record, for the
 * failures where wolfSSL 5.5.4 tells the peer nothing. */
#include "lwolfssl.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- memory transport ---- */

static int mem_recv(lwl_Conn *c, char *buf, int sz) {
    if (c->in.len == 0) {
        if (!c->eof) return WOLFSSL_CBIO_ERR_WANT_READ;
        c->transport_end = 1;
        return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    }
    if ((size_t)sz > c->in.len) sz = (int)c->in.len;
    memcpy(buf, c->in.p + c->in.head, (size_t)sz);
    lwl_buf_consume(&c->in, (size_t)sz);
    return sz;
}

/* The record of a conn:write() of one record's worth (c->one_record) of at
 * least PIECE_MIN bytes that finds `out` empty becomes the Lua string drain()
 * returns, at once: one copy out of wolfSSL's buffer where `out` and drain's
 * string made two. `out` then borrows the string's bytes (as `in` borrows a
 * fed string), and the connection keeps it (`sending`) until drain().
 * Whatever comes next works on `out` as ever: more bytes make `out` copy the
 * string first (lwl_buf_append), an alert withdraws from it, drain(max) cuts
 * it. Here wolfSSL's frames are live and making a string may raise (out of
 * memory): it is made under lua_pcall (lwl_protected), and when that fails
 * the record is copied into `out` instead. */
#define PIECE_MIN 8192 /* smaller records: the protected call costs more than the copy
                        * it saves (callgrind: even at ~5 KiB) */

typedef struct Piece {
    const char *buf;
    size_t n;
} Piece;

static int make_piece(lua_State *L) { /* conn, Piece* */
    Piece *pc = (Piece *)lua_touserdata(L, 2);
    lua_pushlstring(L, pc->buf, pc->n);
    pc->buf = lua_tostring(L, -1); /* (5.1 and LuaJIT's push returns nothing) */
    lwl_conn_set(L, 1, LWL_UV_SENDING);
    return 0;
}

static int mem_send(lwl_Conn *c, const char *buf, int sz) {
    Piece pc;
    pc.buf = buf;
    pc.n = (size_t)sz;
    if (c->one_record && sz >= PIECE_MIN && c->out.p == NULL &&
        lwl_protected(c, make_piece, &pc) == 0) {
        c->out.p = (unsigned char *)pc.buf;
        c->out.head = c->out.cap = 0;
        c->out.len = pc.n;
        c->sending = 1;
        return sz;
    }
    if (!lwl_buf_append(&c->out, buf, (size_t)sz)) return WOLFSSL_CBIO_ERR_GENERAL;
    return sz;
}

static int mem_flush(lwl_Conn *c) {
    (void)c; /* drain() takes `out` */
    return 1;
}

static void mem_write_raw(lwl_Conn *c, const unsigned char *p, size_t n) {
    (void)lwl_buf_append(&c->out, p, n);
}

/* ---- fd transport (stream sockets) ---- */

/* A timeout (conn:settimeout): wait until the descriptor is ready, up to the
 * deadline of the call in progress (enter() sets it). poll, not select: any
 * descriptor number. 1 when ready (or poll failed: recv/send will say why),
 * 0 when there is no timeout or its time is up (then timed_out is set). */
static int wait_fd(lwl_Conn *c, short events) {
    for (;;) {
        struct pollfd p;
        int ms = -1, r;
        if (c->deadline < 0) return 0;
        if (c->deadline != HUGE_VAL) {
            double left = c->deadline - lwl_monotonic();
            if (left <= 0) {
                c->timed_out = 1;
                return 0;
            }
            ms = left > 86400.0 ? 86400000 : (int)(left * 1000.0) + 1;
        }
        p.fd = c->fd;
        p.events = events;
        p.revents = 0;
        r = poll(&p, 1, ms);
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return 1;
        /* r == 0 or EINTR: look at the clock again */
    }
}

static int fd_recv(lwl_Conn *c, char *buf, int sz) {
    for (;;) {
        ssize_t n = recv(c->fd, buf, (size_t)sz, 0);
        if (n > 0) return (int)n;
        if (n == 0) {
            c->transport_end = 1;
            return WOLFSSL_CBIO_ERR_CONN_CLOSE;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(c, POLLIN)) continue;
            return WOLFSSL_CBIO_ERR_WANT_READ;
        }
        if (errno == ECONNRESET) {
            c->transport_reset = 1;
            return WOLFSSL_CBIO_ERR_CONN_RST;
        }
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
}

/* Returns what was sent (or queued), and in *sent what reached the socket
 * now, the rest of sz having been queued in `out`. */
static int fd_send(lwl_Conn *c, const char *buf, int sz) {
    ssize_t n;
    if (c->out.len > 0) { /* behind a queued close_notify: order kept */
        if (!lwl_buf_append(&c->out, buf, (size_t)sz)) return WOLFSSL_CBIO_ERR_GENERAL;
        return sz;
    }
    for (;;) {
        n = send(c->fd, buf, (size_t)sz, MSG_NOSIGNAL);
        if (n >= 0) {
            if (n < sz && c->queue_writes) break; /* the rest waits in `out` */
            return (int)n;
        }
        if (errno == EINTR) continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && c->queue_writes) {
            n = 0;
            break;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(c, POLLOUT)) continue;
            return WOLFSSL_CBIO_ERR_WANT_WRITE;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            c->transport_reset = 1;
            return errno == EPIPE ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_CONN_RST;
        }
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
    /* wolfSSL 5.5.4 would send a close_notify again after WANT_WRITE (it
     * builds a new one on the next wolfSSL_shutdown): take it all now and
     * let shutdown() send what is left */
    if (!lwl_buf_append(&c->out, buf + n, (size_t)(sz - n))) return WOLFSSL_CBIO_ERR_GENERAL;
    return sz;
}

/* send what fd_send queued. 1 when all is sent, 0 when the socket is full,
 * -1 when the transport is gone (the queue is dropped). */
static int fd_flush(lwl_Conn *c) {
    while (c->out.len > 0) {
        ssize_t n = send(c->fd, c->out.p + c->out.head, c->out.len, MSG_NOSIGNAL);
        if (n >= 0) {
            lwl_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(c, POLLOUT)) continue;
            return 0;
        }
        c->transport_reset = 1; /* EPIPE, ECONNRESET, or a socket that broke */
        lwl_buf_free(&c->out);
        return -1;
    }
    return 1;
}

static void fd_write_raw(lwl_Conn *c, const unsigned char *p, size_t n) {
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)r; /* best effort: the connection is failing anyway */
}

/* ---- datagram transports (DTLS) ---- */

/* Memory mode: `in` and `out` hold whole datagrams, each behind its length
 * (2 bytes, big-endian): wolfSSL reads one datagram per call and each of its
 * sends is one datagram, never merged with the next. */
static int dgram_push(lwl_Buf *b, const void *p, size_t n) {
    unsigned char len[2];
    len[0] = (unsigned char)(n >> 8);
    len[1] = (unsigned char)n;
    return lwl_buf_append(b, len, 2) && lwl_buf_append(b, p, n);
}

/* Take the length off the datagram at the front of b (b->len > 0): its
 * bytes are then at b->p + b->head, for the caller to consume. */
static size_t dgram_front(lwl_Buf *b) {
    size_t n = (size_t)b->p[b->head] << 8 | b->p[b->head + 1];
    lwl_buf_consume(b, 2);
    return n;
}

int lwl_transport_push_datagram(lwl_Conn *c, const char *p, size_t n) {
    return n == 0 || dgram_push(&c->in, p, n);
}

static int memdgram_recv(lwl_Conn *c, char *buf, int sz) {
    size_t n;
    if (c->in.len == 0) return WOLFSSL_CBIO_ERR_WANT_READ; /* (no EOF in datagrams) */
    n = dgram_front(&c->in);
    /* a datagram longer than wolfSSL's buffer is cut, as a UDP socket does */
    memcpy(buf, c->in.p + c->in.head, n < (size_t)sz ? n : (size_t)sz);
    lwl_buf_consume(&c->in, n);
    return n < (size_t)sz ? (int)n : sz;
}

static int memdgram_send(lwl_Conn *c, const char *buf, int sz) {
    if (!dgram_push(&c->out, buf, (size_t)sz)) return WOLFSSL_CBIO_ERR_GENERAL;
    return sz;
}

static void memdgram_write_raw(lwl_Conn *c, const unsigned char *p, size_t n) {
    (void)dgram_push(&c->out, p, n);
}

/* fd mode over a connected UDP socket: recv and send move one datagram each.
 * While a call may wait (settimeout) and the retransmission timer runs, the
 * wait ends when the timer is due: WOLFSSL_CBIO_ERR_TIMEOUT makes wolfSSL
 * retransmit and read again. */
static int fddgram_recv(lwl_Conn *c, char *buf, int sz) {
    for (;;) {
        ssize_t n = recv(c->fd, buf, (size_t)sz, 0);
        if (n > 0) return (int)n;
        if (n == 0 || errno == EINTR) continue; /* an empty datagram: nothing */
        if (errno == ECONNREFUSED) continue; /* an ICMP error for an earlier datagram: UDP
                                              * gives no guarantee, the timer retransmits */
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            double due = lwl_transport_dtls_due(c), saved = c->deadline;
            int ready;
            if (due >= 0 && c->deadline >= 0 && lwl_monotonic() + due < c->deadline)
                c->deadline = lwl_monotonic() + due; /* wait for the timer at most */
            ready = wait_fd(c, POLLIN);
            if (!ready && c->timed_out && c->deadline != saved) {
                c->timed_out = 0;
                c->deadline = saved;
                return WOLFSSL_CBIO_ERR_TIMEOUT;
            }
            c->deadline = saved;
            if (ready) continue;
            return WOLFSSL_CBIO_ERR_WANT_READ;
        }
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
}

static int fddgram_send(lwl_Conn *c, const char *buf, int sz) {
    for (;;) {
        ssize_t n = send(c->fd, buf, (size_t)sz, 0);
        if (n >= 0) return sz; /* a datagram leaves whole or not at all */
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(c, POLLOUT)) continue;
            return WOLFSSL_CBIO_ERR_WANT_WRITE;
        }
        if (errno == ECONNREFUSED) return sz; /* lost on the way, as UDP may: the timer resends */
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
}

static int fddgram_flush(lwl_Conn *c) {
    (void)c; /* nothing is ever queued */
    return 1;
}

static const lwl_Transport memory_transport = {"memory", mem_recv, mem_send, mem_flush,
                                               mem_write_raw};
static const lwl_Transport fd_transport = {"fd", fd_recv, fd_send, fd_flush, fd_write_raw};
static const lwl_Transport memdgram_transport = {"memory", memdgram_recv, memdgram_send,
                                                 mem_flush, memdgram_write_raw};
static const lwl_Transport fddgram_transport = {"fd", fddgram_recv, fddgram_send,
                                                fddgram_flush, fd_write_raw};

/* DTLS: seconds until wolfSSL's retransmission is due (0 when it is), or -1
 * when no flight of ours awaits an answer. The timer starts when our last
 * datagram left; wolfSSL doubles its length on each retransmission.
 * DTLS 1.3: the records not acknowledged yet are what waits (a server's
 * HelloRetryRequest is stateless, a server waiting for the rest of a
 * ClientHello has nothing to resend), and wolfSSL resends them at most once
 * per LWL_DTLS13_RTX_FLOOR of real time (dtls13.c DTLS13_MIN_RTX_INTERVAL:
 * 100 ms in the tuned build, a second before 5.9), whatever the clock says:
 * so not before that much real time after our last datagram (wolfSSL also
 * resends by itself when the peer repeats its flight).
 * DTLS 1.2: the handshake's flights, not a server's cookie. */
double lwl_transport_dtls_due(lwl_Conn *c) {
    double len, left, real = 0;
    if (!c->dtls || c->ssl == NULL || c->nsent == 0 || c->failed) return -1;
    len = (double)wolfSSL_dtls_get_current_timeout(c->ssl);
#ifdef WOLFSSL_DTLS13
    if (wolfSSL_version(c->ssl) == DTLS1_3_VERSION) { /* or a client offering it */
        if (!wolfSSL_dtls13_has_pending_msg(c->ssl) &&
            (c->is_server || wolfSSL_is_init_finished(c->ssl)))
            return -1;
        if (wolfSSL_dtls13_use_quick_timeout(c->ssl))
            len /= 4; /* ACKs only, sooner */
        else
            real = c->dtls_sent_real + LWL_DTLS13_RTX_FLOOR - lwl_monotonic();
    } else
#endif
    {
        if (wolfSSL_is_init_finished(c->ssl) || c->dtls_cookie_sent) return -1;
    }
    left = c->dtls_sent_at + len - lwl_clock();
    if (real > left) left = real;
    return left > 0 ? left : 0;
}

/* ---- wolfSSL's I/O callbacks: what every transport shares ---- */

#ifdef LWL_WATCH_RECORDS
/* The content type and first body byte of the peer's last record, until its
 * ChangeCipherSpec (wolfcompat.h: errors.c names a plaintext Finished) */
static void watch(struct lwl_Watch *w, const unsigned char *p, size_t n) {
    while (n > 0 && !w->ccs) {
        if (w->left > 0) { /* the body: its first byte, then skipped */
            size_t k = n < w->left ? n : w->left;
            if (w->have == 5) {
                w->first = p[0];
                w->have = 0;
            }
            w->left -= k;
            p += k;
            n -= k;
            continue;
        }
        w->hdr[w->have++] = *p++;
        n--;
        if (w->have < 5) continue;
        w->type = w->hdr[0];
        w->first = 0;
        w->left = (size_t)w->hdr[3] << 8 | w->hdr[4];
        w->ccs = w->type == 20; /* change_cipher_spec: records are encrypted next */
        if (w->left == 0) w->have = 0;
    }
}
#endif

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ud) {
    lwl_Conn *c = (lwl_Conn *)ud;
    int n = c->io->recv(c, buf, sz);
    (void)ssl;
    if (n <= 0) return n;
    if (c->nrecv < sizeof c->first) {
        size_t k = sizeof c->first - c->nrecv;
        memcpy(c->first + c->nrecv, buf, (size_t)n < k ? (size_t)n : k);
    }
    c->nrecv += (size_t)n;
    /* (the policy and the watch read TLS record headers) */
    if (c->is_server && !c->done && !c->dtls) lwl_policy_received(c, (const unsigned char *)buf, (size_t)n);
#ifdef LWL_WATCH_RECORDS
    if (!c->done && !c->dtls) watch(&c->watch, (const unsigned char *)buf, (size_t)n);
#endif
    if (c->trace) lwl_trace_io(c, 0, (const unsigned char *)buf, n);
    return n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ud) {
    lwl_Conn *c = (lwl_Conn *)ud;
    int n = c->io->send(c, buf, sz);
    (void)ssl;
    if (n <= 0) return n;
    c->nsent += (size_t)n;
    if (c->dtls) {
        /* a HelloVerifyRequest (handshake type 3 after the 13-byte record
         * header): stateless, nothing to resend */
        c->dtls_cookie_sent = n > 13 && buf[0] == 22 && buf[13] == 3;
        c->dtls_sent_at = lwl_clock();
        c->dtls_sent_real = lwl_monotonic();
    }
    if (c->trace) lwl_trace_io(c, 1, (const unsigned char *)buf, n);
    return n;
}

void lwl_transport_attach(lwl_Conn *c, int fd) {
    c->fd = fd;
    if (c->dtls)
        c->io = fd >= 0 ? &fddgram_transport : &memdgram_transport;
    else
        c->io = fd >= 0 ? &fd_transport : &memory_transport;
    wolfSSL_SSLSetIORecv(c->ssl, io_recv);
    wolfSSL_SSLSetIOSend(c->ssl, io_send);
    wolfSSL_SetIOReadCtx(c->ssl, c);
    wolfSSL_SetIOWriteCtx(c->ssl, c);
}

void lwl_transport_free(lwl_Conn *c) {
    lwl_buf_free(&c->in);
    lwl_buf_free(&c->out);
}

/* The one writer of a plaintext fatal alert record: for the failures where
 * wolfSSL 5.5.4 sends none while our records are still plaintext (see the
 * callers). `withdraw`: memory mode takes back that many of the last bytes
 * queued for the peer first (a flight that must not reach it). */
void lwl_transport_alert(lwl_Conn *c, int code, size_t withdraw) {
    unsigned char rec[7] = {21, 3, 3, 0, 2, 2, 0};
    rec[6] = (unsigned char)code;
    if (c->dtls) return; /* (a TLS record; wolfSSL's DTLS sends its own alerts) */
    if (c->io == &memory_transport) c->out.len -= withdraw <= c->out.len ? withdraw : c->out.len;
    c->io->write_raw(c, rec, sizeof rec);
    if (c->trace) lwl_trace_io(c, 1, rec, (int)sizeof rec);
}

/* The method call is over: a fed string used up is let go. */
void lwl_transport_leave(lua_State *L, lwl_Conn *c, int self) {
    if (c->feeding && c->in.len == 0) {
        lua_pushnil(L);
        lwl_conn_set(L, self, LWL_UV_FEEDING);
        c->feeding = 0;
    }
}

/* ---- memory mode methods (registered by conn.c) ---- */

int lwl_transport_feed(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    if (c->io == &memdgram_transport) { /* one datagram */
        luaL_argcheck(L, len <= 65535, 2, "a datagram is at most 65535 bytes");
        if (len > 0 && !dgram_push(&c->in, s, len)) return luaL_error(L, "out of memory");
        lwl_pushint(L, len);
        return 1;
    }
    if (c->io != &memory_transport) return luaL_error(L, "feed: the connection is in fd mode");
    if (c->eof) return luaL_error(L, "feed: feed_eof() was already called");
    if (len > 0 && c->in.len == 0) {
        /* nothing queued: borrow the string instead of copying it (bulk data
         * is fed a record or more at a time); it stays referenced until the
         * next feed */
        c->in.p = (unsigned char *)s;
        c->in.head = c->in.cap = 0;
        c->in.len = len;
        lua_pushvalue(L, 2);
        lwl_conn_set(L, 1, LWL_UV_FEEDING);
        c->feeding = 1;
    } else if (len > 0 && !lwl_buf_append(&c->in, s, len)) {
        return luaL_error(L, "out of memory");
    }
    lwl_pushint(L, len);
    return 1;
}

int lwl_transport_feed_eof(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    if (c->dtls) return luaL_error(L, "feed_eof: a DTLS connection has no end of stream (datagrams)");
    if (c->io != &memory_transport) return luaL_error(L, "feed_eof: the connection is in fd mode");
    c->eof = 1;
    return 0;
}

/* conn:drain([max]) -> bytes to send ("" when none) */
int lwl_transport_drain(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, -1);
    size_t n = c->out.len;
    if (c->dtls) { /* the next datagram, whole (max does not cut it) */
        if (n == 0) {
            lua_pushliteral(L, "");
            return 1;
        }
        n = dgram_front(&c->out);
        lua_pushlstring(L, (const char *)c->out.p + c->out.head, n);
        lwl_buf_consume(&c->out, n);
        return 1;
    }
    if (max >= 0 && (size_t)max < n) n = (size_t)max;
    if (c->sending) { /* the connection holds the string `out` borrows, or did */
        lwl_conn_get(L, 1, LWL_UV_SENDING);
        if (n > 0 && c->out.cap == 0 && c->out.head == 0 && n == c->out.len &&
            n == lua_rawlen(L, -1)) {
            lwl_buf_consume(&c->out, n); /* all of it: the string itself */
            c->sending = 0;
            lua_pushnil(L);
            lwl_conn_set(L, 1, LWL_UV_SENDING);
            return 1;
        }
        lua_pop(L, 1);
    }
    lua_pushlstring(L, n ? (const char *)c->out.p + c->out.head : "", n);
    if (n) lwl_buf_consume(&c->out, n);
    if (c->sending && (c->out.cap != 0 || c->out.p == NULL)) { /* `out` let it go */
        lua_pushnil(L);
        lwl_conn_set(L, 1, LWL_UV_SENDING);
        c->sending = 0;
    }
    return 1;
}
