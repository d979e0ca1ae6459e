-- Shared test helpers: fixtures, contexts, and stepping a client and a server
-- against each other in memory mode (one process, no ports).
local wolfssl = require "wolfssl"

local H = {}

H.ROOT = os.getenv("PWD") or "."
H.CERTS = "spec/fixtures/certs/"

--- Path of a fixture file.
function H.cert(name) return H.CERTS .. name end

--- Contents of a fixture file.
function H.read(name) return H.fixture("certs/" .. name) end

--- Contents of any file under spec/fixtures/ ("hello/openssl-tls13.bin").
function H.fixture(path)
  local f = assert(io.open("spec/fixtures/" .. path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

--- Whether the list t (may be nil) holds v.
function H.contains(t, v)
  for _, x in ipairs(t or {}) do if x == v then return true end end
  return false
end

--- A server context with the usual ECDSA certificate, options merged in.
function H.server_ctx(o)
  local t = { mode = "server", certificate = H.cert("server.pem"), key = H.cert("server.key") }
  for k, v in pairs(o or {}) do t[k] = v end
  return assert(wolfssl.context(t))
end

--- A client context trusting the test CA, options merged in.
function H.client_ctx(o)
  local t = { mode = "client", cafile = H.cert("ca.pem") }
  for k, v in pairs(o or {}) do t[k] = v end
  return assert(wolfssl.context(t))
end

--- Move bytes between two memory-mode connections until both handshakes end.
-- Returns true, or nil, side ("client"|"server"), message, code.
function H.handshake(c, s, max_rounds)
  local cdone, sdone
  for _ = 1, max_rounds or 50 do
    if not cdone then
      local ok, err, code = c:handshake()
      if ok then cdone = true elseif err ~= "wantread" and err ~= "wantwrite" then
        s:feed(c:drain()) -- let the peer see our alert
        if not sdone then s:handshake() end
        return nil, "client", err, code
      end
    end
    local out = c:drain()
    if #out > 0 then s:feed(out) end
    if not sdone then
      local ok, err, code = s:handshake()
      if ok then sdone = true elseif err ~= "wantread" and err ~= "wantwrite" then
        c:feed(s:drain())
        if not cdone then c:handshake() end
        return nil, "server", err, code
      end
    end
    out = s:drain()
    if #out > 0 then c:feed(out) end
    if cdone and sdone then return true end
  end
  return nil, "both", "handshake did not finish"
end

--- A client and a server connection from the given contexts, handshake done.
function H.pair(cctx, sctx, copts, sopts)
  local c = cctx:new(copts or { server_name = "localhost" })
  local s = sctx:new(sopts or {})
  local ok, side, err, code = H.handshake(c, s)
  return c, s, ok, side, err, code
end

--- Send data from one memory-mode connection to the other and read it back.
function H.transfer(from, to, data)
  assert(from:write(data))
  to:feed(from:drain())
  local got = {}
  while true do
    local chunk = to:read()
    if not chunk then break end
    got[#got + 1] = chunk
  end
  return table.concat(got)
end

--- A free TCP port on 127.0.0.1, never one this process was given before:
-- a server started on the last one may not have bound it yet, and the system
-- can hand the same number out again (two responders then raced for one port).
local given = {}
function H.free_port()
  local socket = require "socket"
  local port
  repeat
    local s = assert(socket.bind("127.0.0.1", 0))
    port = tonumber((select(2, s:getsockname())))
    s:close()
  until not given[port]
  given[port] = true
  return port
end

--- Run a shell command in the background; returns its pid.
function H.spawn(cmd)
  local p = io.popen(cmd .. " >/dev/null 2>&1 & echo $!")
  local pid = p:read("*l")
  p:close()
  return tonumber(pid)
end

--- Is the process still running? Processes started by H.spawn are children
-- of PID 1 once their shell exits; an exited one stays a zombie until PID 1
-- reaps it, which in a container can take seconds, and `kill -0` still
-- succeeds on a zombie. So read its state from /proc where there is one.
function H.alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "rb")
  if f then
    local state = f:read("*a"):match(".*%) (%a)") -- (the name may hold ") ")
    f:close()
    return state ~= nil and state ~= "Z" and state ~= "X"
  end
  if io.open("/proc/self/stat", "rb") then return false end -- gone
  local ok = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  return ok == true or ok == 0 -- 5.1/LuaJIT return 0 for success
end

function H.kill(pid)
  if pid then os.execute("kill " .. pid .. " 2>/dev/null; wait " .. pid .. " 2>/dev/null") end
end

--- Wait until something listens on the port (up to `seconds`).
function H.wait_port(port, seconds)
  local socket = require "socket"
  local deadline = socket.gettime() + (seconds or 5)
  while socket.gettime() < deadline do
    local s = socket.tcp()
    s:settimeout(0.2)
    if s:connect("127.0.0.1", port) then s:close() return true end
    s:close()
    socket.sleep(0.05)
  end
  return false
end

function H.lua() return os.getenv("WOLFSSL_TEST_LUA") or "lua5.4" end

-- openssl s_server on a free port with the fixtures' server certificate
-- (`extra`: more options, "-www" by default). Returns port, pid (H.kill it).
function H.openssl_server(extra)
  local port = H.free_port()
  local pid = H.spawn(("exec openssl s_server -accept 127.0.0.1:%d -cert %s -key %s %s"):format(
    port, H.cert("server.pem"), H.cert("server.key"), extra or "-www"))
  assert(H.wait_port(port, 5), "openssl s_server did not start")
  return port, pid
end

-- A temporary file holding `text` (a script for a child process): its path.
function H.write_tmp(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

return H
