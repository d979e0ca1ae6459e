-- bin/wolfssl-trace against real peers on 127.0.0.1: openssl s_server, gnutls-serv.
local H = require "helpers"

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
      or os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == 0
end

local function cli(args)
  local p = assert(io.popen("timeout 30 " .. H.lua() .. " bin/wolfssl-trace " .. args .. " 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  return out, tonumber(out:match("exit=(%d+)\n$"))
end

local CA = H.cert("ca.pem")

-- A traced memory-mode client over a TCP socket, so the test holds every byte
-- it sends: returns the connection, the socket, the trace lines.
local function socket_client(port, max_version)
  local wolfssl, trace, socket = require "wolfssl", require "wolfssl.trace", require "socket"
  local sock = socket.tcp()
  sock:settimeout(10)
  assert(sock:connect("127.0.0.1", port))
  local lines = {}
  local o = { mode = "client", cafile = CA, max_version = max_version }
  trace.attach(o, lines)
  local conn = assert(wolfssl.context(o)):new({ server_name = "localhost" })
  return conn, sock, lines
end

-- the next TLS record from the socket (waits for it), nil once closed
local function next_record(sock)
  local hdr = sock:receive(5)
  if not hdr then return nil end
  local body = sock:receive(hdr:byte(4) * 256 + hdr:byte(5))
  return body and hdr .. body
end

-- handshake, then one application record with its last byte flipped: the
-- server fails its integrity check and answers with an encrypted fatal alert.
-- Returns the client's trace lines and what its read() said.
local function tamper_after_handshake(port, max_version)
  local conn, sock, lines = socket_client(port, max_version)
  while true do
    local ok, err = conn:handshake()
    local out = conn:drain()
    if #out > 0 then assert(sock:send(out)) end
    if ok then break end
    assert.equal("wantread", err)
    conn:feed(assert(next_record(sock), "the server closed during the handshake"))
  end
  assert(conn:write("hello\n"))
  local out = conn:drain()
  assert(sock:send(out:sub(1, -2) .. string.char((out:byte(-1) + 1) % 256)))
  local data, err
  repeat -- tickets may come first (TLS 1.3), then the alert
    local r = next_record(sock)
    if not r then break end
    conn:feed(r)
    data, err = conn:read()
  until not data and err ~= "wantread"
  conn:close()
  sock:close()
  return table.concat(lines, "\n"), err
end

-- what the trace must say about a peer's fatal alert after the keys are in
-- force: the alert received, named, and why it is named; nothing sent
local function assert_peer_alert(text, err, version)
  assert.matches("bad_record_mac", tostring(err))
  assert.matches("C <%- S  Alert +fatal bad_record_mac", text)
  assert.is_nil(text:find("C -> S  Alert", 1, true), text) -- we sent no alert
  assert.is_nil(text:find("decode_error", 1, true), text)
  if version == "tls1.2" then
    assert.matches("C <%- S  Alert +fatal bad_record_mac  %[encrypted record, named from wolfSSL's alert history%]", text)
  end
end

describe("wolfssl-trace", function()
  it("explains its usage and exits 2 on bad arguments", function()
    local out, rc = cli("")
    assert.equal(2, rc)
    assert.matches("usage: wolfssl%-trace host", out)
    out, rc = cli("127.0.0.1:1 --bogus")
    assert.equal(2, rc)
    assert.matches("unknown option %-%-bogus", out)
    out, rc = cli("127.0.0.1:1 --cert x")
    assert.equal(2, rc)
  end)

  it("takes a bad port for a usage error, exit 2, before connecting", function()
    for _, t in ipairs({ "localhost:abc", "localhost:", "localhost:0", "localhost:65536",
                         "[::1]:abc", "[::1]x", ":443" }) do
      local out, rc = cli(t)
      assert.equal(2, rc, t)
      assert.matches("usage: wolfssl%-trace host", out, 1, false, t)
      assert.not_matches("cannot connect", out, 1, false, t)
    end
    local out = cli("localhost:abc")
    assert.matches("bad port in localhost:abc", out, 1, true)
  end)

  it("exits 1 when nothing listens", function()
    local out, rc = cli(("127.0.0.1:%d --cafile %s --timeout 2"):format(H.free_port(), CA))
    assert.equal(1, rc)
    assert.matches("cannot connect", out)
  end)

  -- one server for the whole block: it serves one client after another
  describe("against openssl s_server", function()
    local port, pid
    setup(function()
      assert(have("openssl"), "openssl is needed")
      port = H.free_port()
      pid = H.spawn(("exec timeout 120 openssl s_server -accept %d -cert %s -key %s -cert_chain %s -alpn h2 -quiet")
        :format(port, H.cert("server-chain.pem"), H.cert("server-chain.key"), H.cert("inter.pem")))
      assert(H.wait_port(port, 5), "openssl s_server did not start")
    end)
    teardown(function() H.kill(pid) end)

    it("prints the TLS 1.3 trace, the chain and the verification, exit 0", function()
      local out, rc = cli(("127.0.0.1:%d --servername chain.localhost --cafile %s --alpn h2,http/1.1"):format(port, CA))
      assert.equal(0, rc, out)
      assert.matches("C %-> S  ClientHello +versions TLSv1.3,TLSv1.2;.- SNI chain.localhost; ALPN h2,http/1.1", out)
      assert.matches("C <%- S  ServerHello +TLSv1.3", out)
      assert.matches("EncryptedExtensions ALPN h2", out)
      assert.matches("C <%- S  Certificate +CN=chain.localhost, issued by CN=Test Intermediate CA.-%(%+1 more in the chain%)", out)
      assert.matches("Certificate chain sent by the server:\n  0  CN=chain.localhost, issued by CN=Test Intermediate CA", out)
      assert.matches("\n  1  CN=Test Intermediate CA, issued by CN=Test Root CA", out)
      assert.matches("Verification: OK", out)
      assert.matches("Result: OK %(TLSv1.3, TLS_", out)
    end)

    it("forces TLS 1.2 and shows the key exchange", function()
      local out, rc = cli(("127.0.0.1:%d --servername chain.localhost --cafile %s --tls1.2"):format(port, CA))
      assert.equal(0, rc, out)
      assert.matches("ServerKeyExchange +ECDHE", out)
      assert.matches("ClientKeyExchange", out)
      assert.matches("Result: OK %(TLSv1.2,", out)
    end)

    it("prints our close_notify with the trace, before the summary and the result (issue 16)", function()
      for _, v in ipairs({ "--tls1.2", "--tls1.3" }) do
        local out, rc = cli(("127.0.0.1:%d --servername chain.localhost --cafile %s %s"):format(port, CA, v))
        assert.equal(0, rc, out)
        local close = out:find("C -> S  Alert               warning close_notify", 1, true)
        assert.truthy(close, out)
        assert.is_true(close < out:find("  == TLSv1.", 1, true), out)
        assert.is_true(close < out:find("Result: OK", 1, true), out)
        assert.is_nil(out:find("close_notify", out:find("Result: OK", 1, true), true), out)
      end
    end)

    it("exits 1 with the reason when the name does not match", function()
      local out, rc = cli(("127.0.0.1:%d --servername nothere.example --cafile %s"):format(port, CA))
      assert.equal(1, rc)
      assert.matches("Alert +fatal bad_certificate", out)
      assert.matches("Result: handshake FAILED: hostname mismatch", out)
      assert.matches("Verification: FAILED", out)
    end)
  end)

  describe("TLS 1.2 signature schemes name no curve (issue 16)", function()
    local pid
    after_each(function() H.kill(pid) end)

    local function traced(cmd, name)
      assert(have(name), name .. " is needed")
      local port = H.free_port()
      pid = H.spawn(cmd:format(port, H.cert("server.pem"), H.cert("server.key")))
      assert(H.wait_port(port, 5), name .. " did not start")
      local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s"):format(port, CA))
      assert.equal(0, rc, out)
      return out
    end

    it("openssl s_server -sigalgs ECDSA+SHA512 with a P-256 key: ecdsa_sha512", function()
      local out = traced("exec timeout 30 openssl s_server -accept %d -cert %s -key %s -tls1_2 -sigalgs ECDSA+SHA512 -quiet", "openssl")
      assert.matches("C <%- S  ServerKeyExchange +ECDHE; group X25519; public key 32 bytes; signed with ecdsa_sha512\n", out)
      assert.is_nil(out:find("secp521r1", 1, true), out)
      assert.matches("Result: OK %(TLSv1.2,", out)
    end)

    it("gnutls-serv with only SIGN-ECDSA-SHA512 and a P-256 key: ecdsa_sha512", function()
      local out = traced("exec timeout 30 gnutls-serv --port %d --x509certfile %s --x509keyfile %s " ..
                         "--priority NORMAL:-VERS-ALL:+VERS-TLS1.2:-SIGN-ALL:+SIGN-ECDSA-SHA512", "gnutls-serv")
      assert.matches("C <%- S  ServerKeyExchange +ECDHE; group X25519; public key 32 bytes; signed with ecdsa_sha512\n", out)
      assert.is_nil(out:find("secp521r1", 1, true), out)
      assert.matches("Result: OK %(TLSv1.2,", out)
    end)

    it("TLS 1.2 Finished both ways, decrypted, with AES-GCM and ChaCha20-Poly1305 (openssl, gnutls)", function()
      local fin = "C %-> S  Finished +verify_data " .. ("%x"):rep(24) .. " %(12 bytes%)\n.*" ..
                  "C <%- S  Finished +verify_data " .. ("%x"):rep(24) .. " %(12 bytes%)\n"
      for _, cipher in ipairs({ "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305" }) do
        local out = traced("exec timeout 30 openssl s_server -accept %d -cert %s -key %s -tls1_2 -cipher " .. cipher .. " -quiet", "openssl")
        assert.matches(fin, out)
        assert.matches("Result: OK %(TLSv1.2, " .. cipher:gsub("%-", "%%-") .. "%)", out)
        H.kill(pid)
      end
      local out = traced("exec timeout 30 gnutls-serv --port %d --x509certfile %s --x509keyfile %s " ..
                         "--priority NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305", "gnutls-serv")
      assert.matches(fin, out)
      assert.matches("Result: OK %(TLSv1.2, ECDHE%-ECDSA%-CHACHA20%-POLY1305%)", out)
    end)

    it("TLS 1.3 keeps the curve in the name (it is part of the scheme there)", function()
      local out = traced("exec timeout 30 openssl s_server -accept %d -cert %s -key %s -tls1_3 -quiet", "openssl")
      assert.matches("Result: OK %(TLSv1.3,", out)
      local decrypted = (require "wolfssl").features.msg_trace_decrypted
      if decrypted then
        assert.matches("C <%- S  CertificateVerify +signed with ecdsa_secp256r1_sha256", out)
      else
        assert.matches("C <%- S  CertificateVerify +proof of the private key  %[inferred", out)
      end
    end)
  end)

  describe("a peer's fatal alert once the keys are in force (issue 16)", function()
    local pid
    after_each(function() H.kill(pid) end)
    local function server(cmd, name)
      assert(have(name), name .. " is needed")
      local port = H.free_port()
      pid = H.spawn(cmd:format(port, H.cert("server.pem"), H.cert("server.key")))
      assert(H.wait_port(port, 5), name .. " did not start")
      return port
    end

    for _, v in ipairs({ "tls1.2", "tls1.3" }) do
      it("openssl s_server, " .. v .. ": named, with why, and none of ours invented", function()
        local port = server("exec timeout 30 openssl s_server -accept %d -cert %s -key %s -rev -quiet", "openssl")
        local text, err = tamper_after_handshake(port, v)
        assert_peer_alert(text, err, v)
      end)

      it("gnutls-serv, " .. v .. ": named, with why, and none of ours invented", function()
        local port = server("exec timeout 30 gnutls-serv --port %d --x509certfile %s --x509keyfile %s", "gnutls-serv")
        local text, err = tamper_after_handshake(port, v)
        assert_peer_alert(text, err, v)
      end)
    end
  end)

  describe("--pcap FILE and the key schedule (issue 16)", function()
    local wolfssl = require "wolfssl"
    local pid, paths = nil, {}
    after_each(function() H.kill(pid) end)
    teardown(function() for _, p in ipairs(paths) do os.remove(p) end end)

    local function server(cmd, name)
      assert(have(name), name .. " is needed")
      local port = H.free_port()
      pid = H.spawn(cmd:format(port, H.cert("server.pem"), H.cert("server.key")))
      assert(H.wait_port(port, 5), name .. " did not start")
      return port
    end

    -- one tshark run (each start costs ~0.6 s of CPU): the handshake message
    -- types ("1,2,11,..."), then the bytes it decrypted, both directions, as text
    local function tshark_read(path)
      assert(have("tshark"), "tshark is needed (Debian package tshark)")
      local p = assert(io.popen("tshark -r " .. path .. " -T fields -e tls.handshake.type -z follow,tls,ascii,0 2>/dev/null"))
      local out = p:read("*a")
      p:close()
      local fields, follow = out:match("^(.-)\n(=+\nFollow: .*)$")
      assert(fields, out)
      return fields:gsub("%s+", ","):gsub("^,", ""):gsub(",$", ""), follow
    end

    local SERVERS = {
      { "openssl s_server -www", "exec timeout 30 openssl s_server -accept %d -cert %s -key %s -www -quiet", "openssl",
        "HTTP/1.0 200 ok" },
      { "gnutls-serv --http", "exec timeout 30 gnutls-serv --port %d --x509certfile %s --x509keyfile %s --http", "gnutls-serv",
        "HTTP/1.0 200 OK" },
    }
    for _, sv in ipairs(SERVERS) do
      for _, v in ipairs({ "tls1.2", "tls1.3" }) do
        it(sv[1] .. ", " .. v .. ": tshark opens the capture decrypted, no key log file to configure", function()
          local port = server(sv[2], sv[3])
          local path = os.tmpname()
          paths[#paths + 1] = path
          local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s --%s --get / --pcap %s")
            :format(port, CA, v, path))
          assert.equal(0, rc, out)
          assert.matches("HTTP response: " .. sv[4], out)
          assert.matches("%*%*  Keys ", out)
          local types, follow = tshark_read(path)
          if v == "tls1.2" or wolfssl.features.secret_callback then
            assert.matches("Capture: " .. path:gsub("%p", "%%%0") .. ", %d+ packets, decryption secrets embedded %(%d key log lines?%)", out)
            assert.matches("GET / HTTP/1.1\r?\nHost: localhost", follow)
            assert.matches(sv[4], follow, 1, true)
            -- every handshake message, the Finished ones decrypted
            -- (gnutls-serv asks for a client certificate too: 13, then our empty 11)
            local want = v == "tls1.2" and { 1, 2, 11, 12, 14, 16, 20, 20 } or { 1, 2, 8, 11, 15, 20, 20 }
            local i = 1
            for t in types:gmatch("%d+") do
              if tonumber(t) == want[i] then i = i + 1 end
            end
            assert.equal(#want + 1, i, types)
          else -- no TLS 1.3 secret callback: said so, and nothing decrypted
            assert.matches("no decryption secrets: this wolfSSL build has no TLS 1.3 secret callback, tshark shows the hellos only", out)
            assert.equal("1,2", types)
            assert.is_nil(follow:find("GET /", 1, true), follow)
          end
        end)
      end
    end

    it("gnutls-serv without extended master secret: the master secret from both randoms, and tshark still decrypts", function()
      local port = server("exec timeout 30 gnutls-serv --port %d --x509certfile %s --x509keyfile %s --http " ..
                          "--priority NORMAL:%%NO_SESSION_HASH", "gnutls-serv")
      local path = os.tmpname()
      paths[#paths + 1] = path
      local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s --tls1.2 --get / --pcap %s --secrets")
        :format(port, CA, path))
      assert.equal(0, rc, out)
      assert.matches("C %-> S  ClientKeyExchange[^\n]*\n  %*%*  Keys +master secret and key block, TLS 1.2 PRF %(SHA%-%d+%); " ..
                     "inputs: X25519 shared secret %(ECDHE%) as premaster secret, client_random %+ server_random " ..
                     "%(no extended master secret%)", out)
      assert.matches("master_secret +48 bytes  PRF%(premaster_secret, \"master secret\", client_random %+ server_random%)\n" ..
                     "          = " .. ("%x"):rep(96) .. "  %[SECRET, shown because secrets = true%]", out)
      assert.matches("HTTP/1.0 200 OK", select(2, tshark_read(path)), 1, true)
    end)

    it("openssl s_server, TLS 1.2: extended master secret; no secret bytes unless --secrets", function()
      local port = server("exec timeout 30 openssl s_server -accept %d -cert %s -key %s -quiet", "openssl")
      local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s --tls1.2"):format(port, CA))
      assert.equal(0, rc, out)
      assert.matches("session hash ClientHello..ClientKeyExchange %(extended master secret%)", out)
      assert.is_nil(out:find(("%x"):rep(32)), out)
      assert.is_nil(out:find("SECRET", 1, true), out)
    end)

    it("a capture it cannot write: a usage error before the handshake", function()
      local port = server("exec timeout 30 openssl s_server -accept %d -cert %s -key %s -quiet", "openssl")
      local out, rc = cli(("127.0.0.1:%d --cafile %s --pcap /nonexistent-dir/x.pcapng"):format(port, CA))
      assert.equal(2, rc, out)
      assert.matches("%-%-pcap: /nonexistent%-dir/x.pcapng", out)
      assert.is_nil(out:find("ClientHello", 1, true), out)
    end)
  end)

  describe("against gnutls-serv", function() -- (one server for the block, as above)
    local port, pid
    setup(function()
      assert(have("gnutls-serv"), "gnutls-serv is needed")
      port = H.free_port()
      pid = H.spawn(("exec timeout 120 gnutls-serv --port %d --x509certfile %s --x509keyfile %s --require-client-cert --x509cafile %s")
        :format(port, H.cert("server.pem"), H.cert("server.key"), CA))
      assert(H.wait_port(port, 5), "gnutls-serv did not start")
    end)
    teardown(function() H.kill(pid) end)

    it("does mutual TLS with --cert/--key", function()
      local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s --cert %s --key %s")
        :format(port, CA, H.cert("client.pem"), H.cert("client.key")))
      assert.equal(0, rc, out)
      assert.matches("CertificateRequest", out)
      assert.matches("C %-> S  Certificate +CN=Test Client", out)
      assert.matches("Verification: OK", out)
    end)

    it("shows the peer's fatal decode_error (no client certificate), and no alert of ours (issue 16)", function()
      local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s --tls1.2"):format(port, CA))
      assert.equal(1, rc, out)
      assert.matches("C %-> S  Finished", out)
      assert.matches("C <%- S  Alert +fatal decode_error\n", out)
      assert.is_nil(out:find("C -> S  Alert", 1, true), out) -- we sent none
      assert.matches("Result: handshake FAILED", out)
    end)

    it("fails, exit 1, when the server's CA is not trusted", function()
      local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s --tls1.2"):format(port, H.cert("rsa-ca.pem")))
      assert.equal(1, rc)
      assert.matches("Alert +fatal unknown_ca", out)
      assert.matches("Result: handshake FAILED", out)
    end)
  end)
end)
