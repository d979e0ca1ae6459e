-- A TLS echo server with plain coroutines over non-blocking LuaSocket and
-- socket.select: the LuaSec scheduling style, with wolfssl.socket. One process,
-- one thread, many connections at once.
--
--   lua5.4 examples/coroutine-server.lua [port [certificate key]]
--
-- Each line a client sends comes back as "pong <line>"; the line "count"
-- answers "count <connections open now>".
local socket = require "socket"
local ssl = require "wolfssl.socket"

local port = tonumber(arg[1]) or 8443
local ctx = assert(ssl.newcontext{
  mode = "server", protocol = "any",
  certificate = arg[2] or "spec/fixtures/certs/server.pem",
  key = arg[3] or "spec/fixtures/certs/server.key",
})

local server = assert(socket.bind("127.0.0.1", port, 1024))
server:settimeout(0)

local want_read, want_write = {}, {} -- socket -> coroutine waiting on it
local open = 0

-- Park the running coroutine until sock is ready for what err asks for.
local function wait(sock, err)
  if err == "wantwrite" then want_write[sock] = coroutine.running()
  else want_read[sock] = coroutine.running() end
  coroutine.yield()
end

local function handle(tcp)
  local s = assert(ssl.wrap(tcp, ctx))
  s:settimeout(0)
  open = open + 1
  while true do
    local ok, err = s:dohandshake()
    if ok then break end
    if err ~= "wantread" and err ~= "wantwrite" then
      io.stderr:write("handshake failed: ", tostring(err), "\n")
      open = open - 1
      return s:close()
    end
    wait(s, err)
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
  s:close()
end

local function resume(co, ...)
  local ok, err = coroutine.resume(co, ...)
  if not ok then io.stderr:write(tostring(err), "\n") end
end

local function spawn(f, ...) resume(coroutine.create(f), ...) end

local function keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  return list
end

print(("listening on 127.0.0.1:%d"):format(port))
io.stdout:flush()
while true do
  local rl = keys(want_read)
  rl[#rl + 1] = server
  local r, w = socket.select(rl, keys(want_write), 1)
  for _, sock in ipairs(r) do
    if sock == server then
      while true do -- accept everything that is waiting
        local tcp = server:accept()
        if not tcp then break end
        spawn(handle, tcp)
      end
    else
      local co = want_read[sock]
      want_read[sock] = nil
      if co then resume(co) end
    end
  end
  for _, sock in ipairs(w) do
    local co = want_write[sock]
    want_write[sock] = nil
    if co then resume(co) end
  end
end
