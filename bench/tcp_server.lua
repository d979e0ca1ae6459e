-- Server half of the two-process loopback benchmarks (blocking sockets).
--   lua tcp_server.lua IMPL CERTDIR PORTFILE hs KIND      accept, handshake, close; forever
--   lua tcp_server.lua IMPL CERTDIR PORTFILE bulk CIPHER  read until "!", answer "k"; forever
--   lua tcp_server.lua IMPL CERTDIR PORTFILE idle N       keep N handshaken connections, print
--                                                         "heap_bytes rss_kib" deltas, then hold
-- Writes the port it listens on to PORTFILE. The driver kills it.
local socket = require "socket"
local impl = require "impl"
local common = require "common"

local name, certdir, portfile, mode, arg1 = ...
local suite = mode == "bulk" and impl.SUITES[arg1] or nil
local tls = impl.new(name, certdir, mode == "hs" and arg1 or "tls13-ecdsa", suite)
local srv = assert(socket.bind("127.0.0.1", 0, 1024))
local _, port = srv:getsockname()
local f = assert(io.open(portfile .. ".tmp", "w")); f:write(port, "\n"); f:close()
os.rename(portfile .. ".tmp", portfile)

local heap = (name == "wolfssl") and require("wolfssl.core").heap_bytes or function() return 0 end

if mode == "idle" then
  local n = tonumber(arg1)
  local keep = {}
  collectgarbage("collect")
  local h0, r0 = heap(), common.rss_kib()
  for i = 1, n do
    local sock = assert(srv:accept())
    sock:setoption("tcp-nodelay", true)
    local c = tls.server(sock)
    assert(c.handshake())
    keep[i] = c
  end
  collectgarbage("collect")
  io.write(("%.0f %.0f\n"):format(heap() - h0, common.rss_kib() - r0)); io.flush()
  while true do socket.sleep(1) end
end

while true do
  local sock = srv:accept()
  if sock then
    sock:setoption("tcp-nodelay", true)
    local c = tls.server(sock)
    if c.handshake() and mode == "bulk" then
      while true do
        local data = c.recv()
        if not data then break end
        if data:find("!", 1, true) then c.send("k") break end
      end
    end
    c.close()
  end
end
