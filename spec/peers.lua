-- Helpers for the specs that talk to real peers over TCP on 127.0.0.1
-- (openssl s_server / s_client, gnutls-serv, curl, our examples): always
-- bounded in time, and every process started here is killed by stop_all.
local socket = require "socket"
local H = require "helpers"

local P = {}

function P.have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- output of a shell command, stderr included (commands bound themselves with `timeout`)
function P.capture(cmd)
  local p = io.popen("exec 2>&1; " .. cmd)
  local out = p:read("*a")
  p:close()
  return out
end

-- step a method of an fd-mode connection until it is done or `seconds` pass,
-- waiting in select() for `poll` seconds at most between steps
local function step(conn, sock, seconds, poll, method, ...)
  local deadline = socket.gettime() + seconds
  while socket.gettime() < deadline do
    local res, err, code = conn[method](conn, ...)
    if res then return res end
    if err == "wantread" then socket.select({ sock }, nil, poll)
    elseif err == "wantwrite" then socket.select(nil, { sock }, poll)
    else return nil, err, code end
  end
  return nil, "timeout"
end

-- step a method of an fd-mode connection until it is done (10 s at most)
function P.await(conn, sock, method, ...)
  return step(conn, sock, 10, 0.5, method, ...)
end

-- the handshake of an fd-mode connection, bounded (5 s unless told)
function P.handshake(conn, sock, seconds)
  return step(conn, sock, seconds or 5, 0.2, "handshake")
end

-- everything the peer sends until it closes: data, and why reading stopped
function P.read_all(conn, sock)
  local parts = {}
  while true do
    local chunk, err = P.await(conn, sock, "read")
    if not chunk then return table.concat(parts), err end
    parts[#parts + 1] = chunk
  end
end

-- our client over TCP: conn, sock (handshake not done)
function P.connect(port, cctx, name)
  local sock = socket.tcp()
  sock:settimeout(5)
  assert(sock:connect("127.0.0.1", port))
  return cctx:new { fd = sock, server_name = name or "localhost" }, sock
end

-- processes started by the running test, killed by stop_all (after_each)
local started = {}
function P.stop_all()
  for _, pid in ipairs(started) do H.kill(pid) end
  started = {}
end

-- run a shell command in the background, killed by stop_all; returns its pid
function P.spawn(cmd)
  local pid = H.spawn(cmd)
  started[#started + 1] = pid
  return pid
end

-- start a server command (fmt gets the port first); returns the port
function P.start(fmt, ...)
  local port = H.free_port()
  P.spawn("exec timeout 60 env -u LD_PRELOAD " .. fmt:format(port, ...)) -- no ASan preload in other programs
  assert(H.wait_port(port, 10), "server did not start: " .. fmt)
  return port
end

-- wait (bounded) for a process to exit; kill it if it does not
function P.wait_exit(pid, seconds)
  local deadline = socket.gettime() + (seconds or 5)
  while socket.gettime() < deadline do
    if not H.alive(pid) then return true end
    socket.sleep(0.02)
  end
  H.kill(pid)
  return false
end

-- run a client command in the background with its output in a file; returns
-- a function that waits for it (bounded) and returns the output
function P.run_client(cmd)
  local out = os.tmpname()
  local pid = P.spawn("exec timeout 20 sh -c '" .. cmd:gsub("'", "'\\''") .. " > " .. out .. " 2>&1'")
  return function()
    P.wait_exit(pid, 10)
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

-- OpenSSL 3.5 (ML-KEM, X25519MLKEM768), built for the suite by the test setup
-- (make test-one: build-aux/build-openssl-peer.sh into build/peers/openssl-3.5).
-- Returns the path of its `openssl`, or nil and why not.
function P.openssl35()
  local path = os.getenv("WOLFSSL_TEST_OPENSSL35") or (H.ROOT .. "/build/peers/openssl-3.5/openssl")
  local f = io.open(path)
  if not f then
    return nil, path .. " is missing: make peers (build-aux/build-openssl-peer.sh) did not build it"
  end
  f:close()
  return path
end

-- accept one `openssl s_client` (args appended; `openssl` names another
-- binary, e.g. P.openssl35()) on our fd-mode server.
-- Returns handshake ok, err, the server conn, and s_client's output.
function P.serve_s_client(sctx, args, openssl)
  local srv = assert(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local out = os.tmpname()
  local pid = H.spawn(("sh -c 'timeout 10 %s s_client -connect 127.0.0.1:%d %s </dev/null >%s 2>&1'")
    :format(openssl or "openssl", port, args, out))
  srv:settimeout(5)
  local cl = srv:accept()
  srv:close()
  local ok, err, conn
  if cl then
    conn = sctx:new { fd = cl:getfd() }
    ok, err = P.handshake(conn, cl)
    if ok then conn:write("hello from lua\n") end
  else
    err = "s_client did not connect"
  end
  -- s_client at the end of its input waits up to 0.5 s for our side to
  -- close (apps/s_client.c, before it closes the socket): end our sending
  -- half so it sees the end at once
  if cl then cl:shutdown("send") end
  P.wait_exit(pid, 5)
  if cl then cl:close() end
  local f = io.open(out, "rb")
  local text = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(out)
  return ok, err, conn, text
end

-- n bytes of numbered 1 KiB lines (tag: a letter that tells streams apart)
function P.payload(n, tag)
  local fill = (tag .. "bcdefghijklmnopqrstuvwxyz0123456789"):rep(29):sub(1, 1015)
  local lines = {}
  for i = 1, math.ceil(n / 1024) do lines[i] = ("%08d"):format(i) .. fill .. "\n" end
  return table.concat(lines):sub(1, n)
end

-- both ways at once over an fd-mode connection: write all of `out` while
-- reading `want` bytes (bounded in time). Returns what was read, or nil, err.
function P.pump(conn, sock, out, want, seconds)
  local sent, parts, got = 0, {}, 0
  local deadline = socket.gettime() + (seconds or 60)
  while sent < #out or got < want do
    local moved, r, w = false, {}, {}
    local function wait_for(err)
      if err == "wantread" then r[1] = sock elseif err == "wantwrite" then w[1] = sock else return false end
      return true
    end
    if sent < #out then
      local n, err = conn:write(out, sent + 1, math.min(#out, sent + 65536))
      if n then sent, moved = sent + n, true
      elseif not wait_for(err) then return nil, "write: " .. tostring(err) end
    end
    if got < want then
      local d, err = conn:read(math.min(65536, want - got))
      if d then parts[#parts + 1], got, moved = d, got + #d, true
      elseif not wait_for(err) then return nil, ("read: %s after %d bytes"):format(tostring(err), got) end
    end
    if not moved then socket.select(r, w, 0.5) end
    if socket.gettime() > deadline then return nil, ("timeout: sent %d, read %d"):format(sent, got) end
  end
  return table.concat(parts)
end

-- the clean close: shutdown until true, then how the peer ended its side
-- ("closed": its close_notify came). Returns shutdown's result, read()'s reason.
-- Our TCP sending half ends too, as a server's close would end it: openssl
-- s_client otherwise waits half a second for it before it exits.
function P.clean_close(conn, sock)
  local ok, err = P.await(conn, sock, "shutdown")
  if not ok then return nil, err end
  local _, why = conn:read()
  sock:shutdown("send")
  return ok, why
end

-- run a peer client command in the background, stdin from `input` (a string),
-- its stdout and stderr kept; returns a function that waits for it (bounded)
-- and returns its stdout, exit status and stderr
function P.run_peer(cmd, input, seconds)
  local base = os.tmpname()
  local f = assert(io.open(base .. ".in", "wb"))
  f:write(input)
  f:close()
  local pid = P.spawn(("exec timeout %d env -u LD_PRELOAD sh -c '%s <%s.in >%s.out 2>%s.err; echo $? >%s.rc'")
    :format(seconds or 60, cmd:gsub("'", "'\\''"), base, base, base, base))
  return function()
    P.wait_exit(pid, seconds or 60)
    local function slurp(ext)
      local h = io.open(base .. ext, "rb")
      local d = h and h:read("*a") or ""
      if h then h:close() end
      os.remove(base .. ext)
      return d
    end
    local out, rc, err = slurp(".out"), slurp(".rc"), slurp(".err")
    slurp(".in")
    os.remove(base)
    return out, tonumber(rc), err
  end
end

return P
