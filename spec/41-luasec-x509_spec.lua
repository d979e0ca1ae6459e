-- Certificates as LuaSec's ssl.x509: the same script reads every field of the
-- fixtures' certificates (loaded, and received from a real openssl s_server)
-- with LuaSec (`require "ssl"`) and with wolfssl.socket, each in its own
-- process; the results must be the same, field by field.
local H = require "helpers"

local have_luasec = pcall(require, "ssl")

local SCRIPT = [==[
local socket = require "socket"
local ssl = require(arg[1])
local port = tonumber(arg[2])
local C = "spec/fixtures/certs/"

local function ser(v)
  if type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local t = {}
    for _, k in ipairs(keys) do t[#t + 1] = ("[%s]=%s"):format(ser(k), ser(v[k])) end
    return "{" .. table.concat(t, ",") .. "}"
  elseif type(v) == "string" then return ("%q"):format(v)
  else return tostring(v) end
end

local function fields(c)
  local r = {}
  r.subject, r.issuer, r.serial = c:subject(), c:issuer(), c:serial()
  r.notbefore, r.notafter = c:notbefore(), c:notafter()
  r.signature = c:getsignaturename()
  r.pubkey = { c:pubkey() }
  r.extensions = c:extensions()
  r.digest = { c:digest(), c:digest("sha1"), c:digest("sha256"), c:digest("sha512") }
  r.bad_digest = { c:digest("md4") }
  r.pem = c:pem()
  r.setencode = { c:setencode("utf8"), c:setencode("ai5") }
  r.tostring = tostring(c):match("^X509 certificate: ") ~= nil
  return r
end

local out = {}
local certs = {}
if port then
  local s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)),
    { mode = "client", protocol = "any", verify = "none" }))
  s:sni("localhost")
  s:settimeout(5)
  assert(s:dohandshake())
  certs.peer = s:getpeercertificate()
  for i, c in ipairs(s:getpeerchain()) do certs["chain" .. i] = c end
  s:close()
else
  for name in io.popen("ls " .. C):lines() do
    local text = name:match("%.pem$") and io.open(C .. name):read("a")
    if text and text:find("BEGIN CERTIFICATE", 1, true) then
      local c = ssl.loadcertificate(text)
      -- a build that cannot load a key type says so; LuaSec loads it
      certs[name] = c or "not loaded"
    end
  end
end
for name, c in pairs(certs) do
  if type(c) == "string" then out[name] = c else out[name] = fields(c) end
end

-- validity at chosen instants around the edges
local function t(y, m, d, h, mi, s) return os.time({ year = y, month = m, day = d, hour = h, min = mi, sec = s }) end
local tz = t(2024, 1, 1, 0, 0, 0) - 1704067200 -- os.time reads local time: back to UTC
out.validat = {}
for _, name in ipairs({ "server.pem", "expired.pem", "notyet.pem" }) do
  local c = type(certs[name]) ~= "string" and certs[name]
  if c then
    local r = {}
    for i, when in ipairs({ t(2019, 12, 31, 23, 59, 59), t(2020, 1, 1, 0, 0, 0), t(2021, 1, 1, 0, 0, 0),
      t(2021, 1, 1, 0, 0, 1), t(2024, 1, 1, 0, 0, 0) - 1, t(2024, 1, 1, 0, 0, 0), os.time(),
      t(2099, 12, 31, 23, 59, 59), t(2100, 1, 1, 0, 0, 0) }) do
      r[i] = c:validat(when - tz)
    end
    out.validat[name] = r
  end
end

-- issued: pairs, chains, failures with OpenSSL's reasons
if not port then
  local L = function(n) return certs[n .. ".pem"] end
  out.issued = {}
  for i, case in ipairs({
    { "ca", "server" }, { "server", "ca" }, { "ca", "ca" }, { "inter", "chain-leaf" },
    { "ca", "chain-leaf", "inter" }, { "ca", "chain-leaf" }, { "ca", "expired" }, { "ca", "notyet" },
    { "selfsigned", "selfsigned" }, { "ca", "untrusted" }, { "rsa-ca", "rsa-server" },
    { "ca", "deep-leaf", "deep-i1", "deep-i2", "deep-i3", "deep-i4" }, { "deep-ca", "deep-leaf", "deep-i4", "deep-i3", "deep-i2", "deep-i1" },
    { "ca", "selfsigned" }, { "rsa-ca", "server" },
  }) do
    local args = {}
    for j = 2, #case do args[#args + 1] = L(case[j]) end
    out.issued[i] = { L(case[1]):issued(table.unpack and table.unpack(args) or unpack(args)) }
  end
end
print("return " .. ser(out))
]==]

local script_path

local function run(mod, port)
  local p = assert(io.popen(("timeout 20 %s %s %s %s 2>&1"):format(H.lua(), script_path, mod, port or "")))
  local out = p:read("*a")
  p:close()
  local f = load(out)
  assert(f, out)
  return f()
end

local d = have_luasec and describe or pending
d("wolfssl.socket certificates answer as LuaSec's ssl.x509", function()
  setup(function()
    script_path = H.write_tmp(SCRIPT)
  end)
  teardown(function() os.remove(script_path) end)

  it("every field of every fixture certificate", function()
    local theirs, ours = run("ssl"), run("wolfssl.socket")
    local n = 0
    for name, t in pairs(theirs) do
      if name ~= "validat" and name ~= "issued" then
        n = n + 1
        if ours[name] == "not loaded" then
          -- a build without Ed25519 certificates refuses them with a clear error
          local x509 = require "wolfssl.x509"
          local _, err = x509.load(H.read(name))
          assert.matches("cannot load certificates with an Ed25519 key", err, 1, true)
        else
          for field, v in pairs(t) do
            assert.same(v, ours[name][field], name .. ": " .. field)
          end
        end
      end
    end
    assert.is_true(n >= 30, "fixtures read: " .. n)
    assert.same(theirs.validat, ours.validat)
    assert.same(theirs.issued, ours.issued)
    -- the cases do differ from each other
    assert.same({ true }, ours.issued[1])
    assert.same({ nil, "certificate has expired" }, ours.issued[7])
  end)

  it("the certificates a real openssl s_server sends (leaf and chain)", function()
    local port = H.free_port()
    local pid = H.spawn(("exec openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -cert_chain %s -quiet")
      :format(port, H.cert("server-chain.pem"), H.cert("server-chain.key"), H.cert("inter.pem")))
    assert(H.wait_port(port, 5), "openssl s_server did not start")
    local ok, theirs, ours = pcall(function() return run("ssl", port), run("wolfssl.socket", port) end)
    H.kill(pid)
    assert(ok, theirs)
    assert.is_table(theirs.chain2)
    assert.same(theirs, ours)
  end)

  it("the wolfssl.x509 methods stay reachable, and x509() gives the object", function()
    local ssl = require "wolfssl.socket"
    local c = assert(ssl.loadcertificate(H.read("server.pem")))
    assert.is_true(c:check_host("localhost"))
    assert.equal(H.read("server.der"), c:der())
    assert.equal(c:x509():digest("sha256"), c:digest("sha256"))
    assert.equal("O=lua-wolfssl tests, CN=localhost", tostring(c:subject()))
    assert.equal("commonName", c:subject()[2].name)
    assert.is_nil(ssl.loadcertificate("not a certificate"))
  end)
end)
