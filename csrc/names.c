/* names.c: the one home of the protocol's name tables in C - alert
 * descriptions, protocol versions, wolfSSL's curve names as users write
 * them, and the TLS numbers of the groups the groups option takes. core.names exports the first two for the Lua layer (decode.lua). */
#include "lwolfssl.h"

#include <string.h>

typedef struct Name {
    int code;
    const char *name;
} Name;

static const Name alerts[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {30, "decompression_failure"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {52, "too_many_cids_requested"},
    {60, "export_restriction"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {111, "certificate_unobtainable"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {114, "bad_certificate_hash_value"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
    {121, "ech_required"},
    {-1, NULL}};

static const Name versions[] = {
    {0x0300, "SSLv3"},  {0x0301, "TLSv1"},    {0x0302, "TLSv1.1"},  {0x0303, "TLSv1.2"},
    {0x0304, "TLSv1.3"}, {0xfeff, "DTLSv1"},  {0xfefd, "DTLSv1.2"}, {0xfefc, "DTLSv1.3"},
    {-1, NULL}};

static const char *find(const Name *t, int code) {
    for (; t->name; t++)
        if (t->code == code) return t->name;
    return NULL;
}

const char *lwl_alert_name(int code) {
    const char *n = find(alerts, code);
    return n ? n : "unknown";
}

/* "TLSv1.3" for 0x0304 ...; NULL when unknown */
const char *lwl_version_name(int v) {
    return find(versions, v);
}

/* wolfSSL's curve names as users write them in the groups option */
const char *lwl_group_name(const char *wolf) {
    static const char *const map[][2] = {
        {"SECP256R1", "P-256"}, {"SECP384R1", "P-384"}, {"SECP521R1", "P-521"},
        {"FFDHE_2048", "ffdhe2048"}, {"FFDHE_3072", "ffdhe3072"}, {"FFDHE_4096", "ffdhe4096"}};
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(wolf, map[i][0]) == 0) return map[i][1];
    return wolf;
}

/* The TLS number of a group as the groups option names it (after
 * options.group_list): the n bytes at name; 0 when unknown */
unsigned lwl_group_id(const char *name, size_t n) {
    static const Name groups[] = {
        {23, "P-256"}, {24, "P-384"}, {25, "P-521"}, {29, "X25519"}, {30, "X448"},
        {256, "ffdhe2048"}, {257, "ffdhe3072"}, {258, "ffdhe4096"},
        {4587, "SecP256r1MLKEM768"}, {4588, "X25519MLKEM768"}, {4589, "SecP384r1MLKEM1024"},
        {-1, NULL}};
    const Name *t;
    for (t = groups; t->name; t++)
        if (strlen(t->name) == n && memcmp(t->name, name, n) == 0) return (unsigned)t->code;
    return 0;
}

static void push_table(lua_State *L, const Name *t) {
    lua_newtable(L);
    for (; t->name; t++) {
        lua_pushstring(L, t->name);
        lua_rawseti(L, -2, t->code);
    }
}

/* core.names = {alerts = {[code] = name}, versions = {[code] = name}} */
void lwl_names_open(lua_State *L) {
    lua_createtable(L, 0, 2);
    push_table(L, alerts);
    lua_setfield(L, -2, "alerts");
    push_table(L, versions);
    lua_setfield(L, -2, "versions");
    lua_setfield(L, -2, "names");
}
