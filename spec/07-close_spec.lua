-- Closes that lose no data: shutdown() both ways and the half-close, and the
-- three ends read() tells apart (closed, truncated, connection reset).
local socket = require "socket"
local T = assert(require("wolfssl.core")._test, "run the suite with WOLFSSL_TEST_LUA set (make test-one)")
local H = require "helpers"

local VERSIONS = { { "tls1.2", "TLSv1.2" }, { "tls1.3", "TLSv1.3" } }

local function pair(v)
  local c, s, ok, side, err = H.pair(H.client_ctx { max_version = v }, H.server_ctx { max_version = v })
  assert(ok, tostring(side) .. ": " .. tostring(err))
  return c, s
end

-- everything read() gives until it stops: data, and why it stopped
local function read_all(conn)
  local parts = {}
  while true do
    local d, why, code = conn:read()
    if not d then return table.concat(parts), why, code end
    parts[#parts + 1] = d
  end
end

describe("clean close (memory mode)", function()
  for _, v in ipairs(VERSIONS) do
    describe(v[2], function()
      it("shutdown() sends close_notify once and is true when the peer's came", function()
        local c, s = pair(v[1])
        assert.same({ nil, "wantread" }, { c:shutdown() })
        local notify = c:drain()
        assert.is_true(#notify > 0)
        assert.same({ nil, "wantread" }, { c:shutdown() }) -- awaited, not sent again
        assert.equal("", c:drain())
        assert.equal("shutdown", c:state())
        s:feed(notify)
        assert.same({ nil, "closed" }, { s:read() })
        assert.same({ nil, "closed" }, { s:read() }) -- and it stays so
        assert.is_true(s:shutdown()) -- the client's is here: ours goes, done
        assert.is_true(s:shutdown())
        assert.equal(v[2], s:version()) -- the connection is not reset by the close
        c:feed(s:drain())
        assert.is_true(c:shutdown())
        assert.is_true(c:shutdown())
        assert.equal("", c:drain())
        assert.same({ nil, "closed" }, { c:read() })
        assert.matches("CN=localhost", tostring(c:peer_certificate():subject()))
        c:close(); s:close()
      end)

      it("data in flight during shutdown() stays readable, byte for byte", function()
        local c, s = pair(v[1])
        local big = {}
        for i = 1, 5000 do big[i] = ("%06d|"):format(i) .. ("z"):rep(50) end
        big = table.concat(big) -- ~285 KB: many records
        assert.equal(#big, s:write(big))
        local flight = s:drain()
        assert.same({ nil, "wantread" }, { c:shutdown() })
        s:feed(c:drain())
        -- the data arrives in pieces while the client waits for close_notify
        for i = 1, #flight, 7000 do
          c:feed(flight:sub(i, i + 6999))
          assert.same({ nil, "wantread" }, { c:shutdown() })
        end
        local n_out, n_plain = c:pending()
        assert.equal(0, n_out)
        assert.equal(#big, n_plain)
        -- the server sees the client's close_notify, answers with its own
        assert.same({ nil, "closed" }, { s:read() })
        assert.is_true(s:shutdown())
        c:feed(s:drain())
        assert.is_true(c:shutdown())
        local got, why = read_all(c)
        assert.equal(#big, #got)
        assert.equal(big, got)
        assert.equal("closed", why)
        c:close(); s:close()
      end)

      it("data and close_notify in one feed: read() gives the data, then 'closed'", function()
        local c, s = pair(v[1])
        s:write("last words")
        assert.same({ nil, "wantread" }, { s:shutdown() })
        c:feed(s:drain())
        assert.equal("last words", c:read())
        assert.same({ nil, "closed" }, { c:read() })
        assert.is_true(c:shutdown())
        s:feed(c:drain())
        assert.is_true(s:shutdown())
        c:close(); s:close()
      end)

      it("shutdown('write') is a half-close: true at once, the peer can still answer", function()
        local c, s = pair(v[1])
        assert.is_true(c:shutdown("write"))
        s:feed(c:drain())
        assert.same({ nil, "closed" }, { s:read() })
        assert.equal(6, s:write("answer"))
        assert.is_true(s:shutdown()) -- the client's close_notify is already here
        c:feed(s:drain())
        assert.equal("answer", c:read())
        assert.same({ nil, "closed" }, { c:read() })
        assert.is_true(c:shutdown()) -- both close_notify went: done, nothing more sent
        assert.equal("", c:drain())
        c:close(); s:close()
      end)

      it("the transport ending while shutdown() waits: true, and read() says 'truncated'", function()
        local c, s = pair(v[1])
        s:write("partial")
        assert.same({ nil, "wantread" }, { c:shutdown() })
        c:feed(s:drain())
        c:feed_eof()
        assert.is_true(c:shutdown())
        assert.equal("partial", c:read())
        local _, why, code = c:read()
        assert.equal("truncated", why)
        assert.is_number(code)
        c:close(); s:close()
      end)

      it("read(): 'truncated' with a code after an EOF without close_notify, on both sides", function()
        local c, s = pair(v[1])
        s:write("abc")
        c:feed(s:drain())
        c:feed_eof()
        local got, why, code = read_all(c)
        assert.equal("abc", got)
        assert.equal("truncated", why)
        assert.is_number(code)
        assert.equal("truncated", c:last_error().kind)
        assert.matches("without close_notify", c:last_error().message)
        assert.is_true(c:shutdown()) -- the transport is gone: nothing to wait for
        s:feed_eof()
        assert.equal("truncated", (select(2, s:read())))
        c:close(); s:close()
      end)
    end)
  end

  it("shutdown() keeps at most 16 MiB for read(): past that it says to read first", function()
    local c, s = pair()
    local block = ("k"):rep(1024 * 1024)
    for _ = 1, 17 do assert.equal(#block, s:write(block)) end
    assert.same({ nil, "wantread" }, { c:shutdown() })
    c:feed(s:drain())
    local ok, err = c:shutdown()
    assert.is_nil(ok)
    assert.equal("the peer is still sending: read() its data, then shutdown() again", err)
    local n = 0
    while true do
      local d = c:read(1024 * 1024)
      if not d then break end
      n = n + #d
    end
    assert.equal(17 * #block, n)
    assert.same({ nil, "wantread" }, { c:shutdown() })
    c:close(); s:close()
  end)

  it("shutdown() before the handshake sends close_notify and is done", function()
    local c = H.client_ctx():new { server_name = "localhost" }
    assert.is_true(c:shutdown())
    c:close()
  end)

  it("shutdown() with a bad argument names it", function()
    local c, s = pair()
    assert.has_error(function() c:shutdown("both") end,
      "bad argument #1 to 'shutdown' (expected \"write\" or nothing, got 'both')")
    assert.has_error(function() c:shutdown({}) end)
    c:close(); s:close()
  end)
end)

-- an fd as something socket.select accepts
local function fdobj(fd)
  return { getfd = function() return fd end, dirty = function() return false end }
end

-- fd mode over loopback TCP: a connected pair of LuaSocket sockets
local function tcp_pair()
  local srv = assert(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local a = socket.tcp()
  a:settimeout(5)
  assert(a:connect("127.0.0.1", port))
  srv:settimeout(5)
  local b = assert(srv:accept())
  srv:close()
  a:settimeout(0); b:settimeout(0)
  return a, b
end

-- step conn:method() until it is not "wantread"/"wantwrite" (bounded)
local function await(conn, sock, method, ...)
  local deadline = socket.gettime() + 10
  while socket.gettime() < deadline do
    local r, err, code = conn[method](conn, ...)
    if r or (err ~= "wantread" and err ~= "wantwrite") then return r, err, code end
    if err == "wantread" then socket.select({ sock }, nil, 0.5) else socket.select(nil, { sock }, 0.5) end
  end
  error("timed out: " .. method)
end

local function fd_pair(a, b)
  local c = H.client_ctx():new { fd = a, server_name = "localhost" }
  local s = H.server_ctx():new { fd = b }
  local cdone, sdone
  for _ = 1, 200 do
    cdone = cdone or c:handshake()
    sdone = sdone or s:handshake()
    if cdone and sdone then return c, s end
    socket.select({ type(a) == "number" and fdobj(a) or a, type(b) == "number" and fdobj(b) or b }, nil, 0.1)
  end
  error("handshake did not finish")
end

describe("clean close (fd mode)", function()
  it("read() says 'connection reset' with a code when the peer resets TCP", function()
    local a, b = tcp_pair()
    local c, s = fd_pair(a, b)
    s:close()
    b:setoption("linger", { on = true, timeout = 0 }) -- close() sends a reset
    b:close()
    local d, why, code = await(c, a, "read")
    assert.is_nil(d)
    assert.equal("connection reset", why)
    assert.is_number(code)
    assert.equal("connection reset", c:last_error().kind)
    assert.equal("connection reset", select(2, c:write("too late")))
    assert.is_true(c:shutdown()) -- the transport ended: nothing to send or wait for
    assert.equal("connection reset", select(2, c:read())) -- read() says how
    c:close(); a:close()
  end)

  it("a close_notify the socket cannot take yet is sent by the next calls, and the peer reads all", function()
    local fa, fb = T.socketpair(true) -- AF_UNIX: full stays full until the peer reads
    local a, b = fdobj(fa), fdobj(fb)
    local c, s = fd_pair(fa, fb)
    -- fill the socket until writing blocks
    local chunk, sent = ("0123456789abcdef"):rep(4096), {}
    while true do
      local n, err = c:write(chunk)
      if not n then assert.equal("wantwrite", err) break end
      sent[#sent + 1] = chunk:sub(1, n)
    end
    sent = table.concat(sent)
    -- the client's close_notify cannot go now: shutdown() asks to write
    assert.same({ nil, "wantwrite" }, { c:shutdown() })
    assert.same({ nil, "wantwrite" }, { c:shutdown() })
    -- the server reads everything, then the close_notify
    local parts, why = {}, nil
    local deadline = socket.gettime() + 10
    while not why do
      local d, e = s:read(65536)
      if d then parts[#parts + 1] = d
      elseif e == "wantread" then
        c:shutdown() -- send what the socket now takes
        socket.select({ b }, nil, 0.1)
      else why = e end
      assert(socket.gettime() < deadline, "timed out")
    end
    assert.equal("closed", why)
    -- what write() took, then the records of the write that blocked (they
    -- went before the close_notify)
    local got = table.concat(parts)
    assert.equal(sent, got:sub(1, #sent))
    assert.equal(chunk:sub(1, #got - #sent), got:sub(#sent + 1))
    assert.is_true(await(s, b, "shutdown"))
    assert.is_true(await(c, a, "shutdown"))
    assert.same({ nil, "closed" }, { c:read() })
    c:close(); s:close(); T.closefd(fa); T.closefd(fb)
  end)

  it("an EOF while shutdown() waits is the end of it: true, then 'truncated'", function()
    local a, b = T.socketpair(true)
    local c, s = fd_pair(a, b)
    assert.same({ nil, "wantread" }, { c:shutdown() }) -- sent; the server's is awaited
    assert.same({ nil, "closed" }, { await(s, fdobj(b), "read") })
    s:close() -- the server goes without answering with its close_notify
    T.closefd(b)
    assert.is_true(await(c, fdobj(a), "shutdown"))
    assert.equal("truncated", select(2, c:read()))
    c:close()
    T.closefd(a)
  end)
end)
