-- Sessions carry their trust (issue 10, DESIGN.md "Sessions carry their
-- trust") and exported sessions are checked before wolfSSL parses them
-- (issue 11, finding 1). Memory mode, both builds.
local wolfssl = require "wolfssl"
local core = require "wolfssl.core"
local H = require "helpers"

-- A session from a finished handshake (the TLS 1.3 ticket read).
local function session_of(cctx, sctx, copts)
  local c, s, ok, side, err = H.pair(cctx, sctx, copts)
  assert(ok, tostring(side) .. ": " .. tostring(err))
  local sess = c:session()
  if not sess then
    assert.equal("x", H.transfer(s, c, "x"))
    sess = assert(c:session())
  end
  return sess, c, s
end

local function untrusted_server(o)
  local t = { certificate = H.cert("untrusted.pem"), key = H.cert("untrusted.key") }
  for k, v in pairs(o or {}) do t[k] = v end
  return H.server_ctx(t)
end

local function tohex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function be(n, width)
  local t = {}
  for i = width, 1, -1 do t[i] = string.char(n % 256); n = math.floor(n / 256) end
  return table.concat(t)
end
local function rd(s, i, width) -- big-endian at 1-based i
  local n = 0
  for k = 0, width - 1 do n = n * 256 + s:byte(i + k) end
  return n
end

-- HMAC-SHA256 by openssl, to forge exported sessions under a key we set.
local function hmac(key, data)
  local name = os.tmpname()
  local f = assert(io.open(name, "wb"))
  f:write(data)
  f:close()
  local p = assert(io.popen(("openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary %s"):format(tohex(key), name)))
  local mac = p:read("*a")
  p:close()
  os.remove(name)
  assert(#mac == 32, "openssl made no HMAC")
  return mac
end

-- The exported form: "LWS2" build(8) flags verify fp(32) namelen(2) name derlen(4) der mac(32)
local function split(exported)
  local namelen = rd(exported, 47, 2)
  local head = exported:sub(1, 48 + namelen)
  local derlen = rd(exported, 49 + namelen, 4)
  return head, exported:sub(53 + namelen, 52 + namelen + derlen)
end
local function rewrap(key, head, der)
  local body = head .. be(#der, 4) .. der
  return body .. hmac(key, body)
end

-- Offsets (1-based) of the fields of wolfSSL's serialisation for this build
-- (5.5.4's layout; later releases end with two ticket binding hashes).
local function fields(der)
  local i = 11 + der:byte(10) + 48 + 1 -- after side, born, timeout, id, secret, ems
  i = i + 1 + der:byte(i)             -- alt id
  local o = {}
  if wolfssl.features.session_certs then
    o.chain = i
    local count = der:byte(i)
    i = i + 1
    for _ = 1, count do i = i + 2 + rd(der, i, 2) end
  end
  i = i + 4 -- version, suite
  o.server_id = i
  i = i + 2 + rd(der, i, 2)
  i = i + 1 + der:byte(i) -- session context
  i = i + 1 + 2           -- peerVerifyRet, named group
  o.times = i             -- ticketSeen (8), ticketAdd (4)
  i = i + 12
  i = i + 1 + der:byte(i) -- nonce
  if wolfssl.features.early_data then i = i + 4 end
  o.ticket = i
  local rest = #der + 1 - (i + 2 + rd(der, i, 2))
  assert(rest == 0 or rest == 64, "layout walk does not end at the end (or 2 SHA-256 hashes before)")
  return o
end

describe("sessions carry their trust", function()
  it("records server name, verification and verify mode, through export/import", function()
    local sess = session_of(H.client_ctx(), H.server_ctx())
    assert.same({ server_name = "localhost", verified = true, verify = "peer" }, sess:trust())
    local back = assert(wolfssl.session.import(sess:export()))
    assert.same(sess:trust(), back:trust())
    local lax = session_of(H.client_ctx{ verify = "none" }, H.server_ctx())
    assert.same({ server_name = "localhost", verified = false, verify = "none" }, lax:trust())
  end)

  it("a verify = \"none\" session never makes a verifying context resume an untrusted server", function()
    local sctx = untrusted_server()
    local lax = session_of(H.client_ctx{ verify = "none" }, sctx)
    local strict = H.client_ctx()
    local msg = "session refused: it was made under other trust settings (CAs, verify, " ..
                "check_hostname, on_verify, CRL or OCSP differ)"
    assert.has_error(function() strict:new{ server_name = "localhost", session = lax } end, msg)
    local c = strict:new{ server_name = "localhost" }
    local ok, why = c:set_session(lax)
    assert.is_nil(ok)
    assert.equal(msg, why)
    -- the same through an exported copy; and the handshake then verifies
    assert.is_nil((c:set_session(assert(wolfssl.session.import(lax:export())))))
    local ok2, side, err = H.handshake(c, sctx:new{})
    assert.is_nil(ok2)
    assert.equal("client", side)
    assert.matches("certificate verify failed", err)
    assert.is_false(c:session_reused())
  end)

  it("other CAs, verify mode or on_verify refuse; equal settings in another context resume", function()
    local sctx = H.server_ctx()
    local pin = function(_, ok) return ok end
    local sess = session_of(H.client_ctx(), sctx)
    for name, o in pairs {
      ["cadata"] = { cafile = false, cadata = H.read("both-ca.pem") },
      ["check_hostname"] = { check_hostname = false },
      ["on_verify"] = { on_verify = pin },
      ["crl"] = { crl = H.cert("crl.pem") },
    } do
      if o.cafile == false then o.cafile = nil end
      local other = H.client_ctx(o)
      local c = other:new{ server_name = "localhost" }
      local ok, why = c:set_session(sess)
      assert.is_nil(ok, name)
      assert.matches("^session refused: it was made under other trust settings", why, nil, name)
    end
    -- a context made with the same options resumes (contents, not objects)
    local c2, s2, ok = H.pair(H.client_ctx(), sctx, { server_name = "localhost", session = sess })
    assert.is_true(ok)
    assert.is_true(c2:session_reused())
    assert.is_true(s2:session_reused())
    -- on_verify: the same function resumes, another one (same code) does not
    local pinned = H.client_ctx{ on_verify = pin }
    local psess = session_of(pinned, sctx)
    local _, _, ok3 = H.pair(H.client_ctx{ on_verify = pin }, sctx, { server_name = "localhost", session = psess })
    assert.is_true(ok3)
    assert.has_error(function()
      H.client_ctx{ on_verify = function(_, ok4) return ok4 end }:new{ server_name = "localhost", session = psess }
    end)
  end)

  it("a session for another server name is refused", function()
    local sess = session_of(H.client_ctx(), H.server_ctx())
    local c = H.client_ctx():new{ server_name = "other.example" }
    local ok, why = c:set_session(sess)
    assert.is_nil(ok)
    assert.equal("session refused: it was made for server name 'localhost', not 'other.example'", why)
    assert.has_error(function() H.client_ctx():new{ server_name = "other.example", session = sess } end, why)
    local nameless = H.client_ctx{ check_hostname = false }
    local s2 = session_of(nameless, H.server_ctx(), {})
    local c2 = nameless:new{ server_name = "localhost" }
    assert.equal("session refused: it was made without a server name, not for 'localhost'",
      select(2, c2:set_session(s2)))
  end)

  for _, ver in ipairs { "tls1.3", "tls1.2" } do
    it(ver .. ": verify_result() on a resumed connection reports the original verification", function()
      local cctx, sctx = H.client_ctx(), H.server_ctx{ max_version = ver }
      local sess = session_of(cctx, sctx)
      local c, _, ok = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
      assert.is_true(ok)
      assert.is_true(c:session_reused())
      assert.same({ true }, { c:verify_result() })
      assert.is_true(c:info().verified)
      -- and the session made by the resumed connection keeps the verdict
      local again = session_of(cctx, sctx, { server_name = "localhost", session = sess })
      assert.is_true(again:trust().verified)
    end)
  end

  it("resuming across versions falls back to a full handshake", function()
    local sctx = H.server_ctx()
    for _, case in ipairs {
      { made = { max_version = "tls1.3", min_version = "tls1.3" }, use = { max_version = "tls1.2" } },
      { made = { max_version = "tls1.2" }, use = { min_version = "tls1.3" } },
    } do
      -- verify settings equal: only the versions differ
      local sess = session_of(H.client_ctx(case.made), sctx)
      local cctx = H.client_ctx(case.use)
      local c0 = cctx:new{ server_name = "localhost" }
      local ok0, why = c0:set_session(sess)
      assert.is_nil(ok0)
      assert.matches("protocol version is not enabled", why)
      local c, _, ok, side, err = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
      assert(ok, tostring(side) .. ": " .. tostring(err))
      assert.is_false(c:session_reused())
      assert.same({ true }, { c:verify_result() })
    end
  end)
end)

describe("exported sessions are authenticated and checked", function()
  local KEY = ("k"):rep(32)

  it("a changed byte or another key is refused before parsing; set_key shares a key", function()
    local sess = session_of(H.client_ctx(), H.server_ctx())
    local mine = sess:export()
    local flipped = mine:sub(1, 60) .. string.char((mine:byte(61) + 1) % 256) .. mine:sub(62)
    local s, msg = wolfssl.session.import(flipped)
    assert.is_nil(s)
    assert.matches("^the exported session was not made under this process's session key", msg)
    wolfssl.session.set_key(KEY)
    assert.matches("not made under this process's session key", select(2, wolfssl.session.import(mine)))
    local shared = sess:export()
    assert.equal(("%s"):format(sess:id() or ""), (assert(wolfssl.session.import(shared)):id() or ""))
    wolfssl.session.set_key(tohex(KEY)) -- 64 hex digits: the same key
    assert.is_not_nil(wolfssl.session.import(shared))
    assert.has_error(function() wolfssl.session.set_key("short") end,
      "bad argument #1 to 'set_key' (must be 32 bytes or 64 hex digits (got 5 bytes))")
    assert.has_error(function() wolfssl.session.set_key(42) end,
      "bad argument #1 to 'set_key' (string expected, got number)")
  end)

  -- Each of these crashed wolfSSL 5.5.4's d2i (heap overflow or over-read)
  -- when handed to import(): now refused before wolfSSL sees them, even with
  -- a valid MAC (a store holding the key, a bug elsewhere).
  local function hostile(der)
    local f = fields(der)
    local cases = {}
    -- session-id length byte 0xff at offset 9 (padding so the input is long enough)
    cases["session id length 0xff"] = der:sub(1, 9) .. "\255" .. der:sub(11) .. ("A"):rep(400)
    -- serverID length over its 20-byte field, bytes present
    cases["serverID length 600"] = der:sub(1, f.server_id - 1) .. be(600, 2) .. ("A"):rep(700)
    -- cut inside ticketSeen/ticketAdd: d2i read ticketAdd past the end
    cases["truncated at ticketAdd"] = der:sub(1, f.times + 7)
    -- a ticket length past the end
    cases["truncated ticket"] = der:sub(1, -2)
    cases["trailing bytes"] = der .. "\0"
    if f.chain then
      cases["chain count 200"] = der:sub(1, f.chain - 1) .. "\200" .. ("\0\4AAAA"):rep(200)
      cases["certificate over its field"] = der:sub(1, f.chain - 1) .. "\1" .. be(4000, 2) .. ("A"):rep(4100)
    end
    return cases
  end

  for _, ver in ipairs { "tls1.3", "tls1.2" } do
    it(ver .. ": hostile layouts with a valid MAC are refused, the process lives", function()
      wolfssl.session.set_key(KEY)
      local sess = session_of(H.client_ctx(), H.server_ctx{ max_version = ver })
      local head, der = split(sess:export())
      -- the helpers themselves: an honest rewrap imports
      assert.is_not_nil(wolfssl.session.import(rewrap(KEY, head, der)))
      for name, bad in pairs(hostile(der)) do
        local s, msg = wolfssl.session.import(rewrap(KEY, head, bad))
        assert.is_nil(s, name)
        assert.equal("not a valid exported session", msg, name)
      end
    end)
  end

  it("a poisoned session_store entry is a cache miss with last_error, never a crash", function()
    wolfssl.session.set_key(KEY)
    local stored = {}
    local store = { get = function(id) return stored[id] end, put = function(id, v) stored[id] = v end }
    local o = { max_version = "tls1.2", session_tickets = false, session_store = store }
    local sctx = H.server_ctx(o)
    local cctx = H.client_ctx{ session_tickets = false }
    local sess = session_of(cctx, sctx)
    local id = assert(sess:id())
    local good = assert(stored[id])
    -- honest entry resumes
    local c1, _, ok1 = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
    assert.is_true(ok1)
    assert.is_true(c1:session_reused())
    local head, der = split(good)
    local poisons = hostile(der)
    poisons["no MAC"] = good:sub(1, -2) .. string.char((good:byte(-1) + 1) % 256) -- (an "X" was the same 1 time in 256)
    poisons["garbage"] = ("\0"):rep(300)
    for name, bad in pairs(poisons) do
      stored[id] = name == "no MAC" and bad or name == "garbage" and bad or rewrap(KEY, head, bad)
      local c, s, ok, side, err = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
      assert(ok, name .. ": " .. tostring(side) .. ": " .. tostring(err))
      assert.is_false(c:session_reused(), name)
      assert.equal("session_store", s:last_error().kind, name)
      assert.matches("^session_store.get: .*%(a full handshake follows%)$", s:last_error().message, nil, name)
    end
    -- a server with other trust settings does not take the entry either
    stored[id] = good
    local strict = H.server_ctx{ max_version = "tls1.2", session_tickets = false, session_store = store,
                                 verify = "peer", cafile = H.cert("ca.pem") }
    local c, s, ok = H.pair(cctx, strict, { server_name = "localhost", session = sess })
    assert.is_true(ok)
    assert.is_false(c:session_reused())
    assert.matches("other trust settings", s:last_error().message)
  end)
end)

describe("ticket keys and on_ticket_key", function()
  it("on_ticket_key returning nil for a new ticket: no ticket, both handshakes succeed", function()
    for _, ver in ipairs { "tls1.3", "tls1.2" } do
      local asked = 0
      local sctx = H.server_ctx{ max_version = ver, on_ticket_key = function() asked = asked + 1 return nil end }
      local c, s, ok, side, err = H.pair(H.client_ctx(), sctx)
      assert(ok, ver .. ": " .. tostring(side) .. ": " .. tostring(err))
      assert.is_true(asked >= 1)
      assert.equal("ping", H.transfer(c, s, "ping"))
      assert.equal("pong", H.transfer(s, c, "pong")) -- a TLS 1.3 ticket would be read here
      local sess = c:session()
      assert.is_true(sess == nil or not sess:has_ticket(), ver)
      assert.is_nil(s:last_error(), ver)
    end
  end)

  it("replacing the context's Lua state does not reach the keys wolfSSL uses", function()
    local k1, k2 = wolfssl.session.new_ticket_key(), wolfssl.session.new_ticket_key()
    local sctx = H.server_ctx{ ticket_keys = { k1 } }
    core._test.uservalue(sctx)._ticket_keys = io.tmpfile()
    assert.is_true(sctx:set_ticket_keys { k2, k1 })
    collectgarbage(); collectgarbage()
    local cctx = H.client_ctx()
    local sess = session_of(cctx, sctx)
    local c, _, ok = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
    assert.is_true(ok)
    assert.is_true(c:session_reused())
    -- a ticket made under k2 resumes on a context that lists only k2
    local c2, _, ok2 = H.pair(cctx, H.server_ctx{ ticket_keys = { k2 } }, { server_name = "localhost", session = sess })
    assert.is_true(ok2)
    assert.is_true(c2:session_reused())
  end)
end)
