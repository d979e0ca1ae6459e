--- Option checking shared by wolfssl.context and ctx:new (internal).
-- Unknown keys and bad values raise an error that names the key; files that
-- cannot be read come back as nil, message naming the file.
local M = {}

local wolfssl -- the wolfssl module, set by set_module (avoids a require loop)
function M.set_module(m) wolfssl = m end

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

M.CONTEXT_KEYS = {
  "mode", "min_version", "max_version", "ciphers", "ciphersuites", "groups",
  "certificate", "key", "password", "cafile", "capath", "cadata", "system_ca",
  "verify", "verify_depth", "check_hostname", "crl", "ocsp_stapling", "staple", "alpn",
  "session_tickets", "session_cache", "session_cache_size", "session_timeout",
  "psk", "ticket_keys", "post_handshake_auth", "renegotiation",
  "on_verify", "on_servername", "on_alpn", "on_psk", "on_new_session", "session_store",
  "on_ticket_key", "on_message", "on_state", "keylog",
}
M.CONN_KEYS = { "fd", "server_name", "session", "alpn", "data" }

-- Callbacks the binding runs today; the others raise "not supported yet".
M.IMPLEMENTED = { on_verify = true,
  on_new_session = true, session_store = true, on_ticket_key = true } -- session.lua

-- Levenshtein distance, for "did you mean" suggestions.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggest(key, valid)
  local best, bestd
  for _, k in ipairs(valid) do
    local d = distance(key, k)
    if not bestd or d < bestd then best, bestd = k, d end
  end
  if bestd and bestd <= math.max(2, math.floor(#key / 3)) then
    return (" (did you mean '%s'?)"):format(best)
  end
  return ""
end

local function show(v)
  if type(v) == "string" then return ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  return tostring(v)
end

--- Raise "bad option 'key': why (got value)"; level as for error().
function M.bad(key, why, level, value)
  local got = value ~= nil and (" (got %s)"):format(show(value)) or ""
  error(("bad option '%s': %s%s"):format(key, why, got), level or 3)
end

-- Sets of valid keys, built once per list (ctx:new runs for every
-- connection: no table built per call). Rebuilt if the list grows.
local key_sets = setmetatable({}, { __mode = "k" })
local function set_of(valid)
  local s = key_sets[valid]
  if s and s[0] == #valid then return s end
  s = { [0] = #valid }
  for _, k in ipairs(valid) do s[k] = true end
  key_sets[valid] = s
  return s
end

function M.check_keys(fname, t, valid)
  local set = set_of(valid)
  for k in pairs(t) do
    if type(k) ~= "string" then
      error(("bad argument #1 to '%s' (option keys must be strings, got %s)"):format(fname, type(k)), 3)
    end
    if not set[k] then
      error(("bad argument #1 to '%s' (unknown option '%s'%s)"):format(fname, k, suggest(k, valid)), 3)
    end
  end
end

function M.is_callable(v)
  if type(v) == "function" then return true end
  local mt = (type(v) == "table" or type(v) == "userdata") and getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- Userdata made by this binding (x509, pkey) and anything with a pem() method.
function M.is_object(v)
  local t = type(v)
  if t ~= "userdata" and t ~= "table" then return false end
  local ok, pem = pcall(function() return v.pem end) -- a foreign userdata may not index
  return ok and type(pem) == "function"
end

local function is_pem(s) return s:find("-----BEGIN", 1, true) ~= nil end
local function is_der(s) return #s > 16 and s:byte(1) == 0x30 and s:find("[%z\1-\8\14-\31\128-\255]") ~= nil end

local function typename(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return type(mt) == "table" and type(mt.__name) == "string" and mt.__name or type(v)
end

--- The self check of a Connection method written in Lua: raises as the C
-- methods do ("bad argument #1 to 'info' (wolfssl.Connection expected, got x)").
function M.check_conn(fname, v)
  if typename(v) ~= "wolfssl.Connection" then
    error(("bad argument #1 to '%s' (wolfssl.Connection expected, got %s)"):format(
      fname, v == nil and "no value" or typename(v)), 3)
  end
end

--- Raise when a string that becomes a C string (a name, a path, a
-- password) holds a NUL byte: C would silently cut it there.
function M.no_nul(key, v, level)
  if type(v) == "string" and v:find("%z") then M.bad(key, "must not contain a NUL byte", (level or 3) + 1, v) end
  if type(v) == "table" and not M.is_object(v) then
    for _, e in ipairs(v) do M.no_nul(key, e, (level or 3) + 1) end
  end
end

--- Read a file: bytes and "pem"|"der", or nil, "key: cannot read file 'x': reason".
function M.read_file(key, path)
  M.no_nul(key, path, 4)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, ("%s: cannot read file '%s': %s"):format(key, path, (err or ""):gsub("^[^:]*: ", ""))
  end
  local data, rerr = f:read("*a")
  f:close()
  if not data then -- a directory, say
    return nil, ("%s: cannot read file '%s': %s"):format(key, path, tostring(rerr):gsub("^[^:]*: ", ""))
  end
  if data == "" then return nil, ("%s: file '%s' is empty"):format(key, path) end
  return data, is_pem(data) and "pem" or "der"
end

--- A path, PEM text or DER bytes: bytes and their format.
function M.load_bytes(key, v)
  if type(v) ~= "string" then M.bad(key, "expected a file path, PEM or DER string", 4, v) end
  if is_pem(v) then return v, "pem" end
  if is_der(v) then return v, "der" end
  return M.read_file(key, v)
end

--- One certificate as PEM text (from a path, PEM, DER, or an x509 object).
function M.cert_pem(key, v, allow_many)
  if M.is_object(v) then return v:pem() end
  local data, fmt = M.load_bytes(key, v)
  if not data then return nil, fmt end
  if fmt == "pem" then return data end
  local x = wolfssl.x509.load(data)
  if not x then return nil, ("%s: not a valid certificate"):format(key) end
  return x:pem()
end

--- A private key: bytes and format, from a path, PEM, DER or a pkey object.
function M.key_bytes(key, v)
  if M.is_object(v) then
    if type(v.der) == "function" then return v:der(), "der" end
    return v:pem(), "pem"
  end
  return M.load_bytes(key, v)
end

--- "key: reason" plus which file, when the value was a path.
function M.where(key, v, err)
  if type(v) == "string" and not is_pem(v) and not is_der(v) then
    return ("%s in '%s'"):format(err, v)
  end
  return err
end

--- ALPN protocols (array or comma list) as wolfSSL's comma list.
function M.alpn_list(key, v)
  local list = v
  if type(v) == "string" then
    list = {}
    for p in v:gmatch("[^,]+") do list[#list + 1] = p end
  end
  if type(list) ~= "table" or #list == 0 then M.bad(key, "expected a non-empty array of protocol names", 4, v) end
  for i, p in ipairs(list) do
    if type(p) ~= "string" or #p == 0 or #p > 255 or p:find(",", 1, true) or p:find("%z") then
      M.bad(key, ("entry %d is not a valid protocol name"):format(i), 4, p)
    end
  end
  return table.concat(list, ",")
end

-- Group names users write -> names wolfSSL's set1_groups_list knows.
local GROUP_ALIASES = {
  x25519 = "X25519", x448 = "X448", ["p-256"] = "P-256", secp256r1 = "P-256", prime256v1 = "P-256",
  ["p-384"] = "P-384", secp384r1 = "P-384", ["p-521"] = "P-521", secp521r1 = "P-521",
  ffdhe2048 = "ffdhe2048", ffdhe3072 = "ffdhe3072",
}
function M.group_list(list)
  local out = {}
  for g in list:gmatch("[^:]+") do out[#out + 1] = GROUP_ALIASES[g:lower()] or g end
  return table.concat(out, ":")
end

local function want(types)
  return function(key, v)
    if not types[type(v)] and not (types.callable and M.is_callable(v)) then
      local names = {}
      for t in pairs(types) do names[#names + 1] = t end
      table.sort(names)
      M.bad(key, "expected " .. table.concat(names, " or "), 4, v)
    end
  end
end

-- want(types), and no NUL byte in the string (or strings of the array)
local function text(types)
  local check = want(types)
  return function(key, v)
    check(key, v)
    M.no_nul(key, v, 4)
  end
end

local function one_of(...)
  local set, names = {}, {}
  for _, v in ipairs({ ... }) do set[v] = true; names[#names + 1] = ("%q"):format(v) end
  return function(key, v)
    if not set[v] then M.bad(key, "expected one of " .. table.concat(names, ", "), 4, v) end
  end
end

local function integer(min)
  return function(key, v)
    if type(v) ~= "number" or v % 1 ~= 0 or v < min then
      M.bad(key, ("expected an integer >= %d"):format(min), 4, v)
    end
  end
end

-- On/off options (session_tickets, session_cache) take a boolean or "on"/"off".
local SWITCH = { on = true, off = false, [true] = true, [false] = false }
local function switch(key, v)
  if SWITCH[v] == nil then M.bad(key, 'expected true, false, "on" or "off"', 4, v) end
end

--- The boolean value of a checked on/off option, or default when it is nil.
function M.switch(v, default)
  if v == nil then return default end
  return SWITCH[v]
end

local callback = want({ ["function"] = true, callable = true })
M.CONTEXT_TYPES = {
  min_version = text({ string = true }), max_version = text({ string = true }),
  ciphers = text({ string = true, table = true }), ciphersuites = text({ string = true, table = true }),
  groups = text({ string = true, table = true }),
  certificate = want({ string = true, table = true, userdata = true }),
  key = want({ string = true, userdata = true, table = true }),
  password = text({ string = true, ["function"] = true, callable = true }),
  cafile = text({ string = true }), capath = text({ string = true }),
  cadata = want({ string = true, table = true, userdata = true }),
  system_ca = want({ boolean = true }), check_hostname = want({ boolean = true }),
  verify = one_of("none", "peer", "require"), verify_depth = integer(0),
  alpn = text({ string = true, table = true }),
  session_tickets = switch, session_cache = switch,
  session_cache_size = integer(1), session_timeout = integer(1),
  post_handshake_auth = want({ boolean = true }),
  renegotiation = one_of("refuse", "allow"),
  on_verify = callback, on_servername = callback, on_alpn = callback, on_psk = callback,
  on_new_session = callback, on_ticket_key = callback, on_message = callback, on_state = callback,
  keylog = callback,
  session_store = want({ table = true }),
}

return M
