-- Across processes, for real: redis-server on a loopback port, two separate
-- server processes (examples/shared-session-server.lua) sharing TLS 1.2
-- sessions through session_store and ticket keys through a Redis list.
local wolfssl = require "wolfssl"
local H = require "helpers"
local socket = require "socket"
package.path = "spec/support/?.lua;" .. package.path
local resp = require "resp"
local P = require "peers"

local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") end
local function tohex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

-- redis-server on rport, its pid in pids.redis
local function start_redis(pids, rport)
  pids.redis = H.spawn(("exec redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no"):format(rport))
  assert(H.wait_port(rport, 5), "redis-server did not start")
end

-- the example on aport and bport (pids.a, pids.b), both using Redis on rport;
-- their stderr in pids.log_a, pids.log_b
local function start_servers(pids, rport, aport, bport)
  for name, port in pairs { a = aport, b = bport } do
    pids["log_" .. name] = os.tmpname()
    pids[name] = H.spawn(("exec sh -c 'exec %s examples/shared-session-server.lua %d %d 2>%s'")
      :format(H.lua(), port, rport, pids["log_" .. name]))
  end
  assert(H.wait_port(aport, 10), "server A did not start")
  assert(H.wait_port(bport, 10), "server B did not start")
end

-- One connection: the server's line ("reused=... version=... port=..."),
-- the client's session afterwards, and the handshake error if any.
local function visit(port, cctx, sess)
  local sock = assert(socket.connect("127.0.0.1", port))
  sock:settimeout(0)
  local conn = cctx:new{ fd = sock:getfd(), server_name = "localhost", session = sess }
  local function step(f, ...)
    for _ = 1, 200 do
      local r, err, code = f(...)
      if r or (err ~= "wantread" and err ~= "wantwrite") then return r, err, code end
      socket.select({ sock }, nil, 0.05)
    end
    return nil, "timeout"
  end
  local ok, err, code = step(conn.handshake, conn)
  if not ok then conn:close(); sock:close(); return nil, err, code end
  assert(step(conn.write, conn, "hello\n"))
  local line = assert(step(conn.read, conn)) -- (a TLS 1.3 ticket is read here too)
  local reused = conn:session_reused()
  local new = conn:session()
  conn:close(); sock:close()
  return line, reused, new
end

describe("sessions shared through Redis by two server processes", function()
  if not have("redis-server") then
    it("needs redis-server (make deps)", function() pending("redis-server is not installed") end)
    return
  end

  local rport, aport, bport = H.free_port(), H.free_port(), H.free_port()
  local pids, redis = {}, nil

  setup(function()
    start_redis(pids, rport)
    redis = assert(resp.connect("127.0.0.1", rport))
    redis:call("RPUSH", "tls:ticket_keys", tohex(wolfssl.session.new_ticket_key()))
    start_servers(pids, rport, aport, bport)
  end)

  teardown(function()
    H.kill(pids.a); H.kill(pids.b)
    if redis then redis:close() end
    H.kill(pids.redis)
  end)

  local function ctx12_ids() return H.client_ctx{ max_version = "tls1.2", session_tickets = false } end
  local function ctx12() return H.client_ctx{ max_version = "tls1.2" } end
  local function ctx13() return H.client_ctx{ min_version = "tls1.3" } end

  it("TLS 1.2 session id made on A resumes on B (session_store in Redis)", function()
    local cctx = ctx12_ids()
    local line, reused, sess = visit(aport, cctx)
    assert.matches("reused=false version=TLSv1.2 port=" .. aport, line)
    assert.is_false(reused)
    assert.is_false(sess:has_ticket())
    assert.is_string(redis:call("GET", "tls:sess:" .. sess:id()), "stored in Redis")
    local line2, reused2 = visit(bport, cctx, sess)
    assert.matches("reused=true version=TLSv1.2 port=" .. bport, line2)
    assert.is_true(reused2)
  end)

  it("TLS 1.2 session id unknown to Redis: full handshake on B", function()
    local cctx = ctx12_ids()
    local _, _, sess = visit(aport, cctx)
    redis:call("DEL", "tls:sess:" .. sess:id())
    local line = visit(bport, cctx, sess)
    assert.matches("reused=false", line)
  end)

  for _, case in ipairs { { "TLS 1.3", ctx13, "TLSv1.3" }, { "TLS 1.2", ctx12, "TLSv1.2" } } do
    it(case[1] .. " ticket made on A resumes on B (shared ticket keys)", function()
      local cctx = case[2]()
      local line, _, sess = visit(aport, cctx)
      assert.matches("reused=false version=" .. case[3], line)
      assert.is_true(sess:has_ticket())
      local line2 = visit(bport, cctx, sess)
      assert.matches("reused=true version=" .. case[3] .. " port=" .. bport, line2)
    end)
  end

  it("rotation: an old ticket resumes during the overlap, not after retirement", function()
    local c13, c12 = ctx13(), ctx12()
    local _, _, old13 = visit(aport, c13)
    local _, _, old12 = visit(aport, c12)
    -- rotate: a new key in front, the old one still listed
    redis:call("LPUSH", "tls:ticket_keys", tohex(wolfssl.session.new_ticket_key()))
    local line, _, renewed13 = visit(bport, c13, old13)
    assert.matches("reused=true", line)
    assert.matches("reused=true", (visit(aport, c12, old12)))
    -- retire the old key
    redis:call("LTRIM", "tls:ticket_keys", 0, 0)
    assert.matches("reused=false version=TLSv1.3", (visit(aport, c13, old13)))
    assert.matches("reused=true", (visit(aport, c13, renewed13)), "the ticket reissued under the new key")
    -- TLS 1.2: a wolfSSL 5.5 client fails on a rejected ticket; retrying without it works
    local line12, err, code = visit(bport, c12, old12)
    if line12 then
      assert.matches("reused=false", line12) -- (a fixed wolfSSL client)
    else
      assert.is_true(wolfssl.session.ticket_rejected(old12, code), tostring(err))
      assert.matches("reused=false version=TLSv1.2", (visit(bport, c12)))
    end
  end)

  it("both servers are still up (no crash on any of the above)", function()
    assert.is_true(H.wait_port(aport, 1))
    assert.is_true(H.wait_port(bport, 1))
  end)
end)

-- Redis goes away mid-run and comes back (empty, as a restart without
-- persistence leaves it): the example servers keep serving (sessions just
-- miss), and share sessions and tickets again once Redis is back.
describe("examples/shared-session-server.lua while Redis is down", function()
  if not have("redis-server") then
    it("needs redis-server (make deps)", function() pending("redis-server is not installed") end)
    return
  end

  local rport, aport, bport = H.free_port(), H.free_port(), H.free_port()
  local pids = {}

  setup(function()
    start_redis(pids, rport)
    start_servers(pids, rport, aport, bport)
  end)

  teardown(function()
    H.kill(pids.a); H.kill(pids.b); H.kill(pids.redis)
    os.remove(pids.log_a); os.remove(pids.log_b)
  end)

  local function log_of(name)
    local f = assert(io.open(pids["log_" .. name], "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end

  it("serves without Redis, and shares sessions again when it is back", function()
    local c12 = H.client_ctx { max_version = "tls1.2", session_tickets = false }
    local c13 = H.client_ctx { min_version = "tls1.3" }
    -- with Redis: a session made on A resumes on B
    local _, _, s12 = visit(aport, c12)
    assert.matches("reused=true", (visit(bport, c12, s12)))

    H.kill(pids.redis) -- Redis goes away
    assert(P.wait_exit(pids.redis, 5), "redis-server did not stop")
    for _, ports in ipairs { { aport, bport }, { bport, aport } } do
      -- both keep serving: full handshakes, nothing stored or found (a session
      -- made on one server is unknown to the other)
      local _, _, made = visit(ports[1], c12)
      assert.matches("reused=false version=TLSv1.2 port=" .. ports[2], (visit(ports[2], c12, made)))
      assert.matches("reused=false version=TLSv1.3", (visit(ports[2], c13)))
    end

    start_redis(pids, rport) -- back, empty
    local _, _, again = visit(aport, c12)
    assert.matches("reused=true version=TLSv1.2 port=" .. bport, (visit(bport, c12, again)))
    local _, _, t13 = visit(aport, c13)
    assert.matches("reused=true version=TLSv1.3 port=" .. bport, (visit(bport, c13, t13)))
    -- each server said when Redis went and when it came back, once each
    for _, name in ipairs { "a", "b" } do
      local log = log_of(name)
      assert.matches("redis failed %(.-%): sessions miss until it is back\n.-redis is back\n", log)
      local _, gone = log:gsub("sessions miss until it is back", "")
      assert.equal(1, gone, log)
    end
  end)
end)
