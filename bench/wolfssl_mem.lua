-- lua-wolfssl in memory mode: client and server in one process, bytes moved
-- with drain/feed, stepped like spec/helpers.lua H.handshake. Same modes and
-- output as bench/c/refloop.c, so the driver reads both alike:
--   lua wolfssl_mem.lua CERTDIR hs tls13-ecdsa|tls13-rsa|tls12-ecdsa SECONDS
--   lua wolfssl_mem.lua CERTDIR resume tls13|tls12 SECONDS
--   lua wolfssl_mem.lua CERTDIR bulk aesgcm|chacha SECONDS
--   lua wolfssl_mem.lua CERTDIR wire KIND     -> client bytes, server bytes of a full handshake
--                                              (every record, tickets included; mean of 32), group, flights
--   lua wolfssl_mem.lua CERTDIR heap NPAIRS       -> C heap/pair, Lua heap/pair, RSS KiB/1000 conns
--   lua wolfssl_mem.lua CERTDIR scale NPAIRS SECONDS -> handshakes/s, heap/pair
local wolfssl = require "wolfssl"
local core = require "wolfssl.core"
local common = require "common"

local certdir, mode, arg1, arg2 = ...
local now = common.now

local function contexts(kind, suites)
  return common.wolfssl_contexts(certdir, kind, suites)
end

-- flights: nil, or an array the sizes of the flights go to (client first)
local function handshake(c, s, flights)
  local cdone, sdone
  for _ = 1, 50 do
    if not cdone then
      local ok, err = c:handshake()
      if ok then cdone = true elseif err ~= "wantread" and err ~= "wantwrite" then error("client: " .. err) end
    end
    local out = c:drain()
    while #out > 0 do -- (DTLS: one datagram per drain)
      s:feed(out)
      if flights then flights[#flights + 1] = "c" .. #out end
      out = c:drain()
    end
    if not sdone then
      local ok, err = s:handshake()
      if ok then sdone = true elseif err ~= "wantread" and err ~= "wantwrite" then error("server: " .. err) end
    end
    out = s:drain()
    while #out > 0 do
      c:feed(out)
      if flights then flights[#flights + 1] = "s" .. #out end
      out = s:drain()
    end
    if cdone and sdone then return end
  end
  error("handshake did not finish")
end

local function pair(cctx, sctx, session)
  local c = cctx:new { server_name = "localhost", session = session }
  local s = sctx:new {}
  handshake(c, s)
  return c, s
end

local function rate(cctx, sctx, secs, session)
  local n, t0, t, go = 0, now(), nil, true
  while go do
    local c, s = pair(cctx, sctx, session)
    if session and not c:session_reused() then error("not resumed") end
    c:close(); s:close()
    n = n + 1
    go, t = common.more(n, t0, secs)
  end
  return n / (t - t0)
end

-- established idle pairs; the client reads once (takes its tickets)
local function open_pairs(cctx, sctx, n)
  local ps = {}
  for i = 1, n do
    local c, s = pair(cctx, sctx)
    assert(c:read() == nil)
    ps[i] = { c, s }
  end
  return ps
end

local function full_gc() collectgarbage("collect"); collectgarbage("collect") end

if mode == "hs" then
  local cctx, sctx = contexts(arg1)
  print(("%.1f"):format(rate(cctx, sctx, tonumber(arg2))))
elseif mode == "wire" then
  -- the mean of 32 handshakes: the ClientHello's size varies by 32 bytes from
  -- one to the next (with the ECH GREASE extension), the server's flight by a
  -- byte or two (the ECDSA signature); the flights are those of the first
  local cctx, sctx = contexts(arg1)
  local bytes, first, group = { c = 0, s = 0 }, nil, nil
  for _ = 1, 32 do
    local flights = {}
    local c, s = cctx:new { server_name = "localhost" }, sctx:new {}
    handshake(c, s, flights)
    for _, f in ipairs(flights) do bytes[f:sub(1, 1)] = bytes[f:sub(1, 1)] + tonumber(f:sub(2)) end
    first, group = first or table.concat(flights, " "), group or c:group()
    c:close(); s:close()
  end
  print(("%.0f %.0f %s %s"):format(bytes.c / 32, bytes.s / 32, group or "?", first))
elseif mode == "resume" then
  if not wolfssl.Connection.session then print("nan") return end
  local cctx, sctx = contexts(arg1)
  local c, s = pair(cctx, sctx)
  assert(c:read() == nil)
  local sess = assert(c:session())
  c:close(); s:close()
  print(("%.1f"):format(rate(cctx, sctx, tonumber(arg2), sess)))
elseif mode == "bulk" then
  local suite = ({ aesgcm = "TLS13-AES128-GCM-SHA256", chacha = "TLS13-CHACHA20-POLY1305-SHA256" })[arg1]
  local cctx, sctx = contexts("tls13-ecdsa", suite)
  local c, s = pair(cctx, sctx)
  local data = ("x"):rep(16384)
  local bytes, n, t0, t, go = 0, 0, now(), nil, true
  while go do
    for _ = 1, 16 do
      assert(c:write(data) == 16384)
      s:feed(c:drain())
      while true do
        local got = s:read()
        if not got then break end
        bytes = bytes + #got
      end
    end
    n = n + 1
    go, t = common.more(n, t0, tonumber(arg2))
  end
  print(("%.1f"):format(bytes / 1e6 / (t - t0)))
elseif mode == "heap" then
  local n = tonumber(arg1)
  local cctx, sctx = contexts("tls13-ecdsa")
  local c, s = pair(cctx, sctx); c:read(); c:close(); s:close()
  local ps = {}; for i = 1, n do ps[i] = false end -- the array is not per-pair cost
  full_gc()
  local h0, l0, r0 = core.heap_bytes(), collectgarbage("count"), common.rss_kib()
  ps = open_pairs(cctx, sctx, n)
  full_gc()
  local h1, l1, r1 = core.heap_bytes(), collectgarbage("count"), common.rss_kib()
  -- C heap excludes Lua's own heap (Lua allocates with realloc too): subtract it
  local lua_b = (l1 - l0) * 1024
  print(("%.0f %.0f %.0f"):format((h1 - h0 - lua_b) / n, lua_b / n, (r1 - r0) * 1000 / (2 * n)))
  for _, p in ipairs(ps) do p[1]:close(); p[2]:close() end
elseif mode == "scale" then
  local n, secs = tonumber(arg1), tonumber(arg2)
  local cctx, sctx = contexts("tls13-ecdsa")
  local c, s = pair(cctx, sctx); c:read(); c:close(); s:close()
  full_gc()
  local h0 = core.heap_bytes()
  local ps = open_pairs(cctx, sctx, n)
  full_gc()
  local h1 = core.heap_bytes()
  print(("%.1f %.0f"):format(rate(cctx, sctx, secs), (h1 - h0) / n))
  for _, p in ipairs(ps) do p[1]:close(); p[2]:close() end
else
  error("usage: wolfssl_mem.lua CERTDIR hs|resume|bulk|heap|scale ...")
end
