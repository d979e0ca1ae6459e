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

  describe("against openssl s_server", function()
    local port, pid
    before_each(function()
      assert(have("openssl"), "openssl is needed")
      port = H.free_port()
      pid = H.spawn(("exec timeout 30 openssl s_server -accept %d -cert %s -key %s -cert_chain %s -alpn h2 -quiet")
        :format(port, H.cert("server-chain.pem"), H.cert("server-chain.key"), H.cert("inter.pem")))
      assert(H.wait_port(port, 5), "openssl s_server did not start")
    end)
    after_each(function() H.kill(pid) end)

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

    it("exits 1 with the reason when the name does not match", function()
      local out, rc = cli(("127.0.0.1:%d --servername nothere.example --cafile %s"):format(port, CA))
      assert.equal(1, rc)
      assert.matches("Alert +fatal bad_certificate", out)
      assert.matches("Result: handshake FAILED: hostname mismatch", out)
      assert.matches("Verification: FAILED", out)
    end)
  end)

  describe("against gnutls-serv", function()
    local port, pid
    before_each(function()
      assert(have("gnutls-serv"), "gnutls-serv is needed")
      port = H.free_port()
      pid = H.spawn(("exec timeout 30 gnutls-serv --port %d --x509certfile %s --x509keyfile %s --require-client-cert --x509cafile %s")
        :format(port, H.cert("server.pem"), H.cert("server.key"), CA))
      assert(H.wait_port(port, 5), "gnutls-serv did not start")
    end)
    after_each(function() H.kill(pid) end)

    it("does mutual TLS with --cert/--key", function()
      local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s --cert %s --key %s")
        :format(port, CA, H.cert("client.pem"), H.cert("client.key")))
      assert.equal(0, rc, out)
      assert.matches("CertificateRequest", out)
      assert.matches("C %-> S  Certificate +CN=Test Client", out)
      assert.matches("Verification: OK", out)
    end)

    it("fails, exit 1, when the server's CA is not trusted", function()
      local out, rc = cli(("127.0.0.1:%d --servername localhost --cafile %s --tls1.2"):format(port, H.cert("rsa-ca.pem")))
      assert.equal(1, rc)
      assert.matches("Alert +fatal unknown_ca", out)
      assert.matches("Result: handshake FAILED", out)
    end)
  end)
end)
