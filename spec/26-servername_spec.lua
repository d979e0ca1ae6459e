-- on_servername: keep, switch (conn:set_context) or refuse, in memory mode and
-- over loopback TCP with `openssl s_client -servername` as the peer.
local wolfssl = require "wolfssl"
local H = require "helpers"
local P = require "peers"

local RSA_ISSUER = "Test RSA Root CA"

local function rsa_ctx(o)
  local t = { certificate = H.cert("rsa-server.pem"), key = H.cert("rsa-server.key") }
  for k, v in pairs(o or {}) do t[k] = v end
  return H.server_ctx(t)
end

local function issuer_of(conn)
  local cert = assert(conn:peer_certificate())
  return tostring(cert:issuer())
end

local serve_s_client = P.serve_s_client

describe("on_servername", function()
  local both = H.client_ctx { cafile = H.cert("both-ca.pem") }

  it("switches to another context by name (set_context semantics)", function()
    local rsa = rsa_ctx()
    local names = {}
    local sctx = H.server_ctx { on_servername = function(conn, name)
      names[#names + 1] = name
      if name == "rsa.localhost" then return rsa end
      return true
    end }
    local c, s, ok, side, err = H.pair(both, sctx, { server_name = "rsa.localhost" })
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.equal("rsa.localhost", names[1])
    assert.matches(RSA_ISSUER, issuer_of(c))
    assert.equal("rsa.localhost", s:server_name())
    assert.equal("hi", H.transfer(c, s, "hi"))
    -- another name keeps the default (ECDSA) certificate
    c, s, ok = H.pair(both, sctx, { server_name = "localhost" })
    assert.is_true(ok)
    assert.matches("Test Root CA", issuer_of(c))
    assert.not_matches(RSA_ISSUER, issuer_of(c))
  end)

  it("switches for TLS 1.2 too (same key type)", function()
    local other = H.server_ctx { certificate = H.cert("server-chain.pem"), key = H.cert("server-chain.key") }
    local sctx = H.server_ctx { max_version = "tls1.2", on_servername = function(conn, name)
      if name == "chain.localhost" then return other end
      return true
    end }
    local c, s, ok, side, err = H.pair(both, sctx, { server_name = "chain.localhost" })
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.equal("TLSv1.2", c:version())
    assert.matches("chain.localhost", tostring(c:peer_certificate():subject()))
  end)

  it("switches between key types in TLS 1.2 and uses the new context's cipher list", function()
    local rsa = rsa_ctx { ciphers = "ECDHE-RSA-AES128-GCM-SHA256" }
    local sctx = H.server_ctx { max_version = "tls1.2", on_servername = function(conn, name)
      if name == "rsa.localhost" then return rsa end
      return true
    end }
    local c, s, ok, side, err = H.pair(both, sctx, { server_name = "rsa.localhost" })
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.equal("TLSv1.2", c:version())
    assert.equal("ECDHE-RSA-AES128-GCM-SHA256", c:cipher())
    assert.matches(RSA_ISSUER, issuer_of(c))
    -- and back: an RSA default switching to an ECDSA context
    local rsa_default = rsa_ctx { max_version = "tls1.2", on_servername = function() return H.server_ctx() end }
    c, s, ok, side, err = H.pair(both, rsa_default)
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.matches("^ECDHE%-ECDSA%-", c:cipher())
  end)

  it("ALPN follows the new context (on_alpn or an alpn list)", function()
    local with_cb = H.server_ctx { on_alpn = function(conn, offered)
      for _, p in ipairs(offered) do if p == "h2" then return p end end
    end }
    local with_list = H.server_ctx { alpn = { "http/1.1" } }
    local sctx = H.server_ctx { on_servername = function(conn, name)
      if name == "cb.localhost" then return with_cb end
      if name == "list.localhost" then return with_list end
      return true
    end }
    local cc = H.client_ctx { check_hostname = false, alpn = { "h2", "http/1.1" } }
    local c, s, ok = H.pair(cc, sctx, { server_name = "cb.localhost" })
    assert.is_true(ok)
    assert.equal("h2", s:alpn())
    c, s, ok = H.pair(cc, sctx, { server_name = "list.localhost" })
    assert.is_true(ok)
    assert.equal("http/1.1", s:alpn())
    -- the default context has no ALPN: nothing is chosen, no error
    c, s, ok = H.pair(cc, sctx, { server_name = "localhost" })
    assert.is_true(ok)
    assert.is_nil(s:alpn())
    -- no overlap after the switch is still fatal
    local only_spdy = H.client_ctx { check_hostname = false, alpn = { "spdy/3" } }
    local _, _, ok2, _, err = H.pair(only_spdy, sctx, { server_name = "cb.localhost" })
    assert.is_nil(ok2)
    assert.matches("^no application protocol", err)
    _, _, ok2, _, err = H.pair(only_spdy, sctx, { server_name = "list.localhost" })
    assert.is_nil(ok2)
    assert.equal("no shared application protocol (ALPN)", err)
  end)

  it("applies the new context's verification settings (mutual TLS after the switch)", function()
    local mtls = H.server_ctx { verify = "require", cafile = H.cert("ca.pem") }
    local sctx = H.server_ctx { on_servername = function() return mtls end }
    local _, _, ok, side, err = H.pair(H.client_ctx(), sctx)
    assert.is_nil(ok)
    assert.equal("server", side)
    assert.matches("certificate", err)
    local cc = H.client_ctx { certificate = H.cert("client.pem"), key = H.cert("client.key") }
    local _, s, ok2 = H.pair(cc, sctx)
    assert.is_true(ok2)
    assert.matches("Test Client", tostring(s:peer_certificate():subject()))
  end)

  it("is called with nil when the client sent no server name, and nil keeps the context", function()
    local called, got = 0, "unset"
    local sctx = H.server_ctx { on_servername = function(conn, name)
      called = called + 1
      got = name
    end }
    local c, s, ok = H.pair(H.client_ctx { check_hostname = false }, sctx, {})
    assert.is_true(ok)
    assert.equal(1, called)
    assert.is_nil(got)
    assert.is_nil(s:server_name())
  end)

  it("refuses with unrecognized_name: fatal alert on both sides", function()
    local sctx = H.server_ctx { on_servername = function(conn, name)
      if name == "localhost" then return true end
      return nil, "unrecognized_name"
    end }
    local c, s, ok, side, err = H.pair(H.client_ctx { check_hostname = false }, sctx,
      { server_name = "unknown.example" })
    assert.is_nil(ok)
    assert.equal("server", side)
    assert.equal("server name 'unknown.example' refused by on_servername (unrecognized_name)", err)
    assert.equal("unrecognized_name", s:last_error().alert)
    local cok, cerr = c:handshake()
    assert.is_nil(cok)
    assert.equal("peer sent alert unrecognized_name", cerr)
    -- false also refuses, and other alerts can be named
    sctx = H.server_ctx { on_servername = function() return false end }
    c, s, ok, side, err = H.pair(H.client_ctx(), sctx)
    assert.is_nil(ok)
    assert.matches("refused by on_servername %(unrecognized_name%)", err)
    sctx = H.server_ctx { on_servername = function() return nil, "access_denied" end }
    c = select(1, H.pair(H.client_ctx(), sctx))
    assert.equal("peer sent alert access_denied", select(2, c:handshake()))
  end)

  it("a raise fails the handshake with an alert, the message and a traceback", function()
    local sctx = H.server_ctx { on_servername = function() error("no table for this name") end }
    local c, s, ok, side, err = H.pair(H.client_ctx(), sctx)
    assert.is_nil(ok)
    assert.equal("server", side)
    assert.matches("^callback: .*no table for this name", err)
    local le = s:last_error()
    assert.equal("callback", le.kind)
    assert.matches("traceback", le.traceback)
    assert.equal("peer sent alert internal_error", select(2, c:handshake()))
  end)

  it("a bad return value is an error naming the callback", function()
    for _, bad in ipairs { 42, "yes", {} } do
      local sctx = H.server_ctx { on_servername = function() return bad end }
      local _, _, ok, _, err = H.pair(H.client_ctx(), sctx)
      assert.is_nil(ok)
      assert.matches("callback: on_servername must return true, a server context", err)
    end
    local sctx = H.server_ctx { on_servername = function() return nil, "bogus_alert" end }
    local _, _, ok, _, err = H.pair(H.client_ctx(), sctx)
    assert.is_nil(ok)
    assert.matches("unknown alert 'bogus_alert'", err)
  end)

  it("switching to a client context is an error", function()
    local sctx = H.server_ctx { on_servername = function() return H.client_ctx() end }
    local _, _, ok, _, err = H.pair(H.client_ctx(), sctx)
    assert.is_nil(ok)
    assert.matches("callback: .*server context expected", err)
  end)

  it("set_context works before the handshake and rejects misuse", function()
    local rsa = rsa_ctx()
    local c = both:new { server_name = "localhost" }
    local s = H.server_ctx():new()
    assert.is_true(s:set_context(rsa))
    assert.is_true(H.handshake(c, s))
    assert.matches(RSA_ISSUER, issuer_of(c))
    assert.has_error(function() c:set_context(rsa) end,
      "set_context: only server connections can switch context")
    assert.has_error(function() s:set_context(rsa) end, "set_context: the handshake is already finished")
    assert.has_error(function() s:set_context("ctx") end)
  end)

  it("is for server contexts only", function()
    assert.has_error(function()
      wolfssl.context { mode = "client", on_servername = function() end }
    end, "bad option 'on_servername': is for server contexts")
    assert.has_error(function()
      wolfssl.context { mode = "server", on_servername = 1 }
    end)
  end)

  describe("over TCP with openssl s_client", function()
    local sctx = rsa_ctx {
      certificate = H.cert("server.pem"), key = H.cert("server.key"),
      on_servername = function(conn, name)
        if name == "rsa.localhost" then return rsa_ctx() end
        if name == "localhost" then return true end
        if name == "boom.localhost" then error("boom") end
        return nil, "unrecognized_name"
      end,
    }

    it("switches the certificate by -servername", function()
      local ok, err, conn, out = serve_s_client(sctx, "-servername rsa.localhost")
      assert(ok, tostring(err) .. "\n" .. out)
      assert.equal("rsa.localhost", conn:server_name())
      assert.matches("issuer=[^\n]*" .. RSA_ISSUER, out)
      ok, err, conn, out = serve_s_client(sctx, "-servername localhost")
      assert(ok, tostring(err) .. "\n" .. out)
      assert.matches("issuer=[^\n]*Test Root CA", out)
    end)

    it("refuses an unknown name with unrecognized_name", function()
      local ok, err, conn, out = serve_s_client(sctx, "-servername nobody.example")
      assert.is_nil(ok)
      assert.equal("server name 'nobody.example' refused by on_servername (unrecognized_name)", err)
      assert.matches("unrecognized name", out)
    end)

    it("a raise sends internal_error", function()
      local ok, err, conn, out = serve_s_client(sctx, "-servername boom.localhost")
      assert.is_nil(ok)
      assert.matches("^callback: .*boom", err)
      assert.matches("internal error", out)
    end)
  end)
end)
