-- Examples that survive misbehaving peers (issue 15): examples/server.lua (one
-- client at a time, each call bounded) and examples/coroutine-server.lua (many
-- at once, a handshake deadline) against clients that send garbage, stall
-- mid-handshake, or reset, and then still serve a well-behaved client.
local H = require "helpers"
local socket = require "socket"
local ssl = require "wolfssl.socket"

-- a raw TCP client to misbehave with
local function raw(port)
  local s = assert(socket.connect("127.0.0.1", port))
  s:settimeout(10)
  return s
end

-- the server ends the connection (close or reset), not us giving up:
-- returns how long it took
local function server_ends(s)
  local t0 = socket.gettime()
  local data, err = s:receive("*a")
  assert(data ~= nil or err == "closed" or err:match("reset"), "the server kept the connection: " .. tostring(err))
  s:close()
  return socket.gettime() - t0
end

-- half a TLS record: a handshake header promising 512 bytes, then 10 of them
local PARTIAL = "\22\3\1\2\0" .. ("\1"):rep(10)

local function reset(s)
  s:send(PARTIAL)
  s:setoption("linger", { on = true, timeout = 0 }) -- close sends RST
  s:close()
end

local function good(port, line)
  local s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)),
    { mode = "client", protocol = "any", cafile = H.cert("ca.pem"), host = "localhost" }))
  s:settimeout(5)
  assert(s:dohandshake())
  assert(s:send(line .. "\n"))
  local reply, err = s:receive("*l")
  s:close()
  return reply, err
end

local function start(cmd)
  local port = H.free_port()
  local pid = H.spawn(cmd:format(port))
  assert(H.wait_port(port, 10), "the example did not start: " .. cmd)
  return port, pid
end

describe("examples/server.lua with misbehaving clients", function()
  local port, pid
  setup(function() port, pid = start("exec env TIMEOUT=1 " .. H.lua() .. " examples/server.lua %d") end)
  teardown(function() H.kill(pid) end)

  it("garbage: the handshake fails, the connection ends, the next client is served", function()
    local s = raw(port)
    s:send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert.is_true(server_ends(s) < 5)
    assert.equal("echo: after garbage", good(port, "after garbage"))
  end)

  it("stall mid-handshake: dropped when its call times out, then the next client is served", function()
    local s = raw(port)
    s:send(PARTIAL)
    local took = server_ends(s)
    assert.is_true(took < 5, took) -- TIMEOUT=1, not the client's 10 s
    assert.equal("echo: after stall", good(port, "after stall"))
  end)

  it("a client that connects and never sends: the same", function()
    local s = raw(port)
    assert.is_true(server_ends(s) < 5)
    assert.equal("echo: after silence", good(port, "after silence"))
  end)

  it("reset mid-handshake: the next client is served", function()
    reset(raw(port))
    assert.equal("echo: after reset", good(port, "after reset"))
    assert.is_true(H.alive(pid))
  end)
end)

describe("examples/coroutine-server.lua with misbehaving clients", function()
  local port, pid
  setup(function()
    port, pid = start("exec env HANDSHAKE_TIMEOUT=2 " .. H.lua() .. " examples/coroutine-server.lua %d")
  end)
  teardown(function() H.kill(pid) end)

  it("serves others while clients stall, drops the stalled ones at the deadline", function()
    local stalled = {}
    for i = 1, 5 do
      stalled[i] = raw(port)
      if i % 2 == 0 then stalled[i]:send(PARTIAL) end
    end
    local garbage = raw(port)
    garbage:send(("\0\255garbage"):rep(100))
    reset(raw(port))
    -- served at once, beside the five stalled ones
    assert.equal("pong hello", good(port, "hello"))
    assert.is_true(server_ends(garbage) < 5)
    for _, s in ipairs(stalled) do assert.is_true(server_ends(s) < 10) end
    -- all five were let go: only the asking connection is open
    assert.equal("count 1", good(port, "count"))
    assert.is_true(H.alive(pid))
  end)
end)
