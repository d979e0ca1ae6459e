-- Working from a checkout: `make env` gives the exports that make a snippet
-- load this checkout's module; `make docs` renders without a warning.
local H = require "helpers"

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, (out:gsub("rc=%d+%s*$", ""))
end

local lua = H.lua()
local build = os.getenv("WOLFSSL_TEST_BUILD") or "tuned"
-- none of the suite's own paths: only what make env prints
local CLEAN = "env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3"

describe("make env", function()
  it("prints the exports with which a snippet run elsewhere loads this checkout's module", function()
    local rc, out = run(("make -s -C %s env LUA=%s WOLFSSL=%s"):format(H.ROOT, lua, build))
    assert.equal(0, rc, out)
    assert.matches('export LUA_PATH="' .. H.ROOT .. "/lua/?.lua;", out, 1, true)
    -- BUILD may be another folder under build/ (check-asan passes it down to this make)
    assert.matches('export LUA_CPATH="' .. H.ROOT .. "/build/", out, 1, true)
    assert.matches("/" .. build .. "/" .. lua .. '/?.so;;"', out, 1, true)

    local snippet = [[
local w = require "wolfssl"
local x = require "wolfssl.x509"
print(w.features.build, type(w.context), type(x.load), package.searchpath and
  package.searchpath("wolfssl.core", package.cpath) or "5.1")]]
    rc, out = run(("cd /tmp && %s sh -c 'eval \"$(make -s -C %s env LUA=%s WOLFSSL=%s)\" && %s -e \"$0\"' '%s'")
      :format(CLEAN, H.ROOT, lua, build, lua, snippet))
    assert.equal(0, rc, out)
    assert.matches(build .. "\tfunction\tfunction", out, 1, true)
    if not out:find("\t5.1", 1, true) then
      assert.matches(H.ROOT .. "/build/", out, 1, true)
      assert.matches("/" .. build .. "/" .. lua .. "/wolfssl/core.so", out, 1, true)
    end

    -- without it, the same snippet does not find the module (the test can fail)
    rc, out = run(("cd /tmp && %s %s -e 'require \"wolfssl\"'"):format(CLEAN, lua))
    assert.not_equal(0, rc)
    assert.matches("module 'wolfssl' not found", out, 1, true)
  end)
end)

local have_ldoc = run("command -v ldoc") == 0
;(have_ldoc and describe or pending)("make docs", function()
  it("renders every module with markdown and prints no warning", function()
    -- (make test runs configurations at once: one `make docs` at a time, and
    -- its pages copied before another run rewrites them)
    local copy = os.tmpname()
    local rc, out = run(("flock %s/build/.docs.lock sh -c 'make -s -C %s docs && rm -rf %s && cp -r %s/doc/html %s'")
      :format(H.ROOT, H.ROOT, copy, H.ROOT, copy))
    finally(function() os.execute("rm -rf " .. copy) end)
    assert.equal(0, rc, out)
    assert.equal("docs in doc/html/index.html\n", out)
    for _, m in ipairs { "wolfssl", "wolfssl.decode", "wolfssl.hello", "wolfssl.socket", "wolfssl.session" } do
      local f = io.open(("%s/modules/%s.html"):format(copy, m))
      assert.is_truthy(f, m .. " has no page")
      local html = f:read("*a")
      f:close()
      -- option lists are lists, not one paragraph with literal bullets
      assert.matches("<li>", html, 1, true)
      assert.not_matches("\n%s*%* `", html)
    end
  end)
end)
