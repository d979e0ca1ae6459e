/* errors.c: wolfSSL's error codes turned into messages a user can act on. */
#include "lwolfssl.h"

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <stdio.h>
#include <string.h>

/* Verification failures in OpenSSL's X509_V_ERR numbering. The verify
 * callback sees both these and wolfSSL's own negative codes; fold them. */
int lwl_verify_code(int code) {
    switch (code) {
    case ASN_BEFORE_DATE_E: case 13: return 9;  /* not yet valid */
    case ASN_AFTER_DATE_E: case 14: return 10;  /* expired */
    case ASN_NO_SIGNER_E: return 20;
    case ASN_SELF_SIGNED_E: return 18;
    case ASN_SIG_CONFIRM_E: return 7;
    case DOMAIN_NAME_MISMATCH: return 62;
    case IPADDR_MISMATCH: return 64;
    case CRL_CERT_REVOKED: return 23;
    case OCSP_CERT_REVOKED: return 2002;          /* revoked by a (stapled) OCSP response */
    case BAD_CERTIFICATE_STATUS_ERROR: return 2003; /* OCSP response unknown / invalid */
    case MAX_CHAIN_ERROR: case ASN_PATHLEN_SIZE_E: case ASN_PATHLEN_INV_E: return 22;
    case NOT_CA_ERROR: return 24;
    case KEYUSE_SIGNATURE_E: case KEYUSE_ENCIPHER_E: case EXTKEYUSE_AUTH_E:
    case KEYUSAGE_E: case EXTKEYUSAGE_E: return 26;
    case CRL_MISSING: return 3;
    case OCSP_CERT_UNKNOWN: case OCSP_LOOKUP_FAIL: return 2001; /* no usable staple */
    case -1: return 1;
    default: return code < 0 ? 1 : code;
    }
}

const char *lwl_verify_reason(int code) {
    switch (code) {
    case 0: return "ok";
    case 1: return "certificate verification failed";
    case 2: return "unable to get issuer certificate";
    case 3: return "unable to get certificate CRL";
    case 7: return "certificate signature failure";
    case 9: return "certificate is not yet valid";
    case 10: return "certificate has expired";
    case 12: return "CRL has expired";
    case 18: return "self-signed certificate";
    case 19: return "self-signed certificate in certificate chain";
    case 20: return "unknown CA (unable to get local issuer certificate)";
    case 21: return "unable to verify the first certificate";
    case 22: return "certificate chain too long";
    case 23: return "certificate revoked";
    case 24: return "invalid CA certificate";
    case 26: return "unsupported certificate purpose (wrong key usage)";
    case 27: return "certificate not trusted";
    case 28: return "certificate rejected";
    case 50: return "rejected by on_verify";
    case 62: return "hostname mismatch";
    case 64: return "IP address mismatch";
    case 2001: return "no OCSP response stapled (OCSP status unknown)";
    case 2002: return "certificate revoked (OCSP response)";
    case 2003: return "OCSP response says unknown or does not verify";
    default: return "certificate verification failed";
    }
}

/* A client whose ECH the server rejected: the public name of the ECHConfig
 * it used (the first one of its list wolfSSL takes: version 0xfe0d), which
 * wolfSSL checked the certificate against. 0 when ECH was not rejected. */
static int ech_public_name(lwl_Conn *c, char *out, size_t sz) {
#ifdef LWL_ECH
    unsigned char list[1024];
    word32 len = sizeof list, i = 2;
    if (c->is_server || wolfSSL_GetEchStatus(c->ssl) != WOLFSSL_ECH_STATUS_REJECTED ||
        wolfSSL_GetEchConfigs(c->ssl, list, &len) != WOLFSSL_SUCCESS)
        return 0;
    while (i + 4 <= len) {
        word32 clen = (word32)(list[i + 2] << 8 | list[i + 3]), p = i + 4, end = p + clen;
        if (end > len) break;
        if ((list[i] << 8 | list[i + 1]) == 0xfe0d && p + 3 <= end) {
            p += 3;                                        /* config id, kem id */
            if (p + 2 > end) break;
            p += 2 + (word32)(list[p] << 8 | list[p + 1]); /* public key */
            if (p + 2 > end) break;
            p += 2 + (word32)(list[p] << 8 | list[p + 1]); /* cipher suites */
            if (p + 2 > end || p + 2 + list[p + 1] > end) break;
            snprintf(out, sz, "%.*s", (int)list[p + 1], (const char *)list + p + 2);
            return 1;
        }
        i = end;
    }
#else
    (void)c; (void)out; (void)sz;
#endif
    return 0;
}

/* The names the server's certificate is for, for hostname mismatch messages */
static void cert_names(WOLFSSL *ssl, char *buf, size_t sz) {
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(ssl);
    size_t used = 0;
    char *name;
    buf[0] = 0;
    if (x == NULL) return;
    while ((name = wolfSSL_X509_get_next_altname(x)) != NULL && used + 4 < sz) {
        int n = snprintf(buf + used, sz - used, "%s%s", used ? ", " : "", name);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used >= sz) buf[sz - 1] = 0;
    if (used == 0) lwl_cert_cn(x, buf, sz);
    wolfSSL_X509_free(x);
}

static int is_verify_error(int err) {
    switch (err) {
    case VERIFY_CERT_ERROR: case ASN_NO_SIGNER_E: case ASN_AFTER_DATE_E:
    case ASN_BEFORE_DATE_E: case ASN_SIG_CONFIRM_E: case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH: case CRL_CERT_REVOKED: case OCSP_CERT_REVOKED:
    case MAX_CHAIN_ERROR: case NOT_CA_ERROR: case KEYUSE_SIGNATURE_E:
    case KEYUSE_ENCIPHER_E: case EXTKEYUSE_AUTH_E: case ASN_SELF_SIGNED_E:
    case ASN_PATHLEN_SIZE_E: case ASN_PATHLEN_INV_E: case OCSP_CERT_UNKNOWN:
    case CRL_MISSING: case NO_PEER_CERT: case NO_PEER_VERIFY: case BAD_CERTIFICATE_STATUS_ERROR:
    case OCSP_INVALID_STATUS: case OCSP_LOOKUP_FAIL:
        return 1;
    default:
        return 0;
    }
}

/* What a peer did, in words, for the wolfSSL codes a peer's bytes can cause
 * (probed with hostile bytes in spec/08-hostile_spec.lua). */
static const struct {
    int code;
    const char *msg;
} peer_errors[] = {
    {OUT_OF_ORDER_E, "peer sent a handshake message out of order"},
    {SANITY_MSG_E, "peer sent a handshake message out of order"},
    {UNKNOWN_HANDSHAKE_TYPE, "peer sent a handshake message of unknown type"},
    {NO_CHANGE_CIPHER_E, "peer sent Finished before ChangeCipherSpec"},
    {BUFFER_ERROR, "peer sent a malformed handshake message"},
    {DECODE_E, "peer sent a malformed handshake message"},
    {BAD_HELLO, "peer sent a malformed hello message"},
    {MISSING_HANDSHAKE_DATA, "peer sent a handshake message with data missing"},
    {HANDSHAKE_SIZE_ERROR, "peer sent a handshake message that is too large"},
    {LENGTH_ERROR, "peer sent a record with an invalid length"},
    {PARSE_ERROR, "peer sent a malformed record"},
    {UNKNOWN_RECORD_TYPE, "peer sent a record of unknown type"},
    {SANITY_CIPHER_E, "peer sent a malformed encrypted record"},
    {VERIFY_MAC_ERROR, "bad record MAC: a record from the peer failed its integrity check "
                       "(corrupted or tampered with)"},
    {DECRYPT_ERROR, "bad record MAC: a record from the peer failed its integrity check "
                    "(corrupted or tampered with)"},
    {AES_GCM_AUTH_E, "bad record MAC: a record from the peer failed its integrity check "
                     "(corrupted or tampered with)"},
    {MAC_CMP_FAILED_E, "bad record MAC: a record from the peer failed its integrity check "
                       "(corrupted or tampered with)"},
    {VERIFY_FINISHED_ERROR, "peer's Finished message does not verify (handshake tampered with?)"},
    {VERIFY_SIGN_ERROR, "peer's handshake signature does not verify"},
    {ECC_PEERKEY_ERROR, "peer sent an invalid key exchange value"},
    {PEER_KEY_ERROR, "peer sent an invalid key exchange value"},
    {BAD_KEY_SHARE_DATA, "peer sent an invalid key exchange value"},
    {ECC_CURVE_ERROR, "peer sent an invalid key exchange value"},
    {ECC_CURVETYPE_ERROR, "peer sent an invalid key exchange value"},
    {ECC_SHARED_ERROR, "peer sent an invalid key exchange value"},
    {KEY_SHARE_ERROR, "no shared key exchange group"},
    {EXT_NOT_ALLOWED, "peer sent an extension not allowed in that message"},
    {UNSUPPORTED_EXTENSION, "peer sent an extension that was not asked for"},
    {EXT_MISSING, "peer left out a required extension"},
    {DUPLICATE_TLS_EXT_E, "peer sent the same extension twice"},
    {INVALID_PARAMETER, "peer sent an invalid parameter"},
    {BAD_BINDER, "peer's pre-shared key binder does not verify"},
    {SECURE_RENEGOTIATION_E, "peer sent invalid renegotiation information"},
    {SESSION_TICKET_LEN_E, "peer sent a malformed session ticket"},
    {BAD_TICKET_MSG_SZ, "peer sent a malformed session ticket"},
    {COMPRESSION_ERROR, "peer does not offer null compression"},
    {UNSUPPORTED_SUITE, "peer chose a cipher suite that was not offered"},
    {ALERT_COUNT_E, "peer sent too many warning alerts"},
    {TOO_MUCH_EARLY_DATA, "peer sent more early data than allowed"},
    {EXT_MASTER_SECRET_NEEDED_E, "peer resumed without the extended master secret"},
    {DH_KEY_SIZE_E, "peer's key is too small"},
    {RSA_KEY_SIZE_E, "peer's key is too small"},
    {ECC_KEY_SIZE_E, "peer's key is too small"},
};

int lwl_get_error(WOLFSSL *ssl, int ret) {
    int err = wolfSSL_get_error(ssl, ret);
    if (err == WOLFSSL_ERROR_SYSCALL && wolfSSL_state(ssl) < 0) err = wolfSSL_state(ssl);
#ifdef LWL_WATCH_RECORDS
    if (err == OUT_OF_ORDER_E && wolfSSL_version(ssl) == TLS1_2_VERSION) {
        /* the peer's last record: a plaintext Finished (wolfcompat.h) */
        lwl_Conn *c = lwl_conn_from_ssl(ssl);
        if (c != NULL && !c->watch.ccs && c->watch.type == 22 && c->watch.first == 20)
            err = NO_CHANGE_CIPHER_E;
    }
#endif
    return err;
}

const char *lwl_describe_error(lwl_Conn *c, int err, char *buf, size_t sz) {
    WOLFSSL_ALERT_HISTORY h;
    memset(&h, 0, sizeof h);
    wolfSSL_get_alert_history(c->ssl, &h);
    /* Bytes that are not TLS at all: say so, whatever wolfSSL called it. */
    if (c->nrecv >= 3 && !c->done && !c->dtls && /* (DTLS: wolfSSL drops what is not) */
        (c->first[0] < 20 || c->first[0] > 24 || c->first[1] != 3)) {
        snprintf(buf, sz, "peer sent data that is not TLS (garbage bytes %02x %02x %02x)",
                 c->first[0], c->first[1], c->first[2]);
        return "protocol";
    }
    if (c->no_shared_group) { /* policy.c */
        snprintf(buf, sz, "no shared key exchange group");
        return "protocol";
    }
    if (err == FATAL_ERROR) {
        int a = h.last_rx.code;
        if (c->done && c->is_server && h.last_tx.code == 100) {
            /* we answered a renegotiating ClientHello with no_renegotiation
             * (wolfSSL with secure renegotiation) and the peer gave up */
            snprintf(buf, sz, "peer asked to renegotiate (TLS 1.2 renegotiation is refused)");
            return "renegotiation";
        }
        if (a == 70)
            snprintf(buf, sz, "no shared protocol version: peer sent alert protocol_version");
        else if (a == 40 && !c->is_server && wolfSSL_get_certificate(c->ssl) == NULL)
            snprintf(buf, sz, "peer sent alert handshake_failure (no shared cipher or parameters, "
                              "or the server requires a client certificate?)");
        else if (a == 40 && !c->is_server)
            snprintf(buf, sz, "peer sent alert handshake_failure (no shared cipher or parameters?)");
        else if (strcmp(lwl_alert_name(a), "unknown") == 0)
            snprintf(buf, sz, "peer sent alert %d (unknown)", a);
        else
            snprintf(buf, sz, "peer sent alert %s", lwl_alert_name(a));
        return "alert";
    }
    if ((c->vfy_err != 0 || is_verify_error(err)) && err != NO_PEER_CERT) {
        int code = lwl_verify_code(c->vfy_err ? c->vfy_err : err);
        if (code == 62 || code == 64) {
            char names[256], public_name[256];
            cert_names(c->ssl, names, sizeof names);
            if (ech_public_name(c, public_name, sizeof public_name))
                snprintf(buf, sz, "hostname mismatch: certificate is for %s, not %s (the ECH "
                                  "public name: the server rejected ECH)",
                         names[0] ? names : "(no name)", public_name);
            else
                snprintf(buf, sz, "hostname mismatch: certificate is for %s, not %s",
                         names[0] ? names : "(no name)", c->server_name ? c->server_name : "?");
        } else if (c->vfy_subject != NULL) {
            snprintf(buf, sz, "certificate verify failed: %s (depth %d, %s)",
                     lwl_verify_reason(code), c->vfy_depth, c->vfy_subject);
        } else {
            snprintf(buf, sz, "certificate verify failed: %s", lwl_verify_reason(code));
        }
        return "verify";
    }
    switch (err) {
    case SOCKET_PEER_CLOSED_E: case SOCKET_ERROR_E:
        if (!c->done) {
            /* a client has sent its ClientHello: the handshake had begun */
            snprintf(buf, sz, (c->nrecv || !c->is_server)
                                  ? "connection closed by peer during the handshake"
                                  : "connection closed by peer before the handshake");
            return "closed";
        }
        snprintf(buf, sz, "connection closed by peer");
        return "closed";
    case NO_PEER_CERT:
        snprintf(buf, sz, "peer did not send a certificate (one is required)");
        return "verify";
    case MATCH_SUITE_ERROR:
        if (c->refused_curve)
            snprintf(buf, sz, "no shared cipher (the client does not support the certificate's "
                              "curve %s)", c->refused_curve);
        else
            snprintf(buf, sz, "no shared cipher");
        return "cipher";
    case VERSION_ERROR: case UNSUPPORTED_PROTO_VERSION:
        snprintf(buf, sz, "no shared protocol version");
        return "version";
    case UNKNOWN_ALPN_PROTOCOL_NAME_E:
        snprintf(buf, sz, "no shared application protocol (ALPN)");
        return "alpn";
    case NO_PRIVATE_KEY: case NO_CERT_ERROR:
        snprintf(buf, sz, "no certificate or private key configured");
        return "config";
    case BAD_FUNC_ARG:
        if (c->is_server && !c->done) {
            /* wolfSSL 5.5.4's answer to a TLS 1.3 ClientHello whose groups it
             * cannot use (no key exchange group in common) */
            snprintf(buf, sz, "cannot negotiate with the peer's ClientHello "
                              "(no shared key exchange group?) (wolfSSL error %d)", err);
            return "protocol";
        }
        /* fall through */
    case CLIENT_CERT_CB_ERROR: /* policy.c refuses (LWL_RENEG_FOLLOWED) */
    case DUPLICATE_MSG_E:
        if (c->done && c->is_server) { /* a TLS 1.2 ClientHello after the handshake */
            snprintf(buf, sz, "peer asked to renegotiate (TLS 1.2 renegotiation is refused)");
            return "renegotiation";
        }
        if (err == DUPLICATE_MSG_E)
            snprintf(buf, sz, "peer sent the same handshake message twice");
        else
            snprintf(buf, sz, "%s (wolfSSL error %d)",
                     wolfSSL_ERR_reason_error_string((unsigned long)err), err);
        return "protocol";
#ifdef LWL_ECH
    case ECH_REQUIRED_E: /* RFC 9849 6.1.6: the server could not decrypt our ClientHello */
        snprintf(buf, sz, "ECH rejected by the server (stale or wrong ech_configs)%s",
                 wolfSSL_GetEchRetryConfigs(c->ssl, NULL, &(word32){0}) != WOLFSSL_FATAL_ERROR
                     ? ": it sent retry configs (conn:ech_retry_configs()), connect again with them"
                     : "");
        return "ech";
#endif
    case SIDE_ERROR: /* a ClientHello sent to a client, a ServerHello to a server */
        snprintf(buf, sz, "peer sent a message only a %s sends", c->is_server ? "server" : "client");
        return "protocol";
    default: {
        size_t i;
        for (i = 0; i < sizeof peer_errors / sizeof peer_errors[0]; i++)
            if (peer_errors[i].code == err) {
                snprintf(buf, sz, "%s", peer_errors[i].msg);
                return "protocol";
            }
    }
        /* wolfSSL's own words, without its "error:-308:..." prefix clutter */
        snprintf(buf, sz, "%s (wolfSSL error %d)", wolfSSL_ERR_reason_error_string((unsigned long)err), err);
        return "protocol";
    }
}

void lwl_set_last_error(lua_State *L, int self, const char *kind, const char *msg, int code,
                        int alert) {
    lwl_conn_uv(L, self);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "message");
    lwl_pushint(L, code);
    lua_setfield(L, -2, "code");
    if (alert) {
        lua_pushstring(L, lwl_alert_name(alert));
        lua_setfield(L, -2, "alert");
    }
    lua_setfield(L, -2, "last_error");
    lua_pop(L, 1);
}
