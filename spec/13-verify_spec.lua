-- Verification from Lua: on_verify(conn, ok, info), pinning, trusting a private
-- CA by fingerprint, callbacks that raise, verify_result.
local wolfssl = require "wolfssl"
local x509 = require "wolfssl.x509"
local H = require "helpers"
local P = require "peers"

local function chain_server() return H.server_ctx { certificate = H.cert("server-chain.pem"), key = H.cert("server-chain.key") } end

describe("on_verify", function()
  it("is called for every certificate the peer sent, on success too, root side first", function()
    local calls = {}
    local cctx = H.client_ctx { on_verify = function(conn, ok, info)
      assert.equal("userdata", type(conn))
      calls[#calls + 1] = { ok = ok, depth = info.depth, error = info.error, reason = info.reason,
        subject = info.cert and select(2, info.cert:subject()) }
      return ok
    end }
    local c, s, ok, side, err = H.pair(cctx, chain_server(), { server_name = "chain.localhost" })
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.same({
      { ok = true, depth = 1, error = 0, subject = "O=lua-wolfssl tests, CN=Test Intermediate CA" },
      { ok = true, depth = 0, error = 0, subject = "O=lua-wolfssl tests, CN=chain.localhost" },
    }, calls)
    assert.is_true((c:verify_result()))
  end)

  it("hands over a certificate object the callback may keep", function()
    local kept
    local cctx = H.client_ctx { on_verify = function(_, ok, info) if info.depth == 0 then kept = info.cert end return ok end }
    local c, s, ok = H.pair(cctx, H.server_ctx())
    assert.is_true(ok)
    c:close(); s:close()
    collectgarbage()
    assert.is_true(kept == x509.load(H.read("server.pem")))
  end)

  it("can reject a good chain: pinning the leaf by its SHA-256 digest", function()
    local pin = "0000000000000000000000000000000000000000000000000000000000000000"
    local pinning = function(_, ok, info)
      if not ok then return false end
      if info.depth > 0 then return true end
      return info.cert:digest("sha256") == pin
    end
    local c, s, ok, side, err = H.pair(H.client_ctx { on_verify = pinning }, H.server_ctx())
    assert.is_nil(ok)
    assert.equal("client", side)
    assert.equal("certificate verify failed: rejected by on_verify (depth 0, CN=localhost)", err)
    assert.equal("verify", c:last_error().kind)
    assert.equal("peer sent alert bad_certificate", s:last_error().message)
    -- the right pin passes
    pin = x509.load(H.read("server.pem")):digest()
    c, s, ok, side, err = H.pair(H.client_ctx { on_verify = pinning }, H.server_ctx())
    assert(ok, tostring(err))
  end)

  it("can accept a bad chain: a private CA the application trusts by fingerprint", function()
    local trusted = x509.load(H.read("untrusted-ca.pem")):digest()
    local seen = {}
    local cctx = H.client_ctx { on_verify = function(_, ok, info)
      seen[#seen + 1] = info.error
      if ok then return true end
      -- depth 0 fails with "unknown CA": accept it when our private CA issued it
      return info.depth == 0 and info.error == 20 and
        x509.load(H.read("untrusted-ca.pem")):issued(info.cert) and
        x509.load(H.read("untrusted-ca.pem")):digest() == trusted
    end }
    local sctx = H.server_ctx { certificate = H.cert("untrusted.pem"), key = H.cert("untrusted.key") }
    local c, s, ok, side, err = H.pair(cctx, sctx)
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.same({ 20 }, seen)
    -- verify_result still tells the truth about the chain
    local vok, reason, code = c:verify_result()
    assert.is_false(vok)
    assert.equal(20, code)
    assert.equal("unknown CA (unable to get local issuer certificate)", reason)
    assert.equal("hello", H.transfer(c, s, "hello"))
  end)

  it("sees a hostname mismatch as an error it may override", function()
    local info0
    local cctx = H.client_ctx { on_verify = function(_, ok, info)
      if info.depth == 0 then info0 = { ok = ok, error = info.error, reason = info.reason } end
      return ok
    end }
    local sctx = H.server_ctx { certificate = H.cert("wronghost.pem"), key = H.cert("wronghost.key") }
    local c, s, ok, side, err = H.pair(cctx, sctx)
    assert.is_nil(ok)
    assert.equal("hostname mismatch: certificate is for wrong.example, other.example, not localhost", err)
    assert.same({ ok = false, error = 62, reason = "hostname mismatch" }, info0)
    -- accepting it
    cctx = H.client_ctx { on_verify = function() return true end }
    c, s, ok = H.pair(cctx, sctx)
    assert.is_true(ok)
  end)

  it("that raises fails the handshake closed, with the traceback in last_error()", function()
    local cctx = H.client_ctx { on_verify = function(_, ok, info)
      if info.depth == 0 then error("no thanks") end
      return ok
    end }
    local c, s, ok, side, err = H.pair(cctx, chain_server(), { server_name = "chain.localhost" })
    assert.is_nil(ok)
    assert.equal("client", side)
    assert.matches("^callback: .*13%-verify_spec%.lua:%d+: no thanks$", err)
    local e = c:last_error()
    assert.equal("callback", e.kind)
    assert.equal(err, e.message)
    assert.matches("stack traceback", e.traceback)
    assert.equal("on_verify", e.callback)
    assert.same({ false, "rejected by on_verify", 50 }, { c:verify_result() })
    assert.matches("^peer sent alert ", s:last_error().message)
  end)

  it("that returns a non-boolean fails closed too", function()
    local c, s, ok, side, err = H.pair(H.client_ctx { on_verify = function() return "yes" end }, H.server_ctx())
    assert.is_nil(ok)
    assert.equal("callback: on_verify must return a boolean (got string)", err)
  end)

  it("runs on servers for client certificates", function()
    local depths = {}
    local sctx = H.server_ctx { verify = "require", cafile = H.cert("ca.pem"), on_verify = function(_, ok, info)
      depths[#depths + 1] = info.depth .. ":" .. info.cert:subject()[2].value
      return ok
    end }
    local cctx = H.client_ctx { certificate = H.cert("client-chain.pem"), key = H.cert("client-chain.key") }
    local c, s, ok, side, err = H.pair(cctx, sctx)
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.same({ "1:Test Intermediate CA", "0:Test Chain Client" }, depths)
    assert.is_true((s:verify_result()))
  end)

  it("reports a chain that is too long, and verify_depth = 5 lets it through", function()
    local errors = {}
    local cctx = H.client_ctx { cafile = H.cert("deep-ca.pem"), verify_depth = 2, on_verify = function(_, ok, info)
      errors[#errors + 1] = info.error
      return ok
    end }
    local sctx = H.server_ctx { certificate = H.cert("deep-chain.pem"), key = H.cert("deep-leaf.key") }
    local c, s, ok, side, err = H.pair(cctx, sctx)
    assert.is_nil(ok)
    assert.equal("certificate verify failed: certificate chain too long (depth 4, CN=Deep Intermediate 1)", err)
    assert.equal(22, errors[1])
    c, s, ok = H.pair(H.client_ctx { cafile = H.cert("deep-ca.pem"), verify_depth = 5 }, sctx)
    assert.is_true(ok)
  end)
end)

describe("verify_result", function()
  it("is true after a verified handshake and false, reason, code after an unverified one", function()
    local c, s, ok = H.pair(H.client_ctx(), H.server_ctx())
    assert.is_true(ok)
    assert.is_true((c:verify_result()))
    local cctx = H.client_ctx { verify = "none", check_hostname = false }
    local sctx = H.server_ctx { certificate = H.cert("expired.pem"), key = H.cert("expired.key") }
    c, s, ok = H.pair(cctx, sctx)
    assert.is_true(ok)          -- verify = "none" accepts anything, and says it did not check
    assert.same({ false, 'peer certificate not verified (verify = "none")', 0 }, { c:verify_result() })
    -- an overridden failure is still reported
    cctx = H.client_ctx { on_verify = function() return true end }
    c, s, ok = H.pair(cctx, sctx)
    assert.is_true(ok)
    assert.same({ false, "certificate has expired", 10 }, { c:verify_result() })
  end)
end)

describe("on_verify against openssl s_server", function()
  after_each(P.stop_all)
  if not P.have("openssl") then pending("openssl not installed") return end

  it("sees the chain openssl sends and can pin it", function()
    local port = P.start("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -cert_chain %s -quiet",
      H.cert("chain-leaf.pem"), H.cert("server-chain.key"), H.cert("inter.pem"))
    local subjects = {}
    local cctx = H.client_ctx { on_verify = function(_, ok, info)
      subjects[#subjects + 1] = info.depth .. ":" .. info.cert:subject()[2].value
      return ok
    end }
    local conn, sock = P.connect(port, cctx, "chain.localhost")
    assert(P.await(conn, sock, "handshake"))
    assert.same({ "1:Test Intermediate CA", "0:chain.localhost" }, subjects)
    conn:close(); sock:close()

    local bad_pin = H.client_ctx { on_verify = function(_, ok, info) return ok and info.depth > 0 end }
    conn, sock = P.connect(port, bad_pin, "chain.localhost")
    local ok, err = P.await(conn, sock, "handshake")
    assert.is_nil(ok)
    assert.equal("certificate verify failed: rejected by on_verify (depth 0, CN=chain.localhost)", err)
    conn:close(); sock:close()
  end)
end)
