-- wolfssl.socket: LuaSec's API over LuaSocket, against real peers on 127.0.0.1
-- (openssl s_server, and a wolfssl.socket server in a child process).
local socket = require "socket"
local ssl = require "wolfssl.socket"
local H = require "helpers"

local CA = H.cert("ca.pem")

local openssl_server = H.openssl_server

-- A wolfssl.socket server in a child process: serves one connection with `body`.
local SERVER = [[
local socket = require "socket"
local ssl = require "wolfssl.socket"
local port, what = tonumber(arg[1]), arg[2]
local srv = assert(socket.bind("127.0.0.1", port))
local params = { mode = "server", protocol = "any", certificate = "spec/fixtures/certs/server.pem",
  key = "spec/fixtures/certs/server.key", cafile = "spec/fixtures/certs/ca.pem",
  verify = what == "mtls" and { "peer", "fail_if_no_peer_cert" } or "none" }
srv:settimeout(20)
while true do -- until killed (the first connection is wait_port's probe)
  local c = srv:accept()
  if not c then os.exit(1) end
  local s = assert(ssl.wrap(c, params))
  if what == "sni" then
    local other = assert(ssl.newcontext{ mode = "server", certificate = "spec/fixtures/certs/wronghost.pem",
      key = "spec/fixtures/certs/wronghost.key" })
    s:sni({ ["other.example"] = other, localhost = assert(ssl.newcontext(params)) }, true)
  end
  s:settimeout(5)
  local ok, err = s:dohandshake()
  if ok then
    if what == "lines" then
      s:send("first line\r\nsecond\nabcdefghij")
      s:send("tail of the stream")
    elseif what == "echo" or what == "mtls" then
      local line = s:receive("*l")
      local cert = s:getpeercertificate()
      s:send((line or "?"):upper() .. " " .. (cert and tostring(cert:subject()):match("CN=([^,]+)") or "anonymous") .. "\n")
    elseif what == "sni" then
      s:receive("*l")
      s:send("asked for " .. tostring(s:getsniname()) .. "\n")
    elseif what == "silent" then
      socket.sleep(1.5)
    end
  end
  s:close()
end
]]

local function our_server(what)
  local port = H.free_port()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(SERVER)
  f:close()
  local pid = H.spawn(("exec %s %s %d %s"):format(H.lua(), path, port, what))
  assert(H.wait_port(port, 5), "lua server did not start")
  return port, pid, path
end

local function client(port, params, name)
  local tcp = assert(socket.connect("127.0.0.1", port))
  local p = { mode = "client", protocol = "any", verify = "peer", cafile = CA }
  for k, v in pairs(params or {}) do p[k] = v end
  local s = assert(ssl.wrap(tcp, p))
  if name ~= false then s:sni(name or "localhost") end
  s:settimeout(5)
  return s
end

describe("wolfssl.socket", function()
  describe("newcontext", function()
    it("maps LuaSec parameters onto a wolfssl context", function()
      local ctx = assert(ssl.newcontext{ mode = "server", protocol = "tlsv1_2",
        certificate = H.cert("server.pem"), key = H.cert("server.key"),
        verify = { "peer", "fail_if_no_peer_cert" }, options = { "all", "no_sslv3" },
        ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256", curveslist = "P-256", depth = 4 })
      assert.equal("server", ctx:mode())
    end)

    it("raises on unknown keys, bad values and what wolfSSL cannot do", function()
      assert.has_error(function() ssl.newcontext{ mode = "client", protcol = "any" } end,
        "bad argument #1 to 'newcontext' (unknown option 'protcol' (did you mean 'protocol'?))")
      -- issue 15: an unknown or insecure protocol is LuaSec's nil, "invalid protocol (...)", saying why
      local ctx, err = ssl.newcontext{ mode = "client", protocol = "sslv3" }
      assert.is_nil(ctx)
      assert.equal('invalid protocol (sslv3): SSL 3.0 is obsolete and insecure; use "tlsv1_2", "tlsv1_3" or "any"', err)
      assert.error_matches(function() ssl.newcontext{ mode = "client", protocol = 1.2 } end,
        "bad option 'protocol'")
      assert.error_matches(function() ssl.newcontext{ mode = "client", verify = "maybe" } end,
        "bad option 'verify'")
      assert.error_matches(function() ssl.newcontext{ mode = "client", options = { "no_such" } } end,
        "bad option 'options': unknown or unsupported option")
      assert.error_matches(function() ssl.newcontext{ mode = "server", dhparam = function() end } end,
        "bad option 'dhparam': is not supported")
      assert.error_matches(function() ssl.newcontext{ mode = "nope" } end, "bad option 'mode'")
    end)

    it("takes LuaSec 1.3's psk callbacks (client and server, with a hint) as on_psk", function()
      local wolfssl = require "wolfssl"
      if not wolfssl.features.psk then
        assert.error_matches(function() ssl.newcontext{ mode = "client", psk = function() end } end,
          "bad option 'psk': PSK is not supported by this wolfSSL build")
        return pending("PSK is not supported by this wolfSSL build")
      end
      local seen = {}
      local sctx = assert(ssl.newcontext{ mode = "server", protocol = "tlsv1_2", psk = {
        hint = "fleet", callback = function(identity, max)
          seen.identity, seen.max_key = identity, max
          return identity == "abcd" and "1234" or nil
        end } })
      local function client(id)
        return assert(ssl.newcontext{ mode = "client", protocol = "tlsv1_2", verify = "none",
          psk = function(hint, max_id, max_key)
            seen.hint, seen.max_id = hint, max_id
            return id, "1234"
          end })
      end
      local c, s, ok, side, err = H.pair(client("abcd"), sctx)
      assert(ok, tostring(side) .. ": " .. tostring(err))
      assert.matches("PSK", c:cipher())
      assert.same({ identity = "abcd", max_key = 64, hint = "fleet", max_id = 127 }, seen)
      -- an identity the server does not know fails the handshake
      c, s, ok = H.pair(client("nobody"), sctx)
      assert.is_nil(ok)
      assert.error_matches(function() ssl.newcontext{ mode = "client", psk = { hint = "x" } } end,
        "bad option 'psk': expected a function")
      assert.error_matches(function() ssl.newcontext{ mode = "server", psk = { hint = "", callback = print } } end,
        "bad option 'psk': hint must be a non%-empty string")
    end)

    it("returns nil and a message when a file cannot be loaded", function()
      local ctx, err = ssl.newcontext{ mode = "server", certificate = "/nonexistent.pem", key = H.cert("server.key") }
      assert.is_nil(ctx)
      assert.matches("cannot read file '/nonexistent.pem'", err)
      ctx, err = ssl.newcontext{ mode = "client", password = 42, key = H.cert("server.key") }
      assert.is_nil(ctx)
      assert.equal("invalid password type", err)
    end)
  end)

  describe("client against openssl s_server", function()
    local port, pid
    setup(function() port, pid = openssl_server("-www -alpn http/1.1") end)
    teardown(function() H.kill(pid) end)

    it("handshakes, verifies, negotiates ALPN and reads lines", function()
      local s = client(port, { alpn = { "h2", "http/1.1" } })
      assert.same({ true }, { s:dohandshake() })
      assert.equal("http/1.1", s:getalpn())
      assert.is_true(s:getpeerverification())
      assert.equal(H.read("server.pem"):match("%-%-%-%-%-BEGIN.-END CERTIFICATE%-%-%-%-%-"),
        s:getpeercertificate():pem():match("%-%-%-%-%-BEGIN.-END CERTIFICATE%-%-%-%-%-"))
      assert.equal("TLSv1.3", s:info("protocol"))
      assert.equal("TLSv1.3", s:info().protocol)
      assert.equal(18, s:send("GET / HTTP/1.0\r\n\r\n"))
      assert.equal("HTTP/1.0 200 ok", s:receive("*l"))
      assert.equal("Content-type: text/html", s:receive())
      local rest = s:receive("*a")
      assert.matches("</HTML>", rest, 1, true)
      local received, sent, age = s:getstats()
      assert.equal(18, sent)
      assert.truthy(received > #rest)
      assert.truthy(age >= 0)
      s:close()
    end)

    it("protocol = tlsv1_2 gives TLS 1.2", function()
      local s = client(port, { protocol = "tlsv1_2" })
      assert.is_true(s:dohandshake())
      assert.equal("TLSv1.2", s:info("protocol"))
      s:close()
    end)

    it("fails verification against an unknown CA", function()
      local s = client(port, { cafile = H.cert("rsa-ca.pem") })
      local ok, err = s:dohandshake()
      assert.is_false(ok)
      assert.matches("^certificate verify failed", err)
      -- the connection is dead now: LuaSec's "closed"
      assert.same({ nil, "closed", "" }, { s:receive() })
      s:close()
    end)

    it("checks the host name given to sni()", function()
      local s = client(port, {}, "wrong.example")
      local ok, err = s:dohandshake()
      assert.is_false(ok)
      assert.matches("hostname", err)
      s:close()
    end)

    -- issue 15 changed this: LuaSec checks no name at all, and a verifying
    -- client without one used to accept any trusted certificate silently
    it("without sni() or host= a verifying client refuses to start, saying how", function()
      local s = client(port, {}, false)
      local ok, err = s:dohandshake()
      assert.is_false(ok)
      assert.equal('no host name to check the certificate against: call conn:sni("name") before the handshake, '
        .. 'or pass host = "name" in the parameters of wrap (verify = "none" checks nothing)', err)
      s:close()
      s = client(port, { host = "localhost" }, false)
      assert.is_true(s:dohandshake())
      s:close()
      s = client(port, { host = "wrong.example" }, false)
      ok, err = s:dohandshake()
      assert.is_false(ok)
      assert.matches("hostname", err)
      s:close()
    end)

    it("verifies by default (LuaSec does not) and verify = 'none' opts out", function()
      local tcp = assert(socket.connect("127.0.0.1", port))
      local s = assert(ssl.wrap(tcp, { mode = "client", cafile = H.cert("rsa-ca.pem"), host = "localhost" }))
      s:settimeout(5)
      local ok, err = s:dohandshake()
      assert.is_false(ok)
      assert.matches("^certificate verify failed", err)
      s:close()
      tcp = assert(socket.connect("127.0.0.1", port))
      s = assert(ssl.wrap(tcp, { mode = "client", verify = "none" }))
      s:settimeout(5)
      assert.is_true(s:dohandshake())
      s:close()
    end)

    it("raises on any method after close, and close twice is fine", function()
      local s = client(port)
      assert.is_true(s:dohandshake())
      s:close()
      s:close()
      for _, m in ipairs({ "receive", "send", "dohandshake", "getpeercertificate", "info", "getfd",
                           "dirty", "want", "getalpn", "getstats", "settimeout", "getpeerverification" }) do
        assert.has_error(function() s[m](s, "x") end, "attempt to use a closed connection")
      end
    end)

    it("takes the socket over, as LuaSec does", function()
      local tcp = assert(socket.connect("127.0.0.1", port))
      local fd = tcp:getfd()
      local s = assert(ssl.wrap(tcp, { mode = "client", verify = "none" }))
      assert.equal(fd, s:getfd())
      assert.equal(-1, tcp:getfd())
      tcp:close() -- does not touch the wrapped descriptor
      assert.is_true(s:dohandshake())
      s:close()
    end)
  end)

  describe("against a wolfssl.socket server", function()
    it("receives lines, counts and the rest of the stream", function()
      local port, pid, path = our_server("lines")
      local s = client(port)
      assert.is_true(s:dohandshake())
      assert.equal("first line", s:receive("*l"))
      assert.equal(">second", s:receive("*l", ">"))
      assert.equal("abcd", s:receive(4))
      assert.equal("efghij", s:receive(6))
      assert.equal("tail of the stream", s:receive("*a"))
      assert.same({ nil, "closed", "" }, { s:receive("*l") })
      s:close()
      H.kill(pid); os.remove(path)
    end)

    it("reports partial data and 'closed' when the stream ends early", function()
      local port, pid, path = our_server("lines")
      local s = client(port)
      assert.is_true(s:dohandshake())
      assert.equal("first line", s:receive())
      assert.equal("second", s:receive())
      assert.same({ nil, "closed", "abcdefghijtail of the stream" }, { s:receive(1000) })
      s:close()
      H.kill(pid); os.remove(path)
    end)

    it("times out with LuaSec's 'wantread' and the partial data", function()
      local port, pid, path = our_server("silent")
      local s = client(port)
      assert.is_true(s:dohandshake())
      s:settimeout(0.2)
      local t0 = socket.gettime()
      assert.same({ nil, "wantread", "" }, { s:receive(10) })
      assert.truthy(socket.gettime() - t0 >= 0.15)
      assert.equal("read", s:want())
      s:close()
      H.kill(pid); os.remove(path)
    end)

    it("works with socket.select (getfd, dirty) and timeout 0", function()
      local port, pid, path = our_server("echo")
      local s = client(port)
      s:settimeout(0)
      local ok, err
      for _ = 1, 200 do
        ok, err = s:dohandshake()
        if ok then break end
        assert.truthy(err == "wantread" or err == "wantwrite", err)
        if err == "wantread" then socket.select({ s }, nil, 1) else socket.select(nil, { s }, 1) end
      end
      assert.is_true(ok)
      assert.equal(6, s:send("hello\n"))
      local line
      for _ = 1, 200 do
        local got, e = s:receive("*l")
        if got then line = got break end
        assert.equal("wantread", e)
        socket.select({ s }, nil, 1)
      end
      assert.equal("HELLO anonymous", line)
      assert.is_false(s:dirty())
      s:close()
      H.kill(pid); os.remove(path)
    end)

    it("server sni{name = ctx} picks the certificate by name; strict refuses others", function()
      local port, pid, path = our_server("sni")
      local s = client(port, {}, "other.example")
      local ok, err = s:dohandshake()
      assert(ok, err)
      assert.matches("CN=wrong.example", tostring(s:getpeercertificate():subject()))
      s:send("x\n")
      assert.equal("asked for other.example", s:receive())
      s:close()
      s = client(port, {}, "localhost")
      assert.is_true(s:dohandshake())
      assert.matches("CN=localhost", tostring(s:getpeercertificate():subject()))
      s:close()
      s = client(port, { verify = "none" }, "unknown.example")
      ok, err = s:dohandshake()
      assert.is_false(ok)
      assert.matches("unrecognized_name", err)
      s:close()
      H.kill(pid); os.remove(path)
    end)

    it("does mutual TLS: fail_if_no_peer_cert refuses a client without a certificate", function()
      local port, pid, path = our_server("mtls")
      local s = client(port, { certificate = H.cert("client.pem"), key = H.cert("client.key") })
      assert.is_true(s:dohandshake())
      s:send("who\n")
      assert.equal("WHO Test Client", s:receive())
      s:close()
      s = client(port)
      local ok, err = s:dohandshake()
      if ok then -- TLS 1.3: the client learns of the refusal on its first read
        ok, err = s:receive()
      end
      assert.falsy(ok)
      assert.is_string(err)
      s:close()
      H.kill(pid); os.remove(path)
    end)
  end)
end)
