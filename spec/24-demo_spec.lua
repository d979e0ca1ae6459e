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
    assert.matches("8 handshakes in [%d.]+ s", out)
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
    assert.matches("ServerKeyExchange +ECDHE; group P%-256", full)
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

  it("ends the two failures with the reason in plain words", function()
    local expired = out:match("\n7%. (.-)\n8%.")
    assert.matches("Alert +fatal certificate_expired", expired)
    assert.matches("handshake FAILED after .-certificate has expired", expired)
    local host = out:match("\n8%. (.-)\n%d+ handshakes")
    assert.matches("handshake FAILED after .-hostname mismatch: certificate is for wrong.example", host)
  end)
end)
