--- A very small Redis client (RESP2 over LuaSocket), enough for the tests and
-- the shared-session example: binary-safe commands, blocking, with a timeout.
-- Not part of lua-wolfssl: the binding itself knows nothing about Redis.
local socket = require "socket"

local M = {}
local R = {}
R.__index = R

--- Connect to host:port; returns a client or nil, message.
function M.connect(host, port, timeout)
  local sock = socket.tcp()
  sock:settimeout(timeout or 2)
  local ok, err = sock:connect(host, port)
  if not ok then sock:close() return nil, err end
  sock:setoption("tcp-nodelay", true)
  return setmetatable({ sock = sock }, R)
end

local function read_reply(sock)
  local line, err = sock:receive("*l")
  if not line then error("redis: " .. tostring(err), 0) end
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then return rest
  elseif kind == "-" then error("redis: " .. rest, 0)
  elseif kind == ":" then return tonumber(rest)
  elseif kind == "$" then
    local n = tonumber(rest)
    if n < 0 then return nil end
    local data = assert(sock:receive(n + 2))
    return data:sub(1, n)
  elseif kind == "*" then
    local n = tonumber(rest)
    if n < 0 then return nil end
    local t = {}
    for i = 1, n do t[i] = read_reply(sock) end
    return t
  end
  error("redis: bad reply " .. line, 0)
end

--- Send one command (strings/numbers), return its reply; errors raise.
function R:call(...)
  local args = { ... }
  local parts = { "*" .. #args .. "\r\n" }
  for _, a in ipairs(args) do
    a = tostring(a)
    parts[#parts + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  local ok, err = self.sock:send(table.concat(parts))
  if not ok then error("redis: " .. tostring(err), 0) end
  return read_reply(self.sock)
end

function R:close() self.sock:close() end

return M
