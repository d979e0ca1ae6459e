-- Event loops: examples/luv-server.lua (wolfSSL in memory mode on libuv) serves
-- many concurrent TLS clients, which run in this process on luv too.
local H = require "helpers"
local wolfssl = require "wolfssl"

local have_luv, uv = pcall(require, "luv")
local d = have_luv and describe or pending

local N = 100

d("luv (memory mode over libuv)", function()
  local port, pid
  setup(function()
    port = H.free_port()
    pid = H.spawn(("exec %s examples/luv-server.lua %d"):format(H.lua(), port))
    assert(H.wait_port(port, 10), "examples/luv-server.lua did not start")
  end)
  teardown(function() H.kill(pid) end)

  it(("serves %d concurrent clients, all verified, none lost"):format(N), function()
    local cctx = H.client_ctx()
    local ok_count, errors, open = 0, {}, 0
    local max_open = 0

    local function client(i)
      local tcp = uv.new_tcp()
      local conn = cctx:new{ server_name = "localhost" }
      local got, sent, done = "", false, false
      local function finish(err)
        if done then return end
        done = true
        open = open - 1
        if err then errors[#errors + 1] = ("client %d: %s"):format(i, err) end
        conn:close()
        if not tcp:is_closing() then tcp:close() end
      end
      local function flush()
        local out = conn:drain()
        if #out > 0 then tcp:write(out) end
      end
      local function step()
        local ok, err = conn:handshake()
        flush()
        if not ok then
          if err ~= "wantread" and err ~= "wantwrite" then finish("handshake: " .. tostring(err)) end
          return
        end
        if not sent then
          local vok, why = conn:verify_result()
          if not vok then return finish("not verified: " .. tostring(why)) end
          assert(conn:write(("ping %d\n"):format(i)))
          flush()
          sent = true
        end
        while true do
          local data, rerr = conn:read()
          if not data then
            if rerr ~= "wantread" then finish("read: " .. tostring(rerr)) end
            break
          end
          got = got .. data
        end
        if got:find("\n", 1, true) then
          if got == ("pong ping %d\n"):format(i) then ok_count = ok_count + 1
          else return finish("wrong answer: " .. got) end
          conn:shutdown()
          flush()
          finish()
        end
      end
      open = open + 1
      if open > max_open then max_open = open end
      tcp:connect("127.0.0.1", port, function(err)
        if err then return finish("connect: " .. err) end
        tcp:read_start(function(rerr, data)
          if done then return end
          if rerr or not data then return finish("eof before the answer") end
          conn:feed(data)
          step()
        end)
        step() -- sends the ClientHello
      end)
    end

    for i = 1, N do client(i) end
    local timer = uv.new_timer()
    timer:start(60000, 0, function() uv.stop() end)
    local idle = uv.new_check()
    idle:start(function() if open == 0 then uv.stop() end end)
    uv.run()
    timer:close(); idle:close()
    uv.run("nowait")
    assert.same({}, errors)
    assert.equal(N, ok_count)
    assert.equal(N, max_open) -- they were all in flight together
  end)
end)
