-- Event loops: examples/coroutine-server.lua (coroutines over non-blocking
-- LuaSocket, libuv's poll through luv, wolfssl.socket) holds 200 TLS clients
-- at once, and keeps serving past 1024 descriptors. The 200 clients are
-- coroutines in this process, scheduled with socket.select.
local socket = require "socket"
local ssl = require "wolfssl.socket"
local H = require "helpers"

local N = 200

describe("coroutines over non-blocking LuaSocket", function()
  local port, pid
  setup(function()
    port = H.free_port()
    pid = H.spawn(("exec %s examples/coroutine-server.lua %d"):format(H.lua(), port))
    assert(H.wait_port(port, 10), "examples/coroutine-server.lua did not start")
  end)
  teardown(function() H.kill(pid) end)

  it(("serves %d concurrent clients in one process, all verified, none lost"):format(N), function()
    local ctx = assert(ssl.newcontext{ mode = "client", protocol = "any", verify = "peer", cafile = H.cert("ca.pem") })
    local want_read, want_write = {}, {}
    local answered, verified, closed, errors, counts = 0, 0, 0, {}, {}
    local barrier = 0 -- clients that got their answer and wait for the others

    local function wait(sock, err)
      if err == "wantwrite" then want_write[sock] = coroutine.running()
      else want_read[sock] = coroutine.running() end
      coroutine.yield()
    end

    local function roundtrip(s, line)
      local data, i = line .. "\n", 1
      while i <= #data do
        local last, err, slast = s:send(data, i)
        if last then i = last + 1
        elseif err == "wantread" or err == "wantwrite" then i = slast + 1; wait(s, err)
        else return nil, "send: " .. tostring(err) end
      end
      local acc = ""
      while true do
        local got, err, partial = s:receive("*l", acc)
        if got then return got end
        if err ~= "wantread" and err ~= "wantwrite" then return nil, "receive: " .. tostring(err) end
        acc = partial
        wait(s, err)
      end
    end

    local function client(i)
      local tcp = socket.tcp()
      tcp:settimeout(0)
      local ok, err = tcp:connect("127.0.0.1", port)
      if not ok and err == "timeout" then
        want_write[tcp] = coroutine.running()
        coroutine.yield()
        ok, err = tcp:connect("127.0.0.1", port)
        if not ok and err == "already connected" then ok = true end
      end
      if not ok then errors[#errors + 1] = ("client %d connect: %s"):format(i, err) return end
      local s = assert(ssl.wrap(tcp, ctx))
      s:sni("localhost")
      s:settimeout(0)
      while true do
        local hs, herr = s:dohandshake()
        if hs then break end
        if herr ~= "wantread" and herr ~= "wantwrite" then
          errors[#errors + 1] = ("client %d handshake: %s"):format(i, herr)
          return s:close()
        end
        wait(s, herr)
      end
      if s:getpeerverification() then verified = verified + 1 end
      local answer, rerr = roundtrip(s, "ping " .. i)
      if answer ~= "pong ping " .. i then
        errors[#errors + 1] = ("client %d: %s"):format(i, tostring(answer or rerr))
        return s:close()
      end
      answered = answered + 1
      -- hold the connection until every client got here: then all are open together
      barrier = barrier + 1
      while barrier < N and #errors == 0 do
        want_read["barrier" .. i] = coroutine.running()
        coroutine.yield()
      end
      local count = roundtrip(s, "count")
      counts[#counts + 1] = tonumber(count and count:match("^count (%d+)$"))
      s:close()
      closed = closed + 1
    end

    local function resume(co)
      local ok, err = coroutine.resume(co)
      if not ok then errors[#errors + 1] = tostring(err) end
    end

    for i = 1, N do resume(coroutine.create(function() client(i) end)) end
    local deadline = socket.gettime() + 120
    while (next(want_read) or next(want_write)) and socket.gettime() < deadline do
      local rl, wl, parked = {}, {}, {}
      for k in pairs(want_read) do
        if type(k) == "string" then parked[#parked + 1] = k else rl[#rl + 1] = k end
      end
      for k in pairs(want_write) do wl[#wl + 1] = k end
      for _, k in ipairs(parked) do -- barrier waiters: wake them every round
        local co = want_read[k]
        want_read[k] = nil
        resume(co)
      end
      if #rl + #wl > 0 then
        local r, w = socket.select(rl, wl, 1)
        for _, k in ipairs(r) do local co = want_read[k]; want_read[k] = nil; if co then resume(co) end end
        for _, k in ipairs(w) do local co = want_write[k]; want_write[k] = nil; if co then resume(co) end end
      end
    end

    assert.same({}, errors)
    assert.equal(N, verified)
    assert.equal(N, answered)
    assert.equal(N, closed)
    -- the server saw every client open at the same time
    table.sort(counts)
    assert.equal(N, counts[#counts])
  end)
end)

-- select() cannot watch a descriptor above 1023: the example must keep
-- serving with more connections open than that. The load runs in a child
-- with a descriptor limit high enough for both ends.
describe("examples/coroutine-server.lua past 1024 descriptors", function()
  local LOAD = 1100
  local port, pid
  local function limited(cmd) -- raise the soft limit where it is lower
    return ("sh -c '[ $(ulimit -n) -ge 4096 ] || ulimit -n 4096; exec %s'"):format(cmd)
  end
  setup(function()
    port = H.free_port()
    pid = H.spawn(limited(("%s examples/coroutine-server.lua %d"):format(H.lua(), port)))
    assert(H.wait_port(port, 10), "examples/coroutine-server.lua did not start")
  end)
  teardown(function() H.kill(pid) end)

  it(("serves a client with %d connections open"):format(LOAD), function()
    local p = io.popen(limited(("timeout 60 %s spec/support/many-clients.lua %d %d"):format(H.lua(), port, LOAD)) .. " 2>&1")
    local out = p:read("*a")
    p:close()
    local count, pong = out:match("^count (%d+)\npong (.-)\n$")
    assert(count, out)
    assert.is_true(tonumber(count) > LOAD, out)
    assert.equal("ping", pong)
    -- and it is still there afterwards
    assert.is_true(H.wait_port(port, 2))
  end)
end)
