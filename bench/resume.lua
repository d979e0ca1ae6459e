--- Full vs resumed handshakes per second, client and server in one process
-- (memory mode: no sockets, both sides' CPU counted); TLS 1.3 also with a
-- request sent as early data (0-RTT) in each resumption.
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/system/lua5.4/?.so;;" lua5.4 bench/resume.lua
-- BENCH_SECS (default 2) seconds per row; BENCH_CERTS the fixtures directory.
local wolfssl = require "wolfssl"
local socket_ok, socket = pcall(require, "socket")
local clock = socket_ok and socket.gettime or os.clock

local SECS = tonumber(os.getenv("BENCH_SECS")) or 2
local CERTS = (os.getenv("BENCH_CERTS") or "spec/fixtures/certs") .. "/"

local function handshake(c, s)
  for _ = 1, 50 do
    local cok, cerr = c:handshake()
    if not cok and cerr ~= "wantread" and cerr ~= "wantwrite" then error("client: " .. cerr) end
    s:feed(c:drain())
    local sok, serr = s:handshake()
    if not sok and serr ~= "wantread" and serr ~= "wantwrite" then error("server: " .. serr) end
    c:feed(s:drain())
    if cok and sok then return end
  end
  error("handshake did not finish")
end

local function contexts(ver, tickets, early)
  local sctx = assert(wolfssl.context{ mode = "server", certificate = CERTS .. "server.pem",
    key = CERTS .. "server.key", min_version = ver, max_version = ver, session_tickets = tickets,
    max_early_data = early and 1024 or nil })
  local cctx = assert(wolfssl.context{ mode = "client", cafile = CERTS .. "ca.pem",
    min_version = ver, max_version = ver, session_tickets = tickets })
  return cctx, sctx
end

-- early: a request sent as TLS 1.3 early data (0-RTT) with each resumption
local REQUEST = "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n"
local function rate(cctx, sctx, sess, early)
  local n, t0 = 0, clock()
  local deadline = t0 + SECS
  repeat
    local c = cctx:new{ server_name = "localhost", session = sess }
    local s = sctx:new{}
    if early then assert(c:write_early(REQUEST)) end
    handshake(c, s)
    if sess and not c:session_reused() then error("not resumed") end
    if early and (s:early_data() ~= "accepted" or s:read() ~= REQUEST) then error("early data not accepted") end
    c:close(); s:close()
    n = n + 1
  until clock() >= deadline
  return n / (clock() - t0)
end

local function session_of(cctx, sctx)
  local c, s = cctx:new{ server_name = "localhost" }, sctx:new{}
  handshake(c, s)
  c:read() -- TLS 1.3: process the ticket
  return assert(c:session())
end

print(("lua-wolfssl %s, wolfSSL %s (%s build), %s, %gs per row"):format(wolfssl.VERSION,
  wolfssl.WOLFSSL_VERSION, wolfssl.features.build, _VERSION, SECS))
print(("%-8s %-22s %12s %12s %8s"):format("version", "resumption", "full/s", "resumed/s", "ratio"))
for _, row in ipairs {
  { "tls1.3", "ticket", true },
  { "tls1.3", "ticket + 0-RTT request", true, true },
  { "tls1.2", "ticket", true },
  { "tls1.2", "session id", false },
} do
  if row[4] and not wolfssl.features.early_data then
    print(("%-8s %-22s %s"):format(row[1], row[2], "(no early data in this build)"))
  else
    local cctx, sctx = contexts(row[1], row[3], row[4])
    local full = rate(cctx, sctx)
    local resumed = rate(cctx, sctx, session_of(cctx, sctx), row[4])
    print(("%-8s %-22s %12.0f %12.0f %7.1fx"):format(row[1], row[2], full, resumed, resumed / full))
  end
end
