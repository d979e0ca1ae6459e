-- Load for examples/coroutine-server.lua (spec/45): one TLS client, then N
-- plain TCP connections kept open (the server parks each in its handshake),
-- then the TLS client asks "count" and "ping". Prints the two answers, one a
-- line. Run with a descriptor limit above N. (The TLS client is made first:
-- wolfssl.socket waits with select() when it blocks, so its own descriptor
-- must stay below 1024.)
--   lua many-clients.lua port N
local socket = require "socket"
local ssl = require "wolfssl.socket"

local port, n = tonumber(arg[1]), tonumber(arg[2])
local ctx = assert(ssl.newcontext { mode = "client", protocol = "any", verify = "peer",
                                    cafile = "spec/fixtures/certs/ca.pem" })
local tcp = socket.tcp()
tcp:settimeout(10)
assert(tcp:connect("127.0.0.1", port))
local s = assert(ssl.wrap(tcp, ctx))
s:sni("localhost")
s:settimeout(10)
assert(s:dohandshake())
local idle = {}
for i = 1, n do
  local c = socket.tcp()
  c:settimeout(5)
  local ok, err = c:connect("127.0.0.1", port)
  if not ok then
    print(("connect %d: %s"):format(i, tostring(err)))
    os.exit(1)
  end
  idle[i] = c
end

for _, line in ipairs { "count", "ping" } do
  assert(s:send(line .. "\n"))
  print((assert(s:receive("*l"))))
end
s:close()
for _, t in ipairs(idle) do t:close() end
