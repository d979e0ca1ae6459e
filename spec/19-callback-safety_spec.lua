-- Callback safety, for every callback the binding runs (options.IMPLEMENTED):
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
-- handshake (keylog, on_new_session, session_store's put): the local call
-- still fails, but 5.5.4 has no public call to send an alert after that.
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
    name = "keylog", side = "client", alert = false, -- delivered once wolfSSL has finished
    good = function() end,
    make = function(cb)
      return H.client_ctx { keylog = cb, max_version = "tls1.2" }, H.server_ctx { max_version = "tls1.2" }
    end,
  },
  {
    name = "on_new_session", side = "server", alert = false, -- runs as wolfSSL finishes
    good = function() end,
    make = function(cb)
      return H.client_ctx { max_version = "tls1.2" },
        H.server_ctx { max_version = "tls1.2", session_tickets = false, on_new_session = cb }
    end,
  },
  {
    name = "session_store", side = "server", alert = false, noconn = true, -- put(id, der) gets no connection
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
  return opts.IMPLEMENTED[sc.name] == true
end

local function conn_of(sc, c, s) if sc.side == "client" then return c, s end return s, c end

describe("callback safety", function()
  it("covers every callback the binding runs", function()
    local covered = {}
    for _, sc in ipairs(SCENARIOS) do covered[sc.name] = true end
    for name in pairs(opts.IMPLEMENTED) do
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
        if sc.noconn then return end
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
