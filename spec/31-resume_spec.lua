-- Client resumption: TLS 1.3 tickets, TLS 1.2 tickets, TLS 1.2 session ids;
-- on_new_session; what a user sees (session_reused, a smaller handshake).
local wolfssl = require "wolfssl"
local H = require "helpers"

local CASES = {
  { name = "TLS 1.3 ticket", ver = "tls1.3", ticket = true },
  { name = "TLS 1.2 ticket", ver = "tls1.2", ticket = true },
  { name = "TLS 1.2 session id", ver = "tls1.2", ticket = false, server = { session_tickets = false } },
}

-- (X25519: with a post-quantum hybrid, 1 KiB of ML-KEM ciphertext in every
-- ServerHello would hide the certificate these byte counts look for)
local function server_ctx(case, extra)
  local o = { min_version = case.ver, max_version = case.ver, groups = "X25519:P-256" }
  for k, v in pairs(case.server or {}) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return H.server_ctx(o)
end

-- Handshake counting the bytes the server sent.
local function handshake_bytes(c, s)
  local sent = 0
  for _ = 1, 50 do
    local cok, cerr = c:handshake()
    s:feed(c:drain())
    local sok = s:handshake()
    local out = s:drain()
    sent = sent + #out
    c:feed(out)
    if cok and sok then return true, sent end
    if not cok and cerr ~= "wantread" and cerr ~= "wantwrite" then return nil, cerr end
  end
  return nil, "did not finish"
end

describe("resumption", function()
  for _, case in ipairs(CASES) do
    it(case.name .. ": a session resumes, and the handshake is abbreviated", function()
      local news = {}
      local cctx = H.client_ctx{ on_new_session = function(conn, sess)
        assert.is_false(conn:is_server())
        news[#news + 1] = sess
      end }
      local sctx = server_ctx(case)
      local c, s = cctx:new{ server_name = "localhost" }, sctx:new{}
      local ok, full = handshake_bytes(c, s)
      assert.is_true(ok)
      assert.is_false(c:session_reused())
      assert.equal("ping", H.transfer(s, c, "ping")) -- TLS 1.3: the ticket is read here
      assert.is_true(#news >= 1, "on_new_session was called")
      local sess = news[#news]
      assert.equal(case.ticket, sess:has_ticket())
      -- through export/import, as a client would keep it between runs
      local again = assert(wolfssl.session.import(sess:export()))
      local c2, s2 = cctx:new{ server_name = "localhost", session = again }, sctx:new{}
      local ok2, resumed = handshake_bytes(c2, s2)
      assert.is_true(ok2)
      assert.is_true(c2:session_reused())
      assert.is_true(s2:session_reused())
      assert.equal(c:cipher(), c2:cipher())
      -- no certificate this time: far fewer bytes from the server
      assert.is_true(resumed * 2 < full, ("full %d bytes, resumed %d"):format(full, resumed))
      assert.equal("data", H.transfer(c2, s2, "data"))
    end)
  end

  for _, case in ipairs(CASES) do
    it(case.name .. ": the trace shows the abbreviated handshake (no certificate)", function()
      local trace = require "wolfssl.trace"
      local o = { mode = "client", cafile = H.cert("ca.pem") }
      local rec = trace.attach(o, {})
      local cctx, sctx = assert(wolfssl.context(o)), server_ctx(case)
      local c, s, ok = H.pair(cctx, sctx)
      assert.is_true(ok)
      H.transfer(s, c, "x")
      local function types(conn)
        local t = {}
        for _, m in ipairs(rec:messages(conn)) do t[#t + 1] = m.direction .. " " .. m.type end
        return table.concat(t, ", ")
      end
      assert.matches("received certificate", types(c))
      local c2, _, ok2 = H.pair(cctx, sctx, { server_name = "localhost", session = c:session() })
      assert.is_true(ok2)
      local seen = types(c2)
      assert.matches("sent client_hello, received server_hello", seen)
      assert.is_nil(seen:find("certificate", 1, true), seen)
      assert.matches("abbreviated %(resumed%) handshake, 1 round trip", table.concat(rec:summary(c2), "\n"))
    end)
  end

  it("a session made by one client context resumes from another", function()
    local sctx = H.server_ctx()
    local c, s, ok = H.pair(H.client_ctx(), sctx)
    assert.is_true(ok)
    H.transfer(s, c, "x")
    local sess = assert(c:session())
    local c2, s2, ok2 = H.pair(H.client_ctx(), sctx, { server_name = "localhost", session = sess })
    assert.is_true(ok2)
    assert.is_true(c2:session_reused())
  end)

  it("conn:set_session before the handshake works like the session option", function()
    local sctx, cctx = H.server_ctx{ max_version = "tls1.2" }, H.client_ctx()
    local c, s, ok = H.pair(cctx, sctx)
    assert.is_true(ok)
    local sess = assert(c:session())
    local c2 = cctx:new{ server_name = "localhost" }
    assert.is_true(c2:set_session(sess))
    local s2 = sctx:new{}
    assert.is_true((H.handshake(c2, s2)))
    assert.is_true(c2:session_reused())
  end)

  it("a server with another ticket key and no cache does a full TLS 1.3 handshake", function()
    local c, s, ok = H.pair(H.client_ctx(), H.server_ctx())
    assert.is_true(ok)
    H.transfer(s, c, "x")
    local sess = assert(c:session())
    local c2, s2, ok2 = H.pair(H.client_ctx(), H.server_ctx(), { server_name = "localhost", session = sess })
    assert.is_true(ok2)
    assert.is_false(c2:session_reused())
    assert.is_false(s2:session_reused())
  end)

  it("TLS 1.3 with a server that sends no tickets (session_tickets = false): no session", function()
    local called = false
    local cctx = H.client_ctx{ on_new_session = function() called = true end }
    local c, s, ok = H.pair(cctx, H.server_ctx{ session_tickets = false })
    assert.is_true(ok)
    assert.equal("x", H.transfer(s, c, "x"))
    local none, msg = c:session()
    assert.is_nil(none)
    assert.matches("if it sends one", msg)
    assert.is_false(called)
  end)

  it("an error in on_new_session fails the call that processed the ticket, with the message", function()
    local cctx = H.client_ctx{ on_new_session = function() error("boom") end }
    local c, s, ok = H.pair(cctx, H.server_ctx())
    assert.is_true(ok) -- TLS 1.3: the ticket comes after the handshake
    assert(s:write("hi"))
    c:feed(s:drain())
    local data, err = c:read()
    assert.is_nil(data)
    assert.matches("callback: .*boom", err)
    assert.equal("on_new_session", c:last_error().callback)
  end)

  it("on_new_session also runs on servers", function()
    local seen = 0
    local sctx = H.server_ctx{ max_version = "tls1.2", session_tickets = false,
      on_new_session = function(conn, sess)
        assert.is_true(conn:is_server())
        assert.matches("^%x+$", sess:id())
        seen = seen + 1
      end }
    local _, _, ok = H.pair(H.client_ctx(), sctx)
    assert.is_true(ok)
    assert.equal(1, seen)
  end)
end)
