-- A TLS echo server with plain coroutines over non-blocking LuaSocket, the
-- LuaSec scheduling style, with wolfssl.socket. One process, one thread, many
-- connections at once. The readiness loop is libuv's poll (luv): select()
-- cannot watch a descriptor above 1023, and a busy server gets there.
--
--   lua5.4 examples/coroutine-server.lua [port [certificate key]]
--   (HANDSHAKE_TIMEOUT=seconds, default 10: a client that has not finished its
--   handshake by then is dropped, so slow or stalled clients cannot pile up)
--
-- Each line a client sends comes back as "pong <line>"; the line "count"
-- answers "count <connections open now>". Many connections need many
-- descriptors: raise the limit first (ulimit -n 10000).
local socket = require "socket"
local uv = require "luv"
local ssl = require "wolfssl.socket"

local port = tonumber(arg[1]) or 8443
local handshake_timeout = tonumber(os.getenv("HANDSHAKE_TIMEOUT")) or 10
local ctx = assert(ssl.newcontext{
  mode = "server", protocol = "any",
  certificate = arg[2] or "spec/fixtures/certs/server.pem",
  key = arg[3] or "spec/fixtures/certs/server.key",
})

local server = assert(socket.bind("127.0.0.1", port, 1024))
server:settimeout(0)

local polls = {} -- socket -> its libuv poll handle
local open = 0

local function resume(co, ...)
  local ok, err = coroutine.resume(co, ...)
  if not ok then io.stderr:write(tostring(err), "\n") end
end

-- Park the running coroutine until sock is ready for what err asks for.
-- With `seconds`: false if that time passes first (the socket is not ready).
local function wait(sock, err, seconds)
  local co = coroutine.running()
  local p = polls[sock]
  if not p then
    p = uv.new_poll(sock:getfd())
    polls[sock] = p
  end
  local timer
  if seconds then
    timer = uv.new_timer()
    timer:start(math.max(0, math.floor(seconds * 1000)), 0, function()
      p:stop()
      resume(co, false)
    end)
  end
  p:start(err == "wantwrite" and "w" or "r", function()
    p:stop()
    resume(co, true)
  end)
  local ready = coroutine.yield()
  if timer then timer:stop(); timer:close() end
  return ready
end

-- Close a socket, its poll handle first (libuv must let go of the fd).
local function close(sock)
  local p = polls[sock]
  if p then
    polls[sock] = nil
    p:close()
  end
  sock:close()
end

local function handle(tcp)
  local s = assert(ssl.wrap(tcp, ctx))
  s:settimeout(0)
  open = open + 1
  -- the handshake has a deadline: garbage or a reset fails it at once, a
  -- client that stalls is dropped when the time is up
  local deadline = uv.now() + handshake_timeout * 1000
  while true do
    local ok, err = s:dohandshake()
    if ok then break end
    if err == "wantread" or err == "wantwrite" then
      if not wait(s, err, (deadline - uv.now()) / 1000) then err = "timed out" end
    end
    if err ~= "wantread" and err ~= "wantwrite" then
      io.stderr:write("handshake failed: ", tostring(err), "\n")
      open = open - 1
      return close(s)
    end
  end
  local acc = ""
  while true do
    local line, err, partial = s:receive("*l", acc)
    if line then
      acc = ""
      local reply = line == "count" and ("count " .. open) or ("pong " .. line)
      local data, i = reply .. "\n", 1
      while i <= #data do
        local last, serr, slast = s:send(data, i)
        if last then i = last + 1
        elseif serr == "wantread" or serr == "wantwrite" then i = slast + 1; wait(s, serr)
        else break end
      end
    elseif err == "wantread" or err == "wantwrite" then
      acc = partial
      wait(s, err)
    else
      break -- "closed" or an error
    end
  end
  open = open - 1
  close(s)
end

-- Accept everything that is waiting. Out of descriptors (EMFILE), pause
-- accepting a moment instead of spinning on a listener that stays readable.
local listener = uv.new_poll(server:getfd())
local pause = uv.new_timer()
local function on_listener()
  while true do
    local tcp, err = server:accept()
    if not tcp then
      if err ~= "timeout" then
        io.stderr:write("accept: ", tostring(err), "\n")
        listener:stop()
        pause:start(100, 0, function() listener:start("r", on_listener) end)
      end
      return
    end
    resume(coroutine.create(handle), tcp)
  end
end
listener:start("r", on_listener)

print(("listening on 127.0.0.1:%d"):format(port))
io.stdout:flush()
uv.run()
