-- bin/wolfssl-trace options for daily debugging (issue 15): --insecure,
-- --showcerts, --keylog FILE, --json, --starttls smtp|imap|xmpp, against openssl
-- s_server and a STARTTLS responder written here (SMTP as Postfix answers, IMAP, XMPP).
local H = require "helpers"
local wolfssl = require "wolfssl"

local function cli(args)
  local p = assert(io.popen("timeout 30 " .. H.lua() .. " bin/wolfssl-trace " .. args .. " 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  return out, tonumber(out:match("exit=(%d+)\n$"))
end

-- plaintext greeting and STARTTLS, then TLS (wolfssl, blocking) on the same socket
local RESPONDER = [==[
local socket = require "socket"
local wolfssl = require "wolfssl"
local port, proto, refuse = tonumber(arg[1]), arg[2], arg[3] == "refuse"
local C = "spec/fixtures/certs/"
local ctx = assert(wolfssl.context{ mode = "server", certificate = C .. "server.pem", key = C .. "server.key" })
local srv = assert(socket.bind("127.0.0.1", port))
while true do
  local sock = assert(srv:accept())
  sock:settimeout(5)
  local go
  if proto == "smtp" then
    sock:send("220 mail.test ESMTP Postfix\r\n")
    local l = sock:receive("*l")
    if l and l:match("^EHLO ") then
      sock:send("250-mail.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n" ..
        (refuse and "" or "250-STARTTLS\r\n") .. "250 8BITMIME\r\n")
      l = sock:receive("*l")
      if l == "STARTTLS" then
        if refuse then sock:send("454 4.7.0 TLS not available\r\n")
        else sock:send("220 2.0.0 Ready to start TLS\r\n"); go = true end
      end
    end
  elseif proto == "xmpp" then
    -- RFC 6120: stream header, features, <starttls/>, <proceed/> (as Prosody sends them)
    local head = ""
    repeat local c = sock:receive(1); head = head .. (c or "") until not c or head:find("<stream:stream[^>]*>")
    local to = head:match("<stream:stream[^>]- to='([^']*)'")
    sock:send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
      .. "id='x1' from='localhost' version='1.0' xml:lang='en'>")
    if to ~= "localhost" then
      sock:send("<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
    else
      sock:send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
        .. "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>")
      local req = ""
      repeat local c = sock:receive(1); req = req .. (c or "") until not c or req:find("/>")
      if req:find("^<starttls xmlns='urn:ietf:params:xml:ns:xmpp%-tls'/>$") then
        if refuse then sock:send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>")
        else sock:send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); go = true end
      end
    end
  else
    sock:send("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
    local l = sock:receive("*l")
    local tag = l and l:match("^(%S+) STARTTLS$")
    if tag then
      sock:send("* some untagged line\r\n" .. tag .. (refuse and " NO no TLS today\r\n" or " OK Begin TLS negotiation now\r\n"))
      go = not refuse
    end
  end
  if go then
    local conn = ctx:new{ fd = sock, timeout = 5 }
    if conn:handshake() then
      while conn:shutdown() == nil do end
    end
    conn:close()
  end
  sock:close()
end
]==]

describe("wolfssl-trace options", function()
  local port, pid
  setup(function() port, pid = H.openssl_server() end)
  teardown(function() H.kill(pid) end)

  it("--insecure shows the whole handshake when verification fails, and says so", function()
    local out, code = cli(("localhost:%d --cafile %s"):format(port, H.cert("rsa-ca.pem")))
    assert.equal(1, code, out)
    out, code = cli(("localhost:%d --cafile %s --insecure"):format(port, H.cert("rsa-ca.pem")))
    assert.equal(0, code, out)
    assert.matches("Finished", out, 1, true)
    assert.matches("Verification: FAILED: unknown CA (unable to get local issuer certificate) (ignored: --insecure)\n", out, 1, true)
    assert.matches("Result: OK (TLSv1.3, TLS_AES_128_GCM_SHA256), NOT VERIFIED\n", out, 1, true)
    -- a wrong name is a verification failure like the others
    out, code = cli(("127.0.0.1:%d --cafile %s --servername wrong.example --insecure"):format(port, H.cert("ca.pem")))
    assert.equal(0, code, out)
    assert.matches("Verification: FAILED: hostname mismatch (ignored: --insecure)\n", out, 1, true)
  end)

  it("--showcerts prints the chain as PEM", function()
    local out, code = cli(("localhost:%d --cafile %s --showcerts"):format(port, H.cert("ca.pem")))
    assert.equal(0, code, out)
    assert.matches(H.read("server.pem"), out, 1, true)
    assert.matches("Verification: OK\nResult: OK", out, 1, true)
  end)

  it("--keylog FILE appends NSS key log lines", function()
    local path = os.tmpname()
    local args = ("localhost:%d --cafile %s --keylog %s"):format(port, H.cert("ca.pem"), path)
    local out, code = cli(args)
    if wolfssl.features.keylog and not wolfssl.features.keylog_tls13 then
      -- this build logs TLS 1.2 keys only: it says so, and --tls1.2 works
      assert.equal(2, code, out)
      assert.matches("--keylog: this wolfSSL build logs TLS 1.2 keys only (features.keylog_tls13 is false): add --tls1.2",
        out, 1, true)
      out, code = cli(args .. " --tls1.2")
    end
    local f = assert(io.open(path))
    local lines = {}
    for l in f:lines() do lines[#lines + 1] = l end
    f:close()
    os.remove(path)
    if not wolfssl.features.keylog then
      assert.equal(2, code)
      assert.matches("--keylog: this wolfSSL build has no key log callback", out, 1, true)
      return
    end
    assert.equal(0, code, out)
    assert.is_true(#lines >= (wolfssl.features.keylog_tls13 and 4 or 1), out)
    for _, l in ipairs(lines) do
      assert.matches("^[A-Z0-9_]+ %x+ %x+$", l)
    end
    assert.matches(wolfssl.features.keylog_tls13 and "CLIENT_HANDSHAKE_TRAFFIC_SECRET" or "CLIENT_RANDOM",
      table.concat(lines, "\n"), 1, true)
    out, code = cli(("localhost:%d --tls1.2 --keylog /nonexistent/dir/x"):format(port))
    assert.equal(2, code)
    assert.matches("--keylog: /nonexistent/dir/x", out, 1, true)
  end)

  it("--json: one JSON object per line, the messages then the summary", function()
    local out, code = cli(("localhost:%d --cafile %s --json"):format(port, H.cert("ca.pem")))
    assert.equal(0, code, out)
    local lines = {}
    for l in out:gsub("exit=%d+\n$", ""):gmatch("[^\n]+") do lines[#lines + 1] = l end
    for _, l in ipairs(lines) do assert.matches("^{.*}$", l) end
    assert.matches('"direction":"sent","event":"message"', lines[1], 1, true)
    assert.matches('"type":"client_hello"', lines[1], 1, true)
    assert.matches('"type":"server_hello"', out, 1, true)
    local last = lines[#lines]
    assert.matches('^{"chain":%[{"issuer":"O=lua%-wolfssl tests, CN=Test Root CA"', last)
    assert.matches('"event":"summary"', last, 1, true)
    assert.matches('"ok":true', last, 1, true)
    assert.matches('"verified":true', last, 1, true)
    assert.matches('"version":"TLSv1.3"', last, 1, true)
  end)

  describe("--starttls", function()
    local rpath
    setup(function()
      rpath = H.write_tmp(RESPONDER)
    end)
    teardown(function() os.remove(rpath) end)

    for _, proto in ipairs({ "smtp", "imap", "xmpp" }) do
      it(proto .. ": the plaintext part, then the traced handshake; a refusal is exit 1", function()
        local rport = H.free_port()
        local rpid = H.spawn(("exec %s %s %d %s"):format(H.lua(), rpath, rport, proto))
        local rport2 = H.free_port()
        local rpid2 = H.spawn(("exec %s %s %d %s refuse"):format(H.lua(), rpath, rport2, proto))
        local ok, err = pcall(function()
          assert(H.wait_port(rport, 5) and H.wait_port(rport2, 5), "responder did not start")
          local out, code = cli(("localhost:%d --cafile %s --starttls %s"):format(rport, H.cert("ca.pem"), proto))
          assert.equal(0, code, out)
          assert.matches("ClientHello", out, 1, true)
          assert.matches("Verification: OK\nResult: OK (TLSv1.3", out, 1, true)
          out, code = cli(("localhost:%d --cafile %s --starttls %s"):format(rport2, H.cert("ca.pem"), proto))
          assert.equal(1, code, out)
          assert.matches(("STARTTLS (%s) with localhost:%d failed: STARTTLS: "):format(proto, rport2), out, 1, true)
        end)
        H.kill(rpid); H.kill(rpid2)
        assert(ok, err)
      end)
    end

    it("xmpp: the stream's 'to' is the server name; a stream error is exit 1 and named", function()
      local rport = H.free_port()
      local rpid = H.spawn(("exec %s %s %d xmpp"):format(H.lua(), rpath, rport))
      local ok, err = pcall(function()
        assert(H.wait_port(rport, 5), "responder did not start")
        local out, code = cli(("127.0.0.1:%d --servername other.test --cafile %s --starttls xmpp"):format(rport, H.cert("ca.pem")))
        assert.equal(1, code, out)
        assert.matches(("STARTTLS (xmpp) with 127.0.0.1:%d failed: stream features: stream error: host-unknown"):format(rport),
          out, 1, true)
      end)
      H.kill(rpid)
      assert(ok, err)
    end)

    it("takes smtp, imap or xmpp only", function()
      local out, code = cli("localhost --starttls pop3")
      assert.equal(2, code)
      assert.matches("--starttls pop3: expected smtp, imap or xmpp", out, 1, true)
    end)
  end)
end)
