-- "The peer is always told" (DESIGN.md, Callbacks): a callback that raises
-- after wolfSSL finished our side of the handshake (session_store.put,
-- on_new_session, keylog) fails our call, and the peer ends too (close_notify
-- or a fatal alert) instead of waiting for data forever. Memory mode for every
-- case, then real sockets against openssl s_client / s_server.
local wolfssl = require "wolfssl"
local socket = require "socket"
local H = require "helpers"
local P = require "peers"

local boom = function() error("late kaboom") end

-- Each case: the callback, on `side`, raises `where` ("handshake", or "read"
-- when it runs on a post-handshake message: a TLS 1.3 client's ticket).
local CASES = {
  { name = "on_new_session", side = "server", where = "handshake", ver = "tls1.2",
    make = function(v) return H.client_ctx(v), H.server_ctx(v, { session_tickets = false, on_new_session = boom }) end },
  { name = "on_new_session", side = "server", where = "handshake", ver = "tls1.3",
    make = function(v) return H.client_ctx(v), H.server_ctx(v, { on_new_session = boom }) end },
  { name = "on_new_session", side = "client", where = "handshake", ver = "tls1.2",
    make = function(v) return H.client_ctx(v, { on_new_session = boom }), H.server_ctx(v) end },
  { name = "on_new_session", side = "client", where = "read", ver = "tls1.3",
    make = function(v) return H.client_ctx(v, { on_new_session = boom }), H.server_ctx(v) end },
  { name = "session_store.put", side = "server", where = "handshake", ver = "tls1.2",
    make = function(v)
      return H.client_ctx(v), H.server_ctx(v, { session_tickets = false,
        session_store = { get = function() return nil end, put = boom } })
    end },
  { name = "keylog", side = "client", where = "handshake", ver = "tls1.2",
    make = function(v) return H.client_ctx(v, { keylog = boom }), H.server_ctx(v) end },
  { name = "keylog", side = "server", where = "handshake", ver = "tls1.2",
    make = function(v) return H.client_ctx(v), H.server_ctx(v, { keylog = boom }) end },
  { name = "keylog", side = "client", where = "handshake", ver = "tls1.3", needs = "keylog_tls13",
    make = function(v) return H.client_ctx(v, { keylog = boom }), H.server_ctx(v) end },
  { name = "keylog", side = "server", where = "handshake", ver = "tls1.3", needs = "keylog_tls13",
    make = function(v) return H.client_ctx(v), H.server_ctx(v, { keylog = boom }) end },
}

-- H.client_ctx / H.server_ctx with one version pinned and options merged
local function pinned(make_ctx)
  return function(v, o)
    local t = { min_version = v.ver, max_version = v.ver }
    for k, x in pairs(o or {}) do t[k] = x end
    return make_ctx(t)
  end
end

local function make(case)
  local saved_c, saved_s = H.client_ctx, H.server_ctx
  H.client_ctx, H.server_ctx = pinned(saved_c), pinned(saved_s)
  local ok, cctx, sctx = pcall(case.make, case)
  H.client_ctx, H.server_ctx = saved_c, saved_s
  assert(ok, cctx)
  return cctx, sctx
end

-- The peer's next step once it has our bytes: nil and why it stopped.
local function peer_next(peer)
  local ok, err = peer:handshake()
  if ok then return peer:read() end
  return ok, err
end

describe("the peer is told when a callback fails late (memory mode)", function()
  for _, case in ipairs(CASES) do
    it(("%s raising on the %s (%s)"):format(case.name, case.side, case.ver), function()
      if case.needs and not wolfssl.features[case.needs] then
        -- the option is refused with a clear error on this build
        local ok, err = pcall(make, case)
        assert.is_false(ok)
        assert.matches(case.needs, err)
        pending(case.needs .. " is not in this build")
        return
      end
      local cctx, sctx = make(case)
      local c, s = cctx:new { server_name = "localhost" }, sctx:new {}
      local ok, side, err = H.handshake(c, s)
      local mine, peer = c, s
      if case.side == "server" then mine, peer = s, c end
      if case.where == "handshake" then
        assert.is_nil(ok)
        assert.equal(case.side, side)
      else -- TLS 1.3 client: the ticket comes with the first data
        assert.is_true(ok, tostring(err))
        assert(peer:write("ping"))
        mine:feed(peer:drain())
        local data
        data, err = mine:read()
        assert.is_nil(data)
      end
      assert.matches("^callback: .*late kaboom", err)
      assert.equal("failed", mine:state())
      -- the peer ends: an error or a close, never "wait for more"
      peer:feed(mine:drain())
      local res, why = peer_next(peer)
      assert.is_nil(res)
      assert.is_string(why)
      assert.is_not.equal("wantread", why)
      assert.is_not.equal("wantwrite", why)
    end)
  end
end)

describe("a write that drives the handshake (memory mode)", function()
  it("reports a late callback failure and tells the peer", function()
    local c = H.client_ctx { max_version = "tls1.2", on_new_session = boom }:new { server_name = "localhost" }
    local s = H.server_ctx { max_version = "tls1.2" }:new {}
    local ok, err
    for _ = 1, 10 do -- no handshake() call: write() drives it
      ok, err = c:write("x")
      s:feed(c:drain())
      s:handshake()
      c:feed(s:drain())
      if ok or (err ~= "wantread" and err ~= "wantwrite") then break end
    end
    assert.is_nil(ok)
    assert.matches("^callback: .*late kaboom", err)
    assert.equal("failed", c:state())
    s:feed(c:drain())
    local got, why = s:read()
    if got then got, why = s:read() end -- the byte written before the failure was known
    assert.is_nil(got)
    assert.is_string(why)
    assert.is_not.equal("wantread", why)
  end)
end)

-- Real sockets: the peer process exits (it does not hang) while our side keeps
-- its socket open, so only what we sent can end it.
local function exits(pid, seconds)
  return P.wait_exit(pid, seconds or 5)
end

-- version flags for openssl
local OSSL = { ["tls1.2"] = "-tls1_2", ["tls1.3"] = "-tls1_3" }

describe("the peer is told when a callback fails late (real peers)", function()
  if not P.have("openssl") then
    it("needs openssl", function() pending("openssl is not installed") end)
    return
  end
  after_each(P.stop_all)

  for _, ver in ipairs { "tls1.2", "tls1.3" } do
    it("our server's on_new_session raises: openssl s_client exits (" .. ver .. ")", function()
      local o = { min_version = ver, max_version = ver, on_new_session = boom }
      if ver == "tls1.2" then o.session_tickets = false end
      local sctx = H.server_ctx(o)
      local srv, port = P.listen()
      -- -ign_eof: s_client stays until the server ends the connection
      local pid = P.spawn(("exec timeout 20 env -u LD_PRELOAD openssl s_client -connect 127.0.0.1:%d %s -ign_eof </dev/null")
        :format(port, OSSL[ver]))
      local conn, sock, ok, err = P.serve_one(srv, sctx)
      srv:close()
      assert.is_nil(ok)
      assert.matches("^callback: .*late kaboom", err)
      assert.is_true(exits(pid), "s_client still waits for data")
      sock:close()
      conn:close()
    end)

    it("our client's on_new_session raises: openssl s_server exits (" .. ver .. ")", function()
      local port = H.free_port()
      -- -naccept 1: the server exits once its one connection ends. Its stdin
      -- is a pipe we hold open (at EOF it would close the connection itself),
      -- so only our bytes can end the connection.
      local pidfile = os.tmpname()
      -- (started from a shell that reaps it, so it does not linger as our zombie)
      local stdin = io.popen(("exec 3<&0; timeout 20 env -u LD_PRELOAD openssl s_server" ..
        " -accept %d -naccept 1 -cert %s -key %s %s -quiet <&3 >/dev/null 2>&1 & echo $! > %s; wait")
        :format(port, H.cert("server.pem"), H.cert("server.key"), OSSL[ver], pidfile), "w")
      local cctx = H.client_ctx { min_version = ver, max_version = ver, on_new_session = boom }
      local conn, sock
      local deadline = socket.gettime() + 10
      repeat -- s_server is up once it accepts (one connection only: no probe)
        sock = socket.tcp()
        sock:settimeout(5)
        if sock:connect("127.0.0.1", port) then break end
        sock:close()
        sock = nil
        socket.sleep(0.05)
      until socket.gettime() > deadline
      assert(sock, "s_server did not start")
      conn = cctx:new { fd = sock, server_name = "localhost" }
      local ok, err = P.handshake(conn, sock)
      if ver == "tls1.3" then -- the ticket arrives after the handshake
        assert.is_true(ok, tostring(err))
        local data
        data, err = P.await(conn, sock, "read")
        assert.is_nil(data)
      else
        assert.is_nil(ok)
      end
      assert.matches("^callback: .*late kaboom", err)
      local pid = tonumber(io.open(pidfile):read("*l"))
      os.remove(pidfile)
      local gone = exits(pid)
      stdin:close()
      assert.is_true(gone, "s_server still waits for data")
      sock:close()
      conn:close()
    end)
  end
end)
