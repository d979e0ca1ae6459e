-- The docs and the module name the same things (issue 15): every public
-- name (module functions, connection and context methods, context and
-- connection options) is documented, in README.md / doc/*.md or by an LDoc
-- comment at its definition; and every `wolfssl.x.y`, `conn:m(`, `ctx:m(`
-- and option key the docs mention exists. Lua only: any build.
local wolfssl = require "wolfssl"
local core = require "wolfssl.core"
local options = require "wolfssl.options"
local H = require "helpers"

local function read(path)
  local f = assert(io.open(H.ROOT .. "/" .. path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local DOCS = { "README.md", "doc/internals.md" }
local text = {}
for _, p in ipairs(DOCS) do text[p] = read(p) end
local all = table.concat({ text["README.md"], text["doc/internals.md"] }, "\n")

-- the modules a user requires, with their source (for LDoc comments)
local MODULES = {
  wolfssl = "lua/wolfssl/init.lua", ["wolfssl.session"] = "lua/wolfssl/session.lua",
  ["wolfssl.x509"] = "lua/wolfssl/x509.lua", ["wolfssl.pkey"] = "lua/wolfssl/pkey.lua",
  ["wolfssl.hello"] = "lua/wolfssl/hello.lua", ["wolfssl.socket"] = "lua/wolfssl/socket.lua",
  ["wolfssl.https"] = "lua/wolfssl/https.lua", ["wolfssl.trace"] = "lua/wolfssl/trace.lua",
  ["wolfssl.connect"] = "lua/wolfssl/connect.lua", ["wolfssl.resty"] = "lua/wolfssl/resty.lua",
}

local function escape(s) return (s:gsub("%p", "%%%0")) end

-- a name in code: `name`, `name(`, `.name`, `:name`, `name{`, `name=` inside backticks or code
local function in_docs(name)
  local n = escape(name)
  for _, pat in ipairs { "`" .. n .. "[`(%[{ =]", "[%.:]" .. n .. "[`(%s{,%.]", "`" .. n .. "%s*=",
                         "[{,]%s*" .. n .. "%s*=" } do
    if all:find(pat) then return true end
  end
  return false
end

-- an LDoc comment (a line starting with ---) right above `name`'s definition,
-- or an `@function name` tag
local function has_ldoc(src, name)
  local n = escape(name)
  if src:find("@function%s+[%w_.:]*" .. n .. "%f[^%w_]") then return true end
  local lines, prev = {}, nil
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  for i, line in ipairs(lines) do
    if line:match("^function [%w_]+[%.:]" .. n .. "%f[^%w_]") or line:match("^[%w_]+%." .. n .. "%s*=")
      or line:match("^local function " .. n .. "%f[^%w_]") then
      local j = i - 1
      while j > 0 and lines[j]:match("^%-%-") do
        if lines[j]:match("^%-%-%-") then return true end
        j = j - 1
      end
    end
  end
  return false
end

-- public functions and values of a module table (names starting with _ are not)
local function public(t)
  local list = {}
  for k in pairs(t) do
    if type(k) == "string" and not k:match("^_") then list[#list + 1] = k end
  end
  table.sort(list)
  return list
end

local ctx = wolfssl.context { mode = "client", verify = "none" }
local CONN_METHODS, CTX_METHODS = public(core.Connection), public(getmetatable(ctx).__index)
local OPTIONS, IS_OPTION = {}, {}
for _, row in ipairs(options.CONTEXT) do OPTIONS[#OPTIONS + 1] = row[1]; IS_OPTION[row[1]] = true end
local IS_CONN_KEY = {}
for _, k in ipairs(options.CONN_KEYS) do IS_CONN_KEY[k] = true end

describe("every public name is documented", function()
  for name, src in pairs(MODULES) do
    it(name, function()
      local source, missing = read(src), {}
      for _, k in ipairs(public(require(name))) do
        if not in_docs(k) and not has_ldoc(source, k) then missing[#missing + 1] = name .. "." .. k end
      end
      assert.same({}, missing)
    end)
  end

  it("connection and context methods", function()
    local missing = {}
    for _, m in ipairs(CONN_METHODS) do if not in_docs(m) then missing[#missing + 1] = "conn:" .. m end end
    for _, m in ipairs(CTX_METHODS) do if not in_docs(m) then missing[#missing + 1] = "ctx:" .. m end end
    assert.same({}, missing)
  end)

  it("context options and connection options", function()
    local missing = {}
    for _, k in ipairs(OPTIONS) do if not in_docs(k) then missing[#missing + 1] = k end end
    for _, k in ipairs(options.CONN_KEYS) do if not in_docs(k) then missing[#missing + 1] = "ctx:new{" .. k .. "}" end end
    assert.same({}, missing)
  end)
end)

-- what `wolfssl.a.b` names: a field path from the module, or a module
local function resolves(path)
  if debug.getregistry()[path] then return true end -- a userdata type name (wolfssl.Connection)
  local parts = {}
  for p in path:gmatch("[^.]+") do parts[#parts + 1] = p end
  for cut = #parts, 1, -1 do
    local ok, v = pcall(require, table.concat(parts, ".", 1, cut))
    if ok then
      for i = cut + 1, #parts do
        if type(v) ~= "table" then return false end
        v = v[parts[i]]
        if v == nil then return false end
      end
      return true
    end
  end
  return false
end

-- files and hosts that look like names
local NOT_NAMES = { ["wolfssl.h"] = true, ["wolfssl.sh"] = true, ["wolfssl.com"] = true }

describe("every name the docs mention exists", function()
  for _, doc in ipairs(DOCS) do
    it(doc .. ": wolfssl.x.y", function()
      local bad = {}
      for path in text[doc]:gmatch("wolfssl%.[%a_][%w_.]*") do
        path = path:gsub("%.$", "")
        if not NOT_NAMES[path] and not resolves(path) then bad[#bad + 1] = path end
      end
      assert.same({}, bad)
    end)

    it(doc .. ": conn:m(), client:m(), server:m(), ctx:m()", function()
      local socket_conn = require("wolfssl.socket").SSLConnection
      local bad = {}
      for recv, m in text[doc]:gmatch("(%f[%w_][%a_]+):([%a_][%w_]*)%(") do
        if recv == "conn" or recv == "client" or recv == "server" then
          if core.Connection[m] == nil and socket_conn[m] == nil then bad[#bad + 1] = recv .. ":" .. m end
        elseif recv:match("ctx$") then
          if getmetatable(ctx).__index[m] == nil then bad[#bad + 1] = recv .. ":" .. m end
        end
      end
      assert.same({}, bad)
    end)

    it(doc .. ": the keys of wolfssl.context{...} and ctx:new{...} in code", function()
      local bad = {}
      local function keys(body, ok)
        body = body:sub(2, -2):gsub('"[^"]*"', '""'):gsub("%b{}", "{}")
        for k in ("," .. body):gmatch(",%s*([%a_][%w_]*)%s*=") do
          if not ok[k] then bad[#bad + 1] = k end
        end
      end
      for body in text[doc]:gmatch("wolfssl%.context%s*%(?%s*(%b{})") do keys(body, IS_OPTION) end
      for body in text[doc]:gmatch("[%w_]:new%s*%(?%s*(%b{})") do keys(body, IS_CONN_KEY) end
      assert.same({}, bad)
    end)
  end

  it("README.md: the list of context options names every option, and only options", function()
    local para = assert(text["README.md"]:match("Context options (.-)\n\n"), "the paragraph 'Context options'")
    local named = {}
    for k in para:gmatch("`([%a_][%w_]*)`") do
      if k ~= "true" and k ~= "false" then
        assert(IS_OPTION[k], "not an option: " .. k)
        named[k] = true
      end
    end
    local missing = {}
    for _, k in ipairs(OPTIONS) do if not named[k] then missing[#missing + 1] = k end end
    assert.same({}, missing)
  end)

  it("README.md: the list of connection methods names every method, and only methods", function()
    local para = assert(text["README.md"]:match("Connection methods: (.-)\n\n"), "the paragraph 'Connection methods'")
    local named = {}
    for k in para:gmatch("`([%a_][%w_]*)") do named[k] = true end
    local missing = {}
    for _, m in ipairs(CONN_METHODS) do if not named[m] then missing[#missing + 1] = m end end
    assert.same({}, missing)
    for k in pairs(named) do
      assert(core.Connection[k] ~= nil or k == "__close" or k == "__gc" or k == "conn" or k == "ctx" or k == "math",
        "not a connection method: " .. k)
    end
  end)
end)
