--- A TLS server that shares resumption with every other copy of itself
-- through one Redis: run it twice, on two ports, against the same Redis, and
-- a client's session made on one resumes on the other.
--
--   redis-server --port 6390 --save '' --appendonly no &
--   lua5.4 examples/shared-session-server.lua 8443 6390 &
--   lua5.4 examples/shared-session-server.lua 8444 6390 &
--   CA=spec/fixtures/certs/ca.pem
--   # TLS 1.2 session id, through session_store:
--   openssl s_client -connect 127.0.0.1:8443 -CAfile $CA -tls1_2 -no_ticket -sess_out s </dev/null
--   openssl s_client -connect 127.0.0.1:8444 -CAfile $CA -tls1_2 -no_ticket -sess_in s </dev/null  # "Reused"
--   # TLS 1.3 ticket, through the shared ticket keys (stdin kept open a moment
--   # so that s_client reads the ticket):
--   openssl s_client -connect 127.0.0.1:8443 -CAfile $CA -sess_out t < <(sleep 0.5)
--   openssl s_client -connect 127.0.0.1:8444 -CAfile $CA -sess_in t < <(sleep 0.5)           # "Reused"
--
-- Run it from the project's top folder, with LUA_PATH / LUA_CPATH pointing at
-- lua/ and the built module (as `make test` does).
--
-- * TLS 1.2 session ids: `session_store` keeps each session in Redis under
--   `tls:sess:<id>` (SET ... EX timeout; Redis expires them, so no remove
--   bookkeeping is needed beyond damaged entries).
--   The sessions carry a MAC under the fleet's session key (`tls:session_key`,
--   made by the first server): an entry no server wrote is a cache miss.
-- * Tickets (TLS 1.3 and 1.2): every server encrypts with the same keys, read
--   from the Redis list `tls:ticket_keys` (hex, newest first). To rotate, LPUSH a
--   new key (`wolfssl.session.new_ticket_key()`); to retire one, LTRIM it off.
--   Servers re-read the list before each connection (a real server would do it
--   every few seconds). If the list is empty the first server creates it.
-- * Redis may go away: every call to it is protected, and the connection is
--   made again on the next call. While it is down, sessions just miss (a full
--   handshake) and the ticket keys in hand stay in use; when it is back, both
--   work again. (A server started while Redis is down makes its own keys and
--   shares them once Redis is back, if Redis has none yet.)
--
-- * Early data (TLS 1.3 0-RTT, where the build has it): the first server
--   that sees a first flight claims its id in Redis (SET tls:early-<hex> NX
--   EX timeout); a replay of the same bytes to any server finds the claim
--   and its early data is dropped (README "Early data").
--
-- A client that misbehaves (garbage, a stall of STEP_TIMEOUT seconds, a close
-- without close_notify) costs one line on stderr; the next client is served.
--
-- Each connection gets one line back: "reused=<true|false> version=<v> port=<p>
-- early=<accepted|rejected|none>" (its first line may come as early data).
-- The sessions and keys in Redis are secret key material: protect that Redis.
-- (Uses spec/support/resp.lua, a tiny Redis client; any Redis client works.)
package.path = "spec/support/?.lua;" .. package.path
local wolfssl = require "wolfssl"
local socket = require "socket"
local resp = require "resp"

local PORT = tonumber(arg[1]) or 8443
local REDIS_PORT = tonumber(arg[2]) or 6379
local CERT = os.getenv("CERT") or "spec/fixtures/certs/server.pem"
local KEY = os.getenv("KEY") or "spec/fixtures/certs/server.key"
local TIMEOUT = 300 -- seconds a session may be resumed
local STEP_TIMEOUT = tonumber(os.getenv("STEP_TIMEOUT")) or 5 -- seconds a client may stall

local function log(...) io.stderr:write(("[%d] "):format(PORT), string.format(...), "\n") end

local function tohex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

-- One Redis command: true, its reply; or nil while Redis is unreachable. The
-- connection is made on first use and again after any failure.
local redis, redis_down
local function rcall(...)
  if not redis then
    local err
    redis, err = resp.connect("127.0.0.1", REDIS_PORT, 0.5)
    if not redis then
      if not redis_down then log("redis unreachable (%s): sessions miss until it is back", tostring(err)) end
      redis_down = true
      return nil
    end
    if redis_down then log("redis is back") end
    redis_down = false
  end
  local ok, reply = pcall(redis.call, redis, ...)
  if ok then return true, reply end
  log("redis failed (%s): sessions miss until it is back", tostring(reply))
  redis:close()
  redis, redis_down = nil, true
  return nil
end

-- ticket keys: shared through Redis, newest first; nil while Redis is down
local current
local function ticket_keys()
  local ok, keys = rcall("LRANGE", "tls:ticket_keys", 0, -1)
  if ok and #keys == 0 then -- the first server up shares the key it has
    ok = rcall("RPUSH", "tls:ticket_keys", current and current[1] or tohex(wolfssl.session.new_ticket_key()))
    if ok then ok, keys = rcall("LRANGE", "tls:ticket_keys", 0, -1) end
  end
  return ok and keys or nil
end

current = ticket_keys() or { tohex(wolfssl.session.new_ticket_key()) }

-- the session key: every exported session carries a MAC under it, so a server
-- takes from Redis only sessions a server of this fleet wrote (the first
-- server up makes it). While Redis cannot say, the process's own random key
-- stays in use: its sessions are then a miss for the other servers.
local session_key
local function reload_session_key()
  local ok = rcall("SETNX", "tls:session_key", session_key or tohex(wolfssl.session.new_ticket_key()))
  local key
  if ok then ok, key = rcall("GET", "tls:session_key") end
  if ok and key and key ~= session_key then
    local set, err = pcall(wolfssl.session.set_key, key)
    if set then session_key = key else log("session key in redis refused: %s", tostring(err)) end
  end
end
reload_session_key()

local ctx = assert(wolfssl.context{
  mode = "server", certificate = CERT, key = KEY,
  session_timeout = TIMEOUT,
  ticket_keys = current,
  -- TLS 1.3 early data (where the build has it): a replayed first flight
  -- is delivered to at most one server of the fleet (see get)
  max_early_data = wolfssl.features.early_data and 16384 or nil,
  session_store = {
    get = function(id)
      if id:match("^early%-") then
        -- a 0-RTT flight's id: claim it atomically. nil = this server took
        -- it; anything else (taken by another server, Redis down) = the
        -- early data is dropped
        local ok, set = rcall("SET", "tls:" .. id, "used", "NX", "EX", TIMEOUT)
        if ok and set == "OK" then return nil end
        return "taken"
      end
      local _, der = rcall("GET", "tls:sess:" .. id)
      return der
    end,
    put = function(id, der)
      if id:match("^early%-") then return end -- (get claimed it)
      rcall("SET", "tls:sess:" .. id, der, "EX", TIMEOUT)
    end,
    remove = function(id) rcall("DEL", "tls:sess:" .. id) end,
  },
})

local function reload_keys()
  reload_session_key()
  local keys = ticket_keys()
  if keys and table.concat(keys, ",") ~= table.concat(current, ",") then
    local ok, err = pcall(ctx.set_ticket_keys, ctx, keys)
    if ok then
      current = keys
      log("ticket keys now %d (newest %s...)", #keys, keys[1]:sub(1, 8))
    else
      log("ticket keys in redis refused: %s", tostring(err))
    end
  end
end

-- Step a non-blocking call until done, waiting on the socket (bounded).
local function step(sock, f, ...)
  local deadline = socket.gettime() + STEP_TIMEOUT
  while true do
    local r, err, code = f(...)
    if r or (err ~= "wantread" and err ~= "wantwrite") then return r, err, code end
    if socket.gettime() > deadline then return nil, "timeout" end
    if err == "wantread" then socket.select({ sock }, nil, 0.5) else socket.select(nil, { sock }, 0.5) end
  end
end

local server = assert(socket.bind("127.0.0.1", PORT))
log("listening; redis on %d", REDIS_PORT)
while true do
  local sock = server:accept()
  if sock then
    sock:settimeout(0)
    reload_keys()
    local conn = ctx:new{ fd = sock:getfd() }
    local ok, err = step(sock, conn.handshake, conn)
    if ok then
      local line, rerr = step(sock, conn.read, conn)
      if not line then
        log("connection ended before its line: %s", rerr == "truncated"
          and "closed without close_notify (truncated)" or tostring(rerr))
      else
        step(sock, conn.write, conn, ("reused=%s version=%s port=%d early=%s\n"):format(
          tostring(conn:session_reused()), conn:version(), PORT, conn:early_data()))
        -- the clean close: our close_notify, then the client's (it reads its
        -- TLS 1.3 ticket meanwhile); only then the socket
        step(sock, conn.shutdown, conn)
      end
    else
      log("handshake failed: %s (early data %s)", tostring(err), conn:early_data())
    end
    conn:close()
    sock:close()
  end
end
