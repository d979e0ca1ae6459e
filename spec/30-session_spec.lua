-- Session objects: conn:session(), export/import, accessors, misuse.
local wolfssl = require "wolfssl"
local H = require "helpers"

-- A finished handshake at `ver` plus the client's resumable session.
local function session_for(ver, sopts)
  local so = { min_version = ver, max_version = ver }
  for k, v in pairs(sopts or {}) do so[k] = v end
  local cctx, sctx = H.client_ctx(), H.server_ctx(so)
  local c, s, ok, side, err = H.pair(cctx, sctx)
  assert(ok, tostring(side) .. ": " .. tostring(err))
  local sess = c:session()
  if not sess then
    assert.equal("x", H.transfer(s, c, "x")) -- the client reads: the ticket is processed
    sess = assert(c:session())
  end
  return sess, c, s
end

describe("wolfssl.session", function()
  it("TLS 1.3: no session before the ticket is read, then one with a ticket", function()
    local c, s, ok = H.pair(H.client_ctx(), H.server_ctx())
    assert.is_true(ok)
    local none, msg = c:session()
    assert.is_nil(none)
    assert.matches("conn:read%(%)", msg)
    c:feed(s:drain())
    local _, want = c:read()
    assert.equal("wantread", want)  -- no application data, but the ticket was processed
    local sess = assert(c:session())
    assert.is_true(sess:has_ticket())
    assert.is_true(sess:resumable())
    assert.equal("TLSv1.3", sess:version())
    assert.matches("^TLS_AES_", sess:cipher())
  end)

  it("has the accessors the docs list, for TLS 1.3, 1.2 tickets and 1.2 ids", function()
    for _, case in ipairs {
      { "tls1.3", nil, true }, { "tls1.2", nil, true }, { "tls1.2", { session_tickets = false }, false },
    } do
      local sess, c = session_for(case[1], case[2])
      assert.equal(case[3], sess:has_ticket(), case[1])
      assert.equal(c:version(), sess:version())
      assert.is_string(sess:cipher())
      assert.is_true(sess:timeout() > 0)
      assert.is_true(math.abs(sess:time() - os.time()) < 60)
      if not case[3] then assert.matches("^%x+$", sess:id()) ; assert.equal(64, #sess:id()) end
      assert.matches("^wolfssl.session %(TLSv1%.[23]", tostring(sess))
    end
  end)

  it("exports to a string and imports it back with the same properties", function()
    local sess = session_for("tls1.2", { session_tickets = false })
    local der = sess:export()
    assert.is_string(der)
    assert.is_true(#der > 48)
    local back = assert(wolfssl.session.import(der))
    assert.equal(sess:id(), back:id())
    assert.equal(sess:cipher(), back:cipher())
    assert.equal(sess:version(), back:version())
    assert.equal(sess:time(), back:time())
    assert.equal(der, back:export())
  end)

  it("import rejects garbage with nil, message", function()
    local der = session_for("tls1.3"):export()
    for _, bad in ipairs { "", "garbage", der:sub(1, 20), ("\0"):rep(200) } do
      local s, msg = wolfssl.session.import(bad)
      assert.is_nil(s)
      assert.equal("not a valid exported session", msg)
    end
    assert.has_error(function() wolfssl.session.import(42) end,
      "bad argument #1 to 'import' (string expected, got number)")
  end)

  it("conn:session() is a copy: it outlives the connection", function()
    local sess, c, s = session_for("tls1.3")
    c:close(); s:close()
    collectgarbage(); collectgarbage()
    assert.is_true(sess:has_ticket())
    assert.is_string(sess:export())
  end)

  it("raises on misuse", function()
    local sess = session_for("tls1.2")
    local sctx = H.server_ctx()
    local server = sctx:new{}
    assert.has_error(function() server:set_session(sess) end,
      "set_session: only client connections resume sessions")
    local client = H.client_ctx():new{ server_name = "localhost" }
    assert.has_error(function() client:set_session("nope") end)
    assert.has_error(function() H.client_ctx():new{ server_name = "localhost", session = "x" } end,
      "bad option 'session': expected a session object (got \"x\")")
    local c, s, ok = H.pair(H.client_ctx(), sctx)
    assert.is_true(ok)
    assert.has_error(function() c:set_session(sess) end,
      "set_session: must be called before the handshake starts")
    local fresh = H.client_ctx():new{ server_name = "localhost" }
    assert.same({ nil, "no session: the handshake is not finished" }, { fresh:session() })
    sess:free()
    assert.has_error(function() sess:id() end, "attempt to use a freed session")
    assert.equal("wolfssl.session (freed)", tostring(sess))
  end)
end)
