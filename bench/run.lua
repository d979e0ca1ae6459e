-- make bench: every measurement, every implementation, interleaved, one table.
--
--   lua5.4 bench/run.lua   (bench/Makefile sets the environment below)
--
-- Environment: BENCH_LUA (interpreter for the Lua columns), BENCH_CPATH (where
-- wolfssl/core.so is), BENCH_BUILD (its wolfSSL build: tuned | system),
-- BENCH_REFLOOP_TUNED / BENCH_REFLOOP_SYSTEM (C loop binaries; missing = n/a),
-- BENCH_CERTS, BENCH_REPS (3), BENCH_SECS (0.8 s per measurement;
-- CPU time for one-process columns, wall time for two-process ones), BENCH_SCALE
-- ("1,100,1000,10000" pairs), BENCH_IDLE (500 pairs = 1000 connections),
-- BENCH_ROWS (comma list of the rows to run, by kind: "tls13-ecdsa,tls13-mlkem";
-- "heap" brings the RSS row; default all). Each handshake row also gets its
-- bytes on the wire (one full handshake, memory mode) in a table of its own.
--
-- Each repetition runs every row's columns in a rotated order, so slow drifts
-- of a shared machine hit every column alike; the table shows the median and
-- min-max of each cell, and ratios are taken per repetition (paired) before
-- their median is shown.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local stats = require "stats"
local cfg = stats.setup()
local env = os.getenv
local DIR, LUA, BUILDNAME, CERTS, REPS = cfg.dir, cfg.lua, cfg.build, cfg.certs, cfg.reps
local SECS = tonumber(env("BENCH_SECS") or "0.8")
local IDLE = tonumber(env("BENCH_IDLE") or "500")
local SCALE = {}
for n in (env("BENCH_SCALE") or "1,100,1000,10000"):gmatch("%d+") do SCALE[#SCALE + 1] = tonumber(n) end
local REF = { tuned = env("BENCH_REFLOOP_TUNED"), system = env("BENCH_REFLOOP_SYSTEM") }
for k, v in pairs(REF) do
  local f = v and io.open(v) if f then f:close() else REF[k] = nil end
end
local TMP = os.tmpname()
os.remove(TMP)
os.execute("mkdir -p " .. TMP)

local function sh(cmd)
  local p = io.popen(cmd .. " 2>" .. TMP .. "/err")
  local out = p:read("*a")
  p:close()
  return out
end

local function lua(script, ...)
  return cfg.luaenv .. LUA .. " " .. DIR .. "/" .. script .. " " .. table.concat({ ... }, " ")
end

local function nums(s)
  local t = {}
  for x in (s or ""):gmatch("[-%d%.naif]+") do t[#t + 1] = tonumber(x) end
  return t
end

local function warn(what)
  local f = io.open(TMP .. "/err")
  local e = f and f:read("*a") or ""
  if f then f:close() end
  io.stderr:write(("bench: %s failed: %s\n"):format(what, (e:gsub("\n.*", ""))))
end

-- Two-process run: server in the background, client in the foreground.
local function two_proc(impl, mode, a, b)
  local portfile = TMP .. "/port"
  local outfile = TMP .. "/server.out"
  os.remove(portfile); os.remove(outfile)
  local pid = sh(lua("tcp_server.lua", impl, CERTS, portfile, mode, a) .. " >" .. outfile ..
    " 2>/dev/null & echo $!"):match("%d+")
  local port
  for _ = 1, 200 do
    local f = io.open(portfile)
    if f then port = f:read("*l"); f:close() end
    if port then break end
    os.execute("sleep 0.05")
  end
  local res
  if port then
    res = sh("timeout 60 " .. lua("tcp_client.lua", impl, CERTS, port, mode, a, b or ""))
    if mode == "idle" then -- the server prints its own deltas once it holds them all
      local srv
      for _ = 1, 100 do
        local f = io.open(outfile)
        srv = f and f:read("*l"); if f then f:close() end
        if srv then break end
        os.execute("sleep 0.05")
      end
      local c, s = nums(res), nums(srv)
      res = (c[2] and s[2]) and tostring((c[2] + s[2]) * 1000 / (2 * a)) or nil
    end
  end
  os.execute("kill " .. pid .. " 2>/dev/null; wait " .. pid .. " 2>/dev/null")
  return res
end

-- Columns: how each one measures a row. Each returns a number or nil.
local COLS = {
  { key = "mem", title = "lua-wolfssl mem", run = function(row)
      if row.kind == "heap" then
        local t = nums(sh(lua("wolfssl_mem.lua", CERTS, "heap", IDLE)))
        return t[1] and (t[1] + t[2]), t[3]
      end
      return nums(sh(lua("wolfssl_mem.lua", CERTS, row.mode, row.arg, SECS)))[1]
    end },
  { key = "tcp1", title = "lua-wolfssl tcp 1p", run = function(row)
      if row.mode == "resume" then return nil end
      if row.kind == "heap" then return nil, nums(sh(lua("sock_1proc.lua", "wolfssl", CERTS, "idle", IDLE)))[1] end
      return nums(sh(lua("sock_1proc.lua", "wolfssl", CERTS, row.mode, row.arg, SECS)))[1]
    end },
  { key = "tcp", title = "lua-wolfssl tcp 2p", run = function(row)
      if row.kind == "heap" then return nil, nums(two_proc("wolfssl", "idle", IDLE))[1] end
      if row.mode == "resume" then return nil end
      return nums(two_proc("wolfssl", row.mode, row.arg, SECS))[1]
    end },
  { key = "ct", title = "C loop tuned", run = function(row)
      if not REF.tuned then return nil end
      local t = nums(sh(REF.tuned .. " " .. CERTS .. " " .. (row.kind == "heap" and ("heap " .. IDLE)
        or (row.mode .. " " .. row.arg .. " " .. SECS))))
      return t[1], t[2]
    end },
  { key = "cs", title = "C loop system", run = function(row)
      if not REF.system then return nil end
      local t = nums(sh(REF.system .. " " .. CERTS .. " " .. (row.kind == "heap" and ("heap " .. IDLE)
        or (row.mode .. " " .. row.arg .. " " .. SECS))))
      return t[1], t[2]
    end },
  { key = "ls1", title = "LuaSec 1p", run = function(row)
      if row.mode == "resume" then return nil end
      if row.kind == "heap" then return nil, nums(sh(lua("sock_1proc.lua", "luasec", CERTS, "idle", IDLE)))[1] end
      return nums(sh(lua("sock_1proc.lua", "luasec", CERTS, row.mode, row.arg, SECS)))[1]
    end },
  { key = "ls2", title = "LuaSec 2p", run = function(row)
      if row.mode == "resume" then return nil end
      if row.kind == "heap" then return nil, nums(two_proc("luasec", "idle", IDLE))[1] end
      return nums(two_proc("luasec", row.mode, row.arg, SECS))[1]
    end },
}

local ROWS = {
  { title = "full TLS 1.3 ECDSA P-256 + X25519, hs/s", mode = "hs", arg = "tls13-ecdsa" },
  { title = "full TLS 1.3 ECDSA P-256 + P-256 ECDHE, hs/s", mode = "hs", arg = "tls13-p256" },
  { title = "full TLS 1.3 ECDSA P-256 + X25519MLKEM768 (shares: hybrid + X25519), hs/s", mode = "hs", arg = "tls13-mlkem" },
  { title = "full TLS 1.3 RSA-2048 + X25519, hs/s", mode = "hs", arg = "tls13-rsa" },
  { title = "full TLS 1.2 ECDHE-ECDSA, hs/s", mode = "hs", arg = "tls12-ecdsa" },
  { title = "full DTLS 1.2 ECDHE-ECDSA + cookie, hs/s", mode = "hs", arg = "dtls12-ecdsa", only = "mem" },
  { title = "full DTLS 1.3 ECDSA + HRR cookie, hs/s", mode = "hs", arg = "dtls13-ecdsa", only = "mem" },
  { title = "resumed TLS 1.3, hs/s", mode = "resume", arg = "tls13" },
  { title = "resumed TLS 1.2, hs/s", mode = "resume", arg = "tls12" },
  { title = "bulk AES-128-GCM 16 KiB writes, MB/s", mode = "bulk", arg = "aesgcm", bulk = true },
  { title = "bulk ChaCha20-Poly1305 16 KiB writes, MB/s", mode = "bulk", arg = "chacha", bulk = true },
  { title = "heap per established pair, KiB", kind = "heap", field = 1, scale = 1 / 1024 },
  { title = "RSS per 1000 idle connections, MiB", kind = "rss", field = 2, scale = 1 / 1024 },
}
if env("BENCH_ROWS") then
  local keep = {}
  for k in env("BENCH_ROWS"):gmatch("[^,%s]+") do keep[k] = true end
  keep.rss = keep.heap
  local rows = {}
  for _, row in ipairs(ROWS) do
    if keep[row.arg or row.kind] then rows[#rows + 1] = row end
  end
  ROWS = rows
end

-- results[row][col] = { values per rep }
local results = {}
for r = 1, #ROWS do results[r] = {} for c = 1, #COLS do results[r][c] = {} end end
local heaprow, rssrow
for r, row in ipairs(ROWS) do
  if row.kind == "heap" then heaprow = r elseif row.kind == "rss" then rssrow = r end
end

local t_start = os.time()
for rep = 1, REPS do
  for r, row in ipairs(ROWS) do
    if row.kind ~= "rss" then -- the rss row is filled by the heap runs
      for i = 0, #COLS - 1 do
        local c = (i + rep + r) % #COLS + 1 -- rotate the order every row and repetition
        local ok, v1, v2 = true, nil, nil
        if not row.only or COLS[c].key == row.only then ok, v1, v2 = pcall(COLS[c].run, row) end
        if not ok then io.stderr:write("bench: " .. tostring(v1) .. "\n") v1, v2 = nil, nil end
        if row.kind == "heap" then
          results[heaprow][c][rep] = v1 or false
          results[rssrow][c][rep] = v2 or false
        else
          if v1 == nil and not row.only and not (row.mode == "resume" and (COLS[c].key:match("^tcp") or COLS[c].key:match("^ls"))) and
             not ((COLS[c].key == "ct" and not REF.tuned) or (COLS[c].key == "cs" and not REF.system)) then
            warn(COLS[c].title .. " / " .. row.title)
          end
          results[r][c][rep] = (v1 and v1 == v1) and v1 or false
        end
      end
    end
  end
  io.stderr:write(("bench: repetition %d/%d done (%ds)\n"):format(rep, REPS, os.time() - t_start))
end

local function fmt(v)
  if v >= 1000 then return ("%.0f"):format(v) elseif v >= 100 then return ("%.0f"):format(v)
  elseif v >= 10 then return ("%.1f"):format(v) else return ("%.2f"):format(v) end
end

local function cell(r, c)
  local k = ROWS[r].scale or 1
  return stats.cell(results[r][c], function(v) return fmt(v * k) end)
end

local function colidx(key) for i, c in ipairs(COLS) do if c.key == key then return i end end end

-- paired ratio a/b, median over the repetitions (for heap and RSS lower is
-- better, so there a ratio < 1 favours lua-wolfssl)
local function ratio(r, a, b)
  return stats.ratio(results[r][a], results[r][b], REPS)
end

local same = BUILDNAME == "system" and colidx("cs") or colidx("ct")
local out = {}
local function add(s) out[#out + 1] = s end
add(("lua-wolfssl module on the %s wolfSSL build; %d repetitions x %.1f s per cell; median (min–max);"):format(BUILDNAME, REPS, SECS))
add(("one-process columns (mem, tcp 1p, C loops, LuaSec 1p) per %s second, two-process columns per wall second;"):format(
  env("BENCH_CLOCK") == "wall" and "wall" or "CPU"))
add("ratios are paired per repetition. 1p/2p = one/two processes over loopback TCP.")
add("")
local head = { "measurement" }
for _, c in ipairs(COLS) do head[#head + 1] = c.title end
head[#head + 1] = "mem / C loop " .. BUILDNAME
head[#head + 1] = "mem / LuaSec 1p"
head[#head + 1] = "tcp 1p / LuaSec 1p"
head[#head + 1] = "tcp 2p / LuaSec 2p"
add("| " .. table.concat(head, " | ") .. " |")
add("|" .. ("---|"):rep(#head))
for r, row in ipairs(ROWS) do
  local line = { row.title }
  for c = 1, #COLS do line[#line + 1] = cell(r, c) end
  line[#line + 1] = ratio(r, colidx("mem"), same)
  line[#line + 1] = ratio(r, colidx("mem"), colidx("ls1"))
  line[#line + 1] = ratio(r, colidx("tcp1"), colidx("ls1"))
  line[#line + 1] = ratio(r, colidx("tcp"), colidx("ls2"))
  add("| " .. table.concat(line, " | ") .. " |")
end

-- bytes on the wire of one full handshake, for each handshake row
local wire = {}
for _, row in ipairs(ROWS) do
  if row.mode == "hs" then
    local c, s, group, flights = sh(lua("wolfssl_mem.lua", CERTS, "wire", row.arg)):match("^(%d+) (%d+) (%S+) ([^\n]*)")
    if c then wire[#wire + 1] = { row.arg, group, c, s, tonumber(c) + tonumber(s), flights } end
  end
end
if #wire > 0 then
  add("")
  add("Bytes on the wire per full handshake (lua-wolfssl, memory mode, every record: tickets and")
  add("change_cipher_spec included; mean of 32 handshakes); flights of one, in order, c = client → server,")
  add("s = server → client")
  add("")
  add("| handshake | group | client → server | server → client | total | flights |")
  add("|---|---|---|---|---|---|")
  for _, w in ipairs(wire) do add(("| %s | %s | %s | %s | %d | %s |"):format(table.unpack(w))) end
end

-- scaling: memory mode with N established pairs open
if #SCALE > 0 then
  add("")
  add("Scaling, memory mode: handshakes/s (TLS 1.3 ECDSA) while N client+server pairs stay open, and heap per open pair")
  add("")
  local h = { "open pairs", "lua-wolfssl hs/s", "lua-wolfssl KiB/pair" }
  local ref = REF[BUILDNAME] or REF.tuned or REF.system
  if ref then h[#h + 1] = "C loop hs/s"; h[#h + 1] = "C loop KiB/pair" end
  add("| " .. table.concat(h, " | ") .. " |")
  add("|" .. ("---|"):rep(#h))
  for _, n in ipairs(SCALE) do
    local l = nums(sh(lua("wolfssl_mem.lua", CERTS, "scale", n, SECS)))
    local line = { tostring(n), l[1] and fmt(l[1]) or "n/a", l[2] and fmt(l[2] / 1024) or "n/a" }
    if ref then
      local c = nums(sh(ref .. " " .. CERTS .. " scale " .. n .. " " .. SECS))
      line[#line + 1] = c[1] and fmt(c[1]) or "n/a"
      line[#line + 1] = c[2] and fmt(c[2] / 1024) or "n/a"
    end
    add("| " .. table.concat(line, " | ") .. " |")
  end
end
add("")
add(("(%d s in all)"):format(os.time() - t_start))
print(table.concat(out, "\n"))
os.execute("rm -rf " .. TMP)
