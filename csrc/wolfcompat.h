/* wolfcompat.h: which wolfSSL release is in use, decided once at build time.
 * Each quirk of an old release gets one LWL_* switch here, set from a
 * configure macro or the version of the headers compiled against; the code
 * that works around it tests the switch, so the workaround applies only
 * where that release needs it (notes/wolfssl-5.5.4-behaviour.md). */
#ifndef LWOLFSSL_WOLFCOMPAT_H
#define LWOLFSSL_WOLFCOMPAT_H

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/ssl.h> /* SSL_OP_NO_RENEGOTIATION, where it exists */
#include <wolfssl/version.h>

/* wolfSSL_d2i_SSL_SESSION copies the lengths it reads into fixed fields
 * without checking them before 5.9.2 (5.5.4: heap overflows, found by
 * fuzzing; 5.9.2 checks each): session.c walks the layout first. */
#if LIBWOLFSSL_VERSION_HEX < 0x05009002
#define LWL_GUARD_SESSION_LAYOUT 1
#endif

/* wolfSSL_set_session copies the session into the connection's own in 5.5.4;
 * later releases (5.7.2 and 5.9.2 read) keep a reference to a session that is
 * not in the cache, and the handshake updates it: session.c then hands over
 * a copy (on 5.5.4 with SESSION_CERTS that copy would cost ~76 k instructions
 * per resumption for nothing). */
#if LIBWOLFSSL_VERSION_HEX > 0x05005004
#define LWL_SET_SESSION_SHARES 1
#endif

/* With secure renegotiation compiled in, wolfSSL follows a peer's request
 * unless the option says no (then: a no_renegotiation warning, and the
 * connection goes on). renegotiation = "refuse" sets it on every context.
 * Releases before 5.9.2 define the option but ignore it (5.7.2 measured):
 * there LWL_RENEG_FOLLOWED, policy.c refuses a renegotiating ClientHello
 * itself (fatal, as 5.5.4 without secure renegotiation does), and "allow"
 * is not offered: LWL_RENEGOTIATION (features.renegotiation) is the build
 * that can both renegotiate and refuse with a warning. */
#if defined(HAVE_SECURE_RENEGOTIATION) && defined(SSL_OP_NO_RENEGOTIATION) && \
    LIBWOLFSSL_VERSION_HEX >= 0x05009002
#define LWL_NO_RENEGOTIATION SSL_OP_NO_RENEGOTIATION
#define LWL_RENEGOTIATION 1
#elif defined(HAVE_SECURE_RENEGOTIATION)
#define LWL_RENEG_FOLLOWED 1
#endif

/* Encrypted Client Hello as the binding uses it: wolfSSL_CTX_GenerateEchConfigEx,
 * the connection's ECH status and retry configs came in 5.9.2 (5.7.2 has
 * HAVE_ECH with an older API): before it, features.ech is false. */
#if defined(HAVE_ECH) && defined(WOLFSSL_TLS13) && LIBWOLFSSL_VERSION_HEX >= 0x05009002
#define LWL_ECH 1
#endif

/* An ECH client of 5.9.2 (and before) seals its inner ClientHello with the
 * outer one as AAD before it writes the outer one's PSK binders: a server
 * then cannot decrypt it and rejects ECH, so a resumption or an external PSK
 * with ECH always fails. ECH connections offer no session and take no PSK
 * there (features.ech_resumption is false). */
#if defined(LWL_ECH) && LIBWOLFSSL_VERSION_HEX <= 0x05009002
#define LWL_ECH_NO_PSK 1
#endif

/* wolfSSL_is_stateful (a DTLS server that has checked the client's cookie)
 * and wolfDTLS_accept_stateless: from 5.7.6 (wolfSSL's "server-side
 * stateless API", its PR 8224); not in 5.5.4 nor 5.7.2. */
#if defined(WOLFSSL_DTLS) && LIBWOLFSSL_VERSION_HEX >= 0x05007006
#define LWL_DTLS_STATEFUL 1
#endif

/* DTLS 1.3's version number: ssl.h names it only where the build has DTLS
 * 1.3 (not 5.5.4's), and version checks compare with it on every build. */
#ifndef DTLS1_3_VERSION
#define DTLS1_3_VERSION 0xFEFC
#endif

/* DTLS 1.3: the least real time between two of wolfSSL's resends, in
 * seconds (transport.c counts it in conn:timeout()). A setting in ms where
 * the release has one (the tuned build sets 100, build-aux/build-wolfssl.sh);
 * a fixed second before (5.5.4, 5.7.2). */
#if defined(DTLS13_MIN_RTX_INTERVAL) && LIBWOLFSSL_VERSION_HEX >= 0x05009000
#define LWL_DTLS13_RTX_FLOOR (DTLS13_MIN_RTX_INTERVAL / 1000.0)
#else
#define LWL_DTLS13_RTX_FLOOR 1.0
#endif

/* DUPE_ENTRY_E (error-ssl.h, an enum): a CRL no newer than the one loaded
 * for its issuer (5.9.2). The number is unused in 5.5.4, which keeps both. */
#define LWL_DUPE_ENTRY_E (-334)

/* A TLS 1.2 server of 5.5.4 promises a staple (status_request answered)
 * before it asks for one, so a staple function that returns nil fails even
 * a client that only requests stapling; 5.9.2 asks first.
 * features.ocsp_staple_optional_tls12 says which. */
#if LIBWOLFSSL_VERSION_HEX <= 0x05005004
#define LWL_STAPLE_TLS12_PROMISES 1
#endif

/* 5.9.2's TLS 1.2 client reports a revoked staple as BAD_CERTIFICATE_STATUS_ERROR
 * (internal.c DoCertificateStatus replaces ProcessCSR's OCSP_CERT_REVOKED when
 * the end certificate's status is not good); its OCSP status verify callback
 * sees the real verdict first, and verify.c keeps it. 5.5.4 reports it itself
 * (and has no such callback). */
#if LIBWOLFSSL_VERSION_HEX >= 0x05009002 && defined(HAVE_OCSP) && \
    defined(HAVE_CERTIFICATE_STATUS_REQUEST)
#define LWL_OCSP_REVOKED_LOST 1
#endif

/* Between 5.5.4 and 5.9.2 (5.7.2 measured) a TLS 1.2 client also replaces
 * a revoked staple's verdict with BAD_CERTIFICATE_STATUS_ERROR (internal.c
 * DoCertificateStatus), and has no OCSP status callback to learn it: there a
 * revoked staple over TLS 1.2 reads as one that does not verify
 * (features.ocsp_revoked_tls12 is false). TLS 1.3 says revoked everywhere. */
#if LIBWOLFSSL_VERSION_HEX > 0x05005004 && !defined(LWL_OCSP_REVOKED_LOST)
#define LWL_OCSP_REVOKED_HIDDEN 1
#endif

/* A TLS 1.2 Finished in a plaintext record (before the peer's
 * ChangeCipherSpec) is OUT_OF_ORDER_E after 5.5.4 (internal.c
 * MsgCheckEncryption, before the check that says NO_CHANGE_CIPHER_E; 5.7.2
 * and 5.9.2 measured): the transport watches the peer's plaintext records
 * (lwl_Watch) so that lwl_get_error gives NO_CHANGE_CIPHER_E, as 5.5.4 does.
 * (It only rewords OUT_OF_ORDER_E: harmless on a release without the check.) */
#if LIBWOLFSSL_VERSION_HEX > 0x05005004
#define LWL_WATCH_RECORDS 1
#endif

/* wolfSSL 5.5.4 leaks about 8 KiB for every TLS 1.3 ClientHello carrying
 * status_request when the server staples: tls.c TLSX_CSR_Parse drops the
 * DecodedCert of the server's certificate without FreeDecodedCert, and the
 * response copy it keeps for the Certificate message is never freed (nothing
 * the status callback hands over changes either). TLS 1.2 does not leak: a
 * stapling server there must stay below TLS 1.3 (trust.lua;
 * features.ocsp_staple_tls13 is false). */
#if defined(WOLFSSL_TLS13) && LIBWOLFSSL_VERSION_HEX <= 0x05005004
#define LWL_STAPLE_TLS13_LEAKS 1
#endif

/* Before 5.9.2 a stapling server's first TLS 1.2 connection lends the OCSP
 * request it makes to the context (internal.c CreateOcspRequest sets
 * ctx->certOcspRequest), then frees it when the status check fails (a staple
 * function that raises, a response that does not verify): the next connection
 * uses the freed request and wolfSSL_CTX_free frees it again (make
 * test-matrix on 5.7.2: a crash in a later garbage collection; 5.5.4 has the
 * same code). A connection with a certificate of its own keeps its request
 * to itself: verify.c gives each TLS 1.2 connection of a stapling server the
 * context's certificate (from policy.c's certificate callback). */
#if LIBWOLFSSL_VERSION_HEX < 0x05009002
#define LWL_STAPLE_OWN_CERT 1
#endif

#endif
