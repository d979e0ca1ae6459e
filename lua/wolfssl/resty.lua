--- TLS over OpenResty / nginx-lua cosockets (`ngx.socket.tcp`), in memory mode.
-- wolfSSL never touches the socket: this module moves the bytes between the
-- connection (`feed`/`drain`) and the cosocket, so every wait yields to nginx.
--
--     local resty = require "wolfssl.resty"
--     local ctx = resty.context{ mode = "client", cafile = "/etc/ssl/ca.pem", alpn = { "http/1.1" } }
--     local sock = ngx.socket.tcp()
--     sock:settimeout(5000)
--     assert(sock:connect("127.0.0.1", 8443))
--     local tls = resty.wrap(sock, ctx, { server_name = "example.com" })
--     local ok, err = tls:handshake()
--     if not ok then ngx.log(ngx.ERR, "TLS: ", err) return ngx.exit(502) end
--     tls:send("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n")
--     local line = tls:receive("*l")
--     tls:setkeepalive()  -- keeps the TLS session for the next request
--
-- Sessions: `wrap` looks a session up in a per-worker cache and resumes it;
-- `close` and `setkeepalive` store the newest session there. The cache is kept
-- per context and keyed by the server name, the cosocket's peer (host:port,
-- when the cosocket tells it) and `session_key` (use it to tell upstreams
-- apart, e.g. "host:port"): a session is only offered to the context that
-- made it, for the same name. A session made under other trust settings is
-- refused anyway (DESIGN.md "Sessions carry their trust"). The cosocket itself
-- is not pooled: a TLS stream cannot be handed to the next request, a session can.
-- @module wolfssl.resty
local wolfssl = require "wolfssl"

local M = {}

local CHUNK = 16384

-- Per-worker session caches: context -> {keys = {...}, [key] = session}
-- (bounded per context; a context that is gone takes its cache with it).
local caches, CACHE_MAX = setmetatable({}, { __mode = "k" }), 256

local function cache_of(ctx)
  local c = caches[ctx]
  if not c then
    c = { keys = {}, sessions = {} }
    caches[ctx] = c
  end
  return c
end

local function cache_put(ctx, key, sess)
  local c = cache_of(ctx)
  if c.sessions[key] == nil then
    c.keys[#c.keys + 1] = key
    if #c.keys > CACHE_MAX then
      c.sessions[table.remove(c.keys, 1)] = nil
    end
  end
  c.sessions[key] = sess
end

-- The cache key of a connection: server name, peer address, session_key.
local function cache_key(sock, opts)
  if opts.session_key == false then return nil end
  local peer = ""
  if type(sock.getpeername) == "function" then
    local ok, host, port = pcall(sock.getpeername, sock)
    if ok and host then peer = tostring(host) .. ":" .. tostring(port) end
  end
  return table.concat({ opts.server_name or "", peer, tostring(opts.session_key or "") }, "\0")
end

--- Make a context: the same options as `wolfssl.context`.
-- @tparam table o context options
-- @return a context, or nil and a message
function M.context(o)
  return wolfssl.context(o)
end

--- Forget every cached session (e.g. after rotating trust settings).
function M.flush_sessions()
  caches = setmetatable({}, { __mode = "k" })
end

--- A TLS stream over a cosocket (the result of `wrap`).
-- @type TLS
local TLS = {}
TLS.__index = TLS

local function check(self)
  if self.closed then error("attempt to use a closed connection", 3) end
  return self
end

-- Send everything wolfSSL queued. Returns true or nil, err.
local function flush(self)
  local out = self.conn:drain()
  if #out == 0 then return true end
  local n, err = self.sock:send(out)
  if not n then return nil, err end
  return true
end

-- Read what the peer sent and feed it. Returns true or nil, err.
local function pull(self)
  local sock = self.sock
  local data, err
  if sock.receiveany then
    data, err = sock:receiveany(CHUNK)
  else
    data, err = sock:receive(1) -- old nginx-lua: byte by byte is slow but correct
  end
  if not data then
    if err == "closed" then self.conn:feed_eof(); return true end
    return nil, err
  end
  self.conn:feed(data)
  return true
end

-- Run a wolfSSL step until it is done, moving bytes meanwhile.
local function drive(self, step)
  while true do
    local r, err, code = step()
    local ok, ferr = flush(self)
    if not ok then return nil, ferr end
    if r then return r end
    if err == "wantread" then
      local pok, perr = pull(self)
      if not pok then return nil, perr end
    elseif err ~= "wantwrite" then
      return nil, err, code
    end
  end
end

--- Run the handshake.
-- @return true, or nil and a message ("certificate verify failed: ...",
-- "hostname mismatch: ...", "timeout", "closed", ...)
function TLS:handshake()
  check(self)
  local conn = self.conn
  local ok, err, code = drive(self, function() return conn:handshake() end)
  if not ok then return nil, err, code end
  return true
end

--- Send data; the handshake runs first if needed.
-- @return bytes sent, or nil and a message
function TLS:send(data)
  check(self)
  if type(data) == "table" then data = table.concat(data) end
  if type(data) ~= "string" then
    error(("bad argument #1 to 'send' (string expected, got %s)"):format(type(data)), 2)
  end
  if #data == 0 then return 0 end
  local conn, pos, len = self.conn, 1, #data
  while pos <= len do
    local n, err = drive(self, function() return conn:write(data, pos, len) end)
    if not n then return nil, err end
    pos = pos + n
  end
  return len
end

-- The stream ends with "closed" (the peer's close_notify), "truncated" (the
-- cosocket ended without one: data may have been cut) or "connection reset".
local ENDS = { closed = true, truncated = true, ["connection reset"] = true }

local function fill(self)
  if self.eof then return nil, self.eof end
  local conn = self.conn
  local data, err = drive(self, function() return conn:read(CHUNK) end)
  if not data then
    if ENDS[err] then self.eof = err end
    return nil, err
  end
  self.buf = self.buf .. data
  return true
end

--- Receive, with cosocket patterns: "*l" (a line, CR dropped), "*a" (until the
-- peer's close_notify), or a byte count.
-- @return data, or nil, err, partial (err "truncated" when the stream ended
-- without close_notify: "*a" then returns nil, "truncated", all the data)
-- receive could not finish: nil, err and what was buffered (cosocket style)
local function give_up(self, err)
  local partial = self.buf
  self.buf = ""
  return nil, err, partial
end

function TLS:receive(pattern)
  check(self)
  pattern = pattern or "*l"
  if type(pattern) == "number" then
    while #self.buf < pattern do
      local ok, err = fill(self)
      if not ok then return give_up(self, err) end
    end
    local s = self.buf:sub(1, pattern)
    self.buf = self.buf:sub(pattern + 1)
    return s
  elseif pattern == "*l" or pattern == "l" then
    while true do
      local nl = self.buf:find("\n", 1, true)
      if nl then
        local line = self.buf:sub(1, nl - 1):gsub("\r", "")
        self.buf = self.buf:sub(nl + 1)
        return line
      end
      local ok, err = fill(self)
      if not ok then return give_up(self, err) end
    end
  elseif pattern == "*a" or pattern == "a" then
    while true do
      local ok, err = fill(self)
      if not ok then
        local all = self.buf
        self.buf = ""
        if err == "closed" then return all end
        return nil, err, all
      end
    end
  end
  error("bad argument #1 to 'receive' (bad pattern argument)", 2)
end

--- Receive whatever is available, up to max bytes (at least one byte).
function TLS:receiveany(max)
  check(self)
  if #self.buf == 0 then
    local ok, err = fill(self)
    if not ok then return nil, err end
  end
  local s = self.buf:sub(1, max)
  self.buf = self.buf:sub(#s + 1)
  return s
end

--- The `wolfssl.Connection` underneath (version, cipher, alpn, peer_certificate, ...).
function TLS:connection()
  check(self)
  return self.conn
end

--- The current session (for your own cache), or nil.
function TLS:session()
  check(self)
  if not self.conn.session then return nil end
  return self.conn:session()
end

local function save_session(self)
  if self.session_key and self.conn.session then
    local sess = self.conn:session()
    if sess then cache_put(self.ctx, self.session_key, sess) end
  end
end

--- The clean close: send close_notify and wait for the peer's (as the
-- cosocket's timeout allows), so that no byte is lost either way; keep the
-- session for the next `wrap` with the same key; close the cosocket.
function TLS:close()
  if self.closed then return 1 end
  save_session(self)
  local conn = self.conn
  pcall(drive, self, function() return conn:shutdown() end)
  conn:close()
  self.closed = true
  return self.sock:close()
end

--- Keepalive, the TLS way: the session is kept (so the next connection
-- resumes with an abbreviated handshake) and the stream is closed cleanly.
-- Arguments are accepted for `setkeepalive(timeout, size)` compatibility.
function TLS:setkeepalive()
  self:close()
  return 1
end

--- Set the cosocket's timeout (milliseconds), as `sock:settimeout`.
function TLS:settimeout(ms)
  check(self)
  return self.sock:settimeout(ms)
end

--- Wrap a connected cosocket.
-- @param sock a connected `ngx.socket.tcp()` (anything with send/receive/close)
-- @param ctx a client or server `wolfssl.context` (or context options)
-- @tparam[opt] table opts `server_name` (SNI and the name the certificate must
-- match), `alpn`, `session` (a session object to resume), `session_key`
-- (added to the cache key, which is per context and holds the server name and
-- the peer; false: no cache)
-- @return a TLS object
function M.wrap(sock, ctx, opts)
  if (type(sock) ~= "table" and type(sock) ~= "userdata") or type(sock.send) ~= "function" then
    error("bad argument #1 to 'wrap' (cosocket expected)", 2)
  end
  if type(ctx) == "table" then ctx = assert(wolfssl.context(ctx)) end
  if type(ctx) ~= "userdata" or type(ctx.new) ~= "function" then
    error("bad argument #2 to 'wrap' (context expected)", 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("bad argument #3 to 'wrap' (table expected, got %s)"):format(type(opts)), 2)
  end
  for k in pairs(opts) do
    if k ~= "server_name" and k ~= "alpn" and k ~= "session" and k ~= "session_key" then
      error(("bad argument #3 to 'wrap' (unknown option '%s')"):format(tostring(k)), 2)
    end
  end
  local key = cache_key(sock, opts)
  local session = opts.session
  if session == nil and key then session = cache_of(ctx).sessions[key] end
  local conn = ctx:new{ server_name = opts.server_name, alpn = opts.alpn }
  -- a session that does not fit (trust, name, version, expired) means a full handshake
  if session and conn.set_session then conn:set_session(session) end
  return setmetatable({ sock = sock, conn = conn, ctx = ctx, buf = "", session_key = key }, TLS)
end

return M
