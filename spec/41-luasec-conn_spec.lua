-- LuaSec's connection methods beyond reading and writing (issue 15): info(),
-- getfinished/getpeerfinished (tls-unique), exportkeyingmaterial, setfd, the
-- protocol names, wrap() of a socket without a descriptor. LuaSec (Debian's
-- lua-sec) runs in its own process as the reference and as the peer.
local H = require "helpers"
local socket = require "socket"
local ssl = require "wolfssl.socket"
local wolfssl = require "wolfssl"

local have_luasec = pcall(require, "ssl")

local function hex(s) return s and (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) or "nil" end

-- info() of one connection, one line of sorted key=value, by either module
local INFO = [==[
local socket = require "socket"
local ssl = require(arg[1])
local port, protocol, suite = tonumber(arg[2]), arg[3], arg[4]
local p = { mode = "client", protocol = protocol, verify = "none" }
if protocol == "tlsv1_3" then p.ciphersuites = suite else p.ciphers = suite end
local s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)), p))
s:settimeout(5)
assert(s:dohandshake())
local i, keys = s:info(), {}
for k in pairs(i) do keys[#keys + 1] = k end
table.sort(keys)
for n, k in ipairs(keys) do
  local v = i[k]
  if type(v) == "number" then v = ("%d"):format(v) end
  keys[n] = k .. "=" .. tostring(v)
end
print(table.concat(keys, " "))
print("protocol " .. tostring(s:info("protocol")) .. " compression " .. tostring(s:info("compression")))
s:close()
]==]

-- a server (either module) that tells each client its view of the channel:
-- its own Finished, the client's, and 32 bytes of exported keying material
local SERVER = [==[
local socket = require "socket"
local ssl = require(arg[1])
local port = tonumber(arg[2])
local C = "spec/fixtures/certs/"
local ctx = assert(ssl.newcontext{ mode = "server", protocol = "any", verify = "none",
  certificate = C .. "server.pem", key = C .. "server.key" })
local srv = assert(socket.bind("127.0.0.1", port))
srv:settimeout(20)
local function hex(s) return s and (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) or "nil" end
while true do
  local c = srv:accept()
  if not c then os.exit(1) end
  local s = assert(ssl.wrap(c, ctx))
  s:settimeout(5)
  if s:dohandshake() then
    s:send(("%s %s %s %s\n"):format(hex(s:getfinished()), hex(s:getpeerfinished()),
      hex(s:exportkeyingmaterial("EXPORTER-test", 32, "ctx")), hex(s:exportkeyingmaterial("EXPORTER-test", 32))))
  end
  s:close()
end
]==]

local function client(port, params)
  local p = { mode = "client", protocol = "any", cafile = H.cert("ca.pem"), host = "localhost" }
  for k, v in pairs(params or {}) do p[k] = v end
  local s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)), p))
  s:settimeout(5)
  return s
end

local d = have_luasec and describe or pending
d("wolfssl.socket connections answer as LuaSec's", function()
  local info_path, server_path
  setup(function() info_path, server_path = H.write_tmp(INFO), H.write_tmp(SERVER) end)
  teardown(function() os.remove(info_path); os.remove(server_path) end)

  local function info(mod, port, protocol, suite)
    local p = assert(io.popen(("timeout 20 %s %s %s %d %s %s 2>&1"):format(H.lua(), info_path, mod, port, protocol, suite)))
    local out = p:read("*a")
    p:close()
    return out
  end

  it("info(): every field, for TLS 1.2 and 1.3 suites, against openssl s_server", function()
    local port, pid = H.openssl_server("-quiet")
    local ok, err = pcall(function()
      for _, case in ipairs({
        { "tlsv1_2", "ECDHE-ECDSA-AES256-GCM-SHA384" }, { "tlsv1_2", "ECDHE-ECDSA-AES128-GCM-SHA256" },
        { "tlsv1_2", "ECDHE-ECDSA-CHACHA20-POLY1305" }, { "tlsv1_3", "TLS_AES_256_GCM_SHA384" },
        { "tlsv1_3", "TLS_AES_128_GCM_SHA256" }, { "tlsv1_3", "TLS_CHACHA20_POLY1305_SHA256" },
      }) do
        local theirs = info("ssl", port, case[1], case[2])
        assert.matches("cipher=" .. case[2]:gsub("%-", "%%-"), theirs)
        assert.equal(theirs, info("wolfssl.socket", port, case[1], case[2]))
      end
    end)
    H.kill(pid)
    assert(ok, err)
  end)

  for _, server_mod in ipairs({ "ssl", "wolfssl.socket" }) do
    it(("getfinished, getpeerfinished, exportkeyingmaterial agree with a %s server"):format(server_mod), function()
      local port = H.free_port()
      local pid = H.spawn(("exec %s %s %s %d"):format(H.lua(), server_path, server_mod, port))
      local ok, err = pcall(function()
        assert(H.wait_port(port, 5), "server script did not start")
        for _, protocol in ipairs({ "tlsv1_2", "tlsv1_3" }) do
          local s = client(port, { protocol = protocol })
          assert.is_nil(s:getfinished())
          assert.same({ nil, "the handshake is not finished" }, { s:exportkeyingmaterial("EXPORTER-test", 32) })
          assert(s:dohandshake())
          local line = assert(s:receive("*l"))
          local sf, spf, ekm_ctx, ekm = line:match("^(%x+) (%x+) (%x+) (%x+)$")
          assert(sf, line)
          -- our Finished is the server's peer Finished, and the other way round
          assert.equal(spf, hex(s:getfinished()))
          assert.equal(sf, hex(s:getpeerfinished()))
          assert.equal(protocol == "tlsv1_2" and 24 or 64, #sf) -- 12 bytes; SHA-256 size on TLS 1.3
          assert.equal(ekm_ctx, hex(s:exportkeyingmaterial("EXPORTER-test", 32, "ctx")))
          assert.equal(ekm, hex(s:exportkeyingmaterial("EXPORTER-test", 32)))
          assert.not_equal(ekm, ekm_ctx)
          s:close()
        end
      end)
      H.kill(pid)
      assert(ok, err)
    end)
  end

  it("protocol names: LuaSec's, insecure ones refused with nil and why", function()
    local p = assert(io.popen(H.lua() .. [[ -e 'local ssl = require "ssl"
      for _, p in ipairs{"any", "sslv23", "tlsv1_2", "tlsv1_3", "sslv3", "sslv2", "bogus"} do
        local ctx, err = ssl.newcontext{ mode = "client", protocol = p }
        print(p, ctx and "ctx" or err)
      end' 2>&1]]))
    local theirs = p:read("*a")
    p:close()
    local ours = {}
    for _, name in ipairs({ "any", "sslv23", "tlsv1_2", "tlsv1_3", "sslv3", "sslv2", "bogus" }) do
      local ctx, err = ssl.newcontext{ mode = "client", protocol = name }
      -- LuaSec's message, then why and what to use
      ours[#ours + 1] = name .. "\t" .. (ctx and "ctx" or err:match("^invalid protocol %(%w+%)"))
    end
    assert.equal(theirs, table.concat(ours, "\n") .. "\n")
    local _, err = ssl.newcontext{ mode = "client", protocol = "sslv3" }
    assert.equal('invalid protocol (sslv3): SSL 3.0 is obsolete and insecure; use "tlsv1_2", "tlsv1_3" or "any"', err)
    for name, feature in pairs({ tlsv1 = "tls1_0", tlsv1_1 = "tls1_1" }) do
      local ctx
      ctx, err = ssl.newcontext{ mode = "client", protocol = name }
      if wolfssl.features[feature] then
        assert.equal("userdata", type(ctx), err)
      else
        assert.is_nil(ctx)
        assert.matches("^invalid protocol %(" .. name .. "%): TLS 1%.%d is obsolete and insecure, "
          .. "and this wolfSSL build does not offer it; use", err)
      end
    end
    assert.error_matches(function() ssl.newcontext{ mode = "client", protocol = {} } end, "bad option 'protocol'")
    assert.error_matches(function() ssl.newcontext{ mode = "client", host = 1 } end, "bad option 'host'")
  end)
end)

describe("wolfssl.socket wrap and descriptors", function()
  it("wrap() of a socket with no descriptor says so (not 'closed')", function()
    local s, err = ssl.wrap(socket.tcp(), { mode = "client", verify = "none" })
    assert.is_nil(s)
    assert.equal("no descriptor (not connected, or closed): wrap a socket once connected or accepted", err)
  end)

  it("setfd() before the handshake moves the connection to another descriptor; after it raises", function()
    local port, pid = H.openssl_server("-quiet")
    local ok, err = pcall(function()
      local other = assert(socket.connect("127.0.0.1", port))
      local s = client(port)
      local fd, prev = other:getfd(), s:getfd()
      assert.is_true(s:setfd(fd))
      local old = socket.tcp() -- the descriptor given up is the caller's to close, as with LuaSec
      old:close(); old:setfd(prev); old:close()
      other:setfd(-1) -- the wrapper owns it now
      assert.equal(fd, s:getfd())
      assert.is_true(s:dohandshake())
      assert.equal("TLSv1.3", s:info("protocol"))
      assert.error_matches(function() s:setfd(fd) end, "setfd: must be called before the handshake starts")
      s:close()
    end)
    H.kill(pid)
    assert(ok, err)
  end)
end)

-- LuaSec 1.3's getlocalcertificate/getlocalchain (Debian's LuaSec 1.2 has
-- neither, so the fixture files are the reference): a wolfssl.socket server
-- tells each client the digests of the chain it presented and of the
-- client's; sni() may switch it to the RSA certificate.
local LOCAL_SERVER = [==[
local socket = require "socket"
local ssl = require "wolfssl.socket"
local port = tonumber(arg[1])
local C = "spec/fixtures/certs/"
local function ctx(cert, key)
  return assert(ssl.newcontext{ mode = "server", protocol = "any", verify = "peer", cafile = C .. "ca.pem",
    certificate = C .. cert, key = C .. key })
end
local main, rsa = ctx("server-chain.pem", "server-chain.key"), ctx("rsa-server.pem", "rsa-server.key")
local srv = assert(socket.bind("127.0.0.1", port))
srv:settimeout(20)
local function digests(list)
  if not list then return "nil" end
  local out = {}
  for i, c in ipairs(list) do out[i] = c:digest("sha256") end
  return table.concat(out, ",")
end
while true do
  local c = srv:accept()
  if not c then os.exit(1) end
  local s = assert(ssl.wrap(c, main))
  s:sni({ ["rsa.localhost"] = rsa })
  s:settimeout(5)
  local before = s:getlocalcertificate()
  if s:dohandshake() then
    local leaf = s:getlocalcertificate()
    s:send(("%s %s %s %s\n"):format(tostring(before), leaf and leaf:digest("sha256") or "nil",
      digests(s:getlocalchain()), digests(s:getpeerchain())))
  end
  s:close()
end
]==]

describe("wolfssl.socket getlocalcertificate, getlocalchain", function()
  local function fixture_digests(name)
    local out = {}
    for i, x in ipairs(assert(wolfssl.x509.load_chain(H.read(name)))) do
      out[i] = ssl.loadcertificate(x:pem()):digest("sha256")
    end
    return out
  end

  it("give the chain each side presented, leaf first, as LuaSec certificate objects", function()
    local path = H.write_tmp(LOCAL_SERVER)
    local port = H.free_port()
    local pid = H.spawn(("exec %s %s %d"):format(H.lua(), path, port))
    local ok, err = pcall(function()
      assert(H.wait_port(port, 5), "server script did not start")
      local server_chain, client_chain = fixture_digests("server-chain.pem"), fixture_digests("client-chain.pem")
      local rsa = fixture_digests("rsa-server.pem")
      assert.equal(2, #server_chain)
      assert.equal(2, #client_chain)
      for _, case in ipairs({
        { "chain.localhost", "tlsv1_3", server_chain }, { "chain.localhost", "tlsv1_2", server_chain },
        { "rsa.localhost", "tlsv1_3", rsa },
      }) do
        local name, protocol, expect = case[1], case[2], case[3]
        local s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)), { mode = "client", protocol = protocol,
          cafile = H.cert("both-ca.pem"), certificate = H.cert("client-chain.pem"), key = H.cert("client-chain.key") }))
        s:sni(name)
        s:settimeout(5)
        assert.is_nil(s:getlocalcertificate()) -- not before the handshake
        assert.is_nil(s:getlocalchain())
        assert(s:dohandshake())
        local line = assert(s:receive("*l"))
        local before, leaf, chain, peer = line:match("^(%S+) (%S+) (%S+) (%S+)$")
        assert.equal("nil", before)
        -- the server's view of itself is the client's view of the server
        assert.equal(expect[1], leaf)
        assert.equal(table.concat(expect, ","), chain)
        local theirs = {}
        for i, c in ipairs(s:getpeerchain()) do theirs[i] = c:digest("sha256") end
        assert.equal(chain, table.concat(theirs, ","))
        -- and the client's own: what the server received
        local mine = s:getlocalcertificate()
        assert.matches("^X509 certificate", tostring(mine))
        assert.equal("Test Chain Client", mine:subject()[2].value)
        assert.equal(client_chain[1], mine:digest("sha256"))
        local list = s:getlocalchain()
        assert.equal(2, #list)
        assert.equal(client_chain[2], list[2]:digest("sha256"))
        assert.equal(client_chain[2], s:getlocalcertificate(2):digest("sha256"))
        assert.is_nil(s:getlocalcertificate(3))
        assert.same({ nil, "invalid certificate index" }, { s:getlocalcertificate(0) })
        assert.equal(table.concat(client_chain, ","), peer)
        s:close()
        assert.error_matches(function() s:getlocalchain() end, "closed connection")
      end
      -- a client without a certificate presented none
      local s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)), { mode = "client", verify = "none" }))
      s:settimeout(5)
      s:dohandshake()
      assert.is_nil(s:getlocalcertificate())
      assert.is_nil(s:getlocalchain())
      s:close()
    end)
    H.kill(pid)
    os.remove(path)
    assert(ok, err)
  end)
end)
