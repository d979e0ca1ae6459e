-- A tiny HTTPS responder: LuaSocket + lua-wolfssl in fd mode, one request per
-- connection. Answers every request with a plain-text page describing the TLS
-- connection. Try: curl --cacert spec/fixtures/certs/ca.pem https://localhost:8443/
--   lua5.4 examples/https-server.lua [port] [max_requests]
-- Environment: CERT, KEY (default: the test certificate), MIN_VERSION, MAX_VERSION,
-- TIMEOUT (seconds each step may wait, default 5: a client that stalls is
-- dropped then). A client that fails costs one line on stderr; the next is served.
local socket = require "socket"
local wolfssl = require "wolfssl"
local port, max = tonumber(arg[1]) or 8443, tonumber(arg[2]) or math.huge

local ctx = assert(wolfssl.context {
  mode = "server",
  certificate = os.getenv("CERT") or "spec/fixtures/certs/server.pem",
  key = os.getenv("KEY") or "spec/fixtures/certs/server.key",
  min_version = os.getenv("MIN_VERSION"), max_version = os.getenv("MAX_VERSION"),
  alpn = { "http/1.1" },
})
local listener = assert(socket.bind("127.0.0.1", port))
print("listening on https://127.0.0.1:" .. port .. "/")
io.stdout:flush()

local TIMEOUT = tonumber(os.getenv("TIMEOUT")) or 5

-- call conn:method(...) until it stops asking for I/O (TIMEOUT s at most)
local function await(conn, sock, method, ...)
  local deadline = socket.gettime() + TIMEOUT
  while socket.gettime() < deadline do
    local res, err = conn[method](conn, ...)
    if res then return res end
    if err == "wantread" then socket.select({ sock }, nil, 0.5)
    elseif err == "wantwrite" then socket.select(nil, { sock }, 0.5)
    else return nil, err end
  end
  return nil, "timeout"
end

local function serve(sock)
  local conn = ctx:new { fd = sock }
  local ok, err = await(conn, sock, "handshake")
  if not ok then conn:close(); return nil, "handshake failed: " .. tostring(err) end
  local request = ""
  while not request:find("\r\n\r\n", 1, true) do
    local chunk, rerr = await(conn, sock, "read")
    if not chunk then
      conn:close()
      return nil, "no whole request: " .. (rerr == "truncated"
        and "closed without close_notify (truncated)" or tostring(rerr))
    end
    request = request .. chunk
  end
  local body = table.concat({
    "request: " .. (request:match("^[^\r\n]*") or ""),
    "version: " .. tostring(conn:version()),
    "cipher: " .. tostring(conn:cipher()),
    "alpn: " .. tostring(conn:alpn()),
    "server_name: " .. tostring(conn:server_name()),
  }, "\n") .. "\n"
  -- HSTS and the usual security headers: browsers stay on HTTPS
  local response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .. #body ..
                   "\r\nStrict-Transport-Security: max-age=31536000" ..
                   "\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY" ..
                   "\r\nContent-Security-Policy: default-src 'none'" ..
                   "\r\nConnection: close\r\n\r\n" .. body
  ok, err = await(conn, sock, "write", response)
  -- the clean close: our close_notify, then the client's, and only then the
  -- socket (closed with bytes unread, it would reset and cut the response)
  if ok then await(conn, sock, "shutdown") end
  conn:close()
  return ok, err
end

local served = 0
while served < max do
  local sock = listener:accept()
  if sock then
    local ip, cport = sock:getpeername()
    local ok, err = serve(sock)
    if not ok then io.stderr:write(("%s:%s: %s\n"):format(tostring(ip), tostring(cport), tostring(err))) end
    sock:close()
    served = served + 1
  end
end
