-- Client half of the two-process loopback benchmarks (blocking sockets).
--   lua tcp_client.lua IMPL CERTDIR PORT hs KIND SECONDS     -> handshakes/s
--   lua tcp_client.lua IMPL CERTDIR PORT bulk CIPHER SECONDS -> MB/s (16 KiB writes)
--   lua tcp_client.lua IMPL CERTDIR PORT idle N              -> "heap_bytes rss_kib" deltas
--     for N idle connections on this side (the server prints its own)
local socket = require "socket"
local impl = require "impl"
local common = require "common"

local name, certdir, port, mode, arg1, arg2 = ...
port = tonumber(port)
local suite = mode == "bulk" and impl.SUITES[arg1] or nil
local tls = impl.new(name, certdir, mode == "hs" and arg1 or "tls13-ecdsa", suite)
local now = common.wall

local function connect()
  local sock = assert(socket.tcp())
  assert(sock:connect("127.0.0.1", port))
  sock:setoption("tcp-nodelay", true)
  local c = tls.client(sock)
  local ok, err = c.handshake()
  if not ok then error("handshake: " .. tostring(err)) end
  return c
end

if mode == "hs" then
  local n, t0, t = 0, now()
  repeat
    connect().close()
    n = n + 1
    t = now()
  until t - t0 >= tonumber(arg2)
  print(("%.1f"):format(n / (t - t0)))
elseif mode == "bulk" then
  local c = connect()
  local data = ("x"):rep(16384)
  local bytes, t0 = 0, now()
  repeat
    for _ = 1, 16 do
      assert(c.send(data))
      bytes = bytes + #data
    end
  until now() - t0 >= tonumber(arg2)
  assert(c.send(("x"):rep(16383) .. "!")) -- a whole record: LuaSec's receive(16384) blocks for 16 KiB
  assert(c.recv(1) == "k")
  print(("%.1f"):format(bytes / 1e6 / (now() - t0)))
  c.close()
elseif mode == "idle" then
  local heap = (name == "wolfssl") and require("wolfssl.core").heap_bytes or function() return 0 end
  local n = tonumber(arg1)
  local keep = {}
  collectgarbage("collect")
  local h0, r0 = heap(), common.rss_kib()
  for i = 1, n do keep[i] = connect() end
  collectgarbage("collect")
  print(("%.0f %.0f"):format(heap() - h0, common.rss_kib() - r0))
  for _, c in ipairs(keep) do c.close() end
end
