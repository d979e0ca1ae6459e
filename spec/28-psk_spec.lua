-- PSK: static psk = {...} and on_psk callbacks, TLS 1.2 PSK suites and TLS 1.3
-- external PSK, client and server; memory mode and openssl s_server/s_client -psk.
local wolfssl = require "wolfssl"
local H = require "helpers"
local P = require "peers"
local socket = require "socket"

local KEY = ("k"):rep(32)
local HEX = KEY:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)
local VERSIONS = { ["tls1.2"] = "TLSv1.2", ["tls1.3"] = "TLSv1.3" }

local fd_handshake, serve_s_client = P.handshake, P.serve_s_client

local function client(v, o)
  local t = { mode = "client", verify = "none", max_version = v }
  for k, x in pairs(o or {}) do t[k] = x end
  return assert(wolfssl.context(t))
end

local function server(v, o)
  local t = { mode = "server", max_version = v }
  for k, x in pairs(o or {}) do t[k] = x end
  return assert(wolfssl.context(t))
end

-- our fd-mode client against `openssl s_server -psk`
local function connect_s_server(cctx, args)
  local port = H.free_port()
  local pid = H.spawn(("timeout 20 openssl s_server -accept 127.0.0.1:%d -nocert -psk %s %s -quiet")
    :format(port, HEX, args))
  local ok, err, conn
  if H.wait_port(port, 5) then
    local sock = socket.tcp()
    sock:settimeout(5)
    if sock:connect("127.0.0.1", port) then
      conn = cctx:new { fd = sock:getfd() }
      ok, err = fd_handshake(conn, sock)
      if ok then conn:close() end
    else
      err = "cannot connect"
    end
    sock:close()
  else
    err = "s_server did not start"
  end
  H.kill(pid)
  return ok, err, conn
end

describe("psk", function()
  it("is reported in wolfssl.features", function()
    assert.is_boolean(wolfssl.features.psk)
    assert.is_true(wolfssl.features.psk) -- Debian's 5.5.4 has it
  end)

  for v, name in pairs(VERSIONS) do
    describe(v, function()
      it("static keys: client {identity, key}, server {hint, keys}", function()
        local s_ctx = server(v, { psk = { hint = "hinty", keys = { client1 = KEY, other = "x" } } })
        local c, s, ok, side, err = H.pair(client(v, { psk = { identity = "client1", key = KEY } }), s_ctx, {})
        assert(ok, tostring(side) .. ": " .. tostring(err))
        assert.equal(name, c:version())
        if v == "tls1.2" then assert.matches("PSK", c:cipher()) end
        assert.is_nil(c:peer_certificate())
        assert.equal("ping", H.transfer(c, s, "ping"))
        assert.equal("pong", H.transfer(s, c, "pong"))
      end)

      it("on_psk on both sides (identity in, key out)", function()
        local hints, ids = {}, {}
        local cctx = client(v, { on_psk = function(conn, hint)
          hints[#hints + 1] = hint or "(none)"
          return "dev-7", KEY
        end })
        local sctx = server(v, { psk = nil, on_psk = function(conn, identity)
          ids[#ids + 1] = identity
          if identity == "dev-7" then return KEY end
        end })
        local c, s, ok, side, err = H.pair(cctx, sctx, {})
        assert(ok, tostring(side) .. ": " .. tostring(err))
        assert.equal(name, s:version())
        assert.is_true(#hints >= 1)
        assert.same({ "dev-7" }, ids)
      end)

      it("an unknown identity fails the handshake with 'unknown PSK identity'", function()
        local s_ctx = server(v, { psk = { keys = { client1 = KEY } } })
        local c, s, ok, side, err = H.pair(client(v, { psk = { identity = "mallory", key = KEY } }), s_ctx, {})
        assert.is_nil(ok)
        assert.equal("server", side)
        assert.equal("unknown PSK identity 'mallory'", err)
        assert.equal("psk", s:last_error().kind)
        -- wolfSSL 5.5.4 sends no alert here: the binding sends it
        assert.equal("peer sent alert unknown_psk_identity", select(2, c:handshake()))
        assert.is_nil(c:version())
      end)

      it("a wrong key fails the handshake", function()
        local s_ctx = server(v, { psk = { keys = { client1 = KEY } } })
        local c, s, ok, side = H.pair(client(v, { psk = { identity = "client1", key = ("x"):rep(32) } }), s_ctx, {})
        assert.is_nil(ok)
        assert.is_nil(c:version())
      end)

      it("a raise in the client's on_psk fails with the message and a traceback", function()
        local s_ctx = server(v, { psk = { keys = { client1 = KEY } } })
        local cctx = client(v, { on_psk = function() error("vault sealed") end })
        local c, s, ok, side, err = H.pair(cctx, s_ctx, {})
        assert.is_nil(ok)
        assert.equal("client", side)
        assert.matches("^callback: .*vault sealed", err)
        assert.matches("traceback", c:last_error().traceback)
      end)

      it("a raise in the server's on_psk fails the server", function()
        local sctx = server(v, { on_psk = function() error("db down") end })
        local c, s, ok, side, err = H.pair(client(v, { psk = { identity = "client1", key = KEY } }), sctx, {})
        assert.is_nil(ok)
        assert.equal("server", side)
        assert.matches("^callback: .*db down", err)
        assert.equal("callback", s:last_error().kind)
        assert.equal("peer sent alert internal_error", select(2, c:handshake()))
      end)

      it("bad values from on_psk are errors", function()
        local s_ctx = server(v, { psk = { keys = { client1 = KEY } } })
        local _, _, ok, _, err = H.pair(client(v, { on_psk = function() return "client1", ("k"):rep(65) end }), s_ctx, {})
        assert.is_nil(ok)
        assert.matches("callback: on_psk: the key must be 1 to 64 bytes", err)
        _, _, ok, _, err = H.pair(client(v, { on_psk = function() return 7 end }), s_ctx, {})
        assert.is_nil(ok)
        assert.matches("callback: on_psk must return identity, key", err)
      end)

      it("works against openssl s_server -psk over TCP", function()
        local hint
        local cctx = client(v, { on_psk = function(conn, h)
          hint = hint or h
          return "client1", KEY
        end })
        local ok, err, conn = connect_s_server(cctx, "-psk_identity client1 -psk_hint hinty " ..
          (v == "tls1.2" and "-tls1_2" or "-tls1_3"))
        assert(ok, tostring(err))
        if v == "tls1.2" then assert.equal("hinty", hint) end -- TLS 1.3 has no hint
        -- a wrong key is refused
        cctx = client(v, { psk = { identity = "client1", key = ("z"):rep(32) } })
        ok = connect_s_server(cctx, "-psk_identity client1 " .. (v == "tls1.2" and "-tls1_2" or "-tls1_3"))
        assert.is_nil(ok)
      end)

      it("serves openssl s_client -psk over TCP", function()
        local s_ctx = server(v, { psk = { hint = "hinty", keys = { client1 = KEY } } })
        local flag = v == "tls1.2" and "-tls1_2" or "-tls1_3"
        local ok, err, conn, out = serve_s_client(s_ctx, ("-psk %s -psk_identity client1 %s"):format(HEX, flag))
        assert(ok, tostring(err) .. "\n" .. out)
        assert.equal(name, conn:version())
        assert.equal(conn:cipher(), out:match("Cipher is (%S+)"))
        if v == "tls1.2" then assert.matches("PSK", conn:cipher()) end
        ok, err, conn, out = serve_s_client(s_ctx, ("-psk %s -psk_identity eve %s"):format(HEX, flag))
        assert.is_nil(ok)
        assert.equal("unknown PSK identity 'eve'", err)
        assert.matches("unknown psk identity", out)
      end)
    end)
  end

  it("a server with a certificate and psk still serves clients without PSK", function()
    for v in pairs(VERSIONS) do
      local sctx = H.server_ctx { max_version = v, psk = { keys = { client1 = KEY } } }
      local c, s, ok, side, err = H.pair(H.client_ctx { max_version = v }, sctx)
      assert(ok, v .. " " .. tostring(side) .. ": " .. tostring(err))
      assert.is_true((c:verify_result()))
      c, s, ok = H.pair(client(v, { psk = { identity = "client1", key = KEY } }), sctx, {})
      assert.is_true(ok)
      assert.is_nil(c:peer_certificate()) -- PSK, not the certificate
    end
  end)

  it("checks its options", function()
    assert.has_error(function() client("tls1.3", { psk = "secret" }) end,
      'bad option \'psk\': expected a table ({identity=, key=} or {hint=, keys={...}}) (got "secret")')
    assert.has_error(function() client("tls1.3", { psk = { identity = "a" } }) end,
      "bad option 'psk': key must be a string of 1 to 64 bytes")
    assert.has_error(function() client("tls1.3", { psk = { identity = "a", key = ("k"):rep(65) } }) end)
    assert.has_error(function() client("tls1.3", { psk = { identity = "a", key = "k", idnetity = 1 } }) end,
      "bad option 'psk': unknown field 'idnetity' (expected identity, key, hint or keys)")
    assert.has_error(function() server("tls1.3", { psk = { identity = "a", key = "k" } }) end,
      "bad option 'psk': a server needs {keys = {identity = key}}")
    assert.has_error(function() client("tls1.3", { psk = { keys = { a = "k" } } }) end,
      "bad option 'psk': a client needs {identity =, key =}")
    assert.has_error(function()
      client("tls1.3", { psk = { identity = "a", key = "k" }, on_psk = function() end })
    end, "bad option 'on_psk': give psk or on_psk, not both")
    assert.has_error(function() client("tls1.3", { on_psk = "x" }) end)
  end)
end)
