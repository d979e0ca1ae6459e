-- on_alpn and ALPN lists: choose, refuse (fatal no_application_protocol, never
-- a silent fallback), raise; memory mode and `openssl s_client -alpn` over TCP.
local wolfssl = require "wolfssl"
local H = require "helpers"
local P = require "peers"

local serve_s_client = P.serve_s_client

-- a server that speaks http/1.1 only, and "boom" raises
local function chooser(log)
  return function(conn, offered)
    if log then log[#log + 1] = table.concat(offered, ",") end
    for _, p in ipairs(offered) do
      if p == "boom" then error("alpn exploded") end
      if p == "http/1.1" then return p end
    end
    return nil
  end
end

describe("on_alpn", function()
  for _, v in ipairs { "tls1.2", "tls1.3" } do
    it("chooses among the offered protocols (" .. v .. ")", function()
      local log = {}
      local sctx = H.server_ctx { max_version = v, on_alpn = chooser(log) }
      local c, s, ok, side, err = H.pair(H.client_ctx { alpn = { "h2", "http/1.1" } }, sctx)
      assert(ok, tostring(side) .. ": " .. tostring(err))
      assert.same({ "h2,http/1.1" }, log)
      assert.equal("http/1.1", c:alpn())
      assert.equal("http/1.1", s:alpn())
      assert.equal(v == "tls1.2" and "TLSv1.2" or "TLSv1.3", c:version())
    end)

    it("no overlap is a fatal no_application_protocol alert, not a fallback (" .. v .. ")", function()
      local sctx = H.server_ctx { max_version = v, on_alpn = chooser() }
      local c, s, ok, side, err = H.pair(H.client_ctx { alpn = { "h2", "spdy/3" } }, sctx)
      assert.is_nil(ok)
      assert.equal("server", side)
      assert.equal("no application protocol: on_alpn chose none of the client's (h2, spdy/3)", err)
      assert.equal("alpn", s:last_error().kind)
      assert.equal("peer sent alert no_application_protocol", select(2, c:handshake()))
    end)
  end

  it("is not called when the client offers no ALPN, and nothing is negotiated", function()
    local log = {}
    local sctx = H.server_ctx { on_alpn = chooser(log) }
    local c, s, ok = H.pair(H.client_ctx(), sctx)
    assert.is_true(ok)
    assert.same({}, log)
    assert.is_nil(c:alpn())
    assert.is_nil(s:alpn())
  end)

  it("a raise fails the handshake with the alert and a traceback", function()
    local sctx = H.server_ctx { on_alpn = chooser() }
    local c, s, ok, side, err = H.pair(H.client_ctx { alpn = { "boom" } }, sctx)
    assert.is_nil(ok)
    assert.equal("server", side)
    assert.matches("^callback: .*alpn exploded", err)
    assert.matches("traceback", s:last_error().traceback)
    assert.equal("peer sent alert no_application_protocol", select(2, c:handshake()))
  end)

  it("choosing a protocol the client did not offer is an error", function()
    local sctx = H.server_ctx { on_alpn = function() return "h3" end }
    local _, _, ok, _, err = H.pair(H.client_ctx { alpn = "h2" }, sctx)
    assert.is_nil(ok)
    assert.equal("callback: on_alpn returned 'h3', which the client did not offer", err)
    sctx = H.server_ctx { on_alpn = function() return 1 end }
    _, _, ok, _, err = H.pair(H.client_ctx { alpn = "h2" }, sctx)
    assert.is_nil(ok)
    assert.matches("on_alpn must return one of the offered protocols or nil %(got number%)", err)
  end)

  it("is for servers, and not together with a server alpn list", function()
    assert.has_error(function()
      wolfssl.context { mode = "client", on_alpn = function() end }
    end, "bad option 'on_alpn': is for server contexts")
    assert.has_error(function()
      H.server_ctx { alpn = { "h2" }, on_alpn = function() end }
    end, "bad option 'on_alpn': give a server alpn list or on_alpn, not both")
  end)
end)

describe("alpn lists", function()
  it("a server list with no overlap fails with no_application_protocol", function()
    local c, s, ok, side, err = H.pair(H.client_ctx { alpn = { "h2" } }, H.server_ctx { alpn = { "http/1.1" } })
    assert.is_nil(ok)
    assert.equal("server", side)
    assert.equal("no shared application protocol (ALPN)", err)
    assert.equal("peer sent alert no_application_protocol", select(2, c:handshake()))
  end)

  it("a server list with overlap picks the shared protocol", function()
    local c, s, ok = H.pair(H.client_ctx { alpn = { "h2", "http/1.1" } }, H.server_ctx { alpn = { "http/1.1" } })
    assert.is_true(ok)
    assert.equal("http/1.1", c:alpn())
  end)

  it("a client offering ALPN to a server without ALPN gets no protocol, and no error", function()
    local c, s, ok = H.pair(H.client_ctx { alpn = { "h2" } }, H.server_ctx())
    assert.is_true(ok)
    assert.is_nil(c:alpn())
    assert.is_nil(s:alpn())
  end)
end)

describe("on_alpn over TCP with openssl s_client -alpn", function()
  local sctx = H.server_ctx { on_alpn = chooser() }

  it("chooses http/1.1", function()
    local ok, err, conn, out = serve_s_client(sctx, "-servername localhost -alpn h2,http/1.1")
    assert(ok, tostring(err) .. "\n" .. out)
    assert.equal("http/1.1", conn:alpn())
    assert.matches("ALPN protocol: http/1.1", out)
  end)

  it("refuses with no_application_protocol", function()
    local ok, err, conn, out = serve_s_client(sctx, "-servername localhost -alpn h2")
    assert.is_nil(ok)
    assert.matches("^no application protocol", err)
    assert.matches("no application protocol", out)
  end)

  it("a raise sends the alert", function()
    local ok, err, conn, out = serve_s_client(sctx, "-servername localhost -alpn boom")
    assert.is_nil(ok)
    assert.matches("^callback: .*alpn exploded", err)
    assert.matches("no application protocol", out)
  end)
end)
