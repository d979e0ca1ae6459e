-- Shared ticket keys: ticket_keys, rotation with ctx:set_ticket_keys,
-- on_ticket_key, and what happens to tickets under unknown keys.
local wolfssl = require "wolfssl"
local H = require "helpers"
local socket = require "socket"

local K1, K2, K3 = wolfssl.session.new_ticket_key(), wolfssl.session.new_ticket_key(),
  wolfssl.session.new_ticket_key()

local function hex(s) return (s:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)) end

local function server(ver, keys, extra)
  local o = { min_version = ver, max_version = ver, ticket_keys = keys }
  for k, v in pairs(extra or {}) do o[k] = v end
  return H.server_ctx(o)
end

-- A full handshake on sctx; the client's session (with its ticket).
local function ticket_from(sctx)
  local c, s, ok, side, err = H.pair(H.client_ctx(), sctx)
  assert(ok, tostring(side) .. ": " .. tostring(err))
  H.transfer(s, c, "x")
  return assert(c:session())
end

-- Try to resume on sctx: reused (or nil on failure), client, server, err, code.
local function resume(sctx, sess)
  local c, s, ok, _, err, code = H.pair(H.client_ctx(), sctx, { server_name = "localhost", session = sess })
  if not ok then return nil, c, s, err, code end
  return c:session_reused(), c, s
end

describe("ticket keys", function()
  for _, ver in ipairs { "tls1.3", "tls1.2" } do
    it(ver .. ": servers sharing ticket_keys resume each other's tickets", function()
      local sess = ticket_from(server(ver, { K1 }))
      assert.is_true(sess:has_ticket())
      assert.is_true((resume(server(ver, { K1 }), sess)))
      assert.is_true((resume(server(ver, { hex(K1) }), sess)), "hex form of the same key")
    end)

    it(ver .. ": after rotation an old ticket resumes during the overlap", function()
      local sess = ticket_from(server(ver, { K1 }))
      local b = server(ver, { K1 })
      b:set_ticket_keys { K2, K1 }
      assert.is_true((resume(b, sess)))
    end)
  end

  it("tls1.3: a ticket under the previous key gets a new ticket under the newest key", function()
    local sess = ticket_from(server("tls1.3", { K1 }))
    local reused, c, s = resume(server("tls1.3", { K2, K1 }), sess)
    assert.is_true(reused)
    H.transfer(s, c, "x")
    local renewed = assert(c:session())
    assert.is_true((resume(server("tls1.3", { K2 }), renewed)), "the new ticket is under K2")
    assert.is_false((resume(server("tls1.3", { K2 }), sess)), "the old one is not")
  end)

  it("tls1.3: after retirement the old ticket means a full handshake", function()
    local sess = ticket_from(server("tls1.3", { K1 }))
    local b = server("tls1.3", { K2, K1 })
    assert.is_true((resume(b, sess)))
    b:set_ticket_keys { K3, K2 }
    local reused, c = resume(b, sess)
    assert.is_false(reused)
    assert.equal("TLSv1.3", c:version())
  end)

  it("tls1.2: a retired key fails a wolfSSL client (wolfSSL 5.5 limitation); one retry without the session works", function()
    local sess = ticket_from(server("tls1.2", { K1 }))
    local b = server("tls1.2", { K3, K2 })
    local reused, _, _, err, code = resume(b, sess)
    assert.is_nil(reused)
    assert.equal(-373, code, err)
    assert.is_true(wolfssl.session.ticket_rejected(sess, code))
    local c2, _, ok = H.pair(H.client_ctx(), b)
    assert.is_true(ok)
    assert.is_false(c2:session_reused())
    assert.is_false(wolfssl.session.ticket_rejected(sess, -313))
  end)

  it("tls1.2: an OpenSSL client offered a ticket under a retired key gets a full handshake", function()
    local f = io.open("/usr/bin/openssl") ; if not f then pending("no openssl") return end ; f:close()
    local srv = assert(socket.bind("127.0.0.1", 0))
    local _, port = srv:getsockname()
    srv:settimeout(10)
    local dir = os.tmpname()
    local sessfile, out = dir .. ".sess", dir .. ".out"
    local function run_client(extra)
      os.remove(out)
      local cmd = ("openssl s_client -connect 127.0.0.1:%d -tls1_2 -servername localhost -CAfile %s %s </dev/null >%s 2>&1")
        :format(port, H.cert("ca.pem"), extra, out)
      return H.spawn("timeout 10 sh -c '" .. cmd .. "'")
    end
    local function serve(sctx)
      local sock = assert(srv:accept())
      sock:settimeout(0)
      local conn = sctx:new{ fd = sock:getfd() }
      local ok, err
      for _ = 1, 500 do
        ok, err = conn:handshake()
        if ok or (err ~= "wantread" and err ~= "wantwrite") then break end
        socket.select({ sock }, nil, 0.05)
      end
      for _ = 1, 100 do -- until the client hangs up
        local data, rerr = conn:read()
        if not data and rerr ~= "wantread" then break end
        socket.select({ sock }, nil, 0.05)
      end
      local reused = conn:session_reused()
      conn:close(); sock:close()
      return ok, reused, err
    end
    local function client_said()
      for _ = 1, 100 do
        local fh = io.open(out)
        local text = fh and fh:read("*a") or ""
        if fh then fh:close() end
        if text:find("Verify return code", 1, true) then return text end
        socket.sleep(0.05)
      end
      return ""
    end
    local pid = run_client("-sess_out " .. sessfile)
    local ok = serve(server("tls1.2", { K1 }))
    H.kill(pid)
    assert.is_true(ok)
    local first = client_said()
    assert.matches("New, TLSv1.2", first)
    -- same key: resumed
    pid = run_client("-sess_in " .. sessfile)
    local ok2, reused2 = serve(server("tls1.2", { K1 }))
    local second = client_said()
    H.kill(pid)
    assert.is_true(ok2)
    assert.is_true(reused2)
    assert.matches("Reused, TLSv1.2", second)
    -- retired key: a full handshake, no failure
    pid = run_client("-sess_in " .. sessfile)
    local ok3, reused3, err3 = serve(server("tls1.2", { K3 }))
    local third = client_said()
    H.kill(pid)
    srv:close()
    os.remove(sessfile); os.remove(out); os.remove(dir)
    assert.is_true(ok3, err3)
    assert.is_false(reused3)
    assert.matches("New, TLSv1.2", third)
  end)

  it("on_ticket_key is asked about names it does not list, and can accept them", function()
    local sess = ticket_from(server("tls1.3", { K1 }))
    local asked = {}
    local b = server("tls1.3", { K2 }, { on_ticket_key = function(conn, name)
      asked[#asked + 1] = name
      assert.is_true(conn:is_server())
      if name then return K1 end
    end })
    assert.is_true((resume(b, sess)))
    assert.equal(1, #asked)
    assert.matches("^%x+$", asked[1])
    assert.equal(32, #asked[1])
  end)

  it("on_ticket_key returning nil (or another key) means a full handshake", function()
    local sess = ticket_from(server("tls1.3", { K1 }))
    assert.is_false((resume(server("tls1.3", { K2 }, { on_ticket_key = function() return nil end }), sess)))
    assert.is_false((resume(server("tls1.3", { K2 }, { on_ticket_key = function() return K3 end }), sess)))
  end)

  it("on_ticket_key without ticket_keys also supplies the key for new tickets", function()
    local current = K1
    local dyn = function(_, name)
      if name == nil then return current end
      for _, k in ipairs { K1, K2 } do
        if k == current or k == K1 then return k end
      end
    end
    local a = H.server_ctx{ on_ticket_key = dyn }
    local sess = ticket_from(a)
    assert.is_true((resume(H.server_ctx{ ticket_keys = { K1 } }, sess)), "encrypted under K1")
    assert.is_true((resume(a, sess)))
  end)

  for _, ver in ipairs { "tls1.3", "tls1.2" } do
    it(ver .. ": ctx:free() while a connection lives: it finishes its handshake and issues its ticket", function()
      local sctx = server(ver, { K1 })
      local c, s = H.client_ctx():new { server_name = "localhost" }, sctx:new {}
      sctx:free() -- the keys stay until the connection is gone
      assert.equal("wolfssl.Context (freed)", tostring(sctx))
      assert.error_matches(function() sctx:new {} end, "attempt to use a freed context")
      assert.is_true(H.handshake(c, s))
      H.transfer(s, c, "x")
      local reused = resume(server(ver, { K1 }), assert(c:session()))
      assert.is_true(reused) -- the ticket was made under K1, as ever
      s:close(); c:close()
    end)
  end

  it("bad ticket_keys raise naming the option", function()
    assert.has_error(function() H.server_ctx{ ticket_keys = { "short" } } end,
      "bad option 'ticket_keys': entry 1 must be 32 bytes or 64 hex digits (got 5 bytes)")
    local ok, err = pcall(H.server_ctx, { ticket_keys = {} })
    assert.is_false(ok)
    assert.truthy(err:find("bad option 'ticket_keys': expected a non-empty array of keys", 1, true), err)
    assert.has_error(function() H.server_ctx{ ticket_keys = { K1 }, session_tickets = false } end,
      "bad option 'ticket_keys': needs session_tickets (it is false)")
    assert.has_error(function() H.server_ctx{ ticket_keys = { K1 }, session_tickets = "off" } end,
      "bad option 'ticket_keys': needs session_tickets (it is off)")
    assert.has_error(function() H.client_ctx{ ticket_keys = { K1 } } end,
      "bad option 'ticket_keys': is for servers")
    local s = H.server_ctx()
    assert.has_error(function() s:set_ticket_keys { 42 } end,
      "bad argument #1 to 'set_ticket_keys' (entry 1 is not a string)")
    assert.has_error(function() H.client_ctx():set_ticket_keys { K1 } end,
      "set_ticket_keys: only server contexts issue tickets")
    assert.equal(32, #wolfssl.session.new_ticket_key())
    assert.not_equal(wolfssl.session.new_ticket_key(), wolfssl.session.new_ticket_key())
    assert.is_true(wolfssl.features.ticket_keys)
  end)
end)
