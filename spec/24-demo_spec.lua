-- make demo: the handshake demo runs on loopback and tells each story.
local H = require "helpers"
local socket = require "socket"

-- run the demo the way `make demo` does (the module paths come from the
-- environment the suite runs in)
local function run_demo()
  local t0 = socket.gettime()
  local p = assert(io.popen("timeout 60 " .. H.lua() .. " examples/demo.lua 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  return out, socket.gettime() - t0
end

describe("make demo", function()
  local out, secs
  setup(function() out, secs = run_demo() end)

  it("finishes cleanly within a few seconds", function()
    assert.matches("exit=0\n$", out)
    assert.is_true(secs < 15, ("took %.1f s"):format(secs))
    assert.matches("%d+ handshakes in [%d.]+ s", out)
    local n = tonumber(out:match("(%d+) handshakes in"))
    assert.is_true(n >= 9 and n <= 12, out:match("%d+ handshakes")) -- (9: some builds refuse static RSA; 11: DTLS 1.3; 12: early data)
  end)

  it("shows a TLS 1.3 full handshake step by step", function()
    local part = out:match("1%. TLS 1%.3 full handshake(.-)\n2%.")
    assert.is_string(part)
    assert.matches("C %-> S  ClientHello", part)
    assert.matches("C <%- S  ServerHello +TLSv1.3", part)
    assert.matches("C <%- S  Certificate +CN=localhost", part)
    assert.matches("full handshake, 1 round trip", part)
    assert.matches("peer certificate verified", part)
  end)

  it("shows TLS 1.3 resumption", function()
    local part = out:match("\n2%. (.-)\n3%.")
    assert.is_string(part)
    assert.matches("offers a PSK", part)
    assert.matches("resumes %(PSK accepted%)", part)
    assert.matches("abbreviated %(resumed%) handshake", part)
    assert.not_matches("Certificate ", part)
  end)

  it("shows TLS 1.2 ECDHE key exchange and the abbreviated handshake by session id", function()
    local full = out:match("\n3%. (.-)\n4%.")
    assert.matches("ServerKeyExchange +ECDHE; group X25519", full) -- our default groups
    assert.matches("ClientKeyExchange +ECDHE; public key", full)
    assert.matches("full handshake, 2 round trips", full)
    local abbr = out:match("\n4%. (.-)\n5%.")
    assert.matches("session id 32 bytes", abbr)
    assert.matches("abbreviated %(resumed%) handshake, 1 round trip", abbr)
    assert.not_matches("ServerKeyExchange", abbr)
  end)

  it("shows a HelloRetryRequest", function()
    local part = out:match("\n5%. (.-)\n6%.")
    assert.matches("key share X25519", part)
    assert.matches("HelloRetryRequest.-key share P%-256 wanted", part)
    assert.matches("2 round trips", part)
  end)

  it("shows mutual TLS with the client's certificate", function()
    local part = out:match("\n6%. (.-)\n7%.")
    assert.matches("CertificateRequest", part)
    assert.matches("C %-> S  Certificate +CN=Test Client", part)
    assert.matches("server side: client certificate CN=Test Client.-, verified", part)
  end)

  it("shows the key schedule step in every handshake, and no secret bytes (issue 16)", function()
    for i = 1, 8 do
      local part = out:match(("\n%d%%. (.-)\n%d%%. "):format(i, i + 1))
      assert.is_string(part, "section " .. i)
      assert.matches("\n  %*%*  Keys ", part, 1, false, "section " .. i)
    end
    assert.matches("C <%- S  ServerHello[^\n]*\n  %*%*  Keys +handshake keys, HKDF%-SHA256", out)
    local tls12 = out:match("\n3%. (.-)\n4%.")
    assert.matches("C %-> S  ClientKeyExchange[^\n]*\n  %*%*  Keys +master secret and key block, TLS 1.2 PRF", tls12)
    assert.matches("ChangeCipherSpec\n  C %-> S  Finished +verify_data %x+ %(12 bytes%)", tls12)
    assert.is_nil(out:find(("%x"):rep(32)), "no secret bytes")
  end)

  it("shows TLS 1.2 static RSA key transport, opt-in, without forward secrecy (or refused by the build)", function()
    local part = out:match("\n9%. TLS 1%.2 static RSA key transport (.-)\n10%. ")
    assert.is_string(part)
    if part:find("refused by this wolfSSL build", 1, true) then
      assert.matches("no usable cipher suite", part)
      assert.matches("no forward secrecy", part)
    else
      assert.matches("ClientKeyExchange +RSA; encrypted premaster %d+ bytes", part)
      assert.matches("premaster secret %(48 bytes%) chosen by the client and sent encrypted to the server's RSA key: no forward secrecy", part)
    end
    assert.matches("ECDHE exchange of handshake 3 replaced it", part)
  end)

  it("shows DTLS over UDP: the cookie exchange, epochs and sequence numbers (issue 14)", function()
    local d12 = out:match("\n10%. DTLS 1%.2 over UDP (.-)\n11%. ")
    assert.is_string(d12)
    assert.matches("C <%- S  HelloVerifyRequest  cookie 32 bytes  %[epoch 0 seq 0 msg 0%]", d12)
    assert.matches("C %-> S  ClientHello [^\n]*%[epoch 0 seq 1 msg 1, cookie 32 bytes%]", d12)
    assert.matches("Finished [^\n]*%[epoch 1 seq 0%]", d12)
    assert.matches("== DTLSv1%.2", d12)
    local d13 = out:match("\n11%. DTLS 1%.3 over UDP(.-)\n12%. ") -- (12: early data, on every build)
    assert.is_string(d13)
    if require("wolfssl").features.dtls13 then
      assert.matches("HelloRetryRequest [^\n]*cookie extension", d13)
      assert.matches("== DTLSv1%.3", d13)
    else
      assert.matches("not in this wolfSSL build %(features.dtls13 is false%)", d13)
    end
  end)

  it("ends the two failures with the reason in plain words", function()
    local expired = out:match("\n7%. (.-)\n8%.")
    assert.matches("Alert +fatal certificate_expired", expired)
    assert.matches("handshake FAILED after .-certificate has expired", expired)
    local host = out:match("\n8%. (.-)\n9%. ")
    assert.matches("handshake FAILED after .-hostname mismatch: certificate is for wrong.example", host)
  end)

  it("shows TLS 1.3 early data (0-RTT), or says the build lacks it", function()
    local part = out:match("\n%d+%. TLS 1%.3 early data %(0%-RTT%)(.-)\n%d+ handshakes in")
    assert.is_string(part)
    if require("wolfssl").features.early_data then
      assert.matches("ClientHello [^\n]*early data follows %(0%-RTT%)\n  C %-> S  EarlyData +0%-RTT application data, 24 bytes", part)
      assert.matches("Keys +early data key %(0%-RTT%)", part)
      assert.matches("EncryptedExtensions no ALPN; early data accepted", part)
      assert.matches("C %-> S  EndOfEarlyData", part)
      assert.matches('the server read "GET /status %(idempotent%)" before "ping" %(early data accepted%)', part)
      assert.matches("early data %(0%-RTT%) accepted", part)
    else
      assert.matches("not in this wolfSSL build %(wolfssl.features.early_data is false%)", part)
    end
  end)
end)
