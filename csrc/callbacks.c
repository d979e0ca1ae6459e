/* callbacks.c: running Lua callbacks from inside wolfSSL, safely.
 *
 * wolfSSL calls us back in the middle of a handshake; an error() there must
 * not longjmp through wolfSSL's frames. So every Lua callback runs under
 * lua_pcall, on the Lua state of the method call in progress (the coroutine
 * that called conn:handshake(), say), and all of its work - pushing the
 * arguments, the call, reading the results - happens inside the protected C
 * function `protected_call`. A failure is stored on the connection and
 * reported to wolfSSL as a failure, which makes it send an alert. */
#include "lwolfssl.h"

#include <string.h>

typedef struct Call {
    const char *name;
    lwl_PushArgs push_args;
    lwl_Collect collect;
    int nres;
    void *ud;
    int ran;
} Call;

/* Message handler: keep the message and add a traceback. */
static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    lua_createtable(L, 0, 2);
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "message");
#if LUA_VERSION_NUM >= 502 || defined(LUAJIT_VERSION_NUM)
    luaL_traceback(L, L, NULL, 1);
#else
    lua_getfield(L, LUA_GLOBALSINDEX, "debug");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "traceback");
        lua_remove(L, -2);
        lua_call(L, 0, 1);
    }
#endif
    lua_setfield(L, -2, "traceback");
    return 1;
}

/* protected_call(conn, call*): find the callback in the context's uservalue */
static int protected_call(lua_State *L) {
    Call *call = (Call *)lua_touserdata(L, 2);
    int nargs;
    lwl_conn_get(L, 1, LWL_UV_CTX);   /* the context in force */
    lwl_getuv(L, -1);                 /* its callbacks */
    lua_getfield(L, -1, call->name);
    if (lua_isnil(L, -1)) return 0;   /* none set: wolfSSL's default applies */
    lua_pushvalue(L, 1);
    nargs = call->push_args ? call->push_args(L, call->ud) : 0;
    lua_call(L, 1 + nargs, call->nres);
    call->ran = 1;
    if (call->collect) call->collect(L, call->ud);
    return 0;
}

/* record_error(conn, err, name): the failure into last_error. It allocates,
 * so it runs protected too: a memory error here must not unwind through
 * wolfSSL either. */
static int record_error(lua_State *L) {
    const char *name = (const char *)lua_touserdata(L, 3);
    const char *msg = NULL, *tb = NULL;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "message");
        lua_getfield(L, 2, "traceback");
        msg = lua_tostring(L, -2);
        tb = lua_tostring(L, -1);
    } else {
        msg = lua_tostring(L, 2); /* memory error: the handler did not run */
    }
    lua_pushfstring(L, "callback: %s", msg ? msg : "error");
    lwl_set_last_error(L, 1, "callback", lua_tostring(L, -1), 0, 0);
    lwl_conn_uv(L, 1);
    lua_getfield(L, -1, "last_error");
    if (tb) {
        lua_pushstring(L, tb);
        lua_setfield(L, -2, "traceback");
    }
    lua_pushstring(L, name);
    lua_setfield(L, -2, "callback");
    return 0;
}

/* protected_fn(conn, fn*): lwl_protected's C function, run on its state */
typedef struct Fn {
    lua_CFunction f;
    void *ud;
} Fn;

static int protected_fn(lua_State *L) {
    Fn *fn = (Fn *)lua_touserdata(L, 2);
    lua_pushlightuserdata(L, fn->ud);
    lua_replace(L, 2);
    return fn->f(L);
}

/* Pushing the C functions must not allocate either: Lua 5.2+ pushes light
 * functions, but 5.1 and LuaJIT make a closure each time, so there they are
 * made once (lwl_callbacks_open) and fetched from the registry. */
#if LUA_VERSION_NUM < 502
static char key_traceback, key_protected_call, key_record_error, key_protected_fn;
#define PUSH_FN(L, f) (lua_pushlightuserdata(L, &key_##f), lua_rawget(L, LUA_REGISTRYINDEX))
#define KEEP_FN(L, f) \
    (lua_pushlightuserdata(L, &key_##f), lua_pushcfunction(L, f), lua_rawset(L, LUA_REGISTRYINDEX))
#else
#define PUSH_FN(L, f) lua_pushcfunction(L, f)
#define KEEP_FN(L, f) ((void)0)
#endif

void lwl_callbacks_open(lua_State *L) {
    KEEP_FN(L, traceback);
    KEEP_FN(L, protected_call);
    KEEP_FN(L, record_error);
    KEEP_FN(L, protected_fn);
    (void)L;
}

int lwl_callback(lwl_Conn *c, const char *name, lwl_PushArgs push_args, lwl_Collect collect,
                 int nres, void *ud) {
    lua_State *L = c->L;
    Call call;
    int base, status;
    if (c->cb_error) return -1; /* already failed: the call in progress fails anyway */
    /* A callback is never skipped (an on_verify pin would be bypassed): one
     * that cannot be called fails the handshake. Here wolfSSL's frames are
     * live, so nothing may raise: no lua_checkstack (it can raise on 5.1,
     * 5.3 and LuaJIT); the values pushed outside the protected calls fit in
     * the LWL_CALLBACK_SLOTS the method reserved (conn.c enter), and a stack
     * or memory shortage inside them is an error they catch. */
    if (L == NULL) { /* outside a method call: no Lua state to run it on */
        c->cb_error = 1;
        return -1;
    }
    call.name = name;
    call.push_args = push_args;
    call.collect = collect;
    call.nres = nres;
    call.ud = ud;
    call.ran = 0;
    base = lua_gettop(L);
    PUSH_FN(L, traceback);
    PUSH_FN(L, protected_call);
    lua_pushvalue(L, c->self);
    lua_pushlightuserdata(L, &call);
    status = lua_pcall(L, 2, 0, base + 1);
    if (status != 0) {
        c->cb_error = 1;
        PUSH_FN(L, record_error);
        lua_pushvalue(L, c->self);
        lua_pushvalue(L, -3);
        lua_pushlightuserdata(L, (void *)name);
        if (lua_pcall(L, 3, 0, 0) != 0) c->cb_unreported = name; /* said after wolfSSL */
        lua_settop(L, base);
        return -1;
    }
    lua_settop(L, base);
    return call.ran;
}

int lwl_protected(lwl_Conn *c, lua_CFunction f, void *ud) {
    lua_State *L = c->L;
    Fn fn;
    int status;
    if (L == NULL) return -1;
    fn.f = f;
    fn.ud = ud;
    PUSH_FN(L, protected_fn); /* (3 of the LWL_CALLBACK_SLOTS, as lwl_callback) */
    lua_pushvalue(L, c->self);
    lua_pushlightuserdata(L, &fn);
    status = lua_pcall(L, 2, 0, 0);
    if (status != 0) lua_pop(L, 1);
    return status == 0 ? 0 : -1;
}

/* After the wolfSSL call returned: write the message of a callback that
 * failed with no room to write it. No wolfSSL frame is live any more, so this
 * runs in the method's own frame (its LUA_MINSTACK slots), unprotected like
 * the method's other error paths. Returns 0 when the stack has no room. */
int lwl_callback_report(lwl_Conn *c) {
    lua_State *L = c->L;
    const char *name = c->cb_unreported;
    if (name == NULL) return 1;
    c->cb_unreported = NULL;
    if (L == NULL || !lua_checkstack(L, 6)) return 0;
    lua_pushfstring(L, "callback: %s failed with no Lua stack or memory left", name);
    lwl_set_last_error(L, c->self, "callback", lua_tostring(L, -1), 0, 0);
    lwl_conn_uv(L, c->self);
    lua_getfield(L, -1, "last_error");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "callback");
    lua_pop(L, 3);
    return 1;
}
