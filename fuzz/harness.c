/* The libFuzzer harness of every fuzz target: embeds Lua 5.4 with the C core
 * linked in, loads the target's Lua driver (fuzz/drivers/<FUZZ_TARGET>.lua,
 * through fuzz/run.lua) and calls it with each input, under pcall as a user's
 * code would. A Lua error is an ordinary outcome; a crash or a sanitizer report
 * is a finding, and so is a driver's broken-promise check (run.lua raises it
 * out of the pcall: we abort, libFuzzer saves the input).
 *
 * Built per target by `make fuzz` with -DFUZZ_TARGET='"name"' and
 * -DFUZZ_ROOT='"/abs/repo"' (LWL_FUZZ_ROOT in the environment overrides). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_wolfssl_core(lua_State *L);

static lua_State *L;
static int run_ref = LUA_NOREF;

/* Lua code has no compiler instrumentation: a line hook feeds libFuzzer's
 * extra counters with (previous line, this line) pairs, so the parsers
 * written in Lua (hello, decode, trace) are explored by coverage too. */
#define LUA_EDGES (1u << 16)
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[LUA_EDGES];
static uintptr_t prev_line;

static void line_hook(lua_State *L1, lua_Debug *ar) {
    uintptr_t here;
    if (!lua_getinfo(L1, "S", ar)) return;
    here = (uintptr_t)ar->source * 31u ^ (uintptr_t)ar->currentline * 2654435761u;
    lua_edges[(here ^ (prev_line >> 1)) & (LUA_EDGES - 1)]++;
    prev_line = here;
}

static void die(const char *what) {
    fprintf(stderr, "fuzz harness (%s): %s: %s\n", FUZZ_TARGET, what, lua_tostring(L, -1));
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *root = getenv("LWL_FUZZ_ROOT");
    (void)argc;
    (void)argv;
    if (root == NULL) root = FUZZ_ROOT;
    /* wolfssl.core._test: the session driver seals its inputs with its HMAC */
    setenv("WOLFSSL_TEST_LUA", "fuzz", 0);
    L = luaL_newstate();
    luaL_openlibs(L);
    /* wolfssl.core is in this binary, not a .so beside it */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_wolfssl_core);
    lua_setfield(L, -2, "wolfssl.core");
    lua_pop(L, 1);
    lua_pushfstring(L, "%s/fuzz/run.lua", root);
    if (luaL_dofile(L, lua_tostring(L, -1)) != LUA_OK) die("loading fuzz/run.lua");
    lua_pushstring(L, root);
    lua_pushstring(L, FUZZ_TARGET);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) die("loading the driver");
    run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    prev_line = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, run_ref);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) die("finding");
    lua_settop(L, 0);
    /* free this input's connections and objects now: a use-after-free or
     * double free in a __gc is reported against the input that caused it */
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
