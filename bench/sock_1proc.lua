-- One process, loopback TCP: a non-blocking client and server stepped in one
-- loop (no threads, no waiting on the kernel scheduler between processes).
-- IMPL: "luasec" or "wolfssl" (fd mode): the same transport for both.
--   lua sock_1proc.lua IMPL CERTDIR hs KIND SECONDS     -> handshakes/s
--   lua sock_1proc.lua IMPL CERTDIR bulk CIPHER SECONDS -> MB/s
--   lua sock_1proc.lua IMPL CERTDIR idle NPAIRS         -> RSS KiB per 1000 connections
local socket = require "socket"
local impl = require "impl"
local common = require "common"

local name, certdir, mode, arg1, arg2 = ...
local suite = mode == "bulk" and impl.SUITES[arg1] or nil
local kind = mode == "hs" and arg1 or "tls13-ecdsa"
local now = common.now

-- raw, non-blocking TLS objects (no waiting wrappers)
local function raw_pair(srv, port)
  local csock = assert(socket.tcp())
  csock:settimeout(0)
  csock:connect("127.0.0.1", port) -- in progress
  local ssock = assert(srv:accept())
  csock:settimeout(nil)
  assert(csock:connect("127.0.0.1", port) or true)
  csock:setoption("tcp-nodelay", true); ssock:setoption("tcp-nodelay", true)
  csock:settimeout(0); ssock:settimeout(0)
  return csock, ssock
end

local stack = impl.new(name, certdir, kind, suite)

local function pair(srv, port)
  local csock, ssock = raw_pair(srv, port)
  local c, s = stack.client(csock, true), stack.server(ssock, true)
  local cdone, sdone
  for _ = 1, 1000 do
    if not cdone then
      local ok, err = c.handshake()
      if ok then cdone = true elseif err ~= "wantread" then error("client: " .. tostring(err)) end
    end
    if not sdone then
      local ok, err = s.handshake()
      if ok then sdone = true elseif err ~= "wantread" then error("server: " .. tostring(err)) end
    end
    if cdone and sdone then return c, s end
  end
  error("handshake did not finish")
end

local srv = assert(socket.bind("127.0.0.1", 0, 1024))
srv:settimeout(1)
local _, port = srv:getsockname()

if mode == "hs" then
  local n, t0, t, go = 0, now(), nil, true
  while go do
    local c, s = pair(srv, port)
    c.close(); s.close()
    n = n + 1
    go, t = common.more(n, t0, tonumber(arg2))
  end
  print(("%.1f"):format(n / (t - t0)))
elseif mode == "bulk" then
  local c, s = pair(srv, port)
  local data = ("x"):rep(16384)
  local sent, got, t0, t = 0, 0, now()
  repeat
    for _ = 1, 16 do
      local i = 1
      while i <= #data do -- non-blocking: partial sends, drain the other side meanwhile
        if name == "luasec" then
          local n, err, last = c.conn:send(data, i)
          n = n or last
          if n and n >= i then i = n + 1 end
        else
          local n = c.conn:write(data, i)
          if n then i = i + n end
        end
        while true do
          local d = s.recv()
          if not d then break end
          got = got + #d
        end
      end
      sent = sent + #data
    end
    t = now()
  until t - t0 >= tonumber(arg2)
  while got < sent do
    local d = s.recv()
    if d then got = got + #d end
  end
  t = now()
  print(("%.1f"):format(got / 1e6 / (t - t0)))
elseif mode == "idle" then
  local n = tonumber(arg1)
  local keep = {}
  collectgarbage("collect")
  local r0 = common.rss_kib()
  for i = 1, n do keep[i] = { pair(srv, port) } end
  collectgarbage("collect")
  print(("%.0f"):format((common.rss_kib() - r0) * 1000 / (2 * n)))
end
