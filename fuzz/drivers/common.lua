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
local COOKIE_KEY = string.rep("c", 32)

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

-- The DTLS targets' configurations (dtls_server, dtls_client, dtls_listen):
-- a table apart, so the TLS seeds keep their first byte's meaning. `dtls13`:
-- the pair needs features.dtls13 (an input choosing it does nothing on a
-- build without, such as Debian's 5.5.4).
local D12 = { dtls = true, min_version = "dtls1.2", max_version = "dtls1.2" }
local D13 = { dtls = true, min_version = "dtls1.3", max_version = "dtls1.3" }
local function with(base, extra)
  local o = {}
  for k, v in pairs(base) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end
C.DTLS_PAIRS = {
  { name = "dtls12", client = with(D12), server = with(D12) },
  { name = "dtls13", dtls13 = true, client = with(D13), server = with(D13) },
  { name = "dpsk12", client = with(D12, { verify = "none", psk = { identity = "client1", key = PSK_KEY } }),
    server = with(D12, { psk = { hint = "hint", keys = { client1 = PSK_KEY } } }) },
  { name = "dpsk13", dtls13 = true,
    client = with(D13, { verify = "none", psk = { identity = "client1", key = PSK_KEY } }),
    server = with(D13, { psk = { hint = "hint", keys = { client1 = PSK_KEY } } }) },
  { name = "dmtls12", client = with(D12, { certificate = C.cert("client.pem"), key = C.cert("client.key") }),
    server = with(D12, { verify = "require", cafile = C.cert("ca.pem") }) },
}

local DEFAULTS = {
  client = { mode = "client", cafile = C.cert("ca.pem") },
  server = { mode = "server", certificate = C.cert("server.pem"), key = C.cert("server.key") },
}

local cache = { client = {}, server = {} }

--- The context of one side of pair i of `pairs` (C.PAIRS by default; made
-- once, kept).
function C.context(side, i, pairs_)
  local pair = (pairs_ or C.PAIRS)[i]
  local ctx = cache[side][pair]
  if ctx then return ctx end
  local o = {}
  for k, v in pairs(DEFAULTS[side]) do o[k] = v end
  for k, v in pairs(pair[side]) do if k ~= "server_name" then o[k] = v end end
  ctx = assert(wolfssl.context(o))
  -- a DTLS server's cookie key is random per context: fixed here (when the
  -- test table is there: the harness, make's test runs), so a recorded
  -- ClientHello's cookie is valid in any process (testutil.c)
  local t = require("wolfssl.core")._test
  if o.dtls and side == "server" and t then t.cookie_secret(ctx, COOKIE_KEY) end
  cache[side][pair] = ctx
  return ctx
end

--- Pair index chosen by the first byte, and the rest of the input.
function C.split(bytes)
  if #bytes == 0 then return 1, "" end
  return bytes:byte(1) % #C.PAIRS + 1, bytes:sub(2)
end

--- A new connection of pair i's side (of `pairs`, C.PAIRS by default),
-- traced (the renderer runs on every message), and its trace recorder.
function C.connection(side, i, pairs_)
  local name = (pairs_ or C.PAIRS)[i].client.server_name or "localhost"
  local conn = C.context(side, i, pairs_):new{ server_name = side == "client" and name or nil }
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

--- DTLS inputs: the DTLS pair chosen by the first byte (nil when this build
-- lacks what it needs: DTLS, or DTLS 1.3), and the datagrams of the rest,
-- each behind a 2-byte big-endian prefix: its low 15 bits are the length (a
-- short tail is taken as it is), the top bit asks for handle_timeout() after
-- the datagram (the deterministic stand-in for the clock running out).
-- Returns i, { {bytes, timeout}, ... }.
function C.dtls_split(bytes)
  local f = wolfssl.features
  local i = (bytes:byte(1) or 0) % #C.DTLS_PAIRS + 1
  if not f.dtls or (C.DTLS_PAIRS[i].dtls13 and not f.dtls13) then return nil end
  local out, pos = {}, 2
  while pos + 1 <= #bytes do
    local hi, lo = bytes:byte(pos, pos + 1)
    local len = (hi % 128) * 256 + lo
    out[#out + 1] = { bytes:sub(pos + 2, pos + 1 + len), hi >= 128 }
    pos = pos + 2 + len
  end
  return i, out
end

--- The inverse of dtls_split's framing: a DTLS input for pair i and its
-- datagrams (strings).
function C.dtls_join(i, datagrams)
  local out = { string.char(i - 1) }
  for _, d in ipairs(datagrams) do
    out[#out + 1] = string.char(math.floor(#d / 256), #d % 256) .. d
  end
  return table.concat(out)
end

--- Every datagram conn has to send, to sink (or dropped).
function C.drain_all(conn, sink)
  for _ = 1, 64 do
    local d = conn:drain()
    if d == "" then return end
    if sink then sink(d) end
  end
end

--- DTLS: handshake() and drain every datagram until it stops sending (the
-- handshake waits for the next datagram); returns handshake()'s results.
function C.dtls_step(conn, sink)
  local ok, err, code
  for _ = 1, 8 do
    ok, err, code = C.never_raises("handshake", conn.handshake, conn)
    local sent = 0
    C.drain_all(conn, function(d) sent = sent + 1; if sink then sink(d) end end)
    if ok or (err ~= "wantread" and err ~= "wantwrite") or sent == 0 then break end
  end
  return ok, err, code
end

--- Feed one datagram (and handle_timeout() when asked), then step: what the
-- DTLS drivers do with each datagram of their input. Returns dtls_step's.
function C.dtls_feed(conn, d)
  C.never_raises("feed", conn.feed, conn, d[1])
  if d[2] then
    C.never_raises("timeout", conn.timeout, conn)
    C.never_raises("handle_timeout", conn.handle_timeout, conn)
  end
  return C.dtls_step(conn)
end

--- A DTLS driver: a new connection of `side` for the chosen pair (a client
-- first sends its ClientHello, dropped), each datagram fed and stepped, then
-- C.finish.
function C.dtls_drive(side, bytes)
  local i, datagrams = C.dtls_split(bytes)
  if not i then return end
  local conn = C.connection(side, i, C.DTLS_PAIRS)
  local ok = false
  if side == "client" then ok = C.dtls_step(conn) end
  for _, d in ipairs(datagrams) do ok = C.dtls_feed(conn, d) or ok end
  C.finish(conn, ok)
end

return C
