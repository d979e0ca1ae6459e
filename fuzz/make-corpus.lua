-- Make the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from real
-- handshakes and the test fixtures:
--   lua5.4 fuzz/make-corpus.lua ROOT        (make fuzz-corpus)
-- Every configuration of drivers/common.lua runs a memory-mode handshake of our
-- own client against our own server (TLS 1.2 and 1.3, mutual auth, RSA, HRR,
-- PSK, a chain), then some application data, the TLS 1.3 tickets and the
-- close_notify; what each side sent becomes a seed of the other side's target,
-- the whole exchange a seed of the trace target, the client's session a seed of
-- the session target (in the input form the driver seals, common.lua C.seal);
-- the DTLS configurations the same, datagram by datagram (below).
-- Handshake bytes are random each run: regenerating rewrites the files under
-- the same names.
local root = assert(arg[1], "usage: make-corpus.lua ROOT")
FUZZ_ROOT = root
package.path = root .. "/fuzz/?.lua;" .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
local C = require "drivers.common"
local decode = require "wolfssl.decode"

require("wolfssl.session").set_key(C.SESSION_KEY) -- as drivers/session.lua
local SESSION_SUFFIX = require("wolfssl").features.build == "system" and "-system" or ""

local OUT = root .. "/fuzz/corpus/"
local count = {}

local function write(target, name, bytes)
  os.execute(("mkdir -p '%s%s'"):format(OUT, target))
  local f = assert(io.open(OUT .. target .. "/" .. name, "wb"))
  f:write(bytes)
  f:close()
  count[target] = (count[target] or 0) + 1
end

local function list(dir, pattern)
  local p = assert(io.popen(("ls '%s'"):format(dir)))
  local out = {}
  for name in p:lines() do if name:match(pattern) then out[#out + 1] = name end end
  p:close()
  return out
end

-- trace target input: flags, then each record behind its direction byte
local function trace_input(flags, chunks, swap)
  local out = { string.char(flags) }
  for _, ch in ipairs(chunks) do
    local dir = (ch.dir == "sent") ~= (swap == true) and 0 or 1
    for _, r in ipairs((decode.records(ch.bytes))) do
      out[#out + 1] = string.char(dir, r.content_type, math.floor(r.version / 256), r.version % 256,
                                  math.floor(r.length / 256), r.length % 256) .. (r.data or "")
    end
  end
  return table.concat(out)
end

for i, pair in ipairs(C.PAIRS) do
  local c, s = C.connection("client", i), C.connection("server", i)
  local c2s, s2c, chunks = {}, {}, {}
  local function move(from, to, acc, dir)
    local out = from:drain()
    if #out > 0 then
      acc[#acc + 1] = out
      chunks[#chunks + 1] = { dir = dir, bytes = out }
      to:feed(out)
    end
  end
  local cdone, sdone
  for _ = 1, 20 do
    if not cdone then cdone = c:handshake() end
    move(c, s, c2s, "sent")
    if not sdone then sdone = s:handshake() end
    move(s, c, s2c, "received")
    if cdone and sdone then break end
  end
  assert(cdone and sdone, "handshake of " .. pair.name .. " did not complete")
  c:write("GET / HTTP/1.0\r\n\r\n"); move(c, s, c2s, "sent")
  s:read(); s:write("HTTP/1.0 200 OK\r\n\r\nhello"); move(s, c, s2c, "received")
  c:read(); c:read()
  local sess = c:session()
  c:shutdown(); move(c, s, c2s, "sent")
  s:shutdown(); s:read(); move(s, c, s2c, "received")
  local tag = string.char(i - 1)
  write("server", pair.name, tag .. table.concat(c2s))
  write("client", pair.name, tag .. table.concat(s2c))
  write("hello", pair.name, c2s[1])
  write("trace", pair.name .. "-client", trace_input(2, chunks, false))
  write("trace", pair.name .. "-server", trace_input(3, chunks, true))
  if sess then
    -- the session target's inputs are sealed by the driver (common.lua C.seal);
    -- wolfSSL's serialisation differs between builds: the system build's
    -- seeds (make fuzz-corpus WOLFSSL=system) are named apart
    local e, name = sess:export(), pair.name .. SESSION_SUFFIX
    write("session", name, C.unseal(e, 2))
    if i == 1 then
      write("session", name .. "-unsealed", C.unseal(e, 0))
      write("session", name .. "-body", C.unseal(e, 1))
    end
  end
  c:close(); s:close()
end

-- DTLS (the dtls_* targets): each configuration of C.DTLS_PAIRS the build
-- has, our client against our server one datagram at a time (the server
-- listening as the first fake peer of drivers/dtls_listen.lua for that
-- target's seeds, so the cookie is that peer's; the cookie key is fixed by
-- common.lua); what each side sent, datagram by datagram, is a seed of the
-- other side's target (common.lua C.dtls_join), plus a variant whose first
-- datagram asks for handle_timeout().
local features = require("wolfssl").features
local LISTEN_PEER = "192.0.2.1:5684" -- drivers/dtls_listen.lua's first peer

local function dtls_exchange(i, listen)
  local c, s = C.connection("client", i, C.DTLS_PAIRS), C.connection("server", i, C.DTLS_PAIRS)
  local c2s, s2c = {}, {}
  local accepted = not listen
  local function to_server(d)
    c2s[#c2s + 1] = d
    if accepted then s:feed(d) else accepted = s:listen(d, LISTEN_PEER) end
  end
  local function to_client(d) s2c[#s2c + 1] = d; c:feed(d) end
  local cdone, sdone
  for _ = 1, 20 do
    if not cdone then cdone = c:handshake() end
    C.drain_all(c, to_server)
    if accepted and not sdone then sdone = s:handshake() end
    C.drain_all(s, to_client)
    if cdone and sdone then break end
  end
  assert(cdone and sdone, "DTLS handshake of " .. C.DTLS_PAIRS[i].name .. " did not complete")
  c:write("ping"); C.drain_all(c, to_server)
  s:read(); s:write("pong"); C.drain_all(s, to_client)
  c:read(); C.drain_all(c, to_server)
  c:shutdown(); C.drain_all(c, to_server)
  s:read(); s:shutdown(); C.drain_all(s, to_client)
  c:close(); s:close()
  return c2s, s2c
end

-- a DTLS input with the top bit of datagram k's length set
local function flagged(i, datagrams, k)
  local bytes = C.dtls_join(i, datagrams)
  local pos = 2
  for _ = 1, k - 1 do pos = pos + 2 + bytes:byte(pos) * 256 + bytes:byte(pos + 1) end
  return bytes:sub(1, pos - 1) .. string.char(bytes:byte(pos) + 128) .. bytes:sub(pos + 1)
end

for i, pair in ipairs(C.DTLS_PAIRS) do
  if features.dtls and (features.dtls13 or not pair.dtls13) then
    local c2s, s2c = dtls_exchange(i, false)
    write("dtls_server", pair.name, C.dtls_join(i, c2s))
    write("dtls_server", pair.name .. "-timeout", flagged(i, c2s, 1))
    write("dtls_client", pair.name, C.dtls_join(i, s2c))
    write("dtls_client", pair.name .. "-timeout", flagged(i, s2c, 1))
    if features.dtls_listen then
      c2s = dtls_exchange(i, true)
      write("dtls_listen", pair.name, C.dtls_join(i, c2s))
      -- the other peer's copy of the first ClientHello first: answered, no state
      write("dtls_listen", pair.name .. "-two", flagged(i, { c2s[1], table.unpack(c2s) }, 1))
    end
  end
end

-- captured hellos and server flights of other implementations
for _, name in ipairs(list(root .. "/spec/fixtures/hello", "%.bin$")) do
  local bytes = C.read("spec/fixtures/hello/" .. name)
  local base = name:gsub("%.bin$", "")
  if name:match("^server%-") then
    write("client", base, string.char(name:match("tls12") and 1 or 0) .. bytes)
    write("trace", base, string.char(0, 1) .. bytes:sub(1, 5 + bytes:byte(4) * 256 + bytes:byte(5)))
  else
    write("hello", base, bytes)
    write("server", base, string.char(name:match("tls12") and 1 or 0) .. bytes)
  end
end

-- certificates and keys
local certs = root .. "/spec/fixtures/certs/"
for _, name in ipairs(list(certs, "")) do
  local bytes
  if name:match("%.pem$") or name:match("%.der$") or name:match("%.key$") then
    bytes = C.read("spec/fixtures/certs/" .. name)
  end
  if bytes and name:match("%.key") then write("pkey", name, bytes)
  elseif bytes and (name:match("%.pem$") or name == "ca.der" or name == "server.der") then
    write("x509", name, bytes)
  end
end

for _, t in ipairs({ "server", "client", "hello", "x509", "pkey", "session", "trace",
                    "dtls_server", "dtls_client", "dtls_listen" }) do
  io.stdout:write(("corpus %-8s %3d seeds\n"):format(t, count[t] or 0))
end
