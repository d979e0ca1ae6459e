-- Post-quantum key exchange (issue 13): the ML-KEM hybrids on builds that
-- have ML-KEM (features.mlkem), a clear error naming the group where not.
local wolfssl = require "wolfssl"
local H = require "helpers"
local hello = require "wolfssl.hello"

local HYBRIDS = { "X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024" }

local function groups_of(cctx, sctx)
  local c, s, ok, side, err = H.pair(cctx, sctx)
  assert(ok, tostring(side) .. ": " .. tostring(err))
  return c:group(), s:group()
end

-- the ClientHello a client context sends
local function client_hello(cctx)
  local c = cctx:new { server_name = "localhost" }
  assert.same({ nil, "wantread" }, { c:handshake() })
  return assert(hello.peek(c:drain()))
end

describe("post-quantum key exchange", function()
  it("features.mlkem says whether the build has ML-KEM", function()
    assert.is_boolean(wolfssl.features.mlkem)
  end)

  if wolfssl.features.mlkem then
    it("a default client and server agree on X25519MLKEM768, and both name it", function()
      assert.same({ "X25519MLKEM768", "X25519MLKEM768" }, { groups_of(H.client_ctx(), H.server_ctx()) })
    end)

    it("a default client sends key shares for X25519MLKEM768 and X25519", function()
      local h = client_hello(H.client_ctx())
      assert.equal("X25519MLKEM768", h.groups[1])
      assert.same({ "X25519MLKEM768", "x25519" }, h.key_share_groups)
    end)

    it("a server without ML-KEM takes the X25519 key share: no HelloRetryRequest", function()
      local seen = {}
      local cctx = H.client_ctx { on_message = function(_, m)
        seen[#seen + 1] = m.type
      end }
      local c = groups_of(cctx, H.server_ctx { groups = "X25519:P-256" })
      assert.equal("X25519", c)
      for _, t in ipairs(seen) do assert.not_equal("hello_retry_request", t) end
    end)

    it("a server prefers the hybrid over X25519 when the client offers both", function()
      assert.same({ "X25519MLKEM768", "X25519MLKEM768" },
        { groups_of(H.client_ctx { groups = "X25519MLKEM768:X25519" }, H.server_ctx()) })
    end)

    for _, name in ipairs(HYBRIDS) do
      it(("groups = %q is accepted and negotiated with a default server"):format(name), function()
        assert.same({ name, name }, { groups_of(H.client_ctx { groups = name }, H.server_ctx()) })
      end)
    end

    it("TLS 1.2 has no hybrid: a default TLS 1.2 client gets X25519", function()
      assert.equal("X25519", (groups_of(H.client_ctx { max_version = "tls1.2" }, H.server_ctx())))
    end)
  else
    for _, name in ipairs(HYBRIDS) do
      it(("groups = %q is refused with an error naming the group"):format(name), function()
        local ok, err = pcall(wolfssl.context, { mode = "client", groups = { name, "X25519" } })
        assert.is_false(ok)
        assert.matches(("bad option 'groups': group '%s' needs ML%%-KEM, which this wolfSSL build lacks"):format(name), err)
      end)
    end

    it("a default client offers no hybrid and one X25519 key share", function()
      local h = client_hello(H.client_ctx())
      assert.equal("x25519", h.groups[1])
      assert.same({ "x25519" }, h.key_share_groups)
    end)
  end

  it("an unknown group is refused with its name", function()
    local ok, err = pcall(wolfssl.context, { mode = "client", groups = "X25519:NotAGroup" })
    assert.is_false(ok)
    assert.matches("bad option 'groups': unknown or unsupported group 'NotAGroup'", err)
  end)
end)
