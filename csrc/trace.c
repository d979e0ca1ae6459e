/* trace.c: (being written) */
#include "lwolfssl.h"

void lwl_trace_open(lua_State *L) {
    (void)L;
}

void lwl_trace_io(lwl_Conn *c, int dir, const unsigned char *buf, int n) {
    (void)c; (void)dir; (void)buf; (void)n;
}
