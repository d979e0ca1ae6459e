-- A DTLS client with a pre-shared key, over a connected UDP socket (fd mode):
-- while a call waits (settimeout), wolfSSL resends lost flights on its own.
--
--   lua5.4 examples/dtls-psk-client.lua [port [message ...]]
--
-- Sends each message in a datagram of its own and prints the server's reply.
local wolfssl = require "wolfssl"
local socket = require "socket"

local port = tonumber(arg[1]) or 5684
local messages = { select(2, ...) }
if #messages == 0 then messages = { "hello" } end

local ctx = assert(wolfssl.context {
  mode = "client", dtls = true, verify = "none", -- (PSK: no certificates)
  psk = { identity = "device1", key = "secret for device" },
})
local udp = assert(socket.udp())
assert(udp:setpeername("127.0.0.1", port))
local conn = ctx:new { fd = udp, timeout = 5 }
local ok, err = conn:handshake()
if not ok then
  io.stderr:write("handshake failed: ", tostring(err), "\n")
  os.exit(1)
end
print(conn:version() .. " " .. conn:cipher())
for _, m in ipairs(messages) do
  assert(conn:write(m))
  local reply, rerr = conn:read()
  print(reply or ("no reply: " .. tostring(rerr)))
end
conn:shutdown("write") -- close_notify: the server forgets us
conn:close()
udp:close()
