-- TLS 1.3 early data (0-RTT) in memory mode: a client resumes a session whose
-- ticket allows early data and sends its request along with its ClientHello;
-- the server reads it before its handshake is done.
--   lua examples/early-data.lua   (from the repository root)
-- Early data can be replayed by whoever records it: idempotent requests only
-- (README "Early data").
local wolfssl = require "wolfssl"
if not wolfssl.features.early_data then
  io.stderr:write("early data is not supported by this wolfSSL build (wolfssl.features.early_data is false)\n")
  os.exit(1)
end
local certs = "spec/fixtures/certs/"
local sctx = assert(wolfssl.context{ mode = "server", certificate = certs .. "server.pem",
                                     key = certs .. "server.key", max_early_data = 4096 })
local cctx = assert(wolfssl.context{ mode = "client", cafile = certs .. "ca.pem" })

-- memory mode: move bytes between the two until both handshakes are done
local function pump(c, s)
  for _ = 1, 10 do
    s:feed(c:drain())
    local sdone = s:handshake()
    c:feed(s:drain())
    if c:handshake() and sdone then return end
  end
end

-- a first connection leaves a session whose ticket allows early data
local c, s = cctx:new{ server_name = "localhost" }, sctx:new{}
pump(c, s)
s:write("hi")
c:feed(s:drain())
c:read() -- the ticket comes with the server's first data
local sess = c:session()

-- resuming it, the client sends its request along with its ClientHello
c, s = cctx:new{ server_name = "localhost", session = sess }, sctx:new{}
c:write_early("GET /status")
s:feed(c:drain())
print(s:read_early())                   --> GET /status
pump(c, s)
print(c:early_data(), s:early_data())   --> accepted accepted
