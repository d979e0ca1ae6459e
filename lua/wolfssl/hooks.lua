--- Context options for the decision callbacks (internal): on_servername,
-- on_alpn, on_psk and psk, applied by the rows of wolfssl/options.lua;
-- the C side is csrc/negotiate.c (its installers run when core.ctx_callback
-- sets the callback).
local core = require "wolfssl.core"
local check = require "wolfssl.check"
-- (the PSK cipher suites are chosen with the others, in wolfssl/options.lua)

local M = {}

local MAX_IDENTITY, MAX_KEY = 127, 64

function M.check_psk(key, v)
  if type(v) ~= "table" then check.bad(key, "expected a table ({identity=, key=} or {hint=, keys={...}})", 4, v) end
  for k in pairs(v) do
    if k ~= "identity" and k ~= "key" and k ~= "hint" and k ~= "keys" then
      check.bad(key, ("unknown field '%s' (expected identity, key, hint or keys)"):format(tostring(k)), 4)
    end
  end
  local function bytes(field, s, max, text)
    if type(s) ~= "string" or #s == 0 or #s > max then
      check.bad(key, ("%s must be a string of 1 to %d bytes"):format(field, max), 5, s)
    end
    -- identities and the hint reach wolfSSL as C strings
    if text and s:find("%z") then check.bad(key, field .. " must not contain a NUL byte", 5, s) end
  end
  if v.keys ~= nil then
    if type(v.keys) ~= "table" then check.bad(key, "keys must be a table {identity = key}", 4, v.keys) end
    for id, k in pairs(v.keys) do
      bytes("every identity in keys", id, MAX_IDENTITY, true)
      bytes(("the key of '%s'"):format(tostring(id)), k, MAX_KEY)
    end
    if v.hint ~= nil then bytes("hint", v.hint, MAX_IDENTITY, true) end
    if v.identity ~= nil or v.key ~= nil then
      check.bad(key, "give identity/key (client) or hint/keys (server), not both", 4)
    end
  else
    bytes("identity", v.identity, MAX_IDENTITY, true)
    bytes("key", v.key, MAX_KEY)
    if v.hint ~= nil then check.bad(key, "hint is for servers (with keys)", 4) end
  end
end

-- apply(ctx, value, options, st) -> true or nil, msg (st: what wolfssl.context
-- resolved so far, and st.uv, the context's uservalue).

function M.apply_alpn(_, _, o)
  if o.alpn ~= nil then
    check.bad("on_alpn", "give a server alpn list or on_alpn, not both", 4)
  end
  return true
end

function M.apply_on_psk(ctx, _, o, st)
  if o.psk ~= nil then check.bad("on_psk", "give psk or on_psk, not both", 4) end
  if not core.features.psk then check.bad("on_psk", "PSK is not supported by this wolfSSL build", 4) end
  return true -- (installed by the registry when the row set it)
end

-- The fixed keys become an on_psk of our own (a copy: later edits of the
-- options table don't leak in).
function M.apply_psk(ctx, v, o, st)
  -- (before on_psk's row sets it: a callback is set once)
  if o.on_psk ~= nil then check.bad("on_psk", "give psk or on_psk, not both", 4) end
  if not core.features.psk then check.bad("psk", "PSK is not supported by this wolfSSL build", 4) end
  local hint
  if o.mode == "server" then
    if v.keys == nil then check.bad("psk", "a server needs {keys = {identity = key}}", 4) end
    local keys = {}
    for id, k in pairs(v.keys) do keys[id] = k end
    hint = v.hint
    st.uv.on_psk = function(_, identity) return identity and keys[identity] or nil end
  else
    if v.keys ~= nil then check.bad("psk", "a client needs {identity =, key =}", 4) end
    local identity, key = v.identity, v.key
    st.uv.on_psk = function() return identity, key end
  end
  if hint then
    local ok, err = core.ctx_psk_hint(ctx, hint)
    if not ok then return nil, "psk: " .. err end
  end
  return true
end

return M
