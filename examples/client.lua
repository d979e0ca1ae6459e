-- A TLS client over a LuaSocket socket (fd mode).
--   lua5.4 examples/client.lua [host] [port]      (CAFILE=... to trust another CA)
local socket = require "socket"
local wolfssl = require "wolfssl"
local host, port = arg[1] or "localhost", tonumber(arg[2]) or 8443

local ctx = assert(wolfssl.context { mode = "client", cafile = os.getenv("CAFILE") or "spec/fixtures/certs/ca.pem" })
local sock = assert(socket.connect(host, port))
local conn = ctx:new { fd = sock, server_name = host }

-- LuaSocket sockets never block: wait whenever TLS wants the network
local function await(method, ...)
  while true do
    local res, err = conn[method](conn, ...)
    if res then return res end
    if err == "wantread" then socket.select({ sock }, nil, 10)
    elseif err == "wantwrite" then socket.select(nil, { sock }, 10)
    else return nil, err end
  end
end

assert(await("handshake"))
print(("connected: %s %s, server %s"):format(conn:version(), conn:cipher(), conn:peer_certificate():subject().text))
assert(await("write", "hello over TLS\n"))
print("server says: " .. assert(await("read")))
-- the clean close: our close_notify, then the server's; only then the socket
-- (closing it earlier with bytes unread would reset the connection)
await("shutdown")
conn:close()
sock:close()
