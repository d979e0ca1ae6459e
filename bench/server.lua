-- make bench-server: the server's CPU time per handshake, lua-wolfssl against
-- nginx (OpenSSL) and our C server on the same wolfSSL, over loopback TCP.
--
--   lua5.4 bench/server.lua   (bench/Makefile sets the environment below)
--
-- Servers (one process each, started afresh for every cell):
--   nginx      Debian's nginx (OpenSSL 3.0), one worker, ssl_session_tickets on,
--              `return 200`; config written to a temp dir under build/bench/
--   Lua        bench/lua_server.lua: lua-wolfssl fd mode, the documented pattern
--   C          bench/c/tcploop.c server: the same steps in C on the same wolfSSL
--              (blocking sockets; "non-blocking": O_NONBLOCK + poll(), as the Lua one)
-- The load: bench/c/tcploop.c client (tuned wolfSSL), the same for all servers:
-- N sequential connections, TLS 1.3 X25519, "GET /", response, close_notify.
-- Measure: utime + stime of the server process only (/proc/PID/stat; for nginx
-- its worker) before and after the N handshakes (after a warm-up of 20), so
-- the client's CPU and the other tenants of a shared machine do not count;
-- also the scheduler's on-CPU time (/proc/PID/schedstat, ns) as a check of the
-- 10 ms ticks. Then, for the idle row, VmRSS of the server before and after
-- BENCH_IDLE_CONNS (10000) handshaken idle connections.
--
-- Environment: BENCH_LUA, BENCH_CPATH_TUNED / BENCH_CPATH_SYSTEM (where each
-- build's wolfssl/core.so is; a missing one drops its columns), BENCH_TCPLOOP_TUNED /
-- BENCH_TCPLOOP_SYSTEM, BENCH_CERTS, BENCH_NGINX_DIR (temp dirs), BENCH_REPS (3),
-- BENCH_SERVER_SCALE (1: multiplies the handshake counts), BENCH_IDLE_CONNS
-- (10000; 0 skips the idle row).
local socket = require "socket"
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local stats = require "stats"
local cfg = stats.setup()
local env = os.getenv
local DIR, LUA, CERTS, REPS = cfg.dir, cfg.lua, cfg.certs, cfg.reps
local SCALE = tonumber(env("BENCH_SERVER_SCALE") or "1")
local IDLE = tonumber(env("BENCH_IDLE_CONNS") or "10000")
local NGXBASE = env("BENCH_NGINX_DIR") or (DIR .. "/../build/bench")
local function exists(p) local f = p and io.open(p) if f then f:close() return true end return false end
local BUILDS = {}
for _, b in ipairs({ "tuned", "system" }) do
  local cpath, tcp = env("BENCH_CPATH_" .. b:upper()), env("BENCH_TCPLOOP_" .. b:upper())
  if cpath and exists((cpath:gsub("%?", "wolfssl/core"))) and exists(tcp) then
    BUILDS[#BUILDS + 1] = { name = b, cpath = cpath, tcp = tcp }
  end
end
assert(BUILDS[1] and BUILDS[1].name == "tuned", "the tuned build (module and tcploop) is needed")
local CLIENT = BUILDS[1].tcp
os.execute("mkdir -p " .. NGXBASE)
local TMP = io.popen("mktemp -d " .. NGXBASE .. "/server.XXXXXX"):read("*l")

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

local function readfile(p)
  local f = io.open(p)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function wait_for(p)
  for _ = 1, 400 do
    local s = readfile(p)
    if s and s ~= "" then return s end
    socket.sleep(0.025)
  end
  error("timed out waiting for " .. p)
end

local function wait_for_ready(p) -- the idle client's "ready N"
  for _ = 1, 24000 do
    local n = (readfile(p) or ""):match("ready (%d+)")
    if n then return tonumber(n) end
    socket.sleep(0.025)
  end
  error("the idle client did not finish")
end

-- CPU of one process: ticks (utime + stime) and ns on the CPU (schedstat)
local TICK = tonumber(sh("getconf CLK_TCK")) or 100
local function cpu(pid)
  local st = assert(readfile("/proc/" .. pid .. "/stat"), "no process " .. pid)
  local fields = {}
  for x in st:gsub("^.*%) ", ""):gmatch("%S+") do fields[#fields + 1] = x end
  -- after "(comm) ": state is field 3, utime field 14, stime 15 (1-based in proc(5))
  local ticks = tonumber(fields[12]) + tonumber(fields[13])
  local ss = readfile("/proc/" .. pid .. "/schedstat")
  return ticks / TICK, ss and tonumber(ss:match("^(%d+)")) / 1e9
end

local function rss_kib(pid)
  return tonumber((readfile("/proc/" .. pid .. "/status") or ""):match("VmRSS:%s*(%d+)"))
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- ---- servers: start(kind, idle) -> { pid = measured pid, port =, stop = fn } ----

local function start_bg(cmd, stdout)
  return sh(("%s >%s 2>>%s/server.err & echo $!"):format(cmd, stdout or "/dev/null", TMP)):match("%d+")
end

local function nginx(kind, _, prefix)
  local port = free_port()
  local d = TMP .. "/nginx"
  os.execute("rm -rf " .. d .. " && mkdir -p " .. d .. "/tmp")
  local rsa = kind == "rsa"
  local conf = ([[
worker_processes 1;
daemon off;
master_process %s;
pid %s/nginx.pid;
error_log %s/error.log info;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp; fastcgi_temp_path %s/tmp;
  uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;
  client_header_timeout 600s;
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s/%s;
    ssl_certificate_key %s/%s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1;
    ssl_session_tickets on;
    location / { return 200 "ok\n"; }
  }
}
]]):format(prefix and "off" or "on", d, d, d, d, d, d, d, port, CERTS, rsa and "rsa-server.pem" or "server.pem", CERTS,
    rsa and "rsa-server.key" or "server.key")
  -- as root, nginx would switch the worker to nobody, who cannot read build/
  if sh("id -u"):match("^0") then conf = "user root root;\n" .. conf end
  local f = assert(io.open(d .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local master = start_bg(("%snginx -p %s -c %s/nginx.conf -e %s/error.log"):format(prefix or "", d, d, d))
  local worker
  for _ = 1, 800 do
    -- one worker under a master; under valgrind (prefix) one process, no master
    worker = prefix and master or sh("pgrep -P " .. master):match("%d+")
    if worker and sh("ss -Hltn 'sport = :" .. port .. "'"):match("LISTEN") then break end
    socket.sleep(0.025)
  end
  assert(worker, "nginx did not start: " .. (readfile(d .. "/error.log") or ""))
  return { pid = worker, port = port, stop = function()
    os.execute("kill " .. master .. "; while kill -0 " .. master .. " 2>/dev/null; do sleep 0.02; done")
  end }
end

local function portfile_server(cmd, prefix)
  local pf = TMP .. "/port"
  os.remove(pf)
  local pid = start_bg((prefix or "") .. cmd(pf))
  local port = tonumber(wait_for(pf))
  return { pid = pid, port = port, stop = function()
    os.execute("kill " .. pid .. "; while kill -0 " .. pid .. " 2>/dev/null; do sleep 0.02; done")
  end }
end

local function lua_server(build)
  return function(kind, idle, prefix)
    return portfile_server(function(pf)
      return ("%s %s/lua_server.lua %s %s %s %s"):format(LUA, DIR, CERTS, kind, pf,
        idle == true and "idle" or idle or "")
    end, ("env LUA_PATH='%s/../lua/?.lua;%s/../lua/?/init.lua;;' LUA_CPATH='%s;;' %s")
      :format(DIR, DIR, build.cpath, prefix or ""))
  end
end

local function c_server(build, nonblocking)
  return function(kind, idle, prefix)
    return portfile_server(function(pf)
      return ("%s server %s %s %s %s"):format(build.tcp, CERTS, kind, pf, idle and "idle" or "")
    end, (nonblocking and "env TCPLOOP_NONBLOCK=1 " or "") .. (prefix or ""))
  end
end

local COLS = { { key = "nginx", title = "nginx (OpenSSL 3.0)", start = nginx } }
for _, b in ipairs(BUILDS) do
  COLS[#COLS + 1] = { key = "lua-" .. b.name, title = "Lua server " .. b.name, start = lua_server(b) }
  COLS[#COLS + 1] = { key = "c-" .. b.name, title = "C server " .. b.name, start = c_server(b) }
  if b.name == "tuned" then -- the C server waiting in poll() on non-blocking sockets, as the Lua one does
    COLS[#COLS + 1] = { key = "cnb-tuned", title = "C server tuned, non-blocking", start = c_server(b, true) }
  end
end

local ROWS = {
  { title = "full TLS 1.3, ECDSA P-256 + X25519", kind = "ecdsa", mode = "full", n = 1000 },
  { title = "full TLS 1.3, RSA-2048 + X25519", kind = "rsa", mode = "full", n = 400 },
  { title = "resumed TLS 1.3 (ticket, psk_dhe_ke X25519), ECDSA", kind = "ecdsa", mode = "resume", n = 1000 },
}

local function client(port, kind, mode, n)
  local out = sh(("%s client %s %s %d %s %d 2>&1"):format(CLIENT, CERTS, kind, port, mode, n))
  local ok, reused = out:match("^(%d+) (%d+)")
  ok, reused = tonumber(ok), tonumber(reused)
  if ok ~= n or (mode == "resume" and reused ~= n) then
    error(("client %s %s: %s"):format(kind, mode, out))
  end
end

-- one cell: CPU seconds of the server per handshake (ticks, schedstat)
local function measure(col, row)
  local srv = col.start(row.kind)
  local ok, a, b = pcall(function()
    client(srv.port, row.kind, "full", 20) -- warm-up: lazy state, caches
    local n = math.floor(row.n * SCALE)
    local t0, s0 = cpu(srv.pid)
    client(srv.port, row.kind, row.mode, n)
    local t1, s1 = cpu(srv.pid)
    return (t1 - t0) / n, s0 and (s1 - s0) / n
  end)
  srv.stop()
  if not ok then io.stderr:write("bench-server: ", col.title, " / ", row.title, ": ", tostring(a), "\n") return nil end
  return a, b
end

-- one cell under callgrind: user-space instructions of the server per
-- handshake (counters zeroed after the warm-up, dumped after the N handshakes)
local IR_N = { ecdsa = 100, rsa = 40 }
local function measure_ir(col, row)
  local out = TMP .. "/cg.out"
  os.execute("rm -f " .. out .. "*")
  local srv = col.start(row.kind, false, "valgrind --tool=callgrind --callgrind-out-file=" .. out .. " ")
  local ok, res = pcall(function()
    client(srv.port, row.kind, "full", 10)
    sh("callgrind_control -z " .. srv.pid .. " 2>&1")
    local n = IR_N[row.kind]
    client(srv.port, row.kind, row.mode, n)
    sh("callgrind_control -d " .. srv.pid .. " 2>&1")
    local total = tonumber((readfile(out .. ".1") or ""):match("\nsummary:%s*(%d+)"))
    return total and total / (n + (row.mode == "resume" and 1 or 0))
  end)
  srv.stop()
  if not ok then io.stderr:write("bench-server: callgrind ", col.title, " / ", row.title, ": ", tostring(res), "\n") end
  return ok and res or nil
end

local results = {} -- results[r][c] = { {ticks, sched} per rep }
for r = 1, #ROWS do results[r] = {} for c = 1, #COLS do results[r][c] = {} end end
local t_start = os.time()
for rep = 1, REPS do
  for r, row in ipairs(ROWS) do
    for i = 0, #COLS - 1 do
      local c = (i + rep + r) % #COLS + 1 -- rotated order: slow drifts hit every column
      local a, b = measure(COLS[c], row)
      results[r][c][rep] = a and { a, b } or false
    end
  end
  io.stderr:write(("bench-server: repetition %d/%d done (%ds)\n"):format(rep, REPS, os.time() - t_start))
end
local ir = {}
if env("BENCH_SERVER_IR") ~= "0" then
  for r, row in ipairs(ROWS) do
    ir[r] = {}
    for c, col in ipairs(COLS) do ir[r][c] = measure_ir(col, row) end
  end
  io.stderr:write(("bench-server: callgrind done (%ds)\n"):format(os.time() - t_start))
end

local function pick(r, c, which)
  local t = {}
  for rep = 1, REPS do local v = results[r][c][rep] t[rep] = v and v[which] or false end
  return t
end

local function cell(r, c, which)
  return stats.cell(pick(r, c, which), function(v) return ("%.0f"):format(v * 1e6) end)
end

local function colidx(key) for i, c in ipairs(COLS) do if c.key == key then return i end end end

local function ratio(r, a, b, which)
  if not (a and b) then return "n/a" end
  return stats.ratio(pick(r, a, which), pick(r, b, which), REPS)
end

local out = {}
local function add(s) out[#out + 1] = s end
-- the head of a table with a column per server and the ratios after them
local function head_row(first)
  local head = { first }
  for _, c in ipairs(COLS) do head[#head + 1] = c.title end
  head[#head + 1] = "Lua / nginx (tuned)"
  head[#head + 1] = "Lua / C (tuned)"
  if colidx("lua-system") then head[#head + 1] = "Lua / C (system)" end
  add("| " .. table.concat(head, " | ") .. " |")
  add("|" .. ("---|"):rep(#head))
end
local function table_for(which, what)
  add(("Server CPU µs per handshake (%s), median (min–max) of %d repetitions; lower is better."):format(what, REPS))
  add("")
  head_row("handshake (N per cell)")
  for r, row in ipairs(ROWS) do
    local line = { ("%s (%d)"):format(row.title, math.floor(row.n * SCALE)) }
    for c = 1, #COLS do line[#line + 1] = cell(r, c, which) end
    line[#line + 1] = ratio(r, colidx("lua-tuned"), colidx("nginx"), which)
    line[#line + 1] = ratio(r, colidx("lua-tuned"), colidx("c-tuned"), which)
    if colidx("lua-system") then line[#line + 1] = ratio(r, colidx("lua-system"), colidx("c-system"), which) end
    add("| " .. table.concat(line, " | ") .. " |")
  end
  add("")
end
table_for(1, "utime + stime of the server process, /proc/PID/stat")
table_for(2, "on-CPU time of the server, /proc/PID/schedstat, ns resolution")

if next(ir) then
  add("Server user-space instructions per handshake (callgrind; kernel work not included), after a warm-up of 10;")
  add(("%d handshakes per cell for ECDSA, %d for RSA; one run (counts do not vary with load)."):format(IR_N.ecdsa, IR_N.rsa))
  add("")
  head_row("handshake")
  local function q(a, b) return (a and b) and ("%.2f×"):format(a / b) or "n/a" end
  for r, row in ipairs(ROWS) do
    local line = { row.title }
    for c = 1, #COLS do
      local v = ir[r][c]
      line[#line + 1] = v and stats.thousands(v) or "n/a"
    end
    local L, N, C = ir[r][colidx("lua-tuned")], ir[r][colidx("nginx")], ir[r][colidx("c-tuned")]
    line[#line + 1] = q(L, N)
    line[#line + 1] = q(L, C)
    if colidx("lua-system") then line[#line + 1] = q(ir[r][colidx("lua-system")], ir[r][colidx("c-system")]) end
    add("| " .. table.concat(line, " | ") .. " |")
  end
  add("")
end

-- idle connections: RSS of the server
if IDLE > 0 then
  local lua_tuned = COLS[colidx("lua-tuned")]
  local idle_cols = { COLS[1], lua_tuned, { title = lua_tuned.title .. ", descriptor only (no LuaSocket object kept)",
    start = function(kind) return lua_tuned.start(kind, "idle-fd") end }, COLS[colidx("c-tuned")] }
  add(("RSS of the server holding %d idle TLS 1.3 connections (ECDSA, handshaken, no request yet),"):format(IDLE))
  add(("VmRSS after − before (the first connection's one-time allocations included); ulimit -n %s."):format(sh("ulimit -n"):match("%S+")))
  add("")
  add("| server | MiB per 10,000 connections | KiB per connection |")
  add("|---|---|---|")
  for _, col in ipairs(idle_cols) do
    local ok, err = pcall(function()
      local srv = col.start("ecdsa", true)
      local cl
      local ok2, res = pcall(function()
        socket.sleep(0.2)
        local r0 = rss_kib(srv.pid)
        local rf = TMP .. "/ready"
        os.remove(rf)
        cl = start_bg(("%s client %s ecdsa %d idle %d"):format(CLIENT, CERTS, srv.port, IDLE), rf)
        local ready = wait_for_ready(rf)
        socket.sleep(0.5) -- the server finishes the last handshake
        local r1 = rss_kib(srv.pid)
        return { r0, r1, ready }
      end)
      if cl then os.execute("kill " .. cl .. " 2>/dev/null") end
      srv.stop()
      if not ok2 then error(res) end
      local d = res[2] - res[1]
      add(("| %s | %.1f | %.2f |"):format(col.title, d / res[3] * 10000 / 1024, d / res[3]))
    end)
    if not ok then io.stderr:write("bench-server: idle ", col.title, ": ", tostring(err), "\n") end
  end
  add("")
end
add(("(%d s in all)"):format(os.time() - t_start))
print(table.concat(out, "\n"))
os.execute("rm -rf " .. TMP)
