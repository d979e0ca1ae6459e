--- Context options for the decision callbacks (internal): on_servername,
-- on_alpn, on_psk and psk. Installed into the wolfssl module by init.lua;
-- the C side is csrc/negotiate.c.
local core = require "wolfssl.core"
local opts = require "wolfssl.options"

local M = {}

-- TLS 1.2 PSK suites used when psk/on_psk is set and `ciphers` is not given:
-- ECDHE-PSK first (forward secrecy), then plain PSK.
M.PSK_TLS12_CIPHERS = table.concat({
  "ECDHE-PSK-AES128-GCM-SHA256", "ECDHE-PSK-AES128-CBC-SHA256", "ECDHE-PSK-CHACHA20-POLY1305",
  "PSK-AES128-GCM-SHA256", "PSK-AES256-GCM-SHA384", "PSK-CHACHA20-POLY1305",
}, ":")

local MAX_IDENTITY, MAX_KEY = 127, 64

local function check_psk(key, v)
  if type(v) ~= "table" then opts.bad(key, "expected a table ({identity=, key=} or {hint=, keys={...}})", 4, v) end
  for k in pairs(v) do
    if k ~= "identity" and k ~= "key" and k ~= "hint" and k ~= "keys" then
      opts.bad(key, ("unknown field '%s' (expected identity, key, hint or keys)"):format(tostring(k)), 4)
    end
  end
  local function bytes(field, s, max, text)
    if type(s) ~= "string" or #s == 0 or #s > max then
      opts.bad(key, ("%s must be a string of 1 to %d bytes"):format(field, max), 5, s)
    end
    -- identities and the hint reach wolfSSL as C strings
    if text and s:find("%z") then opts.bad(key, field .. " must not contain a NUL byte", 5, s) end
  end
  if v.keys ~= nil then
    if type(v.keys) ~= "table" then opts.bad(key, "keys must be a table {identity = key}", 4, v.keys) end
    for id, k in pairs(v.keys) do
      bytes("every identity in keys", id, MAX_IDENTITY, true)
      bytes(("the key of '%s'"):format(tostring(id)), k, MAX_KEY)
    end
    if v.hint ~= nil then bytes("hint", v.hint, MAX_IDENTITY, true) end
    if v.identity ~= nil or v.key ~= nil then
      opts.bad(key, "give identity/key (client) or hint/keys (server), not both", 4)
    end
  else
    bytes("identity", v.identity, MAX_IDENTITY, true)
    bytes("key", v.key, MAX_KEY)
    if v.hint ~= nil then opts.bad(key, "hint is for servers (with keys)", 4) end
  end
end

-- PSK needs PSK cipher suites for TLS 1.2; TLS 1.3 uses its usual suites.
local function psk_ciphers(ctx, o)
  if o.ciphers then return true end
  local list = {}
  if o.max_version ~= "tls1.2" then
    list[#list + 1] = o.ciphersuites and table.concat(type(o.ciphersuites) == "table" and o.ciphersuites
      or { o.ciphersuites }, ":") or opts.DEFAULT_TLS13_SUITES
  end
  -- A client with PSK offers only PSK suites in TLS 1.2 (TLS 1.3 can still
  -- fall back to certificates). A server with a certificate prefers
  -- certificate suites: wolfSSL 5.5.4 clients without PSK still offer PSK
  -- suites, and would then fail; clients with PSK offer nothing else.
  if o.mode == "server" and o.certificate then list[#list + 1] = opts.DEFAULT_TLS12_CIPHERS end
  list[#list + 1] = M.PSK_TLS12_CIPHERS
  local ok, err = core.ctx_ciphers(ctx, table.concat(list, ":"))
  if not ok then return nil, "psk: " .. err end
  return true
end

local function server_only(key, o)
  if o.mode ~= "server" then opts.bad(key, "is for server contexts", 5) end
end

function M.install(wolfssl)
  local I = opts.IMPLEMENTED
  I.on_servername, I.on_alpn, I.on_psk = true, true, true
  opts.CONTEXT_TYPES.psk = check_psk
  local handlers = wolfssl._context_options

  handlers.on_servername = function(ctx, _, o)
    server_only("on_servername", o)
    local ok, err = core.hooks_servername(ctx)
    if not ok then opts.bad("on_servername", err, 4) end
    return true
  end

  handlers.on_alpn = function(ctx, _, o)
    server_only("on_alpn", o)
    if o.alpn ~= nil then
      opts.bad("on_alpn", "give a server alpn list or on_alpn, not both", 4)
    end
    local ok, err = core.hooks_alpn(ctx)
    if not ok then opts.bad("on_alpn", err, 4) end
    return true
  end

  handlers.on_psk = function(ctx, _, o)
    if o.psk ~= nil then opts.bad("on_psk", "give psk or on_psk, not both", 4) end
    if not wolfssl.features.psk then opts.bad("on_psk", "PSK is not supported by this wolfSSL build", 4) end
    local ok, err = core.hooks_psk(ctx)
    if not ok then opts.bad("on_psk", err, 4) end
    return psk_ciphers(ctx, o)
  end

  -- post_handshake_auth on a server: no CertificateRequest in the handshake,
  -- request_certificate() asks later (the client side is done by init.lua)
  handlers.post_handshake_auth = function(ctx, v, o)
    if v and o.mode == "server" then
      local ok, err = core.hooks_pha_server(ctx)
      if not ok then opts.bad("post_handshake_auth", err, 4) end
    end
    return true
  end

  handlers.psk = function(ctx, v, o, uv)
    -- (checked here too: handlers run in any order, and a callback is set once)
    if o.on_psk ~= nil then opts.bad("on_psk", "give psk or on_psk, not both", 4) end
    if not wolfssl.features.psk then opts.bad("psk", "PSK is not supported by this wolfSSL build", 4) end
    local hint
    if o.mode == "server" then
      if v.keys == nil then opts.bad("psk", "a server needs {keys = {identity = key}}", 4) end
      local keys = {}
      for id, k in pairs(v.keys) do keys[id] = k end -- a copy: later edits don't leak in
      hint = v.hint
      uv.on_psk = function(_, identity) return identity and keys[identity] or nil end
    else
      if v.keys ~= nil then opts.bad("psk", "a client needs {identity =, key =}", 4) end
      local identity, key = v.identity, v.key
      uv.on_psk = function() return identity, key end
    end
    local ok, err = core.hooks_psk(ctx, hint)
    if not ok then return nil, "psk: " .. err end
    return psk_ciphers(ctx, o)
  end
end

return M
