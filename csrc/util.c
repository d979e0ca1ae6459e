/* util.c: the helpers every other file uses, at the bottom of csrc/: it
 * calls no other file of the module. Argument checks (the closed-state
 * accessors of the two userdata the callbacks reach), byte queues, the
 * `nil, msg` result, metatables, and the one function that wipes secrets. */
#include "lwolfssl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- argument checks ---- */

lwl_Context *lwl_checkcontext(lua_State *L, int idx) {
    lwl_Context *c = (lwl_Context *)luaL_checkudata(L, idx, LWL_CONTEXT);
    if (c->ctx == NULL || c->free_pending) luaL_error(L, "attempt to use a freed context");
    return c;
}

/* The connection methods carry the connection metatable as upvalue 1
 * (conn.c): comparing with it skips luaL_checkudata's registry lookup by name,
 * made ~22 times per resumed handshake pair (bench/RESULTS.md). Elsewhere (no such upvalue: Lua says
 * nil) luaL_checkudata decides and names the argument. */
lwl_Conn *lwl_toconn(lua_State *L, int idx) {
    lwl_Conn *c = (lwl_Conn *)lwl_toudata(L, idx, lua_upvalueindex(1));
    return c ? c : (lwl_Conn *)luaL_checkudata(L, idx, LWL_CONN);
}

/* The userdata at idx if its metatable is the table at index mt (absolute,
 * or an upvalue: a table kept alive there, whose address is no other's),
 * else NULL. luaL_testudata without the registry lookup by name. */
void *lwl_toudata(lua_State *L, int idx, int mt) {
    void *p = lua_touserdata(L, idx);
    if (p == NULL || !lua_getmetatable(L, idx)) return NULL;
    if (lua_topointer(L, -1) != lua_topointer(L, mt)) p = NULL;
    lua_pop(L, 1);
    return p;
}

lwl_Conn *lwl_checkconn(lua_State *L, int idx) {
    lwl_Conn *c = lwl_toconn(L, idx);
    if (c->ssl == NULL || c->close_pending) luaL_error(L, "attempt to use a closed connection");
    return c;
}

/* the connection of a WOLFSSL, from inside wolfSSL's callbacks */
lwl_Conn *lwl_conn_from_ssl(WOLFSSL *ssl) {
    return ssl ? (lwl_Conn *)wolfSSL_GetIOReadCtx(ssl) : NULL;
}

/* ---- a connection's Lua references ----
 * Lua 5.4: user values of their own, the table (data, last_error, trace,
 * socket) made on first use: no table per connection (ctx:new is hot).
 * Before 5.4: one uservalue table, the context and the fed string as fields. */

#if LUA_VERSION_NUM >= 504
lwl_Conn *lwl_conn_alloc(lua_State *L) {
    return (lwl_Conn *)lua_newuserdatauv(L, sizeof(lwl_Conn), LWL_UV_SENDING);
}

void lwl_conn_uv(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    if (lua_getiuservalue(L, idx, LWL_UV_TABLE) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, idx, LWL_UV_TABLE);
    }
}

void lwl_conn_get(lua_State *L, int idx, int slot) {
    (void)lua_getiuservalue(L, idx, slot);
}

void lwl_conn_set(lua_State *L, int idx, int slot) {
    (void)lua_setiuservalue(L, idx, slot);
}
#else
static const char *slot_name(int slot) {
    return slot == LWL_UV_CTX ? "ctx" : slot == LWL_UV_FEEDING ? "feeding" : "sending";
}

lwl_Conn *lwl_conn_alloc(lua_State *L) {
    lwl_Conn *c = (lwl_Conn *)lwl_newuserdata(L, sizeof(lwl_Conn));
    lua_createtable(L, 0, 3);
    lwl_setuv(L, -2);
    return c;
}

void lwl_conn_uv(lua_State *L, int idx) {
    lwl_getuv(L, idx);
}

void lwl_conn_get(lua_State *L, int idx, int slot) {
    lwl_getuv(L, idx);
    lua_getfield(L, -1, slot_name(slot));
    lua_remove(L, -2);
}

void lwl_conn_set(lua_State *L, int idx, int slot) {
    idx = lua_absindex(L, idx);
    lwl_getuv(L, idx);
    lua_insert(L, -2);
    lua_setfield(L, -2, slot_name(slot));
    lua_pop(L, 1);
}
#endif

/* ---- results ---- */

int lwl_fail(lua_State *L, const char *msg) {
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

int lwl_ok_or_fail(lua_State *L, int ok, const char *msg) {
    if (ok) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return lwl_fail(L, msg);
}

/* A metatable `name` with methods in __index; core[<short name>] = methods,
 * so the Lua layer can add methods written in Lua. Module table on top. */
void lwl_newmeta(lua_State *L, const char *name, const luaL_Reg *methods,
                 const luaL_Reg *meta) {
    const char *dot = strrchr(name, '.');
    luaL_newmetatable(L, name);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__index");
    lua_setfield(L, -3, dot ? dot + 1 : name);
    lua_pop(L, 1);
}

/* ---- secrets ---- */

/* volatile writes: the compiler may not drop them as dead stores */
void lwl_wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    if (p == NULL) return;
    while (n--) *v++ = 0;
}

void lwl_wipe_free(void *p, size_t n) {
    if (p == NULL) return;
    lwl_wipe(p, n);
    free(p);
}

/* ---- byte queues ---- */

/* A queue whose cap is 0 but p is set borrows the bytes of a Lua string
 * (conn:feed's, or the record drain() will return: the uservalue keeps it
 * alive): no copy until more bytes arrive before it is used up. */
static int buf_own(lwl_Buf *b, size_t extra) {
    size_t cap = 4096;
    unsigned char *p;
    while (cap < b->len + extra) cap *= 2;
    p = (unsigned char *)malloc(cap);
    if (p == NULL) return 0;
    memcpy(p, b->p + b->head, b->len);
    b->p = p;
    b->head = 0;
    b->cap = cap;
    return 1;
}

int lwl_buf_append(lwl_Buf *b, const void *data, size_t n) {
    if (b->cap == 0 && b->p != NULL && !buf_own(b, n)) return 0;
    if (b->head + b->len + n > b->cap) {
        if (b->head > 0) { /* slide down before growing */
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

/* Take n bytes from the front; an emptied queue gives its memory back so idle
 * connections stay small. */
void lwl_buf_consume(lwl_Buf *b, size_t n) {
    b->head += n;
    b->len -= n;
    if (b->len == 0) {
        if (b->cap) free(b->p);
        b->p = NULL;
        b->head = b->cap = 0;
    }
}

void lwl_buf_free(lwl_Buf *b) {
    if (b->cap) free(b->p);
    memset(b, 0, sizeof *b);
}

double lwl_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
