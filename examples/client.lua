-- A TLS client over a socket (fd mode), blocking: wolfssl.connect makes the
-- TCP connection (LuaSocket) and runs a verifying handshake; each call then
-- waits up to `timeout` seconds for the network.
--   lua5.4 examples/client.lua [host] [port]      (CAFILE=... to trust another CA)
local wolfssl = require "wolfssl"
local host, port = arg[1] or "localhost", tonumber(arg[2]) or 8443

local conn = assert(wolfssl.connect(host, port,
  { cafile = os.getenv("CAFILE") or "spec/fixtures/certs/ca.pem", timeout = 10 }))
print(("connected: %s %s, server %s"):format(conn:version(), conn:cipher(), conn:peer_certificate():subject().text))
assert(conn:write("hello over TLS\n"))
print("server says: " .. assert(conn:read()))
conn:shutdown() -- the clean close: our close_notify, then the server's
conn:close()    -- closes the socket too
