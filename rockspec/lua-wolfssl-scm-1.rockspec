rockspec_format = "3.0"
package = "lua-wolfssl"
version = "scm-1"
source = {
  url = "git+https://github.com/lua-wolfssl/lua-wolfssl.git",
}
description = {
  summary = "The whole TLS handshake of wolfSSL for Lua",
  detailed = [[
Contexts, connections, sessions and certificates as Lua objects over wolfSSL:
every handshake step visible, every decision point (verification, server name,
ALPN, PSK, session storage, ticket keys) open to a Lua callback. Works over any
socket or in memory (sans-IO), with LuaSec-compatible (wolfssl.socket),
HTTPS (wolfssl.https) and OpenResty cosocket (wolfssl.resty) layers.]],
  homepage = "https://github.com/lua-wolfssl/lua-wolfssl",
  license = "GPL-3.0-or-later",
  labels = { "tls", "ssl", "crypto", "wolfssl" },
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  WOLFSSL = {
    header = "wolfssl/ssl.h",
    library = "wolfssl",
  },
}
build = {
  type = "make",
  makefile = "Makefile",
  build_target = "all",
  build_variables = {
    LUA = "$(LUA)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LIBFLAG = "$(LIBFLAG)",
    CFLAGS = "$(CFLAGS)",
    WOLFSSL = "system",
    WOLFSSL_INCDIR = "$(WOLFSSL_INCDIR)",
    WOLFSSL_LIBDIR = "$(WOLFSSL_LIBDIR)",
    BUILD = "build-rock",
  },
  install_target = "install",
  install_variables = {
    LUA = "$(LUA)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LIBFLAG = "$(LIBFLAG)",
    CFLAGS = "$(CFLAGS)",
    WOLFSSL = "system",
    WOLFSSL_INCDIR = "$(WOLFSSL_INCDIR)",
    WOLFSSL_LIBDIR = "$(WOLFSSL_LIBDIR)",
    BUILD = "build-rock",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    BINDIR = "$(BINDIR)",
  },
}
