--- Checks shared by every option table (internal): wolfssl.context, ctx:new
-- and the modules that handle options. Unknown keys and bad values raise an
-- error that names the key; files that cannot be read come back as nil,
-- message naming the file.
local M = {}

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
-- connection: no table built per call).
local key_sets = setmetatable({}, { __mode = "k" })
local function set_of(valid)
  local s = key_sets[valid]
  if s then return s end
  s = {}
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
  local x = require("wolfssl.x509").load(data)
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

--- An array of strings or a colon list, as a colon list.
function M.colon_list(key, v)
  if type(v) == "table" then
    for i, s in ipairs(v) do
      if type(s) ~= "string" then M.bad(key, ("entry %d is not a string"):format(i), 5) end
    end
    return table.concat(v, ":")
  elseif type(v) == "string" then
    return v
  end
  M.bad(key, "expected a string or an array of strings", 5, v)
end

function M.want(types)
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
function M.text(types)
  local check = M.want(types)
  return function(key, v)
    check(key, v)
    M.no_nul(key, v, 4)
  end
end

function M.one_of(...)
  local set, names = {}, {}
  for _, v in ipairs({ ... }) do set[v] = true; names[#names + 1] = ("%q"):format(v) end
  return function(key, v)
    if not set[v] then M.bad(key, "expected one of " .. table.concat(names, ", "), 4, v) end
  end
end

function M.integer(min)
  return function(key, v)
    if type(v) ~= "number" or v % 1 ~= 0 or v < min then
      M.bad(key, ("expected an integer >= %d"):format(min), 4, v)
    end
  end
end

-- On/off options (session_tickets, session_cache) take a boolean or "on"/"off".
local SWITCH = { on = true, off = false, [true] = true, [false] = false }
local function switch_check(key, v)
  if SWITCH[v] == nil then M.bad(key, 'expected true, false, "on" or "off"', 4, v) end
end

--- The boolean value of a checked on/off option, or default when it is nil.
function M.switch(v, default)
  if v == nil then return default end
  return SWITCH[v]
end

M.switch_check = switch_check
M.callback = M.want({ ["function"] = true, callable = true })

return M
