-- wolfssl.session.import, every method, then the session in use: offered by
-- clients (ctx:new{session=}, conn:set_session) to a server of the same
-- configuration, and handed to a server by its session_store (the path a
-- poisoned shared store takes).
local C = require "drivers.common"
local wolfssl = require "wolfssl"
local session = require "wolfssl.session"

-- Exported sessions carry a MAC under the session key, checked before
-- anything else: the input is sealed under C.SESSION_KEY first (C.seal: most
-- inputs get a valid MAC, an eighth go unsealed), so mutations reach the
-- layout checks, wolfSSL's parser and the handshakes below.
session.set_key(C.SESSION_KEY)

local STORED -- what the store's get returns: the input under test

local store_server = assert(wolfssl.context{
  mode = "server", certificate = C.cert("server.pem"), key = C.cert("server.key"),
  max_version = "tls1.2", session_tickets = false,
  session_store = { get = function() return STORED end, put = function() end },
})

-- a TLS 1.2 ClientHello offering a session id that store_server looks up
local HELLO = (function()
  local cctx = assert(wolfssl.context{ mode = "client", cafile = C.cert("ca.pem"),
                                       max_version = "tls1.2", session_tickets = false })
  local c, s = cctx:new{ server_name = "localhost" }, store_server:new{}
  for _ = 1, 10 do
    c:handshake(); s:feed(c:drain())
    s:handshake(); c:feed(s:drain())
  end
  local sess = assert(c:session())
  c:close(); s:close()
  local c2 = cctx:new{ server_name = "localhost", session = sess }
  c2:handshake()
  local hello = c2:drain()
  c2:close()
  return hello
end)()

local function inspect(s)
  tostring(s)
  for _, m in ipairs({ "export", "id", "has_ticket", "resumable", "timeout", "time",
                       "version", "cipher" }) do
    C.try(s, m)
  end
  session.ticket_rejected(s, -373)
end

-- offer s from a client of pair i; the server of the pair reads the hello
local function offer(s, i, how)
  local conn
  if how == "new" then
    local ok, c = pcall(C.context("client", i).new, C.context("client", i),
                        { server_name = "localhost", session = s })
    if not ok then return end
    conn = c
  else
    conn = C.context("client", i):new{ server_name = "localhost" }
    conn:set_session(s)
  end
  local out = {}
  C.step(conn, function(b) out[#out + 1] = b end)
  conn:close()
  local srv = C.context("server", i):new{}
  srv:feed(table.concat(out))
  C.step(srv)
  srv:close()
end

return function(input)
  local bytes = C.seal(input)
  local s = session.import(bytes)
  if s then
    inspect(s)
    offer(s, 1, "new")   -- TLS 1.3
    offer(s, 2, "set")   -- TLS 1.2
    local again = s:export() and session.import(s:export())
    if again then inspect(again) end
  end
  STORED = bytes
  local srv = store_server:new{}
  srv:feed(HELLO)
  C.step(srv)
  srv:close()
  STORED = nil
end
