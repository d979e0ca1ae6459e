-- A TLS echo server over LuaSocket (fd mode), one client at a time.
--   lua5.4 examples/server.lua [port] [max_clients]   (CERT=..., KEY=... for another certificate)
local socket = require "socket"
local wolfssl = require "wolfssl"
local port, max = tonumber(arg[1]) or 8443, tonumber(arg[2]) or math.huge

local ctx = assert(wolfssl.context { mode = "server",
  certificate = os.getenv("CERT") or "spec/fixtures/certs/server.pem",
  key = os.getenv("KEY") or "spec/fixtures/certs/server.key" })
local listener = assert(socket.bind("127.0.0.1", port))
print("listening on 127.0.0.1:" .. port)
io.stdout:flush()

local served = 0
while served < max do
  local sock = assert(listener:accept())
  local conn = ctx:new { fd = sock }
  local function await(method, ...) -- wait whenever TLS wants the network
    for _ = 1, 100 do
      local res, err = conn[method](conn, ...)
      if res then return res end
      if err == "wantread" then socket.select({ sock }, nil, 1)
      elseif err == "wantwrite" then socket.select(nil, { sock }, 1)
      else return nil, err end
    end
    return nil, "timeout"
  end
  local ok, err = await("handshake")
  local line = ok and await("read")
  if line then
    await("write", "echo: " .. line)
    await("shutdown") -- the clean close: our close_notify, then the client's
  else
    io.stderr:write("client failed: ", tostring(err), "\n")
  end
  conn:close()
  sock:close()
  served = served + 1
end
