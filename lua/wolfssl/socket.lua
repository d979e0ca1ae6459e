--- LuaSec's API over LuaSocket, on wolfSSL.
-- Code written for LuaSec (`require "ssl"`) switches by one `require`:
--
--     local ssl = require "wolfssl.socket"
--     local conn = assert(ssl.wrap(socket.connect(host, port), {
--       mode = "client", protocol = "any", verify = "peer", cafile = "ca.pem" }))
--     conn:sni(host)               -- also turns hostname checking on
--     assert(conn:dohandshake())
--     conn:send("GET / HTTP/1.0\r\n\r\n")
--     print(conn:receive("*l"))
--
-- Return values and error strings are LuaSec's: `dohandshake` gives `true` or
-- `false, msg`; `receive` gives data or `nil, err, partial`; `send` gives the
-- last index sent or `nil, err, last`; a timeout reports `"wantread"` /
-- `"wantwrite"` as LuaSec does, the end of the stream `"closed"`.
--
-- Where LuaSec is unsafe this module is not bug-compatible:
--
-- * a client context verifies the peer by default (`verify = "peer"`; pass
--   `verify = "none"` to opt out), and with no `cafile`/`capath` trusts the
--   system store;
-- * `sni(name)` on a client also checks the certificate against that name;
-- * any method after `close()` (except `close` itself) raises
--   "attempt to use a closed connection".
-- @module wolfssl.socket
local socket = require "socket"
local wolfssl = require "wolfssl"
local core = require "wolfssl.core"
local opts = require "wolfssl.check"
local sx509 = require "wolfssl.socket_x509"
local x509 = require "wolfssl.x509"

local M = {
  _VERSION = "1.2.0",          -- the LuaSec API level this module follows
  _COPYRIGHT = "lua-wolfssl " .. wolfssl.VERSION .. ", wolfSSL " .. wolfssl.WOLFSSL_VERSION,
}

--- Mirrors `ssl.config`: what this build can do.
M.config = {
  protocols = { any = true, tlsv1_2 = true, tlsv1_3 = wolfssl.features.tls13 and true or nil },
  algorithms = { ec = true },
  capabilities = { alpn = wolfssl.features.alpn ~= false, curves_list = true,
    psk = wolfssl.features.psk and true or nil },
  options = {},
}

-- Extra facts about contexts made by newcontext (weak: contexts are collected).
local ctxinfo = setmetatable({}, { __mode = "k" })

local PROTOCOLS = {
  any = { nil, nil }, sslv23 = { nil, nil },
  tlsv1_2 = { "tls1.2", "tls1.2" }, tlsv1_3 = { "tls1.3", "tls1.3" },
  tlsv1 = { "tls1.0", "tls1.0" }, tlsv1_1 = { "tls1.1", "tls1.1" },
}
-- Versions a build may lack, and those nobody may use: LuaSec's nil, "invalid
-- protocol (...)", with why and what to use instead
local OBSOLETE = {
  tlsv1 = { "tls1_0", "TLS 1.0" }, tlsv1_1 = { "tls1_1", "TLS 1.1" },
  sslv3 = { false, "SSL 3.0" }, sslv2 = { false, "SSL 2.0" },
}

local function protocol_error(proto)
  local o = OBSOLETE[proto]
  local use = 'use "tlsv1_2", "tlsv1_3" or "any"'
  if not o then return ("invalid protocol (%s): %s"):format(proto, use) end
  if o[1] == false then
    return ("invalid protocol (%s): %s is obsolete and insecure; %s"):format(proto, o[2], use)
  end
  return ("invalid protocol (%s): %s is obsolete and insecure, and this wolfSSL build does not offer it; %s")
    :format(proto, o[2], use)
end

-- LuaSec `options`. Each either sets something or is already how wolfSSL
-- behaves (the reason is given); anything else is an error.
local OPTIONS = {
  all = "bug workarounds: nothing to turn on in wolfSSL",
  no_sslv2 = "never supported", no_sslv3 = "never supported",
  no_compression = "wolfSSL does not compress",
  single_ecdh_use = "ephemeral keys are fresh for every handshake",
  single_dh_use = "ephemeral keys are fresh for every handshake",
  cipher_server_preference = "accepted",
  no_renegotiation = "wolfSSL does not renegotiate",
  no_tlsv1 = "tls1.0", no_tlsv1_1 = "tls1.1", no_tlsv1_2 = "tls1.2", no_tlsv1_3 = "tls1.3",
  no_ticket = "session tickets",
}

local function bad(key, why, value)
  opts.bad(key, why, 4, value)
end

-- LuaSec's (1.3) `psk`: a client's `function(hint, max_identity_len,
-- max_psk_len) -> identity, psk`, a server's `function(identity, max_psk_len)
-- -> psk | nil` or `{hint =, callback =}`; it becomes on_psk. Returns the
-- server's hint.
local MAX_PSK_IDENTITY, MAX_PSK = 127, 64 -- what wolfSSL takes
local function psk(v, mode, o)
  if not wolfssl.features.psk then opts.bad("psk", "PSK is not supported by this wolfSSL build", 5) end
  local cb, hint = v, nil
  if type(v) == "table" and mode == "server" then
    cb, hint = v.callback, v.hint
    if hint ~= nil and (type(hint) ~= "string" or hint == "" or hint:find("%z")) then
      opts.bad("psk", "hint must be a non-empty string without NUL bytes", 5, hint)
    end
  end
  if type(cb) ~= "function" then
    opts.bad("psk", mode == "server" and "expected a function or {hint =, callback = function}"
      or "expected a function", 5, cb)
  end
  if mode == "server" then
    o.on_psk = function(_, identity) return cb(identity, MAX_PSK) end
  else
    o.on_psk = function(_, server_hint) return cb(server_hint, MAX_PSK_IDENTITY, MAX_PSK) end
  end
  return hint
end

local function to_list(key, v)
  if type(v) == "string" then return { v } end
  if type(v) ~= "table" then bad(key, "expected a string or an array of strings", v) end
  return v
end

--- Make a context from LuaSec parameters.
-- Keys: `mode` ("client"|"server", required), `protocol` ("any", "tlsv1_2",
-- "tlsv1_3"), `key`, `certificate`, `password`, `cafile`, `capath`,
-- `verify` ("none", "peer", or an array such as `{"peer", "fail_if_no_peer_cert"}`),
-- `options` (array: "all", "no_sslv3", "no_tlsv1_2", "no_ticket", ...),
-- `ciphers`, `ciphersuites`, `curveslist` / `curve`, `depth`, `alpn`
-- (client: a string or an array; server: an array), `certificates`
-- (an array with one `{certificate=, key=, password=}`), `psk` (LuaSec 1.3's: a
-- client's `function(hint, max_identity_len, max_psk_len)` returning identity and
-- key, a server's `function(identity, max_psk_len)` returning the key or nil, or
-- `{hint =, callback =}`).
-- A key LuaSec does not know raises; a key LuaSec knows but wolfSSL cannot honour
-- (`dhparam`, `dane`, `verifyext`) raises too, naming it.
-- @tparam table params LuaSec parameters
-- @return a `wolfssl.context`, or nil and a message (file not readable, key mismatch, ...)
function M.newcontext(params)
  if type(params) ~= "table" then
    error(("bad argument #1 to 'newcontext' (table expected, got %s)"):format(type(params)), 2)
  end
  local known = { "mode", "protocol", "key", "certificate", "password", "cafile", "capath",
    "verify", "options", "ciphers", "ciphersuites", "curveslist", "curve", "depth", "alpn",
    "certificates", "dhparam", "dane", "verifyext", "host", "psk" }
  opts.check_keys("newcontext", params, known)
  for _, k in ipairs({ "dhparam", "dane", "verifyext" }) do
    if params[k] ~= nil then
      bad(k, "is not supported by wolfssl.socket (wolfSSL has no equivalent; remove it)")
    end
  end
  local mode = params.mode
  if mode ~= "client" and mode ~= "server" then bad("mode", 'expected "client" or "server"', mode) end
  local o = { mode = mode }

  local proto = params.protocol or "any"
  if type(proto) ~= "string" then bad("protocol", 'expected "any", "tlsv1_2" or "tlsv1_3"', proto) end
  local range = PROTOCOLS[proto]
  if not range or (OBSOLETE[proto] and not wolfssl.features[OBSOLETE[proto][1]]) then
    return nil, protocol_error(proto)
  end
  o.min_version, o.max_version = range[1], range[2]
  if params.host ~= nil and (type(params.host) ~= "string" or params.host == "") then
    bad("host", "expected the server's name (a non-empty string)", params.host)
  end

  local cert, key, password = params.certificate, params.key, params.password
  if params.certificates ~= nil then
    local list = params.certificates
    if type(list) ~= "table" or #list ~= 1 or type(list[1]) ~= "table" then
      bad("certificates", "wolfssl.socket takes exactly one {certificate=, key=, password=}")
    end
    cert, key, password = list[1].certificate, list[1].key, list[1].password
  end
  if password ~= nil and type(password) ~= "string" and type(password) ~= "function" then
    return nil, "invalid password type"
  end
  o.certificate, o.key, o.password = cert, key, password
  o.cafile, o.capath = params.cafile, params.capath

  -- verify: LuaSec's default is "none" for both sides; ours is "peer" for clients
  local verify = params.verify
  if verify == nil then
    o.verify = (mode == "client") and "peer" or "none"
  else
    local v = {}
    for _, f in ipairs(to_list("verify", verify)) do
      if f ~= "none" and f ~= "peer" and f ~= "fail_if_no_peer_cert" and f ~= "client_once" then
        bad("verify", 'expected "none", "peer", "fail_if_no_peer_cert" or "client_once"', f)
      end
      v[f] = true
    end
    if v.fail_if_no_peer_cert and mode == "server" then o.verify = "require"
    elseif v.peer or v.fail_if_no_peer_cert then o.verify = "peer"
    else o.verify = "none" end
  end
  -- hostname checks happen per connection, only once sni(name) gave a name
  if mode == "client" then o.check_hostname = o.verify ~= "none" end
  if o.verify ~= "none" and params.depth ~= nil then
    if type(params.depth) ~= "number" then bad("depth", "expected an integer", params.depth) end
    o.verify_depth = params.depth
  end

  if params.options ~= nil then
    for _, name in ipairs(to_list("options", params.options)) do
      local what = OPTIONS[name]
      if not what then bad("options", "unknown or unsupported option", name) end
      if name == "no_ticket" then o.session_tickets = false
      elseif name:match("^no_tlsv1") then
        -- drop a version at the edge of the range
        if what == "tls1.2" then
          if (o.min_version or "tls1.2") == "tls1.2" then o.min_version = "tls1.3" end
        elseif what == "tls1.3" then
          if (o.max_version or "tls1.3") == "tls1.3" then o.max_version = "tls1.2" end
        end
      end
    end
    if o.min_version and o.max_version and o.min_version > o.max_version then
      return nil, "no protocol version left after options"
    end
  end

  o.ciphers, o.ciphersuites = params.ciphers, params.ciphersuites
  if params.curveslist ~= nil or params.curve ~= nil then
    o.groups = params.curveslist or params.curve
  end

  local alpn = params.alpn
  if alpn ~= nil then
    if type(alpn) == "function" then
      if mode ~= "server" then return nil, "invalid ALPN parameter" end
      o.on_alpn = function(_, offered)
        local r = alpn(offered)
        if type(r) == "table" then
          local set = {}
          for _, p in ipairs(offered) do set[p] = true end
          for _, p in ipairs(r) do if set[p] then return p end end
          return nil
        end
        return r
      end
    elseif type(alpn) == "string" or type(alpn) == "table" then
      local list = to_list("alpn", alpn)
      for _, p in ipairs(list) do
        if type(p) ~= "string" or p == "" then return nil, "invalid ALPN name (empty string)" end
        if #p > 255 then return nil, "invalid ALPN name (length > 255)" end
      end
      if #list == 0 then return nil, "invalid ALPN list (empty)" end
      o.alpn = list
    else
      return nil, "invalid ALPN parameter"
    end
  end

  local hint
  if params.psk ~= nil then hint = psk(params.psk, mode, o) end

  local info = { mode = mode, options = o, host = params.host }
  local ctx, err = wolfssl.context(o)
  if not ctx then return nil, err end
  if hint then
    local ok, herr = core.ctx_psk_hint(ctx, hint)
    if not ok then return nil, herr end
  end
  ctxinfo[ctx] = info
  return ctx
end

--- Load a certificate from PEM or DER text (`ssl.loadcertificate`).
-- @tparam string data PEM or DER
-- @return a certificate as LuaSec's (`wolfssl.socket_x509`), or nil and a message
function M.loadcertificate(data)
  local x, err = wolfssl.x509.load(data)
  if not x then return nil, err end
  return sx509.wrap(x)
end

local SSLConnection = {}
SSLConnection.__index = SSLConnection

--- Wrap a connected LuaSocket TCP object.
-- The wrapper takes the socket over (as LuaSec does, the original object no
-- longer owns the descriptor): closing the wrapper closes the socket.
-- @param sock a connected LuaSocket tcp object (anything with getfd/setfd)
-- @param params_or_ctx LuaSec parameters (see `newcontext`) or a context
-- @return a connection object, or nil and a message
function M.wrap(sock, params_or_ctx)
  if (type(sock) ~= "userdata" and type(sock) ~= "table") or type(sock.getfd) ~= "function" then
    error("bad argument #1 to 'wrap' (LuaSocket object expected)", 2)
  end
  local ctx, err = params_or_ctx, nil
  if type(params_or_ctx) == "table" then
    ctx, err = M.newcontext(params_or_ctx)
    if not ctx then return nil, err end
  end
  if type(ctx) ~= "userdata" or type(ctx.mode) ~= "function" then
    error("bad argument #2 to 'wrap' (parameters or context expected)", 2)
  end
  local fd = sock:getfd()
  if type(fd) ~= "number" or fd < 0 then
    -- LuaSocket makes the descriptor at connect/bind: a fresh tcp{master} has none
    return nil, "no descriptor (not connected, or closed): wrap a socket once connected or accepted"
  end
  local holder = sock
  if type(sock.setfd) == "function" and socket.tcp then
    -- LuaSec semantics: the wrapper owns the descriptor from now on
    holder = socket.tcp()
    holder:close()
    holder:setfd(fd)
    sock:setfd(-1)
  end
  local info = ctxinfo[ctx]
  local self = setmetatable({
    _sock = holder, _fd = fd, _ctx = ctx, _buf = {}, _buflen = 0,
    _received = 0, _sent = 0, _birth = socket.gettime(), _want = "nothing",
    _sni = info and ctx:mode() == "client" and info.host or nil,
  }, SSLConnection)
  return self
end

------------------------------------------------------------------------------
-- Connection objects
------------------------------------------------------------------------------

local CHUNK = 16384

local function closed_error()
  error("attempt to use a closed connection", 4)
end

local function check(self)
  if self._closed then closed_error() end
  return self
end

local function deadline_of(self)
  local t = self._timeout
  if t == nil then return nil end
  return socket.gettime() + t
end

-- One call of the wolfSSL connection (fn), which waits for the socket in C
-- (poll: any descriptor number, unlike socket.select) until the deadline
-- (none: no limit). When the time is up, one more call that does not wait
-- gives LuaSec's "wantread" / "wantwrite", and want() says which.
local function step(self, deadline, fn, conn, ...)
  local left = deadline and deadline - socket.gettime() or math.huge
  if left > 0 then
    conn:settimeout(left)
    local a, b, c = fn(conn, ...)
    if b ~= "timeout" then return a, b, c end
  end
  conn:settimeout(nil)
  local a, b, c = fn(conn, ...)
  if b == "wantread" then self._want = "read" elseif b == "wantwrite" then self._want = "write" end
  return a, b, c
end

local NO_HOST = 'no host name to check the certificate against: call conn:sni("name") '
  .. 'before the handshake, or pass host = "name" in the parameters of wrap (verify = "none" checks nothing)'

-- The wolfSSL connection, made at the first call that needs it (so that sni()
-- can still set the server name).
local function connection(self)
  local conn = self._conn
  if conn then return conn end
  local ctx = self._ctx
  -- a verifying client without a name would accept any trusted certificate
  local info = ctxinfo[ctx]
  if not self._sni and info and info.mode == "client" and info.options.check_hostname then
    return nil, NO_HOST
  end
  local alpn
  local err
  conn, err = core.conn_new(ctx, self._fd, self._sni, alpn)
  if not conn then return nil, err end -- descriptors or memory ran out
  conn.data = self
  self._conn = conn
  return conn
end

--- A LuaSec-style connection (the result of `wrap`).
-- @type SSLConnection

--- Run the handshake.
-- The message is `"wantread"`/`"wantwrite"` on a timeout, `"closed"` when the
-- peer went away, or why the handshake failed (`"certificate verify failed: ..."`).
-- @return true, or false and a message
function SSLConnection:dohandshake()
  check(self)
  local conn, cerr = connection(self)
  if not conn then return false, cerr end
  local ok, err = step(self, deadline_of(self), conn.handshake, conn)
  if ok then self._want = "nothing"; self._hs_done = true; return true end
  if err == "wantread" or err == "wantwrite" then return false, err end -- the time is up
  self._want = "nothing"
  self._failed = true
  return false, err
end

-- How a stream can end (conn:read, conn:write): LuaSec says "closed" for each.
local ENDS = { closed = true, truncated = true, ["connection reset"] = true }

-- Read one chunk into the buffer. Returns true, or nil, err.
local function fill(self, deadline, n)
  if self._failed then return nil, "closed" end
  local conn, cerr = connection(self)
  if not conn then return nil, cerr end
  if not self._hs_done then
    -- reading before dohandshake(): LuaSec runs the handshake implicitly
    local ok, err = step(self, deadline, conn.handshake, conn)
    if ok then self._hs_done = true end
    if not ok then
      if err ~= "wantread" and err ~= "wantwrite" then self._failed = true end
      return nil, err
    end
  end
  local data, err = step(self, deadline, conn.read, conn, n or CHUNK)
  if data then
    self._buf[#self._buf + 1] = data
    self._buflen = self._buflen + #data
    self._received = self._received + #data
    return true
  end
  if err == "wantread" or err == "wantwrite" then return nil, err end -- the time is up
  self._want = "nothing"
  if ENDS[err] then
    -- the end of the stream: LuaSec says "closed" however it ended; how it
    -- ended stays in _end (wolfssl.https fails a truncated body with it)
    self._eof, self._end = true, err
    return nil, "closed"
  end
  self._failed = true -- later calls: "closed"
  return nil, err
end

local function buffered(self)
  local b = self._buf
  if #b > 1 then
    local s = table.concat(b)
    self._buf = { s }
    return s
  end
  return b[1] or ""
end

local function take(self, n)
  local s = buffered(self)
  local part = s:sub(1, n)
  local rest = s:sub(n + 1)
  self._buf = rest ~= "" and { rest } or {}
  self._buflen = #rest
  return part
end

--- Receive data, as LuaSocket's `receive`.
-- @param[opt="*l"] pattern `"*l"` (a line, CR dropped, LF removed), `"*a"` (until
-- the peer closes), or a byte count (also "l" and "a")
-- @tparam[opt] string prefix prepended to the result
-- @return data, or nil, err ("closed", "wantread", a message), partial data
function SSLConnection:receive(pattern, prefix)
  check(self)
  pattern = pattern or "*l"
  prefix = prefix or ""
  if type(prefix) ~= "string" then
    error(("bad argument #2 to 'receive' (string expected, got %s)"):format(type(prefix)), 2)
  end
  local deadline = deadline_of(self)
  if type(pattern) == "number" then
    if pattern < 0 or pattern % 1 ~= 0 then
      error("bad argument #1 to 'receive' (invalid receive pattern)", 2)
    end
    while self._buflen < pattern do
      if self._eof then break end
      local ok, err = fill(self, deadline, math.min(CHUNK, pattern - self._buflen))
      if not ok then
        return nil, err, prefix .. take(self, self._buflen)
      end
    end
    if self._buflen < pattern then return nil, "closed", prefix .. take(self, self._buflen) end
    return prefix .. take(self, pattern), nil, nil
  end
  if pattern == "*l" or pattern == "l" then
    while true do
      local s = buffered(self)
      local nl = s:find("\n", 1, true)
      if nl then
        local line = take(self, nl):sub(1, -2):gsub("\r", "")
        return prefix .. line, nil, nil
      end
      local ok, err = true, "closed"
      if not self._eof then ok, err = fill(self, deadline) end
      if not ok or self._eof then
        return nil, err, prefix .. (take(self, self._buflen):gsub("\r", ""))
      end
    end
  elseif pattern == "*a" or pattern == "a" then
    while not self._eof do
      local ok, err = fill(self, deadline)
      if not ok and err ~= "closed" then
        return nil, err, prefix .. take(self, self._buflen)
      end
    end
    return prefix .. take(self, self._buflen), nil, nil
  end
  error("bad argument #1 to 'receive' (invalid receive pattern)", 2)
end

--- Send data, as LuaSocket's `send`.
-- @tparam string data
-- @tparam[opt=1] integer i first byte
-- @tparam[opt=#data] integer j last byte
-- @return index of the last byte sent, or nil, err, index of the last byte sent
function SSLConnection:send(data, i, j)
  check(self)
  if type(data) == "number" then data = tostring(data) end
  if type(data) ~= "string" then
    error(("bad argument #1 to 'send' (string expected, got %s)"):format(type(data)), 2)
  end
  local len = #data
  i = i or 1
  j = j or len
  if i < 0 then i = len + i + 1 end
  if i < 1 then i = 1 end
  if j < 0 then j = len + j + 1 end
  if j > len then j = len end
  if i > j then return i - 1, nil, nil end
  if self._failed then return nil, "closed", i - 1 end
  local conn, cerr = connection(self)
  if not conn then return nil, cerr, i - 1 end
  local deadline = deadline_of(self)
  if not self._hs_done then
    local ok, err = self:dohandshake()
    if not ok then return nil, err, i - 1 end
  end
  local pos = i
  while pos <= j do
    local n, err = step(self, deadline, conn.write, conn, data, pos, j)
    if n then
      pos = pos + n
      self._sent = self._sent + n
    elseif err == "wantread" or err == "wantwrite" then
      return nil, err, pos - 1 -- the time is up
    else
      self._want = "nothing"
      self._failed = true
      if ENDS[err] then err = "closed" end -- the peer is gone: LuaSocket's word
      return nil, err, pos - 1
    end
  end
  self._want = "nothing"
  return j, nil, nil
end

--- Set the timeout, as LuaSocket: seconds, `nil` or negative for blocking.
-- Timeouts are reported as "wantread"/"wantwrite" (LuaSec's words).
-- @tparam number|nil t
-- @tparam[opt] string mode "b" or "t" (both apply per call)
function SSLConnection:settimeout(t, mode)
  check(self)
  if t ~= nil and type(t) ~= "number" then
    error(("bad argument #1 to 'settimeout' (number expected, got %s)"):format(type(t)), 2)
  end
  if t and t < 0 then t = nil end
  self._timeout = t
  return 1
end

-- Seconds close() waits for the peer's close_notify on a blocking wrapper.
local CLOSE_WAIT = 10

-- The clean close: our close_notify, then the peer's (or the end of the
-- transport), waiting as the timeout allows. What arrives meanwhile is taken
-- from the socket (and dropped with the connection): closing a socket with
-- unread bytes would reset it and cut what the peer has yet to read.
local function shutdown(self, conn)
  local deadline = socket.gettime() + (self._timeout or CLOSE_WAIT)
  pcall(step, self, deadline, conn.shutdown, conn)
end

--- Close: the clean close (send close_notify, then wait for the peer's, up to
-- the timeout — 10 s when there is none — so that no byte is lost either way),
-- free the TLS state, close the socket. Calling it again does nothing.
function SSLConnection:close()
  if self._closed then return end
  self._closed = true
  local conn = self._conn
  if conn then
    if self._hs_done and not self._failed then shutdown(self, conn) end
    conn:close()
    self._conn = nil
  end
  self._sock:close()
end

--- The peer's certificate (n = 1) or the n-th of its chain.
-- @tparam[opt=1] integer n
-- @return a certificate as LuaSec's (`wolfssl.socket_x509`), or nil
function SSLConnection:getpeercertificate(n)
  check(self)
  n = n or 1
  local conn = self._conn
  if not conn or not self._hs_done then return nil end
  if n == 1 then return sx509.wrap(conn:peer_certificate()) end
  local chain = conn:peer_chain()
  return chain and sx509.wrap(chain[n]) or nil
end

--- The certificates the peer sent, leaf first.
-- @return array of certificates as LuaSec's (`wolfssl.socket_x509`), or nil
function SSLConnection:getpeerchain()
  check(self)
  local conn = self._conn
  if not conn or not self._hs_done then return nil end
  local chain = conn:peer_chain()
  if not chain or #chain == 0 then chain = { conn:peer_certificate() } end
  if #chain == 0 then return nil end
  for i, x in ipairs(chain) do chain[i] = sx509.wrap(x) end
  return chain
end

-- The chain a context presents, from its `certificate` parameter (LuaSec: a
-- file, leaf first), loaded once; false when it has none or it cannot be read.
local function own_chain(ctx)
  local info = ctxinfo[ctx]
  if not info then return false end
  if info.own_chain == nil then
    local v, list = info.options.certificate, false
    if v ~= nil then
      local ok, data, fmt = pcall(opts.load_bytes, "certificate", v)
      if ok and data and fmt == "pem" then list = x509.load_chain(data) or false
      elseif ok and data then local x = x509.load(data); list = x and { x } or false end
    end
    info.own_chain = list
  end
  return info.own_chain
end

-- The chain this side presented: the context sni() switched to, found by the
-- leaf wolfSSL used, else the connection's own context.
local function presented(self)
  local conn = self._conn
  if not conn or not self._hs_done then return nil end
  local chain = own_chain(self._ctx)
  local leaf = core.trace_own_certificate(conn)
  if leaf then
    local pem = leaf:pem()
    if not (chain and chain[1]:pem() == pem) then
      chain = { leaf }
      for _, ctx in pairs(self._sni_names or {}) do
        local c = own_chain(ctx)
        if c and c[1]:pem() == pem then chain = c; break end
      end
    end
  end
  return chain or nil
end

--- The certificate this side presented (n = 1) or the n-th of its chain
-- (LuaSec 1.3's `getlocalcertificate`).
-- @tparam[opt=1] integer n
-- @return a certificate as LuaSec's (`wolfssl.socket_x509`), or nil (none, or
-- the handshake is not finished), or nil and "invalid certificate index"
function SSLConnection:getlocalcertificate(n)
  check(self)
  n = n or 1
  if type(n) ~= "number" then error("bad argument #1 to 'getlocalcertificate' (number expected)", 2) end
  if n < 1 then return nil, "invalid certificate index" end
  local chain = presented(self)
  return chain and sx509.wrap(chain[n]) or nil
end

--- The certificates this side presented, leaf first (LuaSec 1.3's `getlocalchain`).
-- @return array of certificates as LuaSec's (`wolfssl.socket_x509`), or nil
function SSLConnection:getlocalchain()
  check(self)
  local chain = presented(self)
  if not chain then return nil end
  local out = {}
  for i, x in ipairs(chain) do out[i] = sx509.wrap(x) end
  return out
end

--- Whether the peer's certificate was verified.
-- @return true, or false and a table `{ {reason} }` (LuaSec: errors by depth)
function SSLConnection:getpeerverification()
  check(self)
  local conn = self._conn
  if not conn or not self._hs_done then return false, { { "no handshake" } } end
  if not conn:peer_certificate() then return false, { { "no peer certificate" } } end
  local ok, reason = conn:verify_result()
  if ok then return true end
  return false, { { reason or "verification failed" } }
end

-- LuaSec's info() fields from a suite name (OpenSSL's style for TLS 1.2,
-- IANA's for TLS 1.3, as wolfSSL names them) and the version
local function suite_info(cipher, version)
  local u = cipher:upper()
  local bits = tonumber(u:match("AES[_-]?(%d+)")) or (u:find("CHACHA20", 1, true) and 256) or nil
  local t = { bits = bits, algbits = bits, export = false }
  if u:find("GCM", 1, true) then t.encryption, t.mac = ("AESGCM(%d)"):format(bits), "AEAD"
  elseif u:find("CCM", 1, true) then t.encryption, t.mac = ("AESCCM(%d)"):format(bits), "AEAD"
  elseif u:find("CHACHA20", 1, true) then t.encryption, t.mac = "CHACHA20/POLY1305(256)", "AEAD"
  elseif bits then t.encryption, t.mac = ("AES(%d)"):format(bits), u:match("(SHA%d*)$") end
  if version == "TLSv1.3" then
    t.key, t.authentication = "any", "any"
  else
    local kx, au = u:match("^(E?C?DHE)%-(%u+)%-")
    if kx then
      t.key, t.authentication = kx == "ECDHE" and "ECDH" or "DH", au
    elseif u:match("^PSK") or u:match("^DHE%-PSK") or u:match("^ECDHE%-PSK") then
      t.key, t.authentication = "PSK", "PSK"
    else
      t.key, t.authentication = "RSA", "RSA"
    end
  end
  return t
end

--- What was negotiated, as LuaSec reports it: `{protocol=, cipher=, bits=,
-- algbits=, encryption=, key=, authentication=, mac=, export=}`
-- (`compression` is nil: TLS compression is never used), or one field of it;
-- before the handshake, nil and "closed" as LuaSec.
-- @tparam[opt] string field
function SSLConnection:info(field)
  check(self)
  local conn = self._conn
  if not conn or not self._hs_done then return nil, "closed" end -- LuaSec's words
  local cipher, version = conn:cipher(), conn:version()
  local t = cipher and suite_info(cipher, version) or {}
  t.protocol, t.cipher = version, cipher
  if field then return t[field] end
  return t
end

--- The verify_data of our Finished message ("tls-unique" channel binding on
-- TLS 1.2; on TLS 1.3 RFC 9266 asks for
-- `exportkeyingmaterial("EXPORTER-Channel-Binding", 32)` instead), or nil.
function SSLConnection:getfinished()
  check(self)
  local conn = self._conn
  return conn and self._hs_done and conn:finished() or nil
end

--- The verify_data of the peer's Finished message, or nil.
function SSLConnection:getpeerfinished()
  check(self)
  local conn = self._conn
  return conn and self._hs_done and conn:finished(true) or nil
end

--- RFC 5705 / 8446 keying material: `len` bytes for `label` (and `context`).
-- @return the bytes, or nil and a message
function SSLConnection:exportkeyingmaterial(label, len, context)
  check(self)
  if type(label) ~= "string" then
    error(("bad argument #1 to 'exportkeyingmaterial' (string expected, got %s)"):format(type(label)), 2)
  end
  if math.type and math.type(len) ~= "integer" or type(len) ~= "number" then
    error(("bad argument #2 to 'exportkeyingmaterial' (integer expected, got %s)"):format(type(len)), 2)
  end
  local conn = self._conn
  if not conn or not self._hs_done then return nil, "the handshake is not finished" end
  local ok, out, err = pcall(conn.export_keying_material, conn, label, len, context)
  if not ok then return nil, (tostring(out):gsub("^.-:%d+: ", "")) end
  return out, err
end

--- Client: the server name to send, and to check the certificate against.
-- Server: a table {name = context}, used to switch certificates by name
-- (`strict`: refuse unknown names).
function SSLConnection:sni(arg, strict)
  check(self)
  if self._conn then error("sni: must be called before the handshake starts", 2) end
  local mode = self._ctx:mode()
  if mode == "client" then
    if type(arg) ~= "string" or arg == "" then
      error("bad argument #1 to 'sni' (non-empty string expected)", 2)
    end
    self._sni = arg
  else
    if type(arg) ~= "table" then error("bad argument #1 to 'sni' (table expected)", 2) end
    local info = ctxinfo[self._ctx]
    if not info then
      error("sni: the context was not made by wolfssl.socket.newcontext", 2)
    end
    if not info.sni_ctx then
      -- the same context plus a dispatcher: the wrapper is the connection's data
      local o = {}
      for k, v in pairs(info.options) do o[k] = v end
      o.on_servername = function(conn, name)
        local w = conn.data
        local map = type(w) == "table" and rawget(w, "_sni_names")
        if not map then return true end
        local ctx = map[name]
        if ctx then return ctx end
        if rawget(w, "_sni_strict") then return nil, "unrecognized_name" end
        return true
      end
      local ctx, err = wolfssl.context(o)
      if not ctx then error("sni: " .. tostring(err), 2) end
      ctxinfo[ctx] = info
      info.sni_ctx = ctx
    end
    self._ctx = info.sni_ctx
    self._sni_names = arg
    self._sni_strict = strict and true or false
  end
  return true
end

--- Server: the name the client asked for (nil if none).
function SSLConnection:getsniname()
  check(self)
  local conn = self._conn
  return conn and conn:server_name() or nil
end

--- The protocol chosen by ALPN, or nil.
function SSLConnection:getalpn()
  check(self)
  local conn = self._conn
  return conn and conn:alpn() or nil
end

--- What the last call waited for: "nothing", "read" or "write".
function SSLConnection:want()
  check(self)
  return self._want or "nothing"
end

--- The socket's file descriptor.
function SSLConnection:getfd()
  check(self)
  return self._fd
end

--- Use another descriptor (LuaSec's `core.setfd`): only before the handshake starts.
-- The wrapper owns it from now on.
function SSLConnection:setfd(fd)
  check(self)
  if type(fd) ~= "number" then
    error(("bad argument #1 to 'setfd' (number expected, got %s)"):format(type(fd)), 2)
  end
  if self._conn then error("setfd: must be called before the handshake starts", 2) end
  self._sock:setfd(fd)
  self._fd = fd
  return true
end

--- Whether data is buffered and can be read without waiting (for socket.select).
function SSLConnection:dirty()
  check(self)
  if self._buflen > 0 then return true end
  local conn = self._conn
  if not conn then return false end
  local _, pending = conn:pending()
  return (pending or 0) > 0
end

--- Bytes received, bytes sent, seconds since creation (LuaSocket's getstats).
function SSLConnection:getstats()
  check(self)
  return self._received, self._sent, socket.gettime() - self._birth
end

--- Set the counters of getstats.
function SSLConnection:setstats(received, sent, age)
  check(self)
  self._received = tonumber(received) or self._received
  self._sent = tonumber(sent) or self._sent
  if age then self._birth = socket.gettime() - tonumber(age) end
  return 1
end

--- The `wolfssl.Connection` underneath (made on first use), for the full API.
function SSLConnection:connection()
  check(self)
  return connection(self)
end

SSLConnection.__tostring = function(self)
  return ("SSL connection: %s"):format(self._closed and "closed" or tostring(self._fd))
end
SSLConnection.__close = function(self) self:close() end
SSLConnection.__gc = nil

--- The connection class (LuaSec's): `wrap` returns its objects.
M.SSLConnection = SSLConnection
return M
