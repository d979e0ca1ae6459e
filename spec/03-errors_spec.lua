-- Failures a user can act on: distinct, readable messages and verify_result codes.
local H = require "helpers"

local function server_with(name)
  return H.server_ctx { certificate = H.cert(name .. ".pem"), key = H.cert(name .. ".key") }
end

-- handshake expected to fail on `side`; returns c, s, err, code
local function failing(cctx, sctx, side, name)
  local c, s, ok, got_side, err, code = H.pair(cctx, sctx, { server_name = name or "localhost" })
  assert.is_nil(ok)
  assert.equal(side, got_side, "failed on the other side: " .. tostring(err))
  assert.is_string(err)
  return c, s, err, code
end

describe("errors", function()
  it("expired certificate", function()
    local c, _, err, code = failing(H.client_ctx(), server_with("expired"), "client")
    assert.equal("certificate verify failed: certificate has expired (depth 0, CN=localhost)", err)
    assert.is_number(code)
    assert.same({ false, "certificate has expired", 10 }, { c:verify_result() })
    assert.equal("verify", c:last_error().kind)
    assert.equal("failed", c:state())
  end)

  it("certificate not yet valid", function()
    local c, _, err = failing(H.client_ctx(), server_with("notyet"), "client")
    assert.equal("certificate verify failed: certificate is not yet valid (depth 0, CN=localhost)", err)
    assert.same({ false, "certificate is not yet valid", 9 }, { c:verify_result() })
  end)

  it("unknown CA", function()
    local c, _, err = failing(H.client_ctx(), server_with("untrusted"), "client")
    assert.matches("^certificate verify failed: unknown CA", err)
    assert.matches("CN=localhost", err)
    local ok, reason, code = c:verify_result()
    assert.is_false(ok)
    assert.matches("unknown CA", reason)
    assert.equal(20, code)
  end)

  it("self-signed certificate", function()
    local c, _, err = failing(H.client_ctx(), server_with("selfsigned"), "client")
    assert.matches("^certificate verify failed: self%-signed certificate", err)
    assert.same({ false, "self-signed certificate", 18 }, { c:verify_result() })
  end)

  it("hostname mismatch names both names", function()
    local c, _, err = failing(H.client_ctx(), server_with("wronghost"), "client")
    assert.equal("hostname mismatch: certificate is for wrong.example, other.example, not localhost", err)
    assert.same({ false, "hostname mismatch", 62 }, { c:verify_result() })
    -- an IP address checked against a certificate without that IP
    local _, _, err2 = failing(H.client_ctx(), server_with("wronghost"), "client", "10.9.8.7")
    assert.matches("not 10%.9%.8%.7", err2)
  end)

  it("the server sees the client's alert by name", function()
    local _, s = failing(H.client_ctx(), server_with("untrusted"), "client")
    local ok, err = s:handshake()
    assert.is_nil(ok)
    assert.matches("peer sent alert unknown_ca", err)
    assert.equal("alert", s:last_error().kind)
    assert.equal("unknown_ca", s:last_error().alert)
  end)

  it("no shared protocol version: both sides say so", function()
    for _, case in ipairs {
      { H.client_ctx { min_version = "tls1.3" }, H.server_ctx { max_version = "tls1.2" } },
      { H.client_ctx { max_version = "tls1.2" }, H.server_ctx { min_version = "tls1.3" } },
    } do
      local c, s, ok = H.pair(case[1], case[2])
      assert.is_nil(ok)
      local _, cerr = c:handshake()
      local _, serr = s:handshake()
      assert.matches("no shared protocol version", cerr)
      assert.matches("no shared protocol version", serr)
      for _, conn in ipairs { c, s } do
        local kind = conn:last_error().kind
        assert.is_true(kind == "version" or kind == "alert", kind)
      end
    end
  end)

  it("no shared cipher", function()
    local c, _, err = failing(H.client_ctx { max_version = "tls1.2", ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256" },
                              H.server_ctx { max_version = "tls1.2", ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305" }, "server")
    assert.equal("no shared cipher", err)
    local _, cerr = c:handshake()
    assert.matches("handshake_failure", cerr)
    assert.equal("handshake_failure", c:last_error().alert)
  end)

  it("a client without the certificate the server requires is told so (TLS 1.2 and 1.3)", function()
    local sctx = H.server_ctx { verify = "require", cafile = H.cert("ca.pem") }
    local c, s, err = failing(H.client_ctx { max_version = "tls1.2" }, sctx, "server")
    assert.equal("peer did not send a certificate (one is required)", err)
    assert.equal("verify", s:last_error().kind)
    -- wolfSSL sends no alert here; the binding does, so the client does not wait forever
    local _, cerr = c:handshake()
    assert.matches("^peer sent alert handshake_failure .*client certificate", cerr)
    -- TLS 1.3: the client finishes first and learns it at its next read
    c, s, err = failing(H.client_ctx(), sctx, "server")
    assert.equal("peer did not send a certificate (one is required)", err)
    local r, rerr = c:read()
    assert.is_nil(r)
    assert.equal("peer sent alert certificate_required", rerr)
    assert.equal("certificate_required", c:last_error().alert)
  end)

  it("no shared key exchange group", function()
    local c, _, err = failing(H.client_ctx { groups = "P-384" }, H.server_ctx { groups = "P-256" }, "server")
    assert.matches("no shared key exchange group", err)
    c:close()
  end)

  it("garbage bytes from the peer fail the connection, not the process", function()
    local s = H.server_ctx():new()
    s:feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    local ok, err, code = s:handshake()
    assert.is_nil(ok)
    assert.matches("not TLS", err)
    assert.is_number(code)
    assert.equal("protocol", s:last_error().kind)
    -- and it stays failed
    local ok2, err2 = s:handshake()
    assert.is_nil(ok2)
    assert.equal(err, err2)
    -- a client fed garbage by a "server"
    local c = H.client_ctx():new { server_name = "localhost" }
    c:handshake()
    c:feed(string.rep("\0\255", 100))
    ok, err = c:handshake()
    assert.is_nil(ok)
    assert.matches("not TLS", err)
  end)

  it("random garbage after a valid ClientHello header", function()
    math.randomseed(42)
    for round = 1, 20 do
      local c = H.client_ctx():new { server_name = "localhost" }
      c:handshake()
      local hello = c:drain()
      local keep = 5 + (round % 40)
      local junk = {}
      for i = 1, #hello - keep do junk[i] = string.char(math.random(0, 255)) end
      local s = H.server_ctx():new()
      s:feed(hello:sub(1, keep) .. table.concat(junk))
      local ok, err = s:handshake()
      if ok == nil and err ~= "wantread" then
        assert.is_string(err)
        assert.is_table(s:last_error())
      end
      s:feed_eof()
      ok, err = s:handshake()
      assert.is_nil(ok)
      assert.not_equal("wantread", err)
      c:close(); s:close()
    end
  end)

  it("EOF in the middle of the handshake", function()
    local c = H.client_ctx():new { server_name = "localhost" }
    c:handshake()
    local hello = c:drain()
    local s = H.server_ctx():new()
    s:feed(hello:sub(1, 20))
    assert.same({ nil, "wantread" }, { s:handshake() })
    s:feed_eof()
    local ok, err = s:handshake()
    assert.is_nil(ok)
    assert.equal("connection closed by peer during the handshake", err)
    assert.equal("closed", s:last_error().kind)
    -- before any byte arrived
    local s2 = H.server_ctx():new()
    s2:feed_eof()
    ok, err = s2:handshake()
    assert.is_nil(ok)
    assert.equal("connection closed by peer before the handshake", err)
  end)

  it("a peer that closed the connection after the handshake: read gives nil, 'truncated', code", function()
    local c, s = H.pair(H.client_ctx(), H.server_ctx())
    s:feed_eof() -- no close_notify
    local _, why, code = s:read()
    assert.equal("truncated", why)
    assert.is_number(code)
    assert.equal("truncated", s:last_error().kind)
    assert.matches("without close_notify", s:last_error().message)
    c:close()
  end)

  it("last_error() is a table {kind, message, code, alert}", function()
    local c = H.pair(H.client_ctx(), server_with("expired"))
    local e = c:last_error()
    assert.is_table(e)
    assert.equal("verify", e.kind)
    assert.matches("certificate has expired", e.message)
    assert.is_number(e.code)
    assert.is_nil(e.alert) -- we sent the alert, we did not receive one
    local c2, s2 = H.pair(H.client_ctx(), H.server_ctx())
    assert.is_nil(c2:last_error())
    assert.is_nil(s2:last_error())
  end)
end)
