-- Make the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from real
-- handshakes and the test fixtures:
--   lua5.4 fuzz/make-corpus.lua ROOT        (make fuzz-corpus)
-- Every configuration of drivers/common.lua runs a memory-mode handshake of our
-- own client against our own server (TLS 1.2 and 1.3, mutual auth, RSA, HRR,
-- PSK, a chain), then some application data, the TLS 1.3 tickets and the
-- close_notify; what each side sent becomes a seed of the other side's target,
-- the whole exchange a seed of the trace target, the client's session a seed of
-- the session target (in the input form the driver seals, common.lua C.seal).
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

for _, t in ipairs({ "server", "client", "hello", "x509", "pkey", "session", "trace" }) do
  io.stdout:write(("corpus %-8s %3d seeds\n"):format(t, count[t] or 0))
end
