-- Mutual TLS: the server asks for a client certificate and checks it.
--   lua5.4 examples/mtls.lua           (from the repository root)
--
-- Server `verify`: "none" (default: do not ask), "peer" (ask; a client
-- without a certificate is accepted, one with a bad certificate is not),
-- "require" (ask, and fail without one). `cafile`/`cadata` say which CAs
-- issue client certificates; `crl` adds revocation checking.
local wolfssl = require "wolfssl"
local certs = "spec/fixtures/certs/"

local function handshake(cctx, sctx)
  local c, s = cctx:new { server_name = "localhost" }, sctx:new()
  for _ = 1, 20 do
    local cok, cerr = c:handshake()
    if not cok and cerr ~= "wantread" then return nil, "client: " .. cerr end
    s:feed(c:drain())
    local sok, serr = s:handshake()
    c:feed(s:drain())
    if not sok and serr ~= "wantread" then return nil, "server: " .. serr end
    if cok and sok then return c, s end
  end
end

local server = assert(wolfssl.context { mode = "server",
  certificate = certs .. "server.pem", key = certs .. "server.key",
  verify = "require", cafile = certs .. "ca.pem" })

-- a client with a certificate (and its intermediate: client-chain.pem holds both)
local client = assert(wolfssl.context { mode = "client", cafile = certs .. "ca.pem",
  certificate = certs .. "client-chain.pem", key = certs .. "client-chain.key" })
local c, s = assert(handshake(client, server))
print("client certificate:    ", s:peer_certificate():subject().text)
for i, cert in ipairs(s:peer_chain()) do print(("  chain[%d]: %s"):format(i, cert:subject().text)) end
print("server verified it:    ", (s:verify_result()))

-- a client without one, and one with a revoked certificate
local anonymous = assert(wolfssl.context { mode = "client", cafile = certs .. "ca.pem" })
print("no certificate:        ", select(2, handshake(anonymous, server)))
local revoked = assert(wolfssl.context { mode = "client", cafile = certs .. "ca.pem",
  certificate = certs .. "revoked-client.pem", key = certs .. "revoked-client.key" })
local with_crl = assert(wolfssl.context { mode = "server",
  certificate = certs .. "server.pem", key = certs .. "server.key",
  verify = "require", cafile = certs .. "ca.pem", crl = certs .. "crl.pem" })
print("revoked certificate:   ", select(2, handshake(revoked, with_crl)))
