-- luarocks: the rockspec lints clean; `luarocks make` into a temporary tree
-- installs the Lua modules, the C module and bin/wolfssl-trace, which then work
-- from that tree alone (no LUA_PATH/LUA_CPATH pointing at the source).
local H = require "helpers"

local ROCKSPEC = "rockspec/lua-wolfssl-scm-1.rockspec"

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, out:gsub("rc=%d+%s*$", "")
end

local lua = H.lua()
local version = lua:match("^lua(5%.%d)$")
local have = version and run("command -v luarocks") == 0
local d = have and describe or pending

d("luarocks (" .. lua .. ")", function()
  local tree
  setup(function()
    tree = os.tmpname()
    os.remove(tree)
  end)
  teardown(function()
    if tree then os.execute("rm -rf " .. tree) end
  end)

  it("lints the rockspec clean", function()
    local rc, out = run("luarocks lint " .. ROCKSPEC)
    assert.equal(0, rc, out)
    assert.equal("", out)
  end)

  it("installs into a fresh tree; the module and wolfssl-trace run from it", function()
    -- (one build in build-rock/ at a time: make test runs configurations at once)
    local rc, out = run(("flock %s/build/.rock.lock luarocks --lua-version=%s make %s --tree=%s")
      :format(H.ROOT, version, ROCKSPEC, tree))
    assert.equal(0, rc, out)
    assert.matches("lua-wolfssl scm-1 is now installed", out, 1, true)

    -- only the tree on the paths
    local env = ("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 " ..
      "LUA_PATH='%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;' LUA_CPATH='%s/lib/lua/%s/?.so;;'"):format(
      tree, version, tree, version, tree, version)
    local code = [[
local searchpath = package.searchpath or function(name, path) -- Lua 5.1
  name = name:gsub("%.", "/")
  for p in path:gmatch("[^;]+") do
    local f = p:gsub("%?", name)
    local h = io.open(f)
    if h then h:close() return f end
  end
end
local w = require "wolfssl"
local s = require "wolfssl.socket"
local h = require "wolfssl.https"
local r = require "wolfssl.resty"
print(searchpath("wolfssl.core", package.cpath))
print(searchpath("wolfssl", package.path))
print(w.VERSION, w.features.tls13, type(s.wrap), type(h.request), type(r.wrap))
]]
    rc, out = run(("cd /tmp && %s %s -e '%s'"):format(env, lua, code))
    assert.equal(0, rc, out)
    assert.matches(tree .. "/lib/lua/" .. version .. "/wolfssl/core.so", out, 1, true)
    assert.matches(tree .. "/share/lua/" .. version .. "/wolfssl/init.lua", out, 1, true)
    assert.matches("true\tfunction\tfunction\tfunction", out, 1, true)

    -- the command-line tool, against a local openssl s_server
    local f = assert(io.open(tree .. "/bin/wolfssl-trace"), "luarocks did not install bin/wolfssl-trace")
    f:close()
    local port = H.free_port()
    local pid = H.spawn(("exec openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -www"):format(
      port, H.cert("server.pem"), H.cert("server.key")))
    assert(H.wait_port(port, 5), "openssl s_server did not start")
    rc, out = run(("cd /tmp && env -u LUA_PATH -u LUA_CPATH timeout 30 %s/bin/wolfssl-trace localhost:%d --cafile %s/%s")
      :format(tree, port, H.ROOT, H.cert("ca.pem")))
    H.kill(pid)
    assert.equal(0, rc, out)
    assert.matches("Verification: OK", out, 1, true)
    assert.matches("Result: OK (TLSv1.3", out, 1, true)
  end)
end)
