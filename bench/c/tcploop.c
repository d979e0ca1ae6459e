/* tcploop.c: a TLS server and a TLS client over loopback TCP in plain C on
 * wolfSSL, for the server-side benchmark (bench/server.lua).
 *
 *   tcploop server CERTDIR ecdsa|rsa PORTFILE [idle]
 *       The C server: blocking accept loop; per connection wolfSSL_new,
 *       wolfSSL_set_fd, wolfSSL_accept, read the request (up to the blank
 *       line), write a fixed "200 OK", wolfSSL_shutdown both ways (our
 *       close_notify, then the client's), wolfSSL_free, close. Writes its port
 *       to PORTFILE; runs until killed. With "idle": handshake and keep every
 *       connection open (for the RSS of idle connections). TCPLOOP_NONBLOCK=1:
 *       non-blocking sockets, waiting in poll() (as the Lua server waits).
 *   tcploop client CERTDIR ecdsa|rsa PORT full|resume|idle N
 *       The load, the same for every server: N sequential connections, each
 *       TCP connect, TLS 1.3 handshake (X25519 key share, server verified:
 *       CA + host name localhost, SNI), "GET / HTTP/1.1", read the response
 *       to the server's close_notify, send ours, close. "resume": one full
 *       handshake takes a session (after reading its tickets), then N
 *       connections resume it. "idle": N handshaken connections held open;
 *       prints "ready N" and waits to be killed. Otherwise prints "OK REUSED":
 *       the connections that completed and how many of them resumed.
 *
 * Groups "X25519:P-256" on both sides, as bench/c/refloop.c and the binding's
 * bench contexts. Sessions and tickets at the library defaults.
 */
#define _GNU_SOURCE /* memmem */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

static void die(const char *what) {
    fprintf(stderr, "tcploop: %s (%s)\n", what, strerror(errno));
    exit(1);
}

static char pathbuf[1024];
static const char *path(const char *dir, const char *name) {
    snprintf(pathbuf, sizeof pathbuf, "%s/%s", dir, name);
    return pathbuf;
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static WOLFSSL_CTX *context(int server, const char *dir, int rsa) {
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(server ? wolfSSLv23_server_method() : wolfSSLv23_client_method());
    if (!ctx) die("CTX_new");
    wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
    if (wolfSSL_CTX_set1_curves_list(ctx, "X25519:P-256") != WOLFSSL_SUCCESS) die("groups");
    if (server) {
        if (wolfSSL_CTX_use_certificate_chain_file(ctx, path(dir, rsa ? "rsa-server.pem" : "server.pem")) !=
            WOLFSSL_SUCCESS)
            die("server certificate");
        if (wolfSSL_CTX_use_PrivateKey_file(ctx, path(dir, rsa ? "rsa-server.key" : "server.key"),
                                            WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
            die("server key");
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    } else {
        if (wolfSSL_CTX_load_verify_locations(ctx, path(dir, rsa ? "rsa-ca.pem" : "ca.pem"), NULL) !=
            WOLFSSL_SUCCESS)
            die("client CA");
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
#ifdef HAVE_SESSION_TICKET
        wolfSSL_CTX_UseSessionTicket(ctx);
#endif
    }
    return ctx;
}

/* ---- server ---- */

/* TCPLOOP_NONBLOCK=1: the server's sockets are non-blocking and it waits in
 * poll() whenever wolfSSL wants I/O, as the Lua server does (LuaSocket keeps
 * its sockets non-blocking); 1 when the call should be retried */
static int nonblock;
static int again(WOLFSSL *ssl, int r) {
    struct pollfd p;
    int e = wolfSSL_get_error(ssl, r);
    if (!nonblock || (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)) return 0;
    p.fd = wolfSSL_get_fd(ssl);
    p.events = e == WOLFSSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    return poll(&p, 1, 5000) == 1;
}

static int serve(WOLFSSL_CTX *ctx, int fd, WOLFSSL **keep) {
    char req[4096];
    size_t got = 0;
    int ok = 0;
    WOLFSSL *ssl = wolfSSL_new(ctx);
    if (!ssl) die("wolfSSL_new");
    wolfSSL_set_fd(ssl, fd);
    if (nonblock) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        int r = wolfSSL_accept(ssl);
        if (r == WOLFSSL_SUCCESS) break;
        if (!again(ssl, r)) goto done;
    }
    if (keep) { /* idle: hold the handshaken connection */
        *keep = ssl;
        return 1;
    }
    while (!memmem(req, got, "\r\n\r\n", 4)) {
        int r;
        if (got == sizeof req) goto done;
        do r = wolfSSL_read(ssl, req + got, (int)(sizeof req - got));
        while (r <= 0 && again(ssl, r));
        if (r <= 0) goto done;
        got += (size_t)r;
    }
    {
        int r;
        do r = wolfSSL_write(ssl, RESPONSE, (int)sizeof RESPONSE - 1);
        while (r <= 0 && again(ssl, r));
        if (r != (int)sizeof RESPONSE - 1) goto done;
        /* our close_notify, then the client's (as the Lua server's shutdown()) */
        if (wolfSSL_shutdown(ssl) == WOLFSSL_SHUTDOWN_NOT_DONE) {
            do r = wolfSSL_shutdown(ssl);
            while (r != WOLFSSL_SUCCESS && again(ssl, r));
        }
    }
    ok = 1;
done:
    wolfSSL_free(ssl);
    close(fd);
    return ok;
}

static int run_server(const char *dir, int rsa, const char *portfile, int idle) {
    WOLFSSL_CTX *ctx = context(1, dir, rsa);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    long n = 0, cap = 0;
    WOLFSSL **kept = NULL;
    FILE *f;
    char tmp[1100];
    if (lfd < 0) die("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0) die("bind/listen");
    if (getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) die("getsockname");
    snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
    if (!(f = fopen(tmp, "w"))) die("portfile");
    fprintf(f, "%d\n", ntohs(a.sin_port));
    fclose(f);
    if (rename(tmp, portfile) < 0) die("rename");
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            die("accept");
        }
        nodelay(fd);
        if (idle) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                if (!(kept = (WOLFSSL **)realloc(kept, (size_t)cap * sizeof *kept))) die("realloc");
            }
            if (serve(ctx, fd, &kept[n])) n++;
        } else {
            serve(ctx, fd, NULL);
        }
    }
    return 0;
}

/* ---- client ---- */

static int connect_to(int port) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    nodelay(fd);
    return fd;
}

/* one connection; 1 when it completed; *reused says if it resumed; with
 * hold, it stays open after the handshake (never freed: the process ends) */
static int client_once(WOLFSSL_CTX *ctx, int port, WOLFSSL_SESSION *sess, WOLFSSL_SESSION **take,
                       int hold, int *reused) {
    char buf[4096];
    int fd = connect_to(port), r;
    WOLFSSL *ssl = wolfSSL_new(ctx);
    if (!ssl) die("wolfSSL_new");
    wolfSSL_set_fd(ssl, fd);
#ifdef HAVE_SNI
    wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, "localhost", 9);
#endif
    wolfSSL_check_domain_name(ssl, "localhost");
    if (sess) wolfSSL_set_session(ssl, sess);
    if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "tcploop: handshake failed: %d\n", wolfSSL_get_error(ssl, 0));
        wolfSSL_free(ssl);
        close(fd);
        return 0;
    }
    *reused = wolfSSL_session_reused(ssl);
    if (hold) return 1;
    if (wolfSSL_write(ssl, REQUEST, (int)sizeof REQUEST - 1) != (int)sizeof REQUEST - 1) die("write");
    while ((r = wolfSSL_read(ssl, buf, sizeof buf)) > 0) { /* to the server's close_notify */
    }
    if (take) *take = wolfSSL_get1_session(ssl);
    wolfSSL_shutdown(ssl); /* our close_notify */
    wolfSSL_free(ssl);
    close(fd);
    return 1;
}

static int run_client(const char *dir, int rsa, int port, const char *mode, long n) {
    WOLFSSL_CTX *ctx = context(0, dir, rsa);
    WOLFSSL_SESSION *sess = NULL;
    long i, ok = 0, reused = 0;
    int r;
    if (strcmp(mode, "resume") == 0) {
        if (!client_once(ctx, port, NULL, &sess, 0, &r) || !sess) die("no session");
    } else if (strcmp(mode, "idle") == 0) {
        for (i = 0; i < n; i++)
            if (client_once(ctx, port, NULL, NULL, 1, &r)) ok++;
        printf("ready %ld\n", ok);
        fflush(stdout);
        for (;;) pause(); /* until killed: the kernel closes them all */
    } else if (strcmp(mode, "full") != 0) {
        die("mode: full, resume or idle");
    }
    for (i = 0; i < n; i++) {
        if (client_once(ctx, port, sess, NULL, 0, &r)) ok++;
        reused += r;
    }
    printf("%ld %ld\n", ok, reused);
    if (sess) wolfSSL_SESSION_free(sess);
    wolfSSL_CTX_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    int rsa;
    if (argc < 5) {
        fprintf(stderr, "usage: tcploop server CERTDIR ecdsa|rsa PORTFILE [idle]\n"
                        "       tcploop client CERTDIR ecdsa|rsa PORT full|resume|idle N\n");
        return 2;
    }
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) die("wolfSSL_Init");
    rsa = strcmp(argv[3], "rsa") == 0;
    nonblock = getenv("TCPLOOP_NONBLOCK") && strcmp(getenv("TCPLOOP_NONBLOCK"), "1") == 0;
    if (strcmp(argv[1], "server") == 0)
        return run_server(argv[2], rsa, argv[4], argc > 5 && strcmp(argv[5], "idle") == 0);
    if (strcmp(argv[1], "client") == 0 && argc == 7)
        return run_client(argv[2], rsa, atoi(argv[4]), argv[5], atol(argv[6]));
    fprintf(stderr, "tcploop: bad arguments\n");
    return 2;
}
