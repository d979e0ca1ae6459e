/* compat.h: one source for Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT 2.1.
 * Only what the binding uses: uservalue tables, luaL_setfuncs, luaL_testudata,
 * lua_rawlen and integer pushes. */
#ifndef LWOLFSSL_COMPAT_H
#define LWOLFSSL_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
/* Lua 5.1 / LuaJIT: userdata environments play the part of uservalues. */
#define lua_rawlen lua_objlen
#if defined(__has_include)
#if __has_include(<luajit.h>)
#include <luajit.h> /* LuaJIT 2.1 already has luaL_setfuncs, luaL_testudata */
#endif
#endif
#ifndef LUAJIT_VERSION_NUM
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name; l++) {
        int i;
        for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
static inline void *luaL_testudata(lua_State *L, int i, const char *tname) {
    void *p = lua_touserdata(L, i);
    if (p == NULL || !lua_getmetatable(L, i)) return NULL;
    luaL_getmetatable(L, tname);
    if (!lua_rawequal(L, -1, -2)) p = NULL;
    lua_pop(L, 2);
    return p;
}
#endif
#ifndef luaL_newlib
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs(L, l, 0))
#endif
#define lwl_getuv(L, i) lua_getfenv(L, i)
#define lwl_setuv(L, i) lua_setfenv(L, i)
#define lwl_newuserdata(L, sz) lua_newuserdata(L, sz)
#define lua_absindex(L, i) (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)
#elif LUA_VERSION_NUM < 504
#define lwl_getuv(L, i) lua_getuservalue(L, i)
#define lwl_setuv(L, i) lua_setuservalue(L, i)
#define lwl_newuserdata(L, sz) lua_newuserdata(L, sz)
#else
#define lwl_getuv(L, i) ((void)lua_getiuservalue(L, i, 1))
#define lwl_setuv(L, i) ((void)lua_setiuservalue(L, i, 1))
#define lwl_newuserdata(L, sz) lua_newuserdatauv(L, sz, 1)
#endif

#define lwl_setmeta(L, name) (luaL_getmetatable(L, name), lua_setmetatable(L, -2))

/* Integers: Lua 5.1/LuaJIT have only doubles, which hold every value we push. */
#if LUA_VERSION_NUM < 503
#define lwl_pushint(L, n) lua_pushnumber(L, (lua_Number)(n))
#define lwl_isinteger(L, i) (lua_type(L, i) == LUA_TNUMBER && \
    lua_tonumber(L, i) == (lua_Number)(long long)lua_tonumber(L, i))
#else
#define lwl_pushint(L, n) lua_pushinteger(L, (lua_Integer)(n))
#define lwl_isinteger(L, i) lua_isinteger(L, i)
#endif

#endif
