/* hooks.c: (being written) */
#include "lwolfssl.h"

void lwl_hooks_open(lua_State *L) {
    (void)L;
}
