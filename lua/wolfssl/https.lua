--- HTTPS requests over LuaSocket's `socket.http`, like LuaSec's `ssl.https`,
-- but safe by default: the server's certificate is verified (against the system
-- trust store, or `cafile`/`capath`) and its name is checked against the URL's host.
--
--     local https = require "wolfssl.https"
--     local body, code, headers, status = https.request("https://example.com/")
--     local ok, code = https.request{ url = "https://localhost:8443/", cafile = "ca.pem",
--                                     sink = ltn12.sink.file(io.stdout) }
--
-- Redirects between https URLs are followed (GET and HEAD, up to 5, as
-- `socket.http` does); a redirect to plain http is not followed: the 3xx
-- response is returned as it is.
-- @module wolfssl.https
local socket = require "socket"
local ltn12 = require "ltn12"
local http = require "socket.http"
local url = require "socket.url"
local ssl = require "wolfssl.socket"

local try = socket.try

local M = {
  _VERSION = "1.2.0",
  PORT = 443,     -- default port
  TIMEOUT = 60,   -- seconds, for every blocking step
}

--- Default TLS parameters for every request (LuaSec names: `cafile`, `capath`,
-- `verify`, `alpn`, `certificate`, `key`, ...); a request table's own keys win.
-- Example: `https.defaults.cafile = "/etc/my-ca.pem"`.
M.defaults = {}

-- TLS parameters a request table may carry (LuaSec names); the rest is socket.http's.
local TLS_KEYS = { "protocol", "key", "certificate", "password", "cafile", "capath", "verify",
  "options", "ciphers", "ciphersuites", "curveslist", "depth", "alpn" }

local function with_port(u)
  return url.build(url.parse(u, { port = M.PORT }))
end

local function check_scheme(u)
  local scheme = url.parse(u).scheme
  if scheme ~= "https" then
    return nil, ("only https URLs are supported (got '%s')"):format(tostring(scheme))
  end
  return true
end

-- Connection methods the socket.http code calls, forwarded to the TLS object.
local FORWARD = { "send", "receive", "close", "getfd", "dirty", "getstats", "setstats",
  "getpeercertificate", "getpeerverification", "getalpn", "info", "want" }

--- A `create` function for `socket.http`: TCP then TLS, SNI and hostname check
-- set from the host being connected to.
-- @tparam[opt] table params TLS parameters (LuaSec names, see `wolfssl.socket.newcontext`)
-- @treturn function returning a socket.http-compatible connection object
function M.tcp(params)
  local p = { mode = "client", protocol = "any", verify = "peer" }
  for _, k in ipairs(TLS_KEYS) do
    if M.defaults[k] ~= nil then p[k] = M.defaults[k] end
    if params and params[k] ~= nil then p[k] = params[k] end
  end
  local ctx = try(ssl.newcontext(p))
  return function()
    local conn = { sock = try(socket.tcp()) }
    function conn:settimeout()
      return self.sock:settimeout(M.TIMEOUT)
    end
    function conn:connect(host, port)
      try(self.sock:connect(host, port))
      self.sock = try(ssl.wrap(self.sock, ctx))
      self.sock:sni(host)
      self.sock:settimeout(M.TIMEOUT)
      try(self.sock:dohandshake())
      for _, name in ipairs(FORWARD) do
        conn[name] = function(c, ...) return c.sock[name](c.sock, ...) end
      end
      -- socket.http (3.0) takes a relative Location for a downgrade and does
      -- not follow it: make it absolute, against the request's URL.
      local base = ("https://%s:%s/"):format(host, tostring(port))
      function conn.send(c, data, ...)
        local path = type(data) == "string" and data:match("^%u+ (%S+) HTTP/")
        if path then base = url.absolute(("https://%s:%s"):format(host, tostring(port)), path) end
        return c.sock:send(data, ...)
      end
      function conn.receive(c, pattern, ...)
        local line, err, partial = c.sock:receive(pattern, ...)
        -- a stream that ended without close_notify may have been cut (a body
        -- delimited by the close would look whole): fail with how it ended
        if err == "closed" and c.sock._end and c.sock._end ~= "closed" then err = c.sock._end end
        if line and (pattern == nil or pattern == "*l" or pattern == "l") then
          local k, v = line:match("^([Ll][Oo][Cc][Aa][Tt][Ii][Oo][Nn]:%s*)(.-)%s*$")
          if k and v ~= "" and not v:match("^%a[%w+.-]*:") then line = k .. url.absolute(base, v) end
        end
        return line, err, partial
      end
      return 1
    end
    return conn
  end
end

--- Make an HTTPS request.
--
-- `request(url [, body])`: GET (POST with a body, form-encoded); returns the
-- body, code, headers and status line.
--
-- `request{url=, sink=, method=, headers=, source=, step=, redirect=, maxredirects=,
-- cafile=, capath=, verify=, alpn=, certificate=, key=, password=, protocol=, ciphers=, ...}`:
-- returns 1, code, headers, status (as `socket.http`).
--
-- On failure (connection refused, certificate verify failed, hostname
-- mismatch...): nil and a message.
-- @param u URL string or request table
-- @tparam[opt] string body for the string form: POST this body
function M.request(u, body)
  local result = {}
  local reqt
  if type(u) == "string" then
    local ok, err = check_scheme(u)
    if not ok then return nil, err end
    reqt = { url = with_port(u), method = body and "POST" or "GET", sink = ltn12.sink.table(result) }
    if body then
      reqt.source = ltn12.source.string(body)
      reqt.headers = { ["content-length"] = #body, ["content-type"] = "application/x-www-form-urlencoded" }
    end
  elseif type(u) == "table" then
    if type(u.url) ~= "string" then
      error("bad argument #1 to 'request' (field 'url' must be a string)", 2)
    end
    local ok, err = check_scheme(u.url)
    if not ok then return nil, err end
    reqt = {}
    for k, v in pairs(u) do reqt[k] = v end
    reqt.url = with_port(u.url)
  else
    error(("bad argument #1 to 'request' (string or table expected, got %s)"):format(type(u)), 2)
  end
  if http.PROXY or reqt.proxy then return nil, "proxy not supported" end
  if reqt.create then return nil, "create function not permitted" end
  local okc, create = pcall(M.tcp, reqt)
  if not okc then
    if type(create) == "table" then return nil, create[1] end -- socket.try's error
    error(create, 2)
  end
  reqt.create = create
  local res, code, headers, status = http.request(reqt)
  if res and type(u) == "string" then
    return table.concat(result), code, headers, status
  end
  return res, code, headers, status
end

return M
