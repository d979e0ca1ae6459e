-- What the fuzz drivers share: fixture paths, the handshake configurations
-- (each a client and a server that complete a handshake with each other), and
-- the "finding" marker for broken promises that are not crashes.
--
-- An input of the handshake targets starts with one byte choosing the
-- configuration (byte % #PAIRS + 1); the rest is what the peer sends.
-- fuzz/make-corpus.lua runs each pair against itself to make the seeds, so a
-- seed's first byte matches the configuration that produced it.
local wolfssl = require "wolfssl"
local trace = require "wolfssl.trace"

local C = {}

C.ROOT = rawget(_G, "FUZZ_ROOT") or "."

function C.cert(name) return C.ROOT .. "/spec/fixtures/certs/" .. name end

function C.read(path)
  local f = assert(io.open(C.ROOT .. "/" .. path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local PSK_KEY = string.rep("k", 32)

-- the session key (the MAC of exported sessions): fixed, so the seeds that
-- fuzz/make-corpus.lua exports import in the fuzz process
C.SESSION_KEY = string.rep("s", 32)

-- The session target's input is sealed before session.import sees it: a
-- mutated exported session would almost never keep its HMAC, and the fuzzer
-- would never get past the MAC check. First byte % 8:
--   0  unsealed: the rest as is (the MAC check itself is fuzzed)
--   1  the rest is the exported form up to the MAC; the MAC is appended
--      (lengths and header fields fuzzed freely, behind a valid MAC)
--   *  the rest is build(8) flags(1) verify(1) fingerprint(32) name length(1)
--      name wolfSSL's bytes: the exported form ("LWS2", csrc/session.c) is
--      built around them with consistent lengths and a valid MAC (wolfSSL's
--      parser fuzzed; the seeds carry the build's 8 bytes, so mutations of
--      them test the refusal of another build's session)
-- The HMAC is wolfssl.core._test.hmac_sha256 (WOLFSSL_TEST_LUA: the harness
-- sets it, so do the Makefile's test runs).
local function be(v, n)
  local b = {}
  for k = n, 1, -1 do b[k] = string.char(v % 256); v = math.floor(v / 256) end
  return table.concat(b)
end

local function hmac(data)
  local t = require("wolfssl.core")._test
  assert(t, "the session fuzz driver seals its inputs with wolfssl.core._test: set WOLFSSL_TEST_LUA=1")
  return assert(t.hmac_sha256(C.SESSION_KEY, data))
end

--- The bytes session.import gets for a session target input.
function C.seal(input)
  local mode, rest = input:byte(1) or 0, input:sub(2)
  if mode % 8 == 0 then return rest end
  if mode % 8 == 1 then return rest .. hmac(rest) end
  local head = rest:sub(1, 42)
  head = head .. string.rep("\0", 42 - #head)
  local nlen = rest:byte(43) or 0
  local name, der = rest:sub(44, 43 + nlen), rest:sub(44 + nlen)
  local body = "LWS2" .. head .. be(#name, 2) .. name .. be(#der, 4) .. der
  return body .. hmac(body)
end

--- A session target input for an exported session (the inverse of seal):
-- mode 0, 1 or 2 as above.
function C.unseal(exported, mode)
  if mode == 0 then return "\0" .. exported end
  if mode == 1 then return "\1" .. exported:sub(1, -33) end
  local nlen = exported:byte(47) * 256 + exported:byte(48)
  local name = exported:sub(49, 48 + nlen)
  return "\2" .. exported:sub(5, 46) .. string.char(nlen) .. name .. exported:sub(53 + nlen, -33)
end

-- name, client options, server options (merged over the defaults below)
C.PAIRS = {
  { name = "tls13", client = { alpn = { "h2", "http/1.1" } }, server = { alpn = { "h2" } } },
  { name = "tls12", client = { max_version = "tls1.2", ocsp_stapling = "request" },
    server = { max_version = "tls1.2" } },
  { name = "mtls13", client = { certificate = C.cert("client.pem"), key = C.cert("client.key") },
    server = { verify = "require", cafile = C.cert("ca.pem") } },
  { name = "mtls12", client = { max_version = "tls1.2", certificate = C.cert("client-chain.pem"),
                                key = C.cert("client-chain.key") },
    server = { max_version = "tls1.2", verify = "require", cafile = C.cert("ca.pem") } },
  { name = "rsa12", client = { max_version = "tls1.2", cafile = C.cert("rsa-ca.pem"), server_name = "rsa.localhost" },
    server = { max_version = "tls1.2", certificate = C.cert("rsa-server.pem"), key = C.cert("rsa-server.key") } },
  { name = "hrr13", client = { groups = { "P-384", "X25519" } }, server = { groups = { "X25519" } } },
  { name = "psk13", client = { verify = "none", psk = { identity = "client1", key = PSK_KEY } },
    server = { psk = { hint = "hint", keys = { client1 = PSK_KEY } } } },
  { name = "psk12", client = { verify = "none", max_version = "tls1.2", psk = { identity = "client1", key = PSK_KEY } },
    server = { max_version = "tls1.2", psk = { hint = "hint", keys = { client1 = PSK_KEY } } } },
  { name = "chain12", client = { max_version = "tls1.2", server_name = "chain.localhost" },
    server = { max_version = "tls1.2", certificate = C.cert("server-chain.pem"), key = C.cert("server-chain.key") } },
}

local DEFAULTS = {
  client = { mode = "client", cafile = C.cert("ca.pem") },
  server = { mode = "server", certificate = C.cert("server.pem"), key = C.cert("server.key") },
}

local cache = { client = {}, server = {} }

--- The context of one side of pair i (made once, kept).
function C.context(side, i)
  local ctx = cache[side][i]
  if ctx then return ctx end
  local o = {}
  for k, v in pairs(DEFAULTS[side]) do o[k] = v end
  for k, v in pairs(C.PAIRS[i][side]) do if k ~= "server_name" then o[k] = v end end
  ctx = assert(wolfssl.context(o))
  cache[side][i] = ctx
  return ctx
end

--- Pair index chosen by the first byte, and the rest of the input.
function C.split(bytes)
  if #bytes == 0 then return 1, "" end
  return bytes:byte(1) % #C.PAIRS + 1, bytes:sub(2)
end

--- A new connection of pair i's side, traced (the renderer runs on every
-- message), and its trace recorder.
function C.connection(side, i)
  local name = C.PAIRS[i].client.server_name or "localhost"
  local conn = C.context(side, i):new{ server_name = side == "client" and name or nil }
  return conn, trace.attach(conn, function() end)
end

--- Run handshake() until it stops asking for I/O that is there; returns
-- handshake()'s results. drained bytes are handed to sink (or dropped).
function C.step(conn, sink)
  local ok, err, code
  for _ = 1, 8 do
    ok, err, code = conn:handshake()
    local out = conn:drain()
    if sink and #out > 0 then sink(out) end
    if ok or (err ~= "wantread" and err ~= "wantwrite") or #out == 0 then break end
  end
  return ok, err, code
end

--- After a handshake that completed: read what is left, then close.
function C.finish(conn, ok)
  if ok then
    conn:info()
    for _ = 1, 4 do if not conn:read() then break end end
    conn:write("x")
    conn:shutdown()
  end
  conn:close()
end

--- A broken promise that is not a crash (e.g. a documented "never raises"):
-- the harness aborts on it like on a crash, the replay spec fails.
function C.finding(msg)
  error({ finding = msg }, 2)
end

--- Call f(...) and turn a raised error into a finding (for APIs documented
-- never to raise on bad bytes).
local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end
function C.never_raises(what, f, ...)
  local r = pack(pcall(f, ...))
  if not r[1] then C.finding(what .. " raised: " .. tostring(r[2])) end
  return unpack(r, 2, r.n)
end

local DEBUG = os.getenv("FUZZ_DEBUG")

--- Call method `name` of obj under pcall (one raising method must not hide
-- the next); returns the first result, or nil. FUZZ_DEBUG=1 in the
-- environment prints each call first (to tell which one crashed).
function C.try(obj, name, ...)
  if DEBUG then io.stderr:write("try ", name, " ", tostring((...)), "\n") end
  local ok, v = pcall(obj[name], obj, ...)
  if ok then return v end
end

--- Feed the fuzzed bytes to a new connection of `side` (a client first sends
-- its ClientHello, dropped), step it, then end the transport and step again.
function C.drive(side, bytes)
  local i, data = C.split(bytes)
  local conn = C.connection(side, i)
  if side == "client" then C.step(conn) end
  conn:feed(data)
  local ok = C.step(conn)
  if not ok then
    conn:feed_eof()
    C.step(conn)
  end
  C.finish(conn, ok)
end

return C
