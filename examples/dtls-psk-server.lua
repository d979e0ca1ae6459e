-- A DTLS echo server with a pre-shared key (the IoT case: CoAP, LwM2M): one
-- UDP socket serves many devices, wolfSSL in memory mode, one connection per
-- peer address. New peers go through one listening connection that answers
-- ClientHellos with a stateless cookie (conn:listen): a spoofed source
-- address gets one small reply and no state. Retransmissions run on the
-- loop's clock (conn:timeout / conn:handle_timeout). On libuv when luv is
-- installed, else on LuaSocket.
--
--   lua5.4 examples/dtls-psk-server.lua [port [max_peers_then_exit]]
--
-- Each datagram a device sends comes back as "pong <data>". Try it with
--   lua5.4 examples/dtls-psk-client.lua 5684 hello
--   openssl s_client -dtls1_2 -connect 127.0.0.1:5684 -psk 73656372657420666f7220646576696365 -psk_identity device1
local wolfssl = require "wolfssl"

local port = tonumber(arg[1]) or 5684
local stop_after = tonumber(arg[2]) -- (for the test: exit after that many peers said bye)
local KEYS = { device1 = "secret for device" } -- identity -> key

local ctx = assert(wolfssl.context {
  mode = "server", dtls = true, psk = { hint = "dtls example", keys = KEYS },
})

local peers = {}    -- "ip:port" -> connection, once its cookie checked
local listener      -- the connection that answers new peers (features.dtls_listen)
local done = 0

-- what the loop gives us: send(addr_string, datagram), stop()
local send, stop

local function flush(conn, addr)
  while true do
    local d = conn:drain()
    if d == "" then return end
    send(addr, d)
  end
end

local function step(conn, addr)
  if not conn.data.ready then
    local ok, err = conn:handshake()
    flush(conn, addr)
    if not ok then
      if err ~= "wantread" then
        io.stderr:write(addr, ": handshake failed: ", tostring(err), "\n")
        peers[addr] = nil
        conn:close()
      end
      return
    end
    conn.data.ready = true
    print(addr .. ": " .. conn:version() .. " " .. conn:cipher())
  end
  while true do
    local data, err = conn:read()
    if not data then
      if err ~= "wantread" then -- "closed" (the device said bye) or a failure
        peers[addr] = nil
        conn:close()
        done = done + 1
        if stop_after and done >= stop_after then stop() end
        return
      end
      break
    end
    conn:write("pong " .. data)
  end
  flush(conn, addr)
end

local function datagram(addr, d)
  local conn = peers[addr]
  if conn then
    conn:feed(d)
  elseif wolfssl.features.dtls_listen then
    listener = listener or ctx:new {}
    local ok = listener:listen(d, addr)
    flush(listener, addr) -- the cookie (or nothing)
    if not ok then return end
    conn, listener = listener, nil -- the cookie checked: this peer's from now on
    peers[addr] = conn
  else -- (wolfSSL 5.5.4: no stateless accept; a connection per address)
    conn = ctx:new {}
    peers[addr] = conn
    conn:feed(d)
  end
  step(conn, addr)
end

-- the retransmissions that are due; returns seconds until the next one (or nil)
local function timers()
  local next_due
  for addr, conn in pairs(peers) do
    local t = conn:timeout()
    if t == 0 then
      if conn:handle_timeout() then
        flush(conn, addr)
      else
        peers[addr] = nil
        conn:close()
      end
      t = conn:timeout()
    end
    if t and (not next_due or t < next_due) then next_due = t end
  end
  return next_due
end

local ok_luv, uv = pcall(require, "luv")
if ok_luv then
  local udp = uv.new_udp()
  assert(udp:bind("127.0.0.1", port))
  local timer = uv.new_timer()
  local function rearm()
    local t = timers()
    timer:stop()
    if t then timer:start(math.ceil(t * 1000), 0, rearm) end
  end
  send = function(addr, d)
    local ip, p = addr:match("^(.*):(%d+)$")
    udp:send(d, ip, tonumber(p))
  end
  stop = function() timer:close() udp:close() end
  udp:recv_start(function(err, d, from)
    if err or not d or not from then return end
    datagram(from.ip .. ":" .. from.port, d)
    rearm()
  end)
  print("DTLS PSK server on udp 127.0.0.1:" .. port .. " (luv)")
  io.stdout:flush()
  uv.run()
else
  local socket = require "socket"
  local udp = assert(socket.udp())
  assert(udp:setsockname("127.0.0.1", port))
  local running = true
  send = function(addr, d)
    local ip, p = addr:match("^(.*):(%d+)$")
    udp:sendto(d, ip, tonumber(p))
  end
  stop = function() running = false end
  print("DTLS PSK server on udp 127.0.0.1:" .. port .. " (LuaSocket)")
  io.stdout:flush()
  while running do
    udp:settimeout(timers() or 1)
    local d, ip, p = udp:receivefrom()
    if d then datagram(ip .. ":" .. p, d) end
  end
  udp:close()
end
