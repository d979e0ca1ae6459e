-- TLS 1.3 early data (0-RTT): max_early_data, conn:write_early/read_early/
-- early_data(), replay protection, interop with OpenSSL (DESIGN.md "Early data").
local wolfssl = require "wolfssl"
local H = require "helpers"

local HAVE = wolfssl.features.early_data

-- a TLS 1.3 session from a server context (its ticket read by the client)
local function session_from(cctx, sctx)
  local c, s, ok = H.pair(cctx, sctx)
  assert.is_true(ok)
  assert.equal("x", H.transfer(s, c, "x")) -- the ticket comes with it
  return c:session()
end

-- run both handshakes; the server reads early data as a server would
-- (read_early until it says nil, then handshake). Returns the early data.
local function finish(c, s)
  local got = {}
  for _ = 1, 20 do
    s:feed(c:drain())
    local d = s:read_early()
    if d then got[#got + 1] = d end
    local sok = s:handshake()
    c:feed(s:drain())
    local cok, cerr = c:handshake()
    if cok and sok then return table.concat(got) end
    assert(cok or cerr == "wantread" or cerr == "wantwrite", cerr)
  end
  error("handshake did not finish")
end

describe("early data", function()
  if not HAVE then
    it("is a clear error where the build lacks it (features.early_data = false)", function()
      local ok, err = pcall(H.server_ctx, { max_early_data = 1024 })
      assert.is_false(ok)
      assert.matches("max_early_data", err)
      assert.matches("early data is not supported by this wolfSSL build", err)
      local cctx, sctx = H.client_ctx{}, H.server_ctx{}
      local c, s = H.pair(cctx, sctx)
      assert.error_matches(function() c:write_early("x") end, "not supported by this wolfSSL build")
      assert.error_matches(function() s:read_early() end, "not supported by this wolfSSL build")
      assert.equal("none", c:early_data())
      assert.equal("none", s:early_data())
      local p = assert(io.popen(H.lua() .. " examples/early-data.lua 2>&1; echo \"exit=$?\""))
      local out = p:read("*a")
      p:close()
      assert.matches("early data is not supported by this wolfSSL build.*exit=1", out)
    end)
    return
  end

  local sctx, cctx
  before_each(function()
    sctx = H.server_ctx{ max_early_data = 1024, groups = "X25519" }
    cctx = H.client_ctx{}
  end)

  it("accepted: the data arrives byte for byte, both sides say accepted", function()
    local sess = session_from(cctx, sctx)
    local c, s = cctx:new{ server_name = "localhost", session = sess }, sctx:new{}
    local data = "GET /idempotent HTTP/1.1\r\n\0\255" .. ("z"):rep(900)
    assert.equal(#data, c:write_early(data))
    assert.equal(data, finish(c, s))
    assert.equal("accepted", c:early_data())
    assert.equal("accepted", s:early_data())
    assert.equal("accepted", s:info().early_data)
    assert.is_true(c:session_reused() and s:session_reused())
    assert.equal("after", H.transfer(c, s, "after"))
    assert.equal("back", H.transfer(s, c, "back"))
  end)

  it("a server that only calls handshake() gets the early data from read()", function()
    local sess = session_from(cctx, sctx)
    local c, s = cctx:new{ server_name = "localhost", session = sess }, sctx:new{}
    assert.equal(5, c:write_early("early"))
    assert.is_true(H.handshake(c, s))
    assert.equal("accepted", s:early_data())
    assert.equal("early", s:read())
  end)

  it("a TLS 1.2 client of a max_early_data server: an ordinary handshake, none", function()
    local c, s, ok = H.pair(H.client_ctx{ max_version = "tls1.2" }, sctx)
    assert.is_true(ok)
    assert.equal("TLSv1.2", s:version())
    assert.equal("none", s:early_data())
    assert.equal("x", H.transfer(c, s, "x"))
  end)

  it("none: a handshake without early data says none on both sides", function()
    local c, s, ok = H.pair(cctx, sctx)
    assert.is_true(ok)
    assert.equal("none", c:early_data())
    assert.equal("none", s:early_data())
    assert.is_nil(s:read_early())
  end)

  it("rejected: a session from a server without max_early_data allows none", function()
    local sess = session_from(cctx, H.server_ctx{ groups = "X25519" })
    local c = cctx:new{ server_name = "localhost", session = sess }
    local n, err = c:write_early("x")
    assert.is_nil(n)
    assert.matches("the session allows no early data", err)
    assert.equal("none", c:early_data())
  end)

  it("rejected: more than the server allows is refused, the handshake goes on", function()
    local small = H.server_ctx{ max_early_data = 16, groups = "X25519" }
    local sess = session_from(cctx, small)
    local c, s = cctx:new{ server_name = "localhost", session = sess }, small:new{}
    local n, err = c:write_early(("y"):rep(17))
    assert.is_nil(n)
    assert.matches("too much early data: the session allows 16 bytes", err)
    assert.equal(16, c:write_early(("y"):rep(16)))
    local n2, err2 = c:write_early("1")
    assert.is_nil(n2)
    assert.matches("%(16 written%)", err2)
    assert.equal(("y"):rep(16), finish(c, s))
    assert.equal("accepted", s:early_data())
  end)

  it("replayed: the same first flight to a second server connection delivers nothing", function()
    local sess = session_from(cctx, sctx)
    local c = cctx:new{ server_name = "localhost", session = sess }
    assert.equal(11, c:write_early("transfer 1$"))
    local flight = c:drain()
    local s1 = sctx:new{}
    s1:feed(flight)
    c:feed("") -- (nothing yet)
    assert.equal("transfer 1$", finish(c, s1))
    assert.equal("accepted", s1:early_data())
    -- an attacker replays the recorded bytes
    local s2 = sctx:new{}
    s2:feed(flight)
    local d, err = s2:read_early()
    assert.is_nil(d)
    assert.equal("wantread", err) -- its 1-RTT handshake waits for a client that cannot finish it
    assert.equal("", s2:read() or "")
    assert.equal("rejected", s2:early_data())
    assert.is_not_equal("established", s2:state())
    -- a new flight under the same ticket: both sides agree on what became of it
    local c3, s3 = cctx:new{ server_name = "localhost", session = sess }, sctx:new{}
    assert.equal(6, c3:write_early("fresh!"))
    local got = finish(c3, s3)
    assert.equal(c3:early_data(), s3:early_data())
    assert.equal(s3:early_data() == "accepted" and "fresh!" or "", got)
  end)

  it("replayed, with ticket_keys: the ticket is refused, a full handshake, the data skipped", function()
    local keyed = H.server_ctx{ max_early_data = 1024, groups = "X25519", ticket_keys = { ("t"):rep(32) } }
    local sess = session_from(cctx, keyed)
    local c = cctx:new{ server_name = "localhost", session = sess }
    assert.equal(5, c:write_early("pay 1"))
    local flight = c:drain()
    local s1 = keyed:new{}
    s1:feed(flight)
    assert.equal("pay 1", s1:read_early())
    local resumed_flight = #s1:drain()
    local s2 = keyed:new{}
    s2:feed(flight)
    local d, err = s2:read_early()
    assert.is_nil(d)
    assert.equal("wantread", err)
    assert.equal("rejected", s2:early_data())
    local full_flight = #s2:drain()
    assert.is_true(full_flight > resumed_flight + 300, -- its certificate: no resumption
      ("resumed flight %d bytes, replay's %d"):format(resumed_flight, full_flight))
  end)

  it("remembers every flight past its first table size (800 flights, then the first replayed)", function()
    local sess = session_from(cctx, sctx)
    local first
    for i = 1, 800 do -- (each one finished: wolfSSL takes an unfinished one's session out of its cache)
      local c, s = cctx:new{ server_name = "localhost", session = sess }, sctx:new{}
      c:write_early("n" .. i)
      local flight = c:drain()
      first = first or flight
      c:feed("")
      s:feed(flight)
      assert.equal("n" .. i, s:read_early())
      finish(c, s)
      c:close(); s:close()
    end
    local s = sctx:new{}
    s:feed(first)
    assert.is_nil(s:read_early())
    assert.equal("rejected", s:early_data())
  end)

  it("wrong use raises: write_early on a server or a fresh connection, read_early on a client", function()
    local c, s = cctx:new{ server_name = "localhost" }, sctx:new{}
    assert.error_matches(function() c:write_early("x") end, "write_early needs a connection resuming a session")
    assert.error_matches(function() s:write_early("x") end, "write_early is for client connections")
    assert.error_matches(function() c:read_early() end, "read_early is for server connections")
    assert.error_matches(function() c:write_early() end, "bad argument #1")
    assert.error_matches(function() H.client_ctx{ max_early_data = 10 } end, "max_early_data.*server contexts")
    assert.error_matches(function() H.server_ctx{ max_early_data = -1 } end, "max_early_data")
    assert.error_matches(function() H.server_ctx{ max_early_data = "x" } end, "max_early_data")
    assert.error_matches(function() H.server_ctx{ max_early_data = 10, max_version = "tls1.2" } end,
                         "max_early_data.*needs TLS 1.3")
  end)

  it("after the handshake write_early is too late (nil, msg)", function()
    local sess = session_from(cctx, sctx)
    local c, s = cctx:new{ server_name = "localhost", session = sess }, sctx:new{}
    assert.is_true(H.handshake(c, s))
    local n, err = c:write_early("x")
    assert.is_nil(n)
    assert.matches("too late for early data", err)
    assert.is_nil(s:read_early())
  end)

  it("fd mode: early data over a socket pair", function()
    local core = require "wolfssl.core"
    local sess = session_from(cctx, sctx)
    local a, b = core._test.socketpair()
    core._test.setblocking(a, false)
    core._test.setblocking(b, false)
    local c, s = cctx:new{ fd = a, server_name = "localhost", session = sess }, sctx:new{ fd = b }
    assert.equal(9, c:write_early("over fd!\n"))
    local got, cdone, sdone = {}, false, false
    for _ = 1, 200 do
      local d = s:read_early()
      if d then got[#got + 1] = d end
      sdone = sdone or s:handshake() == true
      cdone = cdone or c:handshake() == true
      if cdone and sdone then break end
    end
    assert.is_true(cdone and sdone)
    assert.equal("over fd!\n", table.concat(got))
    assert.equal("accepted", c:early_data())
    assert.equal("accepted", s:early_data())
    c:close(); s:close()
    core._test.closefd(a); core._test.closefd(b)
  end)

  it("rejected: a server that cannot resume the session does a full handshake, the data is skipped", function()
    local sess = session_from(cctx, sctx)
    local other = H.server_ctx{ max_early_data = 1024, groups = "X25519" } -- its own ticket key
    local c, s = cctx:new{ server_name = "localhost", session = sess }, other:new{}
    assert.equal(4, c:write_early("lost"))
    assert.equal("", finish(c, s))
    assert.equal("rejected", c:early_data())
    assert.equal("rejected", s:early_data())
    assert.is_false(c:session_reused())
    assert.equal("after", H.transfer(c, s, "after"))
  end)

  it("examples/early-data.lua (shown in the README) runs as written", function()
    local p = assert(io.popen(H.lua() .. " examples/early-data.lua 2>&1; echo \"exit=$?\""))
    local out = p:read("*a")
    p:close()
    assert.equal("GET /status\naccepted\taccepted\nexit=0\n", out)
  end)

  describe("the trace", function()
    local trace = require "wolfssl.trace"
    local function traced(o, extra)
      for k, v in pairs(extra or {}) do o[k] = v end
      local rec = trace.attach(o, {})
      return assert(wolfssl.context(o)), rec
    end
    local function lines(rec, conn, role)
      local out = {}
      for _, m in ipairs(rec:messages(conn)) do out[#out + 1] = trace.render(m, role) end
      return table.concat(out, "\n")
    end
    local function types(rec, conn)
      local out = {}
      for _, m in ipairs(rec:messages(conn)) do out[#out + 1] = m.direction .. " " .. m.type end
      return table.concat(out, ", ")
    end
    local so = { mode = "server", certificate = H.cert("server.pem"), key = H.cert("server.key"),
                 max_early_data = 1024, groups = "X25519" }

    it("shows the early_data extension, the 0-RTT records, EndOfEarlyData and the ticket's limit", function()
      local tsctx, srec = traced(so)
      local tcctx, crec = traced({ mode = "client", cafile = H.cert("ca.pem") })
      local c0, s0, ok = H.pair(tcctx, tsctx)
      assert.is_true(ok)
      H.transfer(s0, c0, "x")
      if not wolfssl.features.msg_trace_decrypted then pending("the trace decrypts nothing on this build") end
      assert.matches("NewSessionTicket +ticket for %d+ s; early data up to 1024 bytes", lines(crec, c0, "client"))
      local c, s = tcctx:new{ server_name = "localhost", session = c0:session() }, tsctx:new{}
      assert.equal(11, c:write_early("hello early"))
      assert.equal("hello early", finish(c, s))
      assert.equal("sent client_hello, sent early_data, received server_hello, received encrypted_extensions, "
        .. "received finished, sent end_of_early_data, sent finished", types(crec, c):gsub(", received new_session_ticket", ""))
      local server = types(srec, s)
      assert.matches("received client_hello, sent server_hello, sent encrypted_extensions, sent finished", server, 1, true)
      assert.matches("received early_data, received end_of_early_data, received finished", server, 1, true)
      local cl = lines(crec, c, "client")
      assert.matches("ClientHello [^\n]*early data follows %(0%-RTT%)", cl)
      assert.matches("EarlyData +0%-RTT application data, 11 bytes", cl)
      assert.matches("EncryptedExtensions no ALPN; early data accepted", cl)
      assert.matches("EndOfEarlyData", cl)
      assert.matches("S <%- C  EarlyData +0%-RTT application data, 11 bytes", lines(srec, s, "server"))
      assert.matches("early data %(0%-RTT%) accepted", table.concat(srec:summary(s), "\n"))
      for _, m in ipairs(srec:messages(s)) do
        if m.type == "early_data" then
          assert.is_true(m.decrypted)
          assert.is_nil(m.data) -- application data: its bytes are not handed out
        end
      end
    end)

    it("shows a rejected flight: no early_data in EncryptedExtensions, the records skipped", function()
      local tsctx = traced(so)
      local other, srec = traced({ mode = "server", certificate = H.cert("server.pem"), key = H.cert("server.key"),
                                   max_early_data = 1024, groups = "X25519" })
      local sess = session_from(cctx, tsctx)
      if not wolfssl.features.msg_trace_decrypted then pending("the trace decrypts nothing on this build") end
      local c, s = cctx:new{ server_name = "localhost", session = sess }, other:new{}
      assert.equal(4, c:write_early("lost"))
      assert.equal("", finish(c, s))
      local sl = lines(srec, s, "server")
      assert.matches("EncryptedExtensions no ALPN\n", sl)
      assert.matches("S <%- C  EarlyData +0%-RTT record, %d+ bytes %(skipped%)", sl)
      assert.matches("S <%- C  Finished", sl)
    end)
  end)

  describe("across a fleet, through a shared session_store", function()
    local keys = { ("k"):rep(32) }
    local function store(t, fail)
      return { get = function(id) if fail then error("store down") end return t[id] end,
               put = function(id, v) t[id] = v end }
    end
    -- a first flight under a ticket of server A, fed to A, then replayed to B
    local function replay(storeA, storeB)
      local a = H.server_ctx{ max_early_data = 100, ticket_keys = keys, session_store = storeA }
      local b = H.server_ctx{ max_early_data = 100, ticket_keys = keys, session_store = storeB }
      local sess = session_from(cctx, a)
      local c = cctx:new{ server_name = "localhost", session = sess }
      assert.equal(5, c:write_early("pay 1"))
      local flight = c:drain()
      local s1, s2 = a:new{}, b:new{}
      s1:feed(flight)
      local first = s1:read_early()
      s2:feed(flight)
      local again, err = s2:read_early()
      return first, again, err, s1, s2
    end

    it("a flight taken by one server is dropped by another", function()
      local shared = {}
      local first, again, err, s1, s2 = replay(store(shared), store(shared))
      assert.equal("pay 1", first)
      assert.is_nil(again)
      assert.equal("wantread", err)
      assert.equal("rejected", s2:early_data())
      local ids = {}
      for id, v in pairs(shared) do if id:match("^early%-%x+$") then ids[#ids + 1] = v end end
      assert.same({ "used" }, ids) -- one entry: the binder A took
      s1:close()
    end)

    it("(servers that share no store cannot tell: the replay is delivered)", function()
      local first, again = replay(store({}), store({}))
      assert.equal("pay 1", first)
      assert.equal("pay 1", again)
    end)

    it("a store that fails means no early data; the handshake goes on", function()
      local sctx2 = H.server_ctx{ max_early_data = 100, ticket_keys = keys, session_store = store({}, true) }
      local sess = session_from(cctx, sctx2)
      local c, s = cctx:new{ server_name = "localhost", session = sess }, sctx2:new{}
      assert.equal(4, c:write_early("nope"))
      assert.equal("", finish(c, s))
      assert.equal("rejected", s:early_data())
      assert.equal("rejected", c:early_data()) -- (the client is told: it sends its request again)
      assert.is_false(c:session_reused()) -- the ticket was refused: a full handshake
      assert.matches("store down", s:last_error().message)
      assert.equal("after", H.transfer(c, s, "after"))
    end)
  end)

  describe("a fleet for real: two server processes, one Redis (examples/shared-session-server.lua)", function()
    local socket = require "socket"
    package.path = "spec/support/?.lua;" .. package.path
    local resp = require "resp"
    local P = require "peers"
    if not P.have("redis-server") then
      it("needs redis-server (make deps)", function() pending("redis-server is not installed") end)
      return
    end
    local rport, aport, bport = H.free_port(), H.free_port(), H.free_port()
    local pids, redis, blog = {}, nil, os.tmpname()
    setup(function()
      pids.redis = H.spawn(("exec redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no"):format(rport))
      assert(H.wait_port(rport, 5), "redis-server did not start")
      redis = assert(resp.connect("127.0.0.1", rport))
      pids.a = H.spawn(("exec %s examples/shared-session-server.lua %d %d"):format(H.lua(), aport, rport))
      pids.b = H.spawn(("exec sh -c 'exec %s examples/shared-session-server.lua %d %d 2>%s'")
        :format(H.lua(), bport, rport, blog))
      assert(H.wait_port(aport, 10) and H.wait_port(bport, 10), "the servers did not start")
    end)
    teardown(function()
      H.kill(pids.a); H.kill(pids.b)
      if redis then redis:close() end
      H.kill(pids.redis)
      os.remove(blog)
    end)

    -- a memory-mode client over a TCP connection: bytes in, bytes out, until
    -- it has a line of application data (or `seconds` pass)
    local function exchange(port, conn, flight, seconds)
      local sock = assert(socket.connect("127.0.0.1", port))
      sock:settimeout(0)
      assert(sock:send(flight))
      local deadline = socket.gettime() + (seconds or 5)
      while socket.gettime() < deadline do
        socket.select({ sock }, nil, 0.1)
        local data, err, partial = sock:receive(65536)
        data = data or partial
        if data and #data > 0 and conn then
          conn:feed(data)
          conn:handshake()
          local out = conn:drain()
          if #out > 0 then sock:send(out) end
          local line = conn:read()
          if line then sock:close() return line end
        end
        if err == "closed" then break end
      end
      sock:close()
    end

    it("the flight A accepted is dropped by B: the claim in Redis", function()
      local cctx = H.client_ctx{ min_version = "tls1.3" }
      -- a session from A (its ticket allows early data)
      local c0 = cctx:new{ server_name = "localhost" }
      c0:handshake()
      local line0
      local sock = assert(socket.connect("127.0.0.1", aport))
      sock:settimeout(0)
      assert(sock:send(c0:drain()))
      for _ = 1, 100 do
        socket.select({ sock }, nil, 0.1)
        local data, _, partial = sock:receive(65536)
        data = data or partial
        if data and #data > 0 then c0:feed(data) end
        if c0:handshake() then
          local out = c0:drain()
          if #out > 0 then sock:send(out) end
          if not line0 then c0:write("hello\n"); sock:send(c0:drain()) line0 = true end
          local l = c0:read()
          if l and c0:session():has_ticket() then break end
        else
          local out = c0:drain()
          if #out > 0 then sock:send(out) end
        end
      end
      sock:close()
      local sess = c0:session()
      assert.is_true(sess:has_ticket())
      -- the client's first flight: ClientHello and its request as early data
      local c = cctx:new{ server_name = "localhost", session = sess }
      assert.equal(6, c:write_early("hello\n"))
      local flight = c:drain()
      local line = exchange(aport, c, flight)
      assert.matches("reused=true version=TLSv1.3 port=" .. aport .. " early=accepted", line)
      -- an attacker replays the recorded bytes to B
      exchange(bport, nil, flight, 1)
      local text
      for _ = 1, 100 do
        local f = io.open(blog, "rb")
        text = f:read("*a")
        f:close()
        if text:find("(early data rejected)", 1, true) then break end -- (after the probe's line)
        socket.sleep(0.05)
      end
      assert.matches("handshake failed: .-%(early data rejected%)", text)
      local keys = redis:call("KEYS", "tls:early-*")
      assert.equal(1, #keys)
    end)
  end)

  describe("interop with openssl", function()
    local socket = require "socket"
    local P = require "peers"
    after_each(P.stop_all)

    it("our client sends early data to openssl s_server -early_data", function()
      local out = os.tmpname()
      local port = H.free_port()
      P.spawn(("exec sh -c 'sleep 20 | timeout 20 openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -early_data > %s 2>&1'")
        :format(port, H.cert("server.pem"), H.cert("server.key"), out))
      assert(H.wait_port(port, 5), "openssl s_server did not start")
      local function connect(sess)
        local sock = socket.tcp()
        sock:settimeout(5)
        assert(sock:connect("127.0.0.1", port))
        return cctx:new{ fd = sock, server_name = "localhost", session = sess }, sock
      end
      local conn, sock = connect()
      assert(P.handshake(conn, sock))
      local sess
      for _ = 1, 50 do -- its tickets come after the handshake
        local d, err = conn:read()
        assert(d or err == "wantread", err)
        sess = conn:session()
        if sess and sess:has_ticket() then break end
        socket.select({ sock }, nil, 0.1)
      end
      assert.is_true(sess:has_ticket())
      conn:shutdown(); conn:close(); sock:close()
      local data = "EARLY \0\1\255 bytes\n"
      local c2, s2 = connect(sess)
      assert.equal(#data, c2:write_early(data))
      assert.is_true(P.handshake(c2, s2))
      assert.equal("accepted", c2:early_data())
      assert.is_true(c2:session_reused())
      assert(P.await(c2, s2, "write", "late\n"))
      assert(P.await(c2, s2, "shutdown"))
      c2:close(); s2:close()
      local text
      for _ = 1, 50 do -- s_server prints the early data when it has it all
        local f = io.open(out, "rb")
        text = f:read("*a")
        f:close()
        if text:find("late\n", 1, true) then break end
        socket.sleep(0.05)
      end
      os.remove(out)
      assert.matches("Early data received:", text, 1, true)
      assert.truthy(text:find(data, 1, true), "the early data, byte for byte")
    end)

    it("openssl s_client -early_data -sess_in sends early data to our server", function()
      local sctx2 = H.server_ctx{ max_early_data = 16384 }
      local srv, port = P.listen()
      local sess = os.tmpname()
      local data = "EARLY from s_client \1\2\255\n"
      local ed = H.write_tmp(data)
      local function client(args)
        return P.run_client(("sleep 1 | openssl s_client -connect 127.0.0.1:%d -servername localhost %s")
          :format(port, args))
      end
      local function serve()
        local sock = assert(srv:accept())
        sock:settimeout(5)
        local conn = sctx2:new{ fd = sock }
        assert(P.await(conn, sock, "handshake"))
        local got = P.read_all(conn, sock)
        sock:close()
        return conn, got
      end
      local wait = client("-sess_out " .. sess)
      serve()
      wait()
      wait = client("-sess_in " .. sess .. " -early_data " .. ed)
      local conn, got = serve()
      local text = wait()
      srv:close()
      os.remove(sess); os.remove(ed)
      assert.equal("accepted", conn:early_data())
      assert.is_true(conn:session_reused())
      assert.equal(data, got)
      assert.matches("Early data was accepted", text, 1, true)
    end)
  end)
end)
