--- Helpers of bin/wolfssl-trace: JSON output and STARTTLS (internal).
-- @module wolfssl.trace_cli
local M = {}

-- JSON text of a Lua value: tables with keys 1..n are arrays; bytes outside
-- printable ASCII are \u00XX escapes (so any byte string is valid JSON)
local function json(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\\128-\255]', function(c)
      if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
      return ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return v % 1 == 0 and ("%d"):format(v) or ("%.17g"):format(v)
  elseif t == "boolean" then return tostring(v)
  elseif t == "table" and depth < 16 then
    local n = #v
    local parts = {}
    if n > 0 then
      for i = 1, n do parts[i] = json(v[i], depth + 1) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do if type(k) == "string" then keys[#keys + 1] = k end end
    table.sort(keys)
    for i, k in ipairs(keys) do parts[i] = json(k) .. ":" .. json(v[k], depth + 1) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "nil" then return "null" end
  return json(tostring(v))
end
M.json = json

--- Where the trace goes: human lines to `file`, or (json) one JSON object
-- per message and a summary object.
function M.output(as_json, file)
  local o = {}
  if not as_json then
    o.sink = file
    o.wrap = function() end
    o.say = function(text) file:write(text) end
    return o
  end
  o.sink = {} -- the human lines are not printed
  o.wrap = function(opts)
    local traced = opts.on_message
    opts.on_message = function(conn, msg)
      traced(conn, msg)
      file:write(json({ event = "message", direction = msg.direction, type = msg.type,
        content_type = msg.content_type, version = msg.version, length = msg.data and #msg.data,
        fields = msg.fields }), "\n")
    end
  end
  o.say = function() end
  o.summary = function(conn, ok, err, verified, reason, chain, insecure)
    local certs = {}
    for i, x in ipairs(chain) do
      certs[i] = { subject = tostring(x:subject()), issuer = tostring(x:issuer()), pem = x:pem() }
    end
    file:write(json({ event = "summary", ok = ok and true or false, error = (not ok) and err or nil,
      version = conn:version(), cipher = conn:cipher(), group = conn:group(), alpn = conn:alpn(),
      verified = verified and true or false, verify_error = (not verified) and reason or nil,
      insecure = insecure or false, chain = certs }), "\n")
  end
  return o
end

-- a whole SMTP reply: its code (multi-line replies: "250-..." up to "250 ...")
local function smtp_reply(sock)
  while true do
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local code, sep = line:match("^(%d%d%d)([ -]?)")
    if not code then return nil, "not an SMTP reply: " .. line end
    if sep ~= "-" then return code, line end
  end
end

local function smtp(sock)
  local code, line = smtp_reply(sock)
  if code ~= "220" then return nil, "greeting: " .. tostring(line or code) end
  sock:send("EHLO wolfssl-trace\r\n")
  code, line = smtp_reply(sock)
  if code ~= "250" then return nil, "EHLO: " .. tostring(line or code) end
  sock:send("STARTTLS\r\n")
  code, line = smtp_reply(sock)
  if code ~= "220" then return nil, "STARTTLS: " .. tostring(line or code) end
  return true
end

local function imap(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  if not line:match("^%* OK") then return nil, "greeting: " .. line end
  sock:send("a1 STARTTLS\r\n")
  while true do
    line, err = sock:receive("*l")
    if not line then return nil, err end
    if line:match("^a1 ") then
      if line:match("^a1 OK") then return true end
      return nil, "STARTTLS: " .. line
    end
  end
end

-- XMPP (RFC 6120 section 5.4): no lines, so read byte by byte (nothing may be
-- read past <proceed/>: the TLS records follow on the same socket) until one
-- of `marks` (Lua patterns) matches; a stream error ends the wait.
local XMPP_MAX = 65536
local function xmpp_until(sock, text, marks)
  while true do
    for _, m in ipairs(marks) do
      local a, b = text:find(m)
      if a then return text:sub(a, b), text:sub(b + 1) end
    end
    local err = text:match("<stream:error>(.-)</stream:error>")
    if err then return nil, "stream error: " .. (err:match("<([%w%-]+)") or err) end
    if #text > XMPP_MAX then return nil, "no answer in the first 64 KB" end
    local c, rerr = sock:receive(1)
    if not c then return nil, rerr end
    text = text .. c
  end
end

local TLS_NS = "urn:ietf:params:xml:ns:xmpp%-tls"

local function xmpp(sock, domain)
  sock:send(("<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' "
    .. "xmlns:stream='http://etherx.jabber.org/streams'>"):format((domain:gsub("['<>&]", ""))))
  local features, err = xmpp_until(sock, "", { "<stream:features/>", "<stream:features.-</stream:features>" })
  if not features then return nil, "stream features: " .. err end
  if not features:find("<starttls[^>]-xmlns=[\"']" .. TLS_NS .. "[\"']") then
    return nil, "STARTTLS: the server does not offer it (" .. features .. ")"
  end
  sock:send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
  local answer
  answer, err = xmpp_until(sock, "", { "<proceed[^>]-/>", "<proceed.-</proceed>", "<failure[^>]-/>",
    "<failure.-</failure>" })
  if not answer then return nil, "STARTTLS: " .. err end
  if not answer:find("^<proceed") then return nil, "STARTTLS: " .. answer end
  return true
end

--- Speak `proto` ("smtp" | "imap" | "xmpp") in the clear up to the point
-- where TLS starts. `sock` is a connected LuaSocket object with a timeout;
-- `domain` is the XMPP service name (the stream's `to`).
-- @return true, or nil and what went wrong
function M.starttls(sock, proto, domain)
  if proto == "smtp" then return smtp(sock) end
  if proto == "xmpp" then return xmpp(sock, domain) end
  return imap(sock)
end

return M
