-- Every Lua version: the smoke spec passes on Lua 5.1, 5.3 and LuaJIT (built
-- here when missing, against the same wolfSSL build as the run in progress),
-- the Lua layers load everywhere, and `<close>` closes objects on Lua 5.4.
local H = require "helpers"

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("rc=(%d+)%s*$")), out
end

-- ROOT/BUILD/WOLFSSL/LUA/?.so of the run in progress.
local function build_of()
  for entry in package.cpath:gmatch("[^;]+") do
    local base, wolf, lua = entry:match("^(.*)/([^/]+)/([^/]+)/%?%.so$")
    if base and exists((entry:gsub("%?", "wolfssl/core"))) and base:sub(1, #H.ROOT + 1) == H.ROOT .. "/" then
      return base:sub(#H.ROOT + 2), wolf, lua
    end
  end
end

local BUILD, WOLFSSL, CURRENT = build_of()

describe("Lua versions", function()
  for _, lua in ipairs({ "lua5.1", "lua5.3", "luajit" }) do
    local have = run("command -v " .. lua) == 0 and BUILD ~= nil and lua ~= CURRENT
    local it_ = have and it or pending
    it_(lua .. ": builds, passes the smoke spec and loads every Lua layer", function()
      local rc, out = run(("cd %s && make -s LUA=%s WOLFSSL=%s BUILD=%s"):format(H.ROOT, lua, WOLFSSL, BUILD))
      assert.equal(0, rc, out)
      local env = ("LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/?.lua;;' LUA_CPATH='%s/%s/%s/%s/?.so;;' " ..
        "WOLFSSL_TEST_LUA=%s WOLFSSL_TEST_BUILD=%s"):format(H.ROOT, H.ROOT, H.ROOT, H.ROOT, BUILD, WOLFSSL, lua, lua, WOLFSSL)
      rc, out = run(("cd %s && %s SPECS=spec/00-smoke_spec.lua RESULTS= bash build-aux/run-busted.sh %s"):format(
        H.ROOT, env, lua))
      assert.equal(0, rc, out)
      assert.matches(lua .. "/" .. WOLFSSL .. ": %d+ passed, 0 failed", out)
      rc, out = run(("cd %s && %s %s -e 'for _, m in ipairs{\"wolfssl\", \"wolfssl.socket\", \"wolfssl.https\", " ..
        "\"wolfssl.resty\"} do assert(require(m)) end print(\"loaded\", _VERSION)'"):format(H.ROOT, env, lua))
      assert.equal(0, rc, out)
      assert.matches("loaded", out, 1, true)
    end)
  end

  local is54 = _VERSION == "Lua 5.4"
  local it54 = is54 and it or pending
  it54("<close> closes connections and wolfssl.socket objects", function()
    local chunk = assert(load([[
      local H, ssl, socket = ...
      local ctx = H.client_ctx()
      local kept
      do
        local conn <close> = ctx:new{ server_name = "localhost" }
        kept = conn
        assert(conn:handshake() == nil)
      end
      local ok, err = pcall(kept.handshake, kept)
      local port = H.free_port()
      local srv = assert(socket.bind("127.0.0.1", port))
      local wrapped
      do
        local s <close> = assert(ssl.wrap(assert(socket.connect("127.0.0.1", port)), { mode = "client", verify = "none" }))
        wrapped = s
      end
      srv:close()
      local ok2, err2 = pcall(wrapped.receive, wrapped)
      return ok, err, ok2, err2
    ]]))
    local ok, err, ok2, err2 = chunk(H, require "wolfssl.socket", require "socket")
    assert.is_false(ok)
    assert.matches("attempt to use a closed connection", err)
    assert.is_false(ok2)
    assert.matches("attempt to use a closed connection", err2)
  end)
end)
