-- Exporters and TLS 1.3 extras: export_keying_material, key_update,
-- request_certificate with post_handshake_auth.
local wolfssl = require "wolfssl"
local H = require "helpers"

local VERSIONS = { ["tls1.2"] = "TLSv1.2", ["tls1.3"] = "TLSv1.3" }

-- Move whatever is queued between the two, a few rounds, reading app data.
local function pump(a, b)
  local got = { [a] = {}, [b] = {} }
  for _ = 1, 6 do
    for _, pair in ipairs { { a, b }, { b, a } } do
      local from, to = pair[1], pair[2]
      local out = from:drain()
      if #out > 0 then to:feed(out) end
      while true do
        local data = to:read()
        if not data then break end
        got[to][#got[to] + 1] = data
      end
    end
  end
  return table.concat(got[a]), table.concat(got[b])
end

describe("export_keying_material", function()
  for v in pairs(VERSIONS) do
    it("still works when the key log is on (" .. v .. ")", function()
      local lines = {}
      local keylog = function(_, line) lines[#lines + 1] = line end
      if v == "tls1.3" and not wolfssl.features.keylog_tls13 then keylog = nil end
      local c, s, ok = H.pair(H.client_ctx { max_version = v, keylog = keylog },
                              H.server_ctx { max_version = v })
      assert.is_true(ok)
      if keylog then assert.is_true(#lines > 0) end
      local a = assert(c:export_keying_material("EXPORTER-test", 32))
      assert.equal(a, s:export_keying_material("EXPORTER-test", 32))
    end)
  end

  for v, name in pairs(VERSIONS) do
    it("is equal on both sides, with and without context (" .. v .. ")", function()
      local c, s, ok = H.pair(H.client_ctx { max_version = v }, H.server_ctx { max_version = v })
      assert.is_true(ok)
      assert.equal(name, c:version())
      local a = assert(c:export_keying_material("EXPORTER-test", 32))
      local b = assert(s:export_keying_material("EXPORTER-test", 32))
      assert.equal(32, #a)
      assert.equal(a, b)
      local ac = assert(c:export_keying_material("EXPORTER-test", 32, "ctx-1"))
      assert.equal(ac, s:export_keying_material("EXPORTER-test", 32, "ctx-1"))
      assert.not_equal(a, ac)
      assert.not_equal(ac, c:export_keying_material("EXPORTER-test", 32, "ctx-2"))
      local other = c:export_keying_material("EXPORTER-other", 32)
      assert.not_equal(a, other)
      assert.equal(other, s:export_keying_material("EXPORTER-other", 32))
      -- another connection has other keys
      local c2 = H.pair(H.client_ctx { max_version = v }, H.server_ctx { max_version = v })
      assert.not_equal(a, c2:export_keying_material("EXPORTER-test", 32))
      assert.equal(100, #c:export_keying_material("EXPORTER-test", 100))
    end)
  end

  it("needs a finished handshake and a sane length", function()
    local c = H.client_ctx():new { server_name = "localhost" }
    local ok, err = c:export_keying_material("EXPORTER-test", 32)
    assert.is_nil(ok)
    assert.equal("the handshake is not finished", err)
    assert.has_error(function() c:export_keying_material("x", 0) end)
    assert.has_error(function() c:export_keying_material() end)
  end)
end)

describe("key_update", function()
  it("updates the traffic keys in TLS 1.3 and data keeps flowing both ways", function()
    local c, s, ok = H.pair(H.client_ctx(), H.server_ctx())
    assert.is_true(ok)
    assert.equal("hi", H.transfer(c, s, "hi"))
    local ekm = c:export_keying_material("EXPORTER-test", 16)
    assert.is_true(c:key_update())
    local ku = c:drain()
    assert.is_true(#ku > 0) -- the KeyUpdate record
    s:feed(ku)
    assert.equal("after update", H.transfer(c, s, "after update"))
    local got_c = pump(c, s)
    assert.equal("", got_c)
    assert.equal("reply", H.transfer(s, c, "reply"))
    assert.is_true(s:key_update())
    local _, _ = pump(s, c)
    assert.equal("server again", H.transfer(s, c, "server again"))
    assert.equal("client again", H.transfer(c, s, "client again"))
    -- exporters come from the handshake, not the traffic keys
    assert.equal(ekm, c:export_keying_material("EXPORTER-test", 16))
  end)

  it("is refused clearly on TLS 1.2 and before the handshake", function()
    local c, s = H.pair(H.client_ctx { max_version = "tls1.2" }, H.server_ctx())
    local ok, err = c:key_update()
    assert.is_nil(ok)
    assert.equal("key_update needs TLS 1.3 (this connection uses TLSv1.2)", err)
    ok, err = H.client_ctx():new { server_name = "localhost" }:key_update()
    assert.is_nil(ok)
    assert.equal("the handshake is not finished", err)
    c:close()
    assert.has_error(function() c:key_update() end, "attempt to use a closed connection")
  end)
end)

describe("request_certificate", function()
  local function pha_pair(client_opts, server_opts)
    local co = { post_handshake_auth = true, certificate = H.cert("client.pem"), key = H.cert("client.key") }
    for k, v in pairs(client_opts or {}) do co[k] = v end
    local so = { verify = "peer", cafile = H.cert("ca.pem"), post_handshake_auth = true }
    for k, v in pairs(server_opts or {}) do so[k] = v end
    return H.pair(H.client_ctx(co), H.server_ctx(so))
  end

  it("asks for the client certificate after the handshake (post_handshake_auth)", function()
    local depths = {}
    local c, s, ok = pha_pair(nil, { on_verify = function(conn, ok_, info)
      depths[#depths + 1] = info.depth
      return ok_
    end })
    assert.is_true(ok)
    assert.is_nil(s:peer_certificate()) -- not asked in the handshake
    assert.same({}, depths)
    assert.is_true(s:request_certificate())
    -- wolfSSL sends the CertificateRequest with the server's next write
    assert.equal("", s:drain())
    assert.equal(5, s:write("hello"))
    c:feed(s:drain())
    assert.equal("hello", c:read())  -- the client answers by itself
    s:feed(c:drain())
    local ok2, err = s:read()
    assert.is_nil(ok2)
    assert.equal("wantread", err)
    local cert = assert(s:peer_certificate())
    assert.matches("Test Client", tostring(cert:subject()))
    assert.same({ 0 }, depths)
    assert.is_true((s:verify_result()))
    assert.equal("still fine", H.transfer(c, s, "still fine"))
  end)

  it("an untrusted certificate fails the server's read", function()
    local c, s, ok = pha_pair({ certificate = H.cert("untrusted-client.pem"), key = H.cert("untrusted-client.key") })
    assert.is_true(ok)
    assert.is_true(s:request_certificate())
    s:write("x")
    c:feed(s:drain())
    c:read()
    s:feed(c:drain())
    local data, err = s:read()
    assert.is_nil(data)
    assert.matches("certificate verify failed", err)
  end)

  it("fails clearly when the client did not enable post_handshake_auth", function()
    local c, s, ok = pha_pair({ post_handshake_auth = false })
    assert.is_true(ok)
    local r, err = s:request_certificate()
    assert.is_nil(r)
    assert.matches("the client did not offer post%-handshake authentication", err)
  end)

  it("is refused on TLS 1.2, on clients and on servers that verify nothing", function()
    local c, s, ok = pha_pair({ max_version = "tls1.2" })
    assert.is_true(ok)
    local r, err = s:request_certificate()
    assert.is_nil(r)
    assert.equal("request_certificate needs TLS 1.3 (this connection uses TLSv1.2)", err)
    assert.has_error(function() c:request_certificate() end,
      "request_certificate: only a server can request a certificate")
    c, s = H.pair(H.client_ctx { post_handshake_auth = true }, H.server_ctx())
    assert.has_error(function() s:request_certificate() end)
    assert.has_error(function()
      H.server_ctx { post_handshake_auth = true }
    end, 'bad option \'post_handshake_auth\': a server needs verify = "peer" or "require"')
  end)

  it("is reported in wolfssl.features", function()
    assert.is_true(wolfssl.features.post_handshake_auth)
    assert.is_true(wolfssl.features.keying_material)
  end)
end)
