-- make bench-ir: instructions per operation under callgrind, C loop against the
-- binding (memory mode), so that nothing else on a shared machine moves them.
--
--   lua5.4 bench/ir.lua   (bench/Makefile sets the environment below)
--
-- Each case runs both programs twice under `valgrind --tool=callgrind` (default
-- options: --collect-atstart=yes, whole program) for a fixed count of N1 and
-- N2 operations; instructions per operation = (total(N2) - total(N1)) / (N2 - N1),
-- so start-up (interpreter, wolfSSL_Init, contexts, certificates) cancels.
-- For the profiled cases (bulk AES-GCM and both resumptions by default) it also runs callgrind_annotate on the four outputs and prints,
-- per operation, where the binding's extra instructions go.
--
-- Environment: BENCH_LUA, BENCH_CPATH, BENCH_BUILD, BENCH_REFLOOP (C loop for
-- that build), BENCH_CERTS, BENCH_IR_CASES (comma list of case keys, default
-- all), BENCH_IR_PROFILE (comma list, default "bulk,resume13,resume12"), BENCH_IR_KEEP (directory:
-- keep the callgrind outputs there).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local stats = require "stats"
local cfg = stats.setup()
local env = os.getenv
local DIR, LUA, BUILDNAME, CERTS = cfg.dir, cfg.lua, cfg.build, cfg.certs
local REF = env("BENCH_REFLOOP") or error("BENCH_REFLOOP: the C loop binary")
local KEEP = env("BENCH_IR_KEEP")
local TMP = KEEP or os.tmpname()
if not KEEP then os.remove(TMP) end
os.execute("mkdir -p " .. TMP)

-- mode/arg as bench/c/refloop.c and bench/wolfssl_mem.lua take them; one
-- iteration of "bulk" is 16 writes of 16 KiB (per = 16 operations)
local CASES = {
  { key = "full13", title = "full TLS 1.3 ECDSA P-256 + X25519, per handshake (pair)", mode = "hs", arg = "tls13-ecdsa", n1 = 20, n2 = 100 },
  { key = "full13p256", title = "full TLS 1.3 ECDSA P-256 + P-256 ECDHE, per handshake (pair)", mode = "hs", arg = "tls13-p256", n1 = 20, n2 = 100 },
  { key = "full13mlkem", title = "full TLS 1.3 ECDSA P-256 + X25519MLKEM768 (shares: hybrid + X25519), per handshake (pair)", mode = "hs", arg = "tls13-mlkem", n1 = 20, n2 = 100 },
  { key = "resume13", title = "resumed TLS 1.3, per handshake (pair)", mode = "resume", arg = "tls13", n1 = 40, n2 = 240 },
  { key = "resume12", title = "resumed TLS 1.2, per handshake (pair)", mode = "resume", arg = "tls12", n1 = 40, n2 = 240 },
  { key = "bulk", title = "bulk AES-128-GCM, per 16 KiB write (write + move + read)", mode = "bulk", arg = "aesgcm", n1 = 8, n2 = 40, per = 16 },
}
local want = {}
for k in (env("BENCH_IR_CASES") or "full13,full13p256,full13mlkem,resume13,resume12,bulk"):gmatch("[%w]+") do want[k] = true end
local profile = {}
for k in (env("BENCH_IR_PROFILE") or "bulk,resume13,resume12"):gmatch("[%w]+") do profile[k] = true end

local function run(impl, case, n)
  local out = ("%s/%s-%s-%d.cg"):format(TMP, impl, case.key, n)
  -- the environment goes before valgrind (which does not follow an exec)
  local prog = impl == "c" and REF or (LUA .. " " .. DIR .. "/wolfssl_mem.lua")
  local cmd = ("cd '%s' && %svalgrind --tool=callgrind --callgrind-out-file=%s %s %s %s %s -%d >/dev/null 2>%s.log")
    :format(DIR, impl == "c" and "" or cfg.luaenv, out, prog, CERTS, case.mode, case.arg, n, out)
  local reuse = env("BENCH_IR_REUSE") and io.open(out) -- development: annotate kept outputs again
  if reuse then reuse:close() elseif not os.execute(cmd) then error(("%s %s %d failed, see %s.log"):format(impl, case.key, n, out)) end
  local f = assert(io.open(out))
  local total
  for line in f:lines() do
    total = tonumber(line:match("^summary:%s*(%d+)")) or total
  end
  f:close()
  return assert(total, "no summary in " .. out), out
end

-- callgrind_annotate: { [function] = Ir } (inclusive or self), and the
-- object of each function (callgrind_annotate names it only on some lines)
local OBJS = { c = {}, lua = {} }
local OBJ
local function annotate(file, inclusive, impl)
  local objs = OBJS[impl]
  local p = io.popen(("callgrind_annotate --auto=no --threshold=100 --inclusive=%s %s 2>/dev/null")
    :format(inclusive and "yes" or "no", file))
  local t = {}
  local body = false
  for line in p:lines() do
    if line:match("file:function") then body = true
    elseif body and line:match("^%s*$") and next(t) then break
    elseif body then
      local ir, name = line:match("^%s*([%d,]+)%s+%b()%s+(.-)%s*$")
      if ir then
        ir = tonumber((ir:gsub(",", "")))
        local fn, obj = name:match("^(.-)%s+%[(.-)%]$")
        fn = (fn or name):gsub("'%d+$", ""):gsub("^.*:", "") -- cycle marks, file names
        obj = obj and obj:match("([^/]+)$")
        if obj and obj:match("^refloop") then obj = "refloop" end
        -- the stripped interpreter's functions: one entry
        if fn:match("^0x%x+$") then fn = "(" .. (obj or "?") .. " without symbols)" end
        if obj and not objs[fn] then objs[fn] = obj end
        -- inclusive: a folded name keeps its largest entry (recursion is not
        -- counted twice); self: the sum
        if inclusive then t[fn] = math.max(t[fn] or 0, ir) else t[fn] = (t[fn] or 0) + ir end
      end
    end
  end
  p:close()
  return t
end

local function per_op(a1, a2, ops)
  local t = {}
  for k, v in pairs(a2) do t[k] = (v - (a1[k] or 0)) / ops end
  for k, v in pairs(a1) do if not a2[k] then t[k] = -v / ops end end
  return t
end

local fmt = stats.thousands

local out = {}
local function add(s) out[#out + 1] = s; io.stderr:write(".") end
local rows, profiles = {}, {}
local t0 = os.time()
for _, case in ipairs(CASES) do
  if want[case.key] then
    local per = case.per or 1
    local r = { case = case }
    for _, impl in ipairs({ "c", "lua" }) do
      local a, fa = run(impl, case, case.n1)
      local b, fb = run(impl, case, case.n2)
      r[impl] = (b - a) / ((case.n2 - case.n1) * per)
      r[impl .. "files"] = { fa, fb }
    end
    rows[#rows + 1] = r
    if profile[case.key] then profiles[#profiles + 1] = r end
  end
end
io.stderr:write("\n")

add(("Instructions per operation (callgrind, valgrind %s), lua-wolfssl on the %s wolfSSL build, memory mode;")
  :format((io.popen("valgrind --version"):read("*l") or "?"):gsub("valgrind%-", ""), BUILDNAME))
add("(total(N2) − total(N1)) / (N2 − N1) operations, start-up cancels. Ratio > 1: the C loop executes more.")
add("")
add("| operation | N1 → N2 | C loop instr/op | binding instr/op | C / binding | binding − C |")
add("|---|---|---|---|---|---|")
for _, r in ipairs(rows) do
  local c = r.case
  local per = c.per or 1
  add(("| %s | %d → %d | %s | %s | %.3f | %s |"):format(c.title, c.n1 * per, c.n2 * per, fmt(r.c), fmt(r.lua),
    r.c / r.lua, fmt(r.lua - r.c)))
end

for _, r in ipairs(profiles) do
  local c = r.case
  local ops = (c.n2 - c.n1) * (c.per or 1)
  local prof = {}
  for _, impl in ipairs({ "c", "lua" }) do
    local f = r[impl .. "files"]
    prof[impl] = {
      self = per_op(annotate(f[1], false, impl), annotate(f[2], false, impl), ops),
      incl = per_op(annotate(f[1], true, impl), annotate(f[2], true, impl), ops),
    }
  end
  -- self cost by shared object
  local byobj = { c = {}, lua = {} }
  for impl, p in pairs(prof) do
    for k, v in pairs(p.self) do
      local o = OBJS[impl][k] or "?"
      byobj[impl][o] = (byobj[impl][o] or 0) + v
    end
  end
  add("")
  add(("Profile of %s: instructions per operation by shared object (self cost), from callgrind_annotate"):format(c.title))
  add("")
  add("| object | C loop | binding | binding − C |")
  add("|---|---|---|---|")
  local objs, seen = {}, {}
  for _, impl in ipairs({ "c", "lua" }) do
    for o in pairs(byobj[impl]) do if not seen[o] then seen[o] = true; objs[#objs + 1] = o end end
  end
  table.sort(objs, function(x, y)
    return math.abs((byobj.lua[x] or 0) - (byobj.c[x] or 0)) > math.abs((byobj.lua[y] or 0) - (byobj.c[y] or 0))
  end)
  for _, o in ipairs(objs) do
    local a, b = byobj.c[o] or 0, byobj.lua[o] or 0
    if math.abs(a) >= 50 or math.abs(b) >= 50 then
      add(("| %s | %s | %s | %s |"):format(o, fmt(a), fmt(b), fmt(b - a)))
    end
  end
  -- functions: self-cost differences (same names in both: memcpy, malloc, wolfSSL)
  OBJ = setmetatable({}, { __index = function(_, k) return OBJS.lua[k] or OBJS.c[k] end })
  local function diff_table(kind, title, limit, only_lua)
    add("")
    add(title)
    add("")
    add(("| function (object) | C loop %s/op | binding %s/op | binding − C |"):format(kind, kind))
    add("|---|---|---|---|")
    local keys = {}
    for k, v in pairs(prof.lua[kind]) do
      local cv = prof.c[kind][k]
      if not (only_lua and cv) then keys[#keys + 1] = { k = k, d = v - (cv or 0), c = cv or 0, l = v } end
    end
    if not only_lua then
      for k, v in pairs(prof.c[kind]) do
        if not prof.lua[kind][k] then keys[#keys + 1] = { k = k, d = -v, c = v, l = 0 } end
      end
    end
    table.sort(keys, function(x, y) return math.abs(x.d) > math.abs(y.d) end)
    for i = 1, math.min(limit, #keys) do
      local e = keys[i]
      add(("| `%s` (%s) | %s | %s | %s |"):format(e.k, OBJ[e.k] or "?", fmt(e.c), fmt(e.l), fmt(e.d)))
    end
  end
  diff_table("self", "Largest self-cost differences per operation (a function's own instructions, callees excluded)", 15)
  diff_table("incl", "Binding-only functions by inclusive cost per operation (callees included; the C loop has no such function)", 15, true)
end
add("")
add(("(%d s in all)"):format(os.time() - t0))
print(table.concat(out, "\n"))
if not KEEP then os.execute("rm -rf " .. TMP) end
