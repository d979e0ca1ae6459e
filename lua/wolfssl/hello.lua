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
-- Pure Lua (Lua 5.1-5.4, LuaJIT); never raises on bad bytes. Retrying with all
-- the bytes costs only the new records: the work done so far is kept.
-- @module wolfssl.hello

local decode = require "wolfssl.decode"

local M = {}

local byte, sub, format = string.byte, string.sub, string.format

local MAX_RECORD = 16384            -- 2^14: largest plaintext record
-- largest ClientHello body wolfSSL 5.5.4 takes (MAX_HANDSHAKE_SZ: nine
-- 2 KiB certificates with their 3-byte headers); anything longer it refuses
local MAX_HELLO = 3 + 9 * (2048 + 3)
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
    if len > MAX_HELLO then
      return format("bad ClientHello length %d (too long: wolfSSL takes at most %d)", len, MAX_HELLO)
    end
  end
  return nil
end

local function names_of(exts)
  local out = {}
  for i, e in ipairs(exts) do out[i] = e.name end
  return out
end

-- "need more" is answered again and again as a hello arrives: the records
-- parsed so far are kept, keyed by the hello's first 38 bytes (type, length,
-- version, client random), and reused when the next bytes begin with the
-- same input. Each call then parses only the records it has not seen.
local KEY_LEN = 38
local MAX_KEPT = 32
local kept, nkept, stamp = {}, 0, 0

-- the first KEY_LEN handshake bytes, read across records; nil if not there yet
local function key_of(bytes)
  local pos, n, acc, have = 1, #bytes, {}, 0
  while have < KEY_LEN and pos + 5 <= n do
    if byte(bytes, pos) ~= 22 then return nil end
    local len = byte(bytes, pos + 3) * 256 + byte(bytes, pos + 4)
    local take = math.min(len, KEY_LEN - have, n - pos - 4)
    if take <= 0 then return nil end
    acc[#acc + 1] = sub(bytes, pos + 5, pos + 4 + take)
    have = have + take
    pos = pos + 5 + len
  end
  return have == KEY_LEN and table.concat(acc) or nil
end

local function keep(key, st)
  if not kept[key] then
    if nkept >= MAX_KEPT then -- forget the oldest
      local oldest
      for k, v in pairs(kept) do if not oldest or v.stamp < kept[oldest].stamp then oldest = k end end
      kept[oldest], nkept = nil, nkept - 1
    end
    nkept = nkept + 1
  end
  stamp = stamp + 1
  st.stamp = stamp
  kept[key] = st
end

local function forget(key)
  if key and kept[key] then kept[key], nkept = nil, nkept - 1 end
end

-- the state kept for these bytes, or a fresh one
local function state_for(key, bytes)
  local st = key and kept[key]
  if st and #bytes >= #st.input and sub(bytes, 1, #st.input) == st.input then return st end
  return { pos = 1, parts = {}, have = 0 }
end

-- read whole records from st.pos on; true once the hello is complete,
-- else nil and "need more" or the reason
local function read_records(st, bytes)
  local n = #bytes
  while true do
    local pos = st.pos
    local err = check_header(bytes, pos, pos == 1)
    if err then return nil, err end
    local _, _, len, start = decode.record_at(bytes, pos)
    if not len then return nil, NEED_MORE end
    if not start then
      -- incomplete record: still reject a wrong handshake header early
      if pos == 1 and n > 5 then
        err = check_handshake(sub(bytes, 6, n))
        if err then return nil, err end
      end
      return nil, NEED_MORE
    end
    st.parts[#st.parts + 1] = sub(bytes, start, start + len - 1)
    st.have = st.have + len
    st.pos = start + len
    if not st.hello_len then
      local head = table.concat(st.parts)
      err = check_handshake(head)
      if err then return nil, err end
      if #head >= 4 then
        st.hello_len = byte(head, 2) * 65536 + byte(head, 3) * 256 + byte(head, 4)
        st.parts = { head }
      end
    end
    if st.hello_len and st.have >= 4 + st.hello_len then return true end
  end
end

--- Parse bytes that begin with a ClientHello record (the hello may span
-- several handshake records). Returns the summary table, or nil, "need more",
-- or nil, message for anything that is not a ClientHello. A hello longer than
-- wolfSSL takes, or one that repeats an extension, is refused.
function M.peek(bytes)
  if type(bytes) ~= "string" then
    error(format("bad argument #1 to 'peek' (string expected, got %s)", type(bytes)), 2)
  end
  local key = key_of(bytes)
  local st = state_for(key, bytes)
  local done, err = read_records(st, bytes)
  if not done then
    if err == NEED_MORE and key then
      st.input = bytes
      keep(key, st)
    else
      forget(key)
    end
    return nil, err
  end
  forget(key)
  local body = sub(table.concat(st.parts), 5, 4 + st.hello_len)
  local f
  f, err = decode.fields("client_hello", body)
  if not f then return nil, err end
  local seen = {}
  for _, e in ipairs(f.extensions) do
    if seen[e.type] then return nil, "malformed client_hello: duplicate extension " .. e.name end
    seen[e.type] = true
  end
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
    consumed = st.pos - 1,
    fields = f,
  }
end

--- The message of `peek`'s `nil, "need more"` (not a whole ClientHello yet).
M.NEED_MORE = NEED_MORE

return M
