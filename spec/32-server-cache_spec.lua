-- Server side: the internal session cache and session_store (external cache).
local wolfssl = require "wolfssl"
local H = require "helpers"

local TLS12_IDS = { max_version = "tls1.2", session_tickets = false }

local function opts(extra)
  local o = {}
  for k, v in pairs(TLS12_IDS) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- wolfSSL's server cache reads the real clock (seconds): a session made at
-- `born` with `timeout` is valid while time() < born + timeout. Wait for that
-- tick (under a second with timeout 1), not a fixed time.
local function until_expired(born, timeout)
  local socket = require "socket"
  while os.time() < born + timeout do socket.sleep(0.02) end
end

-- Full handshake on sctx, then a resumption attempt on sctx2 (default sctx);
-- with expire, once the server's session has expired.
local function resumes(sctx, sctx2, expire)
  local cctx = H.client_ctx()
  local c, s, ok, side, err = H.pair(cctx, sctx)
  assert(ok, tostring(side) .. ": " .. tostring(err))
  local sess = c:session()
  if not sess then return false end -- the server gave no resumable session
  if expire then
    local ssess = assert(s:session())
    until_expired(math.max(ssess:time(), sess:time()), math.min(ssess:timeout(), 5))
  end
  local c2, s2, ok2, side2, err2 = H.pair(cctx, sctx2 or sctx, { server_name = "localhost", session = sess })
  assert(ok2, tostring(side2) .. ": " .. tostring(err2))
  assert.equal(c2:session_reused(), s2:session_reused())
  return c2:session_reused(), sess
end

-- An in-memory store that records calls.
local function memstore()
  local st = { db = {}, log = {} }
  st.store = {
    get = function(id) st.log[#st.log + 1] = "get"; return st.db[id] end,
    put = function(id, der) st.log[#st.log + 1] = "put"; st.db[id] = der end,
    remove = function(id) st.log[#st.log + 1] = "remove"; st.db[id] = nil end,
  }
  return st
end

describe("server session cache", function()
  it("session_cache 'on' resumes TLS 1.2 session ids, 'off' does not", function()
    assert.is_true((resumes(H.server_ctx(opts{ session_cache = "on" }))))
    assert.is_false((resumes(H.server_ctx(opts{ session_cache = "off" }))))
  end)

  it("session_cache_size is accepted and validated", function()
    assert.is_true((resumes(H.server_ctx(opts{ session_cache_size = 100 }))))
    assert.has_error(function() H.server_ctx{ session_cache_size = 0 } end)
  end)

  it("session_timeout: an expired session is not resumed", function()
    local sctx = H.server_ctx(opts{ session_timeout = 1 })
    assert.is_true((resumes(sctx)))
    assert.is_false((resumes(sctx, nil, true)))
  end)

  it("session_timeout also limits tickets, and the client sees it", function()
    local sctx = H.server_ctx{ session_timeout = 1 }
    local cctx = H.client_ctx()
    local c, s, ok = H.pair(cctx, sctx)
    assert.is_true(ok)
    H.transfer(s, c, "x")
    local sess = assert(c:session())
    assert.equal(1, sess:timeout())
    -- the client's check has a clock the suite can move (core._test)
    local test = require("wolfssl.core")._test
    assert.is_true(cctx:new{ server_name = "localhost" }:set_session(sess)) -- (not yet)
    test.advance_clock(2)
    local refused = { cctx:new{ server_name = "localhost" }:set_session(sess) }
    local c2, _, ok2 = H.pair(cctx, sctx, { server_name = "localhost", session = sess })
    test.advance_clock(0)
    assert.same({ nil, "the session has expired" }, refused)
    assert.is_true(ok2)
    assert.is_false(c2:session_reused())
  end)

  it("the internal cache is per process: every server context of the process shares it", function()
    -- (a wolfSSL property: one static cache; across processes use session_store)
    assert.is_true((resumes(H.server_ctx(opts()), H.server_ctx(opts()))))
  end)
end)

describe("session_store", function()
  it("put on a full handshake, get on resumption, across two server contexts", function()
    local st = memstore()
    local a = H.server_ctx(opts{ session_store = st.store })
    local b = H.server_ctx(opts{ session_store = st.store })
    local reused, sess = resumes(a, b)
    assert.is_true(reused)
    assert.same({ "put", "get" }, st.log)
    local der = st.db[sess:id()]
    assert.is_string(der)
    assert.equal(sess:id(), assert(wolfssl.session.import(der)):id())
  end)

  it("an unknown id means a full handshake, and that session is stored", function()
    local st = memstore()
    local a = H.server_ctx(opts{ session_store = st.store })
    local b = H.server_ctx(opts{ session_store = memstore().store })
    assert.is_false((resumes(a, b)))
  end)

  it("a damaged stored session: full handshake, and remove(id) is called", function()
    local st = memstore()
    local a = H.server_ctx(opts{ session_store = st.store })
    local cctx = H.client_ctx()
    local c, _, ok = H.pair(cctx, a)
    assert.is_true(ok)
    local sess = c:session()
    st.db[sess:id()] = "garbage"
    local c2, _, ok2 = H.pair(cctx, a, { server_name = "localhost", session = sess })
    assert.is_true(ok2)
    assert.is_false(c2:session_reused())
    assert.same({ "put", "get", "remove", "put" }, st.log)
    assert.is_nil(st.db[sess:id()])
  end)

  it("a stored session under another id is not used (full handshake, remove(id))", function()
    local st = memstore()
    local a = H.server_ctx(opts{ session_store = st.store })
    local cctx = H.client_ctx()
    local c1 = H.pair(cctx, a)
    local c2 = H.pair(cctx, a)
    local s1, s2 = c1:session(), c2:session()
    st.db[s1:id()] = st.db[s2:id()] -- swapped by a buggy store
    local c3, _, ok = H.pair(cctx, a, { server_name = "localhost", session = s1 })
    assert.is_true(ok)
    assert.is_false(c3:session_reused())
    assert.equal("remove", st.log[#st.log - 1])
  end)

  -- issue 10 changed this contract: a store outage must not fail handshakes
  it("an error in get is a cache miss (full handshake) kept in last_error", function()
    local st = memstore()
    local a = H.server_ctx(opts{ session_store = st.store })
    local cctx = H.client_ctx()
    local c, _, ok = H.pair(cctx, a)
    assert.is_true(ok)
    st.store.get = nil -- (the context captured the original functions)
    local b = H.server_ctx(opts{ session_store = { get = function() error("redis down") end, put = st.store.put } })
    local c2, s2, ok2, side, err = H.pair(cctx, b, { server_name = "localhost", session = c:session() })
    assert.is_true(ok2, tostring(side) .. ": " .. tostring(err))
    assert.is_false(c2:session_reused())
    assert.matches("callback: .*redis down", s2:last_error().message)
    assert.equal("_store_get", s2:last_error().callback)
  end)

  it("get returning a non-string is a cache miss naming session_store.get", function()
    local st = memstore()
    local a = H.server_ctx(opts{ session_store = st.store })
    local cctx = H.client_ctx()
    local c = H.pair(cctx, a)
    local b = H.server_ctx(opts{ session_store = { get = function() return 42 end, put = function() end } })
    local c2, s2, ok2 = H.pair(cctx, b, { server_name = "localhost", session = c:session() })
    assert.is_true(ok2)
    assert.is_false(c2:session_reused())
    assert.matches("session_store.get must return a string or nil %(got number%)", s2:last_error().message)
  end)

  it("TLS 1.3 never asks the store", function()
    local st = memstore()
    local a = H.server_ctx{ session_store = st.store }
    local c, s, ok = H.pair(H.client_ctx(), a)
    assert.is_true(ok)
    H.transfer(s, c, "x")
    local c2, _, ok2 = H.pair(H.client_ctx(), a, { server_name = "localhost", session = c:session() })
    assert.is_true(ok2)
    assert.is_true(c2:session_reused()) -- through the ticket
    assert.same({}, st.log)
  end)

  it("bad session_store options raise naming the key", function()
    local f = function() end
    assert.has_error(function() H.server_ctx{ session_store = { get = f } } end,
      "bad option 'session_store': needs a function 'put'")
    assert.has_error(function() H.server_ctx{ session_store = { get = f, put = f, remove = 1 } } end,
      "bad option 'session_store': 'remove' must be a function")
    assert.has_error(function() H.server_ctx{ session_store = { get = f, put = f, del = f } } end,
      "bad option 'session_store': unknown field 'del' (expected get, put, remove)")
    assert.has_error(function() H.server_ctx{ session_store = { get = f, put = f }, session_cache = "off" } end,
      "bad option 'session_store': needs session_cache \"on\"")
    assert.has_error(function() H.server_ctx{ session_store = { get = f, put = f }, session_cache = false } end,
      "bad option 'session_store': needs session_cache \"on\"")
    assert.has_error(function() H.client_ctx{ session_store = { get = f, put = f } } end,
      "bad option 'session_store': is for servers")
  end)
end)
