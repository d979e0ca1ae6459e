-- A TLS echo server on luv (libuv): wolfSSL in memory mode, so libuv does all
-- the I/O and one process serves many connections at once.
--
--   lua5.4 examples/luv-server.lua [port [certificate key]]
--
-- Each line a client sends comes back as "pong <line>". Try it with
--   openssl s_client -connect 127.0.0.1:8443 -CAfile spec/fixtures/certs/ca.pem
local uv = require "luv"
local wolfssl = require "wolfssl"

local port = tonumber(arg[1]) or 8443
local ctx = assert(wolfssl.context{
  mode = "server",
  certificate = arg[2] or "spec/fixtures/certs/server.pem",
  key = arg[3] or "spec/fixtures/certs/server.key",
})

local active, served = 0, 0

local function serve(client)
  local conn = ctx:new()       -- memory mode: no fd, we feed and drain
  local pending = ""           -- partial line
  local handshaken, finished = false, false

  local function flush()
    local out = conn:drain()
    if #out > 0 then client:write(out) end
  end

  local function finish()
    if finished then return end
    finished = true
    active = active - 1
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
          io.stderr:write("handshake failed: ", tostring(err), "\n")
          finish()
        end
        return
      end
      handshaken = true
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
        if err == "closed" then conn:shutdown() end
        finish()
        return
      end
    end
    flush()
  end

  client:read_start(function(err, data)
    if finished then return end
    if err or not data then -- EOF or reset
      finish()
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
