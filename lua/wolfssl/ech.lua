--- Encrypted Client Hello (RFC 9849), where `wolfssl.features.ech` is true.
--
-- A server context made with `ech = {public_name = "public.example"}` holds a
-- fresh HPKE key pair (kept inside wolfSSL: it cannot be exported, so every
-- server context has its own) and publishes its ECHConfigList with
-- `ctx:ech_configs()` -> bytes, base64 (the base64 form is what goes into the
-- `ech=` parameter of a DNS HTTPS record). A client context or connection
-- given `ech_configs = <bytes or base64>` encrypts its real ClientHello; the
-- outer one carries only the public name. `conn:ech()` says what happened.
-- @module wolfssl.ech
local core = require "wolfssl.core"
local check = require "wolfssl.check"

local M = {}
local bad = check.bad

local UNSUPPORTED = "Encrypted Client Hello is not supported by this wolfSSL build (features.ech is false)"

-- HPKE identifiers (RFC 9180), by the names users write (lowercased)
M.KEM = { x25519 = 0x0020, ["p-256"] = 0x0010, ["p-384"] = 0x0011, ["p-521"] = 0x0012, x448 = 0x0021 }
M.KDF = { ["hkdf-sha256"] = 1, ["hkdf-sha384"] = 2, ["hkdf-sha512"] = 3 }
M.AEAD = { ["aes-128-gcm"] = 1, ["aes-256-gcm"] = 2 }
local KEM_KDF = { [0x0020] = 1, [0x0010] = 1, [0x0011] = 2, [0x0012] = 3, [0x0021] = 3 }

local function supported(key, level)
  if not core.features.ech then bad(key, UNSUPPORTED, level + 2) end
end

---------------------------------------------------------------------------
-- base64 (RFC 4648, what DNS HTTPS records carry): x509.lua's coder (PEM)
local x509 = require "wolfssl.x509"
M.base64 = x509._base64

-- strict: a string is taken as base64 only when it is well formed
local function unbase64(s)
  s = s:gsub("%s", "")
  if #s % 4 ~= 0 or not s:find("^[%w+/]*=?=?$") then return nil end
  return x509._unbase64(s)
end

--- The bytes of an ECHConfigList given as bytes or base64, or nil and why.
function M.list_bytes(v)
  local raw = v
  if v:find("^[%w+/=%s]+$") then raw = unbase64(v) end
  if not raw then return nil, "not an ECHConfigList (neither its bytes nor base64)" end
  if #raw < 2 or raw:byte(1) * 256 + raw:byte(2) ~= #raw - 2 then
    return nil, "not an ECHConfigList (its length prefix does not match)"
  end
  return raw
end

--- Decode an ECHConfigList (bytes or base64): an array of
-- {version=, config_id=, kem=, public_name=, cipher_suites={{kdf=, aead=}}}
-- (configs of other versions: {version=} only), or nil and why.
function M.decode(v)
  local raw, err = M.list_bytes(v)
  if not raw then return nil, err end
  local function u16(i) return raw:byte(i) * 256 + raw:byte(i + 1) end
  local list, i = {}, 3
  while i <= #raw do
    if i + 3 > #raw then return nil, "truncated ECHConfig" end
    local version, len = u16(i), u16(i + 2)
    local stop = i + 4 + len
    if stop - 1 > #raw then return nil, "truncated ECHConfig" end
    local c = { version = version }
    if version == 0xfe0d then
      local p = i + 4
      c.config_id, c.kem = raw:byte(p), u16(p + 1)
      p = p + 3
      p = p + 2 + u16(p) -- public key
      local n = u16(p)
      c.cipher_suites = {}
      for k = p + 2, p + 1 + n, 4 do c.cipher_suites[#c.cipher_suites + 1] = { kdf = u16(k), aead = u16(k + 2) } end
      p = p + 2 + n
      c.max_name_length = raw:byte(p)
      c.public_name = raw:sub(p + 2, p + 1 + raw:byte(p + 1))
    end
    list[#list + 1] = c
    i = stop
  end
  return list
end

---------------------------------------------------------------------------
-- the context options (rows of wolfssl/options.lua)

local ECH_KEYS = { "public_name", "kem", "kdf", "aead", "max_name_length" }
local function one_config(key, t)
  for k in pairs(t) do
    local known = false
    for _, name in ipairs(ECH_KEYS) do known = known or k == name end
    if not known then bad(key, ("unknown field '%s' (expected %s)"):format(tostring(k), table.concat(ECH_KEYS, ", ")), 6) end
  end
  local name = t.public_name
  if type(name) ~= "string" or name == "" or #name > 255 or name:find("[%z%s]") then
    bad(key .. ".public_name", "expected a host name (1 to 255 characters)", 6, name)
  end
  local function id_of(field, tbl, default)
    local v = t[field]
    if v == nil then return default end
    local id = type(v) == "string" and tbl[v:lower()]
    if not id then
      local names = {}
      for n in pairs(tbl) do names[#names + 1] = ("%q"):format(n) end
      table.sort(names)
      bad(key .. "." .. field, "expected one of " .. table.concat(names, ", "), 7, v)
    end
    return id
  end
  local kem = id_of("kem", M.KEM, 0x0020)
  local c = { name = name, kem = kem, kdf = id_of("kdf", M.KDF, KEM_KDF[kem]), aead = id_of("aead", M.AEAD, 1) }
  local m = t.max_name_length
  if m ~= nil and (type(m) ~= "number" or m % 1 ~= 0 or m < 0 or m > 255) then
    bad(key .. ".max_name_length", "expected an integer from 0 to 255", 6, m)
  end
  c.max_name_length = m or 0
  return c
end

-- server: `ech = {public_name=, kem=, kdf=, aead=, max_name_length=}` or an array of them
local function configs_of(key, v)
  if type(v) ~= "table" then bad(key, "expected a table {public_name = ...} or an array of them", 5, v) end
  local items = v[1] ~= nil and v or { v }
  local out = {}
  for i, t in ipairs(items) do
    if type(t) ~= "table" then bad(key, "expected a table {public_name = ...} or an array of them", 5, t) end
    out[i] = one_config(key, t)
  end
  return out
end

function M.check_server(key, v)
  supported(key, 3)
  configs_of(key, v)
end

function M.apply_server(ctx, v)
  local list = configs_of("ech", v)
  for i = #list, 1, -1 do -- wolfSSL puts the newest first: the first one given ends first
    local c = list[i]
    local ok, err = core.ech_generate(ctx, c.name, c.kem, c.kdf, c.aead, c.max_name_length)
    if not ok then bad("ech", "cannot make ECH keys: " .. err, 4) end
  end
  return true
end

-- client: the ECHConfigList each connection uses (by context, kept from Lua
-- code: a weak table of this module)
local CLIENT_LIST = setmetatable({}, { __mode = "k" })
M.any_context = false -- no context has a list yet: ctx:new skips _list_for/_prepare

local function client_list(key, v, level)
  supported(key, level + 1)
  if type(v) ~= "string" then bad(key, "expected an ECHConfigList: its bytes or base64", level + 2, v) end
  local raw, err = M.list_bytes(v)
  if raw then
    local ok, cerr = core.ech_check(raw)
    if not ok then err = cerr else return raw end
  end
  bad(key, err, level + 2, v)
end

function M.check_client(key, v) client_list(key, v, 3) end

-- wolfSSL 5.9.2 cannot send a PSK (resumption or external) with ECH
-- (csrc/wolfcompat.h LWL_ECH_NO_PSK): such a connection would always fail
local NO_PSK = core.features.ech and not core.features.ech_resumption
local NO_PSK_WHY = "cannot be combined with psk/on_psk on this wolfSSL: its ECH client seals the inner " ..
  "ClientHello before it writes the PSK binders, so no server can decrypt it (features.ech_resumption is false)"
local PSK_CONTEXT = setmetatable({}, { __mode = "k" })

function M.apply_client(ctx, v, o)
  if NO_PSK and (o.psk ~= nil or o.on_psk ~= nil) then bad("ech_configs", NO_PSK_WHY, 4) end
  CLIENT_LIST[ctx] = client_list("ech_configs", v, 3)
  M.any_context = true -- ctx:new looks for a context's list from now on
  return true
end

-- `ech_grease = false`: a client without ech_configs sends no GREASE
-- encrypted_client_hello extension (wolfSSL sends one by default)
function M.check_grease(key, v)
  supported(key, 3)
  if type(v) ~= "boolean" then bad(key, "expected a boolean", 4, v) end
end

function M.apply_grease(ctx, v, o) -- (runs for every context: it notes a PSK client)
  if v == false then core.ech_enable(ctx, false) end
  if NO_PSK and o.mode == "client" and (o.psk ~= nil or o.on_psk ~= nil) then PSK_CONTEXT[ctx] = true end
  return true
end

--- ctx:new, before the connection exists: the list it will use (the
-- per-connection `ech_configs`, checked here, else the context's), or nil.
function M._list_for(ctx, override)
  if override == nil then return CLIENT_LIST[ctx] end
  if PSK_CONTEXT[ctx] then bad("ech_configs", NO_PSK_WHY, 4) end
  return client_list("ech_configs", override, 3)
end

--- ctx:new, once the connection exists.
function M._prepare(conn, list, override)
  if override ~= nil and conn:is_server() then
    conn:close()
    bad("ech_configs", "is for clients (a server publishes its list with ctx:ech_configs())", 4)
  end
  -- (where the build cannot resume with ECH, set_session then offers no
  -- session and says why: csrc/session.c)
  if list then assert(core.ech_use(conn, list)) end
end

--- ctx:ech_configs() -> the ECHConfigList of a server context made with `ech`
-- (bytes), and its base64 form; nil when it has none.
function M.configs(ctx)
  if not core.features.ech then return nil end
  local raw = core.ech_configs(ctx)
  if not raw then return nil end
  return raw, M.base64(raw)
end

return M
