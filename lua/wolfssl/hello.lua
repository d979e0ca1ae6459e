--- Peek at a raw TLS ClientHello before any connection exists.
--
--   local hello = require "wolfssl.hello"
--   local h, err = hello.peek(bytes)
--   -- h = {server_name=, alpn={...}, versions={...}, ciphers={...}, groups={...},
--   --      session_id=<hex>, extensions={names...}, legacy_version=,
--   --      signature_algorithms={...}, key_share_groups={...}, random=<hex>,
--   --      consumed=<bytes of the records holding the hello>, fields=<full decode>}
--   -- err = "need more" when the record(s) are incomplete: read more and retry
--   --       with all the bytes; any other message means the bytes are not a
--   --       ClientHello (close the connection).
--
-- A field whose extension the client did not send is nil (server_name, alpn,
-- groups, signature_algorithms, key_share_groups); versions falls back to the
-- legacy_version when there is no supported_versions extension.
-- Pure Lua (Lua 5.1-5.4, LuaJIT); never raises on bad bytes.

local decode = require "wolfssl.decode"

local M = {}

local byte, sub, format = string.byte, string.sub, string.format

local MAX_RECORD = 16384            -- 2^14: largest plaintext record
-- largest ClientHello body: version, random, session_id<32>, cipher_suites<2^16-2>,
-- compression_methods<2^8-1>, extensions<2^16-1>
local MAX_HELLO = 2 + 32 + 1 + 32 + 2 + 65534 + 1 + 255 + 2 + 65535
local MIN_HELLO = 2 + 32 + 1 + 2 + 2 + 1 + 1

local NEED_MORE = "need more"

-- check the (possibly partial) 5-byte record header at pos; nil when fine
local function check_header(bytes, pos, first)
  local ct, major, minor, l1, l2 = byte(bytes, pos, pos + 4)
  if ct and ct ~= 22 then
    if first then return "not a TLS handshake record" end
    return "ClientHello interrupted by a " .. decode.content_type_name(ct) .. " record"
  end
  if major and major ~= 3 then return "not a TLS handshake record" end
  if minor and minor > 4 then
    return format("not a TLS handshake record (version 0x%02X%02X)", major, minor)
  end
  if l2 then
    local len = l1 * 256 + l2
    if len == 0 then return "bad record length 0" end
    if len > MAX_RECORD then return format("bad record length %d", len) end
  end
  return nil
end

-- check the (possibly partial) handshake header at the start of stream
local function check_handshake(stream)
  local t, a, b, c = byte(stream, 1, 4)
  if t and t ~= 1 then
    return "not a ClientHello (handshake type " .. decode.handshake_type_name(t) .. ")"
  end
  if c then
    local len = a * 65536 + b * 256 + c
    if len < MIN_HELLO then return format("bad ClientHello length %d (too short)", len) end
    if len > MAX_HELLO then return format("bad ClientHello length %d (too long)", len) end
  end
  return nil
end

local function names_of(exts)
  local out = {}
  for i, e in ipairs(exts) do out[i] = e.name end
  return out
end

--- Parse bytes that begin with a ClientHello record (the hello may span
-- several handshake records). Returns the summary table, or nil, "need more",
-- or nil, message for anything that is not a ClientHello.
function M.peek(bytes)
  if type(bytes) ~= "string" then
    error(format("bad argument #1 to 'peek' (string expected, got %s)", type(bytes)), 2)
  end
  local pos, n, parts, have = 1, #bytes, {}, 0
  local hello_len
  while true do
    local err = check_header(bytes, pos, pos == 1)
    if err then return nil, err end
    if n - pos + 1 < 5 then return nil, NEED_MORE end
    local len = byte(bytes, pos + 3) * 256 + byte(bytes, pos + 4)
    local avail = n - pos - 4
    if avail < len then
      -- incomplete record: still reject a wrong handshake header early
      if pos == 1 and avail > 0 then
        err = check_handshake(sub(bytes, 6, 5 + avail))
        if err then return nil, err end
      end
      return nil, NEED_MORE
    end
    parts[#parts + 1] = sub(bytes, pos + 5, pos + 4 + len)
    have = have + len
    pos = pos + 5 + len
    if not hello_len then
      local head = table.concat(parts)
      err = check_handshake(head)
      if err then return nil, err end
      if #head >= 4 then
        hello_len = byte(head, 2) * 65536 + byte(head, 3) * 256 + byte(head, 4)
        parts = { head }
      end
    end
    if hello_len and have >= 4 + hello_len then break end
  end
  local stream = table.concat(parts)
  local body = sub(stream, 5, 4 + hello_len)
  local f, err = decode.fields("client_hello", body)
  if not f then return nil, err end
  return {
    server_name = f.server_name,
    alpn = f.alpn,
    versions = f.versions,
    ciphers = f.cipher_suites,
    groups = f.groups,
    session_id = f.session_id,
    extensions = names_of(f.extensions),
    legacy_version = f.legacy_version,
    signature_algorithms = f.signature_algorithms,
    key_share_groups = f.key_share_groups,
    random = f.random,
    consumed = pos - 1,
    fields = f,
  }
end

M.NEED_MORE = NEED_MORE

return M
