-- The two TLS stacks behind one small interface, for the socket benchmarks:
-- impl.new(name, certdir, kind, suite) -> { server(sock), client(sock) } where
-- each returns an object with handshake() -> true | nil, err; send(s);
-- recv([n]) -> data | nil, err; close(). Sockets are LuaSocket tcp objects.
-- name: "wolfssl" (lua-wolfssl, fd mode) or "luasec" (Debian's lua-sec, OpenSSL).
local common = require "common"
local socket = require "socket"
local M = {}

local OSSL_SUITES = { ["TLS13-AES128-GCM-SHA256"] = "TLS_AES_128_GCM_SHA256",
  ["TLS13-CHACHA20-POLY1305-SHA256"] = "TLS_CHACHA20_POLY1305_SHA256" }

local function wolf(certdir, kind, suite)
  local cctx, sctx = common.wolfssl_contexts(certdir, kind, suite)
  -- LuaSocket keeps its descriptors non-blocking: wait for the socket when
  -- wolfSSL wants I/O (as a blocking LuaSec socket does inside C)
  local function blocking(sock, f)
    return function(...)
      while true do
        local r, err, code = f(...)
        if r then return r end
        if err == "wantread" then socket.select({ sock }, nil)
        elseif err == "wantwrite" then socket.select(nil, { sock })
        else return nil, err, code end
      end
    end
  end
  local function wrap(conn, sock, nonblocking)
    local wait = nonblocking and function(_, f) return f end or blocking
    return {
      conn = conn, sock = sock,
      handshake = wait(sock, function() return conn:handshake() end),
      send = wait(sock, function(s) return conn:write(s) end),
      recv = wait(sock, function(n) return conn:read(n) end),
      close = function() conn:close(); sock:close() end,
    }
  end
  return {
    server = function(sock, nb) return wrap(sctx:new { fd = sock:getfd() }, sock, nb) end,
    client = function(sock, nb) return wrap(cctx:new { fd = sock:getfd(), server_name = "localhost" }, sock, nb) end,
  }
end

local function luasec(certdir, kind, suite)
  local ssl = require "ssl"
  local k = common.KINDS[kind]
  local sctx = assert(ssl.newcontext {
    mode = "server", protocol = "any", certificate = certdir .. "/" .. k.cert,
    key = certdir .. "/" .. k.key, curveslist = common.groups(kind), options = { "all" },
    ciphersuites = suite and OSSL_SUITES[suite] or nil,
  })
  local cctx = assert(ssl.newcontext {
    mode = "client", protocol = k.tls12 and "tlsv1_2" or "any", verify = "peer",
    cafile = certdir .. "/" .. k.ca, curveslist = common.groups(kind), options = { "all" },
    ciphers = k.tls12 and "ECDHE-ECDSA-AES128-GCM-SHA256" or nil,
    ciphersuites = suite and OSSL_SUITES[suite] or nil,
  })
  local function wrap(ctx, sock, client, nonblocking)
    local conn = assert(ssl.wrap(sock, ctx))
    if nonblocking then conn:settimeout(0) end
    if client then conn:sni("localhost") end
    return {
      conn = conn, sock = sock,
      handshake = function()
        local ok, err = conn:dohandshake()
        if ok then return true end
        if err == "wantread" or err == "wantwrite" or err == "timeout" then return nil, "wantread" end
        return nil, err
      end,
      send = function(s) return conn:send(s) end,
      recv = function(n)
        local data, err, partial = conn:receive(n or 16384)
        if data then return data end
        if partial and #partial > 0 then return partial end
        return nil, err
      end,
      close = function() conn:close() end,
    }
  end
  return {
    server = function(sock, nb) return wrap(sctx, sock, false, nb) end,
    client = function(sock, nb) return wrap(cctx, sock, true, nb) end,
  }
end

function M.new(name, certdir, kind, suite)
  if name == "wolfssl" then return wolf(certdir, kind, suite) end
  if name == "luasec" then return luasec(certdir, kind, suite) end
  error("unknown implementation " .. tostring(name))
end

M.SUITES = { aesgcm = "TLS13-AES128-GCM-SHA256", chacha = "TLS13-CHACHA20-POLY1305-SHA256" }

return M
