/* session.c: (being written) */
#include "lwolfssl.h"

void lwl_session_open(lua_State *L) {
    (void)L;
}
