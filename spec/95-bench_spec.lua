-- The benchmark helpers: core.heap_bytes() and the memory-mode bench script
-- (bench/wolfssl_mem.lua) that `make bench` runs.
local core = require "wolfssl.core"
local H = require "helpers"

describe("core.heap_bytes", function()
  it("reports the C heap and sees connections being made and freed", function()
    local before = core.heap_bytes()
    if before == nil then pending("heap_bytes is nil: not glibc, or malloc replaced (valgrind, ASan)") return end
    assert.is_number(before)
    local cctx, sctx = H.client_ctx(), H.server_ctx()
    -- the library's lazy state (Debian's build also fills an ECC fixed-point
    -- cache of several MB over the first handshakes): not per connection
    for _ = 1, 30 do local c, s = H.pair(cctx, sctx); c:close(); s:close() end
    collectgarbage("collect"); collectgarbage("collect")
    local base = core.heap_bytes()
    local pairs_ = {}
    for i = 1, 20 do
      local c, s, ok = H.pair(cctx, sctx)
      assert.is_true(ok)
      pairs_[i] = { c, s }
    end
    local grown = core.heap_bytes() - base
    -- a client+server pair of wolfSSL objects takes tens of KiB at least
    assert.is_true(grown > 20 * 10000, "heap grew by only " .. grown)
    for _, p in ipairs(pairs_) do p[1]:close(); p[2]:close() end
    pairs_ = nil
    collectgarbage("collect"); collectgarbage("collect")
    local left = core.heap_bytes() - base
    assert.is_true(left < grown / 2, ("%d bytes of %d still in use"):format(left, grown))
  end)
end)

describe("bench/wolfssl_mem.lua", function()
  local function run(args)
    local cmd = ("cd bench && LUA_PATH='?.lua;../lua/?.lua;../lua/?/init.lua;;' LUA_CPATH='%s' %s wolfssl_mem.lua ../spec/fixtures/certs %s 2>&1")
      :format(package.cpath:gsub("'", ""), H.lua(), args)
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    return out
  end

  it("measures handshakes, resumption and bulk data for a fixed count", function()
    local list = { "hs tls13-ecdsa -3", "hs tls12-ecdsa -2", "resume tls13 -3", "bulk chacha -1", "hs dtls12-ecdsa -2" }
    if require("wolfssl").features.dtls13 then list[#list + 1] = "hs dtls13-ecdsa -2" end
    for _, args in ipairs(list) do
      local out = run(args)
      local v = tonumber(out:match("^%s*([%d%.]+)%s*$"))
      assert.is_truthy(v, args .. ": " .. out)
      assert.is_true(v > 0, args .. ": " .. out)
    end
  end)

  it("reports heap per established pair", function()
    if core.heap_bytes() == nil then pending("heap_bytes is nil: not glibc, or malloc replaced (valgrind, ASan)") return end
    local out = run("heap 5")
    local c, l, r = out:match("^(%-?%d+) (%-?%d+) (%-?%d+)")
    assert.is_truthy(c, out)
    assert.is_true(tonumber(c) > 10000, out) -- bytes of C heap per pair
  end)
end)
