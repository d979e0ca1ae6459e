-- Callback safety, for every callback the binding runs (options.CALLBACKS):
-- a raise fails the handshake with an alert and nil, "callback: <message>"
-- (traceback in conn:last_error()); a yield is a clear error, not a crash;
-- callbacks run on the coroutine that called the method; collectgarbage()
-- and conn:close() inside are safe. Nothing unwinds through wolfSSL.
local wolfssl = require "wolfssl"
local opts = require "wolfssl.options"
local H = require "helpers"

local KEY = ("k"):rep(32)
local TICKET_KEY = ("t"):rep(32)

-- Each scenario makes a client/server pair where the callback `name` runs
-- during the handshake, with `cb` as that callback. `side` is where it runs;
-- `good(...)` is what a well-behaved callback returns; `alert` is false where
-- wolfSSL 5.5.4 fails without sending an alert (on_ticket_key: a failed
-- ticket encryption ends the TLS 1.2 handshake with no alert) and for the
-- callbacks that run when wolfSSL has already finished its side of the
-- handshake (keylog, on_new_session, session_store's put): there `told` says
-- the peer still ends (close_notify or an alert, spec/36-peer-told_spec.lua).
local SCENARIOS = {
  {
    name = "on_verify", side = "client",
    good = function(_, ok) return ok end,
    make = function(cb) return H.client_ctx { on_verify = cb }, H.server_ctx() end,
  },
  {
    name = "on_servername", side = "server",
    good = function() return true end,
    make = function(cb) return H.client_ctx(), H.server_ctx { on_servername = cb } end,
  },
  {
    name = "on_alpn", side = "server",
    good = function(_, offered) return offered[1] end,
    make = function(cb) return H.client_ctx { alpn = { "h2" } }, H.server_ctx { on_alpn = cb } end,
  },
  {
    name = "on_psk", variant = "client, TLS 1.2", side = "client",
    good = function() return "id", KEY end,
    copts = {},
    make = function(cb)
      return wolfssl.context { mode = "client", verify = "none", max_version = "tls1.2", on_psk = cb },
        wolfssl.context { mode = "server", max_version = "tls1.2", psk = { keys = { id = KEY } } }
    end,
  },
  {
    name = "on_psk", variant = "server, TLS 1.3", side = "server",
    good = function() return KEY end,
    copts = {},
    make = function(cb)
      return wolfssl.context { mode = "client", verify = "none", psk = { identity = "id", key = KEY } },
        wolfssl.context { mode = "server", on_psk = cb }
    end,
  },
  {
    name = "on_message", side = "client",
    good = function() end,
    make = function(cb) return H.client_ctx { on_message = cb }, H.server_ctx() end,
  },
  {
    name = "on_state", side = "client",
    good = function() end,
    make = function(cb) return H.client_ctx { on_state = cb }, H.server_ctx() end,
  },
  {
    name = "keylog", side = "client", alert = false, told = true, -- delivered once wolfSSL has finished
    good = function() end,
    make = function(cb)
      return H.client_ctx { keylog = cb, max_version = "tls1.2" }, H.server_ctx { max_version = "tls1.2" }
    end,
  },
  {
    name = "on_new_session", side = "server", alert = false, told = true, -- runs as wolfSSL finishes
    good = function() end,
    make = function(cb)
      return H.client_ctx { max_version = "tls1.2" },
        H.server_ctx { max_version = "tls1.2", session_tickets = false, on_new_session = cb }
    end,
  },
  {
    name = "session_store", side = "server", alert = false, told = true, noconn = true, -- put(id, der) gets no connection
    good = function() end,
    wrap = function(cb) return { get = function() return nil end, put = cb } end,
    make = function(store)
      return H.client_ctx { max_version = "tls1.2" },
        H.server_ctx { max_version = "tls1.2", session_tickets = false, session_store = store }
    end,
  },
  {
    name = "on_ticket_key", side = "server", alert = false,
    good = function() return TICKET_KEY end,
    make = function(cb)
      return H.client_ctx { max_version = "tls1.2" },
        H.server_ctx { max_version = "tls1.2", on_ticket_key = cb }
    end,
  },
  {
    -- wolfSSL 5.5.4 ignores the status callback's failure in TLS 1.3: the
    -- server fails, the client finishes without a staple and no alert
    name = "staple", side = "server", alert = false,
    good = function() return H.read("ocsp-good.der") end,
    make = function(cb)
      return H.client_ctx { ocsp_stapling = "request" },
        H.server_ctx { staple = cb, cafile = H.cert("ca.pem"),
                       max_version = not wolfssl.features.ocsp_staple_tls13 and "tls1.2" or nil }
    end,
  },
}

-- Run scenario s with the callback doing `action(conn, ...)` before returning
-- the good values. Returns c, s, ok, side, err, and how often it ran.
local function run(sc, action)
  local calls = 0
  local cb = function(...)
    calls = calls + 1
    if calls == 1 then action(...) end
    return sc.good(...)
  end
  local cctx, sctx = sc.make(sc.wrap and sc.wrap(cb) or cb)
  local c, s, ok, side, err = H.pair(cctx, sctx, sc.copts)
  return c, s, ok, side, err, calls
end

local function available(sc)
  -- staple is an option that takes a function, not one of the listed callbacks
  if sc.name == "staple" then return wolfssl.features.ocsp and wolfssl.features.ocsp_staple_server end
  return true
end

local function conn_of(sc, c, s) if sc.side == "client" then return c, s end return s, c end

describe("callback safety", function()
  it("covers every callback the binding runs", function()
    local covered = {}
    for _, sc in ipairs(SCENARIOS) do covered[sc.name] = true end
    for _, name in ipairs(opts.CALLBACKS) do
      assert(covered[name], "no safety scenario for " .. name)
    end
  end)

  for _, sc in ipairs(SCENARIOS) do
    local title = sc.name .. (sc.variant and (" (" .. sc.variant .. ")") or "")
    describe(title, function()
      if not available(sc) then
        pending(title .. " is not available in this build / version")
        return
      end

      it("runs in the handshake when it behaves", function()
        local c, s, ok, side, err, calls = run(sc, function() end)
        assert(ok, tostring(side) .. ": " .. tostring(err))
        assert.is_true(calls >= 1)
      end)

      it("a raise fails the handshake: alert, 'callback: <message>', traceback", function()
        local c, s, ok, side, err = run(sc, function() error("kaboom in " .. sc.name) end)
        assert.is_nil(ok)
        assert.equal(sc.side, side)
        assert.matches("^callback: .*kaboom in " .. sc.name, err)
        local mine, peer = conn_of(sc, c, s)
        local le = mine:last_error()
        assert.equal("callback", le.kind)
        assert.matches("^callback: .*kaboom", le.message)
        assert.matches("stack traceback", le.traceback)
        assert.matches("19%-callback%-safety_spec", le.traceback)
        assert.equal("failed", mine:state())
        if sc.alert ~= false then
          local pok, perr = peer:handshake()
          assert.is_nil(pok)
          assert.matches("^peer sent alert ", perr)
        elseif sc.told then -- the peer ends too, whatever it was doing
          peer:feed(mine:drain())
          local pok, perr = peer:handshake()
          if pok then pok, perr = peer:read() end
          assert.is_nil(pok)
          assert.is_string(perr)
          assert.is_not.equal("wantread", perr)
        end
        -- the failure sticks
        local again, msg = mine:handshake()
        assert.is_nil(again)
        assert.matches("kaboom", msg)
      end)

      it("a non-string error value is reported too", function()
        local _, _, ok, _, err = run(sc, function() error({ code = 1 }) end)
        assert.is_nil(ok)
        assert.matches("^callback: ", err)
      end)

      it("a yield inside is a clear error, not a crash", function()
        local co = coroutine.create(function() return run(sc, function() coroutine.yield("nope") end) end)
        local res = { coroutine.resume(co) }
        assert.is_true(res[1], tostring(res[2]))
        assert.equal("dead", coroutine.status(co))
        local ok, side, err = res[4], res[5], res[6]
        assert.is_nil(ok)
        assert.equal(sc.side, side)
        assert.matches("^callback: .*yield", err)
      end)

      it("runs on the coroutine that called the method", function()
        local seen
        local co = coroutine.create(function()
          return run(sc, function() seen = coroutine.running() end)
        end)
        local res = { coroutine.resume(co) }
        assert.is_true(res[1], tostring(res[2]))
        assert(res[4], tostring(res[5]) .. ": " .. tostring(res[6]))
        assert.equal(co, seen)
      end)

      it("collectgarbage() inside is safe", function()
        local c, s, ok, side, err, calls = run(sc, function()
          collectgarbage("collect")
          collectgarbage("collect")
        end)
        assert(ok, tostring(side) .. ": " .. tostring(err))
        assert.is_true(calls >= 1)
        assert.equal("gc", H.transfer(c, s, "gc"))
      end)

      it("conn:close() inside is safe (deferred until the call returns)", function()
        if sc.noconn then pending(sc.name .. " is called without a connection: nothing to close") return end
        local closed
        local ok, err = pcall(run, sc, function(conn)
          conn:close()
          closed = conn
          -- closed for Lua at once, freed when the wolfSSL call returns
          assert.has_error(function() conn:version() end, "attempt to use a closed connection")
        end)
        -- the helper's next call on that connection raises, in Lua
        if not ok then assert.matches("attempt to use a closed connection", err) end
        assert.is_not_nil(closed)
        assert.has_error(function() closed:handshake() end, "attempt to use a closed connection")
        assert.equal("wolfssl.Connection (closed)", tostring(closed))
        closed:close() -- idempotent
        collectgarbage("collect")
      end)
    end)
  end
end)

-- A callback that cannot be called at all (no Lua stack left) fails the
-- handshake with a clear message: it is never skipped, so an on_verify pin
-- is never bypassed. The stack is filled honestly: deep recursion in a
-- coroutine, then conn:handshake() called with k extra arguments, for every
-- k from "room to spare" to "handshake() itself cannot be called".
describe("a callback with no Lua stack left", function()
  local unpack = table.unpack or unpack
  local PAD = {}
  for i = 1, 64 do PAD[i] = i end -- the window is a few slots wide, near 20-40

  local sctx = H.server_ctx()
  local calls = 0
  -- a pin that accepts nothing: the chain is trusted, so only the pin fails it
  local cctx = H.client_ctx { on_verify = function() calls = calls + 1 return false end }

  -- a client whose next handshake() runs on_verify
  local function ready()
    local c, s = cctx:new { server_name = "localhost" }, sctx:new {}
    assert.is_nil(c:handshake())
    s:feed(c:drain())
    s:handshake()
    c:feed(s:drain())
    return c
  end

  -- the results go to upvalues: nothing on the way back needs stack.
  -- Without a connection it only recurses: `reached` tells how deep it got.
  local ok_, err_, reached
  local function deep(depth, k, c)
    reached = depth
    if depth > 0 then
      local a, b, d, e, f, g, h, i, j = 1, 2, 3, 4, 5, 6, 7, 8, 9
      deep(depth - 1, k, c)
      return a, b, d, e, f, g, h, i, j
    end
    if c then ok_, err_ = c.handshake(c, unpack(PAD, 1, k)) end
  end

  -- {resumed, ok, err}, on_verify calls, the connection
  local function attempt(depth, k)
    local c = ready()
    calls, ok_, err_ = 0, nil, nil
    -- no collection at the brink: a finalizer that runs with the stack full
    -- fails ("error in __gc: stack overflow"), and Lua then frees the object
    -- without it - earlier tests' connections would leak their wolfSSL state
    collectgarbage()
    collectgarbage("stop")
    local resumed, msg = coroutine.resume(coroutine.create(deep), depth, k, c)
    collectgarbage("restart")
    if not resumed then return { false, msg }, calls, c end
    return { true, ok_, err_ }, calls, c
  end

  it("fails the handshake closed, and on_verify is never bypassed", function()
    -- the depth at which calling handshake() overflows the stack: just below
    -- where the bare recursion overflows (one probe), else anywhere
    local top = 400000
    collectgarbage("stop")
    coroutine.resume(coroutine.create(deep), top, 0, nil)
    collectgarbage("restart")
    local lo, hi = math.max(1, top - reached - 256), top - reached + 1
    if not attempt(lo, 0)[1] then lo, hi = 1, top end
    while hi - lo > 1 do
      local mid = math.floor((lo + hi) / 2)
      if attempt(mid, 0)[1] then lo = mid else hi = mid end
    end
    local closed, ran, raised, unrecorded = 0, 0, 0, 0
    for k = 0, #PAD do
      local res, n, c = attempt(lo, k)
      if not res[1] then -- handshake() could not even be called: Lua's own error
        local msg = tostring(res[2])
        assert.is_truthy(msg:match("stack overflow") or msg:match("too many results"), msg)
        raised = raised + 1
        -- and it was not left half-way inside wolfSSL
        local ok, err = c:handshake()
        assert.is_nil(ok)
        assert.matches("rejected by on_verify", err)
        break -- (more arguments leave less room: every larger k raises too)
      else
        local ok, err = res[2], res[3]
        assert.is_nil(ok, "the pin was bypassed at k = " .. k)
        if n == 0 then
          assert.matches("^callback: ", err)
          assert.equal("callback", c:last_error().kind)
          assert.equal("on_verify", c:last_error().callback)
          closed = closed + 1
          -- not even room to record why: said once wolfSSL has returned
          if err:match("no Lua stack or memory left") then unrecorded = unrecorded + 1 end
        else
          assert.matches("rejected by on_verify", err)
          ran = ran + 1
        end
        assert.equal("failed", c:state())
      end
    end
    -- PUC Lua 5.1 limits the depth of calls, not stack slots: at the last
    -- depth where handshake() can be called, the callback never can (any k)
    if not (_VERSION == "Lua 5.1" and not rawget(_G, "jit")) then
      assert.is_true(ran > 0 and raised > 0, "the scan did not reach both ends")
      assert.is_true(unrecorded > 0, "no depth left the error without room to be recorded")
    end
    assert.is_true(closed > 0, "no depth left the callback without stack")
  end)
end)
