--- lua-wolfssl: wolfSSL's TLS for Lua.
-- `wolfssl.context{...}` makes a context (a WOLFSSL_CTX); `ctx:new{...}` makes a
-- connection from it, over a file descriptor or in memory (feed/drain).
-- Options are checked here, in Lua; the C core (wolfssl.core) only applies them.
-- @module wolfssl
local core = require "wolfssl.core"
local opts = require "wolfssl.options"

local M = {
  VERSION = core.VERSION,
  WOLFSSL_VERSION = core.WOLFSSL_VERSION,
  features = core.features,
}

local Context = core.Context       -- methods of context userdata (C)
local Connection = core.Connection -- methods of connection userdata (C)

local VERSIONS = { ["tls1.0"] = 0x0301, ["tls1.1"] = 0x0302, ["tls1.2"] = 0x0303, ["tls1.3"] = 0x0304 }

-- Callbacks a context can hold, and the bit that tells C each one is set.
local CALLBACK_BITS = {
  on_verify = 1, on_servername = 2, on_alpn = 4, on_psk = 8, on_new_session = 16,
  on_message = 32, on_state = 64, keylog = 128, session_store = 256, on_ticket_key = 512,
}

-- Options handled by later parts of the binding register themselves here:
-- name -> function(ctx, value, options, uservalue) returning true or nil, msg.
M._context_options = {}

local function version_of(key, v)
  if v == "ssl3" or v == "ssl2" or v == "sslv3" or v == "sslv2" then
    opts.bad(key, ("%s is obsolete and insecure and is not supported"):format(v), 4)
  end
  local n = VERSIONS[v]
  if not n then opts.bad(key, 'expected "tls1.2" or "tls1.3"', 4, v) end
  return n
end

local function colon_list(key, v)
  if type(v) == "table" then
    for i, s in ipairs(v) do
      if type(s) ~= "string" then opts.bad(key, ("entry %d is not a string"):format(i), 4) end
    end
    return table.concat(v, ":")
  elseif type(v) == "string" then
    return v
  end
  opts.bad(key, "expected a string or an array of strings", 4, v)
end

-- A certificate chain given as PEM text (one string with every certificate).
local function chain_pem(key, v)
  if opts.is_object(v) then return v:pem(), "pem" end
  if type(v) == "table" then
    local parts = {}
    for i, item in ipairs(v) do
      local pem, err = opts.cert_pem(key .. "[" .. i .. "]", item)
      if not pem then return nil, err end
      parts[#parts + 1] = pem
    end
    if #parts == 0 then opts.bad(key, "empty array", 4) end
    return table.concat(parts, "\n"), "pem"
  end
  return opts.load_bytes(key, v)
end

-- Does the private key belong to the certificate? wolfSSL's own check misses
-- a wrong key of the same curve on some builds (Debian's), so compare the
-- public halves too. Keys or certificates we cannot parse here (Ed25519
-- certificates) are left to wolfSSL's check.
local function same_public_key(cert_bytes, key_bytes, password)
  local x = M.x509.load(cert_bytes)
  local k = M.pkey.load(key_bytes, password)
  if not x or not k then return true end
  local xp, kp = x:public_key(), k:public()
  if not xp or not kp then return true end
  return xp:der() == kp:der()
end

local function apply(ctx, key, ok, err)
  if not ok then return nil, ("%s: %s"):format(key, err) end
  return true
end

--- Make a context. Every key is checked: an unknown key or a bad value raises
-- an error naming the key (with the nearest valid key as a suggestion).
--
-- Options:
--
-- * `mode`: `"client"` or `"server"` (required).
-- * `min_version`, `max_version`: `"tls1.2"`, `"tls1.3"` (`"tls1.1"` where the build
--   has it, see `features.tls1_1`); default tls1.2 .. tls1.3. `"ssl3"`/`"ssl2"` raise.
-- * `ciphers` (TLS <= 1.2, OpenSSL names), `ciphersuites` (TLS 1.3): colon list or array;
--   default, on every build: AEAD with forward secrecy only (ECDHE with AES-GCM or
--   ChaCha20-Poly1305, and the TLS 1.3 suites).
-- * `groups`: colon list or array of `"X25519"`, `"P-256"`, `"P-384"`, `"P-521"` and, where
--   `features.mlkem`, the post-quantum hybrids `"X25519MLKEM768"`, `"SecP256r1MLKEM768"`,
--   `"SecP384r1MLKEM1024"` (elsewhere an error naming the group); default
--   `"X25519:P-256:P-384"` with `"X25519MLKEM768"` first where the build has ML-KEM (a client
--   then sends key shares for the hybrid and X25519, and servers prefer the hybrid).
-- * `certificate`: path, PEM (a chain: leaf first), DER, x509 object, or an array of them.
-- * `key`: path, PEM, DER or pkey object; `password`: string or function returning one.
-- * `cafile` (path), `capath` (directory), `cadata` (PEM string or array of x509/PEM);
--   `system_ca` (boolean; default true for clients given none of those).
-- * `verify`: `"none"`, `"peer"`, `"require"` (server: a client certificate is
--   mandatory); default `"peer"` for clients, `"none"` for servers. `verify_depth` (9).
-- * `check_hostname`: boolean, default true for verifying clients (match `server_name`
--   against the certificate's names and IP addresses).
-- * `crl`: path, PEM, DER or an array: CRL checking. `ocsp_stapling` (client):
--   `"request"` or `"require"`; `staple` (server): path, DER or `function(conn)` returning DER
--   (with `max_version = "tls1.2"` where `features.ocsp_staple_tls13` is false: wolfSSL 5.5.4
--   leaks stapling over TLS 1.3).
-- * `alpn`: array of protocol names (client: offered; server: chosen from).
-- * `session_tickets` (on), `session_cache` (on): each `true`/`false` or `"on"`/`"off"`; `session_cache_size`,
--   `session_timeout` (seconds), `session_store` = `{get=fn(id), put=fn(id, der),
--   remove=fn(id)}` (server cache outside the process), `ticket_keys` (array of keys,
--   newest first, see `wolfssl.session`), `on_ticket_key(conn, name)`.
-- * `psk`: client `{identity=, key=}`, server `{hint=, keys={id=key}}`; or `on_psk`.
-- * `post_handshake_auth`: boolean (TLS 1.3; see `conn:request_certificate()`).
-- * `renegotiation`: `"refuse"` (default) or `"allow"` (TLS 1.2 secure renegotiation,
--   builds with `features.renegotiation` only).
-- * Callbacks (each receives the connection first): `on_verify(conn, ok, info)` -> boolean;
--   `on_servername(conn, name)` -> true, a context, or nil, "unrecognized_name";
--   `on_alpn(conn, offered)` -> protocol or nil (fatal no_application_protocol alert);
--   `on_psk(conn, identity_or_hint)` -> key (server) / identity, key (client);
--   `on_new_session(conn, session)`; `on_message(conn, msg)`; `on_state(conn, where, state)`;
--   `keylog(conn, line)`. A callback that raises fails the handshake with an alert.
-- @tparam table o options
-- @return context, or nil and a message when a file cannot be read or a key does not fit
function M.context(o)
  if type(o) ~= "table" then
    error(("bad argument #1 to 'context' (table expected, got %s)"):format(type(o)), 2)
  end
  opts.check_keys("context", o, opts.CONTEXT_KEYS)
  if o.mode ~= "client" and o.mode ~= "server" then
    opts.bad("mode", 'expected "client" or "server"', 3, o.mode)
  end
  local server = o.mode == "server"
  for key, check in pairs(opts.CONTEXT_TYPES) do
    if o[key] ~= nil then check(key, o[key]) end
  end

  local ctx = core.context_new(server)
  local ok, err

  -- versions
  local min = o.min_version and version_of("min_version", o.min_version) or 0x0303
  local max = o.max_version and version_of("max_version", o.max_version) or 0x0304
  if min > max then opts.bad("min_version", "is above max_version", 3) end
  if (min < 0x0303) then
    ok, err = core.ctx_versions(ctx, min, max)
    if not ok then opts.bad("min_version", o.min_version .. " is not supported by this wolfSSL build", 3) end
  else
    assert(core.ctx_versions(ctx, min, max))
  end

  -- ciphers: ciphers covers TLS <= 1.2, ciphersuites TLS 1.3; wolfSSL takes
  -- one list. Ours apply to whatever the user leaves out, on every build.
  for _, key in ipairs { "ciphers", "ciphersuites" } do
    if o[key] then -- wolfSSL accepts a list when any entry is known: check each part alone
      local probe = core.context_new(server)
      ok, err = core.ctx_ciphers(probe, colon_list(key, o[key]))
      probe:free()
      if not ok then opts.bad(key, err, 3, o[key]) end
    end
  end
  local list = {}
  if o.ciphersuites then list[#list + 1] = colon_list("ciphersuites", o.ciphersuites)
  elseif max >= 0x0304 then list[#list + 1] = opts.DEFAULT_TLS13_SUITES end
  -- (a TLS 1.3-only context keeps the TLS 1.2 suites too: a TLS 1.2-only
  -- wolfSSL server then answers the version, not "no shared cipher")
  if o.ciphers then list[#list + 1] = colon_list("ciphers", o.ciphers)
  else list[#list + 1] = opts.DEFAULT_TLS12_CIPHERS end
  ok, err = core.ctx_ciphers(ctx, table.concat(list, ":"))
  if not ok then opts.bad(o.ciphers and "ciphers" or "ciphersuites", err, 3) end
  if o.groups then
    local glist = colon_list("groups", o.groups)
    ok, err = core.ctx_groups(ctx, opts.group_list(glist))
    if not ok then opts.bad("groups", err, 3, glist) end
  else
    local psk_client = not server and min <= 0x0303 and (o.psk ~= nil or o.on_psk ~= nil)
    assert(core.ctx_groups(ctx, opts.default_groups(M.features, server, psk_client)))
  end

  -- our certificate and key
  local cert_bytes -- the leaf (first) certificate, for the key check below
  if o.certificate then
    local data, fmt = chain_pem("certificate", o.certificate)
    if not data then return nil, fmt end
    cert_bytes = data
    ok, err = apply(ctx, "certificate", core.ctx_certificate(ctx, data, fmt))
    if not ok then return nil, opts.where("certificate", o.certificate, err) end
  end
  if o.key then
    local data, fmt = opts.key_bytes("key", o.key)
    if not data then return nil, fmt end
    local password = o.password
    if type(password) == "function" or opts.is_callable(password) then
      local pok, pw = pcall(password)
      if not pok then return nil, "password: the password function raised: " .. tostring(pw) end
      if type(pw) ~= "string" then return nil, "password: the password function must return a string" end
      if pw:find("%z") then return nil, "password: the password function returned a string with a NUL byte" end
      password = pw
    end
    ok, err = apply(ctx, "key", core.ctx_key(ctx, data, fmt, password))
    if not ok then return nil, opts.where("key", o.key, err) end
    if o.certificate then
      ok, err = core.ctx_check_key(ctx)
      if ok then ok = same_public_key(cert_bytes, data, password) end
      if not ok then
        -- name the files when they came from files
        local function file(v)
          return (type(v) == "string" and not v:find("-----BEGIN", 1, true) and #v < 4096
                  and not v:find("%z")) and (" '%s'"):format(v) or ""
        end
        return nil, ("key: the private key%s does not match the certificate%s"):format(file(o.key), file(o.certificate))
      end
    end
  elseif o.certificate and server then
    return nil, "key: a server certificate needs its private key (option 'key')"
  end

  -- trust
  local verify = o.verify or (server and "none" or "peer")
  local check_hostname = o.check_hostname
  if check_hostname == nil then check_hostname = (not server) and verify ~= "none" end
  if check_hostname and verify == "none" then
    opts.bad("check_hostname", 'needs verify = "peer" (verify is "none")', 3)
  end
  if check_hostname and server then opts.bad("check_hostname", "is for clients", 3) end
  local have_ca = false
  if o.cafile then
    local data, fmt = opts.read_file("cafile", o.cafile)
    if not data then return nil, fmt end
    ok, err = core.ctx_ca_buffer(ctx, data, fmt)
    if not ok then return nil, ("cafile: %s in '%s'"):format(err, o.cafile) end
    have_ca = true
  end
  if o.capath then
    ok, err = core.ctx_capath(ctx, o.capath)
    if not ok then return nil, ("capath: %s '%s'"):format(err, o.capath) end
    have_ca = true
  end
  if o.cadata then
    local items = (type(o.cadata) == "table" and not opts.is_object(o.cadata)) and o.cadata or { o.cadata }
    for i, item in ipairs(items) do
      local pem, perr = opts.cert_pem("cadata", item, true)
      if not pem then return nil, perr end
      ok, err = core.ctx_ca_buffer(ctx, pem, "pem")
      if not ok then return nil, ("cadata[%d]: %s"):format(i, err) end
    end
    have_ca = true
  end
  local system_ca = o.system_ca
  if system_ca == nil then system_ca = (not server) and not have_ca and verify ~= "none" end
  if system_ca then
    ok, err = core.ctx_system_ca(ctx)
    if not ok then return nil, "system_ca: " .. err end
  end
  core.ctx_verify(ctx, verify, o.verify_depth or 9, check_hostname)
  M.session._set_trust(ctx, o, verify, check_hostname, system_ca)

  if o.alpn then
    ok, err = core.ctx_alpn(ctx, opts.alpn_list("alpn", o.alpn))
  end

  -- sessions
  core.ctx_sessions(ctx, opts.switch(o.session_tickets, true), opts.switch(o.session_cache, true),
    o.session_cache_size, o.session_timeout)

  -- TLS 1.2 renegotiation: refused unless asked for (and the build has it)
  if o.renegotiation == "allow" then
    ok, err = core.ctx_renegotiation(ctx)
    if not ok then opts.bad("renegotiation", err, 3, o.renegotiation) end
  end

  if o.post_handshake_auth then
    ok, err = core.ctx_post_handshake_auth(ctx)
    if not ok then opts.bad("post_handshake_auth", err, 3) end
  end

  -- callbacks and the options later parts handle
  local uv = core.ctx_uservalue(ctx)
  local bits = 0
  for name, bit in pairs(CALLBACK_BITS) do
    if o[name] ~= nil then
      uv[name] = o[name]
      bits = bits + bit
    end
  end
  uv.options = o
  for key, handler in pairs(M._context_options) do
    if o[key] ~= nil then
      ok, err = handler(ctx, o[key], o, uv)
      if not ok then return nil, err end
    end
  end
  for name in pairs(CALLBACK_BITS) do
    if o[name] ~= nil and not opts.IMPLEMENTED[name] then
      opts.bad(name, "is not supported by this version of lua-wolfssl yet", 3)
    end
  end
  core.ctx_callbacks(ctx, bits)
  return ctx
end

--- Make a connection from a context.
-- @tparam[opt] table o `fd`, `server_name`, `alpn`, `session`, `data`
function Context:new(o)
  if o == nil then o = {} end
  if type(o) ~= "table" then
    error(("bad argument #1 to 'new' (table expected, got %s)"):format(type(o)), 2)
  end
  opts.check_keys("new", o, opts.CONN_KEYS)
  local fd = o.fd
  if fd ~= nil then
    if type(fd) == "table" or type(fd) == "userdata" then
      if type(fd.getfd) ~= "function" then opts.bad("fd", "expected an integer or a socket with getfd()", 3, fd) end
      fd = fd:getfd()
    end
    -- a C int: 2^32+1 must not become fd 1, nor 2^31 a negative one
    if type(fd) ~= "number" or fd < 0 or fd % 1 ~= 0 or fd > 0x7fffffff then
      opts.bad("fd", "expected a descriptor: an integer from 0 to 2^31-1", 3, o.fd)
    end
  end
  if o.server_name ~= nil and (type(o.server_name) ~= "string" or o.server_name == "") then
    opts.bad("server_name", "expected a non-empty string", 3, o.server_name)
  end
  opts.no_nul("server_name", o.server_name, 3)
  local alpn = o.alpn and opts.alpn_list("alpn", o.alpn) or nil
  local uv = core.ctx_uservalue(self)
  local o_ctx = uv.options or {}
  if self:mode() == "client" and not o.server_name then
    local verify = o_ctx.verify or "peer"
    local check = o_ctx.check_hostname
    if check == nil then check = verify ~= "none" end
    if check then
      error("bad option 'server_name' to 'new': required to check the server's certificate" ..
            " (or make the context with check_hostname = false)", 2)
    end
  end
  local conn, err = core.conn_new(self, fd, o.server_name, alpn)
  if not conn then return nil, err end -- descriptors or memory ran out
  if o.data ~= nil then conn.data = o.data end
  if o.session ~= nil then
    if not M.session.is_session(o.session) then opts.bad("session", "expected a session object", 3, o.session) end
    -- a session that cannot be used (expired, no ticket yet, another version)
    -- means a full handshake; conn:set_session(s) says why. One made under
    -- other trust settings or for another server name is a mistake: raise.
    local _, why = conn:set_session(o.session)
    if why and why:find("^session refused") then
      conn:close()
      error(why, 2)
    end
  end
  M.session._prepare(conn, uv)
  return conn
end

--- A table of everything negotiated, for logs and `make demo`.
function Connection:info()
  opts.check_conn("info", self)
  local ok, reason = self:verify_result()
  local cert = self:peer_certificate()
  local t = {
    version = self:version(),
    cipher = self:cipher(),
    group = self:group(),
    alpn = self:alpn(),
    server_name = self:server_name(),
    session_reused = self:session_reused(),
    state = self:state(),
    verified = ok,
    verify_reason = (not ok) and reason or nil,
  }
  if cert then
    t.peer_subject = tostring(cert:subject())
    t.peer_issuer = tostring(cert:issuer())
  end
  return t
end

M.x509 = require "wolfssl.x509"
M.Context = Context
M.Connection = Connection
M.session = require("wolfssl.session")._install(M, opts)
opts.set_module(M)
require("wolfssl.trace")._install(M, opts) -- on_message, on_state, keylog
require("wolfssl.hooks").install(M) -- on_servername, on_alpn, on_psk, psk
M.pkey = require "wolfssl.pkey"
require("wolfssl.trust").install(M, opts) -- crl, ocsp_stapling, staple

return M
