--- lua-wolfssl: wolfSSL's TLS for Lua.
-- `wolfssl.context{...}` makes a context (a WOLFSSL_CTX); `ctx:new{...}` makes a
-- connection from it, over a file descriptor or in memory (feed/drain).
-- Options are checked here, in Lua; the C core (wolfssl.core) only applies them.
-- @module wolfssl
local core = require "wolfssl.core"
local check = require "wolfssl.check"
local opts = require "wolfssl.options"

local M = {
  VERSION = core.VERSION,
  WOLFSSL_VERSION = core.WOLFSSL_VERSION,
  features = core.features,
}

local Context = core.Context       -- methods of context userdata (C)
local Connection = core.Connection -- methods of connection userdata (C)

--- Make a context. Every key is checked: an unknown key or a bad value raises
-- an error naming the key (with the nearest valid key as a suggestion).
--
-- Options:
--
-- * `mode`: `"client"` or `"server"` (required).
-- * `min_version`, `max_version`: `"tls1.2"`, `"tls1.3"` (`"tls1.1"` where the build
--   has it, see `features.tls1_1`); default tls1.2 .. tls1.3. `"ssl3"`/`"ssl2"` raise.
--   With `dtls = true` (a DTLS context): `"dtls1.2"`, `"dtls1.3"` (where `features.dtls13`),
--   default both (or dtls1.2 only); `mtu` (DTLS: largest datagram sent, 1400).
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
-- * Encrypted Client Hello (`features.ech`): `ech` (server: `{public_name=, kem=, kdf=,
--   aead=, max_name_length=}` or an array of them: ECH keys made now, published with
--   `ctx:ech_configs()`), `ech_configs` (client: an ECHConfigList, bytes or base64),
--   `ech_grease` (client, default true: without ech_configs, send a GREASE extension).
-- * `post_handshake_auth`: boolean (TLS 1.3; see `conn:request_certificate()`).
-- * `renegotiation`: `"refuse"` (default) or `"allow"` (TLS 1.2 secure renegotiation,
--   builds with `features.renegotiation` only).
-- * `max_early_data` (server): bytes of TLS 1.3 early data (0-RTT) it accepts, advertised in
--   its tickets (default 0: none; builds with `features.early_data` only). See
--   `conn:write_early(s)`, `conn:read_early()`, `conn:early_data()` and README "Early data".
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
  check.check_keys("context", o, opts.CONTEXT_KEYS)
  for _, row in ipairs(opts.CONTEXT) do -- every value, before any is applied
    local key, v = row[1], o[row[1]]
    if v ~= nil or row.required then
      if row.check then row.check(key, v) end
      if row.modes and o.mode ~= row.modes then
        check.bad(key, row.wrong_mode or ("is for %ss"):format(row.modes), 3)
      end
    end
  end
  local st = { server = o.mode == "server" } -- what the rows resolve, for later rows
  local ctx, err = core.context_new(st.server, opts.dtls_range(o))
  if not ctx then check.bad(o.max_version and "max_version" or "dtls", err, 2) end
  -- the callbacks the rows hand to C (core.ctx_callback: each set once, and C
  -- alone knows which are set); the options table itself is not kept
  st.uv = setmetatable({}, { __newindex = function(_, k, v)
    local ok, err = core.ctx_callback(ctx, k, v) -- (its installer runs now)
    if not ok then check.bad(k, err, 5) end
  end })
  for _, row in ipairs(opts.CONTEXT) do
    local key, v = row[1], o[row[1]]
    if v ~= nil and opts.IS_CALLBACK[key] then
      local ok, err = core.ctx_callback(ctx, key, v)
      if not ok then check.bad(key, err, 3) end
    end
    if row.apply and (v ~= nil or row.always) then
      local ok, err = row.apply(ctx, v, o, st)
      if not ok then return nil, err end
    end
  end
  return ctx
end

local CONN_KEY = {} -- the option keys of ctx:new, as a set
for _, k in ipairs(opts.CONN_KEYS) do CONN_KEY[k] = true end
local NO_OPTIONS = {}
local prepare_ticket = core.conn_prepare_ticket
local conn_quick = core.conn_quick
local ech -- wolfssl.ech (below)

--- Make a connection from a context.
-- @tparam[opt] table o `fd`, `server_name`, `alpn`, `session`, `data`,
-- `timeout` (fd mode: seconds each call may wait, as `conn:settimeout`),
-- `ech_configs` (client: this connection's ECHConfigList, see `wolfssl.ech`)
function Context:new(o)
  -- the common case (no table, or only well-formed server_name, session, fd
  -- and data) is one C call: a connection per resumed handshake is hot.
  -- It answers false for anything else, checked and reported below.
  if not ech.any_context then
    local conn, err = conn_quick(self, o)
    if conn ~= false then return conn, err end
  end
  if o == nil then o = NO_OPTIONS end
  if type(o) ~= "table" then
    error(("bad argument #1 to 'new' (table expected, got %s)"):format(type(o)), 2)
  end
  for k in next, o do
    if not CONN_KEY[k] then check.check_keys("new", o, opts.CONN_KEYS) end
  end
  local fd, sock = o.fd, nil
  if fd ~= nil then
    if type(fd) == "table" or type(fd) == "userdata" then
      if type(fd.getfd) ~= "function" then check.bad("fd", "expected an integer or a socket with getfd()", 3, fd) end
      sock, fd = fd, fd:getfd() -- (the connection keeps sock alive)
    end
    -- a C int: 2^32+1 must not become fd 1, nor 2^31 a negative one
    if type(fd) ~= "number" or fd < 0 or fd % 1 ~= 0 or fd > 0x7fffffff then
      check.bad("fd", "expected a descriptor: an integer from 0 to 2^31-1", 3, o.fd)
    end
  end
  local name = o.server_name
  if name ~= nil and (type(name) ~= "string" or name == "") then
    check.bad("server_name", "expected a non-empty string", 3, name)
  end
  if name and name:find("\0", 1, true) then check.no_nul("server_name", name, 3) end
  local alpn = o.alpn and check.alpn_list("alpn", o.alpn) or nil
  if o.timeout ~= nil and (type(o.timeout) ~= "number" or o.timeout < 0) then
    check.bad("timeout", "expected seconds (a number >= 0; math.huge: no limit)", 3, o.timeout)
  end
  if not name and core.ctx_checks_hostname(self) then -- (raises when self is no context)
    error("bad option 'server_name' to 'new': required to check the server's certificate" ..
          " (or make the context with check_hostname = false)", 2)
  end
  -- ECH's hooks only where a context or this call has a list (~2 k
  -- instructions per connection otherwise: a resumption is hot)
  local ech_asked = o.ech_configs ~= nil or ech.any_context
  local ech_list = ech_asked and ech._list_for(self, o.ech_configs) or nil
  local conn, err = core.conn_new(self, fd, name, alpn, sock)
  if not conn then return nil, err end -- descriptors or memory ran out
  if ech_asked then ech._prepare(conn, ech_list, o.ech_configs) end
  if o.data ~= nil then conn.data = o.data end
  if o.timeout ~= nil then conn:settimeout(o.timeout) end
  if o.session ~= nil then
    if not M.session.is_session(o.session) then check.bad("session", "expected a session object", 3, o.session) end
    -- a session that cannot be used (expired, no ticket yet, another version)
    -- means a full handshake; conn:set_session(s) says why. One made under
    -- other trust settings or for another server name is a mistake: raise.
    local _, why = conn:set_session(o.session)
    if why and why:find("^session refused") then
      conn:close()
      error(why, 2)
    end
  end
  -- a server whose new tickets take their key from on_ticket_key asks it now
  -- (name nil: this connection issues no ticket; wolfSSL cannot skip one
  -- later); nothing to do unless on_ticket_key is set (C knows)
  prepare_ticket(conn)
  return conn
end

--- A table of everything negotiated, for logs and `make demo`.
function Connection:info()
  check.check_conn("info", self)
  local ok, reason = self:verify_result()
  local cert = self:peer_certificate()
  local t = {
    version = self:version(),
    cipher = self:cipher(),
    group = self:group(),
    alpn = self:alpn(),
    server_name = self:server_name(),
    session_reused = self:session_reused(),
    early_data = self:early_data(),
    state = self:state(),
    ech = self:ech(),
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
M.pkey = require "wolfssl.pkey"
M.session = require "wolfssl.session"
M.ech = require "wolfssl.ech"
ech = M.ech
M.Context = Context
M.Connection = Connection

-- Methods written in Lua (the C ones are registered by the core)
Context.set_ticket_keys = M.session._set_ticket_keys
Context.ech_configs = M.ech.configs
Connection.ocsp_response = require("wolfssl.trust").ocsp_response
M.connect = require("wolfssl.connect").connect -- blocking client in one call

return M
