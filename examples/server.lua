-- A TLS echo server over LuaSocket (fd mode), one client at a time, each call
-- bounded by a timeout.
--   lua5.4 examples/server.lua [port] [max_clients]   (CERT=..., KEY=... for another certificate,
--                                                      TIMEOUT=seconds per call, default 10)
local socket = require "socket"
local wolfssl = require "wolfssl"
local port, max = tonumber(arg[1]) or 8443, tonumber(arg[2]) or math.huge
local timeout = tonumber(os.getenv("TIMEOUT")) or 10

local ctx = assert(wolfssl.context { mode = "server",
  certificate = os.getenv("CERT") or "spec/fixtures/certs/server.pem",
  key = os.getenv("KEY") or "spec/fixtures/certs/server.key" })
local listener = assert(socket.bind("127.0.0.1", port))
print("listening on 127.0.0.1:" .. port)
io.stdout:flush()

local served = 0
while served < max do
  local sock = assert(listener:accept())
  -- each call waits up to `timeout` seconds (poll): a client that stalls or
  -- never finishes its handshake holds the server no longer; one that sends
  -- garbage or resets fails its handshake with a message, and the next is served
  local conn = ctx:new { fd = sock, timeout = timeout }
  local ok, err = conn:handshake()
  local line
  if ok then line, err = conn:read() end
  if line then
    conn:write("echo: " .. line)
    conn:shutdown() -- the clean close: our close_notify, then the client's
  else
    io.stderr:write("client failed: ", tostring(err), "\n")
  end
  conn:close()
  sock:close()
  served = served + 1
end
