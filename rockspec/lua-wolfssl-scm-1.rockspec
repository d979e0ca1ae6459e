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
HTTPS (wolfssl.https) and OpenResty cosocket (wolfssl.resty) layers.

Builds the tuned wolfSSL (assembly, post-quantum key exchange) from source
where it can; `luarocks make WOLFSSL_DIR=/prefix` links the wolfSSL installed
there instead; without either it falls back to the system's libwolfssl (slower,
fewer features) and says so.]],
  homepage = "https://github.com/lua-wolfssl/lua-wolfssl",
  license = "GPL-3.0-or-later",
  labels = { "tls", "ssl", "crypto", "wolfssl" },
}
dependencies = {
  "lua >= 5.1",
  "luasocket", -- wolfssl.socket, wolfssl.https and the fd-mode examples
}
build = {
  -- build-aux/rock.sh chooses the wolfSSL: WOLFSSL_DIR, else the tuned build, else the system's
  type = "make",
  makefile = "Makefile",
  build_target = "rock",
  build_variables = {
    LUA = "$(LUA)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LIBFLAG = "$(LIBFLAG)",
    CFLAGS = "$(CFLAGS)",
    WOLFSSL_DIR = "$(WOLFSSL_DIR)",
    BUILD = "build-rock",
    PREFIX = "$(PREFIX)",
  },
  install_target = "rock-install",
  install_variables = {
    LUA = "$(LUA)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LIBFLAG = "$(LIBFLAG)",
    CFLAGS = "$(CFLAGS)",
    BUILD = "build-rock",
    PREFIX = "$(PREFIX)",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    BINDIR = "$(BINDIR)",
  },
}
