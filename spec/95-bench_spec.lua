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
  local function run(args, groups)
    local cmd = ("cd bench && BENCH_GROUPS='%s' LUA_PATH='?.lua;../lua/?.lua;../lua/?/init.lua;;' LUA_CPATH='%s' %s wolfssl_mem.lua ../spec/fixtures/certs %s 2>&1")
      :format(groups or "", package.cpath:gsub("'", ""), H.lua(), args)
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

  -- Issue 17: an established TLS 1.3 client+server pair (the client has read
  -- its ticket) costs at most 64 KiB of C and Lua heap, with X25519 and with
  -- the post-quantum hybrid the default client offers. Builds with
  -- SESSION_CERTS (features.session_certs: the system build) keep two fixed
  -- chain arrays of ~18 KiB in every session, and get a bound of their own.
  it("keeps an established pair within 64 KiB of heap (X25519, and the ML-KEM hybrid)", function()
    if core.heap_bytes() == nil then pending("heap_bytes is nil: not glibc, or malloc replaced (valgrind, ASan)") return end
    local features = require("wolfssl").features
    local limit = (features.session_certs and 144 or 64) * 1024
    local groups = { "X25519:P-256" }
    if features.mlkem then groups[2] = "X25519MLKEM768:X25519" end
    for _, g in ipairs(groups) do
      local out = run("heap 200", g)
      local c, l = out:match("^(%-?%d+) (%-?%d+) ")
      assert.is_truthy(c, out)
      local total = tonumber(c) + tonumber(l)
      assert.is_true(total <= limit, ("%s: %d bytes per pair (C %s + Lua %s), more than %d"):format(g, total, c, l, limit))
    end
  end)
end)

describe("bench/stats.lua", function()
  local stats = dofile("bench/stats.lua")

  it("median, min and max skip missing repetitions", function()
    assert.same({ 2, 1, 9 }, { stats.median({ 9, false, 1, 2 }) })
    assert.same({ 2.5, 1, 4 }, { stats.median({ 4, 1, 3, 2 }) })
    assert.is_nil(stats.median({ false, false }))
  end)

  it("a cell is the median with its range, or n/a", function()
    local f = function(v) return ("%.0f"):format(v) end
    assert.equal("2 (1–9)", stats.cell({ 9, 1, 2 }, f))
    assert.equal("5", stats.cell({ 5, 5 }, f))
    assert.equal("n/a", stats.cell({}, f))
  end)

  it("ratios are paired per repetition; a repetition missing a value is left out", function()
    assert.equal("2.00× (1.50–3.00)", stats.ratio({ 3, 6, 4, 8 }, { 2, 2, 2, false }, 4))
    assert.equal("n/a", stats.ratio({ 1 }, { 0 }, 1))
  end)

  it("writes thousands separators", function()
    assert.equal("1,234,567", stats.thousands(1234567))
    assert.equal("-98,811", stats.thousands(-98811))
    assert.equal("999", stats.thousands(999))
  end)
end)
