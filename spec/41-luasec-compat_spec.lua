-- Compatibility: one client script and one server script, written once, run with
-- LuaSec (`require "ssl"`, Debian's lua-sec) and with `require "wolfssl.socket"`,
-- against the same peers (openssl s_server, and each other). Their printed
-- observations must be the same line for line.
local H = require "helpers"

local have_luasec = pcall(require, "ssl")

-- The scripts take the module name as their first argument: that is the only difference.
local CLIENT = [==[
local socket = require "socket"
local ssl = require(arg[1])
local port, case = tonumber(arg[2]), arg[3]
local C = "spec/fixtures/certs/"
local function say(...)
  local t = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "number" then v = ("%d"):format(v) end
    t[#t + 1] = tostring(v)
  end
  print(table.concat(t, " "))
end
local params = { mode = "client", protocol = "any", verify = "peer", cafile = C .. "ca.pem" }
if case == "untrusted" then params.cafile = C .. "rsa-ca.pem" end
if case == "tls12" then params.protocol = "tlsv1_2" end
if case == "alpn" then params.alpn = { "h2", "http/1.1" } end
if case == "mtls" then params.certificate, params.key = C .. "client.pem", C .. "client.key" end
local s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)), params))
s:sni("localhost")
s:settimeout(5)
local ok, err = s:dohandshake()
say("handshake", ok, ok and "" or (err:match("^certificate verify failed") or err))
if not ok then
  say("receive after failure", s:receive())
  s:close()
  return
end
say("verified", (s:getpeerverification()))
local cert = s:getpeercertificate()
say("peer", cert:digest("sha256"), cert:serial())
say("chain", #s:getpeerchain())
say("protocol", s:info("protocol"))
say("alpn", s:getalpn())
say("want", s:want())
if case == "http" or case == "alpn" or case == "tls12" then
  say("send", s:send("xxGET / HTTP/1.0\r\n\r\n", 3))
  say("line", s:receive("*l"))
  say("line", s:receive("*l", "prefix:"))
elseif case == "timeout" then
  s:settimeout(0.3)
  say("receive", s:receive(5))
  say("want", s:want())
  say("dirty", s:dirty())
else -- our echo server
  say("send", s:send("hello\n"))
  say("line", s:receive("*l"))
  say("line", s:receive("*l"))
  say("count", s:receive(3))
  say("rest", s:receive("*a"))
  say("after end", s:receive("*l"))
end
local r, w = s:getstats()
say("stats", r > 0, w > 0)
s:close()
say("closed", "ok")
]==]

local SERVER = [==[
local socket = require "socket"
local ssl = require(arg[1])
local port, case = tonumber(arg[2]), arg[3]
local C = "spec/fixtures/certs/"
local params = { mode = "server", protocol = "any", certificate = C .. "server.pem", key = C .. "server.key",
  cafile = C .. "ca.pem", verify = case == "mtls" and { "peer", "fail_if_no_peer_cert" } or "none" }
local ctx = assert(ssl.newcontext(params))
local srv = assert(socket.bind("127.0.0.1", port))
srv:settimeout(20)
while true do -- until killed; the first connection is the port probe
  local c = srv:accept()
  if not c then os.exit(1) end
  local s = assert(ssl.wrap(c, ctx))
  s:settimeout(5)
  if s:dohandshake() then
    local line = s:receive("*l")
    local cert = s:getpeercertificate()
    local who = cert and cert:digest("sha256"):sub(1, 16) or "anonymous"
    s:send("ECHO " .. tostring(line) .. " from " .. who .. "\r\nsecond line\n")
    s:send("abcdef")
  end
  s:close()
end
]==]

local write_tmp = H.write_tmp

local client_path, server_path

local function run_client(mod, port, case)
  local p = assert(io.popen(("timeout 20 %s %s %s %d %s 2>&1"):format(H.lua(), client_path, mod, port, case)))
  local out = p:read("*a")
  p:close()
  return out
end

local function both(port, case)
  local a = run_client("ssl", port, case)
  local b = run_client("wolfssl.socket", port, case)
  assert.equal(a, b)
  return a
end

local function start_openssl(extra, stdin)
  local port = H.free_port()
  local pid = H.spawn(((stdin or "exec ") .. "openssl s_server -accept 127.0.0.1:%d -cert %s -key %s %s"):format(
    port, H.cert("server.pem"), H.cert("server.key"), extra))
  assert(H.wait_port(port, 5), "openssl s_server did not start")
  return port, pid
end

local function start_server(mod, case)
  local port = H.free_port()
  local pid = H.spawn(("exec %s %s %s %d %s"):format(H.lua(), server_path, mod, port, case))
  assert(H.wait_port(port, 5), "server script did not start")
  return port, pid
end

-- SHA-256 of server.pem (the certificate openssl s_server sends) by the openssl
-- CLI, as lowercase hex: what cert:digest("sha256") must print
local function peer_digest()
  local p = assert(io.popen("openssl x509 -noout -fingerprint -sha256 -in " .. H.cert("server.pem")))
  local out = p:read("*a")
  p:close()
  local hex = assert(out:match("=([%x:]+)"), out):gsub(":", ""):lower()
  assert.equal(64, #hex)
  return hex
end

local d = have_luasec and describe or pending
d("the same LuaSec scripts with ssl and wolfssl.socket", function()
  setup(function()
    client_path, server_path = write_tmp(CLIENT), write_tmp(SERVER)
  end)
  teardown(function()
    os.remove(client_path); os.remove(server_path)
  end)

  describe("client against openssl s_server", function()
    local port, pid
    setup(function() port, pid = start_openssl("-www -alpn http/1.1") end)
    teardown(function() H.kill(pid) end)

    it("verifies, reads the HTTP status line, counts bytes", function()
      local out = both(port, "http")
      assert.matches("handshake true \n", out, 1, true)
      assert.matches("peer " .. peer_digest() .. " 1003\n", out, 1, true)
      assert.matches("protocol TLSv1.3\n", out, 1, true)
      assert.matches("send 20 nil nil\nline HTTP/1.0 200 ok nil nil\nline prefix:Content-type: text/html nil nil\n", out, 1, true)
      assert.matches("closed ok", out, 1, true)
    end)

    it("negotiates ALPN", function()
      assert.matches("alpn http/1.1\n", both(port, "alpn"), 1, true)
    end)

    it("limits the protocol to TLS 1.2", function()
      assert.matches("protocol TLSv1.2\n", both(port, "tls12"), 1, true)
    end)

    it("fails on an untrusted certificate, then reports 'closed'", function()
      assert.equal("handshake false certificate verify failed\nreceive after failure nil closed \n",
        both(port, "untrusted"))
    end)
  end)

  it("times out with 'wantread' against a silent openssl s_server", function()
    -- stdin held open keeps s_server silent; the sleep must not hold the
    -- runner's output pipe (busted's stderr) for its whole life
    local port, pid = start_openssl("-quiet", "sleep 15 2>/dev/null | ")
    local ok, out = pcall(both, port, "timeout")
    H.kill(pid)
    assert(ok, out)
    assert.matches("receive nil wantread \nwant read\ndirty false\n", out, 1, true)
  end)

  for _, server_mod in ipairs({ "ssl", "wolfssl.socket" }) do
    for _, case in ipairs({ "echo", "mtls" }) do
      it(("client scripts against the %s server script (%s)"):format(server_mod, case), function()
        local port, pid = start_server(server_mod, case)
        local ok, out = pcall(both, port, case)
        H.kill(pid)
        assert(ok, out)
        local who = case == "mtls" and H.read("client.pem") and "from " or "from anonymous"
        assert.matches("line ECHO hello " .. who, out, 1, true)
        assert.matches("line second line nil nil\ncount abc nil nil\nrest def nil nil\nafter end nil closed \n", out, 1, true)
        if case == "mtls" then assert.not_matches("anonymous", out, 1, true) end
      end)
    end
  end
end)
