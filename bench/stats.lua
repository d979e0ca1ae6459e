-- Shared by the bench drivers (run.lua, ir.lua, server.lua): the environment
-- they read, and the statistics and number formats of their tables.
local M = {}

--- Where the running driver is and what the environment asks for (bench/Makefile
-- sets it): { dir (absolute), lua = BENCH_LUA, cpath = BENCH_CPATH, build =
-- BENCH_BUILD, certs = BENCH_CERTS, reps = BENCH_REPS (3), luaenv = the `env`
-- prefix that runs a Lua script of bench/ on that module }.
function M.setup()
  local env = os.getenv
  local dir = arg[0]:match("^(.*)/[^/]*$") or "."
  local p = io.popen("cd '" .. dir .. "' && pwd")
  dir = p:read("*l")
  p:close()
  local cpath = env("BENCH_CPATH") or ""
  return {
    dir = dir,
    lua = env("BENCH_LUA") or "lua5.4",
    cpath = cpath,
    build = env("BENCH_BUILD") or "?",
    certs = env("BENCH_CERTS") or (dir .. "/../spec/fixtures/certs"),
    reps = tonumber(env("BENCH_REPS") or "3"),
    luaenv = ("env LUA_PATH='%s/?.lua;%s/../lua/?.lua;%s/../lua/?/init.lua;;' LUA_CPATH='%s;;' ")
      :format(dir, dir, dir, cpath),
  }
end

--- Median, min and max of the values of t (false/nil entries skipped), or nil.
function M.median(t)
  local s = {}
  for _, v in pairs(t) do if v then s[#s + 1] = v end end
  if #s == 0 then return nil end
  table.sort(s)
  local m = #s % 2 == 1 and s[(#s + 1) / 2] or (s[#s / 2] + s[#s / 2 + 1]) / 2
  return m, s[1], s[#s]
end

--- A table cell: "median (min–max)" with fmt applied to each, "n/a" when
-- there is no value, the median alone when all values agree.
function M.cell(t, fmt)
  local m, lo, hi = M.median(t)
  if not m then return "n/a" end
  if lo == hi then return fmt(m) end
  return ("%s (%s–%s)"):format(fmt(m), fmt(lo), fmt(hi))
end

--- Paired ratios x[i] / y[i] over reps repetitions (a repetition missing
-- either value, or y <= 0, is left out), as a cell "r× (lo–hi)".
function M.ratio(x, y, reps)
  local t = {}
  for i = 1, reps do
    if x[i] and y[i] and y[i] > 0 then t[#t + 1] = x[i] / y[i] end
  end
  local m, lo, hi = M.median(t)
  if not m then return "n/a" end
  if lo == hi then return ("%.2f×"):format(m) end
  return ("%.2f× (%.2f–%.2f)"):format(m, lo, hi)
end

--- An integer with thousands separators: 1234567 -> "1,234,567".
function M.thousands(x)
  local s = ("%.0f"):format(x)
  local neg = s:sub(1, 1) == "-"
  if neg then s = s:sub(2) end
  s = s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return (neg and "-" or "") .. s
end

return M
