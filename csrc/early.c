/* early.c: TLS 1.3 early data (0-RTT).
 *
 * A server context's max_early_data goes into its tickets; a client resuming
 * such a session writes early data (conn:write_early) right after its
 * ClientHello, and the server reads it (conn:read_early) while its handshake
 * runs. conn.c runs both through its one call path (the Op rows call the two
 * functions below); this file holds the option, the wrong-use checks and the
 * status.
 *
 * Replay: a replayed first flight is the same ClientHello, so the same PSK
 * binder (an HMAC over the whole ClientHello, its random included). The
 * server context remembers the binders of the early-data ClientHellos it saw
 * for as long as a ticket lives; a binder seen before marks the connection a
 * replay. Its ticket is refused in our ticket callback (options.lua gives a
 * max_early_data context one, with a random key unless ticket_keys or
 * on_ticket_key): a full handshake, the early data skipped by wolfSSL and
 * "rejected" on both sides. Without it, wolfSSL has accepted the early data and
 * it is read and thrown away: read_early() gives nothing, early_data() says
 * "rejected" (the replaying party cannot finish the handshake anyway).
 * wolfSSL's own check (5.9.2 takes the session out of its cache) does not
 * suffice: the resumed handshake puts the session back under the same id.
 *
 * The server's status is ours: wolfSSL's says "accepted" as soon as the
 * ClientHello asks and max_early_data is set, before it knows whether it
 * resumes or takes the session out of its cache. Early data was accepted
 * when the server read some (conn:read_early). */
#include "lwolfssl.h"

#include <wolfssl/error-ssl.h>
#include <stdlib.h>
#include <string.h>

/* core.ctx_max_early_data(ctx, bytes) -> true | nil, msg */
static int ctx_max_early_data(lua_State *L) {
    lwl_Context *x = lwl_checkcontext(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0 && n <= 0x7fffffff, 2, "must be between 0 and 2^31-1");
#ifdef WOLFSSL_EARLY_DATA
    if (!x->is_server) return lwl_fail(L, "is for server contexts");
    x->max_early = (unsigned)n;
    return lwl_ok_or_fail(L, wolfSSL_CTX_set_max_early_data(x->ctx, (unsigned)n) == WOLFSSL_SUCCESS,
                          "needs TLS 1.3 (early data is a TLS 1.3 feature: max_version)");
#else
    (void)x;
    return lwl_fail(L, LWL_NO_EARLY_DATA);
#endif
}

/* Before write_early (len bytes) or read_early: 0 when it may go on, else
 * the number of results pushed. Programming mistakes raise (early data on
 * the wrong side, or a client not resuming); run-time refusals answer nil,
 * msg (the session allows no early data, or fewer bytes); a server with no
 * (more) early data answers nil. */
int lwl_early_usable(lua_State *L, lwl_Conn *c, int write, size_t len) {
#ifdef WOLFSSL_EARLY_DATA
    const char *what = write ? "write_early" : "read_early";
    if (c->is_server == write)
        luaL_error(L, "%s is for %s connections", what, write ? "client" : "server");
    if (write && c->offered_trust == 0)
        luaL_error(L, "write_early needs a connection resuming a session (ctx:new{session = ...})");
    if (c->failed) return lwl_fail(L, "the connection failed earlier");
    if (!write) {
        if (!c->done && !c->early_over) return 0;
        lua_pushnil(L); /* no (more) early data */
        return 1;
    }
    if (c->done || wolfSSL_is_init_finished(c->ssl))
        return lwl_fail(L, "the handshake is finished: too late for early data (use write)");
    {
        WOLFSSL_SESSION *s = wolfSSL_get_session(c->ssl);
        unsigned max = s ? wolfSSL_SESSION_get_max_early_data(s) : 0;
        if (max == 0)
            return lwl_fail(L, "the session allows no early data (its server has no max_early_data)");
        if (c->early_sent + len > max) {
            lua_pushnil(L);
            lua_pushfstring(L, "too much early data: the session allows %d bytes (%d written)",
                            (int)max, (int)c->early_sent);
            return 2;
        }
    }
    return 0;
#else
    (void)c; (void)write; (void)len;
    return luaL_error(L, LWL_NO_EARLY_DATA);
#endif
}

#define SEEN_KEY LWL_EARLY_KEY
#ifdef WOLFSSL_EARLY_DATA
/* The binders seen: an open-addressing hash table (the binder is an HMAC:
 * its bytes are the hash), from 1024 slots, doubling while a quarter of it
 * is free of live entries, up to SEEN_MAX slots (24 MiB). Full of live
 * entries: no early data until some expire (fail closed). */
#define SEEN_MIN 1024
#define SEEN_MAX (1u << 20)

typedef struct Slot {
    unsigned char key[SEEN_KEY];
    long expires; /* 0: never used (ends a probe); <= now: expired (reusable) */
} Slot;

typedef struct lwl_EarlySeen {
    Slot *slot;
    size_t size, used; /* slots; slots not 0 (live or expired) */
} Seen;

static size_t seen_hash(const unsigned char *k, size_t size) {
    size_t h = 0;
    int i;
    for (i = 0; i < (int)sizeof h && i < SEEN_KEY; i++) h = h << 8 | k[i];
    return h & (size - 1);
}

/* the slot holding key (live), or where it goes: NULL when it is there */
static Slot *seen_find(Seen *t, const unsigned char *key, long now, int *found) {
    size_t i = seen_hash(key, t->size), n;
    Slot *free_slot = NULL;
    *found = 0;
    for (n = 0; n < t->size; n++, i = (i + 1) & (t->size - 1)) {
        Slot *e = &t->slot[i];
        if (e->expires == 0) return free_slot ? free_slot : e;
        if (e->expires <= now) {
            if (!free_slot) free_slot = e;
        } else if (memcmp(e->key, key, SEEN_KEY) == 0) {
            *found = 1;
            return e;
        }
    }
    return free_slot; /* NULL: every slot live */
}

/* rebuild with `size` slots, keeping the live entries; 0 when out of memory */
static int seen_resize(Seen *t, size_t size, long now) {
    Seen n;
    size_t i;
    int found;
    n.slot = (Slot *)calloc(size, sizeof(Slot));
    if (n.slot == NULL) return 0;
    n.size = size;
    n.used = 0;
    for (i = 0; i < t->size; i++) {
        if (t->slot[i].expires > now) {
            *seen_find(&n, t->slot[i].key, now, &found) = t->slot[i];
            n.used++;
        }
    }
    free(t->slot);
    *t = n;
    return 1;
}

/* 1 when key was seen (a replay) or cannot be remembered; else remembers it */
static int seen_before(Seen *t, const unsigned char *key, long now, long expires) {
    Slot *e;
    int found;
    if (t->used + 1 > t->size / 4 * 3) { /* rehash: drop the expired, grow if still crowded */
        size_t live = 0, i, size = t->size;
        for (i = 0; i < t->size; i++) live += t->slot[i].expires > now;
        while ((live + 1) > size / 2 && size < SEEN_MAX) size *= 2;
        if (!seen_resize(t, size, now) && t->used >= t->size) return 1;
    }
    e = seen_find(t, key, now, &found);
    if (found || e == NULL) return 1;
    if (e->expires == 0) t->used++;
    memcpy(e->key, key, SEEN_KEY);
    e->expires = expires;
    return 0;
}
#endif

#if defined(WOLFSSL_EARLY_DATA) && defined(HAVE_EXT_CACHE)
/* With a session_store the sessions live outside wolfSSL's cache, where its
 * replay check (take the session out of the cache) cannot find them: with a
 * remove callback it leaves that to us (fleet_claims). Nothing to remove:
 * the store's entries expire there. */
static void store_keeps(WOLFSSL_CTX *ctx, WOLFSSL_SESSION *s) {
    (void)ctx; (void)s;
}
#endif

/* policy.c: the first PSK binder of a ClientHello that carries early data
 * (called before wolfSSL reads that ClientHello) */
void lwl_early_binder(lwl_Conn *c, const unsigned char *b, size_t n) {
#ifdef WOLFSSL_EARLY_DATA
    lwl_Context *x = c->ctx;
    long now = lwl_now();
    if (x->max_early == 0 || n < SEEN_KEY) return;
#ifdef HAVE_EXT_CACHE
    if (x->callbacks & LWL_CB_SESSION_STORE) wolfSSL_CTX_sess_set_remove_cb(x->ctx, store_keeps);
#endif
    if (x->early_seen == NULL) {
        x->early_seen = (Seen *)calloc(1, sizeof(Seen));
        if (x->early_seen == NULL || !seen_resize(x->early_seen, SEEN_MIN, now)) {
            c->early_replay = 1; /* cannot remember it: no early data */
            return;
        }
    }
    /* kept as long as a ticket lives */
    if (seen_before(x->early_seen, b, now, now + wolfSSL_get_timeout(c->ssl) + 1)) {
        c->early_replay = 1; /* seen before (a replay), or no room to remember it */
        return;
    }
    memcpy(c->early_key, b, SEEN_KEY);
    c->early_keyed = 1;
#else
    (void)c; (void)b; (void)n;
#endif
}

void lwl_early_context_free(lwl_Context *x) {
#ifdef WOLFSSL_EARLY_DATA
    if (x->early_seen) free(x->early_seen->slot);
#endif
    free(x->early_seen);
    x->early_seen = NULL;
}

#ifdef WOLFSSL_EARLY_DATA
int lwl_early_write_call(lwl_Conn *c, void *buf, int n) {
    int out = 0, ret = wolfSSL_write_early_data(c->ssl, buf, n, &out);
    if (ret > 0) c->early_sent += (size_t)out;
    return ret > 0 ? out : ret;
}

/* The fleet: servers sharing a session_store share the binders seen, under
 * the id "early-" .. hex(first 16 bytes of the binder): get(id) answering
 * anything means another server took this flight; else put(id, "used").
 * Asked in the ticket callback (lwl_early_refuse), or when the first early
 * data arrives (never in wolfSSL's I/O callbacks, where no Lua runs). A store
 * that fails or raises: no early data. */
typedef struct Claim {
    const unsigned char *key;
    int seen;
} Claim;

static int push_claim_id(lua_State *L, void *ud) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *k = ((Claim *)ud)->key;
    char id[6 + 2 * SEEN_KEY];
    int i;
    memcpy(id, "early-", 6);
    for (i = 0; i < SEEN_KEY; i++) {
        id[6 + 2 * i] = hex[k[i] >> 4];
        id[7 + 2 * i] = hex[k[i] & 15];
    }
    lua_pushlstring(L, id, sizeof id);
    return 1;
}

static int push_claim_put(lua_State *L, void *ud) {
    push_claim_id(L, ud);
    lua_pushliteral(L, "used");
    return 2;
}

static void collect_seen(lua_State *L, void *ud) {
    ((Claim *)ud)->seen = !lua_isnil(L, -1);
}

static int fleet_claims(lwl_Conn *c) {
    Claim cl;
    if (!(c->ctx->callbacks & LWL_CB_SESSION_STORE)) return 1;
    if (!c->early_keyed) return 0;
    cl.key = c->early_key;
    cl.seen = 0;
    if (lwl_callback(c, "_store_get", push_claim_id, collect_seen, 1, &cl) < 0 || cl.seen ||
        lwl_callback(c, "_store_put", push_claim_put, NULL, 0, &cl) < 0) {
        c->cb_error = 0; /* a store outage fails no handshake (the error is in last_error) */
        return 0;
    }
    return 1;
}

/* session.c's ticket callback, where wolfSSL has not decided on early data
 * yet: 1 when this ClientHello's early data must not be taken (a replay, or
 * the fleet's store did not give us its claim), and the ticket is then
 * refused (a full handshake; wolfSSL skips the early data and tells the
 * client). Without our ticket callback (no features.ticket_keys) the check waits for
 * the first early data (lwl_early_read_call), which is then dropped. */
int lwl_early_refuse(lwl_Conn *c) {
    if (!c->is_server || !c->hello_early || c->ctx->max_early == 0) return 0;
    if (!c->early_replay && !c->early_claimed) {
        c->early_claimed = 1;
        if (!fleet_claims(c)) c->early_replay = 1;
    }
    return c->early_replay;
}

int lwl_early_read_call(lwl_Conn *c, void *buf, int n) {
    int out = 0, ret;
    while ((ret = wolfSSL_read_early_data(c->ssl, buf, n, &out)) > 0) {
        if (!c->early_replay && !c->early_claimed) {
            c->early_claimed = 1;
            if (!fleet_claims(c)) c->early_replay = 1;
        }
        if (!c->early_replay) break;
        lwl_wipe(buf, (size_t)out); /* a replay's: thrown away */
    }
    if (ret > 0) c->early_got += (size_t)out;
    return ret > 0 ? out : ret;
}
#else
int lwl_early_refuse(lwl_Conn *c) {
    (void)c;
    return 0;
}
#endif

/* conn:early_data() -> "accepted" | "rejected" | "none" */
int lwl_early_status(lua_State *L) {
    lwl_Conn *c = lwl_checkconn(L, 1);
    const char *s = "none";
#ifdef WOLFSSL_EARLY_DATA
    if (c->is_server) {
        if (c->hello_early) s = c->early_got > 0 ? "accepted" : "rejected";
    } else if (c->early_sent > 0 || c->early_tried) {
        int st = wolfSSL_get_early_data_status(c->ssl);
        s = st == WOLFSSL_EARLY_DATA_ACCEPTED ? "accepted" : "rejected";
    }
#else
    (void)c;
#endif
    lua_pushstring(L, s);
    return 1;
}

void lwl_early_open(lua_State *L) {
    lua_pushcfunction(L, ctx_max_early_data);
    lua_setfield(L, -2, "ctx_max_early_data");
}
