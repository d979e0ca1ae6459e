/* trust.c: (being written) */
#include "lwolfssl.h"

void lwl_trust_open(lua_State *L) {
    (void)L;
}
