-- conn:peer_chain() / conn:peer_certificate(): the certificates the peer sent,
-- leaf first. wolfSSL keeps them on the session only when built with
-- SESSION_CERTS (features.session_certs: the system build); otherwise the
-- binding keeps the chain of each full handshake (csrc/verify.c). The one
-- build difference: a resumed handshake carries no certificate, so only a
-- SESSION_CERTS build still answers there (from the saved session).
local wolfssl = require "wolfssl"
local H = require "helpers"

local function ok_pair(cctx, sctx, copts, sopts)
  local c, s, ok, side, err = H.pair(cctx, sctx, copts, sopts)
  assert(ok, tostring(side) .. ": " .. tostring(err))
  return c, s
end

local function subjects(chain)
  local t = {}
  for i, x in ipairs(chain) do t[i] = x:subject()[2].value end
  return t
end

local chain_server = { certificate = H.cert("server-chain.pem"), key = H.cert("server-chain.key") }
local chain_client = { certificate = H.cert("client-chain.pem"), key = H.cert("client-chain.key") }

local function merge(a, b)
  local t = {}
  for k, v in pairs(a or {}) do t[k] = v end
  for k, v in pairs(b or {}) do t[k] = v end
  return t
end

describe("peer_chain", function()
  it("features.session_certs says whether wolfSSL keeps the chain on the session", function()
    assert.is_boolean(wolfssl.features.session_certs)
  end)

  for _, ver in ipairs { "tls1.2", "tls1.3" } do
    it(ver .. ": the client gets the server's chain, leaf first, the leaf being peer_certificate()", function()
      local c = ok_pair(H.client_ctx { max_version = ver }, H.server_ctx(chain_server),
                        { server_name = "chain.localhost" })
      local chain = c:peer_chain()
      assert.same({ "chain.localhost", "Test Intermediate CA" }, subjects(chain))
      assert.equal(c:peer_certificate():der(), chain[1]:der())
      assert.is_true(chain[2]:issued(chain[1]))
      -- each call gives new copies of the same certificates
      local again = c:peer_chain()
      assert.is_false(rawequal(chain[1], again[1]))
      assert.is_true(chain[1] == again[1]) -- x509 __eq: the same certificate
      assert.equal(chain[2]:der(), again[2]:der())
    end)
  end

  it("a long chain comes whole and in order (deep-chain.pem: leaf and four intermediates)", function()
    local c = ok_pair(H.client_ctx { cafile = H.cert("deep-ca.pem"), verify_depth = 5 },
                      H.server_ctx { certificate = H.cert("deep-chain.pem"), key = H.cert("deep-leaf.key") })
    local chain = c:peer_chain()
    assert.same({ "localhost", "Deep Intermediate 4", "Deep Intermediate 3", "Deep Intermediate 2",
                  "Deep Intermediate 1" }, subjects(chain))
    for i = 1, #chain - 1 do assert.is_true(chain[i + 1]:issued(chain[i])) end
  end)

  it("a leaf sent alone is a chain of one", function()
    local c = ok_pair(H.client_ctx(), H.server_ctx())
    assert.same({ "localhost" }, subjects(c:peer_chain()))
  end)

  it("verify = 'none' still records what the peer sent, even a certificate that does not verify", function()
    local c = ok_pair(H.client_ctx { verify = "none" }, H.server_ctx(chain_server))
    assert.same({ "chain.localhost", "Test Intermediate CA" }, subjects(c:peer_chain()))
    c = ok_pair(H.client_ctx { verify = "none" },
                H.server_ctx { certificate = H.cert("selfsigned.pem"), key = H.cert("selfsigned.key") })
    assert.same({ "localhost" }, subjects(c:peer_chain()))
    assert.is_false((c:verify_result()))
  end)

  -- (without SESSION_CERTS the binding keeps no copy of the leaf once wolfSSL
  -- has it as the peer certificate: the chain is whole at every point anyway)
  it("is whole inside on_verify at every depth and after a failed verification", function()
    local seen = {}
    local cctx = H.client_ctx { on_verify = function(conn, ok, info)
      seen[#seen + 1] = info.depth .. ":" .. table.concat(subjects(conn:peer_chain()), ",")
      return ok and info.depth > 0 -- the leaf is refused
    end }
    local c, _, ok, side, err = H.pair(cctx, H.server_ctx(chain_server), { server_name = "chain.localhost" })
    assert.is_nil(ok)
    assert.equal("client", side)
    assert.equal("certificate verify failed: rejected by on_verify (depth 0, CN=chain.localhost)", err)
    assert.same({ "1:chain.localhost,Test Intermediate CA", "0:chain.localhost,Test Intermediate CA" }, seen)
    local chain = c:peer_chain()
    assert.same({ "chain.localhost", "Test Intermediate CA" }, subjects(chain))
    assert.equal(c:peer_certificate():der(), chain[1]:der())
  end)

  it("the server gets the client's chain; nil when it asked for none", function()
    local c, s = ok_pair(H.client_ctx(chain_client), H.server_ctx { verify = "require", cafile = H.cert("ca.pem") })
    assert.same({ "Test Chain Client", "Test Intermediate CA" }, subjects(s:peer_chain()))
    assert.same({ "localhost" }, subjects(c:peer_chain()))
    c, s = ok_pair(H.client_ctx(chain_client), H.server_ctx())
    assert.is_nil(s:peer_chain())
    assert.is_nil(s:peer_certificate())
  end)

  it("nil before the handshake, and after a handshake without certificates (PSK)", function()
    local conn = H.client_ctx():new { server_name = "localhost" }
    assert.is_nil(conn:peer_chain())
    local key = string.rep("k", 32)
    if not wolfssl.features.psk then -- the build says so, and the option says it clearly
      local ok, err = pcall(wolfssl.context, { mode = "server", psk = { keys = { id = key } } })
      assert.is_false(ok)
      assert.matches("PSK is not supported by this wolfSSL build", err, 1, true)
      pending("this wolfSSL build has no PSK (the clear error is checked)")
    end
    local c = ok_pair(assert(wolfssl.context { mode = "client", verify = "none", psk = { identity = "id", key = key } }),
                      assert(wolfssl.context { mode = "server", psk = { keys = { id = key } } }), {})
    assert.is_nil(c:peer_chain())
    assert.is_nil(c:peer_certificate())
  end)

  it("post-handshake authentication brings the client's chain to the server", function()
    if not wolfssl.features.post_handshake_auth then
      assert.has_error(function() H.client_ctx(merge(chain_client, { post_handshake_auth = true })) end)
      pending("this wolfSSL build has no post-handshake authentication (the clear error is checked)")
    end
    local cctx = H.client_ctx(merge(chain_client, { post_handshake_auth = true }))
    local sctx = H.server_ctx { verify = "peer", cafile = H.cert("ca.pem"), post_handshake_auth = true }
    local c, s = ok_pair(cctx, sctx)
    assert.is_nil(s:peer_chain())
    assert.is_true(s:request_certificate())
    assert.equal(2, s:write("hi"))
    c:feed(s:drain())
    assert.equal("hi", c:read())
    s:feed(c:drain())
    assert.is_nil((s:read()))
    assert.same({ "Test Chain Client", "Test Intermediate CA" }, subjects(s:peer_chain()))
    assert.is_true((s:verify_result()))
  end)

  -- Resumption: no Certificate message. With SESSION_CERTS wolfSSL answers
  -- from the session it resumed (the client's saved session; the server's
  -- cache, or a TLS 1.3 ticket that refers to it; not a TLS 1.2 ticket).
  local CASES = {
    { "TLS 1.3 ticket", "tls1.3", true, server_keeps = true },
    { "TLS 1.2 ticket", "tls1.2", true, server_keeps = false },
    { "TLS 1.2 session id", "tls1.2", false, server_keeps = true },
  }
  for _, case in ipairs(CASES) do
    it(case[1] .. ": a resumed connection answers from the session only with features.session_certs", function()
      local news = {}
      local cctx = H.client_ctx(merge(chain_client, { on_new_session = function(_, sess) news[#news + 1] = sess end }))
      local sctx = H.server_ctx(merge(chain_server, { verify = "require", cafile = H.cert("ca.pem"),
                                                      min_version = case[2], max_version = case[2],
                                                      session_tickets = case[3] }))
      local c, s = ok_pair(cctx, sctx, { server_name = "chain.localhost" })
      assert.equal("x", H.transfer(s, c, "x")) -- TLS 1.3: the client takes its ticket
      assert.equal(2, #s:peer_chain())
      local c2, s2 = ok_pair(cctx, sctx, { server_name = "chain.localhost", session = assert(news[#news]) })
      assert.is_true(c2:session_reused())
      assert.is_true(s2:session_reused())
      if wolfssl.features.session_certs then
        assert.same({ "chain.localhost", "Test Intermediate CA" }, subjects(c2:peer_chain()))
        assert.matches("chain.localhost", tostring(c2:peer_certificate():subject()))
        if case.server_keeps then
          assert.same({ "Test Chain Client", "Test Intermediate CA" }, subjects(s2:peer_chain()))
        else
          assert.is_nil(s2:peer_chain())
        end
        -- the client's certificate on every path (issue 10): where wolfSSL kept
        -- none (a TLS 1.2 ticket) the server context remembered it, not its chain
        assert.matches("Test Chain Client", tostring(s2:peer_certificate():subject()))
      else
        assert.is_nil(c2:peer_chain())
        assert.is_nil(c2:peer_certificate())
        assert.is_nil(s2:peer_chain())
        -- a server shows the client's certificate (issue 10): 5.9.2 keeps it
        -- in its tickets; over TLS 1.2 the server context remembers it where
        -- wolfSSL kept none (5.9.2's session id cache)
        local major, minor, patch = wolfssl.WOLFSSL_VERSION:match("^(%d+)%.(%d+)%.(%d+)")
        local v = tonumber(major) * 10000 + tonumber(minor) * 100 + tonumber(patch)
        local cert = s2:peer_certificate()
        if case[2] == "tls1.2" or v >= 50902 then
          assert.matches("Test Chain Client", tostring(cert:subject()))
        elseif cert then -- other releases' TLS 1.3 tickets: if anything, the client's
          assert.matches("Test Chain Client", tostring(cert:subject()))
        end
      end
      -- verification was done by the full handshake: still reported as passed
      assert.is_true((c2:verify_result()) ~= nil)
    end)
  end
end)
