-- Blocking use (DESIGN.md "Blocking use", issue 15): conn:settimeout /
-- ctx:new{timeout=} wait in C with poll and say "timeout"; wolfssl.connect is
-- a TCP connection and a verifying client in one call; wolfssl.socket waits
-- the same way, past descriptor 1023 where socket.select cannot go.
local H = require "helpers"
local socket = require "socket"
local wolfssl = require "wolfssl"

-- a TCP listener that never answers: connections complete in the backlog
local function silent_listener()
  local srv = assert(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  return srv, tonumber(port)
end

local function client_ctx()
  return assert(wolfssl.context{ mode = "client", cafile = H.cert("ca.pem") })
end

-- whether this process has descriptor fd open (a socket cannot be opened by path)
local stat = assert(io.open("/proc/self/stat"))
local MY_PID = tonumber(stat:read("*l"):match("^%d+"))
stat:close()
local function fd_open(fd)
  local ok = os.execute(("test -e /proc/%d/fd/%d"):format(MY_PID, fd))
  return ok == true or ok == 0
end

describe("blocking use", function()
  local port, pid
  setup(function() port, pid = H.openssl_server() end)
  teardown(function() H.kill(pid) end)

  it("ctx:new{timeout=} makes each call wait: handshake, write, read in one call each", function()
    local tcp = assert(socket.connect("127.0.0.1", port))
    local conn = assert(client_ctx():new{ fd = tcp, server_name = "localhost", timeout = 5 })
    assert.is_true(conn:handshake())
    assert.equal(18, conn:write("GET / HTTP/1.0\r\n\r\n"))
    assert.matches("^HTTP/1.0 200 ok", assert(conn:read()))
    conn:close()
    tcp:close()
  end)

  it("conn:settimeout(t): a peer that never answers gives nil, 'timeout' after t", function()
    local srv, sport = silent_listener()
    local tcp = assert(socket.connect("127.0.0.1", sport))
    local conn = assert(client_ctx():new{ fd = tcp, server_name = "localhost" })
    assert.is_true(conn:settimeout(0.3))
    local t0 = socket.gettime()
    assert.same({ nil, "timeout" }, { conn:handshake() })
    local spent = socket.gettime() - t0
    assert.is_true(spent >= 0.29 and spent < 2, "waited " .. spent)
    -- without a timeout the call does not wait: LuaSocket's descriptors are non-blocking
    conn:settimeout(nil)
    assert.same({ nil, "wantread" }, { conn:handshake() })
    conn:close()
    tcp:close()
    srv:close()
  end)

  it("timeouts are checked: seconds >= 0 or math.huge", function()
    local tcp = assert(socket.connect("127.0.0.1", port))
    local conn = assert(client_ctx():new{ fd = tcp, server_name = "localhost" })
    assert.is_true(conn:settimeout(math.huge))
    assert.error_matches(function() conn:settimeout(-1) end, "bad argument #1 to 'settimeout' %(must not be negative")
    assert.error_matches(function() conn:settimeout("x") end, "bad argument #1 to 'settimeout'")
    assert.is_true(conn:handshake())
    conn:close()
    tcp:close()
    assert.error_matches(function() client_ctx():new{ fd = 0, server_name = "x", timeout = "5" } end,
      "bad option 'timeout'")
    assert.error_matches(function() client_ctx():new{ fd = 0, server_name = "x", timeout = -1 } end,
      "bad option 'timeout'")
  end)

  describe("wolfssl.connect(host, port, opts)", function()
    it("connects, verifies, and its close() closes the socket too", function()
      local conn = assert(wolfssl.connect("localhost", port, { cafile = H.cert("ca.pem") }))
      assert.equal("TLSv1.3", conn:version())
      assert.is_true(conn:verify_result())
      assert.equal("localhost", conn:server_name())
      conn:write("GET / HTTP/1.0\r\n\r\n")
      assert.matches("^HTTP/1.0 200 ok", assert(conn:read()))
      local fd = conn:getfd()
      assert.is_true(fd_open(fd))
      conn:close()
      assert.is_false(fd_open(fd))
    end)

    it("takes context options, server_name and timeout", function()
      local conn = assert(wolfssl.connect("127.0.0.1", port, { cafile = H.cert("ca.pem"),
        server_name = "localhost", max_version = "tls1.2", timeout = 5 }))
      assert.equal("TLSv1.2", conn:version())
      conn:close()
    end)

    it("fails with nil and why: refused, wrong name, untrusted, silent peer", function()
      local srv, sport = silent_listener()
      local closed_port = H.free_port()
      local conn, err = wolfssl.connect("127.0.0.1", closed_port, { cafile = H.cert("ca.pem") })
      assert.is_nil(conn)
      assert.equal(("cannot connect to 127.0.0.1 port %d: connection refused"):format(closed_port), err)
      conn, err = wolfssl.connect("127.0.0.1", port, { cafile = H.cert("ca.pem"), server_name = "wrong.example" })
      assert.is_nil(conn)
      assert.matches("hostname", err)
      conn, err = wolfssl.connect("localhost", port, { cafile = H.cert("rsa-ca.pem") })
      assert.is_nil(conn)
      assert.matches("^certificate verify failed", err)
      local t0 = socket.gettime()
      conn, err = wolfssl.connect("127.0.0.1", sport, { cafile = H.cert("ca.pem"), timeout = 0.3 })
      assert.is_nil(conn)
      assert.equal("timeout", err)
      assert.is_true(socket.gettime() - t0 < 2)
      srv:close()
    end)

    it("names bad arguments", function()
      assert.error_matches(function() wolfssl.connect(nil, 443) end, "bad argument #1 to 'connect'")
      assert.error_matches(function() wolfssl.connect("localhost", "https") end, "bad argument #2 to 'connect'")
      assert.error_matches(function() wolfssl.connect("localhost", 443, "x") end, "bad argument #3 to 'connect'")
      assert.error_matches(function() wolfssl.connect("localhost", 443, { mode = "server" }) end, "bad option 'mode'")
      assert.error_matches(function() wolfssl.connect("localhost", 443, { timeout = -1 }) end, "bad option 'timeout'")
      assert.error_matches(function() wolfssl.connect("localhost", 443, { verfy = "none" }) end, "verfy")
    end)
  end)

  it("wolfssl.socket past descriptor 1023 (socket.select cannot): handshake, receive, timeout", function()
    local ssl = require "wolfssl.socket"
    local hold = {}
    for i = 1, 1100 do hold[i] = assert(io.open("/dev/null")) end
    local ok, err = pcall(function()
      local s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)),
        { mode = "client", cafile = H.cert("ca.pem"), host = "localhost" }))
      assert.is_true(s:getfd() > 1024, "fd " .. s:getfd())
      s:settimeout(5)
      assert.is_true(s:dohandshake())
      s:send("GET / HTTP/1.0\r\n\r\n")
      assert.equal("HTTP/1.0 200 ok", s:receive("*l"))
      s:close()
      local srv, sport = silent_listener()
      s = assert(ssl.wrap(assert(socket.connect("127.0.0.1", sport)),
        { mode = "client", cafile = H.cert("ca.pem"), host = "localhost" }))
      s:settimeout(0.2)
      assert.same({ false, "wantread" }, { s:dohandshake() })
      assert.equal("read", s:want())
      s:close()
      srv:close()
    end)
    for _, f in ipairs(hold) do f:close() end
    assert(ok, err)
  end)
end)
