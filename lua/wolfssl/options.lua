--- Every option of wolfssl.context in one ordered table (internal), and the
-- keys of ctx:new. wolfssl.context checks every row's value, then applies the
-- rows in this order; the checks themselves are in wolfssl/check.lua.
local core = require "wolfssl.core"
local check = require "wolfssl.check"
local ech = require "wolfssl.ech"
local hooks = require "wolfssl.hooks"
local session = require "wolfssl.session"
local trace = require "wolfssl.trace"
local trust = require "wolfssl.trust"

local M = {}
local bad, want, text, one_of, integer = check.bad, check.want, check.text, check.one_of, check.integer
local callback = check.callback
local features = core.features

-- Our defaults, on every build whatever the library's own (DESIGN.md): AEAD
-- with forward secrecy only. The ChaCha20 names are the RFC 7905 suites
-- (0xcca8/0xcca9); wolfSSL calls the draft ones (0xcc13-0xcc15) "-OLD".
M.DEFAULT_TLS13_SUITES = "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256"
M.DEFAULT_TLS12_CIPHERS = table.concat({
  "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
}, ":")

--- Default key exchange groups, most preferred first: the hybrid
-- post-quantum group where the build has ML-KEM, X25519, then P-256, P-384
-- (never P-521 first: slow, and peers then pick it). Servers still accept
-- P-521 (and, with ML-KEM, SecP256r1MLKEM768 and SecP384r1MLKEM1024), last.
-- A TLS 1.2 PSK client puts P-256 first: wolfSSL 5.5.4 clients
-- fail ECDHE-PSK over X25519 ("Bad ECC Peer Key").
function M.default_groups(features, server, psk_tls12_client)
  local list = {}
  if features.mlkem then list[#list + 1] = "X25519MLKEM768" end
  if psk_tls12_client then list[#list + 1] = "P-256" end
  if features.x25519 then list[#list + 1] = "X25519" end
  if not psk_tls12_client then list[#list + 1] = "P-256" end
  list[#list + 1] = "P-384"
  if server then list[#list + 1] = "P-521" end
  if server and features.mlkem then -- the other hybrids a client may ask for, last
    list[#list + 1] = "SecP256r1MLKEM768"
    list[#list + 1] = "SecP384r1MLKEM1024"
  end
  return table.concat(list, ":")
end

-- Group names users write (lowercased) -> names wolfSSL's set1_groups_list
-- knows: the short names and the IANA names of decode.GROUP_SHORT, and
-- OpenSSL's name of P-256.
local GROUP_ALIASES = { prime256v1 = "P-256", ffdhe2048 = "ffdhe2048", ffdhe3072 = "ffdhe3072" }
for iana, short in pairs(require("wolfssl.decode").GROUP_SHORT) do
  GROUP_ALIASES[iana], GROUP_ALIASES[short:lower()] = short, short
end
function M.group_list(list)
  local out = {}
  for g in list:gmatch("[^:]+") do out[#out + 1] = GROUP_ALIASES[g:lower()] or g end
  return table.concat(out, ":")
end


-- TLS 1.2 PSK suites used when psk/on_psk is set and `ciphers` is not given:
-- ECDHE-PSK first (forward secrecy), then plain PSK.
M.PSK_TLS12_CIPHERS = table.concat({
  "ECDHE-PSK-AES128-GCM-SHA256", "ECDHE-PSK-AES128-CBC-SHA256", "ECDHE-PSK-CHACHA20-POLY1305",
  "PSK-AES128-GCM-SHA256", "PSK-AES256-GCM-SHA384", "PSK-CHACHA20-POLY1305",
}, ":")

local VERSIONS = { ["tls1.0"] = 0x0301, ["tls1.1"] = 0x0302, ["tls1.2"] = 0x0303, ["tls1.3"] = 0x0304 }

local DTLS_VERSIONS = { ["dtls1.2"] = 0xfefd, ["dtls1.3"] = 0xfefc }

local function version_of(key, v)
  if v == "ssl3" or v == "ssl2" or v == "sslv3" or v == "sslv2" then
    bad(key, ("%s is obsolete and insecure and is not supported"):format(v), 5)
  end
  if DTLS_VERSIONS[v] then bad(key, ('"%s" is a DTLS version: it needs dtls = true'):format(v), 5) end
  local n = VERSIONS[v]
  if not n then bad(key, 'expected "tls1.2" or "tls1.3"', 5, v) end
  return n
end

--- DTLS (o.dtls): the version range as wire numbers (min, max) for
-- core.context_new, checked; nothing when o is not DTLS. Default dtls1.2 ..
-- dtls1.3 where the build has DTLS 1.3, else dtls1.2 only.
function M.dtls_range(o)
  if not o.dtls then return end
  if not features.dtls then bad("dtls", "this wolfSSL build has no DTLS (features.dtls is false)", 4) end
  local function one(key, v)
    local n = DTLS_VERSIONS[v]
    if not n then bad(key, 'with dtls = true: expected "dtls1.2" or "dtls1.3"', 5, v) end
    if n == 0xfefc and not features.dtls13 then
      bad(key, "dtls1.3 is not supported by this wolfSSL build (features.dtls13 is false)", 5)
    end
    return n
  end
  local min = one("min_version", o.min_version or "dtls1.2")
  local max = one("max_version", o.max_version or (features.dtls13 and "dtls1.3" or "dtls1.2"))
  if min < max then bad("min_version", "is above max_version", 4) end -- (DTLS counts down)
  return min, max
end

-- A certificate chain given as PEM text (one string with every certificate).
local function chain_pem(key, v)
  if check.is_object(v) then return v:pem(), "pem" end
  if type(v) == "table" then
    local parts = {}
    for i, item in ipairs(v) do
      local pem, err = check.cert_pem(key .. "[" .. i .. "]", item)
      if not pem then return nil, err end
      parts[#parts + 1] = pem
    end
    if #parts == 0 then bad(key, "empty array", 5) end
    return table.concat(parts, "\n"), "pem"
  end
  return check.load_bytes(key, v)
end

-- Does the private key belong to the certificate? wolfSSL's own check misses
-- a wrong key of the same curve on some builds (Debian's), so compare the
-- public halves too. Keys or certificates we cannot parse here (Ed25519
-- certificates) are left to wolfSSL's check.
local function same_public_key(cert_bytes, key_bytes, password)
  local x = require("wolfssl.x509").load(cert_bytes)
  local k = require("wolfssl.pkey").load(key_bytes, password)
  if not x or not k then return true end
  local xp, kp = x:public_key(), k:public()
  if not xp or not kp then return true end
  return xp:der() == kp:der()
end

-- The password option: a string, or a function called once, now.
local function password_of(password)
  if type(password) == "function" or check.is_callable(password) then
    local ok, pw = pcall(password)
    if not ok then return nil, "password: the password function raised: " .. tostring(pw) end
    if type(pw) ~= "string" then return nil, "password: the password function must return a string" end
    if pw:find("%z") then return nil, "password: the password function returned a string with a NUL byte" end
    return pw
  end
  return password
end

-- "key 'x' does not match the certificate 'y'": name the files when they came from files
local function file(v)
  return (type(v) == "string" and not v:find("-----BEGIN", 1, true) and #v < 4096
          and not v:find("%z")) and (" '%s'"):format(v) or ""
end

-------------------------------------------------------------------------------
-- apply(ctx, value, options, st) -> true, or nil and a message. st holds what
-- earlier rows resolved (server, min, max, verify, ...) and uv, the context's
-- uservalue (the callbacks C calls). Rows marked `always` run when the value
-- is nil too (they apply a default).

local function versions(ctx, _, o, st)
  if o.dtls then -- applied by core.context_new (M.dtls_range); the TLS numbers for the rows below
    local min, max = M.dtls_range(o)
    st.min, st.max = min == 0xfefc and 0x0304 or 0x0303, max == 0xfefc and 0x0304 or 0x0303
    return true
  end
  local min = o.min_version and version_of("min_version", o.min_version) or 0x0303
  local max = o.max_version and version_of("max_version", o.max_version) or 0x0304
  if min > max then bad("min_version", "is above max_version", 4) end
  if min < 0x0303 then
    if not core.ctx_versions(ctx, min, max) then
      bad("min_version", o.min_version .. " is not supported by this wolfSSL build", 4)
    end
  else
    assert(core.ctx_versions(ctx, min, max))
  end
  st.min, st.max = min, max
  return true
end

-- wolfSSL accepts a list when any entry is known: check the user's list alone
local function probe_ciphers(key)
  return function(_, v, _, st)
    local probe = core.context_new(st.server)
    local ok, err = core.ctx_ciphers(probe, check.colon_list(key, v))
    probe:free()
    if not ok then bad(key, err, 4, v) end
    return true
  end
end

-- ciphers covers TLS <= 1.2, ciphersuites TLS 1.3; wolfSSL takes one list.
-- Ours apply to whatever the user leaves out, on every build. PSK needs PSK
-- suites in TLS 1.2: a client with PSK offers only those (TLS 1.3 can still
-- fall back to certificates); a server with a certificate prefers
-- certificate suites (wolfSSL 5.5.4 clients without PSK still offer PSK
-- suites, and would then fail; clients with PSK offer nothing else).
local function cipher_list(ctx, v, o, st)
  if v ~= nil then probe_ciphers("ciphersuites")(ctx, v, o, st) end
  local list = {}
  if v ~= nil then list[#list + 1] = check.colon_list("ciphersuites", v)
  elseif st.max >= 0x0304 then list[#list + 1] = M.DEFAULT_TLS13_SUITES end
  -- (a TLS 1.3-only context keeps the TLS 1.2 suites too: a TLS 1.2-only
  -- wolfSSL server then answers the version, not "no shared cipher")
  local psk = features.psk and (o.psk ~= nil or o.on_psk ~= nil) and o.ciphers == nil
  if o.ciphers ~= nil then list[#list + 1] = check.colon_list("ciphers", o.ciphers)
  elseif not psk or (st.server and o.certificate) then list[#list + 1] = M.DEFAULT_TLS12_CIPHERS end
  if psk then list[#list + 1] = M.PSK_TLS12_CIPHERS end
  local ok, err = core.ctx_ciphers(ctx, table.concat(list, ":"))
  if not ok and psk then return nil, "psk: " .. err end
  if not ok then bad(o.ciphers and "ciphers" or "ciphersuites", err, 4) end
  return true
end

local function groups(ctx, v, o, st)
  if v ~= nil then
    local glist = check.colon_list("groups", v)
    local ok, err = core.ctx_groups(ctx, M.group_list(glist))
    if not ok then bad("groups", err, 4, glist) end
  else
    local psk_client = not st.server and st.min <= 0x0303 and (o.psk ~= nil or o.on_psk ~= nil)
    local ok, err = core.ctx_groups(ctx, M.default_groups(features, st.server, psk_client))
    -- (wolfSSL 5.5.4 sets no groups on a DTLS 1.2 context: its own curves then)
    assert(ok or o.dtls, err)
  end
  return true
end

local function certificate(ctx, v, _, st)
  local data, fmt = chain_pem("certificate", v)
  if not data then return nil, fmt end
  st.cert_bytes = data -- the leaf (first) certificate, for the key check
  local ok, err = core.ctx_certificate(ctx, data, fmt)
  if not ok then return nil, check.where("certificate", v, "certificate: " .. err) end
  return true
end

local function key(ctx, v, o, st)
  if v == nil then
    if o.certificate and st.server then return nil, "key: a server certificate needs its private key (option 'key')" end
    return true
  end
  local data, fmt = check.key_bytes("key", v)
  if not data then return nil, fmt end
  local password, perr = password_of(o.password)
  if perr then return nil, perr end
  local ok, err = core.ctx_key(ctx, data, fmt, password)
  if not ok then return nil, check.where("key", v, "key: " .. err) end
  if o.certificate then
    ok = core.ctx_check_key(ctx) and same_public_key(st.cert_bytes, data, password)
    if not ok then
      return nil, ("key: the private key%s does not match the certificate%s"):format(file(v), file(o.certificate))
    end
  end
  return true
end

local function verify(_, v, _, st)
  st.verify = v or (st.server and "none" or "peer")
  return true
end

local function cafile(ctx, v, _, st)
  local data, fmt = check.read_file("cafile", v)
  if not data then return nil, fmt end
  local ok, err = core.ctx_ca_buffer(ctx, data, fmt)
  if not ok then return nil, ("cafile: %s in '%s'"):format(err, v) end
  st.ca, st.have_ca = data, true
  return true
end

local function capath(ctx, v, _, st)
  local ok, err = core.ctx_capath(ctx, v)
  if not ok then return nil, ("capath: %s '%s'"):format(err, v) end
  st.have_ca = true
  return true
end

local function cadata(ctx, v, _, st)
  local items = (type(v) == "table" and not check.is_object(v)) and v or { v }
  for i, item in ipairs(items) do
    local pem, perr = check.cert_pem("cadata", item, true)
    if not pem then return nil, perr end
    local ok, err = core.ctx_ca_buffer(ctx, pem, "pem")
    if not ok then return nil, ("cadata[%d]: %s"):format(i, err) end
  end
  st.have_ca = true
  return true
end

local function system_ca(ctx, v, _, st)
  if v == nil then v = not st.server and not st.have_ca and st.verify ~= "none" end
  st.system_ca = v
  if v then
    local ok, err = core.ctx_system_ca(ctx)
    if not ok then return nil, "system_ca: " .. err end
  end
  return true
end

-- the verify flags, computed here only: verify, verify_depth, check_hostname
local function check_hostname(ctx, v, o, st)
  if v == nil then v = not st.server and st.verify ~= "none" end
  if v and st.verify == "none" then bad("check_hostname", 'needs verify = "peer" (verify is "none")', 4) end
  if v and st.server then bad("check_hostname", "is for clients", 4) end
  st.check_hostname = v
  core.ctx_verify(ctx, st.verify, o.verify_depth or 9, v)
  session._set_trust(ctx, o, st)
  return true
end

local function alpn(ctx, v)
  local ok, err = core.ctx_alpn(ctx, check.alpn_list("alpn", v))
  if not ok then return nil, "alpn: " .. err end
  return true
end

local function sessions(ctx, _, o)
  core.ctx_sessions(ctx, check.switch(o.session_tickets, true), check.switch(o.session_cache, true),
    o.session_cache_size, o.session_timeout)
  return true
end

-- TLS 1.2 renegotiation: refused unless asked for (and the build has it)
local function renegotiation(ctx, v)
  if v == "allow" then
    local ok, err = core.ctx_renegotiation(ctx)
    if not ok then bad("renegotiation", err, 4, v) end
  end
  return true
end

-- a server then sends no CertificateRequest in the handshake:
-- conn:request_certificate() asks later
local function post_handshake_auth(ctx, v, _, st)
  if not v then return true end
  local ok, err = core.ctx_post_handshake_auth(ctx)
  if ok and st.server then ok, err = core.hooks_pha_server(ctx) end
  if not ok then bad("post_handshake_auth", err, 4) end
  return true
end

-- TLS 1.3 early data a server accepts, advertised in its tickets (0: none).
-- Its tickets then go through our ticket callback (a random key of its own
-- unless ticket_keys / on_ticket_key say otherwise: rows above), where a
-- replayed flight's ticket is refused before wolfSSL takes its early data.
local function max_early_data(ctx, v, o)
  local ok, err = core.ctx_max_early_data(ctx, v)
  if not ok then bad("max_early_data", err, 4, v) end
  if v > 0 and features.ticket_keys and o.ticket_keys == nil and o.on_ticket_key == nil
      and check.switch(o.session_tickets, true) then
    assert(core.ctx_ticket_keys(ctx, { session.new_ticket_key() }))
  end
  return true
end

-- DTLS: the largest datagram wolfSSL sends (builds with WOLFSSL_DTLS_MTU;
-- elsewhere wolfSSL's fixed 1400, the default, is the only value)
local function mtu(ctx, v, o)
  if not o.dtls then bad("mtu", "is for DTLS contexts (dtls = true)", 4) end
  local ok, err = core.ctx_mtu(ctx, v)
  if not ok then bad("mtu", err, 4, v) end
  return true
end

local function mode(key, v)
  if v ~= "client" and v ~= "server" then bad(key, 'expected "client" or "server"', 4, v) end
end

local string_ = text({ string = true })
local list = text({ string = true, table = true })
local boolean = want({ boolean = true })

--- The options of wolfssl.context, in the order they are applied:
-- { key, check = function(key, value) raising on a bad value,
--   apply = function(ctx, value, options, st), always = apply when nil too,
--   modes = "client" | "server" (with wrong_mode, the message otherwise),
--   required = checked when nil }
-- The callbacks among them are core.CALLBACKS (csrc/context.c's registry).
M.CONTEXT = {
  { "mode", check = mode, required = true },
  { "dtls", check = boolean }, -- applied by core.context_new (M.dtls_range)
  { "mtu", check = integer(256), apply = mtu },
  { "min_version", check = string_ },
  { "max_version", check = string_, apply = versions, always = true }, -- both versions
  { "ciphers", check = list, apply = probe_ciphers("ciphers") },
  { "ciphersuites", check = list, apply = cipher_list, always = true }, -- the whole list
  { "groups", check = list, apply = groups, always = true },
  { "certificate", check = want({ string = true, table = true, userdata = true }), apply = certificate },
  { "password", check = text({ string = true, ["function"] = true, callable = true }) }, -- used by key
  { "key", check = want({ string = true, userdata = true, table = true }), apply = key, always = true },
  { "verify", check = one_of("none", "peer", "require"), apply = verify, always = true },
  { "verify_depth", check = integer(0) }, -- used by check_hostname
  { "cafile", check = string_, apply = cafile },
  { "capath", check = string_, apply = capath },
  { "cadata", check = want({ string = true, table = true, userdata = true }), apply = cadata },
  { "system_ca", check = boolean, apply = system_ca, always = true },
  { "check_hostname", check = boolean, apply = check_hostname, always = true },
  { "crl", apply = trust.apply_crl },
  { "ocsp_stapling", apply = trust.apply_ocsp_stapling, modes = "client",
    wrong_mode = "is for clients (a server staples with the option 'staple')" },
  { "staple", apply = trust.apply_staple, modes = "server",
    wrong_mode = "is for servers (a client asks with ocsp_stapling)" },
  { "alpn", check = list, apply = alpn },
  { "session_tickets", check = check.switch_check },
  { "session_cache", check = check.switch_check },
  { "session_cache_size", check = integer(1) },
  { "session_timeout", check = integer(1), apply = sessions, always = true }, -- the four above
  { "renegotiation", check = one_of("refuse", "allow"), apply = renegotiation },
  { "post_handshake_auth", check = boolean, apply = post_handshake_auth },
  { "psk", check = hooks.check_psk, apply = hooks.apply_psk },
  { "ticket_keys", apply = session._apply_ticket_keys, modes = "server" },
  { "ech", check = ech.check_server, apply = ech.apply_server, modes = "server",
    wrong_mode = "is for servers (a client is given the server's list with ech_configs)" },
  { "ech_configs", check = ech.check_client, apply = ech.apply_client, modes = "client",
    wrong_mode = "is for clients (a server makes its keys with ech and publishes them with ctx:ech_configs())" },
  { "ech_grease", check = ech.check_grease, apply = ech.apply_grease, always = true, modes = "client" },
  -- callbacks (the context's uservalue holds them under their key)
  { "on_verify", check = callback },
  { "on_servername", check = callback, modes = "server", wrong_mode = "is for server contexts" },
  { "on_alpn", check = callback, apply = hooks.apply_alpn,
    modes = "server", wrong_mode = "is for server contexts" },
  { "on_psk", check = callback, apply = hooks.apply_on_psk },
  { "on_new_session", check = callback, apply = session._apply_new_session },
  { "session_store", check = want({ table = true }), apply = session._apply_store, modes = "server" },
  { "on_ticket_key", check = callback, apply = session._apply_ticket_key_cb, modes = "server" },
  -- (after ticket_keys and on_ticket_key: it may give the context a ticket key)
  { "max_early_data", check = integer(0), apply = max_early_data,
    modes = "server", wrong_mode = "is for server contexts (a client sends early data with conn:write_early)" },
  { "on_message", check = callback, apply = trace._apply_callback },
  { "on_state", check = callback, apply = trace._apply_callback },
  { "keylog", check = callback, apply = trace._apply_keylog },
}

M.CONTEXT_KEYS, M.CALLBACKS, M.IS_CALLBACK = {}, core.CALLBACKS, {}
for i, row in ipairs(M.CONTEXT) do M.CONTEXT_KEYS[i] = row[1] end
for _, name in ipairs(core.CALLBACKS) do M.IS_CALLBACK[name] = true end

M.CONN_KEYS = { "fd", "server_name", "session", "alpn", "data", "timeout", "ech_configs" }

return M
