-- The Lua server of the server-side benchmark (bench/server.lua): lua-wolfssl
-- in fd mode over LuaSocket, the documented server pattern (README,
-- examples/https-server.lua): accept, ctx:new{fd=}, handshake, read the
-- request, write the response, shutdown (our close_notify, then the
-- client's), close.
--   lua bench/lua_server.lua CERTDIR ecdsa|rsa PORTFILE [idle|idle-fd]
-- Writes its port to PORTFILE; serves until killed. With "idle": handshake and
-- keep every connection open (for the RSS of idle connections), with its
-- LuaSocket object as the documented pattern does; "idle-fd": the same, but
-- the connection keeps only the descriptor (a LuaSocket tcp object carries an
-- 8 KiB buffer of its own: this shows what lua-wolfssl itself costs).
local socket = require "socket"
local wolfssl = require "wolfssl"

local certdir, kind, portfile, idle = ...
local rsa = kind == "rsa"
local ctx = assert(wolfssl.context {
  mode = "server",
  certificate = certdir .. (rsa and "/rsa-server.pem" or "/server.pem"),
  key = certdir .. (rsa and "/rsa-server.key" or "/server.key"),
  groups = { "X25519", "P-256" }, -- as the C server and nginx (ssl_ecdh_curve)
})
local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"

local listener = assert(socket.bind("127.0.0.1", 0, 1024))
local _, port = listener:getsockname()
local f = assert(io.open(portfile .. ".tmp", "w"))
f:write(port, "\n")
f:close()
os.rename(portfile .. ".tmp", portfile)

-- call conn:method(...) until it stops asking for I/O
local function await(conn, sock, method, ...)
  while true do
    local res, err = conn[method](conn, ...)
    if res then return res end
    if err == "wantread" then socket.select({ sock }, nil, 5)
    elseif err == "wantwrite" then socket.select(nil, { sock }, 5)
    else return nil, err end
  end
end

local function serve(sock)
  local conn = ctx:new { fd = sock }
  if not await(conn, sock, "handshake") then conn:close(); return end
  local request = ""
  while not request:find("\r\n\r\n", 1, true) do
    local chunk = await(conn, sock, "read")
    if not chunk then conn:close(); return end
    request = request .. chunk
  end
  if await(conn, sock, "write", RESPONSE) then await(conn, sock, "shutdown") end
  conn:close()
end

if idle == "idle" or idle == "idle-fd" then
  -- LuaSocket's select() cannot wait on a descriptor >= FD_SETSIZE (1024):
  -- from there on, retry the handshake without waiting (this mode measures
  -- memory, not CPU)
  local function handshake(conn, sock)
    if sock:getfd() < 1000 then return await(conn, sock, "handshake") end
    while true do
      local ok, err = conn:handshake()
      if ok or (err ~= "wantread" and err ~= "wantwrite") then return ok, err end
    end
  end
  local keep = {}
  while true do
    local sock = listener:accept()
    if sock then
      sock:setoption("tcp-nodelay", true)
      -- idle-fd: the descriptor as an integer, so that the connection does
      -- not keep the LuaSocket object (ctx:new{fd = sock} does, for its
      -- collector would close the descriptor)
      local conn = ctx:new { fd = idle == "idle-fd" and sock:getfd() or sock }
      if not handshake(conn, sock) then conn:close(); sock:close()
      elseif idle == "idle" then keep[#keep + 1] = { conn, sock }
      else -- the descriptor stays open for conn when the socket object goes
        sock:setfd(-1)
        keep[#keep + 1] = conn
      end
    end
  end
end

while true do
  local sock = listener:accept()
  if sock then
    sock:setoption("tcp-nodelay", true)
    serve(sock)
    sock:close()
  end
end
