-- luarocks: the rockspecs lint clean; `luarocks make` into a temporary tree
-- installs the Lua modules, the C module and bin/wolfssl-trace, which then work
-- from that tree alone (no LUA_PATH/LUA_CPATH pointing at the source). By
-- default it links the tuned wolfSSL (the checkout's build/wolfssl-tuned,
-- reused: the suite does not build wolfSSL twice), its library installed next
-- to core.so; WOLFSSL_DIR=prefix links the one there instead.
local H = require "helpers"

local ROCKSPEC = "rockspec/lua-wolfssl-scm-1.rockspec"
local ROCKSPECS = { ROCKSPEC, "rockspec/lua-wolfssl-0.2.0-1.rockspec" }
local TUNED = H.ROOT .. "/build/wolfssl-tuned"

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, out:gsub("rc=%d+%s*$", "")
end

-- a Lua pattern matching s literally
local function literal(s) return (s:gsub("%p", "%%%0")) end

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

  it("lints both rockspecs clean", function()
    for _, rockspec in ipairs(ROCKSPECS) do
      local rc, out = run("luarocks lint " .. rockspec)
      assert.equal(0, rc, out)
      assert.equal("", out)
    end
  end)

  -- luarocks make into `dir` (extra: e.g. WOLFSSL_DIR=...): rc, output. Debian's
  -- lua-socket is not a rock: a config of our own tells luarocks it is provided
  -- (else it would fetch luasocket from luarocks.org).
  local config = os.tmpname()
  local f = assert(io.open(config, "w"))
  f:write('rocks_provided = { luasocket = "3.1.0-1" }\n')
  f:close()
  teardown(function() os.remove(config) end)
  -- (the make running the suite passes its variables down in MAKEFLAGS and, for
  -- those of its command line, in the environment: not to this build, which is
  -- the default tuned release even under make test-matrix (WOLFSSL_RELEASE=5.7.2);
  -- one build in build-rock/ at a time: make test runs configurations at once)
  local function make(dir, extra)
    return run(("flock %s/build/.rock.lock env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL " ..
      "-u WOLFSSL_RELEASE -u WOLFSSL_SRC LUAROCKS_CONFIG=%s " ..
      "luarocks --lua-version=%s make %s --tree=%s %s"):format(H.ROOT, config, version, ROCKSPEC, dir, extra or ""))
  end

  -- a shell prefix with only the tree `dir` on Lua's paths
  local function only(dir)
    return ("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 " ..
      "LUA_PATH='%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;' LUA_CPATH='%s/lib/lua/%s/?.so;;'"):format(
      dir, version, dir, version, dir, version)
  end

  -- the wolfSSL release of a prefix built by build-aux/build-wolfssl.sh ("5.5.4")
  local function stamp_version(prefix)
    local f = assert(io.open(prefix .. "/.stamp"), "no " .. prefix .. "/.stamp")
    local v = f:read("*l"):match("^wolfssl (%S+)")
    f:close()
    return v
  end

  it("installs into a fresh tree; the module and wolfssl-trace run from it", function()
    local rc, out = make(tree)
    assert.equal(0, rc, out)
    assert.matches("lua-wolfssl scm-1 is now installed", out, 1, true)
    assert.matches("lua-wolfssl: building the tuned wolfSSL from source", out, 1, true)
    assert.matches("lua-wolfssl: linked the tuned wolfSSL", out, 1, true)
    assert.no.matches("WARNING", out, 1, true)
    rc, out = run(("LUAROCKS_CONFIG=%s luarocks --lua-version=%s --tree=%s show lua-wolfssl"):format(config, version, tree))
    assert.equal(0, rc, out)
    assert.matches("luasocket (using 3.1.0-1)", out, 1, true) -- the declared dependency

    local env = only(tree)
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
print("linked", w.features.build, w.WOLFSSL_VERSION, w.features.asm)
]]
    rc, out = run(("cd /tmp && %s %s -e '%s'"):format(env, lua, code))
    assert.equal(0, rc, out)
    local core = tree .. "/lib/lua/" .. version .. "/wolfssl/core.so"
    assert.matches(core, out, 1, true)
    assert.matches(tree .. "/share/lua/" .. version .. "/wolfssl/init.lua", out, 1, true)
    assert.matches("true\tfunction\tfunction\tfunction", out, 1, true)
    -- the tuned wolfSSL, from the copy installed in the rock's folder
    assert.matches("linked\ttuned\t" .. stamp_version(TUNED) .. "\ttrue", out, 1, true)
    rc, out = run("ldd " .. core)
    assert.equal(0, rc, out)
    assert.matches("libwolfssl%.so%.%d+ => " .. literal(tree .. "/lib/luarocks/rocks-" .. version ..
      "/lua-wolfssl/scm-1/libwolfssl/libwolfssl.so."), out)

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

  it("links the wolfSSL given by WOLFSSL_DIR, where it is", function()
    local other = os.tmpname()
    os.remove(other)
    local rc, out = make(other, "WOLFSSL_DIR=" .. TUNED)
    finally(function() os.execute("rm -rf " .. other) end)
    assert.equal(0, rc, out)
    assert.matches("lua-wolfssl: linking the wolfSSL in WOLFSSL_DIR=" .. TUNED, out, 1, true)
    assert.no.matches("building the tuned wolfSSL", out, 1, true)
    rc, out = run(("cd /tmp && %s %s -e 'local w = require \"wolfssl\" print(w.features.build, w.WOLFSSL_VERSION)'")
      :format(only(other), lua))
    assert.equal(0, rc, out)
    assert.equal("custom\t" .. stamp_version(TUNED) .. "\n", out)
    rc, out = run(("ldd %s/lib/lua/%s/wolfssl/core.so"):format(other, version))
    assert.matches("libwolfssl%.so%.%d+ => " .. literal(TUNED .. "/lib/libwolfssl.so."), out)
    -- nothing of the library was copied into the tree
    rc = run(("ls %s/lib/lua/%s/wolfssl/libwolfssl.so.*"):format(other, version))
    assert.not_equal(0, rc)
  end)
end)
