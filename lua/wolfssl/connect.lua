--- A verifying TLS client in one call, for blocking use.
--
--     local conn = assert(wolfssl.connect("example.com", 443))
--     conn:write("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n")
--     print(conn:read())
--     conn:close()                 -- closes the socket too
--
-- @module wolfssl.connect
local socket = require "socket"
local core = require "wolfssl.core"

local M = {}

--- Connect (LuaSocket TCP), then run a verifying handshake, waiting up to
-- `timeout` seconds for each step.
-- @tparam string host name or address (also the name checked, unless `server_name`)
-- @tparam integer port
-- @tparam[opt] table opts any `wolfssl.context` option (`mode` is "client"),
-- plus `timeout` (seconds each call of the connection may wait: 30 by
-- default, `math.huge` for no limit) and `server_name` (default `host`)
-- @return a connection in fd mode with its handshake done, whose `close()`
-- closes the socket too; or nil, a message (and a code)
function M.connect(host, port, opts)
  if type(host) ~= "string" or host == "" then
    error(("bad argument #1 to 'connect' (host name expected, got %s)"):format(type(host)), 2)
  end
  local p = tonumber(port)
  if not p or p % 1 ~= 0 or p < 1 or p > 65535 then
    error(("bad argument #2 to 'connect' (port from 1 to 65535 expected, got %s)"):format(tostring(port)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #3 to 'connect' (table expected, got %s)"):format(type(opts)), 2)
  end
  local wolfssl = require "wolfssl"
  local o, timeout, server_name = { mode = "client" }, 30, host
  for k, v in pairs(opts or {}) do
    if k == "timeout" then timeout = v
    elseif k == "server_name" then server_name = v
    else o[k] = v end
  end
  if o.mode ~= "client" then error("bad option 'mode' to 'connect': a client only (got " .. tostring(o.mode) .. ")", 2) end
  if type(timeout) ~= "number" or timeout < 0 then
    error(("bad option 'timeout' to 'connect': expected seconds (got %s)"):format(tostring(timeout)), 2)
  end
  local ctx, err = wolfssl.context(o)
  if not ctx then return nil, err end

  local sock = socket.tcp()
  sock:settimeout(timeout ~= math.huge and timeout or nil)
  local ok, cerr = sock:connect(host, p)
  if not ok then
    sock:close()
    return nil, ("cannot connect to %s port %d: %s"):format(host, p, tostring(cerr))
  end
  local conn, nerr = ctx:new{ fd = sock:getfd(), server_name = server_name, timeout = timeout }
  if not conn then
    sock:close()
    return nil, nerr
  end
  core.conn_own_fd(conn) -- the connection closes the descriptor from now on
  sock:setfd(-1)
  local done, herr, code = conn:handshake()
  if not done then
    conn:close()
    return nil, herr, code
  end
  return conn
end

return M
