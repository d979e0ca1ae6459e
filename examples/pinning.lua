-- Certificate pinning with on_verify, and trusting a private CA by fingerprint.
--   lua5.4 examples/pinning.lua        (from the repository root)
--
-- on_verify(conn, ok, info) runs for every certificate the peer sent, the
-- issuers first and the leaf (depth 0) last, on success too. Return true to
-- accept that certificate, false to fail the handshake. info = {depth=,
-- error= (0 or an X509_V_ERR code), reason=, cert= (a wolfssl.x509)}.
local wolfssl = require "wolfssl"
local certs = "spec/fixtures/certs/"

local function read(name)
  local f = assert(io.open(certs .. name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- in memory: a client and a server in one process, bytes moved by hand
local function handshake(cctx, sctx)
  local c, s = cctx:new { server_name = "localhost" }, sctx:new()
  for _ = 1, 20 do
    local cok, cerr = c:handshake()
    if not cok and cerr ~= "wantread" then return nil, cerr end
    s:feed(c:drain())
    local sok, serr = s:handshake()
    c:feed(s:drain())
    if cok and sok then return c end
    if not sok and serr ~= "wantread" then
      c:handshake()
      return nil, c:last_error() and c:last_error().message or serr
    end
  end
end

local server = assert(wolfssl.context { mode = "server", certificate = certs .. "server.pem", key = certs .. "server.key" })

-- 1. Pinning: the chain must verify AND the leaf must be the one we expect.
local PIN = wolfssl.x509.load(read("server.pem")):digest("sha256")
local pinned = assert(wolfssl.context { mode = "client", cafile = certs .. "ca.pem",
  on_verify = function(conn, ok, info)
    if not ok then return false end                 -- keep the normal checks
    if info.depth > 0 then return true end          -- issuers: as verified
    return info.cert:digest("sha256") == PIN        -- the leaf: pinned
  end })
local c, err = handshake(pinned, server)
print("pinned, right key:     ", c and "connected" or err)

PIN = ("0"):rep(64)
c, err = handshake(pinned, server)
print("pinned, other key:     ", c and "connected" or err)

-- 2. A private CA trusted by its fingerprint, without installing it as a CA.
local OTHER_CA = wolfssl.x509.load(read("untrusted-ca.pem"))
local private_server = assert(wolfssl.context { mode = "server",
  certificate = certs .. "untrusted.pem", key = certs .. "untrusted.key" })
local private = assert(wolfssl.context { mode = "client", cafile = certs .. "ca.pem",
  on_verify = function(conn, ok, info)
    if ok then return true end
    -- "unknown CA" for a leaf our private CA signed: accept it
    return info.depth == 0 and info.error == 20 and OTHER_CA:issued(info.cert)
  end })
c, err = handshake(private, private_server)
print("private CA by pin:     ", c and "connected" or err)
if c then print("verify_result still says:", select(2, c:verify_result())) end
