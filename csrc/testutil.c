/* testutil.c: helpers that exist only for the suite, in wolfssl.core._test:
 * descriptors for the fd-mode specs, a userdata's uservalue, a clock the
 * session-expiry specs move, the HMAC the session fuzz driver seals its
 * inputs with, and a fixed DTLS cookie key for the DTLS fuzz drivers. They
 * hand out operations no user needs, so a normal process does not see them:
 * the table exists only when the environment has WOLFSSL_TEST_LUA (the
 * Makefile's test runs and the fuzz harness set it). */
#include "lwolfssl.h"

#include <wolfssl/wolfcrypt/hmac.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* _test.socketpair([nonblocking]) -> fd1, fd2 | nil, msg: a connected AF_UNIX
 * stream pair, for the fd-mode specs. */
static int test_socketpair(lua_State *L) {
    int sv[2], i;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return lwl_fail(L, strerror(errno));
    if (lua_toboolean(L, 1))
        for (i = 0; i < 2; i++) fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK);
    lwl_pushint(L, sv[0]);
    lwl_pushint(L, sv[1]);
    return 2;
}

/* _test.setblocking(fd, on): LuaSocket keeps its sockets O_NONBLOCK; the specs
 * use this to test truly blocking descriptors */
static int test_setblocking(lua_State *L) {
    int fd = (int)luaL_checkinteger(L, 1);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return lwl_fail(L, strerror(errno));
    fl = lua_toboolean(L, 2) ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
    if (fcntl(fd, F_SETFL, fl) != 0) return lwl_fail(L, strerror(errno));
    lua_pushboolean(L, 1);
    return 1;
}

/* _test.closefd(fd) -> true | nil, msg */
static int test_closefd(lua_State *L) {
    int fd = (int)luaL_checkinteger(L, 1);
    if (close(fd) != 0) return lwl_fail(L, strerror(errno));
    lua_pushboolean(L, 1);
    return 1;
}

/* The clock our own session-expiry checks read. Only the suite moves it
 * (_test.advance_clock), so that a spec sees a session expire without
 * sleeping; wolfSSL's own checks keep the real clock. */
static long clock_offset;

long lwl_now(void) {
    return (long)time(NULL) + clock_offset;
}

/* The clock of the DTLS retransmission timer (transport.c): the suite moves
 * it to see a retransmission due without sleeping. */
double lwl_clock(void) {
    return lwl_monotonic() + (double)clock_offset;
}

/* _test.advance_clock(seconds): lwl_now() runs that much ahead (0 resets) */
static int test_advance_clock(lua_State *L) {
    lua_Integer s = luaL_checkinteger(L, 1);
    clock_offset = s == 0 ? 0 : clock_offset + (long)s;
    return 0;
}

/* _test.uservalue(ud) -> a userdata's uservalue: the specs check that
 * replacing what Lua holds there reaches nothing wolfSSL uses */
static int test_uservalue(lua_State *L) {
    luaL_checktype(L, 1, LUA_TUSERDATA);
    lwl_getuv(L, 1);
    return 1;
}

/* _test.hmac_sha256(key, data) -> 32 bytes: fuzz/drivers/session.lua seals
 * mutated sessions with it (the MAC export computes), so they get past the
 * MAC check to the layout walk and wolfSSL's parser. */
static int test_hmac_sha256(lua_State *L) {
    size_t klen, dlen;
    const char *key = luaL_checklstring(L, 1, &klen);
    const char *data = luaL_checklstring(L, 2, &dlen);
    unsigned char out[WC_SHA256_DIGEST_SIZE];
    Hmac h;
    int ok;
    if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0) return lwl_fail(L, "wc_HmacInit failed");
    ok = wc_HmacSetKey(&h, WC_SHA256, (const byte *)key, (word32)klen) == 0 &&
         wc_HmacUpdate(&h, (const byte *)data, (word32)dlen) == 0 && wc_HmacFinal(&h, out) == 0;
    wc_HmacFree(&h);
    if (!ok) return lwl_fail(L, "HMAC-SHA256 failed");
    lua_pushlstring(L, (const char *)out, sizeof out);
    return 1;
}

/* _test.cookie_secret(ctx, key32): a DTLS server context's cookie key, fixed
 * (it is random per context): the DTLS fuzz drivers' recorded ClientHellos
 * then carry a valid cookie in every process, so seeds and mutations get past
 * the cookie exchange. Connections made afterwards take it. */
static int test_cookie_secret(lua_State *L) {
    lwl_Context *c = lwl_checkcontext(L, 1);
    size_t len;
    const char *key = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, len == sizeof c->cookie_secret, 2, "expected 32 bytes");
    memcpy(c->cookie_secret, key, len);
    return 0;
}

void lwl_test_open(lua_State *L) {
    static const luaL_Reg funcs[] = {{"socketpair", test_socketpair},
                                     {"closefd", test_closefd},
                                     {"setblocking", test_setblocking},
                                     {"advance_clock", test_advance_clock},
                                     {"uservalue", test_uservalue},
                                     {"hmac_sha256", test_hmac_sha256},
                                     {"cookie_secret", test_cookie_secret},
                                     {NULL, NULL}};
    if (getenv("WOLFSSL_TEST_LUA") == NULL) return;
    luaL_newlib(L, funcs);
    lua_setfield(L, -2, "_test");
}
