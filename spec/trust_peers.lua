-- Helpers for the certificate/trust specs (10-17): real peers over TCP on
-- 127.0.0.1 (openssl s_server / s_client), always bounded and killed.
local socket = require "socket"
local H = require "helpers"

local P = {}

function P.have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- step a method of an fd-mode connection until it is done (10 s at most)
function P.await(conn, sock, method, ...)
  local deadline = socket.gettime() + 10
  while socket.gettime() < deadline do
    local res, err, code = conn[method](conn, ...)
    if res then return res end
    if err == "wantread" then socket.select({ sock }, nil, 0.5)
    elseif err == "wantwrite" then socket.select(nil, { sock }, 0.5)
    else return nil, err, code end
  end
  return nil, "timeout"
end

-- our client over TCP: conn, sock (handshake not done)
function P.connect(port, cctx, name)
  local sock = socket.tcp()
  sock:settimeout(5)
  assert(sock:connect("127.0.0.1", port))
  return cctx:new { fd = sock, server_name = name or "localhost" }, sock
end

local started = {}
function P.stop_all()
  for _, pid in ipairs(started) do H.kill(pid) end
  started = {}
end

-- start a server command (fmt gets the port first); returns the port
function P.start(fmt, ...)
  local port = H.free_port()
  started[#started + 1] = H.spawn("exec timeout 60 " .. fmt:format(port, ...))
  assert(H.wait_port(port, 10), "server did not start: " .. fmt)
  return port
end

-- run a client command in the background with its output in a file; returns
-- a function that waits for it (bounded) and returns the output
function P.run_client(cmd)
  local out = os.tmpname()
  local pid = H.spawn("exec timeout 20 sh -c '" .. cmd:gsub("'", "'\\''") .. " > " .. out .. " 2>&1'")
  started[#started + 1] = pid
  return function()
    os.execute("for i in $(seq 1 100); do kill -0 " .. pid .. " 2>/dev/null || break; sleep 0.1; done")
    local f = io.open(out, "rb")
    local s = f and f:read("*a") or ""
    if f then f:close() end
    os.remove(out)
    return s
  end
end

-- our server: listen on a free port; returns the server socket and the port
function P.listen()
  local srv = assert(socket.bind("127.0.0.1", 0))
  srv:settimeout(10)
  local _, port = srv:getsockname()
  return srv, tonumber(port)
end

-- accept one client and run our server handshake: conn, sock, ok, err
function P.serve_one(srv, sctx)
  local sock = assert(srv:accept())
  sock:settimeout(5)
  local conn = sctx:new { fd = sock }
  local ok, err = P.await(conn, sock, "handshake")
  return conn, sock, ok, err
end

return P
