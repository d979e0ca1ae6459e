-- Mutual TLS: verify = "peer" / "require" on servers, client certificates and
-- chains, clear errors on both sides; against openssl s_client / s_server too.
local H = require "helpers"
local P = require "peers"

local function client(name, o)
  o = o or {}
  if name then o.certificate = H.cert(name .. ".pem"); o.key = H.cert(name .. ".key") end
  return H.client_ctx(o)
end

-- after the server failed: the client's own view (TLS 1.3 clients finish
-- first and learn it from the alert on their next read)
local function client_view(c, s)
  c:feed(s:drain())
  local ok, err = c:handshake()
  if ok then ok, err = c:read() end
  if err == "wantread" then          -- nothing was sent: the server closes
    s:close(); c:feed_eof()
    ok, err = c:handshake()
    if ok then ok, err = c:read() end
  end
  return err
end

describe("mutual TLS in memory", function()
  for _, v in ipairs({ "tls1.3", "tls1.2" }) do
    describe(v, function()
      local function sctx(verify) return H.server_ctx { verify = verify, cafile = H.cert("ca.pem"), max_version = v } end

      it('verify = "peer": asks, accepts a client without a certificate', function()
        local c, s, ok, side, err = H.pair(client(nil), sctx("peer"))
        assert(ok, tostring(side) .. ": " .. tostring(err))
        assert.is_nil(s:peer_certificate())
        assert.same({ false, "no peer certificate", 0 }, { s:verify_result() })
      end)

      it('verify = "peer": a client certificate is verified and seen', function()
        local c, s, ok, side, err = H.pair(client("client"), sctx("peer"))
        assert(ok, tostring(side) .. ": " .. tostring(err))
        assert.equal("O=lua-wolfssl tests, CN=Test Client", select(2, s:peer_certificate():subject()))
        assert.is_true((s:verify_result()))
      end)

      it('verify = "require": a client without a certificate fails, on both sides', function()
        local c, s, ok, side, err = H.pair(client(nil), sctx("require"))
        assert.is_nil(ok)
        assert.equal("server", side)
        assert.equal("peer did not send a certificate (one is required)", err)
        assert.equal("verify", s:last_error().kind)
        local cerr = client_view(c, s)
        if v == "tls1.3" then
          assert.equal("peer sent alert certificate_required", cerr)
        else -- wolfSSL 5.5.4 sends no alert here: the binding sends handshake_failure
          assert.equal("peer sent alert handshake_failure (no shared cipher or parameters," ..
            " or the server requires a client certificate?)", cerr)
        end
      end)

      it('verify = "require": an untrusted client certificate fails, on both sides', function()
        local c, s, ok, side, err = H.pair(client("untrusted-client"), sctx("require"))
        assert.is_nil(ok)
        assert.equal("server", side)
        assert.equal("certificate verify failed: unknown CA (unable to get local issuer certificate)" ..
          " (depth 0, CN=Untrusted Client)", err)
        assert.equal("peer sent alert unknown_ca", client_view(c, s))
      end)

      it('verify = "peer" also rejects an untrusted certificate (it is checked when sent)', function()
        local c, s, ok, side, err = H.pair(client("untrusted-client"), sctx("peer"))
        assert.is_nil(ok)
        assert.equal("server", side)
        assert.matches("^certificate verify failed: unknown CA", err)
      end)

      it("the server sees the client's certificate and chain (client-chain.pem)", function()
        local c, s, ok, side, err = H.pair(client("client-chain"), sctx("require"))
        assert(ok, tostring(side) .. ": " .. tostring(err))
        assert.equal("O=lua-wolfssl tests, CN=Test Chain Client", select(2, s:peer_certificate():subject()))
        local chain = s:peer_chain()
        assert.equal(2, #chain)
        assert.equal("Test Chain Client", chain[1]:subject()[2].value)
        assert.equal("Test Intermediate CA", chain[2]:subject()[2].value)
        assert.is_true(chain[2]:issued(chain[1]))
        assert.same({ "clientAuth" }, chain[1]:extensions().ext_key_usage)
        assert.equal("both ways", H.transfer(c, s, "both ways"))
      end)

      it("a revoked client certificate fails with the CRL", function()
        local c, s, ok, side, err = H.pair(client("revoked-client"),
          H.server_ctx { verify = "require", cafile = H.cert("ca.pem"), crl = H.cert("crl.pem"), max_version = v })
        assert.is_nil(ok)
        assert.equal("server", side)
        assert.equal("certificate verify failed: certificate revoked (depth 0, CN=Revoked Client)", err)
        assert.equal("peer sent alert certificate_revoked", client_view(c, s))
      end)
    end)
  end
end)

describe("mutual TLS with openssl", function()
  after_each(P.stop_all)
  if not P.have("openssl") then pending("openssl not installed") return end

  it("openssl s_client with a certificate against our server (require)", function()
    local srv, port = P.listen()
    local done = P.run_client(("openssl s_client -connect 127.0.0.1:%d -servername localhost -CAfile %s" ..
      " -cert %s -key %s -cert_chain %s < /dev/null"):format(port, H.cert("ca.pem"),
      H.cert("client-chain.pem"), H.cert("client-chain.key"), H.cert("inter.pem")))
    local conn, sock, ok, err = P.serve_one(srv, H.server_ctx { verify = "require", cafile = H.cert("ca.pem") })
    srv:close()
    assert(ok, tostring(err))
    assert.equal("Test Chain Client", conn:peer_certificate():subject()[2].value)
    assert.equal(2, #conn:peer_chain())
    assert.is_true((conn:verify_result()))
    conn:close(); sock:close()
    assert.matches("Verify return code: 0 %(ok%)", done())
  end)

  it("openssl s_client without a certificate: both sides say why", function()
    for _, v in ipairs({ "-tls1_3", "-tls1_2" }) do
      local srv, port = P.listen()
      -- -ign_eof: s_client reads until the connection ends (a TLS 1.3 client
      -- learns of the alert after its handshake), whatever stdin does
      local done = P.run_client(("openssl s_client -ign_eof -connect 127.0.0.1:%d %s -CAfile %s </dev/null")
        :format(port, v, H.cert("ca.pem")))
      local conn, sock, ok, err = P.serve_one(srv, H.server_ctx { verify = "require", cafile = H.cert("ca.pem") })
      srv:close()
      assert.is_nil(ok)
      assert.equal("peer did not send a certificate (one is required)", err)
      conn:close(); sock:close()
      local out = done()
      if v == "-tls1_3" then
        assert.matches("alert certificate required", out)
      else -- TLS 1.2: wolfSSL 5.5.4 sends no alert, the binding sends handshake_failure
        assert.matches("alert handshake failure", out)
      end
    end
  end)

  it("openssl s_client with an untrusted certificate: our server says unknown CA, openssl sees the alert", function()
    local srv, port = P.listen()
    local done = P.run_client(("openssl s_client -connect 127.0.0.1:%d -tls1_2 -CAfile %s -cert %s -key %s < /dev/null")
      :format(port, H.cert("ca.pem"), H.cert("untrusted-client.pem"), H.cert("untrusted-client.key")))
    local conn, sock, ok, err = P.serve_one(srv, H.server_ctx { verify = "require", cafile = H.cert("ca.pem") })
    srv:close()
    assert.is_nil(ok)
    assert.equal("certificate verify failed: unknown CA (unable to get local issuer certificate)" ..
      " (depth 0, CN=Untrusted Client)", err)
    conn:close(); sock:close()
    assert.matches("alert unknown ca", done())
  end)

  it("our client against openssl s_server -Verify: with and without a certificate", function()
    local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -CAfile %s -Verify 1 -tls1_3 -quiet",
      H.cert("server.pem"), H.cert("server.key"), H.cert("ca.pem"))
    local conn, sock = P.connect(port, client("client"))
    assert(P.await(conn, sock, "handshake"))
    assert(P.await(conn, sock, "write", "ping\n"))
    conn:close(); sock:close()
    -- without: TLS 1.3 clients finish first, then read openssl's alert
    conn, sock = P.connect(port, client(nil))
    local ok, err = P.await(conn, sock, "handshake")
    if ok then ok, err = P.await(conn, sock, "read") end
    assert.is_nil(ok)
    assert.equal("peer sent alert certificate_required", err)
    conn:close(); sock:close()
  end)
end)
