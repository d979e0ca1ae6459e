-- CRL checking: the `crl` context option (path, PEM, DER, array).
local wolfssl = require "wolfssl"
local H = require "helpers"
local P = require "peers"

local function revoked_server(o)
  o = o or {}
  o.certificate, o.key = H.cert("revoked.pem"), H.cert("revoked.key")
  return H.server_ctx(o)
end

local REVOKED = "certificate verify failed: certificate revoked (depth 0, CN=localhost)"

describe("crl", function()
  if not wolfssl.features.crl then
    it("is refused clearly without CRL support", function()
      assert.has_error(function() H.client_ctx { crl = H.cert("crl.pem") } end)
    end)
    return
  end

  it("accepts a certificate the CRL does not list", function()
    local c, s, ok, side, err = H.pair(H.client_ctx { crl = H.cert("crl.pem") }, H.server_ctx())
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.is_true((c:verify_result()))
  end)

  for _, form in ipairs({ "path", "PEM", "DER", "array" }) do
    it("rejects a revoked server certificate (crl as " .. form .. ")", function()
      local crl = ({ path = H.cert("crl.pem"), PEM = H.read("crl.pem"), DER = H.read("crl.der"),
        array = { H.cert("crl.der"), H.read("crl.pem") } })[form]
      local c, s, ok, side, err = H.pair(H.client_ctx { crl = crl }, revoked_server())
      assert.is_nil(ok)
      assert.equal("client", side)
      assert.equal(REVOKED, err)
      assert.equal("peer sent alert certificate_revoked", s:last_error().message)
      assert.same({ false, "certificate revoked", 23 }, { c:verify_result() })
    end)
  end

  it("without the crl option the revoked certificate is accepted (no checking by default)", function()
    local c, s, ok = H.pair(H.client_ctx(), revoked_server())
    assert.is_true(ok)
  end)

  it("TLS 1.2 too", function()
    local c, s, ok, side, err = H.pair(H.client_ctx { crl = H.cert("crl.pem"), max_version = "tls1.2" }, revoked_server())
    assert.is_nil(ok)
    assert.equal(REVOKED, err)
  end)

  it("on_verify sees the revocation (error 23) and may still refuse or accept", function()
    local seen
    local c, s, ok, side, err = H.pair(H.client_ctx { crl = H.cert("crl.pem"), on_verify = function(_, ok, info)
      if info.depth == 0 then seen = { ok, info.error, info.reason } end
      return ok
    end }, revoked_server())
    assert.is_nil(ok)
    assert.same({ false, 23, "certificate revoked" }, seen)
  end)

  it("checks every certificate of the chain: an issuer without a CRL fails", function()
    local sctx = H.server_ctx { certificate = H.cert("server-chain.pem"), key = H.cert("server-chain.key") }
    local c, s, ok, side, err = H.pair(H.client_ctx { crl = H.cert("crl.pem") }, sctx, { server_name = "chain.localhost" })
    assert.is_nil(ok)
    assert.equal("certificate verify failed: unable to get certificate CRL (depth 0, CN=chain.localhost)", err)
  end)

  it("a revoked client certificate fails on the server", function()
    local sctx = H.server_ctx { verify = "require", cafile = H.cert("ca.pem"), crl = H.cert("crl.pem") }
    local cctx = H.client_ctx { certificate = H.cert("revoked-client.pem"), key = H.cert("revoked-client.key") }
    local c, s, ok, side, err = H.pair(cctx, sctx)
    assert.is_nil(ok)
    assert.equal("server", side)
    assert.equal("certificate verify failed: certificate revoked (depth 0, CN=Revoked Client)", err)
    -- a good client passes the same server
    cctx = H.client_ctx { certificate = H.cert("client.pem"), key = H.cert("client.key") }
    c, s, ok, side, err = H.pair(cctx, sctx)
    assert(ok, tostring(err))
  end)

  it("a CRL that cannot be used is a load error naming the option", function()
    local ctx, err = wolfssl.context { mode = "client", cafile = H.cert("ca.pem"), crl = H.cert("server.pem") }
    assert.is_nil(ctx)
    assert.matches("^crl: not a valid CRL", err)
    ctx, err = wolfssl.context { mode = "client", cafile = H.cert("ca.pem"), crl = "/nonexistent/crl.pem" }
    assert.is_nil(ctx)
    assert.equal("crl: cannot read file '/nonexistent/crl.pem': No such file or directory", err)
    -- a CRL whose issuer the context does not trust
    ctx, err = wolfssl.context { mode = "client", cafile = H.cert("rsa-ca.pem"), crl = H.cert("crl.pem") }
    assert.is_nil(ctx)
    assert.matches("^crl: not a valid CRL", err)
  end)

  it("raises on a value of the wrong type", function()
    assert.has_error(function() H.client_ctx { crl = 42 } end,
      "bad option 'crl': expected a path, PEM or DER string (or an array of them) (got 42)")
    assert.has_error(function() H.client_ctx { crl = {} } end, "bad option 'crl': empty array")
  end)
end)

describe("crl against openssl", function()
  after_each(P.stop_all)
  if not P.have("openssl") or not wolfssl.features.crl then pending("openssl or CRL support missing") return end

  it("our client refuses openssl s_server's revoked certificate", function()
    local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -quiet",
      H.cert("revoked.pem"), H.cert("revoked.key"))
    local conn, sock = P.connect(port, H.client_ctx { crl = H.cert("crl.pem") })
    local ok, err = P.await(conn, sock, "handshake")
    assert.is_nil(ok)
    assert.equal(REVOKED, err)
    conn:close(); sock:close()
  end)

  it("our server refuses openssl s_client's revoked certificate; openssl sees the alert", function()
    local srv, port = P.listen()
    -- (TLS 1.3: openssl's client would be done before our alert arrives)
    local done = P.run_client(("openssl s_client -connect 127.0.0.1:%d -tls1_2 -CAfile %s -cert %s -key %s < /dev/null")
      :format(port, H.cert("ca.pem"), H.cert("revoked-client.pem"), H.cert("revoked-client.key")))
    local conn, sock, ok, err = P.serve_one(srv,
      H.server_ctx { verify = "require", cafile = H.cert("ca.pem"), crl = H.cert("crl.pem") })
    srv:close()
    assert.is_nil(ok)
    assert.equal("certificate verify failed: certificate revoked (depth 0, CN=Revoked Client)", err)
    conn:close(); sock:close()
    assert.matches("alert certificate revoked", done())
  end)
end)
