-- A TLS echo server on luv (libuv): wolfSSL in memory mode, so libuv does all
-- the I/O and one process serves many connections at once.
--
--   lua5.4 examples/luv-server.lua [port [certificate key]]
--
-- Each line a client sends comes back as "pong <line>". Try it with
--   openssl s_client -connect 127.0.0.1:8443 -CAfile spec/fixtures/certs/ca.pem
--
-- A client that misbehaves costs one line on stderr and its own connection:
-- garbage fails its handshake, a handshake not finished within
-- HANDSHAKE_TIMEOUT seconds (environment, default 10) is dropped, and a close
-- without close_notify is reported as truncated.
local uv = require "luv"
local wolfssl = require "wolfssl"

local port = tonumber(arg[1]) or 8443
local ctx = assert(wolfssl.context{
  mode = "server",
  certificate = arg[2] or "spec/fixtures/certs/server.pem",
  key = arg[3] or "spec/fixtures/certs/server.key",
})

local HANDSHAKE_TIMEOUT = tonumber(os.getenv("HANDSHAKE_TIMEOUT")) or 10
local active, served = 0, 0

local function log(peer, fmt, ...) io.stderr:write(peer, ": ", fmt:format(...), "\n") end

local function serve(client)
  local conn = ctx:new()       -- memory mode: no fd, we feed and drain
  local pending = ""           -- partial line
  local handshaken, finished = false, false
  local addr = client:getpeername()
  local peer = addr and (addr.ip .. ":" .. addr.port) or "client"
  local deadline = uv.new_timer() -- the handshake's

  local function flush()
    local out = conn:drain()
    if #out > 0 then client:write(out) end
  end

  local function finish()
    if finished then return end
    finished = true
    active = active - 1
    deadline:close()
    flush()
    conn:close()
    client:read_stop()
    client:shutdown(function() client:close() end)
  end

  local function step()
    if not handshaken then
      local ok, err = conn:handshake()
      flush()
      if not ok then
        if err ~= "wantread" and err ~= "wantwrite" then
          log(peer, "handshake failed: %s", tostring(err))
          finish()
        end
        return
      end
      handshaken = true
      deadline:stop()
      served = served + 1
    end
    while true do
      local data, err = conn:read()
      if data then
        pending = pending .. data
        for line in pending:gmatch("([^\n]*)\n") do conn:write("pong " .. line .. "\n") end
        pending = pending:match("[^\n]*$")
      elseif err == "wantread" then
        break
      else -- "closed" (close_notify) or an error: say goodbye
        if err == "closed" then
          conn:shutdown()
        else
          log(peer, "connection ended: %s", err == "truncated"
            and "closed without close_notify (truncated)" or tostring(err))
        end
        finish()
        return
      end
    end
    flush()
  end

  deadline:start(HANDSHAKE_TIMEOUT * 1000, 0, function()
    log(peer, "handshake not finished after %g s: dropped", HANDSHAKE_TIMEOUT)
    finish()
  end)

  client:read_start(function(err, data)
    if finished then return end
    if err then -- reset
      log(peer, "connection ended: %s", err)
      finish()
      return
    end
    if not data then -- EOF: as the TLS layer sees it
      if not handshaken then
        log(peer, "closed the connection during the handshake")
        finish()
      else
        conn:feed_eof()
        step()
      end
      return
    end
    conn:feed(data)
    step()
  end)
end

local server = uv.new_tcp()
assert(server:bind("127.0.0.1", port))
assert(server:listen(256, function(err)
  if err then return end
  local client = uv.new_tcp()
  server:accept(client)
  active = active + 1
  serve(client)
end))

-- SIGTERM / SIGINT: stop cleanly
for _, sig in ipairs({ "sigterm", "sigint" }) do
  local s = uv.new_signal()
  s:start(sig, function()
    io.stderr:write(("served %d connections\n"):format(served))
    uv.stop()
  end)
  s:unref()
end

print(("listening on 127.0.0.1:%d"):format(port))
io.stdout:flush()
uv.run()
