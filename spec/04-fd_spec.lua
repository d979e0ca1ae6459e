-- fd mode: real loopback TCP (LuaSocket) and socketpairs, blocking and not,
-- in one process (non-blocking, select loop) and across two processes.
local socket = require "socket"
local wolfssl = require "wolfssl"
local core = require "wolfssl.core"
local T = assert(core._test, "run the suite with WOLFSSL_TEST_LUA set (make test-one)")
local H = require "helpers"

-- an fd as something socket.select accepts
local function fdobj(fd)
  return { getfd = function() return fd end, dirty = function() return false end }
end

-- Run tasks until all are done. A task is {fn = function() -> true | nil, want, sock = selectable}.
local function run(tasks, seconds)
  local deadline = socket.gettime() + (seconds or 10)
  local done, left = {}, #tasks
  while left > 0 do
    local r, w = {}, {}
    for i, t in ipairs(tasks) do
      if not done[i] then
        local ok, want = t.fn()
        if ok then
          done[i], left = true, left - 1
        elseif want == "wantread" then
          r[#r + 1] = t.sock
        elseif want == "wantwrite" then
          w[#w + 1] = t.sock
        else
          error(("task %d failed: %s"):format(i, tostring(want)))
        end
      end
    end
    if left == 0 then break end
    assert(socket.gettime() < deadline, "timed out")
    socket.select(r, w, 0.5)
  end
end

-- read exactly n bytes (non-blocking task)
local function reader(conn, n, into)
  into.data = ""
  return function()
    while #into.data < n do
      local chunk, err = conn:read(n - #into.data)
      if not chunk then return nil, err end
      into.data = into.data .. chunk
    end
    return true
  end
end

local function writer(conn, s)
  local sent = 0
  return function()
    while sent < #s do
      local n, err = conn:write(s, sent + 1)
      if not n then return nil, err end
      sent = sent + n
    end
    return true
  end
end

local function hs(conn) return function() return conn:handshake() end end

-- the same exchange over any two non-blocking fds
local function exchange(cfd, sfd, csel, ssel)
  local c = H.client_ctx():new { fd = cfd, server_name = "localhost" }
  local s = H.server_ctx():new { fd = sfd }
  run { { fn = hs(c), sock = csel }, { fn = hs(s), sock = ssel } }
  assert.equal("TLSv1.3", c:version())
  assert.equal("established", s:state())
  assert.is_true((c:verify_result()))
  local big = string.rep("0123456789abcdef", 64 * 1024) -- 1 MiB: exercises wantwrite
  local got = {}
  run { { fn = writer(c, big), sock = csel }, { fn = reader(s, #big, got), sock = ssel } }
  assert.equal(#big, #got.data)
  assert.equal(big, got.data)
  run { { fn = writer(s, "pong"), sock = ssel }, { fn = reader(c, 4, got), sock = csel } }
  assert.equal("pong", got.data)
  -- the clean close: each side's shutdown() is true once the other's close_notify came
  local closed
  run { { fn = function() return c:shutdown() end, sock = csel }, { fn = function()
    if not closed then
      local d, err = s:read()
      if d ~= nil or err ~= "closed" then return nil, err end
      closed = true
    end
    return s:shutdown()
  end, sock = ssel } }
  assert.is_true(closed)
  c:close(); s:close()
end

local SERVER_SCRIPT = [[
local wolfssl = require "wolfssl"
local socket = require "socket"
local mode, arg1 = ...
local ctx = assert(wolfssl.context { mode = "server", certificate = "spec/fixtures/certs/server.pem",
                                     key = "spec/fixtures/certs/server.key" })
local conn, sock
if mode == "tcp" then
  -- accept until a client completes a handshake (port probes just connect and leave)
  local srv = assert(socket.bind("127.0.0.1", tonumber(arg1)))
  repeat
    if sock then conn:close(); sock:close() end
    sock = assert(srv:accept())
    assert(require("wolfssl.core")._test.setblocking(sock:getfd(), true)) -- LuaSocket keeps fds non-blocking
    conn = ctx:new { fd = sock }
  until conn:handshake()             -- blocking: one call
  srv:close()
else
  conn = ctx:new { fd = tonumber(arg1) }
  assert(conn:handshake())
end
local line = assert(conn:read())
assert(conn:write(line:upper() .. " via " .. conn:version()))
conn:shutdown()
conn:close()
if sock then sock:close() end
]]

local function script_file()
  local name = os.tmpname()
  local f = assert(io.open(name, "w"))
  f:write(SERVER_SCRIPT)
  f:close()
  return name
end

describe("fd mode", function()
  it("loopback TCP, non-blocking, client and server in one process", function()
    local srv = assert(socket.bind("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local cs = socket.tcp()
    cs:settimeout(0)
    cs:connect("127.0.0.1", port)
    srv:settimeout(5)
    local ss = assert(srv:accept())
    srv:close()
    ss:settimeout(0)
    socket.select(nil, { cs }, 5)
    exchange(cs:getfd(), ss, cs, ss) -- an integer fd and a socket object
    cs:close(); ss:close()
  end)

  it("socketpair, non-blocking, one process", function()
    local a, b = T.socketpair(true)
    assert.is_number(a)
    exchange(a, b, fdobj(a), fdobj(b))
    assert.is_true(T.closefd(a))
    assert.is_true(T.closefd(b))
    assert.is_nil((T.closefd(a))) -- already closed: nil, message
  end)

  it("loopback TCP, blocking, server in another process", function()
    local port = H.free_port()
    local file = script_file()
    local pid = H.spawn(("exec timeout 30 %s %s tcp %d"):format(H.lua(), file, port)) -- bounded even if a test hangs
    finally(function() H.kill(pid); os.remove(file) end)
    assert(H.wait_port(port, 10), "server did not start")
    local sock
    for _ = 1, 50 do
      sock = socket.tcp()
      sock:settimeout(5)
      if sock:connect("127.0.0.1", port) then break end
      sock:close(); sock = nil
      socket.sleep(0.1)
    end
    assert(sock, "cannot connect")
    assert(T.setblocking(sock:getfd(), true)) -- LuaSocket keeps fds non-blocking
    local conn = H.client_ctx():new { fd = sock, server_name = "localhost" }
    assert.is_true(conn:handshake())
    assert(conn:write("hello\n"))
    assert.equal("HELLO\n via TLSv1.3", conn:read())
    assert.same({ nil, "closed" }, { conn:read() })
    conn:close()
    sock:close()
  end)

  it("socketpair, blocking, server in another process", function()
    local a, b = T.socketpair(false)
    local file = script_file()
    local pid = H.spawn(("exec timeout 30 %s %s fd %d"):format(H.lua(), file, b))
    finally(function() H.kill(pid); os.remove(file) end)
    T.closefd(b) -- the child has its copy
    local conn = H.client_ctx():new { fd = a, server_name = "localhost" }
    assert.is_true(conn:handshake())
    assert.equal(7, conn:write("socket\n"))
    assert.equal("SOCKET\n via TLSv1.3", conn:read())
    assert.same({ nil, "closed" }, { conn:read() })
    conn:close()
    T.closefd(a)
  end)

  it("a peer that drops the socket without close_notify: read gives nil, 'truncated'", function()
    local a, b = T.socketpair(true)
    local c = H.client_ctx():new { fd = a, server_name = "localhost" }
    local s = H.server_ctx():new { fd = b }
    run { { fn = hs(c), sock = fdobj(a) }, { fn = hs(s), sock = fdobj(b) } }
    s:close()
    T.closefd(b)
    local result
    run { { fn = function()
      local d, err = c:read()
      if d == nil and err ~= "wantread" then result = err; return true end
      return nil, err
    end, sock = fdobj(a) } }
    assert.equal("truncated", result)
    assert.equal("truncated", c:last_error().kind)
    c:close()
    T.closefd(a)
  end)

  it("a peer that drops the socket during the handshake fails with a message", function()
    local a, b = T.socketpair(true)
    local c = H.client_ctx():new { fd = a, server_name = "localhost" }
    assert.same({ nil, "wantread" }, { c:handshake() })
    T.closefd(b)
    local ok, err = c:handshake()
    assert.is_nil(ok)
    assert.equal("connection closed by peer during the handshake", err)
    c:close()
    T.closefd(a)
  end)

  it("a connection made from a socket object keeps it: the collector does not close the descriptor under it", function()
    local listener = assert(socket.bind("127.0.0.1", 0))
    local ip, port = listener:getsockname()
    local c = H.client_ctx():new { fd = assert(socket.connect(ip, port)), server_name = "localhost" }
    local accepted = assert(listener:accept())
    listener:close()
    local s = H.server_ctx():new { fd = accepted }
    accepted = nil -- luacheck: ignore (only the connections hold the sockets now)
    collectgarbage(); collectgarbage()
    run({ { fn = function() return c:handshake() end, sock = fdobj(c:getfd()) },
          { fn = function() return s:handshake() end, sock = fdobj(s:getfd()) } })
    assert.equal(5, c:write("alive"))
    run({ { fn = function() local d, e = s:read() if d then assert.equal("alive", d) return true end return nil, e end,
            sock = fdobj(s:getfd()) } })
    c:close(); s:close()
  end)

  it("memory-mode methods are refused in fd mode", function()
    local a, b = T.socketpair(true)
    local c = H.client_ctx():new { fd = a, server_name = "localhost" }
    assert.equal(a, c:getfd())
    local ok, err = pcall(c.feed, c, "x")
    assert.is_false(ok)
    assert.matches("fd mode", err)
    c:close()
    T.closefd(a); T.closefd(b)
  end)
end)

describe("wolfssl.core", function()
  -- what the module hands out: the test helpers (raw descriptor operations)
  -- only to the suite, never to a normal process
  it("has its test-only helpers only when WOLFSSL_TEST_LUA is set", function()
    assert.is_function(T.socketpair)
    local cmd = ([[env -u WOLFSSL_TEST_LUA %s -e 'local c = require "wolfssl.core"; ]] ..
      [[io.write(tostring(c._test), " ", tostring(c.socketpair), " ", tostring(c.closefd), " ", tostring(c.setblocking))']])
      :format(H.lua())
    local p = io.popen(cmd .. " 2>&1")
    local out = p:read("*a")
    p:close()
    assert.equal("nil nil nil nil", out)
  end)
end)
