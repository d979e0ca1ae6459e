-- The module loads and a memory-mode handshake completes (runs on every Lua:
-- `make test` runs this file on Lua 5.1 and 5.3 too).
local wolfssl = require "wolfssl"
local H = require "helpers"

describe("wolfssl", function()
  it("reports its versions and features", function()
    assert.is_string(wolfssl.VERSION)
    assert.matches("^%d+%.%d+%.%d+", wolfssl.WOLFSSL_VERSION)
    assert.is_true(wolfssl.features.tls13)
    assert.is_boolean(wolfssl.features.keylog)
  end)

  it("loads every Lua layer", function()
    for _, m in ipairs { "wolfssl.socket", "wolfssl.https", "wolfssl.resty", "wolfssl.trace",
                         "wolfssl.hello", "wolfssl.decode", "wolfssl.session", "wolfssl.x509", "wolfssl.pkey" } do
      assert.is_table(require(m), m)
    end
  end)

  it("completes a TLS 1.3 handshake in memory and carries data both ways", function()
    local c, s, ok, side, err = H.pair(H.client_ctx(), H.server_ctx())
    assert(ok, tostring(side) .. ": " .. tostring(err))
    assert.equal("TLSv1.3", c:version())
    assert.equal("TLSv1.3", s:version())
    assert.equal("hello server", H.transfer(c, s, "hello server"))
    assert.equal("hello client", H.transfer(s, c, "hello client"))
    assert.is_true((c:verify_result()))
    c:close(); s:close()
  end)
end)
