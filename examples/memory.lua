-- Memory mode: no socket at all. A client and a server in one process; we
-- carry the bytes between them ourselves (drain -> feed), as a program would
-- over any transport (a cosocket, a message queue, a file...).
--   lua5.4 examples/memory.lua
local wolfssl = require "wolfssl"
local certs = "spec/fixtures/certs/"

local client = assert(wolfssl.context { mode = "client", cafile = certs .. "ca.pem" })
local server = assert(wolfssl.context { mode = "server", certificate = certs .. "server.pem", key = certs .. "server.key" })
local c = client:new { server_name = "localhost" }
local s = server:new()

-- one handshake step: true when done, false when it needs bytes from the peer
local function step(conn)
  local ok, err = conn:handshake()
  if ok then return true end
  if err ~= "wantread" and err ~= "wantwrite" then error("handshake failed: " .. err) end
  return false
end

local c_done, s_done = false, false
while not (c_done and s_done) do
  c_done = step(c)
  s:feed(c:drain())                       -- client -> server bytes
  s_done = step(s)
  c:feed(s:drain())                       -- server -> client bytes
end

print("version:  " .. c:version())
print("cipher:   " .. c:cipher())
print("server:   " .. c:peer_certificate():subject().text)
print("verified: " .. tostring((c:verify_result())))

c:write("hello from the client")
s:feed(c:drain())
print("server read: " .. s:read())
s:write("hello from the server")
c:feed(s:drain())
print("client read: " .. c:read())

-- the clean close: each side's close_notify, carried across like the rest
assert(not c:shutdown())                  -- nil, "wantread": sent, the server's awaited
s:feed(c:drain())
assert(s:shutdown())                      -- the client's came: ours goes, done
c:feed(s:drain())
assert(c:shutdown())                      -- both ways closed: no byte lost
c:close(); s:close()
