-- Clean closes in the Lua layers: wolfssl.socket's close() waits for the
-- peer's close_notify (so bytes the peer sent and we never read do not reset
-- the connection and cut what it still had to read), wolfssl.socket keeps
-- LuaSec's "closed", wolfssl.https refuses a body cut without close_notify.
local socket = require "socket"
local H = require "helpers"
local P = require "peers"

local CERTS = H.CERTS

-- a one-request HTTPS server in a child process: the body is delimited by the
-- end of the stream; "clean" ends it with close_notify, "cut" just closes
local SERVER = [[
local socket = require "socket"
local wolfssl = require "wolfssl"
local port, mode = tonumber(arg[1]), arg[2]
local ctx = assert(wolfssl.context { mode = "server", certificate = "spec/fixtures/certs/server.pem",
                                     key = "spec/fixtures/certs/server.key" })
local srv = assert(socket.bind("127.0.0.1", port))
local function await(conn, sock, method, ...)
  for _ = 1, 100 do
    local r, err = conn[method](conn, ...)
    if r or (err ~= "wantread" and err ~= "wantwrite") then return r, err end
    socket.select(err == "wantread" and { sock } or nil, err == "wantwrite" and { sock } or nil, 0.2)
  end
end
while true do -- port probes connect and leave
  local sock = assert(srv:accept())
  local conn = ctx:new { fd = sock }
  if await(conn, sock, "handshake") then
    local req = ""
    while not req:find("\r\n\r\n", 1, true) do req = req .. assert(await(conn, sock, "read")) end
    await(conn, sock, "write", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" .. ("x"):rep(100000))
    if mode == "clean" then await(conn, sock, "shutdown") end
    conn:close(); sock:close()
    break
  end
  conn:close(); sock:close()
end
]]

local function start_server(mode)
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(SERVER)
  f:close()
  local port = H.free_port()
  P.spawn(("exec timeout 30 %s %s %d %s"):format(H.lua(), file, port, mode))
  finally(function() os.remove(file) end)
  assert(H.wait_port(port, 10), "server did not start")
  return port
end

describe("clean closes in the Lua layers", function()
  after_each(P.stop_all)

  it("wolfssl.https: a body cut without close_notify fails 'truncated'", function()
    local https = require "wolfssl.https"
    local got = {}
    local ok, err = https.request { url = ("https://localhost:%d/"):format(start_server("cut")),
                                    cafile = CERTS .. "ca.pem", sink = require("ltn12").sink.table(got) }
    assert.is_nil(ok)
    assert.equal("truncated", err)
  end)

  it("wolfssl.https: the whole body when the server closes cleanly", function()
    local https = require "wolfssl.https"
    local saved = https.defaults.cafile
    https.defaults.cafile = CERTS .. "ca.pem"
    finally(function() https.defaults.cafile = saved end)
    local body, code = https.request(("https://localhost:%d/"):format(start_server("clean")))
    assert.equal(200, code)
    assert.equal(100000, #body)
  end)

  it("wolfssl.socket: a stream cut without close_notify still ends in LuaSec's 'closed'", function()
    local ssl = require "wolfssl.socket"
    local port = start_server("cut")
    local tcp = assert(socket.connect("127.0.0.1", port))
    local s = assert(ssl.wrap(tcp, { mode = "client", protocol = "any", cafile = CERTS .. "ca.pem" }))
    s:sni("localhost")
    s:settimeout(10)
    assert(s:dohandshake())
    assert(s:send("GET / HTTP/1.0\r\n\r\n"))
    local all, err = s:receive("*a")
    assert.is_nil(err)
    assert.equal(100000, #all:match("\r\n\r\n(.*)$"))
    assert.same({ nil, "closed", "" }, { s:receive() })
    s:close()
  end)

  it("wolfssl.socket: close() waits for the peer's close_notify, so nothing it sent resets the connection", function()
    if not P.have("openssl") then pending("openssl not installed") return end
    local ssl = require "wolfssl.socket"
    local ctx = assert(ssl.newcontext { mode = "server", protocol = "any",
      certificate = CERTS .. "server.pem", key = CERTS .. "server.key" })
    local srv, port = P.listen()
    -- s_client sends 200 KB we never read, and reads our 1 MiB
    local finish = P.run_peer(("openssl s_client -connect 127.0.0.1:%d -servername localhost -CAfile %s -quiet")
                              :format(port, CERTS .. "ca.pem"), P.payload(200 * 1024, "q"))
    local tcp = assert(srv:accept())
    srv:close()
    local s = assert(ssl.wrap(tcp, ctx))
    s:settimeout(10)
    assert(s:dohandshake())
    local data = P.payload(1024 * 1024, "R")
    assert.equal(#data, s:send(data))
    s:close() -- close_notify, then s_client's; the unread bytes are taken meanwhile
    local out, rc, errtext = finish()
    assert.equal(0, rc, errtext)
    assert.equal(#data, #out)
    assert.is_true(out == data, "the bytes differ")
  end)
end)

-- wolfssl.resty over a stand-in cosocket whose far end is a memory-mode server
-- in this process: `serve(s)` runs the server's next step when the client
-- waits for bytes; `ended` makes receiveany say "closed" once all is read.
local function fake_cosocket(s, serve)
  local sock = { inbox = "", ended = false }
  function sock:send(data) s:feed(data) return #data end
  function sock:receiveany(max)
    if #self.inbox == 0 then
      serve(s)
      self.inbox = s:drain()
    end
    if #self.inbox == 0 then
      if self.ended then return nil, "closed" end
      return nil, "timeout"
    end
    local chunk = self.inbox:sub(1, max)
    self.inbox = self.inbox:sub(#chunk + 1)
    return chunk
  end
  function sock:close() self.closed = true return 1 end
  function sock:settimeout() return 1 end
  return sock
end

describe("wolfssl.resty closes", function()
  local resty = require "wolfssl.resty"

  local function connected(serve)
    local s = H.server_ctx():new()
    local sock = fake_cosocket(s, function(srv) if srv:handshake() then serve(srv) end end)
    local tls = resty.wrap(sock, H.client_ctx(), { server_name = "localhost", session_key = false })
    assert(tls:handshake())
    return tls, sock, s
  end

  it("receive('*a') gives everything up to the server's close_notify", function()
    local tls = connected(function(srv)
      if srv.data.done then return end
      srv.data.done = true
      srv:write("the whole body")
      srv:shutdown()
    end)
    assert.equal("the whole body", tls:receive("*a"))
    tls:close()
  end)

  it("receive('*a') says 'truncated' with the data when the stream ends without close_notify", function()
    local sock
    local tls
    tls, sock = connected(function(srv)
      if srv.data.done then return end
      srv.data.done = true
      srv:write("half a bo")
      sock.ended = true -- then the TCP stream ends
    end)
    assert.same({ nil, "truncated", "half a bo" }, { tls:receive("*a") })
    assert.same({ nil, "truncated", "" }, { tls:receive("*l") })
    tls:close()
  end)

  it("close() sends close_notify and waits for the server's before closing the cosocket", function()
    local seen
    local tls, sock = connected(function(srv)
      local d, err = srv:read()
      if d == nil and err == "closed" then
        seen = true
        assert(srv:shutdown()) -- answers with its own
      end
    end)
    assert.equal(1, tls:close())
    assert.is_true(seen)
    assert.is_true(sock.closed)
    assert.equal("", sock.inbox) -- the server's close_notify was taken before the close
  end)
end)
