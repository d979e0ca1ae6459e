/* pkey.c: (being written) */
#include "lwolfssl.h"

void lwl_pkey_open(lua_State *L) {
    (void)L;
}
