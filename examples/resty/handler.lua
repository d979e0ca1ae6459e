-- examples/resty/handler.lua: fetch a page from a TLS upstream inside nginx.
-- Verification, SNI and hostname check, ALPN, an optional client certificate,
-- a pinned server certificate (on_verify) and session resumption across requests.
local resty = require "wolfssl.resty"
local wolfssl = require "wolfssl"

local ROOT = os.getenv("WOLFSSL_ROOT") or "."
local CERTS = ROOT .. "/spec/fixtures/certs/"
local UPSTREAM = { host = "127.0.0.1", port = tonumber(os.getenv("WOLFSSL_UPSTREAM_PORT")) or 8443,
                   name = "localhost" }

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Pin the upstream's certificate by its SHA-256 (here: the test server's).
local pem = read(CERTS .. "server.pem")
local PIN = pem and wolfssl.x509.load(pem):digest("sha256")

-- One context per worker, made on first use and reused by every request.
local ctx
local function context()
  if ctx then return ctx end
  local err
  ctx, err = wolfssl.context{
    mode = "client",
    cafile = CERTS .. "ca.pem",
    alpn = { "http/1.1" },
    certificate = read(CERTS .. "client.pem"), -- PEM strings loaded from Lua
    key = read(CERTS .. "client.key"),
    on_verify = function(conn, ok, info)
      if info.depth == 0 and PIN then return ok and info.cert:digest("sha256") == PIN end
      return ok
    end,
  }
  if not ctx then ngx.log(ngx.ERR, "context: ", err) end
  return ctx
end

local M = {}

function M.fetch()
  local c = context()
  if not c then return ngx.exit(500) end
  local sock = ngx.socket.tcp()
  sock:settimeout(5000)
  local ok, err = sock:connect(UPSTREAM.host, UPSTREAM.port)
  if not ok then ngx.status = 502 ngx.say("connect: ", err) return end
  -- the session of the previous request to this name is resumed automatically
  local tls = resty.wrap(sock, c, { server_name = UPSTREAM.name })
  ok, err = tls:handshake()
  if not ok then ngx.status = 502 ngx.say("TLS: ", err) return tls:close() end
  local conn = tls:connection()
  ngx.say(conn:version(), " ", conn:cipher(), " alpn=", tostring(conn:alpn()),
          " resumed=", tostring(conn:session_reused()))
  tls:send("GET / HTTP/1.0\r\nHost: " .. UPSTREAM.name .. "\r\n\r\n")
  local status = tls:receive("*l")
  ngx.say("upstream said: ", tostring(status))
  tls:setkeepalive() -- keeps the session for the next request
end

return M
